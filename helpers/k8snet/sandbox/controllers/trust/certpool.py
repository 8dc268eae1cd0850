"""trust-manager's certificate pool: strict PEM parsing, deduplication, and the bundle's PEM text.

A port of github.com/cert-manager/trust-manager v0.24.0 pkg/util/cert_pool.go (with pkg/compat/parse_cert.go):

* every PEM block of a source must be a ``CERTIFICATE`` without headers, and parse as X.509; anything else fails
  the whole source (a private key pasted by mistake is never distributed);
* text around the blocks (comments, a poisoned byte) is dropped, as Go's ``encoding/pem.Decode`` skips it;
* a certificate is kept once (the pool is keyed by the SHA-256 of its DER);
* the bundle lists the certificates ordered by that hash -- not in source order -- each PEM-encoded, and the
  whole text is whitespace-trimmed: no trailing newline;
* the EC-ACC root with a negative serial number (the one certificate upstream special-cases) is skipped.

The ``--filter-expired-certificates`` and ``--filter-non-ca-certs`` options (off by default, as in the Helm chart)
are here as arguments; the sandbox runs trust-manager with its defaults.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509

NEGATIVE_SERIAL_CA_FINGERPRINT = "88497f01602f3154246ae28c4d5aef10f1d87ebb76626f4ae0b7f95ba7968799"
"""pkg/compat/negative_serial_number.go: the EC-ACC root of the first public trust package, which Go 1.23+ cannot
parse (negative serial number); trust-manager skips it instead of failing the bundle."""

_PEM_START = b"\n-----BEGIN "
_PEM_END = b"\n-----END "
_PEM_END_OF_LINE = b"-----"


class PEMError(ValueError):
    """What AddCertsFromPEM returns: the source holds something other than clean certificates."""


@dataclass
class Block:
    type: str
    headers: dict[str, str]
    data: bytes


def _get_line(data: bytes) -> tuple[bytes, bytes]:
    """encoding/pem getLine: the first line without trailing spaces, tabs and CR, and the rest."""
    i = data.find(b"\n")
    if i < 0:
        line, rest = data, b""
    else:
        line, rest = data[:i], data[i + 1:]
    return line.rstrip(b" \t\r"), rest


def pem_decode(data: bytes) -> tuple[Block | None, bytes]:
    """encoding/pem.Decode: the next well-formed PEM block and the bytes after it (None when there is none).

    Text before a block is skipped; a malformed block (no END line, a different type, bad base64) is skipped
    from its BEGIN line on, as Go's decoder does.
    """
    rest = data
    while True:
        if rest.startswith(_PEM_START[1:]):
            rest = rest[len(_PEM_START) - 1:]
        else:
            i = rest.find(_PEM_START)
            if i < 0:
                return None, data
            rest = rest[i + len(_PEM_START):]
        type_line, rest = _get_line(rest)
        if not type_line.endswith(_PEM_END_OF_LINE):
            continue
        type_line = type_line[:-len(_PEM_END_OF_LINE)]
        headers: dict[str, str] = {}
        while True:
            if not rest:
                return None, data
            line, following = _get_line(rest)
            key, sep, value = line.partition(b":")
            if not sep:
                break
            headers[key.strip().decode(errors="replace")] = value.strip().decode(errors="replace")
            rest = following
        if not headers and rest.startswith(_PEM_END[1:]):
            end, trailer_at = 0, len(_PEM_END) - 1
        else:
            end = rest.find(_PEM_END)
            trailer_at = end + len(_PEM_END)
        if end < 0:
            continue
        trailer = rest[trailer_at:]
        trailer_len = len(type_line) + len(_PEM_END_OF_LINE)
        if len(trailer) < trailer_len:
            continue
        rest_of_end_line, trailer = trailer[trailer_len:], trailer[:trailer_len]
        if not trailer.startswith(type_line) or not trailer.endswith(_PEM_END_OF_LINE):
            continue
        if _get_line(rest_of_end_line)[0]:
            continue
        b64 = rest[:end].translate(None, b" \t\n\r")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            continue
        _, after = _get_line(rest[end + len(_PEM_END) - 1:])
        return Block(type_line.decode(errors="replace"), headers, raw), after


def pem_encode(der: bytes) -> str:
    """encoding/pem.Encode of a CERTIFICATE block: base64 in 64-character lines."""
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "".join(line + "\n" for line in lines) + "-----END CERTIFICATE-----\n"


@dataclass
class CertPool:
    """A set of certificates keyed by the SHA-256 of their DER (util.CertPool)."""

    filter_expired: bool = False
    filter_non_ca: bool = False
    now: datetime | None = None
    certificates: dict[bytes, x509.Certificate] = field(default_factory=dict)

    def add_certs_from_pem(self, pem: bytes) -> None:
        """AddCertsFromPEM: add every certificate of ``pem``, or raise :class:`PEMError` with upstream's words."""
        rest = pem
        while True:
            block, rest = pem_decode(rest)
            if block is None:
                return
            if block.type != "CERTIFICATE":
                raise PEMError("invalid PEM block in bundle: only CERTIFICATE blocks are permitted but found "
                               f"'{block.type}'")
            if block.headers:
                raise PEMError("invalid PEM block in bundle; blocks are not permitted to have PEM headers")
            if hashlib.sha256(block.data).hexdigest() == NEGATIVE_SERIAL_CA_FINGERPRINT:
                continue  # compat.IsSkipError: logged and skipped
            try:
                cert = x509.load_der_x509_certificate(block.data)
            except ValueError:
                raise PEMError("invalid PEM block in bundle; invalid PEM certificate: x509: malformed certificate") \
                    from None
            self.add_cert(cert, block.data)

    def add_cert(self, cert: x509.Certificate, der: bytes) -> bool:
        """AddCert: run the filters, then keep the certificate once."""
        if self.filter_expired and (self.now or datetime.now(UTC)) > cert.not_valid_after_utc:
            return False
        if self.filter_non_ca and not _is_ca(cert):
            return False
        self.certificates[hashlib.sha256(der).digest()] = cert
        return True

    def __len__(self) -> int:
        return len(self.certificates)

    def ordered(self) -> list[x509.Certificate]:
        """Certificates(): ordered by the SHA-256 of their DER."""
        return [self.certificates[h] for h in sorted(self.certificates)]

    def pem(self) -> str:
        """PEM(): every certificate PEM-encoded, in hash order, the whole trimmed of surrounding whitespace."""
        from cryptography.hazmat.primitives.serialization import Encoding

        return "".join(pem_encode(c.public_bytes(Encoding.DER)) for c in self.ordered()).strip()


def _is_ca(cert: x509.Certificate) -> bool:
    """x509.Certificate.IsCA: basicConstraints present with cA true."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
