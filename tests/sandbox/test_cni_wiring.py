"""k8snet.cni.wiring and plots.packet_path against a sandbox reset to each CNI plugin in turn (the reset a learner
runs): the path read from ``ip`` in the pods and on the nodes (through the pod ``kubectl debug node/…`` makes),
what each plugin's wiring shows (interface names, tunnel, MTUs, traceroute as podnet.py documents it), the debugger
pods deleted afterwards, and the picture at notebook width."""

from __future__ import annotations

import hashlib
import ipaddress
import re

import pytest
from kubernetes.client.exceptions import ApiException
from matplotlib.backends.backend_agg import FigureCanvasAgg
from tests.conftest import private_sandbox

from k8snet import plots
from k8snet.cluster import Cluster
from k8snet.cni import wiring
from k8snet.sandbox import process
from k8snet.traffic import PodRef

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
WORKER, WORKER2 = ("k8snet-worker", "172.18.0.3"), ("k8snet-worker2", "172.18.0.4")
PODS = {"client": ("nicolaka/netshoot", WORKER[0], ["sleep", "3600"]), "near": (AGNHOST, WORKER[0], ["netexec"]),
        "server": (AGNHOST, WORKER2[0], ["netexec"])}
NOTEBOOK_WIDTH_IN = 8.3


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("wiring")) as env:
        yield env


@pytest.fixture(scope="module", params=["kindnet", "cilium", "calico"])
def wired(request, box):
    """A fresh cluster with the plugin; a client on the worker, a pod beside it and one on worker2; both paths."""
    info = process.admin(box.running, "reset", {"seed": 0, "cni": request.param})
    assert info["cni"] == request.param
    cluster = Cluster("sandbox", process.CONTEXT, box.api_client())
    for name, (image, node, command) in PODS.items():
        cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                       "spec": {"nodeName": node, "containers": [{"name": name, "image": image, "args": command}]}})
    for name in PODS:
        cluster.wait_pod_ready(name, "default", timeout=30)
    cross = wiring.path(cluster, PodRef("default", "client"), PodRef("default", "server"))
    same = wiring.path(cluster, PodRef("default", "client"), PodRef("default", "near"))
    return request.param, cluster, cross, same


def uid(cluster: Cluster, name: str) -> str:
    return cluster.core.read_namespaced_pod(name, "default").metadata.uid


def host_side_name(cni: str, cluster: Cluster, pod: str) -> str:
    """The host side's name as each plugin makes it (kindnet's ptp: veth + hash; Cilium Endpoint2IfName: lxc + 12
    hex of a SHA-256; Calico VethNameForWorkload: cali + 11 hex of SHA-1("namespace.pod"))."""
    if cni == "calico":
        return "cali" + hashlib.sha1(f"default.{pod}".encode()).hexdigest()[:11]
    digest = hashlib.sha256(uid(cluster, pod).encode()).hexdigest()
    return ("lxc" + digest[:12]) if cni == "cilium" else ("veth" + digest[:8])


def test_the_plugin_is_read_from_kube_systems_daemonsets(wired):
    cni, cluster, cross, _ = wired
    assert wiring.plugin(cluster) == cni
    assert cross.plugin == cni and cross.backend == "sandbox"
    assert cross.plugin_title.startswith({"kindnet": "kindnet v", "cilium": "Cilium v1.20.2",
                                          "calico": "Calico v3.32.1"}[cni])


def test_the_source_pods_eth0_and_route(wired):
    cni, _, cross, _ = wired
    eth0, route = cross.source.eth0, cross.pod_route
    assert eth0.name == "eth0" and eth0.address == f"{cross.source.ip}/{24 if cni == 'kindnet' else 32}"
    assert eth0.mtu == {"kindnet": 1500, "cilium": 1500, "calico": 1480}[cni]
    assert cross.pod_mtu == {"kindnet": 1500, "cilium": 1450, "calico": 1480}[cni]  # Cilium: the route's MTU
    assert route.destination == "0.0.0.0/0" and route.device == "eth0"
    if cni == "kindnet":
        assert route.gateway == "10.244.1.1"
    elif cni == "calico":
        assert route.gateway == "169.254.1.1"  # no one has it: the cali veth answers ARP (proxy_arp)
    else:
        cilium_host = next(link for link in cross.source.node_links if link.name == "cilium_host")
        assert route.mtu == 1450 and cilium_host.address == f"{route.gateway}/32"  # the router IP


def test_each_end_has_its_host_side_named_by_the_plugin(wired):
    cni, cluster, cross, same = wired
    assert cross.source.host_side.name == host_side_name(cni, cluster, "client")
    assert cross.target.host_side.name == host_side_name(cni, cluster, "server")
    assert same.target.host_side.name == host_side_name(cni, cluster, "near")
    for end in (cross.source, cross.target, same.target):  # the veth pair's ends name each other's ifindex
        assert (end.eth0.peer, end.host_side.peer) == (end.host_side.index, end.eth0.index)


def test_across_nodes_the_node_route_says_what_carries_the_packet(wired):
    cni, _, cross, _ = wired
    w = cross.wire
    assert not cross.same_node and (cross.source.node, cross.target.node) == (WORKER[0], WORKER2[0])
    assert (cross.source.node_ip, cross.target.node_ip) == (WORKER[1], WORKER2[1])
    server_net = ipaddress.ip_network(cross.node_route.destination)
    assert ipaddress.ip_address(cross.target.ip) in server_net
    if cni == "kindnet":  # worker2's /24 via its eth0 address: the packet goes as it is
        assert (cross.node_route.device, cross.node_route.gateway, str(server_net)) == ("eth0", WORKER2[1],
                                                                                       "10.244.2.0/24")
        assert (w.kind, w.device, w.mtu, w.next_hop, w.encapsulated) == ("direct", "eth0", 1500, WORKER2[1], False)
    elif cni == "cilium":  # every range via cilium_host; the eBPF datapath encapsulates on cilium_vxlan
        assert (cross.node_route.device, cross.node_route.mtu) == ("cilium_host", 1450)
        assert (w.kind, w.device, w.mtu) == ("vxlan", "cilium_vxlan", 1450)
        assert (w.outer_source, w.outer_destination) == (WORKER[1], WORKER2[1])
        assert "UDP 8472" in cross.wire_detail and "50 bytes of the node's 1500" in cross.wire_detail
    else:  # worker2's /26 block via its address on tunl0, learned over BGP
        assert server_net.prefixlen == 26 and cross.node_route.onlink
        assert (cross.node_route.device, cross.node_route.gateway) == ("tunl0", WORKER2[1])
        assert (w.kind, w.device, w.mtu) == ("ipip", "tunl0", 1480)
        assert (w.outer_source, w.outer_destination) == (WORKER[1], WORKER2[1])
        assert "20 bytes of the node's 1500" in cross.wire_detail
    delivery = cross.delivery  # worker2 hands it to the server's veth: a /32 route, or Cilium's eBPF
    if cni == "cilium":
        assert delivery.device == "cilium_host" and delivery.destination == "10.244.2.0/24"
    else:
        assert (delivery.destination, delivery.device) == (f"{cross.target.ip}/32", cross.target.host_side.name)


def test_on_one_node_there_is_no_wire(wired):
    cni, _, _, same = wired
    assert same.same_node and same.source.node == same.target.node == WORKER[0]
    assert (same.wire.kind, same.wire.device) == ("local", same.target.host_side.name)
    assert same.node_route.device == ("cilium_host" if cni == "cilium" else same.target.host_side.name)
    assert "wire" not in [s.kind for s in same.steps()]


def test_traceroute_hops_as_each_plugin_answers(wired):
    """kindnet: the node's .1, the other node, the pod; Cilium: * (bpf/lib/l3.h sends no Time Exceeded), the pod;
    Calico: the node's eth0 address, the other node's tunl0 address, the pod (podnet.py's docstring)."""
    cni, _, cross, same = wired
    tunl0 = str(ipaddress.ip_network(f"{cross.target.ip}/26", strict=False).network_address)
    first = {"kindnet": "10.244.1.1", "cilium": "", "calico": WORKER[1]}[cni]
    middle = {"kindnet": [WORKER2[1]], "cilium": [], "calico": [tunl0]}[cni]
    assert [h.address for h in cross.hops] == [first, *middle, cross.target.ip]
    assert [h.address for h in same.hops] == [first, same.target.ip]
    assert [h.ttl for h in cross.hops] == list(range(1, len(cross.hops) + 1))
    assert cross.hops[-1].who == "pod server"
    if cni == "calico":
        assert cross.hops[1].who == f"{WORKER2[0]} tunl0" and cross.hops[0].who == f"{WORKER[0]} eth0"
    if cni == "kindnet":
        assert cross.hops[0].who == f"{WORKER[0]} {cross.source.host_side.name}"
    if cni == "cilium":
        assert cross.hops[0].who == "no answer" and re.search(r"^ 1  \*$", cross.traceroute, re.M)


def test_the_debugger_pods_are_deleted(wired):
    _, cluster, _, _ = wired
    left = cluster.core.list_pod_for_all_namespaces(label_selector="app.kubernetes.io/managed-by=kubectl-debug")
    assert [p.metadata.name for p in left.items] == []


def test_node_shell_is_the_pod_kubectl_debug_node_makes(wired):
    _, cluster, _, _ = wired
    with wiring.node_shell(cluster, WORKER2[0]) as shell:
        assert re.fullmatch(r"node-debugger-k8snet-worker2-[bcdfghjklmnpqrstvwxz2456789]{5}", shell.pod.name)
        pod = cluster.core.read_namespaced_pod(shell.pod.name, shell.pod.namespace)
        spec = pod.spec
        assert (spec.host_network, spec.host_pid, spec.host_ipc) == (True, True, True)
        assert (spec.node_name, spec.restart_policy) == (WORKER2[0], "Never")
        assert [(t.operator, t.key, t.effect) for t in spec.tolerations][0] == ("Exists", None, None)
        assert [(m.name, m.mount_path) for m in spec.containers[0].volume_mounts][0] == ("host-root", "/host")
        assert spec.volumes[0].host_path.path == "/"
        assert pod.metadata.labels["app.kubernetes.io/managed-by"] == "kubectl-debug"
        addr = shell.run(["ip", "addr"]).stdout  # the node's own network namespace, reused for several commands
        assert f"inet {WORKER2[1]}/16" in addr
        assert "default via 172.18.0.1 dev eth0" in shell.run(["ip", "route"]).stdout
        with pytest.raises(RuntimeError, match="exited"):
            shell.run(["ip", "xfrm", "state"])  # the sandbox says what it does not emulate
    with pytest.raises(ApiException) as gone:
        cluster.core.read_namespaced_pod(shell.pod.name, shell.pod.namespace)
    assert gone.value.status == 404
    with pytest.raises(ApiException) as missing, wiring.node_shell(cluster, "no-such-node"):
        pass
    assert missing.value.status == 404  # kubectl debug node/x: nodes "x" not found


def test_the_picture_fits_the_notebook_and_names_every_step(wired):
    cni, _, cross, same = wired
    for p in (cross, same):
        fig = plots.packet_path(p)
        assert fig.get_size_inches()[0] <= NOTEBOOK_WIDTH_IN
        renderer = FigureCanvasAgg(fig).get_renderer()
        ax = fig.axes[0]
        gids = {a.get_gid(): a for a in [*ax.patches, *ax.texts] if a.get_gid()}
        boxes = {g for g in gids if g.startswith("box:")}
        assert boxes == {f"box:{n}" for n in ("pod-a", "veth-a", "route-a", "pod-b", "veth-b", "route-b")}
        assert {g for g in gids if g.startswith("node:")} == {f"node:{p.source.node}", f"node:{p.target.node}"}
        assert {g for g in gids if g.startswith("wire:")} == (set() if p.same_node else {f"wire:{p.wire.kind}"})
        assert {g for g in gids if g.startswith("hop:")} == {f"hop:{h.ttl}" for h in p.hops}
        assert {g for g in gids if g.startswith("badge:")} == {f"badge:{h.ttl}" for h in p.hops}
        title = gids["title"].get_text().replace("\n", " ")
        assert p.plugin_title in title and "sandbox" in title
        page = fig.bbox
        for gid, artist in gids.items():
            extent = artist.get_window_extent(renderer)
            assert page.x0 <= extent.x0 and extent.x1 <= page.x1 + 0.5, f"{gid} leaves the figure"
            assert page.y0 <= extent.y0 and extent.y1 <= page.y1 + 0.5, f"{gid} leaves the figure"
        for name in ("pod-a", "veth-a", "route-a", "pod-b", "veth-b", "route-b"):  # every line inside its box
            frame = gids[f"box:{name}"].get_window_extent(renderer)
            for gid, text in gids.items():
                if gid.startswith(f"box-text:{name}:"):
                    ext = text.get_window_extent(renderer)
                    assert frame.x0 <= ext.x0 and ext.x1 <= frame.x1 and frame.y0 <= ext.y0, gid
        texts = " ".join(t.get_text() for t in ax.texts)
        assert p.source.host_side.name in texts and p.target.host_side.name in texts
        if not p.same_node:
            assert f"mtu {p.wire.mtu}" in texts
            wire_text = " ".join(t.get_text() for g, t in gids.items() if g.startswith("wire-text:"))
            assert (f"outer header {WORKER[1]} → {WORKER2[1]}" in wire_text) == p.wire.encapsulated
            assert (f"next hop {WORKER2[1]}" in wire_text) == (p.wire.kind == "direct")
            assert (gids[f"wire:{p.wire.kind}"].get_linestyle() == "--") == p.wire.encapsulated


def test_the_table_lists_the_steps(wired):
    cni, _, cross, _ = wired
    kinds = [s.kind for s in cross.steps()]
    assert kinds == ["pod", "route", "host-side", "node-route", "wire", "node-route", "host-side", "pod",
                     "traceroute"]
    shown = repr(cross)
    assert shown.splitlines()[0] == f"default/client → default/server · {cross.plugin_title} · sandbox"
    assert cross.source.host_side.name in shown and "<table>" in cross._repr_html_()
