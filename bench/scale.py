"""Benchmark 3: 2,000 pods from 200 Deployments; rollout, list, watch fan-out and the sandbox's RSS."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import time
import uuid
from typing import Any

import aiohttp

from k8snet.sandbox import process

from .common import KUBECTL, Env, Result, log, median_of, private_env, rss_mb

NAMESPACE = "bench"
DEPLOYMENTS = 200
REPLICAS = 10
PODS = DEPLOYMENTS * REPLICAS
ROLLOUT_TIMEOUT_S = 240.0
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


def wait_ready(core: Any, timeout: float) -> tuple[float | None, int]:
    """Seconds until all PODS pods are Running and Ready (None on timeout), and the last count seen."""
    t0 = time.perf_counter()
    count = 0
    while time.perf_counter() - t0 < timeout:
        raw = core.list_namespaced_pod(NAMESPACE, _preload_content=False, _request_timeout=60)
        count = sum(ready(p) for p in json.loads(raw.data)["items"])
        if count >= PODS:
            return time.perf_counter() - t0, count
        time.sleep(1.0)
    return None, count


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

        t0 = time.perf_counter()
        for i in range(DEPLOYMENTS):
            apps.create_namespaced_deployment(NAMESPACE, deployment(i))
        created = time.perf_counter() - t0
        log(f"{DEPLOYMENTS} deployments created in {created:.2f}s")
        results.append(Result(f"  create {DEPLOYMENTS} deployments (python client)", created, "s",
                              note="informational"))

        elapsed, count = wait_ready(core, ROLLOUT_TIMEOUT_S - created)
        rollout = None if elapsed is None else created + elapsed
        log(f"rollout: {count}/{PODS} pods Running+Ready" +
            (f" after {rollout:.1f}s" if rollout else f", timed out at {ROLLOUT_TIMEOUT_S:.0f}s"))
        results.append(Result(f"{PODS} pods Running+Ready (from first create)", rollout, "s",
                              note="informational" if rollout else f"TIMEOUT: {count}/{PODS} ready"))
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
