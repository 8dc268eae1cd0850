"""NetworkPolicy semantics (networking.k8s.io/v1), as pure functions: API objects in, a verdict out.

One implementation serves three callers: the sandbox's data plane enforces
it on every connection, ``k8snet.policy.predict`` computes the expected
connectivity matrix from a real cluster's objects (so on kind a mismatch
shows an unenforced policy), and ``k8snet.policy.explain`` prints its
walkthrough. The rules, from the Kubernetes documentation
(concepts/services-networking/network-policies) and the API reference:

- "A pod is isolated for egress if there is any NetworkPolicy that both
  selects the pod and has "Egress" in its policyTypes" (the same for
  ingress); policyTypes defaults to Ingress, plus Egress when the policy has
  egress rules (SetDefaults_NetworkPolicy).
- "Network policies do not conflict; they are additive": the allowed
  connections are the union over the policies that select the pod.
- "For a connection from a source pod to a destination pod to be allowed,
  both the egress policy on the source pod and the ingress policy on the
  destination pod need to allow the connection."
- A rule matches when one of its peers matches (``from``/``to`` absent or
  empty: every peer) and one of its ports matches (absent or empty: every
  port). In one peer, ``namespaceSelector`` and ``podSelector`` must both
  match (AND); separate peers are alternatives (OR). A ``podSelector`` alone
  means pods in the policy's own namespace.
- Exceptions: "a pod cannot block access to itself"; "traffic to and from
  the node where a Pod is running is always allowed".
- Policies see the packet after kube-proxy's DNAT, so the destination is a
  pod IP and port, never a Service IP (an ``ipBlock`` holding a ClusterIP
  matches nothing). Replies to an allowed connection always pass: only
  connection attempts are judged here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .sandbox.selectors import match_label_selector, selector_string

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True)
class Peer:
    """One end of a connection as NetworkPolicy sees it: a pod, a node, or an address outside.

    ``ports`` are the pod's container ports as (name, port, protocol), for
    named ports; ``node`` is where a pod runs, or which node owns an address.
    """

    ip: str
    namespace: str | None = None
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    node: str | None = None
    ports: tuple[tuple[str, int, str], ...] = ()
    host_network: bool = False

    @property
    def is_pod(self) -> bool:
        """A pod on the pod network (hostNetwork pods are the node, as far as policies go)."""
        return self.namespace is not None and self.name is not None and not self.host_network

    def __str__(self) -> str:
        if self.namespace is not None and self.name is not None:
            return f"{self.namespace}/{self.name}"
        return f"node {self.node} ({self.ip})" if self.node else self.ip

    def named_port(self, name: str, protocol: str) -> int | None:
        return next((p for n, p, proto in self.ports if n == name and proto == protocol), None)


def pod_peer(pod: Obj, namespace_labels: Mapping[str, str]) -> Peer:
    """A Peer from a Pod object and its namespace's labels."""
    spec, meta = pod.get("spec") or {}, pod["metadata"]
    ports = tuple((p["name"], int(p["containerPort"]), p.get("protocol") or "TCP")
                  for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("name"))
    return Peer(ip=(pod.get("status") or {}).get("podIP") or "", namespace=meta.get("namespace"),
                name=meta["name"], labels=meta.get("labels") or {}, namespace_labels=namespace_labels,
                node=spec.get("nodeName"), ports=ports, host_network=bool(spec.get("hostNetwork")))


# -- results --------------------------------------------------------------------------------------


class Check:
    """One peer or port of a rule, and whether it matched the connection.

    The words (``text``, ``why``) are written only when read: the data plane
    judges every connection, and only a walkthrough needs them.
    """

    __slots__ = ("matched", "_text", "_why")

    def __init__(self, matched: bool, text: Callable[[], str], why: Callable[[], str]):
        self.matched, self._text, self._why = matched, text, why

    @property
    def text(self) -> str:
        return self._text()

    @property
    def why(self) -> str:
        return self._why()


@dataclass
class RuleResult:
    """One ingress/egress rule: it allows the connection when a peer and a port both match."""

    index: int
    peers: list[Check]  # empty: the rule names no peers, so every peer matches
    ports: list[Check]  # empty: every port

    @property
    def peer_matched(self) -> bool:
        return not self.peers or any(c.matched for c in self.peers)

    @property
    def port_matched(self) -> bool:
        return not self.ports or any(c.matched for c in self.ports)

    @property
    def matched(self) -> bool:
        return self.peer_matched and self.port_matched


@dataclass
class PolicyResult:
    """A policy that selects the pod for one direction, and what each of its rules said."""

    namespace: str
    name: str
    pod_selector: str
    rules: list[RuleResult]

    @property
    def allowed(self) -> bool:
        return any(r.matched for r in self.rules)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Direction:
    """The verdict of one direction: egress of the source, or ingress of the destination."""

    kind: str  # Ingress or Egress
    pod: Peer | None
    exempt: str = ""  # why no policy can apply (not a pod, itself, its node)
    policies: list[PolicyResult] = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        return not self.exempt and bool(self.policies)

    @property
    def allowed(self) -> bool:
        return not self.isolated or any(p.allowed for p in self.policies)

    @property
    def allowed_by(self) -> list[tuple[PolicyResult, RuleResult]]:
        return [(p, r) for p in self.policies for r in p.rules if r.matched]

    def summary(self) -> str:
        """One line: why this direction allows or drops the connection."""
        label = "egress from" if self.kind == EGRESS else "ingress to"
        if self.exempt:
            return f"{label} {self.pod or '-'}: {self.exempt}"
        if not self.policies:
            return f"{label} {self.pod}: no NetworkPolicy selects it for {self.kind}: not isolated, allowed"
        if self.allowed:
            p, r = self.allowed_by[0]
            return f"{label} {self.pod}: allowed by {p} {self.kind.lower()} rule {r.index + 1}"
        names = ", ".join(str(p) for p in self.policies)
        return f"{label} {self.pod}: isolated by {names} and no rule matched: dropped"

    def walkthrough(self) -> list[str]:
        """The per-policy, per-rule reasoning, as policy-assistant's walkthrough lays it out."""
        lines = [f"{self.kind} ({'egress from' if self.kind == EGRESS else 'ingress to'} {self.pod or '-'}):"]
        if self.exempt or not self.policies:
            return lines + [f"  {self.summary().split(': ', 1)[1]}"]
        lines.append(f"  selected by {len(self.policies)} polic{'y' if len(self.policies) == 1 else 'ies'} "
                     f"with {self.kind} in policyTypes: the pod is isolated for {self.kind.lower()}")
        for p in self.policies:
            lines.append(f"  policy {p} (podSelector {p.pod_selector or '{} = every pod'}):")
            if not p.rules:
                lines.append(f"    no {self.kind.lower()} rules: allows nothing (deny)")
            for r in p.rules:
                verdict = "MATCHES" if r.matched else "no match"
                lines.append(f"    rule {r.index + 1}: {verdict}")
                peer_word = "from" if self.kind == INGRESS else "to"
                if not r.peers:
                    lines.append(f"      {peer_word}: (any peer)")
                for i, c in enumerate(r.peers):  # separate peers are alternatives
                    lines.append(f"      {'or ' if i else ''}{peer_word} {c.text}: {'yes' if c.matched else 'no'} "
                                 f"— {c.why}")
                if not r.ports:
                    lines.append("      ports: (any port)")
                for c in r.ports:
                    lines.append(f"      port {c.text}: {'yes' if c.matched else 'no'} — {c.why}")
        lines.append(f"  → {'ALLOWED' if self.allowed else 'DROPPED'}: {self.summary().split(': ', 1)[1]}")
        return lines


@dataclass
class Verdict:
    """Whether a connection is allowed, with both directions' reasoning."""

    src: Peer
    dst: Peer
    port: int
    protocol: str
    egress: Direction
    ingress: Direction

    @property
    def allowed(self) -> bool:
        return self.egress.allowed and self.ingress.allowed

    def summary(self) -> str:
        word = "allowed" if self.allowed else "dropped"
        blocker = next((d for d in (self.egress, self.ingress) if not d.allowed), None)
        why = blocker.summary() if blocker else "; ".join(d.summary() for d in (self.egress, self.ingress))
        return f"{self.src} → {self.dst} {self.port}/{self.protocol}: {word} ({why})"

    def walkthrough(self) -> str:
        head = (f"{self.src} → {self.dst} on {self.port}/{self.protocol}: "
                f"{'ALLOWED' if self.allowed else 'DROPPED'}")
        return "\n".join([head, "", *self.egress.walkthrough(), "", *self.ingress.walkthrough()])

    __str__ = walkthrough


# -- the engine -----------------------------------------------------------------------------------


class PolicySet:
    """The cluster's NetworkPolicies, indexed by namespace; ``evaluate`` judges one connection."""

    def __init__(self, policies: Iterable[Obj]):
        self.by_namespace: dict[str, list[Obj]] = {}
        for p in policies:
            self.by_namespace.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        for items in self.by_namespace.values():
            items.sort(key=lambda p: p["metadata"]["name"])

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_namespace.values())

    def selecting(self, pod: Peer, kind: str) -> list[Obj]:
        """The policies in the pod's namespace whose podSelector matches it and whose policyTypes has ``kind``."""
        if not pod.is_pod:
            return []
        return [p for p in self.by_namespace.get(pod.namespace or "", [])
                if kind in policy_types(p) and match_label_selector((p.get("spec") or {}).get("podSelector") or {},
                                                                    pod.labels)]

    def evaluate(self, src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> Verdict:
        """Judge a connection from ``src`` to ``dst``'s ``port`` (after DNAT)."""
        protocol = protocol.upper()
        same = src.is_pod and dst.is_pod and (src.namespace, src.name) == (dst.namespace, dst.name)
        egress = Direction(EGRESS, src if src.is_pod else None)
        ingress = Direction(INGRESS, dst if dst.is_pod else None)
        if same:
            egress.exempt = ingress.exempt = "a pod cannot block access to itself: allowed"
        for d, this, other in ((egress, src, dst), (ingress, dst, src)):
            if d.exempt:
                continue
            if not this.is_pod:
                d.exempt = f"{this} is not a pod on the pod network: no NetworkPolicy applies"
            elif other.node and other.node == this.node and not other.is_pod:
                d.exempt = (f"traffic {'to' if d.kind == EGRESS else 'from'} the node {this.node} where the pod "
                            "runs is always allowed")
            else:
                d.policies = [self._judge(p, d.kind, other, dst, port, protocol) for p in self.selecting(this, d.kind)]
        return Verdict(src, dst, port, protocol, egress, ingress)

    def _judge(self, policy: Obj, kind: str, peer: Peer, dst: Peer, port: int, protocol: str) -> PolicyResult:
        spec, meta = policy.get("spec") or {}, policy["metadata"]
        ns = meta.get("namespace", "default")
        rules = []
        for i, rule in enumerate(spec.get(kind.lower()) or []):
            peers = [_peer_check(p, ns, peer) for p in rule.get("from" if kind == INGRESS else "to") or []]
            ports = [_port_check(p, dst, port, protocol) for p in rule.get("ports") or []]
            rules.append(RuleResult(i, peers, ports))
        return PolicyResult(ns, meta["name"], selector_string(spec.get("podSelector") or {}), rules)


def policy_types(policy: Obj) -> list[str]:
    """spec.policyTypes, or its API default: Ingress, plus Egress when the policy has egress rules."""
    spec = policy.get("spec") or {}
    return spec.get("policyTypes") or ([INGRESS] + ([EGRESS] if spec.get("egress") else []))


def describe_peer(peer: Obj, policy_ns: str) -> str:
    """A peer in words, saying AND where namespaceSelector and podSelector share one peer."""
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        text = f"ipBlock {block.get('cidr')}"
        return text + (f" except {', '.join(block['except'])}" if block.get("except") else "")
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    pods = "every pod" if pod_sel is not None and not selector_string(pod_sel) else \
        f"pods with {selector_string(pod_sel)}" if pod_sel is not None else ""
    if ns_sel is None:
        return f"podSelector {{{selector_string(pod_sel)}}} ({pods or 'every pod'} in namespace {policy_ns})"
    namespaces = "every namespace" if not selector_string(ns_sel) else f"namespaces with {selector_string(ns_sel)}"
    if pod_sel is None:
        return f"namespaceSelector {{{selector_string(ns_sel)}}} (every pod in {namespaces})"
    return (f"namespaceSelector {{{selector_string(ns_sel)}}} AND podSelector {{{selector_string(pod_sel)}}} "
            f"({pods} in {namespaces}: both must match)")


def _peer_check(peer: Obj, policy_ns: str, other: Peer) -> Check:
    def text() -> str:
        return describe_peer(peer, policy_ns)

    if "ipBlock" in peer:
        return _ip_block_check(peer["ipBlock"], other, text)
    if not other.is_pod:
        return Check(False, text, lambda: f"{other} is not a pod, and selectors match only pods")
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None:
        if other.namespace != policy_ns:
            return Check(False, text, lambda: f"{other} is in namespace {other.namespace}, not {policy_ns}")
    elif not match_label_selector(ns_sel, other.namespace_labels):
        return Check(False, text, lambda: f"namespace {other.namespace} lacks {selector_string(ns_sel)}")
    if pod_sel is not None and not match_label_selector(pod_sel, other.labels):
        return Check(False, text, lambda: f"pod {other} lacks {selector_string(pod_sel)}")

    def why() -> str:
        where = f"namespace {other.namespace}" + (f" has {selector_string(ns_sel)}" if ns_sel else "")
        what = f"pod {other} has {selector_string(pod_sel)}" if pod_sel and selector_string(pod_sel) else \
            "every pod matches"
        return f"{where}; {what}"

    return Check(True, text, why)


def _ip_block_check(block: Obj, other: Peer, text: Callable[[], str]) -> Check:
    try:
        ip = ipaddress.ip_address(other.ip)
    except ValueError:
        return Check(False, text, lambda: f"{other} has no IP address")
    if ip not in ipaddress.ip_network(block["cidr"], strict=False):
        return Check(False, text, lambda: f"{ip} is outside {block['cidr']}")
    for ex in block.get("except") or []:
        if ip in ipaddress.ip_network(ex, strict=False):
            return Check(False, text, lambda ex=ex: f"{ip} is in the excepted {ex}")
    return Check(True, text, lambda: f"{ip} is in {block['cidr']}")


def _port_check(rule_port: Obj, dst: Peer, port: int, protocol: str) -> Check:
    proto = rule_port.get("protocol") or "TCP"
    want, end = rule_port.get("port"), rule_port.get("endPort")
    named = isinstance(want, str) and not want.isdigit()

    def text() -> str:
        if want is None:
            return f"any/{proto}"
        if named:
            return f"{want}/{proto} (named)"
        return f"{want}-{end}/{proto}" if end is not None else f"{want}/{proto}"

    if proto != protocol:
        return Check(False, text, lambda: f"the connection is {protocol}")
    if want is None:
        return Check(True, text, lambda: f"every {proto} port")
    if named:
        resolved = dst.named_port(want, proto) if dst.is_pod else None
        if resolved is None:
            return Check(False, text, lambda: f"{dst} has no container port named {want!r} for {proto}")
        return Check(resolved == port, text, lambda: f"{dst} names {resolved}/{proto} {want!r}"
                     + ("" if resolved == port else f", not {port}"))
    low = int(want)
    high = int(end) if end is not None else low
    ok = low <= port <= high
    return Check(ok, text, lambda: f"{port} is {'in' if ok else 'not in'} {text().split('/')[0]}")
