"""Certificates in the workbook: make them (a small CA and what it issues), and read them wherever they are.

- :mod:`.pki`: a CA, serving and client certificates it issues, self-signed certificates, TLS Secret manifests;
- :mod:`.reader`: every fact about a certificate, a chain, or the certificates a ``kubernetes.io/tls`` Secret
  holds — the one reader the lessons, ``ingress.certificate`` and the edge's requests share;
- :mod:`.manager`: cert-manager as ``cmctl`` drives it (``renew``);
- :mod:`.timeline`: a namespace's certificates over time, renewals included (:class:`Timeline`);
- :mod:`.handshakes`: who gets through to which TLS server, and why not (``handshakes.matrix``).

Example:
    >>> ca = certs.authority("shop CA")
    >>> leaf = ca.issue("shop.example.test")
    >>> cluster.apply(certs.tls_secret("shop-tls", leaf), namespace="shop")
    >>> leaf.describe()
    subject CN=shop.example.test · names shop.example.test · issuer CN=shop CA · valid 90 days
    >>> certs.secret(cluster.get("Secret", "shop-tls", "shop")).leaf.serial
    '5b:0e:…'
"""

from __future__ import annotations

from . import handshakes
from .manager import renew
from .pki import SKEW, Authority, KeyPair, authority, self_signed, tls_secret
from .reader import Cert, SecretCerts, chain, read, secret
from .timeline import Timeline

describe = read
"""The lesson's view of a certificate (PEM text, DER bytes or a parsed certificate): :func:`.reader.read`."""

__all__ = ["SKEW", "Authority", "Cert", "KeyPair", "SecretCerts", "Timeline", "handshakes", "authority", "chain", "describe", "read", "renew",
           "secret", "self_signed", "tls_secret"]
