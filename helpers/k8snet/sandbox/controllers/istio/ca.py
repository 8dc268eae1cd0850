"""istiod's certificate authority: the self-signed mesh root, and workload certificates as it signs ztunnel's CSRs.

As Istio 1.31 does it (github.com/istio/istio, release-1.31):

- **The root.** At its first start istiod (pilot/pkg/bootstrap/istio_ca.go createSelfSignedCACertificateOptions →
  security/pkg/pki/ca/ca.go NewSelfSignedIstioCAOptions) looks for the Secret ``istio-ca-secret`` in its namespace
  and, when there is none, makes a self-signed CA (security/pkg/pki/util/generate_cert.go GenCertKeyFromOptions):
  an RSA key of ``CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE`` (2048) bits; subject ``O=cluster.local`` (the trust
  domain) and nothing else; valid from now for ``CITADEL_SELF_SIGNED_CA_CERT_TTL`` (3650 days,
  security/pkg/cmd/constants.go DefaultSelfSignedCACertTTL); key usage certSign only, CA:true, a random 128-bit
  serial; Go's x509.CreateCertificate (Go 1.26, go.mod) adds the subject key identifier, the first 160 bits of the
  SHA-256 of the public key (RFC 7093 method 1). The Secret (ca.go BuildSecret, type ``istio.io/ca-root``) holds
  ``ca-cert.pem`` and ``root-cert.pem`` (the certificate), ``ca-key.pem`` (PKCS#1 PEM) and empty ``cert-chain.pem``
  and ``key.pem``. Later starts load it. The root is what istiod writes into every namespace's
  ``istio-ca-root-cert`` ConfigMap (:mod:`.istiod`).
- **Workload certificates.** ztunnel asks for each identity it serves (ztunnel src/identity/caclient.rs
  fetch_certificate): a CSR whose key is ECDSA P-256 (src/tls/csr.rs), with the SPIFFE URI as its only SAN and no
  subject, a validity of ``SECRET_TTL`` (24 h, src/config.rs DEFAULT_TTL), impersonating the workload's identity.
  istiod's CA server (security/pkg/server/ca/server.go CreateCertificate) signs it with the requested TTL (capped by
  ``MAX_WORKLOAD_CERT_TTL``, 90 days; ``DEFAULT_WORKLOAD_CERT_TTL`` 24 h when none is asked): util.GenCertFromCSR
  and genCertTemplateFromCSR make a certificate with an empty subject, the URI SAN as a critical extension,
  ``digitalSignature, keyEncipherment``, ``serverAuth, clientAuth``, CA:false, the root's key identifier as the
  authority key identifier, a random 128-bit serial, valid from two minutes ago (ClockSkewGracePeriod) for the TTL
  (not past the root's end). The answer is the leaf and, last, the root (no intermediates with the self-signed CA).
- **Rotation.** ztunnel keeps each certificate and fetches a new one at half its life, ``not_before +
  (not_after - not_before) / 2`` (src/tls/certificate.rs WorkloadCertificate::refresh_at, src/identity/manager.rs).

In the sandbox the data path asks :func:`mesh_ca` and :meth:`MeshCA.workload` per connection: certificates are
made on the sandbox clock, kept per identity, and made again when ztunnel would have refreshed them. The leaf's key
is P-256 (cheap to make); the root's RSA key signs, as istiod's does. Serial numbers come from the sandbox's seeded
random source; keys from the system's (as every key the sandbox makes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import names

if TYPE_CHECKING:
    from ...instance import Sandbox

ROOT_KEY_BITS = 2048
"""pilot/pkg/bootstrap/istio_ca.go CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE's default."""
ROOT_TTL = dt.timedelta(days=3650)
"""security/pkg/cmd/constants.go DefaultSelfSignedCACertTTL (CITADEL_SELF_SIGNED_CA_CERT_TTL)."""
DEFAULT_WORKLOAD_CERT_TTL = dt.timedelta(hours=24)
"""security/pkg/cmd/constants.go DefaultWorkloadCertTTL (DEFAULT_WORKLOAD_CERT_TTL); ztunnel also asks for 24 h
(SECRET_TTL, src/config.rs DEFAULT_TTL)."""
MAX_WORKLOAD_CERT_TTL = dt.timedelta(days=90)
"""security/pkg/cmd/constants.go DefaultMaxWorkloadCertTTL (MAX_WORKLOAD_CERT_TTL)."""
CLOCK_SKEW_GRACE = dt.timedelta(minutes=2)
"""security/pkg/pki/util/generate_cert.go ClockSkewGracePeriod: a workload certificate is valid from then."""
STATE_KEY = "istio-ca"
"""Where :func:`mesh_ca` keeps the loaded CA in ``Sandbox.program_state``."""


class CAError(Exception):
    """What istiod's CA server refuses (server.go: ``CSR signing error (...)``)."""


def spiffe_id(namespace: str, service_account: str, trust_domain: str = names.TRUST_DOMAIN) -> str:
    """``spiffe://cluster.local/ns/<namespace>/sa/<service account>`` (pkg/spiffe)."""
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


def go_skid(public_key: Any) -> bytes:
    """The subject key identifier Go's x509.CreateCertificate writes for a CA since Go 1.25: the first 160 bits of
    the SHA-256 of the subjectPublicKey bit string (RFC 7093 section 2, method 1)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        bits = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        bits = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha256(bits).digest()[:20]


def make_root(now: dt.datetime, serial: int, trust_domain: str = names.TRUST_DOMAIN) -> tuple[str, str]:
    """A self-signed root as istiod makes it (GenCertKeyFromOptions with IsCA, IsSelfSigned, Org = the trust
    domain): (certificate PEM, PKCS#1 key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=ROOT_KEY_BITS)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now).not_valid_after(now + ROOT_TTL)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(go_skid(key.public_key())), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def secret_data(cert_pem: str, key_pem: str) -> dict[str, str]:
    """The ``istio-ca-secret``'s data as ca.go BuildSecret fills it (base64 of each file; chain and key empty)."""
    import base64

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {names.CA_CERT_KEY: b64(cert_pem), names.CA_KEY_KEY: b64(key_pem), names.CERT_CHAIN_KEY: "",
            names.KEY_KEY: "", names.ROOT_CERT_KEY: b64(cert_pem)}


@dataclass(frozen=True)
class WorkloadCert:
    """A workload identity's certificate as ztunnel holds it: what it presents and what it trusts."""

    spiffe: str
    """``spiffe://cluster.local/ns/<namespace>/sa/<service account>``: the certificate's only SAN (a URI)."""
    cert_pem: str
    """The leaf certificate (PEM)."""
    key_pem: str
    """Its private key: ECDSA P-256, PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``), as ztunnel makes it."""
    chain_pem: str
    """What ztunnel presents in a handshake: the leaf and any intermediates (ztunnel cert_and_intermediates). With
    istiod's self-signed root there are none, so it equals ``cert_pem``."""
    root_pem: str
    """The mesh root the peer's certificate must chain to (``istio-ca-root-cert``'s ``root-cert.pem``)."""
    not_before: dt.datetime
    not_after: dt.datetime
    serial: int

    @property
    def refresh_at(self) -> dt.datetime:
        """When ztunnel fetches the next one: half-way through its validity (certificate.rs refresh_at)."""
        return self.not_before + (self.not_after - self.not_before) / 2

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())


@dataclass
class MeshCA:
    """istiod's CA as loaded from ``istio-ca-secret``: the root, its key, and the certificates issued so far."""

    root_pem: str
    root: x509.Certificate
    key: Any
    sb: Any = field(repr=False, default=None)
    _issued: dict[str, WorkloadCert] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, cert_pem: str, key_pem: str, sb: Any = None) -> MeshCA:
        root = x509.load_pem_x509_certificate(cert_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        return cls(cert_pem, root, key, sb)

    @property
    def trust_domain(self) -> str:
        orgs = self.root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(orgs[0].value) if orgs else names.TRUST_DOMAIN

    def _now(self) -> dt.datetime:
        return self.sb.clock.now() if self.sb is not None else dt.datetime.now(dt.UTC).replace(microsecond=0)

    def _serial(self) -> int:
        if self.sb is not None:
            return self.sb.random.stream("istiod-ca").getrandbits(128) or 1
        return x509.random_serial_number()

    def workload(self, namespace: str, service_account: str) -> WorkloadCert:
        """The certificate ztunnel holds for the identity now: the one issued before while ztunnel would keep it
        (until its refresh time on the sandbox clock), else a new one."""
        identity = spiffe_id(namespace, service_account, self.trust_domain)
        held = self._issued.get(identity)
        now = self._now()
        if held is not None and now < held.refresh_at:
            return held
        issued = self.sign(identity, DEFAULT_WORKLOAD_CERT_TTL, now)
        self._issued[identity] = issued
        return issued

    def sign(self, identity: str, ttl: dt.timedelta = DEFAULT_WORKLOAD_CERT_TTL,
             now: dt.datetime | None = None) -> WorkloadCert:
        """Sign a fresh P-256 key for ``identity`` (a SPIFFE URI) as istiod signs ztunnel's CSR for it.

        Raises:
            CAError: a TTL over MAX_WORKLOAD_CERT_TTL, or a root past its end (istiod's messages).
        """
        now = now or self._now()
        if ttl > MAX_WORKLOAD_CERT_TTL:
            raise CAError(f"requested TTL {_go_duration(ttl)} is greater than the max allowed TTL "
                          f"{_go_duration(MAX_WORKLOAD_CERT_TTL)}")
        root_end = self.root.not_valid_after_utc
        if now >= root_end:
            raise CAError(f"signing certificate has expired at {root_end}")
        if ttl <= dt.timedelta(0):
            ttl = DEFAULT_WORKLOAD_CERT_TTL
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = min(now + ttl, root_end)
        serial = self._serial()
        ski = self.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        cert = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(self.root.subject)
                .public_key(key.public_key()).serial_number(serial)
                .not_valid_before(now - CLOCK_SKEW_GRACE).not_valid_after(not_after)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.AuthorityKeyIdentifier(ski, None, None), critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True)
                .sign(self.key, hashes.SHA256()))
        cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return WorkloadCert(identity, cert_pem, key_pem, cert_pem, self.root_pem, cert.not_valid_before_utc,
                            cert.not_valid_after_utc, serial)


def _go_duration(d: dt.timedelta) -> str:
    """time.Duration's String for whole hours (``2160h0m0s``)."""
    seconds = int(d.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def mesh_ca(sb: Sandbox, namespace: str = names.ISTIO_NAMESPACE) -> MeshCA | None:
    """The mesh's CA, or None while no istiod has made its root (no ``istio-ca-secret`` in ``namespace``).

    Loaded once per version of the Secret and kept in ``sb.program_state``, so asking per connection costs a
    lookup; the certificates :meth:`MeshCA.workload` issued are kept with it (a new root starts afresh).
    """
    secret = sb.store.get("secrets", namespace, names.CA_SECRET)
    if secret is None:
        return None
    meta = secret["metadata"]
    version = (namespace, meta.get("uid"), meta.get("resourceVersion"))
    held = sb.program_state.get(STATE_KEY)
    if held is not None and held[0] == version:
        return held[1]
    import base64

    data = secret.get("data") or {}
    try:
        ca = MeshCA.load(base64.b64decode(data.get(names.CA_CERT_KEY, "")).decode(),
                         base64.b64decode(data.get(names.CA_KEY_KEY, "")).decode(), sb)
    except (ValueError, TypeError):
        return None  # istiod would not start with a broken CA Secret (NewVerifiedKeyCertBundleFromPem fails)
    sb.program_state[STATE_KEY] = (version, ca)
    return ca
