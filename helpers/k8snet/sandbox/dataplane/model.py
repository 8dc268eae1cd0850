"""The data plane's shared vocabulary: connections, HTTP messages, exec results and trace hops.

Every module of the data plane speaks these types, so DNS, kube-proxy, the
policy engine, the emulated workloads and the exec'd commands fit together,
and every decision can be reported as a :class:`Hop` of a trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

Obj = dict[str, Any]


@dataclass
class Hop:
    """One decision on a request's way, as ``k8snet.trace()`` draws it.

    ``kind`` is one of: ``dns``, ``service``, ``endpoint``, ``policy``,
    ``pod``, ``ingress``, ``mesh`` (a ztunnel's step), ``authz`` (Istio's
    authorization at a ztunnel), ``cilium`` (a Cilium cluster's policy verdict, and its Envoy proxy's L7 check of
    a request), ``nat`` (a masquerade on the way out of the cluster), ``outside`` (a host of the emulated outside
    world answered), ``error``. ``detail`` holds machine-readable facts
    (the chosen endpoint, the reason: ``random``, ``affinity``,
    ``traffic-policy``; the rule that allowed; …).
    """

    kind: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "detail": self.detail}


class NetError(Exception):
    """A connection that failed, worded as agnhost connect reports it (TIMEOUT, REFUSED, DNS, OTHER)."""

    code = "OTHER"

    def __init__(self, message: str, hops: list[Hop] | None = None):
        super().__init__(message)
        self.message = message
        self.hops = hops or []


class Timeout(NetError):
    """No answer: a NetworkPolicy drop, an unreachable address, a port nothing routes."""

    code = "TIMEOUT"


class Refused(NetError):
    """An RST: nothing listens on the port, or a Service has no ready endpoints."""

    code = "REFUSED"


class DnsError(NetError):
    """The name did not resolve (NXDOMAIN)."""

    code = "DNS"


CAN_WAIT: contextvars.ContextVar[bool] = contextvars.ContextVar("can_wait", default=False)
"""Set while a caller that can wait for another process opens a connection (a command's generator, which yields
until the answer comes): a connect that another member of a cluster set decides is then :class:`Deferred`
instead of holding this process's loop while that member answers."""


class Deferred(Exception):
    """A connect whose verdict another process gives (a pod of another cluster): ``answer`` is the future of that
    process's answer, ``finish(answer)`` the Connection it makes (or the NetError it raises)."""

    def __init__(self, answer: asyncio.Future[Any], finish: Callable[[Any], Connection]):
        super().__init__("the connect waits for another process's answer")
        self.answer = answer
        self.finish = finish

    def then(self, opened: Callable[[Connection], Connection], failed: Callable[[NetError], None]) -> Deferred:
        """The same wait, with what the caller does once the connection opened or failed."""
        finish = self.finish

        def done(answer: Any) -> Connection:
            try:
                conn = finish(answer)
            except NetError as exc:
                failed(exc)
                raise
            return opened(conn)

        return Deferred(self.answer, done)


@dataclass
class Connection:
    """An established connection from a source pod to a destination pod's port.

    ``client_ip``/``client_port`` are what the server sees (kube-proxy's SNAT
    rules decide; in iptables mode a pod-to-ClusterIP connection keeps the pod
    IP). ``hops`` is the decision trace.
    """

    src_pod: Obj | None
    dst_pod: Obj
    dst_ip: str
    port: int
    protocol: str
    client_ip: str
    client_port: int
    hops: list[Hop] = field(default_factory=list)
    service: Obj | None = None
    source_ip: str = ""  # the client's own address, before any SNAT
    dialed: tuple[str, int] = ("", 0)  # the address and port the client connected to (a ClusterIP, a pod)
    mesh: Any = None
    """How the ambient mesh carried it (``dataplane.mesh.Tunnel``): HBONE or plaintext through ztunnel, the peer
    identities, and the reset a ztunnel ends it with; None outside the mesh."""
    remote: Any = None
    """How it crosses to another cluster of a Cilium Cluster Mesh (``clustermesh.Link``); None inside the cluster."""

    @property
    def reset(self) -> str:
        """Why the connection is reset at its first read ('' when it is not): a ztunnel closed it after accepting."""
        return self.mesh.reset if self.mesh is not None else ""


@functools.lru_cache(maxsize=16)
def http_date(t: datetime) -> str:
    """An RFC 7231 date (``Wed, 25 Nov 2026 04:00:00 GMT``), as Date and Last-Modified carry it (the few most recent
    kept: every answer of the same second carries the same Date)."""
    return email.utils.formatdate(t.replace(tzinfo=UTC).timestamp(), usegmt=True)


REASONS = {status.value: status.phrase for status in HTTPStatus}
"""Status code → reason phrase, as Python's ``http.HTTPStatus`` names them (a response line's reason)."""


@dataclass
class HttpRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    host: str = ""
    scheme: str = "http"
    tls: Any = None  # the TLS session it came on (tls.Handshake: protocol, cipher, the client's certificate)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    served_by: str = ""  # the pod name that answered
    hops: list[Hop] = field(default_factory=list)
    delay: float = 0.0  # seconds the server took before answering (a client waits them on the sandbox clock)
    pending: Any = None
    """A real component answers (status PENDING): an asyncio Future of the HttpResponse it sent."""
    blocking: Any = None
    """For a PENDING answer a caller that cannot wait may still fetch in place (another cluster's member, which
    answers at once): a function returning the HttpResponse, called instead of the not yet started Future."""

    def wire(self) -> bytes:
        """The response as it leaves the server on the connection: status line, headers, body (a raw reply,
        status 0, is just its bytes)."""
        if self.status <= 0:
            return self.body
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, '')}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        if "Content-Length" not in self.headers and not any(k.lower() == "content-length" for k in self.headers):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def go_response(now: datetime, status: int, body: bytes, extra: dict[str, str] | None = None,
                content_type: str | None = None) -> HttpResponse:
    """A net/http server response: sniffed Content-Type, Content-Length, Date (headers sorted as Go writes them)."""
    headers = dict(extra or {})
    if body and content_type is None:
        content_type = "text/html; charset=utf-8" if body.lstrip()[:1] == b"<" else "text/plain; charset=utf-8"
    if content_type:
        headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Date"] = http_date(now)
    return HttpResponse(status, dict(sorted(headers.items())), body)


@dataclass
class ExecResult:
    """What an exec'd command wrote and how it exited."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


RAW_REPLY = 0
"""HttpResponse.status of a server that answers bytes without an HTTP status line (HTTP/0.9 to curl)."""
EMPTY_REPLY = -1
"""HttpResponse.status of a server that closes the connection without answering."""
PENDING = -2
"""HttpResponse.status while a real component's answer is on its way (``HttpResponse.pending``)."""
RESET = -3
"""HttpResponse.status of a connection the peer reset before answering (curl: "Recv failure: Connection reset by
peer", exit 56)."""
TLS_ALERT = -4
"""HttpResponse.status of a TLS session the server ended with an alert after the handshake (a TLS 1.3 server
refusing the client's certificate); the body is OpenSSL's error string (curl: "OpenSSL SSL_read: …", exit 56)."""


async def answer_of(response: HttpResponse) -> HttpResponse:
    """Wait for a real component's answer (a broken connection reads as an empty reply)."""
    try:
        answer: HttpResponse = await response.pending
    except (OSError, EOFError, ValueError, TimeoutError):
        return HttpResponse(EMPTY_REPLY, served_by=response.served_by)
    answer.served_by = response.served_by
    return answer


def settled(response: HttpResponse) -> HttpResponse:
    """The answer as a caller that cannot wait sees it: a real component's, if it has come; else an empty reply."""
    if response.status != PENDING:
        return response
    if response.pending.done() and not response.pending.cancelled() and response.pending.exception() is None:
        return response.pending.result()
    response.pending.cancel()
    if response.blocking is not None:
        answer: HttpResponse = response.blocking()
        answer.served_by = answer.served_by or response.served_by
        return answer
    return HttpResponse(EMPTY_REPLY, served_by=response.served_by)


@dataclass
class Program:
    """What one container runs: the program's name, its ports, its options and startup log."""

    name: str  # netexec, serve-hostname, pause, http-echo, nginx, coredns, idle, exited, unknown
    family: str | None
    ports: dict[tuple[int, str], str] = field(default_factory=dict)  # (port, protocol) -> http|udp|raw|dns
    opts: dict[str, Any] = field(default_factory=dict)
    startup: list[str] = field(default_factory=list)  # log lines; "{go}" is replaced by the Go log timestamp
    setup: str = ""  # shell commands the container's script runs before the program (sh -c "touch …; exec …")
    problem: str = ""  # why it serves nothing (exited, not emulated)
    sigterm_exit: int = 0  # the exit code the program ends with when the kubelet stops it
    sigterm_after: float | None = 0.0  # seconds it keeps running after SIGTERM (None: it never exits on it)
    sigterm_log: list[str] = field(default_factory=list)  # what it logs on SIGTERM ("{go}" as in startup)


def net_error_line(exc: NetError) -> str:
    """agnhost connect's stderr line for a failed connection: ``TIMEOUT``, ``REFUSED``, ``DNS: …``, ``OTHER: …``."""
    if exc.code in ("TIMEOUT", "REFUSED"):
        return exc.code
    return f"{exc.code}: {exc.message}"
