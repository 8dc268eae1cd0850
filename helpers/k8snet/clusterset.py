"""The members of a cluster set: each cluster's name and networks, the same on both backends.

Several clusters run side by side (``k8snet sandbox up --name east``, ``k8snet kind up --name east``). Joining
their networks later (Cilium Cluster Mesh, Submariner) needs what both projects require of their members:
"PodCIDR ranges in all clusters and all nodes must be non-conflicting and unique IP addresses" (Cilium's Cluster
Mesh guide, Documentation/network/clustermesh/clustermesh.rst), and Submariner without Globalnet likewise asks
for non-overlapping pod and Service CIDRs. So each member gets its own ranges, from a slot:

- slot 0 is the workbook's default cluster ``k8snet``: pod 10.244.0.0/16 and Service 10.96.0.0/12, as before
  (kind's own default Service subnet is a /16, so k8snet's kind config sets both explicitly);
- slot N takes pod ``10.N.0.0/16`` and Service ``172.20.N.0/24``, the scheme of Cilium's own two-cluster kind
  setup (cilium/cilium Makefile, target ``kind-clustermesh``: clustermesh1 ``PODSUBNET=10.1.0.0/16
  SERVICESUBNET=172.20.1.0/24``, clustermesh2 ``10.2.0.0/16`` / ``172.20.2.0/24``). ``east`` and ``west`` are
  slots 1 and 2 (``cloud`` and ``onprem`` 3 and 4); any other name hashes to a slot between 5 and 95, so the same
  name has the same networks on every machine (10.96-10.111 and 10.244 stay the default cluster's).

The cluster DNS address is the Service range's tenth address and ``kubernetes.default`` its first, as kubeadm
picks them. Nodes are named as kind names them (``east-control-plane``, ``east-worker``, ``east-worker2``), each
with the next /24 of the pod range, and their InternalIPs are distinct across the set on kind's one shared docker
network 172.18.0.0/16: ``172.18.N.2``-``.4``, load balancer addresses from ``172.18.N.5``. (Docker hands out
addresses on that network in creation order, so on kind the second cluster's nodes get whatever is next; the
sandbox keeps them per slot so every run shows the same ones.)
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_NAME = "k8snet"
"""The workbook's own cluster: kind's ``kind-k8snet``, the sandbox's ``k8snet-sandbox`` context."""
DEFAULT_CONTEXT = "k8snet-sandbox"
NAME_RE = re.compile(r"^[a-z0-9.-]+$")
"""kind's validNameRE (pkg/internal/apis/config/validate.go): "similar to valid docker container names"."""
NODE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""A DNS-1123 subdomain: what the API server accepts as a Node's name."""
NAME_MAX = 50
"""kind warns above 50 characters: ``-control-plane`` must still fit a 64-character host name."""
WELL_KNOWN = {"east": 1, "west": 2, "cloud": 3, "onprem": 4}
"""Names with a fixed slot, so a lesson's two clusters always have Cilium's clustermesh1/clustermesh2 networks."""
HASHED_SLOTS = range(5, 96)
"""Where other names land: pod ranges 10.5-10.95, below the default Service range 10.96.0.0/12."""
DOCKER_NETWORK = ipaddress.ip_network("172.18.0.0/16")
"""kind's ``kind`` docker network, which every kind cluster's nodes join."""
NODE_ROLES = ("control-plane", "worker", "worker2")


@dataclass(frozen=True)
class Node:
    """One node of the cluster: its name, its podCIDR and its InternalIP."""

    name: str
    pod_cidr: str
    internal_ip: str


@dataclass(frozen=True)
class Shape:
    """A cluster's name, networks and nodes: handed to the sandbox instance and written into kind's config."""

    name: str
    pod_cidr: str
    service_cidr: str
    nodes: tuple[Node, ...]

    @property
    def dns_ip(self) -> str:
        """kube-dns's ClusterIP: the tenth address of the Service range (kubeadm's GetDNSIP)."""
        return str(ipaddress.ip_network(self.service_cidr).network_address + 10)

    @property
    def kubernetes_ip(self) -> str:
        """``default/kubernetes``'s ClusterIP: the first address of the Service range (kubeadm's GetAPIServerVirtualIP)."""
        return str(ipaddress.ip_network(self.service_cidr).network_address + 1)

    @property
    def control_plane(self) -> Node:
        return self.nodes[0]

    @property
    def load_balancer_first(self) -> str:
        """The first address cloud-provider-kind's load balancer containers get: the one after the last node."""
        return str(max(ipaddress.ip_address(n.internal_ip) for n in self.nodes) + 1)

    def overlaps(self, other: Shape) -> list[str]:
        """What this cluster's networks share with ``other``'s (empty: none), each said in one phrase."""
        mine = {"pod": self.pod_cidr, "Service": self.service_cidr}
        theirs = {"pod": other.pod_cidr, "Service": other.service_cidr}
        out = [f"{a} range {ra} overlaps {other.name}'s {b} range {rb}"
               for a, ra in mine.items() for b, rb in theirs.items()
               if ipaddress.ip_network(ra).overlaps(ipaddress.ip_network(rb))]
        shared = {n.internal_ip for n in self.nodes} & {n.internal_ip for n in other.nodes}
        out += [f"node address {ip} is also one of {other.name}'s" for ip in sorted(shared)]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "podCIDR": self.pod_cidr, "serviceCIDR": self.service_cidr,
                "nodes": [{"name": n.name, "podCIDR": n.pod_cidr, "internalIP": n.internal_ip} for n in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shape:
        return cls(data["name"], data["podCIDR"], data["serviceCIDR"],
                   tuple(Node(n["name"], n["podCIDR"], n["internalIP"]) for n in data["nodes"]))


def check_name(name: str) -> str:
    """The cluster name as kind accepts it.

    Raises:
        ValueError: kind's own refusal for a name outside ``^[a-z0-9.-]+$``; a name whose node names would not be
            valid Node names; ``sandbox``, whose context would be the default cluster's ``k8snet-sandbox``.
    """
    if not NAME_RE.match(name or ""):
        raise ValueError(f"'{name}' is not a valid cluster name, cluster names must match `{NAME_RE.pattern}`")
    if len(name) > NAME_MAX:
        raise ValueError(f"cluster name {name!r} is too long ({len(name)} characters, at most {NAME_MAX}): its "
                         "node names must fit a host name")
    if not NODE_NAME_RE.match(f"{name}-control-plane"):
        raise ValueError(f"cluster name {name!r} would give nodes invalid names ({name}-control-plane is not a "
                         "DNS-1123 subdomain): start and end it with a letter or digit")
    if context(name) == DEFAULT_CONTEXT and name != DEFAULT_NAME:
        raise ValueError(f"cluster name {name!r} would take the default cluster's context {DEFAULT_CONTEXT}: "
                         "choose another name")
    return name


def slot(name: str) -> int:
    """The member's slot: 0 for the default cluster, :data:`WELL_KNOWN`'s, else a hash of the name."""
    if name == DEFAULT_NAME:
        return 0
    if name in WELL_KNOWN:
        return WELL_KNOWN[name]
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return HASHED_SLOTS[digest % len(HASHED_SLOTS)]


def shape(name: str = DEFAULT_NAME) -> Shape:
    """The cluster's shape, the same for the same name everywhere (see the module's docstring)."""
    check_name(name)
    n = slot(name)
    pod, service = ("10.244.0.0/16", "10.96.0.0/12") if n == 0 else (f"10.{n}.0.0/16", f"172.20.{n}.0/24")
    base = ipaddress.ip_network(pod).network_address
    nodes = tuple(Node(f"{name}-{role}", f"{base + 256 * i}/24", str(DOCKER_NETWORK.network_address + 256 * n + 2 + i))
                  for i, role in enumerate(NODE_ROLES))
    return Shape(name, pod, service, nodes)


CILIUM_CLUSTER_NAME_RE = re.compile(r"^([a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?)$")
"""Cilium's cluster name: "at most 32 characters, lower case alphanumeric or '-', starting and ending with an
alphanumeric" (pkg/clustermesh/types/option.go, ValidateClusterName)."""


def cilium_cluster(name: str) -> tuple[str, int]:
    """The member's Cilium ``cluster-name`` and ``cluster-id`` (cilium-config): Cluster Mesh needs "a unique
    human-readable name as well as a numeric cluster ID (1-255)" per cluster (Documentation/network/clustermesh/
    clustermesh.rst). A named member takes its name and its slot; the workbook's own cluster keeps the chart's
    defaults (``default``, 0), with which it cannot join a mesh, as on a real cluster installed that way."""
    check_name(name)
    return ("default", 0) if name == DEFAULT_NAME else (name, slot(name))


def with_cilium_cluster(objects: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The plugin's manifest objects with cilium-config's ``cluster-name``/``cluster-id`` set for ``name``, as
    ``helm install --set cluster.name=… --set cluster.id=…`` renders them (other objects unchanged)."""
    cluster_name, cluster_id = cilium_cluster(name)
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ConfigMap" and meta.get("name") == "cilium-config" and "cluster-name" in (
                obj.get("data") or {}):
            obj = {**obj, "data": {**obj["data"], "cluster-name": cluster_name, "cluster-id": str(cluster_id)}}
        out.append(obj)
    return out


def context(name: str, backend: str = "sandbox") -> str:
    """The kubeconfig context: ``k8snet-<name>`` (as kind's ``kind-<name>``); the default sandbox keeps
    ``k8snet-sandbox``."""
    if backend == "kind":
        return f"kind-{name}"
    return DEFAULT_CONTEXT if name == DEFAULT_NAME else f"k8snet-{name}"


def edge_ports(name: str) -> tuple[int, int]:
    """A named member's ingress edge ports on 127.0.0.1 when none are asked for: 8080/8443 moved up by 100 per slot
    (east 8180/8543, west 8280/8643), so two members never want the same ports and a URL stays the same on both
    backends. The default cluster keeps 8080/8443 (and its ``K8SNET_EDGE_HTTP(S)_PORT`` overrides)."""
    from . import pins

    n = slot(name)
    return pins.EDGE_HTTP_PORT + 100 * n, pins.EDGE_HTTPS_PORT + 100 * n


def clashes(member: Shape, others: list[Shape]) -> list[str]:
    """Why ``member`` cannot join a set with ``others`` (empty: it can)."""
    return [f"{member.name}'s {phrase}" for other in others if other.name != member.name
            for phrase in member.overlaps(other)]


DEFAULT = shape()
"""The workbook's default cluster: k8snet-control-plane 10.244.0.0/24 at 172.18.0.2, and so on."""
