"""Benchmark 2: ``kubectl get pods`` against the sandbox vs. against a static replay of its answers.

The replay server (bench.replay) records every request of a cold-cache and a warm-cache run through it,
then answers with those bytes, so the ratio shows what the sandbox adds on top of kubectl, TLS and HTTP.
Both are measured with a warm discovery cache ($HOME/.kube/cache, one private HOME for both).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from k8snet import kubeconfig
from k8snet.sandbox import process

from .common import KUBECTL, Env, Result, log, private_env
from .replay import ReplayServer

PODS = 30
RUNS = 20
TARGET_RATIO = 1.3


def make_pods(running: process.Running, env: Env, count: int, namespace: str = "default",
              timeout: float = 60) -> None:
    """``count`` single-container pods, then wait until all are Running."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=str(env.kubeconfig), context=process.CONTEXT))
    for i in range(count):
        api.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod",
                                              "metadata": {"name": f"web-{i:02d}", "labels": {"app": "web"}},
                                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = api.list_namespaced_pod(namespace, label_selector="app=web").items
        if sum(p.status.phase == "Running" for p in pods) == count:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{count} pods were not Running within {timeout:.0f}s")


def names(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if line.strip()]


def measure(env: Env, kubeconfigs: dict[str, Path]) -> dict[str, float]:
    """Median wall seconds of ``kubectl get pods`` per kubeconfig: hyperfine if present, else a loop."""
    cmds = {label: [KUBECTL, "--kubeconfig", str(path), "get", "pods"] for label, path in kubeconfigs.items()}
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        out = Path(tempfile.mkdtemp(dir=env.root)) / "hyperfine.json"
        args = [hyperfine, "-N", "--warmup", "3", "--runs", str(RUNS), "--export-json", str(out), "--style", "none"]
        for label, cmd in cmds.items():
            args += ["--command-name", label, " ".join(cmd)]
        subprocess.run(args, env=env.vars(), check=True, capture_output=True, timeout=300)
        return {r["command"]: r["median"] for r in json.loads(out.read_text())["results"]}
    medians: dict[str, float] = {}
    for label, cmd in cmds.items():
        times = []
        for i in range(RUNS + 3):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env.vars(), check=True, capture_output=True, timeout=60)
            if i >= 3:
                times.append(time.perf_counter() - t0)
        medians[label] = statistics.median(times)
    return medians


def run() -> list[Result]:
    with private_env() as env:
        running = process.up(seed=0)
        make_pods(running, env, PODS)
        server = ReplayServer(cert=str(running.state / "apiserver.crt"), key=str(running.state / "apiserver.key"),
                              token=running.token, upstream=running.server, upstream_ca=str(running.ca_file))
        server.start()
        try:
            replay_kc = env.root / "replay-kubeconfig"
            kubeconfig.add_context("replay", f"https://127.0.0.1:{server.port}", running.token,
                                   ca_data=running.ca_file.read_bytes(), file=replay_kc)
            recorded = []
            for _ in range(2):  # cold cache (discovery and all), then warm (what the timed runs send)
                before = len(server.requests)
                env.kubectl("--kubeconfig", str(replay_kc), "get", "pods").check_returncode()
                recorded.append(len(server.requests) - before)
            warm_paths = sorted({p for _, p in server.requests[-recorded[1]:]})
            log(f"recorded {len(server.answers)} answers; kubectl sends {recorded[0]} requests cold, "
                f"{recorded[1]} warm: {', '.join(warm_paths)}")
            server.replay()
            direct = env.kubectl("get", "pods")
            replayed = env.kubectl("--kubeconfig", str(replay_kc), "get", "pods")
            if names(direct.stdout) != names(replayed.stdout) or len(names(direct.stdout)) != PODS + 1:
                raise RuntimeError(f"the replay differs from the sandbox:\n{direct.stdout}\n---\n{replayed.stdout}")
            medians = measure(env, {"sandbox": env.kubeconfig, "replay": replay_kc})
            if server.misses:
                raise RuntimeError(f"the replay server missed {server.misses} requests")
        finally:
            server.stop()
    log(f"kubectl get pods medians: sandbox {medians['sandbox'] * 1000:.1f} ms, "
        f"replay {medians['replay'] * 1000:.1f} ms")
    return [
        Result(f"kubectl get pods ({PODS} pods): sandbox / static replay", medians["sandbox"] / medians["replay"],
               "x", TARGET_RATIO, f"median of {RUNS}, warm discovery cache"),
        Result("  kubectl get pods against the sandbox", medians["sandbox"] * 1000, "ms", note="informational"),
        Result("  kubectl get pods against the static replay", medians["replay"] * 1000, "ms", note="informational"),
    ]
