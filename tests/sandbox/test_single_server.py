"""One server per state directory: a busy sandbox is never doubled, and kill -9 frees the directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from kubernetes import client
from tests.conftest import wait_for
from tests.sandbox.conftest import core_api

from k8snet.sandbox import lock, process


def servers(state) -> list[int]:
    """Every sandbox server process serving this state directory (from /proc, not from the sandbox). A child the
    server is forking (a component it starts) carries the server's command line until it execs: not a server."""
    found: dict[int, int] = {}  # pid -> parent pid
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"k8snet.sandbox" in argv and str(state).encode() in argv and fields[0] != "Z":
            found[int(entry)] = int(fields[1])
    return sorted(pid for pid, parent in found.items() if parent not in found)


def test_up_on_a_busy_sandbox_starts_no_second_server(own_sandbox):
    state = process.home()
    first = process.status()
    os.kill(first.pid, signal.SIGSTOP)  # it answers nothing now: a timed health check would call it dead
    try:
        again = process.up(timeout=3)
        assert again.pid == first.pid
        assert servers(state) == [first.pid]
    finally:
        os.kill(first.pid, signal.SIGCONT)


def test_a_second_server_on_the_same_directory_refuses_to_start(own_sandbox):
    state = process.home()
    proc = subprocess.run([sys.executable, "-m", "k8snet.sandbox", "serve", "--state", str(state),
                           "--edge-http-port", "0", "--edge-https-port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == process.SERVER_BUSY
    assert f"another sandbox server (pid {process.status().pid}) serves this state directory" in proc.stderr


def test_kill_9_frees_the_directory_and_up_shows_the_acknowledged_state(own_sandbox):
    api = core_api(own_sandbox)
    api.create_namespaced_config_map("default", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="kept"), data={"a": "1"}))
    state = process.home()
    pid = process.status().pid
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert lock.holder(state) is None and process.status() is None
    running = process.up()
    assert running.pid != pid and servers(state) == [running.pid]
    api = core_api(own_sandbox)
    assert api.read_namespaced_config_map("kept", "default").data == {"a": "1"}


def test_down_stops_the_holder_even_when_it_is_stopped(own_sandbox):
    state = process.home()
    pid = process.status().pid
    os.kill(pid, signal.SIGSTOP)
    assert process.down(timeout=5)
    assert lock.holder(state) is None and servers(state) == []


def test_a_process_another_parent_has_not_reaped_is_not_alive():
    """`down` waits until the server has exited. Once `up` has exited, the server's parent is PID 1, which some
    containers reap late or never (their own program as PID 1, a JupyterHub single-user server): a zombie of
    another parent holds no port or file, so it counts as gone rather than keeping `down` for its full timeout."""
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               "child = subprocess.Popen(['true'])\n"
                               "print(child.pid, flush=True)\n"
                               "time.sleep(60)  # never reaps it\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        zombie = int(parent.stdout.readline())
        wait_for(lambda: open(f"/proc/{zombie}/stat").read().rpartition(")")[2].split()[0] == "Z", timeout=10,
                 what="the child to exit unreaped")
        os.kill(zombie, 0)  # kill(0) still answers for it
        assert not process._alive(zombie)
        assert process._alive(parent.pid)
    finally:
        parent.kill()
        parent.wait()
