"""cert-manager's X.509 helpers, with the ``cryptography`` package (a port of pkg/util/pki at v1.21.1).

* keys: generate.go (GeneratePrivateKeyForCertificate: RSA 2048 by default, ECDSA P-256, Ed25519;
  EncodePrivateKey: PKCS#1 / SEC 1 by default, PKCS#8 on request, Ed25519 always PKCS#8), match.go
  (PrivateKeyMatchesSpec);
* the CSR a Certificate asks for: csr.go GenerateCSR (subject as pkix.Name.ToRDNSequence orders it, one
  multi-valued RDN per attribute type; SANs critical when the subject is empty; key usage and extended key
  usage encoded in the request; signature algorithm from the key, SignatureAlgorithm);
* the certificate an issuer signs: certificatetemplate.go CertificateTemplateFromCertificateRequest (notBefore
  now, notAfter now + duration, basic constraints and usages checked against the CSR and overridden), then
  SignCertificate / SignCSRTemplate with Go's crypto/x509 CreateCertificate extensions (critical key usage and
  basic constraints, subject key id on CAs, authority key id from the issuer) and parse_certificate_chain.go
  ParseSingleCertificateChain for tls.crt and ca.crt;
* renewaltime.go RenewalTime; match.go RequestMatchesSpec and FuzzyX509AltNamesMatchSpec;
  internal/controller/certificates/secrets.go AnnotationsForCertificate.

Durations are Go's (time.ParseDuration, Duration.String), as metav1.Duration reads and prints them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from .... import durations

Obj = dict[str, Any]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

MIN_RSA_KEY_SIZE = 2048
MAX_RSA_KEY_SIZE = 8192
DEFAULT_DURATION = 90 * 24 * 3600.0
"""pkg/apis/certmanager/v1/const.go DefaultCertificateDuration (2160h)."""
MINIMUM_DURATION = 3600.0
MINIMUM_RENEW_BEFORE = 300.0
CURVES = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}

KEY_USAGES = {"signing": "digital_signature", "digital signature": "digital_signature",
              "content commitment": "content_commitment", "key encipherment": "key_encipherment",
              "key agreement": "key_agreement", "data encipherment": "data_encipherment",
              "cert sign": "key_cert_sign", "crl sign": "crl_sign", "encipher only": "encipher_only",
              "decipher only": "decipher_only"}
"""pkg/api/util/usages.go keyUsages: the spec's names of x509 key usage bits."""
EXT_KEY_USAGES = {"any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
                  "client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
                  "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
                  "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
                  "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
                  "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
                  "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
                  "timestamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
                  "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
                  "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1")}
"""pkg/api/util/usages.go extKeyUsages."""
DEFAULT_USAGES = ("digital signature", "key encipherment")
"""pkg/apis/certmanager/v1 DefaultKeyUsages."""
KEY_USAGE_BITS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                  "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
KEY_USAGE_NAMES = {"digital_signature": "digital signature", "content_commitment": "content commitment",
                   "key_encipherment": "key encipherment", "data_encipherment": "data encipherment",
                   "key_agreement": "key agreement", "key_cert_sign": "cert sign", "crl_sign": "crl sign",
                   "encipher_only": "encipher only", "decipher_only": "decipher only"}


class PKIError(ValueError):
    """A certificate, key or request that cannot be read or used (the Go function's error text)."""


# --------------------------------------------------------------------------- Go durations


def parse_duration(text: str) -> float:
    """time.ParseDuration in seconds (PKIError with Go's message)."""
    try:
        return durations.parse(text)
    except ValueError as exc:
        raise PKIError(str(exc)) from None


def format_duration(seconds: float) -> str:
    """time.Duration.String."""
    return durations.format(seconds)


def spec_duration(spec: Obj, name: str = "duration") -> float | None:
    """A metav1.Duration field of a spec in seconds (None when unset or unreadable)."""
    text = spec.get(name)
    if not isinstance(text, str):
        return None
    try:
        return parse_duration(text)
    except PKIError:
        return None


def certificate_duration(spec: Obj) -> float:
    """pkg/api/util DefaultCertDuration: spec.duration, else 90 days."""
    d = spec_duration(spec)
    return DEFAULT_DURATION if d is None else d


# --------------------------------------------------------------------------- keys


def key_spec(spec: Obj) -> tuple[str, int]:
    pk = spec.get("privateKey") or {}
    return str(pk.get("algorithm") or "RSA"), int(pk.get("size") or 0)


def generate_key(spec: Obj) -> PrivateKey:
    """generate.go GeneratePrivateKeyForCertificate."""
    algorithm, size = key_spec(spec)
    if algorithm == "RSA":
        size = size or MIN_RSA_KEY_SIZE
        if size < MIN_RSA_KEY_SIZE:
            raise PKIError(f"weak rsa key size specified: {size}. minimum key size: {MIN_RSA_KEY_SIZE}")
        if size > MAX_RSA_KEY_SIZE:
            raise PKIError(f"rsa key size specified too big: {size}. maximum key size: {MAX_RSA_KEY_SIZE}")
        return rsa.generate_private_key(65537, size)
    if algorithm == "ECDSA":
        curve = CURVES.get(size or 256)
        if curve is None:
            raise PKIError(f"unsupported ecdsa key size specified: {size}")
        return ec.generate_private_key(curve())
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise PKIError(f"unsupported private key algorithm specified: {algorithm}")


def encode_key(key: PrivateKey, encoding: str = "PKCS1") -> bytes:
    """generate.go EncodePrivateKey: PKCS1 (``RSA PRIVATE KEY``/``EC PRIVATE KEY``) or PKCS8 (``PRIVATE KEY``)."""
    if encoding in ("", "PKCS1") and not isinstance(key, ed25519.Ed25519PrivateKey):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    elif encoding in ("", "PKCS1", "PKCS8"):
        fmt = serialization.PrivateFormat.PKCS8
    else:
        raise PKIError(f"error encoding private key: unknown key encoding: {encoding}")
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def decode_key(data: bytes) -> PrivateKey:
    """parse.go DecodePrivateKeyBytes (the first PEM block: PKCS#1, SEC 1 or PKCS#8)."""
    if b"-----BEGIN" not in data:
        raise PKIError("error decoding private key PEM block")
    return _load_key(bytes(data))


@functools.lru_cache(maxsize=512)
def _load_key(data: bytes) -> PrivateKey:
    """One reading per PEM (a pure memo: the same PEM is the same key, and key objects are immutable). OpenSSL
    checks an RSA key whole as it loads it (RSA_check_key: some 30 ms for 2048 bits), and the controllers read each
    Secret's key several times per issuance; unread, RSA issuance ran at a tenth of ECDSA's rate."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise PKIError(f"error parsing private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise PKIError("unknown private key type")
    return key


def public_bytes(key: PublicKey | PrivateKey) -> bytes:
    pub = key.public_key() if hasattr(key, "private_bytes") else key
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[union-attr]


def keys_equal(a: Any, b: Any) -> bool:
    """PublicKeysEqual."""
    return public_bytes(a) == public_bytes(b)


def key_matches_spec(key: PrivateKey, spec: Obj) -> list[str]:
    """match.go PrivateKeyMatchesSpec: the spec fields the key does not satisfy."""
    algorithm, size = key_spec(spec)
    if algorithm == "RSA":
        if not isinstance(key, rsa.RSAPrivateKey):
            return ["spec.privateKey.algorithm"]
        return [] if key.key_size == (size or MIN_RSA_KEY_SIZE) else ["spec.privateKey.size"]
    if algorithm == "ECDSA":
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            return ["spec.privateKey.algorithm"]
        return [] if key.curve.key_size == (size or 256) else ["spec.privateKey.size"]
    if algorithm == "Ed25519":
        return [] if isinstance(key, ed25519.Ed25519PrivateKey) else ["spec.privateKey.algorithm"]
    return ["spec.privateKey.algorithm"]


def _hash_for(key: PrivateKey, spec: Obj | None = None) -> hashes.HashAlgorithm | None:
    """signatureAlgorithmFromPublicKey (and a spec's signatureAlgorithm): SHA-256/384/512 by key size."""
    wanted = (spec or {}).get("signatureAlgorithm") or ""
    if wanted:
        for suffix, h in (("SHA256", hashes.SHA256), ("SHA384", hashes.SHA384), ("SHA512", hashes.SHA512)):
            if wanted.endswith(suffix):
                return h()
        if wanted == "PureEd25519":
            return None
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA512() if key.key_size >= 4096 else hashes.SHA384() if key.key_size >= 3072 else \
            hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {521: hashes.SHA512(), 384: hashes.SHA384()}.get(key.curve.key_size, hashes.SHA256())
    return None


# --------------------------------------------------------------------------- usages


def key_usages(usages: list[str] | None, is_ca: bool) -> tuple[set[str], list[x509.ObjectIdentifier]]:
    """csr.go KeyUsagesForCertificateOrCertificateRequest: key usage bits and extended key usages.

    Raises:
        PKIError: ``unknown key usages: [x]``.
    """
    bits: set[str] = {"key_cert_sign"} if is_ca else set()
    ekus: list[x509.ObjectIdentifier] = []
    unknown = []
    for u in usages or DEFAULT_USAGES:
        if u in KEY_USAGES:
            bits.add(KEY_USAGES[u])
        elif u in EXT_KEY_USAGES:
            ekus.append(EXT_KEY_USAGES[u])
        else:
            unknown.append(u)
    if unknown:
        raise PKIError(f"unknown key usages: [{' '.join(unknown)}]")
    return bits, ekus


def _key_usage_ext(bits: set[str]) -> x509.KeyUsage:
    return x509.KeyUsage(**{b: b in bits for b in KEY_USAGE_BITS})


def _bits_of(ku: x509.KeyUsage) -> set[str]:
    out = set()
    for b in KEY_USAGE_BITS:
        try:
            if getattr(ku, b):
                out.add(b)
        except ValueError:  # encipher_only/decipher_only without key_agreement
            pass
    return out


def _print_usages(names: Iterable[str]) -> str:
    """certificatetemplate.go printKeyUsage: ``[ 'digital signature', 'key encipherment' ]``."""
    items = list(names)
    return "[" + ",".join(f" '{n}'" for n in items) + (" " if items else "") + "]"


# --------------------------------------------------------------------------- subjects and SANs


def _subject(spec: Obj) -> x509.Name:
    """pkix.Name.ToRDNSequence: C, ST, L, street, postal code, O, OU, CN, serialNumber; the values of one type
    form one multi-valued RDN."""
    subject = spec.get("subject") or {}
    order = (("countries", NameOID.COUNTRY_NAME), ("provinces", NameOID.STATE_OR_PROVINCE_NAME),
             ("localities", NameOID.LOCALITY_NAME), ("streetAddresses", NameOID.STREET_ADDRESS),
             ("postalCodes", NameOID.POSTAL_CODE), ("organizations", NameOID.ORGANIZATION_NAME),
             ("organizationalUnits", NameOID.ORGANIZATIONAL_UNIT_NAME))
    rdns = []
    for name, oid in order:
        values = [v for v in subject.get(name) or [] if isinstance(v, str)]
        if values:
            rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, v) for v in values]))
    if spec.get("commonName"):
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, spec["commonName"])]))
    if subject.get("serialNumber"):
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.SERIAL_NUMBER,
                                                                       subject["serialNumber"])]))
    return x509.Name(rdns)


def literal_subject(text: str) -> x509.Name:
    """UnmarshalSubjectStringToRDNSequence, for the RFC 4514 attribute types Go's pkix knows."""
    try:
        return x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise PKIError(str(exc)) from None


def general_names(spec: Obj) -> list[x509.GeneralName]:
    """sans.go MarshalSANs order: DNS names, emails, IP addresses, URIs."""
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in spec.get("dnsNames") or []]
    names += [x509.RFC822Name(e) for e in spec.get("emailAddresses") or []]
    for ip in spec.get("ipAddresses") or []:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        except ValueError:
            raise PKIError(f'failed to parse IP address "{ip}"') from None
    names += [x509.UniformResourceIdentifier(u) for u in spec.get("uris") or []]
    return names


def common_name(name: x509.Name) -> str:
    """pkix.Name.CommonName: the last CN attribute."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[-1].value) if values else ""


def _subject_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in name.get_attributes_for_oid(oid)]


def _sans(ext_holder: x509.Certificate | x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return ext_holder.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


@dataclass
class Names:
    """The SANs of a certificate or request, as Go's x509 parses them."""

    dns: list[str]
    ips: list[str]
    uris: list[str]
    emails: list[str]

    @classmethod
    def of(cls, obj: x509.Certificate | x509.CertificateSigningRequest) -> Names:
        san = _sans(obj)
        if san is None:
            return cls([], [], [], [])
        return cls([str(n) for n in san.get_values_for_type(x509.DNSName)],
                   [str(n) for n in san.get_values_for_type(x509.IPAddress)],
                   [str(n) for n in san.get_values_for_type(x509.UniformResourceIdentifier)],
                   [str(n) for n in san.get_values_for_type(x509.RFC822Name)])


# --------------------------------------------------------------------------- the request


def build_csr(spec: Obj, key: PrivateKey) -> bytes:
    """csr.go GenerateCSR + EncodeCSR, PEM-encoded (``CERTIFICATE REQUEST``).

    Raises:
        PKIError: a spec no certificate can be made of (no name at all, a bad IP address, an unknown usage).
    """
    literal = spec.get("literalSubject") or ""
    subject = literal_subject(literal) if literal else _subject(spec)
    cn = common_name(subject) if literal else (spec.get("commonName") or "")
    names = general_names(spec)
    if not cn and not names:
        raise PKIError("at least one of commonName (from the commonName field or from a literalSubject), dnsNames, "
                       "emailSANs, ipAddresses, otherNames, or uriSANs must be set")
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=len(subject) == 0)
    if spec.get("encodeUsagesInRequest") is not False:
        bits, ekus = key_usages(spec.get("usages"), bool(spec.get("isCA")))
        if bits:
            builder = builder.add_extension(_key_usage_ext(bits), critical=True)
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    csr = builder.sign(key, _hash_for(key, spec))  # type: ignore[arg-type]
    return csr.public_bytes(serialization.Encoding.PEM)


def decode_csr(data: bytes) -> x509.CertificateSigningRequest:
    """parse.go DecodeX509CertificateRequestBytes."""
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in data:
        raise PKIError("error decoding certificate request PEM block")
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise PKIError(f"error parsing certificate request: {exc}") from None


# --------------------------------------------------------------------------- certificates


def decode_chain(data: bytes) -> list[x509.Certificate]:
    """parse.go DecodeX509CertificateChainBytes: every CERTIFICATE block, in order."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise PKIError("error decoding certificate PEM block: no valid certificates found")
    return certs


def decode_certificate(data: bytes) -> x509.Certificate:
    """parse.go DecodeX509CertificateBytes: the first certificate."""
    return decode_chain(data)[0]


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer.public_bytes() != issuer.subject.public_bytes():
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def self_signed(cert: x509.Certificate) -> bool:
    return _signed_by(cert, cert)


def template_from_request(request: bytes, spec: Obj, now: dt.datetime) -> tuple[x509.CertificateSigningRequest, Obj]:
    """certificatetemplate.go CertificateTemplateFromCertificateRequest: the CSR (its signature checked) and the
    certificate's facts (validity, basic constraints, usages), checked against what the CSR encodes.

    Raises:
        PKIError: the CSR cannot be read, is not signed by its key, or asks for other usages or CA-ness.
    """
    csr = decode_csr(request)
    if not csr.is_signature_valid:
        raise PKIError("x509: ECDSA verification failure" if isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
                       else "crypto/rsa: verification error")
    ca = bool(spec.get("isCA"))
    bits, ekus = key_usages(spec.get("usages"), ca)
    exts = {e.oid: e for e in csr.extensions}
    bc = exts.get(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is not None and bool(bc.value.ca) != ca:
        raise PKIError(f"encoded CSR error: IsCA {str(bc.value.ca).lower()} does not match expected value "
                       f"{str(ca).lower()}")
    ku, eku = exts.get(ExtensionOID.KEY_USAGE), exts.get(ExtensionOID.EXTENDED_KEY_USAGE)
    if ku is not None or eku is not None:
        got = _bits_of(ku.value) if ku is not None else set()
        if got != bits:
            raise PKIError(f"encoded CSR error: the KeyUsages {_print_usages(_usage_names(got))} do not match the "
                           f"expected KeyUsages {_print_usages(_usage_names(bits))}")
        got_eku = list(eku.value) if eku is not None else []
        if got_eku != ekus:
            raise PKIError(f"encoded CSR error: the ExtKeyUsages {_print_usages(_eku_names(got_eku))} do not match "
                           f"the expected ExtKeyUsages {_print_usages(_eku_names(ekus))}")
    duration = certificate_duration(spec)
    return csr, {"notBefore": now, "notAfter": now + dt.timedelta(seconds=duration), "isCA": ca,
                 "usages": bits, "ekus": ekus}


def _usage_names(bits: set[str]) -> list[str]:
    return [KEY_USAGE_NAMES[b] for b in KEY_USAGE_BITS if b in bits]


def _eku_names(ekus: list[x509.ObjectIdentifier]) -> list[str]:
    names = {v: k for k, v in reversed(list(EXT_KEY_USAGES.items()))}
    return [names.get(o, o.dotted_string) for o in ekus]


def sign(csr: x509.CertificateSigningRequest, facts: Obj, issuer: x509.Certificate | None, key: PrivateKey,
         serial: int) -> x509.Certificate:
    """SignCertificate (x509.CreateCertificate): the CSR's subject, key and SANs with the template's facts, signed
    by ``key`` (self-signed when ``issuer`` is None).

    Raises:
        PKIError: the key does not belong to the issuer certificate (Go: provided PrivateKey doesn't match parent's
            PublicKey).
    """
    if issuer is not None and not keys_equal(issuer.public_key(), key):
        raise PKIError("error creating x509 certificate: x509: provided PrivateKey doesn't match parent's PublicKey")
    subject = csr.subject
    public = csr.public_key()
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject)
               .public_key(public).serial_number(serial)  # type: ignore[arg-type]
               .not_valid_before(facts["notBefore"]).not_valid_after(facts["notAfter"]))
    if facts["usages"]:
        builder = builder.add_extension(_key_usage_ext(facts["usages"]), critical=True)
    if facts["ekus"]:
        builder = builder.add_extension(x509.ExtendedKeyUsage(facts["ekus"]), critical=False)
    builder = builder.add_extension(x509.BasicConstraints(ca=facts["isCA"], path_length=None), critical=True)
    if facts["isCA"]:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
    if issuer is not None and issuer.subject.public_bytes() != subject.public_bytes():
        try:
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            builder = builder.add_extension(x509.AuthorityKeyIdentifier(ski.digest, None, None), critical=False)
        except x509.ExtensionNotFound:
            pass
    san = _sans(csr)
    if san is not None:
        builder = builder.add_extension(san, critical=len(subject) == 0)
    return builder.sign(key, _hash_for(key))  # type: ignore[arg-type]


def bundle(ca_certs: list[x509.Certificate], leaf: x509.Certificate) -> tuple[bytes, bytes]:
    """parse_certificate_chain.go ParseSingleCertificateChain: (chain PEM, CA PEM). The chain is the leaf and the
    intermediates up to, not including, a self-signed root; the CA is the top of the chain.

    Raises:
        PKIError: ``certificate chain is malformed or broken``.
    """
    unique: list[x509.Certificate] = []
    for c in [*ca_certs, leaf]:
        if all(c.public_bytes(serialization.Encoding.DER) != u.public_bytes(serialization.Encoding.DER)
               for u in unique):
            unique.append(c)
    chain = [leaf]
    rest = [c for c in unique if c is not leaf]
    while rest:
        top = chain[-1]
        parent = next((c for c in rest if _signed_by(top, c)), None)
        if parent is None:
            raise PKIError("certificate chain is malformed or broken")
        chain.append(parent)
        rest.remove(parent)
    root = chain[-1]
    certs = chain[:-1] if (len(chain) > 1 and self_signed(root)) else chain
    if len(chain) == 1:
        return pem(root), (pem(root) if self_signed(root) else b"")
    return b"".join(pem(c) for c in certs), pem(root)


# --------------------------------------------------------------------------- renewal and matching


def renewal_time(not_before: dt.datetime, not_after: dt.datetime, spec: Obj) -> dt.datetime:
    """renewaltime.go RenewalTime (no ACME renewal information): notAfter minus renewBefore when it is shorter than
    the lifetime, else the renewBeforePercentage of it, else a third; truncated to the second."""
    lifetime = (not_after - not_before).total_seconds()
    before = spec_duration(spec, "renewBefore")
    pct = spec.get("renewBeforePercentage")
    if before is not None and 0 < before < lifetime:
        renew_before = before
    elif isinstance(pct, int) and not isinstance(pct, bool) and 0 < pct < 100:
        renew_before = lifetime * pct / 100
    else:
        renew_before = lifetime / 3
    return (not_after - dt.timedelta(seconds=renew_before)).replace(microsecond=0)


def _same(a: Iterable[str], b: Iterable[str]) -> bool:
    """util.EqualUnsorted."""
    return sorted(a) == sorted(b)


def _same_ips(parsed: list[str], wanted: list[str]) -> bool:
    try:
        return sorted(ipaddress.ip_address(i).packed for i in wanted) == \
            sorted(ipaddress.ip_address(i).packed for i in parsed)
    except ValueError:
        return False


def _kind(kind: str | None) -> str:
    return kind or "Issuer"


def _group(group: str | None) -> str:
    return group or "cert-manager.io"


def issuer_refs_equal(a: Obj, b: Obj) -> bool:
    return a.get("name") == b.get("name") and _kind(a.get("kind")) == _kind(b.get("kind")) and \
        _group(a.get("group")) == _group(b.get("group"))


def request_matches_spec(cr: Obj, spec: Obj) -> list[str]:
    """match.go RequestMatchesSpec: the Certificate spec fields a CertificateRequest does not satisfy.

    Raises:
        PKIError: the request's CSR cannot be read.
    """
    import base64

    csr = decode_csr(base64.b64decode((cr.get("spec") or {}).get("request") or ""))
    names = Names.of(csr)
    subject = spec.get("subject") or {}
    out = _other_names_differ(names, spec)
    if not _same(names.dns, spec.get("dnsNames") or []):
        out.append("spec.dnsNames")
    if not spec.get("literalSubject"):
        if common_name(csr.subject) != (spec.get("commonName") or ""):
            out.append("spec.commonName")
        serial = _subject_values(csr.subject, NameOID.SERIAL_NUMBER)
        if (serial[-1] if serial else "") != (subject.get("serialNumber") or ""):
            out.append("spec.subject.serialNumber")
        for oid, field_name, path in ((NameOID.ORGANIZATION_NAME, "organizations", "organizations"),
                                      (NameOID.COUNTRY_NAME, "countries", "countries"),
                                      (NameOID.LOCALITY_NAME, "localities", "localities"),
                                      (NameOID.ORGANIZATIONAL_UNIT_NAME, "organizationalUnits",
                                       "organizationalUnits"),
                                      (NameOID.POSTAL_CODE, "postalCodes", "postCodes"),
                                      (NameOID.STATE_OR_PROVINCE_NAME, "provinces", "provinces"),
                                      (NameOID.STREET_ADDRESS, "streetAddresses", "streetAddresses")):
            if not _same(_subject_values(csr.subject, oid), subject.get(field_name) or []):
                out.append(f"spec.subject.{path}")
    elif csr.subject.public_bytes() != literal_subject(spec["literalSubject"]).public_bytes():
        out.append("spec.literalSubject")
    cr_spec = cr.get("spec") or {}
    if bool(cr_spec.get("isCA")) != bool(spec.get("isCA")):
        out.append("spec.isCA")
    if not _same(cr_spec.get("usages") or [], spec.get("usages") or []):
        out.append("spec.usages")
    a, b = spec_duration(cr_spec), spec_duration(spec)
    if a is not None and b is not None and a != b:
        out.append("spec.duration")
    if not issuer_refs_equal(cr_spec.get("issuerRef") or {}, spec.get("issuerRef") or {}):
        out.append("spec.issuerRef")
    return out


def alt_names_match_spec(cert: x509.Certificate, spec: Obj) -> list[str]:
    """match.go FuzzyX509AltNamesMatchSpec: the common name may stand among the DNS names."""
    names = Names.of(cert)
    expected = set(spec.get("dnsNames") or [])
    if spec.get("commonName"):
        expected.add(spec["commonName"])
    cn = common_name(cert.subject)
    found = set(names.dns) | ({cn} if cn else set())
    out = []
    if found != expected:
        if (spec.get("commonName") and spec["commonName"] not in found) or (cn and cn not in expected):
            out.append("spec.commonName")
        if not set(spec.get("dnsNames") or []) <= found or not set(names.dns) <= expected:
            out.append("spec.dnsNames")
    return out + _other_names_differ(names, spec)


def _other_names_differ(names: Names, spec: Obj) -> list[str]:
    """The spec fields whose IP addresses, URIs or email addresses the request or certificate does not hold."""
    out = []
    if not _same_ips(names.ips, spec.get("ipAddresses") or []):
        out.append("spec.ipAddresses")
    if not _same(names.uris, spec.get("uris") or []):
        out.append("spec.uris")
    if not _same(names.emails, spec.get("emailAddresses") or []):
        out.append("spec.emailAddresses")
    return out


def _csv(values: list[str]) -> str:
    """util.JoinWithEscapeCSV: one CSV record (Go's encoding/csv quoting), no trailing newline."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow(values)
    return buf.getvalue().removesuffix("\n")


def annotations_for_certificate(cert: x509.Certificate | None) -> dict[str, str]:
    """internal/controller/certificates/secrets.go AnnotationsForCertificate."""
    out: dict[str, str] = {}
    if cert is None:
        return out
    names = Names.of(cert)
    out["cert-manager.io/common-name"] = common_name(cert.subject)
    serial = _subject_values(cert.subject, NameOID.SERIAL_NUMBER)
    if serial and serial[-1]:
        out["cert-manager.io/subject-serialnumber"] = serial[-1]
    for oid, key in ((NameOID.ORGANIZATION_NAME, "subject-organizations"),
                     (NameOID.ORGANIZATIONAL_UNIT_NAME, "subject-organizationalunits"),
                     (NameOID.COUNTRY_NAME, "subject-countries"), (NameOID.STATE_OR_PROVINCE_NAME, "subject-provinces"),
                     (NameOID.LOCALITY_NAME, "subject-localities"), (NameOID.POSTAL_CODE, "subject-postalcodes"),
                     (NameOID.STREET_ADDRESS, "subject-streetaddresses")):
        values = _subject_values(cert.subject, oid)
        if values:
            out[f"cert-manager.io/{key}"] = _csv(values)
    if names.emails:
        out["cert-manager.io/email-sans"] = _csv(names.emails)
    out["cert-manager.io/alt-names"] = _csv(names.dns) if names.dns else ""
    out["cert-manager.io/ip-sans"] = _csv(names.ips) if names.ips else ""
    out["cert-manager.io/uri-sans"] = _csv(names.uris) if names.uris else ""
    return out


def not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def not_before(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_before_utc


__all__ = ["PKIError", "annotations_for_certificate", "build_csr", "bundle", "decode_certificate", "decode_chain",
           "decode_csr", "decode_key", "encode_key", "format_duration", "generate_key", "key_matches_spec",
           "parse_duration", "renewal_time", "request_matches_spec", "sign", "template_from_request"]


def data_from_b64(text: str) -> bytes:
    """A ``[]byte`` field as JSON carries it (base64)."""
    import base64
    import binascii

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PKIError("illegal base64 data") from None
