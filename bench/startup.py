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
NO_PYC_RUNS = 3
TARGET_S = 1.0
DEADLINE_S = 30.0


def up_then_get(env: Env, **over: str) -> tuple[float, float]:
    """(seconds until ``up`` returned, seconds until ``kubectl get pods -A`` first succeeded)."""
    t0 = time.perf_counter()
    subprocess.run([K8SNET, "sandbox", "up"], env=env.vars(**over), capture_output=True, timeout=DEADLINE_S,
                   check=True)
    t_up = time.perf_counter() - t0
    while True:
        if env.kubectl("get", "pods", "-A", timeout=DEADLINE_S).returncode == 0:
            return t_up, time.perf_counter() - t0
        if time.perf_counter() - t0 > DEADLINE_S:
            raise TimeoutError(f"kubectl get pods -A did not succeed within {DEADLINE_S:.0f}s")
        time.sleep(0.02)


def series(env: Env, label: str, runs: int, fresh: bool, **over: str) -> list[tuple[float, float]]:
    state = Path(env.vars()["K8SNET_HOME"]) / "sandbox"
    out: list[tuple[float, float]] = []
    for i in range(runs):
        if fresh:  # new CA, store and port, and a cold kubectl discovery cache
            shutil.rmtree(state.parent, ignore_errors=True)
            shutil.rmtree(env.kube_home, ignore_errors=True)
            env.kubeconfig.unlink(missing_ok=True)
        try:
            out.append(up_then_get(env, **over))
        finally:
            stop_sandbox(state)
        log(f"{label} run {i + 1}: up {out[-1][0]:.3f}s, first get pods {out[-1][1]:.3f}s")
    return out


def run() -> list[Result]:
    results: list[Result] = []
    with private_env() as env:
        # fill the bytecode cache once (what any earlier sandbox on the machine has done): one start, not counted
        # (the server imports most of its modules after it listens, so importing its entry module is not enough)
        series(env, "untimed, fills the bytecode cache", 1, fresh=True)
        cold = series(env, "fresh", RUNS, fresh=True)
        warm = series(env, "warm", RUNS, fresh=False)  # the last fresh run's state: same CA, store, port, cache
        no_pyc = series(env, "fresh, no .pyc", NO_PYC_RUNS, fresh=True, PYTHONDONTWRITEBYTECODE="1",
                        PYTHONPYCACHEPREFIX=str(env.root / "empty-pycache"))
    for label, runs, target in (("fresh state", cold, TARGET_S), ("warm restart", warm, TARGET_S),
                                ("fresh state, PYTHONDONTWRITEBYTECODE=1", no_pyc, None)):
        results.append(Result(f"start → kubectl get pods -A ({label})", statistics.median(r[1] for r in runs), "s",
                              target, f"median of {len(runs)}" + ("" if target else "; informational")))
        results.append(Result(f"  of which `k8snet sandbox up` ({label})", statistics.median(r[0] for r in runs),
                              "s", note="informational"))
    return results
