"""One request through the edge, as curl sends it: a fresh TCP connection, TLS with SNI, one HTTP/1.1 exchange.

Python's ``socket``/``ssl``/``http.client`` do the work; nothing here knows the backend. What the handshake
established (version, cipher, the served certificate) is read back with ``cryptography``, so it is known even
when the certificate was not verified (``verify=False``, like ``curl -k``).
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from ..certs import reader

BODY_LIMIT = 4096
"""Characters of a body kept per request (the rest is cut, and the row says so)."""

Pem = str | bytes | os.PathLike[str]
"""PEM text, or the path of a PEM file."""


@dataclass
class TlsInfo:
    """What one TLS handshake established, and the certificate the edge served."""

    version: str
    cipher: str
    sni: str | None
    subject: str
    issuer: str
    sans: list[str] = field(default_factory=list)
    not_before: datetime | None = None
    not_after: datetime | None = None

    @property
    def common_name(self) -> str:
        return _cn(self.subject)


@dataclass
class Raw:
    """What came back on one connection: an answer, or the error that stopped it."""

    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None
    tls: TlsInfo | None = None
    elapsed: float = 0.0


def _pem_or_path(value: Pem) -> tuple[str | None, str | None]:
    """(PEM text, path): PEM text is recognised by its armour, anything else is a file name."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and "-----BEGIN" in value:
        return value, None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (pass PEM text or the path of a PEM file)")
    return None, str(path)


def tls_context(verify: bool = True, cacert: Pem | None = None, client_cert: tuple[Pem, Pem] | None = None
                ) -> ssl.SSLContext:
    """A client context: verify against ``cacert`` (or the system's CAs), or not at all; an optional client cert."""
    ctx = ssl.create_default_context()
    if cacert is not None:
        text, path = _pem_or_path(cacert)
        ctx = ssl.create_default_context(cadata=text) if text else ssl.create_default_context(cafile=path)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        cert, key = client_cert
        (cert_text, cert_path), (key_text, key_path) = _pem_or_path(cert), _pem_or_path(key)
        with tempfile.TemporaryDirectory(prefix="k8snet-mtls-") as tmp:
            if cert_text is not None:
                cert_path = os.path.join(tmp, "client.crt")
                Path(cert_path).write_text(cert_text)
            if key_text is not None:
                key_path = os.path.join(tmp, "client.key")
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(key_text)
            ctx.load_cert_chain(cert_path, key_path)  # type: ignore[arg-type]
    return ctx


def _cn(rfc4514: str) -> str:
    for part in rfc4514.split(","):
        if part.startswith("CN="):
            return part[3:]
    return ""


@lru_cache(maxsize=64)
def tls_info(sock: ssl.SSLSocket, sni: str | None) -> TlsInfo:
    der = sock.getpeercert(binary_form=True)
    info = TlsInfo(sock.version() or "", (sock.cipher() or ("",))[0], sni, "", "")
    if der:
        cert = reader.read(der)
        info.subject, info.issuer, info.sans = cert.subject, cert.issuer, list(cert.names)
        info.not_before, info.not_after = cert.not_before, cert.not_after
    return info


def is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    except OSError:
        return False


def describe(exc: BaseException, address: str, port: int, timeout: float) -> str:
    """A short, curl-like account of why a request got no answer."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: certificate verify failed: {exc.verify_message} (pass cacert= with the issuing CA, or "
                "verify=False as curl -k does)")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        return f"TLS handshake failed: {reason.lower().replace('_', ' ')}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused: nothing listens on {address}:{port}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, http.client.RemoteDisconnected | http.client.IncompleteRead | EOFError):
        return "empty reply from server (the connection closed without an answer)"
    if isinstance(exc, http.client.HTTPException):
        return f"malformed answer: {type(exc).__name__} {exc}"
    return f"{type(exc).__name__}: {exc}"


def request_once(address: str, port: int, *, target: str, headers: list[tuple[str, str]], method: str = "GET",
                 body: bytes | None = None, ctx: ssl.SSLContext | None = None, sni: str | None = None,
                 timeout: float = 10.0) -> Raw:
    """One exchange on a fresh connection to ``address:port``; ``ctx`` set means TLS with ``sni``."""
    out = Raw()
    t0 = time.perf_counter()
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ctx is not None:
            sock = ctx.wrap_socket(sock, server_hostname=sni)  # an IP address is checked, not sent as SNI
            out.tls = tls_info(sock, None if sni is None or is_ip(sni) else sni)  # type: ignore[arg-type]
        lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
            pass  # a server may answer (413) and close before a large body is sent: read its answer, as curl does
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        out.status, out.reason = resp.status, resp.reason
        merged: dict[str, str] = {}
        for key, value in resp.getheaders():
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        out.headers = merged
        out.body = resp.read()
    except (OSError, http.client.HTTPException, EOFError) as exc:  # with a status: the body did not come whole
        out.error = describe(exc, address, port, timeout)
    finally:
        if sock is not None:
            sock.close()
        out.elapsed = time.perf_counter() - t0
    return out
