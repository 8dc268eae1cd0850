"""JupyterLab as `make lab` starts it, on the test session's private sandbox, driven by Debian's Chromium.

``lab`` runs the real ``make lab`` (so the server gets exactly the Makefile's arguments: the repository as its root,
START.ipynb as its default URL, ``--allow-root`` as root) with ``LAB_ARGS`` for a free port on 127.0.0.1, a token
and no browser of its own. The server inherits the session sandbox's ``KUBECONFIG`` and ``K8SNET_HOME``, so
``make lab``'s ``k8snet sandbox up`` finds that sandbox running and the kernels connect to it, never to a
developer's. JupyterLab's user settings, workspaces and runtime files go to the test's temporary directory, with
autosave off: running a lesson in the browser never writes its outputs back into the repository.

Where Playwright or Chromium is missing the tests are skipped with the reason; with ``K8SNET_BROWSER=required``
(set by .ci/run once it has installed both) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium() -> str | None:
    """Debian's Chromium (``$K8SNET_CHROMIUM`` names another Chromium or Chrome binary)."""
    explicit = os.environ.get("K8SNET_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return ("Playwright for Python is not installed in this environment: `make playwright` installs it "
                "(.ci/run does)")
    if chromium() is None:
        where = os.environ.get("K8SNET_CHROMIUM") or f"{' or '.join(CHROMIUM_NAMES)} on PATH"
        return (f"Chromium is not installed (looked for {where}): `apt-get install chromium` "
                "(.ci/run installs it where it runs as root with apt-get)")
    return None


def require_browser() -> str:
    """The Chromium binary; skips the test with the reason when Playwright or Chromium is missing."""
    reason = missing()
    if reason:
        if os.environ.get("K8SNET_BROWSER") == "required":
            pytest.fail(f"K8SNET_BROWSER=required, but {reason}")
        pytest.skip(reason)
    return chromium()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running ``make lab``: its URL, token and process (a session of its own: make, JupyterLab, kernels)."""

    url: str
    token: str
    process: subprocess.Popen
    log: Path
    tree: dict[int, object] = field(default_factory=dict)  # pid -> psutil.Process

    def api(self, path: str, method: str = "GET") -> tuple[int, str]:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    def remember_processes(self) -> None:
        """Note JupyterLab's process tree (kernels run in sessions of their own, out of reach of killpg)."""
        import psutil  # a dependency of ipykernel, so there wherever JupyterLab runs kernels

        try:
            self.tree.update((p.pid, p) for p in psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def settings(base: Path) -> Path:
    """JupyterLab user settings for the test: no autosave (outputs never reach the repository's notebooks), every
    cell in the page (no windowing, so the test sees all prompts and outputs), no news or update checks (no network
    here, and no toast over the notebook)."""
    files = {
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
    }
    for name, value in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    return base


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``make lab`` on the session's private sandbox (reset with seed 0), stopped with its kernels afterwards."""
    require_browser()  # before the sandbox starts: a skip costs nothing
    sandbox = request.getfixturevalue("sandbox")
    sandbox.reset()
    base = tmp_path_factory.mktemp("jupyterlab")
    port, token = free_port(), secrets.token_hex(16)
    # MAKEFLAGS stays: it carries a `make test VENV=...` to this `make lab`, as test_make_lab.py's does
    env = {k: v for k, v in os.environ.items() if k not in ("K8SNET_BACKEND", "BACKEND", "LAB_ARGS")}
    env.update(
        K8SNET_PROGRESS="1",  # nbval turns progress bars off in this process; the browser should see them
        K8SNET_EDGE_HTTP_PORT="0", K8SNET_EDGE_HTTPS_PORT="0",
        JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings(base / "settings")),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"), IPYTHONDIR=str(base / "ipython"),
        LAB_ARGS=(f"--no-browser --ServerApp.ip=127.0.0.1 --port {port} --ServerApp.port_retries=0 "
                  f"--IdentityProvider.token={token}"),
    )
    log = base / "make-lab.log"
    with log.open("w") as out:
        process = subprocess.Popen(["make", "lab"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    running = Lab(f"http://127.0.0.1:{port}", token, process, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if running.api("/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None:
                pytest.fail(f"make lab stopped (exit status {process.returncode}):\n{running.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer on {running.url} within 180 s:\n{running.output()}")
            time.sleep(0.5)
        assert f"running at {sandbox.running.server} " in running.output(), (
            f"make lab's `k8snet sandbox up` did not find the test's sandbox:\n{running.output()}")
        yield running
    finally:
        stop(running)


def stop(lab: Lab) -> None:
    """Shut JupyterLab down as its Quit does (kernels first), then make sure no process of its tree is left."""
    import psutil

    lab.remember_processes()
    try:
        lab.api("/api/shutdown", method="POST")
        lab.process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGTERM)
        try:
            lab.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait(timeout=15)
    left = []
    for p in lab.tree.values():  # psutil.Process checks it is still the same process before it signals
        try:
            p.kill()
            left.append(p)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(left, timeout=10)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each test's call report on it, for the screenshot of a failing step."""
    report = yield
    if report.when == "call":
        item.k8snet_call = report
    return report
