"""Crash safety and concurrency: acknowledged writes survive kill -9; watchers see every change in order."""

from __future__ import annotations

import os
import signal
import threading
import time

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from tests.sandbox.conftest import core_api
from urllib3.exceptions import HTTPError

from k8snet.sandbox import process


def test_kill_9_loses_no_acknowledged_write(own_sandbox):
    core = core_api(own_sandbox)
    acknowledged: dict[str, str] = {}
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            name = f"cm-{i:05d}"
            try:
                obj = core.create_namespaced_config_map("default", client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=name), data={"i": str(i)}), _request_timeout=2)
            except (ApiException, HTTPError, OSError):
                return  # the server died under us: this write was never acknowledged
            acknowledged[name] = obj.metadata.resource_version
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 20  # let a few dozen writes happen (however loaded the machine), then pull the plug
    while len(acknowledged) <= 40 and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.02)
    pid = process.status().pid
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # the kernel has ended it (SIGKILL is delivered asynchronously)
    stop.set()
    t.join(10)
    assert len(acknowledged) > 20
    process.up()
    core = core_api(own_sandbox)
    stored = {cm.metadata.name: cm.metadata.resource_version
              for cm in core.list_namespaced_config_map("default").items}
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged objects lost, e.g. {sorted(missing)[:3]}"
    assert all(stored[n] == rv for n, rv in acknowledged.items())
    newest = max(int(rv) for rv in acknowledged.values())
    later = core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x")))
    assert int(later.metadata.resource_version) > newest, "resourceVersions stay monotonic across a crash"


def test_restart_keeps_the_cluster(own_sandbox):
    core = core_api(own_sandbox)
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="keep")))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the coredns pods get their IPs a moment after start-up
        before = {p.metadata.name: p.status.pod_ip for p in core.list_namespaced_pod("kube-system").items}
        if before and all(before.values()):
            break
        time.sleep(0.05)
    process.down()
    process.up()
    core = core_api(own_sandbox)
    assert core.read_namespaced_config_map("keep", "default").metadata.name == "keep"
    after = {p.metadata.name: p.status.pod_ip for p in core.list_namespaced_pod("kube-system").items}
    assert after == before


def test_concurrent_writers_and_watchers_see_everything_in_order(sandbox, ns):
    api = sandbox.api_client()
    core = client.CoreV1Api(api)
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    writers, per_writer = 4, 25
    expected = writers * per_writer * 2  # create + update each
    seen: list[list[tuple[str, str, int]]] = [[] for _ in range(3)]

    def watcher(k: int) -> None:
        w = watch.Watch()
        for ev in w.stream(client.CoreV1Api(sandbox.api_client()).list_namespaced_config_map, ns,
                           resource_version=rv0, timeout_seconds=30):
            seen[k].append((ev["type"], ev["object"].metadata.name, int(ev["object"].metadata.resource_version)))
            if len(seen[k]) == expected:
                w.stop()

    def writer(k: int) -> None:
        c = client.CoreV1Api(sandbox.api_client())
        for i in range(per_writer):
            name = f"w{k}-{i}"
            c.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
            c.patch_namespaced_config_map(name, ns, {"data": {"v": "1"}})

    watchers = [threading.Thread(target=watcher, args=(k,)) for k in range(3)]
    for t in watchers:
        t.start()
    time.sleep(0.3)
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads + watchers:
        t.join(60)
    for events in seen:
        assert len(events) == expected
        rvs = [e[2] for e in events]
        assert rvs == sorted(rvs) and len(set(rvs)) == len(rvs), "events arrive in revision order, none twice"
        for name in {e[1] for e in events}:
            assert [e[0] for e in events if e[1] == name] == ["ADDED", "MODIFIED"]
    assert seen[0] == seen[1] == seen[2]


def test_the_clock_survives_a_restart_and_a_reset_starts_from_this_machines_time(own_sandbox):
    """The clock's offset is state like the objects: a certificate issued after ``clock advance`` must not lie in the
    future once the sandbox restarts (memory equals disk); a reset is a new cluster, at this machine's time."""
    from datetime import UTC, datetime, timedelta

    from k8snet.sandbox.clock import parse_time

    running = process.status()
    process.admin(running, "clock", {"advance": 30 * 86400})
    ahead = parse_time(process.admin(running, "status")["now"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < ahead < timedelta(days=30, minutes=1)
    process.down()
    running = process.up()
    after_restart = parse_time(process.admin(running, "status")["now"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < after_restart < timedelta(days=30, minutes=1)
    process.admin(running, "reset", {"seed": 0})
    assert abs(parse_time(process.admin(running, "status")["now"]) - datetime.now(UTC)) < timedelta(minutes=1)
    process.down()
    running = process.up()
    assert abs(parse_time(process.admin(running, "status")["now"]) - datetime.now(UTC)) < timedelta(minutes=1)


def test_a_reset_ends_the_commands_exec_d_in_the_old_clusters_pods(own_sandbox):
    """A reset is a new cluster: the old one's containers are gone, and a command exec'd in one of them ends
    (exit 137, as a killed process) instead of running on against the new cluster's objects."""
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    env = {**os.environ, "KUBECONFIG": str(own_sandbox / "kubeconfig")}
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: busy}\nspec:\n  containers:\n  - {name: agnhost, image: "
           "registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [pause]}\n")
    subprocess.run([kubectl, "apply", "-f", "-"], input=pod, text=True, env=env, check=True, capture_output=True)
    subprocess.run([kubectl, "wait", "pod/busy", "--for=condition=Ready", "--timeout=30s"], env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen([kubectl, "exec", "busy", "--", "sh", "-c", "while true; do sleep 0.1; done"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    process.admin(process.status(), "reset", {"seed": 0})
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 137 and "command terminated with exit code 137" in err, (proc.returncode, err)


def test_a_reset_stops_the_old_clusters_container_processes(own_sandbox):
    """A container's program is gone with its cluster: after a reset nothing of the old one keeps running against
    the new one. Seen through the seeded shell stream: a loop that kept drawing $RANDOM in a container of the old
    cluster would move the new cluster's first draw away from the seed's."""
    import random
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    env = {**os.environ, "KUBECONFIG": str(own_sandbox / "kubeconfig")}

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([kubectl, *args], input=stdin, text=True, env=env, check=True,
                              capture_output=True).stdout

    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: drawer}\nspec:\n  containers:\n  - name: sh\n    image: "
           "busybox:1.37\n    command: [sh, -c, 'while true; do x=$RANDOM; sleep 0.01; done']\n")
    run("apply", "-f", "-", stdin=pod)
    run("wait", "pod/drawer", "--for=condition=Ready", "--timeout=30s")
    time.sleep(0.5)
    process.admin(process.status(), "reset", {"seed": 0})
    time.sleep(1)  # a loop left running would draw about a hundred times meanwhile
    run("apply", "-f", "-", stdin=pod.replace("drawer", "reader").replace(
        "'while true; do x=$RANDOM; sleep 0.01; done'", "'sleep 3600'"))
    run("wait", "pod/reader", "--for=condition=Ready", "--timeout=30s")
    first = int(run("exec", "reader", "--", "sh", "-c", "echo $RANDOM"))
    assert first == random.Random("0:shell").randrange(32768)
