"""k8snet.certs: a CA, the certificates it issues, and TLS Secrets, checked by real TLS handshakes.

Sources: RFC 5280 (basicConstraints, keyUsage, key identifiers), RFC 6125 §6.4.4 (clients match host names
against the SANs, not the CN), kubernetes.io/docs/concepts/configuration/secret/#tls-secrets (a
``kubernetes.io/tls`` Secret holds ``tls.crt`` and ``tls.key``), and Python's ssl module, whose default
context verifies the chain and the host name as curl does.
"""

from __future__ import annotations

import base64
import json
import ssl

import pytest
from cryptography import x509

from k8snet import certs


def handshake(server: certs.KeyPair, host: str, cadata: str | None, tmp_path) -> dict:
    """A TLS handshake in memory: a server presenting ``server``, a client verifying against ``cadata``."""
    crt, key = tmp_path / "server.crt", tmp_path / "server.key"
    crt.write_text(server.cert_pem)
    key.write_text(server.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(crt, key)
    client_ctx = ssl.create_default_context(cadata=cadata)
    if hasattr(ssl, "VERIFY_X509_STRICT"):
        client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: the extensions must be there
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname=host)
    srv = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, srv):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        try:
            client.do_handshake()
            return client.getpeercert()
        except ssl.SSLWantReadError:
            continue
    raise AssertionError("the handshake did not finish")


@pytest.fixture(scope="module")
def ca() -> certs.Authority:
    return certs.authority("test CA")


def test_a_certificate_the_ca_issued_is_accepted_for_its_names_only(ca, tmp_path):
    leaf = ca.issue("shop.example.test", "*.shop.example.test")
    peer = handshake(leaf, "shop.example.test", ca.pem, tmp_path)
    assert dict(x[0] for x in peer["subject"])["commonName"] == "shop.example.test"
    handshake(leaf, "cart.shop.example.test", ca.pem, tmp_path)  # one label under the wildcard
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        handshake(leaf, "payments.example.test", ca.pem, tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer|self.signed"):
        handshake(leaf, "shop.example.test", certs.authority("another CA").pem, tmp_path)


def test_a_self_signed_certificate_is_trusted_only_as_itself(tmp_path):
    alone = certs.self_signed("static.example.test")
    handshake(alone, "static.example.test", alone.cert_pem, tmp_path)
    info = alone.describe()
    assert info.self_signed and not info.is_ca and info.issuer == info.subject == "CN=static.example.test"


def test_describe_shows_names_issuer_and_validity_in_days_only(ca):
    info = ca.issue("shop.example.test", "10.0.0.7", days=30).describe()
    assert info.subject == "CN=shop.example.test" and info.issuer == "CN=test CA"
    assert info.names == ("shop.example.test", "10.0.0.7") and info.days == 30
    assert not info.is_ca and not info.self_signed
    assert str(info) == "subject CN=shop.example.test · names shop.example.test, 10.0.0.7 · issuer CN=test CA · valid 30 days"
    assert info.covers("shop.example.test") and not info.covers("www.example.test")
    assert certs.describe(ca.pem).is_ca and ca.describe().days == 365
    wild = certs.describe(ca.issue("*.example.test").cert_pem)
    assert wild.covers("a.example.test") and not wild.covers("a.b.example.test") and not wild.covers("example.test")


def test_the_extensions_strict_verifiers_ask_for(ca):
    leaf = ca.issue("shop.example.test").cert
    ext = {e.oid._name: e for e in leaf.extensions}
    assert ext["basicConstraints"].critical and not ext["basicConstraints"].value.ca
    assert ext["keyUsage"].critical and ext["keyUsage"].value.digital_signature
    assert ext["authorityKeyIdentifier"].value.key_identifier == \
        ca.pair.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    client = ca.issue("cart", client=True).cert
    assert client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value[0]._name == "clientAuth"


def test_tls_secret_and_from_secret_round_trip(ca):
    leaf = ca.issue("shop.example.test")
    secret = certs.tls_secret("shop-tls", leaf, ca=ca, namespace="shop")
    assert secret["type"] == "kubernetes.io/tls" and secret["metadata"] == {"name": "shop-tls", "namespace": "shop"}
    assert base64.b64decode(secret["data"]["tls.crt"]).decode() == leaf.cert_pem
    assert base64.b64decode(secret["data"]["ca.crt"]).decode() == ca.pem
    again = certs.Authority.from_secret(certs.tls_secret("ca", ca))
    assert again.name == "test CA" and again.issue("x.example.test").describe().issuer == "CN=test CA"
    with pytest.raises(ValueError, match="is not a CA"):
        certs.Authority.from_secret(secret)
    with pytest.raises(ValueError, match="at least one host"):
        ca.issue()


def test_traefik_serves_the_secret_to_clients_that_trust_the_ca(sandbox, ns, tmp_path, ca):
    """The lesson's path end to end: Secret → Ingress spec.tls → the edge's handshake by SNI, verified."""
    from tests.ingress.conftest import Edge, backend, echo_args, ingress, rule

    host = f"tls.{ns}.test"
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(certs.tls_secret("tls", ca.issue(host))))
    backend(sandbox, ns, "web", 1, **echo_args("hello"))
    ingress(sandbox, ns, "web", [rule(host, ("/", "Prefix", "web"))], tls=[{"hosts": [host], "secretName": "tls"}])
    (tmp_path / "ca.crt").write_text(ca.pem)
    edge = Edge(sandbox)
    resp = edge.until(host, "/", https=True, cafile=tmp_path / "ca.crt")  # Traefik loads the Secret a moment later
    assert resp.text == "hello\n" and dict(x[0] for x in resp.peer["subject"])["commonName"] == host


# -- the reader: what openssl x509 -text shows (RFC 5280 §4.1, §4.2.1.3/.9/.12, §4.2.1.6) -------------------------


def test_the_reader_shows_what_openssl_x509_text_shows(ca, tmp_path):
    import subprocess

    leaf = ca.issue("shop.example.test", "10.0.0.7", client=True)
    cert = certs.read(leaf.cert_pem)
    (tmp_path / "leaf.pem").write_text(leaf.cert_pem)
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-fingerprint", "-sha256", "-in",
                           str(tmp_path / "leaf.pem")], capture_output=True, text=True, check=True).stdout
    serial = x509.load_pem_x509_certificate(leaf.cert_pem.encode()).serial_number
    assert int(cert.serial.replace(":", ""), 16) == serial and f"Serial Number:\n            {cert.serial}\n" in text
    assert "DNS:shop.example.test, IP Address:10.0.0.7" in text and cert.names == ("shop.example.test", "10.0.0.7")
    assert "TLS Web Client Authentication" in text and cert.extended_usages == ("client auth",)
    assert "Digital Signature" in text and cert.usages == ("digital signature",)
    assert "CA:FALSE" in text and (cert.is_ca, cert.path_length) == (False, None)
    assert "NIST CURVE: P-256" in text and cert.key == "ECDSA P-256"
    assert cert.fingerprint.upper() in text.replace(":", "")
    root = certs.read(ca.pem)
    assert (root.is_ca, root.path_length, root.usages) == (True, 0, ("digital signature", "cert sign", "crl sign"))
    assert cert.valid_at(cert.not_before) and not cert.valid_at(cert.not_after.replace(year=cert.not_after.year + 1))


def test_a_chain_reads_in_order_from_pem_and_der(ca):
    leaf = ca.issue("shop.example.test")
    pem_chain = certs.chain(leaf.cert_pem + ca.pem)
    assert [c.subject for c in pem_chain] == ["CN=shop.example.test", "CN=test CA"]
    der = [x509.load_pem_x509_certificate(p.encode()).public_bytes(
        __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER)
        for p in (leaf.cert_pem, ca.pem)]
    assert certs.chain(der) == pem_chain and certs.read(der[0]) == pem_chain[0]
    with pytest.raises(ValueError, match="no certificate found"):
        certs.chain("not a certificate")


def test_uri_and_email_names_are_read_by_type():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    import datetime as dt
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(hours=24))
            .add_extension(x509.SubjectAlternativeName([
                x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/web"),
                x509.RFC822Name("ops@example.test")]), critical=True)
            .sign(key, hashes.SHA256()))
    read = certs.read(cert)
    assert (read.names, read.uris, read.emails) == ((), ("spiffe://cluster.local/ns/shop/sa/web",),
                                                     ("ops@example.test",))
    assert read.subject == "(empty)" and read.days == 1 and read.serial == "01"
    assert "spiffe://cluster.local/ns/shop/sa/web" in str(read)


def test_a_secret_shows_its_chain_its_ca_and_whether_the_key_matches(ca):
    leaf = ca.issue("shop.example.test")
    secret = certs.secret(certs.tls_secret("shop-tls", certs.KeyPair(leaf.cert_pem + ca.pem, leaf.key_pem), ca=ca,
                                           namespace="shop"))
    assert secret.name == "shop/shop-tls" and secret.key == "ECDSA P-256" and secret.key_matches
    assert [c.subject for c in secret.chain] == ["CN=shop.example.test", "CN=test CA"]
    assert [c.subject for c in secret.ca] == ["CN=test CA"] and secret.leaf.covers("shop.example.test")
    text = repr(secret)
    assert "tls.crt[1]" in text and "ca.crt[0]" in text and "does NOT match" not in text
    other = ca.issue("other.example.test")
    wrong = certs.secret(certs.tls_secret("wrong", certs.KeyPair(leaf.cert_pem, other.key_pem)))
    assert not wrong.key_matches and "does NOT match the leaf certificate" in repr(wrong)
    with pytest.raises(ValueError, match="has no tls.crt: it holds token"):
        certs.secret({"metadata": {"name": "sa"}, "data": {"token": "eA=="}})
