"""``kubectl run -i/-it --rm`` and ``kubectl attach``: a container's own process with its standard input held
open (stdin, stdinOnce, tty), as kubectl's run and attach commands and the kubelet's attach use it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

from tests.conftest import KUBECTL, wait_for

import k8snet
from k8snet import kubeproxy

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def test_run_i_rm_feeds_the_shell_and_deletes_the_pod(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "web", f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                    "--http-port=8080")
    sandbox.kubectl("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=30s")
    kubeproxy.wait_synced(k8snet.connect(), "k8snet-worker", ns, "web")  # kube-proxy has written the endpoint
    proc = sandbox.kubectl("-n", ns, "run", "client", "-i", "--rm", "--restart=Never", "--image=busybox:1.36",
                           "--", "sh", input="echo hello\nwget -qO- -T 2 http://web/hostname\necho\nexit 0\n")
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello" and lines[1].startswith("web-"), proc.stdout
    assert lines[-1] == 'pod "client" deleted'
    assert sandbox.kubectl("-n", ns, "get", "pod", "client", check=False).returncode == 1


def test_a_short_command_with_run_i_rm_prints_its_output(sandbox, ns):
    """The command may end before kubectl attaches: kubectl then reads the logs (its fallback)."""
    proc = sandbox.kubectl("-n", ns, "run", "once", "-i", "--rm", "--restart=Never", "--image=busybox:1.36",
                           "--", "sh", "-c", "echo from-the-pod")
    assert "from-the-pod" in proc.stdout and 'pod "once" deleted' in proc.stdout


def test_run_it_gives_a_terminal_with_a_prompt_and_echo(sandbox, ns):
    """kubectl run -it in a real terminal (a pty): the prompt, the typed command echoed, CR LF line ends."""
    seen = _converse(sandbox, ["-n", ns, "run", "term", "-it", "--rm", "--restart=Never", "--image=busybox:1.36",
                               "--", "sh"], b"/ # ", [(b"echo $((6*7))\r", b"42\r\n")], b'pod "term" deleted')
    assert b"echo $((6*7))\r\n42\r\n" in seen


def _converse(sandbox, argv: list[str], prompt: bytes, exchanges: list[tuple[bytes, bytes]],
              farewell: bytes = b"") -> bytearray:
    """A terminal session as kubectl run -it and kubectl debug -it begin it (press enter for the prompt), then
    each (keys, expected output) in turn, then ``exit``; what the terminal showed."""
    proc, leader, seen, read_until = _terminal(sandbox, *argv)
    try:
        read_until(b"If you don't see a command prompt, try pressing enter.")
        os.write(leader, b"\r")
        read_until(prompt)
        for keys, expected in exchanges:
            os.write(leader, keys)
            read_until(expected)
        os.write(leader, b"exit\r")
        if farewell:
            read_until(farewell)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return seen


def test_attach_follows_a_running_loop(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "ticker", "--image=busybox:1.36", "--", "sh", "-c",
                    "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/ticker", "--timeout=30s")
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([KUBECTL, "-n", ns, "attach", "ticker"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = wait_for(proc.stdout.readline, what="a line through attach")
        second = proc.stdout.readline()
        assert first.startswith("tick ") and int(second.split()[1]) == int(first.split()[1]) + 1
    finally:
        proc.terminate()
        proc.wait(10)


def _terminal(sandbox, *argv: str):
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    leader, follower = pty.openpty()
    proc = subprocess.Popen([KUBECTL, *argv], stdin=follower, stdout=follower, stderr=follower, env=env,
                            close_fds=True)
    os.close(follower)
    seen = bytearray()

    def read_until(text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in seen:
            assert time.monotonic() < deadline, bytes(seen)
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    seen.extend(os.read(leader, 4096))
                except OSError:  # kubectl has exited: what it wrote is all there is
                    assert text in seen, bytes(seen)
                    break

    return proc, leader, seen, read_until


def test_exec_it_sh_is_an_interactive_shell_and_ctrl_c_stops_the_foreground_command(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "shell", "--image=busybox:1.36", "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/shell", "--timeout=30s")
    proc, leader, seen, read_until = _terminal(sandbox, "-n", ns, "exec", "-it", "shell", "--", "sh")
    try:
        read_until(b"/ # ")
        os.write(leader, b"cd /tmp; for i in 1 2; do echo n$i; done\r")
        read_until(b"n2\r\n/tmp # ")
        os.write(leader, b"sleep 3600\r")
        time.sleep(0.3)
        os.write(leader, b"\x03")  # Ctrl-C ends the sleep, not the shell
        read_until(b"^C")
        os.write(leader, b"echo status=$?\r")
        read_until(b"status=130")
        os.write(leader, b"exit 3\r")
        assert proc.wait(30) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


def test_exec_output_arrives_as_it_is_written(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "slow", "--image=busybox:1.36", "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/slow", "--timeout=30s")
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    proc = subprocess.Popen([KUBECTL, "-n", ns, "exec", "slow", "--", "sh", "-c", "echo first; sleep 3600"],
                            stdout=subprocess.PIPE, env=env)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready and proc.stdout.readline() == b"first\n"  # long before the sleep ends
    finally:
        proc.kill()
        proc.wait(10)


def test_kubectl_debug_adds_an_ephemeral_container_with_a_shell(sandbox, ns):
    """kubectl debug -it pod/web --image=busybox --target=web: the pods/ephemeralcontainers subresource, the
    kubelet starts the container once, kubectl attaches to its shell."""
    sandbox.kubectl("-n", ns, "run", "web", f"--image={AGNHOST}", "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=30s")
    _converse(sandbox, ["-n", ns, "debug", "-it", "pod/web", "--image=busybox:1.36", "--target=web",
                        "--container=dbg"], b"/ # ", [(b"wget -qO- localhost:8080/hostname; echo\r", b"web\r\n")])
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "web")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["dbg"]
    assert pod["spec"]["ephemeralContainers"][0]["targetContainerName"] == "web"
    state = wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"][
        "ephemeralContainerStatuses"][0]["state"].get("terminated"), what="the debug container to end")
    assert state["exitCode"] == 0


def test_kubectl_debug_with_netshoot_gets_its_default_shell(sandbox, ns):
    """netshoot's CMD is zsh: the sandbox's shell answers for it, saying so, with zsh's own prompt."""
    sandbox.kubectl("-n", ns, "run", "api", f"--image={AGNHOST}", "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/api", "--timeout=30s")
    seen = _converse(sandbox, ["-n", ns, "debug", "-it", "pod/api", "--image=nicolaka/netshoot", "--target=api",
                               "--container=shoot"], b"api# ",
                     [(b"nc -zv localhost 8080; frobnicate\r", b"zsh: command not found: frobnicate")])
    assert b"Connection to localhost (127.0.0.1) 8080 port [tcp/http-alt] succeeded!" in seen


def test_kubectl_cp_both_ways_through_tar(sandbox, ns, tmp_path):
    sandbox.kubectl("-n", ns, "run", "files", "--image=busybox:1.36", "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/files", "--timeout=30s")
    local = tmp_path / "page.html"
    local.write_text("<h1>copied in</h1>\n")
    sandbox.kubectl("-n", ns, "cp", str(local), "files:/tmp/page.html")
    assert sandbox.kubectl("-n", ns, "exec", "files", "--", "cat", "/tmp/page.html").stdout == "<h1>copied in</h1>\n"
    sandbox.kubectl("-n", ns, "exec", "files", "--", "sh", "-c", "mkdir -p /tmp/out/sub; echo a > /tmp/out/a.txt; "
                    "echo b > /tmp/out/sub/b.txt")
    sandbox.kubectl("-n", ns, "cp", "files:/tmp/out", str(tmp_path / "out"))
    assert (tmp_path / "out" / "a.txt").read_text() == "a\n"
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "b\n"


def test_kubectl_debug_node_sees_the_nodes_network(sandbox, ns):
    """kubectl debug node/NAME: a hostNetwork pod on that node with its / at /host. It has the node's address
    and name, the node's interfaces and kindnet's routes (a /32 per local pod on its veth, every other node's
    pod range through that node) and reaches pods as the node does."""
    sandbox.kubectl("-n", ns, "run", "web", f"--image={AGNHOST}", "--overrides",
                    '{"spec": {"nodeName": "k8snet-worker"}}', "--", "netexec", "--http-port=8080")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=30s")
    web_ip = sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"]
    nodes = {n["metadata"]["name"]: n for n in sandbox.kubectl_json("get", "nodes")["items"]}
    worker2 = nodes["k8snet-worker2"]
    worker2_ip = next(a["address"] for a in worker2["status"]["addresses"] if a["type"] == "InternalIP")
    node_ip = next(a["address"] for a in nodes["k8snet-worker"]["status"]["addresses"] if a["type"] == "InternalIP")
    seen = _converse(sandbox, ["-n", ns, "debug", "-it", "node/k8snet-worker", "--image=busybox:1.36",
                               "--profile=general"], b"/ # ",
                     [(b"hostname; cat /host/etc/hostname\r", b"k8snet-worker\r\nk8snet-worker\r\n"),
                      (b"ip route\r", f"{worker2['spec']['podCIDR']} via {worker2_ip} dev eth0".encode()),
                      (b"wget -qO- " + web_ip.encode() + b":8080/clientip; echo\r", f"{node_ip}:".encode())])
    assert f"{web_ip} dev veth".encode() in seen  # the local pod's /32 route
    debugger = next(p for p in sandbox.kubectl_json("-n", ns, "get", "pods")["items"]
                    if p["metadata"]["name"].startswith("node-debugger-k8snet-worker-"))
    assert debugger["spec"]["hostNetwork"] and debugger["status"]["podIP"] == node_ip  # netexec saw it too
