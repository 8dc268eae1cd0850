"""Numeric identities and endpoint IDs, allocated as the agent does and kept where the agent keeps them.

- A security identity is shared by every endpoint with the same security labels. With ``identity-allocation-mode:
  crd`` (cilium-config) each is a CiliumIdentity object named by its number, ``security-labels`` holding the
  labels; numbers for cluster-local identities come from 256–65535 (pkg/identity MinimalAllocationIdentity,
  MaxAllocationIdentity) and the allocator leases a random free one (pkg/idpool LeaseAvailableID). Here the draw is
  from the sandbox's seeded generator, so runs repeat.
- An endpoint ID is local to the node's agent, a random free one of 1–4095 (pkg/endpoint/id, idpool), shown in the
  CiliumEndpoint's ``status.id``.

A number already in a stored CiliumIdentity or CiliumEndpoint is reused, so a restarted sandbox keeps them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .labels import Label, parse_key

if TYPE_CHECKING:
    from ...instance import Sandbox

IDENTITIES = "ciliumidentities.cilium.io"
ENDPOINTS = "ciliumendpoints.cilium.io"
MIN_IDENTITY, MAX_IDENTITY = 256, 65535
MAX_ENDPOINT_ID = 4095
RING_CAPACITY = 4095
"""hubble-event-buffer-capacity's default: each agent's Hubble keeps its node's last 4095 flows."""


@dataclass
class State:
    """What the agents keep in memory: identities by labels, endpoint IDs by pod uid, Hubble's rings by node, the
    DNS proxies' name cache by endpoint."""

    identities: dict[frozenset[Label], int] = field(default_factory=dict)
    endpoint_ids: dict[str, tuple[str, int]] = field(default_factory=dict)  # pod uid → (node, id)
    rings: dict[str, deque[Any]] = field(default_factory=dict)
    fqdn: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    """What the DNS proxies learned (:mod:`.fqdn`): endpoint (pod uid) → name → address → expiry (clock time)."""

    def ring(self, node: str) -> deque[Any]:
        return self.rings.setdefault(node, deque(maxlen=RING_CAPACITY))


def state(sb: Sandbox) -> State:
    """The cluster's agent state (dropped with the cluster on reset)."""
    st = sb.program_state.get("cilium")
    if st is None:
        st = sb.program_state["cilium"] = State()
    return st


def security_labels(labels: frozenset[Label]) -> dict[str, str]:
    """The CiliumIdentity's ``security-labels``: ``source:key`` → value."""
    return {f"{s}:{k}": v for s, k, v in sorted(labels)}


def from_security_labels(data: dict[str, str]) -> frozenset[Label]:
    return frozenset((*parse_key(k), str(v)) for k, v in data.items())


def allocation_range(sb: Sandbox) -> tuple[int, int]:
    """The identities this cluster's allocator hands out, by cilium-config's ``cluster-id``."""
    cm = sb.store.get("configmaps", "kube-system", "cilium-config") or {}
    try:
        cluster_id = int((cm.get("data") or {}).get("cluster-id") or 0)
    except ValueError:
        cluster_id = 0
    if 0 < cluster_id <= 255:
        return cluster_id << 16, ((cluster_id + 1) << 16) - 1
    return MIN_IDENTITY, MAX_IDENTITY


def identity_of(sb: Sandbox, labels: frozenset[Label]) -> int:
    """The numeric identity for a set of security labels (allocated on first use)."""
    st = state(sb)
    if labels in st.identities:
        return st.identities[labels]
    stored = {}
    for obj in sb.store.list(IDENTITIES):
        try:
            stored[from_security_labels(obj.get("security-labels") or {})] = int(obj["metadata"]["name"])
        except ValueError:
            continue
    if labels in stored:
        st.identities[labels] = stored[labels]
        return stored[labels]
    used = set(st.identities.values()) | set(stored.values())
    rng = sb.random.stream("cilium-identities")
    low, high = allocation_range(sb)
    number = rng.randint(low, high)
    while number in used:
        number = rng.randint(low, high)
    st.identities[labels] = number
    return number


def endpoint_id(sb: Sandbox, pod: dict[str, Any]) -> int:
    """The pod's endpoint ID on its node's agent."""
    st = state(sb)
    uid, node = pod["metadata"].get("uid", ""), (pod.get("spec") or {}).get("nodeName", "")
    if uid in st.endpoint_ids:
        return st.endpoint_ids[uid][1]
    cep = sb.store.get(ENDPOINTS, pod["metadata"].get("namespace", "default"), pod["metadata"]["name"])
    owned = any(r.get("uid") == uid for r in ((cep or {}).get("metadata") or {}).get("ownerReferences") or [])
    if cep is not None and owned and (cep.get("status") or {}).get("id"):
        st.endpoint_ids[uid] = (node, int(cep["status"]["id"]))
        return st.endpoint_ids[uid][1]
    used = {i for n, i in st.endpoint_ids.values() if n == node}
    rng = sb.random.stream("cilium-endpoint-ids")
    number = rng.randint(1, MAX_ENDPOINT_ID)
    while number in used:
        number = rng.randint(1, MAX_ENDPOINT_ID)
    st.endpoint_ids[uid] = (node, number)
    return number


def forget(sb: Sandbox, uid: str) -> None:
    state(sb).endpoint_ids.pop(uid, None)
    state(sb).fqdn.pop(uid, None)  # the endpoint's DNS history goes with it
