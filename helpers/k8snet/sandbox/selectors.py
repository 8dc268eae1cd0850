"""Label and field selectors, parsed and matched as k8s.io/apimachinery/pkg/labels and /fields do."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import bad_request

Matcher = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(<|>)\s*(-?[0-9]+)\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``in (...)`` parentheses."""
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t for t in terms if t.strip()]


def parse_labels(text: str | None) -> Matcher:
    """Parse a label selector string (``app=web,tier in (a,b),!legacy``) into a matcher."""
    if not text:
        return lambda labels: True
    reqs: list[Matcher] = []
    for term in _split_terms(text):
        m = _EQ_RE.match(term)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                reqs.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                reqs.append(lambda lb, k=key, v=value: k in lb and lb[k] == v)
            continue
        m = _CMP_RE.match(term)
        if m:
            key, op, num = m.groups()
            n = int(num)
            reqs.append(lambda lb, k=key, o=op, n=n: _cmp(lb.get(k), o, n))
            continue
        m = _SET_RE.match(term)
        if m:
            neg, key, op, values = m.groups()
            if op:
                vals = {v.strip() for v in values.split(",") if v.strip()}
                if op == "in":
                    reqs.append(lambda lb, k=key, vs=vals: k in lb and lb[k] in vs)
                else:
                    reqs.append(lambda lb, k=key, vs=vals: k not in lb or lb[k] not in vs)
            elif neg:
                reqs.append(lambda lb, k=key: k not in lb)
            else:
                reqs.append(lambda lb, k=key: k in lb)
            continue
        raise bad_request(f"unable to parse requirement: {term.strip()!r}: found '{term.strip()}', expected: "
                          "'=', '!=', '==', 'in', notin'")
    return lambda labels: all(r(labels) for r in reqs)


def _cmp(value: str | None, op: str, n: int) -> bool:
    try:
        v = int(value) if value is not None else None
    except ValueError:
        return False
    return v is not None and (v < n if op == "<" else v > n)


def match_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Match a structured LabelSelector (matchLabels + matchExpressions); an empty one matches all."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _node_requirement(req: Mapping[str, Any], values_of: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against labels or fields."""
    key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    if op in ("In", "NotIn"):
        found = key in values_of and values_of[key] in values
        return found if op == "In" else not found
    if op in ("Exists", "DoesNotExist"):
        return (key in values_of) == (op == "Exists")
    if op in ("Gt", "Lt") and len(values) == 1:
        try:
            have, want = int(values_of[key]), int(values[0])
        except (KeyError, ValueError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def match_node_selector_terms(terms: list[Mapping[str, Any]] | None, node: Mapping[str, Any]) -> bool:
    """A NodeSelector (``requiredDuringSchedulingIgnoredDuringExecution``): the terms are ORed, each term's
    ``matchExpressions`` (on labels) and ``matchFields`` (only ``metadata.name``) ANDed; a term with neither
    matches nothing (k8s.io/component-helpers/scheduling/corev1/nodeaffinity)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    fields = {"metadata.name": (node.get("metadata") or {}).get("name", "")}
    for term in terms or []:
        exprs, matched_fields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not matched_fields:
            continue
        if all(_node_requirement(r, labels) for r in exprs) and all(_node_requirement(r, fields)
                                                                      for r in matched_fields):
            return True
    return False


def fits_node_affinity(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): the pod's ``nodeSelector`` labels and its required
    node affinity both hold (a missing affinity holds)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return required is None or match_node_selector_terms(required.get("nodeSelectorTerms"), node)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """Render a LabelSelector the way kubectl and the apiserver print it (``app=web,tier in (a)``)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}[op])
    return ",".join(parts)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted field path (missing → empty), as field selectors compare it."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, Mapping):  # Event "source" selects on source.component
        return str(cur.get("component", ""))
    return str(cur)


def parse_fields(text: str | None, allowed: tuple[str, ...], kind: str, api_version: str) -> Callable[[Mapping], bool]:
    """Parse a field selector; unknown fields are refused as the apiserver refuses them."""
    if not text:
        return lambda obj: True
    reqs: list[Callable[[Mapping], bool]] = []
    for term in _split_terms(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        path, op, value = m.groups()
        if path not in allowed:
            raise bad_request(f'field label not supported: {path}')
        if op == "!=":
            reqs.append(lambda o, p=path, v=value: field_value(o, p) != v)
        else:
            reqs.append(lambda o, p=path, v=value: field_value(o, p) == v)
    return lambda obj: all(r(obj) for r in reqs)
