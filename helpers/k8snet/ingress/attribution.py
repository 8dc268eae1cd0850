"""Which Ingress rule, Service and pod answered a request from outside — the same way on both backends.

Two sources, both reached through the Kubernetes API only:

- the objects: Ingresses, IngressClasses, Services, EndpointSlices, Middlewares, TLSOptions and the TLS Secrets,
  turned into Traefik's routers by a port of its Kubernetes providers (:mod:`k8snet.ingress.traefik.routes`,
  after Traefik v3.7's ``loadConfigurationFromIngresses``; it reads a store, here one answered by the API),
  and matched as Traefik's muxer matches them (``traefik.match``: rule priority, ``Host``, paths);
- Traefik's access log (``kubectl logs -n traefik deploy/traefik``): its common format names, per request, the
  router that matched and the server URL the load balancer chose
  (https://doc.traefik.io/traefik/v3.7/reference/install-configuration/observability/logs-and-accesslogs/), and
  the server's address is an EndpointSlice endpoint, whose ``targetRef`` is the pod.

Each request carries a ``User-Agent`` that names it, so its log line is found again; where no line is found
(a backend that is not Traefik, access logs switched off for a router) the rule comes from the objects alone,
the pod from the body when the backend names itself (agnhost ``/hostname``), and the row says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kubernetes.client.exceptions import ApiException

from .. import traefik_config
from .traefik.match import canonical_host, routing_path, sanitize_path
from .traefik.routes import PROVIDER, Configuration, LBService, Router
from .traefik.routes import load as load_configuration

if TYPE_CHECKING:
    from ..cluster import Cluster

RESOURCES: dict[str, tuple[str, str]] = {
    "ingresses.networking.k8s.io": ("networking.k8s.io/v1", "Ingress"),
    "ingressclasses.networking.k8s.io": ("networking.k8s.io/v1", "IngressClass"),
    "services": ("v1", "Service"),
    "endpointslices.discovery.k8s.io": ("discovery.k8s.io/v1", "EndpointSlice"),
    "secrets": ("v1", "Secret"),
    "nodes": ("v1", "Node"),
    "middlewares.traefik.io": ("traefik.io/v1alpha1", "Middleware"),
    "tlsoptions.traefik.io": ("traefik.io/v1alpha1", "TLSOption"),
}
"""The resources Traefik's Kubernetes providers read (group resource → apiVersion, kind)."""


class ApiStore:
    """``list`` and ``get`` as the sandbox's store answers them, from the cluster's API (each list fetched once)."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self._lists: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self._objects: dict[tuple[str, str, str], dict[str, Any] | None] = {}

    def _resource(self, resource: str) -> Any:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        api_version, kind = RESOURCES[resource]
        try:
            return self.cluster.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:  # e.g. Traefik's CRDs are not installed: nothing of that kind
            return None

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        key = (resource, namespace)
        if key not in self._lists:
            res = self._resource(resource)
            items: list[dict[str, Any]] = []
            if res is not None:
                try:
                    items = [i.to_dict() for i in res.get(namespace=namespace).items]
                except ApiException as exc:
                    if exc.status not in (403, 404):
                        raise
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            self._lists[key] = items
        return self._lists[key]

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        for ns in (namespace, None):
            if (resource, ns) in self._lists:
                return next((o for o in self._lists[(resource, ns)] if o["metadata"]["name"] == name and
                             o["metadata"].get("namespace", "") == namespace), None)
        key = (resource, namespace, name)
        if key not in self._objects:
            res = self._resource(resource)
            obj = None
            if res is not None:
                try:
                    obj = res.get(name=name, namespace=namespace).to_dict()
                except ApiException as exc:
                    if exc.status not in (403, 404):
                        raise
            self._objects[key] = obj
        return self._objects[key]


class ApiView:
    """What the provider port (:mod:`.traefik`) reads as ``sb``: a store."""

    def __init__(self, cluster: Cluster):
        self.store = ApiStore(cluster)


@dataclass
class Route:
    """One router on one entrypoint, named as Traefik's access log names it."""

    name: str
    entrypoint: str
    tls: bool
    router: Router
    service: LBService | None

    @property
    def ingress(self) -> str:
        return f"{self.router.ingress[0]}/{self.router.ingress[1]}"

    @property
    def service_name(self) -> str:
        """``namespace/service:port``, the Service port the rule sends to."""
        if self.service is None:
            return self.router.backend
        port = self.service.port.get("port")
        return f"{self.service.namespace}/{self.service.service}:{port}"

    def pod_of(self, server_url: str) -> str | None:
        """The pod behind one of this route's servers (None: not an endpoint, e.g. nativeLB's ClusterIP)."""
        for server in self.service.servers if self.service else []:
            if server.url == server_url and server.pod:
                return server.pod.split("/", 1)[-1]
        return None

    def pods(self) -> list[str]:
        """The pods this route's servers are (serving endpoints), sorted."""
        return sorted({s.pod.split("/", 1)[-1] for s in (self.service.servers if self.service else []) if s.pod})


class Routing:
    """Traefik's routers per entrypoint, in the order its muxer tries them (highest priority, then name)."""

    def __init__(self, conf: Configuration):
        self.conf = conf
        self.routes: dict[str, list[Route]] = {}
        for ep in traefik_config.ENTRYPOINTS:
            model = ep in traefik_config.TLS_ENTRYPOINTS
            routes = []
            for router in conf.routers.values():
                if ep not in router.entrypoints:
                    continue
                name = f"{ep}-{router.name}" if model and len(router.entrypoints) > 1 else router.name
                routes.append(Route(f"{name}@{PROVIDER}", ep, router.tls or model, router,
                                    conf.services.get(router.service)))
            routes.sort(key=lambda r: (-r.router.priority, r.name))
            self.routes[ep] = routes
        self.by_name = {r.name: r for routes in self.routes.values() for r in routes}

    @classmethod
    def read(cls, cluster: Cluster) -> Routing:
        """The routers the cluster's objects make now."""
        return cls(load_configuration(ApiView(cluster)))

    def match(self, entrypoint: str, tls: bool, host: str, target: str) -> Route | None:
        """The router Traefik would choose for a request (None: its 404)."""
        path = urlsplit(target).path or "/"
        routing = routing_path(sanitize_path(path))
        if routing is None:
            return None
        want = canonical_host(host)
        for route in self.routes.get(entrypoint, []):
            if route.tls == tls and route.router.rule.matches(want, routing):
                return route
        return None


# -- Traefik's access log ------------------------------------------------------------------------------------

_Q = r'"(?:[^"\\]|\\.)*"|-'
LINE = re.compile(rf'^(?P<client>\S+) - (?P<user>\S+) \[(?P<time>[^\]]*)\] "(?P<method>\S+) (?P<path>\S*) '
                  rf'(?P<proto>[^"]*)" (?P<status>\d+) (?P<size>\S+) (?P<referer>{_Q}) (?P<ua>{_Q}) (?P<count>\d+) '
                  rf'(?P<router>{_Q}) (?P<server>{_Q}) (?P<ms>\d+)ms$')


@dataclass
class LogLine:
    """One access-log line: what Traefik did with one request."""

    method: str
    path: str
    status: int
    user_agent: str
    router: str
    server: str


def _unquote(field: str) -> str:
    if field in ("-", '"-"'):
        return ""
    return field[1:-1].replace('\\"', '"') if field.startswith('"') else field


def parse_access_log(text: str) -> list[LogLine]:
    """The access-log lines of a Traefik container's log (its own INF/WRN/ERR lines are skipped)."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if m:
            out.append(LogLine(m["method"], m["path"], int(m["status"]), _unquote(m["ua"]), _unquote(m["router"]),
                               _unquote(m["server"])))
    return out


def access_log(cluster: Cluster, since_seconds: float, lines: int) -> list[LogLine]:
    """The newest access-log lines of every Traefik pod (``since_seconds`` back, at most ``lines`` per pod)."""
    selector = ",".join(f"{k}={v}" for k, v in traefik_config.LABELS.items())
    try:
        pods = cluster.core.list_namespaced_pod(traefik_config.NAMESPACE, label_selector=selector).items
    except ApiException:
        return []
    out: list[LogLine] = []
    for pod in pods:
        try:
            text = cluster.core.read_namespaced_pod_log(pod.metadata.name, traefik_config.NAMESPACE,
                                                        container=traefik_config.NAME, tail_lines=lines,
                                                        since_seconds=max(1, math.ceil(since_seconds)))
        except ApiException:
            continue
        out += parse_access_log(text or "")
    return out
