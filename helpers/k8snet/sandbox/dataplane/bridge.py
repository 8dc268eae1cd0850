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
from .model import EMPTY_REPLY, PENDING, RAW_REPLY, RESET, Connection, NetError, Refused, Timeout, answer_of
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
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connections = 0
        """Connections opened into the data plane since start (the benchmark and tests read it)."""

    @property
    def proxy_url(self) -> str:
        return f"socks5://{USER}:{self.secret}@127.0.0.1:{self.port}"

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0, limit=READ_SIZE)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            conn = await self._handshake(reader, writer)
            if conn is not None:
                await relay(self.dataplane, conn, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            log.debug("bridge: connection ended: %s", exc)
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Connection | None:
        """RFC 1928 method selection, RFC 1929 authentication, then CONNECT; the data-plane connection or None."""
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 2 not in methods:
            writer.write(b"\x05\xff")  # no acceptable method: only user/password is offered
            return None
        writer.write(b"\x05\x02")
        sub, ulen = await reader.readexactly(2)
        user = await reader.readexactly(ulen)
        plen = (await reader.readexactly(1))[0]
        password = await reader.readexactly(plen)
        if sub != 1 or user != USER.encode() or not hmac.compare_digest(password, self.secret.encode()):
            writer.write(b"\x01\x01")
            return None
        writer.write(b"\x01\x00")
        version, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif atyp == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("idna")
        else:
            writer.write(_reply(ADDRESS_NOT_SUPPORTED))
            return None
        port = struct.unpack("!H", await reader.readexactly(2))[0]
        if version != 5 or command != 1:  # CONNECT only: a component never binds or sends UDP through here
            writer.write(_reply(COMMAND_NOT_SUPPORTED))
            return None
        pod = self.source()
        if pod is None:
            writer.write(_reply(GENERAL_FAILURE))
            return None
        try:
            conn = self.dataplane().connect(pod, host, port, "TCP")
        except Timeout:
            writer.write(_reply(SUCCEEDED))  # a dropped SYN: the dial "succeeds" and nothing ever answers
            await writer.drain()
            await _drain_forever(reader)
            return None
        except Refused:
            writer.write(_reply(REFUSED))
            return None
        except NetError:
            writer.write(_reply(HOST_UNREACHABLE))
            return None
        self.connections += 1
        writer.write(_reply(SUCCEEDED))
        await writer.drain()
        return conn


async def relay(dataplane: Callable[[], DataPlane], conn: Connection, reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter) -> None:
    """Carry one host-side connection's bytes to the pod program at the far end of ``conn`` and its answers back
    (HTTP requests one by one, TLS terminated in memory, raw bytes to a stream server): the bridge's relay, also
    the nodePort listeners'."""
    try:
        await _Relay(dataplane, conn, reader, writer).run()
    except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
        log.debug("relay: connection ended: %s", exc)


class _Relay:
    """One bridged connection: the component's bytes in, the pod program's answers out."""

    def __init__(self, dataplane: Callable[[], DataPlane], conn: Connection, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.current = dataplane
        self.dp = dataplane()
        self.conn, self.reader, self.writer = conn, reader, writer
        self.buffer = bytearray()
        self.tls: _TlsServer | None = None
        self.closing = False

    async def run(self) -> None:
        workloads = self.dp.workloads
        first = await self.reader.read(READ_SIZE)
        if not first:
            return
        if first[0] == 0x16 and workloads.speaks_tls(self.conn.dst_pod, self.conn.port):
            hello = parse_client_hello(first)
            ctx = workloads.tls_server(self.conn, hello.server_name if hello else "")
            if ctx is None or isinstance(ctx, Remote):  # Traefik to its own pod's TLS port: not carried
                return  # the server cannot load its certificate: the handshake fails, the connection closes
            self.tls = _TlsServer(ctx)
        data = first
        while data and not self.closing:
            await self._received(data)
            if self.closing:
                break
            data = await self.reader.read(READ_SIZE)
        if data == b"" and self.buffer and workloads.speaks_stream(self.conn.dst_pod, self.conn.port):
            await self._send(self._exchange())

    async def _received(self, data: bytes) -> None:
        if self.tls is not None:
            try:
                plain, out = self.tls.feed(data)
            except ssl.SSLError as exc:
                log.debug("bridge: TLS with %s failed: %s", self.conn.dst_pod["metadata"]["name"], exc)
                self.writer.write(self.tls.flush())
                self.closing = True
                return
            if out:
                self.writer.write(out)
            data = plain
        self.buffer += data
        if self.dp.workloads.speaks_stream(self.conn.dst_pod, self.conn.port):
            return  # a raw stream server (nc -l) gets everything when the component has finished sending
        while not self.closing:
            try:
                parsed = read_request(self.buffer)
            except BadRequest:
                await self._send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                 b"Connection: close\r\n\r\n400 Bad Request")
                self.closing = True
                return
            if parsed is None:
                if len(self.buffer) > REQUEST_LIMIT:
                    await self._send(b"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\n\r\n")
                    self.closing = True
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
                if response.status == PENDING:
                    response = await answer_of(response)
            except NetError:
                self._reset()
                return
            if response.delay > 0:
                await asyncio.sleep(response.delay)  # the server took its time (httpbin /delay)
            if response.status in (EMPTY_REPLY, RESET):
                self.closing = True
                return
            wire = response.wire()
            if request.method == "HEAD" and response.status > 0 and response.body:
                wire = wire[:len(wire) - len(response.body)]  # a HEAD answer has the headers only
            await self._send(wire)
            if response.status == RAW_REPLY or _closes(response.headers, request.headers):
                self.closing = True

    def _exchange(self) -> bytes:
        try:
            return self.dp.workloads.exchange(self.conn, bytes(self.buffer))
        except NetError:
            return b""

    async def _send(self, data: bytes) -> None:
        if self.tls is not None:
            data = self.tls.wrap(data)
        self.writer.write(data)
        await self.writer.drain()

    def _reset(self) -> None:
        """The pod behind the connection is gone: an RST, as the kernel answers for a vanished socket."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.closing = True


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
    def says_close(headers: dict[str, str]) -> bool:
        return any(k.lower() == "connection" and "close" in v.lower() for k, v in headers.items())

    return says_close(response_headers) or says_close(request_headers)


async def _drain_forever(reader: asyncio.StreamReader) -> None:
    """Read and drop what the client sends until it gives up: nothing answers a dropped connection."""
    while await reader.read(READ_SIZE):
        pass
