"""A deleted pod terminates gracefully, as the kubelet does it, through kubectl and the client on a running sandbox.

Sources: pkg/kubelet/kuberuntime/kuberuntime_container.go (killContainer: the ``Killing`` event "Stopping container
NAME", executePreStopHook and its ``FailedPreStopHook`` "PreStopHook failed" event, then StopContainer: SIGTERM, and
SIGKILL at the end of the grace period), pkg/kubelet/lifecycle/handlers.go (exec, httpGet, sleep),
test/images/agnhost/netexec/netexec.go (``--delay-shutdown``: "Sleeping %d seconds before terminating...", then
exit 0; ``/readyz`` 503 "shutting down" once SIGTERM came),
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination and
https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/. The waits that last seconds are long
on purpose (a minute, a grace period): the test moves the sandbox clock past them instead of waiting.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from kubernetes import client, watch
from tests.conftest import wait_for

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def pod(name: str, *containers: dict[str, Any], grace: int | None = None) -> str:
    spec: dict[str, Any] = {"containers": list(containers)}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def netexec(name: str = "web", *args: str, port: int = 8080, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": AGNHOST, "args": ["netexec", f"--http-port={port}", *args], **extra}


class Witness:
    """Every state of one pod from now until it is gone, as a watch delivers them."""

    def __init__(self, sandbox, ns: str, name: str):
        core = client.CoreV1Api(sandbox.api_client())
        rv = core.list_namespaced_pod(ns).metadata.resource_version
        self.states: list[dict[str, Any]] = []
        self.gone = threading.Event()

        def run() -> None:
            try:
                for ev in watch.Watch().stream(core.list_namespaced_pod, ns, field_selector=f"metadata.name={name}",
                                               resource_version=rv, timeout_seconds=60):
                    self.states.append(core.api_client.sanitize_for_serialization(ev["object"]))
                    if ev["type"] == "DELETED":
                        self.gone.set()
                        return
            except Exception:  # the sandbox went away first (the test failed before the pod was removed)
                return

        threading.Thread(target=run, daemon=True).start()

    def last(self, timeout: float = 30) -> dict[str, Any]:
        """The pod's last state, once it has been removed."""
        assert self.gone.wait(timeout), "the pod was not removed"
        return self.states[-1]


def terminated(state: dict[str, Any], container: str) -> dict[str, Any]:
    statuses = state["status"].get("containerStatuses") or []
    return next(cs for cs in statuses if cs["name"] == container)["state"]["terminated"]


def events(sandbox, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = sandbox.kubectl_json("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def advance(sandbox, seconds: float) -> None:
    process.admin(sandbox.running, "clock", {"advance": seconds})


def ready(sandbox, ns: str, *names: str) -> None:
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", *(f"pod/{n}" for n in names), "--timeout=30s")


def container_log(sandbox, ns: str, name: str, container: str | None = None) -> str:
    return sandbox.kubectl("-n", ns, "logs", name, *(["-c", container] if container else []), check=False).stdout


def test_a_server_that_exits_on_sigterm_ends_at_once_and_the_pod_is_removed(sandbox, ns):
    """netexec exits 0 on SIGTERM: the container ends Completed, the pod Succeeded, then the kubelet's final
    delete, well inside the 30 s grace period (kubectl delete waits for it)."""
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("web", netexec()))
    ready(sandbox, ns, "web")
    seen = Witness(sandbox, ns, "web")
    sandbox.kubectl("-n", ns, "delete", "pod", "web")
    last = seen.last()
    assert last["metadata"]["deletionGracePeriodSeconds"] == 30
    assert terminated(last, "web")["exitCode"] == 0 and terminated(last, "web")["reason"] == "Completed"
    assert last["status"]["phase"] == "Succeeded"
    assert ("Normal", "Killing", "Stopping container web") in events(sandbox, ns, "web")


def test_sleep_as_pid_1_ignores_sigterm_and_is_killed_at_the_end_of_the_grace_period(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod(
        "sleeper", {"name": "sleeper", "image": "busybox:1.36", "command": ["sleep", "3600"]}, grace=60))
    ready(sandbox, ns, "sleeper")
    seen = Witness(sandbox, ns, "sleeper")
    sandbox.kubectl("-n", ns, "delete", "pod", "sleeper", "--wait=false")
    wait_for(lambda: any(e[1] == "Killing" for e in events(sandbox, ns, "sleeper")), what="SIGTERM")
    current = sandbox.kubectl_json("-n", ns, "get", "pod", "sleeper")
    assert current["metadata"]["deletionTimestamp"] and "running" in current["status"]["containerStatuses"][0]["state"]
    advance(sandbox, 60)
    last = seen.last()
    assert terminated(last, "sleeper")["exitCode"] == 137 and terminated(last, "sleeper")["reason"] == "Error"
    assert last["status"]["phase"] == "Failed"


def test_the_delete_requests_grace_period_wins_and_a_shorter_one_cuts_it_short(sandbox, ns):
    sleeper = {"name": "sleeper", "image": "busybox:1.36", "command": ["sleep", "3600"]}
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("sleeper", sleeper, grace=600))
    ready(sandbox, ns, "sleeper")
    seen = Witness(sandbox, ns, "sleeper")
    sandbox.kubectl("-n", ns, "delete", "pod", "sleeper", "--grace-period=300", "--wait=false")
    assert sandbox.kubectl_json("-n", ns, "get", "pod", "sleeper")["metadata"]["deletionGracePeriodSeconds"] == 300
    wait_for(lambda: any(e[1] == "Killing" for e in events(sandbox, ns, "sleeper")), what="SIGTERM")
    sandbox.kubectl("-n", ns, "delete", "pod", "sleeper", "--grace-period=5", "--wait=false")
    advance(sandbox, 5)
    assert terminated(seen.last(), "sleeper")["exitCode"] == 137


def test_delay_shutdown_serves_on_after_sigterm_then_exits_0(sandbox, ns):
    """While it terminates the pod keeps its IP: netexec answers, /readyz says it is shutting down."""
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("web", netexec("web", "--delay-shutdown=30"), grace=60))
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("client", netexec("client")))
    ready(sandbox, ns, "web", "client")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"]
    seen = Witness(sandbox, ns, "web")
    sandbox.kubectl("-n", ns, "delete", "pod", "web", "--wait=false")
    wait_for(lambda: "Sleeping 30 seconds before terminating..." in container_log(sandbox, ns, "web"),
             what="netexec's answer to SIGTERM")
    assert sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"] == ip
    assert sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", f"http://{ip}:8080/hostname").stdout == "web"
    readyz = sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", "-w", " %{http_code}",
                             f"http://{ip}:8080/readyz").stdout
    assert readyz == "shutting down 503"
    advance(sandbox, 30)
    assert terminated(seen.last(), "web") == {**terminated(seen.last(), "web"), "exitCode": 0, "reason": "Completed"}


def test_an_ended_container_refuses_while_the_others_answer_on_the_same_ip(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod(
        "two", netexec("web"), netexec("side", "--udp-port=-1", "--delay-shutdown=30", port=9090), grace=60))
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("client", netexec("client")))
    ready(sandbox, ns, "two", "client")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "two")["status"]["podIP"]
    sandbox.kubectl("-n", ns, "delete", "pod", "two", "--wait=false")
    def states() -> dict[str, dict]:
        got = sandbox.kubectl_json("-n", ns, "get", "pod", "two")["status"]
        return {cs["name"]: cs["state"] for cs in got["containerStatuses"]} | {"": got}

    state = wait_for(lambda: (lambda s: s if "terminated" in s["web"] else None)(states()), what="web to end")
    assert "running" in state["side"] and state[""]["podIP"] == ip and state[""]["phase"] == "Running"
    refused = sandbox.kubectl("-n", ns, "exec", "client", "--", "/agnhost", "connect", f"{ip}:8080", "--timeout=1s",
                              check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("REFUSED")
    assert sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", f"http://{ip}:9090/hostname").stdout == "two"
    advance(sandbox, 30)


@pytest.mark.parametrize("hook", [
    {"httpGet": {"path": "/echo?msg=prestop", "port": 8080}},
    {"exec": {"command": ["sh", "-c", "wget -qO- 'http://localhost:8080/echo?msg=prestop'"]}},
], ids=["httpGet", "exec"])
def test_the_pre_stop_hook_runs_before_sigterm(sandbox, ns, hook):
    """The hook's request is in netexec's log before its answer to SIGTERM."""
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod(
        "web", netexec("web", "--delay-shutdown=1", lifecycle={"preStop": hook})))
    ready(sandbox, ns, "web")
    seen = Witness(sandbox, ns, "web")
    sandbox.kubectl("-n", ns, "delete", "pod", "web", "--wait=false")
    log = wait_for(lambda: (lambda text: text if "before terminating" in text else None)(
        container_log(sandbox, ns, "web")), what="SIGTERM")
    lines = [line.split(" ", 2)[2] for line in log.splitlines()]
    assert lines[-2:] == ["GET /echo?msg=prestop&code=", "Sleeping 1 seconds before terminating..."]
    advance(sandbox, 1)
    assert terminated(seen.last(), "web")["exitCode"] == 0
    assert [e for e in events(sandbox, ns, "web") if e[0] == "Warning"] == []


def test_a_pre_stop_sleep_holds_sigterm_back(sandbox, ns):
    """PodLifecycleSleepAction: the kubelet sleeps, then sends SIGTERM; netexec answers /readyz until then."""
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod(
        "web", netexec("web", "--delay-shutdown=1", lifecycle={"preStop": {"sleep": {"seconds": 40}}}), grace=60))
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod("client", netexec("client")))
    ready(sandbox, ns, "web", "client")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"]
    seen = Witness(sandbox, ns, "web")
    sandbox.kubectl("-n", ns, "delete", "pod", "web", "--wait=false")
    wait_for(lambda: any(e[1] == "Killing" for e in events(sandbox, ns, "web")), what="the kubelet to start")
    assert sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", f"http://{ip}:8080/readyz").stdout == "ok"
    assert "before terminating" not in container_log(sandbox, ns, "web")
    advance(sandbox, 40)
    wait_for(lambda: "Sleeping 1 seconds before terminating..." in container_log(sandbox, ns, "web"), what="SIGTERM")
    advance(sandbox, 1)
    assert terminated(seen.last(), "web")["exitCode"] == 0


def test_a_failing_pre_stop_hook_is_a_warning_and_the_container_still_stops(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=pod(
        "web", netexec("web", lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "exit 3"]}}})))
    ready(sandbox, ns, "web")
    seen = Witness(sandbox, ns, "web")
    sandbox.kubectl("-n", ns, "delete", "pod", "web", "--wait=false")
    assert terminated(seen.last(), "web")["exitCode"] == 0
    assert [e for e in events(sandbox, ns, "web") if e[1] in ("Killing", "FailedPreStopHook")] == [
        ("Normal", "Killing", "Stopping container web"), ("Warning", "FailedPreStopHook", "PreStopHook failed")]


def test_a_pre_stop_sleep_longer_than_the_grace_period_is_refused(sandbox, ns):
    """validateSleepAction (PodLifecycleSleepActionAllowZero, on in 1.33)."""
    out = sandbox.kubectl("-n", ns, "apply", "-f", "-", check=False, input=pod(
        "web", netexec("web", lifecycle={"preStop": {"sleep": {"seconds": 40}}}), grace=30))
    assert out.returncode == 1
    assert ("spec.containers[0].lifecycle.preStop.sleep: Invalid value: 40: must be non-negative and less than "
            "terminationGracePeriodSeconds (30)") in out.stderr
