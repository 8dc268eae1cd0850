"""The pod-network bridge: how a real program the sandbox runs (Traefik) reaches pod and Service addresses.

Pod IPs exist only inside the emulated data plane, so a real component is started with
``HTTP_PROXY``/``HTTPS_PROXY`` set to a SOCKS5 URL on 127.0.0.1. Go's ``http.ProxyFromEnvironment`` hands
every backend dial to the proxy with the exact address (``CONNECT 10.244.1.3:5678``), and the bridge opens
that connection through the data plane *from the component's pod*: kube-proxy (a ClusterIP), NetworkPolicy
(the component's pod is the source), the emulated server. Then :mod:`.relay` carries the bytes: each HTTP/1.x
request the component writes is answered by the pod's program, on the same data-plane connection while the
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
import hmac
import ipaddress
import logging
import secrets
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .model import Connection, NetError, Refused, Timeout
from .relay import Relay

if TYPE_CHECKING:
    from . import DataPlane

log = logging.getLogger("k8snet.sandbox.bridge")
Pod = dict[str, Any]

USER = "k8snet"

# RFC 1928 section 6: reply codes
SUCCEEDED, GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE, REFUSED, COMMAND_NOT_SUPPORTED = 0, 1, 2, 4, 5, 7
ADDRESS_NOT_SUPPORTED = 8


class Bridge:
    """A SOCKS5 endpoint on 127.0.0.1 that opens data-plane connections from a component's pod.

    Each connection is a protocol object, not a task: the handshake is parsed from what has arrived, then the
    transport goes to a :class:`.relay.Relay`, which answers each request in the callback that brought it.
    Traefik keeps its connections alive, so the relay's cost is the per-request cost of every request through
    the edge; the handshake's and the data plane's decisions are paid once per connection.

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
        self._open: set[_Socks | Relay] = set()
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
    authentication, then CONNECT; on success the transport is handed to a :class:`Relay`."""

    def __init__(self, bridge: Bridge):
        self.bridge = bridge
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.step: Callable[[], bool] | None = self._greeting
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

    def _next(self, reply: bytes, step: Callable[[], bool]) -> bool:
        """The message was accepted: the reply, then wait for the next one."""
        assert self.transport is not None
        self.transport.write(reply)
        self.step = step
        return True

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
        return self._next(b"\x05\x02", self._authenticate)

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
        return self._next(b"\x01\x00", self._request)

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
            relay = Relay(self.bridge.dataplane, conn, self.bridge._open)
            self.transport.set_protocol(relay)
            relay.connection_made(self.transport)
            if self.buffer:  # the component wrote its request right behind the CONNECT
                relay.data_received(bytes(self.buffer))
        return False


def _reply(code: int) -> bytes:
    """A SOCKS5 reply (RFC 1928 section 6) with an all-zero bound address."""
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])
