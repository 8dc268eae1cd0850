"""The mesh's standard telemetry: what ztunnel and the waypoint's Envoy count, and ztunnel's access log.

Sources: istio.io "Istio Standard Metrics" (the metric names and labels); istio/ztunnel src/proxy/metrics.rs
(``istio_tcp_connections_opened/closed``, ``istio_tcp_sent_bytes``/``received_bytes`` with ``reporter``
``source``/``destination``, ``response_flags`` ``-``/``DENY``/``CONNECT``, ``connection_security_policy``
``mutual_tls``/``unknown``, "unknown" for a missing value; the access log's ``connection complete`` line) and
src/metrics.rs (served under the ``istio_`` prefix in OpenMetrics text, ``# EOF`` last); Istio's Envoy stats
for waypoints (``istio_requests_total``, ``istio_request_duration_milliseconds`` with Envoy's default buckets,
``istio_request_bytes``/``istio_response_bytes``, ``reporter="waypoint"``, Prometheus text on port 15090).

Workload labels are istiod's: the workload is the pod's Deployment (through its ReplicaSet) or the pod; the
canonical service and revision come from ``service.istio.io/canonical-name|revision``, then
``app.kubernetes.io/name|version``, then ``app``/``version``, else the workload name and ``latest``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .pods import identity

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]

BUCKETS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
           3600000)
"""Envoy's default histogram buckets (source/common/stats/histogram_impl.h), in milliseconds for Istio."""
TCP_LABELS = ("reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
              "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
              "destination_service", "destination_service_namespace", "destination_service_name",
              "destination_workload", "destination_canonical_service", "destination_canonical_revision",
              "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
              "destination_cluster", "request_protocol", "response_flags", "connection_security_policy")
"""ztunnel's CommonTrafficLabels, in its order."""
HTTP_LABELS = ("reporter", "source_workload", "source_canonical_service", "source_canonical_revision",
               "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
               "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
               "destination_version", "destination_service", "destination_canonical_service",
               "destination_canonical_revision", "destination_service_name", "destination_service_namespace",
               "destination_cluster", "request_protocol", "response_code", "grpc_response_status", "response_flags",
               "connection_security_policy")
"""The standard labels of Istio's HTTP metrics, in the order Envoy's stats filter writes them."""
INF = 'le="+Inf"'
CLUSTER = "Kubernetes"
"""The cluster id istiod gives workloads by default (``values.global.multiCluster.clusterName``)."""
TCP_HELP = {
    "tcp_connections_opened": "The total number of TCP connections opened",
    "tcp_connections_closed": "The total number of TCP connections closed",
    "tcp_received_bytes": "The size of total bytes received during request in case of a TCP connection",
    "tcp_sent_bytes": "The size of total bytes sent during response in case of a TCP connection",
}


def workload_labels(sb: Sandbox, pod: Obj | None, side: str) -> dict[str, str]:
    """The ``source_*`` or ``destination_*`` workload labels of a pod, as istiod derives them."""
    if pod is None:
        return {}
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    workload = meta["name"]
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "ReplicaSet":
            rs = sb.store.get("replicasets.apps", meta["namespace"], ref["name"])
            owner = next((r for r in ((rs or {}).get("metadata") or {}).get("ownerReferences") or []
                          if r.get("controller") and r.get("kind") == "Deployment"), None)
            workload = owner["name"] if owner else ref["name"]
        elif ref.get("controller"):
            workload = ref["name"]
    canonical = (labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name")
                 or labels.get("app") or workload)
    revision = (labels.get("service.istio.io/canonical-revision") or labels.get("app.kubernetes.io/version")
                or labels.get("version") or "latest")
    return {f"{side}_workload": workload, f"{side}_canonical_service": canonical,
            f"{side}_canonical_revision": revision, f"{side}_workload_namespace": meta["namespace"],
            f"{side}_principal": identity(pod), f"{side}_app": canonical, f"{side}_version": revision,
            f"{side}_cluster": CLUSTER}


def service_labels(svc: Obj | None) -> dict[str, str]:
    if svc is None:
        return {}
    meta = svc["metadata"]
    return {"destination_service": f"{meta['name']}.{meta['namespace']}.svc.cluster.local",
            "destination_service_name": meta["name"], "destination_service_namespace": meta["namespace"]}


def _key(names: tuple[str, ...], values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((n, str(values.get(n) or "unknown")) for n in names)


def _labels(key: tuple[tuple[str, str], ...], extra: str = "") -> str:
    body = ",".join(f'{k}="{v}"' for k, v in key)
    return "{" + body + (("," if body else "") + extra if extra else "") + "}"


class Telemetry:
    """Counters per proxy pod (by uid), so each ztunnel and each waypoint pod serves its own numbers."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = defaultdict(
            lambda: defaultdict(float))
        self.histograms: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], list[float]]] = defaultdict(dict)

    def forget(self, uid: str) -> None:
        self.counters.pop(uid, None)
        self.histograms.pop(uid, None)

    def tcp(self, proxy: Obj, labels: dict[str, str], sent: int, received: int, closed: bool = True) -> None:
        """One connection through a ztunnel, counted as it reports it."""
        key = _key(TCP_LABELS, labels)
        mine = self.counters[proxy["metadata"]["uid"]]
        mine[("tcp_connections_opened", key)] += 1
        if closed:
            mine[("tcp_connections_closed", key)] += 1
        mine[("tcp_sent_bytes", key)] += sent
        mine[("tcp_received_bytes", key)] += received

    def request(self, proxy: Obj, labels: dict[str, str], duration_ms: float, request_bytes: int,
                response_bytes: int) -> None:
        """One HTTP request through a waypoint."""
        key = _key(HTTP_LABELS, labels)
        uid = proxy["metadata"]["uid"]
        self.counters[uid][("istio_requests_total", key)] += 1
        for name, value in (("istio_request_duration_milliseconds", duration_ms),
                            ("istio_request_bytes", float(request_bytes)),
                            ("istio_response_bytes", float(response_bytes))):
            hist = self.histograms[uid].setdefault((name, key), [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    hist[i] += 1
            hist[len(BUCKETS)] += value  # sum
            hist[len(BUCKETS) + 1] += 1  # count

    def text(self, proxy: Obj, program: str) -> str:
        """What a proxy's metrics page adds to its build info: ztunnel's counters, or the waypoint's."""
        if program == "ztunnel":
            return self.ztunnel_text(proxy)
        if program == "waypoint":
            return self.envoy_text(proxy)
        return ""

    def ztunnel_text(self, proxy: Obj) -> str:
        """``GET :15020/metrics`` of a ztunnel: OpenMetrics text, the istio_ prefix, ``_total`` counters."""
        mine = self.counters.get(proxy["metadata"]["uid"], {})
        out = []
        for name, help_text in TCP_HELP.items():
            out += [f"# HELP istio_{name} {help_text}.", f"# TYPE istio_{name} counter"]
            out += [f"istio_{name}_total{_labels(key)} {int(v)}" for (n, key), v in sorted(mine.items()) if n == name]
        out.append("# EOF")
        return "\n".join(out) + "\n"

    def envoy_text(self, proxy: Obj) -> str:
        """``GET :15090/stats/prometheus`` of a waypoint: Prometheus text as Envoy writes it."""
        uid = proxy["metadata"]["uid"]
        out = ["# TYPE istio_requests_total counter"]
        out += [f"istio_requests_total{_labels(key)} {int(v)}"
                for (n, key), v in sorted(self.counters.get(uid, {}).items()) if n == "istio_requests_total"]
        hists = self.histograms.get(uid, {})
        for name in ("istio_request_bytes", "istio_request_duration_milliseconds", "istio_response_bytes"):
            out.append(f"# TYPE {name} histogram")
            for (n, key), hist in sorted(hists.items()):
                if n != name:
                    continue
                for i, bound in enumerate(BUCKETS):
                    le = 'le="' + f"{bound:.32g}" + '"'  # Envoy's "{0:.32g}": 0.5, 1, 3600000
                    out.append(f"{name}_bucket{_labels(key, le)} {int(hist[i])}")
                out.append(f"{name}_bucket{_labels(key, INF)} {int(hist[-1])}")
                out.append(f"{name}_sum{_labels(key)} {hist[len(BUCKETS)]:g}")
                out.append(f"{name}_count{_labels(key)} {int(hist[-1])}")
        return "\n".join(out) + "\n"
