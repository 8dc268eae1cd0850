"""RBAC's escalation checks: no one grants, through a role or a binding, what they may not do themselves.

Ports pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased/storage.go with
pkg/registry/rbac/escalation_check.go and pkg/registry/rbac/validation/rule.go ``ConfirmNoEscalation``, and the
rule comparison of k8s.io/component-helpers/auth/rbac/validation/policy_comparator.go (``Covers``,
``BreakdownRule``) with pkg/registry/rbac/validation/policy_compact.go (``CompactRules``):

- writing a Role or ClusterRole is allowed to ``system:masters``, to whoever may ``escalate`` it, and otherwise
  only when the writer's own rules (in the role's namespace) cover every rule it holds;
- writing a binding is allowed to ``system:masters``, to whoever may ``bind`` the role it names, and otherwise
  only when the writer's own rules cover the role's;
- a write that changes only what the garbage collector changes (owner references, finalizers) is not checked.

The refusal is kube-apiserver's 403: ``roles.rbac.authorization.k8s.io "x" is forbidden: user "…" (groups=[…]) is
attempting to grant RBAC permissions not currently held:`` and the missing rules, compacted, one a line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..gofmt import quote
from .users import SYSTEM_MASTERS, Attributes, UserInfo

if TYPE_CHECKING:
    from .rbac import Authorizer

Rule = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
GC_FIELDS = ("ownerReferences", "finalizers", "resourceVersion", "managedFields")


# -- policy_comparator.go ----------------------------------------------------------------------


def breakdown(rule: Rule) -> list[Rule]:
    """BreakdownRule: one group, resource, verb (and resource name), or one URL and verb, a rule."""
    out: list[Rule] = []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in rule.get("verbs") or []:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                names = rule.get("resourceNames") or []
                out += [{**base, "resourceNames": [n]} for n in names] if names else [base]
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in rule.get("verbs") or []]
    return out


def _resources_cover(owned: list[str], wanted: list[str]) -> bool:
    if "*" in owned or all(w in owned for w in wanted):
        return True
    return all(w in owned or ("/" in w and "*/" + w.split("/", 1)[1] in owned) for w in wanted)


def _url_covers(owner: str, wanted: str) -> bool:
    return owner == wanted or (owner.endswith("*") and wanted.startswith(owner.rstrip("*")))


def covers(owner: Rule, sub: Rule) -> bool:
    """ruleCovers: an owner rule covers a broken-down rule."""
    def all_in(key: str) -> bool:
        return "*" in (owner.get(key) or []) or all(v in (owner.get(key) or []) for v in sub.get(key) or [])

    names_owned, names = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    return (all_in("verbs") and all_in("apiGroups") and _resources_cover(owner.get("resources") or [],
                                                                        sub.get("resources") or [])
            and all(any(_url_covers(o, w) for o in owner.get("nonResourceURLs") or [])
                    for w in sub.get("nonResourceURLs") or [])
            and (not names_owned or (bool(names) and all(n in names_owned for n in names))))


def compact(rules: list[Rule]) -> list[Rule]:
    """CompactRules: simple rules (one group, one resource, at most one name) that differ only by verb merge."""
    simple: dict[tuple, Rule] = {}
    out: list[Rule] = []
    for rule in rules:
        names = rule.get("resourceNames") or []
        if len(names) <= 1 and not rule.get("nonResourceURLs") and len(rule.get("apiGroups") or []) == 1 and \
                len(rule.get("resources") or []) == 1:
            key = (rule["apiGroups"][0], rule["resources"][0], tuple(names))
            if key in simple:
                simple[key]["verbs"] = simple[key]["verbs"] + list(rule.get("verbs") or [])
            else:
                simple[key] = {**rule, "verbs": list(rule.get("verbs") or [])}
        else:
            out.append(rule)
    return out + list(simple.values())


def _go_strings(values: list[str]) -> str:
    return "[" + " ".join(quote(v) for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """rbacv1helpers.CompactString: ``{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}``."""
    parts = [f"{label}:{_go_strings(rule[key])}" for label, key in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


# -- the checks ---------------------------------------------------------------------------------


def _only_gc_fields(obj: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """rbacregistry.IsOnlyMutatingGCFields."""
    if old is None:
        return False

    def rest(o: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (o.get("metadata") or {}).items() if k not in GC_FIELDS}
        return {**o, "metadata": meta}

    return rest(obj) == rest(old)


def _role_rules(authorizer: Authorizer, ref: dict[str, Any], namespace: str) -> list[Rule] | str:
    """GetRoleReferenceRules through the registry (its NotFound names the plural resource)."""
    kind, name = ref.get("kind", ""), ref.get("name", "")
    found = authorizer.store.get(f"roles.{GROUP}", namespace, name) if kind == "Role" else \
        authorizer.store.get(f"clusterroles.{GROUP}", "", name) if kind == "ClusterRole" else None
    if found is None:
        plural = "roles" if kind == "Role" else "clusterroles"
        return f'{plural}.{GROUP} "{name}" not found' if kind in ("Role", "ClusterRole") else \
            f'unsupported role reference kind: "{kind}"'
    return list(found.get("rules") or [])


def check(authorizer: Authorizer, user: UserInfo, plural: str, obj: dict[str, Any],
          old: dict[str, Any] | None) -> None:
    """Refuse a write of a role or binding that would grant ``user`` more than it holds.

    Raises:
        ApiError: 403, as kube-apiserver's policy-based RBAC storage words it.
    """
    if SYSTEM_MASTERS in user.groups or _only_gc_fields(obj, old):
        return
    meta = obj["metadata"]
    name, namespace = meta.get("name", ""), meta.get("namespace", "")
    if plural in ("roles", "clusterroles"):
        if authorizer.authorize(Attributes(user, "escalate", True, namespace, GROUP, "*", plural, "", name))[0]:
            return
        rules = list(obj.get("rules") or [])
    else:
        ref = obj.get("roleRef") or {}
        resource = {"Role": "roles", "ClusterRole": "clusterroles"}.get(ref.get("kind", ""))
        if resource and authorizer.authorize(Attributes(user, "bind", True, namespace, ref.get("apiGroup", ""),
                                                        "", resource, "", ref.get("name", "")))[0]:
            return
        found = _role_rules(authorizer, ref, namespace)
        if isinstance(found, str):
            raise _forbidden(plural, name, found)
        rules = found
    owned, problems = authorizer.resolve(user, namespace)
    missing = [sub for rule in rules for sub in breakdown(rule)
               if not any(covers(grant.rule, sub) for grant in owned)]
    if not missing:
        return
    lines = sorted({compact_string(r) for r in compact(missing)})
    message = (f"user {quote(user.name)} (groups={_go_strings(list(user.groups))}) is attempting to grant RBAC "
               "permissions not currently held:\n" + "\n".join(lines))
    if problems:
        message += f"; resolution errors: [{problems[0] if len(problems) == 1 else '[' + ', '.join(problems) + ']'}]"
    raise _forbidden(plural, name, message)


def _forbidden(plural: str, name: str, why: str) -> errors.ApiError:
    return errors.ApiError(f'{plural}.{GROUP} "{name}" is forbidden: {why}', 403, "Forbidden",
                           {"name": name, "group": GROUP, "kind": plural})
