"""Calico's aggregated API server on kind: what makes ``kubectl apply`` of projectcalico.org/v3 objects work.

Calico 3.32's manifest install (``manifests/calico.yaml``) stores its resources as crd.projectcalico.org/v1 CRDs;
the projectcalico.org/v3 kinds a learner writes (NetworkPolicy, GlobalNetworkPolicy, Tier, NetworkSet, …) are
served by the calico-apiserver, installed as docs.tigera.io calico/latest/operations/install-apiserver says for a
manifest install: the release's ``manifests/apiserver.yaml``, a self-signed certificate for
``calico-api.calico-apiserver.svc`` in the Secret ``calico-apiserver-certs`` (the guide's ``openssl req -x509
-newkey rsa:4096 -days 365 -subj "/" -addext "subjectAltName = DNS:calico-api.calico-apiserver.svc"``), and that
certificate as the APIService ``v3.projectcalico.org``'s caBundle. The native projectcalico.org/v3 CRDs of 3.32
(tech preview, ``manifests/calico-v3-crds.yaml``) need MutatingAdmissionPolicy v1beta1, which kind's pinned
Kubernetes 1.33 does not serve. The sandbox serves the same kinds with the same names (sandbox/crds/
projectcalico.org.yaml).
"""

from __future__ import annotations

import base64
import copy
import datetime
from typing import TYPE_CHECKING, Any

from . import addons, readiness, versions

if TYPE_CHECKING:
    from ..cluster import Cluster

NAMESPACE = "calico-apiserver"
SECRET = "calico-apiserver-certs"
APISERVICE = "v3.projectcalico.org"
DNS_NAME = "calico-api.calico-apiserver.svc"
MANIFEST = addons.CrdSource("calico-apiserver", versions.CALICO_VERSION, versions.CALICO_APISERVER_URL)


def certificate(now: datetime.datetime | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM): the install guide's self-signed certificate for the API server's Service."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = now or datetime.datetime.now(datetime.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([])  # -subj "/"
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DNS_NAME)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)  # openssl's v3_ca
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))


def objects(manifest: list[dict[str, Any]], cert: bytes, key: bytes) -> list[dict[str, Any]]:
    """The manifest's objects, the certificate's Secret after its namespace, and the APIService with the
    certificate as its caBundle (the guide's ``kubectl patch apiservice``)."""
    out: list[dict[str, Any]] = []
    for obj in manifest:
        obj = copy.deepcopy(obj)
        if obj.get("kind") == "APIService" and obj["metadata"]["name"] == APISERVICE:
            obj["spec"]["caBundle"] = base64.b64encode(cert).decode()
        out.append(obj)
        if obj.get("kind") == "Namespace" and obj["metadata"]["name"] == NAMESPACE:
            out.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": {"name": SECRET, "namespace": NAMESPACE},
                        "data": {"apiserver.crt": base64.b64encode(cert).decode(),
                                 "apiserver.key": base64.b64encode(key).decode()}})
    return out


def existing_pair(cluster: Cluster) -> tuple[bytes, bytes] | None:
    """The certificate and key of an earlier ``up`` (kept, so the running API server's certificate stays valid)."""
    try:
        secret = cluster.core.read_namespaced_secret(SECRET, NAMESPACE)
    except Exception:  # noqa: BLE001  (not there: make one)
        return None
    data = secret.data or {}
    if "apiserver.crt" not in data or "apiserver.key" not in data:
        return None
    return base64.b64decode(data["apiserver.crt"]), base64.b64decode(data["apiserver.key"])


def available(status: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether an APIService's status has condition Available True (what kubectl get apiservice shows)."""
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            return cond.get("status") == "True", f"Available={cond.get('status')} ({cond.get('reason', '')})"
    return False, "no Available condition yet"


def install(cluster: Cluster, timeout: float = 300) -> None:
    """Apply the API server with its certificate and wait until kube-apiserver reports its APIService available."""
    manifest = addons.fetch_crds(MANIFEST, require="APIService")
    cert, key = existing_pair(cluster) or certificate()
    cluster.apply(objects(manifest, cert, key))

    def check() -> tuple[str | None, str]:
        try:
            obj = cluster.dynamic.resources.get(api_version="apiregistration.k8s.io/v1", kind="APIService").get(
                name=APISERVICE).to_dict()
        except Exception as exc:  # noqa: BLE001  (not there yet: say so and look again)
            return None, str(exc).splitlines()[0]
        ok, seen = available(obj.get("status"))
        return ("ok" if ok else None), seen

    readiness.until(check, timeout, f"APIService {APISERVICE} (calico-apiserver) to be Available")
    cluster.dynamic.resources.invalidate_cache()
