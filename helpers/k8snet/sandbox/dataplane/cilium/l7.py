"""The L7 HTTP rules as Cilium's Envoy proxy enforces them (docs.cilium.io security/policy/language "Layer 7
Examples", pkg/policy/api/http.go PortRuleHTTP, cilium/proxy cilium/l7policy.cc).

A request is allowed when one rule matches it, and a rule matches when every field it sets matches:

- ``method``, ``path``, ``host``: "an extended POSIX regex matched against" the request's method, path and Host
  header. Cilium hands them to Envoy as safe-regex header matchers on ``:method``, ``:path`` and ``:authority``,
  which match the whole value (anchored): ``/public`` does not allow ``/public/x``, and ``:path`` includes the
  query string. Python's ``re.fullmatch`` stands in for RE2.
- ``headers``: each entry must be present, ``Name`` alone (any value) or ``Name: value`` (that exact value).

A denied request never reaches the server: the proxy answers ``403 Forbidden`` with the body ``Access denied\\r\\n``
(l7policy.cc: ``sendLocalReply(Http::Code::Forbidden, denied_403_body_ ...)``, the body defaulting to
``Access denied`` with CRLF appended), as Envoy writes a local reply: ``content-length``, ``content-type:
text/plain``, ``date``, ``server: envoy``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..model import HttpRequest, HttpResponse, http_date

DENIED_BODY = b"Access denied\r\n"


def _full(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False


def header(req: HttpRequest, name: str) -> str | None:
    if name.lower() == "host":
        return req.host or next((v for k, v in req.headers.items() if k.lower() == "host"), None)
    return next((v for k, v in req.headers.items() if k.lower() == name.lower()), None)


def rule_matches(rule: Mapping[str, Any], req: HttpRequest) -> bool:
    """One ``rules.http`` entry against a request."""
    if rule.get("method") and not _full(rule["method"], req.method):
        return False
    if rule.get("path") and not _full(rule["path"], req.path or "/"):
        return False
    if rule.get("host") and not _full(rule["host"], header(req, "host") or ""):
        return False
    for entry in rule.get("headers") or []:
        name, sep, value = str(entry).partition(":")
        have = header(req, name.strip())
        if have is None or (sep and have.strip() != value.strip()):
            return False
    return True


def allowed(rules: list[Mapping[str, Any]], req: HttpRequest) -> int | None:
    """The index of the first rule that allows the request (None: denied)."""
    return next((i for i, r in enumerate(rules) if rule_matches(r, req)), None)


def denied_response(now: datetime) -> HttpResponse:
    """Envoy's local reply for a request the L7 policy denies."""
    return HttpResponse(403, {"content-length": str(len(DENIED_BODY)), "content-type": "text/plain",
                              "date": http_date(now), "server": "envoy"}, DENIED_BODY)


def describe(rule: Mapping[str, Any]) -> str:
    parts = [f"{k} {rule[k]}" for k in ("method", "path", "host") if rule.get(k)]
    parts += [f"header {h}" for h in rule.get("headers") or []]
    return ", ".join(parts) or "any request"
