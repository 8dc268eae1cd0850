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
