"""One learner's command cannot stall the cluster: scripts run in slices, budgets end runaway programs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

from tests.conftest import KUBECTL, SandboxEnv, wait_for

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def running_pod(sandbox: SandboxEnv, ns: str, name: str) -> None:
    sandbox.kubectl("-n", ns, "run", name, f"--image={AGNHOST}", "--restart=Never", "--", "netexec")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")


def healthz(sandbox: SandboxEnv) -> int:
    req = urllib.request.Request(f"{sandbox.running.server}/healthz")
    with urllib.request.urlopen(req, context=process._tls(sandbox.running.state), timeout=30) as resp:
        return resp.status


def admin_status(sandbox: SandboxEnv) -> dict:
    return process.admin(sandbox.running, "status")


def test_the_api_answers_while_a_100000_command_script_runs(sandbox, ns):
    # long enough to be asked while it runs, short enough for its 10 s CPU budget on a machine busy with other test
    # workers (the benchmark runs 200,000: make bench, "limits")
    running_pod(sandbox, ns, "busy")
    script = "i=0\n" + "true\n" * 100_000 + "echo finished\n"
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([KUBECTL, "-n", ns, "exec", "-i", "busy", "--", "sh"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdin.write(script.encode())
    proc.stdin.close()
    answered_while_running = 0
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        assert healthz(sandbox) == 200
        assert sandbox.kubectl("-n", ns, "get", "pods").returncode == 0
        if proc.poll() is None:
            answered_while_running += 1
    proc.wait(timeout=60)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert out.decode().endswith("finished\n"), err.decode()[-300:]
    assert answered_while_running >= 1, "the script finished before the API was asked anything"


def test_a_doubling_file_ends_with_no_space_left_on_device(sandbox, ns):
    running_pod(sandbox, ns, "filler")
    others = admin_status(sandbox)["containers"]["fileSystemBytes"]  # every container's /etc files, …
    script = "echo 0123456789abcdef > a && " + "cat a a > b && cat b b > a && " * 14 + "echo survived"
    proc = sandbox.kubectl("-n", ns, "exec", "filler", "--", "sh", "-c", script, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "cat: write error: No space left on device" in proc.stderr
    events = sandbox.kubectl_json("-n", ns, "get", "events")["items"]
    assert any(e["reason"] == "BudgetExceeded" and "file system budget" in e["message"] for e in events)
    assert "survived" not in proc.stdout
    assert admin_status(sandbox)["containers"]["fileSystemBytes"] - others <= 64 << 20
    sandbox.kubectl("-n", ns, "exec", "filler", "--", "rm", "a", "b")


def test_force_deleting_a_pod_frees_its_files_and_address(sandbox, ns):
    running_pod(sandbox, ns, "forced")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "forced")["status"]["podIP"]
    sandbox.kubectl("-n", ns, "exec", "forced", "--", "sh", "-c", "echo data > /tmp/f")
    before = admin_status(sandbox)["containers"]["fileSystems"]
    sandbox.kubectl("-n", ns, "delete", "pod", "forced", "--force", "--grace-period=0")
    after = admin_status(sandbox)["containers"]["fileSystems"]
    assert after < before
    in_use = [p["status"].get("podIP") for p in sandbox.kubectl_json("get", "pods", "-A")["items"]]
    assert ip not in in_use


def test_a_runaway_exec_probe_is_ended_by_its_budget(sandbox, ns):
    """An exec probe gets its timeoutSeconds of work; past it the program is killed (137) and an Event says
    which budget."""
    long_script = "true;" * 150_000 + "true"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slowprobe"},
           "spec": {"containers": [{"name": "main", "image": AGNHOST, "args": ["netexec"],
                                    "readinessProbe": {"exec": {"command": ["sh", "-c", long_script]},
                                                       "timeoutSeconds": 1, "periodSeconds": 5}}]}}
    sandbox.kubectl("-n", ns, "create", "-f", "-", input=json.dumps(pod))

    def budget_event() -> bool:
        events = sandbox.kubectl_json("-n", ns, "get", "events")["items"]
        return any(e["reason"] == "BudgetExceeded" and e["involvedObject"]["name"] == "slowprobe" for e in events)

    wait_for(budget_event, timeout=60, what="a BudgetExceeded event for the probe")
