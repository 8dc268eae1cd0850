"""Lab 02 regression, both ways: every check FAILS on its starting state and PASSES after the solution,
and the hints for common wrong answers name the wrong cell and the cause.

The expected matrices follow the Kubernetes documentation
(kubernetes.io/docs/concepts/services-networking/network-policies): "Behavior of to and from selectors"
(one peer with both selectors is AND, two peers are OR; a podSelector alone means the policy's own
namespace), "Default policies" (an empty podSelector selects every pod; Ingress in policyTypes without
rules denies), and the egress isolation rule that makes DNS lookups fail until port 53 is allowed.
"""

from __future__ import annotations

import pytest
from tests.labs.conftest import assert_fails_then_passes, assert_wrong_answer_hinted

from k8snet.labs import lab02

LAB = "lab-02-network-policies"


def netpol(name: str, spec: dict) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}


SHOP_NS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "lab02-shop"}}}
CART = {"podSelector": {"matchLabels": {"app": "cart"}}}
PAYMENT_API = {"matchLabels": {"app": "payment-api"}}


def allow_cart(peers: list[dict], ports: list[dict] | None = None, selector: dict | None = None) -> dict:
    rule: dict = {"from": peers}
    if ports is not None:
        rule["ports"] = ports
    return netpol("allow-cart", {"podSelector": PAYMENT_API if selector is None else selector,
                                 "policyTypes": ["Ingress"], "ingress": [rule]})


@pytest.mark.parametrize("exercise", ["deny", "allow-cart", "egress", "and-or"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    assert " can still reach " in hint or " cannot reach " in hint, hint


# (exercise, wrong answer applied in its namespace, phrases its hint must contain)
WRONG = {
    "deny: a policy for payment-api only leaves the ledger open": (
        "deny", [netpol("default-deny", {"podSelector": PAYMENT_API, "policyTypes": ["Ingress"]})],
        ["lab02-shop/frontend can still reach lab02-deny/ledger on 8080/TCP",
         "no NetworkPolicy selects lab02-deny/ledger for Ingress", "podSelector: {}"]),
    "deny: Egress in policyTypes cuts the pods' own traffic": (
        "deny", [netpol("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})],
        ["lab02-deny/payment-api cannot reach lab02-shop/cart on 8080/TCP (TIMEOUT)", "leave Egress out"]),
    "deny: an empty rule allows everything": (
        "deny", [netpol("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]})],
        ["lab02-shop/frontend can still reach lab02-deny/payment-api on 8080/TCP",
         "lab02-deny/default-deny ingress rule 1 lets it through", "no ingress rules at all"]),
    "allow-cart: no ports opens the admin port": (
        "allow-cart", [allow_cart([{**SHOP_NS, **CART}])],
        ["lab02-shop/cart can still reach lab02-allow/payment-api on 9090/TCP", "port: http"]),
    "allow-cart: two peers let the whole shop in": (
        "allow-cart", [allow_cart([SHOP_NS, CART], [{"port": "http"}])],
        ["lab02-shop/frontend can still reach lab02-allow/payment-api on 8080/TCP", "two separate peers (OR)",
         "ONE peer"]),
    "allow-cart: any namespace lets the impostor in": (
        "allow-cart", [allow_cart([{"namespaceSelector": {}, **CART}], [{"port": "http"}])],
        ["lab02-tools/impostor can still reach lab02-allow/payment-api on 8080/TCP", "labelled itself app: cart",
         "select the namespace lab02-shop"]),
    "allow-cart: selecting every pod opens the ledger": (
        "allow-cart", [allow_cart([{**SHOP_NS, **CART}], [{"port": "http"}], selector={})],
        ["lab02-shop/cart can still reach lab02-allow/ledger on 8080/TCP", "selects the ledger too"]),
    "allow-cart: a podSelector alone looks in the policy's own namespace": (
        "allow-cart", [allow_cart([CART], [{"port": "http"}])],
        ["lab02-shop/cart cannot reach lab02-allow/payment-api on 8080/TCP (TIMEOUT)",
         "lab02-shop/cart is in namespace lab02-shop, not lab02-allow"]),
    "egress: a deny without the reporter's rule": (
        "egress", [netpol("default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})],
        ["lab02-egress/reporter cannot reach lab02-shop/frontend on 8080/TCP (TIMEOUT)",
         "egress from lab02-egress/reporter: isolated by lab02-egress/default-deny-egress"]),
    "egress: the reporter may reach the whole shop": (
        "egress", [netpol("default-deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]}),
                   netpol("reporter", {"podSelector": {"matchLabels": {"app": "reporter"}}, "policyTypes": ["Egress"],
                                       "egress": [{"to": [SHOP_NS], "ports": [{"port": 8080}]}]})],
        ["lab02-egress/reporter can still reach lab02-shop/cart on 8080/TCP",
         "lab02-egress/reporter egress rule 1 lets it through"]),
    "and-or: a podSelector alone shuts the cart out": (
        "and-or", [allow_cart([CART], [{"port": "http"}])],
        ["lab02-shop/cart cannot reach lab02-andor/payment-api on 8080/TCP (TIMEOUT)",
         "only matches pods in the policy's own namespace"]),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_hints_name_the_wrong_cell_and_the_cause(lab, case):
    exercise, manifests, phrases = WRONG[case]
    assert_wrong_answer_hinted(lab, exercise, manifests, phrases)


def test_starting_state_hints(lab):
    """The hints the learner meets first, for the two exercises that start with policies in place."""
    lab.setup("and-or")
    message = lab.check("and-or").message
    assert message.startswith("1 of 4 cells is wrong: lab02-shop/frontend can still reach lab02-andor/payment-api "
                              "on 8080/TCP. ")
    assert "two separate peers (OR)" in message and "ONE peer (AND)" in message
    lab.setup("allow-cart")
    assert "lab02-shop/cart cannot reach lab02-allow/payment-api on 8080/TCP (TIMEOUT)" in lab.check("allow-cart").message


def test_egress_without_dns_names_the_lookup(lab):
    """The matrix can be right while DNS is broken: the check resolves a name from each pod too."""
    lab.setup("egress")
    solution = lab.solution_path("egress").read_text().split("---")
    without_dns = [doc for doc in solution if "name: allow-dns" not in doc]
    lab.cluster.apply("---".join(without_dns), namespace="lab02-egress")
    message = lab.check("egress").message
    assert message.startswith("The matrix is right, but DNS is broken: `nslookup kubernetes.default` in "
                              "lab02-egress/batch says"), message
    assert "port 53" in message and "kube-dns" in message


def test_the_picture_marks_the_wrong_cells(lab):
    lab.setup("and-or")
    fig = lab02.picture(lab.cluster, "and-or")
    wrong = [p.get_gid() for p in fig.axes[0].patches if (p.get_gid() or "").startswith("wrong:")]
    assert wrong == ["wrong:lab02-shop/frontend>lab02-andor/payment-api:8080/TCP"]


def test_teardown_deletes_the_shared_namespaces_too(lab):
    lab.setup("deny")
    lab.teardown()
    for name in ("lab02-deny", "lab02-shop", "lab02-tools"):
        phase = lab.cluster.core.read_namespace(name).status.phase if name in lab.cluster.namespaces() else None
        assert phase in (None, "Terminating"), f"{name} is {phase}"


def test_every_exercise_has_a_solution_file(lab):
    for ex in lab.exercises:
        assert lab.solution_path(ex.id).is_file()
