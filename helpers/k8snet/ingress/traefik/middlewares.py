"""Traefik's Middlewares (``traefik.io/v1alpha1`` Middleware) as its CRD provider reads them: definitions only.

Each Middleware object becomes a :class:`MiddlewareDef` (qualified name, type, configuration), with the
Secrets a basicAuth middleware names resolved and the errors the provider logs kept in ``error``
(github.com/traefik/traefik v3.7, pkg/provider/kubernetes/crd/kubernetes.go). What a middleware does to a
request is the real Traefik's business; documented at
https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/http/middlewares/overview/.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .durations import parse_period

PROVIDER = "kubernetescrd"

TYPES = ("addPrefix", "stripPrefix", "stripPrefixRegex", "replacePath", "replacePathRegex", "chain", "ipWhiteList",
         "ipAllowList", "headers", "encodedCharacters", "errors", "rateLimit", "redirectRegex", "redirectScheme",
         "basicAuth", "digestAuth", "forwardAuth", "inFlightReq", "buffering", "circuitBreaker", "compress",
         "passTLSClientCert", "retry", "contentType", "grpcWeb", "plugin")
"""Every field of MiddlewareSpec (crd/traefikio/v1alpha1/middleware.go): one middleware type each."""


class BuildError(Exception):
    """Traefik cannot build the middleware (its error text); the routers using it are not served."""


@dataclass
class MiddlewareDef:
    """One Middleware as the CRD provider hands it to the router: its qualified name, type and config."""

    name: str  # "<namespace>-<name>@kubernetescrd"
    namespace: str
    object_name: str
    kind: str | None
    config: dict[str, Any]
    error: str = ""  # the provider could not read it (Traefik logs and drops it)


def normalize(name: str) -> str:
    """provider.Normalize: every run of non-alphanumerics becomes one ``-``."""
    return "-".join(p for p in re.split(r"[^0-9A-Za-z\u00c0-\uffff]+", name) if p)


# -- reading Middleware objects (the CRD provider) ----------------------------------------------------


def load(sb: Any) -> dict[str, MiddlewareDef]:
    """Every Middleware in the store, keyed by qualified name, with Secrets resolved as the provider does."""
    out: dict[str, MiddlewareDef] = {}
    for obj in sb.store.list("middlewares.traefik.io"):
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        spec = obj.get("spec") or {}
        kinds = [k for k in TYPES if spec.get(k) is not None]
        qualified = normalize(f"{ns}-{name}") + "@" + PROVIDER
        defn = MiddlewareDef(qualified, ns, name, kinds[0] if len(kinds) == 1 else None,
                             dict(spec.get(kinds[0]) or {}) if len(kinds) == 1 else {})
        if len(kinds) > 1:
            defn.error = ("cannot create middleware: multi-types middleware not supported, consider declaring two "
                          "different pieces of middleware instead")
        elif not kinds:
            defn.error = (f'invalid middleware "{qualified}" configuration: invalid middleware type or middleware '
                          "does not exist")
        elif defn.kind == "basicAuth":
            try:
                defn.config["users"] = basic_auth_users(sb, ns, defn.config)
            except BuildError as exc:
                defn.error = f"Error while reading basic auth middleware: {exc}"
        elif defn.kind == "rateLimit" and defn.config.get("period") is not None:
            try:
                parse_period(defn.config["period"])
            except ValueError as exc:
                defn.error = f"Error while reading rateLimit middleware: {exc}"
        out[qualified] = defn
    return out


def basic_auth_users(sb: Any, ns: str, cfg: dict[str, Any]) -> list[str]:
    """createBasicAuthMiddleware: users from a basic-auth Secret (username/password) or an htpasswd Secret."""
    secret_name = cfg.get("secret") or ""
    if not secret_name:
        raise BuildError("auth secret must be set")
    secret = sb.store.get("secrets", ns, secret_name)
    if secret is None:
        raise BuildError(f"secret '{ns}/{secret_name}' not found")
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    if secret.get("type") == "kubernetes.io/basic-auth":
        if "username" not in data or "password" not in data:
            raise BuildError(f"failed to load basic auth credentials: secret '{ns}/{secret_name}' must contain "
                             "both username and password keys")
        return [f"{data['username'].decode()}:{sha_hash(data['password'])}"]
    if len(data) != 1:
        raise BuildError(f"failed to load basic auth credentials: found {len(data)} elements for secret "
                         f"'{ns}/{secret_name}', must be single element exactly")
    users = [line for line in next(iter(data.values())).decode(errors="replace").splitlines() if line]
    if not users:
        raise BuildError(f"failed to load basic auth credentials: secret '{ns}/{secret_name}' does not contain "
                         "any credentials")
    return users


def sha_hash(password: bytes) -> str:
    """``{SHA}`` + base64(SHA-1(password)): what the provider makes of a basic-auth Secret's password."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(password).digest()).decode()
