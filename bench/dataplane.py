"""Benchmark 4: the sandbox's emulated data plane, driven as a lesson drives it (exec in an agnhost client pod).

1. Simulated requests per second: one exec of ``curl …/dial?…&tries=N`` in the client pod makes agnhost netexec
   (emulated) open N fresh HTTP connections to Service ``web`` (3 agnhost netexec pods). The clock covers the whole
   exec, the Python client's WebSocket included; the rate counts the responses in the returned JSON.
2. Exec round trip: ``hostname`` through ``traffic.exec_in``, p50 and p95.
3. ``traffic.send`` of 30 requests (one exec running a 30-curl shell loop), as in the lessons.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from .common import Result, log, private_env

NAMESPACE = "bench"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
REPLICAS = 3
DIAL_TRIES = (1000, 5000)
TARGET_RPS = 5000.0
EXEC_RUNS = 50
SEND_N = 30
SEND_RUNS = 3


def manifests() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NAMESPACE},
         "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                                        "args": ["netexec", "--http-port=8080"],
                                                        "ports": [{"containerPort": 8080, "name": "http"}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}},
    ]


def dial_command(tries: int) -> list[str]:
    url = f"http://localhost:8080/dial?request=hostname&protocol=http&host=web&port=80&tries={tries}"
    return ["sh", "-c", f"curl -s '{url}'"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run() -> list[Result]:
    from kubernetes.config import kube_config

    import k8snet
    from k8snet import traffic

    results: list[Result] = []
    with private_env() as env:
        # the kubernetes client reads KUBECONFIG once, at import: point it at the private env's file
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        t0 = time.perf_counter()
        cluster = k8snet.connect("sandbox")  # process.up in the private K8SNET_HOME; kubeconfig there too
        log(f"sandbox up and client connected in {time.perf_counter() - t0:.2f}s ({cluster.api.configuration.host})")
        t0 = time.perf_counter()
        cluster.apply(manifests())
        cluster.wait_ready("web", NAMESPACE, timeout=120)
        client = traffic.ensure_client(cluster, NAMESPACE)
        log(f"deployment web ({REPLICAS} agnhost pods), service web and client pod ready in "
            f"{time.perf_counter() - t0:.2f}s")
        traffic.exec_in(cluster, client, ["hostname"])  # warm up: first exec, first dial
        traffic.exec_in(cluster, client, dial_command(10))

        # 1. /dial throughput
        for tries in DIAL_TRIES:
            t0 = time.perf_counter()
            out = traffic.exec_in(cluster, client, dial_command(tries), timeout=600)
            seconds = time.perf_counter() - t0
            try:
                body = json.loads(out.stdout)
            except ValueError:
                body = {}
            responses = body.get("responses") or []
            errors = body.get("errors") or []
            per_pod: dict[str, int] = {}
            for r in responses:
                per_pod[r] = per_pod.get(r, 0) + 1
            rate = len(responses) / seconds if responses else None
            log(f"/dial tries={tries}: {len(responses)} responses, {len(errors)} errors in {seconds:.3f}s "
                f"({len(out.stdout):,} bytes of JSON); per pod {sorted(per_pod.values())}")
            note = f"{len(responses)}/{tries} responses in {seconds:.2f}s, one exec"
            if errors:
                note += f"; {len(errors)} errors"
            if not responses:
                note += f"; exit {out.exit_code}, stdout {out.stdout[:60]!r}, stderr {out.stderr[:60]!r}"
            results.append(Result(f"/dial via Service web, tries={tries}", rate, "req/s", TARGET_RPS, note,
                                  at_least=True))

        # 2. exec round trip
        samples = []
        for _ in range(EXEC_RUNS):
            t0 = time.perf_counter()
            traffic.exec_in(cluster, client, ["hostname"])
            samples.append((time.perf_counter() - t0) * 1000)
        log(f"exec hostname ×{EXEC_RUNS}: p50 {statistics.median(samples):.1f} ms, "
            f"p95 {percentile(samples, 95):.1f} ms, min {min(samples):.1f}, max {max(samples):.1f}")
        results.append(Result("exec `hostname` round trip, p50", statistics.median(samples), "ms",
                              note=f"{EXEC_RUNS} execs via traffic.exec_in; informational"))
        results.append(Result("exec `hostname` round trip, p95", percentile(samples, 95), "ms",
                              note=f"{EXEC_RUNS} execs via traffic.exec_in; informational"))

        # 3. traffic.send
        send_times = []
        counts: dict[str, int] = {}
        for _ in range(SEND_RUNS):
            t0 = time.perf_counter()
            res = traffic.send(cluster, client, "http://web/hostname", n=SEND_N)
            send_times.append(time.perf_counter() - t0)
            counts = res.counts()
        log(f"traffic.send n={SEND_N}: {[f'{s:.3f}' for s in send_times]} s; last counts {counts}")
        results.append(Result(f"traffic.send, {SEND_N} requests", statistics.median(send_times) * 1000, "ms",
                              note=f"median of {SEND_RUNS}; {sum(counts.values())} answered; informational"))
    return results
