"""The clustermesh-apiserver's certificates: one CA for the whole cluster set, four Secrets per member.

Cluster Mesh authenticates both ways with TLS: each cluster's etcd (in the clustermesh-apiserver pod) trusts the
CA in its ``clustermesh-apiserver-server-cert``, and every agent that connects to it presents the certificate of
its own cluster's ``clustermesh-apiserver-remote-cert`` (CN ``remote``: the etcd user of the chart's default
``tls.authMode: legacy``). So the certificates of all members must come from one CA, as the Cluster Mesh guide asks
("Shared Certificate Authority", Documentation/network/clustermesh/clustermesh.rst: ``cilium install --inherit-ca``
or copy the CA's Secret). k8snet keeps that CA for the kind backend under ``$K8SNET_HOME/kind/clustermesh/`` (made
once, private files) and issues each member's certificates from it, with the names, SANs and usages the chart's
certgen Job gives them (templates/clustermesh-apiserver/tls-cronjob/_job-spec.tpl, the method cilium-cli's
``clustermesh enable`` picks):

- ``clustermesh-apiserver-server-cert``: CN ``clustermesh-apiserver.cilium.io``, SANs that name,
  ``*.mesh.cilium.io`` (peers dial ``<cluster>.mesh.cilium.io``), ``clustermesh-apiserver.kube-system.svc``,
  127.0.0.1 and ::1; signing, key encipherment, server auth;
- ``clustermesh-apiserver-admin-cert``: CN ``admin-<cluster name>`` (the etcd root user etcdinit creates), client
  auth;
- ``clustermesh-apiserver-remote-cert``: CN ``remote``, client auth;

each a ``kubernetes.io/tls`` Secret with ``ca.crt``, ``tls.crt`` and ``tls.key``, plus ``cilium-ca`` (``ca.crt``,
``ca.key``), as the chart renders them from provided values (templates/cilium-ca-secret.yaml,
templates/clustermesh-apiserver/tls-provided/). Keys are ECDSA P-256 (cfssl's default, which certgen uses); the
CA is "Cilium CA" and everything is valid for 1095 days (the chart's ``certValidityDuration``).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ...sandbox.pki import pem_cert, pem_key, write_private
from .. import addons

NAMESPACE = "kube-system"
CA_SECRET = "cilium-ca"
SERVER_SECRET = "clustermesh-apiserver-server-cert"
ADMIN_SECRET = "clustermesh-apiserver-admin-cert"
REMOTE_SECRET = "clustermesh-apiserver-remote-cert"
SECRETS = (CA_SECRET, SERVER_SECRET, ADMIN_SECRET, REMOTE_SECRET)
CA_NAME = "Cilium CA"
"""``--ca-common-name=Cilium CA`` (certgen) and ``genCA "Cilium CA"`` (the chart's cilium.ca.setup)."""
SERVER_NAME = "clustermesh-apiserver.cilium.io"
VALIDITY_DAYS = 1095
REMOTE_USER = "remote"
"""The remote certificate's CN under ``tls.authMode: legacy`` (templates/clustermesh-apiserver/_helpers.tpl)."""


def server_hosts(namespace: str = NAMESPACE) -> list[str]:
    """The server certificate's SANs, in certgen's order (tls-cronjob/_job-spec.tpl, no extra names or IPs)."""
    return [SERVER_NAME, "*.mesh.cilium.io", f"clustermesh-apiserver.{namespace}.svc", "127.0.0.1", "::1"]


@dataclass(frozen=True)
class Authority:
    """The cluster set's CA: its key and certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def pem(self) -> bytes:
        return pem_cert(self.cert)

    def issue(self, cn: str, *, server: bool, hosts: list[str] | None = None,
              now: dt.datetime | None = None) -> tuple[bytes, bytes]:
        """A certificate and key (PEM) for ``cn``, signed by this CA: server or client auth, as certgen's
        ``usage`` lists say (signing and key encipherment as KeyUsage, the auth as ExtendedKeyUsage)."""
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                crl_sign=False, encipher_only=False, decipher_only=False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                         else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                                  critical=False))
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        return pem_cert(builder.sign(self.key, hashes.SHA256())), pem_key(key)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def new_authority(now: dt.datetime | None = None) -> Authority:
    """A fresh self-signed "Cilium CA" (the same kind of CA as the sandbox's cluster CA, another name and life)."""
    from ...sandbox.pki import make_ca

    return Authority(*make_ca(CA_NAME, now, VALIDITY_DAYS))


def directory() -> Path:
    """Where the set's CA is kept: ``$K8SNET_HOME/kind/clustermesh``."""
    return addons.home() / "clustermesh"


def shared_authority(where: Path | None = None) -> Authority:
    """The cluster set's CA, made on first use and kept (``ca.key`` and ``ca.crt``, mode 0600) so every member
    enabled later gets certificates from the same one."""
    where = where or directory()
    key_file, cert_file = where / "ca.key", where / "ca.crt"
    if key_file.exists() and cert_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_file} is not an ECDSA key: remove {where} to make a new CA for the set")
        return Authority(key, x509.load_pem_x509_certificate(cert_file.read_bytes()))
    where.mkdir(parents=True, exist_ok=True)
    ca = new_authority()
    write_private(key_file, pem_key(ca.key))
    write_private(cert_file, ca.pem)
    return ca


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tls_secret(name: str, ca: Authority, cert_key: tuple[bytes, bytes], namespace: str) -> dict[str, Any]:
    cert, key = cert_key
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "kubernetes.io/tls", "data": {"ca.crt": _b64(ca.pem), "tls.crt": _b64(cert), "tls.key": _b64(key)}}


def secrets(cluster_name: str, ca: Authority, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The four Secrets of one member (see the module's docstring), fresh keys each time."""
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": CA_SECRET, "namespace": namespace},
         "data": {"ca.crt": _b64(ca.pem), "ca.key": _b64(pem_key(ca.key))}},
        _tls_secret(SERVER_SECRET, ca, ca.issue(SERVER_NAME, server=True, hosts=server_hosts(namespace)), namespace),
        _tls_secret(ADMIN_SECRET, ca, ca.issue(f"admin-{cluster_name}", server=False), namespace),
        _tls_secret(REMOTE_SECRET, ca, ca.issue(REMOTE_USER, server=False), namespace),
    ]


def issued_by(secret: dict[str, Any] | None, ca: Authority, cn: str) -> bool:
    """Whether a Secret as :func:`secrets` makes it holds a certificate for ``cn`` signed by ``ca`` and valid now
    (so enabling again keeps it; anything else is issued afresh)."""
    data = (secret or {}).get("data") or {}
    try:
        if base64.b64decode(data.get("ca.crt") or "") != ca.pem:
            return False
        if cn == CA_NAME:
            return base64.b64decode(data.get("ca.key") or "") == pem_key(ca.key)
        cert = x509.load_pem_x509_certificate(base64.b64decode(data["tls.crt"]))
        cert.verify_directly_issued_by(ca.cert)
    except (KeyError, ValueError, TypeError, InvalidSignature):
        return False
    now = dt.datetime.now(dt.UTC)
    return (cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
            and cert.not_valid_before_utc <= now < cert.not_valid_after_utc)


def expected_cn(secret_name: str, cluster_name: str) -> str:
    """The CN each of the four Secrets carries for a member (the CA's for ``cilium-ca``)."""
    return {CA_SECRET: CA_NAME, SERVER_SECRET: SERVER_NAME, ADMIN_SECRET: f"admin-{cluster_name}",
            REMOTE_SECRET: REMOTE_USER}[secret_name]


def same_authority(pem_a: bytes, pem_b: bytes) -> bool:
    """cilium-cli's validateCAMatch (cilium-cli/clustermesh/clustermesh.go): two CA certificates match when their
    Subject Key Identifiers are equal."""
    a, b = x509.load_pem_x509_certificate(pem_a), x509.load_pem_x509_certificate(pem_b)

    def ski(c: x509.Certificate) -> bytes:
        try:
            return c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            return x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest

    return ski(a) == ski(b)
