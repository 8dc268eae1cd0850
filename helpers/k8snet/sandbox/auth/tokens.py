"""ServiceAccount tokens: issued by the TokenRequest API, signed JWTs, and the users they authenticate.

- The TokenRequest subresource (``kubectl create token SA``): pkg/registry/core/serviceaccount/storage/token.go
  (audiences default to the API server's, 3600 s by default and at least 10 minutes, optionally bound to a Pod,
  Secret or Node; a kubelet's 3607 s pod-bound token is extended to a year with ``warnafter``).
- The claims: pkg/serviceaccount/claims.go (``iss``, ``sub``, ``aud``, ``exp``, ``nbf``, ``iat``, ``jti`` and
  ``kubernetes.io``: namespace, service account, bound pod and its node), signed RS256 with the key in the
  state directory (``sa.key``, as kubeadm's), ``kid`` its public key's SHA-256 (jwt.go keyIDFromPublicKey).
- Authentication: a valid signature, the issuer, an audience of the API server, not expired, and the account
  (and bound pod) still there with the same uid (claims.go validator.Validate); the user is
  ``system:serviceaccount:NS:NAME`` in ``system:serviceaccounts`` and ``system:serviceaccounts:NS``, with the
  pod, node and credential id as extra values (serviceaccount.ServiceAccountInfo.UserInfo).

Times come from the sandbox clock, so advancing it expires tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .. import errors
from ..clock import rfc3339
from ..pki import write_private
from ..validation import invalid_value
from .users import ALL_AUTHENTICATED, UserInfo, extra_of, service_account_groups, service_account_username

if TYPE_CHECKING:
    from ..instance import Sandbox

ISSUER = "https://kubernetes.default.svc.cluster.local"
"""kubeadm's --service-account-issuer, and so the API server's audience (--api-audiences defaults to it)."""
AUDIENCES = (ISSUER,)
DEFAULT_EXPIRATION = 3600
"""SetDefaults_TokenRequestSpec."""
WARN_ONLY_EXPIRATION = 3607
"""token.WarnOnlyBoundTokenExpirationSeconds: what the kubelet asks for the kube-api-access volume."""
EXTENDED_EXPIRATION = 365 * 24 * 60 * 60
"""token.ExpirationExtensionSeconds (--service-account-extend-token-expiration, on by default)."""
KEY_FILE = "sa.key"
EXTRA = "authentication.kubernetes.io/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    """Why a token does not authenticate (the API server answers 401 whatever the reason)."""


class Tokens:
    """The issuer and authenticator of one sandbox's ServiceAccount tokens."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self._key: rsa.RSAPrivateKey | None = None
        self._kid = ""

    # -- the signing key ----------------------------------------------------------------------

    @property
    def key(self) -> rsa.RSAPrivateKey:
        """sa.key in the state directory (made at first use, owner-only), or a key of this process."""
        if self._key is None:
            path = self.sb.state_dir / KEY_FILE if self.sb.state_dir else None
            if path is not None and path.exists():
                key = serialization.load_pem_private_key(path.read_bytes(), None)
                assert isinstance(key, rsa.RSAPrivateKey)
            else:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if path is not None:
                    write_private(path, key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                                           serialization.NoEncryption()))
            der = key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
            self._key, self._kid = key, b64url(hashlib.sha256(der).digest())
        return self._key

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS, RS256, as go-jose serializes it (header alg, kid; claims' keys sorted)."""
        key = self.key
        header = b64url(json.dumps({"alg": "RS256", "kid": self._kid}, separators=(",", ":")).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signature = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{b64url(signature)}"

    # -- issuing ------------------------------------------------------------------------------

    def claims(self, account: dict[str, Any], expiration: int, audiences: list[str], pod: dict | None = None,
               secret: dict | None = None, node: dict | None = None, warn_after: int = 0) -> dict[str, Any]:
        """token.Claims plus the issuer (jwtTokenGenerator.GenerateToken)."""
        now = int(self.sb.clock.now().timestamp())
        meta = account["metadata"]
        private: dict[str, Any] = {"namespace": meta["namespace"],
                                   "serviceaccount": {"name": meta["name"], "uid": meta.get("uid", "")}}
        for key, obj in (("pod", pod), ("secret", secret), ("node", node)):
            if obj is not None:
                private[key] = {"name": obj["metadata"]["name"], "uid": obj["metadata"].get("uid", "")}
        if warn_after:
            private["warnafter"] = now + warn_after
        ids = self.sb.random.stream(f"token-ids:{self.sb.store.epoch}")
        return {"aud": list(audiences), "exp": now + expiration, "iat": now, "iss": ISSUER,
                "jti": str(uuid.UUID(int=ids.getrandbits(128), version=4)), "kubernetes.io": private, "nbf": now,
                "sub": service_account_username(meta["namespace"], meta["name"])}

    def pod_token(self, pod: dict[str, Any], audiences: list[str] | None = None,
                  expiration: int = WARN_ONLY_EXPIRATION) -> str | None:
        """What the kubelet writes into a pod's projected token volume (a TokenRequest bound to the pod and its
        node), or None when the pod's ServiceAccount does not exist."""
        ns = pod["metadata"].get("namespace", "default")
        account = self.sb.store.get("serviceaccounts", ns, pod["spec"].get("serviceAccountName") or "default")
        if account is None:
            return None
        node = self.sb.store.get("nodes", "", pod["spec"].get("nodeName") or "")
        audiences = audiences or list(AUDIENCES)
        warn_after = 0
        if expiration == WARN_ONLY_EXPIRATION and set(audiences) <= set(AUDIENCES):
            warn_after, expiration = expiration, EXTENDED_EXPIRATION
        return self.sign(self.claims(account, expiration, audiences, pod=pod, node=node, warn_after=warn_after))

    def request(self, ns: str, name: str, body: Any) -> dict[str, Any]:
        """POST serviceaccounts/NAME/token: the TokenRequest with its status (token.go TokenREST.Create).

        Raises:
            ApiError: 404 for a missing account or bound object, 400/409/422 as upstream words them.
        """
        if body is not None and not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a TokenRequest object")
        body = body or {}
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        spec = dict(body.get("spec") or {}) if isinstance(body.get("spec"), dict) else {}
        for field, want, what in (("name", name, "name"), ("namespace", ns, "namespace")):
            if meta.get(field) and meta[field] != want:
                raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [invalid_value(
                    f"metadata.{field}", meta[field], f"must match the service account {what} if specified")])
        account = self.sb.store.get("serviceaccounts", ns, name)
        if account is None:
            raise errors.not_found("serviceaccounts", "", name)
        audiences = list(spec.get("audiences") or AUDIENCES)
        expiration = spec.get("expirationSeconds")
        expiration = DEFAULT_EXPIRATION if expiration is None else expiration
        if isinstance(expiration, bool) or not isinstance(expiration, int):
            raise errors.bad_request("json: cannot unmarshal into Go struct field TokenRequestSpec.spec."
                                     "expirationSeconds of type int64")
        if expiration < 600:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [invalid_value(
                "spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")])
        if expiration > 2**32 - 1:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [invalid_value(
                "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds")])
        now = self.sb.clock.now()
        pod = secret = node = None
        ref = spec.get("boundObjectRef")
        if ref:
            kind, api_version, ref_name = ref.get("kind", ""), ref.get("apiVersion", ""), ref.get("name", "")
            group = api_version.rpartition("/")[0] if "/" in api_version else ""
            resource = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind) if not group else None
            if resource is None:
                shown = f"{group}/{api_version.rpartition('/')[2]}, Kind={kind}" if group else \
                    f"/{api_version}, Kind={kind}"
                raise errors.bad_request(f"cannot bind token to object of type {shown}")
            bound = self.sb.store.get(resource, "" if kind == "Node" else ns, ref_name)
            if bound is None:
                raise errors.not_found(resource, "", ref_name)
            if kind == "Pod":
                if bound["spec"].get("serviceAccountName") != name:
                    raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod running with '
                                             "different serviceaccount name.")
                pod = bound
                node = self.sb.store.get("nodes", "", bound["spec"].get("nodeName") or "")
            elif kind == "Secret":
                secret = bound
            else:
                node = bound
            if ref.get("uid") and ref["uid"] != bound["metadata"].get("uid"):
                raise errors.conflict(kind, "", ref_name, f"the UID in the bound object reference ({ref['uid']}) "
                                      "does not match the UID in record. The object might have been deleted and "
                                      "then recreated")
        warn_after, lifetime = 0, expiration
        if pod is not None and expiration == WARN_ONLY_EXPIRATION and set(audiences) <= set(AUDIENCES):
            warn_after, lifetime = expiration, EXTENDED_EXPIRATION
        token = self.sign(self.claims(account, lifetime, audiences, pod, secret, node, warn_after))
        spec["audiences"], spec["expirationSeconds"] = audiences, expiration
        spec.setdefault("boundObjectRef", None)
        out_meta = {"name": meta.get("name") or name, "namespace": meta.get("namespace") or ns,
                    "creationTimestamp": rfc3339(now)}
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": out_meta,
                "spec": spec, "status": {"token": token,
                                                       "expirationTimestamp": rfc3339(now + timedelta(seconds=expiration))}}

    # -- authenticating -----------------------------------------------------------------------

    def authenticate(self, token: str, audiences: tuple[str, ...] = AUDIENCES) -> tuple[UserInfo, list[str]]:
        """The user a token names and the audiences it is good for among ``audiences``.

        Raises:
            InvalidToken: not ours, badly signed, for another audience, expired, or its account or pod is gone.
        """
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("invalid bearer token")
        try:
            header = json.loads(unb64url(parts[0]))
            claims = json.loads(unb64url(parts[1]))
            signature = unb64url(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken("invalid bearer token") from None
        if not isinstance(header, dict) or not isinstance(claims, dict) or claims.get("iss") != ISSUER:
            raise InvalidToken("invalid bearer token")
        if header.get("alg") != "RS256":
            raise InvalidToken("invalid bearer token")
        try:
            self.key.public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
        except InvalidSignature:
            raise InvalidToken("invalid bearer token") from None
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else list(aud or [])
        good = [a for a in audiences if a in aud]
        if not good:
            raise InvalidToken(f"token audiences {json.dumps(aud)} is invalid for the target audiences "
                               f"{json.dumps(list(audiences))}")
        now = self.sb.clock.now().timestamp()
        if not isinstance(claims.get("exp"), int) or now >= claims["exp"]:
            raise InvalidToken("service account token has expired")
        if isinstance(claims.get("nbf"), int) and now < claims["nbf"]:
            raise InvalidToken("service account token is not valid yet")
        private = claims.get("kubernetes.io") or {}
        ns = private.get("namespace", "")
        ref = private.get("serviceaccount") or {}
        account = self.sb.store.get("serviceaccounts", ns, ref.get("name", ""))
        if account is None:
            raise InvalidToken(f'serviceaccounts "{ref.get("name", "")}" not found')
        if account["metadata"].get("uid") != ref.get("uid"):
            raise InvalidToken(f"service account UID ({account['metadata'].get('uid')}) does not match claim "
                               f"({ref.get('uid')})")
        extra: dict[str, list[str]] = {}
        for kind, resource in (("pod", "pods"), ("secret", "secrets")):
            bound = private.get(kind)
            if bound:
                obj = self.sb.store.get(resource, ns, bound.get("name", ""))
                if obj is None or obj["metadata"].get("uid") != bound.get("uid") or \
                        obj["metadata"].get("deletionTimestamp"):
                    raise InvalidToken("service account token has been invalidated")
        if private.get("pod"):
            extra[EXTRA + "pod-name"] = [private["pod"]["name"]]
            extra[EXTRA + "pod-uid"] = [private["pod"]["uid"]]
        if claims.get("jti"):
            extra[EXTRA + "credential-id"] = [f"JTI={claims['jti']}"]
        if private.get("node"):
            extra[EXTRA + "node-name"] = [private["node"]["name"]]
            if private["node"].get("uid"):
                extra[EXTRA + "node-uid"] = [private["node"]["uid"]]
        user = UserInfo(service_account_username(ns, ref.get("name", "")),
                        (*service_account_groups(ns), ALL_AUTHENTICATED), account["metadata"].get("uid", ""),
                        extra_of(extra))
        return user, good

    def review(self, token: str, audiences: list[str]) -> dict[str, Any]:
        """A TokenReview's status (pkg/registry/authentication/tokenreview)."""
        try:
            user, good = self.authenticate(token, tuple(audiences) or AUDIENCES)
        except InvalidToken as exc:
            return {"user": {}, "error": str(exc)}
        return {"authenticated": True, "user": user.to_dict(), "audiences": good}
