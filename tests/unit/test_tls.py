"""Real handshakes in memory between the sandbox's TLS contexts, curl's host and validity checks
(lib/vtls/openssl.c ossl_verifyhost, lib/vtls/hostcheck.c), and the ClientHello the pod-network bridge reads."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k8snet.sandbox.dataplane import tls
from k8snet.sandbox.dataplane.clienthello import parse_client_hello

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



def test_a_certificate_issued_on_an_advanced_clock_verifies_as_the_sandbox_sees_time():
    """cert-manager issues at the sandbox's time, which may be months ahead of this machine's: OpenSSL must not
    call that certificate "not yet valid" by the machine's clock; the sandbox clock judges it (check_host)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web")])
    later = NOW + timedelta(days=60)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(later)
            .not_valid_after(later + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("web")]), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    shake = tls.handshake(tls.client_context(pem, True), tls.server_context(pem, key_pem), "web")
    assert shake.ok, shake.verify_message
    der = cert.public_bytes(serialization.Encoding.DER)
    assert tls.check_host(der, "web", later + timedelta(days=1)) == ""
    assert tls.check_host(der, "web", NOW) == "SSL certificate problem: certificate is not yet valid"


# -- the ClientHello, read before the handshake ------------------------------------------------------------

def _client_hello(server_name: str | None) -> bytes:
    """The first bytes Python's TLS client sends, captured from a socket pair."""
    a, b = socket.socketpair()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])

    def client() -> None:
        try:
            ctx.wrap_socket(a, server_hostname=server_name).close()
        except OSError:
            pass

    t = threading.Thread(target=client)
    t.start()
    data = b.recv(65536)
    b.close()
    t.join(5)
    a.close()
    return data


def test_the_sni_and_alpn_are_read_from_a_real_client_hello():
    hello = parse_client_hello(_client_hello("shop.example.test"))
    assert hello is not None and hello.server_name == "shop.example.test" and hello.alpn == ["h2", "http/1.1"]
    assert parse_client_hello(_client_hello(None)).server_name == ""
    assert parse_client_hello(b"\x16\x03\x01\x00\x05garbage") is None
    assert parse_client_hello(b"GET / HTTP/1.1\r\n") is None
