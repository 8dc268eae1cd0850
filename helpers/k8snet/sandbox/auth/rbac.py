"""The RBAC authorizer, as kube-apiserver evaluates it.

Ports plugin/pkg/auth/authorizer/rbac/rbac.go (``Authorize``, ``RulesFor``, ``RuleAllows``),
pkg/registry/rbac/validation/rule.go (``VisitRulesFor``: the ClusterRoleBindings, then the RoleBindings of the
request's namespace; ``appliesTo``; the ``describe`` strings of the allowing binding) and
pkg/apis/rbac/v1/evaluation_helpers.go (verbs, API groups, resources with ``*`` and ``*/subresource``, resource
names, non-resource URLs with a trailing ``*``). The union in front of it allows the ``system:masters`` group
outright, as kube-apiserver's privileged-group authorizer does (the Node authorizer is not emulated).

Every request is authorized, the sandbox's own admin too (through kubeadm's ``kubeadm:cluster-admins`` binding
of ``cluster-admin``), so the rules that resolve for a user and namespace are cached, and so are decisions; any
write to a Role, ClusterRole or binding, or a reset, clears both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .users import SYSTEM_MASTERS, Attributes, UserInfo, service_account_username

if TYPE_CHECKING:
    from ..store import Event, Store

Rule = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
ROLES, CLUSTER_ROLES = f"roles.{GROUP}", f"clusterroles.{GROUP}"
BINDINGS, CLUSTER_BINDINGS = f"rolebindings.{GROUP}", f"clusterrolebindings.{GROUP}"
RBAC_RESOURCES = frozenset({ROLES, CLUSTER_ROLES, BINDINGS, CLUSTER_BINDINGS})
CACHE_LIMIT = 4096
"""Decisions kept before the cache starts afresh (users × requests a lesson makes stay far below it)."""


# -- evaluation_helpers.go ----------------------------------------------------------------------


def verb_matches(rule: Rule, verb: str) -> bool:
    return any(v in ("*", verb) for v in rule.get("verbs") or ())


def api_group_matches(rule: Rule, group: str) -> bool:
    return any(g in ("*", group) for g in rule.get("apiGroups") or ())


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    """``*``, the exact ``resource/subresource``, or ``*/subresource``."""
    for r in rule.get("resources") or ():
        if r in ("*", combined) or (subresource and r == f"*/{subresource}"):
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url in ("*", path) or (url.endswith("*") and path.startswith(url.rstrip("*"))):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule, verb: str | None = None) -> bool:
    """rbac.go RuleAllows."""
    verb = verb or attrs.verb
    if attrs.resource_request:
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (verb_matches(rule, verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource) and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, verb) and non_resource_url_matches(rule, attrs.path)


# -- rule.go -------------------------------------------------------------------------------------


def describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    """rule.go describeSubject: ``ServiceAccount "web/shop"`` (name, then namespace), ``Group "devs"``."""
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def applies_to(user: UserInfo, subject: dict[str, Any], namespace: str) -> bool:
    """rule.go appliesToUser: a User by name, a Group by membership, a ServiceAccount by its user name (its
    namespace defaulting to the binding's)."""
    kind = subject.get("kind")
    if kind == "User":
        return user.name == subject.get("name")
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or namespace
        return bool(namespace) and user.name == service_account_username(namespace, subject.get("name", ""))
    return False


@dataclass(frozen=True)
class Grant:
    """One rule that applies to a user, and the binding it came through (the reason an allow names)."""

    source: str
    rule: Rule


class Authorizer:
    """RBAC over one store, with the privileged-group authorizer in front (kube-apiserver's union)."""

    def __init__(self, store: Store):
        self.store = store
        self._rules: dict[tuple[UserInfo, str], tuple[list[Grant], list[str]]] = {}
        self._decisions: dict[Attributes, tuple[bool, str]] = {}
        self._epoch = store.epoch
        store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.resource in RBAC_RESOURCES:
            self.invalidate()

    def invalidate(self) -> None:
        """Forget resolved rules and decisions (an RBAC object changed)."""
        self._rules.clear()
        self._decisions.clear()

    def _fresh(self) -> None:
        if self.store.epoch != self._epoch:  # a reset wipes the store without events
            self._epoch = self.store.epoch
            self.invalidate()

    # -- resolution --------------------------------------------------------------------------

    def _role_rules(self, kind: str, name: str, namespace: str) -> list[Rule] | str:
        """GetRoleReferenceRules: the referenced role's rules, or the lister's NotFound text."""
        if kind == "Role":
            role = self.store.get(ROLES, namespace, name)
            return list(role.get("rules") or []) if role else f'role.rbac.authorization.k8s.io "{name}" not found'
        if kind == "ClusterRole":
            role = self.store.get(CLUSTER_ROLES, "", name)
            return list(role.get("rules") or []) if role else \
                f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        return f'unsupported role reference kind: "{kind}"'

    def resolve(self, user: UserInfo, namespace: str) -> tuple[list[Grant], list[str]]:
        """VisitRulesFor, remembered: every rule that applies to ``user`` in ``namespace`` with its source, and
        the errors met (a binding whose role is missing)."""
        self._fresh()
        key = (user, namespace)
        found = self._rules.get(key)
        if found is not None:
            return found
        grants: list[Grant] = []
        problems: list[str] = []
        bindings = [(b, "") for b in self.store.list(CLUSTER_BINDINGS)]
        if namespace:
            bindings += [(b, namespace) for b in self.store.list(BINDINGS, namespace)]
        for binding, ns in bindings:
            subject = next((s for s in binding.get("subjects") or [] if applies_to(user, s, ns)), None)
            if subject is None:
                continue
            ref = binding.get("roleRef") or {}
            rules = self._role_rules(ref.get("kind", ""), ref.get("name", ""), ns)
            if isinstance(rules, str):
                problems.append(rules)
                continue
            name = binding["metadata"]["name"]
            kind = "RoleBinding" if ns else "ClusterRoleBinding"
            shown = f"{name}/{ns}" if ns else name
            source = (f'{kind} "{shown}" of {ref.get("kind", "")} "{ref.get("name", "")}" to '
                      f"{describe_subject(subject, ns)}")
            grants += [Grant(source, rule) for rule in rules]
        if len(self._rules) > CACHE_LIMIT:
            self._rules.clear()
        self._rules[key] = (grants, problems)
        return grants, problems

    # -- decisions ---------------------------------------------------------------------------

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as the union authorizer answers: ``RBAC: allowed by ClusterRoleBinding …`` when a
        rule allows; else no opinion, with ``RBAC: …`` naming what could not be resolved, if anything."""
        self._fresh()
        decision = self._decisions.get(attrs)
        if decision is not None:
            return decision
        decision = self._authorize(attrs)
        if len(self._decisions) > CACHE_LIMIT:
            self._decisions.clear()
        self._decisions[attrs] = decision
        return decision

    def _authorize(self, attrs: Attributes) -> tuple[bool, str]:
        if SYSTEM_MASTERS in attrs.user.groups:  # authorizerfactory.NewPrivilegedGroups(system:masters)
            return True, ""
        grants, problems = self.resolve(attrs.user, attrs.namespace)
        for grant in grants:
            if rule_allows(attrs, grant.rule):
                return True, f"RBAC: allowed by {grant.source}"
        if not problems:
            return False, ""
        return False, "RBAC: " + (problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[Rule], str]:
        """RBACAuthorizer.RulesFor as a SelfSubjectRulesReview shows it: resource rules, non-resource rules, and
        the evaluation error (the aggregate of what could not be resolved)."""
        grants, problems = self.resolve(user, namespace)
        resource = [{k: g.rule[k] for k in ("verbs", "apiGroups", "resources", "resourceNames") if g.rule.get(k)}
                    for g in grants if g.rule.get("resources")]
        for rule in resource:
            rule.setdefault("verbs", [])
        non_resource = [{"verbs": g.rule.get("verbs") or [], "nonResourceURLs": g.rule["nonResourceURLs"]}
                        for g in grants if g.rule.get("nonResourceURLs")]
        error = problems[0] if len(problems) == 1 else ("[" + ", ".join(problems) + "]" if problems else "")
        return resource, non_resource, error
