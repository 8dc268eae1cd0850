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
