"""policy.topology against the sandbox: which edges it draws after each policy, read back through the artists' gids.

Expected edges are written by hand from the Kubernetes documentation
(concepts/services-networking/network-policies): pods are non-isolated until a
policy selects them; a policy with no ingress rules denies all ingress to the
pods it selects; a pod always reaches itself (so self-edges are never drawn).
"""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from tests.policy.conftest import ALL, CART_TO_PAYMENT_API, DENY_ALL_INGRESS, PODS, netpol

from k8snet import policy

NAMESPACES = list(PODS)
PAYMENTS = ["payments/payment-api", "payments/ledger"]


def gids(fig: Figure, prefix: str) -> set[str]:
    return {a.get_gid() for ax in fig.axes for a in [*ax.patches, *ax.texts] if (a.get_gid() or "").startswith(prefix)}


def text(fig: Figure, gid: str) -> str:
    return next(t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == gid)


def edges(pairs) -> set[str]:
    return {f"{s}>{t}" for s, t in pairs}


def test_without_policies_everything_is_reachable_and_no_edge_is_drawn(cluster):
    fig = policy.topology(cluster, NAMESPACES, ports=[8080])
    assert text(fig, "summary") == "everything reachable: 5×5 pods on 8080/TCP"
    assert "predicted, sandbox" in text(fig, "title")
    assert gids(fig, "edge:") == set() and gids(fig, "blocked:") == set() and gids(fig, "isolated:") == set()
    assert gids(fig, "namespace:") == {f"namespace:{ns}" for ns in NAMESPACES}
    assert gids(fig, "pod:") == {f"pod:{p}" for p in ALL}
    assert text(fig, "labels:shop") == "kubernetes.io/metadata.name=shop"


def test_default_deny_draws_the_blocked_pairs_and_marks_isolated_pods(cluster):
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    fig = policy.topology(cluster, NAMESPACES, ports=[8080])
    blocked = {(s, t) for s in ALL for t in PAYMENTS if s != t}
    assert gids(fig, "blocked:") == {f"blocked:{e}" for e in edges(blocked)}
    assert gids(fig, "edge:") == set()
    assert gids(fig, "isolated:") == {f"isolated:{p}" for p in PAYMENTS}
    assert text(fig, "summary").startswith("12 of 20 connections allowed: the 8 blocked ones are drawn dashed")

    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    fig = policy.topology(cluster, NAMESPACES, ports=[8080])
    assert gids(fig, "edge:") == {"edge:shop/cart>payments/payment-api"}  # let into an isolated pod by a rule
    assert gids(fig, "blocked:") == {f"blocked:{e}" for e in edges(blocked - {("shop/cart", "payments/payment-api")})}


def test_when_most_pairs_are_blocked_the_allowed_ones_are_drawn(cluster):
    for ns in NAMESPACES:
        cluster.apply(netpol(ns, "default-deny", DENY_ALL_INGRESS))
    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    fig = policy.topology(cluster, NAMESPACES, ports=[8080])
    assert gids(fig, "edge:") == {"edge:shop/cart>payments/payment-api"}
    assert gids(fig, "blocked:") == set()
    assert text(fig, "summary") == "1 of 20 connections allowed (drawn); the rest are blocked"


def test_an_edge_allowed_on_some_ports_says_which(cluster):
    """allow-cart names the port "http" (8080): cart reaches payment-api on 8080 but not on 80."""
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    cluster.apply(netpol("payments", "allow-cart", CART_TO_PAYMENT_API))
    fig = policy.topology(cluster, NAMESPACES, ports=[8080, 80])
    assert "edge:shop/cart>payments/payment-api" in gids(fig, "edge:")
    assert text(fig, "ports:shop/cart>payments/payment-api") == "only 8080"


def test_egress_isolation_is_marked(cluster):
    cluster.apply(netpol("tools", "lockdown", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    fig = policy.topology(cluster, NAMESPACES, ports=[8080])
    assert gids(fig, "isolated:") == {"isolated:tools/debug"}
    shield = [t.get_text() for t in fig.axes[0].texts if t.get_text() in ("in", "out", "in+out")]
    assert shield == ["in+out"]
    # debug reaches no one and no one reaches debug: 8 of 20 blocked, drawn dashed
    assert gids(fig, "blocked:") == {f"blocked:{e}" for e in edges(
        {("tools/debug", p) for p in ALL if p != "tools/debug"} | {(p, "tools/debug") for p in ALL if p != "tools/debug"})}


def test_edges_can_come_from_a_given_matrix(cluster):
    """A measured matrix is drawn as measured; any matrix (here a hand-written one) is drawn as given."""
    cluster.apply(netpol("payments", "default-deny", DENY_ALL_INGRESS))
    measured = policy.measure(cluster, ALL, ALL, ports=[8080])
    fig = policy.topology(cluster, NAMESPACES, matrix=measured)
    assert "measured, sandbox" in text(fig, "title")
    assert len(gids(fig, "blocked:")) == 8

    made_up = policy.expect(ALL, ALL, ports=[8080]).set("shop/cart", "tools/debug", False)
    fig = policy.topology(cluster, NAMESPACES, matrix=made_up)
    assert gids(fig, "blocked:") == {"blocked:shop/cart>tools/debug"}
    with pytest.raises(ValueError, match="the matrix has no UDP port: it has 8080/TCP"):
        policy.topology(cluster, NAMESPACES, protocol="UDP", matrix=made_up)


def test_services_point_at_their_pods(cluster):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "payment-api", "namespace": "payments"},
           "spec": {"selector": {"app": "payment-api"}, "ports": [{"port": 80, "targetPort": "http"}]}}
    cluster.apply(svc)
    try:
        fig = policy.topology(cluster, NAMESPACES, ports=[8080])
        assert "service:payments/payment-api" in gids(fig, "service:")
        assert gids(fig, "backs:") == {"backs:payments/payment-api>payments/payment-api"}
    finally:
        cluster.delete("Service", "payment-api", "payments", wait=True)


def test_an_unknown_namespace_is_named(cluster):
    with pytest.raises(LookupError, match="namespace nope not found"):
        policy.topology(cluster, ["shop", "nope"])
