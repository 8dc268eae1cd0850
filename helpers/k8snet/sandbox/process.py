"""Starting, stopping and resetting sandbox processes (``k8snet sandbox up|down|status|reset [--name N]``).

The workbook's own cluster (``k8snet``) keeps its state in ``$K8SNET_HOME/sandbox`` and its context
``k8snet-sandbox``; each other member of the cluster set (``--name east``) is a process of its own with
``$K8SNET_HOME/sandboxes/east`` and the context ``k8snet-east``, as ``kind create cluster --name east`` makes
``kind-east`` (:mod:`k8snet.clusterset` gives each its networks and edge ports).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import clusterset, pins
from . import lock

if TYPE_CHECKING:
    import ssl

# What only some commands need (kubeconfig's yaml, urllib, ssl) is imported where it is used: ``k8snet sandbox up``
# starts the server process sooner, and writes the kubeconfig while that process starts.

CONTEXT = clusterset.DEFAULT_CONTEXT
"""The default cluster's kubeconfig context (a named member's is ``k8snet-<name>``: :func:`context`)."""
EDGE_PORTS = (pins.EDGE_HTTP_PORT, pins.EDGE_HTTPS_PORT)
"""The ingress edge's default ports on 127.0.0.1: the URLs the kind backend maps (K8SNET_EDGE_HTTP_PORT and
K8SNET_EDGE_HTTPS_PORT override them, as for kind)."""
EDGE_PORT_BUSY = 3  # the sandbox process's exit code when an edge port is taken (sandbox/__main__.py)
SERVER_BUSY = 4  # its exit code when another server holds the state directory's lock (lock.py)
CNI_MISMATCH = 5  # its exit code when the store's cluster was made with another CNI plugin (cni.py)
CLUSTER_MISMATCH = 6  # its exit code when the store holds another cluster than --name asks for (topology.py)
KARMADA_MISMATCH = 7  # its exit code when --karmada does not fit the store's cluster (karmada/__init__.py)


def _base() -> Path:
    base = os.environ.get("K8SNET_HOME")
    return Path(base) if base else Path.home() / ".k8snet"


def home(name: str | None = None) -> Path:
    """Where a sandbox keeps its state: ``$K8SNET_HOME/sandbox`` (default ``~/.k8snet/sandbox``) for the default
    cluster, ``$K8SNET_HOME/sandboxes/<name>`` for a named member of the set."""
    name = clusterset.check_name(name or clusterset.DEFAULT_NAME)
    return _base() / "sandbox" if name == clusterset.DEFAULT_NAME else _base() / "sandboxes" / name


def context(name: str | None = None) -> str:
    """The member's kubeconfig context: ``k8snet-sandbox`` for the default cluster, else ``k8snet-<name>``."""
    return clusterset.context(name or clusterset.DEFAULT_NAME)


@dataclass
class Running:
    """A live sandbox process: where it listens and how to authenticate."""

    pid: int
    port: int
    token: str
    state: Path
    edge_http_port: int | None = None
    edge_https_port: int | None = None
    name: str = clusterset.DEFAULT_NAME
    """The cluster's name in its set (``k8snet`` for the default cluster)."""
    facts: dict = field(default_factory=dict)
    """What the cluster is, as its ``ready.json`` says (Kubernetes version, CNI plugin, networks: the part of
    :func:`admin` ``status`` that stays fixed while it runs); empty from a server that does not write them."""

    @property
    def context(self) -> str:
        return context(self.name)

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.state / "ca.crt"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie child still answers kill(0)
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it (read from Linux's /proc; elsewhere False).

    Once ``up`` has exited, the server's parent is PID 1, and some PID 1s reap late or never (a container's own
    program, a JupyterHub single-user server, this kind of VM's init: two seconds here). A zombie holds no port and
    no file any more, so ``down`` need not wait for it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _tls(state: Path) -> ssl.SSLContext:
    import ssl

    return ssl.create_default_context(cafile=str(state / "ca.crt"))


def _listening(port: int) -> bool:
    """Whether the kernel accepts connections on the port: a refusal means the server is gone. A busy (or
    stopped) server still has its connections accepted by the kernel, so this never mistakes busy for dead."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return True  # a full backlog or a slow accept: still there


def status(state: Path | None = None, name: str | None = None) -> Running | None:
    """The running sandbox (the named member's, else the default one), or None: a server holds the state
    directory's lock and has said where it listens.

    Liveness comes from the lock and the pid (lock.py), never from a timed health check, so a busy sandbox
    still counts as running.
    """
    state = state or home(name)
    pid = lock.holder(state)
    if pid is None:
        return None
    try:
        ready = json.loads((state / "ready.json").read_text())
        token = (state / "token").read_text().strip()
    except (OSError, ValueError):
        return None  # holding the lock but still starting
    if pid and ready.get("pid") != pid:
        return None  # ready.json of an earlier server
    if not _listening(ready["port"]):
        return None  # it holds the lock while it dies (kill -9 releases the lock a moment later)
    edge = ready.get("edge") or {}
    facts = {k: ready[k] for k in ("kubernetesVersion", "cluster", "cni", "karmada", "cniTitle") if k in ready}
    return Running(ready["pid"], ready["port"], token, state, edge.get("http"), edge.get("https"),
                   ready.get("name", clusterset.DEFAULT_NAME), facts)


def members() -> dict[str, Running]:
    """The running members of the cluster set in ``$K8SNET_HOME``, by name (the default cluster first)."""
    found = {clusterset.DEFAULT_NAME: status(home())}
    root = _base() / "sandboxes"
    for state in sorted(root.iterdir()) if root.is_dir() else []:
        if state.is_dir() and clusterset.NAME_RE.match(state.name):
            found[state.name] = status(state)
    return {name: running for name, running in found.items() if running is not None}


def edge_ports(http_port: int | None = None, https_port: int | None = None,
               name: str | None = None) -> tuple[int, int]:
    """The edge ports to ask for: the arguments, else (the default cluster) ``$K8SNET_EDGE_HTTP(S)_PORT``, else
    8080/8443 (0: any). A named member's default is its own pair (:func:`k8snet.clusterset.edge_ports`: east
    8180/8543), so two members never ask for the same ports; the environment variables move the default cluster's
    only, but for 0 (any free port, which never collides: what test runs and notebook checks ask for), which every
    member takes."""
    if name and name != clusterset.DEFAULT_NAME:
        own = tuple(0 if os.environ.get(env, "").strip() == "0" else port
                    for env, port in zip(pins.EDGE_ENV, clusterset.edge_ports(name), strict=True))
        return pins.edge_ports(own[0] if http_port is None else http_port,
                               own[1] if https_port is None else https_port, any_port=True)
    return pins.edge_ports(http_port, https_port, any_port=True, defaults=EDGE_PORTS)


def check_set(name: str) -> None:
    """Refuse to start a member whose networks overlap a running member's (Cluster Mesh and Submariner need them
    apart).

    Raises:
        ValueError: naming each overlap and what to do.
    """
    running = [clusterset.shape(other) for other in members() if other != name]
    clashes = clusterset.clashes(clusterset.shape(name), running)
    if clashes:
        raise ValueError(f"cluster {name!r} cannot join the running cluster set: " + "; ".join(clashes) +
                         ". Choose another name (east, west, cloud and onprem never overlap), or stop the other "
                         "member with `k8snet sandbox down --name …`")


def up(state: Path | None = None, port: int | None = None, seed: int | None = None, timeout: float = 30.0,
       write_kubeconfig: bool = True, edge_http_port: int | None = None,
       edge_https_port: int | None = None, cni: str | None = None, name: str | None = None,
       karmada: bool | None = None) -> Running:
    """Start the sandbox (the member ``name`` of the cluster set, else the default one) unless it runs already;
    add its kubeconfig context (``k8snet-sandbox``, or ``k8snet-<name>``).

    The ingress edge listens on 127.0.0.1 at ``edge_http_port``/``edge_https_port`` (default 8080/8443, a named
    member's own pair: :func:`edge_ports`; 0 picks free ports); a taken port makes ``up`` fail with a message
    naming it and the option to change.
    ``cni`` (kindnet, cilium or calico) is the CNI plugin of a new cluster; a cluster made with another one is
    refused with a RuntimeError saying how to switch (``reset``), as a real cluster's plugin is not swapped in place.
    None: the cluster's own, else kindnet. A member whose networks overlap a running member's is refused with a
    ValueError (:func:`check_set`). ``karmada`` makes a new cluster a Karmada control plane (sandbox/karmada); a
    running one of the other kind is refused with a RuntimeError.
    """
    from . import cni as cniplugin

    if cni is not None:
        cni = cniplugin.check(cni)
    name = clusterset.check_name(name or clusterset.DEFAULT_NAME)
    state = state or home(name)
    running = status(state) or _wait_for_holder(state, timeout)
    if running is not None and running.name != name:
        raise RuntimeError(f"the sandbox running from {state} is cluster {running.name!r}, not {name!r}")
    facts = (running.facts or admin(running, "status")) if running is not None and (cni, karmada) != (None, None) \
        else {}
    if running is not None and cni is not None:
        have = facts.get("cni", cniplugin.KINDNET)
        if have != cni:
            raise RuntimeError(cniplugin.mismatch_message(have, cni))
    if running is not None and karmada is not None and facts.get("karmada", False) != karmada:
        raise RuntimeError(f"the sandbox {name!r} is running {'without' if karmada else 'with'} --karmada: a "
                           "cluster is not turned into the other kind in place")
    if running is None:
        check_set(name)
        edge = edge_ports(edge_http_port, edge_https_port, name)
        running = _spawn(state, port, seed, timeout, edge, cni, name, karmada)
    if write_kubeconfig:
        from .. import kubeconfig

        # the workbook's cluster becomes kubectl's current context, as `kind create cluster` makes its own; another
        # member only when nothing is current, so a notebook that starts a second cluster leaves the learner's
        # terminal (and its current context) where it was: `kubectl --context k8snet-NAME` reaches the member
        member = name not in (None, clusterset.DEFAULT_NAME)
        use = not member or not kubeconfig.current_context()
        kubeconfig.add_context(running.context, running.server, running.token, ca_data=running.ca_file.read_bytes(),
                               use=use)
    return running


def _wait_for_holder(state: Path, timeout: float) -> Running | None:
    """A server holds the lock but has not said where it listens yet (starting): wait for it, never start another.

    Returns None when no server holds the lock.
    """
    deadline = time.monotonic() + timeout
    while (pid := lock.holder(state)) is not None:
        running = status(state)
        if running is not None:
            return running
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sandbox server (pid {pid}) holds {state} but has not started serving within "
                               f"{timeout:.0f}s; see {state / 'sandbox.log'}, or stop it with `k8snet sandbox down`")
        time.sleep(0.02)
    return None


def _spawn(state: Path, port: int | None, seed: int | None, timeout: float,
           edge: tuple[int, int] = EDGE_PORTS, cni: str | None = None,
           name: str = clusterset.DEFAULT_NAME, karmada: bool | None = None) -> Running:
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    state.chmod(0o700)
    token_file = state / "token"
    if not token_file.exists():
        import secrets

        token_file.write_text(secrets.token_urlsafe(32))
        os.chmod(token_file, 0o600)
    if port is None:  # keep the port of the last run so an existing kubeconfig stays valid
        try:
            port = int((state / "port").read_text())
        except (OSError, ValueError):
            port = 0
    (state / "ready.json").unlink(missing_ok=True)
    seed = seed if seed is not None else int(os.environ.get("K8SNET_SEED", "0"))
    log = open(state / "sandbox.log", "ab")
    cmd = [sys.executable, "-m", "k8snet.sandbox", "serve", "--state", str(state), "--port", str(port),
           "--seed", str(seed), "--edge-http-port", str(edge[0]), "--edge-https-port", str(edge[1])]
    if cni is not None:
        cmd += ["--cni", cni]
    cmd += ["--name", name]
    if karmada:
        cmd += ["--karmada"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    from .. import kubeconfig  # noqa: F401 -- its yaml loads while the server starts: up writes the context next
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if proc.returncode == SERVER_BUSY:  # another `up` won the race: use its server
                running = _wait_for_holder(state, max(deadline - time.monotonic(), 1.0))
                if running is not None:
                    return running
                _fail(state, proc.returncode)
            if proc.returncode == EDGE_PORT_BUSY:
                raise RuntimeError(_edge_busy_message(state))
            if proc.returncode == CNI_MISMATCH:
                raise RuntimeError(_last_line(state, "k8snet-cni-mismatch: ") or "the sandbox's cluster was made "
                                   "with another CNI plugin (k8snet sandbox reset --cni … switches)")
            if proc.returncode == CLUSTER_MISMATCH:
                raise RuntimeError(_last_line(state, "k8snet-cluster-mismatch: ") or f"the state directory {state} "
                                   f"holds another cluster than {name!r}")
            if proc.returncode == KARMADA_MISMATCH:
                raise RuntimeError(_last_line(state, "k8snet-karmada-mismatch: ") or "--karmada does not fit the "
                                   f"cluster in {state}")
            if port:  # the old port is taken: try any free one
                return (_spawn(state, 0, seed, timeout, edge, cni, name, karmada) if _port_taken(state)
                        else _fail(state, proc.returncode))
            _fail(state, proc.returncode)
        running = status(state)
        if running is not None:
            (state / "port").write_text(str(running.port))
            return running
        time.sleep(0.02)
    proc.terminate()
    raise TimeoutError(f"the sandbox did not answer within {timeout:.0f}s; see {state / 'sandbox.log'}")


def _edge_busy_message(state: Path) -> str:
    """The sandbox's own explanation of the taken edge port (the last such line of its log)."""
    try:
        lines = (state / "sandbox.log").read_text().splitlines()
    except OSError:
        lines = []
    found = [line.split("k8snet-edge-port-busy: ", 1)[1] for line in lines if "k8snet-edge-port-busy: " in line]
    return found[-1] if found else "an ingress edge port is already in use (see --edge-http-port/--edge-https-port)"


def _last_line(state: Path, marker: str) -> str:
    """The text after ``marker`` on the last log line that has it ('' when none has)."""
    try:
        lines = (state / "sandbox.log").read_text().splitlines()
    except OSError:
        return ""
    found = [line.split(marker, 1)[1] for line in lines if marker in line]
    return found[-1] if found else ""


def _port_taken(state: Path) -> bool:
    try:
        tail = (state / "sandbox.log").read_text()[-2000:]
    except OSError:
        return False
    return "address already in use" in tail.lower()


def _fail(state: Path, code: int | None) -> Running:
    try:
        tail = (state / "sandbox.log").read_text()[-1500:]
    except OSError:
        tail = ""
    raise RuntimeError(f"the sandbox exited with code {code}; last log lines:\n{tail}")


def down(state: Path | None = None, timeout: float = 10.0, write_kubeconfig: bool = True,
         name: str | None = None) -> bool:
    """Stop the server holding the state directory (the member ``name``'s, else the default one's; its state stays
    for the next ``up``); remove its context."""
    state = state or home(name)
    pid = lock.holder(state)
    stopped = False
    if pid:
        try:
            os.kill(pid, signal.SIGCONT)  # a stopped (SIGSTOP) server must run to handle SIGTERM
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while (lock.holder(state) is not None or _alive(pid)) and time.monotonic() < deadline:
            time.sleep(0.02)  # _alive reaps it when it is our child
        if lock.holder(state) is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while lock.holder(state) is not None and _alive(pid):
                time.sleep(0.02)
        stopped = True
    (state / "ready.json").unlink(missing_ok=True)
    if write_kubeconfig:
        from .. import kubeconfig

        kubeconfig.remove_context(context(name))
    return stopped


def admin(running: Running, action: str, body: dict | None = None) -> dict:
    """Call an admin endpoint (reset, seed, clock, status) of a running sandbox."""
    import urllib.request

    data = json.dumps(body or {}).encode() if action != "status" else None
    req = urllib.request.Request(f"{running.server}/k8snet/admin/{action}", data=data,
                                 method="GET" if action == "status" else "POST",
                                 headers={"Authorization": f"Bearer {running.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30, context=_tls(running.state)) as resp:
        return json.loads(resp.read())
