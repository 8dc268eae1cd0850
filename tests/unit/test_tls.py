"""Real handshakes in memory between the sandbox's TLS contexts, and curl's host and validity checks
(lib/vtls/openssl.c ossl_verifyhost, lib/vtls/hostcheck.c)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k8snet.sandbox.dataplane import tls

NOW = datetime.now(UTC)


def make(cn: str, dns: list[str] | None = None, ips: list[str] | None = None,
         days: int = 30) -> tuple[bytes, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns or []]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips or []]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, key_pem, cert.public_bytes(serialization.Encoding.DER)


def test_a_handshake_verifies_with_the_servers_own_certificate_as_ca():
    cert, key, _ = make("web", dns=["web"])
    shake = tls.handshake(tls.client_context(cert, True), tls.server_context(cert, key), "web")
    assert shake.ok and shake.version == "TLSv1.3"
    refused = tls.handshake(tls.client_context(None, True), tls.server_context(cert, key), "web")
    assert not refused.ok and refused.verify_message == "self-signed certificate"
    assert tls.handshake(tls.client_context(None, False), tls.server_context(cert, key), None).ok


def test_a_server_that_requires_client_certificates_refuses_a_client_without_one():
    cert, key, _ = make("web", dns=["web"])
    server = tls.server_context(cert, key, client_ca=cert)
    shake = tls.handshake(tls.client_context(cert, True), server, "web")
    assert not shake.ok and shake.failed_side == "server" and "certificate required" in shake.error
    assert tls.handshake(tls.client_context(cert, True, cert, key), server, "web").ok


@pytest.mark.parametrize(("cert", "host", "problem"), [
    (dict(cn="my-nginx"), "my-nginx", ""),
    (dict(cn="my-nginx"), "10.244.1.5",
     "SSL: certificate subject name 'my-nginx' does not match target host name '10.244.1.5'"),
    (dict(cn="ignored", dns=["*.example.com"]), "a.example.com", ""),
    (dict(cn="a.example.com", dns=["*.example.com"]), "a.b.example.com",
     "SSL: no alternative certificate subject name matches target host name 'a.b.example.com'"),
    (dict(cn="x", dns=["web"]), "x", "SSL: no alternative certificate subject name matches target host name 'x'"),
    (dict(cn="x", dns=["web"], ips=["10.0.0.1"]), "10.0.0.1", ""),
    (dict(cn="10.0.0.2", dns=["web"]), "10.0.0.2", ""),  # no IP SAN: the CN is compared
])
def test_curl_host_names(cert, host, problem):
    _, _, der = make(**cert)
    assert tls.check_host(der, host, NOW) == problem


def test_validity_follows_the_sandbox_clock():
    _, _, der = make("web", days=10)
    assert tls.check_host(der, "web", NOW + timedelta(days=11)) == "SSL certificate problem: certificate has expired"
    assert tls.check_host(der, "web", NOW - timedelta(days=2)) == \
        "SSL certificate problem: certificate is not yet valid"
