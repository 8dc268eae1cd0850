"""ClusterRole aggregation: a role with an ``aggregationRule`` holds the rules of the roles its selectors pick.

Follows pkg/controller/clusterroleaggregation/clusterroleaggregation_controller.go: the roles any selector
matches, in name order and without the role itself, give their rules in order, each once (semantic equality:
an empty list is a missing one); when that differs from the role's rules, the controller applies them with
server-side apply as ``clusterrole-aggregation-controller``, forcing. Any ClusterRole change may change any
aggregate, so every change looks at every aggregating role again, as upstream's ``enqueue`` does. This is how
``view``, ``edit`` and ``admin`` get their rules, and how a role labelled
``rbac.authorization.k8s.io/aggregate-to-view: "true"`` joins ``view`` (and through it ``edit`` and ``admin``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..store import Event
from ..validation import selector_matches
from . import Controller, Key

if TYPE_CHECKING:
    from ..instance import Sandbox

RESOURCE = "clusterroles.rbac.authorization.k8s.io"
MANAGER = "clusterrole-aggregation-controller"


def semantic(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as equality.Semantic.DeepEqual compares it: empty and missing lists are the same."""
    return {k: v for k, v in rule.items() if v not in (None, [], "")}


def aggregated_rules(sb: Sandbox, role: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules ``role``'s aggregationRule collects (syncClusterRole's newPolicyRules)."""
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    name = role["metadata"]["name"]
    rules: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    for other in sb.store.list(RESOURCE):  # name order, as upstream sorts byName
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if not any(selector_matches(selector, labels) for selector in selectors):
            continue
        for rule in other.get("rules") or []:
            if semantic(rule) not in seen:
                seen.append(semantic(rule))
                rules.append(rule)
    return rules


def reconcile(sb: Sandbox, key: Key) -> float | None:
    role = sb.store.get(RESOURCE, "", key[1])
    if role is None or role.get("aggregationRule") is None:
        return None
    rules = aggregated_rules(sb, role)
    if [semantic(r) for r in rules] == [semantic(r) for r in role.get("rules") or []]:
        return None
    rt = sb.registry.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
    assert rt is not None
    sb.api.patch(rt, "", key[1], "apply", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                           "metadata": {"name": key[1]}, "rules": rules},
                 WriteOptions(field_manager=MANAGER, force=True))
    return None


def aggregating_roles(sb: Sandbox, event: Event) -> Iterable[Key]:
    """Every ClusterRole with an aggregationRule: any role's change may change what they hold."""
    return [("", r["metadata"]["name"]) for r in sb.store.list(RESOURCE) if r.get("aggregationRule") is not None]


def controller(sb: Sandbox) -> Controller:
    return Controller("clusterrole-aggregation", reconcile, {RESOURCE: aggregating_roles})
