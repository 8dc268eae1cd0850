"""The certificaterequests controllers: the internal approver, and one signer per issuer type.

* approver (pkg/controller/certificaterequests/approver/sync.go): a request that is neither approved, denied,
  failed nor issued gets ``Approved`` True, reason ``cert-manager.io``, "Certificate request has been approved
  by cert-manager.io" (and an event with that reason), for requests to cert-manager.io issuers;
* signers (pkg/controller/certificaterequests/sync.go, one controller per issuer type, each named
  ``certificaterequests-issuer-<type>``): skip denied (Ready False ``Denied``), invalid, failed and issued
  requests; "Not signing CertificateRequest until it is Approved" (``WaitingForApproval``) until approved; then
  the issuer: not found → Pending ``IssuerNotFound`` 'Referenced "Issuer" not found: issuer.cert-manager.io "x"
  not found', no type → ``IssuerTypeMissing``, not Ready → ``IssuerNotReady`` "Referenced issuer does not have a
  Ready status condition" (reporter.go Pending: the event only when the request was not Pending already); a
  request is looked at again when its issuer changes (checks.go handleGenericIssuer) or, for selfSigned, when the
  Secret of its private key does (selfsigned/checks.go);
* selfSigned (certificaterequests/selfsigned/selfsigned.go): signs the CSR with the key in the Secret the
  ``cert-manager.io/private-key-secret-name`` annotation names (which must be the CSR's key); ``ca.crt`` is the
  certificate itself;
* ca (certificaterequests/ca/ca.go): signs with the CA Secret's key pair; ``tls.crt`` is the leaf and the
  intermediates, ``ca.crt`` the root (ParseSingleCertificateChain);
* success: ``status.certificate`` and ``status.ca``, Ready True ``Issued`` "Certificate fetched from issuer
  successfully" and the ``CertificateIssued`` event (util/reporter.go Ready); signing errors are Ready False
  ``Failed`` with ``failureTime`` (reporter.go Failed).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography import x509

from ...store import Event
from .. import Controller, Key
from . import pki
from .objects import (
    CLUSTER_ISSUERS,
    ISSUERS,
    PRIVATE_KEY_SECRET,
    REQUESTS,
    SECRETS,
    Obj,
    b64,
    condition,
    data,
    event,
    has_condition,
    issuer_of,
    issuer_type,
    resource_namespace,
    rt,
    set_condition,
    write_status,
)

if TYPE_CHECKING:
    from ...instance import Sandbox

APPROVER = "certificaterequests-approver"
APPROVED_MESSAGE = "Certificate request has been approved by cert-manager.io"
READY_MESSAGE = "Certificate fetched from issuer successfully"
SIGNER_TYPES = ("acme", "ca", "selfsigned", "vault", "venafi")
"""The issuer-type controllers (certificaterequests-issuer-<type>), each running the shared Sync."""
TYPE_NAMES = {"acme": "acme", "ca": "ca", "selfSigned": "selfsigned", "vault": "vault", "venafi": "venafi"}


def ready_reason(cr: Obj) -> str:
    """apiutil.CertificateRequestReadyReason."""
    reasons = [c.get("reason") for c in (cr.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
    return next((r for r in ("Failed", "Issued", "Pending", "Denied") if r in reasons), "")


def _ours(cr: Obj) -> bool:
    group = ((cr.get("spec") or {}).get("issuerRef") or {}).get("group") or ""
    return group in ("", "cert-manager.io")


# --------------------------------------------------------------------------- approver


def approve(sb: Sandbox, key: Key) -> float | None:
    cr = sb.store.get(REQUESTS, *key)
    if cr is None or not _ours(cr):
        return None
    if has_condition(cr, "Approved", "True") or has_condition(cr, "Denied", "True") or \
            ready_reason(cr) in ("Failed", "Issued"):
        return None
    updated = copy.deepcopy(cr)
    set_condition(sb, updated, "Approved", "True", "cert-manager.io", APPROVED_MESSAGE, generation=False)
    written = write_status(sb, rt(sb, "certificaterequests"), updated, APPROVER)
    event(sb, written, "cert-manager.io", APPROVED_MESSAGE, APPROVER)
    return None


# --------------------------------------------------------------------------- signers


class _Reporter:
    """util/reporter.go on a copy of the request, as one issuer-type controller."""

    def __init__(self, sb: Sandbox, cr: Obj, controller: str):
        self.sb, self.cr, self.controller = sb, cr, controller

    def pending(self, reason: str, message: str) -> None:
        if ready_reason(self.cr) != "Pending":
            event(self.sb, self.cr, reason, message, self.controller)
        set_condition(self.sb, self.cr, "Ready", "False", "Pending", message, generation=False)

    def failed(self, reason: str, message: str) -> None:
        status = self.cr.setdefault("status", {})
        status.setdefault("failureTime", self.sb.api.now())
        event(self.sb, self.cr, reason, message, self.controller, "Warning")
        set_condition(self.sb, self.cr, "Ready", "False", "Failed", message, generation=False)

    def ready(self) -> None:
        event(self.sb, self.cr, "CertificateIssued", READY_MESSAGE, self.controller)
        set_condition(self.sb, self.cr, "Ready", "True", "Issued", READY_MESSAGE, generation=False)


def sign_requests(sb: Sandbox, key: Key) -> float | None:
    """Each issuer-type controller's Sync in turn; the one for the issuer's type signs."""
    for kind in SIGNER_TYPES:
        cr = sb.store.get(REQUESTS, *key)
        if cr is None:
            return None
        _sync(sb, cr, kind)
    return None


def _sync(sb: Sandbox, cr: Obj, kind: str) -> None:
    if not _ours(cr):
        return
    controller = f"certificaterequests-issuer-{kind}"
    updated = copy.deepcopy(cr)
    report = _Reporter(sb, updated, controller)
    if has_condition(cr, "Denied", "True"):
        if ready_reason(cr) != "Denied":
            updated.setdefault("status", {}).setdefault("failureTime", sb.api.now())
            set_condition(sb, updated, "Ready", "False", "Denied",
                          "The CertificateRequest was denied by an approval controller", generation=False)
    elif has_condition(cr, "InvalidRequest", "True") or ready_reason(cr) in ("Failed", "Issued"):
        return
    elif not has_condition(cr, "Approved", "True"):
        event(sb, cr, "WaitingForApproval", "Not signing CertificateRequest until it is Approved", controller)
        return
    else:
        spec = cr.get("spec") or {}
        ref = spec.get("issuerRef") or {}
        issuer, missing = issuer_of(sb, ref, cr["metadata"]["namespace"])
        if issuer is None:
            report.pending("IssuerNotFound", f'Referenced "{ref.get("kind") or "Issuer"}" not found: {missing}')
        elif not issuer_type(issuer):
            meta = issuer["metadata"]
            report.pending("IssuerTypeMissing", f"Missing issuer type: no issuer specified for Issuer "
                                                f"'{meta.get('namespace', '')}/{meta['name']}'")
        elif TYPE_NAMES[issuer_type(issuer)] != kind:
            return
        elif not has_condition(issuer, "Ready", "True"):
            report.pending("IssuerNotReady", "Referenced issuer does not have a Ready status condition")
        elif not (updated.get("status") or {}).get("certificate"):
            _sign(sb, updated, issuer, kind, report)
    if updated.get("status") != cr.get("status"):
        write_status(sb, rt(sb, "certificaterequests"), updated, controller)


def _sign(sb: Sandbox, cr: Obj, issuer: Obj, kind: str, report: _Reporter) -> None:
    now = sb.clock.now()
    serial = x509.random_serial_number()  # Go's CreateCertificate: a random serial (crypto/rand, not the seed)
    spec = cr.get("spec") or {}
    try:
        request = pki.data_from_b64(spec.get("request") or "")
    except pki.PKIError as exc:
        report.failed("ErrorGenerating" if kind == "selfsigned" else "SigningError",
                      f"Error generating certificate template: {exc}")
        return
    if kind == "selfsigned":
        chain = _sign_self(sb, cr, issuer, request, now, serial, report)
        ca = chain
    else:
        chain, ca = _sign_ca(sb, issuer, request, spec, now, serial, report)
    if chain is None:
        return
    status = cr.setdefault("status", {})
    status["certificate"] = b64(chain)
    if ca:
        status["ca"] = b64(ca)
    report.ready()


def _sign_self(sb: Sandbox, cr: Obj, issuer: Obj, request: bytes, now, serial: int,
               report: _Reporter) -> bytes | None:
    ns = cr["metadata"]["namespace"]
    secret_name = (cr["metadata"].get("annotations") or {}).get(PRIVATE_KEY_SECRET) or ""
    if not secret_name:
        report.failed("MissingAnnotation", f'Annotation "{PRIVATE_KEY_SECRET}" missing or reference empty: '
                                           "secret name missing")
        return None
    secret = sb.store.get(SECRETS, ns, secret_name)
    if secret is None:
        report.pending("MissingSecret", f'Referenced secret {ns}/{secret_name} not found: secrets "{secret_name}" '
                                        "not found")
        return None
    try:
        if "tls.key" not in (secret.get("data") or {}):
            raise pki.PKIError(f"no data for \"tls.key\" in secret '{ns}/{secret_name}'")
        key = pki.decode_key(data(secret, "tls.key"))
    except pki.PKIError as exc:
        report.pending("ErrorParsingKey", f'Failed to get key "{secret_name}" referenced in annotation '
                                          f'"{PRIVATE_KEY_SECRET}": {exc}')
        return None
    try:
        csr, facts = pki.template_from_request(request, cr["spec"], now)
    except pki.PKIError as exc:
        report.failed("ErrorGenerating", f"Error generating certificate template: {exc}")
        return None
    if len(csr.subject) == 0:
        event(sb, cr, "BadConfig", "Certificate will be issued with an empty Issuer DN, which contravenes RFC 5280 "
                                   "and could break some strict clients", report.controller, "Warning")
    if not pki.keys_equal(key, csr.public_key()):
        report.failed("ErrorKeyMatch", "Error generating certificate template: CSR not signed by referenced "
                                       "private key")
        return None
    return pki.pem(pki.sign(csr, facts, None, key, serial))


def _sign_ca(sb: Sandbox, issuer: Obj, request: bytes, spec: Obj, now, serial: int,
             report: _Reporter) -> tuple[bytes | None, bytes]:
    ns = resource_namespace(issuer)
    name = (issuer["spec"].get("ca") or {}).get("secretName") or ""
    secret = sb.store.get(SECRETS, ns, name)
    if secret is None:
        report.pending("SecretMissing", f'Referenced secret {ns}/{name} not found: secrets "{name}" not found')
        return None, b""
    try:  # kube.SecretTLSKeyPairAndCA
        if "tls.key" not in (secret.get("data") or {}):
            raise pki.PKIError(f"no private key data for \"tls.key\" in secret '{ns}/{name}'")
        key = pki.decode_key(data(secret, "tls.key"))
        if "tls.crt" not in (secret.get("data") or {}):
            raise pki.PKIError(f"no certificate data for \"tls.crt\" in secret '{ns}/{name}'")
        certs = pki.decode_chain(data(secret, "tls.crt"))
        if data(secret, "ca.crt"):
            certs.append(pki.decode_certificate(data(secret, "ca.crt")))
    except pki.PKIError as exc:
        report.pending("SecretInvalidData", f"Failed to parse signing CA keypair from secret {ns}/{name}: {exc}")
        return None, b""
    try:
        csr, facts = pki.template_from_request(request, spec, now)
    except pki.PKIError as exc:
        report.failed("SigningError", f"Error generating certificate template: {exc}")
        return None, b""
    try:
        leaf = pki.sign(csr, facts, certs[0], key, serial)
        chain, ca = pki.bundle(certs, leaf)
    except pki.PKIError as exc:
        report.failed("SigningError", f"Error signing certificate: {exc}")
        return None, b""
    return chain, ca


# --------------------------------------------------------------------------- what requeues a request


def _requests_for_issuer(sb: Sandbox, ev: Event) -> Iterable[Key]:
    """checks.go handleGenericIssuer: the requests that name the issuer."""
    meta = ev.obj["metadata"]
    cluster = ev.resource == CLUSTER_ISSUERS
    out = []
    for cr in sb.store.list(REQUESTS, None if cluster else meta.get("namespace")):
        ref = (cr.get("spec") or {}).get("issuerRef") or {}
        if ref.get("name") == meta["name"] and (ref.get("kind") or "Issuer") == \
                ("ClusterIssuer" if cluster else "Issuer"):
            out.append((cr["metadata"]["namespace"], cr["metadata"]["name"]))
    return out


def _requests_for_secret(sb: Sandbox, ev: Event) -> Iterable[Key]:
    """selfsigned/checks.go: the requests whose private key annotation names the Secret."""
    meta = ev.obj["metadata"]
    return [(cr["metadata"]["namespace"], cr["metadata"]["name"])
            for cr in sb.store.list(REQUESTS, meta.get("namespace"))
            if (cr["metadata"].get("annotations") or {}).get(PRIVATE_KEY_SECRET) == meta["name"]
            and condition(cr, "Ready") is not None and ready_reason(cr) == "Pending"]


def _same(sb: Sandbox, ev: Event) -> Iterable[Key]:
    meta = ev.obj["metadata"]
    return [] if ev.type == "DELETED" else [(meta.get("namespace", ""), meta["name"])]


def controllers(sb: Sandbox) -> list[Controller]:
    """The signers first, as a new request meets them before the approver on a real cluster too (each records
    WaitingForApproval)."""
    return [Controller("certificaterequests-issuers", sign_requests,
                       {REQUESTS: _same, ISSUERS: _requests_for_issuer, CLUSTER_ISSUERS: _requests_for_issuer,
                        SECRETS: _requests_for_secret}),
            Controller(APPROVER, approve, {REQUESTS: _same})]
