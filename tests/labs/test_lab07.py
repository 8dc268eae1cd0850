"""Lab 07 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution is
applied, graded on live TLS handshakes from client pods (curl with the lab CA, and billing's certificate); wrong
fixes get the hint that names them; hints in tiers; teardown leaves no cluster-wide object of the lab behind."""

from __future__ import annotations

import pytest
import yaml
from tests.labs.conftest import LABS_ROOT, assert_fails_then_passes, assert_wrong_answer_hinted

from k8snet.labs import lab07

LAB = "lab-07-certificates"
CM = "cert-manager.io/v1"


def _start_doc(exercise: str, kind: str) -> dict:
    docs = yaml.safe_load_all((LABS_ROOT / LAB / "start" / f"{exercise}.yaml").read_text())
    return next(d for d in docs if d and d["kind"] == kind)


def _billing(**spec) -> dict:
    return {"apiVersion": CM, "kind": "Certificate", "metadata": {"name": "billing"},
            "spec": {"secretName": "billing-identity", "issuerRef": {"name": "lab07-ca", "kind": "ClusterIssuer"},
                     **spec}}


@pytest.mark.parametrize("exercise", ["issuer", "names", "mtls"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    expected = {  # the symptom as curl or nginx gave it, and what cert-manager or the kubelet said
        "issuer": ['https://orders/ from the client pod: connection refused',
                   'secret "orders-tls" not found',
                   "Referenced issuer does not have a Ready status condition"],
        "names": ["no alternative certificate subject name matches target host name 'inventory'",
                  "names inventory.example.test, not inventory or inventory.lab07-names.svc.cluster.local"],
        "mtls": ["400: no client certificate sent", "that Secret does not exist in lab07-mtls"]}[exercise]
    for phrase in expected:
        assert phrase in hint, hint


def test_turning_client_verification_off_is_refused_with_the_reason(lab):
    site = _start_doc("mtls", "ConfigMap")
    site["data"]["default.conf"] = site["data"]["default.conf"].replace("ssl_verify_client      on",
                                                                        "ssl_verify_client      off")
    lab.setup("mtls")
    ns = lab.exercise("mtls").namespace
    lab.cluster.apply([site, _billing(commonName="billing", usages=["client auth", "digital signature"])],
                      namespace=ns)
    lab07.restart(lab.cluster, ns, "ledger")  # nginx reads its configuration at start
    result = lab.check("mtls")
    assert not result.passed, result.message
    for phrase in ["intruder, which presents no certificate, got 200", "ssl_verify_client off",
                   "what mutual TLS is for"]:
        assert phrase in result.message, result.message


@pytest.mark.parametrize(("certificate", "phrases"), [
    (_billing(commonName="billing", usages=["server auth", "digital signature"]),
     ["400: client certificate refused", "allows only server auth", "it needs client auth"]),
    (_billing(dnsNames=["billing"], usages=["client auth", "digital signature"]),
     ["nginx let billing in but names it ''", "commonName billing"]),
], ids=["server-auth-only", "no-common-name"])
def test_a_client_certificate_nginx_cannot_use_is_named(lab, certificate, phrases):
    assert_wrong_answer_hinted(lab, "mtls", [certificate], phrases)


def test_a_certificate_from_another_ca_is_named(lab):
    own = {"apiVersion": CM, "kind": "Issuer", "metadata": {"name": "own"}, "spec": {"selfSigned": {}}}
    orders = yaml.safe_load((LABS_ROOT / LAB / "solutions" / "issuer.yaml").read_text())
    orders["spec"]["issuerRef"] = {"name": "own", "kind": "Issuer"}
    assert_wrong_answer_hinted(lab, "issuer", [own, orders],
                               ["self-signed, not trusted", "not by the lab CA (CN=lab07 CA)"])


def test_new_names_without_a_restart_point_at_the_server(lab):
    fixed = yaml.safe_load((LABS_ROOT / LAB / "solutions" / "names.yaml").read_text())
    assert_wrong_answer_hinted(lab, "names", [fixed],
                               ["holds a certificate from the lab CA for inventory",
                                "nginx still serves the one it loaded when it started",
                                "kubectl rollout restart deployment inventory -n lab07-names"])


def test_hints_come_in_tiers_symptom_first_fix_last(lab):
    words = {"issuer": ("kubectl describe issuer", "kind: ClusterIssuer"),
             "names": ("subjectAltNames", "dnsNames"),
             "mtls": ("ssl_client_certificate", "usages [client auth")}
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
        where, fix = words[ex.id]
        assert where in ex.hints[1] and fix in ex.hints[2], ex.hints


def test_teardown_removes_the_lab_ca_and_issuers_made_on_it(lab):
    lab.setup("names")
    learner = {"apiVersion": CM, "kind": "ClusterIssuer", "metadata": {"name": "my-lab07-ca"},
               "spec": {"ca": {"secretName": "lab07-ca"}}}
    lab.cluster.apply(learner)
    lab.teardown()
    left = [i["metadata"]["name"] for i in lab.cluster.get("ClusterIssuer", api_version=CM)]
    assert not {"lab07-ca", "lab07-selfsigned", "my-lab07-ca"} & set(left), left
    bundles = lab.cluster.get("Bundle", api_version="trust.cert-manager.io/v1alpha1")
    assert "lab07-ca" not in [b["metadata"]["name"] for b in bundles]
    assert [s["metadata"]["name"] for s in lab.cluster.get("Secret", namespace="cert-manager")
            if s["metadata"]["name"] == "lab07-ca"] == []
