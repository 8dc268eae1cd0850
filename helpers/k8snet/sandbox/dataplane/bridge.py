"""The pod-network bridge: how a real program the sandbox runs (Traefik) reaches pod and Service addresses.

Pod IPs exist only inside the emulated data plane, so a real component is started with
``HTTP_PROXY``/``HTTPS_PROXY`` set to a SOCKS5 URL on 127.0.0.1. Go's ``http.ProxyFromEnvironment`` hands
every backend dial to the proxy with the exact address (``CONNECT 10.244.1.3:5678``), and the bridge opens
that connection through the data plane *from the component's pod*: kube-proxy (a ClusterIP), NetworkPolicy
(the component's pod is the source), the emulated server. Then it relays the bytes: each HTTP/1.x request
the component writes is answered by the pod's program, on the same data-plane connection while the
component keeps it alive (so kube-proxy's choice holds per connection, as conntrack holds it); a TLS
ClientHello is answered with the TLS the pod's server presents.

Results as on a cluster:
- nothing listens, or a Service has no endpoints → SOCKS "connection refused" (Traefik: 502 Bad Gateway);
- a drop (NetworkPolicy, an address nothing answers) → the CONNECT succeeds and nothing ever answers, as a
  SYN that is never answered; Traefik's ``responseHeaderTimeout`` (the same static option on both backends)
  turns it into 504 Gateway Timeout;
- a pod that goes away under a kept-alive connection → the connection is reset.

Only the sandbox's own components may use it (RFC 1929 user/password with a per-process secret): it
listens on 127.0.0.1 only, and learners' commands never reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
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
    Refused,
    Timeout,
    answer_of,
)
from .tls import Remote

if TYPE_CHECKING:
    from . import DataPlane

log = logging.getLogger("k8snet.sandbox.bridge")
Pod = dict[str, Any]

USER = "k8snet"
READ_SIZE = 65536
REQUEST_LIMIT = 64 << 20
"""Bytes a bridged request may hold before the server refuses it (413), as the edge caps a body."""

# RFC 1928 section 6: reply codes
SUCCEEDED, GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE, REFUSED, COMMAND_NOT_SUPPORTED = 0, 1, 2, 4, 5, 7
ADDRESS_NOT_SUPPORTED = 8


class Bridge:
    """A SOCKS5 endpoint on 127.0.0.1 that opens data-plane connections from a component's pod.

    Each connection is a protocol object, not a task: the handshake is parsed from what has arrived, and a
    request on an established connection is answered in the callback that brought it (only an answer that must
    be waited for, from a real component or after a server's delay, takes a task). Traefik keeps its
    connections alive, so this is the per-request cost of every request through the edge.

    Example:
        >>> bridge = Bridge(lambda: sandbox.dataplane, source=lambda: traefik_pod)
        >>> await bridge.start()
        >>> bridge.proxy_url  # 'socks5://k8snet:…@127.0.0.1:41877', for the component's HTTP(S)_PROXY
    """

    def __init__(self, dataplane: Callable[[], DataPlane], source: Callable[[], Pod | None]):
        self.dataplane = dataplane
        """The sandbox's current data plane (a reset replaces it), looked up for each connection."""
        self.source = source
        self.secret = secrets.token_urlsafe(24)
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._open: set[_Socks | _Relay] = set()
        self.connections = 0
        """Connections opened into the data plane since start (the benchmark and tests read it)."""

    @property
    def proxy_url(self) -> str:
        return f"socks5://{USER}:{self.secret}@127.0.0.1:{self.port}"

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Socks(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._open):
            await conn.stop()

    def _connect(self, host: str, port: int) -> tuple[int, Connection | None]:
        """CONNECT from the component's pod: the SOCKS reply code, and the connection when it was made (a dropped
        SYN is SUCCEEDED without one: the dial "succeeds" and nothing ever answers)."""
        pod = self.source()
        if pod is None:
            return GENERAL_FAILURE, None
        try:
            conn = self.dataplane().connect(pod, host, port, "TCP")
        except Timeout:
            return SUCCEEDED, None
        except Refused:
            return REFUSED, None
        except NetError:
            return HOST_UNREACHABLE, None
        self.connections += 1
        return SUCCEEDED, conn


class _Socks(asyncio.Protocol):
    """One component connection through its SOCKS5 handshake: RFC 1928 method selection, RFC 1929
    authentication, then CONNECT; on success the transport is handed to a :class:`_Relay`."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.step = self._greeting
        self.dropped = False  # a CONNECT nothing answers: what comes is read and dropped until the client gives up

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.bridge._open.add(self)

    def data_received(self, data: bytes) -> None:
        if self.dropped:
            return
        self.buffer += data
        try:
            while self.step is not None and self.step():
                pass
        except Exception as exc:  # noqa: BLE001  (a malformed address): the connection ends, as a failed read
            log.debug("bridge: handshake failed: %s", exc)
            self._close()

    def eof_received(self) -> bool:
        self._close()  # the component gave up (or never finished the handshake)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.bridge._open.discard(self)

    async def stop(self) -> None:
        self._close()

    def _close(self) -> None:
        self.step = None
        if self.transport is not None:
            self.transport.close()

    def _take(self, n: int, at: int = 0) -> bytes | None:
        """``n`` bytes from offset ``at`` of what has arrived (None: not yet)."""
        return bytes(self.buffer[at:at + n]) if len(self.buffer) >= at + n else None

    def _refuse(self, reply: bytes) -> bool:
        assert self.transport is not None
        self.transport.write(reply)
        self._close()
        return False

    def _greeting(self) -> bool:
        head = self._take(2)
        if head is None or self._take(head[1], 2) is None:
            return False
        version, count = head
        methods = self._take(count, 2)
        del self.buffer[:2 + count]
        if version != 5 or 2 not in methods:  # type: ignore[operator]
            return self._refuse(b"\x05\xff")  # no acceptable method: only user/password is offered
        assert self.transport is not None
        self.transport.write(b"\x05\x02")
        self.step = self._authenticate
        return True

    def _authenticate(self) -> bool:
        head = self._take(2)
        if head is None:
            return False
        sub, ulen = head
        plen = self._take(1, 2 + ulen)
        if plen is None or self._take(plen[0], 3 + ulen) is None:
            return False
        user, password = self._take(ulen, 2), self._take(plen[0], 3 + ulen)
        del self.buffer[:3 + ulen + plen[0]]
        secret = self.bridge.secret.encode()
        if sub != 1 or user != USER.encode() or not hmac.compare_digest(password, secret):  # type: ignore[arg-type]
            return self._refuse(b"\x01\x01")
        assert self.transport is not None
        self.transport.write(b"\x01\x00")
        self.step = self._request
        return True

    def _request(self) -> bool:
        head = self._take(4)
        if head is None:
            return False
        version, command, _, atyp = head
        if atyp == 1:
            size, at = 4, 4
        elif atyp == 4:
            size, at = 16, 4
        elif atyp == 3:
            length = self._take(1, 4)
            if length is None:
                return False
            size, at = length[0], 5
        else:
            return self._refuse(_reply(ADDRESS_NOT_SUPPORTED))
        raw, port_bytes = self._take(size, at), self._take(2, at + size)
        if raw is None or port_bytes is None:
            return False
        del self.buffer[:at + size + 2]
        host = str(ipaddress.IPv4Address(raw)) if atyp == 1 else str(ipaddress.IPv6Address(raw)) if atyp == 4 \
            else raw.decode("idna")
        port = struct.unpack("!H", port_bytes)[0]
        if version != 5 or command != 1:  # CONNECT only: a component never binds or sends UDP through here
            return self._refuse(_reply(COMMAND_NOT_SUPPORTED))
        code, conn = self.bridge._connect(host, port)
        assert self.transport is not None
        self.transport.write(_reply(code))
        self.step = None
        if code != SUCCEEDED:
            self._close()
        elif conn is None:
            self.dropped = True
            self.buffer.clear()
        else:
            self.bridge._open.discard(self)
            relay = _Relay(self.bridge.dataplane, conn, self.bridge._open)
            self.transport.set_protocol(relay)
            relay.connection_made(self.transport)
            if self.buffer:  # the component wrote its request right behind the CONNECT
                relay.data_received(bytes(self.buffer))
        return False


async def relay(dataplane: Callable[[], DataPlane], conn: Connection, sock: socket.socket) -> None:
    """Carry one accepted host-side socket's bytes to the pod program at the far end of ``conn`` and its answers
    back, until either side closes (the nodePort listeners'; the bridge hands over its own connections)."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(lambda: _Relay(dataplane, conn), sock=sock)
    try:
        await asyncio.shield(protocol.done)
    finally:
        await protocol.stop()


class _Relay(asyncio.Protocol):
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


def _reply(code: int) -> bytes:
    """A SOCKS5 reply (RFC 1928 section 6) with an all-zero bound address."""
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


def _closes(response_headers: dict[str, str], request_headers: dict[str, str]) -> bool:
    """Whether the server closes after this answer (``Connection: close`` either way)."""
    return _says_close(response_headers) or _says_close(request_headers)


def _says_close(headers: dict[str, str]) -> bool:
    if "connection" not in " ".join(headers).lower():  # most messages have no Connection header: one look
        return False
    return any(k.lower() == "connection" and "close" in v.lower() for k, v in headers.items())
