"""Istio authorization as ztunnel enforces it: istiod's translation of the API objects, then ztunnel's verdict.

istiod does not send AuthorizationPolicy or PeerAuthentication objects to ztunnel. It converts each into
ztunnel's L4 form (pilot/pkg/serviceregistry/ambient/authorization.go, policies.go, workloads.go in Istio
1.31), and ztunnel evaluates that form per connection (istio/ztunnel src/rbac.rs ``Authorization::matches``,
src/state.rs ``assert_rbac``). This module ports both halves, on plain API dicts:

- :func:`convert_authorization_policy`: scope (``GLOBAL`` in the root namespace without a selector,
  ``NAMESPACE`` without one elsewhere, ``WORKLOAD_SELECTOR``), ``ALLOW``/``DENY`` (``CUSTOM`` and others are
  not for ztunnel: a status message says so), and the HTTP attributes ztunnel cannot see (``methods``,
  ``paths``, ``hosts``, ``requestPrincipals``, ``remoteIpBlocks``, non-L4 ``when`` keys): an ALLOW rule that
  uses them never matches, a DENY rule is enforced without them (both stricter than asked), and the policy's
  status carries istiod's ``UnsupportedValue`` message. A policy with ``targetRefs`` is for a waypoint.
- :func:`workload_policies`: which converted policies bind to one workload (namespace and global scopes,
  label selectors in its namespace or the root namespace), plus the PeerAuthentication outcome: the static
  STRICT policy (``istio_converted_static_strict``: deny any connection without a peer identity) when the
  effective mode is STRICT, or a converted port-level policy.
- :func:`assert_rbac`: DENY policies first, then "no ALLOW policy: allow", then "an ALLOW policy matches",
  else rejected; the rejection's text is ztunnel's (``explicitly denied by: NS/NAME``, ``allow policies
  exist, but none allowed``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

ROOT_NAMESPACE = "istio-system"
"""meshConfig.rootNamespace's default: policies here apply mesh-wide."""
STATIC_STRICT = "istio_converted_static_strict"
"""The name of istiod's static STRICT policy (pilot/pkg/model/authorization.go staticStrictPolicyName)."""

HTTP_RULE = ("ztunnel does not support HTTP attributes (found: {}). In ambient mode you must use a waypoint proxy "
             "to enforce HTTP rules. {}")
HTTP_DENY = ("DENY policy with HTTP attributes is enforced without the HTTP rules. "
             "This will be more restrictive than requested.")
HTTP_ALLOW = ("Within an ALLOW policy, rules matching HTTP attributes are omitted. "
              "This will be more restrictive than requested.")
L4_WHEN = ("source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port")


@dataclass(frozen=True)
class StringMatch:
    """Istio's string match: ``*`` presence, ``*suffix``, ``prefix*``, else exact (authorization.go stringToMatch)."""

    kind: str  # exact | prefix | suffix | presence
    value: str = ""

    @classmethod
    def of(cls, text: str) -> StringMatch:
        if text == "*":
            return cls("presence")
        if text.startswith("*"):
            return cls("suffix", text[1:])
        if text.endswith("*"):
            return cls("prefix", text[:-1])
        return cls("exact", text)

    def matches(self, check: str) -> bool:
        if self.kind == "prefix":
            return check.startswith(self.value)
        if self.kind == "suffix":
            return check.endswith(self.value)
        if self.kind == "exact":
            return check == self.value
        return check != ""

    def matches_principal(self, identity: str) -> bool:
        """Principals are written without ``spiffe://``; an identity without it matches nothing (rbac.rs)."""
        return identity.startswith("spiffe://") and self.matches(identity.removeprefix("spiffe://"))


@dataclass
class Match:
    """One ``RbacMatch``: every non-empty kind must hold; within a kind, any value (and none of the ``not_``)."""

    namespaces: list[StringMatch] = field(default_factory=list)
    not_namespaces: list[StringMatch] = field(default_factory=list)
    service_accounts: list[tuple[str, str]] = field(default_factory=list)
    not_service_accounts: list[tuple[str, str]] = field(default_factory=list)
    principals: list[StringMatch] = field(default_factory=list)
    not_principals: list[StringMatch] = field(default_factory=list)
    source_ips: list[Any] = field(default_factory=list)
    not_source_ips: list[Any] = field(default_factory=list)
    destination_ips: list[Any] = field(default_factory=list)
    not_destination_ips: list[Any] = field(default_factory=list)
    destination_ports: list[int] = field(default_factory=list)
    not_destination_ports: list[int] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass
class Peer:
    """What ztunnel knows of a connection when it decides: addresses and the peer's mTLS identity (None: plaintext)."""

    src_ip: str
    dst_ip: str
    dst_port: int
    identity: str | None = None  # spiffe://cluster.local/ns/NS/sa/SA


@dataclass
class Authorization:
    """A policy in ztunnel's form: rules (any) of clauses (all) of matches (any)."""

    name: str
    namespace: str
    scope: str  # GLOBAL | NAMESPACE | WORKLOAD_SELECTOR
    action: str  # ALLOW | DENY
    rules: list[list[list[Match]]] = field(default_factory=list)
    selector: dict[str, str] | None = None
    dry_run: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def matches(self, peer: Peer) -> bool:
        """rbac.rs Authorization::matches: no rules never matches; an empty clause list or match is skipped."""
        if not self.rules:
            return False
        identity = peer.identity or ""
        ns = identity.split("/ns/", 1)[1].split("/", 1)[0] if "/ns/" in identity else ""
        sa = identity.rsplit("/sa/", 1)[1] if "/sa/" in identity else ""
        src, dst = ipaddress.ip_address(peer.src_ip), ipaddress.ip_address(peer.dst_ip)
        for rule in self.rules:
            if all(not clause or any(_match(m, peer, identity, ns, sa, src, dst) for m in clause if not m.empty())
                   for clause in rule):
                return True
        return False


def _either(positive: list[Any], negative: list[Any], test: Any) -> bool:
    return (not positive or any(test(v) for v in positive)) and not any(test(v) for v in negative)


def _match(m: Match, peer: Peer, identity: str, ns: str, sa: str, src: Any, dst: Any) -> bool:
    return (_either(m.destination_ips, m.not_destination_ips, lambda n: dst in n)
            and _either(m.source_ips, m.not_source_ips, lambda n: src in n)
            and _either(m.destination_ports, m.not_destination_ports, lambda p: p == peer.dst_port)
            and _either(m.service_accounts, m.not_service_accounts,
                        lambda a: bool(identity) and a == (ns, sa))
            and _either(m.principals, m.not_principals, lambda p: p.matches_principal(identity))
            and _either(m.namespaces, m.not_namespaces, lambda p: p.matches(ns)))


def _ports(values: list[str]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and int(v) <= 65535]


def _nets(values: list[str]) -> list[Any]:
    out = []
    for v in values:
        try:
            out.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            continue  # stringToIP skips what does not parse
    return out


def _accounts(values: list[str], namespace: str) -> list[tuple[str, str]]:
    return [tuple(v.split("/", 1)) if "/" in v else (namespace, v) for v in values]  # type: ignore[misc]


def _strings(values: list[str]) -> list[StringMatch]:
    return [StringMatch.of(v) for v in values]


def _rule(action: str, rule: Obj, namespace: str) -> tuple[list[list[Match]] | None, list[str]]:
    """authorization.go handleRule: one policy rule as clauses, and the HTTP attributes it used."""
    found: list[str] = []
    to_matches, from_matches = [], []
    for to in rule.get("to") or []:
        op = to.get("operation") or {}
        found += [k for k in ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths") if op.get(k)]
        to_matches.append(Match(destination_ports=_ports(op.get("ports") or []),
                                not_destination_ports=_ports(op.get("notPorts") or [])))
    for fr in rule.get("from") or []:
        s = fr.get("source") or {}
        found += [k for k in ("remoteIpBlocks", "notRemoteIpBlocks", "requestPrincipals", "notRequestPrincipals")
                  if s.get(k)]
        from_matches.append(Match(
            source_ips=_nets(s.get("ipBlocks") or []), not_source_ips=_nets(s.get("notIpBlocks") or []),
            namespaces=_strings(s.get("namespaces") or []), not_namespaces=_strings(s.get("notNamespaces") or []),
            service_accounts=_accounts(s.get("serviceAccounts") or [], namespace),
            not_service_accounts=_accounts(s.get("notServiceAccounts") or [], namespace),
            principals=_strings(s.get("principals") or []), not_principals=_strings(s.get("notPrincipals") or [])))
    clauses: list[list[Match]] = []
    if to_matches:
        clauses.append(to_matches)
    if from_matches:
        clauses.append(from_matches)
    for when in rule.get("when") or []:
        key = when.get("key", "")
        if key not in L4_WHEN:
            found.append(key)

        def pick(k: str, invert: bool, convert: Any, when: Obj = when, key: str = key) -> list[Any]:
            return convert(when.get("notValues" if invert else "values") or []) if key == k else []

        clauses.append([Match(
            namespaces=pick("source.namespace", False, _strings), principals=pick("source.principal", False, _strings),
            source_ips=pick("source.ip", False, _nets), destination_ports=pick("destination.port", False, _ports),
            destination_ips=pick("destination.ip", False, _nets),
            not_namespaces=pick("source.namespace", True, _strings),
            not_principals=pick("source.principal", True, _strings),
            not_source_ips=pick("source.ip", True, _nets), not_destination_ports=pick("destination.port", True, _ports),
            not_destination_ips=pick("destination.ip", True, _nets))])
    if action == "ALLOW" and found:
        return None, found  # "L7 policies never match for ALLOW; for DENY they always match"
    return clauses, found


def convert_authorization_policy(obj: Obj, root: str = ROOT_NAMESPACE) -> tuple[Authorization | None, str | None]:
    """authorization.go convertAuthorizationPolicy: ztunnel's form (None: not for ztunnel) and the status message."""
    spec, meta = obj.get("spec") or {}, obj["metadata"]
    if spec.get("targetRefs") or spec.get("targetRef"):
        return None, None  # enforced by a waypoint, not by ztunnel
    dry_run = str((meta.get("annotations") or {}).get("istio.io/dry-run", "")).lower() in ("true", "1", "t")
    if dry_run:
        return None, (f'found policy "{meta["namespace"]}/{meta["name"]}" using dry-run annotation, but support for '
                      "ambient dry-run authorizationPolicies isn't enabled")
    action = spec.get("action") or "ALLOW"
    if action not in ("ALLOW", "DENY"):
        return None, f"ztunnel does not support the {action} action"
    selector = (spec.get("selector") or {}).get("matchLabels") if spec.get("selector") is not None else None
    scope = "WORKLOAD_SELECTOR" if spec.get("selector") is not None else (
        "GLOBAL" if meta["namespace"] == root else "NAMESPACE")
    pol = Authorization(meta["name"], meta["namespace"], scope, action, selector=selector or ({} if scope ==
                                                                                             "WORKLOAD_SELECTOR" else None))
    http: set[str] = set()
    for rule in spec.get("rules") or []:
        clauses, found = _rule(action, rule, meta["namespace"])
        if clauses is not None:
            pol.rules.append(clauses)
        http.update(found)
    if http:
        return pol, HTTP_RULE.format(", ".join(sorted(http)), HTTP_DENY if action == "DENY" else HTTP_ALLOW)
    return pol, None


def _mode(pa: Obj | None) -> str:
    return (((pa or {}).get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"


def _oldest(policies: list[Obj]) -> Obj | None:
    return min(policies, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
               default=None)


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def _peer_authentications(pas: list[Obj], namespace: str, labels: dict[str, str], root: str) -> list[Obj]:
    """workloads.go fetchPeerAuthentications: mesh-wide ones, and the workload namespace's that select it."""
    out = []
    for pa in pas:
        ns, sel = pa["metadata"]["namespace"], (pa.get("spec") or {}).get("selector")
        if ns == root and sel is None:
            out.append(pa)
        elif ns == namespace and (sel is None or _selects(sel.get("matchLabels"), labels)):
            out.append(pa)
    return out


def effective_strict(pas: list[Obj], namespace: str, labels: dict[str, str], root: str = ROOT_NAMESPACE
                     ) -> tuple[bool, Obj | None]:
    """authorization.go convertedSelectorPeerAuthentications: whether the static STRICT policy applies, and the
    workload policy whose port-level modes ztunnel gets in converted form (None: none)."""
    mesh = [p for p in pas if p["metadata"]["namespace"] == root and not _labels_of(p)]
    nsw = [p for p in pas if p["metadata"]["namespace"] != root and not _labels_of(p)]
    work = [p for p in pas if p["metadata"]["namespace"] != root and _labels_of(p)]
    mesh_cfg, ns_cfg, wl_cfg = _oldest(mesh), _oldest(nsw), _oldest(work)
    strict = _mode(mesh_cfg) == "STRICT" if mesh_cfg else False
    if ns_cfg is not None and _mode(ns_cfg) != "UNSET":
        strict = _mode(ns_cfg) == "STRICT"
    if wl_cfg is None:
        return strict, None
    mode = _mode(wl_cfg)
    if mode == "STRICT":
        strict = True
    if mode in ("PERMISSIVE", "DISABLE"):
        strict = False
    ports = [(v or {}).get("mode") or "UNSET" for v in ((wl_cfg.get("spec") or {}).get("portLevelMtls") or {}).values()]
    port_policy = None
    if ports:
        if mode == "STRICT":
            if any(m in ("PERMISSIVE", "DISABLE") for m in ports):
                port_policy, strict = wl_cfg, False
        elif mode in ("PERMISSIVE", "DISABLE"):
            if "STRICT" in ports:
                port_policy = wl_cfg
        elif strict:
            if "PERMISSIVE" in ports:
                port_policy, strict = wl_cfg, False
        else:
            if "STRICT" in ports:
                port_policy = wl_cfg
    return strict, port_policy


def _labels_of(pa: Obj) -> dict[str, str]:
    return ((pa.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def _no_identity(**ports: list[int]) -> Match:
    return Match(not_principals=[StringMatch("presence")], **ports)


def convert_peer_authentication(cfg: Obj, ns_cfg: Obj | None, root_cfg: Obj | None,
                                root: str = ROOT_NAMESPACE) -> Authorization | None:
    """authorization.go convertPeerAuthentication: a workload policy's port-level modes as a DENY policy."""
    spec, meta = cfg.get("spec") or {}, cfg["metadata"]
    port_level = spec.get("portLevelMtls") or {}
    if meta["namespace"] == root or spec.get("selector") is None or not port_level:
        return None
    mode = _mode(cfg)
    rules: list[list[list[Match]]] = []
    groups: list[list[list[Match]]] = []
    if mode == "STRICT":
        rules.append([[_no_identity()]])
    found_non_strict = False
    for port in sorted(port_level, key=lambda p: int(p)):
        port_mode = (port_level[port] or {}).get("mode") or "UNSET"
        if port_mode == "STRICT":
            if (mode == "STRICT" or (mode == "UNSET" and ns_cfg is not None and _mode(ns_cfg) == "STRICT")
                    or ((ns_cfg is None or _mode(ns_cfg) == "UNSET") and root_cfg is not None
                        and _mode(root_cfg) == "STRICT")):
                continue
            groups.append([[_no_identity(destination_ports=[int(port)])]])
        elif port_mode in ("PERMISSIVE", "DISABLE"):
            if mode in ("PERMISSIVE", "DISABLE"):
                continue
            if mode == "UNSET" and ((ns_cfg is not None and _mode(ns_cfg) != "STRICT")
                                    or (ns_cfg is None and root_cfg is not None and _mode(root_cfg) != "STRICT")
                                    or (ns_cfg is None and root_cfg is None)):
                continue
            found_non_strict = True
            rules.append([[Match(not_destination_ports=[int(port)])]])
    if mode == "STRICT" and not found_non_strict:
        return None
    if not rules and not groups:
        return None
    merge = ((root_cfg is not None and _mode(root_cfg) == "STRICT"
              and (ns_cfg is None or _mode(ns_cfg) in ("UNSET", "STRICT")))
             or (ns_cfg is not None and _mode(ns_cfg) == "STRICT"))
    if merge and found_non_strict:
        rules.append([[_no_identity()]])
    if rules:
        # a Group's Rules are AND'd: all clauses of one rule (rbac.rs iterates rule → clause → match)
        groups.append([clause for r in rules for clause in r])
    return Authorization(f"converted_peer_authentication_{meta['name']}", meta["namespace"], "WORKLOAD_SELECTOR",
                         "DENY", rules=groups, selector=_labels_of(cfg))


def static_strict(root: str = ROOT_NAMESPACE) -> Authorization:
    """policies.go DefaultPolicy: deny what arrives without a peer identity (pushed once any PeerAuthentication
    exists, bound to the workloads whose effective mode is STRICT)."""
    return Authorization(STATIC_STRICT, root, "WORKLOAD_SELECTOR", "DENY", rules=[[[_no_identity()]]], selector={})


def workload_policies(pod: Obj, authorization_policies: list[Obj], peer_authentications: list[Obj],
                      root: str = ROOT_NAMESPACE) -> list[Authorization]:
    """Every policy ztunnel checks for a connection to ``pod``: its namespace's, the global ones, and those bound
    to it (label selectors in its namespace or the root namespace; PeerAuthentication's outcome)."""
    ns = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    out = []
    for obj in authorization_policies:
        pol, _ = convert_authorization_policy(obj, root)
        if pol is None:
            continue
        if pol.scope == "GLOBAL" or (pol.scope == "NAMESPACE" and pol.namespace == ns):
            out.append(pol)
        elif pol.scope == "WORKLOAD_SELECTOR" and pol.namespace in (ns, root) and _selects(pol.selector, labels):
            out.append(pol)
    mine = _peer_authentications(peer_authentications, ns, labels, root)
    strict, port_policy = effective_strict(mine, ns, labels, root)
    if strict and peer_authentications:
        out.append(static_strict(root))
    if port_policy is not None:
        ns_cfg = _oldest([p for p in peer_authentications if p["metadata"]["namespace"] == ns and not _labels_of(p)
                          and (p.get("spec") or {}).get("selector") is None])
        root_cfg = _oldest([p for p in peer_authentications if p["metadata"]["namespace"] == root
                            and (p.get("spec") or {}).get("selector") is None])
        converted = convert_peer_authentication(port_policy, ns_cfg, root_cfg, root)
        if converted is not None:
            out.append(converted)
    return out


@dataclass
class Verdict:
    """ztunnel's decision: allowed, or rejected with its words, and the policy that decided (if one did)."""

    allowed: bool
    reason: str
    policy: str = ""


def assert_rbac(policies: list[Authorization], peer: Peer) -> Verdict:
    """state.rs assert_rbac: DENY first, then no ALLOW → allow, then any ALLOW match → allow, else rejected."""
    live = [p for p in policies if not p.dry_run]
    for pol in (p for p in live if p.action == "DENY"):
        if pol.matches(peer):
            return Verdict(False, f"explicitly denied by: {pol.namespace}/{pol.name}", pol.key)
    allow = [p for p in live if p.action == "ALLOW"]
    if not allow:
        return Verdict(True, "no allow policies, allow")
    for pol in allow:
        if pol.matches(peer):
            return Verdict(True, "allow policy match", pol.key)
    return Verdict(False, "allow policies exist, but none allowed")
