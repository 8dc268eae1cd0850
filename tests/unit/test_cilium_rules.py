"""Cilium's rule matching as pure functions (k8snet.sandbox.dataplane.cilium): selectors with label sources, the
namespace a CiliumNetworkPolicy's peer selector keeps to, entities, CIDR rules (world only), ports, default deny and
enableDefaultDeny, deny items, and the L7 HTTP rules (anchored regexes, headers) — docs.cilium.io
security/policy/language and pkg/policy/api."""

from __future__ import annotations

from k8snet.sandbox.dataplane.cilium import l7, rules
from k8snet.sandbox.dataplane.cilium.hubble import Flow, FlowPeer
from k8snet.sandbox.dataplane.cilium.labels import (
    Endpoint,
    entity_matches,
    peer_selector_matches,
    pod_labels,
    reserved,
    selector_matches,
)
from k8snet.sandbox.dataplane.model import HttpRequest


def pod(name: str, ns: str = "app", **labels: str) -> Endpoint:
    obj = {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {"nodeName": "n1"}}
    return Endpoint(ip="10.244.1.5", labels=pod_labels(obj, {"kubernetes.io/metadata.name": ns}), identity=300,
                    namespace=ns, name=name, node="n1", ports=(("http", 8080, "TCP"),))


WORLD = Endpoint(ip="172.18.0.1", labels=reserved("world"), identity=2)
HOST = Endpoint(ip="10.244.1.1", labels=reserved("host"), identity=1, node="n1")


def cnp(spec: dict, ns: str = "app", name: str = "p") -> list[rules.Rule]:
    return rules.rules_of({"metadata": {"name": name, "namespace": ns}, "spec": spec})


def test_label_sources_and_filtered_labels():
    web = pod("web", app="web", **{"pod-template-hash": "abc"})
    assert selector_matches({"matchLabels": {"k8s:app": "web"}}, web.labels)
    assert selector_matches({"matchLabels": {"app": "web"}}, web.labels)  # no source: any
    assert not selector_matches({"matchLabels": {"reserved:app": "web"}}, web.labels)
    assert not selector_matches({"matchLabels": {"pod-template-hash": "abc"}}, web.labels)  # not an identity label
    assert selector_matches({"matchExpressions": [{"key": "k8s:io.kubernetes.pod.namespace", "operator": "In",
                                                   "values": ["app"]}]}, web.labels)


def test_peer_selectors_keep_to_the_policys_namespace_unless_they_name_one():
    other = pod("c", ns="other", app="c")
    assert not peer_selector_matches({}, "app", other)
    assert peer_selector_matches({"matchLabels": {"k8s:io.kubernetes.pod.namespace": "other"}}, "app", other)
    assert peer_selector_matches({}, None, other)  # a clusterwide policy's selector
    assert not peer_selector_matches({}, "app", WORLD)  # selectors select endpoints, not reserved identities
    assert peer_selector_matches({"matchLabels": {"reserved:host": ""}}, "app", HOST)


def test_entities():
    web = pod("web")
    assert entity_matches("cluster", web) and entity_matches("cluster", HOST) and not entity_matches("cluster", WORLD)
    assert entity_matches("world", WORLD) and entity_matches("all", WORLD) and not entity_matches("world", web)
    assert entity_matches("host", HOST) and not entity_matches("remote-node", HOST)


def test_default_deny_enable_default_deny_and_empty_rules():
    web, client = pod("web", app="web"), pod("client", app="client")
    allow = cnp({"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"fromEndpoints": [{}]}]})
    r = rules.evaluate(allow, rules.INGRESS, web, client, web, 80, "TCP")
    assert r.enforced and r.allows and not r.denies
    assert not rules.evaluate(allow, rules.EGRESS, web, client, client, 80, "TCP").enforced  # ingress only
    deny_only = cnp({"endpointSelector": {}, "enableDefaultDeny": {"ingress": False},
                     "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "client"}}]}]})
    r = rules.evaluate(deny_only, rules.INGRESS, web, client, web, 80, "TCP")
    assert not r.enforced and r.denies
    empty = cnp({"endpointSelector": {}, "ingress": [{}]})
    r = rules.evaluate(empty, rules.INGRESS, web, client, web, 80, "TCP")
    assert r.enforced and not r.allows  # the documented default-deny policy
    other_ns = cnp({"endpointSelector": {}, "ingress": [{}]}, ns="elsewhere")
    assert not rules.evaluate(other_ns, rules.INGRESS, web, client, web, 80, "TCP").rules


def test_ports_cidr_and_entities_in_items():
    web, client = pod("web", app="web"), pod("client", app="client")
    spec = {"endpointSelector": {}, "ingress": [
        {"toPorts": [{"ports": [{"port": "8000", "endPort": 8100, "protocol": "TCP"}]}]},
        {"fromEntities": ["world"], "toPorts": [{"ports": [{"port": "http"}]}]},
        {"fromCIDRSet": [{"cidr": "0.0.0.0/0", "except": ["172.18.0.0/16"]}]}]}
    repo = cnp(spec)
    assert [m.item for m in rules.evaluate(repo, rules.INGRESS, web, client, web, 8050, "TCP").allows] == [0]
    assert not rules.evaluate(repo, rules.INGRESS, web, client, web, 8050, "UDP").allows
    assert [m.item for m in rules.evaluate(repo, rules.INGRESS, web, WORLD, web, 8080, "TCP").allows] == [0, 1]
    assert not rules.evaluate(repo, rules.INGRESS, web, WORLD, web, 9090, "TCP").allows  # CIDR except
    cidr_pods = cnp({"endpointSelector": {}, "ingress": [{"fromCIDR": ["10.244.0.0/16"]}]})
    assert not rules.evaluate(cidr_pods, rules.INGRESS, web, client, web, 80, "TCP").allows  # pods: by identity
    assert rules.port_matches({"port": "53", "protocol": "ANY"}, web, 53, "UDP")
    assert not rules.port_matches({"port": "53"}, web, 0, "ICMP")


def test_l7_http_rules_are_anchored_and_merge_with_plain_allows():
    def req(method: str, path: str, **headers: str) -> HttpRequest:
        return HttpRequest(method, path, dict(headers), host="echo:8080")

    rule = {"method": "GET", "path": "/public"}
    assert l7.rule_matches(rule, req("GET", "/public"))
    assert not l7.rule_matches(rule, req("GET", "/public/x")) and not l7.rule_matches(rule, req("POST", "/public"))
    secret = {"path": "/private$", "headers": ["X-Very-Secret-Token: 42"]}
    assert l7.rule_matches(secret, req("GET", "/private", **{"x-very-secret-token": "42"}))
    assert not l7.rule_matches(secret, req("GET", "/private", **{"X-Very-Secret-Token": "41"}))
    assert l7.rule_matches({"headers": ["X-Token"]}, req("GET", "/", **{"X-Token": "any"}))
    assert l7.rule_matches({"host": "echo(:8080)?"}, req("GET", "/"))
    web, client = pod("web"), pod("client")
    http_port = {"ports": [{"port": "80"}], "rules": {"http": [rule]}}
    repo = cnp({"endpointSelector": {}, "ingress": [{"toPorts": [http_port]}]})
    assert rules.evaluate(repo, rules.INGRESS, web, client, web, 80, "TCP").http == [rule]
    repo += cnp({"endpointSelector": {}, "ingress": [{"toPorts": [{"ports": [{"port": "80"}]}]}]}, name="q")
    assert rules.evaluate(repo, rules.INGRESS, web, client, web, 80, "TCP").http is None  # a plain allow: all
    denied = l7.denied_response(__import__("datetime").datetime(2026, 1, 1))
    assert (denied.status, denied.body, denied.headers["content-type"]) == (403, b"Access denied\r\n", "text/plain")


def test_not_emulated_fields_are_named():
    obj = {"metadata": {"name": "p", "namespace": "app"}, "spec": {"endpointSelector": {}, "egress": [
        {"toServices": [{"k8sService": {"serviceName": "web", "namespace": "app"}}]},
        {"toPorts": [{"ports": [{"port": "9092"}], "rules": {"kafka": [{"topic": "t"}]}}]},
        {"toFQDNs": [{"matchName": "example.com"}],
         "toPorts": [{"ports": [{"port": "53"}], "rules": {"dns": [{"matchPattern": "*"}]}}]}]}}
    found = rules.not_emulated(obj)
    assert any(f.startswith("spec.egress[0].toServices: ") for f in found)
    assert any(f.startswith("spec.egress[1].toPorts[0].rules.kafka: ") for f in found)
    assert not any(f.startswith("spec.egress[2].") for f in found)  # toFQDNs and DNS rules are emulated


def test_hubble_compact_lines():
    src = FlowPeer("10.244.1.5", 40000, "app", "client", 300)
    dst = FlowPeer("10.244.2.7", 8080, "app", "web", 400)
    drop = Flow(0.0, "n2", src, dst, "TCP", "DROPPED", "drop", "Policy denied", is_reply=None)
    assert drop.compact() == ("Jan  1 00:00:00.000: app/client:40000 (ID:300) <> app/web:8080 (ID:400) "
                              "Policy denied DROPPED (TCP Flags: SYN)")
    world = FlowPeer("172.18.0.1", 5000, identity=2)
    forwarded = Flow(0.0, "n2", world, dst, "TCP", "FORWARDED", "trace", "to-endpoint")
    assert "172.18.0.1:5000 (world) -> app/web:8080 (ID:400) to-endpoint FORWARDED" in forwarded.compact()
    response = Flow(0.0, "n2", src, dst, "TCP", "FORWARDED", "l7", is_reply=True,
                    l7={"type": "RESPONSE", "method": "GET", "url": "http://web/", "code": 403, "latency_ms": 1})
    assert response.compact().endswith("app/web:8080 (ID:400) <- app/client:40000 (ID:300) http-response FORWARDED "
                                       "(HTTP/1.1 403 1ms (GET http://web/))")
