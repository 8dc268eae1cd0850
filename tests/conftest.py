"""Shared fixtures: one real sandbox process per test session, reached through a private kubeconfig."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from k8snet import clusterset
from k8snet.sandbox import process

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KUBECTL_MINORS = {minor: f"/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}" for minor in (30, 31, 32, 33)}


@dataclass
class SandboxEnv:
    """A running sandbox and the files that reach it."""

    running: process.Running
    kubeconfig: Path
    home: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, binary: str = KUBECTL,
                timeout: float = 60) -> subprocess.CompletedProcess:
        """Run kubectl against the sandbox; fails the test with its stderr when ``check``."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home)}
        proc = subprocess.run([binary, *args], input=input, capture_output=True, text=True, env=env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def reset(self) -> None:
        process.admin(self.running, "reset", {"seed": 0})

    def api_client(self):
        from kubernetes import config
        return config.new_client_from_config(config_file=str(self.kubeconfig), context=process.CONTEXT)


def wait_for(predicate, timeout: float = 20, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="session", autouse=True)
def _edge_on_free_ports() -> Iterator[None]:
    """Every sandbox the tests start puts its ingress edge on free ports, never on a developer's 8080/8443."""
    saved = process.EDGE_PORTS
    process.EDGE_PORTS = (0, 0)
    yield
    process.EDGE_PORTS = saved


@contextmanager
def private_sandbox(base: Path, cni: str | None = None, name: str | None = None) -> Iterator[SandboxEnv]:
    """A sandbox of its own under ``base`` (state, kubeconfig, edge on free ports, the CNI plugin ``cni``; the
    member ``name`` of the cluster set, else the default one), reached through the environment while it runs
    (``KUBECONFIG``, ``K8SNET_HOME``), which is restored afterwards."""
    kubeconfig = base / "kubeconfig"
    old = {k: os.environ.get(k) for k in ("KUBECONFIG", "K8SNET_HOME")}
    os.environ.update(KUBECONFIG=str(kubeconfig), K8SNET_HOME=str(base / "home"))
    try:
        running = process.up(seed=0, edge_http_port=0, edge_https_port=0,  # never 8080/8443: a developer's sandbox
                             **({"cni": cni} if cni else {}), name=name)
        yield SandboxEnv(running, kubeconfig, base)
    finally:
        for member in process.members():  # and the clusters started beside it (a lesson's "cloud" and "onprem")
            if member != (name or clusterset.DEFAULT_NAME):
                process.down(name=None if member == clusterset.DEFAULT_NAME else member)
        process.down(name=name)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEnv]:
    with private_sandbox(tmp_path_factory.mktemp("k8snet")) as env:
        yield env


@pytest.fixture
def ns(sandbox: SandboxEnv) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = "t-" + uuid.uuid4().hex[:8]
    sandbox.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
    yield name
    sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)
