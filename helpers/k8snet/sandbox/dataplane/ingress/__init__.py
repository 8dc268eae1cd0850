"""Ingress in the sandbox: an emulated Traefik v3.7 behind the cluster's edge.

Parts, one job each: ``config`` (the pinned release, its objects and static options), ``annotation``,
``match`` (rules and matchers), ``routes`` (the providers: Ingresses, Services, Middlewares, TLSOptions →
routers and services), ``middlewares``, ``ratelimit``, ``htpasswd``, ``balancer``, ``tls`` (certificates,
options, ClientHello), ``engine`` (entrypoints, routing, proxying), ``accesslog``, ``program`` (the Traefik
container), ``admission`` (DefaultIngressClass), ``schemas`` (the Traefik CRDs' API schemas).

:class:`Ingress` is what the rest of the sandbox uses: the edge listener opens connections and hands it
requests, the ingress controller reads problems and the published address, and the emulated Traefik
container answers in-cluster requests through it.
"""

from __future__ import annotations

import ssl
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..model import Connection, HttpRequest, HttpResponse
from .accesslog import log_line
from .config import EDGE_CLIENT_IP, EDGE_NODE, LABELS, NAMESPACE, NODE_PORTS, PUBLISHED_SERVICE
from .exchange import Exchange, Headers, Reply, TlsInfo
from .match import canonical_host
from .routes import Configuration, Problem

if TYPE_CHECKING:
    from ...instance import Sandbox

__all__ = ["Ingress", "Problem", "Reply", "Exchange", "TlsInfo", "Headers"]

RECENT = 200
"""Edge exchanges kept for the helpers (what happened to the last requests from outside)."""


class Ingress:
    """The ingress side of one sandbox's data plane."""

    def __init__(self, sandbox: Sandbox, dataplane: Any):
        from .engine import Traefik

        self.sb = sandbox
        self.dp = dataplane
        self.traefik = Traefik(sandbox, dataplane)
        self._recent: deque[tuple[Any, ...]] = deque(maxlen=RECENT)

    # -- what the controller reads --------------------------------------------------------------------

    def configuration(self) -> Configuration:
        self.traefik.refresh()
        return self.traefik.conf

    def problems(self) -> list[Problem]:
        """Everything Traefik would log about each Ingress, and what the sandbox does not emulate."""
        return self.traefik.problems()

    def published_status(self) -> list[dict[str, Any]] | None:
        """updateIngressStatus with publishedService: the Service's load-balancer ingress (None: not yet)."""
        ns, name = PUBLISHED_SERVICE.split("/")
        svc = self.sb.store.get("services", ns, name)
        if svc is None:
            return None
        lb = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if not lb:
            return None
        out = []
        for entry in lb:
            item = {k: entry[k] for k in ("ip", "hostname") if entry.get(k)}
            if entry.get("ports"):
                item["ports"] = [{k: p[k] for k in ("port", "protocol", "error") if k in p} for p in entry["ports"]]
            out.append(item)
        return out

    def pods(self) -> list[dict[str, Any]]:
        """The Traefik pods (namespace ``traefik``, its Deployment's labels)."""
        return [p for p in self.sb.store.list("pods", NAMESPACE)
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in LABELS.items())]

    def log(self, level: str, message: str, at: datetime | None = None, **fields: str) -> None:
        """A line in every Traefik pod's log, in Traefik's own format."""
        when = at or self.sb.clock.now()
        for pod in self.pods():
            if (pod.get("status") or {}).get("podIP"):
                self.dp.logs.append(pod["metadata"]["uid"], "traefik", log_line(when, level, message, **fields))

    # -- the edge ------------------------------------------------------------------------------------

    def edge_connect(self, entrypoint: str) -> Connection:
        """A connection from the host to Traefik's nodePort on the control plane, as kind's port mapping makes it.

        kube-proxy chooses the Traefik pod and rewrites the source (Cluster traffic policy: the node's address),
        and NetworkPolicies in ``traefik`` apply. Raises NetError when nothing accepts it.
        """
        node_ip = self.dp.proxy.node_ips().get(EDGE_NODE, "")
        return self.dp.connect(None, node_ip, NODE_PORTS[entrypoint], "TCP", src_ip=EDGE_CLIENT_IP)

    def entrypoint_of(self, conn: Connection) -> str:
        program = self.dp.workloads.program(conn.dst_pod, "traefik")
        return (program.opts.get("entrypoints") or {}).get(conn.port, "web")

    def tls_context(self, conn: Connection, sni: str) -> tuple[ssl.SSLContext, TlsInfo] | None:
        """The SSL context (certificate by SNI, the options' client-certificate policy) for a handshake, or None."""
        entrypoint = self.entrypoint_of(conn)
        chosen = self.traefik.tls_for(entrypoint, sni)
        if chosen is None:
            return None
        options, cert = chosen
        return self.traefik.contexts.get(options, cert), TlsInfo(sni, options.name)

    def serve(self, conn: Connection, method: str, target: str, proto: str, headers: Headers, body: bytes,
              tls: TlsInfo | None) -> tuple[Reply, Exchange]:
        """One request on an edge connection."""
        return self.traefik.handle(pod=conn.dst_pod, entrypoint=self.entrypoint_of(conn), method=method,
                                   target=target, proto=proto, headers=headers, body=body,
                                   remote=(conn.client_ip, conn.client_port), tls=tls)

    def remember(self, ex: Exchange, reply: Reply) -> None:
        """Keep an edge exchange's outcome and trace for the helpers (bounded; turned into dicts when read)."""
        self._recent.append((ex.start or self.sb.clock.now(), ex.entrypoint, ex.scheme, ex.method, ex.host,
                             ex.request_uri, ex.tls.sni if ex.tls else None, reply.status, ex.router or None,
                             ex.service_url or None, None if reply.source == "traefik" else reply.source,
                             f"{ex.remote_ip}:{ex.remote_port}", ex.hops))

    @property
    def recent(self) -> list[dict[str, Any]]:
        """The last :data:`RECENT` edge exchanges, oldest first: outcome, router, server and hops of each."""
        keys = ("time", "entrypoint", "scheme", "method", "host", "uri", "sni", "status", "router", "server",
                "answeredBy", "client", "hops")
        return [{**dict(zip(keys, entry[:-1], strict=False)), "time": entry[0].isoformat(),
                 "hops": [h.to_dict() for h in entry[-1]]} for entry in self._recent]

    # -- in-cluster requests to the Traefik pod --------------------------------------------------------

    def serve_http(self, pod: dict[str, Any], container: str, program: Any, conn: Connection, req: HttpRequest,
                   now: datetime) -> HttpResponse:
        """The Traefik container answering a pod's request (``curl http://traefik.traefik``)."""
        entrypoint = (program.opts.get("entrypoints") or {}).get(conn.port, "web")
        tls = None
        if req.scheme == "https":
            host = canonical_host(next((v for k, v in req.headers.items() if k.lower() == "host"), req.host))
            chosen = self.traefik.tls_for(entrypoint, host)
            tls = TlsInfo(host, chosen[0].name if chosen else "default")
        headers = Headers(req.headers)
        if "Host" not in headers and req.host:
            headers.set("Host", req.host)
        reply, ex = self.traefik.handle(pod=pod, entrypoint=entrypoint, method=req.method, target=req.path,
                                        proto="HTTP/1.1", headers=headers, body=req.body,
                                        remote=(conn.client_ip, conn.client_port), tls=tls)
        return HttpResponse(reply.status, reply.headers.as_dict(), reply.body, hops=ex.hops)
