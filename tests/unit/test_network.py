"""One connection end to end: resolve → Service → endpoint → NetworkPolicy → listening pod, with agnhost's errors.

Sources: test/images/agnhost/connect/connect.go (TIMEOUT / REFUSED / DNS), Go's net.DNSError wording, the
kubelet-managed /etc/hosts (https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/) and the
virtual-IPs page. The emulated workloads and the policy engine are stubbed: only their contracts matter here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from k8snet.sandbox.dataplane import AllowAll, net_error_line
from k8snet.sandbox.dataplane.capture import Capture
from k8snet.sandbox.dataplane.dns import Resolver
from k8snet.sandbox.dataplane.model import DnsError, Hop, Refused, Timeout
from k8snet.sandbox.dataplane.network import Network
from k8snet.sandbox.dataplane.proxy import KubeProxy
from k8snet.sandbox.instance import Sandbox

Obj = dict[str, Any]
W1, W2 = "k8snet-worker", "k8snet-worker2"


class Workloads:
    """Stub of dataplane.workloads: a pod listens on the (name, port, protocol) triples given."""

    def __init__(self, listening: set[tuple[str, int, str]]):
        self.ports = listening

    def listening(self, pod: Obj, port: int, protocol: str) -> bool:
        return (pod["metadata"]["name"], port, protocol) in self.ports


class DenyTo:
    """Stub policy engine: drops traffic to one pod, records what it was asked."""

    def __init__(self, pod_name: str):
        self.pod_name = pod_name
        self.calls: list[tuple[str, str, int]] = []

    def verdict(self, src_pod, src_ip, dst_pod, port, protocol):  # noqa: ANN001
        self.calls.append((src_ip, dst_pod["metadata"]["name"], port))
        if dst_pod["metadata"]["name"] == self.pod_name:
            return False, [Hop("policy", f"default-deny selects {self.pod_name}", {"allowed": False})]
        return True, [Hop("policy", "allowed", {"allowed": True})]


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=3)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def network(sb: Sandbox, listening: set[tuple[str, int, str]], policy: Any = None) -> Network:
    dp = SimpleNamespace(dns=Resolver(sb), proxy=KubeProxy(sb), policy=policy or AllowAll(),
                         workloads=Workloads(listening), capture=Capture(sb.clock.now))
    return Network(sb, dp)


def pod(sb: Sandbox, name: str, ip: str, node: str = W1, phase: str = "Running", **spec: Any) -> Obj:
    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": name.split("-")[0]}},
           "spec": {"nodeName": node, "dnsPolicy": "ClusterFirst", "containers": [{"name": "c", "image": "agnhost"}],
                    **spec},
           "status": {"phase": phase, "podIP": ip}}
    return sb.store.put("pods", obj)


def web_service(sb: Sandbox, endpoints: list[Obj], **spec: Any) -> Obj:
    svc = sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}})
    sb.store.put("endpointslices.discovery.k8s.io", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "web-x1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [p["status"]["podIP"]], "nodeName": p["spec"]["nodeName"],
                       "conditions": {"ready": True, "serving": True, "terminating": False},
                       "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "default"}}
                      for p in endpoints]})
    return svc


def test_service_name_connection_records_every_hop(sb: Sandbox) -> None:
    """DESIGN: "a connection from a pod: resolve → Service → endpoint → policy → pod", each decision a Hop."""
    client = pod(sb, "client", "10.244.1.9")
    web = [pod(sb, "web-a", "10.244.1.5"), pod(sb, "web-b", "10.244.2.5", W2)]
    web_service(sb, web)
    conn = network(sb, {("web-a", 8080, "TCP"), ("web-b", 8080, "TCP")}).connect(client, "web", 80)
    assert [h.kind for h in conn.hops] == ["dns", "service", "endpoint", "policy", "pod"]
    assert conn.dst_pod["metadata"]["name"] in ("web-a", "web-b") and conn.port == 8080
    assert conn.client_ip == "10.244.1.9" and 32768 <= conn.client_port <= 60999
    assert conn.service["metadata"]["name"] == "web"


def test_nxdomain_is_a_dns_error_worded_as_go_reports_it(sb: Sandbox) -> None:
    """agnhost connect: "if _, err := net.ResolveTCPAddr(…); err != nil { … "DNS: %v" }"; Go's DNSError shows the
    name as given: "lookup NAME on SERVER: no such host"."""
    client = pod(sb, "client", "10.244.1.9")
    with pytest.raises(DnsError) as info:
        network(sb, set()).connect(client, "nosuch", 80)
    assert net_error_line(info.value) == "DNS: lookup nosuch on 10.96.0.10:53: no such host"
    assert info.value.hops[-1].kind == "dns"


def test_nothing_listening_is_refused_for_tcp_and_udp(sb: Sandbox) -> None:
    """A closed TCP port answers RST; a closed UDP port answers ICMP port unreachable, which agnhost connect's
    parseUDPErrorAndExit reports as REFUSED ("connection refused")."""
    client = pod(sb, "client", "10.244.1.9")
    pod(sb, "web-a", "10.244.1.5")
    net = network(sb, {("web-a", 8080, "TCP")})
    with pytest.raises(Refused):
        net.connect(client, "10.244.1.5", 9999)
    with pytest.raises(Refused):
        net.connect(client, "10.244.1.5", 8080, "UDP")


def test_service_without_endpoints_is_refused(sb: Sandbox) -> None:
    """DESIGN probe contract: "no endpoints is REFUSED" (kube-proxy's REJECT rule)."""
    client = pod(sb, "client", "10.244.1.9")
    web_service(sb, [])
    with pytest.raises(Refused) as info:
        network(sb, set()).connect(client, "web", 80)
    assert net_error_line(info.value) == "REFUSED"


def test_policy_drop_is_a_timeout_with_the_policy_hops(sb: Sandbox) -> None:
    """DESIGN probe contract: "a policy drop is a TIMEOUT" (NetworkPolicy drops packets, nothing answers)."""
    client = pod(sb, "client", "10.244.1.9")
    pod(sb, "web-a", "10.244.1.5")
    with pytest.raises(Timeout) as info:
        network(sb, {("web-a", 8080, "TCP")}, DenyTo("web-a")).connect(client, "10.244.1.5", 8080)
    assert info.value.hops[-1].kind == "policy" and info.value.hops[-1].detail["allowed"] is False


def test_policy_sees_the_translated_destination_and_the_snat_source(sb: Sandbox) -> None:
    """NetworkPolicy applies after kube-proxy's DNAT (the pod's port) and sees the source after SNAT (the node
    address for externalTrafficPolicy Cluster)."""
    web = [pod(sb, "web-a", "10.244.2.5", W2)]
    node_port = web_service(sb, web, type="NodePort")["spec"]["ports"][0]["nodePort"]
    policy = DenyTo("nobody")
    conn = network(sb, {("web-a", 8080, "TCP")}, policy).connect(None, "172.18.0.3", node_port,
                                                                 src_ip="172.18.0.1")
    assert policy.calls == [("172.18.0.3", "web-a", 8080)]
    assert conn.client_ip == "172.18.0.3"


def test_pods_that_are_not_running_or_unknown_addresses_time_out(sb: Sandbox) -> None:
    """A SYN to an address no running pod answers is lost: agnhost connect reports TIMEOUT."""
    client = pod(sb, "client", "10.244.1.9")
    pod(sb, "web-a", "10.244.1.5", phase="Pending")
    net = network(sb, {("web-a", 8080, "TCP")})
    with pytest.raises(Timeout):
        net.connect(client, "10.244.1.5", 8080)
    with pytest.raises(Timeout):
        net.connect(client, "10.244.2.77", 8080)


def test_node_address_without_a_listener_is_refused(sb: Sandbox) -> None:
    """A node's kernel answers RST on a port nothing (and no NodePort rule) listens on."""
    client = pod(sb, "client", "10.244.1.9")
    with pytest.raises(Refused):
        network(sb, set()).connect(client, "172.18.0.4", 12345)


def test_localhost_and_own_hostname_come_from_etc_hosts(sb: Sandbox) -> None:
    """customize-hosts-file-for-pods: the kubelet-managed hosts file maps localhost and the Pod's hostname to its
    IP; loopback traffic never meets kube-proxy or NetworkPolicy."""
    client = pod(sb, "client", "10.244.1.9")
    net = network(sb, {("client", 8080, "TCP")}, DenyTo("client"))
    conn = net.connect(client, "localhost", 8080)
    assert (conn.dst_pod["metadata"]["name"], conn.client_ip) == ("client", "127.0.0.1")
    assert [h.kind for h in conn.hops] == ["dns", "pod"]
    with pytest.raises(Timeout):  # by its own name the traffic leaves loopback and meets the policy
        net.connect(client, "client", 8080)


def test_direct_pod_to_pod_keeps_the_pod_address(sb: Sandbox) -> None:
    """Kubernetes network model: "pods can communicate with all other pods on any other node without NAT"."""
    client = pod(sb, "client", "10.244.1.9")
    pod(sb, "web-b", "10.244.2.5", W2)
    conn = network(sb, {("web-b", 8080, "TCP")}).connect(client, "10.244.2.5", 8080)
    assert conn.client_ip == "10.244.1.9" and conn.service is None
    assert [h.kind for h in conn.hops] == ["policy", "pod"]


def test_the_address_index_follows_the_pods(sb: Sandbox) -> None:
    """Which pod holds an address is kept between connections (``dataplane.derived``) and follows every pod write:
    a pod that goes and another that takes its address over, a pod that stops Running (its SYN is then lost)."""
    client = pod(sb, "client", "10.244.1.9")
    pod(sb, "web-a", "10.244.1.5")
    net = network(sb, {("web-a", 8080, "TCP"), ("web-b", 8080, "TCP")})
    assert net.connect(client, "10.244.1.5", 8080).dst_pod["metadata"]["name"] == "web-a"
    sb.store.remove("pods", "default", "web-a")
    pod(sb, "web-b", "10.244.1.5")
    assert net.connect(client, "10.244.1.5", 8080).dst_pod["metadata"]["name"] == "web-b"
    pod(sb, "web-b", "10.244.1.5", phase="Succeeded")
    with pytest.raises(Timeout):
        net.connect(client, "10.244.1.5", 8080)
    assert [p["metadata"]["name"] for p in net.pods_at("10.244.1.5")] == ["web-b"]
    assert net.pods_at("10.244.1.77") == ()
