"""The certificates controllers: trigger, key manager, request manager, issuing, readiness, revision manager.

Each is a port of its namesake in pkg/controller/certificates (v1.21.1), run as its own work queue and writing
through the API as ``cert-manager-certificates-<name>``:

* trigger (trigger/trigger_controller.go): unless an issuance is in progress, the trigger policy chain decides;
  a violation sets ``Issuing`` True with its reason (``DoesNotExist``, ``Renewing``, ``IncorrectIssuer``,
  ``SecretMismatch``, ...) and records an ``Issuing`` event; the Certificate is looked at again at its
  ``status.renewalTime`` on the sandbox clock (an admin ``clock`` advance wakes it); failed issuances back off
  1h, 2h, 4h ... up to 32h (shouldBackoffReissuingOnFailure); of several Certificates naming one Secret only the
  oldest issues (internal/controller/certificates CertificateOwnsSecret);
* key manager (keymanager/keymanager_controller.go): during an issuance, a "next private key" Secret
  (``<name>-<random>``, label ``cert-manager.io/next-private-key``, PKCS#8) with a new key (rotationPolicy
  ``Always``, the default) or the current Secret's key (``Never``); events ``Generated`` / ``Reused``;
* request manager (requestmanager/requestmanager_controller.go): one CertificateRequest ``<name>-<revision>``
  (StableCertificateRequestName) for the next revision, its CSR signed by that key, annotated with
  ``cert-manager.io/certificate-name``, ``certificate-revision`` and ``private-key-secret-name``; requests of that
  revision that no longer match the spec, the key, or failed before this issuance are deleted; event
  ``Requested``;
* issuing (issuing/issuing_controller.go, secret_manager.go, internal/secret.go): once the request is Ready, the
  ``kubernetes.io/tls`` Secret is server-side applied (``tls.crt``, ``tls.key`` in spec.privateKey.encoding,
  ``ca.crt``, the certificate's annotations, the issuer annotations, the ``controller.cert-manager.io/fao`` label,
  the secretTemplate, additional output formats), the revision goes up and ``Issuing`` is removed (event
  ``Issuing`` "The certificate has been successfully issued"); a failed, denied or invalid request sets
  ``Issuing`` False with lastFailureTime and failedIssuanceAttempts; outside an issuance it re-applies the Secret's
  metadata when the post-issuance policies find it changed;
* readiness (readiness/readiness_controller.go): ``Ready`` from the readiness chain, and notBefore, notAfter,
  renewalTime from the Secret's certificate (renewaltime.go);
* revision manager (revisionmanager/revisionmanager_controller.go): once Ready, the oldest requests beyond
  ``revisionHistoryLimit`` (default 1) are deleted.
"""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from ...clock import parse_time, rfc3339
from ...errors import ApiError
from ...options import DeleteOptions
from ...store import Event
from .. import Controller, Key
from . import pki, policies
from .objects import (
    CERTIFICATE_NAME,
    CERTIFICATES,
    FAO,
    ISSUER_GROUP,
    ISSUER_KIND,
    ISSUER_NAME,
    NEXT_PRIVATE_KEY,
    PRIVATE_KEY_SECRET,
    REQUESTS,
    REVISION,
    SECRETS,
    Obj,
    b64,
    component,
    condition,
    controller_ref,
    data,
    event,
    has_condition,
    owned_by,
    remove_condition,
    requests_of,
    revision_of,
    rt,
    secret_rt,
    set_condition,
    write_status,
)

if TYPE_CHECKING:
    from ...instance import Sandbox

MIN_BACKOFF = 3600.0
MAX_BACKOFF = 32 * 3600.0
"""The controller's certificateRequestMinimumBackoffDuration / MaximumBackoffDuration defaults (1h, 32h)."""
SKIPPED_ANNOTATION_PREFIXES = ("kubectl.kubernetes.io/", "fluxcd.io/", "argocd.argoproj.io/")
"""copiedAnnotationPrefixes' default (``*`` but these): the Certificate annotations its requests carry."""


def _get(sb: Sandbox, key: Key) -> Obj | None:
    crt = sb.store.get(CERTIFICATES, *key)
    if crt is None or crt["metadata"].get("deletionTimestamp"):
        return None
    return crt


def _issuing(crt: Obj) -> bool:
    return has_condition(crt, "Issuing", "True")


def _status(crt: Obj) -> Obj:
    return crt.get("status") or {}


def _write(sb: Sandbox, crt: Obj, controller: str) -> Obj:
    return write_status(sb, rt(sb, "certificates"), crt, controller)


def _delete(sb: Sandbox, resource_type, obj: Obj) -> None:
    try:
        sb.api.delete(resource_type, obj["metadata"]["namespace"], obj["metadata"]["name"], DeleteOptions())
    except ApiError as exc:
        if exc.code != 404:
            raise


# --------------------------------------------------------------------------- trigger


def owns_secret(sb: Sandbox, crt: Obj) -> bool:
    """CertificateOwnsSecret: of the Certificates naming one Secret, the oldest (then by name) issues it."""
    name = (crt.get("spec") or {}).get("secretName")
    same = [c for c in sb.store.list(CERTIFICATES, crt["metadata"]["namespace"])
            if (c.get("spec") or {}).get("secretName") == name]
    if not same:
        return False
    first = min(same, key=lambda c: (c["metadata"].get("creationTimestamp", ""), c["metadata"]["name"]))
    return first["metadata"]["name"] == crt["metadata"]["name"]


def _backoff(crt: Obj, following: Obj | None, now: dt.datetime) -> float | None:
    """shouldBackoffReissuingOnFailure: seconds left to wait after failed issuances, or None."""
    status = _status(crt)
    if not status.get("lastFailureTime"):
        return None
    if following is not None:
        try:
            if pki.request_matches_spec(following, crt.get("spec") or {}):
                return None
        except pki.PKIError:
            return None
    attempts = status.get("failedIssuanceAttempts")
    delay = MIN_BACKOFF
    if isinstance(attempts, int) and attempts > 0:
        delay = min(MIN_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
    since = (now - parse_time(status["lastFailureTime"])).total_seconds()
    return None if since >= delay else delay - since


def trigger(sb: Sandbox, key: Key) -> float | None:
    crt = _get(sb, key)
    if crt is None or _issuing(crt):
        return None
    if not owns_secret(sb, crt):
        return 180.0
    try:
        given = policies.gather(sb, crt)
    except policies.Duplicates:
        return None
    wait = _backoff(crt, given.next, given.now)
    if wait is not None:
        return wait
    again = None
    renewal = _status(crt).get("renewalTime")
    if renewal:
        left = (parse_time(renewal) - given.now).total_seconds()
        again = left if left >= 0 else None
    found = policies.evaluate(policies.TRIGGER, given)
    if found is None:
        return again
    reason, message = found
    updated = copy.deepcopy(crt)
    set_condition(sb, updated, "Issuing", "True", reason, message)
    written = _write(sb, updated, "certificates-trigger")
    event(sb, written, "Issuing", message, "certificates-trigger")
    return again


# --------------------------------------------------------------------------- key manager


class KeyJobs:
    """Private keys made off the sandbox's event loop: an RSA key takes from a tenth of a second (2048 bits) to
    many seconds (8192), and the API must keep answering meanwhile (OpenSSL releases the GIL while it works).
    ECDSA and Ed25519 keys take well under a millisecond and are made in place."""

    POLL = 0.05
    """Seconds between looks at a key still being made (the key manager's delay while it waits)."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[tuple[str, int], concurrent.futures.Future[pki.PrivateKey]]] = {}
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None

    def take(self, crt: Obj) -> pki.PrivateKey | None:
        """The new key for ``crt``'s spec, or None while it is being made (look again after :data:`POLL`)."""
        spec = crt.get("spec") or {}
        wanted = pki.key_spec(spec)
        if wanted[0] != "RSA":
            return pki.generate_key(spec)
        uid = crt["metadata"]["uid"]
        job = self.jobs.get(uid)
        if job is not None and job[0] == wanted:
            if not job[1].done():
                return None
            del self.jobs[uid]
            return job[1].result()
        if self.pool is None:
            self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="cert-manager-keys")
        self.jobs[uid] = (wanted, self.pool.submit(pki.generate_key, copy.deepcopy(spec)))
        return None


def _next_key_secrets(sb: Sandbox, crt: Obj) -> list[Obj]:
    return [s for s in sb.store.list(SECRETS, crt["metadata"]["namespace"])
            if ((s["metadata"].get("labels") or {}).get(NEXT_PRIVATE_KEY) == "true") and owned_by(s, crt)]


def _set_next_key(sb: Sandbox, crt: Obj, name: str | None) -> None:
    if _status(crt).get("nextPrivateKeySecretName") == name:
        return
    updated = copy.deepcopy(crt)
    if name is None:
        updated.setdefault("status", {}).pop("nextPrivateKeySecretName", None)
    else:
        updated.setdefault("status", {})["nextPrivateKeySecretName"] = name
    _write(sb, updated, "certificates-key-manager")


def _new_key_secret(sb: Sandbox, crt: Obj, key: pki.PrivateKey) -> Obj:
    """createNewPrivateKeySecret: the name status.nextPrivateKeySecretName gives, else ``<certificate>-<random>``."""
    ns = crt["metadata"]["namespace"]
    name = _status(crt).get("nextPrivateKeySecretName") or ""
    meta: Obj = {"namespace": ns, "ownerReferences": [controller_ref(crt, "Certificate")],
                 "labels": {NEXT_PRIVATE_KEY: "true", FAO: "true"}}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = crt["metadata"]["name"] + "-"
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta,
            "data": {"tls.key": b64(pki.encode_key(key, "PKCS8"))}}
    try:
        return sb.api.create(secret_rt(sb), ns, body, WriteOptions(field_manager=component("certificates-key-manager")))
    except ApiError as exc:
        existing = sb.store.get(SECRETS, ns, name) if name else None
        if exc.code == 409 and existing is not None:
            return existing
        raise


def keymanager(sb: Sandbox, key: Key, keys: KeyJobs) -> float | None:
    crt = _get(sb, key)
    if crt is None:
        return None
    spec = crt.get("spec") or {}
    secrets = _next_key_secrets(sb, crt)
    controller = "certificates-key-manager"
    if not _issuing(crt):
        for s in secrets:
            _delete(sb, secret_rt(sb), s)
        _set_next_key(sb, crt, None)
        return None
    if not secrets:
        policy = (spec.get("privateKey") or {}).get("rotationPolicy") or "Always"
        if policy == "Never":
            return _create_key_never(sb, crt, keys)
        if policy == "Always":
            return _create_and_set_next_key(sb, crt, keys)
        return None
    wanted = _status(crt).get("nextPrivateKeySecretName")
    if len(secrets) > 1:
        for s in secrets:
            if s["metadata"]["name"] != wanted:
                _delete(sb, secret_rt(sb), s)
        return None
    secret = secrets[0]
    if wanted is None:
        _set_next_key(sb, crt, secret["metadata"]["name"])
        return None
    if wanted != secret["metadata"]["name"] or not data(secret, "tls.key"):
        _delete(sb, secret_rt(sb), secret)
        return None
    try:
        pk = pki.decode_key(data(secret, "tls.key"))
    except pki.PKIError:
        _delete(sb, secret_rt(sb), secret)
        return None
    violations = pki.key_matches_spec(pk, spec)
    if violations:
        event(sb, crt, "Deleted", f"Regenerating private key due to change in fields: [{' '.join(violations)}]",
              controller)
        _delete(sb, secret_rt(sb), secret)
    return None


def _create_and_set_next_key(sb: Sandbox, crt: Obj, keys: KeyJobs) -> float | None:
    """createAndSetNextPrivateKey (once the key is made: KeyJobs)."""
    pk = keys.take(crt)
    if pk is None:
        return KeyJobs.POLL
    new = _new_key_secret(sb, crt, pk)
    event(sb, crt, "Generated", f'Stored new private key in temporary Secret resource "{new["metadata"]["name"]}"',
          "certificates-key-manager")
    _set_next_key(sb, crt, new["metadata"]["name"])
    return None


def _create_key_never(sb: Sandbox, crt: Obj, keys: KeyJobs) -> float | None:
    """createNextPrivateKeyRotationPolicyNever: reuse the key of the current Secret when it suits the spec."""
    spec = crt.get("spec") or {}
    controller = "certificates-key-manager"
    name = spec.get("secretName") or ""
    current = sb.store.get(SECRETS, crt["metadata"]["namespace"], name)
    if current is None or not data(current, "tls.key"):
        return _create_and_set_next_key(sb, crt, keys)
    try:
        pk = pki.decode_key(data(current, "tls.key"))
    except pki.PKIError:
        if crt["metadata"]["uid"] not in keys.jobs:  # recorded once, when the new key is asked for
            event(sb, crt, "DecodeFailed", f'Failed to decode private key stored in Secret "{name}" - generating new '
                                           "key", controller, "Warning")
        return _create_and_set_next_key(sb, crt, keys)
    violations = pki.key_matches_spec(pk, spec)
    if violations:
        event(sb, crt, "CannotRegenerateKey", f'User intervention required: existing private key in Secret "{name}" '
              f"does not match requirements on Certificate resource, mismatching fields: [{' '.join(violations)}], "
              "but cert-manager cannot create new private key as the Certificate's .spec.privateKey.rotationPolicy "
              "is unset or set to Never. To allow cert-manager to create a new private key you can set "
              ".spec.privateKey.rotationPolicy to 'Always' (this will result in the private key being regenerated "
              "every time a cert is renewed) ", controller, "Warning")
        return None
    new = _new_key_secret(sb, crt, pk)
    event(sb, crt, "Reused", f'Reusing private key stored in existing Secret resource "{name}"', controller)
    _set_next_key(sb, crt, new["metadata"]["name"])
    return None


# --------------------------------------------------------------------------- request manager


def _next_key(sb: Sandbox, crt: Obj) -> tuple[Obj, pki.PrivateKey] | None:
    name = _status(crt).get("nextPrivateKeySecretName")
    if not name:
        return None
    secret = sb.store.get(SECRETS, crt["metadata"]["namespace"], name)
    if secret is None or not data(secret, "tls.key"):
        return None
    try:
        return secret, pki.decode_key(data(secret, "tls.key"))
    except pki.PKIError:
        return None


def _request_name(crt: Obj, revision: int) -> str:
    """ComputeSecureUniqueDeterministicNameFromData(name, 233) and the revision."""
    import hashlib
    import re

    name = crt["metadata"]["name"]
    if len(name) > 233:
        cut = name[:233 - 65]
        keep = [m.end() for m in re.finditer(r"[a-zA-Z\d]", cut)]
        prefix = cut[:keep[-1]] if keep else ""
        digest = hashlib.sha256(name.encode()).hexdigest()
        name = f"{prefix}-{digest}" if prefix else digest
    return f"{name}-{revision}"


def requestmanager(sb: Sandbox, key: Key) -> float | None:
    crt = _get(sb, key)
    if crt is None or not _issuing(crt):
        return None
    found = _next_key(sb, crt)
    if found is None:
        return None
    secret, pk = found
    requests_rt = rt(sb, "certificaterequests")
    spec = crt.get("spec") or {}
    owned = requests_of(sb, crt)
    for cr in owned:
        if revision_of(cr) is None:
            _delete(sb, requests_rt, cr)
    following = (_status(crt).get("revision") or 0) + 1
    candidates = []
    for cr in owned:
        if revision_of(cr) != following:
            continue
        try:
            mismatch = pki.request_matches_spec(cr, spec)
            csr = pki.decode_csr(pki.data_from_b64(cr["spec"].get("request") or ""))
        except pki.PKIError:
            _delete(sb, requests_rt, cr)
            continue
        if mismatch or not pki.keys_equal(csr.public_key(), pk):
            _delete(sb, requests_rt, cr)
            continue
        ready = condition(cr, "Ready") or {}
        issuing_since = (condition(crt, "Issuing") or {}).get("lastTransitionTime") or ""
        failed_at = (cr.get("status") or {}).get("failureTime") or ""
        if ready.get("status") == "False" and ready.get("reason") == "Failed" and failed_at < issuing_since:
            _delete(sb, requests_rt, cr)
            continue
        candidates.append(cr)
    if candidates:
        return None
    try:
        request = pki.build_csr(spec, pk)
    except pki.PKIError:
        return None  # "Failed to generate CSR - will not retry"
    annotations = {k: v for k, v in (crt["metadata"].get("annotations") or {}).items()
                   if not k.startswith(SKIPPED_ANNOTATION_PREFIXES)}
    annotations.update({REVISION: str(following), PRIVATE_KEY_SECRET: secret["metadata"]["name"],
                        CERTIFICATE_NAME: crt["metadata"]["name"]})
    cr_spec: Obj = {}
    if spec.get("duration"):
        cr_spec["duration"] = spec["duration"]
    cr_spec["issuerRef"] = copy.deepcopy(spec.get("issuerRef") or {})
    cr_spec["request"] = b64(request)
    if spec.get("isCA"):
        cr_spec["isCA"] = True
    if spec.get("usages"):
        cr_spec["usages"] = list(spec["usages"])
    meta: Obj = {"name": _request_name(crt, following), "namespace": crt["metadata"]["namespace"],
                 "annotations": annotations, "ownerReferences": [controller_ref(crt, "Certificate")]}
    if crt["metadata"].get("labels"):
        meta["labels"] = dict(crt["metadata"]["labels"])
    body = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": meta, "spec": cr_spec}
    controller = "certificates-request-manager"
    try:
        made = sb.api.create(requests_rt, meta["namespace"], body, WriteOptions(field_manager=component(controller)))
    except ApiError as exc:
        event(sb, crt, "RequestFailed", f"Failed to create CertificateRequest: {exc.message}", controller, "Warning")
        if exc.code == 409:
            return None
        raise
    event(sb, crt, "Requested", f'Created new CertificateRequest resource "{made["metadata"]["name"]}"', controller)
    return None


# --------------------------------------------------------------------------- issuing


def _apply_secret(sb: Sandbox, crt: Obj, key_pem: bytes, cert_pem: bytes, ca_pem: bytes, certificate_name: str,
                  issuer: tuple[str, str, str] | None) -> None:
    """SecretsManager.UpdateData: server-side apply, forced, as ``cert-manager-certificates-issuing``."""
    spec = crt.get("spec") or {}
    ns = crt["metadata"]["namespace"]
    existing = sb.store.get(SECRETS, ns, spec["secretName"])
    data_: Obj = {}
    template = spec.get("secretTemplate") or {}
    labels: dict[str, str] = dict(template.get("labels") or {})
    annotations: dict[str, str] = dict(template.get("annotations") or {})
    formats = {f.get("type") for f in spec.get("additionalOutputFormats") or []}
    for kind, data_key in (("CombinedPEM", "tls-combined.pem"), ("DER", "key.der")):
        if kind in formats:
            data_[data_key] = b64(policies.output_format_of(kind, key_pem, cert_pem))
    data_["tls.key"] = b64(key_pem)
    data_["tls.crt"] = b64(cert_pem)
    if ca_pem:
        data_["ca.crt"] = b64(ca_pem)
    try:
        cert = pki.decode_certificate(cert_pem) if cert_pem else None
    except pki.PKIError:
        cert = None
    annotations.update(pki.annotations_for_certificate(cert))
    if certificate_name:
        annotations[CERTIFICATE_NAME] = certificate_name
    if issuer is not None:
        annotations[ISSUER_NAME], annotations[ISSUER_KIND], annotations[ISSUER_GROUP] = issuer
    labels[FAO] = "true"
    body = {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": spec["secretName"], "namespace": ns, "labels": labels, "annotations": annotations},
            "data": data_, "type": (existing or {}).get("type") or "kubernetes.io/tls"}
    sb.api.patch(secret_rt(sb), ns, spec["secretName"], "apply", body,
                 WriteOptions(field_manager=policies.ISSUING_MANAGER, force=True))


def _fail(sb: Sandbox, crt: Obj, cond: Obj) -> None:
    """failIssueCertificate."""
    updated = copy.deepcopy(crt)
    status = updated.setdefault("status", {})
    status["lastFailureTime"] = sb.api.now()
    status["failedIssuanceAttempts"] = int(status.get("failedIssuanceAttempts") or 0) + 1
    reason = cond.get("reason") or ""
    message = f"The certificate request has failed to complete and will be retried: {cond.get('message') or ''}"
    set_condition(sb, updated, "Issuing", "False", reason, message)
    written = _write(sb, updated, "certificates-issuing")
    event(sb, written, reason, message, "certificates-issuing", "Warning")


def issuing(sb: Sandbox, key: Key) -> float | None:
    crt = _get(sb, key)
    if crt is None:
        return None
    if not _issuing(crt):
        _ensure_secret_data(sb, crt)
        return None
    found = _next_key(sb, crt)
    if found is None:
        return None
    _, pk = found
    spec = crt.get("spec") or {}
    if pki.key_matches_spec(pk, spec):
        return None
    following = (_status(crt).get("revision") or 0) + 1
    reqs = requests_of(sb, crt, following)
    if len(reqs) != 1:
        return None
    req = reqs[0]
    try:
        if pki.request_matches_spec(req, spec):
            return None
        csr = pki.decode_csr(pki.data_from_b64(req["spec"].get("request") or ""))
    except pki.PKIError:
        return None
    issuing_cond = condition(crt, "Issuing") or {}
    ready = condition(req, "Ready")
    failed_at = (req.get("status") or {}).get("failureTime")
    if failed_at and failed_at < (issuing_cond.get("lastTransitionTime") or "") and (ready or {}).get("reason") == \
            "Failed":
        return None
    if has_condition(req, "Denied", "True"):
        _fail(sb, crt, condition(req, "Denied") or {})
        return None
    if has_condition(req, "InvalidRequest", "True"):
        _fail(sb, crt, condition(req, "InvalidRequest") or {})
        return None
    if ready is None:
        return None
    if ready.get("reason") == "Failed":
        _fail(sb, crt, ready)
        return None
    if not pki.keys_equal(csr.public_key(), pk):
        return None
    if ready.get("reason") != "Issued":
        return None
    raw = pki.data_from_b64((req.get("status") or {}).get("certificate") or "")
    try:
        cert = pki.decode_certificate(raw)
    except pki.PKIError as exc:
        _fail(sb, crt, {"reason": "InvalidCertificate",
                        "message": f"Issuer returned an invalid certificate: failed to decode: {exc}"})
        return None
    if not pki.keys_equal(cert.public_key(), csr.public_key()):
        _fail(sb, crt, {"reason": "InvalidCertificate",
                        "message": "Issuer returned a certificate with a public key that does not match the CSR. "
                                   "This usually indicates a misconfigured issuer."})
        return None
    if sb.clock.now() > pki.not_after(cert):
        _fail(sb, crt, {"reason": "InvalidCertificate", "message": "Issuer returned an already expired certificate "
                        f"(notAfter: {rfc3339(pki.not_after(cert))}). This usually indicates an expired CA "
                        "certificate in the issuer."})
        return None
    ref = req["spec"].get("issuerRef") or {}
    ca = pki.data_from_b64((req.get("status") or {}).get("ca") or "")
    encoding = (spec.get("privateKey") or {}).get("encoding") or "PKCS1"
    _apply_secret(sb, crt, pki.encode_key(pk, encoding), raw, ca, crt["metadata"]["name"],
                  (ref.get("name") or "", ref.get("kind") or "", ref.get("group") or ""))
    updated = copy.deepcopy(crt)
    status = updated.setdefault("status", {})
    status["revision"] = following
    remove_condition(updated, "Issuing")
    status.pop("failedIssuanceAttempts", None)
    status.pop("lastFailureTime", None)
    written = _write(sb, updated, "certificates-issuing")
    event(sb, written, "Issuing", "The certificate has been successfully issued", "certificates-issuing")
    return None


def _ensure_secret_data(sb: Sandbox, crt: Obj) -> None:
    """secret_manager.go ensureSecretData: re-apply the Secret when its metadata no longer matches."""
    secret = sb.store.get(SECRETS, crt["metadata"]["namespace"], (crt.get("spec") or {}).get("secretName") or "")
    if secret is None or not data(secret, "tls.crt") or not data(secret, "tls.key"):
        return
    found = policies.post_issuance(crt, secret)
    if found is None or found[0] in ("InvalidCertificate", "ManagedFieldsParseError"):
        return
    annotations = secret["metadata"].get("annotations") or {}
    issuer = None
    if any(annotations.get(k) for k in (ISSUER_NAME, ISSUER_KIND, ISSUER_GROUP)):
        issuer = (annotations.get(ISSUER_NAME, ""), annotations.get(ISSUER_KIND, ""), annotations.get(ISSUER_GROUP, ""))
    _apply_secret(sb, crt, data(secret, "tls.key"), data(secret, "tls.crt"), data(secret, "ca.crt"),
                  annotations.get(CERTIFICATE_NAME, ""), issuer)


# --------------------------------------------------------------------------- readiness


def readiness(sb: Sandbox, key: Key) -> float | None:
    crt = _get(sb, key)
    if crt is None:
        return None
    try:
        given = policies.gather(sb, crt)
    except policies.Duplicates:
        return None
    found = policies.evaluate(policies.READINESS, given)
    updated = copy.deepcopy(crt)
    if found is None:
        set_condition(sb, updated, "Ready", "True", "Ready", "Certificate is up to date and has not expired")
    else:
        set_condition(sb, updated, "Ready", "False", *found)
    status = updated.setdefault("status", {})
    again = None
    cert = None
    if given.secret is not None and given.secret.get("data") is not None:
        try:
            cert = pki.decode_certificate(data(given.secret, "tls.crt"))
        except pki.PKIError:
            cert = None
    if cert is not None:
        spec = crt.get("spec") or {}
        status["notBefore"] = rfc3339(pki.not_before(cert))
        status["notAfter"] = rfc3339(pki.not_after(cert))
        if policies.renewal_disabled(spec):
            status.pop("renewalTime", None)
        else:
            status["renewalTime"] = rfc3339(pki.renewal_time(pki.not_before(cert), pki.not_after(cert), spec))
        left = (pki.not_after(cert) - given.now).total_seconds()
        again = left + 1 if left >= 0 else None  # looks again once it has expired
    else:
        for k in ("notAfter", "notBefore", "renewalTime"):
            status.pop(k, None)
    if updated.get("status") != crt.get("status"):
        _write(sb, updated, "certificates-readiness")
    return again


# --------------------------------------------------------------------------- revision manager


def revisionmanager(sb: Sandbox, key: Key) -> float | None:
    crt = _get(sb, key)
    if crt is None or not has_condition(crt, "Ready", "True"):
        return None
    limit = (crt.get("spec") or {}).get("revisionHistoryLimit")
    limit = 1 if not isinstance(limit, int) or isinstance(limit, bool) else limit
    owned = requests_of(sb, crt)
    if limit >= len(owned):
        return None
    revisions = sorted(((revision_of(cr), cr) for cr in owned if revision_of(cr) is not None),
                       key=lambda pair: pair[0])
    for _, cr in revisions[:max(len(revisions) - limit, 0)]:
        _delete(sb, rt(sb, "certificaterequests"), cr)
    return None


# --------------------------------------------------------------------------- what requeues a Certificate


def _same(sb: Sandbox, ev: Event) -> Iterable[Key]:
    meta = ev.obj["metadata"]
    return [] if ev.type == "DELETED" else [(meta["namespace"], meta["name"])]


def _owner(sb: Sandbox, ev: Event) -> Iterable[Key]:
    out = []
    for obj in (ev.obj, ev.old):
        for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
            if ref.get("kind") == "Certificate" and ref.get("controller"):
                out.append((ev.obj["metadata"]["namespace"], ref["name"]))
    return out


def _for_secret(sb: Sandbox, ev: Event) -> Iterable[Key]:
    """The Certificates whose spec.secretName is this Secret, and the owner of a next-private-key Secret."""
    ns, name = ev.obj["metadata"].get("namespace", ""), ev.obj["metadata"]["name"]
    out = [(ns, c["metadata"]["name"]) for c in sb.store.list(CERTIFICATES, ns)
           if (c.get("spec") or {}).get("secretName") == name]
    return out + list(_owner(sb, ev))


WATCHES = {CERTIFICATES: _same, REQUESTS: _owner, SECRETS: _for_secret}


def controllers(sb: Sandbox) -> list[Controller]:
    """In the order a new Certificate needs them; trigger and readiness wake on the sandbox clock."""
    keys = KeyJobs()  # this sandbox's keys in the making
    return [Controller("certificates-trigger", trigger, dict(WATCHES), clocked=True),
            Controller("certificates-key-manager", lambda s, k: keymanager(s, k, keys), dict(WATCHES)),
            Controller("certificates-request-manager", requestmanager, dict(WATCHES)),
            Controller("certificates-issuing", issuing, dict(WATCHES)),
            Controller("certificates-readiness", readiness, dict(WATCHES), clocked=True),
            Controller("certificates-revision-manager", revisionmanager, dict(WATCHES))]
