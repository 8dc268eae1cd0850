"""Pod exec, log, binding and eviction against the real sandbox, through kubectl 1.30-1.33 and the Python client.

Request validation is the sandbox's own and always tested. What a command prints and
what a container logs come from the emulated data plane: those tests skip, saying so,
while the sandbox answers that its data plane is not available yet.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from tests.conftest import KUBECTL_MINORS

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NO_DATA_PLANE = "dataplane commands not available yet"
POD = f"""
apiVersion: v1
kind: Pod
metadata: {{name: {{name}}, labels: {{app: {{name}}}}}}
spec:
  containers:
  - {{name: agnhost, image: {AGNHOST}, args: [netexec, --http-port=8080]}}
"""
TWO_CONTAINERS = f"""
apiVersion: v1
kind: Pod
metadata: {{name: two}}
spec:
  containers:
  - {{name: a, image: {AGNHOST}, args: [netexec, --http-port=8080]}}
  - {{name: b, image: {AGNHOST}, args: [netexec, --http-port=8081]}}
"""
UNSCHEDULABLE = f"""
apiVersion: v1
kind: Pod
metadata: {{name: stuck}}
spec:
  nodeSelector: {{no-such-label: "x"}}
  containers:
  - {{name: agnhost, image: {AGNHOST}}}
"""
DEPLOYMENT = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: agnhost, image: {AGNHOST}, args: [netexec, --http-port=8080]}}
"""


def run_pod(sandbox, ns: str, name: str = "src") -> str:
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=POD.replace("{name}", name))
    sandbox.kubectl("wait", "-n", ns, f"pod/{name}", "--for=condition=Ready", "--timeout=30s")
    return name


def kubectl_binary(minor: int) -> str:
    binary = KUBECTL_MINORS[minor]
    if not os.path.exists(binary):
        pytest.skip(f"kubectl 1.{minor} is not on this machine")
    return binary


@pytest.fixture
def pod(sandbox, ns) -> str:
    return run_pod(sandbox, ns)


@pytest.fixture
def commands(sandbox, ns, pod) -> str:
    """A running pod whose exec'd ``hostname`` answers; skips while the data plane cannot run it."""
    out = sandbox.kubectl("exec", "-n", ns, pod, "--", "hostname", check=False)
    if out.returncode != 0 or out.stdout.strip() != pod:
        pytest.skip(f"{NO_DATA_PLANE}: `hostname` answered {out.returncode}: {out.stderr.strip()[:200]}")
    return pod


@pytest.fixture
def logs(sandbox, ns, pod) -> str:
    """A running pod whose log the sandbox serves; skips while the data plane is missing."""
    out = sandbox.kubectl("logs", "-n", ns, pod, check=False)
    if out.returncode != 0:
        pytest.skip(f"{NO_DATA_PLANE}: `kubectl logs` answered {out.returncode}: {out.stderr.strip()[:200]}")
    return pod


# -- exec: validation (no data plane needed) ------------------------------------------------


@pytest.mark.parametrize("minor", sorted(KUBECTL_MINORS))
def test_exec_errors_as_a_cluster_words_them(sandbox, ns, pod, minor):
    binary = kubectl_binary(minor)
    out = sandbox.kubectl("exec", "-n", ns, "nope", "--", "hostname", check=False, binary=binary)
    assert out.returncode == 1 and 'Error from server (NotFound): pods "nope" not found' in out.stderr
    out = sandbox.kubectl("exec", "-n", ns, pod, "-c", "nope", "--", "hostname", check=False, binary=binary)
    assert out.returncode == 1
    assert f"Error from server (BadRequest): container nope is not valid for pod {pod}" in out.stderr
    out = sandbox.kubectl("exec", "-n", ns, pod, check=False, binary=binary)
    assert "you must specify at least one command for the container" in out.stderr


def test_exec_into_an_unscheduled_pod(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=UNSCHEDULABLE)
    out = sandbox.kubectl("exec", "-n", ns, "stuck", "--", "hostname", check=False)
    assert out.returncode == 1
    assert "Error from server (BadRequest): pod stuck does not have a host assigned" in out.stderr


def test_python_client_exec_without_container_on_a_two_container_pod(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=TWO_CONTAINERS)
    core = client.CoreV1Api(sandbox.api_client())
    with pytest.raises(ApiException) as exc:
        stream(core.connect_get_namespaced_pod_exec, "two", ns, command=["hostname"], stdout=True, stderr=True,
               stdin=False, tty=False)
    # The client reports a refused handshake as status 0 with the response in the reason.
    assert "400 Bad Request" in exc.value.reason
    assert "a container name must be specified for pod two, choose one of: [a b]" in exc.value.reason


# -- exec: commands -----------------------------------------------------------------------


@pytest.mark.parametrize("minor", sorted(KUBECTL_MINORS))
def test_kubectl_exec_with_each_minor(sandbox, ns, commands, minor):
    binary = kubectl_binary(minor)
    out = sandbox.kubectl("exec", "-n", ns, commands, "--", "hostname", binary=binary)
    assert out.stdout == f"{commands}\n"
    started = time.monotonic()
    out = sandbox.kubectl("exec", "-i", "-n", ns, commands, "--", "hostname", input="ignored\n", binary=binary)
    assert out.stdout == f"{commands}\n"
    assert time.monotonic() - started < 10  # stdin's end (v5 close signal) lets the command run at once


@pytest.mark.parametrize("minor", sorted(KUBECTL_MINORS))
def test_exit_code_propagates(sandbox, ns, commands, minor):
    binary = kubectl_binary(minor)
    out = sandbox.kubectl("exec", "-n", ns, commands, "--", "sh", "-c", "exit 3", check=False, binary=binary)
    assert "command terminated with exit code 3" in out.stderr, out.stderr
    assert out.returncode == 3


@pytest.mark.parametrize("minor", [33])
def test_missing_executable_fails_as_containerd_reports_it(sandbox, ns, commands, minor):
    out = sandbox.kubectl("exec", "-n", ns, commands, "--", "no-such-command", check=False,
                          binary=kubectl_binary(minor))
    assert out.returncode == 1
    assert 'exec: "no-such-command": executable file not found in $PATH' in out.stderr


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux `script` gives kubectl a terminal")
def test_exec_with_a_tty(sandbox, ns, commands):
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    proc = subprocess.run(["script", "-qec", f"{kubectl} exec -it -n {ns} {commands} -- hostname", "/dev/null"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert commands in proc.stdout


def test_python_client_stream(sandbox, ns, commands):
    core = client.CoreV1Api(sandbox.api_client())
    out = stream(core.connect_get_namespaced_pod_exec, commands, ns, command=["hostname"], stdout=True,
                 stderr=True, stdin=False, tty=False)
    assert out.strip() == commands
    resp = stream(core.connect_get_namespaced_pod_exec, commands, ns, command=["sh", "-c", "exit 4"], stdout=True,
                  stderr=True, stdin=False, tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 4


COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done"


def _count(sandbox, ns: str, pod: str) -> int:
    return int(sandbox.kubectl("exec", "-n", ns, pod, "--", "cat", "/tmp/count").stdout)


def _stays(sandbox, ns: str, pod: str) -> tuple[int, int]:
    """The counter a moment after its client left, and again half a second later."""
    time.sleep(0.3)
    first = _count(sandbox, ns, pod)
    time.sleep(0.5)
    return first, _count(sandbox, ns, pod)


def test_a_command_ends_when_its_python_client_leaves(sandbox, ns, commands):
    """containerd kills an exec'd process once the exec request's context is done (the kubelet's streaming
    server passes req.Context(); internal/cri/server/container_execsync.go sends SIGKILL): no tty needed."""
    core = client.CoreV1Api(sandbox.api_client())
    resp = stream(core.connect_get_namespaced_pod_exec, commands, ns, command=["sh", "-c", COUNTER], stdout=True,
                  stderr=True, stdin=False, tty=False, _preload_content=False)
    resp.update(timeout=0.5)
    resp.close()
    first, later = _stays(sandbox, ns, commands)
    assert first == later > 0


def test_a_command_ends_when_kubectl_exec_is_killed(sandbox, ns, commands):
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([shutil.which("kubectl") or "/usr/bin/kubectl", "exec", "-n", ns, commands, "--", "sh",
                             "-c", COUNTER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    first, later = _stays(sandbox, ns, commands)
    assert first == later > 0


def test_deleting_the_pod_ends_its_exec_with_137(sandbox, ns):
    """The runtime kills a removed pod's containers and every process in them: kubectl exec ends with the
    killed process's exit code instead of running on in a pod that no longer exists."""
    name = run_pod(sandbox, ns, "doomed")
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([shutil.which("kubectl") or "/usr/bin/kubectl", "exec", "-n", ns, name, "--", "sh", "-c",
                             COUNTER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    sandbox.kubectl("delete", "pod", "-n", ns, name, "--grace-period=0", "--force")
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 137 and "command terminated with exit code 137" in err, (proc.returncode, err)


# -- log ------------------------------------------------------------------------------------


def test_log_errors(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=TWO_CONTAINERS + "---\n" + UNSCHEDULABLE)
    core = client.CoreV1Api(sandbox.api_client())
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("two", ns)
    assert exc.value.status == 400
    assert "a container name must be specified for pod two, choose one of: [a b]" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod_log("two", ns, container="c")
    assert "container c is not valid for pod two" in exc.value.body
    assert core.read_namespaced_pod_log("stuck", ns) == ""  # no node: an empty stream, as upstream


@pytest.mark.parametrize("minor", sorted(KUBECTL_MINORS))
def test_kubectl_logs_tail_and_timestamps(sandbox, ns, logs, minor):
    binary = kubectl_binary(minor)
    everything = sandbox.kubectl("logs", "-n", ns, logs, binary=binary).stdout.splitlines()
    tail = sandbox.kubectl("logs", "-n", ns, logs, "--tail=1", binary=binary).stdout.splitlines()
    assert tail == everything[-1:]
    stamped = sandbox.kubectl("logs", "-n", ns, logs, "--timestamps", binary=binary).stdout.splitlines()
    assert len(stamped) >= len(everything)
    for line in stamped:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z ", line), line
    out = sandbox.kubectl("logs", "-n", ns, logs, "--previous", check=False, binary=binary)
    assert f'previous terminated container "agnhost" in pod "{logs}" not found' in out.stderr


def test_kubectl_logs_of_a_deployment(sandbox, ns, logs):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT)
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s")
    out = sandbox.kubectl("logs", "-n", ns, "deploy/web", check=False)
    assert out.returncode == 0, out.stderr


def test_kubectl_logs_follow_ends_when_the_pod_is_deleted(sandbox, ns, logs):
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    proc = subprocess.Popen([kubectl, "logs", "-f", "-n", ns, logs], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1)
        assert proc.poll() is None, proc.stderr.read()  # still following
        sandbox.kubectl("delete", "pod", "-n", ns, logs, "--grace-period=1", "--wait=false")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- binding and eviction ---------------------------------------------------------------------


def test_binding_assigns_a_node_once(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=UNSCHEDULABLE)
    core = client.CoreV1Api(sandbox.api_client())
    body = client.V1Binding(metadata=client.V1ObjectMeta(name="stuck"),
                            target=client.V1ObjectReference(kind="Node", name="k8snet-worker"))
    # The generated client cannot read the Status a binding answers with as a V1Binding: take it raw.
    resp = core.create_namespaced_pod_binding("stuck", ns, body, _preload_content=False)
    assert resp.status == 201
    assert core.read_namespaced_pod("stuck", ns).spec.node_name == "k8snet-worker"
    sandbox.kubectl("wait", "-n", ns, "pod/stuck", "--for=jsonpath={.status.phase}=Running", "--timeout=30s")
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod_binding("stuck", ns, body, _preload_content=False)
    assert exc.value.status == 409
    assert 'pod stuck is already assigned to node \\"k8snet-worker\\"' in exc.value.body


def test_eviction_deletes_the_pod(sandbox, ns, pod):
    core = client.CoreV1Api(sandbox.api_client())
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=ns),
                                 delete_options=client.V1DeleteOptions(grace_period_seconds=1))
    core.create_namespaced_pod_eviction(pod, ns, eviction)
    sandbox.kubectl("wait", "-n", ns, f"pod/{pod}", "--for=delete", "--timeout=30s")
