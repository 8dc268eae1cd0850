"""Real TLS between emulated programs: OpenSSL handshakes in memory, with the contexts the programs configure.

An emulated client (curl, wget) and an emulated server (nginx with ``ssl_certificate``, agnhost netexec with
``--tls-cert-file``) do a real handshake through Python's ``ssl`` module over memory BIOs: the certificates,
the verification and the alerts are OpenSSL's own, only the bytes never touch a socket. Server contexts are
built once per certificate and key (the PEMs' hash) and kept while they are in use.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import datetime

_CONTEXTS: dict[str, ssl.SSLContext] = {}
_CONTEXT_LIMIT = 256


class TlsLoadError(ValueError):
    """A certificate or key that OpenSSL refuses; ``what`` is ``certificate``, ``key`` or ``mismatch``."""

    def __init__(self, what: str, openssl: str):
        super().__init__(openssl)
        self.what = what
        self.openssl = openssl


def server_context(cert_pem: bytes, key_pem: bytes, client_ca: bytes = b"") -> ssl.SSLContext:
    """A server context for a certificate chain and its key (and, with ``client_ca``, required client certs)."""
    digest = hashlib.sha256(cert_pem + b"\0" + key_pem + b"\0" + client_ca).hexdigest()
    ctx = _CONTEXTS.get(digest)
    if ctx is not None:
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_alpn_protocols(["http/1.1"])
    load_chain(ctx, cert_pem, key_pem)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=client_ca.decode(errors="replace"))
    if len(_CONTEXTS) >= _CONTEXT_LIMIT:
        _CONTEXTS.clear()
    _CONTEXTS[digest] = ctx
    return ctx


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
    and an optional client certificate. Host names are checked by the client itself, as curl does."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    if cafile_pem:
        ctx.load_verify_locations(cadata=cafile_pem.decode(errors="replace"))
    if cert_pem:
        load_chain(ctx, cert_pem, key_pem or cert_pem)
    return ctx


@dataclass
class Handshake:
    """How a handshake ended: the protocol and cipher, the server's certificate (DER), or the error."""

    ok: bool
    version: str = ""
    cipher: str = ""
    peer_chain: list[bytes] = field(default_factory=list)
    verify_code: int = 0
    verify_message: str = ""
    error: str = ""  # OpenSSL's reason when the handshake failed for another reason (an alert, no shared cipher)
    failed_side: str = ""  # "client" or "server"


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, sni: str | None) -> Handshake:
    """Run a full handshake between the two contexts through memory BIOs."""
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
                    return Handshake(False, verify_code=exc.verify_code, verify_message=exc.verify_message,
                                     error=_reason(exc), failed_side=side)
                except ssl.SSLError as exc:
                    return Handshake(False, error=_client_view(c, c_in, s_out) if side == "server" else _reason(exc),
                                     failed_side=side)
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
    except ssl.SSLError:
        return Handshake(False, error=_client_view(c, c_in, s_out), failed_side="server")
    cipher = c.cipher()
    return Handshake(True, c.version() or "", cipher[0] if cipher else "", [c.getpeercert(binary_form=True) or b""])


def _client_view(c: ssl.SSLObject, c_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> str:
    """The server refused: the alert it sent, as the client reads it (``tlsv13 alert certificate required``)."""
    c_in.write(s_out.read())
    try:
        c.read(1)
    except ssl.SSLError as exc:
        return _reason(exc)
    return "the server closed the connection"


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason text (``tlsv13 alert certificate required``) from Python's ``[SSL: X] text (_ssl.c:N)``."""
    text = str(exc)
    text = text.split("] ", 1)[-1]
    return text.rsplit(" (_ssl.c", 1)[0]


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
