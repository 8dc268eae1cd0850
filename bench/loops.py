"""Benchmark 8: 100 pods each running the classic traffic generator, a wget loop with ``sleep 1``.

For 30 s: the sandbox process's CPU share, the requests per second the loops achieve (the web pods' access
log lines), ``/healthz`` p50/p99 against an idle baseline taken in the same run, and how long a line takes
to reach ``kubectl logs -f --timestamps`` (arrival time minus the line's own timestamp). Printed, never
asserted.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from datetime import datetime

from k8snet.sandbox import process

from .common import KUBECTL, Result, log, private_env
from .limits import healthz_ms, percentile

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
PODS = 100
SECONDS = 30
LOOP = "while true; do wget -qO- -T 2 http://web/hostname; echo; sleep 1; done"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def web_requests(env) -> int:  # noqa: ANN001
    out = env.kubectl("logs", "-l", "app=web", "--tail=-1", "--max-log-requests=10").stdout
    return sum(1 for line in out.splitlines() if "GET /hostname" in line)


def follow_delays(env, pod: str, stop: threading.Event, delays: list[float]) -> None:  # noqa: ANN001
    proc = subprocess.Popen([KUBECTL, "logs", "-f", "--timestamps", pod], stdout=subprocess.PIPE, text=True,
                            env=env.vars())
    try:
        while not stop.is_set():
            line = proc.stdout.readline()
            if not line:
                break
            stamp = datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))
            delays.append((time.time() - stamp.timestamp()) * 1000)
    finally:
        proc.kill()
        proc.wait(10)


def run() -> list[Result]:
    with private_env() as env:
        running = process.up(write_kubeconfig=True)
        env.kubectl("create", "deployment", "web", f"--image={AGNHOST}", "--replicas=3", "--", "/agnhost",
                    "netexec", "--http-port=8080")
        env.kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080")
        env.kubectl("rollout", "status", "deployment/web", "--timeout=120s")
        idle = [healthz_ms(running) for _ in range(200)]
        env.kubectl("create", "deployment", "loadgen", "--image=busybox:1.36", f"--replicas={PODS}", "--",
                    "sh", "-c", LOOP)
        env.kubectl("rollout", "status", "deployment/loadgen", "--timeout=300s", timeout=320)
        pod = env.kubectl("get", "pods", "-l", "app=loadgen", "-o", "jsonpath={.items[0].metadata.name}").stdout
        delays: list[float] = []
        stop = threading.Event()
        follower = threading.Thread(target=follow_delays, args=(env, pod, stop, delays), daemon=True)
        before_requests, before_cpu, t0 = web_requests(env), cpu_seconds(running.pid), time.monotonic()
        follower.start()
        busy: list[float] = []
        while time.monotonic() - t0 < SECONDS:
            busy.append(healthz_ms(running))
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        share = (cpu_seconds(running.pid) - before_cpu) / elapsed
        rate = (web_requests(env) - before_requests) / elapsed
        stop.set()
        follower.join(15)
        log(f"{PODS} loops for {elapsed:.0f}s: CPU share {share:.2f}, {rate:.0f} requests/s; /healthz p99 idle "
            f"{percentile(idle, 99):.1f} ms, busy {percentile(busy, 99):.1f} ms; logs -f delay p50 "
            f"{statistics.median(delays or [0]):.0f} ms")
    return [
        Result(f"sandbox CPU share, {PODS} wget loops", share, "x", note=f"CPU seconds per second over {elapsed:.0f}s"),
        Result(f"requests/s served to {PODS} loops of 1 request/s", rate, "req/s", note="web pods' access log"),
        Result("/healthz p99, idle", percentile(idle, 99), "ms", note="200 calls"),
        Result(f"/healthz p99 during {PODS} loops", percentile(busy, 99), "ms", note=f"{len(busy)} calls"),
        Result("/healthz p99 ratio, loops / idle", percentile(busy, 99) / percentile(idle, 99), "x"),
        Result("kubectl logs -f delay, p50", statistics.median(delays) if delays else None, "ms",
               note=f"{len(delays)} lines, arrival minus the line's timestamp (second precision)"),
    ]
