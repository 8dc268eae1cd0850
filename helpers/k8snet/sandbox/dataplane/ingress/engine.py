"""The running Traefik: the providers' configuration applied to its entrypoints, one exchange at a time.

What each step follows (github.com/traefik/traefik v3.7):

- entrypoints: ``web`` and ``websecure`` (``http.tls``, so every router on it is a TLS router, renamed
  ``websecure-<router>`` when it also serves ``web``: pkg/server/aggregator.go ``applyModel``), and the
  internal ``traefik`` entrypoint that answers ``/ping``; a router naming an entrypoint that does not exist
  is not served (runtime ``GetRoutersByEntryPoints``);
- the entrypoint handler: ``#`` in the path → 400, path sanitizing, then the forwarded headers
  (pkg/middlewares/forwardedheaders: the client's own ``X-Forwarded-*``/``X-Real-Ip`` are dropped — no
  trusted IPs are configured — and ``X-Real-Ip``, ``X-Forwarded-Proto/-Host/-Port/-Server`` set);
- routing: TLS routers for TLS connections, the others for plain ones, highest priority first, 404
  ``404 page not found`` when none matches (pkg/server/router/router.go, pkg/muxer/http); a TLS router
  whose options differ from the connection's answers 421 (pkg/middlewares/snicheck); a router whose
  middleware or TLS options cannot be built is not served at all;
- the service: round robin over the endpoints (:mod:`.balancer`), ``503 no available server`` without one;
  the request is proxied through the sandbox's network *from the Traefik pod* (so NetworkPolicies see it as
  the source), ``X-Forwarded-For`` gets the client address appended (pkg/proxy/httputil), hop-by-hop
  headers are dropped; a refused connection is ``502 Bad Gateway``, a dropped one ``504 Gateway Timeout``
  (``ComputeStatusCode``).
"""

from __future__ import annotations

import base64
import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..model import EMPTY_REPLY as EMPTY_REPLY_STATUS
from ..model import RAW_REPLY as RAW_REPLY_STATUS
from ..model import HttpRequest, NetError, Timeout
from .accesslog import common_line
from .balancer import RoundRobin
from .config import ENTRYPOINTS, TLS_ENTRYPOINTS
from .exchange import Exchange, Handler, Headers, Reply, TlsInfo, http_error, not_found, status_only
from .match import canonical_host, host_matches, routing_path, sanitize_path
from .middlewares import Builder, BuildError, NotEmulated
from .routes import PROVIDER, Configuration, LBService, Problem, Router, Server
from .routes import load as load_configuration
from .tls import DEFAULT_OPTIONS, Certificate, CertStore, ContextFactory, TLSOptions, default_certificate

WATCHED = frozenset({"ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io", "services",
                     "endpointslices.discovery.k8s.io", "secrets", "nodes", "middlewares.traefik.io",
                     "tlsoptions.traefik.io"})
"""What Traefik's Kubernetes providers watch: a change to any of these reloads the configuration."""
HOP_BY_HOP = ("Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te",
              "Trailer", "Transfer-Encoding", "Upgrade")
MANAGED_X = ("X-Forwarded-Proto", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Server",
             "X-Forwarded-Uri", "X-Forwarded-Method", "X-Forwarded-Prefix", "X-Forwarded-Tls-Client-Cert",
             "X-Forwarded-Tls-Client-Cert-Info", "X-Real-Ip")


@dataclass
class Route:
    """A router on one entrypoint, as the muxer holds it (``handler`` None: not served, ``error`` says why)."""

    name: str  # runtime name, e.g. "websecure-default-shop-shop-example-test@kubernetes"
    router: Router
    entrypoint: str
    tls: bool
    tls_options: str
    priority: int
    handler: Handler | None = None
    error: str = ""


@dataclass
class EntryPoint:
    """One entrypoint's routes, in match order, and the TLS options its SNI names select."""

    name: str
    routes: list[Route] = field(default_factory=list)
    sni_options: dict[str, str] = field(default_factory=dict)  # Host domain → options name


def _drop_hop_by_hop(headers: Headers) -> None:
    """Remove the hop-by-hop headers (their names are canonical already: no per-name canonicalisation)."""
    held = headers.raw()
    for key in HOP_BY_HOP:
        if key in held:
            del held[key]


_MANAGED: dict[str, bool] = {}


def _managed(key: str) -> bool:
    """forwardedheaders isManagedXHeader: Traefik's X- headers, also written with underscores."""
    known = _MANAGED.get(key)
    if known is None:
        canonical = "-".join(p[:1].upper() + p[1:].lower() for p in key.replace("_", "-").split("-"))
        known = canonical in MANAGED_X
        if len(_MANAGED) >= 4096:  # header names come from clients: keep the cache bounded
            _MANAGED.clear()
        _MANAGED[key] = known
    return known


class Traefik:
    """The emulated Traefik process of one sandbox: its configuration, routes, balancers and limiters."""

    def __init__(self, sandbox: Any, dataplane: Any):
        self.sb = sandbox
        self.dp = dataplane
        self.conf = Configuration()
        self.entrypoints: dict[str, EntryPoint] = {}
        self._routes: dict[str, Route] = {}  # runtime name → route, for the access log's per-router switch
        self.runtime_problems: list[Problem] = []
        self.requests = 0
        self._dirty = True
        engine = weakref.ref(self)  # the store outlives a reset's data plane: do not keep this one alive

        def on_event(event: Any) -> None:
            current = engine()
            if current is not None and event.resource in WATCHED:
                current._dirty = True

        sandbox.store.subscribe(on_event)
        self._middleware_cache: dict[str, Any] = {}
        self._balancers: dict[tuple[Any, ...], RoundRobin] = {}
        self._default_cert: Certificate | None = None
        self.certs = CertStore([], None)  # type: ignore[arg-type]
        tmp = str(sandbox.state_dir) if getattr(sandbox, "state_dir", None) else None
        self.contexts = ContextFactory(tmp)

    # -- configuration ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild from the store when a watched kind changed (Traefik reloads on such events)."""
        if not self._dirty:
            return
        self._dirty = False
        self.conf = load_configuration(self.sb)
        self.certs = CertStore(self.conf.certs, self._default_cert)  # type: ignore[arg-type]
        self._build()

    def now(self) -> float:
        """The sandbox clock in seconds, to the microsecond: the rate limiter counts tokens as x/time/rate does.

        ``clock.now()`` has whole seconds (API timestamps); a bucket read at that resolution would refill only
        on a second's tick, so a burst that straddles one would pass more requests than Traefik lets through.
        """
        return time.time() + self.sb.clock.offset.total_seconds()

    def problems(self) -> list[Problem]:
        self.refresh()
        seen: set[tuple[Any, ...]] = set()
        out = []
        for p in self.conf.problems + self.runtime_problems:
            if (p.ingress, p.reason, p.message) not in seen:
                seen.add((p.ingress, p.reason, p.message))
                out.append(p)
        return out

    def _build(self) -> None:
        builder = Builder(self.conf.middlewares, self.now, self._middleware_cache)
        problems: list[Problem] = []
        for router in self.conf.routers.values():
            for ep in router.entrypoints:
                if ep not in ENTRYPOINTS:
                    problems.append(Problem(router.ingress, "RouterError", f'router {router.qualified}: entryPoint '
                                            f'"{ep}" doesn\'t exist (entrypoints: {", ".join(ENTRYPOINTS)})'))
        self.entrypoints = {}
        for ep in ENTRYPOINTS:
            entry = EntryPoint(ep)
            model = ep in TLS_ENTRYPOINTS
            for router in self.conf.routers.values():
                if ep not in router.entrypoints:
                    continue
                tls = router.tls or model
                name = f"{ep}-{router.name}" if model and len(router.entrypoints) > 1 else router.name
                options = router.tls_options if router.tls else DEFAULT_OPTIONS
                entry.routes.append(Route(f"{name}@{PROVIDER}", router, ep, tls, options, router.priority))
            self._resolve_tls_conflicts(entry, problems)
            for route in entry.routes:
                self._build_route(route, builder, problems)
            entry.routes.sort(key=lambda r: (-r.priority, r.name))
            for route in entry.routes:
                if route.tls and route.handler is not None:
                    for domain in route.router.rule.domains():
                        entry.sni_options[domain] = route.tls_options
                elif route.tls and route.error.startswith("building router handler"):
                    for domain in route.router.rule.domains():
                        entry.sni_options[domain] = ""  # broken options: the handshake for this name fails
            self.entrypoints[ep] = entry
        self._routes = {}
        for entry in self.entrypoints.values():
            for route in entry.routes:
                self._routes.setdefault(route.name, route)
        for name, notes in builder.notes.items():
            users = {r.ingress for r in self.conf.routers.values() if name in self._chain_names(r)}
            for key in sorted(users):
                problems += [Problem(key, "UnsupportedMiddleware", note, "WRN") for note in notes]
        for opts in self.conf.tls_options.values():
            users = {r.ingress for r in self.conf.routers.values() if r.tls and r.tls_options == opts.name}
            for key in sorted(users):
                problems += [Problem(key, "UnsupportedTLSOption", note, "WRN") for note in opts.notes]
        live = {s.balancer_key for s in self.conf.services.values()}
        self._balancers = {k: v for k, v in self._balancers.items() if k in live}
        for stale in set(self._middleware_cache) - builder.used:
            del self._middleware_cache[stale]
        self.runtime_problems = problems

    def _chain_names(self, router: Router) -> list[str]:
        names = [n if "@" in n else f"{n}@{PROVIDER}" for n in router.middlewares]
        svc = self.conf.services.get(router.service)
        names += [n if "@" in n else f"{n}@{PROVIDER}" for n in (svc.middlewares if svc else [])]
        out, stack = [], list(names)
        while stack:
            name = stack.pop()
            out.append(name)
            defn = self.conf.middlewares.get(name)
            if defn and defn.kind == "chain":
                stack += [r.get("name", "") if "@" in r.get("name", "") else
                          f"{r.get('namespace') or defn.namespace}-{r.get('name', '')}@kubernetescrd"
                          for r in defn.config.get("middlewares") or []]
        return out

    def _resolve_tls_conflicts(self, entry: EntryPoint, problems: list[Problem]) -> None:
        """resolveHTTPTLSOptions: a host served with different TLS options falls back to the default ones."""
        by_host: dict[str, set[str]] = {}
        for route in entry.routes:
            if route.tls:
                for domain in route.router.rule.domains():
                    by_host.setdefault(domain, set()).add(route.tls_options)
        for route in entry.routes:
            if route.tls and any(len(by_host[d]) > 1 for d in route.router.rule.domains()):
                problems.append(Problem(route.router.ingress, "TLSOptionError", f"router {route.name}: TLS options "
                                        "conflict with another router on the same entrypoint and host; the default "
                                        "TLS options are used instead", "WRN"))
                route.tls_options = DEFAULT_OPTIONS
                route.name = f"{entry.name}-conflicted-{route.name}"
            if route.tls and route.tls_options != DEFAULT_OPTIONS and not route.router.rule.domains():
                problems.append(Problem(route.router.ingress, "TLSOptionError", f"no domain found in rule "
                                        f"{route.router.rule.text}, the TLS option {route.tls_options} cannot be "
                                        "applied", "WRN"))

    def _build_route(self, route: Route, builder: Builder, problems: list[Problem]) -> None:
        key = route.router.ingress
        try:
            if route.tls:
                opts = self.conf.tls_options.get(route.tls_options)
                if opts is None:
                    raise BuildError(f"building router handler: unknown TLS options: {route.tls_options}")
                if opts.error:
                    raise BuildError(f"building router handler: building TLS config: {opts.error}")
            service = self._service_handler(self.conf.services[route.router.service], builder)
            builder.scope = route.name
            route.handler = builder.chain(route.router.middlewares, PROVIDER, service)
        except NotEmulated as exc:
            route.error = str(exc)
            problems.append(Problem(key, "UnsupportedMiddleware", f"router {route.name} is not served (404): {exc}"))
        except BuildError as exc:
            route.error = str(exc)
            text = str(exc)
            reason = ("MiddlewareNotFound" if "does not exist" in text else
                      "TLSOptionError" if text.startswith("building router handler") else "InvalidMiddleware")
            problems.append(Problem(key, reason, f"router {route.name} is not served (404): {text}"))

    def _service_handler(self, svc: LBService, builder: Builder) -> Handler:
        def balance(ex: Exchange) -> Reply:
            return self._balance(ex, svc)
        builder.scope = f"service:{svc.name}"
        return builder.chain(svc.middlewares, PROVIDER, balance) if svc.middlewares else balance

    # -- TLS ---------------------------------------------------------------------------------------

    def default_certificate(self) -> Certificate:
        if self._default_cert is None:
            self._default_cert = default_certificate(self.sb.clock.now())
            self.certs.default = self._default_cert
        return self._default_cert

    def tls_for(self, entrypoint: str, sni: str) -> tuple[TLSOptions, Certificate] | None:
        """The options and certificate a TLS handshake on ``entrypoint`` with ``sni`` gets (None: closed)."""
        self.refresh()
        entry = self.entrypoints.get(entrypoint)
        name = DEFAULT_OPTIONS
        if entry is not None:
            matches = [d for d in entry.sni_options if sni and host_matches(sni.lower(), d)]
            if matches:
                name = entry.sni_options[max(matches, key=len)]
        opts = self.conf.tls_options.get(name) if name else None
        if opts is None or opts.error:
            return None
        cert = self.certs.best(sni)
        if cert is None:
            if opts.sni_strict:
                return None
            cert = self.default_certificate()
        return opts, cert

    # -- one exchange -------------------------------------------------------------------------------

    def handle(self, *, pod: dict[str, Any], entrypoint: str, method: str, target: str, proto: str,
               headers: Headers, body: bytes, remote: tuple[str, int], tls: TlsInfo | None) -> tuple[Reply, Exchange]:
        """Serve one request that reached ``entrypoint`` of the Traefik ``pod``; the reply and its trace."""
        self.refresh()
        start = self.sb.clock.now()
        path, _, query = target.partition("?")
        if re.match(r"^https?://", path):  # absolute-form request target
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        ex = Exchange(method, path, query, headers.get("Host"), headers, body, entrypoint, remote[0], remote[1],
                      proto, tls, target)
        ex.pod = pod
        ex.start = start
        headers.delete("Host")
        ping = entrypoint == "traefik" and (routing_path(sanitize_path(path)) or "").startswith("/ping")
        reply = self._entry(ex)
        if not ping and self._access_logged(ex):
            self._access_log(ex, reply, start)
        return reply, ex

    def _access_logged(self, ex: Exchange) -> bool:
        route = self._routes.get(ex.router)
        return route is None or route.router.access_logs

    def _entry(self, ex: Exchange) -> Reply:
        if "#" in ex.request_uri:
            ex.hop("the request path has a fragment (#): 400", status=400)
            return Reply(400)
        ex.path = sanitize_path(ex.path)
        routing = routing_path(ex.path)
        if routing is None:
            ex.hop("invalid percent-encoding in the path: 400", status=400)
            return Reply(400)
        self._forwarded_headers(ex)
        if ex.entrypoint == "traefik" and routing.startswith("/ping"):
            ex.hop("Traefik's ping handler answers OK", router="ping@internal")
            return Reply(200, Headers({"Content-Type": "text/plain; charset=utf-8"}), b"OK" if ex.method != "HEAD"
                         else b"")
        host = canonical_host(ex.host)
        entry = self.entrypoints.get(ex.entrypoint)
        for route in entry.routes if entry else []:
            if route.handler is None or route.tls != (ex.tls is not None):
                continue
            if not route.router.rule.matches(host, routing):
                continue
            ex.router = route.name
            ex.hop(f"Traefik router {route.name} on entrypoint {ex.entrypoint} matches {route.router.rule.text} "
                   f"(priority {route.priority}) → {route.router.backend}",
                   router=route.name, rule=route.router.rule.text, priority=route.priority,
                   ingress=f"{route.router.ingress[0]}/{route.router.ingress[1]}", entrypoint=ex.entrypoint,
                   backend=route.router.backend, middlewares=route.router.middlewares)
            if ex.tls is not None and route.tls_options != ex.tls.options:
                ex.hop(f"the connection's TLS options ({ex.tls.options}, chosen by SNI {ex.tls.sni or '(none)'}) "
                       f"are not the router's ({route.tls_options}): 421", status=421)
                return http_error(421, "Misdirected Request")
            return route.handler(ex)
        served = [r.name for r in (entry.routes if entry else []) if r.handler and r.tls == (ex.tls is not None)]
        ex.hop(f"no router on entrypoint {ex.entrypoint} matches host {host or '(none)'} and path {routing}: "
               f"404 page not found ({len(served)} {'TLS ' if ex.tls else ''}routers here)", status=404,
               routers=served)
        return not_found()

    def _forwarded_headers(self, ex: Exchange) -> None:
        """XForwarded.ServeHTTP with no trusted IPs: drop the client's X- headers, then set Traefik's own."""
        for key in ex.headers.keys():
            if _managed(key):
                ex.headers.delete(key)
        ex.headers.set("X-Real-Ip", ex.remote_ip)
        websocket = "upgrade" in ex.headers.get("Connection").lower() and \
            ex.headers.get("Upgrade").lower() == "websocket"
        proto = ("wss" if ex.tls else "ws") if websocket else ("https" if ex.tls else "http")
        ex.headers.set("X-Forwarded-Proto", proto)
        port = ex.host.rsplit(":", 1)[1] if re.search(r":\d+$", ex.host) else ("443" if ex.tls else "80")
        ex.headers.set("X-Forwarded-Port", port)
        if ex.host:
            ex.headers.set("X-Forwarded-Host", ex.host)
        ex.headers.set("X-Forwarded-Server", (ex.pod or {}).get("metadata", {}).get("name", "traefik"))
        for token in ",".join(ex.headers.values("Connection")).split(","):
            token = token.strip()
            if token and not _managed(token):
                ex.headers.delete(token)
        ex.headers.delete("Connection")

    def _balance(self, ex: Exchange, svc: LBService) -> Reply:
        key = svc.balancer_key
        balancer = self._balancers.get(key)
        if balancer is None:
            balancer = self._balancers[key] = RoundRobin(svc.servers, self.sb.random.stream("traefik-wrr"))
        server, candidates = balancer.pick()
        target = f"{svc.namespace}/{svc.service}:{svc.port.get('name') or svc.port.get('port')}"
        if server is None:
            why = "has no ready endpoints" if not svc.servers else "has only terminating endpoints"
            ex.hop(f"service {target} {why}: 503 no available server", service=target, status=503)
            return http_error(503, "no available server")
        ex.service_url = server.url
        mode = {"nativelb": " (nativeLB: the Service's ClusterIP; kube-proxy picks the pod)",
                "nodeportlb": " (nodePortLB: a node's NodePort)"}.get(svc.mode, "")
        ex.hop(f"Traefik's load balancer (weighted round robin) chose {server.url}"
               + (f" ({server.pod})" if server.pod else "") + f", 1 of {candidates}{mode}",
               service=target, server=server.url, pod=server.pod, candidates=candidates, mode=svc.mode)
        return self._forward(ex, svc, server)

    def _forward(self, ex: Exchange, svc: LBService, server: Server) -> Reply:
        try:
            conn = self.dp.connect(ex.pod, server.ip, server.port, "TCP")
        except NetError as exc:
            ex.hops += exc.hops
            if isinstance(exc, Timeout):
                ex.hop(f"dial tcp {server.ip}:{server.port}: i/o timeout: 504 Gateway Timeout", status=504)
                return status_only(504)
            ex.hop(f"dial tcp {server.ip}:{server.port}: {exc.message}: 502 Bad Gateway", status=502)
            return status_only(502)
        ex.hops += conn.hops
        headers = ex.headers.copy()
        _drop_hop_by_hop(headers)
        prior = ", ".join(headers.values("X-Forwarded-For"))
        headers.set("X-Forwarded-For", f"{prior}, {ex.remote_ip}" if prior else ex.remote_ip)
        host = ex.host if svc.pass_host_header else f"{server.ip}:{server.port}"
        pod_name = conn.dst_pod["metadata"]["name"]
        if server.scheme == "https":
            why = ("x509: certificate signed by unknown authority (a ServersTransport with insecureSkipVerify or "
                   "rootCAs would be needed; not emulated)" if self.dp.workloads.speaks_tls(conn.dst_pod, conn.port)
                   else "tls: first record does not look like a TLS handshake")
            ex.hop(f"https to {server.ip}:{server.port}: {why}: 500", status=500)
            return status_only(500)
        request = HttpRequest(ex.method, ex.uri(), {"Host": host, **headers.as_dict()}, ex.body, host=host,
                              scheme="http")
        try:
            response = self.dp.workloads.serve_http(conn, request)
        except NetError as exc:
            ex.hops += exc.hops
            ex.hop(f"{pod_name}: {exc.message}: 502 Bad Gateway", status=502)
            return status_only(502)
        ex.hops += response.hops
        if response.status == RAW_REPLY_STATUS:
            ex.hop(f"{pod_name} answered without an HTTP status line: malformed HTTP response: 502", status=502)
            return status_only(502)
        if response.status == EMPTY_REPLY_STATUS:
            ex.hop(f"{pod_name} closed the connection without answering (EOF): 502", status=502)
            return status_only(502)
        out = Headers(response.headers)
        _drop_hop_by_hop(out)
        ex.hop(f"{pod_name} answered {response.status}", pod=pod_name, status=response.status)
        return Reply(response.status, out, response.body, pod_name)

    def _access_log(self, ex: Exchange, reply: Reply, start: Any) -> None:
        self.requests += 1
        pod = ex.pod or {}
        line = common_line(client=ex.remote_ip, user=ex.username, start=start, method=ex.method,
                           path=ex.request_uri or ex.uri(), proto=ex.proto, status=reply.status,
                           size=0 if ex.method == "HEAD" else len(reply.body), referer=ex.headers.get("Referer"),
                           user_agent=ex.headers.get("User-Agent"), count=self.requests, router=ex.router,
                           service_url=ex.service_url, duration_ms=int(ex.delay * 1000))
        uid = pod.get("metadata", {}).get("uid")
        if uid:
            self.dp.logs.append(uid, "traefik", line, at=start)


def basic_auth_header(user: str, password: str) -> str:
    """``Authorization: Basic …`` for tests and helpers."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
