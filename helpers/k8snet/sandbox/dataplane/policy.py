"""The sandbox's NetworkPolicy enforcement: every connection the data plane makes is judged here.

The semantics live in :mod:`k8snet.netpol` (shared with the helpers'
predictions); this module turns the store's objects into its peers and the
verdict into a trace hop. A dropped connection is a TIMEOUT to the caller,
as a conformant CNI's DROP rule makes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...netpol import CLUSTER_LABEL, Peer, PolicySet, Verdict, pod_peer
from .model import Hop, NetError

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
NETWORK_POLICIES = "networkpolicies.networking.k8s.io"
PEER_CACHE = 4096
"""How many pods' peers the engine keeps (by namespace, name, uid and resourceVersion) before it starts afresh."""


class NetworkPolicyEngine:
    """Judges connections from the store's current NetworkPolicies, Pods and Namespaces."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self._policies: tuple[int, PolicySet] | None = None
        self._peers: dict[tuple[Any, ...], Peer] = {}

    def policies(self) -> PolicySet:
        """Every NetworkPolicy, indexed; rebuilt only after a NetworkPolicy changed (not per connection).

        Pods and Namespaces need no rebuild: a verdict reads their labels from the store each time, and the
        set remembers its work per label set, so a label change is a new key, never a stale answer.
        """
        generation = self.sb.store.generation(NETWORK_POLICIES)
        if self._policies is None or self._policies[0] != generation:
            self._policies = (generation, PolicySet(self.sb.store.list(NETWORK_POLICIES)))
        return self._policies[1]

    def verdict(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int,
                protocol: str) -> tuple[bool, list[Hop]]:
        v = self.evaluate(src_pod, src_ip, dst_pod, port, protocol)
        return v.allowed, [hop(v)]

    def evaluate(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int, protocol: str) -> Verdict:
        """The full verdict (both directions' reasoning) for one connection."""
        src = self.peer(src_pod, src_ip)
        dst = self.peer(dst_pod, None)
        return self.policies().evaluate(src, dst, port, protocol)

    def outside(self, src_pod: Obj | None, src_ip: str, ip: str, port: int, protocol: str) -> tuple[bool, list[Hop]]:
        """A connection to an address outside the cluster (:mod:`.outside`): only the source's egress policies
        apply (``ipBlock`` meets the outside address itself, before the node masquerades it)."""
        v = self.policies().evaluate(self.peer(src_pod, src_ip), Peer(ip=ip), port, protocol)
        return v.allowed, [hop(v)]

    def datagram(self, src_pod: Obj, ip: str, port: int, protocol: str = "UDP") -> tuple[bool, list[Hop]]:
        """Whether a datagram from ``src_pod`` to ``ip:port`` can reach a server, without choosing one.

        For the resolver's queries: a Service address reaches one of its ready
        endpoints (the resolver retries, so any allowed one will do); a pod
        address, that pod. No endpoint is drawn, so lookups do not disturb the
        seeded load-balancing choices.
        """
        targets = datagram_targets(self.sb, ip, port, protocol)
        if targets is None:  # a Service address without that port: nothing answers
            return False, []
        verdicts = [self.evaluate(src_pod, (src_pod.get("status") or {}).get("podIP") or "", pod, number, protocol)
                    for pod, number in targets]
        allowed = next((v for v in verdicts if v.allowed), None)
        chosen = allowed or (verdicts[0] if verdicts else None)
        return allowed is not None or not verdicts, [hop(chosen)] if chosen else []

    def peer(self, pod: Obj | None, ip: str | None) -> Peer:
        """A pod as policies see it; without a pod, the address (and the node that owns it, if one does)."""
        if pod is not None and (ip is None or ip == (pod.get("status") or {}).get("podIP")):
            meta = pod["metadata"]
            ns = meta.get("namespace", "default")
            ns_meta = (self.sb.store.get("namespaces", "", ns) or {}).get("metadata") or {}
            # a stored object's resourceVersion names its content: the same pod and namespace, the same peer
            key = (ns, meta.get("name"), meta.get("uid"), meta.get("resourceVersion"), ns_meta.get("uid"),
                   ns_meta.get("resourceVersion"))
            found = self._peers.get(key) if key[3] is not None else None
            if found is None:
                found = pod_peer(pod, ns_meta.get("labels") or {})
                if self.sb.cni == "cilium":  # Cilium's endpoints carry their cluster's name (a mesh selects by it)
                    from .cilium.labels import cluster_name

                    found = dataclasses.replace(found, labels={**found.labels, CLUSTER_LABEL: cluster_name(self.sb.store)})
                if key[3] is not None:
                    if len(self._peers) >= PEER_CACHE:
                        self._peers.clear()
                    self._peers[key] = found
            return found
        # no pod, or the connection left under another address (kube-proxy's SNAT to a node)
        mesh = getattr(self.sb, "clustermesh", None)
        found = mesh.endpoint_at(ip) if mesh is not None and pod is None and ip else None
        if found is not None:  # a pod of another cluster of a Cilium Cluster Mesh
            remote, ep = found
            return Peer(ip=ip or "", namespace=ep["namespace"], name=ep["name"],
                        labels={**(ep.get("labels") or {}), CLUSTER_LABEL: remote.cluster_name},
                        namespace_labels=ep.get("namespaceLabels") or {}, node=ep.get("node") or None,
                        cluster=remote.cluster_name)
        proxy = self.sb.dataplane.proxy
        node = proxy.node_of_ip(ip or "") or next(
            (n for n in proxy.node_ips() if proxy.gateway(n) == ip), None)
        return Peer(ip=ip or "", node=node)


def hop(v: Verdict) -> Hop:
    """The trace hop: the summary line, and both directions as data (``k8snet.policy.explain`` has the rest)."""
    def direction(d: Any) -> dict[str, Any]:
        return {"pod": str(d.pod) if d.pod else None, "isolated": d.isolated, "allowed": d.allowed,
                "exempt": d.exempt, "policies": d.policy_names,
                "allowedBy": [f"{p} {d.kind.lower()} rule {index + 1}" for p, index in d.allowed_rules]}

    return Hop("policy", v.summary(), {"allowed": v.allowed, "egress": direction(v.egress),
                                       "ingress": direction(v.ingress)})


def datagram_targets(sb: Sandbox, ip: str, port: int, protocol: str) -> list[tuple[Obj, int]] | None:
    """The pods (and their ports) a datagram to ``ip:port`` may reach: a Service's ready endpoints, or the pod
    with that address (no policy selects a hostNetwork pod); None for a Service address without that port."""
    try:
        match = sb.dataplane.proxy._match(ip, port, protocol)
    except NetError:
        return None
    if match is None:
        return [(p, port) for p in sb.store.list("pods")
                if (p.get("status") or {}).get("podIP") == ip and not p["spec"].get("hostNetwork")]
    targets: list[tuple[Obj, int]] = []
    meta, port_name = match.service["metadata"], match.port.get("name") or ""
    for ep in sb.dataplane.proxy.endpoints(meta.get("namespace", "default"), meta["name"]):
        pod = sb.store.get("pods", ep.namespace, ep.pod) if ep.pod else None
        number = ep.port(port_name, protocol)
        if ep.ready and pod is not None and number is not None:
            targets.append((pod, number))
    return targets


def judge_datagram(sb: Sandbox, src_pod: Obj, ip: str, port: int, protocol: str,
                   judge: Callable[[Obj, str, Obj, int, str], dict[str, Any]]) -> tuple[bool, dict[str, Any] | None]:
    """A datagram from ``src_pod`` to ``ip:port`` judged by a CNI plugin's engine (``judge(src_pod, src_ip, pod,
    port, protocol)``) against each of :func:`datagram_targets`: an allowed one if any (the resolver retries), else
    the first; (allowed, that verdict), or (False, None) when nothing serves the address and (True, None) when no
    target is known."""
    targets = datagram_targets(sb, ip, port, protocol)
    if targets is None:
        return False, None
    source_ip = (src_pod.get("status") or {}).get("podIP") or ""
    judged = [judge(src_pod, source_ip, pod, number, protocol) for pod, number in targets]
    chosen = next((j for j in judged if j["allowed"]), None) or (judged[0] if judged else None)
    return (True, None) if chosen is None else (chosen["allowed"], chosen)
