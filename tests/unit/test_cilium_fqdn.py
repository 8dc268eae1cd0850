"""DNS-based policy as pure functions (k8snet.sandbox.dataplane.cilium.fqdn, rules, hubble): Cilium's matchPattern
and matchName semantics, re-expressed from pkg/fqdn/matchpattern/matchpattern_test.go, toFQDNs against the names
learned for an address, DNS rules merged across allow rules, and Hubble's DNS lines
(pkg/hubble/parser/seven/dns.go, hubble's printer)."""

from __future__ import annotations

import pytest

from k8snet.sandbox.dataplane.cilium import fqdn, rules
from k8snet.sandbox.dataplane.cilium.hubble import Flow, FlowPeer
from k8snet.sandbox.dataplane.cilium.labels import Endpoint, pod_labels, reserved

# TestAnchoredMatchPatternMatching's cases (pattern, accepted, rejected), names fully qualified as the proxy sees them
CASES = [
    ("cilium.io.", ["cilium.io."], ["", "anysub.cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."]),
    ("*.cilium.io.", ["anysub.cilium.io."], ["", "cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."]),
    ("*.ci*.io.", ["anysub.cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."], ["", "cilium.io."]),
    ("*", [".", "io.", "cilium.io.", "svc.cluster.local.", "service.namesace.svc.cluster.local.",
           "_foobar._tcp.cilium.io."], ["", ".io.", ".cilium.io.", ".svc.cluster.local.", "cilium.io"]),
    (".", ["."], ["", ".io.", ".cilium.io"]),
    ("_foobar._tcp.cilium.io.", ["_foobar._tcp.cilium.io."], ["", "_tcp.cilium.io.", "cilium.io."]),
    ("*.*.cilium.io.", ["_foobar._tcp.cilium.io."], [""]),
    ("**.cilium.io.", ["a.cilium.io.", "a.b.cilium.io."], ["cilium.io.", "", ".cilium.io."]),  # subdomain wildcard
]


@pytest.mark.parametrize(("pattern", "accept", "reject"), CASES)
def test_match_pattern_regexes_as_cilium_builds_them(pattern, accept, reject):
    regex = fqdn.pattern_regex(pattern)
    assert all(regex.match(name) for name in accept), pattern
    assert not any(regex.match(name) for name in reject), pattern


def test_selectors_sanitize_names_and_patterns():
    """Sanitize: lower-case, fully qualified; ``*.example`` does not match the bare domain, ``*example`` does."""
    assert fqdn.selector_matches({"matchName": "API.Payments.example"}, "api.payments.example")
    assert not fqdn.selector_matches({"matchName": "payments.example"}, "api.payments.example")
    assert fqdn.selector_matches({"matchPattern": "*.payments.example"}, "api.payments.example.")
    assert not fqdn.selector_matches({"matchPattern": "*.payments.example"}, "payments.example")
    assert not fqdn.selector_matches({"matchPattern": "*.example"}, "api.payments.example")  # one label only
    assert fqdn.selector_matches({"matchPattern": "**.example"}, "api.payments.example")
    assert fqdn.selector_matches({"matchPattern": "*"}, "anything.at.all")
    assert not fqdn.selector_matches({}, "api.payments.example")


def client() -> Endpoint:
    obj = {"metadata": {"name": "client", "namespace": "app", "labels": {"kind": "client"}}, "spec": {"nodeName": "n1"}}
    return Endpoint(ip="10.244.1.5", labels=pod_labels(obj, {}), identity=300, namespace="app", name="client",
                    node="n1")


def world(ip: str, *names: str) -> Endpoint:
    return Endpoint(ip=ip, labels=reserved("world"), identity=2, extra={"names": list(names)})


def test_to_fqdns_matches_the_names_learned_for_the_address():
    repo = rules.rules_of({"metadata": {"name": "p", "namespace": "app"}, "spec": {
        "endpointSelector": {"matchLabels": {"kind": "client"}},
        "egress": [{"toFQDNs": [{"matchName": "api.payments.example"}], "toPorts": [{"ports": [{"port": "443"}]}]}]}})
    me = client()
    allowed = rules.evaluate(repo, rules.EGRESS, me, world("203.0.113.10", "api.payments.example"),
                             world("203.0.113.10"), 443, "TCP")
    assert allowed.enforced and allowed.allows
    for peer in (world("203.0.113.10"), world("203.0.113.20", "api.github.example")):  # not resolved; another name
        assert not rules.evaluate(repo, rules.EGRESS, me, peer, peer, 443, "TCP").allows


def test_dns_rules_merge_like_l7_rules():
    dns_rule = {"toEndpoints": [{"matchLabels": {"k8s:k8s-app": "kube-dns"}}],
                "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}],
                             "rules": {"dns": [{"matchName": "api.payments.example"}]}}]}
    coredns = Endpoint(ip="10.244.0.3", labels=pod_labels({"metadata": {"name": "coredns", "namespace": "kube-system",
                                                                        "labels": {"k8s-app": "kube-dns"}}}, {}),
                       identity=400, namespace="kube-system", name="coredns")
    spec = {"endpointSelector": {}, "egress": [dns_rule]}
    repo = rules.rules_of({"metadata": {"name": "p"}, "spec": spec})  # clusterwide: any namespace
    assert rules.evaluate(repo, rules.EGRESS, client(), coredns, coredns, 53, "UDP").dns == [
        {"matchName": "api.payments.example"}]
    repo += rules.rules_of({"metadata": {"name": "q"}, "spec": {"endpointSelector": {}, "egress": [
        {"toEntities": ["cluster"]}]}})
    assert rules.evaluate(repo, rules.EGRESS, client(), coredns, coredns, 53, "UDP").dns == [{"matchPattern": "*"}]


def test_hubble_dns_lines():
    me, dns = FlowPeer("10.244.1.5", 41000, "app", "client", 300), FlowPeer("10.244.0.3", 53, "kube-system",
                                                                            "coredns", 400)
    question = {"query": "api.payments.example.", "qtypes": ["A"], "observation_source": "proxy"}
    request = Flow(0.0, "n1", me, dns, "UDP", "FORWARDED", "l7", direction="EGRESS",
                   l7={"type": "REQUEST", "dns": question})
    assert request.compact() == ("Jan  1 00:00:00.000: app/client:41000 (ID:300) -> kube-system/coredns:53 (ID:400) "
                                 "dns-request proxy FORWARDED (DNS Query api.payments.example. A)")
    answer = {**question, "rcode": 0, "rcode_name": "No Error", "ips": ["203.0.113.10"], "cnames": [], "ttl": 60}
    response = Flow(0.0, "n1", dns, me, "UDP", "FORWARDED", "l7", is_reply=True, l7={"type": "RESPONSE", "dns": answer})
    assert response.compact().endswith("app/client:41000 (ID:300) <- kube-system/coredns:53 (ID:400) dns-response "
                                       'proxy FORWARDED (DNS Answer "203.0.113.10" TTL: 60 (Proxy '
                                       "api.payments.example. A))")
    refused = {**question, "rcode": 5, "rcode_name": "Query Refused", "ips": [], "cnames": [], "ttl": 0}
    assert Flow(0.0, "n1", dns, me, "UDP", "FORWARDED", "l7", is_reply=True,
                l7={"type": "RESPONSE", "dns": refused}).summary == (
        "DNS Answer RCode: Query Refused TTL: 0 (Proxy api.payments.example. A)")
    out = Flow(0.0, "n1", me, FlowPeer("203.0.113.10", 443, identity=2, names=["api.payments.example"]), "TCP",
               "FORWARDED", "trace", "to-stack", "EGRESS")
    assert "app/client:41000 (ID:300) -> api.payments.example:443 (world) to-stack FORWARDED" in out.compact()
    assert '"destination_names":["api.payments.example"]' in out.jsonpb()
