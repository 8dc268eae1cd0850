"""A CertificateSigningRequest's parts as the Go code reads them: PEM blocks, the PKCS#10 request, conditions.

- :func:`pem_blocks` is encoding/pem ``Decode`` (the first well-formed block wins; text around blocks is skipped);
- :func:`parse_request` is pkg/apis/certificates/helpers.go ``ParseCSR`` followed by ``CheckSignature``, with
  their error texts (``PEM block type must be CERTIFICATE REQUEST``, ``crypto/rsa: verification error``);
- :class:`Subject` is what crypto/x509 keeps of the request (``pkix.Name``'s CommonName and Organization, the
  subject alternative names) for the signers' checks;
- the condition helpers are pkg/controller/certificates/certificate_controller_utils.go.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

GROUP = "certificates.k8s.io"
KIND = "CertificateSigningRequest"
PLURAL = "certificatesigningrequests"
RESOURCE = f"{PLURAL}.{GROUP}"

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"

Obj = dict[str, Any]

_PEM = re.compile(rb"-----BEGIN (?P<type>[^\r\n]*?)-----[ \t]*\r?\n(?P<body>.*?)-----END (?P=type)-----", re.S)


@dataclass(frozen=True)
class PemBlock:
    """pem.Block: its type line, its headers and the decoded bytes."""

    type: str
    headers: dict[str, str]
    data: bytes


def pem_blocks(data: bytes) -> Iterator[PemBlock]:
    """Every PEM block in ``data`` in order, as repeated pem.Decode calls find them (a block whose body is not
    base64 is skipped, as Go skips it)."""
    pos = 0
    while (m := _PEM.search(data, pos)) is not None:
        pos = m.end()
        lines = m.group("body").splitlines()
        headers: dict[str, str] = {}
        while lines and b":" in lines[0]:
            key, _, value = lines.pop(0).partition(b":")
            headers[key.decode(errors="replace").strip()] = value.decode(errors="replace").strip()
        if headers and lines and not lines[0].strip():
            lines.pop(0)
        try:
            body = base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
        except (binascii.Error, ValueError):
            pos = m.start() + 1
            continue
        yield PemBlock(m.group("type").decode(errors="replace"), headers, body)


def first_pem_block(data: bytes) -> PemBlock | None:
    return next(pem_blocks(data), None)


def request_bytes(csr: Mapping[str, Any]) -> bytes:
    """``spec.request`` as bytes (JSON carries it base64-encoded; decoding checked it already)."""
    text = ((csr.get("spec") or {}).get("request")) or ""
    try:
        return base64.b64decode(text) if isinstance(text, str) else b""
    except (binascii.Error, ValueError):
        return b""


def certificate_bytes(csr: Mapping[str, Any]) -> bytes:
    """``status.certificate`` as bytes."""
    text = ((csr.get("status") or {}).get("certificate")) or ""
    try:
        return base64.b64decode(text) if isinstance(text, str) else b""
    except (binascii.Error, ValueError):
        return b""


class RequestError(ValueError):
    """Why a request does not parse or its signature does not verify, in Go's words."""


def _asn1_problem(der: bytes) -> str:
    """The encoding/asn1 error ``x509.ParseCertificateRequest`` reports for DER that is not a request (the outer
    SEQUENCE checks; anything deeper is reported as a structure error)."""
    if not der:
        return "asn1: syntax error: sequence truncated"
    if der[0] != 0x30:
        return "asn1: structure error: tags don't match"
    if len(der) < 2:
        return "asn1: syntax error: data truncated"
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if len(der) < 2 + count:
            return "asn1: syntax error: data truncated"
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    if offset + length > len(der):
        return "asn1: syntax error: data truncated"
    if offset + length < len(der):
        return "asn1: syntax error: trailing data"
    return "asn1: structure error: tags don't match"


def parse_request(pem: bytes) -> x509.CertificateSigningRequest:
    """ParseCSR then CheckSignature (pkg/apis/certificates/validation validateCSR).

    Raises:
        RequestError: with the text kube-apiserver puts in the ``spec.request`` error.
    """
    block = first_pem_block(pem)
    if block is None or block.type != "CERTIFICATE REQUEST":
        raise RequestError("PEM block type must be CERTIFICATE REQUEST")
    try:
        request = x509.load_der_x509_csr(block.data)
        request.subject  # noqa: B018  (parsed lazily: touch what Go parses eagerly)
        request.extensions  # noqa: B018
        key = request.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise RequestError(_asn1_problem(block.data)) from None
    try:
        valid = request.is_signature_valid
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        valid = False
    if not valid:
        if isinstance(key, rsa.RSAPublicKey):
            raise RequestError("crypto/rsa: verification error")
        if isinstance(key, ec.EllipticCurvePublicKey):
            raise RequestError("x509: ECDSA verification failure")
        if isinstance(key, ed25519.Ed25519PublicKey):
            raise RequestError("x509: Ed25519 verification failure")
        raise RequestError("x509: cannot verify signature: algorithm unimplemented")
    return request


@dataclass(frozen=True)
class Subject:
    """What x509.CertificateRequest exposes of a request's identity (pkix.Name and the SAN fields)."""

    common_name: str
    organization: tuple[str, ...]
    dns_names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    names: tuple[tuple[Any, str], ...] = field(default=())
    """Every attribute of the subject, in order, as (OID, value)."""


def subject_of(request: x509.CertificateSigningRequest) -> Subject:
    """pkix.Name.FillFromRDNSequence (the last CN wins, O values in order) and the request's SANs."""
    names = tuple((attr.oid, str(attr.value)) for attr in request.subject)
    common = [v for oid, v in names if oid == NameOID.COMMON_NAME]
    orgs = tuple(v for oid, v in names if oid == NameOID.ORGANIZATION_NAME)
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Subject(common[-1] if common else "", orgs, names=names)
    return Subject(common[-1] if common else "", orgs,
                   tuple(san.get_values_for_type(x509.DNSName)), tuple(san.get_values_for_type(x509.RFC822Name)),
                   tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
                   tuple(san.get_values_for_type(x509.UniformResourceIdentifier)), names)


# -- conditions: pkg/controller/certificates/certificate_controller_utils.go --------------------------------


def conditions(csr: Mapping[str, Any]) -> list[Obj]:
    return list(((csr.get("status") or {}).get("conditions")) or [])


def has_condition(csr: Mapping[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype for c in conditions(csr))


def is_approved(csr: Mapping[str, Any]) -> bool:
    """IsCertificateRequestApproved: an Approved condition and no Denied one (their status is not looked at)."""
    return has_condition(csr, APPROVED) and not has_condition(csr, DENIED)


def has_true_condition(csr: Mapping[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in conditions(csr))


def is_issued(csr: Mapping[str, Any]) -> bool:
    return bool((csr.get("status") or {}).get("certificate"))
