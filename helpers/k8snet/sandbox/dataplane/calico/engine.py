"""The policy engine of a cluster that runs Calico: Kubernetes NetworkPolicy and Calico's projectcalico.org/v3
NetworkPolicy and GlobalNetworkPolicy judged together, tier by tier, as felix programs them (:mod:`.rules`).

The Kubernetes NetworkPolicy verdict is the standard engine's (:class:`..policy.NetworkPolicyEngine`, semantics in
:mod:`k8snet.netpol`): each NetworkPolicy that selects the endpoint becomes a policy of the ``default`` tier at
order 1000 whose matching rule allows, as libcalico-go's converter places it. What the standard engine exempts (a
pod to itself, its own node to it) stays allowed, as on kind (the kubelet's probes reach pods under default deny).

Peers without a pod are bare addresses to Calico (the sandbox's outside clients are the kind host, 172.18.0.1),
labelled only by the NetworkSets and GlobalNetworkSets whose ``nets`` hold them. Policies see the packet after
kube-proxy's DNAT. A dropped connection is a TIMEOUT to the caller (felix's iptablesFilterDenyAction: Drop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ....netpol import Peer
from ..derived import Derived
from ..model import Hop
from ..policy import NetworkPolicyEngine, judge_datagram
from . import rules
from .labels import Endpoint, in_nets, pod_labels, set_labels

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]
GROUP = "projectcalico.org"
TIERS = f"tiers.{GROUP}"
POLICIES = (f"networkpolicies.{GROUP}", f"globalnetworkpolicies.{GROUP}")
SETS = (f"networksets.{GROUP}", f"globalnetworksets.{GROUP}")


class CalicoPolicyEngine:
    """Judges connections from the store's NetworkPolicies, Calico policies, tiers and network sets."""

    def __init__(self, sandbox: Sandbox):
        self.sb = sandbox
        self.k8s = NetworkPolicyEngine(sandbox)
        self._repository: Derived[tuple[rules.Repository, list[tuple[list[str], dict[str, str]]]]] = Derived(
            sandbox.store, TIERS, *POLICIES, *SETS, "namespaces", limit=1)

    def repository(self) -> tuple[rules.Repository, list[tuple[list[str], dict[str, str]]]]:
        """Tiers and Calico policies (indexed), and network sets (their nets and labels); rebuilt only after one
        of them, or a namespace's labels, changed."""
        return self._repository.get(None, self._build)

    def _build(self) -> tuple[rules.Repository, list[tuple[list[str], dict[str, str]]]]:
        store = self.sb.store
        tiers = {t["metadata"]["name"]: rules.tier_of(t) for t in store.list(TIERS)}
        policies = [rules.policy_of(o) for resource in POLICIES for o in store.list(resource)]
        sets = []
        for resource in SETS:
            for obj in store.list(resource):
                ns = obj["metadata"].get("namespace")
                ns_labels = self._namespace_labels(ns) if ns else None
                sets.append(([str(n) for n in (obj.get("spec") or {}).get("nets") or []], set_labels(obj, ns_labels)))
        return rules.Repository(tiers, policies), sets

    def _namespace_labels(self, ns: str) -> dict[str, str]:
        return ((self.sb.store.get("namespaces", "", ns) or {}).get("metadata") or {}).get("labels") or {}

    def endpoint(self, pod: Obj | None, ip: str) -> Endpoint:
        """A pod on the pod network as its workload endpoint; anything else as its address."""
        if pod is not None and not (pod.get("spec") or {}).get("hostNetwork") and \
                ip in ("", (pod.get("status") or {}).get("podIP")):
            meta, spec = pod["metadata"], pod.get("spec") or {}
            ns = meta.get("namespace", "default")
            sa_obj = self.sb.store.get("serviceaccounts", ns, spec.get("serviceAccountName") or "default") or {}
            labels = pod_labels(pod, self._namespace_labels(ns), (sa_obj.get("metadata") or {}).get("labels") or {})
            ports = tuple((p["name"], int(p["containerPort"]), p.get("protocol") or "TCP")
                          for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("name"))
            return Endpoint(ip=(pod.get("status") or {}).get("podIP") or ip, labels=labels, namespace=ns,
                            name=meta["name"], node=spec.get("nodeName"), ports=ports)
        _, sets = self.repository()
        return Endpoint(ip=ip, sets=tuple(labels for nets, labels in sets if in_nets(ip, nets)))

    def judge(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int, protocol: str) -> dict[str, Any]:
        """Both directions: the egress of the source's endpoint, the ingress of the destination's."""
        protocol = protocol.upper()
        src = self.endpoint(src_pod, src_ip)
        dst = self.endpoint(dst_pod, (dst_pod.get("status") or {}).get("podIP") or "")
        knp = self.k8s.evaluate(src_pod, src_ip, dst_pod, port, protocol)
        out: dict[str, Any] = {"src": src, "dst": dst, "port": port, "protocol": protocol,
                               "egress": self._direction(rules.EGRESS, src, src, dst, knp.egress, port, protocol),
                               "ingress": self._direction(rules.INGRESS, dst, src, dst, knp.ingress, port, protocol)}
        out["allowed"] = out["egress"].allowed and out["ingress"].allowed
        return out

    def outside(self, src_pod: Obj | None, src_ip: str, ip: str, port: int, protocol: str) -> tuple[bool, list[Hop]]:
        """A connection to a host of the emulated outside world: only the source's egress applies (the host is no
        workload endpoint); its address meets ``nets``/``notNets`` and the network sets that hold it, and the
        Kubernetes NetworkPolicies' ``ipBlock``."""
        protocol = protocol.upper()
        src, dst = self.endpoint(src_pod, src_ip), self.endpoint(None, ip)
        knp = self.k8s.policies().evaluate(self.k8s.peer(src_pod, src_ip), Peer(ip=ip), port, protocol)
        egress = self._direction(rules.EGRESS, src, src, dst, knp.egress, port, protocol)
        j = {"src": src, "dst": dst, "port": port, "protocol": protocol, "egress": egress,
             "ingress": rules.DirectionResult(rules.INGRESS, None, True,
                                              why=f"{dst} is outside the cluster: no policy applies"),
             "allowed": egress.allowed}
        return egress.allowed, [_hop(j)]

    def _direction(self, direction: str, this: Endpoint, src: Endpoint, dst: Endpoint, k8s: Any, port: int,
                   protocol: str) -> rules.DirectionResult:
        """One endpoint's side of a connection through the tiers, the Kubernetes NetworkPolicies' verdict
        included (and its exemptions: a pod to itself, its node to it)."""
        where = f"{'ingress to' if direction == rules.INGRESS else 'egress from'} {this}"
        if k8s.exempt and this.is_pod:
            return rules.DirectionResult(direction, this, True, why=f"{where}: {k8s.exempt}")
        if not this.is_pod:
            return rules.DirectionResult(direction, None, True,
                                         why=f"{this} is not a workload endpoint: no policy applies")
        repo, _ = self.repository()
        return repo.evaluate(direction, this, src, dst, port, protocol, _kubernetes(k8s, direction))

    def verdict(self, src_pod: Obj | None, src_ip: str, dst_pod: Obj, port: int,
                protocol: str) -> tuple[bool, list[Hop]]:
        j = self.judge(src_pod, src_ip, dst_pod, port, protocol)
        return j["allowed"], [_hop(j)]

    def datagram(self, src_pod: Obj, ip: str, port: int, protocol: str = "UDP") -> tuple[bool, list[Hop]]:
        """Whether a datagram from ``src_pod`` to ``ip:port`` reaches a server (the resolver's queries), as
        :meth:`..policy.NetworkPolicyEngine.datagram` chooses targets, judged through the tiers."""
        allowed, chosen = judge_datagram(self.sb, src_pod, ip, port, protocol, self.judge)
        if chosen is None:
            return allowed, []
        return allowed, [_hop(chosen)]


def _kubernetes(k8s: Any, direction: str) -> list[rules.Policy]:
    """The Kubernetes NetworkPolicies that select the endpoint in this direction, as default-tier policies."""
    matched: dict[str, int] = {}
    for name, index in k8s.allowed_rules:
        matched.setdefault(name, index)
    out = []
    for name in k8s.policy_names:
        ns, _, short = name.partition("/")
        out.append(rules.Policy(rules.KNP, ns, short, rules.DEFAULT_TIER, rules.KNP_ORDER,
                                {"types": [direction]}, knp_rule=matched.get(name)))
    return out


def _hop(j: dict[str, Any]) -> Hop:
    """The trace hop of one connection's verdict (kind ``calico``): the deciding tier, policy and rule."""
    src, dst = j["src"], j["dst"]
    blocker = next((j[d] for d in ("egress", "ingress") if not j[d].allowed), None)
    word = "allowed" if j["allowed"] else "dropped"
    why = blocker.why if blocker else "; ".join(j[d].why for d in ("egress", "ingress"))

    def direction(d: rules.DirectionResult) -> dict[str, Any]:
        last = d.steps[-1] if d.steps else None
        return {"allowed": d.allowed, "why": d.why, "tiers": d.tiers, "policies": d.policies,
                "steps": [str(s) for s in d.steps],
                "tier": last.tier if last else None, "policy": last.policy if last and last.policy else None,
                "rule": last.rule + 1 if last and last.policy else None, "action": last.action if last else None}

    return Hop("calico", f"{src} → {dst} {j['port']}/{j['protocol']}: {word} ({why})",
               {"allowed": j["allowed"], "egress": direction(j["egress"]), "ingress": direction(j["ingress"])})
