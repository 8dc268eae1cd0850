"""Client certificates: the API asks for one and authenticates it, as kube-apiserver's ``--client-ca-file`` does.

kube-apiserver asks every TLS client for a certificate without requiring one (tls.RequestClientCert) and checks
it with the x509 authenticator (k8s.io/apiserver/pkg/authentication/request/x509): the chain must lead to the
client CA (on kind the cluster CA, the one that signs ``kubernetes.io/kube-apiserver-client`` requests) and allow
client auth; the user is the subject's common name, its groups the subject's organizations, and its extra
``authentication.kubernetes.io/credential-id`` the certificate's SHA-256 (``X509SHA256=…``, since 1.32). The
authenticated group ``system:authenticated`` is added after (AuthenticatedGroupAdder). The x509 authenticator
comes before the bearer-token ones; a certificate without a common name authenticates nobody, so a token can
still do it.

Here OpenSSL checks the chain and purpose during the handshake (``CERT_OPTIONAL`` with the cluster CA); the
validity period is checked against the sandbox clock instead of OpenSSL's (``X509_V_FLAG_NO_CHECK_TIME``), so an
advanced clock expires a certificate as it expires tokens. One difference: a certificate the CA did not sign
ends the handshake, where kube-apiserver would answer 401.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from .users import ALL_AUTHENTICATED, UserInfo, extra_of

NO_CHECK_TIME = 0x200000
"""OpenSSL's X509_V_FLAG_NO_CHECK_TIME (the ssl module has no name for it)."""
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"


class CertificateRejected(Exception):
    """The x509 authenticator's error: a presented certificate that does not verify (here: outside its validity
    on the sandbox clock)."""


def server_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """The API's TLS: its serving certificate, and a client certificate asked for and verified against
    ``client_ca`` when one is sent."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=str(client_ca))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.verify_flags |= NO_CHECK_TIME
    return ctx


def authenticate(der: bytes | None, now: dt.datetime) -> UserInfo | None:
    """The user a verified client certificate names (CommonNameUserConversion), or None when there is no
    certificate or it has no common name.

    Raises:
        CertificateRejected: the certificate is not valid at ``now``.
    """
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    if now < cert.not_valid_before_utc or now > cert.not_valid_after_utc:
        raise CertificateRejected(f"x509: certificate has expired or is not yet valid: current time "
                                  f"{now:%Y-%m-%dT%H:%M:%SZ} is outside {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
                                  f"–{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")
    common = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not common or not common[-1]:
        return None
    groups = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if ALL_AUTHENTICATED not in groups:
        groups.append(ALL_AUTHENTICATED)
    return UserInfo(common[-1], tuple(groups),
                    extra=extra_of({CREDENTIAL_ID: ["X509SHA256=" + hashlib.sha256(der).hexdigest()]}))
