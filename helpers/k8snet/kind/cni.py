"""The kind cluster with another CNI plugin than kindnet: ``k8snet kind up --cni cilium|calico``.

As both plugins' kind guides do (docs.cilium.io installation/kind, docs.tigera.io calico/latest/getting-started/
kubernetes/kind), the cluster is created with ``networking.disableDefaultCNI: true`` (kind then installs no kindnet
and the nodes stay NotReady until a CNI runs) and kube-proxy kept; the pod subnet stays kind's 10.244.0.0/16 for all
three plugins (Cilium with ``ipam.mode=kubernetes`` uses the nodes' podCIDRs, Calico's manifest takes kubeadm's
podSubnet for its pool). Then the pinned release is installed from the same rendered manifest the sandbox builds its
kube-system from (``manifests/cilium.yaml``, ``manifests/calico.yaml``; Calico's CRDs first, from its release
manifest), and ``up`` waits until the plugin's DaemonSet runs on every node and its Deployment is available (and,
for Cilium, until the operator has created its CRDs; for Calico, until its aggregated API server serves
projectcalico.org/v3, :mod:`.calico_apiserver`).

A cluster's CNI plugin is not switched in place: ``up --cni X`` on a cluster that runs another plugin stops with
what to do (``k8snet kind down`` then ``k8snet kind up --cni X``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import clusterset
from ..sandbox import cni as plugins
from . import addons, calico_apiserver, readiness, versions

if TYPE_CHECKING:
    from ..cluster import Cluster

CALICO_CRDS = addons.CrdSource("calico", versions.CALICO_VERSION, versions.CALICO_MANIFEST_URL)
"""Calico's release manifest, whose CustomResourceDefinitions ``up`` applies (fetched and cached like the other
CRD sources)."""

CILIUM_CRDS = ["ciliumnetworkpolicies.cilium.io", "ciliumclusterwidenetworkpolicies.cilium.io",
               "ciliumendpoints.cilium.io", "ciliumidentities.cilium.io"]
"""The cilium.io kinds the course uses, which the cilium-operator creates at start (skipCRDCreation: false): ``up``
waits until they are established, so ``kubectl get cnp`` works once it returns (the sandbox serves the same kinds,
sandbox/crds/cilium.io.yaml)."""

WORKLOADS = {plugins.KINDNET: ("kindnet", None), plugins.CILIUM: ("cilium", "cilium-operator"),
             plugins.CALICO: ("calico-node", "calico-kube-controllers")}
"""Each plugin's DaemonSet and Deployment in kube-system (the manifests' names)."""


def networking(cni: str) -> dict[str, Any]:
    """What the plugin's kind guide adds to the cluster config's ``networking``."""
    return {} if plugins.check(cni) == plugins.KINDNET else {"disableDefaultCNI": True}


def objects(cni: str, name: str = clusterset.DEFAULT_NAME) -> list[dict[str, Any]]:
    """The plugin's rendered kube-system objects (none for kindnet: kind installs it), with Cilium's cluster name
    and ID for the cluster ``name`` (:func:`k8snet.clusterset.cilium_cluster`)."""
    return clusterset.with_cilium_cluster(plugins.manifest_objects(plugins.PLUGINS[plugins.check(cni)]), name)


def installed(cluster: Cluster) -> str | None:
    """The plugin the cluster runs, by its DaemonSet in kube-system (None: none yet)."""
    names = {ds.metadata.name for ds in cluster.apps.list_namespaced_daemon_set("kube-system").items}
    return next((cni for cni, (ds, _) in WORKLOADS.items() if ds in names), None)


def check_installed(cluster: Cluster, cni: str) -> None:
    """Raises RuntimeError when the cluster runs another plugin than ``cni``."""
    have = installed(cluster)
    if have is not None and have != cni:
        raise RuntimeError(f"the kind cluster runs the {have} CNI plugin, not {cni}: a cluster's CNI plugin is not "
                           f"switched in place. `k8snet kind down` then `k8snet kind up --cni {cni}` makes a new "
                           f"cluster with it (or keep this one: `k8snet kind up --cni {have}`)")


def daemonset_rolled_out(ds: dict[str, Any] | None, nodes: int) -> tuple[bool, str]:
    """``kubectl rollout status daemonset`` done on every one of ``nodes`` (kubectl's DaemonSetStatusViewer)."""
    if ds is None:
        return False, "the DaemonSet does not exist"
    status = ds.get("status") or {}
    desired = status.get("desiredNumberScheduled") or 0
    updated, available = status.get("updatedNumberScheduled") or 0, status.get("numberAvailable") or 0
    if desired < nodes:
        return False, f"it runs on {desired} of {nodes} nodes"
    if updated < desired or available < desired:
        return False, f"{available} of {desired} pods available ({updated} updated)"
    return True, f"{available} of {desired} pods available"


def install(cluster: Cluster, cni: str, timeout: float = 600, name: str = clusterset.DEFAULT_NAME) -> list[str]:
    """Install the plugin (nothing for kindnet) and wait until it runs; returns the CRDs it applied first."""
    cni = plugins.check(cni)
    check_installed(cluster, cni)
    if cni == plugins.KINDNET:
        return []
    crds: list[str] = []
    if cni == plugins.CALICO:
        crd_objects = [o for o in addons.fetch_crds(CALICO_CRDS) if o.get("kind") == "CustomResourceDefinition"]
        cluster.apply(crd_objects)
        crds = addons.crd_names(crd_objects)
        readiness.wait_crds_established(cluster, crds, timeout=120)
        cluster.dynamic.resources.invalidate_cache()
    cluster.apply(objects(cni, name))
    daemonset, deployment = WORKLOADS[cni]
    nodes = len(versions.NODE_NAMES)

    def rolled_out() -> tuple[str | None, str]:
        try:
            ds = cluster.apps.read_namespaced_daemon_set(daemonset, "kube-system").to_dict()
        except Exception as exc:  # noqa: BLE001  (not there yet: say so and look again)
            return None, str(exc).splitlines()[0]
        ok, seen = daemonset_rolled_out({"status": {"desiredNumberScheduled": ds["status"]["desired_number_scheduled"],
                                                    "updatedNumberScheduled": ds["status"].get("updated_number_scheduled"),
                                                    "numberAvailable": ds["status"].get("number_available")}}, nodes)
        return ("ok" if ok else None), seen

    readiness.until(rolled_out, timeout, f"DaemonSet kube-system/{daemonset} on every node")
    if deployment is not None:
        cluster.wait_ready(deployment, "kube-system", timeout=timeout)
    if cni == plugins.CILIUM:
        readiness.wait_crds_established(cluster, CILIUM_CRDS, timeout=timeout)
        cluster.dynamic.resources.invalidate_cache()
    if cni == plugins.CALICO:
        calico_apiserver.install(cluster, timeout=timeout)  # projectcalico.org/v3 for kubectl, as the sandbox serves
    return crds
