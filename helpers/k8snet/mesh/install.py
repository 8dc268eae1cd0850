"""Installing the service mesh: Istio 1.31 in ambient mode, by one call on either backend.

``install(cluster, "istio")`` does what ``helm install`` of Istio's base, istiod, cni and ztunnel charts with the
ambient profile does (istio.io/latest/docs/ambient/install/helm), from the same rendered manifest on both backends
(``k8snet/kind/manifests/istio-ambient.yaml``, whose header says how it was rendered and what it leaves out), and
waits as ``helm install --wait`` would, each wait on a real condition with a timeout:

1. the 15 Istio CRDs, server-side applied, until Established (the kinds must be served before anything uses them);
2. everything else, server-side applied in the charts' order (namespace, RBAC, ConfigMaps, istiod, istio-cni,
   ztunnel);
3. istiod's Deployment Available;
4. the ``istio-cni-node`` and ``ztunnel`` DaemonSets rolled out on every node (``kubectl rollout status``: updated
   and available pods on every node the DaemonSet wants). On kind, istio-cni's pod is Ready only once it has
   installed its CNI plugin on its node, so this is also the wait for the CNI on every node.

It is idempotent: applying again changes nothing, and the waits pass at once. The same calls go through the
Kubernetes API on both backends; only how long the nodes take differs (kind pulls the images on first use).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from ..kind import addons, readiness, versions

if TYPE_CHECKING:
    from ..cluster import Cluster

Say = Callable[[str], None]
MESHES = ("istio",)
"""The meshes k8snet installs."""
ISTIOD = "istiod"
DAEMONSETS = ("istio-cni-node", "ztunnel")
"""The node agents the manifest runs on every node (the charts' names)."""
DEFAULT_TIMEOUT = 600.0
"""Seconds each wait may take: the sandbox needs a few, a kind node pulls four images the first time."""


@dataclass
class Installed:
    """What :func:`install` found or made: the release, the CRDs, seconds per step."""

    mesh: str
    version: str
    crds: list[str] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Installed {self.mesh} {self.version}: {len(self.crds)} CRDs, {sum(self.steps.values()):.1f}s>"


def check_mesh(mesh: str) -> str:
    """The mesh's name in lower case.

    Raises:
        ValueError: a mesh k8snet does not install.
    """
    chosen = mesh.lower()
    if chosen not in MESHES:
        raise ValueError(f"unknown mesh {mesh!r}: k8snet installs {', '.join(MESHES)}")
    return chosen


def manifest() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The manifest's CRDs and the rest, each in the manifest's order."""
    objects = addons.istio_objects()
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    return crds, [o for o in objects if o["kind"] != "CustomResourceDefinition"]


# -- conditions (one look each; :func:`k8snet.kind.readiness.until` repeats them) --------------------------------


def deployment_available(dep: dict[str, Any] | None) -> tuple[bool, str]:
    """``kubectl rollout status deployment`` done: the new generation observed, every replica updated and
    available."""
    if dep is None:
        return False, "the Deployment does not exist"
    spec, status, meta = dep.get("spec") or {}, dep.get("status") or {}, dep.get("metadata") or {}
    want = spec.get("replicas", 1)
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return False, "the new generation is not observed yet"
    updated, available = status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0
    if updated < want or available < want:
        return False, f"{available} of {want} replicas available ({updated} updated)"
    return True, f"{available} of {want} replicas available"


def daemonset_rolled_out(ds: dict[str, Any] | None, nodes: int) -> tuple[bool, str]:
    """``kubectl rollout status daemonset`` done (kubectl's DaemonSetStatusViewer: updated and available pods on
    every node it wants), and it wants every one of the ``nodes`` (the charts tolerate every taint)."""
    if ds is None:
        return False, "the DaemonSet does not exist"
    status, meta = ds.get("status") or {}, ds.get("metadata") or {}
    if (status.get("observedGeneration") or 0) < (meta.get("generation") or 0):
        return False, "the new generation is not observed yet"
    desired = status.get("desiredNumberScheduled") or 0
    updated, available = status.get("updatedNumberScheduled") or 0, status.get("numberAvailable") or 0
    if desired < nodes:
        return False, f"it runs on {desired} of {nodes} nodes"
    if updated < desired:
        return False, f"{updated} of {desired} updated pods scheduled"
    if available < desired:
        return False, f"{available} of {desired} updated pods available"
    return True, f"{available} of {desired} pods available"


# -- install and uninstall ---------------------------------------------------------------------------------------


def install(cluster: Cluster, mesh: str = "istio", *, timeout: float = DEFAULT_TIMEOUT, say: Say = print) -> Installed:
    """Install Istio 1.31 in ambient mode and wait until it runs on every node (idempotent).

    Raises:
        ValueError: a mesh other than ``istio``.
        TimeoutError: a step did not finish within ``timeout`` seconds, naming what it waited for and what it saw.

    Example:
        >>> k8snet.mesh.install(cluster, "istio")
        • Istio 1.31.0 CRDs Established …
    """
    chosen = check_mesh(mesh)
    crds, rest = manifest()
    report = Installed(chosen, versions.ISTIO_VERSION, [c["metadata"]["name"] for c in crds])
    ns = versions.ISTIO_NAMESPACE

    def step(title: str, fn: Callable[[], Any]) -> Any:
        say(f"• {title} …")
        t0 = time.perf_counter()
        try:
            result = fn()
        except BaseException:
            say(f"✗ {title}")
            raise
        report.steps[title] = time.perf_counter() - t0
        say(f"✓ {title} ({report.steps[title]:.1f}s)")
        return result

    def apply_crds() -> None:
        cluster.apply(crds)
        cluster.dynamic.resources.invalidate_cache()  # new kinds: discovery must be read again
        readiness.wait_crds_established(cluster, report.crds, timeout=timeout)

    def nodes() -> int:
        return len(cluster.nodes())

    def wait_deployment() -> None:
        def check() -> tuple[str | None, str]:
            ok, seen = deployment_available(_get(cluster, "Deployment", ISTIOD, ns, "apps/v1"))
            return ("ok" if ok else None), seen

        readiness.until(check, timeout, f"Deployment {ns}/{ISTIOD} to be Available")

    def wait_daemonset(name: str) -> None:
        count = nodes()

        def check() -> tuple[str | None, str]:
            ok, seen = daemonset_rolled_out(_get(cluster, "DaemonSet", name, ns, "apps/v1"), count)
            return ("ok" if ok else None), seen

        readiness.until(check, timeout, f"DaemonSet {ns}/{name} to run on all {count} nodes")

    step(f"Istio {versions.ISTIO_VERSION} CRDs ({len(crds)}) Established", apply_crds)
    step("istiod, istio-cni and ztunnel applied (server-side)", lambda: cluster.apply(rest))
    step(f"istiod Available ({versions.ISTIO_NAMESPACE}/{ISTIOD})", wait_deployment)
    for name in DAEMONSETS:
        step(f"{name} rolled out on every node", lambda name=name: wait_daemonset(name))
    return report


def uninstall(cluster: Cluster, mesh: str = "istio", *, timeout: float = 300, say: Say = print) -> list[str]:
    """Remove what :func:`install` applied, in reverse order, and wait until ``istio-system`` is gone, as ``helm
    uninstall`` of the four releases does: the CRDs stay (the chart marks them ``helm.sh/resource-policy: keep``,
    so Istio resources already made are not lost), and so do what istiod wrote outside its namespace
    (``istio-ca-root-cert`` ConfigMaps, GatewayClasses, waypoints' objects). Returns what was deleted."""
    check_mesh(mesh)
    _, rest = manifest()
    deleted = []
    for obj in reversed(rest):
        meta = obj["metadata"]
        cluster.delete(obj["kind"], meta["name"], meta.get("namespace"), api_version=obj["apiVersion"])
        deleted.append(f"{obj['kind'].lower()}/{meta['name']}")
    say(f"• deleted {len(deleted)} objects; waiting for namespace {versions.ISTIO_NAMESPACE} to go …")
    cluster.wait_gone("Namespace", versions.ISTIO_NAMESPACE, timeout=timeout)
    say(f"✓ Istio {versions.ISTIO_VERSION} uninstalled (its CRDs stay, as helm keeps them)")
    return deleted


def _get(cluster: Cluster, kind: str, name: str, namespace: str | None, api_version: str) -> dict[str, Any] | None:
    try:
        return cluster.get(kind, name, namespace, api_version=api_version)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    except Exception as exc:  # the dynamic client's NotFoundError wraps the 404
        if getattr(exc, "status", None) == 404:
            return None
        raise
