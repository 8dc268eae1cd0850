"""``ingress.send``: N requests from the notebook through the ingress edge, each attributed to its rule and pod."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import attribution
from .client import BODY_LIMIT, Pem, Raw, request_once, tls_context
from .edge import Edge, edge
from .gateway import PROVIDER as GATEWAY_PROVIDER
from .gateway import GatewayRoutes
from .result import EdgeRequest, EdgeResult
from .settle import settle

if TYPE_CHECKING:
    from ..cluster import Cluster

USER_AGENT = "k8snet-edge"
"""Each request's User-Agent is ``k8snet-edge/<send>.<i>`` (numbered per process, so runs repeat), which finds
its line in Traefik's access log again."""

_SENDS = itertools.count(1)

ANSWERED_BY_MIDDLEWARE = {429: "rateLimit", 401: "basicAuth", 403: "ipAllowList", 413: "buffering",
                          301: "redirectScheme", 302: "redirectScheme", 307: "redirectScheme", 308: "redirectScheme"}
"""Answers Traefik's middlewares write themselves (pkg/middlewares/{ratelimiter,auth,ipallowlist,buffering,
redirect})."""

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def send(cluster: Cluster, url: str, n: int = 20, rate: float | None = None, headers: Headers | None = None,
         cookies: Mapping[str, str] | str | None = None, method: str = "GET", body: str | bytes | None = None,
         cacert: Pem | None = None, client_cert: tuple[Pem, Pem] | None = None, verify: bool = True,
         timeout: float = 10.0) -> EdgeResult:
    """Send ``n`` requests to ``url`` from this machine through the ingress edge, each on a fresh connection.

    Connects to 127.0.0.1 at the edge's port with the URL's host as Host header and SNI, as
    ``curl --resolve HOST:PORT:127.0.0.1`` does, so the same URL works on the sandbox and on kind.

    Args:
        cluster: the connected cluster.
        url: ``http://`` or ``https://`` with the Ingress host, e.g. ``https://shop.example.test/cart``.
        n: how many requests.
        rate: requests per second (None: back to back, each as soon as the previous one is answered).
        headers: extra request headers (a ``Host`` here replaces the URL's host, as ``curl -H`` does).
        cookies: sent as one ``Cookie`` header.
        method: the HTTP method; ``body`` is sent with its Content-Length.
        cacert: the issuing CA (PEM text or a file) to verify the served certificate with.
        client_cert: (certificate, key), PEM text or files: a client certificate for mTLS.
        verify: False skips certificate verification (``curl -k``).
        timeout: seconds for each request.

    Example:
        >>> r = ingress.send(cluster, "http://shop.example.test/cart", n=20)
        >>> r.counts()
        {200: 20}
    """
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate is requests per second and must be positive (got {rate}); None sends back to back")
    where = edge(cluster)
    settle(cluster)  # Traefik routes by what was applied before this call (it follows the API a moment later)
    port = where.port_for(url)
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    if not tls and (cacert is not None or client_cert is not None):
        raise ValueError(f"{url}: cacert and client_cert apply to https:// URLs only")
    ctx = tls_context(verify, cacert, client_cert) if tls else None
    host_header = parts.netloc.rpartition("@")[2]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = list(headers.items() if isinstance(headers, Mapping) else headers or [])
    names = {k.lower() for k, _ in extra}
    if "host" in names:
        host_header = next(v for k, v in extra if k.lower() == "host")
    if cookies:
        text = cookies if isinstance(cookies, str) else "; ".join(f"{k}={v}" for k, v in cookies.items())
        extra.append(("Cookie", text))
    data = body.encode() if isinstance(body, str) else body
    token = next(_SENDS)
    rows: list[EdgeRequest] = []
    user_agents: list[str | None] = []
    started = time.monotonic()
    first: float | None = None
    for i in range(n):
        if rate is not None:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        agent = None if "user-agent" in names else f"{USER_AGENT}/{token}.{i}"
        sent = [("Host", host_header)] + ([("User-Agent", agent)] if agent else []) + \
            ([] if "accept" in names else [("Accept", "*/*")]) + [(k, v) for k, v in extra if k.lower() != "host"]
        begin = time.monotonic()
        first = begin if first is None else first
        raw = request_once(where.host, port, target=target, headers=sent, method=method, body=data, ctx=ctx,
                           sni=parts.hostname, timeout=timeout)
        rows.append(_row(i, begin - first, url, raw, cluster.backend))
        user_agents.append(agent)
    result = EdgeResult(url, cluster.backend, method, rate, rows)
    _attribute(cluster, where, result, port, tls, host_header, target, user_agents, time.monotonic() - started)
    return result


def _row(i: int, t: float, url: str, raw: Raw, backend: str) -> EdgeRequest:
    text = raw.body.decode("utf-8", "replace")
    return EdgeRequest(i, t, url, raw.status, raw.reason, raw.error, None, None, text[:BODY_LIMIT], raw.headers,
                       raw.tls, backend, elapsed=raw.elapsed, truncated=len(text) > BODY_LIMIT)


def _attribute(cluster: Cluster, where: Edge, result: EdgeResult, port: int, tls: bool, host: str, target: str,
               user_agents: list[str | None], seconds: float) -> None:
    """Fill in rule, Service and pod of every row, from Traefik's access log where it has the request."""
    try:
        routing = attribution.Routing.read(cluster)
    except Exception as exc:  # the objects could not be read: say so on every row, keep the answers
        for row in result.rows:
            row.answered_by = "unknown"
            row.note = f"could not read the Ingress objects: {type(exc).__name__}: {exc}"[:200]
        return
    entrypoint = "websecure" if port == where.https_port else "web"
    predicted = routing.match(entrypoint, tls, host, target)
    answered = [r for r in result.rows if r.status is not None]
    lines = attribution.access_log(cluster, seconds + 2, len(result.rows) + 200) if answered else []
    by_agent = {line.user_agent: line for line in lines}
    wanted = {a for r, a in zip(result.rows, user_agents, strict=True) if a and r.status is not None}
    if wanted - set(by_agent):
        time.sleep(0.5)  # Traefik's log reaches the API a moment after the answer (both backends): read it again
        lines = attribution.access_log(cluster, seconds + 3, len(result.rows) + 200)
        by_agent = {line.user_agent: line for line in lines}
    gateway: GatewayRoutes | None = None  # read only when a Gateway API router answered
    for row, agent in zip(result.rows, user_agents, strict=True):
        line = by_agent.get(agent) if agent and row.status is not None else None
        if line is not None and line.router.endswith("@" + GATEWAY_PROVIDER):
            gateway = gateway or GatewayRoutes(cluster)
            _from_gateway(row, line, gateway)
            continue
        route = predicted
        if line is not None:
            route = routing.by_name.get(line.router) if line.router else None
            row.router = line.router or None
        elif route is not None:
            row.router = route.name
        if route is not None:
            row.ingress, row.rule, row.service = route.ingress, route.router.rule.text, route.service_name
        if row.status is None:
            row.answered_by = "no answer"
            continue
        if line is not None:
            _from_log(row, route, line, routing)
        else:
            _from_rules(row, route)


def _from_log(row: EdgeRequest, route: attribution.Route | None, line: attribution.LogLine,
              routing: attribution.Routing) -> None:
    if line.server:
        pod = route.pod_of(line.server) if route else None
        named = _named_pod(row, route)
        row.pod = pod or named
        row.answered_by = row.pod or f"a pod behind {line.server}"
        row.note = "Traefik's access log" if pod else (
            f"Traefik's access log: server {line.server}" + (" (the pod names itself)" if named else ""))
        if route is None and line.router:
            row.note += f"; router {line.router} is not an Ingress rule"
        return
    row.answered_by = "Traefik"
    if not line.router:
        row.note = "no router matches this host and path"
        return
    if route is None:
        row.note = f"router {line.router}"
        return
    kind = ANSWERED_BY_MIDDLEWARE.get(row.status or 0)
    names = [name for name, k in _middlewares(routing, route) if k == kind] if kind else []
    if names:
        row.note = f"{kind} {names[0]}"
    elif row.status == 503:
        row.note = "no available server (no ready endpoint)"
    elif row.status in (502, 504):
        row.note = "the backend could not be reached"
    elif row.status == 421:
        row.note = "TLS options of the SNI differ from the router's"
    else:
        row.note = f"before the backend on router {route.name}"


def _from_gateway(row: EdgeRequest, line: attribution.LogLine, routes: GatewayRoutes) -> None:
    """A request a Gateway API route answered: its HTTPRoute rule, and the Service and pod behind the server."""
    row.router = line.router
    rule = routes.rule_of(line.router)
    if rule is not None:
        row.ingress, row.rule = rule.route, rule.rule
    if line.server:
        backend, pod = routes.backend_of(rule, line.server) if rule else (None, None)
        row.service, row.pod = (backend.name if backend else None), pod
        row.answered_by = pod or f"a pod behind {line.server}"
        row.note = "Traefik's access log" if pod else f"Traefik's access log: server {line.server}"
        return
    row.answered_by = "Traefik"
    resolved = rule.resolved if rule else None
    if resolved and resolved.get("status") == "False":  # Traefik answers 500 for a backendRef it could not resolve
        row.note = f"ResolvedRefs=False ({resolved.get('reason')}): {resolved.get('message')}"
    elif row.status is not None and 300 <= row.status < 400:
        row.note = "the rule's RequestRedirect filter"
    elif row.status == 503:
        row.note = "no available server (no ready endpoint)"
    else:
        row.note = f"router {line.router}"


def _from_rules(row: EdgeRequest, route: attribution.Route | None) -> None:
    if route is None:
        row.answered_by = "unknown"
        row.note = "no Ingress rule matches; not in Traefik's access log"
        return
    row.pod = _named_pod(row, route)
    row.answered_by = row.pod or "unknown"
    row.note = "the pod names itself; rule from the Ingress objects" if row.pod else \
        "not in Traefik's access log; rule from the Ingress objects"


def _named_pod(row: EdgeRequest, route: attribution.Route | None) -> str | None:
    """The pod a body names (agnhost netexec /hostname answers its pod's name), if it is one of the route's."""
    text = row.body.strip()
    if route is None or not text or "\n" in text:
        return None
    return text if text in route.pods() else None


def _middlewares(routing: attribution.Routing, route: attribution.Route) -> list[tuple[str, str | None]]:
    """(qualified name, type) of each middleware on the route and its service, chains expanded."""
    conf = routing.conf
    names = [n if "@" in n else f"{n}@{attribution.PROVIDER}" for n in route.router.middlewares]
    names += [n if "@" in n else f"{n}@{attribution.PROVIDER}" for n in (route.service.middlewares
                                                                          if route.service else [])]
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    while names:
        name = names.pop(0)
        if name in seen:
            continue
        seen.add(name)
        defn = conf.middlewares.get(name)
        out.append((name, defn.kind if defn else None))
        if defn is not None and defn.kind == "chain":
            names += [r.get("name", "") if "@" in r.get("name", "") else
                      f"{r.get('namespace') or defn.namespace}-{r.get('name', '')}@kubernetescrd"
                      for r in defn.config.get("middlewares") or []]
    return out
