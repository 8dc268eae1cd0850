"""One request from the notebook through the edge to a pod, as the hop picture draws it: the edge port on this
machine, the NodePort kube-proxy sends to Traefik, the certificate Traefik picks by SNI (HTTPS), the router
that matched, the Service whose endpoints Traefik balances over itself, and the pod that answered.

Everything comes from the API and from what the request observably did (the routing table reads Traefik's
access log), so the same picture is drawn on kind and in the sandbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .. import traffic
from ..trace import Trace
from .certs import certificate
from .edge import edge
from .routing import routing_table

if TYPE_CHECKING:
    from ..cluster import Cluster

TRAEFIK_NAMESPACE = "traefik"


def path(cluster: Cluster, url: str, cacert: Any = None) -> Trace:
    """Send one request to ``url`` through the edge and explain its way, hop by hop (over HTTPS the
    certificate is checked against ``cacert`` when given; without it the request still goes through).

    Example:
        >>> ingress.path(cluster, "https://shop.example.test/").plot()
    """
    where = edge(cluster)
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    options: dict[str, Any] = {"cacert": cacert} if cacert is not None else {"verify": False} if tls else {}
    row = routing_table(cluster, [url], n=1, **options).rows[0]
    svc = cluster.get("Service", "traefik", TRAEFIK_NAMESPACE)
    entry = "websecure" if tls else "web"
    svc_port = next((p for p in svc["spec"]["ports"] if p.get("name") == entry), svc["spec"]["ports"][0])
    pods = [p.metadata.name for p in cluster.core.list_namespaced_pod(
        TRAEFIK_NAMESPACE, label_selector="app.kubernetes.io/name=traefik").items]
    into = "kind maps it to" if cluster.backend == "kind" else "the sandbox's edge forwards it to"
    hops: list[dict[str, Any]] = [
        {"kind": "edge", "summary": f"{where.host}, the edge's {'HTTPS' if tls else 'HTTP'} port (ingress.edge(cluster)."
                                    f"{'https' if tls else 'http'}_port) on this machine: {into} NodePort "
                                    f"{svc_port.get('nodePort')} on the cluster's nodes", "detail": {}},
        {"kind": "service", "summary": f"kube-proxy sends NodePort {svc_port.get('nodePort')} to Service "
                                       f"traefik/traefik, port {svc_port.get('port')} ({entry}): the Traefik pod "
                                       f"listens on its {entry} entrypoint", "detail": {"candidates": pods}},
    ]
    if tls:
        served = certificate(cluster, parts.hostname or "", cacert=cacert)
        sans = ", ".join(served.sans[:3]) + ("…" if len(served.sans) > 3 else "")
        hops.append({"kind": "tls", "summary": f"the client sent SNI {parts.hostname}; Traefik presented the "
                                               f"certificate {served.common_name or served.subject} (names: {sans}), "
                                               f"issued by {served.issuer}"
                                               + ("" if served.verified is None else
                                                  "; verified against the given CA" if served.verified else
                                                  f"; not trusted: {served.verify_error}"), "detail": {}})
    if row.rule:
        hops.append({"kind": "ingress", "summary": f"router {row.rule}, from Ingress {row.ingress}", "detail": {}})
    else:
        hops.append({"kind": "error", "summary": "no router matches: Traefik answers 404 itself", "detail": {}})
    answered = next((pod for pod in row.answered if pod not in ("Traefik", "unknown", "no answer")), None)
    if row.service:
        ns, _, rest = row.service.partition("/")
        name = rest.split(":", 1)[0]
        endpoints = [e["pod"] for e in traffic.endpoints_of(cluster, ns, name) if e.get("ready")]
        hops.append({"kind": "service", "summary": f"Service {row.service}: Traefik picks one of its ready "
                                                   "endpoints itself (its own load balancer; kube-proxy is not on "
                                                   "this hop)", "detail": {"candidates": endpoints,
                                                                           "chosen": answered}})
    status = next(iter(row.statuses), None)
    if answered:
        hops.append({"kind": "pod", "summary": f"{answered} answered {status}", "detail": {}})
    elif status is not None:
        hops.append({"kind": "error", "summary": f"no pod answered: {status}", "detail": {}})
    trace = Trace("this notebook", url, cluster.backend, False, hops, status if isinstance(status, int) else None,
                  answered)
    trace.origin = f"this notebook, on the machine that runs JupyterLab ({where.host})"
    trace.how = "from the API and Traefik's access log"
    return trace
