"""Benchmark 6: requests/s and latency through the sandbox's ingress edge, beside a trivial Python server.

The load comes from a second process (``bench/load.py``: asyncio, ``CONNECTIONS`` keep-alive connections, a fixed
duration, as wrk drives a server), so the sandbox process has its own core:

1. the floor: an aiohttp hello-world server in a third process, the same load — what one Python process
   serving HTTP does on this machine, so the edge's figure reads as a ratio of it;
2. the edge over HTTP to an http-echo backend (2 replicas) through an Ingress: the edge's relay, the real Traefik
   (routing, forwarded headers, round robin, access log) and the pod-network bridge into the data plane;
3. the same over HTTPS (Traefik's default certificate, TLS 1.3, sessions kept alive);
4. informational: HTTP with a new connection per request (how ``curl`` in a loop and ``ingress.send`` connect),
   the sandbox process's CPU time per request, and how long ``ingress.send`` takes for 20 requests back to back
   (the rate-limit lesson's burst must fit in well under 100 ms for its 10/10 split; see the README).

Each figure is the median of ``RUNS`` runs; the machine may be shared, so the spread is printed too.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from .common import Result, log, private_env, rss_mb

NAMESPACE = "bench-edge"
HOST = "echo.bench.test"
HTTP_ECHO = "hashicorp/http-echo:1.0.0"
TARGET_RPS = 2000.0
CONNECTIONS = 16
DURATION_S = 4.0
WARMUP_S = 1.0
RUNS = 3
SEND_N = 20
ROOT = Path(__file__).resolve().parent.parent


def manifests() -> list[dict[str, Any]]:
    labels = {"app": "echo"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": NAMESPACE},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "echo", "image": HTTP_ECHO,
                                                        "args": ["-text=hello", "-listen=:5678"],
                                                        "ports": [{"containerPort": 5678, "name": "http"}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": NAMESPACE},
         "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "echo", "namespace": NAMESPACE},
         "spec": {"rules": [{"host": HOST, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
             "service": {"name": "echo", "port": {"number": 80}}}}]}}]}},
    ]


def load(port: int, *args: str) -> dict[str, Any]:
    """One run of the load generator in its own process; its JSON report, with its own CPU time per request
    (``client_cpu_us``: its start-up included)."""
    cmd = [sys.executable, "-m", "bench.load", "--port", str(port), "--connections", str(CONNECTIONS),
           "--duration", str(DURATION_S), "--warmup", str(WARMUP_S), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=DURATION_S + WARMUP_S + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-300:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    spent = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    report["client_cpu_us"] = spent / max(report["total"], 1) * 1e6
    return report


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def series(label: str, port: int, *args: str, pid: int | None = None, traefik: int | None = None) -> dict[str, Any]:
    """``RUNS`` runs: the median run's figures, the spread, and (with ``pid``, ``traefik``) the sandbox's and the
    traefik process's CPU per request."""
    runs = []
    for _ in range(RUNS):
        before = cpu_seconds(pid) if pid else 0.0
        traefik_before = cpu_seconds(traefik) if traefik else 0.0
        report = load(port, *args)
        if pid:
            report["cpu_us"] = (cpu_seconds(pid) - before) / max(report["total"], 1) * 1e6
        if traefik:
            report["traefik_cpu_us"] = (cpu_seconds(traefik) - traefik_before) / max(report["total"], 1) * 1e6
        runs.append(report)
        log(f"{label}: {report['rps']:,.0f} req/s, p50 {report['p50_ms'] or 0:.2f} ms, p99 {report['p99_ms'] or 0:.2f} "
            f"ms, statuses {report['statuses']}, errors {report['errors'] or 'none'}")
    runs.sort(key=lambda r: r["rps"])
    median = dict(runs[len(runs) // 2])
    median["spread"] = f"{runs[0]['rps']:,.0f}–{runs[-1]['rps']:,.0f} req/s over {RUNS} runs"
    for key in ("cpu_us", "traefik_cpu_us", "client_cpu_us"):
        if all(key in r for r in runs):
            median[key] = statistics.median(r[key] for r in runs)
    return median


def floor_server() -> tuple[subprocess.Popen[str], int]:
    """The trivial server: aiohttp hello world on 127.0.0.1, any free port (printed on its first line)."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.edge", "floor-server"], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def serve_floor() -> None:
    import asyncio

    from aiohttp import web

    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="hello\n")

    async def main() -> None:
        server = web.Server(hello, access_log=None)
        srv = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0)
        print(srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def figures(name: str, m: dict[str, Any], target: float | None, floor: float | None = None) -> list[Result]:
    ratio = f"; {m['rps'] / floor:.0%} of the floor" if floor else ""
    note = f"{CONNECTIONS} keep-alive connections, {DURATION_S:g} s; {m['spread']}{ratio}"
    if m.get("errors"):
        note += f"; errors {m['errors']}"
    return [Result(f"{name}: requests/s", m["rps"], "req/s", target, note, at_least=True),
            Result(f"{name}: p50 latency", m["p50_ms"], "ms", note="informational"),
            Result(f"{name}: p99 latency", m["p99_ms"], "ms", note="informational")]


def measure() -> dict[str, Any]:
    """The edge's series on a private sandbox (its ingress: the real Traefik behind the pod-network bridge)."""
    from kubernetes.config import kube_config

    import k8snet
    from k8snet import ingress
    from k8snet.sandbox import process

    with private_env() as env:  # the edge on free ports, never a developer's 8080/8443
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        cluster = k8snet.connect("sandbox")
        running = process.status()
        assert running is not None and running.edge_http_port and running.edge_https_port
        cluster.apply(manifests())
        cluster.wait_ready("echo", NAMESPACE, timeout=120)
        where = ingress.edge(cluster)
        first = ingress.send(cluster, f"http://{HOST}/", n=2)
        log(f"sandbox pid {running.pid}, edge {where}; first answers {first.counts()} from {first.pods()}")
        pids = {"pid": running.pid, "traefik": traefik_pid(running.pid)}
        out: dict[str, Any] = {
            "http": series("edge HTTP", where.http_port, "--host-header", HOST, **pids),
            "https": series("edge HTTPS", where.https_port, "--host-header", HOST, "--tls", **pids),
            "fresh": series("edge HTTP, new connection per request", where.http_port, "--host-header", HOST,
                            "--fresh", **pids)}
        bursts = []
        for _ in range(5):
            r = ingress.send(cluster, f"http://{HOST}/", n=SEND_N)
            bursts.append(r.rows[-1].t + r.rows[-1].elapsed)
        log(f"ingress.send {SEND_N} back to back: {[f'{b * 1000:.0f} ms' for b in bursts]}")
        out["bursts"] = bursts
        child = traefik_pid(running.pid)
        out["traefik_rss"] = rss_mb(child)[0] if child else None
        return out


def traefik_pid(parent: int) -> int | None:
    """The sandbox's Traefik child (``pgrep -P``), if one runs."""
    found = subprocess.run(["pgrep", "-P", str(parent), "-x", "traefik"], capture_output=True, text=True)
    return int(found.stdout.split()[0]) if found.stdout.split() else None


def run() -> list[Result]:
    results: list[Result] = []
    proc, port = floor_server()
    try:
        floor = series("floor (aiohttp hello world)", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    results += figures("floor: aiohttp hello world, same load", floor, None)
    m = measure()
    http, https, fresh, bursts = m["http"], m["https"], m["fresh"], m["bursts"]
    results += figures("edge HTTP → Traefik → http-echo", http, TARGET_RPS, floor["rps"])
    results += figures("edge HTTPS → Traefik → http-echo", https, None, floor["rps"])
    results.append(Result("edge HTTP, a new connection per request", fresh["rps"], "req/s",
                          note=f"as curl in a loop; p50 {fresh['p50_ms']:.1f} ms; {fresh['spread']}; informational",
                          at_least=True))
    for label, series_ in (("HTTP", http), ("HTTPS", https), ("HTTP, new connections", fresh)):
        results.append(Result(f"sandbox CPU per request ({label})", series_["cpu_us"], "µs",
                              note="the sandbox process's user+system time / requests (the edge relay and the "
                                   "bridge; Traefik's own process not counted); informational"))
    for label, series_ in (("HTTP", http), ("HTTPS", https)):
        results.append(Result(f"traefik CPU per request ({label})", series_.get("traefik_cpu_us"), "µs",
                              note="the traefik process's user+system time / requests; informational"))
    for label, series_ in (("the floor", floor), ("edge HTTP", http), ("edge HTTPS", https)):
        results.append(Result(f"load generator CPU per request ({label})", series_["client_cpu_us"], "µs",
                              note="its user+system time / requests, start-up included: the sandbox, Traefik and "
                                   "it share the machine's cores; informational"))
    results.append(Result(f"ingress.send: {SEND_N} requests back to back", statistics.median(bursts) * 1000, "ms",
                          100.0, f"median of {len(bursts)}; a rateLimit burst's 10/10 split needs < 100 ms"))
    if m.get("traefik_rss"):
        results.append(Result("the traefik process's RSS", m["traefik_rss"], "MiB", note="after the load; informational"))
    return results


if __name__ == "__main__":
    if sys.argv[1:] == ["floor-server"]:
        serve_floor()
    else:
        print("usage: python -m bench.edge floor-server   (the benchmark itself: python -m bench edge)",
              file=sys.stderr)
        sys.exit(2)
