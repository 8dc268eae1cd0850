"""The ingress edge: TCP listeners on 127.0.0.1 that carry traffic from the host to the cluster's Traefik.

On kind, 127.0.0.1:8080 and :8443 are docker port mappings onto Traefik's nodePorts (32080/32443) on the
control-plane node. The edge stands in for them: each accepted connection becomes one data-plane connection
from the host to that nodePort (kube-proxy picks the Traefik pod and rewrites the source address;
NetworkPolicies apply), and its bytes are relayed to the real Traefik's entrypoint
(:mod:`k8snet.sandbox.components.traefik`) after a PROXY protocol header carrying the address kube-proxy gave
it. Everything HTTP and TLS — parsing, routing, certificates, timeouts, errors — is Traefik's own.
Every connection is its own task: none holds up another.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from typing import TYPE_CHECKING, Any

from ..traefik_config import ENTRYPOINTS
from .components.traefik import UNSUPPORTED, proxy_header
from .dataplane.model import Connection, NetError

if TYPE_CHECKING:
    from .components.traefik import Traefik
    from .instance import Sandbox

log = logging.getLogger("k8snet.sandbox.edge")

ENTRYPOINT_OF_PORT = {port: name for name, port in ENTRYPOINTS.items()}


class EdgePortBusy(OSError):
    """A port the edge must listen on is taken."""

    def __init__(self, port: int, which: str):
        flag = "--edge-http-port" if which == "http" else "--edge-https-port"
        super().__init__(errno.EADDRINUSE, f"the ingress edge cannot listen on 127.0.0.1:{port} ({which}): the address "
                                           f"is already in use; stop what uses it or start the sandbox with "
                                           f"`k8snet sandbox up {flag} PORT` (0 picks a free port)")
        self.port = port
        self.which = which


class Edge:
    """Both edge listeners of one sandbox process.

    Example:
        >>> edge = Edge(sandbox, http_port=0, https_port=0, traefik=traefik)
        >>> await edge.start()
        (41233, 41234)
    """

    def __init__(self, sandbox: Sandbox, http_port: int = 8080, https_port: int = 8443, host: str = "127.0.0.1",
                 traefik: Traefik | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the ingress edge listens on loopback only")
        self.sb = sandbox
        self.host = host
        self.requested = {"http": http_port, "https": https_port}
        self.ports: dict[str, int] = {}
        self.traefik = traefik
        """The real Traefik the edge relays to (None: no build of it for this platform; connections are reset)."""
        self._sockets: list[socket.socket] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> tuple[int, int]:
        """Bind both ports (raises EdgePortBusy) and start accepting; returns the bound (http, https) ports."""
        for which, entrypoint in (("http", "web"), ("https", "websecure")):
            sock = self._bind(self.requested[which], which)
            self._sockets.append(sock)
            self.ports[which] = sock.getsockname()[1]
            self._spawn(self._accept(sock, entrypoint))
        return self.ports["http"], self.ports["https"]

    def _bind(self, port: int, which: str) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            self.close_sockets()
            if exc.errno == errno.EADDRINUSE:
                raise EdgePortBusy(port, which) from None
            raise
        sock.listen(256)
        sock.setblocking(False)
        return sock

    def close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.close_sockets()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- connections -------------------------------------------------------------------------------

    async def _accept(self, listener: socket.socket, entrypoint: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as exc:  # e.g. too many open files: keep serving once some close
                log.warning("edge: accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            sock.setblocking(False)
            self._spawn(self._connection(sock, entrypoint))

    async def _connection(self, sock: socket.socket, entrypoint: str) -> None:
        try:
            conn = self.sb.dataplane.ingress.edge_connect(entrypoint)
        except NetError as exc:  # no ready Traefik endpoint, or a policy: kube-proxy's REJECT, or a drop
            log.info("edge: %s: %s", entrypoint, exc.message)
            _reset(sock)
            return
        if self.traefik is None:
            log.warning("edge: %s", UNSUPPORTED)
            _reset(sock)
            return
        try:
            await self._relay(sock, conn)
        except (OSError, ConnectionError) as exc:
            log.debug("edge: connection closed: %s", exc)
            with contextlib.suppress(OSError):
                sock.close()

    async def _relay(self, sock: socket.socket, conn: Connection) -> None:
        """Carry the connection's bytes to the real Traefik's entrypoint, after a PROXY protocol header with
        the addresses the Traefik pod sees on a cluster (kube-proxy's rewrite of the host's connection)."""
        assert self.traefik is not None
        entrypoint = ENTRYPOINT_OF_PORT.get(conn.port, "")
        port = self.traefik.ports.get(entrypoint)
        loop = asyncio.get_running_loop()
        try:
            if not port:
                raise ConnectionRefusedError(f"no Traefik entrypoint for pod port {conn.port}")
            upstream_t, upstream = await loop.create_connection(_Splice, self.traefik.host, port)
        except OSError as exc:  # Traefik is (re)starting: as a pod that is not listening yet, a reset
            log.info("edge: Traefik's %s entrypoint: %s", entrypoint or conn.port, exc)
            _reset(sock)
            return
        upstream_t.write(proxy_header(conn.client_ip, conn.client_port, conn.dst_ip, conn.port))
        _, client = await loop.connect_accepted_socket(_Splice, sock=sock)
        client.join(upstream)
        await asyncio.gather(client.done, upstream.done)


class _Splice(asyncio.Protocol):
    """One side of a TCP relay: what arrives is written to the other side's transport as it comes, without a
    task or a buffer of its own (a request through the edge costs two callbacks, not two coroutines). The
    other side's full write buffer pauses this side's reading (flow control); an end of file is passed on as a
    half-close, as a TCP proxy does; a reset aborts both."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Splice | None = None
        self.pending: list[bytes] = []  # what came before the other side was joined
        self.eof = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def join(self, other: _Splice) -> None:
        self.peer, other.peer = other, self
        for side in (self, other):
            for data in side.pending:
                side._forward(data)
            side.pending.clear()
            if side.eof:
                side._forward_eof()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self._forward(data)

    def _forward(self, data: bytes) -> None:
        assert self.peer is not None and self.peer.transport is not None
        self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        if self.peer is not None:
            self._forward_eof()
        return True  # keep writing the other way until that side ends too

    def _forward_eof(self) -> None:
        assert self.peer is not None and self.peer.transport is not None
        if self.peer.transport.can_write_eof() and not self.peer.transport.is_closing():
            self.peer.transport.write_eof()
        if self.peer.eof:  # both ways ended
            self.transport.close()  # type: ignore[union-attr]
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.transport.is_closing():
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.transport.is_closing():
            if exc is not None:
                self.peer.transport.abort()  # a reset one way is a reset the other
            else:
                self.peer.transport.close()
        if not self.done.done():
            self.done.set_result(None)


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a connection kube-proxy REJECTs (no Traefik endpoint) looks to the client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
