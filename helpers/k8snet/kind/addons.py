"""The pinned add-ons: k8snet's own manifests (shipped as package data), upstream CRDs and cert-manager's release
manifest fetched by URL.

Everything is applied with server-side apply through the Kubernetes API (no
``helm``, no ``kubectl``): CRDs are large, and server-side apply keeps no
last-applied annotation, so even Traefik's biggest CRD fits. CRDs come from
their projects' pinned release URLs at ``up`` time, as the Traefik and Gateway
API install guides apply them, and are cached under ``$K8SNET_HOME/kind/cache``
so a re-run works offline.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import versions

if TYPE_CHECKING:
    from ..cluster import Cluster

MANIFESTS = ("traefik.yaml", "traefik-gateway.yaml")
"""k8snet's own manifests, in apply order (the second needs the Gateway API CRDs)."""


@dataclass(frozen=True)
class CrdSource:
    """Upstream CRDs at a pinned release URL."""

    name: str
    version: str
    url: str

    @property
    def cache_name(self) -> str:
        return f"{self.name}-{self.version}.yaml"


CRD_SOURCES = (
    CrdSource("gateway-api", versions.GATEWAY_API_VERSION, versions.GATEWAY_API_CRDS_URL),
    CrdSource("traefik-crds", versions.TRAEFIK_VERSION, versions.TRAEFIK_CRDS_URL),
)

CERT_MANAGER = CrdSource("cert-manager", versions.CERT_MANAGER_VERSION, versions.CERT_MANAGER_MANIFEST_URL)
"""cert-manager's release manifest: its CRDs and everything else it installs (fetched and cached like the CRD
sources, applied whole by :func:`apply_cert_manager`)."""


def home() -> Path:
    """Where the kind backend keeps its files: ``$K8SNET_HOME/kind`` (default ``~/.k8snet/kind``)."""
    base = os.environ.get("K8SNET_HOME")
    return (Path(base) if base else Path.home() / ".k8snet") / "kind"


def manifest_text(name: str) -> str:
    """One of :data:`MANIFESTS` as shipped in the package."""
    if name not in MANIFESTS:
        raise ValueError(f"unknown manifest {name!r}: choose one of {', '.join(MANIFESTS)}")
    return (resources.files("k8snet.kind") / "manifests" / name).read_text()


def manifest_objects(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest_text(name)) if d]


def all_manifest_objects() -> list[dict[str, Any]]:
    return [o for name in MANIFESTS for o in manifest_objects(name)]


def fetch_crds(source: CrdSource, cache: Path | None = None, timeout: float = 60,
               require: str = "CustomResourceDefinition") -> list[dict[str, Any]]:
    """The source's objects, from the cache or downloaded once (written atomically); ``require`` is a kind the
    file must hold (a check that the URL is the right file).

    Raises:
        RuntimeError: the download failed and nothing is cached, with what to do.
    """
    cache = cache or home() / "cache"
    path = cache / source.cache_name
    if not path.exists():
        try:
            with urllib.request.urlopen(source.url, timeout=timeout) as resp:
                text = resp.read().decode("utf-8")
        except (urllib.error.URLError, OSError) as exc:
            raise RuntimeError(f"could not download {source.name} {source.version} from {source.url}: {exc}\n"
                               f"  fix: check the network (a proxy needs HTTPS_PROXY), or download that file "
                               f"yourself and save it as {path}") from exc
        docs = _parse(text, source, require)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
        return docs
    return _parse(path.read_text(), source, require)


def cached_crds(source: CrdSource, cache: Path | None = None) -> list[dict[str, Any]] | None:
    """The source's objects if ``up`` downloaded them before, else None (never touches the network)."""
    path = (cache or home() / "cache") / source.cache_name
    return _parse(path.read_text(), source) if path.exists() else None


def _parse(text: str, source: CrdSource, require: str = "CustomResourceDefinition") -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise RuntimeError(f"{source.name} {source.version} ({source.url}) is not valid YAML: {exc}") from exc
    if not any(d.get("kind") == require for d in docs):
        raise RuntimeError(f"{source.url} holds no {require}: is the URL right?")
    return docs


def crd_names(objects: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in objects if o.get("kind") == "CustomResourceDefinition"]


def apply_crds(cluster: Cluster, cache: Path | None = None) -> dict[str, list[str]]:
    """Server-side apply every CRD source; returns the CRD names per source (to wait on)."""
    out: dict[str, list[str]] = {}
    for source in CRD_SOURCES:
        objects = fetch_crds(source, cache)
        cluster.apply(objects)
        out[source.name] = crd_names(objects)
    cluster.dynamic.resources.invalidate_cache()  # new kinds: discovery must be read again
    return out


CERT_MANAGER_CONTROLLER = ("cert-manager", "cert-manager-controller")
"""The controller's Deployment and container in the release manifest (deploy/charts/cert-manager/templates/
deployment.yaml: ``{{ .Chart.Name }}-controller``)."""
ENABLE_GATEWAY_API = "--enable-gateway-api"
"""cert-manager's gateway-shim (Certificates for annotated Gateways) and Gateway API HTTP-01 solver run only with
this flag (cmd/controller/app/options/options.go; off by default: internal/apis/config/controller/v1alpha1/
defaults.go ``defaultEnableGatewayAPI = false``). https://cert-manager.io/docs/usage/gateway/ says to add it to the
controller Deployment's args when installing from the static manifest, with the Gateway API CRDs installed before
cert-manager starts (``up`` installs them first). The sandbox shims Gateways too, so both backends agree."""


def with_gateway_api(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The release manifest's objects with :data:`ENABLE_GATEWAY_API` among the controller container's args."""
    deployment, container = CERT_MANAGER_CONTROLLER
    for obj in objects:
        if obj.get("kind") != "Deployment" or (obj.get("metadata") or {}).get("name") != deployment:
            continue
        for c in obj["spec"]["template"]["spec"]["containers"]:
            if c.get("name") == container and ENABLE_GATEWAY_API not in (c.get("args") or []):
                c["args"] = [*(c.get("args") or []), ENABLE_GATEWAY_API]
    return objects


def apply_cert_manager(cluster: Cluster, cache: Path | None = None) -> list[str]:
    """Server-side apply cert-manager's release manifest, as ``kubectl apply -f cert-manager.yaml`` installs it, with
    Gateway API support on (:data:`ENABLE_GATEWAY_API`); returns its CRD names (to wait on)."""
    objects = with_gateway_api(fetch_crds(CERT_MANAGER, cache))
    cluster.apply(objects)
    cluster.dynamic.resources.invalidate_cache()
    return crd_names(objects)


def cert_manager_probe() -> dict[str, Any]:
    """An Issuer that only cert-manager's webhook can admit: sent with ``dryRun=All``, it is accepted once the
    webhook answers (cert-manager.io/docs/installation/verify/ checks the same way)."""
    return {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": {"name": "k8snet-readiness-probe", "namespace": versions.CERT_MANAGER_NAMESPACE},
            "spec": {"selfSigned": {}}}


def apply_manifest(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    return list(cluster.apply(manifest_objects(name)))


# -- trust-manager ----------------------------------------------------------------------------------------------

TRUST_MANAGER_MANIFEST = "trust-manager.yaml"
"""trust-manager's Helm chart at :data:`~.versions.TRUST_MANAGER_VERSION`, rendered (the file's header says how):
the kind backend installs it without ``helm``, like everything else, by server-side apply."""

CERT_MANAGER_CRDS = ("certificates.cert-manager.io", "issuers.cert-manager.io")
"""What the chart needs from cert-manager: its Issuer and Certificate make the webhook's serving certificate."""


def trust_manager_objects() -> list[dict[str, Any]]:
    """The rendered chart's objects, in Helm's install order (the Bundle CRD among the first)."""
    text = (resources.files("k8snet.kind") / "manifests" / TRUST_MANAGER_MANIFEST).read_text()
    return [d for d in yaml.safe_load_all(text) if d]


def cert_manager_missing(established_crds: set[str]) -> str | None:
    """Why trust-manager cannot be installed yet (cert-manager's CRDs missing), or None."""
    missing = [name for name in CERT_MANAGER_CRDS if name not in established_crds]
    if not missing:
        return None
    return (f"trust-manager {versions.TRUST_MANAGER_VERSION} needs cert-manager, which is not installed (no CRD "
            f"{', '.join(missing)}): its chart asks cert-manager for the webhook's certificate")


def apply_trust_manager(cluster: Cluster, established_crds: set[str]) -> list[str]:
    """Server-side apply the rendered chart; returns its CRD names (to wait on).

    Raises:
        ToolError: cert-manager is not installed (what to do says how to get it).
    """
    from .commands import ToolError

    problem = cert_manager_missing(established_crds)
    if problem:
        raise ToolError(problem, "install cert-manager first (`k8snet kind up` does, before trust-manager)")
    objects = trust_manager_objects()
    cluster.apply(objects)
    cluster.dynamic.resources.invalidate_cache()
    return crd_names(objects)


def trust_manager_probe() -> dict[str, Any]:
    """A Bundle that only trust-manager's webhook can admit (failurePolicy Fail): sent with ``dryRun=All``, it is
    accepted once the webhook answers, which is when Bundles can be created."""
    return {"apiVersion": "trust.cert-manager.io/v1alpha1", "kind": "Bundle",
            "metadata": {"name": "k8snet-readiness-probe"},
            "spec": {"sources": [{"inLine": "k8snet readiness probe"}], "target": {"configMap": {"key": "ca.crt"}}}}


# -- Istio (ambient mode) ------------------------------------------------------------------------------------------

def istio_objects() -> list[dict[str, Any]]:
    """Istio's charts rendered with the ambient profile (:data:`~.versions.ISTIO_MANIFEST`, its header says how), in
    the charts' install order: the same objects ``k8snet mesh install istio`` applies on both backends."""
    text = (resources.files("k8snet.kind") / "manifests" / versions.ISTIO_MANIFEST).read_text()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the 15 CRDs are a megabyte of YAML
    return [d for d in yaml.load_all(text, Loader=loader) if d]
