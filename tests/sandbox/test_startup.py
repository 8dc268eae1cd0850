"""``k8snet sandbox up`` returns once the server listens; the first requests after it find all its start makes.

The server process writes ``ready.json`` before it has prepared (bootstrap objects, the add-ons' CRDs, RBAC) and
holds requests until it has (tests/unit/test_startup.py holds one deterministically); here a real process, started
from a new state directory and then again from the kept one, is used at once through kubectl.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import KUBECTL, wait_for

from k8snet.sandbox import crddocs, process, warmup


def kubectl(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(home)})
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc


def up_cli(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "k8snet.cli", "sandbox", "up", "--edge-http-port", "0",
                           "--edge-https-port", "0"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(home)})


def first_requests(home: Path) -> None:
    """What a learner types right after ``up``: each needs something the start makes."""
    kubectl(home, "create", "configmap", "early", "-n", "default", "--from-literal=a=1")  # the default namespace
    assert kubectl(home, "get", "ingressroutes.traefik.io", "-A", "-o", "name").stdout == ""  # a CRD's kind
    assert "traefik.io/gateway-controller" in kubectl(home, "get", "gatewayclass", "traefik").stdout
    assert kubectl(home, "get", "clusterrole", "view", "-o", "name").stdout.strip() == \
        "clusterrole.rbac.authorization.k8s.io/view"  # the default RBAC policy


def test_up_returns_while_the_sandbox_starts_and_the_first_requests_find_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path / "home"))
    home = tmp_path / "kube-home"  # kubectl's discovery cache starts empty, as on a new machine
    try:
        done = up_cli(home)
        assert done.returncode == 0, done.stderr
        # what up prints comes from ready.json (no request that would wait for the start)
        assert "(Kubernetes v1.33.1, CNI kindnet, pid " in done.stdout
        running = process.status()
        assert running is not None and running.facts["cni"] == "kindnet"
        first_requests(home)
        status = process.admin(running, "status")
        assert running.facts == {k: status[k] for k in running.facts}
        # what the controllers and Traefik make comes a moment later, as on a new kind cluster
        wait_for(lambda: "Running" in kubectl(home, "get", "pods", "-n", "traefik", check=False).stdout, timeout=60,
                 what="the Traefik pod")
        wait_for(lambda: kubectl(home, "get", "pods", "-n", "kube-system", "-o", "name").stdout.count("\n") >= 8,
                 timeout=60, what="kube-system's pods")
        state = process.home()
        for name in crddocs.names():  # the warm-up child made the caches a restart reads
            assert crddocs.cached_documents(state, name) is not None
        assert warmup.grammar_path(state).exists()
        assert process.down()

        again = up_cli(home)  # a restart: the kept store, CA, port and caches (no warm-up child)
        assert again.returncode == 0, again.stderr
        kubectl(home, "delete", "configmap", "early", "-n", "default")
        first_requests(home)
        assert json.loads((state / "ready.json").read_text())["port"] == running.port
    finally:
        process.down()


def programs_in(directory: Path) -> list[int]:
    """Processes whose working directory is ``directory`` (Traefik runs in its state directory's ``traefik``)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == directory:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("moment", ["listening", "first request", "traefik running"])
def test_sigterm_while_the_sandbox_starts_ends_it_and_its_traefik(tmp_path, moment):
    """`k8snet sandbox down` right after `up` (a script, a learner who changed their mind): the server ends by
    itself, whatever part of its start it is in, and takes its Traefik with it (a ping loop that outlived its
    cancellation once kept it running forever)."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "token").write_text("startup-sigterm-token-0123456789abcdefghij")
    server = subprocess.Popen([sys.executable, "-m", "k8snet.sandbox", "serve", "--state", str(state), "--port", "0",
                               "--edge-http-port", "0", "--edge-https-port", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (state / "ready.json").exists() or server.poll() is not None, timeout=60,
                 what="ready.json")
        running = process.status(state)
        assert running is not None
        if moment != "listening":
            assert process.admin(running, "status")["kubernetesVersion"].startswith("v1.")
        if moment == "traefik running":
            wait_for(lambda: programs_in(state / "traefik"), timeout=60, what="the traefik process")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stderr.read() if server.stderr else ""
        wait_for(lambda: not programs_in(state / "traefik"), timeout=10, what="traefik to end")
        assert not (state / "ready.json").exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
