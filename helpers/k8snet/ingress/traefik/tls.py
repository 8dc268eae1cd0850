"""TLS as Traefik's providers read it from the cluster: the certificates of Ingress Secrets, and TLS options.

Sources (github.com/traefik/traefik v3.7):

- certificates: pkg/provider/kubernetes/ingress/kubernetes.go ``getCertificates`` loads the ``tls.crt``/
  ``tls.key`` of every Secret named in an Ingress's ``spec.tls`` into one store (``spec.tls[].hosts`` is not
  used: "Only selects which certificate(s) should be loaded from the secret", docs routing-configuration/
  kubernetes/ingress.md), each known by its CN and SANs;
- TLS options: ``TLSOption`` (crd/kubernetes.go ``buildTLSOptions``; CAs from a Secret's ``tls.ca`` or
  ``ca.crt``) and pkg/tls/tlsmanager.go ``buildTLSConfig``'s checks (clientAuthType, min/max version); a
  router's ``router.tls.options`` names them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_OPTIONS = "default"
CLIENT_AUTH_TYPES = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert", "VerifyClientCertIfGiven",
                     "RequireAndVerifyClientCert")
VERSIONS = ("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13")


@dataclass
class Certificate:
    """A loaded certificate: PEMs, its names and where it came from."""

    cert_pem: bytes
    key_pem: bytes
    names: list[str]  # CN first, then DNS SANs, then IP SANs (lower-cased, deduplicated)
    source: str  # "<namespace>/<secret>"
    not_after: datetime | None = None


class CertError(ValueError):
    """A Secret that cannot serve as a certificate (Traefik's error text)."""


def parse_certificate(cert_pem: bytes, key_pem: bytes, source: str) -> Certificate:
    """tls.X509KeyPair plus the SAN list of parseCertificate; raises CertError on a bad pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertError(f"unable to generate TLS certificate: tls: failed to parse certificate: {exc}") from None
    leaf = certs[0]
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if leaf.public_key().public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo) != pub:
        raise CertError("unable to generate TLS certificate: tls: private key does not match public key")
    names: list[str] = []
    cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    if cn:
        names.append(cn.lower())
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for dns in san.get_values_for_type(x509.DNSName):
            if dns != cn and dns.lower() not in names:
                names.append(dns.lower())
        for ip in san.get_values_for_type(x509.IPAddress):
            if str(ip) != cn and str(ip) not in names:
                names.append(str(ip))
    except x509.ExtensionNotFound:
        pass
    return Certificate(cert_pem, key_pem, names, source, leaf.not_valid_after_utc)


def secret_certificate(secret: dict[str, Any] | None, ns: str, name: str) -> Certificate:
    """getCertificateBlocks: ``tls.crt`` and ``tls.key`` of a Secret, present and non-empty."""
    if secret is None:
        raise CertError(f"secret {ns}/{name} does not exist")
    data = secret.get("data") or {}
    missing = [k for k in ("tls.crt", "tls.key") if k not in data]
    if missing:
        raise CertError(f"secret {ns}/{name} is missing the following TLS data entries: {', '.join(missing)}")
    crt, key = base64.b64decode(data["tls.crt"]), base64.b64decode(data["tls.key"])
    empty = [k for k, v in (("tls.crt", crt), ("tls.key", key)) if not v]
    if empty:
        raise CertError(f"secret {ns}/{name} contains the following empty TLS data entries: {', '.join(empty)}")
    return parse_certificate(crt, key, f"{ns}/{name}")


@dataclass
class TLSOptions:
    """One set of TLS options (tls.Options) as built from a TLSOption, with what it cannot do here."""

    name: str
    client_auth_type: str = ""
    ca_pems: list[bytes] = field(default_factory=list)
    min_version: str = ""
    max_version: str = ""
    sni_strict: bool = False
    error: str = ""  # buildTLSConfig failed: routers using these options are not built
    notes: list[str] = field(default_factory=list)


def options_from_crd(sb: Any, obj: dict[str, Any]) -> TLSOptions:
    """buildTLSOptions for one TLSOption, then buildTLSConfig's checks."""
    meta, spec = obj["metadata"], obj.get("spec") or {}
    ns, name = meta.get("namespace", ""), meta["name"]
    opts = TLSOptions(name)
    client_auth = spec.get("clientAuth") or {}
    for secret_name in client_auth.get("secretNames") or []:
        secret = sb.store.get("secrets", ns, secret_name)
        data = (secret or {}).get("data") or {}
        if secret is None:
            opts.notes.append(f"TLSOption {ns}/{name}: Secret {ns}/{secret_name} does not exist (Traefik skips it)")
        elif "tls.ca" in data or "ca.crt" in data:
            opts.ca_pems.append(base64.b64decode(data.get("tls.ca") or data["ca.crt"]))
        else:
            opts.notes.append(f"TLSOption {ns}/{name}: secret {ns}/{secret_name} contains neither tls.ca nor ca.crt "
                              "(Traefik skips it)")
    opts.client_auth_type = str(client_auth.get("clientAuthType") or "")
    opts.min_version = str(spec.get("minVersion") or "")
    opts.max_version = str(spec.get("maxVersion") or "")
    opts.sni_strict = bool(spec.get("sniStrict"))
    kind = opts.client_auth_type
    if kind and kind not in CLIENT_AUTH_TYPES:
        opts.error = f'unknown client auth type "{kind}"'
    elif kind in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") and not opts.ca_pems:
        opts.error = f"invalid clientAuthType: {kind}, CAFiles is required"
    elif kind in ("RequestClientCert", "RequireAnyClientCert"):
        opts.error = (f"clientAuthType {kind} (ask for a certificate without verifying it) is not emulated by the "
                      "k8snet sandbox; use VerifyClientCertIfGiven or RequireAndVerifyClientCert")
        opts.notes.append(f"TLSOption {ns}/{name}: {opts.error}")
    for label, value in (("minVersion", opts.min_version), ("maxVersion", opts.max_version)):
        if value and value not in VERSIONS:
            opts.notes.append(f"TLSOption {ns}/{name}: {label} {value!r} is not a TLS version Traefik knows; ignored")
    for key in ("cipherSuites", "curvePreferences", "alpnProtocols", "disableSessionTickets",
                "preferServerCipherSuites"):
        if spec.get(key) not in (None, [], False):
            opts.notes.append(f"TLSOption {ns}/{name}: {key} is not emulated by the k8snet sandbox (Python's ssl "
                              "module chooses); the other options apply")
    return opts

