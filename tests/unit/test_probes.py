"""The kubelet's probes: thresholds, periods, initial delay, restarts, events — on the sandbox clock.

Sources: pkg/kubelet/prober/worker.go (initial values, resultRun thresholds, on-hold after a liveness
failure, startup gating), pkg/kubelet/prober/prober.go ("%s probe failed: %s", "%s probe errored …"),
pkg/probe/http/http.go ("HTTP probe failed with statuscode: %d"), pkg/probe/tcp/tcp.go (the dial error),
the kubelet's "Container %s failed liveness probe, will be restarted" Killing event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.dataplane.commands import run_sync
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
HEALTHY_SCRIPT = ["sh", "-c", "touch /tmp/healthy && exec /agnhost netexec"]


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=11)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def started(sb: Sandbox, name: str, **container: Any) -> dict[str, Any]:
    rt = sb.registry.lookup("", "v1", "pods")
    body = {"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": AGNHOST, **container}]}}
    sb.api.create(rt, "default", body, WriteOptions(field_manager="test"))
    lifecycle.schedule(sb, sb.store.get("pods", "default", name))
    lifecycle.start(sb, sb.store.get("pods", "default", name))
    return sb.store.get("pods", "default", name)


def probe(sb: Sandbox, prober: lifecycle.Prober, name: str, advance: float = 0) -> dict[str, Any]:
    """Move the sandbox clock, then let the prober look at the pod once; the pod as stored afterwards."""
    if advance:
        sb.clock.advance(advance)
    prober.act(sb, sb.store.get("pods", "default", name))
    return sb.store.get("pods", "default", name)


def ready(pod: dict[str, Any]) -> str:
    return next(c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready")


def events(sb: Sandbox, reason: str) -> list[dict[str, Any]]:
    return [e for e in sb.store.list("events", "default") if e["reason"] == reason]


def test_exec_readiness_follows_the_file(sb):
    pod = started(sb, "web", command=HEALTHY_SCRIPT,
                  readinessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 5})
    assert ready(pod) == "False"  # worker.go: readiness starts as Failure
    prober = lifecycle.Prober(sb)
    pod = probe(sb, prober, "web")
    assert ready(pod) == "True" and pod["status"]["containerStatuses"][0]["ready"] is True
    run_sync(sb.dataplane, pod, "main", ["rm", "/tmp/healthy"])
    for _ in range(2):  # failureThreshold 3: two failures leave it Ready
        pod = probe(sb, prober, "web", 5)
        assert ready(pod) == "True"
    pod = probe(sb, prober, "web", 5)
    assert ready(pod) == "False"
    condition = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert condition["reason"] == "ContainersNotReady"
    assert condition["message"] == "containers with unready status: [main]"
    unhealthy = events(sb, "Unhealthy")
    assert len(unhealthy) == 1 and unhealthy[0]["count"] == 3 and unhealthy[0]["type"] == "Warning"
    assert unhealthy[0]["message"] == ("Readiness probe failed: cat: can't open '/tmp/healthy': "
                                       "No such file or directory\n")
    run_sync(sb.dataplane, pod, "main", ["touch", "/tmp/healthy"])
    assert ready(probe(sb, prober, "web", 5)) == "True"  # successThreshold 1


def test_no_probe_before_its_period_and_no_write_without_change(sb):
    pod = started(sb, "web", args=["netexec"], readinessProbe={"httpGet": {"path": "/healthz", "port": 8080},
                                                               "initialDelaySeconds": 20})
    prober = lifecycle.Prober(sb)
    before = probe(sb, prober, "web")["metadata"]["resourceVersion"]
    assert ready(sb.store.get("pods", "default", "web")) == "False"
    assert probe(sb, prober, "web", 10)["metadata"]["resourceVersion"] == before  # still in the initial delay
    pod = probe(sb, prober, "web", 10)
    assert ready(pod) == "True"
    rv = pod["metadata"]["resourceVersion"]
    assert probe(sb, prober, "web", 10)["metadata"]["resourceVersion"] == rv  # success again: nothing to write
    wait = prober.act(sb, sb.store.get("pods", "default", "web"))
    assert wait is not None and 0 < wait <= 10


def test_http_probe_status_code_failure(sb):
    """netexec's /healthz is 412 without its UDP server: "HTTP probe failed with statuscode: 412"."""
    started(sb, "web", args=["netexec", "--udp-port=-1"],
            readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 1})
    prober = lifecycle.Prober(sb)
    assert ready(probe(sb, prober, "web")) == "False"
    assert events(sb, "Unhealthy")[0]["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 412"
    log = [text for _, text in sb.dataplane.logs.lines(sb.store.get("pods", "default", "web")["metadata"]["uid"],
                                                       "main")]
    assert log[-1].endswith("GET /healthz")


def test_tcp_probe_dial_error(sb):
    pod = started(sb, "web", args=["netexec"], readinessProbe={"tcpSocket": {"port": 81}})
    prober = lifecycle.Prober(sb)
    probe(sb, prober, "web")
    assert events(sb, "Unhealthy")[0]["message"] == (
        f"Readiness probe failed: dial tcp {pod['status']['podIP']}:81: connect: connection refused")


def test_http_probe_comes_from_the_node_gateway(sb):
    """kindnet's ptp plugin gives the pod's host-side veth the node's pod-CIDR .1: the kubelet's source."""
    pod = started(sb, "web", image="nginx:1.27", readinessProbe={"httpGet": {"path": "/", "port": 80}})
    probe(sb, lifecycle.Prober(sb), "web")
    log = [text for _, text in sb.dataplane.logs.lines(pod["metadata"]["uid"], "main")]
    gateway = pod["status"]["podIP"].rsplit(".", 1)[0] + ".1"
    assert log[-1].startswith(f'{gateway} - - [') and '"kube-probe/1.33"' in log[-1]


def test_liveness_failure_restarts_with_fresh_files(sb):
    pod = started(sb, "web", command=HEALTHY_SCRIPT,
                  livenessProbe={"exec": {"command": ["cat", "/tmp/healthy"]}, "failureThreshold": 1,
                                 "periodSeconds": 5})
    prober = lifecycle.Prober(sb)
    probe(sb, prober, "web")
    run_sync(sb.dataplane, pod, "main", ["rm", "/tmp/healthy"])
    pod = probe(sb, prober, "web", 5)
    cs = pod["status"]["containerStatuses"][0]
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["reason"] == "Completed"
    assert cs["containerID"] != pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["startedAt"]
    assert events(sb, "Killing")[0]["message"] == "Container main failed liveness probe, will be restarted"
    assert sb.dataplane.workloads.files(pod, "main").exists("/tmp/healthy")  # the script ran again
    pod = probe(sb, prober, "web", 5)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 1  # healthy again


def test_startup_probe_gates_readiness(sb):
    pod = started(sb, "web", args=["netexec"], startupProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                  readinessProbe={"httpGet": {"path": "/hostname", "port": 8080}})
    assert pod["status"]["containerStatuses"][0]["started"] is False
    prober = lifecycle.Prober(sb)
    pod = probe(sb, prober, "web")
    assert pod["status"]["containerStatuses"][0]["started"] is True
    assert ready(probe(sb, prober, "web")) == "True"


def test_missing_probe_binary_errors_without_counting(sb):
    """worker.go throws away an errored probe's result: the pod stays not Ready, no restart."""
    started(sb, "web", args=["netexec"], readinessProbe={"exec": {"command": ["frob"]}})
    prober = lifecycle.Prober(sb)
    assert ready(probe(sb, prober, "web")) == "False"
    message = events(sb, "Unhealthy")[0]["message"]
    assert message.startswith("Readiness probe errored and resulted in unknown state: rpc error: code = Unknown "
                              "desc = failed to exec in container")


def test_probes_run_by_the_controllers_on_the_sandbox_loop(sb):
    """The pod lifecycle controller: Running, Ready after the first probe, NotReady after rm (threshold 1)."""

    async def scenario() -> list[str]:
        await sb.start()
        rt = sb.registry.lookup("", "v1", "pods")
        sb.api.create(rt, "default", {"metadata": {"name": "web"}, "spec": {"containers": [{
            "name": "main", "image": AGNHOST, "command": HEALTHY_SCRIPT,
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
                               "failureThreshold": 1}}]}}, WriteOptions(field_manager="test"))
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pod = sb.store.get("pods", "default", "web")
            conditions = (pod.get("status") or {}).get("conditions") or []
            state = next((c["status"] for c in conditions if c["type"] == "Ready"), None)
            if state and (not seen or seen[-1] != state):
                seen.append(state)
                if state == "True":
                    await sb.dataplane.exec(pod, "main", ["rm", "/tmp/healthy"])
                elif "True" in seen:
                    break
            await asyncio.sleep(0.05)
        await sb.stop()
        return seen

    seen = asyncio.run(scenario())  # start() writes False; the first probe may land before we look
    assert seen[-2:] == ["True", "False"]
