"""Role, ClusterRole, RoleBinding and ClusterRoleBinding: their defaults and their validation.

Defaults from pkg/apis/rbac/v1/defaults.go (a binding's ``roleRef.apiGroup`` and a subject's ``apiGroup``),
validation from pkg/apis/rbac/validation/validation.go: names are path segments only (``system:basic-user``
is a valid name), rules need verbs and either resources or non-resource URLs, a binding names a Role or a
ClusterRole of ``rbac.authorization.k8s.io`` and may never change it, and a subject is a User, a Group or a
ServiceAccount.
"""

from __future__ import annotations

from typing import Any

from ..validation import (
    Cause,
    GoRaw,
    go_quote,
    invalid_value,
    is_dns1123_subdomain,
    not_supported,
    required,
    validate_label_selector,
)

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ["ServiceAccount", "User", "Group"]


# -- defaults (pkg/apis/rbac/v1/defaults.go) ----------------------------------------------------


def default_binding(obj: Obj) -> None:
    """SetDefaults_RoleBinding / ClusterRoleBinding and SetDefaults_Subject."""
    role_ref = obj.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = GROUP


# -- validation (pkg/apis/rbac/validation/validation.go) ------------------------------------------


def path_segment_name(name: str) -> list[str]:
    """apimachinery path.IsValidPathSegmentName, the "minimal name requirements" of RBAC objects."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _policy_rule(rule: Obj, namespaced: bool, path: str) -> list[Cause]:
    """validatePolicyRule."""
    out: list[Cause] = []
    if not rule.get("verbs"):
        out.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            out.append(invalid_value(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource "
                                                                      "URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            out.append(invalid_value(f"{path}.nonResourceURLs", urls, "rules cannot apply to both regular resources "
                                                                      "and non-resource URLs"))
        return out
    if not rule.get("apiGroups"):
        out.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        out.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
        out.append(required(f"{path}.resourceNames", "resource names cannot apply to multiple resources"))
    return out


def _rules(obj: Obj, namespaced: bool) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        out += _policy_rule(rule if isinstance(rule, dict) else {}, namespaced, f"rules[{i}]")
    return out


def validate_role(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateRole (metadata is checked by the caller with :func:`path_segment_name`)."""
    return _rules(obj, True)


def validate_cluster_role(obj: Obj, old: Obj | None) -> list[Cause]:
    """ValidateClusterRole: its rules, and an aggregationRule's selectors."""
    out = _rules(obj, False)
    aggregation = obj.get("aggregationRule")
    if aggregation is not None:
        selectors = (aggregation or {}).get("clusterRoleSelectors") or []
        if not selectors:
            out.append(required("aggregationRule.clusterRoleSelectors",
                                "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            out += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return out


def go_role_ref(role_ref: Obj) -> GoRaw:
    """``%#v`` of an rbac.RoleRef, as ``roleRef: Invalid value: rbac.RoleRef{...}: cannot change roleRef``."""
    return GoRaw("rbac.RoleRef{" + ", ".join(f"{field}:{go_quote(str(role_ref.get(key) or ''))}" for field, key in
                                            (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))) + "}")


def _binding(obj: Obj, old: Obj | None, namespaced: bool) -> list[Cause]:
    """ValidateRoleBinding / ValidateClusterRoleBinding and their updates."""
    out: list[Cause] = []
    role_ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    if role_ref.get("apiGroup") != GROUP:
        out.append(not_supported("roleRef.apiGroup", role_ref.get("apiGroup") or "", [GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if role_ref.get("kind") not in kinds:
        out.append(not_supported("roleRef.kind", role_ref.get("kind") or "", kinds))
    name = role_ref.get("name") or ""
    if not name:
        out.append(required("roleRef.name"))
    else:
        out += [invalid_value("roleRef.name", name, m) for m in path_segment_name(name)]
    for i, subject in enumerate(obj.get("subjects") or []):
        out += _subject(subject if isinstance(subject, dict) else {}, namespaced, f"subjects[{i}]")
    if old is not None:
        old_ref = old.get("roleRef") or {}
        if {k: role_ref.get(k) or "" for k in ("apiGroup", "kind", "name")} != \
                {k: old_ref.get(k) or "" for k in ("apiGroup", "kind", "name")}:
            out.append(invalid_value("roleRef", go_role_ref(role_ref), "cannot change roleRef"))
    return out


def _subject(subject: Obj, namespaced: bool, path: str) -> list[Cause]:
    """validateRoleBindingSubject."""
    out: list[Cause] = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        out.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            out += [invalid_value(f"{path}.name", name, m) for m in is_dns1123_subdomain(name)]
        if group:
            out.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            out.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not name:
            out.append(invalid_value(f"{path}.name", name, f"{kind.lower()} name cannot be empty"))
        if group != GROUP:
            out.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        out.append(not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return out


def validate_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, True)


def validate_cluster_role_binding(obj: Obj, old: Obj | None) -> list[Cause]:
    return _binding(obj, old, False)


VALIDATORS = {
    (GROUP, "Role"): validate_role,
    (GROUP, "ClusterRole"): validate_cluster_role,
    (GROUP, "RoleBinding"): validate_role_binding,
    (GROUP, "ClusterRoleBinding"): validate_cluster_role_binding,
}
NAME_VALIDATORS = {(GROUP, kind): path_segment_name for kind in ("Role", "ClusterRole", "RoleBinding",
                                                                 "ClusterRoleBinding")}
DEFAULTERS = {(GROUP, "RoleBinding"): default_binding, (GROUP, "ClusterRoleBinding"): default_binding}
