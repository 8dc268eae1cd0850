"""A failed liveness or startup probe as the kubelet handles it, through kubectl on a running sandbox.

kuberuntime_manager.go computePodActions: a container whose liveness (or startup) probe failed is killed with a
``Killing`` event "Container <name> failed liveness probe", plus ", will be restarted" unless the pod's
``restartPolicy`` is Never (shouldRestartOnFailure); killContainer sends SIGTERM and SIGKILL after the grace
period (the probe's ``terminationGracePeriodSeconds``, else the pod's); a shell or sleep as PID 1 does not exit
on SIGTERM, so it ends with 137 (128 + SIGKILL). The restart goes through doBackOff: CrashLoopBackOff from the
second restart on. The pods are kubernetes.io's "Define a liveness command" example, with shorter times.
"""

from __future__ import annotations

import json

from tests.conftest import wait_for

BUSYBOX = "registry.k8s.io/busybox:1.27.2"


def liveness_pod(name: str, restart_policy: str, grace: int = 1) -> str:
    """The liveness-exec example: healthy for a second, then /tmp/healthy is gone and the probe fails."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": restart_policy, "terminationGracePeriodSeconds": 30,
                 "containers": [{"name": "liveness", "image": BUSYBOX, "args": [
                     "/bin/sh", "-c", "touch /tmp/healthy; sleep 1; rm -f /tmp/healthy; sleep 600"],
                     "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
                                       "failureThreshold": 1, "terminationGracePeriodSeconds": grace}}]}})


def status(sandbox, ns: str, name: str) -> dict:
    return sandbox.kubectl_json("get", "pod", name, "-n", ns)["status"]


def container(sandbox, ns: str, name: str) -> dict:
    """The pod's one container status ({} before the kubelet has written any)."""
    return (status(sandbox, ns, name).get("containerStatuses") or [{}])[0]


def messages(sandbox, ns: str, name: str, reason: str) -> list[str]:
    events = sandbox.kubectl_json("get", "events", "-n", ns, "--field-selector",
                                  f"involvedObject.name={name},reason={reason}")["items"]
    return [e["message"] for e in events]


def test_restart_policy_never_leaves_the_killed_container_failed_with_137(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=liveness_pod("never", "Never"))
    st = wait_for(lambda: (lambda s: s if s.get("phase") == "Failed" else None)(status(sandbox, ns, "never")),
                  timeout=20, what="the pod to fail")
    cs = st["containerStatuses"][0]
    assert cs["restartCount"] == 0
    assert cs["state"]["terminated"]["exitCode"] == 137 and cs["state"]["terminated"]["reason"] == "Error"
    assert messages(sandbox, ns, "never", "Killing") == ["Container liveness failed liveness probe"]
    assert messages(sandbox, ns, "never", "Unhealthy")[0].startswith("Liveness probe failed: cat: can't open")
    row = sandbox.kubectl("get", "pod", "never", "-n", ns, "--no-headers").stdout.split()
    assert row[1:4] == ["0/1", "Error", "0"]  # READY, STATUS, RESTARTS as kubectl prints a failed pod


def test_restart_policy_always_restarts_with_the_killed_exit_and_then_backs_off(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=liveness_pod("always", "Always"))
    first = wait_for(lambda: (lambda cs: cs if cs.get("restartCount", 0) >= 1 else None)(
        container(sandbox, ns, "always")), timeout=20, what="the first restart")
    assert first["lastState"]["terminated"]["exitCode"] == 137
    assert first["lastState"]["terminated"]["reason"] == "Error"
    assert messages(sandbox, ns, "always", "Killing")[0] == \
        "Container liveness failed liveness probe, will be restarted"
    # the second kill is followed by the crash back-off (10 s), not by another immediate start
    waiting = wait_for(lambda: (lambda cs: cs if "waiting" in cs.get("state", {}) else None)(
        container(sandbox, ns, "always")), timeout=20, what="CrashLoopBackOff")
    assert waiting["state"]["waiting"]["reason"] == "CrashLoopBackOff" and waiting["restartCount"] == 1
    assert messages(sandbox, ns, "always", "BackOff")


def test_a_server_that_exits_on_sigterm_is_stopped_at_once(sandbox, ns):
    """agnhost netexec exits 0 on SIGTERM: no grace period to wait out, lastState Completed."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                                    "args": ["netexec"], "livenessProbe": {
                                        "httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1,
                                        "failureThreshold": 1},
                                    "ports": [{"containerPort": 8080}]}],
                    "terminationGracePeriodSeconds": 600}}
    pod["spec"]["containers"][0]["args"] = ["netexec", "--udp-port=-1"]  # /healthz answers 412 without UDP
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod))
    cs = wait_for(lambda: (lambda c: c if c.get("restartCount", 0) >= 1 else None)(
        container(sandbox, ns, "web")), timeout=15, what="a restart well before 600 s")
    assert cs["lastState"]["terminated"] == {**cs["lastState"]["terminated"], "exitCode": 0, "reason": "Completed"}
