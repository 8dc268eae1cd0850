"""Wait until Traefik routes by what the API holds now.

Traefik builds its routers from the objects it watches a moment after they change (its providers batch changes,
``providersThrottleDuration``), on kind and in the sandbox alike: a request sent right after an ``apply`` can
still meet the old routes. :func:`settle` makes "right after" safe: it points a probe Ingress (namespace
``traefik``, a host of its own) at a Service with no endpoints and waits until Traefik answers that host with
``503 no available server`` (``allowEmptyServices``) instead of ``404`` — a configuration that holds the probe
holds everything written before it. ``ingress.send`` calls it first.

Traefik's Gateway provider follows the API on its own, so while any HTTPRoute exists a second probe goes through
it: a Gateway and an HTTPRoute of the same name in ``traefik``, whose host Traefik answers ``500`` (the backendRef
has no EndpointSlices: ResolvedRefs=False, BackendNotFound) instead of ``404`` once it has loaded the route.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import TYPE_CHECKING

from .client import request_once
from .edge import edge

if TYPE_CHECKING:
    from ..cluster import Cluster

NAMESPACE = "traefik"
NAME = "k8snet-settle"
LABELS = {"app.kubernetes.io/managed-by": "k8snet", "app.kubernetes.io/component": "settle-probe"}
_ROUNDS = itertools.count(1)
_SETTLED: dict[int, str] = {}
"""Per cluster object: the API's resourceVersion when Traefik last caught up (one global counter, as etcd's)."""


def _revision(cluster: Cluster) -> str:
    """The API's current resourceVersion: a list's, which every write anywhere moves on."""
    return str(cluster.core.list_namespace(limit=1).metadata.resource_version)


def settle(cluster: Cluster, timeout: float = 10.0) -> float:
    """Block until Traefik's routers include every object written before this call; the seconds it took.

    Raises TimeoutError when Traefik has not caught up within ``timeout`` (is it running?
    ``kubectl get pods -n traefik``).

    Example:
        >>> cluster.apply(middleware)      # a new Middleware and its annotation
        >>> ingress.settle(cluster)        # Traefik has loaded them: the next request meets them
        0.12
    """
    started = time.monotonic()
    if _revision(cluster) == _SETTLED.get(id(cluster)):
        return 0.0  # nothing was written since the last settle: Traefik has it already
    round_ = f"{os.getpid()}-{next(_ROUNDS)}"
    probes = {f"settle-{round_}.k8snet.invalid": lambda status: status == 503}
    objects = [_service(), _ingress(next(iter(probes)))]
    if _gateway_api_in_use(cluster):
        gw_host = f"gw-settle-{round_}.k8snet.invalid"
        probes[gw_host] = lambda status: status != 404
        objects += _gateway_probe(gw_host)
    shown, cluster.show_kubectl = cluster.show_kubectl, False  # the probe is the helper's, not the learner's
    try:
        cluster.apply(objects)
    finally:
        cluster.show_kubectl = shown
    where = edge(cluster)
    while True:
        for host, loaded in list(probes.items()):
            try:
                answer = request_once(where.host, where.http_port, target="/", headers=[("Host", host)],
                                      timeout=2.0)
                if answer.status is not None and loaded(answer.status):
                    del probes[host]
            except (OSError, ValueError):
                pass  # Traefik not listening yet (starting): as a cluster whose ingress is not ready
        if not probes:
            _SETTLED[id(cluster)] = _revision(cluster)
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Traefik did not load a new route within {timeout:g} s: is it running? "
                               f"(kubectl get pods -n {NAMESPACE})")
        time.sleep(0.02)


def _service() -> dict:
    """A Service without a selector: no endpoints, so a router to it answers 503 once it exists."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": NAMESPACE,
                                                                "labels": dict(LABELS)},
            "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}


def _ingress(host: str) -> dict:
    backend = {"service": {"name": NAME, "port": {"number": 80}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"ingressClassName": "traefik",
                     "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                                  "backend": backend}]}}]}}


def _gateway_api_in_use(cluster: Cluster) -> bool:
    """Whether any HTTPRoute but the probe's exists (False where the Gateway API is not served)."""
    from .gateway import list_objects

    return any((r["metadata"].get("namespace"), r["metadata"]["name"]) != (NAMESPACE, NAME)
               for r in list_objects(cluster, "HTTPRoute"))


def _gateway_probe(host: str) -> list[dict]:
    """A Gateway with a listener for the probe hosts on the ``web`` entrypoint, and a route for this round's."""
    api = "gateway.networking.k8s.io/v1"
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)}
    return [{"apiVersion": api, "kind": "Gateway", "metadata": dict(meta),
             "spec": {"gatewayClassName": "traefik",
                      "listeners": [{"name": "web", "protocol": "HTTP", "port": 8000,
                                     "hostname": "*.k8snet.invalid"}]}},
            {"apiVersion": api, "kind": "HTTPRoute", "metadata": dict(meta),
             "spec": {"parentRefs": [{"name": NAME}], "hostnames": [host],
                      "rules": [{"backendRefs": [{"name": NAME, "port": 80}]}]}}]
