"""DNS-based policy as Cilium's agent enforces it (docs.cilium.io security/policy/language "DNS based"; pkg/fqdn):
the names ``toFQDNs`` and ``rules.dns`` select, the DNS proxy that filters queries and learns the answers, and the
cache of what it learned.

- **Names** (pkg/fqdn/matchpattern): ``matchName`` is one name, compared lower-cased and fully qualified;
  ``matchPattern`` turns ``*`` into "zero or more DNS characters" (``[-a-zA-Z0-9_]*``) within a label, a leading
  ``**.`` into "one or more whole labels", and a pattern of stars alone into "every name". So ``*.cilium.io``
  matches ``sub.cilium.io`` but not ``cilium.io`` nor ``a.b.cilium.io``; ``*cilium.io`` matches both of the first
  two; ``**.cilium.io`` matches any subdomain at any depth.
- **The DNS proxy** (pkg/fqdn/dnsproxy): an egress rule whose ``toPorts`` on port 53 carries ``rules.dns`` sends
  the endpoint's queries through the agent's proxy. A query no DNS rule allows is answered by the proxy itself
  with REFUSED (``--tofqdns-dns-reject-response-code``, default ``refused``) and never reaches kube-dns; an
  allowed one is forwarded, and the addresses of its answer are recorded for the endpoint with their TTL
  (``--tofqdns-min-ttl`` defaults to 0 since Cilium 1.13: the upstream's TTL is honoured).
- **toFQDNs** (pkg/fqdn NameManager; CFP-28427: IPs are labelled by the FQDN selectors that returned them): an
  outside address matches a ``toFQDNs`` selector while some endpoint's proxied lookup of a name the selector
  matches returned it and its TTL has not run out. An address nobody resolved through the proxy matches no
  ``toFQDNs`` rule: connecting by IP is dropped, and so is every outside connection when no DNS rule puts the
  proxy in the path ("DNS-based policies require a DNS rule … so that the DNS proxy can learn the IPs").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...instance import Sandbox

DNS_CHARS = "[-a-zA-Z0-9_]"
"""matchpattern.allowedDNSCharsREGroup."""
WILDCARD_LABELS = f"({DNS_CHARS}+([.]{DNS_CHARS}+){{0,}})[.]"
"""matchpattern.dnsWildcardREGroup: one or more whole labels (a leading ``**.``)."""
MATCH_ALL = f"(^({DNS_CHARS}+[.])+$)|(^[.]$)"
"""ToAnchoredRegexp of a pattern of stars alone."""
REJECT_RCODE = "REFUSED"
"""``--tofqdns-dns-reject-response-code`` (default ``refused``; ``nameError`` would answer NXDOMAIN)."""


def fqdn(name: str) -> str:
    """dns.FQDN, lower-cased: ``API.Example`` → ``api.example.``."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _stars_only(pattern: str) -> bool:
    """matchpattern.isDNSWildcard: ``*``, ``**``, ``**.`` …"""
    body = pattern[:-1] if pattern.endswith(".") else pattern
    return bool(body) and set(body) == {"*"}


@lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """matchpattern.ToAnchoredRegexp(Sanitize(pattern))."""
    pattern = pattern.strip().lower()
    if _stars_only(pattern):
        return re.compile(MATCH_ALL)
    pattern = fqdn(pattern)
    out, start = [], 0
    stars = len(pattern) - len(pattern.lstrip("*"))
    if stars >= 2 and stars < len(pattern) and pattern[stars] == ".":
        out.append(WILDCARD_LABELS)
        start = stars + 1
    i = start
    while i < len(pattern):
        c = pattern[i]
        if c == ".":
            out.append("[.]")
        elif c == "*":
            while i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
            out.append(DNS_CHARS + "*")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def selector_matches(selector: Mapping[str, Any], name: str) -> bool:
    """One ``toFQDNs`` entry or ``rules.dns`` entry (api.FQDNSelector: ``matchName`` or ``matchPattern``)."""
    if selector.get("matchName"):
        return fqdn(str(selector["matchName"])) == fqdn(name)
    if selector.get("matchPattern"):
        return pattern_regex(str(selector["matchPattern"])).match(fqdn(name)) is not None
    return False


def describe(selector: Mapping[str, Any]) -> str:
    return next((f"{k} {selector[k]}" for k in ("matchName", "matchPattern") if selector.get(k)), "{}")


# -- what the proxies learned -----------------------------------------------------------------------------------


def learn(sb: Sandbox, endpoint_uid: str, names: Iterable[str], ips: Iterable[str], ttl: int) -> None:
    """Record an answer the proxy forwarded to an endpoint: each name (the query and the CNAMEs it went through)
    → each address, until ``ttl`` seconds from now."""
    from .identity import state

    until = sb.clock.time() + max(int(ttl), 0)
    cache = state(sb).fqdn.setdefault(endpoint_uid, {})
    for name in names:
        entry = cache.setdefault(fqdn(name), {})
        for ip in ips:
            entry[ip] = max(entry.get(ip, 0.0), until)


def names_of(sb: Sandbox, ip: str, endpoint_uid: str | None = None) -> list[str]:
    """The names that resolved to ``ip`` and have not expired: those any endpoint learned (what toFQDNs
    selectors see), or one endpoint's (what Hubble shows as a flow's destination names)."""
    from .identity import state

    now = sb.clock.time()
    caches = state(sb).fqdn
    chosen = [caches.get(endpoint_uid, {})] if endpoint_uid is not None else list(caches.values())
    return sorted({name.rstrip(".") for cache in chosen for name, ips in cache.items() if ips.get(ip, 0.0) > now})
