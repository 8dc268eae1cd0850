"""The ingress edge: real HTTP and HTTPS sockets on 127.0.0.1 that carry Ingress traffic into the sandbox.

On kind, 127.0.0.1:8080 and :8443 are docker port mappings onto Traefik's nodePorts (32080/32443) on the
control-plane node. The edge stands in for them: each accepted TCP connection becomes one data-plane
connection from the host to that nodePort (kube-proxy picks the Traefik pod and rewrites the source
address; NetworkPolicies apply), and every request on it is answered by the emulated Traefik
(:mod:`k8snet.sandbox.dataplane.ingress`).

Like a Traefik entrypoint, each port looks at the first byte: a TLS record (0x16, or an SSLv2 hello) starts a
TLS handshake — the ClientHello's SNI chooses the TLS options and the certificate, from the Ingresses'
Secrets or Traefik's default one — anything else is plain HTTP. HTTP parsing is aiohttp's (llhttp); a request
it cannot parse gets Go's net/http answer (``400 Bad Request``, ``431 Request Header Fields Too Large`` over
1 MiB of headers) and the connection closes; a client that stops half-way is cut off after Traefik's
``readTimeout`` (60 s), idle keep-alive connections after its ``idleTimeout`` (180 s); TLS that does not
handshake is closed. None of it holds up other clients: every connection is its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE, HttpVersion, HttpVersion11
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import ERROR as PARSE_ERROR
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from multidict import CIMultiDict

from .components.traefik import proxy_header
from .dataplane.ingress.config import ENTRYPOINTS
from .dataplane.ingress.exchange import Headers, TlsInfo
from .dataplane.ingress.tls import parse_client_hello, record_length
from .dataplane.model import Connection, NetError

if TYPE_CHECKING:
    from .components.traefik import Traefik
    from .instance import Sandbox

log = logging.getLogger("k8snet.sandbox.edge")

READ_TIMEOUT = 60.0  # Traefik v3 entryPoints.<name>.transport.respondingTimeouts.readTimeout default
IDLE_TIMEOUT = 180.0  # ... idleTimeout default
MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes (Traefik's http.maxHeaderBytes default)
MAX_BODY = 64 << 20  # the sandbox's own cap on a buffered request body (Traefik streams; answers 413 here)
MAX_CLIENT_HELLO = 16384 + 5
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


def go_error(status: int, text: str) -> web.Response:
    """What Go's net/http writes for a request it cannot read: the status text as body, then it closes."""
    resp = web.Response(status=status, body=text.encode(), headers={"Content-Type": "text/plain; charset=utf-8",
                                                                    "Connection": "close"})
    resp.force_close()
    return resp


class _EdgeRequest(BaseRequest):
    """A request whose responses carry no ``Server`` header unless the backend set one (Go adds none).

    A request aiohttp could not parse, or one with no version, is answered on an ``HTTP/1.1`` status line,
    as Go writes it.
    """

    @property
    def version(self) -> HttpVersion:
        if self._message is PARSE_ERROR or super().version < (1, 0):
            return HttpVersion11
        return super().version

    @property
    def request_version(self) -> HttpVersion:
        """The version the client sent (``version`` is what the answer's status line says)."""
        return super().version

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if response.headers.get("Server") == SERVER_SOFTWARE:
            del response.headers["Server"]


class _EdgeProtocol(RequestHandler):
    """aiohttp's HTTP/1.1 connection handler with Go's error answers and Traefik's read timeout."""

    def __init__(self, manager: Any, read_timeout: float, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self.k8snet_conn: Connection | None = None
        self.k8snet_tls: TlsInfo | None = None
        self.k8snet_tls_done: TlsInfo | None = None  # k8snet_tls completed from the finished handshake
        self.k8snet_read_timeout = read_timeout
        self.k8snet_timer: asyncio.TimerHandle | None = None
        self.k8snet_busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.k8snet_timer is None and not self.k8snet_busy:
            self._arm()  # the first bytes of the next request: it has readTimeout to arrive
        super().data_received(data)

    def _arm(self) -> None:
        self.k8snet_timer = self._loop.call_later(self.k8snet_read_timeout, self._expire)

    def _expire(self) -> None:
        self.k8snet_timer = None
        if not self.k8snet_busy and self.transport is not None:
            self.transport.close()  # Go gives up on a request it could not read in time: no answer, closed

    def begin(self) -> None:
        self.k8snet_busy = True
        if self.k8snet_timer is not None:
            self.k8snet_timer.cancel()
            self.k8snet_timer = None

    def end(self) -> None:
        self.k8snet_busy = False

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.k8snet_timer is not None:
            self.k8snet_timer.cancel()
        super().connection_lost(exc)

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if isinstance(exc, LineTooLong):
            return go_error(431, "431 Request Header Fields Too Large")
        if isinstance(exc, BadHttpMessage) and "'Host' header" in str(exc):
            return go_error(400, "400 Bad Request: missing required Host header")
        if status == 400:
            return go_error(400, "400 Bad Request")
        if status == 413:
            return go_error(413, "413 Request Entity Too Large")
        log.warning("edge: error handling a request: %s", exc or message)
        return go_error(500, "Internal Server Error")


class _EdgeServer(web.Server):
    """aiohttp's low-level server making :class:`_EdgeProtocol` connections."""

    def __init__(self, handler: Callable[..., Any], read_timeout: float, **kwargs: Any):
        super().__init__(handler, request_factory=self._edge_request, **kwargs)
        self.read_timeout = read_timeout

    def _edge_request(self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> BaseRequest:
        return _EdgeRequest(message, payload, protocol, writer, task, self._loop, client_max_size=MAX_BODY)

    def __call__(self) -> RequestHandler:
        return _EdgeProtocol(self, self.read_timeout, loop=self._loop, **self._kwargs)


class Edge:
    """Both edge listeners of one sandbox process.

    Example:
        >>> edge = Edge(sandbox, http_port=0, https_port=0)
        >>> await edge.start()
        (41233, 41234)
    """

    def __init__(self, sandbox: Sandbox, http_port: int = 8080, https_port: int = 8443, host: str = "127.0.0.1",
                 read_timeout: float = READ_TIMEOUT, idle_timeout: float = IDLE_TIMEOUT,
                 traefik: Traefik | None = None):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the ingress edge listens on loopback only")
        self.sb = sandbox
        self.host = host
        self.requested = {"http": http_port, "https": https_port}
        self.ports: dict[str, int] = {}
        self.read_timeout = read_timeout
        self._sockets: list[socket.socket] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: _EdgeServer | None = None
        self.idle_timeout = idle_timeout
        self.traefik = traefik
        """The real Traefik the edge relays to (None: the emulated one answers)."""

    async def start(self) -> tuple[int, int]:
        """Bind both ports (raises EdgePortBusy) and start accepting; returns the bound (http, https) ports."""
        self._server = _EdgeServer(self._handle, self.read_timeout, keepalive_timeout=self.idle_timeout,
                                   max_line_size=MAX_HEADER_BYTES, max_field_size=MAX_HEADER_BYTES,
                                   max_headers=32768, access_log=None)
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
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.shutdown(0.5)
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

    async def _peek(self, sock: socket.socket, size: int, deadline: float) -> bytes:
        """Up to ``size`` bytes without consuming them (MSG_PEEK), waiting until ``deadline`` for them all.

        Returns fewer at the deadline, and b"" when the client closed before sending anything.
        """
        loop = asyncio.get_running_loop()
        data = b""
        while True:
            try:
                data = sock.recv(size, socket.MSG_PEEK)
                if len(data) >= size or not data:
                    return data
            except BlockingIOError:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                return data
            if data:  # part of a record is there: the socket stays readable, so poll for the rest
                await asyncio.sleep(min(0.01, remaining))
                continue
            ready = loop.create_future()
            loop.add_reader(sock.fileno(), lambda f=ready: f.done() or f.set_result(None))
            try:
                await asyncio.wait_for(ready, remaining)
            except TimeoutError:
                return b""
            finally:
                loop.remove_reader(sock.fileno())

    async def _connection(self, sock: socket.socket, entrypoint: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        try:
            first = await self._peek(sock, 1, deadline)
            if not first:
                sock.close()
                return
            try:
                conn = self.sb.dataplane.ingress.edge_connect(entrypoint)
            except NetError as exc:
                log.info("edge: %s: %s", entrypoint, exc.message)
                _reset(sock)
                return
            if self.traefik is not None:
                await self._relay(sock, conn)
                return
            ctx: ssl.SSLContext | None = None
            info: TlsInfo | None = None
            if first[0] in (0x16, 0x80):  # a TLS record, or an SSLv2 hello: TLS (router.go clientHelloInfo)
                data = await self._peek(sock, 5, deadline)
                need = record_length(data) if first[0] == 0x16 else None
                if need:  # a real client sends its ClientHello at once: do not wait long for the rest of it
                    data = await self._peek(sock, min(need, MAX_CLIENT_HELLO), min(deadline, loop.time() + 1.0))
                hello = parse_client_hello(data)
                chosen = self.sb.dataplane.ingress.tls_context(conn, hello.server_name if hello else "")
                if chosen is None:  # broken TLS options, or sniStrict without a certificate: closed
                    sock.close()
                    return
                ctx, info = chosen

            def factory() -> RequestHandler:
                assert self._server is not None
                proto = self._server()
                proto.k8snet_conn, proto.k8snet_tls = conn, info  # type: ignore[attr-defined]
                return proto

            await loop.connect_accepted_socket(factory, sock, ssl=ctx,
                                               ssl_handshake_timeout=max(deadline - loop.time(), 0.1) if ctx else None)
        except (TimeoutError, OSError, ssl.SSLError, ConnectionError) as exc:
            log.debug("edge: connection closed: %s", exc)
            with contextlib.suppress(OSError):
                sock.close()

    async def _relay(self, sock: socket.socket, conn: Connection) -> None:
        """Carry the connection's bytes to the real Traefik's entrypoint, after a PROXY protocol header with
        the addresses the Traefik pod sees on a cluster (kube-proxy's rewrite of the host's connection)."""
        assert self.traefik is not None
        entrypoint = ENTRYPOINT_OF_PORT.get(conn.port, "")
        port = self.traefik.ports.get(entrypoint)
        try:
            if not port:
                raise ConnectionRefusedError(f"no Traefik entrypoint for pod port {conn.port}")
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:  # Traefik is (re)starting: as a pod that is not listening yet, a reset
            log.info("edge: Traefik's %s entrypoint: %s", entrypoint or conn.port, exc)
            _reset(sock)
            return
        upstream_w.write(proxy_header(conn.client_ip, conn.client_port, conn.dst_ip, conn.port))
        client_r, client_w = await asyncio.open_connection(sock=sock)
        await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))

    # -- requests ----------------------------------------------------------------------------------

    async def _handle(self, request: BaseRequest) -> web.StreamResponse:
        proto = request.protocol
        assert isinstance(proto, _EdgeProtocol) and proto.k8snet_conn is not None
        proto.begin()
        try:
            return await self._serve(request, proto, proto.k8snet_conn)
        finally:
            proto.end()

    async def _serve(self, request: BaseRequest, proto: _EdgeProtocol, conn: Connection) -> web.StreamResponse:
        pod = conn.dst_pod
        now = self.sb.store.get("pods", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        if now is None or now["metadata"].get("uid") != pod["metadata"].get("uid") or \
                (now.get("status") or {}).get("phase") != "Running":
            if request.transport is not None:
                request.transport.abort()  # the Traefik pod that held this connection is gone: reset
            raise ConnectionResetError("the Traefik pod of this connection is gone")
        if request.request_version < (1, 0):  # "GET /" with no version: net/http parseRequestLine wants three fields
            return go_error(400, "400 Bad Request: malformed HTTP request")
        version = f"HTTP/{request.version.major}.{request.version.minor}"
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        target = request.raw_path
        if target.lower().startswith(("http://", "https://")):
            # absolute-form: the URL's host wins over the Host header (net/http readRequest: req.Host =
            # req.URL.Host), and the request goes on with its path
            url = urlsplit(target)
            target = (url.path or "/") + (f"?{url.query}" if url.query else "")
            if url.netloc:
                raw = [(k, v) for k, v in raw if k.lower() != "host"] + [("Host", url.netloc)]
        if request.version >= (1, 1) and not any(k.lower() == "host" for k, _ in raw):
            return go_error(400, "400 Bad Request: missing required Host header")
        if request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:  # no body (most GETs): nothing to wait for, and no timer to arm
            body = await asyncio.wait_for(request.read(), self.read_timeout) if request.body_exists else b""
        except TimeoutError:
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("request body not received within readTimeout") from None
        except web.HTTPRequestEntityTooLarge:
            return go_error(413, "413 Request Entity Too Large")
        tls = proto.k8snet_tls_done
        if tls is None and proto.k8snet_tls is not None:  # the handshake's facts hold for the whole connection
            tls = proto.k8snet_tls_done = _tls_info(proto.k8snet_tls, request)
        if tls is not None:
            tls = dataclasses.replace(tls)  # each exchange gets its own copy, as before
        front = self.sb.dataplane.ingress
        reply, ex = front.serve(conn, request.method, target, version, Headers(raw), body, tls)
        front.remember(ex, reply)
        if ex.delay > 0:
            await asyncio.sleep(ex.delay)  # a rate limiter held the request for its token
        headers = CIMultiDict((k, v) for k, v in reply.headers.items()
                              if k not in ("Content-Length", "Transfer-Encoding", "Connection"))
        if request.method == "HEAD" and reply.headers.get("Content-Length"):
            headers["Content-Length"] = reply.headers.get("Content-Length")  # what a GET would send
            resp = web.Response(status=reply.status, headers=headers)
        else:
            resp = web.Response(status=reply.status, body=reply.body, headers=headers)
        if reply.headers.get("Connection").lower() == "close":
            resp.force_close()
        return resp


def _tls_info(base: TlsInfo | None, request: BaseRequest) -> TlsInfo | None:
    """The connection's TLS facts: SNI and options chosen before the handshake, then version, cipher, client cert."""
    if base is None:
        return None
    info = TlsInfo(base.sni, base.options)
    sslobj = request.transport.get_extra_info("ssl_object") if request.transport else None
    if sslobj is not None:
        info.version = sslobj.version() or ""
        info.cipher = (sslobj.cipher() or ("",))[0]
        peer = sslobj.getpeercert()
        if peer:
            info.peer_subject = ",".join("=".join(x) for rdn in peer.get("subject", ()) for x in rdn)
    return info


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then half-close, as a TCP proxy does; a reset ends both ways."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


def _reset(sock: socket.socket) -> None:
    """Close with an RST, as a connection kube-proxy REJECTs (no Traefik endpoint) looks to the client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
