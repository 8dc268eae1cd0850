"""The relay into a pod's program: the bytes of a host-side connection, answered as the pod's program answers.

A connection the data plane has made (kube-proxy's choice, NetworkPolicy) from a real component through the
pod-network bridge (:mod:`.bridge`), or from the host through a nodePort listener (:mod:`..hostports`), carries
bytes; the relay turns them into what the program at the far end reads: each HTTP/1.x request in turn, answered
on the same connection while the client keeps it alive (so kube-proxy's choice holds per connection, as conntrack
holds it); a TLS ClientHello answered with the TLS the pod's server presents (terminated in memory); everything a
raw stream server (``nc -l``) gets when the client has finished sending.

It is a protocol object, not a task: a request is answered in the callback that completed it, so a kept-alive
connection costs two socket calls and the program's answer per request. Only an answer that must be waited for
(a real component's, a server's delay) takes a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .clienthello import parse_client_hello
from .http1 import BadRequest, read_request
from .model import (
    EMPTY_REPLY,
    PENDING,
    RAW_REPLY,
    RESET,
    Connection,
    HttpRequest,
    HttpResponse,
    NetError,
    answer_of,
)
from .tls import Remote

if TYPE_CHECKING:
    from . import DataPlane

log = logging.getLogger("k8snet.sandbox.relay")

READ_SIZE = 65536
REQUEST_LIMIT = 64 << 20
"""Bytes a relayed request may hold before the server refuses it (413), as the edge caps a body."""


async def relay(dataplane: Callable[[], DataPlane], conn: Connection, sock: socket.socket) -> None:
    """Carry one accepted host-side socket's bytes to the pod program at the far end of ``conn`` and its answers
    back, until either side closes (the nodePort listeners'; the bridge hands over its own connections)."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(lambda: Relay(dataplane, conn), sock=sock)
    try:
        await asyncio.shield(protocol.done)
    finally:
        await protocol.stop()


class Relay(asyncio.Protocol):
    """One bridged connection: the component's bytes in, the pod program's answers out (HTTP requests one by
    one, TLS terminated in memory, raw bytes to a stream server).

    Requests are answered in order, each in the callback that completed it; one whose answer must be waited for
    (a real component's, a server's delay) holds the rest, and the bytes behind it, until it is written. While
    the component does not read the answers (the transport's buffer is full), no further request is served.
    """

    def __init__(self, dataplane: Callable[[], DataPlane], conn: Connection,
                 registry: set[Any] | None = None):
        self.current = dataplane
        self.dp = dataplane()
        self.conn = conn
        self.registry = registry
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.tls: _TlsServer | None = None
        self.closing = False
        self.started = False
        self.stream = False
        """A raw stream server (``nc -l``) accepted the connection: it gets the bytes whole, never parsed as HTTP."""
        self.backlog: list[bytes] = []  # bytes that came while an answer was awaited
        self.backlog_bytes = 0
        self.eof = False
        self.paused = False
        self.waiting: asyncio.Task[None] | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- the transport's callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.registry is not None:
            self.registry.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.waiting is not None or self.paused or self.backlog:
            self.backlog.append(data)
            self.backlog_bytes += len(data)
            self._flow()
            return
        self._guarded(self._received, data)

    def eof_received(self) -> bool:
        self.eof = True
        self._guarded(self._proceed)
        return True  # answers may still be written; the relay closes when it is done

    def pause_writing(self) -> None:
        self.paused = True
        self._flow()

    def resume_writing(self) -> None:
        self.paused = False
        self._flow()
        self._guarded(self._proceed)

    def _flow(self) -> None:
        """Read from the component only while its answers are read and little waits unserved (as a server that
        reads the next request after writing the last answer)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        hold = self.paused or self.backlog_bytes > 2 * READ_SIZE
        if hold and transport.is_reading():
            transport.pause_reading()
        elif not hold and not transport.is_reading():
            transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if exc is not None:
            log.debug("relay: connection ended: %s", exc)
        if self.registry is not None:
            self.registry.discard(self)
        if not self.done.done():
            self.done.set_result(None)

    async def stop(self) -> None:
        """End the connection (the sandbox stops): an answer still awaited is given up."""
        if self.waiting is not None:
            self.waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.waiting
        self._close()

    # -- serving -------------------------------------------------------------------------------

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        try:
            step(*args)
        except (ConnectionError, OSError) as exc:
            log.debug("relay: connection ended: %s", exc)
            self._close()
        except Exception:
            log.exception("relay: serving %s:%s failed", self.conn.dst_ip, self.conn.port)
            self._close()

    def _proceed(self) -> None:
        """Serve what waits (requests behind an answered one, bytes that came meanwhile); at the component's
        end of sending, a stream server gets what it sent, and the connection closes."""
        if self.closing or self.waiting is not None or self.paused:
            return
        if self.started:
            self._serve()
        while self.backlog and not self.closing and self.waiting is None and not self.paused:
            data = self.backlog.pop(0)
            self.backlog_bytes -= len(data)
            self._received(data)
        self._flow()
        if self.eof and not self.backlog and not self.closing and self.waiting is None and not self.paused:
            if self.buffer and self.dp.workloads.speaks_stream(self.conn.dst_pod, self.conn.port):
                self._send(self._exchange())
            self._close()

    def _received(self, data: bytes) -> None:
        workloads = self.dp.workloads
        if not self.started:
            self.started = True
            # the program that holds the port when the first bytes arrive is the one that accepted the connection
            self.stream = workloads.speaks_stream(self.conn.dst_pod, self.conn.port)
            if data[0] == 0x16 and workloads.speaks_tls(self.conn.dst_pod, self.conn.port):
                hello = parse_client_hello(data)
                ctx = workloads.tls_server(self.conn, hello.server_name if hello else "")
                if ctx is None or isinstance(ctx, Remote):  # Traefik to its own pod's TLS port: not carried
                    self._close()  # the server cannot load its certificate: the handshake fails, the connection closes
                    return
                self.tls = _TlsServer(ctx)
        if self.tls is not None:
            try:
                plain, out = self.tls.feed(data)
            except ssl.SSLError as exc:
                log.debug("bridge: TLS with %s failed: %s", self.conn.dst_pod["metadata"]["name"], exc)
                self._write(self.tls.flush())
                self._close()
                return
            if out:
                self._write(out)
            data = plain
        self.buffer += data
        if self.stream:
            return  # a raw stream server (nc -l) gets everything when the component has finished sending
        self._serve()

    def _serve(self) -> None:
        """Answer the whole requests in the buffer, in order, until one must be waited for."""
        while not self.closing and self.waiting is None and not self.paused:
            try:
                parsed = read_request(self.buffer)
            except BadRequest:
                self._send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           b"Connection: close\r\n\r\n400 Bad Request")
                self._close()
                return
            if parsed is None:
                if len(self.buffer) > REQUEST_LIMIT:
                    self._send(b"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\n\r\n")
                    self._close()
                return
            request, used = parsed
            del self.buffer[:used]
            if self.current() is not self.dp:  # the cluster was reset: this connection's pod is gone with it
                self._reset()
                return
            if self.tls is not None:
                request.scheme = "https"
                request.tls = self.tls.session(self.dp.sb.clock.now())
            try:
                response = self.dp.workloads.serve_http(self.conn, request)
            except NetError:
                self._reset()
                return
            if response.status == PENDING or response.delay > 0:
                self.waiting = asyncio.get_running_loop().create_task(self._wait(request, response))
                return
            self._answer(request, response)

    async def _wait(self, request: HttpRequest, response: HttpResponse) -> None:
        """An answer that takes time: a real component's (kube-apiserver, Traefik), or a server's delay."""
        try:
            if response.status == PENDING:
                response = await answer_of(response)
            if response.delay > 0:
                await asyncio.sleep(response.delay)  # the server took its time (httpbin /delay)
        except NetError:
            self.waiting = None
            self._reset()
            return
        except Exception:
            self.waiting = None
            log.exception("relay: waiting for %s:%s's answer failed", self.conn.dst_ip, self.conn.port)
            self._close()
            return
        self.waiting = None
        if self.closing:
            return
        self._guarded(self._answer, request, response)
        self._guarded(self._proceed)

    def _answer(self, request: HttpRequest, response: HttpResponse) -> None:
        if response.status in (EMPTY_REPLY, RESET):
            self._close()
            return
        wire = response.wire()
        if request.method == "HEAD" and response.status > 0 and response.body:
            wire = wire[:len(wire) - len(response.body)]  # a HEAD answer has the headers only
        self._send(wire)
        if response.status == RAW_REPLY or _closes(response.headers, request.headers):
            self._close()

    def _exchange(self) -> bytes:
        try:
            return self.dp.workloads.exchange(self.conn, bytes(self.buffer))
        except NetError:
            return b""

    def _send(self, data: bytes) -> None:
        if self.tls is not None:
            data = self.tls.wrap(data)
        self._write(data)

    def _write(self, data: bytes) -> None:
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        """The server closes: what was written goes first, then the end of the stream."""
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _reset(self) -> None:
        """The pod behind the connection is gone: an RST, as the kernel answers for a vanished socket."""
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._close()


class _TlsServer:
    """The pod's TLS server end, in memory (the bytes travel over the bridged connection)."""

    def __init__(self, ctx: ssl.SSLContext):
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.ctx = ctx
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.done = False

    def session(self, now: Any) -> Any:
        """The established session as the program sees it (protocol, cipher, the client's certificate)."""
        from .tls import session_of

        return session_of(self.obj, self.ctx, now)

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Take bytes from the client; the plaintext they carried and the bytes to send back."""
        self.incoming.write(data)
        if not self.done:
            try:
                self.obj.do_handshake()
                self.done = True
            except ssl.SSLWantReadError:
                return b"", self.flush()
        plain = bytearray()
        while True:
            try:
                chunk = self.obj.read(READ_SIZE)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            if not chunk:
                break
            plain += chunk
        return bytes(plain), self.flush()

    def wrap(self, data: bytes) -> bytes:
        self.obj.write(data)
        return self.flush()

    def flush(self) -> bytes:
        return self.outgoing.read()


def _closes(response_headers: dict[str, str], request_headers: dict[str, str]) -> bool:
    """Whether the server closes after this answer (``Connection: close`` either way)."""
    return _says_close(response_headers) or _says_close(request_headers)


def _says_close(headers: dict[str, str]) -> bool:
    if "connection" not in " ".join(headers).lower():  # most messages have no Connection header: one look
        return False
    return any(k.lower() == "connection" and "close" in v.lower() for k, v in headers.items())
