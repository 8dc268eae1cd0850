"""Calico's tiered policy, as pure functions: tiers, policies and two endpoints in, a verdict out.

What felix programs for each workload endpoint and direction (felix/rules/endpoints.go endpointRules, v3.32.1;
docs.tigera.io calico/latest/network-policy/policy-tiers/tiered-policy, reference/resources/tier):

- The tiers that hold a policy applying to the endpoint in that direction are walked in tier order
  (felix/calc/policy_sorter.go TierLess: ``order`` ascending, an unset order last, then by name; a policy whose
  tier does not exist goes last). Within a tier, policies in ``order`` (unset: last), ties broken by
  ``name/namespace/kind`` (PolKVLess); within a policy, rules in order.
- A matching rule's action: **Allow** accepts (no later tier sees the packet), **Deny** drops, **Pass** skips
  the rest of the tier to the next tier, **Log** logs and goes on.
- **End of tier**: a tier whose policies applied but passed nothing on drops the packet ("End of tier <name>.
  Drop if no policies passed packet"), unless the tier's ``defaultAction`` is Pass.
- After the tiers (or when none applies), the endpoint's profiles decide: in Kubernetes the namespace's
  ``kns.<namespace>`` profile allows everything, so what no tier drops is allowed.
- A drop is felix's ``IptablesFilterDenyAction`` (FelixConfiguration ``iptablesFilterDenyAction``, default Drop):
  the client sees a TIMEOUT.

A policy applies to an endpoint when its ``types`` has the direction and its selector matches the endpoint's
labels (:mod:`.labels`): a NetworkPolicy's ``selector`` within its namespace and ``serviceAccountSelector`` on the
``pcsa.`` labels; a GlobalNetworkPolicy's ``selector``, ``namespaceSelector`` on the ``pcns.`` labels and
``serviceAccountSelector`` (libcalico-go updateprocessors networkpolicyprocessor.go, globalnetworkpolicyprocessor.go).
Kubernetes NetworkPolicies are policies of the ``default`` tier at order 1000 whose rules allow (libcalico-go
lib/backend/k8s/conversion K8sNetworkPolicyToCalico); the engine hands them in already judged.

A rule matches when every field it sets matches (reference/resources/networkpolicy "Rule", "EntityRule"):
``protocol``/``notProtocol``, ``ipVersion``, and ``source``/``destination`` each with ``nets``/``notNets`` (any
address, pods' included), ``selector`` (with ``namespaceSelector`` and ``serviceAccounts``, combined as
updateprocessors/rules.go getEndpointSelector does: a namespaced policy's rule selector stays in its namespace),
``notSelector`` and ``ports``/``notPorts`` (numbers, ``"from:to"`` ranges, named ports). ``http`` is enforced only
by Dikastes with Istio (not installed): felix programs the rule without it, so here it matches at L3/L4 and the
sandbox says so in a Warning event (:func:`not_emulated`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import selector as sel
from .labels import NAMESPACE, NS_PREFIX, SA_PREFIX, SERVICE_ACCOUNT, Endpoint, in_nets

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"
NP, GNP, KNP = "NetworkPolicy", "GlobalNetworkPolicy", "KubernetesNetworkPolicy"
DEFAULT_TIER = "default"
KNP_ORDER = 1000.0
"""conversion.go: "We insert all the NetworkPolicy Policies at order 1000.0 after conversion"."""
PROTOCOLS = {"1": "ICMP", "6": "TCP", "17": "UDP", "58": "ICMPV6", "132": "SCTP", "136": "UDPLITE"}


@dataclass(frozen=True)
class Tier:
    name: str
    order: float | None
    default_action: str = "Deny"
    valid: bool = True  # the Tier object exists

    def key(self) -> tuple[int, float, str]:
        return (0 if self.valid else 1, math.inf if self.order is None else self.order, self.name)


def tier_of(obj: Obj) -> Tier:
    spec = obj.get("spec") or {}
    order = spec.get("order")
    return Tier(obj["metadata"]["name"], None if order is None else float(order), spec.get("defaultAction") or "Deny")


@dataclass(frozen=True)
class Policy:
    """A NetworkPolicy, GlobalNetworkPolicy, or (judged by the engine) a Kubernetes NetworkPolicy."""

    kind: str
    namespace: str | None
    name: str
    tier: str
    order: float | None
    spec: Mapping[str, Any] = field(hash=False, compare=False)
    knp_rule: int | None = None  # a Kubernetes NetworkPolicy's matching rule (None: none matched)

    def key(self) -> tuple[float, str]:
        return (math.inf if self.order is None else self.order, f"{self.name}/{self.namespace or ''}/{self.kind}")

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def types(self) -> list[str]:
        """spec.types, or its default (api/pkg/defaults defaultPolicyTypesField)."""
        types = self.spec.get("types")
        if types:
            return list(types)
        if not self.spec.get("egress"):
            return [INGRESS]
        return [EGRESS] if not self.spec.get("ingress") else [INGRESS, EGRESS]

    def rules(self, direction: str) -> list[Mapping[str, Any]]:
        return list(self.spec.get("ingress" if direction == INGRESS else "egress") or [])

    def selects(self, ep: Endpoint) -> bool:
        """Whether the policy's selectors pick the endpoint (pods only: no host endpoints here)."""
        if not ep.is_pod:
            return False
        spec, labels = self.spec, ep.labels
        if self.kind == NP and ep.namespace != self.namespace:
            return False
        if not _matches(spec.get("selector") or "", labels):
            return False
        if self.kind == GNP and spec.get("namespaceSelector") and \
                not sel.prefixed(spec["namespaceSelector"], NS_PREFIX).evaluate(labels):
            return False
        if spec.get("serviceAccountSelector") and \
                not sel.prefixed(spec["serviceAccountSelector"], SA_PREFIX).evaluate(labels):
            return False
        return True


def policy_of(obj: Obj) -> Policy:
    """A stored projectcalico.org/v3 NetworkPolicy or GlobalNetworkPolicy."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    ns = meta.get("namespace") or None
    order = spec.get("order")
    return Policy(NP if ns else GNP, ns, meta["name"], spec.get("tier") or DEFAULT_TIER,
                  None if order is None else float(order), spec)


def _matches(text: str, labels: Mapping[str, str]) -> bool:
    try:
        return sel.parse(text).evaluate(labels)
    except sel.SelectorError:  # stored before validation existed: selects nothing, as felix drops a bad selector
        return False


# -- rules ----------------------------------------------------------------------------------------------------


def protocol_name(value: Any) -> str:
    """numorstring.Protocol as a name (``6`` → TCP)."""
    text = str(value).strip().upper()
    return PROTOCOLS.get(text, text)


def port_matches(entry: Any, port: int, ep: Endpoint, protocol: str) -> bool:
    """One entry of ``ports``: a number, ``"from:to"``, or a port name of the endpoint (numorstring.Port)."""
    text = str(entry).strip()
    low, sep, high = text.partition(":")
    if low.isdigit() and (not sep or high.isdigit()):
        return int(low) <= port <= int(high if sep else low)
    return ep.is_pod and ep.named_port(text, protocol) == port


def entity_selector(entity: Mapping[str, Any], ns: str | None) -> sel.Node | None:
    """The endpoint selector felix programs for a rule's source or destination (rules.go getEndpointSelector),
    None when it names none."""
    ns_text, ep_text, not_text = entity.get("namespaceSelector") or "", entity.get("selector") or "", \
        entity.get("notSelector") or ""
    parts: list[sel.Node] = []
    accounts = entity.get("serviceAccounts") or None
    if accounts is not None:
        if accounts.get("selector"):
            parts.append(sel.prefixed(accounts["selector"], SA_PREFIX))
        if accounts.get("names"):
            parts.append(sel.Node(sel.IN, SERVICE_ACCOUNT, values=tuple(sorted(set(accounts["names"])))))
    if ep_text:
        parts.append(sel.parse(ep_text))
    ns_node: sel.Node | None = None
    if ns_text:
        ns_node = _rewrite_namespace(sel.prefixed(ns_text, NS_PREFIX))
    elif ns:
        ns_node = sel.Node(sel.EQ, NAMESPACE, ns)
    if ns_node is not None and (parts or not_text or ns_text):
        parts.insert(0, ns_node)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else sel.Node(sel.AND, operands=tuple(parts))


def _rewrite_namespace(node: sel.Node) -> sel.Node:
    """``all()`` → ``has(projectcalico.org/namespace)``, ``global()`` → ``!has(...)`` (getEndpointSelector)."""
    if node.op == sel.ALL:
        return sel.Node(sel.HAS, NAMESPACE)
    if node.op == sel.GLOBAL:
        return sel.Node(sel.NOT, operands=(sel.Node(sel.HAS, NAMESPACE),))
    if node.operands:
        return sel.Node(node.op, operands=tuple(_rewrite_namespace(o) for o in node.operands))
    return node


def selects(entity: Mapping[str, Any], ns: str | None, peer: Endpoint) -> bool:
    """The selector part of a rule's ``source`` or ``destination`` (``selector``, ``namespaceSelector``,
    ``serviceAccounts``, ``notSelector``) against one end's labels."""
    try:
        node = entity_selector(entity, ns)
    except sel.SelectorError:
        return False
    if node is not None and not any(node.evaluate(labels) for labels in peer.label_sets()):
        return False
    return not (entity.get("notSelector") and
                any(_matches(entity["notSelector"], labels) for labels in peer.label_sets()))


class SelectorMemo:
    """:func:`selects`, kept per rule entity, policy namespace and label sets: the same selectors meet the same
    endpoints again and again (felix's label index keeps which selectors match which endpoints). Keyed by the
    entity's identity, so it lives no longer than the policies that hold the entities (a :class:`Repository`)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[Any, ...], bool] = {}

    def selects(self, entity: Mapping[str, Any], ns: str | None, peer: Endpoint) -> bool:
        key = (id(entity), ns, tuple(_labels_key(labels) for labels in peer.label_sets()))
        found = self._answers.get(key)
        if found is None:
            found = selects(entity, ns, peer)
            _keep(self._answers, key, found, Repository.LIMIT)
        return found


def entity_matches(entity: Mapping[str, Any], ns: str | None, peer: Endpoint, port: int | None,
                   protocol: str, memo: SelectorMemo | None = None) -> bool:
    """A rule's ``source`` or ``destination`` against one end of the connection (``port`` None: the source's
    ephemeral port, which no ``ports`` entry is taken to match)."""
    if entity.get("nets") and not in_nets(peer.ip, entity["nets"]):
        return False
    if entity.get("notNets") and in_nets(peer.ip, entity["notNets"]):
        return False
    if not (memo.selects(entity, ns, peer) if memo is not None else selects(entity, ns, peer)):
        return False
    if entity.get("services"):
        return False  # service matches are not emulated (a Warning says so)
    if entity.get("ports"):
        if port is None or not any(port_matches(p, port, peer, protocol) for p in entity["ports"]):
            return False
    if entity.get("notPorts") and port is not None and \
            any(port_matches(p, port, peer, protocol) for p in entity["notPorts"]):
        return False
    return True


def rule_matches(rule: Mapping[str, Any], ns: str | None, src: Endpoint, dst: Endpoint, port: int,
                 protocol: str, memo: SelectorMemo | None = None) -> bool:
    """One rule against a connection attempt from ``src`` to ``dst``'s ``port`` (after DNAT)."""
    if rule.get("protocol") is not None and protocol_name(rule["protocol"]) != protocol:
        return False
    if rule.get("notProtocol") is not None and protocol_name(rule["notProtocol"]) == protocol:
        return False
    if rule.get("ipVersion") not in (None, 4):
        return False
    if rule.get("icmp") and (protocol != "ICMP" or (rule["icmp"].get("type") not in (None, 8))):
        return False
    return entity_matches(rule.get("source") or {}, ns, src, None, protocol, memo) and \
        entity_matches(rule.get("destination") or {}, ns, dst, port, protocol, memo)


# -- evaluation -----------------------------------------------------------------------------------------------


@dataclass
class Step:
    """A rule (or a tier's end) that acted on the packet."""

    tier: str
    policy: str  # "" for a tier's end
    rule: int  # index in the policy's rules for the direction, -1 for a tier's end
    action: str

    def __str__(self) -> str:
        if not self.policy:
            return f"tier {self.tier}: end of tier, defaultAction {self.action}"
        return f"tier {self.tier}: {self.policy} rule {self.rule + 1}: {self.action}"


@dataclass
class DirectionResult:
    """One direction's walk through the tiers."""

    direction: str
    endpoint: Endpoint | None
    allowed: bool = True
    steps: list[Step] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)  # the tiers that applied, in order
    policies: list[str] = field(default_factory=list)  # the policies that applied, in order
    why: str = ""


class Repository:
    """The tiers and Calico policies of the cluster, indexed as felix's calculation graph indexes them, so that a
    verdict costs the same however many policies the cluster has; the results are those of :func:`evaluate`.

    - The policies that apply to an endpoint in a direction are worked out once per label set (felix's
      ActiveRulesCalculator keeps, per endpoint, the policies whose selectors match it), from the policies of its
      namespace and the global ones only.
    - The walk's result is kept per connection shape (both ends' labels and addresses, port, protocol, and the
      Kubernetes NetworkPolicies' verdicts handed in), as the programmed chains answer a repeated packet alike.

    Built afresh whenever a tier, a policy, a network set or a namespace's labels change.
    """

    LIMIT = 16384

    def __init__(self, tiers: Mapping[str, Tier], policies: list[Policy]):
        self.tiers, self.policies = tiers, policies
        self._by_namespace: dict[str | None, list[tuple[int, Policy]]] = {}
        for i, p in enumerate(policies):  # a NetworkPolicy applies in its namespace only
            self._by_namespace.setdefault(p.namespace if p.kind == NP else None, []).append((i, p))
        self._applying: dict[tuple[Any, ...], list[Policy]] = {}
        self._results: dict[tuple[Any, ...], DirectionResult] = {}
        self._memo = SelectorMemo()

    def applying(self, direction: str, this: Endpoint) -> list[Policy]:
        """The Calico policies that apply to ``this`` in ``direction``, in the repository's order."""
        key = (direction, this.namespace, _labels_key(this.labels))
        found = self._applying.get(key)
        if found is None:
            candidates = sorted(self._by_namespace.get(this.namespace, []) + self._by_namespace.get(None, []),
                                key=lambda pair: pair[0])
            found = [p for _, p in candidates if direction in p.types and p.selects(this)]
            _keep(self._applying, key, found, self.LIMIT)
        return found

    def evaluate(self, direction: str, this: Endpoint, src: Endpoint, dst: Endpoint, port: int, protocol: str,
                 kubernetes: list[Policy]) -> DirectionResult:
        """:func:`evaluate` of the policies that apply to ``this`` and the Kubernetes NetworkPolicies that select
        it (already judged), kept for the connection's shape."""
        key = (direction, _end_key(src), _end_key(dst), port, protocol,
               tuple((str(p), p.knp_rule) for p in kubernetes))
        kept = self._results.get(key)
        if kept is None:
            kept = evaluate(self.tiers, self.applying(direction, this) + kubernetes, direction, this, src, dst, port,
                            protocol, selected=True, memo=self._memo)
            _keep(self._results, key, kept, self.LIMIT)
        return DirectionResult(kept.direction, this, kept.allowed, kept.steps, kept.tiers, kept.policies, kept.why)


def _labels_key(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def _end_key(ep: Endpoint) -> tuple[Any, ...]:
    """What a rule can tell of one end: its address (nets), labels and namespace (selectors), its named ports, the
    network sets holding it, and its name (which the verdict's words carry)."""
    return (ep.ip, ep.namespace, ep.name, _labels_key(ep.labels), ep.ports,
            tuple(_labels_key(s) for s in ep.sets))


def _keep(table: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(table) >= limit:
        table.clear()
    table[key] = value


def evaluate(tiers: Mapping[str, Tier], policies: Iterable[Policy], direction: str, this: Endpoint, src: Endpoint,
             dst: Endpoint, port: int, protocol: str, selected: bool = False,
             memo: SelectorMemo | None = None) -> DirectionResult:
    """The tiers' verdict for ``this`` endpoint's ``direction`` (see the module's docstring). Kubernetes
    NetworkPolicies come in already selected for this endpoint and direction, with their matching rule
    (``selected``: every one of ``policies`` is known to apply)."""
    result = DirectionResult(direction, this)
    where = f"{'ingress to' if direction == INGRESS else 'egress from'} {this}"
    by_tier: dict[str, list[Policy]] = {}
    for p in policies:
        if selected or (direction in p.types and (p.kind == KNP or p.selects(this))):
            by_tier.setdefault(p.tier, []).append(p)
    ordered = sorted((tiers.get(name) or Tier(name, None, "Deny", valid=False) for name in by_tier),
                     key=Tier.key)
    for tier in ordered:
        result.tiers.append(tier.name)
        passed = False
        for p in sorted(by_tier[tier.name], key=Policy.key):
            result.policies.append(str(p))
            action, index = _policy_action(p, direction, src, dst, port, protocol, result, tier.name, memo)
            if action in ("Allow", "Deny"):
                result.allowed = action == "Allow"
                result.why = f"{where}: {'allowed' if result.allowed else 'denied'} by {result.steps[-1]}"
                return result
            if action == "Pass":
                passed = True
                break
        if passed:
            continue
        if tier.default_action == "Pass":
            result.steps.append(Step(tier.name, "", -1, "Pass"))
            continue
        result.steps.append(Step(tier.name, "", -1, "Deny"))
        result.allowed = False
        in_tier = {str(p) for p in by_tier[tier.name]}
        applied = [x for x in result.policies if x in in_tier]
        result.why = (f"{where}: end of tier {tier.name}: its policies ({', '.join(applied)}) select the endpoint "
                      "and no rule allowed or passed it: dropped")
        return result
    result.why = (f"{where}: " + (f"passed through tier(s) {', '.join(result.tiers)} to the namespace's profile "
                                  "(kns): allowed" if result.tiers else
                                  "no policy selects it: the namespace's profile (kns) allows it"))
    return result


def _policy_action(p: Policy, direction: str, src: Endpoint, dst: Endpoint, port: int, protocol: str,
                   result: DirectionResult, tier: str, memo: SelectorMemo | None) -> tuple[str | None, int]:
    """The first Allow, Deny or Pass of the policy's rules (Log rules are recorded and skipped)."""
    if p.kind == KNP:
        if p.knp_rule is None:
            return None, -1
        result.steps.append(Step(tier, str(p), p.knp_rule, "Allow"))
        return "Allow", p.knp_rule
    for i, rule in enumerate(p.rules(direction)):
        if not rule_matches(rule, p.namespace, src, dst, port, protocol, memo):
            continue
        action = str(rule.get("action") or "")
        result.steps.append(Step(tier, str(p), i, action))
        if action in ("Allow", "Deny", "Pass"):
            return action, i
    return None, -1


# -- what the sandbox does not emulate ------------------------------------------------------------------------

NOT_EMULATED_SPEC = {
    "doNotTrack": "doNotTrack (untracked policy for host endpoints) is not emulated: the sandbox has no host "
                  "endpoints",
    "preDNAT": "preDNAT (policy before kube-proxy's DNAT, for host endpoints) is not emulated",
    "applyOnForward": "applyOnForward (host endpoints' forwarded traffic) is not emulated",
    "performanceHints": "performanceHints are not emulated",
}


def not_emulated(obj: Obj) -> list[str]:
    """Each field of a NetworkPolicy or GlobalNetworkPolicy the sandbox stores but does not enforce."""
    spec = obj.get("spec") or {}
    out = [f"spec.{name}: {why}" for name, why in NOT_EMULATED_SPEC.items() if spec.get(name)]
    for key in ("ingress", "egress"):
        for i, rule in enumerate(spec.get(key) or []):
            path = f"spec.{key}[{i}]"
            if rule.get("http"):
                out.append(f"{path}.http: HTTP matches are enforced only by Calico's application layer policy "
                           "(Dikastes with Istio), which this cluster does not run; felix enforces the rule without "
                           "them (its L3/L4 part)")
            for side in ("source", "destination"):
                entity = rule.get(side) or {}
                if entity.get("services"):
                    out.append(f"{path}.{side}.services: Service matches are not emulated: the rule matches nothing")
                if side == "source" and entity.get("ports"):
                    out.append(f"{path}.source.ports: source ports (the client's ephemeral port) are not emulated: "
                               "the rule matches nothing")
            if rule.get("icmp") or rule.get("notICMP"):
                out.append(f"{path}.icmp: ICMP type and code matches are emulated for ping (type 8) only")
    return out
