"""Benchmark 11: two sandboxes as one Cilium Cluster Mesh (README "Cilium Cluster Mesh between members").

1. Start-up of the set: two Cilium members (east, west) from nothing to meshed (``process.up`` each, then
   ``clustermesh.connect`` and ``wait_connected``), timed as a whole and in its parts.
2. Requests per second across the mesh beside in-cluster, the same way benchmark 4 drives the data plane: one exec of
   ``curl …/dial?…&tries=N`` in an agnhost pod of east, whose emulated netexec opens N fresh HTTP connections to
   (a) a pod of east and (b) a pod of west, at their pod addresses, with no round trip set between the clusters (so
   the figures are the crossing's own cost: a connect and a request handed to the other member). The ratio is what
   crossing costs.
3. Latency per request from a shell loop of curls in east's client (``curl -w %{time_total}`` and the wall time of
   the loop), in-cluster and across with a 30 ms round trip: what a learner's ``curl`` shows and waits.
4. From a ServiceExport in west to a name east can use: with MCS-API on in both (``clustermesh.enable_mcs_api``),
   the time from creating the export to east's ServiceImport having its clusterset IP, and to ``dig`` in east's pod
   answering ``<svc>.<ns>.svc.clusterset.local`` with it (median of EXPORTS exports of fresh Services).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from .common import Result, log, private_env, stop_sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NAMESPACE = "bench-mesh"
TRIES = 500
RUNS = 3
LOOP = 20
RTT_MS = 30.0
MEMBERS = ("east", "west")
EXPORTS = 5


def manifests() -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "server", "namespace": NAMESPACE},
             "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                      "args": ["netexec", "--http-port=8080"]}]}}]


def _ip(cluster) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pod = cluster.core.read_namespaced_pod("server", NAMESPACE)
        if pod.status.phase == "Running" and pod.status.pod_ip:
            return pod.status.pod_ip
        time.sleep(0.1)
    raise TimeoutError("the server pod did not run")


def _dial_rate(cluster, target: str) -> tuple[float | None, str]:
    from k8snet import traffic
    from k8snet.traffic import PodRef

    url = f"http://localhost:8080/dial?request=hostname&protocol=http&host={target}&port=8080&tries={TRIES}"
    rates, answered = [], 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        out = traffic.exec_in(cluster, PodRef(NAMESPACE, "server"), ["sh", "-c", f"curl -s '{url}'"], timeout=600)
        seconds = time.perf_counter() - t0
        try:
            responses = json.loads(out.stdout).get("responses") or []
        except ValueError:
            responses = []
        answered += len(responses)
        if responses:
            rates.append(len(responses) / seconds)
    rate = statistics.median(rates) if rates else None
    return rate, f"median of {RUNS} × /dial tries={TRIES}: {answered}/{RUNS * TRIES} answered"


def _latency(cluster, target: str) -> tuple[float, float]:
    """(curl's mean time_total, the loop's wall time per request), both in ms."""
    from k8snet import traffic
    from k8snet.traffic import PodRef

    script = "; ".join([f"curl -s -o /dev/null -w '%{{time_total}} ' http://{target}:8080/hostname"] * LOOP)
    t0 = time.perf_counter()
    out = traffic.exec_in(cluster, PodRef(NAMESPACE, "server"), ["sh", "-c", script], timeout=600)
    wall = (time.perf_counter() - t0) / LOOP * 1000
    shown = [float(x) * 1000 for x in out.stdout.split()]
    return (statistics.mean(shown) if shown else float("nan")), wall


def run() -> list[Result]:
    from kubernetes.config import kube_config

    import k8snet
    from k8snet.cni import clustermesh
    from k8snet.sandbox import process

    results: list[Result] = []
    with private_env() as env:
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(env.kubeconfig)
        try:
            t0 = time.perf_counter()
            for name in MEMBERS:
                process.up(name=name, cni="cilium", edge_http_port=0, edge_https_port=0)
            up = time.perf_counter() - t0
            east, west = (k8snet.connect(name, start=False) for name in MEMBERS)
            t1 = time.perf_counter()
            clustermesh.connect(east, west)
            clustermesh.wait_connected(east, west)
            meshed = time.perf_counter() - t1
            log(f"two Cilium members up in {up:.2f}s, meshed {meshed:.2f}s later")
            results.append(Result("clustermesh: two members up and meshed", up + meshed, "s",
                                  note=f"up {up:.2f} s (both), connect → both connected {meshed:.2f} s"))

            for cluster in (east, west):
                cluster.apply(manifests())
            local_ip, remote_ip = _ip(east), _ip(west)
            from k8snet import traffic
            from k8snet.traffic import PodRef

            deadline = time.monotonic() + 30  # west's pod in east's imported ipcache
            while time.monotonic() < deadline and "server" not in traffic.exec_in(
                    east, PodRef(NAMESPACE, "server"), ["curl", "-s", "-m", "2", f"http://{remote_ip}:8080/hostname"]
                    ).stdout:
                time.sleep(0.2)

            local_rate, local_note = _dial_rate(east, local_ip)
            remote_rate, remote_note = _dial_rate(east, remote_ip)
            results.append(Result("clustermesh: /dial in-cluster (east → east pod)", local_rate, "req/s",
                                  note=local_note))
            ratio = f"{remote_rate / local_rate:.2f}× in-cluster; " if local_rate and remote_rate else ""
            extra = f"{1e6 / remote_rate - 1e6 / local_rate:+.0f} µs per request; " if local_rate and remote_rate else ""
            results.append(Result("clustermesh: /dial across (east → west pod)", remote_rate, "req/s",
                                  note=f"{ratio}{extra}{remote_note}"))

            clustermesh.set_latency(east, west, RTT_MS)
            local_shown, local_wall = _latency(east, local_ip)
            remote_shown, remote_wall = _latency(east, remote_ip)
            results.append(Result("clustermesh: curl in-cluster, time per request", local_wall, "ms",
                                  note=f"curl's time_total {local_shown:.1f} ms (mean of {LOOP})"))
            results.append(Result(f"clustermesh: curl across, {RTT_MS:.0f} ms round trip, time per request",
                                  remote_wall, "ms",
                                  note=f"curl's time_total {remote_shown:.1f} ms (two round trips: handshake, "
                                       f"request); wall − 2 × RTT = {remote_wall - 2 * RTT_MS:.1f} ms"))
            results += _export_to_name(east, west)
        finally:
            for name in MEMBERS:
                stop_sandbox(process.home(name))
    return results


def _export_to_name(east, west) -> list[Result]:
    """4.: ServiceExport in west → ServiceImport with an IP in east → the clusterset name resolving in east."""
    from k8snet import traffic
    from k8snet.cni import clustermesh
    from k8snet.traffic import PodRef

    for cluster in (east, west):
        clustermesh.enable_mcs_api(cluster)
    to_import, to_name = [], []
    for i in range(EXPORTS):
        name = f"svc{i}"
        west.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
                    "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name}}})
        t0 = time.perf_counter()
        west.apply({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceExport",
                    "metadata": {"name": name, "namespace": NAMESPACE}})
        si = east.wait_for("ServiceImport", name, NAMESPACE, "multicluster.x-k8s.io/v1alpha1",
                           lambda o: (o.get("spec") or {}).get("ips"), timeout=60)
        to_import.append(time.perf_counter() - t0)
        fqdn = f"{name}.{NAMESPACE}.svc.clusterset.local"
        while si["spec"]["ips"][0] not in traffic.exec_in(east, PodRef(NAMESPACE, "server"),
                                                          ["dig", "+short", fqdn]).stdout:
            if time.perf_counter() - t0 > 60:
                raise TimeoutError(f"{fqdn} did not resolve in east")
            time.sleep(0.02)
        to_name.append(time.perf_counter() - t0)
    log(f"export → import: {[f'{x:.2f}' for x in to_import]} s; → name: {[f'{x:.2f}' for x in to_name]} s")
    return [Result("clustermesh: ServiceExport in west → ServiceImport with IP in east",
                   statistics.median(to_import), "s", note=f"median of {EXPORTS}, max {max(to_import):.2f} s"),
            Result("clustermesh: ServiceExport in west → clusterset name resolves in east (dig)",
                   statistics.median(to_name), "s", note=f"median of {EXPORTS}, max {max(to_name):.2f} s")]
