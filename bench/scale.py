"""Benchmark 3: 2,000 pods from 200 Deployments; rollout, list, watch fan-out and the sandbox's RSS."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from k8snet.sandbox import process

from .common import KUBECTL, Env, Result, log, median_of, private_env, rss_mb

NAMESPACE = "bench"
DEPLOYMENTS = 200
REPLICAS = 10
PODS = DEPLOYMENTS * REPLICAS
ROLLOUT_TIMEOUT_S = 240.0
STALL_S = 20.0  # stop waiting when no pod became ready for this long
POLL_S = 2.0
WATCHERS = 5
UPDATES = 200
WATCH_TIMEOUT_S = 60.0
TARGET_RSS_MB = 300.0


def deployment(i: int) -> dict[str, Any]:
    labels = {"app": f"app-{i:03d}"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i:03d}", "labels": labels},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                           "ports": [{"containerPort": 80}]}]}}}}


def ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


@dataclass
class Rollout:
    """How far the pods got: seconds (from the first create) until all existed, until the last one became
    ready, and whether all PODS did (else the wait stopped on a stall or the deadline)."""

    existed_s: float | None = None
    last_ready_s: float | None = None
    ready: int = 0
    complete: bool = False


def schedulable_capacity(core: Any) -> int:
    """Pods the cluster can run: each untainted node's allocatable pods (kubelet maxPods, 110 on kind) minus its pods.

    With one control plane and two workers, like a kind cluster, 2,000 pods cannot all run: the rest stay
    Pending with the scheduler's "Too many pods", as on kind.
    """
    free = 0
    pods = core.list_pod_for_all_namespaces().items
    for node in core.list_node().items:
        if node.spec.taints:
            continue
        used = sum(1 for p in pods if p.spec.node_name == node.metadata.name)
        free += int(node.status.allocatable.get("pods", "110")) - used
    return free


def wait_ready(core: Any, t0: float, deadline: float, want: int = PODS) -> Rollout:
    """Poll the pod list until ``want`` pods are Running and Ready, the ready count stalls for STALL_S, or deadline."""
    out = Rollout()
    last_change = time.perf_counter()
    while time.perf_counter() < deadline and time.perf_counter() - last_change < STALL_S:
        raw = core.list_namespaced_pod(NAMESPACE, _preload_content=False, _request_timeout=60)
        items = json.loads(raw.data)["items"]
        now = time.perf_counter()
        if out.existed_s is None and len(items) >= PODS:
            out.existed_s = now - t0
        count = sum(ready(p) for p in items)
        if count > out.ready:
            out.ready, out.last_ready_s, last_change = count, now - t0, now
        if count >= want and out.existed_s is not None:
            out.complete = True
            break
        time.sleep(POLL_S)
    return out


def stall_reason(running: process.Running) -> str:
    """The sandbox's own explanation, from its log (pending pods carry no event for it)."""
    try:
        text = (running.state / "sandbox.log").read_text(errors="replace")
    except OSError:
        return ""
    exhausted = text.count("k8snet.sandbox.ipam.Exhausted")
    return f"pod IPAM exhausted ({exhausted} log lines): one /24 per node" if exhausted else ""


# -- watch fan-out -------------------------------------------------------------------------------------------


async def watch_fanout(running: process.Running, names: list[str]) -> tuple[float | None, float, list[int]]:
    """WATCHERS raw watch streams, then UPDATES label patches; returns (seconds until every watcher saw every
    update or None on timeout, seconds to send the patches, events seen per watcher)."""
    tls = ssl.create_default_context(cafile=str(running.ca_file))
    headers = {"Authorization": f"Bearer {running.token}"}
    base = f"{running.server}/api/v1/namespaces/{NAMESPACE}/pods"
    value = uuid.uuid4().hex[:8]
    seen: list[set[str]] = [set() for _ in range(WATCHERS)]
    done = [asyncio.Event() for _ in range(WATCHERS)]
    connected = [asyncio.Event() for _ in range(WATCHERS)]
    finished: list[float] = [0.0] * WATCHERS
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, limit=100), headers=headers) as http:
        async with http.get(base, params={"limit": "1"}) as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]

        async def watcher(i: int) -> None:
            params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": str(int(WATCH_TIMEOUT_S) + 30)}
            async with http.get(base, params=params, timeout=aiohttp.ClientTimeout(total=None)) as resp:
                resp.raise_for_status()
                connected[i].set()
                buf = b""
                async for chunk in resp.content.iter_any():
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        obj = json.loads(line)["object"]
                        if (obj["metadata"].get("labels") or {}).get("bench-burst") == value:
                            seen[i].add(obj["metadata"]["name"])
                    if len(seen[i]) >= len(names):
                        finished[i] = time.perf_counter()
                        done[i].set()
                        return

        tasks = [asyncio.create_task(watcher(i)) for i in range(WATCHERS)]
        try:
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), 30)
            patch = {"metadata": {"labels": {"bench-burst": value}}}
            limit = asyncio.Semaphore(20)

            async def send(name: str) -> None:
                async with limit, http.patch(f"{base}/{name}", json=patch,
                                             headers={"Content-Type": "application/merge-patch+json"}) as resp:
                    resp.raise_for_status()

            t0 = time.perf_counter()
            await asyncio.gather(*(send(n) for n in names))
            sent = time.perf_counter() - t0
            try:
                await asyncio.wait_for(asyncio.gather(*(d.wait() for d in done)), WATCH_TIMEOUT_S)
                return max(finished) - t0, sent, [len(s) for s in seen]
            except TimeoutError:
                return None, sent, [len(s) for s in seen]
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# -- the benchmark -------------------------------------------------------------------------------------------


def run() -> list[Result]:
    from kubernetes import client, config

    results: list[Result] = []
    with private_env() as env:
        running = process.up(seed=0)
        api_client = config.new_client_from_config(config_file=str(env.kubeconfig), context=process.CONTEXT)
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        core.create_namespace({"metadata": {"name": NAMESPACE}})

        capacity = schedulable_capacity(core)
        t0 = time.perf_counter()
        for i in range(DEPLOYMENTS):
            apps.create_namespaced_deployment(NAMESPACE, deployment(i))
        created = time.perf_counter() - t0
        log(f"{DEPLOYMENTS} deployments created in {created:.2f}s")
        results.append(Result(f"  create {DEPLOYMENTS} deployments (python client)", created, "s",
                              note="informational"))

        want = min(PODS, capacity)
        r = wait_ready(core, t0, t0 + ROLLOUT_TIMEOUT_S, want)
        why = "" if r.complete else stall_reason(running)
        log(f"rollout: {r.ready}/{want} schedulable pods Running+Ready, the last at {r.last_ready_s or 0:.1f}s; "
            f"all {PODS} existed at {r.existed_s or 0:.1f}s" + ("" if r.complete else f"; stopped: {why or 'stall'}"))
        results.append(Result(f"create {PODS} pods via {DEPLOYMENTS} deployments (all pods exist)", r.existed_s, "s",
                              note="from the first create request"))
        results.append(Result(f"  {want} pods Running+Ready (node capacity: 110 pods per worker, as kind)",
                              r.last_ready_s if r.complete else None, "s",
                              note="the rest stay Pending: Too many pods" if r.complete else
                              f"NOT REACHED: {r.ready}/{want} ready; {why}"))
        rss_after_rollout = rss_mb(running.pid)[0]

        listed = len(core.list_pod_for_all_namespaces(_request_timeout=120).items)
        results.append(Result("list all pods (python client, models)", median_of(3, lambda: core.list_pod_for_all_namespaces(
            _request_timeout=120)), "s", note=f"{listed} pods, median of 3"))
        shell = f"{KUBECTL} get pods -A --no-headers | wc -l"
        lines = subprocess.run(shell, shell=True, env=env.vars(), capture_output=True, text=True, timeout=120).stdout
        results.append(Result("kubectl get pods -A --no-headers | wc -l",
                              median_of(3, lambda: kubectl_shell(env, shell)), "s",
                              note=f"{lines.strip()} lines, median of 3"))

        pods = json.loads(core.list_namespaced_pod(NAMESPACE, limit=UPDATES, _preload_content=False).data)["items"]
        names = [p["metadata"]["name"] for p in pods]
        fanout, sent, seen = asyncio.run(watch_fanout(running, names))
        log(f"watch fan-out: {len(names)} patches sent in {sent:.2f}s; events seen per watcher {seen}")
        results.append(Result(f"watch fan-out: {WATCHERS} watchers × {len(names)} updates, all seen", fanout, "s",
                              note=f"patches sent in {sent:.2f}s" if fanout else f"TIMEOUT: seen {seen}"))

        rss, peak = rss_mb(running.pid)
        results.append(Result(f"sandbox RSS with {PODS} pods", rss, "MiB", TARGET_RSS_MB,
                              f"after rollout {rss_after_rollout:.0f}, peak (VmHWM) {peak:.0f}"))
    return results


def kubectl_shell(env: Env, shell: str) -> None:
    subprocess.run(shell, shell=True, env=env.vars(), capture_output=True, check=True, timeout=120)
