"""Lab 09 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution is
applied, graded on requests and probes from the exercise's pods (curl's status or exit code, agnhost connect) and
on Hubble's flows; wrong answers get the hint that names them (a path regex that matches only ``/api``, the
Service's port where the policy sees the pod's, a DNS rule that refuses the search list's names, a world rule, a
tier after ``default``, ``Allow`` where a guardrail should ``Pass``); hints in tiers; teardown removes the
namespaces on both clusters and the lab's tier, never the clusters.

The module's clusters are two members of a private cluster set, ``cilium`` and ``calico`` (seed 0), as the lab's
notebook connects them; nothing else runs there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from tests.conftest import private_sandbox
from tests.labs.conftest import LABS_ROOT, assert_fails_then_passes, assert_wrong_answer_hinted

import k8snet
from k8snet import labs
from k8snet.labs import lab09
from k8snet.sandbox import process

LAB = "lab-09-cni-policy"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[labs.Lab]:
    with private_sandbox(tmp_path_factory.mktemp("lab09"), cni="cilium", name="cilium"):
        try:
            process.up(seed=0, edge_http_port=0, edge_https_port=0, cni="calico", name="calico")
            loaded = labs.load(LAB, k8snet.connect("cilium", cni="cilium"),
                               calico=k8snet.connect("calico", cni="calico"))
            yield loaded
            loaded.teardown()
        finally:
            process.down(name="calico")


def _solution(exercise: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((LABS_ROOT / LAB / "solutions" / f"{exercise}.yaml").read_text()) if d]


@pytest.mark.parametrize("exercise", ["refunds", "egress", "guardrail"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    expected = {  # the symptom as curl or agnhost gave it, and what the starting state lacks
        "refunds": ["frontend → POST http://payments/api/refund: 200 'payments'",
                    "batch → GET http://payments/api/orders: 200 'payments'",
                    "no CiliumNetworkPolicy selects the payments pods for ingress"],
        "egress": ["checkout → GET https://api.payments.example/v1/charges: not resolved (curl: (6) Could not "
                   "resolve host: api.payments.example)",
                   "lab09-egress/checkout -> kube-system/coredns-", ":53 Policy denied DROPPED (UDP)",
                   "CiliumNetworkPolicy checkout-egress: to FQDN api.payments.example on 443/TCP."],
        "guardrail": ["web → db:5432: connected", "The namespace's allow-all NetworkPolicy (default tier) decides",
                      "default (order 1000000): the namespace's Kubernetes NetworkPolicies (order 1000)"],
    }[exercise]
    for phrase in expected:
        assert phrase in hint, hint
    passed = lab.check(exercise).message
    assert {"refunds": "Hubble recorded the proxy's verdict, http-request DROPPED (HTTP/1.1 POST "
                       "http://payments/api/refund), and batch's SYN, Policy denied DROPPED.",
            "egress": "Hubble: lab09-egress/checkout -> example.com:443 Policy denied DROPPED (TCP Flags: SYN)",
            "guardrail": "web → db:5432 is dropped in tier security (GlobalNetworkPolicy db-guardrail); api → "
                         "db:5432 is passed on to the default tier"}[exercise] in passed, passed


def _refunds_rule(policy: dict) -> dict:
    return policy["spec"]["ingress"][0]


@pytest.mark.parametrize(("change", "phrases"), [
    (lambda rule: rule["toPorts"][0]["rules"]["http"][0].update(path="/api"),
     ["frontend → GET http://payments/api/orders: 403 'Access denied'", "(HTTP GET /api)",
      "\"/api\" matches /api alone"]),
    (lambda rule: rule["toPorts"][0]["ports"][0].update(port="80"),
     ["frontend → GET http://payments/api/orders: timed out (curl: (28)", "on 80/TCP",
      "payments listens on 8080"]),
    (lambda rule: rule["toPorts"][0].pop("rules"),
     ["frontend → POST http://payments/api/refund: 200 'payments'", "nothing looks at the frontend's requests"]),
    (lambda rule: rule.update(fromEndpoints=[{}]),
     ["batch → GET http://payments/api/orders: 200 'payments'", "from pods {} (every pod here)"]),
], ids=["path-regex", "service-port", "no-http-rules", "every-pod"])
def test_a_wrong_l7_policy_is_named(lab, change, phrases):
    (policy,) = _solution("refunds")
    change(_refunds_rule(policy))
    assert_wrong_answer_hinted(lab, "refunds", [policy], phrases)


def test_a_dns_rule_for_one_name_refuses_the_search_list(lab):
    """docs.cilium.io "DNS based": musl's resolver stops at the proxy's REFUSED for the first search name."""
    (policy,) = _solution("egress")
    policy["spec"]["egress"][1]["toPorts"][0]["rules"]["dns"] = [{"matchName": "api.payments.example"}]
    assert_wrong_answer_hinted(lab, "egress", [policy], [
        "dns-request proxy DROPPED (DNS Query api.payments.example.lab09-egress.svc.cluster.local. A)",
        "curl (musl) stops at the first REFUSED", "matchPattern \"*\""])


def test_forgetting_the_namespace_cuts_checkout_off_from_orders(lab):
    (policy,) = _solution("egress")
    policy["spec"]["egress"] = policy["spec"]["egress"][:2]
    assert_wrong_answer_hinted(lab, "egress", [policy], [
        "checkout → GET http://orders/: timed out (curl: (28)", "egress default deny covers the cluster too"])


def test_the_world_entity_lets_in_more_than_one_name(lab):
    (policy,) = _solution("egress")
    policy["spec"]["egress"][0] = {"toEntities": ["world"]}
    assert_wrong_answer_hinted(lab, "egress", [policy], [
        "checkout → 198.51.100.10:443 (example.com's address, by IP): connected",
        "checkout reaches example.com too, by name and by IP", "to entity world on any port"])


@pytest.mark.parametrize(("change", "phrases"), [
    (lambda tier, gnp: tier["spec"].update(order=2000000),
     ["web → db:5432: connected", "Tier security comes after the default tier",
      "security (order 2000000): GlobalNetworkPolicy db-guardrail (Pass, Deny)"]),
    (lambda tier, gnp: gnp["spec"]["ingress"][0].update(action="Allow"),
     ["web → db:5432: TIMEOUT", "GlobalNetworkPolicy db-guardrail allows the app tier itself",
      "Pass hands the decision on"]),
    (lambda tier, gnp: gnp["spec"].pop("tier"),
     ["The traffic is right, but the rule that keeps web out sits in the default tier",
      "default (order 1000000): GlobalNetworkPolicy db-guardrail (Pass, Deny)"]),
    (lambda tier, gnp: gnp["spec"]["ingress"].pop(0),
     ["api → db:5432: TIMEOUT", "The app tier lost the database too"]),
], ids=["tier-after-default", "allow-not-pass", "default-tier", "deny-only"])
def test_a_guardrail_that_misses_is_named(lab, change, phrases):
    tier, gnp = _solution("guardrail")
    change(tier, gnp)
    assert_wrong_answer_hinted(lab, "guardrail", [tier, gnp], phrases)


def test_hints_come_in_tiers_symptom_first_fix_last(lab):
    words = {"refunds": ("hubble observe", "path: \"/api/.*\""),
             "egress": ("--verdict DROPPED", "matchPattern: \"*\""),
             "guardrail": ("kubectl get tiers", "action Pass")}
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
        where, fix = words[ex.id]
        assert where in ex.hints[1] and fix in ex.hints[2], ex.hints


def test_the_guardrail_runs_on_the_calico_member_and_the_others_on_cilium(lab):
    assert lab.on("refunds") is lab.cluster and lab.on("guardrail") is lab.members["calico"]
    assert lab.on("guardrail").context == "k8snet-calico" and lab.cluster.context == "k8snet-cilium"
    with pytest.raises(KeyError, match="runs on no cluster named east: its others are calico"):
        labs.load(LAB, lab.cluster, east=lab.cluster)
    assert labs.load(LAB, lab.cluster).members["calico"].context == "k8snet-calico"  # connected by load itself
    wrong = labs.load(LAB, lab.members["calico"], calico=lab.members["calico"])
    with pytest.raises(RuntimeError, match="exercise refunds needs a cluster running cilium"):
        wrong.setup("refunds")


def test_teardown_removes_the_namespaces_and_the_tier_not_the_clusters(lab):
    lab.setup("refunds")
    lab.setup("guardrail")
    lab.apply_solution("guardrail")
    lab.teardown()
    calico = lab.members["calico"]
    for ex in lab.exercises:
        lab.on(ex.id).wait_gone("Namespace", ex.namespace)
    assert [t["metadata"]["name"] for t in calico.get("Tier", api_version=lab09.CALICO)] == \
        ["default", "kube-admin", "kube-baseline"]
    assert calico.get("GlobalNetworkPolicy", api_version=lab09.CALICO) == []
    assert lab.cluster.nodes() and calico.nodes()
