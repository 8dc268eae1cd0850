"""The sandbox's NetworkPolicy enforcement: every connection the data plane makes is judged here.

The semantics live in :mod:`k8snet.netpol` (shared with the helpers'
predictions); this module turns the store's objects into its peers and the
verdict into a trace hop. A dropped connection is a TIMEOUT to the caller,
as a conformant CNI's DROP rule makes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...netpol import Peer, PolicySet, Verdict, pod_peer
from .model import Hop, NetError

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]


class NetworkPolicyEngine:
    """Judges connections from the store's current NetworkPolicies, Pods and Namespaces."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self._policies: tuple[int, PolicySet] | None = None

    def policies(self) -> PolicySet:
        """Every NetworkPolicy, indexed; rebuilt only after the store changed (not per connection)."""
        rv = self.sb.store.rv
        if self._policies is None or self._policies[0] != rv:
            self._policies = (rv, PolicySet(self.sb.store.list("networkpolicies.networking.k8s.io")))
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

    def datagram(self, src_pod: Obj, ip: str, port: int, protocol: str = "UDP") -> tuple[bool, list[Hop]]:
        """Whether a datagram from ``src_pod`` to ``ip:port`` can reach a server, without choosing one.

        For the resolver's queries: a Service address reaches one of its ready
        endpoints (the resolver retries, so any allowed one will do); a pod
        address, that pod. No endpoint is drawn, so lookups do not disturb the
        seeded load-balancing choices.
        """
        try:
            match = self.sb.dataplane.proxy._match(ip, port, protocol)
        except NetError:  # a Service address without that port: nothing answers
            return False, []
        targets: list[tuple[Obj, int]] = []
        if match is not None:
            meta, port_name = match.service["metadata"], match.port.get("name") or ""
            for ep in self.sb.dataplane.proxy.endpoints(meta.get("namespace", "default"), meta["name"]):
                pod = self.sb.store.get("pods", ep.namespace, ep.pod) if ep.pod else None
                number = ep.port(port_name, protocol)
                if ep.ready and pod is not None and number is not None:
                    targets.append((pod, number))
        else:
            targets = [(p, port) for p in self.sb.store.list("pods")  # no policy selects a hostNetwork pod
                       if (p.get("status") or {}).get("podIP") == ip and not p["spec"].get("hostNetwork")]
        verdicts = [self.evaluate(src_pod, (src_pod.get("status") or {}).get("podIP") or "", pod, number, protocol)
                    for pod, number in targets]
        allowed = next((v for v in verdicts if v.allowed), None)
        chosen = allowed or (verdicts[0] if verdicts else None)
        return allowed is not None or not verdicts, [hop(chosen)] if chosen else []

    def peer(self, pod: Obj | None, ip: str | None) -> Peer:
        """A pod as policies see it; without a pod, the address (and the node that owns it, if one does)."""
        if pod is not None and (ip is None or ip == (pod.get("status") or {}).get("podIP")):
            ns = pod["metadata"].get("namespace", "default")
            ns_obj = self.sb.store.get("namespaces", "", ns) or {}
            return pod_peer(pod, (ns_obj.get("metadata") or {}).get("labels") or {})
        # no pod, or the connection left under another address (kube-proxy's SNAT to a node)
        proxy = self.sb.dataplane.proxy
        node = proxy.node_of_ip(ip or "") or next(
            (n for n in proxy.node_ips() if proxy.gateway(n) == ip), None)
        return Peer(ip=ip or "", node=node)


def hop(v: Verdict) -> Hop:
    """The trace hop: the summary line, and both directions as data (``k8snet.policy.explain`` has the rest)."""
    def direction(d: Any) -> dict[str, Any]:
        return {"pod": str(d.pod) if d.pod else None, "isolated": d.isolated, "allowed": d.allowed,
                "exempt": d.exempt, "policies": [str(p) for p in d.policies],
                "allowedBy": [f"{p} {d.kind.lower()} rule {r.index + 1}" for p, r in d.allowed_by]}

    return Hop("policy", v.summary(), {"allowed": v.allowed, "egress": direction(v.egress),
                                       "ingress": direction(v.ingress)})
