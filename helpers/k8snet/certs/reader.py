"""Read certificates: every fact a lesson shows about one, from PEM, DER, a chain, or a TLS Secret.

One reader for every place the workbook looks at a certificate: the ones a lesson makes (:mod:`.pki`), the ones
a Secret holds (cert-manager's, a CSR's), and the ones a server hands over in a handshake (``ingress.certificate``,
the edge's requests). The facts are those ``openssl x509 -text`` prints (RFC 5280): subject and issuer, the
subjectAltName entries by type, serial, validity, public key, basicConstraints with the path length, keyUsage and
extendedKeyUsage, and the SHA-256 fingerprint.

A :class:`Cert` shows itself in two ways: the short view (subject, names, issuer, length of validity, CA or not),
which never changes from run to run, and :meth:`Cert.details`, which adds serial, dates, key and usages.
"""

from __future__ import annotations

import base64
import html
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..table import Table

Source = str | bytes | x509.Certificate

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)

KEY_USAGES = (("digital_signature", "digital signature"), ("content_commitment", "content commitment"),
              ("key_encipherment", "key encipherment"), ("data_encipherment", "data encipherment"),
              ("key_agreement", "key agreement"), ("key_cert_sign", "cert sign"), ("crl_sign", "crl sign"))
"""keyUsage bits by the names cert-manager's ``usages`` field gives them (pkg/apis/certmanager/v1 KeyUsage)."""

EXTENDED_USAGES = {ExtendedKeyUsageOID.SERVER_AUTH: "server auth", ExtendedKeyUsageOID.CLIENT_AUTH: "client auth",
                   ExtendedKeyUsageOID.CODE_SIGNING: "code signing", ExtendedKeyUsageOID.EMAIL_PROTECTION:
                   "email protection", ExtendedKeyUsageOID.TIME_STAMPING: "timestamping",
                   ExtendedKeyUsageOID.OCSP_SIGNING: "ocsp signing"}


@dataclass(frozen=True)
class Cert:
    """What one certificate says, as ``openssl x509 -text`` would show it."""

    subject: str  # RFC 4514, e.g. ``CN=shop.example.test,O=shop``
    issuer: str
    names: tuple[str, ...]  # DNS names and IP addresses (SANs): what a client checks a host name against
    uris: tuple[str, ...]  # URI SANs, e.g. a SPIFFE identity ``spiffe://cluster.local/ns/shop/sa/web``
    emails: tuple[str, ...]
    serial: str  # hexadecimal, colon-separated as openssl prints it
    not_before: datetime
    not_after: datetime
    key: str  # ``ECDSA P-256``, ``RSA 2048``, ``Ed25519``
    is_ca: bool
    path_length: int | None
    usages: tuple[str, ...]  # keyUsage
    extended_usages: tuple[str, ...]  # extendedKeyUsage
    fingerprint: str  # SHA-256 of the DER, hexadecimal
    pem: str

    @property
    def common_name(self) -> str:
        return _cn(x509.load_pem_x509_certificate(self.pem.encode()).subject)

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    @property
    def days(self) -> int:
        """How long it is valid, in whole days (cert-manager's default ``duration`` of 2160h is 90)."""
        return round((self.not_after - self.not_before).total_seconds() / 86400)

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after

    def covers(self, host: str) -> bool:
        """Whether a client would accept this certificate for ``host``: a SAN equal to it, or a ``*.`` wildcard
        standing for exactly one label (RFC 6125 §6.4.3); an IP address only as an IP SAN."""
        host = host.lower().rstrip(".")
        for name in (n.lower() for n in self.names):
            if name == host or (name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]
                                and not _is_ip(host)):
                return True
        return False

    def rows(self) -> list[tuple[str, str]]:
        """The short view: what stays the same each time the lesson runs."""
        names = [*self.names, *self.uris, *self.emails]
        return [("subject", self.subject), ("names (SANs)", ", ".join(names) or "(none)"),
                ("issuer", self.issuer + (" (itself: self-signed)" if self.self_signed else "")),
                ("valid for", f"{self.days} days"), ("CA", "yes" if self.is_ca else "no")]

    def details(self) -> Table:
        """Every fact, with serial, dates and key: the lesson's ``openssl x509 -noout -text``."""
        ca = "no" if not self.is_ca else "yes" + ("" if self.path_length is None else f", path length {self.path_length}")
        rows = [["subject", self.subject], ["issuer", self.issuer + (" (self-signed)" if self.self_signed else "")],
                ["DNS/IP names", ", ".join(self.names) or "—"], ["URI names", ", ".join(self.uris) or "—"],
                ["email names", ", ".join(self.emails) or "—"], ["serial", self.serial],
                ["not before", _rfc3339(self.not_before)], ["not after", _rfc3339(self.not_after)],
                ["key", self.key], ["CA", ca], ["key usage", ", ".join(self.usages) or "—"],
                ["extended key usage", ", ".join(self.extended_usages) or "—"]]
        return Table(["field", "value"], rows, f"certificate {self.subject}")

    def __str__(self) -> str:
        names = [*self.names, *self.uris, *self.emails]
        return (f"subject {self.subject} · names {', '.join(names) or '(none)'} · issuer {self.issuer}"
                f"{' (self-signed)' if self.self_signed else ''} · valid {self.days} days"
                f"{' · CA' if self.is_ca else ''}")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{html.escape(v)}</td>"
                        f"</tr>" for k, v in self.rows())
        return f"<table>{cells}</table>"


def read(source: Source) -> Cert:
    """The first certificate in ``source``: PEM text or bytes, DER bytes, or a parsed certificate."""
    return chain(source)[0]


def chain(source: Source | Iterable[bytes]) -> list[Cert]:
    """Every certificate in ``source``, in order (a ``tls.crt`` holds the leaf, then the chain).

    Raises:
        ValueError: nothing in ``source`` is a certificate.
    """
    if isinstance(source, x509.Certificate):
        return [_facts(source)]
    if isinstance(source, str):
        source = source.encode()
    if isinstance(source, bytes):
        blocks = _PEM.findall(source)
        source = blocks or [source]
    try:
        parsed = [x509.load_pem_x509_certificate(b) if b.startswith(b"-----") else x509.load_der_x509_certificate(b)
                  for b in source]
    except ValueError as exc:
        raise ValueError(f"no certificate found: expected PEM (-----BEGIN CERTIFICATE-----) or DER ({exc})") from None
    return [_facts(c) for c in parsed]


@dataclass(frozen=True)
class SecretCerts:
    """The certificates a ``kubernetes.io/tls`` Secret holds: ``tls.crt`` (leaf, then chain) and ``ca.crt``."""

    name: str
    chain: list[Cert]
    ca: list[Cert]
    key: str  # the private key's algorithm and size, or why it could not be read
    key_matches: bool  # tls.key is the private half of the leaf's public key

    @property
    def leaf(self) -> Cert:
        return self.chain[0]

    def table(self) -> Table:
        """One row per certificate, leaf first, then the ``ca.crt`` ones: who it is, who signed it, when."""
        rows = []
        for where, certs in (("tls.crt", self.chain), ("ca.crt", self.ca)):
            for i, c in enumerate(certs):
                names = ", ".join([*c.names, *c.uris, *c.emails])
                rows.append([f"{where}[{i}]", c.subject, names or "—", c.issuer, c.serial[:23] + "…"
                             if len(c.serial) > 24 else c.serial, _rfc3339(c.not_before), _rfc3339(c.not_after),
                             c.key, "yes" if c.is_ca else "no"])
        caption = f"Secret {self.name}: key {self.key}" + ("" if self.key_matches else
                                                            " (does NOT match the leaf certificate)")
        return Table(["entry", "subject", "names", "issuer", "serial", "not before", "not after", "key", "CA"],
                     rows, caption)

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())


def secret(obj: Any) -> SecretCerts:
    """The certificates in a Secret (a dict as ``cluster.get`` returns it, or the client's V1Secret).

    Raises:
        ValueError: the Secret has no ``tls.crt``.
    """
    from cryptography.hazmat.primitives import serialization

    meta = obj.get("metadata", {}) if isinstance(obj, dict) else obj.metadata.to_dict()
    data = (obj.get("data") if isinstance(obj, dict) else obj.data) or {}
    name = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}".strip("/")
    if "tls.crt" not in data:
        raise ValueError(f"Secret {name} has no tls.crt: it holds {', '.join(sorted(data)) or 'no data'}")
    leaf_chain = chain(base64.b64decode(data["tls.crt"]))
    ca = chain(base64.b64decode(data["ca.crt"])) if data.get("ca.crt") else []
    key_text, matches = "(none)", False
    if data.get("tls.key"):
        try:
            key = serialization.load_pem_private_key(base64.b64decode(data["tls.key"]), password=None)
            key_text = _key_text(key.public_key())
            leaf_key = x509.load_pem_x509_certificate(leaf_chain[0].pem.encode()).public_key()
            matches = _public_der(key.public_key()) == _public_der(leaf_key)
        except (ValueError, TypeError) as exc:
            key_text = f"unreadable ({exc})"
    return SecretCerts(name, leaf_chain, ca, key_text, matches)


# -- building blocks ----------------------------------------------------------------------------------------


def _facts(cert: x509.Certificate) -> Cert:
    from cryptography.hazmat.primitives import serialization

    ext = cert.extensions
    try:
        san = ext.get_extension_for_class(x509.SubjectAlternativeName).value
        names = (*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)))
        uris, emails = tuple(san.get_values_for_type(x509.UniformResourceIdentifier)), tuple(
            san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        names, uris, emails = (), (), ()
    try:
        bc = ext.get_extension_for_class(x509.BasicConstraints).value
        is_ca, path_length = bc.ca, bc.path_length
    except x509.ExtensionNotFound:
        is_ca, path_length = False, None
    try:
        ku = ext.get_extension_for_class(x509.KeyUsage).value
        usages = tuple(name for attr, name in KEY_USAGES if getattr(ku, attr))
    except x509.ExtensionNotFound:
        usages = ()
    try:
        eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
        extended = tuple(EXTENDED_USAGES.get(oid, oid.dotted_string) for oid in eku)
    except x509.ExtensionNotFound:
        extended = ()
    serial = f"{cert.serial_number:x}"
    serial = serial if len(serial) % 2 == 0 else "0" + serial  # whole bytes, as openssl 3 prints them
    serial = ":".join(serial[i:i + 2] for i in range(0, len(serial), 2))
    return Cert(subject=_dn(cert.subject), issuer=_dn(cert.issuer), names=tuple(names), uris=uris, emails=emails,
                serial=serial, not_before=cert.not_valid_before_utc.astimezone(UTC),
                not_after=cert.not_valid_after_utc.astimezone(UTC), key=_key_text(cert.public_key()), is_ca=is_ca,
                path_length=path_length, usages=usages, extended_usages=extended,
                fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
                pem=cert.public_bytes(serialization.Encoding.PEM).decode())


def _key_text(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ECDSA P-256", "secp384r1": "ECDSA P-384", "secp521r1": "ECDSA P-521"}.get(
            key.curve.name, f"ECDSA {key.curve.name}")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _public_der(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def _dn(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty)"


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
