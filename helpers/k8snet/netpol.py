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
import json
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
    cluster: str = ""
    """The cluster of a pod in another cluster of a Cilium Cluster Mesh ('' for this cluster's pods): its own
    cluster's policies judge its side; this cluster's ipBlocks never select it, and a podSelector only when it names
    its cluster (:data:`CLUSTER_LABEL`)."""

    @property
    def is_pod(self) -> bool:
        """A pod on the pod network (hostNetwork pods are the node, as far as policies go)."""
        return self.namespace is not None and self.name is not None and not self.host_network

    def __str__(self) -> str:
        if self.namespace is not None and self.name is not None:
            return f"{self.namespace}/{self.name}" + (f" (cluster {self.cluster})" if self.cluster else "")
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


class Direction:
    """The verdict of one direction: egress of the source, or ingress of the destination.

    The indexed engine hands in an ``_Outcome`` (the selecting policies and which of their rules matched) and
    writes ``policies`` (every rule's peers and ports, in words) only when read: a walkthrough needs them, a
    connection's verdict and trace hop do not.
    """

    __slots__ = ("kind", "pod", "exempt", "_policies", "_outcome", "_materialize")

    def __init__(self, kind: str, pod: Peer | None, exempt: str = "", policies: list[PolicyResult] | None = None):
        self.kind = kind  # Ingress or Egress
        self.pod = pod
        self.exempt = exempt  # why no policy can apply (not a pod, itself, its node)
        self._policies = policies
        self._outcome: _Outcome | None = None
        self._materialize: Callable[[], list[PolicyResult]] | None = None

    @property
    def policies(self) -> list[PolicyResult]:
        """The policies that select the pod for this direction, and what each of their rules said."""
        if self._policies is None:
            self._policies = self._materialize() if self._materialize is not None else []
        return self._policies

    @policies.setter
    def policies(self, value: list[PolicyResult]) -> None:
        self._policies, self._outcome, self._materialize = value, None, None

    def decide(self, outcome: _Outcome, materialize: Callable[[], list[PolicyResult]]) -> None:
        """The indexed engine's answer: which policies select the pod and which rules matched; ``materialize``
        judges them in full, on demand."""
        self._policies, self._outcome, self._materialize = None, outcome, materialize

    def __repr__(self) -> str:
        return f"Direction({self.kind!r}, {self.pod!r}, exempt={self.exempt!r}, policies={self.policy_names!r})"

    @property
    def isolated(self) -> bool:
        if self._outcome is not None:
            return not self.exempt and bool(self._outcome.names)
        return not self.exempt and bool(self.policies)

    @property
    def allowed(self) -> bool:
        if self._outcome is not None:
            return bool(self.exempt) or not self._outcome.names or self._outcome.allowed
        return not self.isolated or any(p.allowed for p in self.policies)

    @property
    def allowed_by(self) -> list[tuple[PolicyResult, RuleResult]]:
        return [(p, r) for p in self.policies for r in p.rules if r.matched]

    @property
    def policy_names(self) -> list[str]:
        """``namespace/name`` of each policy that selects the pod for this direction."""
        if self._outcome is not None:
            return list(self._outcome.names)
        return [str(p) for p in self.policies]

    @property
    def allowed_rules(self) -> list[tuple[str, int]]:
        """(policy ``namespace/name``, rule index) of every rule that matched, in the policies' order."""
        if self._outcome is not None:
            return list(self._outcome.allowed_rules)
        return [(str(p), r.index) for p, r in self.allowed_by]

    def summary(self) -> str:
        """One line: why this direction allows or drops the connection."""
        label = "egress from" if self.kind == EGRESS else "ingress to"
        if self.exempt:
            return f"{label} {self.pod or '-'}: {self.exempt}"
        if not self.isolated:
            return f"{label} {self.pod}: no NetworkPolicy selects it for {self.kind}: not isolated, allowed"
        if self.allowed:
            p, index = self.allowed_rules[0]
            return f"{label} {self.pod}: allowed by {p} {self.kind.lower()} rule {index + 1}"
        names = ", ".join(self.policy_names)
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
    """The cluster's NetworkPolicies, indexed by what they select; ``evaluate`` judges one connection.

    A verdict reads only the policies that can select the pod: per namespace, an inverted index from each
    ``podSelector.matchLabels`` pair (one per policy) to the policies, plus the policies whose selector has no
    matchLabels (empty, or matchExpressions only), which every pod of the namespace must be checked against.
    The candidates are then matched in full, in name order. What a pod's labels select, and which rules of those
    policies a peer and a port match, is remembered per label set (a set is built from the policies only, so it
    stays right whatever pods and namespaces do: their labels are the keys). ``evaluate(..., indexed=False)`` is
    the plain walk over every policy of the namespace, the definition the indexed path must agree with.
    """

    def __init__(self, policies: Iterable[Obj]):
        self.by_namespace: dict[str, list[Obj]] = {}
        for p in policies:
            self.by_namespace.setdefault(p["metadata"].get("namespace", "default"), []).append(p)
        for items in self.by_namespace.values():
            items.sort(key=lambda p: p["metadata"]["name"])
        self._peers = _Table(_peer_matcher)
        self._ports = _Table(_port_matcher)
        self._index = {ns: _NamespaceIndex([_Compiled(p, i, self._peers, self._ports) for i, p in enumerate(items)])
                       for ns, items in self.by_namespace.items()}
        self._plans: dict[tuple[Any, ...], _Plan] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_namespace.values())

    def selecting(self, pod: Peer, kind: str) -> list[Obj]:
        """The policies in the pod's namespace whose podSelector matches it and whose policyTypes has ``kind``."""
        return [c.obj for c in self._plan(pod, kind).policies]

    def _scan(self, pod: Peer, kind: str) -> list[Obj]:
        """``selecting`` without the index: every policy of the namespace, matched in turn."""
        if not pod.is_pod:
            return []
        return [p for p in self.by_namespace.get(pod.namespace or "", [])
                if kind in policy_types(p) and match_label_selector((p.get("spec") or {}).get("podSelector") or {},
                                                                    pod.labels)]

    def _plan(self, pod: Peer, kind: str) -> _Plan:
        """What selects ``pod`` for ``kind``, and its rules' peers and ports as matchers (remembered per labels)."""
        if not pod.is_pod or pod.namespace not in self._index:  # no policy in its namespace: none selects it
            return _NO_PLAN
        try:
            key: tuple[Any, ...] | None = (pod.namespace, kind, frozenset(pod.labels.items()))
        except TypeError:  # a label value that cannot be a key: nothing to remember
            key = None
        plan = self._plans.get(key) if key is not None else None
        if plan is None:
            index = self._index.get(pod.namespace or "")
            selected = index.selecting(pod.labels, kind) if index is not None else []
            plan = _Plan(selected, kind, self._peers, self._ports)
            if key is not None:
                if len(self._plans) >= PLAN_CACHE:
                    self._plans.clear()
                self._plans[key] = plan
        return plan

    def evaluate(self, src: Peer, dst: Peer, port: int, protocol: str = "TCP", *, indexed: bool = True) -> Verdict:
        """Judge a connection from ``src`` to ``dst``'s ``port`` (after DNAT).

        ``indexed=False`` walks and judges every policy of the namespace in full, as the definition reads.
        """
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
            elif this.cluster:
                d.exempt = f"{this} is in another cluster, whose own NetworkPolicies judge this direction"
            elif other.node and other.node == this.node and not other.is_pod:
                d.exempt = (f"traffic {'to' if d.kind == EGRESS else 'from'} the node {this.node} where the pod "
                            "runs is always allowed")
            elif not indexed:
                d.policies = [self._judge(p, d.kind, other, dst, port, protocol) for p in self._scan(this, d.kind)]
            else:
                outcome = self._plan(this, d.kind).outcome(other, dst, port, protocol)
                d.decide(outcome, lambda o=outcome, k=d.kind, other=other: [
                    self._judge(c.obj, k, other, dst, port, protocol) for c in o.policies])
        return Verdict(src, dst, port, protocol, egress, ingress)

    @staticmethod
    def _judge(policy: Obj, kind: str, peer: Peer, dst: Peer, port: int, protocol: str) -> PolicyResult:
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


CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
"""The label Cilium gives every endpoint with its cluster's name; in a Cluster Mesh a NetworkPolicy's podSelector
that names it may select pods of that cluster (Cilium's pkg/k8s network_policy.go parseNetworkPolicyPeer adds the
local cluster to any podSelector that does not: ``policy-default-local-cluster``)."""


def selects_cluster(pod_selector: Obj | None) -> bool:
    """isPodSelectorSelectingCluster: the podSelector names the cluster label (matchLabels or matchExpressions)."""
    if not isinstance(pod_selector, dict):
        return False
    return bool((pod_selector.get("matchLabels") or {}).get(CLUSTER_LABEL)) or any(
        isinstance(e, dict) and e.get("key") == CLUSTER_LABEL for e in pod_selector.get("matchExpressions") or [])


def _peer_check(peer: Obj, policy_ns: str, other: Peer) -> Check:
    def text() -> str:
        return describe_peer(peer, policy_ns)

    if other.cluster and ("ipBlock" in peer or not selects_cluster(peer.get("podSelector"))):
        return Check(False, text, lambda: f"{other} is a pod of another cluster: Cilium's ipBlocks do not select "
                     "cluster endpoints, and a podSelector that names no cluster (io.cilium.k8s.policy.cluster) "
                     "selects local pods only (policy-default-local-cluster)")
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


# -- the index ------------------------------------------------------------------------------------

PLAN_CACHE = 4096
"""How many (namespace, direction, label set) plans a PolicySet keeps before it starts afresh: label sets come
and go with pods (a rollout's pod-template-hash), the policies stay."""
IP_CACHE = 4096
"""How many addresses an ipBlock keeps its answer for, likewise."""

Matcher = Callable[..., bool]


def _canonical(item: Any) -> str:
    """A key under which equal peers (or ports) are compiled once."""
    try:
        return json.dumps(item, sort_keys=True)
    except (TypeError, ValueError):
        return f"#{id(item)}"  # not JSON: its own entry


class _Table:
    """The distinct peers (or ports) the rules name, each compiled once into a matcher; rules hold their ids."""

    def __init__(self, compile_: Callable[[Any, str], Matcher]):
        self._compile = compile_
        self._ids: dict[tuple[str, str], int] = {}
        self.matchers: list[Matcher] = []

    def id(self, item: Any, policy_ns: str) -> int:
        key = (policy_ns, _canonical(item))
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.matchers)
            self.matchers.append(self._compile(item, policy_ns))
        return found


def _labels_test(selector: Any) -> Callable[[Mapping[str, str]], bool]:
    """A LabelSelector as a test of labels: matchLabels alone as a few compares, anything else through
    ``match_label_selector``."""
    if isinstance(selector, Mapping) and set(selector) <= {"matchLabels", "matchExpressions"} \
            and not selector.get("matchExpressions"):
        pairs = tuple((selector.get("matchLabels") or {}).items())

        def test(labels: Mapping[str, str]) -> bool:
            for k, v in pairs:
                if labels.get(k) != v:
                    return False
            return True

        return test
    return lambda labels: match_label_selector(selector, labels)


def _peer_matcher(peer: Obj, policy_ns: str) -> Matcher:
    """``_peer_check(peer, policy_ns, other).matched`` as a function of ``other``, with the selectors and CIDRs read
    once. What cannot be read in advance (an object the API would refuse) is left to ``_peer_check`` itself."""
    try:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            net = ipaddress.ip_network(block["cidr"], strict=False)
            excepts = [ipaddress.ip_network(ex, strict=False) for ex in block.get("except") or []]
            seen: dict[str, bool] = {}

            def in_block(other: Peer) -> bool:
                if other.cluster:
                    return False
                hit = seen.get(other.ip)
                if hit is None:
                    try:
                        ip = ipaddress.ip_address(other.ip)
                    except ValueError:
                        hit = False
                    else:
                        hit = ip in net and not any(ip in ex for ex in excepts)
                    if len(seen) >= IP_CACHE:
                        seen.clear()
                    seen[other.ip] = hit
                return hit

            return in_block
        ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
        ns_test = _labels_test(ns_sel) if ns_sel is not None else None
        pod_test = _labels_test(pod_sel) if pod_sel is not None else None
    except (AttributeError, KeyError, TypeError, ValueError):
        return lambda other: _peer_check(peer, policy_ns, other).matched

    names_cluster = selects_cluster(pod_sel)

    def selects(other: Peer) -> bool:
        if not other.is_pod or (other.cluster and not names_cluster):
            return False
        if ns_test is None:
            if other.namespace != policy_ns:
                return False
        elif not ns_test(other.namespace_labels):
            return False
        return pod_test is None or pod_test(other.labels)

    return selects


def _port_matcher(rule_port: Obj, _ns: str = "") -> Matcher:
    """``_port_check(rule_port, dst, port, protocol).matched`` as a function of those three, read once."""
    try:
        proto = rule_port.get("protocol") or "TCP"
        want, end = rule_port.get("port"), rule_port.get("endPort")
        if want is None:
            return lambda dst, port, protocol: protocol == proto
        if isinstance(want, str) and not want.isdigit():
            return lambda dst, port, protocol: (protocol == proto and dst.is_pod
                                                and dst.named_port(want, proto) == port)
        low = int(want)
        high = int(end) if end is not None else low
    except (AttributeError, TypeError, ValueError):
        return lambda dst, port, protocol: _port_check(rule_port, dst, port, protocol).matched
    return lambda dst, port, protocol: protocol == proto and low <= port <= high


Rules = tuple[tuple[int, tuple[int, ...], tuple[int, ...]], ...]
"""A policy's rules of one direction: (index, peer ids, port ids); no ids: every peer, every port."""


class _Compiled:
    """One NetworkPolicy, read once: its name, order, policyTypes, podSelector, and its rules as table ids."""

    __slots__ = ("obj", "order", "name", "types", "selector", "rules")

    def __init__(self, obj: Obj, order: int, peers: _Table, ports: _Table):
        spec, meta = obj.get("spec") or {}, obj["metadata"]
        ns = meta.get("namespace", "default")
        self.obj, self.order, self.name = obj, order, f"{ns}/{meta['name']}"
        self.types = policy_types(obj)
        self.selector = spec.get("podSelector") or {}
        self.rules: dict[str, Rules | None] = {}
        for kind, word in ((INGRESS, "from"), (EGRESS, "to")):
            try:
                self.rules[kind] = tuple((i, tuple(peers.id(p, ns) for p in rule.get(word) or []),
                                          tuple(ports.id(p, "") for p in rule.get("ports") or []))
                                         for i, rule in enumerate(spec.get(kind.lower()) or []))
            except (AttributeError, TypeError):  # not rules the API would store: judged in full when selected
                self.rules[kind] = None


def _index_pair(selector: Any) -> tuple[str, str] | None:
    """The matchLabels pair a policy is filed under (every pod it selects has it), or None: check it always."""
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    if not isinstance(labels, Mapping) or not labels:
        return None
    key, value = next(iter(labels.items()))
    return (key, value) if isinstance(key, str) and isinstance(value, str) else None


class _NamespaceIndex:
    """One namespace's policies: an inverted index ``key=value`` → the policies filed under it (one matchLabels
    pair each), and the policies filed under none (empty selectors, matchExpressions only)."""

    def __init__(self, policies: list[_Compiled]):
        self.by_label: dict[tuple[str, str], list[_Compiled]] = {}
        self.unfiled: list[_Compiled] = []
        for c in policies:
            pair = _index_pair(c.selector)
            if pair is None:
                self.unfiled.append(c)
            else:
                self.by_label.setdefault(pair, []).append(c)

    def selecting(self, labels: Mapping[str, str], kind: str) -> list[_Compiled]:
        """The policies that select a pod with ``labels`` for ``kind``, in name order."""
        found = list(self.unfiled)
        for pair in labels.items():
            try:
                found += self.by_label.get(pair, ())
            except TypeError:  # a value that is no string matches no matchLabels value
                continue
        found.sort(key=lambda c: c.order)
        return [c for c in found if kind in c.types and match_label_selector(c.selector, labels)]


class _Outcome:
    """Which policies select the pod for a direction, and which of their rules matched (shared by every
    connection that comes out the same)."""

    __slots__ = ("policies", "names", "allowed_rules", "allowed")

    def __init__(self, policies: tuple[_Compiled, ...], names: tuple[str, ...], allowed_rules: list[tuple[str, int]]):
        self.policies, self.names = policies, names
        self.allowed_rules = tuple(allowed_rules)
        self.allowed = bool(allowed_rules)


class _Plan:
    """The policies that select one label set for one direction, with their rules as bit masks over the distinct
    peers and ports those rules name; outcomes are remembered by which peers and ports matched."""

    __slots__ = ("policies", "names", "kind", "peer_tests", "port_tests", "rules", "outcomes", "exact")

    def __init__(self, policies: list[_Compiled], kind: str, peers: _Table | None, ports: _Table | None):
        self.policies, self.kind = tuple(policies), kind
        self.names = tuple(c.name for c in self.policies)
        peer_bits: dict[int, int] = {}
        port_bits: dict[int, int] = {}
        self.rules: list[tuple[str, int, int, int] | _Compiled] = []  # in order; a _Compiled is judged in full
        for c in self.policies:
            compiled = c.rules.get(kind)
            if compiled is None:
                self.rules.append(c)
                continue
            for index, peer_ids, port_ids in compiled:
                peer_mask = port_mask = 0  # 0: the rule names none, so every one matches
                for pid in peer_ids:
                    peer_mask |= 1 << peer_bits.setdefault(pid, len(peer_bits))
                for pid in port_ids:
                    port_mask |= 1 << port_bits.setdefault(pid, len(port_bits))
                self.rules.append((c.name, index, peer_mask, port_mask))
        self.peer_tests = tuple((1 << bit, peers.matchers[pid]) for pid, bit in peer_bits.items()) if peers else ()
        self.port_tests = tuple((1 << bit, ports.matchers[pid]) for pid, bit in port_bits.items()) if ports else ()
        self.exact = not any(isinstance(r, _Compiled) for r in self.rules)
        self.outcomes: dict[tuple[int, int], _Outcome] = {}

    def outcome(self, other: Peer, dst: Peer, port: int, protocol: str) -> _Outcome:
        """Which rules match a connection with ``other`` at the far end, to ``dst``'s ``port``/``protocol``."""
        if not self.policies:
            return _NO_OUTCOME
        peers = ports = 0
        for bit, test in self.peer_tests:
            if test(other):
                peers |= bit
        for bit, test in self.port_tests:
            if test(dst, port, protocol):
                ports |= bit
        if not self.exact:
            allowed: list[tuple[str, int]] = []
            for r in self.rules:
                if isinstance(r, _Compiled):  # judged in full, as the definition reads
                    result = PolicySet._judge(r.obj, self.kind, other, dst, port, protocol)
                    allowed += [(r.name, rr.index) for rr in result.rules if rr.matched]
                elif (not r[2] or peers & r[2]) and (not r[3] or ports & r[3]):
                    allowed.append((r[0], r[1]))
            return _Outcome(self.policies, self.names, allowed)
        found = self.outcomes.get((peers, ports))
        if found is None:
            found = _Outcome(self.policies, self.names, [
                (name, index) for name, index, peer_mask, port_mask in self.rules  # type: ignore[misc]
                if (not peer_mask or peers & peer_mask) and (not port_mask or ports & port_mask)])
            if len(self.outcomes) >= PLAN_CACHE:
                self.outcomes.clear()
            self.outcomes[(peers, ports)] = found
        return found


_NO_OUTCOME = _Outcome((), (), [])
_NO_PLAN = _Plan([], INGRESS, None, None)
