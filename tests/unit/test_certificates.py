"""The certificates API's pure pieces: signer-name validation, the signers' checks, the authority's duration and
subject, the cleaner's deadlines (sources named in each test)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k8snet.sandbox.certificates import authority, signers
from k8snet.sandbox.certificates import csr as csrs
from k8snet.sandbox.certificates.validation import certificate_problem, go_bytes, validate_signer_name
from k8snet.sandbox.controllers.csrcleaner import should_delete

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def messages(causes) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_signer_names_as_validate_signer_name_words_them():
    """pkg/apis/core/validation ValidateSignerName."""
    assert validate_signer_name("spec.signerName", "example.com/my-signer") == []
    assert messages(validate_signer_name("spec.signerName", "")) == ["spec.signerName: Required value"]
    assert messages(validate_signer_name("spec.signerName", "Example.com/x")) == [
        'spec.signerName: Invalid value: "Example.com": validating label "Example": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert messages(validate_signer_name("spec.signerName", "a/b/c")) == [
        "spec.signerName: Invalid value: \"a/b/c\": must be a fully qualified domain and path of the form "
        "'example.com/signer-name'"]


def test_go_bytes_is_percent_sharp_v():
    assert go_bytes(b"-\n\x00") == "[]byte{0x2d, 0xa, 0x0}"


def test_certificate_content_rules():
    """validateCertificate."""
    assert certificate_problem(b"") is None
    assert certificate_problem(b"text only") == "must contain at least one CERTIFICATE PEM block"
    assert certificate_problem(b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n") == \
        'only CERTIFICATE PEM blocks are allowed, found "FOO"'


def test_the_signers_checks():
    """signer.go validAPIServerClientUsages, helpers.go ValidateKubeletClientCSR / ValidateKubeletServingCSR."""
    user = csrs.Subject("jane", ("dev",))
    assert signers.apiserver_client(user, ["client auth", "digital signature"]) is None
    assert signers.apiserver_client(user, ["digital signature"]) == \
        "missing required usage for client certificate: client auth"
    node = csrs.Subject("system:node:n1", ("system:nodes",))
    assert signers.kubelet_client(node, ["digital signature", "client auth"]) is None
    assert signers.kubelet_client(node, ["client auth"]) == \
        "usages did not match [client auth digital signature key encipherment]"
    assert signers.kubelet_serving(node, ["server auth"]) == "DNS or IP subjectAltName is required"
    assert signers.kubelet_serving(csrs.Subject("n1", ("system:nodes",), dns_names=("n1",)),
                                   ["digital signature", "server auth"]) == \
        "subject common name does not begin with system:node:"


def test_duration_is_capped_and_floored():
    """signer.go duration."""
    assert authority.duration(None) == dt.timedelta(days=365)
    assert authority.duration(600) == dt.timedelta(minutes=10)
    assert authority.duration(10 * 365 * 86400) == dt.timedelta(days=365)


def test_the_issued_subject_is_in_go_order_with_multivalued_organizations():
    """crypto/x509 pkix.Name.ToRDNSequence: O before CN, several O values in one RDN, unknown attributes dropped;
    policies.go: backdated 5 minutes, a short certificate's end not backdated."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jane"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "a"),
                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, "j@example.com"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "b")])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    assert authority.go_subject(request.subject).rfc4514_string() == "CN=jane,O=a+O=b"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=9))
          .sign(ca_key, hashes.SHA256()))
    cert = authority.sign(request, ["client auth"], dt.timedelta(hours=1), ca_key, ca, NOW, 7)
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (NOW - dt.timedelta(minutes=5),
                                                                     NOW + dt.timedelta(hours=1))
    long = authority.sign(request, ["client auth"], dt.timedelta(days=30), ca_key, ca, NOW, 8)
    assert long.not_valid_after_utc == ca.not_valid_after_utc  # never past the CA


def test_cleaner_deadlines():
    """cleaner.go: issued or denied 1h after the condition's update, pending 24h after creation."""
    def csr(created: dt.timedelta, conditions: list[dict], cert: str = "") -> dict:
        stamp = (NOW - created).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"metadata": {"creationTimestamp": stamp},
                "status": {"conditions": [{**c, "lastUpdateTime": stamp} for c in conditions], "certificate": cert}}

    approved = [{"type": "Approved", "status": "True"}]
    assert should_delete(csr(dt.timedelta(hours=2), approved, "Y2VydA=="), NOW)
    assert not should_delete(csr(dt.timedelta(hours=2), approved), NOW)  # approved, never issued: kept
    assert should_delete(csr(dt.timedelta(hours=2), [{"type": "Denied", "status": "True"}]), NOW)
    assert not should_delete(csr(dt.timedelta(hours=23), []), NOW)
    assert should_delete(csr(dt.timedelta(hours=25), []), NOW)
