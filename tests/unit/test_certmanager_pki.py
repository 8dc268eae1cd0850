"""The ports of cert-manager's pkg/util/pki and of Go's durations, checked against upstream's own cases."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from k8snet import durations
from k8snet.sandbox.controllers.certmanager import pki, webhook
from k8snet.sandbox.errors import Cause

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("text", "seconds", "printed"), [
    ("2160h", 7776000, "2160h0m0s"), ("90m", 5400, "1h30m0s"), ("1h30m", 5400, "1h30m0s"), ("30m", 1800, "30m0s"),
    ("1.5s", 1.5, "1.5s"), ("0", 0, "0s"), ("300ms", 0.3, "300ms"), ("-5m", -300, "-5m0s")])
def test_go_durations_parse_and_print_as_time_does(text, seconds, printed):
    assert durations.parse(text) == pytest.approx(seconds)
    assert durations.format(durations.parse(text)) == printed


@pytest.mark.parametrize(("text", "message"), [
    ("1d", 'time: unknown unit "d" in duration "1d"'), ("10", 'time: missing unit in duration "10"'),
    ("h", 'time: invalid duration "h"'), ("", 'time: invalid duration ""')])
def test_bad_durations_get_gos_message(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        durations.parse(text)


def renewal(spec: dict, hours: float) -> float:
    """Hours before notAfter that RenewalTime picks for a certificate of that lifetime."""
    end = NOW + dt.timedelta(hours=hours)
    return (end - pki.renewal_time(NOW, end, spec)).total_seconds() / 3600


def test_renewal_time_follows_renewaltime_go():
    assert renewal({}, 2160) == 720  # a third
    assert renewal({"renewBefore": "1h"}, 3) == 1
    assert renewal({"renewBefore": "5h"}, 3) == 1  # not shorter than the lifetime: a third again
    assert renewal({"renewBeforePercentage": 25}, 100) == 25
    assert renewal({"renewBeforePercentage": 100}, 3) == 1


def spec(**extra) -> dict:
    return {"commonName": "a.example", "dnsNames": ["a.example"], "privateKey": {"algorithm": "ECDSA"}, **extra}


def test_a_csr_asking_for_other_usages_is_refused_with_upstreams_message():
    key = pki.generate_key(spec())
    request = pki.build_csr(spec(usages=["digital signature"]), key)
    with pytest.raises(pki.PKIError) as refused:
        pki.template_from_request(request, {"usages": ["digital signature", "key encipherment"]}, NOW)
    assert str(refused.value) == ("encoded CSR error: the KeyUsages [ 'digital signature' ] do not match the expected "
                                  "KeyUsages [ 'digital signature', 'key encipherment' ]")
    csr, facts = pki.template_from_request(request, {"usages": ["digital signature"], "duration": "2h"}, NOW)
    assert facts["notAfter"] - facts["notBefore"] == dt.timedelta(hours=2)


def test_a_spec_with_no_name_makes_no_csr():
    with pytest.raises(pki.PKIError, match="at least one of commonName"):
        pki.build_csr({"privateKey": {"algorithm": "ECDSA"}}, pki.generate_key(spec()))


def issue(name: str, issuer: tuple[x509.Certificate, pki.PrivateKey] | None, ca: bool):
    s = {"commonName": name, "isCA": ca, "privateKey": {"algorithm": "ECDSA"}}
    key = pki.generate_key(s)
    csr, facts = pki.template_from_request(pki.build_csr(s, key), s, NOW)
    cert = pki.sign(csr, facts, issuer[0] if issuer else None, issuer[1] if issuer else key,
                    x509.random_serial_number())
    return cert, key


def test_the_chain_is_leaf_and_intermediates_and_the_ca_its_root():
    root = issue("root", None, True)
    intermediate = issue("intermediate", root, True)
    leaf = issue("leaf", intermediate, False)
    chain, ca = pki.bundle([intermediate[0], root[0]], leaf[0])
    assert [c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            for c in x509.load_pem_x509_certificates(chain)] == ["leaf", "intermediate"]
    assert ca == pki.pem(root[0])
    aki = leaf[0].extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == intermediate[0].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    with pytest.raises(pki.PKIError, match="doesn't match parent's PublicKey"):
        issue("x", (root[0], intermediate[1]), False)


def test_secret_annotations_are_go_csv():
    s = {"uris": ["spiffe://a/b,c", "spiffe://d"], "ipAddresses": ["10.0.0.1", "fd00::1"],
         "privateKey": {"algorithm": "ECDSA"}}
    cert, _ = (lambda key: (pki.sign(*pki.template_from_request(pki.build_csr(s, key), s, NOW), None, key, 1), key))(
        pki.generate_key(s))
    annotations = pki.annotations_for_certificate(cert)
    assert annotations["cert-manager.io/uri-sans"] == '"spiffe://a/b,c",spiffe://d'
    assert annotations["cert-manager.io/ip-sans"] == "10.0.0.1,fd00::1"
    assert annotations["cert-manager.io/common-name"] == "" and annotations["cert-manager.io/alt-names"] == ""


def test_the_webhooks_aggregate_drops_repeats_and_brackets_several():
    one = Cause("FieldValueRequired", "Required value", "spec.a")
    two = Cause("FieldValueRequired", "Required value", "spec.b")
    assert webhook.aggregate([one]) == "spec.a: Required value"
    assert webhook.aggregate([one, one, two]) == "[spec.a: Required value, spec.b: Required value]"
