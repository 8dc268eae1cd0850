"""Benchmark 10: the ambient mesh's data path (README "The mesh's data path (sandbox)"), driven as benchmark 4 drives
the plain one: one exec of ``curl …/dial?…&tries=N`` in an agnhost client pod, whose emulated netexec opens N fresh
HTTP connections to Service ``web`` (3 agnhost netexec pods), on a private sandbox with ``k8snet.mesh.install(cluster,
"istio")``.

1. Requests per second three ways, the same pods each time: the namespace outside the mesh (kube-proxy, policy, the
   pod), enrolled (``istio.io/dataplane-mode=ambient``: every connection is captured by the client's ztunnel and
   carried over the emulated HBONE to the destination's ztunnel, mTLS identities and L4 authorization included),
   and with a waypoint for the namespace's Services (``k8snet.mesh.waypoint``: HBONE to the waypoint, Envoy's L7
   work, then the waypoint's own HBONE to the pod). The ratios are what the HBONE hop and the waypoint cost. Each
   mode's traffic is checked on the proxies' own counters (ztunnel's ``istio_tcp_connections_opened_total``, the
   waypoint's ``istio_requests_total``), so a figure never comes from a path the mesh did not take. The cluster
   holds the 100 enrolled pods of 2. meanwhile (idle), so lookups that grow with the cluster show.
2. ``k8snet.mesh.metrics.scrape`` with 100 workloads: 100 pods in an enrolled namespace (each its own workload),
   each sent one request from the client, then the scrape timed (it reads every ztunnel's and waypoint's page
   through the API server's pod proxy and parses them), with the pages' size and the samples it found.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from . import dataplane
from .common import Result, log, private_env

NAMESPACE = "bench-mesh"
WORKLOADS_NS = "bench-workloads"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
REPLICAS = 3
TRIES = 1000
RUNS = 3
WORKLOADS = 100
SCRAPES = 3
REDIRECTION = "ambient.istio.io/redirection"


def manifests() -> list[dict[str, Any]]:
    """The dataplane benchmark's Deployment and Service ``web``, in this benchmark's namespace."""
    return dataplane.manifests(NAMESPACE)


def workload_manifests() -> list[dict[str, Any]]:
    """An enrolled namespace of WORKLOADS bare pods: no controller, so each pod is a workload of its own."""
    out: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": WORKLOADS_NS, "labels": {"istio.io/dataplane-mode": "ambient"}}}]
    for i in range(WORKLOADS):
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"w-{i:03d}", "namespace": WORKLOADS_NS, "labels": {"app": f"w-{i:03d}"}},
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
                        "name": "agnhost", "image": AGNHOST, "args": ["netexec", "--http-port=8080"],
                        "ports": [{"containerPort": 8080, "name": "http"}]}]}})
    return out


def dial(tries: int) -> list[str]:
    url = f"http://localhost:8080/dial?request=hostname&protocol=http&host=web&port=80&tries={tries}"
    return ["sh", "-c", f"curl -s '{url}'"]


def _captured(cluster, namespace: str, want: bool) -> bool:
    pods = cluster.core.list_namespaced_pod(namespace).items
    return bool(pods) and all(((p.metadata.annotations or {}).get(REDIRECTION) == "enabled") == want for p in pods)


def _wait(what: str, check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def _rate(cluster, client, mode: str) -> tuple[float | None, str]:
    """The median requests/s of RUNS dials of TRIES, with what the proxies counted meanwhile."""
    from k8snet import traffic
    from k8snet.mesh import metrics

    before = metrics.scrape(cluster)
    rates, answered, errors = [], 0, 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        out = traffic.exec_in(cluster, client, dial(TRIES), timeout=600)
        seconds = time.perf_counter() - t0
        try:
            body = json.loads(out.stdout)
        except ValueError:
            body = {}
        responses, failed = body.get("responses") or [], body.get("errors") or []
        answered, errors = answered + len(responses), errors + len(failed)
        if responses:
            rates.append(len(responses) / seconds)
    after = metrics.scrape(cluster)
    tcp = after.total("istio_tcp_connections_opened_total", reporter="destination") - before.total(
        "istio_tcp_connections_opened_total", reporter="destination")
    http = after.total("istio_requests_total") - before.total("istio_requests_total")
    rate = statistics.median(rates) if rates else None
    note = (f"median of {RUNS} × /dial tries={TRIES}: {answered}/{RUNS * TRIES} answered"
            + (f", {errors} errors" if errors else "")
            + f"; ztunnels counted {tcp:.0f} inbound connections, waypoints {http:.0f} requests")
    log(f"{mode}: {[f'{r:,.0f}' for r in rates]} req/s; {note}")
    return rate, note


def run() -> list[Result]:
    from kubernetes.config import kube_config

    import k8snet
    from k8snet import kubeproxy, mesh, traffic
    from k8snet.mesh import metrics

    results: list[Result] = []
    with private_env() as env:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        t0 = time.perf_counter()
        cluster = k8snet.connect("sandbox")
        mesh.install(cluster, "istio", say=lambda *_: None)
        log(f"sandbox up and Istio ambient installed in {time.perf_counter() - t0:.2f}s")
        t0 = time.perf_counter()
        cluster.apply(workload_manifests())
        names = [f"w-{i:03d}" for i in range(WORKLOADS)]
        for name in names:
            cluster.wait_pod_ready(name, WORKLOADS_NS, timeout=180)
        _wait("the workloads captured", lambda: _captured(cluster, WORKLOADS_NS, True))
        log(f"{WORKLOADS} enrolled pods ready in {time.perf_counter() - t0:.2f}s")
        t0 = time.perf_counter()
        cluster.apply(manifests())
        cluster.wait_ready("web", NAMESPACE, timeout=120)
        client = traffic.ensure_client(cluster, NAMESPACE)
        kubeproxy.wait_synced(cluster, client, NAMESPACE, "web")
        traffic.exec_in(cluster, client, dial(10))  # warm up: first exec, first dial
        log(f"deployment web ({REPLICAS} agnhost pods), service web and client ready in {time.perf_counter() - t0:.2f}s")

        # 1. the same dial: outside the mesh, through ztunnel (HBONE), through a waypoint
        plain, plain_note = _rate(cluster, client, "no mesh")
        mesh.enroll(cluster, NAMESPACE)
        _wait("the namespace's pods captured", lambda: _captured(cluster, NAMESPACE, True))
        traffic.exec_in(cluster, client, dial(10))
        hbone, hbone_note = _rate(cluster, client, "ztunnel (HBONE)")
        mesh.waypoint(cluster, NAMESPACE, say=lambda *_: None)
        traffic.exec_in(cluster, client, dial(10))
        waypoint, waypoint_note = _rate(cluster, client, "waypoint")

        def ratio(a: float | None, b: float | None) -> str:
            return f"{a / b:.2f}× the rate {'without the mesh' if b is plain else 'through ztunnel alone'}" \
                if a and b else "—"

        results.append(Result("mesh: /dial via Service web, no mesh", plain, "req/s", note=plain_note))
        results.append(Result("mesh: /dial via Service web, ztunnel (HBONE)", hbone, "req/s",
                              note=f"{ratio(hbone, plain)}; {hbone_note}"))
        results.append(Result("mesh: /dial via Service web, waypoint", waypoint, "req/s",
                              note=f"{ratio(waypoint, hbone)}, {ratio(waypoint, plain)}; {waypoint_note}"))
        if plain and hbone and waypoint:
            log(f"HBONE hop: {hbone / plain:.2f}× the plain rate ({1e6 / hbone - 1e6 / plain:+.0f} µs per request); "
                f"waypoint: {waypoint / hbone:.2f}× the ztunnel rate ({1e6 / waypoint - 1e6 / hbone:+.0f} µs)")
            results.append(Result("mesh: ztunnel / no mesh", hbone / plain, "x",
                                  note=f"{1e6 / hbone - 1e6 / plain:+.0f} µs per request for the emulated HBONE hop"))
            results.append(Result("mesh: waypoint / ztunnel", waypoint / hbone, "x",
                                  note=f"{1e6 / waypoint - 1e6 / hbone:+.0f} µs per request for the waypoint"))

        # 2. the scrape, with 100 workloads that each got traffic
        ips = [cluster.core.read_namespaced_pod(n, WORKLOADS_NS).status.pod_ip for n in names]
        loop = " ".join(ips)
        out = traffic.exec_in(cluster, client, ["sh", "-c", f"for ip in {loop}; do curl -s -m 3 -o /dev/null "
                                                            f"-w '%{{http_code}} ' http://$ip:8080/hostname; done"],
                              timeout=600)
        answered = out.stdout.split().count("200")
        times, found = [], None
        for _ in range(SCRAPES):
            t0 = time.perf_counter()
            found = metrics.scrape(cluster)
            times.append(time.perf_counter() - t0)
        sizes = []
        for ns, name, port, path in metrics._proxies(cluster):
            raw = cluster.core.connect_get_namespaced_pod_proxy_with_path(f"{name}:{port}", ns, path,
                                                                          _preload_content=False)
            sizes.append(len(raw.data))
        workloads = {s.label("destination_workload") for s in found.samples} if found else set()
        seconds = statistics.median(times)
        note = (f"median of {SCRAPES}; {len(sizes)} pages, {sum(sizes) / 1024:,.0f} KiB in all (largest "
                f"{max(sizes) / 1024:,.0f} KiB), {len(found.samples) if found else 0:,} samples, "
                f"{len(workloads)} destination workloads; {answered}/{WORKLOADS} requests answered")
        log(f"scrape: {[f'{t:.3f}' for t in times]} s; {note}")
        results.append(Result(f"mesh: metrics.scrape, {WORKLOADS} workloads with traffic", seconds * 1000, "ms",
                              note=note))
    return results
