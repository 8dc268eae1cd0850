"""The sandbox's own certificate authority and its API server certificate (real X.509).

client-go sends bearer tokens only over TLS (kubernetes/kubectl#744), and a
real cluster's kubeconfig carries its CA, so the sandbox serves HTTPS with a
CA made at first start, as kubeadm does for a kind cluster.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 3650


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "kubernetes", now: dt.datetime | None = None,
            days: int = VALIDITY_DAYS) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA (kubeadm names it ``kubernetes``), valid ``days`` days."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_serving(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, cn: str, hosts: list[str],
                 now: dt.datetime | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server certificate for ``hosts`` (DNS names or IPs), signed by the CA."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ensure(state: Path) -> tuple[Path, Path, Path]:
    """Create the CA and API server certificate once; returns (ca.crt, apiserver.crt, apiserver.key)."""
    ca_crt, crt, key = state / "ca.crt", state / "apiserver.crt", state / "apiserver.key"
    if ca_crt.exists() and crt.exists() and key.exists():
        return ca_crt, crt, key
    ca_key, ca = make_ca()
    skey, scert = make_serving(ca_key, ca, "kube-apiserver", ["127.0.0.1", "localhost", "::1"])
    write_private(state / "ca.key", pem_key(ca_key))
    write_private(key, pem_key(skey))
    write_private(crt, pem_cert(scert))
    write_private(ca_crt, pem_cert(ca))
    return ca_crt, crt, key


def load_ca(state: Path | None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    """The cluster CA's key and certificate from ``state`` (kubeadm's ca.key and ca.crt, which
    kube-controller-manager signs with), or None when the key is not there."""
    if state is None:
        return None
    ca_key_file, ca_file = state / "ca.key", state / "ca.crt"
    if not (ca_key_file.exists() and ca_file.exists()):
        return None
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    return ca_key, x509.load_pem_x509_certificate(ca_file.read_bytes())


def in_cluster_serving(state: Path, hosts: list[str]) -> tuple[bytes, bytes] | None:
    """A serving certificate and key (PEM) for the API server's in-cluster names, signed by the cluster CA in
    ``state`` (None when the CA's key is not there): what pods verify with their ``ca.crt``."""
    loaded = load_ca(state)
    if loaded is None:
        return None
    key, cert = make_serving(*loaded, "kube-apiserver", hosts)
    return pem_cert(cert), pem_key(key)
