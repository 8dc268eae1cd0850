"""Shared pieces of the benchmarks: results, a private sandbox environment, kubectl, RSS."""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from k8snet import pins
from k8snet.sandbox import process

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
K8SNET = str(Path(sys.executable).with_name("k8snet"))


@dataclass
class Result:
    """One figure: ``measured`` in ``unit``; met when measured < target, or measured >= target with ``at_least``
    (a throughput); None: informational or not measured."""

    name: str
    measured: float | None
    unit: str
    target: float | None = None
    note: str = ""
    at_least: bool = False

    @property
    def met(self) -> bool | None:
        if self.measured is None or self.target is None:
            return None
        return self.measured >= self.target if self.at_least else self.measured < self.target

    def row(self) -> dict:
        return {**asdict(self), "met": self.met}


@dataclass
class Env:
    """A private temp dir: K8SNET_HOME, KUBECONFIG and kubectl's HOME (discovery cache) all live in it."""

    root: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kube_home(self) -> Path:
        return self.root / "kube-home"

    def vars(self, **over: str) -> dict[str, str]:
        return {**os.environ, "K8SNET_HOME": str(self.root / "k8snet"), "KUBECONFIG": str(self.kubeconfig),
                "HOME": str(self.kube_home), **over}

    def kubectl(self, *args: str, timeout: float = 60, **over: str) -> subprocess.CompletedProcess:
        return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=self.vars(**over),
                              timeout=timeout)


@contextmanager
def private_env() -> Iterator[Env]:
    """Point K8SNET_HOME and KUBECONFIG at a fresh temp dir; stop any sandbox started there, then remove it.

    The sandbox's ingress edge takes free ports (``K8SNET_EDGE_HTTP_PORT``/``K8SNET_EDGE_HTTPS_PORT`` = 0), so a
    benchmark never collides with a learner's sandbox or anything else on 127.0.0.1:8080/8443.
    Child processes also get a bytecode cache in that dir (PYTHONPYCACHEPREFIX), even where the caller's shell
    sets PYTHONDONTWRITEBYTECODE: a student's machine keeps .pyc files, and without them every sandbox start
    recompiles k8snet's modules (benchmark 1 shows that case separately).
    """
    root = Path(tempfile.mkdtemp(prefix="k8snet-bench-"))
    env = Env(root)
    old = {k: os.environ.get(k) for k in ("K8SNET_HOME", "KUBECONFIG", "PYTHONPYCACHEPREFIX",
                                          "PYTHONDONTWRITEBYTECODE", *pins.EDGE_ENV)}
    os.environ["K8SNET_HOME"] = str(root / "k8snet")
    os.environ["KUBECONFIG"] = str(env.kubeconfig)
    os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    os.environ.update(dict.fromkeys(pins.EDGE_ENV, "0"))  # any free port: see the docstring
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        yield env
    finally:
        stop_sandbox()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


def stop_sandbox(state: Path | None = None) -> None:
    """``process.down`` and, should the process not answer, kill the pid it recorded."""
    state = state or process.home()
    pid: int | None = None
    try:
        pid = json.loads((state / "ready.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        process.down(state, write_kubeconfig=False)
    except OSError:
        pass
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median_of(runs: int, fn: Callable[[], object]) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def log(msg: str) -> None:
    print(f"  · {msg}", flush=True)
