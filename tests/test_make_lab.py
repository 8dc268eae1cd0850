"""`make lab` as people run it: as root, with JupyterLab arguments, on either backend, at the repository root.

Containers, Codespaces and many JupyterHub images run as root, where JupyterLab stops with "Running as root is
not recommended. Use --allow-root to bypass." The dry runs read the commands make would run (`make -n`); one
test starts the real thing on a private sandbox and asks the server where it sends a browser.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from k8snet.sandbox import process

ROOT = Path(__file__).resolve().parent.parent


def make_n(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("K8SNET_BACKEND", "BACKEND", "LAB_ARGS")}
    return subprocess.run(["make", "-n", "lab", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=60)


def commands(*args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """The cluster command and the JupyterLab command of a dry run."""
    out = make_n(*args, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    return (next(line for line in lines if " up" in line and "k8snet" in line),
            next(line for line in lines if "jupyter lab" in line))


def test_as_root_jupyterlab_gets_allow_root_and_the_repository_root(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for uid in ("0", "1000"):
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")  # what `id -u` answers in a container / as a user
        (fake / "id").chmod(0o755)
        _, lab = commands(env={"PATH": f"{fake}:{os.environ['PATH']}"})
        assert ("--allow-root" in lab) == (uid == "0")
        assert f'--ServerApp.root_dir="{ROOT}"' in lab and "--LabApp.default_url=/lab/tree/START.ipynb" in lab


def test_lab_args_reach_jupyterlab() -> None:
    _, lab = commands('LAB_ARGS=--port 9999 --no-browser')
    assert lab.split("--LabApp.default_url=/lab/tree/START.ipynb")[1].split("\\")[0].split()[-3:] == [
        "--port", "9999", "--no-browser"]


def test_backend_from_the_command_line_or_k8snet_backend() -> None:
    assert commands()[0].endswith("k8snet sandbox up")
    up, lab = commands(env={"K8SNET_BACKEND": "kind"})  # what lesson 00 once told learners to type
    assert up.endswith("k8snet kind up") and lab.lstrip("@").startswith("K8SNET_BACKEND=kind ")
    assert commands("BACKEND=kind")[0].endswith("k8snet kind up")
    assert commands("BACKEND=sandbox", env={"K8SNET_BACKEND": "kind"})[0].endswith("k8snet sandbox up")
    wrong = make_n("BACKEND=minikube")
    assert wrong.returncode != 0 and 'BACKEND must be sandbox or kind, not "minikube"' in wrong.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    """(status, Location, body) without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=5) as r:
            return r.status, r.headers.get("Location", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location", ""), ""


@pytest.mark.slow
def test_make_lab_serves_the_repository_and_opens_the_start_page(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "K8SNET_HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "kubeconfig"),
           "K8SNET_EDGE_HTTP_PORT": "0", "K8SNET_EDGE_HTTPS_PORT": "0", "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "LAB_ARGS": f"--no-browser --port {port} --ServerApp.port_retries=0 --IdentityProvider.token=t"}
    env.pop("K8SNET_BACKEND", None)
    lab = subprocess.Popen(["make", "lab"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, location, _ = get(f"http://127.0.0.1:{port}/?token=t")
                break
            except OSError:
                assert lab.poll() is None, f"make lab stopped:\n{lab.stdout.read()}"
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        assert (status, location) == (302, "/lab/tree/START.ipynb?token=t")
        listing = json.loads(get(f"http://127.0.0.1:{port}/api/contents?token=t")[2])
        assert {"START.ipynb", "notebooks", "labs"} <= {item["name"] for item in listing["content"]}
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        output = lab.communicate(timeout=30)[0]
        process.down(tmp_path / "home" / "sandbox", write_kubeconfig=False)
    assert "Running as root is not recommended" not in output
    assert "The sandbox runs on its own" in output and "make sandbox-down" in output
