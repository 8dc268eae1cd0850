"""The certificate-shim's annotations and update rule, function by function.

Expected values and messages are cert-manager v1.21.1's: pkg/controller/certificate-shim/helper.go
(translateAnnotations, whose helper_test.go cases these follow), sync.go (issuerForIngressLike, certNeedsUpdate,
hasShimAnnotation) and pkg/util SplitWithEscapeCSV over Go's encoding/csv.
"""

from __future__ import annotations

import pytest

from k8snet.sandbox.controllers.certmanager import shim
from k8snet.sandbox.controllers.certmanager import shimannotations as ann


def translated(annotations: dict[str, str], spec: dict | None = None) -> dict:
    spec = dict(spec or {"secretName": "s"})
    ann.translate(spec, annotations)
    return spec


def test_every_certificate_annotation_lands_in_the_spec():
    spec = translated({
        "cert-manager.io/common-name": "www.example.com", "cert-manager.io/alt-names": "a.example.com,b.example.com",
        "cert-manager.io/ip-sans": "10.0.0.1,::1", "cert-manager.io/email-sans": "a@example.com,b@example.com",
        "cert-manager.io/subject-organizations": '"Acme, Inc",Example', "cert-manager.io/subject-countries": "FR",
        "cert-manager.io/subject-organizationalunits": "Ops", "cert-manager.io/subject-provinces": "Nord",
        "cert-manager.io/subject-localities": "Lille", "cert-manager.io/subject-postalcodes": "59000",
        "cert-manager.io/subject-streetaddresses": "1 Rue", "cert-manager.io/subject-serialnumber": "42",
        "cert-manager.io/duration": "2160h", "cert-manager.io/renew-before": "90m",
        "cert-manager.io/renew-before-percentage": "25", "cert-manager.io/usages": "digital signature , server auth",
        "cert-manager.io/revision-history-limit": "7", "cert-manager.io/private-key-algorithm": "ECDSA",
        "cert-manager.io/private-key-encoding": "PKCS8", "cert-manager.io/private-key-size": "521",
        "cert-manager.io/private-key-rotation-policy": "Never", "cert-manager.io/uri-sans": "spiffe://x/y",
        "cert-manager.io/secret-template": '{"Annotations": {"a": "b"}, "labels": {"team": "x"}}'},
        {"secretName": "s", "dnsNames": ["example.com"]})
    assert spec == {
        "secretName": "s", "commonName": "www.example.com",
        "dnsNames": ["example.com", "a.example.com", "b.example.com"], "ipAddresses": ["10.0.0.1", "::1"],
        "emailAddresses": ["a@example.com", "b@example.com"],
        "subject": {"organizations": ["Acme, Inc", "Example"], "organizationalUnits": ["Ops"], "countries": ["FR"],
                    "provinces": ["Nord"], "localities": ["Lille"], "postalCodes": ["59000"],
                    "streetAddresses": ["1 Rue"], "serialNumber": "42"},
        "duration": "2160h0m0s", "renewBefore": "1h30m0s", "renewBeforePercentage": 25,
        "usages": ["digital signature", "server auth"], "revisionHistoryLimit": 7,
        "privateKey": {"algorithm": "ECDSA", "encoding": "PKCS8", "size": 521, "rotationPolicy": "Never"},
        "secretTemplate": {"annotations": {"a": "b"}, "labels": {"team": "x"}}}  # no uriSANs: upstream reads none
    assert translated({"cert-manager.io/private-key-size": "4096"})["privateKey"] == {"size": 4096}  # RSA default
    assert translated({"cert-manager.io/secret-template": "{}"}) == {"secretName": "s"}
    assert translated({"cert-manager.io/alt-names": ""}) == {"secretName": "s"}


@pytest.mark.parametrize(("key", "value", "why"), [
    ("duration", "90d", 'time: unknown unit "d" in duration "90d"'),
    ("renew-before", "soon", 'time: invalid duration "soon"'),
    ("renew-before-percentage", "ten", 'strconv.ParseInt: parsing "ten": invalid syntax'),
    ("usages", "server auth,teleport", 'invalid key usage name "teleport"'),
    ("revision-history-limit", "0", 'revision history limit must be a positive number "0"'),
    ("revision-history-limit", "3000000000", 'strconv.ParseInt: parsing "3000000000": value out of range'),
    ("private-key-algorithm", "rsa", 'invalid private key algorithm "rsa"'),
    ("private-key-encoding", "PEM", 'invalid private key encoding "PEM"'),
    ("private-key-size", "big", 'strconv.Atoi: parsing "big": invalid syntax'),
    ("private-key-size", "1024", 'invalid private key size for RSA algorithm "1024"'),
    ("private-key-rotation-policy", "Sometimes", 'invalid private key rotation policy "Sometimes"'),
    ("subject-countries", 'F"R', 'failed to parse "F\\"R" as CSV: parse error on line 1, column 2: bare " in '
                                 'non-quoted-field'),
    ("subject-localities", "", 'no values found after parsing ""'),
    ("secret-template", '{"annotations": {"cert-manager.io/x": "y"}}',
     'secretTemplate must not have cert-manager.io/ annotations: "cert-manager.io/x"'),
    ("secret-template", '{"data": {}}', 'error parsing secret template JSON: json: unknown field "data"'),
    ("secret-template", "{nope", "error parsing secret template JSON: invalid character 'n' looking for beginning "
                                 "of value"),
])
def test_a_value_upstream_cannot_parse_names_the_annotation(key, value, why):
    with pytest.raises(ann.BadAnnotation) as caught:
        translated({f"cert-manager.io/{key}": value})
    assert str(caught.value) == f'invalid ingress annotation "cert-manager.io/{key}": {why}'


def test_an_ecdsa_size_is_checked_against_the_algorithm_annotation():
    with pytest.raises(ann.BadAnnotation, match='invalid private key size for ECDSA algorithm "2048"'):
        translated({"cert-manager.io/private-key-algorithm": "ECDSA", "cert-manager.io/private-key-size": "2048"})
    assert translated({"cert-manager.io/private-key-algorithm": "Ed25519", "cert-manager.io/private-key-size": "1"}
                      )["privateKey"] == {"algorithm": "Ed25519", "size": 1}  # not checked for Ed25519
    with pytest.raises(ann.BadAnnotation, match='"cert-manager.io/subject-organizations": failed to parse'):
        translated({"cert-manager.io/subject-organizationalunits": 'a"b'})  # upstream names this key for OUs too


def test_the_issuer_comes_from_the_annotations_over_the_controller_defaults():
    assert ann.issuer_for({"cert-manager.io/issuer": "ca"}) == ("ca", "Issuer", "cert-manager.io")
    assert ann.issuer_for({"cert-manager.io/cluster-issuer": "ca"}) == ("ca", "ClusterIssuer", "cert-manager.io")
    assert ann.issuer_for({"cert-manager.io/issuer": "pca", "cert-manager.io/issuer-kind": "AWSPCAIssuer",
                           "cert-manager.io/issuer-group": "awspca.cert-manager.io"}) == (
        "pca", "AWSPCAIssuer", "awspca.cert-manager.io")
    assert ann.issuer_for({}, default_name="le", default_kind="ClusterIssuer") == ("le", "ClusterIssuer",
                                                                                  "cert-manager.io")
    with pytest.raises(ann.BadIssuer) as caught:
        ann.issuer_for({"kubernetes.io/tls-acme": "true"})
    assert str(caught.value) == "failed to determine issuer name to be used for ingress resource"
    with pytest.raises(ann.BadIssuer) as caught:
        ann.issuer_for({"cert-manager.io/issuer": "", "cert-manager.io/cluster-issuer": "b",
                        "cert-manager.io/issuer-kind": "X", "cert-manager.io/issuer-group": "g"})
    assert str(caught.value) == ('both "cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set, '
                                 'both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-group" may not be '
                                 'set, both "cert-manager.io/cluster-issuer" and "cert-manager.io/issuer-kind" may not '
                                 'be set')


def test_which_objects_are_shimmed():
    auto = ("kubernetes.io/tls-acme",)
    assert shim.has_shim_annotation({"cert-manager.io/issuer": ""}, ())  # present is enough
    assert shim.has_shim_annotation({"kubernetes.io/tls-acme": "True"}, auto)
    assert shim.has_shim_annotation({"kubernetes.io/tls-acme": "1"}, auto)
    assert not shim.has_shim_annotation({"kubernetes.io/tls-acme": "yes"}, auto)  # strconv.ParseBool refuses it
    assert not shim.has_shim_annotation({"kubernetes.io/tls-acme": "true"}, ())  # a Gateway: no auto annotations
    assert not shim.has_shim_annotation({"cert-manager.io/issuer-kind": "Issuer"}, auto)


def cert(spec: dict, labels: dict | None = None) -> dict:
    return {"metadata": {"name": "x", "labels": labels} if labels else {"name": "x"}, "spec": spec}


BASE = {"secretName": "x-tls", "dnsNames": ["a.test"], "ipAddresses": ["10.0.0.1"],
        "issuerRef": {"name": "ca", "kind": "Issuer", "group": "cert-manager.io"},
        "usages": ["digital signature", "key encipherment"], "duration": "2160h0m0s"}


@pytest.mark.parametrize(("change", "needed"), [
    ({"dnsNames": ["a.test", "b.test"]}, True), ({"dnsNames": ["b.test", "a.test"]}, True),
    ({"commonName": "a.test"}, True), ({"issuerRef": {"name": "other", "kind": "Issuer"}}, True),
    ({"issuerRef": {"name": "ca", "kind": "ClusterIssuer"}}, True), ({"revisionHistoryLimit": 3}, True),
    ({"privateKey": {"algorithm": "ECDSA"}}, True), ({"privateKey": {"size": 4096}}, True),
    ({"renewBefore": "1h"}, True), ({"duration": "1h"}, True),
    ({"duration": "2160h"}, False),
    ({"ipAddresses": ["10.0.0.2"]}, False), ({"usages": ["server auth"]}, False),
    ({"issuerRef": {"name": "ca", "kind": "Issuer", "group": "other.io"}}, False),
    ({"emailAddresses": ["a@b.c"]}, False),
])
def test_cert_needs_update_compares_only_what_upstream_compares(change, needed):
    wanted = {**BASE, **change}
    assert shim.needs_update(cert(BASE), cert(wanted)) is needed


def test_labels_count_and_ed25519_sizes_do_not():
    assert shim.needs_update(cert(BASE), cert(BASE, {"app": "shop"}))
    assert not shim.needs_update(cert(BASE, {}), cert(BASE))
    ed = {**BASE, "privateKey": {"algorithm": "Ed25519", "size": 1}}
    assert not shim.needs_update(cert(ed), cert({**ed, "privateKey": {"algorithm": "Ed25519"}}))


def test_csv_as_go_reads_it():
    assert ann.split_with_escape_csv("a,b") == ["a", "b"]
    assert ann.split_with_escape_csv('"x ""y"" z",') == ['x "y" z', ""]
    assert ann.split_with_escape_csv(" a , b") == [" a ", " b"]  # no trimming (TrimLeadingSpace is off)
    with pytest.raises(ValueError, match='refusing to use "a\\\\nb" as input as it parses as multiple lines'):
        ann.split_with_escape_csv("a\nb")
    with pytest.raises(ValueError, match='column 4: extraneous or missing " in quoted-field'):
        ann.split_with_escape_csv('"a"b')
