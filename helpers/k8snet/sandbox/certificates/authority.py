"""Signing a request into a certificate, as pkg/controller/certificates/authority does it (real X.509).

CertificateAuthority.Sign with the PermissiveSigningPolicy the signer controller uses (signer.go ``sign``):

- the subject, public key and SANs come from the request; every other extension of the request is dropped;
- key usages and extended key usages come from ``spec.usages`` (policies.go keyUsagesFromStrings; the extended
  ones sorted as Go's ExtKeyUsage constants are);
- basic constraints ``CA:FALSE`` (critical); the authority key id is the CA's subject key id;
- NotBefore is now minus the 5-minute backdate; NotAfter is now plus the TTL, minus the backdate too unless the
  TTL is under 8 hours, and never past the CA's own NotAfter;
- the TTL is ``expirationSeconds`` when given (at least 10 minutes), never more than kube-controller-manager's
  ``--cluster-signing-duration`` (8760h, its default, which kubeadm keeps);
- a random serial number below 2^128, the signature by the CA's key with SHA-256.

crypto/x509 writes the subject from the parsed pkix.Name: countries, provinces, localities, street addresses,
postal codes, organizations, organizational units, then the common name and serial number, each kind as one
(possibly multi-valued) RDN, PrintableString where the text allows, else UTF8String; attributes pkix.Name does
not keep (an email address in the subject) are dropped. :func:`go_subject` does the same.
"""

from __future__ import annotations

import datetime as dt
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

CLUSTER_SIGNING_DURATION = dt.timedelta(hours=8760)
"""kube-controller-manager's ``--cluster-signing-duration`` default."""
BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)
MIN_DURATION = dt.timedelta(minutes=10)

KEY_USAGES = {
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment", "cert sign": "key_cert_sign",
    "crl sign": "crl_sign", "encipher only": "encipher_only", "decipher only": "decipher_only",
}
EXT_KEY_USAGES: dict[str, tuple[int, ObjectIdentifier]] = {
    # Go's x509.ExtKeyUsage value (the sort order) and its OID
    "any": (0, ObjectIdentifier("2.5.29.37.0")),
    "server auth": (1, ExtendedKeyUsageOID.SERVER_AUTH),
    "client auth": (2, ExtendedKeyUsageOID.CLIENT_AUTH),
    "code signing": (3, ExtendedKeyUsageOID.CODE_SIGNING),
    "email protection": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "s/mime": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "ipsec end system": (5, ObjectIdentifier("1.3.6.1.5.5.7.3.5")),
    "ipsec tunnel": (6, ObjectIdentifier("1.3.6.1.5.5.7.3.6")),
    "ipsec user": (7, ObjectIdentifier("1.3.6.1.5.5.7.3.7")),
    "timestamping": (8, ExtendedKeyUsageOID.TIME_STAMPING),
    "ocsp signing": (9, ExtendedKeyUsageOID.OCSP_SIGNING),
    "microsoft sgc": (10, ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")),
    "netscape sgc": (11, ObjectIdentifier("2.16.840.1.113730.4.1")),
}
SUBJECT_ORDER = (NameOID.COUNTRY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.LOCALITY_NAME,
                 NameOID.STREET_ADDRESS, NameOID.POSTAL_CODE, NameOID.ORGANIZATION_NAME,
                 NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER)
"""pkix.Name.ToRDNSequence's order."""
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?*&]*")
"""encoding/asn1 isPrintable, with '*' and '&' (which Go allows in a PrintableString it writes)."""

CAKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class SigningError(Exception):
    """The CA cannot sign now (policies.go apply: an expired signer)."""


def duration(expiration_seconds: int | None, ttl: dt.timedelta = CLUSTER_SIGNING_DURATION) -> dt.timedelta:
    """signer.go ``duration``: the requested duration, capped at the signing duration, at least 10 minutes."""
    if expiration_seconds is None:
        return ttl
    requested = dt.timedelta(seconds=expiration_seconds)
    return ttl if requested > ttl else MIN_DURATION if requested < MIN_DURATION else requested


def go_subject(subject: x509.Name) -> x509.Name:
    """The subject crypto/x509 writes for a request's subject (see the module docstring)."""
    rdns = []
    for oid in SUBJECT_ORDER:
        values = [str(a.value) for a in subject.get_attributes_for_oid(oid)]
        if oid in (NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER):
            values = values[-1:]  # one value, the last one read
        values = [v for v in values if v]
        if values:
            rdns.append(x509.RelativeDistinguishedName([
                x509.NameAttribute(oid, v, _ASN1Type.PrintableString if _PRINTABLE.fullmatch(v)
                                   else _ASN1Type.UTF8String, _validate=False) for v in values]))
    return x509.Name(rdns)


def _key_usage(usages: list[str]) -> x509.KeyUsage | None:
    flags = {name: False for name in set(KEY_USAGES.values())}
    for usage in usages:
        if usage in KEY_USAGES:
            flags[KEY_USAGES[usage]] = True
    if not any(flags.values()):
        return None
    if not flags["key_agreement"]:  # x509.KeyUsage allows encipher/decipher-only only with key agreement
        flags["encipher_only"] = flags["decipher_only"] = False
    return x509.KeyUsage(**flags)


def _ext_key_usage(usages: list[str]) -> x509.ExtendedKeyUsage | None:
    found = {EXT_KEY_USAGES[u] for u in usages if u in EXT_KEY_USAGES}
    return x509.ExtendedKeyUsage([oid for _, oid in sorted(found, key=lambda e: e[0])]) if found else None


def sign(request: x509.CertificateSigningRequest, usages: list[str], ttl: dt.timedelta, ca_key: CAKey,
         ca: x509.Certificate, now: dt.datetime, serial: int) -> x509.Certificate:
    """CertificateAuthority.Sign with PermissiveSigningPolicy{TTL, Usages, Backdate: 5m, Short: 8h}.

    Raises:
        SigningError: the CA has expired (``the signer has expired: NotAfter=…``).
    """
    ca_not_after = ca.not_valid_after_utc
    not_before = now - BACKDATE
    not_after = now + ttl if ttl < SHORT else now + ttl - BACKDATE
    not_after = min(not_after, ca_not_after)
    if not_before >= ca_not_after:
        raise SigningError(f"the signer has expired: NotAfter={ca_not_after}")
    if now >= ca_not_after:
        raise SigningError(f"refusing to sign a certificate that expired in the past: NotAfter={ca_not_after}")
    subject = go_subject(request.subject)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
               .public_key(request.public_key()).serial_number(serial)  # type: ignore[arg-type]
               .not_valid_before(not_before).not_valid_after(not_after))
    key_usage = _key_usage(usages)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    ext_key_usage = _ext_key_usage(usages)
    if ext_key_usage is not None:
        builder = builder.add_extension(ext_key_usage, critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                                        critical=False)
    except x509.ExtensionNotFound:
        pass
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None and len(san):
        ordered = [n for kind in (x509.DNSName, x509.RFC822Name, x509.IPAddress, x509.UniformResourceIdentifier)
                   for n in san if isinstance(n, kind)]  # marshalSANs' order
        builder = builder.add_extension(x509.SubjectAlternativeName(ordered), critical=len(subject) == 0)
    algorithm = None if isinstance(ca_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(ca_key, algorithm)
