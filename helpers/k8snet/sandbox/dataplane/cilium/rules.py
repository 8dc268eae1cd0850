"""CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy semantics, as pure functions: policies and two endpoints
in, the matching rules out (docs.cilium.io security/policy/language, intro; pkg/policy/api, pkg/policy).

- A policy holds one rule (``spec``) or several (``specs``). A rule applies to the endpoints its
  ``endpointSelector`` selects: in a CiliumNetworkPolicy only endpoints of the policy's namespace
  (ParseToCiliumRule adds the namespace label), in a clusterwide one any endpoint. A rule with ``nodeSelector``
  is a host policy, which needs the host firewall (not enabled in the chart's values here): it selects no pod.
- **Default deny** (policy/intro "Policy Enforcement Modes", ``enable-policy: default``): an endpoint is
  enforced in a direction as soon as one rule that selects it has rules for that direction (``ingress`` or
  ``ingressDeny``), unless that rule sets ``enableDefaultDeny.<direction>: false`` (pkg/policy/api Rule
  EnableDefaultDeny: unset means true when the rule has rules for the direction). Kubernetes NetworkPolicies that
  select the endpoint enforce it too (Cilium imports them as rules of the same repository).
- **Allow rules are a union**: an enforced endpoint accepts what any rule (Cilium's or a NetworkPolicy's) allows.
- **Deny rules win** (policy/language "Deny Policies"): a matching ``ingressDeny``/``egressDeny`` rule drops the
  traffic whatever allows it, "regardless of whether they are a Cilium Network Policy, a Clusterwide Cilium
  Network Policy or even a Kubernetes Network Policy".
- One rule item matches when its L3 part and its L4 part both match. L3: ``fromEndpoints``/``toEndpoints``
  (selectors, :func:`.labels.peer_selector_matches`), ``fromEntities``/``toEntities``, ``fromCIDR``/``toCIDR``/
  ``*CIDRSet`` (with ``except``), ``toFQDNs`` (:mod:`.fqdn`: an outside address some endpoint resolved, through
  the DNS proxy, from a name the selector matches). Per the CIDR section of policy/language, CIDR rules "do not
  apply to traffic where both sides of the connection are either managed by Cilium or use an IP belonging to a
  node in the cluster": they match world addresses only, as do ``toFQDNs``. An item with no L3 part but ``toPorts`` allows those ports from/to
  everyone; an item with neither (``ingress: [{}]``) matches nothing, which is the documented default-deny
  policy.
- L4 (``toPorts[].ports``): ``port`` a number (with ``endPort``) or a named port, ``0``/absent meaning every port;
  ``protocol`` TCP, UDP, SCTP or ANY (the default: TCP, UDP and SCTP).
- L7 (``toPorts[].rules.http``): traffic on that port goes through the node's Envoy proxy, which allows a request
  when one HTTP rule matches it (:mod:`.l7`). An allow rule on the same port without L7 rules lets every request
  through the proxy (the repository merges it as a wildcard L7 rule). ``rules.dns`` does the same for DNS
  queries, through the agent's DNS proxy (:mod:`.fqdn`).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import fqdn
from .labels import Endpoint, entity_matches, names_namespace, parse_key, peer_selector_matches, selector_matches

Obj = dict[str, Any]
INGRESS, EGRESS = "ingress", "egress"
CNP, CCNP = "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"

PEER_FIELDS = {INGRESS: ("fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "fromNodes", "fromGroups"),
               EGRESS: ("toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toFQDNs", "toServices", "toNodes",
                        "toGroups")}
"""The L3 parts of a rule item (``toServices``, ``*Nodes`` and ``*Groups`` are not emulated and match nothing)."""


@dataclass(frozen=True)
class Rule:
    """One rule of a policy: ``spec`` or one of ``specs``."""

    kind: str  # CNP or CCNP
    namespace: str | None  # None for a clusterwide policy
    name: str
    index: int  # its place in specs (0 for spec)
    spec: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def policy(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def __str__(self) -> str:
        return f"{'CiliumNetworkPolicy' if self.kind == CNP else 'CiliumClusterwideNetworkPolicy'} {self.policy}"


def rules_of(obj: Obj) -> list[Rule]:
    """The rules of a stored CNP or CCNP."""
    kind = CNP if obj["metadata"].get("namespace") else CCNP
    ns = obj["metadata"].get("namespace") or None
    out = []
    if obj.get("spec"):
        out.append(Rule(kind, ns, obj["metadata"]["name"], 0, obj["spec"]))
    for i, spec in enumerate(obj.get("specs") or []):
        out.append(Rule(kind, ns, obj["metadata"]["name"], i + (1 if obj.get("spec") else 0), spec))
    return out


def selects(rule: Rule, ep: Endpoint) -> bool:
    """Whether the rule applies to the endpoint (pods only: no host firewall)."""
    if not ep.is_pod or "endpointSelector" not in rule.spec:
        return False
    if rule.namespace and ep.namespace != rule.namespace:
        return False
    return selector_matches(rule.spec.get("endpointSelector"), ep.labels)


def enforces(rule: Rule, direction: str) -> bool:
    """Whether the rule puts the endpoints it selects into default deny for ``direction``."""
    if not (rule.spec.get(direction) or rule.spec.get(direction + "Deny")):
        return False
    setting = (rule.spec.get("enableDefaultDeny") or {}).get(direction)
    return True if setting is None else bool(setting)


@dataclass
class Match:
    """A rule item that matched a connection."""

    rule: Rule
    item: int  # index in the direction's list
    deny: bool
    http: list[Obj] | None = None  # the L7 HTTP rules of the matched port entries (None: no L7 restriction)
    dns: list[Obj] | None = None  # the DNS rules of the matched port entries (None: no DNS proxy in the path)

    def __str__(self) -> str:
        word = "Deny" if self.deny else ""
        return f"{self.rule.policy} {'ingress' if 'ingress' in self.where else 'egress'}{word} rule {self.item + 1}"

    where: str = ""


@dataclass
class DirectionResult:
    """What the Cilium rules say about one direction of a connection (ingress of the destination, egress of the
    source)."""

    direction: str
    endpoint: Endpoint | None
    rules: list[Rule] = field(default_factory=list)  # the rules that select the endpoint
    enforced: bool = False
    allows: list[Match] = field(default_factory=list)
    denies: list[Match] = field(default_factory=list)

    @property
    def http(self) -> list[Obj] | None:
        """The HTTP rules the proxy enforces for the allowed traffic (None: no proxy, or a rule without L7 on the
        same port lets everything through)."""
        if not self.allows or any(m.http is None for m in self.allows):
            return None
        return [h for m in self.allows for h in m.http or []]

    @property
    def dns(self) -> list[Obj] | None:
        """The DNS rules the agent's DNS proxy enforces for the allowed traffic (None: no proxy; an allow on the
        same port without DNS rules lets every name through, as for HTTP)."""
        if not self.allows or not any(m.dns is not None for m in self.allows):
            return None
        if any(m.dns is None for m in self.allows):
            return [{"matchPattern": "*"}]
        return [d for m in self.allows for d in m.dns or []]


class Repository:
    """Every rule of the cluster's Cilium policies, indexed as the agent indexes them, so that a verdict costs the
    same however many policies the cluster has. The results are those of :func:`evaluate` over every rule.

    - The rules that select an endpoint are worked out once per label set (pkg/policy/selectorcache.go keeps
      what each selector selects), from the policies of its namespace and the clusterwide ones only.
    - Their items are grouped by what their L3 part says (the same ``fromEndpoints`` of the same namespace, the
      same entities or CIDRs: policies repeat their peers), so a new peer is judged once per group, not per item.
    - The result of a direction is kept per pair of identities, port and protocol, as the agent computes a policy
      map per endpoint (pkg/policy/distillery.go) and the datapath looks verdicts up in it: a pair that met
      before costs a lookup.

    Built afresh whenever a policy changes.
    """

    LIMIT = 16384
    """Kept answers before a table starts afresh (label sets and addresses come and go)."""

    def __init__(self, rules: list[Rule]):
        self.rules = rules
        self._by_namespace: dict[str | None, list[tuple[int, Rule]]] = {}
        for i, rule in enumerate(rules):  # a CiliumNetworkPolicy selects endpoints of its namespace only
            self._by_namespace.setdefault(rule.namespace, []).append((i, rule))
        self._selecting: dict[tuple[str | None, frozenset[Any]], list[Rule]] = {}
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._results: dict[tuple[Any, ...], DirectionResult] = {}
        self._groups: dict[tuple[Any, ...], bool] = {}

    def selecting(self, ep: Endpoint) -> list[Rule]:
        """The rules that apply to ``ep``, in the repository's order (none for a reserved identity: no host
        firewall)."""
        if not ep.is_pod:
            return []
        key = (ep.namespace, ep.labels)
        found = self._selecting.get(key)
        if found is None:
            candidates = sorted(self._by_namespace.get(ep.namespace, []) + self._by_namespace.get(None, []),
                                key=lambda pair: pair[0])
            found = [r for _, r in candidates if selects(r, ep)]
            _keep(self._selecting, key, found, self.LIMIT)
        return found

    def evaluate(self, direction: str, this: Endpoint, peer: Endpoint, dst: Endpoint, port: int,
                 protocol: str) -> DirectionResult:
        """:func:`evaluate` over the rules that select ``this``, kept for the pair of identities."""
        peer_key = _peer_key(peer)
        key = (direction, this.namespace, this.labels, peer_key, dst.ports, port, protocol)
        kept = self._results.get(key)
        if kept is None:
            plan = self._plan(this, direction)
            kept = DirectionResult(direction, this, plan.rules, plan.enforced)
            matched: list[tuple[int, Item]] = []
            for signature, items in plan.groups:
                if signature and not self._group_matches(signature, items[0][1], peer, peer_key):
                    continue
                matched += items
            for _, it in sorted(matched, key=lambda pair: pair[0]):
                m = ports_match(it, dst, port, protocol)
                if m is not None:
                    (kept.denies if it.deny else kept.allows).append(m)
            _keep(self._results, key, kept, self.LIMIT)
        return DirectionResult(direction, this, kept.rules, kept.enforced, kept.allows, kept.denies)

    def _plan(self, this: Endpoint, direction: str) -> _Plan:
        """The rules selecting ``this`` and their items for ``direction``, grouped by their L3 part."""
        key = (this.namespace, this.labels, direction)
        plan = self._plans.get(key)
        if plan is None:
            selected = self.selecting(this)
            groups: dict[tuple[Any, ...], list[tuple[int, Item]]] = {}
            items = (it for rule in selected for it in items_of(rule, direction))
            for position, it in enumerate(items):
                signature = tuple((f, it.rule.namespace, json.dumps(it.spec[f], sort_keys=True)) for f in it.l3)
                groups.setdefault(signature, []).append((position, it))
            plan = _Plan(selected, any(enforces(r, direction) for r in selected), list(groups.items()))
            _keep(self._plans, key, plan, self.LIMIT)
        return plan

    def _group_matches(self, signature: tuple[Any, ...], it: Item, peer: Endpoint, peer_key: tuple[Any, ...]) -> bool:
        key = (signature, peer_key)
        found = self._groups.get(key)
        if found is None:
            found = any(peer_matches(f, it.spec[f], it.rule, peer) for f in it.l3)
            _keep(self._groups, key, found, self.LIMIT)
        return found


@dataclass
class _Plan:
    rules: list[Rule]
    enforced: bool
    groups: list[tuple[tuple[Any, ...], list[tuple[int, Item]]]]


def _peer_key(peer: Endpoint) -> tuple[Any, ...]:
    """What a rule can tell of a peer: its namespace and labels (selectors, entities), and for an address outside
    the pod network the address itself (CIDR rules) and the names the DNS proxies learned for it (toFQDNs: they
    change as pods resolve names and answers expire, so they are part of the key, not of the repository)."""
    if peer.is_pod:
        return (peer.namespace, peer.labels, True)
    return (peer.namespace, peer.labels, False, peer.ip, tuple(sorted(peer.extra.get("names", ()))))


def _keep(table: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(table) >= limit:
        table.clear()
    table[key] = value


@dataclass(frozen=True)
class Item:
    """One ingress/egress (or deny) item of a rule, with the L3 fields it sets."""

    rule: Rule
    where: str  # ingress, ingressDeny, egress or egressDeny
    index: int  # its place in that list
    deny: bool
    spec: Mapping[str, Any] = field(hash=False, compare=False)
    l3: tuple[str, ...] = ()


def items_of(rule: Rule, direction: str) -> list[Item]:
    """The rule's allow and deny items for ``direction``, leaving out the empty ones (an item with neither an L3
    part nor ``toPorts`` matches nothing: the documented default-deny policy)."""
    out = []
    for deny, where in ((False, direction), (True, direction + "Deny")):
        for i, item in enumerate(rule.spec.get(where) or []):
            l3 = tuple(f for f in PEER_FIELDS[direction] if item.get(f))
            if l3 or item.get("toPorts"):
                out.append(Item(rule, where, i, deny, item, l3))
    return out


def evaluate(rules: Iterable[Rule], direction: str, this: Endpoint, peer: Endpoint, dst: Endpoint, port: int,
             protocol: str) -> DirectionResult:
    """The selecting rules, default deny, and the allow and deny items matching ``peer`` on ``port``: the
    semantics, walking every rule (:class:`Repository` gives the same results from its indexes)."""
    result = DirectionResult(direction, this)
    for rule in rules:
        if not selects(rule, this):
            continue
        result.rules.append(rule)
        result.enforced = result.enforced or enforces(rule, direction)
        for it in items_of(rule, direction):
            if it.l3 and not any(peer_matches(f, it.spec[f], rule, peer) for f in it.l3):
                continue
            m = ports_match(it, dst, port, protocol)
            if m is not None:
                (result.denies if it.deny else result.allows).append(m)
    return result


def ports_match(it: Item, dst: Endpoint, port: int, protocol: str) -> Match | None:
    """An item whose L3 part matched, against the destination port: the match with its L7 rules, or None."""
    entries = it.spec.get("toPorts") or []
    if not entries:
        return Match(it.rule, it.index, it.deny, where=it.where)
    matched = [e for e in entries if not e.get("ports") or any(port_matches(p, dst, port, protocol)
                                                                for p in e.get("ports") or [])]
    if not matched:
        return None
    rules = [e.get("rules") or {} for e in matched]
    http = None if any(not r.get("http") for r in rules) else [h for r in rules for h in r.get("http") or []]
    dns = None if any(r.get("dns") is None for r in rules) else [d for r in rules for d in r.get("dns") or []]
    return Match(it.rule, it.index, it.deny, http=None if it.deny else http, dns=None if it.deny else dns,
                 where=it.where)


def peer_matches(field_name: str, values: list[Any], rule: Rule, peer: Endpoint) -> bool:
    """Whether one L3 field of a rule item (``fromEndpoints``, ``toEntities``, ``toCIDRSet``, …) matches the peer."""
    if field_name in ("fromEndpoints", "toEndpoints"):
        return any(peer_selector_matches(s, rule.namespace, peer) for s in values)
    if field_name in ("fromEntities", "toEntities"):
        return any(entity_matches(e, peer) for e in values)
    if field_name in ("fromCIDR", "toCIDR"):
        return _world(peer) and any(_in(peer.ip, c) for c in values)
    if field_name in ("fromCIDRSet", "toCIDRSet"):
        return _world(peer) and any(s.get("cidr") and _in(peer.ip, s["cidr"]) and
                                    not any(_in(peer.ip, e) for e in s.get("except") or []) for s in values)
    if field_name == "toFQDNs":  # the names the proxies learned for this address (engine.outside puts them there)
        return _world(peer) and any(fqdn.selector_matches(s, n) for s in values for n in peer.extra.get("names", ()))
    return False  # fromNodes, fromGroups, toServices, toNodes, toGroups: not emulated (a Warning says so)


def _world(peer: Endpoint) -> bool:
    return "world" in peer.reserved


def _in(ip: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def port_matches(pp: Mapping[str, Any], dst: Endpoint, port: int, protocol: str) -> bool:
    """One ``toPorts[].ports`` entry (pkg/policy/api/l4.go PortProtocol)."""
    proto = str(pp.get("protocol") or "ANY").upper()
    if proto == "ANY":
        if protocol not in ("TCP", "UDP", "SCTP"):
            return False
    elif proto != protocol:
        return False
    value = str(pp.get("port") or "")
    if value in ("", "0"):
        return True
    if value.isdigit():
        low = int(value)
        return low <= port <= max(low, int(pp.get("endPort") or low))
    return dst.named_port(value, protocol) == port


# -- what the sandbox does not emulate ------------------------------------------------------------------------

NOT_EMULATED_RULE = {
    "nodeSelector": "host policies (nodeSelector) need the host firewall, which this cluster does not enable",
    "fromRequires": "fromRequires is not emulated", "toRequires": "toRequires is not emulated",
    "fromGroups": "fromGroups (cloud provider groups) is not emulated",
    "toGroups": "toGroups (cloud provider groups) is not emulated",
    "fromNodes": "fromNodes is not emulated", "toNodes": "toNodes is not emulated",
    "toServices": "toServices is not emulated",
    "icmps": "icmps rules are not emulated", "authentication": "mutual authentication is not emulated",
}
NOT_EMULATED_PORT = {
    "terminatingTLS": "TLS interception (terminatingTLS) is not emulated",
    "originatingTLS": "TLS origination (originatingTLS) is not emulated",
    "serverNames": "serverNames (SNI) is not emulated", "listener": "custom Envoy listeners are not emulated",
}
NOT_EMULATED_L7 = {
    "kafka": "Kafka L7 rules are not emulated", "l7proto": "generic L7 protocol rules (l7proto) are not emulated",
    "l7": "generic L7 rules are not emulated",
}


def not_emulated(obj: Obj) -> list[str]:
    """Each field of the policy the sandbox stores but does not enforce: ``path: why``."""
    out = []
    specs = ([("spec", obj["spec"])] if obj.get("spec") else []) + [
        (f"specs[{i}]", s) for i, s in enumerate(obj.get("specs") or [])]
    for base, spec in specs:
        if spec.get("nodeSelector") is not None:
            out.append(f"{base}.nodeSelector: {NOT_EMULATED_RULE['nodeSelector']}")
        if (spec.get("log") or {}).get("value"):
            out.append(f"{base}.log: policy log values are not shown by the emulated Hubble")
        for key in ("ingress", "ingressDeny", "egress", "egressDeny"):
            for i, item in enumerate(spec.get(key) or []):
                path = f"{base}.{key}[{i}]"
                for name, why in NOT_EMULATED_RULE.items():
                    if item.get(name):
                        out.append(f"{path}.{name}: {why}")
                for cset in ("fromCIDRSet", "toCIDRSet"):
                    for j, c in enumerate(item.get(cset) or []):
                        for ref in ("cidrGroupRef", "cidrGroupSelector"):
                            if c.get(ref):
                                out.append(f"{path}.{cset}[{j}].{ref}: CiliumCIDRGroups are not served")
                for j, entry in enumerate(item.get("toPorts") or []):
                    for name, why in NOT_EMULATED_PORT.items():
                        if entry.get(name):
                            out.append(f"{path}.toPorts[{j}].{name}: {why}")
                    for name, why in NOT_EMULATED_L7.items():
                        if (entry.get("rules") or {}).get(name):
                            out.append(f"{path}.toPorts[{j}].rules.{name}: {why}")
                    for k, h in enumerate((entry.get("rules") or {}).get("http") or []):
                        if h.get("headerMatches"):
                            out.append(f"{path}.toPorts[{j}].rules.http[{k}].headerMatches: headerMatches (with "
                                       "mismatch actions and secrets) is not emulated; use headers")
    return out


def summary(rule: Rule) -> str:
    """The endpointSelector in words, for traces."""
    sel = rule.spec.get("endpointSelector") or {}
    labels = [f"{parse_key(k)[1]}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    scope = "" if rule.namespace or names_namespace(sel) else "every namespace: "
    return scope + (", ".join(labels) or "every endpoint")
