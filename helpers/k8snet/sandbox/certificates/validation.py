"""CertificateSigningRequest validation, ported from pkg/apis/certificates/validation/validation.go (v1.33).

``validate(new, old, subresource)`` is ValidateCertificateSigningRequestCreate (``old`` None),
ValidateCertificateSigningRequestUpdate (the main resource), ValidateCertificateSigningRequestStatusUpdate
(``/status``: may set the certificate) and ValidateCertificateSigningRequestApprovalUpdate (``/approval``: may
change the Approved and Denied conditions). The tolerances upstream keeps for data written before a rule existed
(getValidationOptions: legacy signer, duplicate usages, both Approved and Denied) hold when the old object already
had the problem. ObjectMeta is validated by the caller, with ``ValidateCertificateRequestName`` (any name) and
then the path-segment rule of rest.BeforeCreate.

The ``spec.request`` error shows the request as Go's ``%#v`` of a ``[]byte`` (``[]byte{0x2d, 0x2d, ...}``),
as kube-apiserver prints it.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from ..errors import Cause
from ..validation import (
    GoRaw,
    duplicate,
    forbidden,
    go_quote,
    invalid_value,
    is_dns1123_label,
    is_dns1123_subdomain,
    not_supported,
    required,
    too_long,
)
from . import csr as csrs

Obj = dict[str, Any]

VALID_USAGES = sorted([
    "signing", "digital signature", "content commitment", "key encipherment", "key agreement", "data encipherment",
    "cert sign", "crl sign", "encipher only", "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
    "microsoft sgc", "netscape sgc"])
"""allValidUsages, as sets.List sorts it."""
TRUE_ONLY = (csrs.APPROVED, csrs.DENIED, csrs.FAILED)
"""trueConditionTypes: conditions whose status may only be True."""
ALL_STATUS = ["False", "True", "Unknown"]
DNS1123_SUBDOMAIN_MAX, DNS1123_LABEL_MAX = 253, 63


def go_bytes(data: bytes) -> GoRaw:
    """``%#v`` of a []byte: ``[]byte{0x2d, 0xa}``."""
    return GoRaw("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def validate_signer_name(path: str, name: str) -> list[Cause]:
    """pkg/apis/core/validation ValidateSignerName: ``domain.example/path`` with DNS-1123 labels in the domain
    (at least two) and DNS-1123 subdomains in the path, 571 characters at most."""
    if not name:
        return [required(path)]
    segments = name.split("/")
    if len(segments) != 2:
        return [invalid_value(path, name, "must be a fully qualified domain and path of the form "
                                          "'example.com/signer-name'")]
    out: list[Cause] = []
    domain, rest = segments
    if len(domain) > DNS1123_SUBDOMAIN_MAX:
        out.append(too_long(path, DNS1123_SUBDOMAIN_MAX))
    labels = domain.split(".")
    for label in labels:
        errs = is_dns1123_label(label)
        if errs:
            out += [invalid_value(path, domain, f"validating label {go_quote(label)}: {e}") for e in errs]
            break
    if len(labels) < 2:
        out.append(invalid_value(path, domain, "should be a domain with at least two segments separated by dots"))
    for label in rest.split("."):
        errs = is_dns1123_subdomain(label)
        if errs:
            out += [invalid_value(path, rest, f"validating label {go_quote(label)}: {e}") for e in errs]
            break
    longest = DNS1123_SUBDOMAIN_MAX + (DNS1123_SUBDOMAIN_MAX + DNS1123_LABEL_MAX + 1) + 1
    if len(name) > longest:
        out.append(too_long(path, longest))
    return out


def certificate_problem(pem: bytes) -> str | None:
    """validateCertificate: one or more CERTIFICATE blocks without headers, each an X.509 certificate."""
    if not pem:
        return None
    blocks = 0
    for block in csrs.pem_blocks(pem):
        if block.type != "CERTIFICATE":
            return f"only CERTIFICATE PEM blocks are allowed, found {go_quote(block.type)}"
        if block.headers:
            return "no PEM block headers are permitted"
        blocks += 1
        try:
            x509.load_der_x509_certificate(block.data)
        except ValueError:
            return "x509: malformed certificate"
    return None if blocks else "must contain at least one CERTIFICATE PEM block"


def _usages(csr: Obj) -> list[Any]:
    return list((csr.get("spec") or {}).get("usages") or [])


def _has_duplicates(values: list[Any]) -> bool:
    return len({str(v) for v in values}) != len(values)


def _validate_conditions(csr: Obj, allow_both: bool, allow_duplicates: bool, allow_empty_type: bool) -> list[Cause]:
    """validateConditions: types present, status True for Approved/Denied/Failed, Approved and Denied exclusive,
    each type once."""
    out: list[Cause] = []
    seen: set[str] = set()
    approved = denied = False
    for i, c in enumerate(csrs.conditions(csr)):
        path = f"status.conditions[{i}]"
        ctype, status = c.get("type") or "", c.get("status") or ""
        if not allow_empty_type and not ctype:
            out.append(required(f"{path}.type"))
        allowed = ["True"] if ctype in TRUE_ONLY else ALL_STATUS
        if not status:
            out.append(required(f"{path}.status"))
        elif status not in allowed:
            out.append(not_supported(f"{path}.status", status, allowed))
        if not allow_both:
            if ctype == csrs.APPROVED:
                approved = True
                if denied:
                    out.append(invalid_value(f"{path}.type", ctype, "Approved and Denied conditions are mutually "
                                                                      "exclusive"))
            elif ctype == csrs.DENIED:
                denied = True
                if approved:
                    out.append(invalid_value(f"{path}.type", ctype, "Approved and Denied conditions are mutually "
                                                                      "exclusive"))
        if not allow_duplicates:
            if ctype in seen:
                out.append(duplicate(f"{path}.type", ctype))
            seen.add(ctype)
    return out


def _validate(csr: Obj, old: Obj | None) -> list[Cause]:
    """validateCertificateSigningRequest with getValidationOptions(csr, old)."""
    spec = csr.get("spec") or {}
    out: list[Cause] = []
    pem = csrs.request_bytes(csr)
    try:
        csrs.parse_request(pem)
    except csrs.RequestError as exc:
        out.append(invalid_value("spec.request", go_bytes(pem), str(exc)))
    usages = _usages(csr)
    if not usages:
        out.append(required("spec.usages"))
    old_usages = _usages(old) if old is not None else []
    if not (old is not None and any(u not in VALID_USAGES for u in old_usages)):
        out += [not_supported(f"spec.usages[{i}]", u, VALID_USAGES) for i, u in enumerate(usages)
                if u not in VALID_USAGES]
    if not (old is not None and _has_duplicates(old_usages)):
        seen: set[str] = set()
        for i, u in enumerate(usages):
            if u in seen:
                out.append(duplicate(f"spec.usages[{i}]", u))
            seen.add(u)
    signer = spec.get("signerName") or ""
    legacy_allowed = old is not None and (old.get("spec") or {}).get("signerName") == csrs.LEGACY_UNKNOWN
    if not legacy_allowed and signer == csrs.LEGACY_UNKNOWN:
        out.append(invalid_value("spec.signerName", signer, "the legacy signerName is not allowed via this API "
                                                            "version"))
    else:
        out += validate_signer_name("spec.signerName", signer)
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and seconds < 600:
        out.append(invalid_value("spec.expirationSeconds", seconds,
                                 "may not specify a duration less than 600 seconds (10 minutes)"))
    old_types = [c.get("type") for c in csrs.conditions(old)] if old is not None else []
    out += _validate_conditions(csr, csrs.APPROVED in old_types and csrs.DENIED in old_types,
                                _has_duplicates(old_types), "" in old_types or None in old_types)
    new_cert = csrs.certificate_bytes(csr)
    unchanged = old is not None and new_cert == csrs.certificate_bytes(old)
    arbitrary = unchanged or (old is not None and certificate_problem(csrs.certificate_bytes(old)) is not None)
    problem = None if arbitrary else certificate_problem(new_cert)
    if problem:
        out.append(invalid_value("status.certificate", "<certificate data>", problem))
    return out


def _of_type(csr: Obj, ctype: str) -> list[Obj]:
    return [c for c in csrs.conditions(csr) if c.get("type") == ctype]


def validate(csr: Obj, old: Obj | None, subresource: str = "") -> list[Cause]:
    """Create (``old`` None) or update validation of ``subresource`` ("" for the main resource, ``status`` or
    ``approval``); the causes of ValidateObjectMetaUpdate are the caller's."""
    out = _validate(csr, old)
    if old is None:
        return out
    for ctype in (csrs.APPROVED, csrs.DENIED, csrs.FAILED):
        if len(_of_type(csr, ctype)) < len(_of_type(old, ctype)):
            out.append(forbidden("status.conditions", f"updates may not remove a condition of type "
                                                      f"{go_quote(ctype)}"))
    if subresource != "approval":
        for ctype in (csrs.APPROVED, csrs.DENIED):
            if len(_of_type(csr, ctype)) > len(_of_type(old, ctype)):
                out.append(forbidden("status.conditions", f"updates may not add a condition of type "
                                                          f"{go_quote(ctype)}"))
            # a modified instance ("updates may not modify a condition of type ...") cannot reach validation:
            # the main resource's strategy restores the old status and /status's restores the old instances
    if csrs.certificate_bytes(csr) != csrs.certificate_bytes(old):
        if subresource != "status":
            out.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif csrs.certificate_bytes(old):
            out.append(forbidden("status.certificate", "updates may not modify existing certificate content"))
    return out
