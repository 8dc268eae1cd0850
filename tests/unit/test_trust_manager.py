"""The pure parts of the sandbox's trust-manager: the certificate pool, the target hash, selectors, keystores and
the webhook's checks, each against what trust-manager v0.24.0 does (pkg/util/cert_pool.go and pem_test.go,
pkg/bundle/internal/target, pkg/bundle/bundle.go, pkg/webhook/validation.go)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from k8snet import certs
from k8snet.sandbox.controllers.trust import bundles, certpool, targets, webhook
from k8snet.sandbox.controllers.trust.certpool import CertPool, PEMError

A, B = certs.authority("CA a"), certs.authority("CA b")


def pool_of(*texts: str) -> CertPool:
    pool = CertPool()
    for text in texts:
        pool.add_certs_from_pem(text.encode())
    return pool


def test_comments_and_poison_bytes_between_blocks_are_dropped_and_duplicates_kept_once():
    pool = pool_of("# my CA\n" + A.pem + "\xff trailing junk\n" + B.pem + A.pem)
    assert len(pool) == 2
    pem = pool.pem()
    assert "#" not in pem and "junk" not in pem and pem.count("BEGIN CERTIFICATE") == 2


def test_the_bundle_is_ordered_by_sha256_of_the_der_and_has_no_trailing_newline():
    def digest(pem: str) -> bytes:
        return hashlib.sha256(x509.load_pem_x509_certificate(pem.encode()).public_bytes(
            serialization.Encoding.DER)).digest()

    expected = "".join(sorted([A.pem, B.pem], key=digest)).strip()
    assert pool_of(A.pem, B.pem).pem() == expected == pool_of(B.pem, A.pem).pem()
    assert not expected.endswith("\n")


@pytest.mark.parametrize(("text", "message"), [
    (A.pair.key_pem, "invalid PEM block in bundle: only CERTIFICATE blocks are permitted but found 'PRIVATE KEY'"),
    (A.pem.replace("-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n"),
     "invalid PEM block in bundle; blocks are not permitted to have PEM headers"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
     "invalid PEM block in bundle; invalid PEM certificate: x509: malformed certificate"),
])
def test_anything_but_clean_certificates_fails_the_source(text, message):
    with pytest.raises(PEMError) as info:
        pool_of(A.pem + text)
    assert str(info.value) == message


def test_go_pem_decoding_skips_a_malformed_block_and_text_without_blocks_adds_nothing():
    broken = "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n"
    assert len(pool_of(broken + B.pem)) == 1  # encoding/pem.Decode skips it and finds the next block
    assert len(pool_of("abc123")) == 0  # pem_test.go: "invalid bundle with no certificates succeeds"
    block, rest = certpool.pem_decode(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\nafter")
    assert block is not None and block.data == b"" and rest == b"after"


def test_the_negative_serial_ec_acc_root_is_skipped_not_fatal(monkeypatch):
    der = A.pair.cert.public_bytes(serialization.Encoding.DER)
    monkeypatch.setattr(certpool, "NEGATIVE_SERIAL_CA_FINGERPRINT", hashlib.sha256(der).hexdigest())
    assert len(pool_of(A.pem, B.pem)) == 1


def test_the_target_hash_covers_the_pem_the_keystore_passwords_and_the_template_metadata():
    pem = pool_of(A.pem).pem()
    template = {"key": "ca.crt", "metadata": {"labels": {"b": "2", "a": "1"}, "annotations": {"z": "9"}}}
    formats = {"pkcs12": {"key": "t.p12", "password": "pw"}, "jks": {"key": "t.jks", "password": "changeit"}}
    expected = hashlib.sha256((pem + "changeit" + "pw" + "z9" + "a1" + "b2").encode()).hexdigest()
    assert targets.bundle_hash(pem, formats, template) == expected
    assert targets.bundle_hash(pem, None, {"key": "ca.crt"}) == hashlib.sha256(pem.encode()).hexdigest()


def test_managed_keys_are_read_from_trust_managers_entries_only():
    cm = {"metadata": {"managedFields": [
        {"manager": "trust-manager", "operation": "Apply",
         "fieldsV1": {"f:data": {"f:ca.crt": {}}, "f:binaryData": {"f:t.p12": {}}, "f:metadata": {}}},
        {"manager": "kubectl-edit", "operation": "Update", "fieldsV1": {"f:data": {"f:mine": {}}}}]}}
    assert targets.managed_keys(cm, "data", "binaryData") == {"ca.crt", "t.p12"}


def test_selectors_print_as_labels_selector_string_does():
    selector = {"matchLabels": {"team": "a"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "dev"]}, {"key": "zone", "operator": "DoesNotExist"},
        {"key": "app", "operator": "Exists"}]}
    assert bundles.selector_text(selector) == "app,env in (dev,prod),team=a,!zone"
    assert bundles.selector_text({}) == "" and bundles.selector_text(None) == ""
    with pytest.raises(bundles.SelectorError, match='"Near" is not a valid label selector operator'):
        bundles.selector_text({"matchExpressions": [{"key": "k", "operator": "Near"}]})


@pytest.mark.parametrize("profile", ["LegacyDES", "Modern2023"])
def test_pkcs12_trust_stores_read_back_with_their_password_and_java_aliases(profile):
    data = targets.pkcs12_truststore(pool_of(A.pem, B.pem), "changeit", profile)
    store = pkcs12.load_pkcs12(data, b"changeit")
    assert store.key is None and store.cert is None
    names = sorted(c.friendly_name for c in store.additional_certs)
    assert names == sorted(f"{hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest()[:8]}|"
                           f"{c.subject.rfc4514_string()}".encode() for c in (A.pair.cert, B.pair.cert))


def test_the_legacy_rc2_profile_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="cannot write the LegacyRC2 profile"):
        targets.pkcs12_truststore(pool_of(A.pem), "changeit", "")
    with pytest.raises(targets.TargetError, match="^failed to encode JKS: "):
        targets.binary_data(pool_of(A.pem), {"jks": {"key": "t.jks", "password": "changeit"}})


def bundle(sources: list[dict], target: dict | None = None, name: str = "b") -> dict:
    return {"metadata": {"name": name}, "spec": {"sources": sources,
                                                  "target": target or {"configMap": {"key": "ca.crt"}}}}


@pytest.mark.parametrize(("obj", "message"), [
    (bundle([{"secret": {"name": "s", "key": "k", "includeAllKeys": True}}]),
     'spec.sources[0].secret: Invalid value: "key: k, includeAllKeys: true": source secret key cannot be defined '
     "when includeAllKeys is true"),
    (bundle([{"useDefaultCAs": False}]), "spec.sources: Forbidden: must define at least one source"),
    (bundle([{"useDefaultCAs": True}, {"useDefaultCAs": True}]),
     "spec.sources: Forbidden: must request default CAs either once or not at all but got 2 requests"),
    (bundle([{"configMap": {"name": "b", "key": "ca.crt"}}]),
     "spec.sources[0].configMap.b.ca.crt: Forbidden: cannot define the same source as target"),
    (bundle([{"inLine": "x"}], {"configMap": {"key": "ca.crt"}, "additionalFormats": {"pkcs12": {"key": "ca.crt"}}}),
     'spec.target.additionalFormats.pkcs12.key: Invalid value: "ca.crt": key must be unique across all target '
     "output keys"),
    (bundle([{"inLine": "x"}], {"configMap": {"key": "k", "metadata": {"labels": {"trust.cert-manager.io/x": "y"}}}}),
     'spec.target.configMap.metadata.labels: Invalid value: "trust.cert-manager.io/x": trust.cert-manager.io/* '
     "labels are not allowed"),
])
def test_the_webhook_refuses_what_trust_manager_refuses(obj, message):
    assert webhook.denial(webhook.validate(obj)) == f'admission webhook "trust.cert-manager.io" denied the request: ' \
                                                    f"{message}"


def test_the_webhook_allows_a_plain_bundle_and_joins_several_errors_in_brackets():
    assert webhook.validate(bundle([{"inLine": "x"}, {"secret": {"name": "s", "key": "ca.crt"}}])) == []
    two = webhook.denial(webhook.validate(bundle([{"configMap": {"name": "n"}},
                                                  {"configMap": {"name": "m", "key": "k", "includeAllKeys": True}}])))
    assert two == ('admission webhook "trust.cert-manager.io" denied the request: [spec.sources[0].configMap: '
                   "Invalid value: \"key: ' ', includeAllKeys: false\": source configMap key must be defined when "
                   'includeAllKeys is false, spec.sources[1].configMap: Invalid value: "key: k, includeAllKeys: '
                   'true": source configMap key cannot be defined when includeAllKeys is true]')
