"""Gateway API through the edge: which HTTPRoute rule, Service and pod answered a request, and the status the
controller wrote — read through the Kubernetes API, the same way on both backends.

Traefik's Gateway provider names each router after the route rule it came from
(pkg/provider/kubernetes/gateway/httproute.go, v3.7: ``provider.Normalize("httproute-<ns>-<name>-gw-<gateway ns>-
<gateway>-ep-<entrypoint>-<rule index>")`` and a hash of the rule text), and its access log names that router and
the server it chose, a pod address of one of the rule's ``backendRefs``. So a request's log line leads back to
the HTTPRoute, its rule, the Service and, through the Service's EndpointSlices, the pod.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from .result import Table

if TYPE_CHECKING:
    from ..cluster import Cluster

PROVIDER = "kubernetesgateway"
GROUP = "gateway.networking.k8s.io"
ENTRYPOINTS = ("web", "websecure")
"""The entrypoints a Gateway listener can be (port 8000 HTTP, 8443 HTTPS): Traefik names routers after them."""
_HASH = re.compile(r"-[0-9a-f]{16,}$")


def normalize(name: str) -> str:
    """Traefik's ``provider.Normalize``: every run of characters that are not letters or digits becomes one ``-``."""
    return "-".join(part for part in re.split(r"[^\w]|_", name) if part)


@dataclass
class Backend:
    """One ``backendRef`` of a rule: a Service port and its weight."""

    namespace: str
    service: str
    port: int
    weight: int

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass
class RouteRule:
    """One rule of one HTTPRoute, as attached to one Gateway listener (one Traefik router per match)."""

    namespace: str
    name: str
    index: int
    backends: list[Backend] = field(default_factory=list)
    resolved: dict[str, Any] | None = None  # the ResolvedRefs condition Traefik wrote for this parent

    @property
    def route(self) -> str:
        return f"HTTPRoute {self.namespace}/{self.name}"

    @property
    def rule(self) -> str:
        return f"rules[{self.index}]"


class GatewayRoutes:
    """The cluster's HTTPRoutes by Traefik router name, and their Services' endpoints by server URL."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.by_router: dict[str, RouteRule] = {}
        self._endpoints: dict[tuple[str, str], dict[str, str]] = {}  # (ns, service) → {"ip:port": pod}
        for route in list_objects(cluster, "HTTPRoute"):
            self._add(route)

    def _add(self, route: dict[str, Any]) -> None:
        meta, spec = route["metadata"], route.get("spec") or {}
        ns, name = meta.get("namespace", ""), meta["name"]
        statuses = (route.get("status") or {}).get("parents") or []
        for parent in spec.get("parentRefs") or []:
            gw_ns, gw = parent.get("namespace") or ns, parent.get("name", "")
            status = next((s for s in statuses if (s.get("parentRef") or {}).get("name") == gw and
                           ((s.get("parentRef") or {}).get("namespace") or ns) == gw_ns), {})
            resolved = next((c for c in status.get("conditions") or [] if c.get("type") == "ResolvedRefs"), None)
            for index, rule in enumerate(spec.get("rules") or []):
                backends = [Backend(ref.get("namespace") or ns, ref.get("name", ""), int(ref.get("port") or 0),
                                    int(ref.get("weight", 1))) for ref in rule.get("backendRefs") or []
                            if (ref.get("kind") or "Service") == "Service" and not ref.get("group")]
                for ep in ENTRYPOINTS:
                    key = normalize(f"httproute-{ns}-{name}-gw-{gw_ns}-{gw}-ep-{ep}-{index}")
                    self.by_router[key] = RouteRule(ns, name, index, backends, resolved)

    def rule_of(self, router: str) -> RouteRule | None:
        """The route rule behind a router name from the access log (``…@kubernetesgateway``)."""
        name, _, provider = router.partition("@")
        if provider != PROVIDER:
            return None
        return self.by_router.get(_HASH.sub("", name))

    def backend_of(self, rule: RouteRule, server_url: str) -> tuple[Backend | None, str | None]:
        """The backend (Service port) and pod a server URL of the rule's load balancer is."""
        address = server_url.split("://", 1)[-1].rstrip("/")
        for backend in rule.backends:
            pod = self._pods(backend.namespace, backend.service).get(address)
            if pod is not None:
                return backend, pod or None
        return None, None

    def _pods(self, ns: str, service: str) -> dict[str, str]:
        key = (ns, service)
        if key not in self._endpoints:
            found: dict[str, str] = {}
            for eps in list_objects(self.cluster, "EndpointSlice", ns, f"kubernetes.io/service-name={service}",
                             api_version="discovery.k8s.io/v1"):
                for port in eps.get("ports") or []:
                    for ep in eps.get("endpoints") or []:
                        pod = (ep.get("targetRef") or {}).get("name", "") if \
                            (ep.get("targetRef") or {}).get("kind") == "Pod" else ""
                        for ip in ep.get("addresses") or []:
                            found[f"{ip}:{port.get('port')}"] = pod
            self._endpoints[key] = found
        return self._endpoints[key]


def list_objects(cluster: Cluster, kind: str, namespace: str | None = None, label_selector: str | None = None,
          api_version: str = f"{GROUP}/v1") -> list[dict[str, Any]]:
    """Objects of a kind as dicts ([] when the kind is not served, e.g. no Gateway API CRDs on this cluster)."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    try:
        res = cluster.dynamic.resources.get(api_version=api_version, kind=kind)
        return [i.to_dict() for i in res.get(namespace=namespace, label_selector=label_selector).items]
    except (ResourceNotFoundError, ApiException):
        return []


# -- status: what kubectl get / describe show -----------------------------------------------------------------


def _learners(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without the helpers' own probe objects (``ingress.settle``'s Gateway and HTTPRoute)."""
    return [o for o in objects if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
            != "settle-probe"]


def _conditions(conditions: list[dict[str, Any]] | None) -> str:
    """``Accepted=True (Accepted)`` per condition, one per line."""
    return "\n".join(f"{c.get('type')}={c.get('status')} ({c.get('reason')})" for c in conditions or []) or \
        "no status yet"


def status(cluster: Cluster, namespace: str | None = None) -> Table:
    """The status conditions of the Gateways, their listeners and the HTTPRoutes (one row each), as the
    controller wrote them: what ``kubectl describe gateway,httproute`` shows, at notebook width.

    Example:
        >>> ingress.gateway_status(cluster, "store")
    """
    rows: list[list[str]] = []
    for gw in _learners(list_objects(cluster, "Gateway", namespace)):
        meta, st = gw["metadata"], gw.get("status") or {}
        rows.append([f"Gateway {meta['namespace']}/{meta['name']}", _conditions(st.get("conditions"))])
        for listener in st.get("listeners") or []:
            rows.append([f"  listener {listener.get('name')} · {listener.get('attachedRoutes', 0)} route(s)",
                         _conditions(listener.get("conditions"))])
    for route in _learners(list_objects(cluster, "HTTPRoute", namespace)):
        meta = route["metadata"]
        parents = (route.get("status") or {}).get("parents") or []
        for parent in parents or [{}]:
            ref = parent.get("parentRef") or {}
            where = f" → {ref.get('namespace') or meta['namespace']}/{ref['name']}" if ref else ""
            rows.append([f"HTTPRoute {meta['namespace']}/{meta['name']}{where}",
                         _conditions(parent.get("conditions"))])
    return Table(["object", "conditions (type=status (reason))"], rows,
                 f"Gateway API status{' in ' + namespace if namespace else ''}, as the controller wrote it")
