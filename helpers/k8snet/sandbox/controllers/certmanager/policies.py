"""Whether a Certificate needs issuing, and whether it is Ready: cert-manager's policy chains.

A port of internal/controller/certificates/policies (v1.21.1): gatherer.go collects the Certificate, its Secret
and the "current" and "next" revision CertificateRequests; checks.go's functions each answer (reason, message,
violated); policies.go chains them, and the first violation wins:

* the trigger chain (NewTriggerPolicyChain) ends in CurrentCertificateNearingExpiry (``Renewing`` at the renewal
  time), the readiness chain (NewReadinessPolicyChain) in CurrentCertificateHasExpired (``Expired``);
* the post-issuance chain (NewSecretPostIssuancePolicyChain) checks the Secret's metadata against the spec and
  the issuing controller's managed fields (labels, annotations, secretTemplate, additional output formats).

Times print as Go prints them: a metav1.Time with ``%s`` is ``2026-01-02 15:04:05 +0000 UTC``, an expiry in
RFC 1123 (``Mon, 02 Jan 2026 15:04:05 UTC``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import pki
from .objects import (
    CERTIFICATE_NAME,
    FAO,
    ISSUER_GROUP,
    ISSUER_KIND,
    ISSUER_NAME,
    Obj,
    data,
    requests_of,
)

if TYPE_CHECKING:
    from ...instance import Sandbox

Violation = tuple[str, str] | None
ISSUING_MANAGER = "cert-manager-certificates-issuing"


@dataclass
class Input:
    """policies.Input."""

    certificate: Obj
    secret: Obj | None
    current: Obj | None
    next: Obj | None
    now: dt.datetime


class Duplicates(Exception):
    """gatherer.go: more than one request for one revision; issuance waits until there are no duplicates."""


def gather(sb: Sandbox, crt: Obj) -> Input:
    """gatherer.go DataForCertificate."""
    ns = crt["metadata"]["namespace"]
    secret = sb.store.get("secrets", ns, (crt.get("spec") or {}).get("secretName") or "")
    revision = (crt.get("status") or {}).get("revision")
    current = None
    if revision is not None:
        found = requests_of(sb, crt, revision)
        if len(found) > 1:
            raise Duplicates(f"multiple CertificateRequests were found for the 'current' revision {revision}, "
                             "issuance is skipped until there are no more duplicates")
        current = found[0] if found else None
    following = (revision or 0) + 1
    found = requests_of(sb, crt, following)
    if len(found) > 1:
        raise Duplicates(f"multiple CertificateRequests were found for the 'next' revision {following}, issuance "
                         "is skipped until there are no more duplicates")
    return Input(crt, secret, current, found[0] if found else None, sb.clock.now())


def go_time(t: dt.datetime | str | None) -> str:
    """``%s`` of a *metav1.Time (time.Time.String), ``<nil>`` when unset."""
    if t is None:
        return "<nil>"
    if isinstance(t, str):
        t = dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def rfc1123(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


# --------------------------------------------------------------------------- checks.go


def secret_does_not_exist(i: Input) -> Violation:
    return ("DoesNotExist", "Issuing certificate as Secret does not exist") if i.secret is None else None


def secret_is_missing_data(i: Input) -> Violation:
    assert i.secret is not None
    if i.secret.get("data") is None:
        return "MissingData", "Issuing certificate as Secret does not contain any data"
    if not data(i.secret, "tls.key"):
        return "MissingData", "Issuing certificate as Secret does not contain a private key"
    if not data(i.secret, "tls.crt"):
        return "MissingData", "Issuing certificate as Secret does not contain a certificate"
    return None


def _key(i: Input) -> pki.PrivateKey:
    return pki.decode_key(data(i.secret, "tls.key"))


def _cert(i: Input):
    return pki.decode_certificate(data(i.secret, "tls.crt"))


def secret_public_keys_differ(i: Input) -> Violation:
    try:
        key = _key(i)
    except pki.PKIError as exc:
        return "InvalidKeyPair", f"Issuing certificate as Secret contains invalid private key data: {exc}"
    try:
        cert = _cert(i)
    except pki.PKIError as exc:
        return "InvalidCertificate", f"Issuing certificate as Secret contains an invalid certificate: {exc}"
    if not pki.keys_equal(cert.public_key(), key):
        return "InvalidKeyPair", "Issuing certificate as Secret contains a private key that does not match the " \
                                 "certificate"
    return None


def _format_issuer_ref(name: str, kind: str, group: str) -> str:
    return f"{kind or 'Issuer'}.{group or 'cert-manager.io'}/{name}"


def secret_issuer_annotations_mismatch(i: Input) -> Violation:
    """As upstream writes it: ``(any annotation present && name differs) || kinds differ || groups differ``."""
    annotations = (i.secret or {}).get("metadata", {}).get("annotations") or {}
    ref = (i.certificate.get("spec") or {}).get("issuerRef") or {}
    present = any(k in annotations for k in (ISSUER_NAME, ISSUER_KIND, ISSUER_GROUP))
    name, kind, group = (annotations.get(ISSUER_NAME, ""), annotations.get(ISSUER_KIND, ""),
                         annotations.get(ISSUER_GROUP, ""))
    if (present and name != ref.get("name")) or (kind or "Issuer") != (ref.get("kind") or "Issuer") or \
            (group or "cert-manager.io") != (ref.get("group") or "cert-manager.io"):
        return "IncorrectIssuer", f'Issuing certificate as Secret was previously issued by ' \
                                  f'"{_format_issuer_ref(name, kind, group)}"'
    return None


def secret_certificate_name_mismatch(i: Input) -> Violation:
    annotations = (i.secret or {}).get("metadata", {}).get("annotations") or {}
    name = annotations.get(CERTIFICATE_NAME)
    if name is not None and name != i.certificate["metadata"]["name"]:
        return "IncorrectCertificate", f'Secret was issued for "{name}". If this message is not transient, you ' \
                                       "might have two conflicting Certificates pointing to the same secret."
    return None


def _list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


def secret_private_key_mismatches_spec(i: Input) -> Violation:
    try:
        key = _key(i)
    except pki.PKIError as exc:
        return "InvalidKeyPair", f"Issuing certificate as Secret contains invalid private key data: {exc}"
    violations = pki.key_matches_spec(key, i.certificate.get("spec") or {})
    if violations:
        return "SecretMismatch", f"Existing private key is not up to date for spec: {_list(violations)}"
    return None


def secret_key_differs_from_current_request(i: Input) -> Violation:
    if i.current is None:
        return None
    try:
        key = _key(i)
    except pki.PKIError as exc:
        return "InvalidKeyPair", f"Issuing certificate as Secret contains invalid private key data: {exc}"
    try:
        csr = pki.decode_csr(pki.data_from_b64((i.current.get("spec") or {}).get("request") or ""))
    except pki.PKIError as exc:
        return "InvalidCertificateRequest", f"Failed to decode current CertificateRequest: {exc}"
    if not pki.keys_equal(csr.public_key(), key):
        return "SecretMismatch", "Secret contains a private key that does not match the current CertificateRequest"
    return None


def current_request_mismatches_spec(i: Input) -> Violation:
    if i.current is None:
        try:
            cert = _cert(i)
        except pki.PKIError as exc:
            return "InvalidCertificate", f"Issuing certificate as Secret contains an invalid certificate: {exc}"
        violations = pki.alt_names_match_spec(cert, i.certificate.get("spec") or {})
        if violations:
            return "SecretMismatch", "Issuing certificate as Existing issued Secret is not up to date for spec: " \
                                     f"{_list(violations)}"
        return None
    try:
        violations = pki.request_matches_spec(i.current, i.certificate.get("spec") or {})
    except pki.PKIError:
        return None
    if violations:
        return "RequestChanged", f"Fields on existing CertificateRequest resource not up to date: {_list(violations)}"
    return None


def renewal_disabled(spec: Obj) -> bool:
    return ((spec.get("renewal") or {}).get("policy")) == "Disabled"


def nearing_expiry(i: Input) -> Violation:
    try:
        cert = _cert(i)
    except pki.PKIError as exc:
        return "InvalidCertificate", f"Issuing certificate as Secret contains an invalid certificate: {exc}"
    spec = i.certificate.get("spec") or {}
    if renewal_disabled(spec):
        return None
    when = pki.renewal_time(pki.not_before(cert), pki.not_after(cert), spec)
    if when > i.now:
        return None
    return "Renewing", "Renewing certificate as renewal was scheduled at " \
                       f"{go_time((i.certificate.get('status') or {}).get('renewalTime'))}"


def has_expired(i: Input) -> Violation:
    try:
        cert = _cert(i)
    except pki.PKIError as exc:
        return "InvalidCertificate", f"Issuing certificate as Secret contains an invalid certificate: {exc}"
    if i.now > pki.not_after(cert):
        return "Expired", f"Certificate expired on {rfc1123(pki.not_after(cert))}"
    return None


Check = Callable[[Input], Violation]
COMMON: tuple[Check, ...] = (secret_does_not_exist, secret_is_missing_data, secret_public_keys_differ,
                             secret_issuer_annotations_mismatch, secret_certificate_name_mismatch,
                             secret_private_key_mismatches_spec, secret_key_differs_from_current_request,
                             current_request_mismatches_spec)
TRIGGER: tuple[Check, ...] = (*COMMON, nearing_expiry)
READINESS: tuple[Check, ...] = (*COMMON, has_expired)


def evaluate(chain: tuple[Check, ...], i: Input) -> Violation:
    """Chain.Evaluate: the first violation."""
    for check in chain:
        found = check(i)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- after issuance


def _managed(secret: Obj) -> tuple[set[str], set[str], set[str]]:
    """The labels, annotations and data keys the issuing controller's managed fields own."""
    labels: set[str] = set()
    annotations: set[str] = set()
    keys: set[str] = set()
    for entry in secret["metadata"].get("managedFields") or []:
        if entry.get("manager") != ISSUING_MANAGER:
            continue
        fields = entry.get("fieldsV1") or {}
        meta = fields.get("f:metadata") or {}
        labels |= {k[2:] for k in (meta.get("f:labels") or {}) if k.startswith("f:")}
        annotations |= {k[2:] for k in (meta.get("f:annotations") or {}) if k.startswith("f:")}
        keys |= {k[2:] for k in (fields.get("f:data") or {}) if k.startswith("f:")}
    return labels, annotations, keys


def _ours(key: str) -> bool:
    return key.startswith("cert-manager.io/") or key.startswith("controller.cert-manager.io/")


def _sorted_list(values: set[str]) -> str:
    return "[" + " ".join(sorted(values)) + "]"


def _maps_match(wanted: dict[str, str], have: dict[str, str]) -> str | None:
    """mapsHaveMatchingValues: the first key (sorted) present in both with different values."""
    for k in sorted(set(wanted) & set(have)):
        if wanted[k] != have[k]:
            return k
    return None


def post_issuance(crt: Obj, secret: Obj) -> Violation:
    """NewSecretPostIssuancePolicyChain (owner references are not enabled, as by default; keystores are not
    emulated)."""
    meta = secret["metadata"]
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    spec = crt.get("spec") or {}
    template = spec.get("secretTemplate") or {}
    if FAO in labels and labels[FAO] != "true":
        return "SecretManagedMetadataMismatch", f'wrong base label {FAO} value "{labels[FAO]}", expected "true"'
    try:
        cert = pki.decode_certificate(data(secret, "tls.crt")) if data(secret, "tls.crt") else None
    except pki.PKIError as exc:
        return "InvalidCertificate", f"Failed getting secret annotations: {exc}"
    details = pki.annotations_for_certificate(cert)
    key = _maps_match(details, annotations)
    if key is not None:
        return "SecretTemplateMismatch", f"Secret metadata {annotations[key]} does not match certificate metadata " \
                                         f"{details[key]}"
    managed_labels, managed_annotations, managed_keys = _managed(secret)
    ours_a = {k for k in managed_annotations if _ours(k)} - {CERTIFICATE_NAME, ISSUER_NAME, ISSUER_KIND, ISSUER_GROUP}
    ours_l = {k for k in managed_labels if _ours(k)}
    want_l, want_a = {FAO}, set(details)
    if ours_l != want_l:
        if want_l - ours_l:
            return "SecretManagedMetadataMismatch", f"Secret is missing these Managed Labels: " \
                                                    f"{_sorted_list(want_l - ours_l)}"
        return "SecretManagedMetadataMismatch", f"Secret has these extra Labels: {_sorted_list(ours_l - want_l)}"
    if ours_a != want_a:
        if want_a - ours_a:
            return "SecretManagedMetadataMismatch", f"Secret is missing these Managed Annotations: " \
                                                    f"{_sorted_list(want_a - ours_a)}"
        return "SecretManagedMetadataMismatch", f"Secret has these extra Annotations: " \
                                                f"{_sorted_list(ours_a - want_a)}"
    if template:
        if _maps_match(template.get("annotations") or {}, annotations) is not None:
            return "SecretTemplateMismatch", "Certificate's SecretTemplate Annotations missing or incorrect value on " \
                                             "Secret"
        if _maps_match(template.get("labels") or {}, labels) is not None:
            return "SecretTemplateMismatch", "Certificate's SecretTemplate Labels missing or incorrect value on Secret"
    tmpl_l = {k for k in managed_labels if not _ours(k)}
    tmpl_a = {k for k in managed_annotations if not _ours(k)}
    want_tl, want_ta = set(template.get("labels") or {}), set(template.get("annotations") or {})
    if tmpl_l != want_tl:
        if want_tl - tmpl_l:
            return "SecretTemplateMismatch", f"Secret is missing these Template Labels: {_sorted_list(want_tl - tmpl_l)}"
        return "SecretTemplateMismatch", f"Secret has these extra Labels: {_sorted_list(tmpl_l - want_tl)}"
    if tmpl_a != want_ta:
        if want_ta - tmpl_a:
            return "SecretTemplateMismatch", "Secret is missing these Template Annotations: " \
                                             f"{_sorted_list(want_ta - tmpl_a)}"
        return "SecretTemplateMismatch", f"Secret has these extra Annotations: {_sorted_list(tmpl_a - want_ta)}"
    formats = {f.get("type") for f in spec.get("additionalOutputFormats") or []}
    for kind, data_key in (("CombinedPEM", "tls-combined.pem"), ("DER", "key.der")):
        if kind in formats and data(secret, data_key) != output_format(kind, secret):
            return "AdditionalOutputFormatsMismatch", "Certificate's AdditionalOutputFormats doesn't match Secret Data"
    if ("CombinedPEM" in formats) != ("tls-combined.pem" in managed_keys) or \
            ("DER" in formats) != ("key.der" in managed_keys):
        return "AdditionalOutputFormatsMismatch", "Certificate's AdditionalOutputFormats doesn't match Secret " \
                                                  "ManagedFields"
    return None


def output_format(kind: str, secret: Obj) -> bytes:
    """secrets.go OutputFormatCombinedPEM (key, newline, certificate) and OutputFormatDER (the key's DER)."""
    key, cert = data(secret, "tls.key"), data(secret, "tls.crt")
    return output_format_of(kind, key, cert)


def output_format_of(kind: str, key: bytes, cert: bytes) -> bytes:
    if kind == "CombinedPEM":
        return key + b"\n" + cert
    import base64

    body = b"".join(line for line in key.splitlines() if line and not line.startswith(b"-----"))
    return base64.b64decode(body)
