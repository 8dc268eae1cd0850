"""Benchmark 7: the API while one learner's exec runs a 200,000-command script.

``/healthz`` latency (p50, p99) with an idle sandbox, then again while ``kubectl exec -i … -- sh`` runs a
200,000-command script in a pod; the ratio of the two p99s is the figure to watch (scripts run in 5 ms
slices, so other requests wait at most about one slice). Printed, never asserted.
"""

from __future__ import annotations

import statistics
import subprocess
import time
import urllib.request

from k8snet.sandbox import process

from .common import KUBECTL, Result, log, private_env

SCRIPT = "true\n" * 200_000 + "echo finished\n"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def healthz_ms(running: process.Running) -> float:
    tls = process._tls(running.state)
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{running.server}/healthz", context=tls, timeout=30) as resp:
        resp.read()
    return (time.perf_counter() - t0) * 1000


def run() -> list[Result]:
    with private_env() as env:
        running = process.up(write_kubeconfig=True)
        env.kubectl("run", "busy", f"--image={AGNHOST}", "--restart=Never", "--", "netexec")
        env.kubectl("wait", "--for=condition=Ready", "pod/busy", "--timeout=60s")
        idle = [healthz_ms(running) for _ in range(200)]
        proc = subprocess.Popen([KUBECTL, "exec", "-i", "busy", "--", "sh"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env.vars())
        t0 = time.perf_counter()
        proc.stdin.write(SCRIPT.encode())
        proc.stdin.close()
        busy: list[float] = []
        while proc.poll() is None:
            busy.append(healthz_ms(running))
        script_s = time.perf_counter() - t0
        ended = "well" if proc.stdout.read().decode().endswith("finished\n") else "BADLY"
        log(f"idle /healthz p50 {statistics.median(idle):.2f} ms p99 {percentile(idle, 99):.2f} ms; during the "
            f"script ({script_s:.1f}s, {len(busy)} probes, ended {ended}) "
            f"p50 {statistics.median(busy or [0]):.2f} ms p99 {percentile(busy or [0], 99):.2f} ms")
    note = f"{len(busy)} /healthz calls during a {script_s:.1f}s exec"
    return [
        Result("/healthz p99, idle", percentile(idle, 99), "ms", note="200 calls"),
        Result("/healthz p99 during a 200,000-command exec", percentile(busy, 99) if busy else None, "ms",
               note=note),
        Result("/healthz p99 ratio, during / idle", percentile(busy, 99) / percentile(idle, 99) if busy else None,
               "x", note="scripts run in 5 ms slices"),
        Result("200,000-command script, wall time", script_s, "s", note="kubectl exec -i … -- sh, script on stdin"),
    ]
