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


MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"


def middlewares(cluster: Cluster, ingress: str) -> list[str]:
    """The Middlewares an Ingress's router runs, in order, as ``name (kind)``: the annotation names them as
    ``<namespace>-<name>@kubernetescrd`` (Traefik's provider reference), the CRs say what each one is."""
    ns, _, name = ingress.partition("/")
    if not name:
        return []
    try:
        obj = cluster.get("Ingress", name, ns, api_version="networking.k8s.io/v1")
    except Exception:  # noqa: BLE001  (gone since the request: draw without the chain)
        return []
    refs = [r.strip() for r in ((obj["metadata"].get("annotations") or {}).get(MIDDLEWARES) or "").split(",")]
    out = []
    for ref in filter(None, refs):
        full = ref.split("@", 1)[0]
        # a namespace may hold dashes: try the Ingress's own namespace first, then each split of the reference
        splits = [(ns, full[len(ns) + 1:])] if full.startswith(ns + "-") else []
        splits += [(full[:i], full[i + 1:]) for i, ch in enumerate(full) if ch == "-"]
        out.append(next((f"{mw} ({', '.join(spec)})" for mw_ns, mw in splits
                         for spec in [_middleware_spec(cluster, mw_ns, mw)] if spec is not None),
                        f"{full} (not found)"))
    return out


def _middleware_spec(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return cluster.get("Middleware", name, namespace, api_version="traefik.io/v1alpha1").get("spec") or {}
    except Exception:  # noqa: BLE001  (no such Middleware there)
        return None


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
    answered = next((pod for pod in row.answered if pod not in ("Traefik", "unknown", "no answer")), None)
    status = next(iter(row.statuses), None)
    if row.rule:
        hops.append({"kind": "ingress", "summary": f"router {row.rule}, from Ingress {row.ingress}", "detail": {}})
        chain = middlewares(cluster, row.ingress or "")
        if chain:
            ended = "" if answered else f" — one of them answered {status} itself"
            hops.append({"kind": "middleware", "summary": "in order: " + "; ".join(chain) + ended, "detail": {}})
    else:
        hops.append({"kind": "error", "summary": "no router matches: Traefik answers 404 itself", "detail": {}})
    if row.service and answered:  # no pod answered: a middleware (or the router's absence) ended it first
        ns, _, rest = row.service.partition("/")
        name = rest.split(":", 1)[0]
        endpoints = [e["pod"] for e in traffic.endpoints_of(cluster, ns, name) if e.get("ready")]
        hops.append({"kind": "service", "summary": f"Service {row.service}: Traefik picks one of its ready "
                                                   "endpoints itself (its own load balancer; kube-proxy is not on "
                                                   "this hop)", "detail": {"candidates": endpoints,
                                                                           "chosen": answered}})
    if answered:
        hops.append({"kind": "pod", "summary": f"{answered} answered {status}", "detail": {}})
    elif isinstance(status, int):
        hops.append({"kind": "traefik", "summary": f"Traefik answered {status} itself; no pod was asked",
                     "detail": {}})
    elif status is not None:
        hops.append({"kind": "error", "summary": f"no answer: {status}", "detail": {}})
    trace = Trace("this notebook", url, cluster.backend, False, hops, status if isinstance(status, int) else None,
                  answered)
    trace.origin = f"this notebook, on the machine that runs JupyterLab ({where.host})"
    trace.how = "from the API and Traefik's access log"
    return trace
