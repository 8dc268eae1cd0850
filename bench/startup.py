"""Benchmark 1: from launching ``k8snet sandbox up`` to the first successful ``kubectl get pods -A``.

What a student types is ``k8snet sandbox up && kubectl get pods -A``: the clock starts when the CLI is
launched and stops when kubectl first exits 0 (it is retried until then, within a deadline).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

from .common import K8SNET, Env, Result, log, private_env, stop_sandbox

RUNS = 5
TARGET_S = 1.0
DEADLINE_S = 30.0


def up_then_get(env: Env) -> tuple[float, float]:
    """(seconds until ``up`` returned, seconds until ``kubectl get pods -A`` first succeeded)."""
    t0 = time.perf_counter()
    subprocess.run([K8SNET, "sandbox", "up"], env=env.vars(), capture_output=True, timeout=DEADLINE_S, check=True)
    t_up = time.perf_counter() - t0
    while True:
        if env.kubectl("get", "pods", "-A", timeout=DEADLINE_S).returncode == 0:
            return t_up, time.perf_counter() - t0
        if time.perf_counter() - t0 > DEADLINE_S:
            raise TimeoutError(f"kubectl get pods -A did not succeed within {DEADLINE_S:.0f}s")
        time.sleep(0.02)


def run() -> list[Result]:
    results: list[Result] = []
    with private_env() as env:
        state = Path(env.vars()["K8SNET_HOME"]) / "sandbox"
        cold: list[tuple[float, float]] = []
        for i in range(RUNS):  # fresh state dir (new CA, store, port) and a cold kubectl cache each time
            shutil.rmtree(state.parent, ignore_errors=True)
            shutil.rmtree(env.kube_home, ignore_errors=True)
            env.kubeconfig.unlink(missing_ok=True)
            try:
                cold.append(up_then_get(env))
            finally:
                stop_sandbox(state)
            log(f"cold run {i + 1}: up {cold[-1][0]:.3f}s, first get pods {cold[-1][1]:.3f}s")
        warm: list[tuple[float, float]] = []
        for i in range(RUNS):  # the state of the last cold run stays: same CA, store, port, warm kubectl cache
            try:
                warm.append(up_then_get(env))
            finally:
                stop_sandbox(state)
            log(f"warm run {i + 1}: up {warm[-1][0]:.3f}s, first get pods {warm[-1][1]:.3f}s")
    for label, runs in (("fresh state", cold), ("warm restart", warm)):
        results.append(Result(f"start → kubectl get pods ({label})", statistics.median(r[1] for r in runs), "s",
                              TARGET_S, f"median of {len(runs)}"))
        results.append(Result(f"  of which `k8snet sandbox up` ({label})", statistics.median(r[0] for r in runs),
                              "s", note="informational"))
    return results
