"""What a CNI plugin does, visible: the path of a packet from one pod to another, read from the pods and nodes.

Everything comes from what a learner could type: ``ip addr`` and ``ip route`` inside the source pod, the same on
each node through a node debugger pod (what ``kubectl debug node/NAME --image=nicolaka/netshoot`` makes), and
``traceroute`` from the source pod; the pods' nodes and the nodes' addresses come from the API. So the same code
reads a kind cluster and the sandbox. The steps:

1. the source pod's ``eth0`` (its address and MTU) and its route to the target, chosen as the kernel chooses:
   the longest prefix that holds the address, then the lowest metric;
2. the host side of the pod's veth on its node: the node's link whose ifindex the pod's ``eth0@ifN`` names (the two
   ends of a veth pair name each other), or the device of the node's /32 route to the pod (``veth…`` kindnet,
   ``lxc…`` Cilium, ``cali…`` Calico);
3. the node's route to the target, which says what carries the packet: ``eth0`` with a gateway is direct routing on
   the Docker network (kindnet), ``tunl0`` is IP-in-IP (Calico), ``cilium_host`` hands it to Cilium's eBPF datapath,
   which encapsulates it in VXLAN on ``cilium_vxlan`` (the tunnel's endpoint, the other node's address, is in a BPF
   map, not in a route); the route's MTU, else the device's;
4. the other node's route to the target and the host side of the target's veth, then the target's ``eth0``;
5. the hops ``traceroute -n -q 1 -w 1`` shows (``*`` where nothing answers, as Cilium's datapath sends no Time
   Exceeded), each named by the node or pod that has the address.

Example:
    >>> from k8snet.cni import wiring
    >>> p = wiring.path(cluster, PodRef("default", "client"), PodRef("default", "server"))
    >>> p.wire.kind, p.wire.mtu
    ('vxlan', 1450)
    >>> p.plot()
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from ..kind.cni import WORKLOADS
from ..table import Table
from ..traffic import ExecOutput, PodRef, exec_in

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..cluster import Cluster

PLUGIN_DAEMONSETS = {ds: name for name, (ds, _) in WORKLOADS.items()}
"""The DaemonSet each plugin's install puts in kube-system (kind's manifest, Cilium's chart, calico.yaml): what
``k8snet kind up`` checks too."""
TITLES = {"kindnet": "kindnet", "cilium": "Cilium", "calico": "Calico"}
DEBUG_IMAGE = "nicolaka/netshoot"
"""The image of Kubernetes' "Debugging Kubernetes Nodes With Kubectl" page and of netshoot's own README."""
DEBUG_NAMESPACE = "default"
"""Where the node debugger pods go: kubectl debug's default, the context's namespace (here always default)."""
DEBUG_CONTAINER = "debugger"
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""apimachinery util/rand String's alphabet (no vowels, no 0/1/3), which kubectl's pod name suffix uses."""
TRACEROUTE = ["traceroute", "-n", "-q", "1", "-w", "1", "-m", "8"]
"""One probe a hop, one second's wait, eight hops: a pod-to-pod path has at most three."""
VXLAN_PORT = 8472
"""Cilium's VXLAN port (``tunnel-port``'s default for vxlan; the IANA port is 4789)."""


# -- what the cluster runs -------------------------------------------------------------------------------------


def plugin(cluster: Cluster) -> str:
    """The cluster's CNI plugin, ``kindnet``, ``cilium`` or ``calico``, from the DaemonSet its install put in
    kube-system.

    Raises:
        RuntimeError: none of them is there (another CNI plugin, or none yet).
    """
    return _plugin_daemonset(cluster)[0]


def _plugin_daemonset(cluster: Cluster) -> tuple[str, str]:
    """The plugin and its title with the agent image's version (``Cilium v1.20.2``)."""
    found = {d.metadata.name: d for d in cluster.apps.list_namespaced_daemon_set("kube-system").items}
    for ds, name in PLUGIN_DAEMONSETS.items():
        if ds in found:
            image = (found[ds].spec.template.spec.containers or [None])[0]
            tag = (image.image.split("@")[0].rpartition(":")[2] if image and image.image else "")
            return name, f"{TITLES[name]} {tag}".strip()
    raise RuntimeError("no DaemonSet of a known CNI plugin in kube-system (kindnet, cilium, calico-node): the "
                       f"cluster runs {', '.join(sorted(found)) or 'no DaemonSets'} there")


# -- a shell on a node: kubectl debug node/NAME ----------------------------------------------------------------


def debug_pod(node: str, name: str, image: str = DEBUG_IMAGE) -> dict[str, Any]:
    """The pod ``kubectl debug node/NODE --image=IMAGE --profile=general -- sleep 3600`` creates.

    As kubectl's generateNodeDebugPod (staging/src/k8s.io/kubectl/pkg/cmd/debug/debug.go) and its node profile
    (profiles.go: useHostNamespaces, mountRootPartition) build it: pinned with ``nodeName``, ``restartPolicy:
    Never``, one toleration with ``operator: Exists`` (every taint, the control plane's too), the host's network,
    PID and IPC namespaces, the node's ``/`` at ``/host``, the label ``app.kubernetes.io/managed-by:
    kubectl-debug``. ``sleep 3600`` keeps it up between commands, and ends it within the hour if it is never
    deleted.
    """
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubectl-debug"}},
            "spec": {"containers": [{"name": DEBUG_CONTAINER, "image": image, "command": ["sleep", "3600"],
                                     "terminationMessagePolicy": "File",
                                     "volumeMounts": [{"name": "host-root", "mountPath": "/host"}]}],
                     "nodeName": node, "restartPolicy": "Never", "tolerations": [{"operator": "Exists"}],
                     "hostNetwork": True, "hostPID": True, "hostIPC": True,
                     "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]}}


def debugger_name(node: str) -> str:
    """``node-debugger-NODE-xxxxx``, as kubectl names it (a five-character random suffix)."""
    return f"node-debugger-{node}-" + "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(5))


@dataclass
class NodeShell:
    """Commands run in a node's network, PID and IPC namespaces through its debugger pod."""

    cluster: Cluster
    node: str
    pod: PodRef

    def run(self, command: list[str], timeout: float = 30) -> ExecOutput:
        """Run ``command`` in the debugger pod (``kubectl exec POD -- COMMAND``).

        Raises:
            RuntimeError: it exits non-zero (with its stderr).
        """
        out = exec_in(self.cluster, self.pod, command, timeout)
        if out.exit_code != 0:
            raise RuntimeError(f"`{' '.join(command)}` on node {self.node} exited {out.exit_code}: "
                               f"{out.stderr.strip()}")
        return out


@contextmanager
def node_shell(cluster: Cluster, node: str, namespace: str = DEBUG_NAMESPACE, image: str = DEBUG_IMAGE,
               timeout: float = 120) -> Iterator[NodeShell]:
    """A shell on ``node`` for the ``with`` block: its debugger pod is created, waited for, and deleted after.

    Example:
        >>> with wiring.node_shell(cluster, "k8snet-worker") as node:
        ...     print(node.run(["ip", "route"]).stdout)
    """
    with node_shells(cluster, [node], namespace, image, timeout) as shells:
        yield shells[node]


@contextmanager
def node_shells(cluster: Cluster, nodes: list[str], namespace: str = DEBUG_NAMESPACE, image: str = DEBUG_IMAGE,
                timeout: float = 120) -> Iterator[dict[str, NodeShell]]:
    """Shells on several nodes at once (their pods created together, then waited for), by node name.

    Raises:
        ApiException: a node that does not exist (404, ``nodes "x" not found``, as kubectl debug reports it).
        TimeoutError: a debugger pod that did not start within ``timeout`` seconds.
    """
    made: dict[str, NodeShell] = {}
    try:
        for node in dict.fromkeys(nodes):
            cluster.core.read_node(node)  # kubectl debug node/X gets the node first
            name = debugger_name(node)
            cluster.core.create_namespaced_pod(namespace, debug_pod(node, name, image))
            made[node] = NodeShell(cluster, node, PodRef(namespace, name))
        for shell in made.values():
            _wait_running(cluster, shell.pod, timeout)
        yield made
    finally:
        for shell in made.values():  # `kubectl delete --now`: sleep as PID 1 ignores SIGTERM
            try:
                cluster.core.delete_namespaced_pod(shell.pod.name, shell.pod.namespace, grace_period_seconds=1)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        for shell in made.values():
            cluster.wait_gone("Pod", shell.pod.name, shell.pod.namespace, timeout=60)


def _wait_running(cluster: Cluster, pod: PodRef, timeout: float) -> None:
    """Until the debugger container runs (kubectl debug's waitForContainer); a pod that ends first is an error."""
    deadline = time.monotonic() + timeout
    phase = "unknown"
    while time.monotonic() < deadline:
        status = cluster.core.read_namespaced_pod(pod.name, pod.namespace).status
        phase = status.phase or "Pending"
        states = [s.state for s in status.container_statuses or [] if s.name == DEBUG_CONTAINER]
        if states and states[0].running:
            return
        if phase in ("Succeeded", "Failed"):
            raise RuntimeError(f"node debugger pod {pod} ended ({phase}) before it could run commands")
        time.sleep(0.05)
    raise TimeoutError(f"node debugger pod {pod} did not start within {timeout:.0f}s (phase {phase})")


# -- what ip and traceroute print ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interface:
    """One link of ``ip addr``: its ifindex, name, the peer ifindex of a veth (``eth0@if9``), MTU, addresses."""

    index: int
    name: str
    peer: int | None
    mtu: int
    addresses: tuple[str, ...] = ()  # "10.244.1.5/24"

    @property
    def address(self) -> str:
        return self.addresses[0] if self.addresses else ""


_LINK = re.compile(r"^(\d+):\s+([^:@\s]+)(?:@([^:\s]+))?:\s+<[^>]*>(?:.*?\bmtu (\d+))?")
_INET = re.compile(r"^\s*(?:(\d+):\s+(\S+)\s+)?inet (\d+\.\d+\.\d+\.\d+/\d+)")


def parse_addr(text: str) -> list[Interface]:
    """``ip addr`` as iproute2 and busybox print it (``-o``'s one line per address read too)."""
    links: dict[str, dict[str, Any]] = {}
    current = ""
    for line in text.replace("\\", "\n").splitlines():
        m = _LINK.match(line)
        if m:
            peer = m.group(3) or ""
            current = m.group(2)
            links[current] = {"index": int(m.group(1)), "name": current,
                              "peer": int(peer[2:]) if re.fullmatch(r"if\d+", peer) else None,
                              "mtu": int(m.group(4) or 0), "addresses": []}
            continue
        m = _INET.match(line)
        if m:
            name = m.group(2) or current
            if name not in links and m.group(1):  # -o: address lines only, no link line (no MTU, no peer)
                links[name] = {"index": int(m.group(1)), "name": name, "peer": None, "mtu": 0, "addresses": []}
            if name in links:
                links[name]["addresses"].append(m.group(3))
    return [Interface(d["index"], d["name"], d["peer"], d["mtu"], tuple(d["addresses"])) for d in links.values()]


ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit", "blackhole", "nat"}


@dataclass(frozen=True)
class Route:
    """One line of ``ip route``."""

    line: str
    destination: str  # a network, "0.0.0.0/0" for default
    type: str = "unicast"  # or blackhole, unreachable, prohibit, …
    gateway: str = ""
    device: str = ""
    mtu: int | None = None  # the route's own MTU (Cilium's 1450), else None: the device's
    metric: int = 0
    onlink: bool = False

    @property
    def short(self) -> str:
        """The route without what does not decide the path (proto, scope, src)."""
        dest = "default" if self.destination == "0.0.0.0/0" else self.destination.removesuffix("/32")
        parts = ([self.type] if self.type != "unicast" else []) + [dest]
        parts += [f"via {self.gateway}"] if self.gateway else []
        parts += [f"dev {self.device}"] if self.device else []
        parts += ["onlink"] if self.onlink else []
        parts += [f"mtu {self.mtu}"] if self.mtu else []
        return " ".join(parts)


def parse_routes(text: str) -> list[Route]:
    """``ip route`` (the main table): destination, type, ``via``, ``dev``, ``mtu [lock] N``, ``metric``,
    ``onlink``."""
    out = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        kind = "unicast"
        if words[0] in ROUTE_TYPES:
            kind, words = words[0], words[1:]
        if not words:
            continue
        dest = "0.0.0.0/0" if words[0] == "default" else str(ipaddress.ip_network(words[0], strict=False))
        values: dict[str, str] = {}
        i = 1
        while i < len(words):
            key = words[i]
            if key == "mtu" and i + 2 < len(words) and words[i + 1] == "lock":
                values[key] = words[i + 2]
                i += 3
            elif key in ("via", "dev", "mtu", "metric", "proto", "scope", "src", "table", "advmss", "realm"):
                values[key] = words[i + 1] if i + 1 < len(words) else ""
                i += 2
            else:
                values[key] = ""
                i += 1
        out.append(Route(line.strip(), dest, kind, values.get("via", ""), values.get("dev", ""),
                         int(values["mtu"]) if values.get("mtu", "").isdigit() else None,
                         int(values["metric"]) if values.get("metric", "").isdigit() else 0, "onlink" in values))
    return out


def lookup(routes: list[Route], ip: str) -> Route | None:
    """The route the kernel uses for ``ip`` in the main table: of those whose network holds it, the longest
    prefix, then the lowest metric (the FIB's longest-prefix match; fib_table_lookup)."""
    address = ipaddress.ip_address(ip)
    holding = [r for r in routes if address in ipaddress.ip_network(r.destination)]
    if not holding:
        return None
    return min(holding, key=lambda r: (-ipaddress.ip_network(r.destination).prefixlen, r.metric))


@dataclass(frozen=True)
class Hop:
    """One line of ``traceroute -q 1``: the TTL and the address that answered ("" for ``*``), and who has it."""

    ttl: int
    address: str
    who: str = ""

    def __str__(self) -> str:
        return f"{self.ttl} {self.address or '*'}" + (f" ({self.who})" if self.who else "")


def parse_traceroute(text: str) -> list[Hop]:
    """The hops of ``traceroute -n -q 1`` (busybox's or Linux traceroute's output), ``*`` as an empty address."""
    hops = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].isdigit():
            hops.append(Hop(int(words[0]), "" if words[1] == "*" else words[1]))
    return hops


# -- the path ------------------------------------------------------------------------------------------------


@dataclass
class End:
    """One end of the path: the pod, its node, and what ``ip`` showed in the pod and on the node."""

    pod: PodRef
    ip: str
    node: str
    node_ip: str
    eth0: Interface
    host_side: Interface | None
    pod_routes: list[Route]
    node_links: list[Interface]
    node_routes: list[Route]


@dataclass(frozen=True)
class Wire:
    """How the packet crosses from one node to the other."""

    kind: str  # "local" (same node), "direct" (kindnet), "ipip" (Calico), "vxlan" (Cilium)
    device: str  # the node's device that sends it: eth0, tunl0, cilium_vxlan (local: the target's host side)
    mtu: int
    outer_source: str = ""  # the outer header's addresses (an encapsulating tunnel), else ""
    outer_destination: str = ""
    next_hop: str = ""  # where the frame goes: the other node's address

    @property
    def encapsulated(self) -> bool:
        return self.kind in ("ipip", "vxlan")

    @property
    def summary(self) -> str:
        if self.kind == "local":
            return f"same node: no wire, the node delivers it to {self.device}, the host side of the target's veth"
        if self.kind == "direct":
            return (f"direct routing on the nodes' network: the pod's packet as it is, to next hop {self.next_hop} "
                    f"on {self.device}, mtu {self.mtu}")
        how = "IP-in-IP (IP protocol 4)" if self.kind == "ipip" else f"VXLAN (UDP {VXLAN_PORT})"
        return (f"{how} tunnel on {self.device}: outer header {self.outer_source} → {self.outer_destination}, "
                f"mtu {self.mtu}")


@dataclass(frozen=True)
class Step:
    """One line of the path's table."""

    kind: str  # pod, route, host-side, node-route, wire, traceroute
    where: str
    what: str
    mtu: int | None = None


@dataclass
class Path:
    """A packet's path from ``source`` to ``target`` as the cluster's CNI plugin wired it."""

    plugin: str  # kindnet, cilium, calico
    plugin_title: str  # "Cilium v1.20.2"
    backend: str
    source: End
    target: End
    pod_route: Route  # the source pod's route to the target
    node_route: Route  # the source node's route to the target
    delivery: Route  # the target node's route to the target (the same as node_route on one node)
    wire: Wire
    hops: list[Hop]
    traceroute: str = field(repr=False, default="")

    @property
    def same_node(self) -> bool:
        return self.source.node == self.target.node

    @property
    def pod_mtu(self) -> int:
        """What the source pod can send to the target in one packet: its route's MTU, else its eth0's."""
        return self.pod_route.mtu or self.source.eth0.mtu

    @property
    def wire_detail(self) -> str:
        """What crosses between the nodes: a tunnel's outer addresses, protocol and device around the pod's packet,
        or a direct route's next hop; the MTU, and what the encapsulation takes of the node's own."""
        w, s, t = self.wire, self.source, self.target
        if w.kind == "local":
            return w.summary
        uplink = next((link.mtu for link in s.node_links if link.name == "eth0"), 0)
        cost = f" ({uplink - w.mtu} bytes of the node's {uplink} go to the outer headers)" if uplink > w.mtu else ""
        if w.kind == "direct":
            return (f"no encapsulation: the pod's own packet {s.ip} → {t.ip} leaves {w.device} for next hop "
                    f"{w.next_hop} ({t.node}) · mtu {w.mtu}")
        how = "IP protocol 4" if w.kind == "ipip" else f"UDP {VXLAN_PORT}"
        return (f"outer header {w.outer_source} → {w.outer_destination} ({s.node} → {t.node}), {how}, on "
                f"{w.device}, around the pod's packet {s.ip} → {t.ip} · mtu {w.mtu}{cost}")

    def steps(self) -> list[Step]:
        """The path as rows: pod, route, host side, node route, wire, the other node, host side, pod, hops."""
        s, t = self.source, self.target
        rows = [Step("pod", f"{s.pod} on {s.node}", f"{s.eth0.name} {s.eth0.address}", s.eth0.mtu),
                Step("route", f"{s.pod}", self.pod_route.short, self.pod_mtu),
                Step("host-side", s.node, _host_side_text(s), s.host_side.mtu if s.host_side else None),
                Step("node-route", s.node, self.node_route.short, _route_mtu(self.node_route, s.node_links))]
        if not self.same_node:
            rows.append(Step("wire", f"{s.node} → {t.node}", f"{self.wire.kind}: {self.wire_detail}", self.wire.mtu))
            rows.append(Step("node-route", t.node, self.delivery.short, _route_mtu(self.delivery, t.node_links)))
        rows += [Step("host-side", t.node, _host_side_text(t), t.host_side.mtu if t.host_side else None),
                 Step("pod", f"{t.pod} on {t.node}", f"{t.eth0.name} {t.eth0.address}", t.eth0.mtu),
                 Step("traceroute", f"from {s.pod}", "  ".join(map(str, self.hops)) or "no hops")]
        return rows

    def table(self) -> Table:
        return Table(["STEP", "WHERE", "WHAT", "MTU"],
                     [[st.kind, st.where, st.what, str(st.mtu or "")] for st in self.steps()],
                     caption=f"{self.source.pod} → {self.target.pod} · {self.plugin_title} · {self.backend}")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())

    def plot(self) -> Figure:
        """The picture of the path (:func:`k8snet.plots.packet_path`)."""
        from ..plots import packet_path

        return packet_path(self)


def _host_side_text(end: End) -> str:
    if end.host_side is None:
        return "host side not found"
    return f"{end.host_side.name} (ifindex {end.host_side.index}, host side of {end.pod.name}'s eth0)"


def _route_mtu(route: Route, links: list[Interface]) -> int | None:
    """The MTU a route sends with: its own, else its device's."""
    if route.mtu:
        return route.mtu
    return next((link.mtu for link in links if link.name == route.device), None)


def path(cluster: Cluster, source: PodRef, target: PodRef, timeout: float = 120) -> Path:
    """Follow a packet from ``source`` to ``target`` (see the module's docstring for the steps).

    Runs ``ip addr``, ``ip route`` and ``traceroute`` in the source pod, ``ip addr`` in the target pod, and ``ip
    addr``, ``ip route`` on each pod's node through a node debugger pod, deleted afterwards.

    Raises:
        RuntimeError: a pod without an address, a command that failed, or a path the routes do not explain (no
            route to the target, or a ``blackhole`` one).
    """
    name, title = _plugin_daemonset(cluster)
    pods = {ref: cluster.core.read_namespaced_pod(ref.name, ref.namespace) for ref in (source, target)}
    for ref, pod in pods.items():
        if not pod.status.pod_ip or pod.spec.host_network:
            raise RuntimeError(f"pod {ref} has no address of its own (phase {pod.status.phase}"
                               f"{', hostNetwork' if pod.spec.host_network else ''}): a path needs two pods on the "
                               "pod network")
    nodes = {n.metadata.name: n for n in cluster.nodes()}
    src_pod, dst_pod = pods[source], pods[target]
    src_addr = _run(cluster, source, ["ip", "addr"])
    src_routes = parse_routes(_run(cluster, source, ["ip", "route"]))
    dst_addr = _run(cluster, target, ["ip", "addr"])
    traced = exec_in(cluster, source, [*TRACEROUTE, dst_pod.status.pod_ip], timeout)
    if traced.exit_code != 0 and not traced.stdout:
        raise RuntimeError(f"traceroute in {source} failed: {traced.stderr.strip()}")
    views: dict[str, tuple[list[Interface], list[Route]]] = {}
    with node_shells(cluster, [src_pod.spec.node_name, dst_pod.spec.node_name], timeout=timeout) as shells:
        for node, shell in shells.items():
            views[node] = (parse_addr(shell.run(["ip", "addr"]).stdout),
                           parse_routes(shell.run(["ip", "route"]).stdout))

    def end(ref: PodRef, pod: Any, addr: str, routes: list[Route]) -> End:
        ip, node = pod.status.pod_ip, pod.spec.node_name
        links, node_routes = views[node]
        eth0 = next((i for i in parse_addr(addr) if any(a.split("/")[0] == ip for a in i.addresses)), None)
        if eth0 is None:
            raise RuntimeError(f"no interface in pod {ref} holds its address {ip} (`ip addr` printed: {addr!r})")
        return End(ref, ip, node, _internal_ip(nodes.get(node)), eth0, find_host_side(eth0, ip, links, node_routes),
                   routes, links, node_routes)

    s = end(source, src_pod, src_addr, src_routes)
    t = end(target, dst_pod, dst_addr, [])
    pod_route = _route(s.pod_routes, t.ip, f"pod {source}")
    node_route = _route(s.node_routes, t.ip, f"node {s.node}")
    delivery = _route(t.node_routes, t.ip, f"node {t.node}")
    hops = [Hop(h.ttl, h.address, _who(h.address, s, t)) for h in parse_traceroute(traced.stdout)]
    return Path(name, title, cluster.backend, s, t, pod_route, node_route, delivery, wire(s, t, node_route), hops,
                traced.stdout)


def _run(cluster: Cluster, pod: PodRef, command: list[str]) -> str:
    out = exec_in(cluster, pod, command)
    if out.exit_code != 0:
        raise RuntimeError(f"`{' '.join(command)}` in pod {pod} exited {out.exit_code}: {out.stderr.strip()}")
    return out.stdout


def _route(routes: list[Route], ip: str, where: str) -> Route:
    chosen = lookup(routes, ip)
    if chosen is None:
        raise RuntimeError(f"{where} has no route to {ip} (`ip route` there lists {len(routes)} routes)")
    if chosen.type != "unicast":
        raise RuntimeError(f"{where} routes {ip} to `{chosen.line}`: the packet is dropped there ({chosen.type})")
    return chosen


def _internal_ip(node: Any) -> str:
    return next((a.address for a in (node.status.addresses or []) if a.type == "InternalIP"), "") if node else ""


def find_host_side(eth0: Interface, ip: str, links: list[Interface], routes: list[Route]) -> Interface | None:
    """The node's end of the pod's veth: the link whose ifindex the pod's ``eth0@ifN`` names, if that link names
    the pod's eth0 back (the kernel's veth pair); else the device of the node's /32 route to the pod."""
    by_index = {link.index: link for link in links}
    paired = by_index.get(eth0.peer) if eth0.peer is not None else None
    if paired is not None and paired.peer == eth0.index:
        return paired
    route = lookup(routes, ip)
    if route is not None and ipaddress.ip_network(route.destination).prefixlen == 32:
        return next((link for link in links if link.name == route.device), None)
    return None


def wire(source: End, target: End, node_route: Route) -> Wire:
    """What the source node's route to the target says about the way across: local delivery on one node, direct
    routing out of the node's uplink, IP-in-IP on ``tunl0``, or Cilium's VXLAN behind ``cilium_host``."""
    mtu = _route_mtu(node_route, source.node_links) or 0
    dev = node_route.device
    if source.node == target.node:
        local = target.host_side.name if target.host_side else dev
        return Wire("local", local, target.host_side.mtu if target.host_side else mtu)
    if dev == "tunl0":
        return Wire("ipip", dev, mtu, source.node_ip, node_route.gateway, node_route.gateway)
    if dev.startswith("cilium_"):
        vxlan = next((link for link in source.node_links if link.name == "cilium_vxlan"), None)
        if vxlan is None:
            raise RuntimeError(f"node {source.node} routes {target.ip} to {dev} but has no cilium_vxlan device: "
                               "only Cilium's VXLAN tunnel mode is read here (native routing and Geneve are not)")
        return Wire("vxlan", vxlan.name, mtu, source.node_ip, target.node_ip, target.node_ip)
    uplink = next((link.name for link in source.node_links
                   if any(a.split("/")[0] == source.node_ip for a in link.addresses)), "eth0")
    if dev == uplink and node_route.gateway:
        return Wire("direct", dev, mtu, next_hop=node_route.gateway)
    raise RuntimeError(f"node {source.node} routes {target.ip} with `{node_route.line}`: neither direct routing on "
                       f"{uplink}, nor IP-in-IP (tunl0), nor Cilium's VXLAN (cilium_host)")


def _who(address: str, source: End, target: End) -> str:
    """Who has ``address``: the target pod, or a node and its device (``k8snet-worker2 tunl0``)."""
    if not address:
        return "no answer"
    if address == target.ip:
        return f"pod {target.pod.name}"
    for end in (source, target):
        holding = [link for link in end.node_links if any(a.split("/")[0] == address for a in link.addresses)]
        if holding:  # kindnet's .1 sits on every veth: name the one on the path
            own = next((link for link in holding if end.host_side and link.name == end.host_side.name), holding[0])
            return f"{end.node} {own.name}"
    return ""
