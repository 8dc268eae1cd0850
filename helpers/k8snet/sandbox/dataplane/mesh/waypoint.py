"""A waypoint: the Envoy proxy (Gateway class ``istio-waypoint``) that does the L7 work for the Services using it.

Sources: istio.io "Configure waypoint proxies" (``istio.io/use-waypoint`` on a Service or its namespace,
``istio.io/use-waypoint-namespace``, the value ``none``), "Use Layer 7 features" and "Layer 4 security policy"
(policies attach to a waypoint with ``targetRefs``: the Service, or the waypoint Gateway); Istio 1.31
pilot/pkg/config/kube/gateway/conversion.go (HTTPRoute → routes: matches, filters, weights, ``timeouts.request``,
``retry``; ``createRedirectFilter``, ``createRewriteFilter``, ``headerListToMap``, ``sortHTTPRoutes``),
pilot/pkg/config/kube/gateway/route_collections.go (one rule per match; a mesh route's ``parentRefs[].port`` as a
port match), pilot/pkg/networking/core/listener_waypoint.go (``getVirtualServiceForWaypoint``: the routes of the
Service's namespace and of the waypoint's own, none from the client's; no default route once a route applies),
pilot/pkg/networking/core/route/route.go (``ApplyRedirect``, ``TranslateHeadersOperations``, the gateway-semantics
prefix rewrite), Envoy's source/common/http/utility.cc ``Utility::newUri`` (the redirect's Location),
pilot/pkg/networking/core/route/retry/retry.go (the default retry policy: 2 retries on
``connect-failure,refused-stream,unavailable,cancelled`` and no status codes, other hosts first); the Gateway
API's HTTPRoute specification (GAMMA: ``parentRefs`` of kind Service; match precedence); Envoy's local replies
(``RBAC: access denied`` 403, ``no healthy upstream`` 503, ``upstream request timeout`` 504) and its
``server: istio-envoy`` / ``x-envoy-upstream-service-time`` response headers.

Traffic reaches a waypoint only when it is addressed to a Service (``istio.io/waypoint-for: service``, the
default): ztunnel sends it HBONE carrying ``CONNECT ClusterIP:port``. The waypoint authorizes the request,
picks a route and a backend, and opens its own HBONE to the chosen pod as the waypoint's identity, so the
destination ztunnel sees the waypoint, not the client.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..derived import Derived
from ..model import EMPTY_REPLY, RESET, Connection, Hop, HttpRequest, HttpResponse, http_date, settled
from .pods import enrolled, ready

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]

USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
GATEWAY_NAME = "gateway.networking.k8s.io/gateway-name"
GATEWAYS = "gateways.gateway.networking.k8s.io"
HTTPROUTES = "httproutes.gateway.networking.k8s.io"
AUTHORIZATION_POLICIES = "authorizationpolicies.security.istio.io"
WAYPOINT_CLASS = "istio-waypoint"
DEFAULT_RETRIES = 2
"""retry.go DefaultPolicy: NumRetries 2 on connect-failure, refused-stream, unavailable, cancelled."""


def _local_reply(status: int, body: str, now: Any) -> HttpResponse:
    """An answer Envoy makes itself: its length, text/plain, the date and Istio's server name — without a body, no
    content type (Envoy's ``Utility::prepareLocalReply`` drops it) and the ``content-length: 0`` its HTTP/1.1 codec
    appends to a headers-only response."""
    data = body.encode()
    if not data:
        return HttpResponse(status, {"date": http_date(now), "server": "istio-envoy", "content-length": "0"})
    return HttpResponse(status, {"content-length": str(len(data)), "content-type": "text/plain",
                                 "date": http_date(now), "server": "istio-envoy"}, data)


class Waypoints:
    """Which waypoint serves a Service, and what that waypoint does with one HTTP request."""

    def __init__(self, sandbox: Sandbox, dataplane: Any, mesh: Any):
        self.sb = sandbox
        self.dp = dataplane
        self.mesh = mesh
        self._ready: Derived[list[Obj]] = Derived(sandbox.store, "pods")  # a waypoint's ready pods, by Gateway

    # -- which waypoint ---------------------------------------------------------------------------

    def gateway_of(self, svc: Obj) -> Obj | None:
        """The waypoint Gateway a Service uses: its own label, else its namespace's; ``none`` opts out; a label
        naming no Gateway of class istio-waypoint binds nothing (istiod leaves the Service without a waypoint)."""
        meta = svc["metadata"]
        labels = meta.get("labels") or {}
        ns = self.sb.store.get("namespaces", "", meta["namespace"]) or {"metadata": {}}
        ns_labels = ns["metadata"].get("labels") or {}
        source = labels if USE_WAYPOINT in labels else ns_labels
        name = source.get(USE_WAYPOINT)
        if not name or name == "none":
            return None
        gw = self.sb.store.get(GATEWAYS, source.get(USE_WAYPOINT_NAMESPACE) or meta["namespace"], name)
        if gw is None or (gw.get("spec") or {}).get("gatewayClassName") != WAYPOINT_CLASS:
            return None
        if (gw["metadata"].get("labels") or {}).get("istio.io/waypoint-for", "service") not in ("service", "all"):
            return None
        return gw

    def of_service(self, svc: Obj) -> tuple[Obj, Obj | None] | None:
        """The Service's waypoint Gateway and one of its ready pods (chosen at random; None while none is ready),
        or None when the Service uses no waypoint."""
        gw = self.gateway_of(svc)
        if gw is None:
            return None
        ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
        pods = self._ready.get((ns, name), lambda: sorted(
            (p for p in self.sb.store.list("pods", ns)
             if (p["metadata"].get("labels") or {}).get(GATEWAY_NAME) == name and ready(p)),
            key=lambda p: p["metadata"]["name"]))
        stream = self.sb.random.stream(f"waypoint:{ns}/{name}", gw["metadata"].get("uid", ""))
        return gw, (stream.choice(pods) if pods else None)

    # -- one request --------------------------------------------------------------------------------

    def serve(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        """Authorize, route, forward (with Istio's retries and the route's timeout) and answer as Envoy does; the
        request is counted in the waypoint's ``istio_requests_total`` and latency histogram."""
        from ..workloads import request_bytes
        from .telemetry import service_labels, workload_labels

        chosen: list[Obj] = []
        response = self._serve(conn, req, chosen)
        backend = chosen[-1] if chosen else None
        svc, _ = conn.mesh.waypoint
        labels = {**workload_labels(self.sb, conn.src_pod, "source"),
                  **workload_labels(self.sb, backend, "destination"), **service_labels(svc),
                  "reporter": "waypoint", "request_protocol": "http", "response_code": str(response.status),
                  "grpc_response_status": "", "response_flags": "-",
                  "connection_security_policy": "mutual_tls"}
        labels["source_principal"] = conn.mesh.source_identity or "unknown"
        if backend is None:
            labels["destination_principal"] = "unknown"
        self.mesh.telemetry.request(conn.dst_pod, labels, response.delay * 1000, len(request_bytes(req)),
                                    len(response.wire()))
        return response

    def _serve(self, conn: Connection, req: HttpRequest, chosen: list[Obj]) -> HttpResponse:
        waypoint = conn.dst_pod
        svc, sp = conn.mesh.waypoint
        now = self.sb.clock.now()
        hops: list[Hop] = []
        name = f"{waypoint['metadata']['namespace']}/{waypoint['metadata']['name']}"
        allowed, reason, policy = self.authorize(waypoint, svc, sp, req, conn)
        hops.append(Hop("authz", f"waypoint {name}: {reason}", {"allowed": allowed, "engine": "waypoint",
                                                                "policy": policy, "reason": reason}))
        if not allowed:
            return self._done(_local_reply(403, "RBAC: access denied", now), hops)
        routes = self.attached(svc, sp, waypoint["metadata"]["namespace"])
        found = _best(routes, req)
        rule, route = found if found is not None else (None, None)
        if route is not None:
            hops.append(Hop("waypoint", f"waypoint {name}: HTTPRoute {route['metadata']['namespace']}/"
                            f"{route['metadata']['name']} matches {req.method} {req.path}",
                            {"route": route["metadata"]["name"]}))
        elif routes:  # the routes replace the default one: Envoy's route_not_found (NR)
            hops.append(Hop("waypoint", f"waypoint {name}: no rule of HTTPRoute "
                            f"{', '.join(r['metadata']['namespace'] + '/' + r['metadata']['name'] for r in routes)} "
                            f"matches {req.method} {req.path}: 404", {"route": None}))
            return self._done(_local_reply(404, "", now), hops)
        forwarded = HttpRequest(req.method, req.path, dict(req.headers), req.body, req.host, "http")
        forwarded.headers.setdefault("x-forwarded-proto", "http")
        forwarded.headers.setdefault("x-request-id", self._request_id())
        request_headers: list[Obj] = []
        response_headers: list[Obj] = []
        redirect = None
        for f in (rule or {}).get("filters") or []:
            kind = f.get("type")
            if kind == "RequestHeaderModifier":
                request_headers.append(f.get("requestHeaderModifier") or {})
            elif kind == "ResponseHeaderModifier":
                response_headers.append(f.get("responseHeaderModifier") or {})
            elif kind == "URLRewrite":
                _rewrite(forwarded, f.get("urlRewrite") or {}, (rule or {}).get("_matched_prefix"))
            elif kind == "RequestRedirect":
                redirect = f.get("requestRedirect") or {}
            else:
                hops.append(Hop("error", f"waypoint {name}: filter {kind} is not emulated by the sandbox; the "
                                "request goes on without it", {"filter": kind}))
        if redirect is not None:
            reply = self._redirect(redirect, req, sp, (rule or {}).get("_matched_prefix"), now)
            for modifier in response_headers:  # router.cc: the direct response's finalizeResponseHeaders
                _modify(reply.headers, modifier, request=False)
            return self._done(reply, hops)
        backends = self._backends(rule, svc, sp)
        picked = self._pick(backends, (route or {}).get("metadata", {}).get("uid", "")) if backends else None
        if picked is None:  # no backend, a weight sum of 0, or an invalid backendRef: 500
            return self._done(_local_reply(500, "", now), hops)
        bsvc, bport, filters = picked
        # conversion.go buildHTTPDestination: a backendRef's own header filters sit on its weighted cluster, whose
        # headers Envoy applies before the route's
        for f in filters:
            if f.get("type") == "RequestHeaderModifier":
                _modify(forwarded.headers, f.get("requestHeaderModifier") or {})
            elif f.get("type") == "ResponseHeaderModifier":
                response_headers.insert(0, f.get("responseHeaderModifier") or {})
            else:
                hops.append(Hop("error", f"waypoint {name}: backendRef filter {f.get('type')} is not emulated by the "
                                "sandbox; the request goes on without it", {"filter": f.get("type")}))
        for modifier in request_headers:
            _modify(forwarded.headers, modifier)
        if any(k.lower() == "host" for k in forwarded.headers):
            forwarded.host = next(v for k, v in forwarded.headers.items() if k.lower() == "host")
        timeout = _duration(((rule or {}).get("timeouts") or {}).get("request"))
        retries, codes = self._retry_policy(rule)
        tried: set[str] = set()
        response = None
        for attempt in range(retries + 1):  # Envoy's retries stay in the weighted cluster it chose
            target = self.mesh.endpoint(bsvc, bport, hops, avoid=tried, chooser="waypoint")
            if target is None:
                response = _local_reply(503, "no healthy upstream", now)
                break
            tried.add(target[0])
            upstream = self._upstream(waypoint, target, bsvc, hops)
            if isinstance(upstream, str):  # the HBONE to the pod failed: Envoy's connect-failure
                reason = "remote connection failure"
                hops.append(Hop("waypoint", f"waypoint {name}: attempt {attempt + 1} failed: {upstream}",
                                {"attempt": attempt + 1, "error": upstream}))
                if attempt < retries:
                    continue
                words = "retried and the latest reset reason" if attempt else "reset reason"
                response = _local_reply(503, f"upstream connect error or disconnect/reset before headers. {words}: "
                                             f"{reason}", now)
                break
            answer = settled(self.dp.workloads.serve_http(upstream, forwarded))
            if answer.status in (EMPTY_REPLY, RESET):
                response = _local_reply(503, "upstream connect error or disconnect/reset before headers. reset "
                                             "reason: connection termination", now)
                break
            if timeout is not None and answer.delay > timeout:
                response = _local_reply(504, "upstream request timeout", now)
                response.delay = timeout
                hops.append(Hop("waypoint", f"waypoint {name}: no answer within the route's {timeout:g}s "
                                "timeouts.request: 504", {"timeout": timeout}))
                break
            if answer.status in codes and attempt < retries:
                hops.append(Hop("waypoint", f"waypoint {name}: {answer.status} is retriable (attempt "
                                f"{attempt + 1} of {retries + 1})", {"attempt": attempt + 1, "status": answer.status}))
                continue
            response = self._proxied(answer)
            chosen.append(upstream.dst_pod)
            break
        assert response is not None
        for modifier in response_headers:
            _modify(response.headers, modifier, request=False)
        return self._done(response, hops)

    def _done(self, response: HttpResponse, hops: list[Hop]) -> HttpResponse:
        response.hops = hops + response.hops
        return response

    def _proxied(self, answer: HttpResponse) -> HttpResponse:
        """The upstream's answer as Envoy relays it over HTTP/1.1: header names in lower case (Istio sets no
        proper-case formatter), the router's ``x-envoy-upstream-service-time``, and the ``server`` header
        overwritten with Istio's name (in place, or appended when the upstream sent none)."""
        headers = {k.lower(): v for k, v in answer.headers.items() if k.lower() != "connection"}
        headers["x-envoy-upstream-service-time"] = str(int(answer.delay * 1000))
        headers["server"] = "istio-envoy"  # a key already there keeps its place
        out = HttpResponse(answer.status, headers, answer.body, answer.served_by, list(answer.hops), answer.delay)
        return out

    def _request_id(self) -> str:
        import uuid

        return str(uuid.UUID(int=self.sb.random.stream("x-request-id").getrandbits(128), version=4))

    def _redirect(self, spec: Obj, req: HttpRequest, sp: Obj, prefix: str | None, now: Any) -> HttpResponse:
        """A RequestRedirect as Istio converts it (conversion.go ``createRedirectFilter``, route.go ``ApplyRedirect``)
        and Envoy writes its Location (utility.cc ``Utility::newUri``):

        - the scheme: the filter's, else the request's (``http`` at a waypoint);
        - the port: the filter's; else none when the filter sets a scheme (``FROM_PROTOCOL_DEFAULT``); else the
          Service port the request came on (``FROM_REQUEST_PORT``: Istio writes the listener's port); never ``:80``
          for http nor ``:443`` for https;
        - the host: the filter's hostname, else the request's Host, without its port when a port is written or
          when the scheme changes away from a request on ``:80`` (``processRequestHost``);
        - the path: ``ReplaceFullPath`` (``path_redirect``, the request's query string kept), ``ReplacePrefixMatch``
          (``prefix_rewrite`` of the matched prefix, the rest of the path and the query kept), else the request's;
        - the status: the filter's ``statusCode`` (the CRD defaults it to 302)."""
        scheme = spec.get("scheme") or req.scheme or "http"
        if spec.get("port"):
            port = int(spec["port"])
        elif spec.get("scheme"):
            port = None
        else:
            port = int(sp.get("port") or 0) or None
        if (port, scheme) in ((80, "http"), (443, "https")):
            port = None
        host = spec.get("hostname") or _request_host(req, scheme, port)
        path = req.path
        modifier = spec.get("path") or {}
        if modifier.get("type") == "ReplaceFullPath":
            full = modifier.get("replaceFullPath", "")
            query = req.path.partition("?")[2]
            path = full + ("?" + query if query and "?" not in full else "") if full else req.path
        elif modifier.get("type") == "ReplacePrefixMatch" and prefix is not None:
            path = modifier.get("replacePrefixMatch", "") + req.path[len(prefix):]
        if not path.startswith("/"):
            path = "/" + path
        location = f"{scheme}://{host}{':' + str(port) if port else ''}{path}"
        reply = _local_reply(int(spec.get("statusCode") or 302), "", now)
        reply.headers["location"] = location
        return reply

    # -- authorization -----------------------------------------------------------------------------

    def authorize(self, waypoint: Obj, svc: Obj, sp: Obj, req: HttpRequest, conn: Connection) -> tuple[bool, str, str]:
        """Envoy RBAC from the AuthorizationPolicies attached with ``targetRefs`` to the Service or the waypoint:
        DENY first, then no ALLOW → allow, then any ALLOW match → allow, else ``RBAC: access denied``."""
        gw_name = (waypoint["metadata"].get("labels") or {}).get(GATEWAY_NAME, "")
        attached = []
        for pol in self.sb.store.list(AUTHORIZATION_POLICIES, svc["metadata"]["namespace"]):
            spec = pol.get("spec") or {}
            refs = spec.get("targetRefs") or ([spec["targetRef"]] if spec.get("targetRef") else [])
            for ref in refs:
                if ((ref.get("kind") == "Service" and ref.get("group", "") in ("", "core")
                     and ref.get("name") == svc["metadata"]["name"])
                        or (ref.get("kind") == "Gateway" and ref.get("name") == gw_name)):
                    attached.append(pol)
                    break
        peer = conn.mesh.source_identity or ""
        for pol in (p for p in attached if (p.get("spec") or {}).get("action") == "DENY"):
            if any(_rule_matches(r, req, peer, conn, sp) for r in pol["spec"].get("rules") or []):
                return False, f"denied by DENY policy {pol['metadata']['name']}", pol["metadata"]["name"]
        allow = [p for p in attached if (p.get("spec") or {}).get("action", "ALLOW") == "ALLOW"]
        if not allow:
            return True, "no ALLOW policy attached: allowed", ""
        for pol in allow:
            if any(_rule_matches(r, req, peer, conn, sp) for r in (pol.get("spec") or {}).get("rules") or []):
                return True, f"allowed by ALLOW policy {pol['metadata']['name']}", pol["metadata"]["name"]
        return False, "no ALLOW policy matches: RBAC: access denied", ""

    # -- routing ------------------------------------------------------------------------------------

    def attached(self, svc: Obj, sp: Obj, waypoint_ns: str) -> list[Obj]:
        """The HTTPRoutes the waypoint applies to one port of a Service: those whose ``parentRefs`` name the Service
        (and this port, when they name one), from the Service's namespace or the waypoint's own.

        listener_waypoint.go ``getVirtualServiceForWaypoint``: "We only allow routes in the same namespace as the
        service or in the waypoint's own namespace". A GAMMA consumer route (in the client's namespace) is not among
        them: the waypoint has no source namespace to select it by ("No source namespace support"), so it applies
        to no client there, although the Gateway API would apply it to its namespace's clients."""
        meta = svc["metadata"]
        out = []
        for route in self.sb.store.list(HTTPROUTES):
            rmeta = route["metadata"]
            if rmeta["namespace"] not in (meta["namespace"], waypoint_ns):
                continue
            if any(_parent_is(ref, svc, sp, rmeta["namespace"]) for ref in (route.get("spec") or {}).get(
                    "parentRefs") or []):
                out.append(route)
        return out

    def _backends(self, rule: Obj | None, svc: Obj, sp: Obj) -> list[tuple[Obj | None, Obj | None, int, list[Obj]]]:
        """(Service, port, weight, filters) for each backendRef; without a route, the Service itself."""
        if rule is None:
            return [(svc, sp, 1, [])]
        out = []
        for ref in rule.get("backendRefs") or []:
            filters = ref.get("filters") or []
            if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
                out.append((None, None, int(ref.get("weight", 1)), filters))
                continue
            bsvc = self.sb.store.get("services", ref.get("namespace") or svc["metadata"]["namespace"], ref["name"])
            bport = next((p for p in ((bsvc or {}).get("spec") or {}).get("ports") or []
                          if p.get("port") == ref.get("port")), None)
            out.append((bsvc if bport else None, bport, int(ref.get("weight", 1)), filters))
        return out

    def _pick(self, backends: list[tuple[Obj | None, Obj | None, int, list[Obj]]], route_uid: str = ""
              ) -> tuple[Obj, Obj, list[Obj]] | None:
        """Envoy's weighted clusters: a backend at random in proportion to its weight (a missing one: 500)."""
        total = sum(w for _, _, w, _ in backends)
        if total <= 0:
            return None
        # one stream per set of backends of one route object: its draws follow its own requests only, whatever
        # other routes, namespaces and earlier routes of the same name saw, so a seeded run repeats
        key = ",".join(f"{((b or {}).get('metadata') or {}).get('namespace')}/{((b or {}).get('metadata') or {}).get('name')}"
                       f"={w}" for b, _, w, _ in backends)
        roll = self.sb.random.stream(f"waypoint-weights:{key}", route_uid).randrange(total)
        for bsvc, bport, weight, filters in backends:
            if roll < weight:
                return (bsvc, bport, filters) if bsvc is not None and bport is not None else None
            roll -= weight
        return None

    def _retry_policy(self, rule: Obj | None) -> tuple[int, set[int]]:
        """conversion.go: a route's ``retry`` (attempts, default 2; codes) else Istio's default (no status codes)."""
        retry = (rule or {}).get("retry")
        if retry is None:
            return DEFAULT_RETRIES, set()
        return int(retry.get("attempts", DEFAULT_RETRIES)), {int(c) for c in retry.get("codes") or []}

    def _upstream(self, waypoint: Obj, target: tuple[str, int], svc: Obj, hops: list[Hop]) -> Connection | str:
        """The waypoint's own HBONE to the chosen pod (a pod outside the mesh gets plaintext)."""
        pod = self.mesh.pod_at(target[0])
        ip = waypoint["status"]["podIP"]
        if pod is None:
            return f"connect {target[0]}:{target[1]}: no pod answers"
        if enrolled(pod):
            tunnel, error = self.mesh.hbone(waypoint, ip, pod, target[1], hops)
            if error:  # the pod's ztunnel (when reached) logs and counts what it closed, as for any client
                failed = Connection(waypoint, pod, target[0], target[1], "TCP", ip,
                                    self.dp.workloads.ephemeral_port(), hops, svc)
                failed.mesh = tunnel
                tunnel.reset = error
                self.mesh.record(failed, 0, 0, error)
                return error
            conn = Connection(waypoint, pod, target[0], target[1], "TCP", ip, self.dp.workloads.ephemeral_port(),
                              hops, svc)
            conn.mesh = tunnel
            return conn
        try:
            return self.dp.network.plain(waypoint, ip, target[0], target[1], "TCP", hops)
        except Exception as exc:  # NetError: Envoy reads it as a connect failure
            return str(exc)


def _parent_is(ref: Obj, svc: Obj, sp: Obj, route_ns: str) -> bool:
    """A GAMMA parentRef: kind Service (core group) naming this Service, and its port if one is given
    (route_collections.go ``augmentPortMatch``: the route matches only requests to that port)."""
    if ref.get("kind") != "Service" or ref.get("group", "") not in ("", "core"):
        return False
    if ref.get("name") != svc["metadata"]["name"] or (ref.get("namespace") or route_ns) != svc["metadata"]["namespace"]:
        return False
    return ref.get("port") in (None, sp.get("port"))


def _best(routes: list[Obj], req: HttpRequest) -> tuple[Obj, Obj] | None:
    """The rule (with ``_matched_prefix``) and route that take a request, by Istio's order of the routes it
    converted (route_collections.go: one route per match; mergeHTTPRoutes: oldest HTTPRoute first;
    conversion.go ``sortHTTPRoutes``: Exact, then PathPrefix, then RegularExpression, each longest first; then a
    method match; then the most header matches; then the most query matches), the first in that order that
    matches — the Gateway API's precedence, with ties to the oldest route, then by name, then in rule order."""
    candidates = []
    for route in routes:
        rmeta = route["metadata"]
        for index, rule in enumerate((route.get("spec") or {}).get("rules") or []):
            for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
                hit = _match(match, req)
                if hit is not None:
                    key = (*hit[:-1], rmeta.get("creationTimestamp", ""), rmeta["namespace"], rmeta["name"], index)
                    candidates.append((key, dict(rule, _matched_prefix=hit[-1]), route))
    if not candidates:
        return None
    _, rule, route = min(candidates, key=lambda c: c[0])
    return rule, route


def _match(match: Obj, req: HttpRequest) -> tuple | None:
    """None when the request does not match; else a sort key (lower sorts first) for the precedence rules, whose
    last element is the prefix Envoy matched (for ReplacePrefixMatch): a PathPrefix without its trailing ``/``
    (route.go: a ``path_separated_prefix``), or ``/`` itself.

    As Envoy matches what Istio wrote: the path case-sensitively, a prefix on whole segments; header names
    case-insensitively and their values exactly (or a full RE2 match); a query parameter by its exact name, the
    first of its values, percent-decoded (``QueryParamsMulti::parseAndDecodeQueryString``, ``getFirstValue``)."""
    path_only, _, query = req.path.partition("?")
    p = match.get("path") or {"type": "PathPrefix", "value": "/"}
    kind, value = p.get("type", "PathPrefix"), p.get("value", "/")
    stem = None
    if kind == "Exact":
        if path_only != value:
            return None
        rank = (0, -len(value))
    elif kind == "PathPrefix":
        stem = value.removesuffix("/") or "/"
        if not (stem == "/" or path_only == stem or path_only.startswith(stem + "/")):
            return None
        rank = (1, -len(stem))
    elif kind == "RegularExpression":
        if re.fullmatch(value, path_only) is None:
            return None
        rank = (2, -len(value))
    else:
        return None
    if match.get("method") and match["method"] != req.method:
        return None
    headers = {k.lower(): v for k, v in req.headers.items()}
    for h in match.get("headers") or []:
        got = headers.get(h["name"].lower())
        if got is None or not (got == h["value"] if h.get("type", "Exact") == "Exact"
                               else re.fullmatch(h["value"], got)):
            return None
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if pair:
            name, _, got = pair.partition("=")
            params.setdefault(unquote(name), unquote(got))
    for q in match.get("queryParams") or []:
        got = params.get(q["name"])
        if got is None or not (got == q["value"] if q.get("type", "Exact") == "Exact"
                               else re.fullmatch(q["value"], got)):
            return None
    return (*rank, 0 if match.get("method") else 1, -len(match.get("headers") or []),
            -len(match.get("queryParams") or []), stem)


def _modify(headers: dict[str, str], spec: Obj, request: bool = True) -> None:
    """An HTTPHeaderFilter as Istio converts it (conversion.go ``headerListToMap``: names lower-cased, the first of
    equivalent names kept) and Envoy applies it (route.go ``TranslateHeadersOperations``; Envoy removes before it
    adds): ``remove`` deletes, ``set`` replaces (OVERWRITE_IF_EXISTS_OR_ADD), ``add`` appends to a header already
    there (APPEND_IF_EXISTS_OR_ADD, read as one comma-joined value). ``host`` is Envoy's authority: in a request's
    set or add it rewrites the Host, and it is otherwise left alone (``isInternalHeader``)."""
    def key(name: str) -> str | None:
        return next((k for k in headers if k.lower() == name.lower()), None)

    def first(entries: list[Obj]) -> dict[str, str]:
        out: dict[str, str] = {}
        for h in entries:
            name = h["name"].lower()
            if request or name != "host":
                out.setdefault(name, h["value"])
        return out

    for name in spec.get("remove") or []:
        if name.lower() != "host" and not name.startswith(":"):
            headers.pop(key(name) or name, None)
    for name, value in first(spec.get("set") or []).items():
        headers.pop(key(name) or name, None)
        headers["Host" if name == "host" else name] = value
    for name, value in first(spec.get("add") or []).items():
        found = key(name)
        headers[found or ("Host" if name == "host" else name)] = (
            f"{headers[found]},{value}" if found and name != "host" else value)


def _rewrite(req: HttpRequest, spec: Obj, prefix: str | None) -> None:
    """URLRewrite as Istio converts it (conversion.go ``createRewriteFilter``, route.go
    ``applyHTTPRouteDestination``): ``hostname`` rewrites the Host; ``ReplaceFullPath`` is a regex rewrite of
    ``/.*`` (the whole path, the query string kept); ``ReplacePrefixMatch`` is Envoy's ``prefix_rewrite`` of the
    matched prefix with the replacement less one trailing ``/`` — and a replacement of ``/`` becomes the regex
    rewrite ``^PREFIX(/?)(.*)`` → ``/\\2``, which strips the prefix and keeps a leading ``/``."""
    if spec.get("hostname"):
        for k in [k for k in req.headers if k.lower() == "host"]:
            del req.headers[k]
        req.headers["Host"] = req.host = spec["hostname"]
    path = spec.get("path") or {}
    head, sep, query = req.path.partition("?")
    if path.get("type") == "ReplaceFullPath":
        head = path.get("replaceFullPath", "/")
    elif path.get("type") == "ReplacePrefixMatch" and prefix is not None:
        uri = (path.get("replacePrefixMatch") or "").removesuffix("/") or "/"
        if uri == "/":
            found = re.match(f"^{re.escape('' if prefix == '/' else prefix)}(/?)(.*)", head)
            head = "/" + (found.group(2) if found else head.lstrip("/"))
        else:
            head = uri + head[len(prefix):]
    req.path = head + sep + query


def _request_host(req: HttpRequest, scheme: str, port: int | None) -> str:
    """Envoy's ``processRequestHost``: the request's Host, less its port when the redirect writes a port, or when
    the scheme changes and the port is the request scheme's default."""
    host = next((v for k, v in req.headers.items() if k.lower() == "host"), "") or req.host
    end = (host.rfind("]:") + 1 if host.rfind("]:") >= 0 else 0) if host.startswith("[") else host.rfind(":")
    if end > 0:
        request_port = host[end:]
        proto = req.scheme or "http"
        strip = port is not None or (scheme != proto and ((proto == "https" and request_port == ":443")
                                                          or (proto == "http" and request_port == ":80")))
        if strip:
            return host[:end]
    return host


def _duration(text: str | None) -> float | None:
    """A Gateway API Duration (``10s``, ``500ms``, ``1m``, ``1h``); 0 means no timeout."""
    if not text:
        return None
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|h|m|s)", text):
        total += int(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total or None


def _strings(values: list[str], got: str) -> bool:
    from .authz import StringMatch

    return any(StringMatch.of(v).matches(got) for v in values)


def _rule_matches(rule: Obj, req: HttpRequest, peer: str, conn: Connection, sp: Obj) -> bool:
    """Istio's rule semantics: from (any source), to (any operation), when (all conditions), all three must hold."""
    ns = peer.split("/ns/", 1)[1].split("/", 1)[0] if "/ns/" in peer else ""
    principal = peer.removeprefix("spiffe://")
    for_from = rule.get("from") or []
    if for_from and not any(_source(f.get("source") or {}, principal, ns, conn) for f in for_from):
        return False
    to = rule.get("to") or []
    if to and not any(_operation(t.get("operation") or {}, req, sp) for t in to):
        return False
    return all(_condition(c, req, principal, ns, conn, sp) for c in rule.get("when") or [])


def _either(values: list[str] | None, nots: list[str] | None, got: str) -> bool:
    return (not values or _strings(values, got)) and not (nots and _strings(nots, got))


def _ip_in(blocks: list[str], ip: str) -> bool:
    import ipaddress

    for b in blocks:
        try:
            if ipaddress.ip_address(ip) in ipaddress.ip_network(b, strict=False):
                return True
        except ValueError:
            continue
    return False


def _source(s: Obj, principal: str, ns: str, conn: Connection) -> bool:
    if s.get("requestPrincipals"):
        return False  # no JWT in the sandbox's requests: a request principal never matches
    if not principal and (s.get("principals") or s.get("namespaces")):
        return False
    ok = (_either(s.get("principals"), s.get("notPrincipals"), principal)
          and _either(s.get("namespaces"), s.get("notNamespaces"), ns))
    if s.get("ipBlocks") and not _ip_in(s["ipBlocks"], conn.client_ip):
        return False
    if s.get("notIpBlocks") and _ip_in(s["notIpBlocks"], conn.client_ip):
        return False
    return ok


def _operation(op: Obj, req: HttpRequest, sp: Obj) -> bool:
    path = req.path.partition("?")[0]
    host = (req.headers.get("Host") or req.host or "").lower()
    hosts = [h.lower() for h in op.get("hosts") or []]
    if hosts and not (_strings(hosts, host) or _strings(hosts, host.split(":")[0])):
        return False
    if op.get("notHosts") and _strings([h.lower() for h in op["notHosts"]], host.split(":")[0]):
        return False
    port = str(sp.get("port"))
    return (_either(op.get("methods"), op.get("notMethods"), req.method)
            and _either(op.get("paths"), op.get("notPaths"), path)
            and (not op.get("ports") or port in op["ports"]) and not (op.get("notPorts") and port in op["notPorts"]))


def _condition(c: Obj, req: HttpRequest, principal: str, ns: str, conn: Connection, sp: Obj) -> bool:
    key = c.get("key", "")
    m = re.fullmatch(r"request\.headers\[(.+)\]", key)
    if m:
        got = next((v for k, v in req.headers.items() if k.lower() == m.group(1).lower()), None)
        value = got or ""
        present = got is not None
        return (not c.get("values") or (present and _strings(c["values"], value))) and not (
            c.get("notValues") and present and _strings(c["notValues"], value))
    got = {"source.principal": principal, "source.namespace": ns, "destination.port": str(sp.get("port")),
           "source.ip": conn.client_ip}.get(key)
    if got is None:
        return False  # request.auth.* (no JWT) and keys the sandbox does not know never match
    if key == "source.ip":
        return (not c.get("values") or _ip_in(c["values"], got)) and not (
            c.get("notValues") and _ip_in(c["notValues"], got))
    return _either(c.get("values"), c.get("notValues"), got)


