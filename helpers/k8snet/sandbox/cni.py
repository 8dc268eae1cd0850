"""The cluster's CNI plugin: kindnet (kind's default), Cilium 1.20 or Calico 3.32, chosen when the cluster is made.

What a CNI plugin does for every pod, and what the sandbox shows of it:

- **kube-system**: the plugin's own install, as on kind. kindnet is kind's manifest (``instance.kindnet_daemonset``);
  Cilium and Calico are the objects of ``k8snet/kind/manifests/cilium.yaml`` and ``calico.yaml`` (the same files
  ``k8snet kind up --cni`` applies; their headers say what they were rendered from), created as the store lacks
  them. Their containers are emulated programs (:mod:`.dataplane.cniimages`); the data plane does their work.
- **addresses**: which pod gets which IP (:func:`pod_allocator`). kindnet's host-local IPAM takes the next free
  address of the node's ``spec.podCIDR`` (10.244.N.0/24, .1 is the node's side); Cilium with ``ipam.mode=kubernetes``
  (its kind guide) takes a random free one of the same range, after its router address on ``cilium_host``
  (:func:`cilium_router_ip`); Calico's calico-ipam ignores ``spec.podCIDR`` and hands out /26 blocks of its pool
  (10.244.0.0/16, from kubeadm-config's podSubnet): each node claims a block chosen by a generator seeded with its
  name (libcalico-go lib/ipam/ipam_block_reader_writer.go randomBlockGenerator; here a SHA-256 of the name, so the
  block is stable but not Calico's own), the block's first address goes to the node's ``tunl0`` (the IP-in-IP
  tunnel address) and pods take the next ones in order (:func:`calico_block`).
- **the pod's interface and routes** (MTU, host-side name, gateway): :class:`Plugin` and :mod:`.dataplane.podnet`.

The choice is kept with the cluster's state (the store's meta key :data:`META_KEY`, as the clock's offset is): a
restart keeps it, ``k8snet sandbox reset --cni X`` makes a new cluster with another one, and starting a store made
with one plugin with another is refused (:class:`Mismatch`), as a real cluster's CNI is not switched in place.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .instance import Sandbox

KINDNET, CILIUM, CALICO = "kindnet", "cilium", "calico"
CNIS = (KINDNET, CILIUM, CALICO)
DEFAULT = KINDNET
"""kind's own default CNI (``networking.disableDefaultCNI: false``)."""
META_KEY = "cni"
"""The store's meta key for the cluster's CNI plugin (a store made before the choice existed runs kindnet)."""
CILIUM_VERSION = "1.20.2"
CALICO_VERSION = "3.32.1"


@dataclass(frozen=True)
class Plugin:
    """What one CNI plugin looks like from a pod and from its node."""

    name: str
    title: str  # "Cilium 1.20.2"
    manifest: str | None  # k8snet/kind/manifests/<file>: its kube-system objects (None: kindnet, built in code)
    field_manager: str  # who creates its objects: how it is installed
    host_prefix: str  # the host side of a pod's veth: veth…, lxc…, cali…
    pod_mtu: int  # the MTU of the pod's eth0
    route_mtu: int | None  # an MTU on the pod's routes (Cilium's tunnel overhead), or None
    tunnel: str  # what carries pod traffic between nodes


PLUGINS = {
    # kindnetd: "setting mtu 1500 for CNI" (cmd/kindnetd/main.go: the default route's interface's MTU); ptp plugin
    KINDNET: Plugin(KINDNET, "kindnet", None, "kubectl-create", "veth", 1500, None,
                    "direct routes: another node's pod range via that node's eth0 address"),
    # Cilium pkg/mtu: the veth keeps the device MTU (1500), the pod's routes get the route MTU, 1500 less VXLAN's 50
    CILIUM: Plugin(CILIUM, f"Cilium {CILIUM_VERSION}", "cilium.yaml", "helm", "lxc", 1500, 1450,
                   "VXLAN (routing-mode tunnel, tunnel-protocol vxlan): every pod range via cilium_host, "
                   "encapsulated by the eBPF datapath on cilium_vxlan"),
    # calico.yaml: veth_mtu "0" → auto-detected from the host's eth0 (1500) less IP-in-IP's 20 bytes
    CALICO: Plugin(CALICO, f"Calico {CALICO_VERSION}", "calico.yaml", "kubectl-client-side-apply", "cali", 1480, None,
                   "IP-in-IP (CALICO_IPV4POOL_IPIP=Always): every other node's /26 block via tunl0, routes learned "
                   "over BGP (bird)"),
}


class Mismatch(Exception):
    """The store was made with another CNI plugin than the one asked for."""


def check(name: str) -> str:
    """The plugin's name, lower case.

    Raises:
        ValueError: not one of :data:`CNIS`.
    """
    lowered = (name or "").strip().lower()
    if lowered not in CNIS:
        raise ValueError(f"unknown CNI plugin {name!r}: choose one of {', '.join(CNIS)}")
    return lowered


def stored(sb: Sandbox) -> str | None:
    """The plugin the store's cluster was made with (None: a fresh store). A store made before the choice was
    kept runs kindnet, the only plugin there was."""
    value = sb.store.meta(META_KEY)
    if value:
        return value
    return KINDNET if sb.store.get("namespaces", "", "default") is not None else None


def choose(sb: Sandbox, requested: str | None) -> str:
    """The plugin this sandbox runs: the stored one, or ``requested`` (else kindnet) for a fresh store, which is
    then kept.

    Raises:
        Mismatch: the store's cluster was made with another plugin than ``requested``.
    """
    wanted = check(requested) if requested else None
    have = stored(sb)
    if have is None:
        have = wanted or DEFAULT
    elif wanted is not None and wanted != have:
        raise Mismatch(mismatch_message(have, wanted))
    sb.store.set_meta(META_KEY, have)
    return have


def mismatch_message(have: str, wanted: str) -> str:
    return (f"this sandbox's cluster was made with the {have} CNI plugin, not {wanted}: a cluster's CNI plugin is "
            f"not switched in place (on a real cluster neither). `k8snet sandbox reset --cni {wanted}` makes a new "
            f"cluster with {wanted} (every object is lost), or start it as it is with `k8snet sandbox up --cni "
            f"{have}`.")


# -- addresses -------------------------------------------------------------------------------------------


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def cilium_router_ip(node: str, cidr: str) -> str:
    """The address of ``cilium_host`` on the node: Cilium's first allocation from the node's pod range (the router
    IP, ``network.cilium.io/ipv4-cilium-host``), a random free address there; here one derived from the node's name,
    so it is stable across restarts."""
    net = ipaddress.ip_network(cidr)
    return str(net.network_address + 1 + _digest(node) % (net.num_addresses - 2))


CALICO_BLOCK_SIZE = 26
"""calico-ipam's default block size for IPv4 (IPPool spec.blockSize)."""


def calico_blocks(nodes: list[str], pool_cidr: str) -> dict[str, str]:
    """Each node's /26 block of the default pool (the cluster's pod range): a start chosen from the node's name, the
    next free block when two nodes' starts collide (randomBlockGenerator walks the pool from its random start)."""
    pool = ipaddress.ip_network(pool_cidr)
    count = 2 ** (CALICO_BLOCK_SIZE - pool.prefixlen)
    size = 2 ** (32 - CALICO_BLOCK_SIZE)
    taken: set[int] = set()
    out = {}
    for node in nodes:
        index = _digest(node) % count
        while index in taken:
            index = (index + 1) % count
        taken.add(index)
        out[node] = f"{pool.network_address + index * size}/{CALICO_BLOCK_SIZE}"
    return out


def calico_block(sb: Sandbox, node: str) -> str:
    """The node's block (its tunnel address is the block's first address)."""
    names = [n.name for n in sb.shape.nodes]
    names += sorted(n["metadata"]["name"] for n in sb.store.list("nodes") if n["metadata"]["name"] not in names)
    return calico_blocks(names, sb.shape.pod_cidr).get(node, "")


def host_address(sb: Sandbox, node: str) -> str:
    """The node's own address towards its pods, which its kubelet's probes and masqueraded traffic come from:
    kindnet's ptp puts the node's pod-range .1 on each host-side veth; Cilium routes pods via ``cilium_host`` and
    its router IP; Calico's host-side veths have no address, so the node answers from its ``tunl0`` address."""
    cidr = node_cidr(sb, node)
    if sb.cni == CILIUM and cidr:
        return cilium_router_ip(node, cidr)
    if sb.cni == CALICO:
        block = calico_block(sb, node)
        if block:
            return str(ipaddress.ip_network(block).network_address)
    if cidr:
        return str(next(ipaddress.ip_network(cidr).hosts()))
    return ""


def node_cidr(sb: Sandbox, node: str) -> str:
    obj = sb.store.get("nodes", "", node) or {}
    return (obj.get("spec") or {}).get("podCIDR") or next((n.pod_cidr for n in sb.shape.nodes if n.name == node), "")


def pod_allocator(sb: Sandbox, node: str, cidr: str) -> Any:
    """The node's pod-address allocator for the cluster's plugin (see the module's docstring)."""
    from .ipam import IPAllocator, SequentialIPAllocator

    stream = sb.random.stream("pod-ips")
    if sb.cni == CILIUM:
        return IPAllocator(cidr, stream, reserved=(cilium_router_ip(node, cidr),))
    if sb.cni == CALICO:
        return SequentialIPAllocator(calico_block(sb, node), stream, whole_block=True)
    return SequentialIPAllocator(cidr, stream)


# -- kube-system -----------------------------------------------------------------------------------------

NOT_SERVED = {"PodDisruptionBudget", "CustomResourceDefinition"}
"""Kinds in the manifests the sandbox does not create: policy/v1 is not served, and the plugins' CRDs are not the
manifests' (the sandbox installs its own: ``sandbox/crds/cilium.io.yaml``, and for Calico the projectcalico.org/v3
kinds its API server serves, ``sandbox/crds/projectcalico.org.yaml``; crd.projectcalico.org is not served)."""


def manifest_objects(plugin: Plugin) -> list[dict[str, Any]]:
    """The plugin's kube-system objects as its rendered manifest has them."""
    from importlib.resources import files

    import yaml

    if plugin.manifest is None:
        return []
    text = (files("k8snet") / "kind" / "manifests" / plugin.manifest).read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [d for d in yaml.load_all(text, Loader=loader) if d]


def install(sb: Sandbox) -> None:
    """Create the plugin's objects the store lacks (kindnet is ``instance.install_kube_system``'s)."""
    from .. import clusterset
    from .apiserver import WriteOptions

    plugin = PLUGINS[sb.cni]
    opts = WriteOptions(field_manager=plugin.field_manager)
    for obj in clusterset.with_cilium_cluster(manifest_objects(plugin), sb.shape.name):
        if obj["kind"] in NOT_SERVED:
            continue
        group, _, version = obj["apiVersion"].rpartition("/")
        rt = next((t for t in sb.registry.types if t.group == group and t.version == version
                   and t.kind == obj["kind"]), None)
        if rt is None:
            continue
        ns = obj["metadata"].get("namespace", "") if rt.namespaced else ""
        if sb.store.get(rt.group_resource, ns, obj["metadata"]["name"]) is None:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            sb.api.create(rt, ns, body, opts)
