"""Real TLS between emulated programs: OpenSSL handshakes in memory, with the contexts the programs configure.

An emulated client (curl, wget) and an emulated server (nginx with ``ssl_certificate``, agnhost netexec with
``--tls-cert-file``) do a real handshake through Python's ``ssl`` module over memory BIOs: the certificates,
the verification and the alerts are OpenSSL's own, only the bytes never touch a socket. Server contexts are
built once per certificate and key (the PEMs' hash) and kept while they are in use.

Client certificates come two ways, as the real servers ask for them:

- a server that *requires and verifies* one (Go's ``tls.RequireAndVerifyClientCert``, as Traefik's TLSOption
  sets it) fails the handshake with OpenSSL's alert (``tlsv13 alert certificate required``, ``unknown ca``);
- nginx's ``ssl_verify_client`` (src/event/ngx_event_openssl.c ``ngx_ssl_client_certificate``) asks with
  ``SSL_VERIFY_PEER`` and a verify callback that accepts everything, so the handshake always completes and
  the result is judged per request (``SSL_get_verify_result``). Python's ``ssl`` has no verify callback, nor
  nginx's ``SSL_MODE_NO_AUTO_CHAIN`` (without it OpenSSL would send the client CAs with the server's
  certificate): the session is played with a context that does not ask, and the client's certificate and key
  are judged by a second handshake with one that does, OpenSSL's verdict (code and text) kept as
  :attr:`Handshake.client_verify`. Times are checked on the sandbox clock, not the host's (OpenSSL's own time
  check is switched off with ``X509_V_FLAG_NO_CHECK_TIME``), so a lesson that advances the clock expires
  certificates. A real client (through the pod-network bridge) meets the asking context itself: a certificate
  OpenSSL refuses fails its handshake there, and the CA comes with the server's chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_CONTEXTS: dict[str, ssl.SSLContext] = {}
_CONTEXT_LIMIT = 256

X509_V_FLAG_NO_CHECK_TIME = 0x200000
"""include/openssl/x509_vfy.h: verification skips the validity periods (the sandbox clock judges them)."""
X509_V_OK = (0, "ok")
NOT_YET_VALID = (9, "certificate is not yet valid")
EXPIRED = (10, "certificate has expired")
CHAIN_TOO_LONG = (22, "certificate chain too long")
"""X509_V_ERR_CERT_NOT_YET_VALID, _CERT_HAS_EXPIRED, _CERT_CHAIN_TOO_LONG and X509_verify_cert_error_string."""

SSL_REASONS = {
    # include/openssl/sslerr.h: the SSL library's reason codes the sandbox's handshakes end with
    "CERTIFICATE_VERIFY_FAILED": 0x86, "NO_SHARED_CIPHER": 0xC1, "WRONG_VERSION_NUMBER": 0x10B,
    "UNEXPECTED_EOF_WHILE_READING": 0x126, "SSLV3_ALERT_HANDSHAKE_FAILURE": 0x410,
    "SSLV3_ALERT_BAD_CERTIFICATE": 0x412, "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": 0x413,
    "SSLV3_ALERT_CERTIFICATE_REVOKED": 0x414, "SSLV3_ALERT_CERTIFICATE_EXPIRED": 0x415,
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": 0x416, "TLSV1_ALERT_UNKNOWN_CA": 0x418, "TLSV1_ALERT_ACCESS_DENIED": 0x419,
    "TLSV1_ALERT_DECRYPT_ERROR": 0x41B, "TLSV1_ALERT_PROTOCOL_VERSION": 0x42E, "TLSV1_ALERT_INTERNAL_ERROR": 0x438,
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": 0x45C,
}


class TlsLoadError(ValueError):
    """A certificate or key that OpenSSL refuses; ``what`` is ``certificate``, ``key`` or ``mismatch``."""

    def __init__(self, what: str, openssl: str):
        super().__init__(openssl)
        self.what = what
        self.openssl = openssl


@dataclass(frozen=True)
class ClientAuth:
    """How a server that asks for client certificates without failing the handshake judges them (nginx's
    ``ssl_verify_client``): the trusted CAs' certificates (DER), the verify depth, and ``lenient``, the same
    server's context without the request, which completes a session whose certificate OpenSSL refused."""

    anchors: tuple[bytes, ...]
    depth: int
    lenient: ssl.SSLContext


def server_context(cert_pem: bytes, key_pem: bytes, client_ca: bytes = b"",
                   request_client: tuple[bytes, int] | None = None) -> ssl.SSLContext:
    """A server context for a certificate chain and its key.

    With ``client_ca`` it requires a client certificate those CAs sign (the handshake fails otherwise, as Go's
    ``RequireAndVerifyClientCert``); with ``request_client`` (the CAs' PEM, maybe empty, and the verify depth)
    it asks for one and lets the handshake complete whatever comes, as nginx does (:class:`ClientAuth`).
    """
    ca_pem, depth = request_client or (b"", 0)
    digest = hashlib.sha256(b"\0".join([cert_pem, key_pem, client_ca, ca_pem, str(depth).encode(),
                                        b"request" if request_client else b""])).hexdigest()
    ctx = _CONTEXTS.get(digest)
    if ctx is not None:
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    load_chain(ctx, cert_pem, key_pem)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=client_ca.decode(errors="replace"))
    elif request_client is not None:
        ctx.verify_mode = ssl.CERT_OPTIONAL  # SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT, as nginx sets it
        ctx.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # type: ignore[assignment]
        anchors = pem_certificates(ca_pem)
        if anchors:
            ctx.load_verify_locations(cadata=b"".join(ssl.DER_cert_to_PEM_cert(a).encode() for a in anchors).decode())
        ctx.client_auth = ClientAuth(tuple(anchors), depth, server_context(cert_pem, key_pem))  # type: ignore[attr-defined]
    if len(_CONTEXTS) >= _CONTEXT_LIMIT:
        _CONTEXTS.clear()
    _CONTEXTS[digest] = ctx
    return ctx


def pem_certificates(pem: bytes) -> list[bytes]:
    """The certificates of a PEM bundle, as DER, in order (what ``PEM_read_bio_X509`` reads one by one)."""
    out = []
    marker, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    pos = 0
    while (start := pem.find(marker, pos)) >= 0 and (stop := pem.find(end, start)) >= 0:
        try:
            out.append(ssl.PEM_cert_to_DER_cert(pem[start:stop + len(end)].decode("ascii", "replace")))
        except ValueError:
            pass
        pos = stop + len(end)
    return out


def load_chain(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes, directory: str | None = None) -> None:
    """load_cert_chain reads files only: the PEMs go through a private file (mode 0600, in ``directory`` or the
    system's temporary one) that is gone at once."""
    if b"-----BEGIN CERTIFICATE-----" not in cert_pem:
        raise TlsLoadError("certificate", "error:0480006C:PEM routines::no start line")
    if b"PRIVATE KEY-----" not in key_pem:
        raise TlsLoadError("key", "error:1E08010C:DECODER routines::unsupported")
    fd, path = tempfile.mkstemp(prefix="k8snet-tls-", suffix=".pem", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem + b"\n" + cert_pem)
        ctx.load_cert_chain(path)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            raise TlsLoadError("mismatch", "error:05800074:x509 certificate routines::key values mismatch") from None
        raise TlsLoadError("certificate", f"error:0A00018F:SSL routines::{exc.reason or exc}") from None
    finally:
        os.unlink(path)


def client_context(cafile_pem: bytes | None, verify: bool, cert_pem: bytes = b"",
                   key_pem: bytes = b"") -> ssl.SSLContext:
    """A client's context: its trusted CAs (None: none the sandbox's servers use), verification on or off,
    and an optional client certificate. Host names and validity periods are checked by the client itself
    (:func:`check_host`), as curl checks names."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    # OpenSSL would judge validity periods on this machine's time; the client judges them on the sandbox clock
    # (check_host), which a lesson may have moved ahead: a certificate issued then must not be "not yet valid".
    ctx.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # type: ignore[assignment]
    ctx.set_alpn_protocols(["http/1.1"])
    if cafile_pem:
        ctx.load_verify_locations(cadata=cafile_pem.decode(errors="replace"))
    if cert_pem:
        load_chain(ctx, cert_pem, key_pem or cert_pem)
    return ctx


@dataclass
class Handshake:
    """How a handshake ended: the protocol and cipher, the server's certificate (DER), or the error; and the
    client's certificate as the server got it, with the server's verdict on it."""

    ok: bool
    version: str = ""
    cipher: str = ""
    peer_chain: list[bytes] = field(default_factory=list)
    verify_code: int = 0  # the client's verification of the server's certificate failed (curl's exit 60)
    verify_message: str = ""
    error: str = ""  # OpenSSL's reason text when the handshake failed otherwise (an alert, no shared cipher)
    error_string: str = ""  # the same as ERR_error_string_n writes it: error:0A00045C:SSL routines::…
    failed_side: str = ""  # "client" or "server"
    client_cert: bytes | None = None  # the certificate the client sent (DER), when the server asked for one
    client_verify: tuple[int, str] = X509_V_OK  # the server's verification of it (SSL_get_verify_result)
    channel: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    """The live session with a real server (:class:`Remote`): the request travels on it."""

    def close(self) -> None:
        """Let go of a real server's session the client will not use (curl refused the name)."""
        if self.channel is not None:
            self.channel[1].close()
            self.channel = None


@dataclass(frozen=True)
class Remote:
    """A TLS server that is a real process beside the sandbox (the Traefik binary holds its own certificates):
    ``open(client_context, sni)`` starts the client's handshake with it over a socket (:func:`handshake_with`)
    and the request then travels on that session (:attr:`Handshake.channel`)."""

    open: Callable[[ssl.SSLContext, str], asyncio.Future[Handshake]]


async def handshake_with(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client: ssl.SSLContext,
                         sni: str) -> Handshake:
    """The client's handshake with a real server on an open connection: OpenSSL's verdicts as :func:`handshake`
    gives them. An alert during the handshake (a protocol version or cipher the server refuses) fails it on the
    client's side; a TLS 1.3 server's refusal of the client's certificate arrives later, with the first read."""
    try:
        await writer.start_tls(client, server_hostname=sni or None)
    except ssl.SSLCertVerificationError as exc:
        writer.close()
        return Handshake(False, verify_code=exc.verify_code, verify_message=exc.verify_message, error=_reason(exc),
                         error_string=error_string(exc), failed_side="client")
    except ssl.SSLError as exc:
        writer.close()
        return Handshake(False, error=_reason(exc), error_string=error_string(exc), failed_side="client")
    except OSError:  # the server closed the connection or reset it before answering the ClientHello
        writer.close()
        return Handshake(False, error="Connection reset by peer", failed_side="reset")
    obj: Any = writer.get_extra_info("ssl_object")
    cipher = obj.cipher()
    return Handshake(True, obj.version() or "", cipher[0] if cipher else "", [obj.getpeercert(binary_form=True) or b""],
                     channel=(reader, writer))


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, sni: str | None,
              offered: tuple[bytes, bytes] | None = None, now: datetime | None = None) -> Handshake:
    """Run a full handshake between the two contexts through memory BIOs. ``offered`` is the client's
    certificate (PEM, with its chain) and key and ``now`` the sandbox time, for a server that judges client
    certificates itself (:class:`ClientAuth`)."""
    auth: ClientAuth | None = getattr(server, "client_auth", None)
    if auth is None:
        return _handshake(client, server, sni)
    shake = _handshake(client, auth.lenient, sni)
    sent = pem_certificates(offered[0]) if offered else []
    if not shake.ok or not sent or offered is None:
        return shake
    shake.client_cert = sent[0]
    probe = _handshake(client_context(None, False, *offered), server, sni)
    if probe.ok:
        shake.client_verify = judge(auth, sent[0], sent[1:], now)
    elif probe.client_verify != X509_V_OK:
        shake.client_verify = probe.client_verify
    return shake


def session_of(obj: ssl.SSLObject, ctx: ssl.SSLContext, now: datetime | None = None) -> Handshake:
    """The session a real client (a component through the pod-network bridge) completed with ``ctx``."""
    cipher = obj.cipher()
    shake = Handshake(True, obj.version() or "", cipher[0] if cipher else "",
                      client_cert=obj.getpeercert(binary_form=True) or None)
    auth: ClientAuth | None = getattr(ctx, "client_auth", None)
    if auth is not None and shake.client_cert:
        shake.client_verify = judge(auth, shake.client_cert, [], now)
    return shake


def judge(auth: ClientAuth, leaf: bytes, sent: list[bytes], now: datetime | None) -> tuple[int, str]:
    """What OpenSSL's verification, with time left out, did not check: the validity periods on the sandbox
    clock and the verify depth (intermediate CA certificates between the client's and a trusted one)."""
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(leaf)
        pool = [x509.load_der_x509_certificate(d) for d in [*sent, *auth.anchors]]
    except ValueError:
        return X509_V_OK
    chain = [cert]
    while chain[-1].issuer != chain[-1].subject and len(chain) < 100:
        issuer = next((c for c in pool if c.subject == chain[-1].issuer and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
    if now is not None:
        for c in chain:
            if now < c.not_valid_before_utc:
                return NOT_YET_VALID
            if now > c.not_valid_after_utc:
                return EXPIRED
    if len(chain) - 2 > auth.depth:
        return CHAIN_TOO_LONG
    return X509_V_OK


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, sni: str | None) -> Handshake:
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname=sni or None)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(16):
        for side, obj, out, peer_in in (("client", c, c_out, s_in), ("server", s, s_out, c_in)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLCertVerificationError as exc:
                    if side == "server":  # the server refused the client's certificate: the client reads an alert
                        failed = _refused(c, c_in, s_out)
                        failed.client_verify = (exc.verify_code, exc.verify_message)
                        return failed
                    return Handshake(False, verify_code=exc.verify_code, verify_message=exc.verify_message,
                                     error=_reason(exc), error_string=error_string(exc), failed_side=side)
                except ssl.SSLError as exc:
                    if side == "server":
                        return _refused(c, c_in, s_out)
                    return Handshake(False, error=_reason(exc), error_string=error_string(exc), failed_side=side)
            data = out.read()
            if data:
                peer_in.write(data)
        if all(done.values()):
            break
    else:
        return Handshake(False, error="handshake did not complete", failed_side="client")
    try:  # TLS 1.3: a server's refusal of the client's certificate arrives after the client is done
        c.write(b"\0")
        s_in.write(c_out.read())
        s.read(1)
    except ssl.SSLCertVerificationError as exc:
        failed = _refused(c, c_in, s_out)
        failed.client_verify = (exc.verify_code, exc.verify_message)
        return failed
    except ssl.SSLError:
        return _refused(c, c_in, s_out)
    cipher = c.cipher()
    return Handshake(True, c.version() or "", cipher[0] if cipher else "", [c.getpeercert(binary_form=True) or b""],
                     client_cert=s.getpeercert(binary_form=True) or None)


def _refused(c: ssl.SSLObject, c_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> Handshake:
    """The server refused: the alert it sent, as the client reads it (``tlsv13 alert certificate required``)."""
    c_in.write(s_out.read())
    try:
        c.read(1)
    except ssl.SSLError as exc:
        return Handshake(False, error=_reason(exc), error_string=error_string(exc), failed_side="server")
    return Handshake(False, error="the server closed the connection", failed_side="server")


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason text (``tlsv13 alert certificate required``) from Python's ``[SSL: X] text (_ssl.c:N)``."""
    text = str(exc)
    text = text.split("] ", 1)[-1]
    return text.rsplit(" (_ssl.c", 1)[0]


def error_string(exc: ssl.SSLError) -> str:
    """The error as OpenSSL 3's ``ERR_error_string_n`` writes it (``error:0A00010B:SSL routines::wrong version
    number``): the library (ERR_LIB_SSL, 20) shifted by 23 bits or'ed with the reason code."""
    code = SSL_REASONS.get(getattr(exc, "reason", None) or "", 0)
    return f"error:{(20 << 23) | code:08X}:SSL routines::{_reason(exc)}"


def check_host(der: bytes, host: str, now: datetime) -> str:
    """curl's checks after OpenSSL verified the chain (lib/vtls/openssl.c ossl_verifyhost): the name against
    the DNS (or IP) SANs, the subject's CN only when the certificate has no SAN of that kind; and the validity
    against the sandbox clock, which a lesson may have moved past notAfter. Returns curl's message or ""."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    if now > cert.not_valid_after_utc:
        return "SSL certificate problem: certificate has expired"
    if now < cert.not_valid_before_utc:
        return "SSL certificate problem: certificate is not yet valid"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    target = host.strip("[]").lower()
    try:
        ipaddress.ip_address(target)
        is_ip = True
    except ValueError:
        is_ip = False
    if (is_ip and ips) or (not is_ip and dns):
        if (target in ips) if is_ip else any(_host_matches(name.lower(), target) for name in dns):
            return ""
        return f"SSL: no alternative certificate subject name matches target host name '{host}'"
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        return "SSL: unable to obtain common name from peer certificate"
    cn = str(cns[-1].value)
    if (cn == target) if is_ip else _host_matches(cn.lower(), target):
        return ""
    return f"SSL: certificate subject name '{cn}' does not match target host name '{host}'"


def _host_matches(pattern: str, host: str) -> bool:
    """lib/vtls/hostcheck.c: exact, or a ``*.`` wildcard standing for exactly one leftmost label."""
    pattern, host = pattern.rstrip("."), host.rstrip(".")
    if pattern.startswith("*.") and pattern.count(".") >= 2:
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host
