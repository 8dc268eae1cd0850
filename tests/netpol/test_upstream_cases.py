"""NetworkPolicy conformance: the upstream e2e network policy suite's cases, run against the sandbox.

Each test is named after an ``It(...)`` title of kubernetes/kubernetes
test/e2e/network/netpol/network_policy.go (its docstring quotes the title and
the context) or, where upstream has no case, after the sentence of the
Kubernetes documentation (concepts/services-networking/network-policies, "NP
docs" below) or API reference it checks. Like upstream, each case probes only
the pods its ``initializeResources`` lists, on the port and protocol it
validates; the probe goes to the target pod's Service IP with ``/agnhost
connect`` (probe.go, kubemanager.go).

Both the measured matrix (real probes through exec) and the predicted one
(computed from the API objects) are compared with the truth table written
here by hand — never with each other.
"""

from __future__ import annotations

import pytest
from tests.netpol.cases import Reachability, check, expr, labels, ns_is, port, spec, verify

from k8snet import kubeproxy, policy, traffic

SUITE = "test/e2e/network/netpol/network_policy.go"
TCP_CTX = "Netpol NetworkPolicy between server and client"
UDP_CTX = "Netpol [LinuxOnly] NetworkPolicy between server and client using UDP"
SCTP_CTX = "Netpol [Feature:SCTPConnectivity] [LinuxOnly] NetworkPolicy between server and client using SCTP"


# -- default deny ----------------------------------------------------------------------------------------


def test_should_support_a_default_deny_ingress_policy(model):
    """It("should support a 'default-deny-ingress' policy") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "y/b"]
    model.policy("x", "deny-ingress", spec({}, ingress=[]))
    verify(model, Reachability(pods).expect("*", "x/*", False))


def test_should_support_a_default_deny_all_policy(model):
    """It("should support a 'default-deny-all' policy") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "deny-all", spec({}, ingress=[], egress=[]))
    verify(model, Reachability(pods).expect("*", "x/*", False).expect("x/*", "*", False))


# -- pod and namespace selectors ---------------------------------------------------------------------------


def test_should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_podselector(model):
    """It("should enforce policy to allow traffic from pods within server namespace based on PodSelector") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "x/c", "y/a"]
    model.policy("x", "x-a-allows-x-b", spec(labels(pod="a"), ingress=[{"from": [{"podSelector": labels(pod="b")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True))


def test_should_enforce_policy_to_allow_ingress_traffic_for_a_target(model):
    """It("should enforce policy to allow ingress traffic for a target") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "deny-all", spec({}, ingress=[]))
    model.policy("x", "allow-all-to-a", spec(labels(pod="a"), ingress=[
        {"from": [{"podSelector": {}, "namespaceSelector": {}}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", True).all_ingress("x/b", False))


def test_should_enforce_policy_to_allow_ingress_traffic_from_pods_in_all_namespaces(model):
    """It("should enforce policy to allow ingress traffic from pods in all namespaces") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-from-another-ns", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": {"matchLabels": {}}}]}]))
    verify(model, Reachability(pods))


def test_should_enforce_policy_to_allow_traffic_only_from_a_different_namespace_based_on_namespaceselector(model):
    """It("should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-client-a-via-ns-selector", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}]}]))
    verify(model, Reachability(pods).expect("x/*", "x/a", False).expect("z/*", "x/a", False))


def test_should_enforce_policy_based_on_podselector_with_matchexpressions(model):
    """It("should enforce policy based on PodSelector with MatchExpressions") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "x-a-allows-x-b", spec(labels(pod="a"), ingress=[
        {"from": [{"podSelector": expr("pod", "In", "b")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True))


def test_should_enforce_policy_based_on_namespaceselector_with_matchexpressions(model):
    """It("should enforce policy based on NamespaceSelector with MatchExpressions") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-ns-y-match-selector", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": expr("kubernetes.io/metadata.name", "In", "y")}]}]))
    verify(model, Reachability(pods).expect("x/*", "x/a", False).expect("z/*", "x/a", False))


def test_should_enforce_policy_based_on_podselector_or_namespaceselector(model):
    """It("should enforce policy based on PodSelector or NamespaceSelector") — TCP_CTX, SUITE.

    Two peers in one rule are alternatives (OR).
    """
    pods = ["x/a", "x/b", "x/c", "y/a"]
    model.policy("x", "allow-ns-y-match-selector", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": expr("kubernetes.io/metadata.name", "NotIn", "x")},
        {"podSelector": labels(pod="b")}]}]))
    verify(model, Reachability(pods).expect("x/c", "x/a", False))


def test_should_enforce_policy_based_on_podselector_and_namespaceselector(model):
    """It("should enforce policy based on PodSelector and NamespaceSelector") — TCP_CTX, SUITE.

    namespaceSelector and podSelector in one peer must both match (AND).
    """
    pods = ["x/a", "x/b", "y/a", "y/b", "z/b"]
    model.policy("x", "allow-ns-y-podselector-and-nsselector", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": expr("kubernetes.io/metadata.name", "NotIn", "x"), "podSelector": labels(pod="b")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("y/b", "x/a", True).expect("z/b", "x/a", True))


def test_should_enforce_policy_based_on_multiple_podselectors_and_namespaceselectors(model):
    """It("should enforce policy based on Multiple PodSelectors and NamespaceSelectors") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "y/b", "y/c"]
    model.policy("x", "allow-ns-y-z-pod-b-c", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": expr("kubernetes.io/metadata.name", "NotIn", "x"),
         "podSelector": expr("pod", "In", "b", "c")}]}]))
    verify(model, Reachability(pods).expect("x/*", "x/a", False).expect("y/a", "x/a", False))


def test_should_enforce_policy_based_on_any_podselectors(model):
    """It("should enforce policy based on any PodSelectors") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "x/c"]
    model.policy("x", "allow-ns-x-pod-b-c", spec(labels(pod="a"), ingress=[{"from": [
        {"podSelector": labels(pod="b")}, {"podSelector": labels(pod="c")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True).expect("x/c", "x/a", True))


def test_should_enforce_policy_to_allow_traffic_only_from_a_pod_in_a_different_namespace_based_on_podselector_and_namespaceselector(model):  # noqa: E501
    """It("should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    model.policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": ns_is("y"), "podSelector": labels(pod="a")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("y/a", "x/a", True))


def test_should_deny_ingress_from_pods_on_other_namespaces(model):
    """It("should deny ingress from pods on other namespaces") — TCP_CTX, SUITE.

    A peer with only an (empty) podSelector selects pods in the policy's own namespace.
    """
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "deny-empty-policy", spec({}, ingress=[{"from": [{"podSelector": {"matchLabels": {}}}]}]))
    verify(model, Reachability(pods).expect("y/*", "x/*", False).expect("z/*", "x/*", False))


def test_should_enforce_policy_to_allow_traffic_based_on_namespaceselector_with_matchlabels_using_default_ns_label(model):  # noqa: E501
    """It("should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-client-a-via-ns-selector-for-immutable-ns-label", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}]}]))
    verify(model, Reachability(pods).expect("x/*", "x/a", False).expect("z/*", "x/a", False))


def test_should_enforce_policy_based_on_namespaceselector_with_matchexpressions_using_default_ns_label(model):
    """It("should enforce policy based on NamespaceSelector with MatchExpressions using default ns label") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-ns-y-match-selector-for-immutable-ns-label", spec(labels(pod="a"), egress=[
        {"to": [{"namespaceSelector": expr("kubernetes.io/metadata.name", "NotIn", "y")}]}]))
    verify(model, Reachability(pods).expect("x/a", "y/*", False))


# -- ports, named ports, protocols ------------------------------------------------------------------------


def test_should_enforce_policy_based_on_ports(model):
    """It("should enforce policy based on Ports") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    model.policy("x", "allow-client-a-via-ns-selector", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(81, "TCP")]}]))
    verify(model, Reachability(pods, ports=[81]).expect("x/*", "x/a", False).expect("z/*", "x/a", False))


def test_should_enforce_multiple_stacked_policies_with_overlapping_podselectors(model):
    """It("should enforce multiple, stacked policies with overlapping podSelectors") — TCP_CTX, SUITE.

    Policies are additive: a second policy for port 80 opens what the first left closed.
    """
    pods = ["x/a", "x/b", "y/a", "y/b", "z/a"]
    rule81 = {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(81, "TCP")]}
    model.policy("x", "allow-client-a-via-ns-selector", spec(labels(pod="a"), ingress=[rule81]))
    allow = Reachability(pods, ports=[81]).expect("x/*", "x/a", False).expect("z/*", "x/a", False)
    verify(model, allow)
    verify(model, Reachability(pods, ports=[80]).all_ingress("x/a", False))

    rule80 = {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(80, "TCP")]}
    model.policy("x", "allow-client-a-via-ns-selector-80", spec(labels(pod="a"), ingress=[rule80]))
    verify(model, Reachability(pods, ports=[80]).expect("x/*", "x/a", False).expect("z/*", "x/a", False))


def test_should_support_allow_all_policy(model):
    """It("should support allow-all policy") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "allow-all", spec(labels(), ingress=[{}]))
    verify(model, Reachability(pods, ports=[80, 81]))


def test_should_allow_ingress_access_on_one_named_port(model):
    """It("should allow ingress access on one named port") — TCP_CTX, SUITE.

    The named port ``serve-81-tcp`` resolves to the destination pod's container port.
    """
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "allow-all", spec(labels(), ingress=[{"ports": [port("serve-81-tcp")]}]))
    verify(model, Reachability(pods, ports=[80, 81]).expect("*", "x/*", False, port=80))


def test_should_allow_ingress_access_from_namespace_on_one_named_port(model):
    """It("should allow ingress access from namespace on one named port") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-client-a-via-ns-selector-80", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port("serve-80-tcp", "TCP")]}]))
    verify(model, Reachability(pods, ports=[80]).expect("x/*", "x/a", False).expect("z/*", "x/a", False))
    verify(model, Reachability(pods, ports=[81]).all_ingress("x/a", False))


def test_should_allow_egress_access_on_one_named_port(model):
    """It("should allow egress access on one named port") — TCP_CTX, SUITE.

    An egress named port resolves against the destination pod (x/a → y/a:serve-80-tcp).
    """
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-egress", spec(labels(), egress=[{"ports": [port("serve-80-tcp")]}]))
    verify(model, Reachability(pods, ports=[80, 81]).expect("x/*", "*", False, port=81))


def test_should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol(model):
    """It("should enforce ingress policy allowing any port traffic to a server on a specific protocol") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-ingress-by-proto", spec(labels(pod="a"), ingress=[{"ports": [{"protocol": "TCP"}]}]))
    verify(model, Reachability(pods, ports=[80], protocols=["TCP", "UDP"]).expect("*", "x/a", False, protocol="UDP"))


def test_should_not_mistakenly_treat_protocol_sctp_as_protocol_tcp_even_if_the_plugin_doesnt_support_sctp(model):
    """It("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a"]
    model.policy("x", "deny-ingress", spec({}, ingress=[]))
    model.policy("x", "allow-only-sctp-ingress-on-port-81", spec(labels(pod="a"), ingress=[
        {"ports": [port(81, "SCTP")]}]))
    verify(model, Reachability(pods, ports=[81]).expect("*", "x/*", False))


def test_should_properly_isolate_pods_that_are_selected_by_a_policy_allowing_sctp_even_if_the_plugin_doesnt_support_sctp(model):  # noqa: E501
    """It("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-only-sctp-ingress-on-port-80", spec(labels(pod="a"), ingress=[
        {"ports": [port(80, "SCTP")]}]))
    verify(model, Reachability(pods, ports=[81]).all_ingress("x/a", False))


def test_should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp(model):
    """It("should not allow access by TCP when a policy specifies only UDP") — TCP_CTX, SUITE."""
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-only-udp-ingress-on-port-81", spec(labels(pod="a"), ingress=[
        {"ports": [port(81, "UDP")]}]))
    verify(model, Reachability(pods, ports=[81]).all_ingress("x/a", False))


def test_endport_allows_the_whole_inclusive_range(model):
    """API reference, NetworkPolicyPort.endPort: "indicates that the range of ports from port to endPort if set,
    inclusive, should be allowed by the policy" (KEP-2079). Upstream has no e2e case; x/a opens 79–80 to every pod,
    x/b opens 80–81, so port 81 reaches x/b only.
    """
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "allow-79-80-to-a", spec(labels(pod="a"), ingress=[{"ports": [port(79, "TCP", end=80)]}]))
    model.policy("x", "allow-80-81-to-b", spec(labels(pod="b"), ingress=[{"ports": [port(80, "TCP", end=81)]}]))
    verify(model, Reachability(pods, ports=[80, 81]).expect("*", "x/a", False, port=81))


# -- egress ------------------------------------------------------------------------------------------------


def test_should_deny_egress_from_pods_based_on_podselector(model):
    """It("should deny egress from pods based on PodSelector") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "deny-egress-pod-a", spec(labels(pod="a"), egress=[]))
    verify(model, Reachability(pods).all_egress("x/a", False))


def test_should_deny_egress_from_all_pods_in_a_namespace(model):
    """It("should deny egress from all pods in a namespace") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "deny-egress-ns-x", spec({}, egress=[]))
    verify(model, Reachability(pods).expect("x/*", "*", False))


def test_should_work_with_ingress_egress_specified_together(model):
    """It("should work with Ingress, Egress specified together") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "x/c", "y/a"]
    body = spec(labels(pod="a"), ingress=[{"from": [{"podSelector": labels(pod="b")}]}],
                egress=[{"ports": [{"port": 80}]}])
    body["policyTypes"] = ["Egress", "Ingress"]
    model.policy("x", "allow-client-a-via-pod-selector", body)
    verify(model, Reachability(pods, ports=[80]).all_ingress("x/a", False).expect("x/b", "x/a", True))
    verify(model, Reachability(pods, ports=[81]).all_ingress("x/a", False).all_egress("x/a", False)
           .expect("x/b", "x/a", True))


def test_should_support_denying_of_egress_traffic_on_the_client_side_even_if_the_server_explicitly_allows_this_traffic(model):  # noqa: E501
    """It("should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)") — TCP_CTX, SUITE.

    "Both the egress policy on the source pod and the ingress policy on the destination pod need to allow the
    connection" (NP docs).
    """  # noqa: E501
    pods = ["x/a", "y/a", "y/b"]
    model.policy("x", "allow-to-ns-y-pod-a", spec(labels(pod="a"), egress=[
        {"to": [{"namespaceSelector": ns_is("y"), "podSelector": labels(pod="a")}]}]))
    from_xa = [{"from": [{"namespaceSelector": ns_is("x"), "podSelector": labels(pod="a")}]}]
    model.policy("y", "allow-from-xa-on-ya-match-selector", spec(labels(pod="a"), ingress=from_xa))
    model.policy("y", "allow-from-xa-on-yb-match-selector", spec(labels(pod="b"), ingress=from_xa))
    verify(model, Reachability(pods).expect("x/a", "*", False).expect("*", "y/a", False)
           .expect("x/a", "y/a", True).expect("*", "y/b", False))


def test_should_enforce_egress_policy_allowing_traffic_to_a_server_in_a_different_namespace_based_on_podselector_and_namespaceselector(model):  # noqa: E501
    """It("should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a", "y/b"]
    model.policy("x", "allow-to-ns-y-pod-a", spec(labels(pod="a"), egress=[
        {"to": [{"namespaceSelector": ns_is("y"), "podSelector": labels(pod="a")}]}]))
    verify(model, Reachability(pods).all_egress("x/a", False).expect("x/a", "y/a", True))


def test_should_enforce_multiple_ingress_policies_with_ingress_allow_all_policy_taking_precedence(model):
    """It("should enforce multiple ingress policies with ingress allow-all policy taking precedence") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-ingress-port-80", spec(labels(), ingress=[{"ports": [{"port": 80}]}]))
    verify(model, Reachability(pods, ports=[81]).expect("*", "x/*", False))
    model.policy("x", "allow-ingress", spec(labels(), ingress=[{}]))
    verify(model, Reachability(pods, ports=[81]))


def test_should_enforce_multiple_egress_policies_with_egress_allow_all_policy_taking_precedence(model):
    """It("should enforce multiple egress policies with egress allow-all policy taking precedence") — TCP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-egress-port-80", spec(labels(), egress=[{"ports": [{"port": 80}]}]))
    verify(model, Reachability(pods, ports=[81]).expect("x/*", "*", False))
    model.policy("x", "allow-egress", spec(labels(), egress=[{}]))
    verify(model, Reachability(pods, ports=[81]))


def test_should_enforce_policies_to_check_ingress_and_egress_policies_can_be_controlled_independently_based_on_podselector(model):  # noqa: E501
    """It("should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector") — TCP_CTX, SUITE.

    Isolation is per direction: x/a's egress stays open while its ingress is denied, and replies to x/a's own
    connections still come back ("reply traffic for those connections will also be allowed implicitly", NP docs).
    """  # noqa: E501
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "allow-egress-for-target", spec(labels(pod="a"), egress=[{}]))
    verify(model, Reachability(pods))
    model.policy("x", "deny-ingress-via-label-selector", spec(labels(pod="a"), ingress=[]))
    verify(model, Reachability(pods).all_ingress("x/a", False))


# -- updates and deletion ----------------------------------------------------------------------------------


def test_should_enforce_updated_policy(model):
    """It("should enforce updated policy") — TCP_CTX, SUITE."""
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-all-mutate-to-deny-all", spec(labels(), ingress=[{}]))
    verify(model, Reachability(pods, ports=[81]))
    model.policy("x", "allow-all-mutate-to-deny-all", spec(labels(), ingress=[]))
    verify(model, Reachability(pods, ports=[81]).expect("*", "x/*", False))


def test_should_allow_ingress_access_from_updated_namespace(model):
    """It("should allow ingress access from updated namespace") — TCP_CTX, SUITE."""
    pods = ["x/a", "y/a"]
    model.policy("x", "allow-client-a-via-ns-selector", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": labels(ns2="updated")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False))
    model.set_namespace_labels("y", {"ns2": "updated"})
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("y/*", "*", True))


def test_should_allow_ingress_access_from_updated_pod(model):
    """It("should allow ingress access from updated pod") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b"]
    model.policy("x", "allow-client-a-via-pod-selector", spec(labels(pod="a"), ingress=[
        {"from": [{"podSelector": labels(pod="b", pod2="updated")}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False))
    model.set_pod_labels("x/b", {"pod2": "updated"})
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("x/b", "x/a", True))


def test_should_deny_ingress_access_to_updated_pod(model):
    """It("should deny ingress access to updated pod") — TCP_CTX, SUITE."""
    pods = ["x/a", "y/a"]
    model.policy("x", "deny-ingress-via-label-selector", spec(labels(target="isolated"), ingress=[]))
    verify(model, Reachability(pods))
    model.set_pod_labels("x/a", {"target": "isolated"})
    verify(model, Reachability(pods).all_ingress("x/a", False))


def test_should_stop_enforcing_policies_after_they_are_deleted(model):
    """It("should stop enforcing policies after they are deleted") — TCP_CTX, SUITE."""
    pods = ["x/a", "y/a"]
    model.policy("x", "deny-all", spec({}, ingress=[], egress=[]))
    verify(model, Reachability(pods).expect("x/*", "*", False).expect("*", "x/*", False))
    model.delete_policies()
    verify(model, Reachability(pods))


# -- ipBlock -----------------------------------------------------------------------------------------------


def large_cidr(ip: str) -> str:
    """Upstream makeLargeCIDRForIP: the /4 that holds the address."""
    import ipaddress

    return str(ipaddress.ip_network(f"{ip}/4", strict=False))


def test_should_allow_egress_access_to_server_in_cidr_block(model):
    """It("should allow egress access to server in CIDR block") — TCP_CTX, SUITE.

    The probe goes to y/b's Service IP; the egress rule names y/b's pod IP, which matches after kube-proxy's DNAT.
    """
    pods = ["x/a", "y/a", "y/b"]
    model.policy("x", "allow-client-a-via-cidr-egress-rule", spec(labels(pod="a"), egress=[
        {"to": [{"ipBlock": {"cidr": f"{model.pod_ips['y/b']}/32"}}]}]))
    verify(model, Reachability(pods).all_egress("x/a", False).expect("x/a", "y/b", True))


def test_should_enforce_except_clause_while_egress_access_to_server_in_cidr_block(model):
    """It("should enforce except clause while egress access to server in CIDR block") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "x/c"]
    ip = model.pod_ips["x/b"]
    model.policy("x", "allow-client-a-via-cidr-egress-rule", spec(labels(pod="a"), egress=[
        {"to": [{"ipBlock": {"cidr": large_cidr(ip), "except": [f"{ip}/32"]}}]}]))
    verify(model, Reachability(pods).expect("x/a", "x/b", False))


def test_should_ensure_an_ip_overlapping_both_ipblock_cidr_and_ipblock_except_is_allowed(model):
    """It("should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed") — TCP_CTX, SUITE."""
    pods = ["x/a", "x/b", "x/c"]
    ip = model.pod_ips["x/b"]
    model.policy("x", "allow-client-a-via-cidr-egress-rule", spec(labels(pod="a"), egress=[
        {"to": [{"ipBlock": {"cidr": large_cidr(ip), "except": [f"{ip}/32"]}}]}]))
    verify(model, Reachability(pods).expect("x/a", "x/b", False))
    model.policy("x", "allow-client-a-via-cidr-egress-rule", spec(labels(pod="a"), egress=[
        {"to": [{"ipBlock": {"cidr": f"{ip}/32"}}]}]))
    verify(model, Reachability(pods).all_egress("x/a", False).expect("x/a", "x/b", True))


def test_ipblock_ingress_matches_the_source_pod_ip(model):
    """NP docs, ipBlock: "This selects particular IP CIDR ranges to allow as ingress sources". Pod-to-pod traffic keeps
    the source pod's IP, so an ingress ipBlock of y/a's address admits y/a alone.
    """
    pods = ["x/a", "x/b", "y/a", "y/b"]
    model.policy("x", "allow-from-y-a-ip", spec(labels(pod="a"), ingress=[
        {"from": [{"ipBlock": {"cidr": f"{model.pod_ips['y/a']}/32"}}]}]))
    verify(model, Reachability(pods).all_ingress("x/a", False).expect("y/a", "x/a", True))


def test_ipblock_naming_a_service_ip_does_not_match_after_dnat(model):
    """NP docs: "Cluster ingress and egress mechanisms often require rewriting the source or destination IP of
    packets"; with kube-proxy the policy sees the pod after DNAT, so an egress ipBlock holding a ClusterIP (or the
    whole Service CIDR 10.96.0.0/12) allows nothing: x/a can reach no Service.
    """
    pods = ["x/a", "y/a", "y/b"]
    model.policy("x", "allow-to-cluster-ips", spec(labels(pod="a"), egress=[{"to": [
        {"ipBlock": {"cidr": f"{model.service_ips['y/a']}/32"}}, {"ipBlock": {"cidr": "10.96.0.0/12"}}]}]))
    verify(model, Reachability(pods).all_egress("x/a", False))


def test_ipblock_external_cidr_with_the_pod_network_excepted(model):
    """NP docs: ipBlock ranges "should be cluster-external IPs"; "0.0.0.0/0 except the pod CIDR" (10.244.0.0/16 in kind
    and the sandbox) is the usual 'internet only' egress rule, and it reaches no pod.
    """
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "internet-only", spec(labels(pod="a"), egress=[
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}]}]))
    verify(model, Reachability(pods).all_egress("x/a", False))


# -- policyTypes defaults, union, replies -----------------------------------------------------------------------


def test_policytypes_omitted_means_ingress_only_without_egress_rules(model):
    """API reference, NetworkPolicySpec.policyTypes: "If this field is not specified, it will default based on the
    existence of ingress or egress rules; policies that contain an egress section are assumed to affect egress, and
    all policies (whether or not they contain an ingress section) are assumed to affect ingress."

    A policy with only a podSelector (no policyTypes, no rules) therefore isolates ingress and leaves egress open.
    """
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "select-only", {"podSelector": labels(pod="a")})
    stored = model.net.read_namespaced_network_policy("select-only", "x")
    assert stored.spec.policy_types == ["Ingress"], stored.spec.policy_types  # SetDefaults_NetworkPolicy
    verify(model, Reachability(pods).all_ingress("x/a", False))


def test_policytypes_omitted_with_egress_rules_affects_both_directions(model):
    """API reference, NetworkPolicySpec.policyTypes (as above): an egress section adds Egress, Ingress is always
    there — so an egress-only allow to y also isolates x/a for ingress.
    """
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "egress-to-y", {"podSelector": labels(pod="a"), "egress": [{"to": [{"namespaceSelector": ns_is("y")}]}]})
    stored = model.net.read_namespaced_network_policy("egress-to-y", "x")
    assert sorted(stored.spec.policy_types) == ["Egress", "Ingress"], stored.spec.policy_types
    verify(model, Reachability(pods).all_ingress("x/a", False).all_egress("x/a", False).expect("x/a", "y/a", True))


def test_policies_are_additive_across_namespaces_of_both_ends(model):
    """NP docs: "Network policies do not conflict; they are additive" — two policies selecting z/a each add a source,
    and an egress policy in y only narrows y's pods.
    """
    pods = ["x/a", "y/a", "y/b", "z/a", "z/b"]
    model.policy("z", "from-x", spec(labels(pod="a"), ingress=[{"from": [{"namespaceSelector": ns_is("x")}]}]))
    model.policy("z", "from-y-b", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": ns_is("y"), "podSelector": labels(pod="b")}]}]))
    verify(model, Reachability(pods).all_ingress("z/a", False).expect("x/a", "z/a", True).expect("y/b", "z/a", True))


def test_replies_to_allowed_connections_pass_both_ways(model):
    """NP docs: "When a pod is isolated ... reply traffic for those connections will also be allowed implicitly".
    x denies all ingress and y denies all egress, yet x → y connects: the reply from y is not a new connection.
    """
    pods = ["x/a", "x/b", "y/a", "y/b"]
    model.policy("x", "deny-ingress", spec({}, ingress=[]))
    model.policy("y", "deny-egress", spec({}, egress=[]))
    verify(model, Reachability(pods, protocols=["TCP", "UDP"]).expect("*", "x/*", False).expect("y/*", "*", False))


# -- UDP and SCTP contexts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_should_support_a_default_deny_ingress_policy_udp_sctp(model, protocol):
    """It("should support a 'default-deny-ingress' policy") — UDP_CTX and SCTP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "y/b"]
    model.policy("x", "deny-all", spec({}, ingress=[]))
    verify(model, Reachability(pods, protocols=[protocol]).expect("*", "x/*", False))


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_should_enforce_policy_based_on_ports_udp_sctp(model, protocol):
    """It("should enforce policy based on Ports") — UDP_CTX and SCTP_CTX, SUITE."""
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "allow-ingress-on-port-81-ns-x", spec(labels(pod="a"), ingress=[
        {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(81, protocol)]}]))
    verify(model, Reachability(pods, ports=[81], protocols=[protocol])
           .expect("x/*", "x/a", False).expect("z/*", "x/a", False))


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_should_enforce_policy_to_allow_traffic_only_from_a_pod_in_a_different_namespace_udp_sctp(model, protocol):
    """It("should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector") — UDP_CTX and SCTP_CTX, SUITE."""  # noqa: E501
    pods = ["x/a", "x/b", "y/a"]
    model.policy("x", "allow-ns-y-pod-a-via-namespace-pod-selector", spec(labels(pod="a"), ingress=[{"from": [
        {"namespaceSelector": ns_is("y"), "podSelector": labels(pod="a")}]}]))
    verify(model, Reachability(pods, protocols=[protocol]).all_ingress("x/a", False).expect("y/a", "x/a", True))


# -- more spec sentences -------------------------------------------------------------------------------------


def test_a_policy_selects_pods_only_in_its_own_namespace(model):
    """API reference, NetworkPolicySpec.podSelector: "Selects the pods to which this NetworkPolicy object applies ...
    in the policy's namespace" — a deny-all in y selecting pod=a leaves x/a and z/a open.
    """
    pods = ["x/a", "y/a", "y/b", "z/a"]
    model.policy("y", "deny-ingress-a", spec(labels(pod="a"), ingress=[]))
    verify(model, Reachability(pods).all_ingress("y/a", False))


def test_set_based_selectors_exists_doesnotexist_and_notin_on_a_missing_key(model):
    """Label selector semantics (concepts/overview/working-with-objects/labels, "Set-based requirement"): ``Exists``
    matches any value, ``DoesNotExist`` matches objects without the key, and ``NotIn`` also matches objects that
    lack the key. x/a admits pods without label ``role`` from namespaces that have label ``ns``; the policy selects
    its pods with ``role NotIn (db)``, which every model pod (no ``role`` label) satisfies.
    """
    pods = ["x/a", "x/b", "y/a", "z/c"]
    model.policy("x", "exists", {"podSelector": expr("role", "NotIn", "db"), "policyTypes": ["Ingress"],
                                 "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                                     {"key": "ns", "operator": "Exists"}]},
                                     "podSelector": {"matchExpressions": [{"key": "role", "operator": "DoesNotExist"}]}}]}]})
    verify(model, Reachability(pods))
    model.set_pod_labels("y/a", {"role": "web"})  # now y/a has the key: DoesNotExist no longer matches it
    verify(model, Reachability(pods).expect("y/a", "x/*", False))


def test_egress_endport_range_and_protocol(model):
    """API reference, NetworkPolicyPort.endPort ("the range of ports from port to endPort, inclusive") and
    .protocol ("The protocol (TCP, UDP, or SCTP) which traffic must match. If not specified, this field defaults to
    TCP"): x/a may send TCP to 81–90 and UDP to 80 only.
    """
    pods = ["x/a", "y/a"]
    model.policy("x", "range", spec(labels(pod="a"), egress=[{"ports": [port(81, end=90), port(80, "UDP")]}]))
    verify(model, Reachability(pods, ports=[80, 81], protocols=["TCP", "UDP"])
           .expect("x/a", "*", False, port=80, protocol="TCP").expect("x/a", "*", False, port=81, protocol="UDP"))


def test_named_port_for_udp(model):
    """NP docs and API reference, NetworkPolicyPort.port: "This can either be a numerical or named port on a pod";
    ``serve-80-udp`` with protocol UDP resolves to 80/UDP on the destination, and opens neither 80/TCP nor 81/UDP.
    """
    pods = ["x/a", "y/a"]
    model.policy("x", "named-udp", spec(labels(pod="a"), ingress=[{"ports": [port("serve-80-udp", "UDP")]}]))
    verify(model, Reachability(pods, ports=[80, 81], protocols=["TCP", "UDP"]).all_ingress("x/a", False)
           .expect("*", "x/a", True, port=80, protocol="UDP"))


def test_ipblock_except_covering_the_source_blocks_it(model):
    """API reference, IPBlock.except: "a list of CIDRs that should not be included within an IPBlock" — ingress from
    the pod CIDR except y/a's address admits every pod but y/a.
    """
    pods = ["x/a", "x/b", "y/a", "y/b"]
    model.policy("x", "pods-but-y-a", spec(labels(pod="a"), ingress=[
        {"from": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"{model.pod_ips['y/a']}/32"]}}]}]))
    verify(model, Reachability(pods).expect("y/a", "x/a", False))


def test_egress_to_every_pod_in_every_namespace(model):
    """NP docs, "Behavior of to and from selectors": an empty namespaceSelector with an empty podSelector selects
    all pods in all namespaces — under egress deny-all in x it reopens pod traffic from x.
    """
    pods = ["x/a", "x/b", "y/a", "z/a"]
    model.policy("x", "deny-egress", spec({}, egress=[]))
    verify(model, Reachability(pods).expect("x/*", "*", False))
    model.policy("x", "to-all-pods", spec({}, egress=[{"to": [{"namespaceSelector": {}, "podSelector": {}}]}]))
    verify(model, Reachability(pods))


def test_ports_are_the_pods_ports_after_dnat(model):
    """API reference, NetworkPolicyPort.port: "The port on the given protocol. This can either be a numerical or named
    port on a pod" — the pod's port, i.e. the Service's targetPort after kube-proxy's DNAT. Through a Service that
    maps 8080 → 80, a rule for port 80 admits the connection and a rule for 8080 does not.
    """
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s-x-a-alt", "namespace": "x"},
           "spec": {"selector": {"pod": "a"}, "ports": [{"name": "alt", "port": 8080, "targetPort": 80}]}}
    model.cluster.apply(svc)
    try:
        kubeproxy.wait_synced(model.cluster, "k8snet-worker", "x", "s-x-a-alt")  # the new ClusterIP is routed
        sources, targets = ["y/a"], ["svc:x/s-x-a-alt"]
        model.policy("x", "only-8080", spec(labels(pod="a"), ingress=[{"ports": [port(8080)]}]))
        check(model, sources, targets, policy.expect(sources, targets, ports=[8080], allowed=False), ports=[8080])
        model.policy("x", "only-80", spec(labels(pod="a"), ingress=[{"ports": [port(80)]}]))
        check(model, sources, targets, policy.expect(sources, targets, ports=[8080]), ports=[8080])
    finally:
        model.cluster.delete("Service", "s-x-a-alt", "x")


def test_localhost_is_never_blocked(model):
    """NP docs, "What you can't do with network policies": "Pods cannot currently block localhost access" — under
    deny-all in x, x/a still reaches its own 127.0.0.1:80 (and, as above, its own Service)."""
    model.policy("x", "deny-all", spec({}, ingress=[], egress=[]))
    me = traffic.PodRef("x", "a", "cont-80-tcp")
    assert traffic.connect(model.cluster, me, "127.0.0.1", 80).connected
    assert not traffic.connect(model.cluster, me, model.service_ips["x/b"], 80).connected
