"""Follow one request hop by hop: DNS answer, Service and port, endpoint chosen (and why), policy, answering pod.

In the sandbox the data plane reports its own decisions (``/k8snet/admin/trace``).
On kind nothing reports them, so the path is reconstructed from API state (the
Service, its EndpointSlices) plus what the request observably did (the DNS
answer and the pod that answered), and the trace says it was reconstructed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kubernetes.client.exceptions import ApiException

from . import traffic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .cluster import Cluster


@dataclass
class Trace:
    """The hops of one request, and whether the data plane reported them or the helper reconstructed them."""

    source: str
    url: str
    backend: str
    reported: bool
    hops: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    answered_by: str | None = None
    error: str | None = None
    origin: str = ""  # what sent it, in words (default: the client pod)
    how: str = ""  # where the hops come from, in words (default: reported or reconstructed)

    def plot(self) -> Figure:
        from . import plots

        return plots.trace_picture(self)

    def _repr_html_(self) -> str:
        items = "".join(f"<li><b>{h['kind']}</b>: {h['summary']}</li>" for h in self.hops)
        how = "reported by the sandbox's data plane" if self.reported else "reconstructed from API state"
        return f"<p>{self.source} → {self.url} ({self.backend}, {how})</p><ol>{items}</ol>"


def trace(cluster: Cluster, source: traffic.PodRef, url: str) -> Trace:
    """Send one request from ``source`` to ``url`` and explain its path."""
    if cluster.backend == "sandbox":
        body = {"namespace": source.namespace, "pod": source.name, "url": url}
        cfg = cluster.api.configuration
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **{a["key"]: a["value"] for a in cfg.auth_settings().values() if a.get("in") == "header"}}
        response = cluster.api.call_api("POST", cfg.host + "/k8snet/admin/trace", headers, body)
        data = json.loads(response.read() if hasattr(response, "read") else response.data)
        return Trace(str(source), url, "sandbox", True, data.get("hops", []), data.get("status"),
                     data.get("answeredBy"), data.get("error"))
    return reconstruct(cluster, source, url)


def reconstruct(cluster: Cluster, source: traffic.PodRef, url: str) -> Trace:
    """Rebuild the path from API state and the observed answer (for clusters that report nothing)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    hops: list[dict[str, Any]] = []
    answer = traffic.nslookup(cluster, source, host)
    if answer.error:
        hops.append({"kind": "dns", "summary": f"{host}: {answer.error}", "detail": {}})
        return Trace(str(source), url, cluster.backend, False, hops, error=answer.error)
    hops.append({"kind": "dns", "summary": f"{host} → {', '.join(answer.addresses)} ({answer.canonical})",
                 "detail": {"addresses": answer.addresses, "name": answer.canonical}})
    svc = _service_for(cluster, answer.addresses[0]) if answer.addresses else None
    if svc is not None:
        sp = next((p for p in svc.spec.ports or [] if p.port == port), None)
        hops.append({"kind": "service", "summary": f"Service {svc.metadata.namespace}/{svc.metadata.name} "
                     f"port {port} → targetPort {sp.target_port if sp else '?'}",
                     "detail": {"service": svc.metadata.name, "namespace": svc.metadata.namespace}})
        eps = traffic.endpoints_of(cluster, svc.metadata.namespace, svc.metadata.name)
        ready = [e for e in eps if e["ready"]]
        hops.append({"kind": "endpoint", "summary": f"{len(ready)} ready endpoint(s) to choose from "
                     f"(kube-proxy picks one per connection; reconstructed, not reported)",
                     "detail": {"candidates": [e["pod"] for e in ready]}})
    result = traffic.send(cluster, source, url, n=1)
    req = result.requests[0] if result.requests else None
    if req and req.pod:
        hops.append({"kind": "pod", "summary": f"answered by {req.pod} (HTTP {req.status})",
                     "detail": {"pod": req.pod}})
    elif req:
        hops.append({"kind": "error", "summary": req.error or f"HTTP {req.status}", "detail": {}})
    return Trace(str(source), url, cluster.backend, False, hops, req.status if req else None,
                 req.pod if req else None, req.error if req else None)


def _service_for(cluster: Cluster, ip: str):
    try:
        services = cluster.core.list_service_for_all_namespaces().items
    except ApiException:
        return None
    return next((s for s in services if ip in (_cluster_ips(s.spec) or [s.spec.cluster_ip])), None)


def _cluster_ips(spec) -> list[str]:
    """``spec.clusterIPs``: the client's attribute is ``cluster_ips`` since kubernetes 35, ``cluster_i_ps`` before."""
    return getattr(spec, "cluster_ips", None) or getattr(spec, "cluster_i_ps", None) or []
