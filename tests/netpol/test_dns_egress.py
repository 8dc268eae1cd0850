"""DNS under egress isolation: lookups are UDP/TCP 53 to kube-dns like any other egress traffic.

NP docs (kubernetes.io concepts/services-networking/network-policies): "A pod is
isolated for egress if there is any NetworkPolicy that both selects the pod
and has "Egress" in its policyTypes ... the only allowed connections from the
pod are those allowed by the egress list". A name lookup is such a connection
(to the kube-dns Service's pods in kube-system), so under an egress deny-all
``/agnhost connect NAME:PORT`` fails at resolution, which agnhost connect
reports with the ``DNS:`` prefix (test/images/agnhost/connect/connect.go:
``net.ResolveTCPAddr`` fails → ``DNS: %v``). Upstream's own GetDenyAllWithEgressDNS
/ GetAllowEgressByPort (test/e2e/network/netpol/policies.go) add UDP 53 for this.
"""

from __future__ import annotations

from tests.netpol.cases import ns_is, port, spec

from k8snet import traffic

NAME = "s-x-b.x.svc.cluster.local"
ALLOW_DNS = spec({}, egress=[{"to": [{"namespaceSelector": ns_is("kube-system")}],
                              "ports": [port(53, "UDP"), port(53, "TCP")]}])


def probe(model, src: str, host: str, port_: int = 80, protocol: str = "tcp") -> traffic.Probe:
    ns, name = src.split("/")
    return traffic.connect(model.cluster, traffic.PodRef(ns, name, "cont-80-tcp"), host, port_, protocol)


def test_without_policies_the_service_name_connects(model):
    assert probe(model, "x/a", NAME).connected


def test_egress_deny_all_breaks_dns_with_a_dns_error(model):
    model.policy("x", "deny-egress", spec({}, egress=[]))
    result = probe(model, "x/a", NAME)
    assert not result.connected and result.reason.startswith("DNS:"), result.reason
    # y is not isolated: the same name still resolves and connects from there
    assert probe(model, "y/a", NAME).connected


def test_allowing_udp_and_tcp_53_to_kube_system_makes_dns_work_again(model):
    model.policy("x", "deny-egress", spec({}, egress=[]))
    model.policy("x", "allow-dns", ALLOW_DNS)
    result = probe(model, "x/a", NAME)
    # the name resolves now; the connection itself is still dropped by x's egress isolation (a TIMEOUT, not DNS)
    assert not result.connected and result.reason == "TIMEOUT", result.reason

    model.policy("x", "allow-to-x", spec({}, egress=[{"to": [{"podSelector": {}}]}]))
    assert probe(model, "x/a", NAME).connected
    assert probe(model, "x/a", NAME, 81, "udp").connected


def test_dns_allowed_only_to_another_namespace_still_fails(model):
    """The kube-dns pods live in kube-system: allowing port 53 to namespace y only does not reach them."""
    model.policy("x", "deny-egress", spec({}, egress=[]))
    model.policy("x", "dns-to-y", spec({}, egress=[{"to": [{"namespaceSelector": ns_is("y")}],
                                                     "ports": [port(53, "UDP"), port(53, "TCP")]}]))
    result = probe(model, "x/a", NAME)
    assert not result.connected and result.reason.startswith("DNS:"), result.reason


def test_dns_allowed_only_over_tcp_still_fails(model):
    """Resolvers query over UDP first (Go's resolver, which agnhost uses, falls back to TCP only for truncated
    answers): allowing TCP 53 alone leaves lookups timing out."""
    model.policy("x", "deny-egress", spec({}, egress=[]))
    model.policy("x", "dns-tcp-only", spec({}, egress=[{"to": [{"namespaceSelector": ns_is("kube-system")}],
                                                         "ports": [port(53, "TCP")]}]))
    result = probe(model, "x/a", NAME)
    assert not result.connected and result.reason.startswith("DNS:"), result.reason


def test_ingress_isolation_of_the_client_does_not_break_its_dns(model):
    """Isolation is per direction: x denies all ingress, yet x/a's queries and their replies pass."""
    model.policy("x", "deny-ingress", spec({}, ingress=[]))
    result = probe(model, "x/a", "s-y-a.y.svc.cluster.local")
    assert result.connected, result.reason
