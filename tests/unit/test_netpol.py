"""k8snet.netpol, the NetworkPolicy semantics, on hand-built peers (the sandbox and kind tests go through traffic).

Each case cites the sentence of the Kubernetes documentation
(concepts/services-networking/network-policies) or the API reference it follows.
"""

from __future__ import annotations

import pytest

from k8snet.netpol import Peer, PolicySet, describe_peer, policy_types

NS = {"shop": {"kubernetes.io/metadata.name": "shop", "team": "web"},
      "payments": {"kubernetes.io/metadata.name": "payments", "pci": "true"}}


def pod(ns: str, name: str, ip: str, node: str = "k8snet-worker", ports=(), **labels) -> Peer:
    return Peer(ip=ip, namespace=ns, name=name, labels={"app": name, **labels}, namespace_labels=NS.get(ns, {}),
                node=node, ports=tuple(ports))


CART = pod("shop", "cart", "10.244.1.5")
FRONTEND = pod("shop", "frontend", "10.244.2.7", node="k8snet-worker2")
API = pod("payments", "payment-api", "10.244.2.9", node="k8snet-worker2", ports=[("http", 8080, "TCP"),
                                                                                ("metrics", 9090, "TCP")])
LEDGER = pod("payments", "ledger", "10.244.1.8")


def np(ns: str, name: str, **spec) -> dict:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"podSelector": {}, **spec}}


def allowed(policies, src, dst, port=8080, protocol="TCP") -> bool:
    return PolicySet(policies).evaluate(src, dst, port, protocol).allowed


def test_no_policy_means_not_isolated():
    """"By default, a pod is non-isolated for egress; all outbound connections are allowed" (and for ingress)."""
    assert allowed([], CART, API)


def test_policy_types_default_from_the_rules():
    """SetDefaults_NetworkPolicy: Ingress always; Egress only when the policy has egress rules."""
    assert policy_types(np("x", "a")) == ["Ingress"]
    assert policy_types(np("x", "a", egress=[{}])) == ["Ingress", "Egress"]
    assert policy_types(np("x", "a", egress=[])) == ["Ingress"]
    assert policy_types(np("x", "a", policyTypes=["Egress"])) == ["Egress"]


def test_a_policy_without_rules_isolates_and_allows_nothing():
    deny = np("payments", "deny")
    assert not allowed([deny], CART, API)
    assert allowed([deny], API, CART), "isolation applies per direction: egress of payments is untouched"


def test_an_empty_rule_allows_everything():
    """An ingress rule with neither from nor ports matches every peer on every port."""
    assert allowed([np("payments", "deny"), np("payments", "all", ingress=[{}])], CART, API, 1234)


def test_policies_are_a_union():
    """"Network policies do not conflict; they are additive."""
    only_cart = np("payments", "cart", ingress=[{"from": [{"namespaceSelector": {}, "podSelector": {
        "matchLabels": {"app": "cart"}}}]}])
    only_frontend = np("payments", "fe", ingress=[{"from": [{"namespaceSelector": {}, "podSelector": {
        "matchLabels": {"app": "frontend"}}}]}])
    assert allowed([only_cart, only_frontend], CART, API) and allowed([only_cart, only_frontend], FRONTEND, API)
    assert not allowed([only_cart], FRONTEND, API)


def test_both_directions_must_allow():
    """"both the egress policy on the source pod and the ingress policy on the destination pod need to allow"."""
    egress_deny = np("shop", "no-egress", policyTypes=["Egress"])
    assert not allowed([egress_deny], CART, API)
    v = PolicySet([egress_deny]).evaluate(CART, API, 8080)
    assert not v.egress.allowed and v.ingress.allowed and "egress from shop/cart" in v.summary()


def test_pod_selector_alone_means_the_policys_namespace():
    rule = np("payments", "p", ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "cart"}}}]}])
    assert not allowed([rule], CART, API), "cart is in shop, not payments"
    cart_in_payments = pod("payments", "cart", "10.244.1.20")
    assert allowed([rule], cart_in_payments, API)


def test_and_within_one_peer_or_across_peers():
    """One peer with namespaceSelector and podSelector selects pods matching both; two peers are alternatives."""
    and_peer = np("payments", "p", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}},
                                                       "podSelector": {"matchLabels": {"app": "cart"}}}]}])
    or_peers = np("payments", "p", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}},
                                                      {"podSelector": {"matchLabels": {"app": "cart"}}}]}])
    assert allowed([and_peer], CART, API) and not allowed([and_peer], FRONTEND, API)
    assert allowed([or_peers], CART, API) and allowed([or_peers], FRONTEND, API)
    assert "AND" in describe_peer(and_peer["spec"]["ingress"][0]["from"][0], "payments")
    text = PolicySet([or_peers]).evaluate(FRONTEND, API, 8080).walkthrough()
    assert "      from namespaceSelector {team=web}" in text and "      or from podSelector {app=cart}" in text


def test_empty_namespace_selector_means_every_namespace():
    rule = np("payments", "p", ingress=[{"from": [{"namespaceSelector": {}}]}])
    assert allowed([rule], CART, API) and allowed([rule], LEDGER, API)
    assert not allowed([rule], Peer(ip="203.0.113.9"), API), "selectors match pods only, not outside addresses"


def test_match_expressions():
    rule = np("payments", "p", ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "pci", "operator": "DoesNotExist"}]}}]}])
    assert allowed([rule], CART, API) and not allowed([rule], LEDGER, API)


@pytest.mark.parametrize("cidr, excepted, src_ip, ok", [
    ("10.244.0.0/16", [], "10.244.1.5", True),
    ("10.244.0.0/16", ["10.244.1.0/24"], "10.244.1.5", False),
    ("10.244.2.0/24", [], "10.244.1.5", False),
    ("0.0.0.0/0", ["10.0.0.0/8"], "203.0.113.9", True),
])
def test_ip_block_with_except(cidr, excepted, src_ip, ok):
    """ipBlock "describes a particular CIDR"; "except is a slice of CIDRs that should not be included"."""
    rule = np("payments", "p", ingress=[{"from": [{"ipBlock": {"cidr": cidr, "except": excepted}}]}])
    src = Peer(ip=src_ip) if src_ip.startswith("203.") else pod("shop", "cart", src_ip)
    assert allowed([rule], src, API) is ok


def test_ip_block_never_matches_a_service_ip_after_dnat():
    """Egress is judged on the pod address after kube-proxy's DNAT: a ClusterIP in an ipBlock matches nothing."""
    rule = np("shop", "p", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "10.96.0.0/12"}}]}])
    assert not allowed([rule], CART, API)


@pytest.mark.parametrize("rule_port, port, protocol, ok", [
    ({"port": 8080}, 8080, "TCP", True),
    ({"port": 8080}, 8081, "TCP", False),
    ({"port": 8080, "protocol": "UDP"}, 8080, "TCP", False),
    ({"port": 8080, "protocol": "UDP"}, 8080, "UDP", True),
    ({"protocol": "SCTP"}, 9999, "SCTP", True),
    ({"port": 8000, "endPort": 8100}, 8080, "TCP", True),
    ({"port": 8000, "endPort": 8079}, 8080, "TCP", False),
    ({"port": "http"}, 8080, "TCP", True),
    ({"port": "metrics"}, 8080, "TCP", False),
    ({"port": "http", "protocol": "UDP"}, 8080, "UDP", False),
])
def test_ports(rule_port, port, protocol, ok):
    """NetworkPolicyPort: protocol defaults to TCP; a name refers to the destination pod's container port;
    endPort makes a range "port <= p <= endPort"."""
    rule = np("payments", "p", ingress=[{"ports": [rule_port]}])
    assert allowed([rule], CART, API, port, protocol) is ok


def test_named_port_in_egress_resolves_on_the_destination():
    rule = np("shop", "p", policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}])
    assert allowed([rule], CART, API, 8080) and not allowed([rule], CART, API, 9090)
    assert not allowed([rule], CART, Peer(ip="203.0.113.9"), 8080), "an address outside has no named ports"


def test_a_pod_cannot_block_access_to_itself():
    """"exception: a pod cannot block access to itself"."""
    v = PolicySet([np("payments", "deny", policyTypes=["Ingress", "Egress"])]).evaluate(API, API, 8080)
    assert v.allowed and "itself" in v.ingress.exempt


def test_the_pods_own_node_is_always_allowed():
    """"traffic to and from the node where a Pod is running is always allowed, regardless of the IP address"."""
    deny = np("payments", "deny", policyTypes=["Ingress", "Egress"])
    own_node = Peer(ip="172.18.0.4", node="k8snet-worker2")
    other_node = Peer(ip="172.18.0.3", node="k8snet-worker")
    assert allowed([deny], own_node, API) and allowed([deny], API, own_node)
    assert not allowed([deny], other_node, API)


def test_host_network_pods_are_not_selected_and_match_no_selector():
    """hostNetwork pods share the node's address: selectors do not see them as pods."""
    host = Peer(ip="172.18.0.3", namespace="shop", name="agent", labels={"app": "cart"}, namespace_labels=NS["shop"],
                node="k8snet-worker", host_network=True)
    rule = np("payments", "p", ingress=[{"from": [{"namespaceSelector": {}, "podSelector": {}}]}])
    assert not allowed([rule], host, API)
    assert allowed([np("shop", "deny", policyTypes=["Ingress", "Egress"])], host, API)


def test_walkthrough_names_the_rule_that_allowed():
    rules = [np("payments", "deny"),
             np("payments", "cart", podSelector={"matchLabels": {"app": "payment-api"}},
                ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "web"}},
                                    "podSelector": {"matchLabels": {"app": "cart"}}}],
                          "ports": [{"port": "http"}]}])]
    v = PolicySet(rules).evaluate(CART, API, 8080)
    assert v.allowed
    assert v.ingress.summary() == "ingress to payments/payment-api: allowed by payments/cart ingress rule 1"
    lines = v.walkthrough().splitlines()
    assert lines[0] == "shop/cart → payments/payment-api on 8080/TCP: ALLOWED"
    assert "    no ingress rules: allows nothing (deny)" in lines
