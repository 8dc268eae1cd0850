"""The mesh's numbers as an operator reads them: scrape the proxies, then golden metrics and who talked to whom.

Every ztunnel serves ``:15020/metrics`` and every waypoint ``:15020/stats/prometheus`` (its pods' ``prometheus.io``
annotations; Envoy's own page is ``:15090``; istio.io "Istio
Standard Metrics"); :func:`scrape` reads them through the API server's pod proxy, so the same code reads a kind
cluster and the sandbox. Counters only grow, so rates come from two scrapes: :func:`golden` turns the
difference into the golden signals per workload — requests, success rate, requests per second and latency
percentiles, interpolated inside the histogram's buckets as Prometheus's ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..table import Table

if TYPE_CHECKING:
    from ..cluster import Cluster

ISTIO_NAMESPACE = "istio-system"
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    """One line of Prometheus text: a name, its labels, its value, and the proxy pod it came from."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    proxy: str = ""

    def label(self, key: str) -> str:
        return dict(self.labels).get(key, "")


def parse(text: str, proxy: str = "") -> list[Sample]:
    """The samples of a Prometheus or OpenMetrics text page (comments and ``# EOF`` skipped)."""
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m is None or line.startswith("#"):
            continue
        labels = tuple((k, v.replace('\\"', '"').replace("\\\\", "\\")) for k, v in _LABEL.findall(m.group(2) or ""))
        try:
            out.append(Sample(m.group(1), labels, float(m.group(3)), proxy))
        except ValueError:
            continue
    return out


@dataclass
class Scrape:
    """Everything the mesh's proxies counted at one moment (``at``: seconds on this machine's monotonic clock)."""

    samples: list[Sample]
    at: float = field(default_factory=time.monotonic)

    def total(self, name: str, **match: str) -> float:
        return sum(s.value for s in self.samples if s.name == name and all(s.label(k) == v for k, v in match.items()))


def _proxies(cluster: Cluster) -> list[tuple[str, str, int, str]]:
    """(namespace, pod, port, path) of every running ztunnel and waypoint."""
    out = []
    for pod in cluster.core.list_namespaced_pod(ISTIO_NAMESPACE, label_selector="app=ztunnel").items:
        if pod.status.phase == "Running":
            out.append((ISTIO_NAMESPACE, pod.metadata.name, 15020, "metrics"))
    for pod in cluster.core.list_pod_for_all_namespaces(
            label_selector="gateway.networking.k8s.io/gateway-class-name=istio-waypoint").items:
        if pod.status.phase == "Running":
            out.append((pod.metadata.namespace, pod.metadata.name, 15020, "stats/prometheus"))
    return out


def scrape(cluster: Cluster) -> Scrape:
    """Read every ztunnel's and waypoint's metrics page now."""
    samples: list[Sample] = []
    for ns, name, port, path in _proxies(cluster):
        # raw bytes: ztunnel answers application/openmetrics-text, which the client does not decode
        raw = cluster.core.connect_get_namespaced_pod_proxy_with_path(f"{name}:{port}", ns, path,
                                                                      _preload_content=False)
        samples += parse(raw.data.decode(errors="replace"), f"{ns}/{name}")
    return Scrape(samples)


def _delta(before: Scrape, after: Scrape, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Per label set (summed over proxies), how much a counter grew between two scrapes."""
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for sign, scrape_ in ((-1, before), (1, after)):
        for s in scrape_.samples:
            if s.name == name:
                out[s.labels] = out.get(s.labels, 0.0) + sign * s.value
    return {k: v for k, v in out.items() if v}


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile: the bucket holding rank q·count, interpolated linearly inside it."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width if width else 0)
        lower_bound, lower_count = bound, count
    return buckets[-1][0]


@dataclass
class Golden:
    """One workload's golden signals between two scrapes."""

    workload: str
    requests: int
    success_rate: float | None
    rps: float
    p50: float | None
    p95: float | None
    p99: float | None
    codes: dict[str, int] = field(default_factory=dict)


def golden(before: Scrape, after: Scrape, by: str = "destination_workload") -> list[Golden]:
    """Per destination workload (or ``by`` another label): requests, success rate (non-5xx share), requests per
    second and p50/p95/p99 latency in milliseconds, from the waypoints' ``istio_requests_total`` and
    ``istio_request_duration_milliseconds``."""
    seconds = max(after.at - before.at, 1e-9)
    requests = _delta(before, after, "istio_requests_total")
    buckets = _delta(before, after, "istio_request_duration_milliseconds_bucket")
    groups: dict[str, Golden] = {}
    for labels, count in requests.items():
        key = dict(labels).get(by, "unknown")
        g = groups.setdefault(key, Golden(key, 0, None, 0.0, None, None, None))
        code = dict(labels).get("response_code", "")
        g.requests += int(count)
        g.codes[code] = g.codes.get(code, 0) + int(count)
    for key, g in groups.items():
        good = sum(n for code, n in g.codes.items() if not code.startswith("5"))
        g.success_rate = good / g.requests if g.requests else None
        g.rps = g.requests / seconds
        per_bound: dict[float, float] = {}
        for labels, count in buckets.items():
            d = dict(labels)
            if d.get(by, "unknown") == key:
                bound = math.inf if d["le"] == "+Inf" else float(d["le"])
                per_bound[bound] = per_bound.get(bound, 0.0) + count
        points = sorted(per_bound.items())
        g.p50, g.p95, g.p99 = (quantile(q, points) for q in (0.5, 0.95, 0.99))
    return sorted(groups.values(), key=lambda g: g.workload)


def golden_table(rows: list[Golden]) -> Table:
    """The golden signals as a table (latencies in ms; — where nothing was measured)."""
    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v:.1f}"
    return Table(["WORKLOAD", "REQUESTS", "SUCCESS", "P50 MS", "P95 MS", "P99 MS", "CODES"],
                 [[g.workload, str(g.requests), "—" if g.success_rate is None else f"{g.success_rate:.0%}", ms(g.p50),
                   ms(g.p95), ms(g.p99), " ".join(f"{c}×{n}" for c, n in sorted(g.codes.items()))] for g in rows])


@dataclass(frozen=True)
class Edge:
    """Who talked to whom, how often, and whether over mutual TLS (with the identities it carried); ``denied``:
    how many of those connections the destination's ztunnel closed for an authorization policy."""

    source: str
    destination: str
    connections: int
    mtls: bool
    source_principal: str
    destination_principal: str
    denied: int = 0


def edges(before: Scrape, after: Scrape) -> list[Edge]:
    """The service graph from the destination ztunnels' ``istio_tcp_connections_opened`` (reporter
    destination, so each connection counts once, at the side that accepted it), plus the source side for
    destinations outside the mesh. A connection counted with ``response_flags="DENY"`` (ztunnel's
    AuthorizationPolicyDenied) was closed by a policy: it counts among the edge's ``denied``."""
    opened = _delta(before, after, "istio_tcp_connections_opened_total")
    found: dict[tuple[str, str, bool, str, str], list[int]] = {}
    for labels, count in opened.items():
        d = dict(labels)
        src = f"{d.get('source_workload_namespace')}/{d.get('source_workload')}"
        dst = f"{d.get('destination_workload_namespace')}/{d.get('destination_workload')}"
        if d.get("reporter") == "source" and d.get("connection_security_policy") == "mutual_tls":
            continue  # counted again at the destination
        key = (src, dst, d.get("connection_security_policy") == "mutual_tls", d.get("source_principal", "unknown"),
               d.get("destination_principal", "unknown"))
        counts = found.setdefault(key, [0, 0])
        counts[0] += int(count)
        if d.get("response_flags") == "DENY":
            counts[1] += int(count)
    return [Edge(s, t, n, m, sp, dp, denied) for (s, t, m, sp, dp), (n, denied) in sorted(found.items())]


def identity_table(rows: list[Edge]) -> Table:
    """Who talked to whom, as which SPIFFE identity, plaintext or mTLS, and how many connections a policy
    denied."""
    return Table(["SOURCE", "DESTINATION", "CONNECTIONS", "DENIED", "SECURITY", "SOURCE IDENTITY",
                  "DESTINATION IDENTITY"],
                 [[e.source, e.destination, str(e.connections), str(e.denied), "mTLS" if e.mtls else "plaintext",
                   e.source_principal, e.destination_principal] for e in rows])


def as_dict(g: Golden) -> dict[str, Any]:
    return {"workload": g.workload, "requests": g.requests, "success_rate": g.success_rate, "rps": g.rps,
            "p50": g.p50, "p95": g.p95, "p99": g.p99, "codes": dict(g.codes)}
