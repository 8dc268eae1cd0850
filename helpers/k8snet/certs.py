"""Certificates for the lessons: a small CA, serving certificates it issues, and TLS Secrets that hold them.

An Ingress terminates TLS with a certificate and key from a ``kubernetes.io/tls`` Secret (keys ``tls.crt``
and ``tls.key``; kubernetes.io/docs/concepts/configuration/secret/#tls-secrets). This module makes real
X.509 with the ``cryptography`` package, as ``openssl`` or cert-manager's CA issuer would, so a lesson can
show each step before cert-manager automates it. Keys are EC P-256 and never printed; what a lesson shows
(:class:`CertInfo`) is the subject, the names (SANs), the issuer and the validity in days, never dates or
serial numbers, which change from run to run.

The certificates carry the extensions strict verifiers ask for (Python 3.13's ``VERIFY_X509_STRICT``, RFC 5280):
a critical basicConstraints, keyUsage, subject and authority key identifiers, and the host names as
subjectAltName (clients ignore the CN for host names: RFC 6125 §6.4.4).

Example:
    >>> ca = certs.authority("shop CA")
    >>> leaf = ca.issue("shop.example.test")
    >>> cluster.apply(certs.tls_secret("shop-tls", leaf), namespace="shop")
    >>> leaf.describe()
    subject CN=shop.example.test · names shop.example.test · issuer CN=shop CA · valid 90 days
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from .cluster import Cluster

SKEW = dt.timedelta(minutes=5)
"""notBefore is set this far in the past, so a client whose clock is a little behind still accepts it."""


@dataclass(frozen=True)
class CertInfo:
    """What a lesson shows about a certificate: names, issuer, validity length (no dates, no serials)."""

    subject: str
    names: tuple[str, ...]
    issuer: str
    days: int
    is_ca: bool
    self_signed: bool

    def covers(self, host: str) -> bool:
        """Whether a client would accept this certificate for ``host`` (a SAN equal to it, or a one-label ``*.``)."""
        host = host.lower().rstrip(".")
        for name in self.names:
            name = name.lower()
            if name == host or (name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]):
                return True
        return False

    def rows(self) -> list[tuple[str, str]]:
        return [("subject", self.subject), ("names (SANs)", ", ".join(self.names) or "(none)"),
                ("issuer", self.issuer + (" (itself: self-signed)" if self.self_signed else "")),
                ("valid for", f"{self.days} days"), ("CA", "yes" if self.is_ca else "no")]

    def __str__(self) -> str:
        return (f"subject {self.subject} · names {', '.join(self.names) or '(none)'} · issuer {self.issuer}"
                f"{' (self-signed)' if self.self_signed else ''} · valid {self.days} days"
                f"{' · CA' if self.is_ca else ''}")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cells = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{html.escape(v)}</td>"
                        f"</tr>" for k, v in self.rows())
        return f"<table>{cells}</table>"


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, as PEM text (what ``tls.crt`` and ``tls.key`` hold)."""

    cert_pem: str
    key_pem: str

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    def describe(self) -> CertInfo:
        return describe(self.cert_pem)


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its own key pair, which signs the certificates it issues."""

    pair: KeyPair

    @property
    def pem(self) -> str:
        """The CA certificate: what a client needs to trust the certificates it issues (``--cacert``)."""
        return self.pair.cert_pem

    @property
    def name(self) -> str:
        return _cn(self.pair.cert.subject)

    def describe(self) -> CertInfo:
        return self.pair.describe()

    def issue(self, *hosts: str, days: int = 90, client: bool = False) -> KeyPair:
        """A certificate for ``hosts`` (DNS names, ``*.`` wildcards or IP addresses), signed by this CA.

        ``client=True`` makes a client certificate (extended key usage clientAuth) for mutual TLS; its
        ``hosts`` then name the client.
        """
        if not hosts:
            raise ValueError("issue() needs at least one host name: a certificate names what it is for")
        key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = self.pair.cert
        ca_key = serialization.load_pem_private_key(self.pair.key_pem.encode(), password=None)
        start = dt.datetime.now(dt.UTC) - SKEW
        builder = (x509.CertificateBuilder()
                   .subject_name(_name(hosts[0])).issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(ca=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
                                  critical=False))
        cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        return KeyPair(_pem_cert(cert), _pem_key(key))

    @classmethod
    def from_secret(cls, secret: Any) -> Authority:
        """The CA held in a ``kubernetes.io/tls`` Secret (a dict or the client's V1Secret), as cert-manager keeps one."""
        data = secret.get("data") if isinstance(secret, dict) else secret.data
        if not data or "tls.crt" not in data or "tls.key" not in data:
            raise ValueError("the Secret has no tls.crt and tls.key: a CA Secret is of type kubernetes.io/tls")
        pair = KeyPair(base64.b64decode(data["tls.crt"]).decode(), base64.b64decode(data["tls.key"]).decode())
        if not pair.describe().is_ca:
            raise ValueError(f"the certificate in the Secret ({pair.describe().subject}) is not a CA: "
                             "its basicConstraints say CA:FALSE, so it cannot sign certificates")
        return cls(pair)


def authority(name: str = "k8snet lesson CA", days: int = 365) -> Authority:
    """A new self-signed CA named ``name`` (its key stays in this Python process unless you store it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime.now(dt.UTC) - SKEW
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(KeyPair(_pem_cert(cert), _pem_key(key)))


def self_signed(*hosts: str, days: int = 90) -> KeyPair:
    """A certificate for ``hosts`` that signs itself: no CA can vouch for it, so clients must trust it one by one."""
    if not hosts:
        raise ValueError("self_signed() needs at least one host name")
    key = ec.generate_private_key(ec.SECP256R1())
    start = dt.datetime.now(dt.UTC) - SKEW
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(_name(hosts[0]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return KeyPair(_pem_cert(cert), _pem_key(key))


def tls_secret(name: str, pair: KeyPair | Authority, ca: Authority | None = None,
               namespace: str | None = None) -> dict[str, Any]:
    """A ``kubernetes.io/tls`` Secret manifest holding ``pair`` (plus ``ca.crt`` when ``ca`` is given, as
    cert-manager adds it), ready for :meth:`k8snet.Cluster.apply`."""
    if isinstance(pair, Authority):
        pair = pair.pair
    data = {"tls.crt": _b64(pair.cert_pem), "tls.key": _b64(pair.key_pem)}
    if ca is not None:
        data["ca.crt"] = _b64(ca.pem)
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "kubernetes.io/tls", "data": data}


def describe(cert: str | bytes | x509.Certificate) -> CertInfo:
    """The lesson's view of a certificate (PEM text, DER bytes or a parsed certificate)."""
    if isinstance(cert, str):
        cert = x509.load_pem_x509_certificate(cert.encode())
    elif isinstance(cert, bytes):
        cert = (x509.load_pem_x509_certificate(cert) if cert.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(cert))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple([*san.get_values_for_type(x509.DNSName),
                       *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))])
    except x509.ExtensionNotFound:
        names = ()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    length = cert.not_valid_after_utc - cert.not_valid_before_utc
    return CertInfo(subject=_dn(cert.subject), names=names, issuer=_dn(cert.issuer),
                    days=round(length.total_seconds() / 86400), is_ca=is_ca, self_signed=cert.subject == cert.issuer)


# -- cert-manager ---------------------------------------------------------------------------------------------

RENEW_REASON = "ManuallyTriggered"
RENEW_MESSAGE = "Certificate re-issuance manually triggered"


def renew(cluster: Cluster, name: str, namespace: str = "default", retries: int = 5) -> dict[str, Any]:
    """Ask cert-manager to re-issue a Certificate now, as ``cmctl renew`` does (cert-manager/cmctl
    pkg/renew/renew.go): set its ``Issuing`` condition True with reason ``ManuallyTriggered`` through the status
    subresource (UpdateStatus). The same API calls on kind and in the sandbox. Returns the updated Certificate.

    The condition's lastTransitionTime is the later of this machine's time and the latest time the cluster wrote
    on the Certificate (its managed fields), so it is right on a sandbox whose clock was advanced.

    Example:
        >>> certs.renew(cluster, "web", "shop")
        >>> cluster.get("Certificate", "web", "shop", api_version="cert-manager.io/v1")["status"]["revision"]
    """
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    api = k8s.CustomObjectsApi(cluster.api)
    for attempt in range(retries):
        crt = api.get_namespaced_custom_object("cert-manager.io", "v1", namespace, "certificates", name)
        status = crt.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        now = _cluster_now(crt)
        new = {"type": "Issuing", "status": "True", "lastTransitionTime": now, "reason": RENEW_REASON,
               "message": RENEW_MESSAGE, "observedGeneration": crt["metadata"].get("generation", 0)}
        for i, c in enumerate(conditions):
            if c.get("type") == "Issuing":
                if c.get("status") == "True" and c.get("lastTransitionTime"):  # SetCertificateCondition
                    new["lastTransitionTime"] = c["lastTransitionTime"]
                conditions[i] = new
                break
        else:
            conditions.append(new)
        try:
            return api.replace_namespaced_custom_object_status("cert-manager.io", "v1", namespace, "certificates",
                                                               name, crt)
        except ApiException as exc:
            if exc.status != 409 or attempt == retries - 1:
                raise
    raise AssertionError("unreachable")


def _cluster_now(obj: dict[str, Any]) -> str:
    times = [f.get("time") for f in obj["metadata"].get("managedFields") or [] if f.get("time")]
    local = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return max([local, *times])


# -- building blocks ----------------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else name.rfc4514_string()


def _dn(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty)"


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
