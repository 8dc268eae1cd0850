"""What the cluster's CNI plugin made of the pod network, as ``ip addr``, ``ip route`` and ``traceroute`` see it from a
pod or from a node (``kubectl debug node/…``): one :class:`View` per network namespace, one path per probe.

Per plugin (:mod:`k8snet.sandbox.cni` chooses it, ``Plugin`` holds its MTUs and names):

- **kindnet** (kind's CNI config: the ptp plugin and host-local IPAM, kindnetd's routes): the pod's eth0 has its
  address on the node's /24 and routes via the node's .1, which sits on the host side of every veth
  (``veth`` + 8 hex digits); the node has a /32 route per local pod and a route to every other node's /24 via that
  node's eth0 address. MTU 1500. traceroute: the node's .1, then the other node's address, then the pod.
- **Cilium** (``routing-mode: tunnel``, VXLAN): the pod's eth0 is a /32 whose routes go via the node's router IP
  on ``cilium_host`` (``default via R dev eth0 mtu 1450``, ``R dev eth0 scope link``): the veth keeps MTU 1500, the
  routes carry VXLAN's 50 bytes less (pkg/mtu: device MTU and route MTU). The host side is ``lxc`` + 12 hex digits
  of a SHA-256 (pkg/datapath/connector Endpoint2IfName). The node routes every pod range, its own included, via
  ``cilium_host`` (remote ones with ``mtu 1450``); the eBPF programs deliver to local pods and encapsulate to
  others on ``cilium_vxlan``, without per-pod routes. traceroute: the eBPF datapath drops a packet whose TTL runs
  out and sends no ICMP Time Exceeded for IPv4 (bpf/lib/l3.h ipv4_l3: ``FIXME: Send ICMP TTL``), so the hop
  shows ``*`` and the next probe reaches the pod, local or remote.
- **Calico** (calico.yaml: BGP with bird, IP-in-IP Always): the pod's eth0 is a /32 whose default route goes to
  169.254.1.1 (no one has that address: the host side answers ARP for it, proxy_arp), ``cali`` + 11 hex digits of
  the SHA-1 of ``namespace.pod`` on the host side (libcalico-go VethNameForWorkload), MTU 1480. The node has a
  route per local pod on its cali veth, a ``blackhole`` route for its own /26 block, and each other node's block
  ``via <node IP> dev tunl0 proto bird onlink``; ``tunl0`` holds the block's first address. traceroute: the node
  (its eth0 address: the cali veth has none, so Linux answers from the first global address, eth0's), then the
  other node's ``tunl0`` address (the reply leaves by tunl0), then the pod.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import cni

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]

KIND_NETWORK = ipaddress.ip_network("172.18.0.0/16")
"""The Docker network ``kind`` that the nodes' eth0 sit on; its gateway is 172.18.0.1."""
CALICO_GATEWAY = "169.254.1.1"
"""The link-local next hop Calico's CNI plugin gives every pod (cni-plugin/pkg/dataplane/linux)."""
NO_ANSWER = ""
"""A hop of a traceroute path where nothing answers (``*``)."""


@dataclass
class Link:
    """One interface as ``ip`` shows it."""

    index: int
    name: str  # "eth0", "veth1a2b3c4d", "cilium_host"
    peer: int | None  # the ifindex of its other end (None: no peer, ``@NONE`` or none shown)
    mac: str
    address: str  # "10.244.1.5/24", or "" for none
    broadcast: str = ""
    mtu: int = 1500
    kind: str = "ether"  # "ether", or "ipip" (tunl0: no MAC)
    flags: str = "BROADCAST,MULTICAST,UP,LOWER_UP"
    peer_name: str = ""  # "NONE" for tunl0@NONE, "cilium_net" for cilium_host@cilium_net


@dataclass
class View:
    """A network namespace's interfaces and routes."""

    links: list[Link]
    routes: list[tuple[str, str, str, str]]  # (destination, gateway or "", device, "ip route" line)


def plugin(sb: Sandbox) -> cni.Plugin:
    return cni.PLUGINS[getattr(sb, "cni", cni.KINDNET)]


def node_ip(sb: Sandbox, node: str) -> str:
    obj = sb.store.get("nodes", "", node) or {}
    return next((a["address"] for a in (obj.get("status") or {}).get("addresses") or []
                 if a.get("type") == "InternalIP"), "")


def _mac(ip: str) -> str:
    """A stable locally administered MAC for the pod's end."""
    packed = ipaddress.ip_address(ip or "0.0.0.0").packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)


def _hashed_mac(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return "ca:" + ":".join(f"{b:02x}" for b in digest[:5])


def host_side(sb: Sandbox, pod: Pod) -> str:
    """The name of the host side of the pod's veth, as its plugin names it."""
    name = plugin(sb).name
    meta = pod["metadata"]
    if name == cni.CALICO:
        return "cali" + hashlib.sha1(f"{meta.get('namespace', '')}.{meta['name']}".encode()).hexdigest()[:11]
    if name == cni.CILIUM:
        return "lxc" + hashlib.sha256(meta.get("uid", "").encode()).hexdigest()[:12]
    return "veth" + hashlib.sha256(meta.get("uid", "").encode()).hexdigest()[:8]


def pod_view(sb: Sandbox, pod: Pod, ip: str) -> View:
    """A pod's own network namespace: its eth0 and routes."""
    p = plugin(sb)
    node = pod["spec"].get("nodeName", "")
    index, peer = _eth0_index(pod), host_index(sb, pod)
    gw = cni.host_address(sb, node)
    if p.name == cni.CILIUM:
        mtu = f"mtu {p.route_mtu} " if p.route_mtu else ""
        return View([Link(index, "eth0", peer, _mac(ip), f"{ip}/32", mtu=p.pod_mtu)],
                    [("0.0.0.0/0", gw, "eth0", f"default via {gw} dev eth0 {mtu}"),
                     (f"{gw}/32", "", "eth0", f"{gw} dev eth0 scope link ")])
    if p.name == cni.CALICO:
        return View([Link(index, "eth0", peer, _mac(ip), f"{ip}/32", mtu=p.pod_mtu)],
                    [("0.0.0.0/0", CALICO_GATEWAY, "eth0", f"default via {CALICO_GATEWAY} dev eth0 "),
                     (f"{CALICO_GATEWAY}/32", "", "eth0", f"{CALICO_GATEWAY} dev eth0 scope link ")])
    cidr = cni.node_cidr(sb, node) or sb.shape.control_plane.pod_cidr
    net = ipaddress.ip_network(cidr)
    return View([Link(index, "eth0", peer, _mac(ip), f"{ip}/{net.prefixlen}", str(net.broadcast_address))],
                [("0.0.0.0/0", gw, "eth0", f"default via {gw} dev eth0 "),
                 (str(net), gw, "eth0", f"{net} via {gw} dev eth0 src {ip} "),
                 (f"{gw}/32", "", "eth0", f"{gw} dev eth0 scope link src {ip} ")])


def _eth0_index(pod: Pod) -> int:
    """The ifindex of the pod's eth0 in its own namespace."""
    return 2 + sum(ord(c) for c in pod["metadata"].get("uid", "")) % 20


def host_index(sb: Sandbox, pod: Pod) -> int:
    """The ifindex of the host side of the pod's veth on its node. The two ends of a veth pair name each other's
    ifindex (``eth0@if9`` in the pod, ``veth1a2b3c4d@if3`` on the node), which is how one finds a pod's host side
    where no route names it (Cilium's)."""
    base = 8 if plugin(sb).name == cni.CILIUM else 4  # after eth0, tunl0 / Cilium's own devices
    local = _local_pods(sb, pod["spec"].get("nodeName", ""))
    uid = pod["metadata"].get("uid")
    return base + next((n for n, p in enumerate(local) if p["metadata"].get("uid") == uid), len(local))


def _local_pods(sb: Sandbox, node: str) -> list[Pod]:
    return sorted((p for p in sb.store.list("pods") if p["spec"].get("nodeName") == node
                   and not p["spec"].get("hostNetwork") and (p.get("status") or {}).get("podIP")
                   and (p.get("status") or {}).get("phase") == "Running"),
                  key=lambda p: ipaddress.ip_address(p["status"]["podIP"]))


def _other_nodes(sb: Sandbox, node: str) -> list[tuple[str, str, str]]:
    """(name, pod CIDR, InternalIP) of every other node."""
    out = []
    for other in sorted(sb.store.list("nodes"), key=lambda o: o["metadata"]["name"]):
        name = other["metadata"]["name"]
        cidr = (other.get("spec") or {}).get("podCIDR")
        via = node_ip(sb, name)
        if name != node and cidr and via:
            out.append((name, cidr, via))
    return out


def node_view(sb: Sandbox, node: str, ip: str) -> View:
    """A node's network namespace (a hostNetwork pod's, such as ``kubectl debug node/…``)."""
    p = plugin(sb)
    gateway = str(next(KIND_NETWORK.hosts()))
    links = [Link(2, "eth0", 3 + sum(ord(c) for c in node) % 20, _mac(ip), f"{ip}/{KIND_NETWORK.prefixlen}",
                  str(KIND_NETWORK.broadcast_address))]
    routes = [("0.0.0.0/0", gateway, "eth0", f"default via {gateway} dev eth0 ")]
    local = _local_pods(sb, node)
    if p.name == cni.CILIUM:
        router, cidr = cni.host_address(sb, node), cni.node_cidr(sb, node)
        links += [Link(3, "cilium_net", 4, _hashed_mac(node + "/cilium_net"), "", peer_name="cilium_host",
                       flags="BROADCAST,MULTICAST,NOARP,UP,LOWER_UP"),
                  Link(4, "cilium_host", 3, _hashed_mac(node + "/cilium_host"), f"{router}/32",
                       peer_name="cilium_net", flags="BROADCAST,MULTICAST,NOARP,UP,LOWER_UP"),
                  Link(5, "cilium_vxlan", None, _hashed_mac(node + "/cilium_vxlan"), "",
                       flags="BROADCAST,MULTICAST,UP,LOWER_UP"),
                  Link(6, "lxc_health", 7, _hashed_mac(node + "/lxc_health"), "")]
        links += [Link(8 + n, host_side(sb, pod), _eth0_index(pod), _hashed_mac(host_side(sb, pod)), "")
                  for n, pod in enumerate(local)]
        ranges = [(cidr, "")] + [(c, f"mtu {p.route_mtu} ") for _, c, _ in _other_nodes(sb, node)]
        entries = [(dest, router, "cilium_host", f"{dest} via {router} dev cilium_host proto kernel src {router} {mtu}")
                   for dest, mtu in ranges]
        entries.append((f"{router}/32", "", "cilium_host", f"{router} dev cilium_host proto kernel scope link "))
        routes += sorted(entries, key=lambda r: ipaddress.ip_network(r[0]))  # the order ip route lists them in
    elif p.name == cni.CALICO:
        block = cni.calico_block(sb, node)
        tunnel = str(ipaddress.ip_network(block).network_address)
        links.append(Link(3, "tunl0", None, "", f"{tunnel}/32", mtu=p.pod_mtu, kind="ipip", peer_name="NONE",
                          flags="NOARP,UP,LOWER_UP"))
        links += [Link(4 + n, host_side(sb, pod), _eth0_index(pod), "ee:ee:ee:ee:ee:ee", "", mtu=p.pod_mtu)
                  for n, pod in enumerate(local)]  # calico's host-side veths all have this MAC
        entries = [(block, "", "", f"blackhole {block} proto bird ")]
        entries += [(f"{pod['status']['podIP']}/32", "", host_side(sb, pod),
                     f"{pod['status']['podIP']} dev {host_side(sb, pod)} scope link ") for pod in local]
        entries += [(cni.calico_block(sb, other), via, "tunl0",
                     f"{cni.calico_block(sb, other)} via {via} dev tunl0 proto bird onlink ")
                    for other, _, via in _other_nodes(sb, node)]
        routes += sorted(entries, key=lambda r: ipaddress.ip_network(r[0]))
    else:
        own = cni.host_address(sb, node)
        for n, pod in enumerate(local):
            veth = host_side(sb, pod)
            links.append(Link(4 + n, veth, _eth0_index(pod), _hashed_mac(veth), f"{own}/32"))
            routes.append((f"{pod['status']['podIP']}/32", "", veth,
                           f"{pod['status']['podIP']} dev {veth} scope host "))
        for _, cidr, via in _other_nodes(sb, node):
            routes.append((cidr, via, "eth0", f"{cidr} via {via} dev eth0 "))
    routes.append((str(KIND_NETWORK), "", "eth0", f"{KIND_NETWORK} dev eth0 proto kernel scope link src {ip} "))
    return View(links, routes)


def pod_path(sb: Sandbox, pod: Pod, target: Pod) -> list[str]:
    """The addresses that answer a traceroute's probes from ``pod`` on the way to the pod ``target`` (before the
    target itself); :data:`NO_ANSWER` where a hop answers nothing."""
    p = plugin(sb)
    here, there = pod["spec"].get("nodeName", ""), target["spec"].get("nodeName", "")
    if pod["spec"].get("hostNetwork"):  # from a node: the other node forwards (kindnet, Calico) or eBPF delivers
        if p.name == cni.CILIUM:
            return [NO_ANSWER]
        if there == here:
            return []
        return [cni.host_address(sb, there)] if p.name == cni.CALICO else [node_ip(sb, there)]
    if p.name == cni.CILIUM:
        return [NO_ANSWER]
    if p.name == cni.CALICO:
        first = [node_ip(sb, here)]
        return first if there == here else first + [cni.host_address(sb, there)]
    first = [cni.host_address(sb, here)]
    return first if there == here else first + [node_ip(sb, there)]
