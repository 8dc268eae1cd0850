"""kube-proxy (iptables mode): endpoint choice, session affinity, traffic policies, REJECT/DROP and source NAT.

Sources: https://kubernetes.io/docs/reference/networking/virtual-ips/ (virtual IPs), pkg/proxy/iptables/proxier.go
and pkg/proxy/topology.go (CategorizeEndpoints), https://kubernetes.io/docs/tutorials/services/source-ip/ and
``kubectl explain service.spec.externalTrafficPolicy``. EndpointSlices are written by the test.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from k8snet.sandbox.dataplane.model import Refused, Timeout
from k8snet.sandbox.dataplane.proxy import KubeProxy
from k8snet.sandbox.instance import Sandbox

Obj = dict[str, Any]
W1, W2, CP = "k8snet-worker", "k8snet-worker2", "k8snet-control-plane"
NODE_IP = {CP: "172.18.0.2", W1: "172.18.0.3", W2: "172.18.0.4"}
HOST = "172.18.0.1"


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=11)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def service(sb: Sandbox, name: str = "web", **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": "http"}])
    spec.setdefault("selector", {"app": name})
    return sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {"metadata": {"name": name},
                                                                               "spec": spec})


def ep(ip: str, node: str, ready: bool = True, serving: bool | None = None, terminating: bool = False) -> Obj:
    return {"addresses": [ip], "nodeName": node,
            "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                           "terminating": terminating},
            "targetRef": {"kind": "Pod", "name": f"web-{ip.rsplit('.', 1)[-1]}", "namespace": "default"}}


def endpoint_slice(sb: Sandbox, endpoints: list[Obj], svc: str = "web", port_name: str = "http") -> None:
    sb.store.put("endpointslices.discovery.k8s.io", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{svc}-x1", "namespace": "default", "labels": {"kubernetes.io/service-name": svc}},
        "ports": [{"name": port_name, "port": 8080, "protocol": "TCP"}], "endpoints": endpoints})


def client(ip: str = "10.244.1.9", node: str = W1) -> Obj:
    return {"metadata": {"name": f"client-{ip}", "namespace": "default"}, "spec": {"nodeName": node},
            "status": {"phase": "Running", "podIP": ip}}


THREE = [ep("10.244.0.5", CP), ep("10.244.1.5", W1), ep("10.244.2.5", W2)]


# -- ClusterIP --------------------------------------------------------------------------------------------


def test_cluster_ip_picks_uniformly_among_ready_endpoints_per_connection(sb: Sandbox) -> None:
    """virtual-ips: "By default, kube-proxy in iptables mode chooses a backend at random"; the statistic rules
    give every endpoint 1/n, drawn again for each new connection."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    proxy = KubeProxy(sb)
    routes = [proxy.route(client(), W1, ip, 80, "TCP") for _ in range(600)]
    counts = Counter(r.pod_ip for r in routes)
    assert set(counts) == {"10.244.0.5", "10.244.1.5", "10.244.2.5"}
    assert all(150 < n < 250 for n in counts.values()), counts
    assert {r.reason for r in routes} == {"random"}
    assert routes[0].target_port == 8080 and routes[0].client_ip == "10.244.1.9"  # pod → ClusterIP: no SNAT


def test_endpoint_choice_repeats_under_the_same_seed(sb: Sandbox) -> None:
    """DESIGN: randomness comes from one seeded generator, so runs repeat."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)

    def run() -> list[str]:
        sb.reseed(5)
        proxy = KubeProxy(sb)
        return [proxy.route(client(), W1, ip, 80, "TCP").pod_ip for _ in range(20)]

    assert run() == run()


def test_not_ready_endpoints_are_not_used(sb: Sandbox) -> None:
    """CategorizeEndpoints: cluster endpoints are those with ep.IsReady()."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, [ep("10.244.1.5", W1), ep("10.244.2.5", W2, ready=False)])
    route = KubeProxy(sb).route(client(), W1, ip, 80, "TCP")
    assert route.pod_ip == "10.244.1.5" and route.reason == "only-one"


def test_serving_terminating_endpoints_only_when_no_ready_endpoint(sb: Sandbox) -> None:
    """topology.go: "if there are 0 cluster-wide endpoints, we can try to fallback to any terminating endpoints
    that are ready" (ProxyTerminatingEndpoints, GA in 1.28)."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, [ep("10.244.1.5", W1, ready=False, serving=True, terminating=True)])
    proxy = KubeProxy(sb)
    route = proxy.route(client(), W1, ip, 80, "TCP")
    assert route.pod_ip == "10.244.1.5" and route.hops[-1].detail["terminating"] is True
    endpoint_slice(sb, [ep("10.244.1.5", W1, ready=False, serving=True, terminating=True), ep("10.244.2.5", W2)])
    proxy = KubeProxy(sb)  # one that has synced since (syncs: tests/unit/test_proxy_sync.py)
    assert {proxy.route(client(), W1, ip, 80, "TCP").pod_ip for _ in range(20)} == {"10.244.2.5"}


def test_no_endpoints_is_rejected(sb: Sandbox) -> None:
    """proxier.go: "if !hasEndpoints … internalTrafficFilterTarget = REJECT … '%s has no endpoints'"."""
    ip = service(sb)["spec"]["clusterIP"]
    with pytest.raises(Refused) as info:
        KubeProxy(sb).route(client(), W1, ip, 80, "TCP")
    assert info.value.hops[-1].detail["reason"] == "no-endpoints"


def test_target_port_comes_from_the_slice_port_with_the_service_ports_name(sb: Sandbox) -> None:
    """endpointslicecache.go pairs a Service port with the EndpointSlice port of the same name; a slice without
    it gives the Service port no endpoints (REJECT)."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, THREE, port_name="web")
    with pytest.raises(Refused):
        KubeProxy(sb).route(client(), W1, ip, 80, "TCP")


def test_a_port_the_service_does_not_define_is_dropped(sb: Sandbox) -> None:
    """KEP-3866: only the nftables proxy rejects "invalid ports on active cluster IPs"; the iptables proxier has
    no rule for them, so the packet goes nowhere (Timeout)."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    with pytest.raises(Timeout):
        KubeProxy(sb).route(client(), W1, ip, 81, "TCP")
    with pytest.raises(Timeout):
        KubeProxy(sb).route(client(), W1, ip, 80, "UDP")


def test_addresses_that_are_not_services_return_none(sb: Sandbox) -> None:
    """KUBE-SERVICES matches only Service addresses; pod IPs are routed by the pod network."""
    service(sb)
    endpoint_slice(sb, THREE)
    proxy = KubeProxy(sb)
    assert proxy.route(client(), W1, "10.244.1.5", 8080, "TCP") is None
    assert proxy.route(client(), W1, NODE_IP[W2], 22, "TCP") is None


def test_cluster_ip_is_not_reachable_from_outside(sb: Sandbox) -> None:
    """virtual-ips: ClusterIPs are virtual addresses programmed on cluster nodes; nothing routes them to the host."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    with pytest.raises(Timeout):
        KubeProxy(sb).route(None, None, ip, 80, "TCP", src_ip=HOST)


def test_hairpin_connection_is_masqueraded(sb: Sandbox) -> None:
    """proxier.go KUBE-SEP: "-s <endpoint IP> -j KUBE-MARK-MASQ" so a pod reaching itself through its Service
    sees the node's pod-network address as client."""
    ip = service(sb)["spec"]["clusterIP"]
    endpoint_slice(sb, [ep("10.244.1.5", W1)])
    route = KubeProxy(sb).route(client("10.244.1.5", W1), W1, ip, 80, "TCP")
    assert route.client_ip == "10.244.1.1"


# -- session affinity -----------------------------------------------------------------------------------


def test_client_ip_affinity_keeps_a_client_until_timeout_of_inactivity(sb: Sandbox) -> None:
    """virtual-ips: "sessionAffinity … ClientIP … connections from a particular client are passed to the same
    Pod each time"; "sessionAffinityConfig.clientIP.timeoutSeconds" (default 10800) — the recent module's
    --rcheck --seconds counts from the last connection."""
    ip = service(sb, sessionAffinity="ClientIP",
                 sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    proxy = KubeProxy(sb)
    first = proxy.route(client(), W1, ip, 80, "TCP")
    later = []
    for _ in range(10):
        sb.clock.advance(50)  # inactivity never exceeds 60 s
        later.append(proxy.route(client(), W1, ip, 80, "TCP"))
    assert {r.pod_ip for r in later} == {first.pod_ip} and {r.reason for r in later} == {"affinity"}
    sb.clock.advance(61)
    assert proxy.route(client(), W1, ip, 80, "TCP").reason == "random"


def test_affinity_is_per_client_ip(sb: Sandbox) -> None:
    """The recent lists are keyed by source address: other clients draw their own endpoint."""
    ip = service(sb, sessionAffinity="ClientIP")["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    proxy = KubeProxy(sb)
    chosen = {proxy.route(client(f"10.244.1.{i}"), W1, ip, 80, "TCP").pod_ip for i in range(10, 40)}
    assert len(chosen) > 1


# -- traffic policies ---------------------------------------------------------------------------------------


def test_internal_traffic_policy_local_uses_only_the_clients_node(sb: Sandbox) -> None:
    """virtual-ips: "internalTrafficPolicy: Local … only route internal traffic to endpoints within the node the
    traffic originated from"."""
    ip = service(sb, internalTrafficPolicy="Local")["spec"]["clusterIP"]
    endpoint_slice(sb, THREE)
    routes = [KubeProxy(sb).route(client(), W1, ip, 80, "TCP") for _ in range(20)]
    assert {r.pod_ip for r in routes} == {"10.244.1.5"}
    assert routes[0].hops[-1].detail["policy"] == "Local"


def test_internal_traffic_policy_local_without_local_endpoint_drops(sb: Sandbox) -> None:
    """proxier.go: "The internalTrafficPolicy is Local but there are no local endpoints. Traffic to the clusterIP
    will be dropped" — a Timeout, not a REJECT."""
    ip = service(sb, internalTrafficPolicy="Local")["spec"]["clusterIP"]
    endpoint_slice(sb, [ep("10.244.2.5", W2)])
    with pytest.raises(Timeout) as info:
        KubeProxy(sb).route(client(), W1, ip, 80, "TCP")
    assert info.value.hops[-1].detail["dropped"] is True


def test_nodeport_with_cluster_policy_snats_to_the_receiving_node(sb: Sandbox) -> None:
    """Using Source IP: with Type=NodePort "packets are SNAT'd to the node's IP" ("client_address" shows a cluster
    address): the receiving node's IP when the pod is elsewhere, its pod-network address when it is local."""
    node_port = service(sb, type="NodePort")["spec"]["ports"][0]["nodePort"]
    endpoint_slice(sb, THREE)
    proxy = KubeProxy(sb)
    seen = {(r.pod_ip, r.client_ip) for r in
            (proxy.route(None, None, NODE_IP[W1], node_port, "TCP", src_ip=HOST) for _ in range(60))}
    assert seen == {("10.244.0.5", NODE_IP[W1]), ("10.244.2.5", NODE_IP[W1]), ("10.244.1.5", "10.244.1.1")}


def test_nodeport_with_local_policy_keeps_the_client_address(sb: Sandbox) -> None:
    """kubectl explain: "Local … each node will deliver traffic only to the node-local endpoints of the service,
    without masquerading the client source IP. (Traffic mistakenly sent to a node with no endpoints will be
    dropped.)"."""
    node_port = service(sb, type="NodePort", externalTrafficPolicy="Local")["spec"]["ports"][0]["nodePort"]
    endpoint_slice(sb, [ep("10.244.1.5", W1), ep("10.244.1.6", W1)])
    proxy = KubeProxy(sb)
    routes = [proxy.route(None, None, NODE_IP[W1], node_port, "TCP", src_ip=HOST) for _ in range(20)]
    assert {r.client_ip for r in routes} == {HOST}
    assert {r.node for r in routes} == {W1} and {r.reason for r in routes} == {"traffic-policy"}
    with pytest.raises(Timeout):
        proxy.route(None, None, NODE_IP[W2], node_port, "TCP", src_ip=HOST)


def test_nodeport_from_a_pod_to_another_node_meets_that_nodes_policy(sb: Sandbox) -> None:
    """kubectl explain: "clients sending to a NodePort from within the cluster may need to take traffic policy
    into account when picking a node"; kindnet masquerades pod traffic to node addresses."""
    node_port = service(sb, type="NodePort", externalTrafficPolicy="Local")["spec"]["ports"][0]["nodePort"]
    endpoint_slice(sb, [ep("10.244.2.5", W2)])
    proxy = KubeProxy(sb)
    route = proxy.route(client(), W1, NODE_IP[W2], node_port, "TCP")
    assert (route.pod_ip, route.client_ip) == ("10.244.2.5", NODE_IP[W1])
    with pytest.raises(Timeout):
        proxy.route(client("10.244.0.9", CP), CP, NODE_IP[W1], node_port, "TCP")


def test_pod_traffic_to_a_load_balancer_ip_gets_cluster_semantics(sb: Sandbox) -> None:
    """kubectl explain: "traffic sent to an External IP or LoadBalancer IP from within the cluster will always
    get "Cluster" semantics" (proxier.go: "pod traffic for … external destinations" → the cluster chain)."""
    svc = service(sb, type="LoadBalancer", externalTrafficPolicy="Local")
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}
    sb.store.put("services", svc)
    endpoint_slice(sb, [ep("10.244.2.5", W2)])
    route = KubeProxy(sb).route(client(), W1, "172.18.0.5", 80, "TCP")
    assert (route.pod_ip, route.client_ip, route.via) == ("10.244.2.5", "10.244.1.9", "LoadBalancer")


def test_outside_client_to_load_balancer_reaches_healthy_nodes_through_the_proxy(sb: Sandbox) -> None:
    """cloud-provider-kind proxies the LoadBalancer IP to the nodes' NodePorts, health-checking them for
    externalTrafficPolicy Local, so the server sees the load balancer's address and only nodes with endpoints
    receive traffic."""
    svc = service(sb, type="LoadBalancer", externalTrafficPolicy="Local")
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.0.5"}]}}
    sb.store.put("services", svc)
    endpoint_slice(sb, [ep("10.244.2.5", W2)])
    routes = [KubeProxy(sb).route(None, None, "172.18.0.5", 80, "TCP", src_ip=HOST) for _ in range(10)]
    assert {(r.node, r.pod_ip, r.client_ip) for r in routes} == {(W2, "10.244.2.5", "172.18.0.5")}
