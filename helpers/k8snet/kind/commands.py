"""The one place k8snet runs docker, kind and kubectl, and the checks that they are there and recent enough.

Every host command goes through :func:`run`, so tests can put fake programs on
``PATH`` and check the exact argv, and every failure surfaces as a
:class:`ToolError` that says what to do. The ``*_argv`` builders are pure: what
``up``/``down`` run is visible without running it.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import versions


class ToolError(RuntimeError):
    """A host tool is missing, too old, unreachable or failed; ``fix`` says what to do."""

    def __init__(self, message: str, fix: str = ""):
        super().__init__(f"{message}\n  fix: {fix}" if fix else message)
        self.message = message
        self.fix = fix


class ToolMissing(ToolError):
    """The program is not on PATH."""


class ToolTooOld(ToolError):
    """The program is older than the oldest release k8snet supports."""


class DaemonUnreachable(ToolError):
    """The docker CLI is installed but cannot reach a docker engine."""


class CommandFailed(ToolError):
    """The program ran and exited non-zero."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str, fix: str = ""):
        tail = "\n".join(stderr.strip().splitlines()[-12:]) or "(no output)"
        super().__init__(f"`{' '.join(argv)}` failed (exit {returncode}):\n{tail}", fix)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class Completed:
    """What a command printed and how it exited."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


INSTALL = {
    "docker": ("install Docker Engine (Linux: https://docs.docker.com/engine/install/) or Docker Desktop "
               "(macOS, Windows), then check that `docker info` works without sudo"),
    "kind": (f"install kind {versions.KIND_VERSION}: `go install sigs.k8s.io/kind@{versions.KIND_VERSION}`, or "
             f"download https://kind.sigs.k8s.io/dl/{versions.KIND_VERSION}/kind-<os>-<arch>, make it executable "
             "and put it on PATH as `kind` (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"),
    "kubectl": ("optional (the notebooks do not need it): install kubectl 1.32-1.34 from "
                "https://kubernetes.io/docs/tasks/tools/"),
}


def which(program: str) -> str | None:
    """The program's full path on PATH, or None."""
    return shutil.which(program)


def run(argv: Sequence[str], *, timeout: float = 600, input: str | None = None, check: bool = True,
        echo: Callable[[str], None] | None = None) -> Completed:
    """Run a host command; with ``echo``, pass each output line on as it arrives (kind's own progress).

    Raises:
        ToolMissing: the program is not on PATH.
        CommandFailed: it exited non-zero and ``check`` is set.
        TimeoutError: it ran longer than ``timeout`` seconds (it is killed).
    """
    argv = [str(a) for a in argv]
    exe = which(argv[0])
    if exe is None:
        raise ToolMissing(f"{argv[0]}: command not found", INSTALL.get(argv[0], f"install {argv[0]}"))
    if echo is None:
        try:
            proc = subprocess.run([exe, *argv[1:]], input=input, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"`{' '.join(argv)}` did not finish within {timeout:g}s") from exc
        done = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    else:
        done = _run_echoing(exe, argv, timeout, echo)
    if check and done.returncode != 0:
        raise CommandFailed(argv, done.returncode, done.stderr or done.stdout)
    return done


def _run_echoing(exe: str, argv: list[str], timeout: float, echo: Callable[[str], None]) -> Completed:
    """Run with stdout and stderr merged, echoing lines; killed after ``timeout`` seconds."""
    proc = subprocess.Popen([exe, *argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            echo(line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
    if killed.is_set():
        raise TimeoutError(f"`{' '.join(argv)}` did not finish within {timeout:g}s")
    text = "".join(lines)
    return Completed(argv, proc.returncode, text, text)


# -- versions -------------------------------------------------------------------------------


_SEMVER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y[.Z]`` in a version string (``kind v0.32.0 go1.26 linux/amd64`` → (0, 32, 0))."""
    m = _SEMVER.search(text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def fmt_version(v: tuple[int, int, int]) -> str:
    return ".".join(str(p) for p in v)


@dataclass
class ToolInfo:
    """One host tool as found: where, which version, and whether it is usable."""

    name: str
    path: str | None
    version: str | None = None
    server_version: str | None = None  # docker: the engine's version, None when unreachable
    problem: str | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None


def docker_info() -> ToolInfo:
    """The docker CLI and engine (``docker version --format {{json .}}`` prints both, Server null when down)."""
    path = which("docker")
    if path is None:
        return ToolInfo("docker", None, problem="docker: command not found", fix=INSTALL["docker"])
    done = run(["docker", "version", "--format", "{{json .}}"], check=False, timeout=30)
    try:
        data = json.loads(done.stdout.strip().splitlines()[0]) if done.stdout.strip() else {}
    except (ValueError, IndexError):
        data = {}
    client = (data.get("Client") or {}).get("Version")
    server = (data.get("Server") or {}).get("Version") if data.get("Server") else None
    info = ToolInfo("docker", path, client, server)
    if server is None:
        reason = (done.stderr.strip().splitlines() or ["no docker engine answered"])[-1]
        info.problem = f"the docker CLI is installed but cannot reach a docker engine: {reason}"
        info.fix = ("start Docker (Linux: `sudo systemctl start docker`; macOS/Windows: open Docker Desktop) and "
                    "make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again); "
                    "`docker info` must work without sudo")
        return info
    parsed = parse_version(server)
    if parsed is None or parsed < versions.DOCKER_MIN_VERSION:
        info.problem = (f"docker engine {server} is too old: kind needs {fmt_version(versions.DOCKER_MIN_VERSION)} "
                        "or newer (it starts nodes with --cgroupns=private)")
        info.fix = "upgrade Docker Engine / Docker Desktop to a current release"
    return info


def kind_info() -> ToolInfo:
    """The kind CLI and whether it is at least :data:`versions.KIND_MIN_VERSION`."""
    path = which("kind")
    if path is None:
        return ToolInfo("kind", None, problem="kind: command not found", fix=INSTALL["kind"])
    done = run(["kind", "version"], check=False, timeout=30)
    text = (done.stdout or done.stderr).strip()
    parsed = parse_version(text)
    info = ToolInfo("kind", path, f"v{fmt_version(parsed)}" if parsed else text or "unknown")
    if parsed is None:
        info.problem = f"could not read kind's version from `kind version` (it printed {text!r})"
        info.fix = INSTALL["kind"]
    elif parsed < versions.KIND_MIN_VERSION:
        info.problem = (f"kind v{fmt_version(parsed)} is too old: k8snet needs kind "
                        f"v{fmt_version(versions.KIND_MIN_VERSION)} or newer (its node image "
                        f"{versions.KUBERNETES_VERSION} needs it; NetworkPolicy enforcement arrived in v0.24.0)")
        info.fix = INSTALL["kind"]
    return info


def kubectl_info() -> ToolInfo:
    """kubectl is optional; reported with a note when its minor is more than one away from 1.33."""
    path = which("kubectl")
    if path is None:
        return ToolInfo("kubectl", None, problem="kubectl: command not found (optional)", fix=INSTALL["kubectl"])
    done = run(["kubectl", "version", "--client", "-o", "json"], check=False, timeout=30)
    try:
        version = json.loads(done.stdout)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        version = (done.stdout or done.stderr).strip() or "unknown"
    info = ToolInfo("kubectl", path, version)
    parsed = parse_version(version)
    if parsed and parsed[1] not in versions.KUBECTL_MINORS:
        info.problem = (f"kubectl {version} is outside the supported skew for a 1.33 cluster "
                        f"(1.{versions.KUBECTL_MINORS[0]}-1.{versions.KUBECTL_MINORS[-1]})")
        info.fix = INSTALL["kubectl"]
    return info


def require(info: ToolInfo) -> ToolInfo:
    """Raise the matching :class:`ToolError` unless the tool is usable."""
    if info.ok:
        return info
    if info.path is None:
        raise ToolMissing(info.problem or f"{info.name}: command not found", info.fix or "")
    if info.name == "docker" and info.server_version is None:
        raise DaemonUnreachable(info.problem or "no docker engine", info.fix or "")
    if info.problem and "too old" in info.problem:
        raise ToolTooOld(info.problem, info.fix or "")
    raise ToolError(info.problem or f"{info.name} is not usable", info.fix or "")


# -- argv builders (pure) --------------------------------------------------------------------


def kind_get_clusters_argv() -> list[str]:
    return ["kind", "get", "clusters"]


def kind_create_argv(config: Path, name: str = versions.CLUSTER_NAME, wait: str = "0s",
                     kubeconfig: Path | None = None) -> list[str]:
    """``kind create cluster``; the node image is in the config (every node names it), readiness is awaited
    through the API afterwards, so kind's own ``--wait`` stays at 0s. ``kubeconfig``: the file kind writes the
    cluster's context into instead of ``$KUBECONFIG`` (kind's ``--kubeconfig``; a Karmada host's)."""
    argv = ["kind", "create", "cluster", "--name", name, "--config", str(config), "--wait", wait]
    return argv + (["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else [])


def kind_delete_argv(name: str = versions.CLUSTER_NAME) -> list[str]:
    """``kind delete cluster`` also removes the cluster's kubeconfig context."""
    return ["kind", "delete", "cluster", "--name", name]


def kind_export_kubeconfig_argv(name: str = versions.CLUSTER_NAME, kubeconfig: Path | None = None) -> list[str]:
    argv = ["kind", "export", "kubeconfig", "--name", name]
    return argv + (["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else [])


def kind_load_argv(images: Sequence[str], name: str = versions.CLUSTER_NAME) -> list[str]:
    """``kind load docker-image`` takes several images at once and skips those a node already has."""
    return ["kind", "load", "docker-image", *images, "--name", name]


def docker_pull_argv(image: str) -> list[str]:
    return ["docker", "pull", image]


def docker_image_present_argv(image: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", image]


def cloud_provider_run_argv(image: str = versions.CLOUD_PROVIDER_KIND_IMAGE,
                            name: str = versions.CLOUD_PROVIDER_CONTAINER, host_os: str | None = None) -> list[str]:
    """cloud-provider-kind as its README runs the image: on the ``kind`` network with the docker socket.

    Traefik is the one Ingress and Gateway implementation (the one the sandbox emulates), so
    cloud-provider-kind's own Gateway and Ingress controllers are switched off
    (``--gateway-channel disabled`` skips both, and no default IngressClass of its own competes with
    ``traefik``); it only gives LoadBalancer Services their external IPs. In a container it cannot tell
    that the host is macOS or Windows (it checks its own OS), so there ``--enable-lb-port-mapping`` is
    passed, as the README's "Enabling Load Balancer Port Mapping" says for containers on those hosts.
    """
    argv = ["docker", "run", "--detach", "--name", name, "--network", "kind",
            "--volume", "/var/run/docker.sock:/var/run/docker.sock", image,
            "--gateway-channel=disabled", "--enable-default-ingress=false"]
    if (host_os or platform.system()) != "Linux":
        argv.append("--enable-lb-port-mapping")
    return argv


def container_state_argv(name: str) -> list[str]:
    return ["docker", "container", "inspect", "--format", "{{.State.Status}}", name]


def docker_start_argv(name: str) -> list[str]:
    return ["docker", "start", name]


def docker_stop_argv(name: str, grace: int = 30) -> list[str]:
    """SIGTERM first: cloud-provider-kind removes the load-balancer containers it made when it exits."""
    return ["docker", "stop", "--time", str(grace), name]


def docker_rm_argv(*names: str) -> list[str]:
    return ["docker", "rm", "--force", *names]


def docker_ps_label_argv(label: str, value: str) -> list[str]:
    return ["docker", "ps", "--all", "--quiet", "--filter", f"label={label}={value}"]


def docker_port_argv(container: str) -> list[str]:
    return ["docker", "port", container]


def docker_exec_argv(container: str, argv: Sequence[str]) -> list[str]:
    """``docker exec`` of a program in a running container (a kind node): argv, never a shell string."""
    return ["docker", "exec", container, *argv]


def kind_node_names_argv(cluster: str) -> list[str]:
    """The node containers of a kind cluster: kind labels each with ``io.x-k8s.kind.cluster=<name>``
    (pkg/cluster/internal/providers/docker/constants.go, clusterLabelKey)."""
    return ["docker", "ps", "--filter", f"label=io.x-k8s.kind.cluster={cluster}", "--format", "{{.Names}}"]


def docker_network_ip_argv(containers: Sequence[str], network: str = "kind") -> list[str]:
    """Each container's address on a docker network, one line per container (empty when not attached)."""
    return ["docker", "inspect", "--format",
            f'{{{{with index .NetworkSettings.Networks "{network}"}}}}{{{{.IPAddress}}}}{{{{end}}}}', *containers]


def container_state(name: str) -> str | None:
    """A docker container's state (running, exited, …) or None when there is no such container."""
    done = run(container_state_argv(name), check=False, timeout=30)
    return (done.stdout.strip() or None) if done.returncode == 0 else None
