"""``pods/portforward``: ``kubectl port-forward`` to a pod's port (pod/…, svc/…, deploy/… all end at a pod).

kubectl 1.31+ opens a WebSocket with the subprotocol ``SPDY/3.1+portforward.k8s.io`` and speaks SPDY inside
it (client-go tools/portforward/tunneling_dialer.go). Each local connection becomes two SPDY streams with the
headers ``streamType`` (``error`` or ``data``), ``port`` and ``requestID`` (kubelet's portforward
httpstream.go); the bytes of the data stream reach the port inside the pod's network namespace, as the
runtime's port forwarder connects to ``localhost:PORT`` there, so no NetworkPolicy applies. The emulated
servers answer HTTP, so the relay reads whole HTTP/1.x requests off the stream and writes each answer back
as it would leave the server. A port nothing listens on gets the kubelet's error on the error stream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import errors
from .dataplane.http1 import BadRequest, read_request
from .dataplane.model import PENDING, NetError, answer_of
from .podsub import require_node
from .spdy import PING, RST_STREAM, SYN_STREAM, Codec, Frame, SpdyError

if TYPE_CHECKING:
    from .instance import Sandbox
    from .registry import ResourceType

log = logging.getLogger("k8snet.sandbox.portforward")
Pod = dict[str, Any]
PROTOCOL = "SPDY/3.1+portforward.k8s.io"
REQUEST_LIMIT = 16 << 20
"""Bytes a forwarded connection may send before its request is whole (a larger upload is refused)."""


@dataclass
class Forward:
    """One forwarded connection: its error and data streams and what has arrived on the data stream."""

    port: int
    error: int = 0
    data: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    closed: bool = False


async def portforward(sb: Sandbox, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.StreamResponse:
    pod = sb.api.get(rt, ns, name)
    require_node(pod)
    if (pod.get("status") or {}).get("phase") != "Running":
        raise errors.bad_request(f"pod {name} is not running (phase {(pod.get('status') or {}).get('phase')})")
    ws = web.WebSocketResponse(protocols=[PROTOCOL], max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol != PROTOCOL:
        raise errors.bad_request("the k8snet sandbox serves port-forward as kubectl 1.31 and later speak it, SPDY "
                                 f"tunnelled in a WebSocket ({PROTOCOL}); a plain SPDY upgrade is not supported")
    await ws.prepare(request)
    session = _Session(sb, pod, ws)
    try:
        await session.run()
    except (ConnectionResetError, SpdyError) as exc:
        log.info("port-forward to %s/%s ended: %s", ns, name, exc)
    finally:
        await ws.close()
    return ws


class _Session:
    def __init__(self, sb: Sandbox, pod: Pod, ws: web.WebSocketResponse):
        self.sb, self.pod, self.ws = sb, pod, ws
        self.codec = Codec()
        self.forwards: dict[str, Forward] = {}
        self.by_stream: dict[int, Forward] = {}

    async def run(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                return
            data = msg.data.encode() if isinstance(msg.data, str) else msg.data
            for frame in self.codec.feed(data):
                await self._frame(frame)

    async def _frame(self, frame: Frame) -> None:
        if frame.kind == PING:
            await self.ws.send_bytes(self.codec.ping(frame.value))
        elif frame.kind == SYN_STREAM:
            await self._open(frame)
        elif frame.kind == RST_STREAM:
            fwd = self.by_stream.pop(frame.stream, None)
            if fwd is not None:
                fwd.closed = True
        elif frame.kind == 0:
            fwd = self.by_stream.get(frame.stream)
            if fwd is not None and frame.stream == fwd.data and not fwd.closed:
                fwd.buffer += frame.data
                await self._relay(fwd, frame.fin)

    async def _open(self, frame: Frame) -> None:
        headers = frame.headers
        await self.ws.send_bytes(self.codec.syn_reply(frame.stream))
        request_id = headers.get("requestid", "")
        port_text = headers.get("port", "")
        fwd = self.forwards.get(request_id)
        if fwd is None:
            if not port_text.isdigit():
                await self.ws.send_bytes(self.codec.rst_stream(frame.stream, 1))  # PROTOCOL_ERROR
                return
            fwd = self.forwards[request_id] = Forward(int(port_text))
        self.by_stream[frame.stream] = fwd
        if headers.get("streamtype") == "error":
            fwd.error = frame.stream
        elif headers.get("streamtype") == "data":
            fwd.data = frame.stream
            if not self.sb.dataplane.workloads.listening(self.pod, fwd.port, "TCP"):
                await self._fail(fwd, "connect: connection refused")

    async def _fail(self, fwd: Forward, why: str) -> None:
        """The kubelet's error for a port it cannot reach, on the error stream; both streams end."""
        uid = self.pod["metadata"].get("uid", "")
        message = (f"error forwarding port {fwd.port} to pod {uid}, uid : failed to connect to localhost:"
                   f"{fwd.port} inside the pod's network namespace: dial tcp4 127.0.0.1:{fwd.port}: {why}")
        if fwd.error:
            await self.ws.send_bytes(self.codec.data(fwd.error, message.encode(), fin=True))
        if fwd.data:
            await self.ws.send_bytes(self.codec.data(fwd.data, b"", fin=True))
        fwd.closed = True

    async def _relay(self, fwd: Forward, fin: bool) -> None:
        """Answer every whole HTTP request in the buffer (a stream server, ``nc -l``, gets the bytes as they
        are); when the client has finished, finish too."""
        workloads = self.sb.dataplane.workloads
        if fwd.buffer and workloads.speaks_stream(self.pod, fwd.port):
            try:
                conn = self.sb.dataplane.connect(self.pod, "127.0.0.1", fwd.port)
                answer = workloads.exchange(conn, bytes(fwd.buffer))
            except NetError as exc:
                await self._fail(fwd, str(exc))
                return
            fwd.buffer.clear()
            if answer:
                await self.ws.send_bytes(self.codec.data(fwd.data, answer))
        while True:
            try:
                parsed = read_request(fwd.buffer)
            except BadRequest:  # not HTTP: the server answers as Go's net/http does, and closes
                await self.ws.send_bytes(self.codec.data(fwd.data, b"HTTP/1.1 400 Bad Request\r\nContent-Type: "
                                                         b"text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
                                                         b"400 Bad Request", fin=True))
                fwd.closed = True
                return
            if parsed is None:
                break
            req, used = parsed
            del fwd.buffer[:used]
            try:
                conn = self.sb.dataplane.connect(self.pod, "127.0.0.1", fwd.port)
                response = self.sb.dataplane.workloads.serve_http(conn, req)
                if response.status == PENDING:  # a real component (Traefik) answers
                    response = await answer_of(response)
                answer = response.wire()
            except NetError as exc:
                await self._fail(fwd, str(exc))
                return
            await self.ws.send_bytes(self.codec.data(fwd.data, answer))
        if len(fwd.buffer) > REQUEST_LIMIT:
            await self._fail(fwd, "k8snet sandbox: the request is larger than the forwarder takes (16 MiB)")
            return
        if fin:
            await self.ws.send_bytes(self.codec.data(fwd.data, b"", fin=True))
            if fwd.error:
                await self.ws.send_bytes(self.codec.data(fwd.error, b"", fin=True))
            fwd.closed = True
