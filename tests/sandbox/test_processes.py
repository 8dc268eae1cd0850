"""A container is a program: it runs its command, its output is its log, its exit decides the pod's fate
(kubelet: restartPolicy, CrashLoopBackOff)."""

from __future__ import annotations

from tests.conftest import wait_for

import k8snet
from k8snet import kubeproxy

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def phase(sandbox, ns: str, name: str) -> str:
    return sandbox.kubectl_json("-n", ns, "get", "pod", name).get("status", {}).get("phase", "")


def test_a_script_that_exits_3_fails_the_pod_and_its_output_is_the_log(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "t", f"--image={AGNHOST}", "--restart=Never", "--command", "--",
                    "sh", "-c", "echo hi; echo oops >&2; exit 3")
    wait_for(lambda: phase(sandbox, ns, "t") == "Failed", what="pod t to fail")
    assert sandbox.kubectl("-n", ns, "logs", "t").stdout == "hi\noops\n"
    cs = sandbox.kubectl_json("-n", ns, "get", "pod", "t")["status"]["containerStatuses"][0]
    assert cs["state"]["terminated"]["exitCode"] == 3 and cs["state"]["terminated"]["reason"] == "Error"
    assert " Error " in sandbox.kubectl("-n", ns, "get", "pod", "t").stdout


def test_a_command_that_succeeds_completes_the_pod(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "ok", "--image=busybox:1.36", "--restart=Never", "--", "echo", "done")
    wait_for(lambda: phase(sandbox, ns, "ok") == "Succeeded", what="pod ok to succeed")
    assert sandbox.kubectl("-n", ns, "logs", "ok").stdout == "done\n"
    assert " Completed " in sandbox.kubectl("-n", ns, "get", "pod", "ok").stdout


def test_a_crashing_container_restarts_with_back_off(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "crash", "--image=busybox:1.36", "--", "sh", "-c", "echo crashing; exit 1")

    def backing_off() -> bool:
        pod = sandbox.kubectl_json("-n", ns, "get", "pod", "crash")
        cs = (pod["status"].get("containerStatuses") or [{}])[0]
        waiting = (cs.get("state") or {}).get("waiting") or {}
        return cs.get("restartCount", 0) >= 1 and waiting.get("reason") == "CrashLoopBackOff"

    wait_for(backing_off, timeout=30, what="CrashLoopBackOff after a restart")
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "crash")
    cs = pod["status"]["containerStatuses"][0]
    assert pod["status"]["phase"] == "Running"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=crash" in cs["state"]["waiting"]["message"]
    assert "CrashLoopBackOff" in sandbox.kubectl("-n", ns, "get", "pod", "crash").stdout


def test_a_looping_client_is_a_traffic_generator_whose_log_grows(sandbox, ns):
    """The classic `while true; do wget …; sleep 1; done`: each turn fetches through the Service and sleeps a
    second of sandbox time; the pod stays Running and its log is the answers."""
    sandbox.kubectl("-n", ns, "create", "deployment", "web", f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                    "--http-port=8080")
    sandbox.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")
    kubeproxy.wait_synced(k8snet.connect(), "k8snet-worker", ns, "web")  # kube-proxy has written the endpoint
    sandbox.kubectl("-n", ns, "run", "loop", "--image=busybox:1.36", "--restart=Never", "--",
                    "sh", "-c", "while true; do wget -qO- -T 2 http://web/hostname; echo; sleep 1; done")

    def lines() -> list[str]:
        return sandbox.kubectl("-n", ns, "logs", "loop", check=False).stdout.splitlines()

    seen = wait_for(lambda: len(lines()) >= 3 and lines(), timeout=30, what="three turns of the loop")
    assert all(line.startswith("web-") for line in seen), seen
    assert phase(sandbox, ns, "loop") == "Running"


def test_a_script_with_a_syntax_error_fails_with_the_shell_s_message(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "bad", "--image=busybox:1.36", "--restart=Never", "--",
                    "sh", "-c", "echo before\nwhile true; do echo")
    wait_for(lambda: phase(sandbox, ns, "bad") == "Failed", what="pod bad to fail")
    assert sandbox.kubectl("-n", ns, "logs", "bad").stdout == (
        'before\nsh: syntax error: unexpected end of file (expecting "done")\n')


def test_servers_keep_running(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "srv", f"--image={AGNHOST}", "--", "netexec")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/srv", "--timeout=30s")
    assert phase(sandbox, ns, "srv") == "Running"


def test_args_without_command_go_to_agnhost_s_entrypoint(sandbox, ns):
    """Without --command, kubectl run's arguments replace CMD only: /agnhost gets `sh`, which cobra refuses."""
    sandbox.kubectl("-n", ns, "run", "args", f"--image={AGNHOST}", "--restart=Never", "--", "sh", "-c", "echo hi")
    wait_for(lambda: phase(sandbox, ns, "args") == "Failed", what="pod args to fail")
    assert sandbox.kubectl("-n", ns, "logs", "args").stdout.startswith('Error: unknown command "sh" for "agnhost"')
