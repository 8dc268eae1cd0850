"""One HTTP exchange inside the emulated Traefik: the request its handlers read and rewrite, and the reply.

Headers behave as Go's ``http.Header`` (canonical keys, several values per key), because Traefik's
middlewares and the access log are written against it; replies Traefik writes itself look as Go's
``http.Error`` and ``http.NotFoundHandler`` write them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..model import Hop

_CANONICAL: dict[str, str] = {}
"""canonical_key's answers: every header of every request goes through it (the edge's hottest function)."""


def canonical_key(key: str) -> str:
    """textproto.CanonicalMIMEHeaderKey: ``x-forwarded-for`` → ``X-Forwarded-For`` (only for token keys)."""
    known = _CANONICAL.get(key)
    if known is not None:
        return known
    if not key or any(not (c.isalnum() or c in "-!#$%&'*+.^_`|~") for c in key):
        out = key
    else:
        out = "-".join(p[:1].upper() + p[1:].lower() for p in key.split("-"))
    if len(_CANONICAL) >= 4096:  # clients choose header names: keep the cache bounded
        _CANONICAL.clear()
    _CANONICAL[key] = out
    return out


class Headers:
    """A multi-valued header map with canonical keys, in insertion order."""

    def __init__(self, items: Any = None):
        self._map: dict[str, list[str]] = {}
        for key, value in (items.items() if isinstance(items, dict) else items or []):
            self.add(key, value)

    def add(self, key: str, value: str) -> None:
        self._map.setdefault(canonical_key(key), []).append(value)

    def set(self, key: str, value: str) -> None:
        self._map[canonical_key(key)] = [value]

    def get(self, key: str, default: str = "") -> str:
        values = self._map.get(canonical_key(key))
        return values[0] if values else default

    def values(self, key: str) -> list[str]:
        return list(self._map.get(canonical_key(key), []))

    def delete(self, key: str) -> None:
        self._map.pop(canonical_key(key), None)

    def __contains__(self, key: str) -> bool:
        return canonical_key(key) in self._map

    def keys(self) -> list[str]:
        return list(self._map)

    def items(self) -> Iterator[tuple[str, str]]:
        """Every (key, value) pair, a key with several values giving several pairs."""
        for key, values in self._map.items():
            for value in values:
                yield key, value

    def raw(self) -> dict[str, list[str]]:
        return self._map

    def copy(self) -> Headers:
        out = Headers()
        out._map = {k: list(v) for k, v in self._map.items()}
        return out

    def as_dict(self) -> dict[str, str]:
        """One value per key (folded with ``, `` as HTTP allows), for the emulated workloads."""
        return {k: ", ".join(v) for k, v in self._map.items()}

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


@dataclass
class TlsInfo:
    """What the TLS handshake established on the client's connection."""

    sni: str
    options: str  # the TLS options name the connection was handshaken with ("default" or "<ns>-<name>@kubernetescrd")
    version: str = ""
    cipher: str = ""
    peer_subject: str | None = None  # the verified client certificate's subject, when one was sent


@dataclass
class Exchange:
    """A request as Traefik's handler chain sees it (``*http.Request``), plus the trace and access-log data."""

    method: str
    path: str  # the escaped path, sanitized by the entrypoint
    query: str  # the raw query, without "?"
    host: str  # req.Host (the Host header, with its port)
    headers: Headers
    body: bytes
    entrypoint: str
    remote_ip: str  # req.RemoteAddr as Traefik sees it (after kube-proxy's NAT)
    remote_port: int
    proto: str = "HTTP/1.1"
    tls: TlsInfo | None = None
    request_uri: str = ""  # what the client sent on the request line (the access log's path)
    hops: list[Hop] = field(default_factory=list)
    delay: float = 0.0  # seconds a rate limiter held the request (the edge really waits)
    router: str = ""  # the matched router (access log RouterName)
    service_url: str = ""  # the server the load balancer chose (access log ServiceURL)
    username: str = ""  # basicAuth's user (access log ClientUsername)
    pod: dict[str, Any] | None = None  # the Traefik pod handling it: the source of its backend connections
    start: Any = None  # the sandbox time the exchange began (a datetime; the access log's and recent's time)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def uri(self) -> str:
        """RequestURI: the escaped path and the query."""
        return self.path + (f"?{self.query}" if self.query else "")

    def hop(self, summary: str, **detail: Any) -> None:
        self.hops.append(Hop("ingress", summary, detail))


@dataclass
class Reply:
    """A response on its way back through the handlers; ``source`` says who wrote it."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    source: str = "traefik"  # "traefik", or the pod that answered


Handler = Callable[[Exchange], Reply]


def http_error(status: int, text: str) -> Reply:
    """Go's ``http.Error``: the text and a newline, text/plain, nosniff."""
    return Reply(status, Headers({"Content-Type": "text/plain; charset=utf-8",
                                  "X-Content-Type-Options": "nosniff"}), (text + "\n").encode())


def status_only(status: int, text: str | None = None) -> Reply:
    """``rw.WriteHeader(code); rw.Write(StatusText)``: the reason phrase without a newline, sniffed text/plain."""
    import http

    body = (text if text is not None else http.HTTPStatus(status).phrase).encode()
    headers = Headers({"Content-Type": "text/plain; charset=utf-8"}) if body else Headers()
    return Reply(status, headers, body)


def not_found() -> Reply:
    """http.NotFoundHandler: ``404 page not found``."""
    return http_error(404, "404 page not found")
