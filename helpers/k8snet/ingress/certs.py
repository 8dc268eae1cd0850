"""``ingress.certificate``: the certificate the edge serves for a host name (SNI), summarised.

A TLS handshake with SNI = the host to the edge's HTTPS port, verifying nothing, shows what a client is handed:
subject, SANs, issuer, validity, the chain as sent, and whether it is Traefik's generated default certificate
(``TRAEFIK DEFAULT CERT``, SAN ``<random>.<random>.traefik.default``: pkg/tls/generate in Traefik v3.7), which
it serves when no TLS Secret covers the name. With ``cacert`` a second, verifying handshake says whether a
client trusting that CA accepts it for the host. Validity periods are judged on the cluster's clock
(``cluster.clock()``: the sandbox's, which a lesson may move ahead to renew certificates; the host's on kind), not
by OpenSSL on this machine's time, so a certificate issued on an advanced sandbox clock is not "not yet valid".
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..certs import Cert, reader
from .client import Pem, describe, is_ip, tls_context
from .edge import edge
from .result import Table
from .settle import settle

if TYPE_CHECKING:
    from ..cluster import Cluster

DEFAULT_CN = "TRAEFIK DEFAULT CERT"
X509_V_FLAG_NO_CHECK_TIME = 0x200000
"""include/openssl/x509_vfy.h: the verifying handshake leaves validity periods to :func:`_expiry` (the cluster's
clock)."""
RANDOM_DEFAULT_SAN = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{32}\.traefik\.default$")


@dataclass
class CertSummary:
    """The served certificate for one host name, and how a client would see it."""

    host: str  # the SNI the handshake sent
    certs: list[Cert]  # as served, leaf first
    tls_version: str = ""
    verified: bool | None = None  # against ``cacert`` for ``host``; None: not asked
    verify_error: str | None = None
    backend: str = ""

    @property
    def leaf(self) -> Cert:
        return self.certs[0]

    @property
    def subject(self) -> str:
        return self.leaf.subject

    @property
    def issuer(self) -> str:
        return self.leaf.issuer

    @property
    def sans(self) -> list[str]:
        return list(self.leaf.names)

    @property
    def not_before(self) -> datetime:
        return self.leaf.not_before

    @property
    def not_after(self) -> datetime:
        return self.leaf.not_after

    @property
    def key(self) -> str:
        return self.leaf.key

    @property
    def chain(self) -> list[str]:
        """The subjects as served, leaf first."""
        return [c.subject for c in self.certs]

    @property
    def common_name(self) -> str:
        return self.leaf.common_name

    @property
    def chain_length(self) -> int:
        return len(self.certs)

    @property
    def self_signed(self) -> bool:
        return self.leaf.self_signed

    @property
    def is_default(self) -> bool:
        """Traefik's generated default certificate: served when no certificate matches the SNI."""
        return self.common_name == DEFAULT_CN and any(RANDOM_DEFAULT_SAN.match(s) for s in self.sans)

    def covers(self, name: str) -> bool:
        """Whether a SAN names ``name`` (``*.`` standing for exactly one label), as clients check it."""
        return self.leaf.covers(name)

    def table(self) -> Table:
        """Field and value; dates in RFC 3339, the default certificate's random SAN shown as ``<random>``."""
        sans = ", ".join("<random>.traefik.default" if RANDOM_DEFAULT_SAN.match(s) else s for s in self.sans)
        rows = [["host (SNI)", self.host], ["subject", self.subject], ["SANs", sans or "—"],
                ["issuer", self.issuer + (" (self-signed)" if self.self_signed else "")],
                ["valid from", _rfc3339(self.not_before)], ["valid until", _rfc3339(self.not_after)],
                ["chain", f"{self.chain_length} certificate{'s' if self.chain_length != 1 else ''} served"],
                ["key", self.key], ["TLS", self.tls_version],
                ["covers the host", "yes" if self.covers(self.host) else "no"],
                ["Traefik's default certificate", "yes" if self.is_default else "no"]]
        if self.verified is not None:
            rows.append(["verifies with the CA", "yes" if self.verified else f"no: {self.verify_error}"])
        return Table(["field", "value"], rows, f"certificate served for {self.host} ({self.backend})")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _served_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server sent, leaf first (``get_unverified_chain``: public from Python 3.13)."""
    getter = getattr(sock, "get_unverified_chain", None) or getattr(getattr(sock, "_sslobj", None),
                                                                    "get_unverified_chain", None)
    chain = getter() if getter else None
    if not chain:
        leaf = sock.getpeercert(binary_form=True)
        return [leaf] if leaf else []
    return [c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]


def certificate(cluster: Cluster, host: str, port: int | None = None, cacert: Pem | None = None,
                timeout: float = 10.0) -> CertSummary:
    """The certificate the edge serves for ``host`` (SNI), on the edge's HTTPS port unless ``port`` is given.

    Example:
        >>> ingress.certificate(cluster, "shop.example.test").is_default
        False
    """
    where = edge(cluster)
    settle(cluster)  # the certificate Traefik serves once it has loaded what was applied before this call
    port = port or where.https_port
    sni = None if is_ip(host) else host
    try:
        with socket.create_connection((where.host, port), timeout=timeout) as raw, \
                tls_context(verify=False).wrap_socket(raw, server_hostname=sni) as sock:
            ders, version = _served_chain(sock), sock.version() or ""
    except OSError as exc:
        raise ConnectionError(f"no TLS handshake with {where.host}:{port} for {host}: "
                              f"{describe(exc, where.host, port, timeout)}") from None
    if not ders:
        raise ConnectionError(f"{where.host}:{port} sent no certificate for {host}")
    summary = CertSummary(host, reader.chain(ders), version, backend=cluster.backend)
    if cacert is not None:
        ctx = tls_context(True, cacert)
        ctx.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # type: ignore[assignment]
        try:
            with socket.create_connection((where.host, port), timeout=timeout) as raw, \
                    ctx.wrap_socket(raw, server_hostname=host):
                summary.verified = True
        except ssl.SSLCertVerificationError as exc:
            summary.verified, summary.verify_error = False, exc.verify_message
        except OSError as exc:
            summary.verified, summary.verify_error = False, describe(exc, where.host, port, timeout)
        if summary.verified:
            problem = _expiry(summary.certs, cluster.clock())
            if problem:
                summary.verified, summary.verify_error = False, problem
    return summary


def _expiry(certs: list[Cert], now: datetime) -> str:
    """OpenSSL's time check of a verified chain (X509_verify_cert_error_string's words), on ``now``: from the
    top of the served chain down to the leaf, as internal_verify walks it."""
    for cert in reversed(certs):
        if now < cert.not_before:
            return "certificate is not yet valid"
        if now > cert.not_after:
            return "certificate has expired"
    return ""
