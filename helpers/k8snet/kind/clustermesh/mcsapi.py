"""The Multi-Cluster Services API on a kind member: what ``helm upgrade --reuse-values --set
clustermesh.mcsapi.enabled=true`` changes in a cluster installed from manifests/cilium.yaml and
clustermesh-apiserver.yaml (docs.cilium.io, network/clustermesh/mcsapi.rst, "To enable MCS-API support on an existing
Cilium installation").

With ``clustermesh.mcsapi.enabled`` (and ``clustermesh.mcsapi.installCRDs``, true by default since Cilium 1.19: "If
MCS-API support is enabled, Cilium now installs and manages MCS-API CRDs by default", the 1.19 upgrade notes) the
chart renders, and :func:`objects` gives the same objects changed the same way:

- ``cilium-config``: ``clustermesh-enable-mcs-api: "true"`` and ``clustermesh-mcs-api-install-crds: "true"``
  (pkg/clustermesh/mcsapi/types/config.go: ``ShouldInstallMCSAPICrds`` is both). The operator then creates the
  ServiceExport and ServiceImport CRDs it carries (pkg/clustermesh/mcsapi/crdinstall.go ``registerCRDs``, from
  sigs.k8s.io/mcs-api/config/crd) and starts its MCS-API controllers (cell.go ``registerMCSAPIController``), which
  need the CRDs, the cluster's Cluster Mesh configuration and the rights below;
- the ``cilium-operator`` ClusterRole: :data:`OPERATOR_RULES` (templates/cilium-operator/clusterrole.yaml under
  ``clustermesh.mcsapi.enabled``: EndpointSlices written, ServiceImports and their status, ServiceExports read and
  their status written, Services written), and ``update`` of the two MCS CRDs, which ``CreateUpdateCRD`` needs when
  a CRD in the cluster is older than the operator's (the chart grants CRD ``update`` by resourceNames; ``create``
  it grants without names already);
- the ``cilium-operator`` Deployment: the Cluster Mesh configuration the agents already read
  (templates/cilium-operator/deployment.yaml under the same condition: ``CILIUM_CLUSTERMESH_CONFIG`` and the
  projected ``clustermesh-secrets`` volume of the ``cilium-clustermesh`` Secret and the remote certificate), so it
  reads the ServiceExports other clusters export; the chart also gives it the agents' ``hostAliases``
  (``<cluster>.mesh.cilium.io``), which :mod:`.peers` keeps in step on connect;
- the clustermesh-apiserver: ``--clustermesh-enable-mcs-api`` (clustermesh-apiserver clustermesh --help: "Enable
  Cluster Mesh MCS-API support") and the right to read ServiceExports, so it exports this cluster's valid ones to its
  etcd for the others (serviceexportsync.go). It checks for the CRD when it starts and, without it, exports nothing
  until restarted, so it is changed after the operator has created the CRDs.

CoreDNS is set up by the guide's manual steps (:func:`k8snet.cni.clustermesh.enable_mcs_api`), not the chart's
``corednsAutoConfigure`` Job. The 1.20.2 chart's own templates could not be read here (the manifests' headers say
the same of the rest); the rules and fields follow the newest revisions that could, each named above.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .. import readiness
from . import peers

if TYPE_CHECKING:
    from ...cluster import Cluster

NAMESPACE = peers.NAMESPACE
CONFIG = {"clustermesh-enable-mcs-api": "true", "clustermesh-mcs-api-install-crds": "true"}
"""What the chart writes into cilium-config for ``clustermesh.mcsapi.enabled=true`` with ``installCRDs`` (default)."""
CRDS = ("serviceexports.multicluster.x-k8s.io", "serviceimports.multicluster.x-k8s.io")
"""The CRDs the operator installs (mcs-api's ServiceExportVersionedName, ServiceImportVersionedName)."""
OPERATOR = "cilium-operator"
APISERVER = "clustermesh-apiserver"
APISERVER_FLAG = "--clustermesh-enable-mcs-api"
MESH_ENV = {"name": "CILIUM_CLUSTERMESH_CONFIG", "value": f"{peers.MOUNT}/"}
MESH_VOLUME = "clustermesh-secrets"
MESH_MOUNT = {"name": MESH_VOLUME, "mountPath": peers.MOUNT, "readOnly": True}

OPERATOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
     "verbs": ["create", "update", "delete", "deletecollection"]},
    {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceimports"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceimports/status"], "verbs": ["update", "patch"]},
    {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceexports"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceexports/status"], "verbs": ["update", "patch"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["create", "update", "patch", "delete"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["update"],
     "resourceNames": list(CRDS)},
]
"""What the operator's ClusterRole gains (see the module's docstring)."""

APISERVER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceexports"], "verbs": ["get", "list", "watch"]},
]


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return obj
    raise LookupError(f"the rendered manifests have no {kind} {name}")


def _mesh_volume(cilium: list[dict[str, Any]]) -> dict[str, Any]:
    """The agents' ``clustermesh-secrets`` volume (cilium.yaml's DaemonSet): the operator's is the same projection
    of the same two Secrets."""
    pod = _find(cilium, "DaemonSet", "cilium")["spec"]["template"]["spec"]
    return copy.deepcopy(next(v for v in pod["volumes"] if v["name"] == MESH_VOLUME))


def with_rules(role: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The ClusterRole with ``rules`` added (those it has already are not added twice)."""
    out = copy.deepcopy(role)
    have = out.setdefault("rules", [])
    out["rules"] = have + [copy.deepcopy(r) for r in rules if r not in have]
    return out


def with_operator_mesh(deployment: dict[str, Any], volume: dict[str, Any]) -> dict[str, Any]:
    """The cilium-operator Deployment reading the Cluster Mesh configuration, as the chart renders it."""
    out = copy.deepcopy(deployment)
    pod = out["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == OPERATOR)
    env = container.setdefault("env", [])
    if not any(e["name"] == MESH_ENV["name"] for e in env):
        env.insert(2, dict(MESH_ENV))  # after K8S_NODE_NAME and CILIUM_K8S_NAMESPACE, as the template orders them
    mounts = container.setdefault("volumeMounts", [])
    if not any(m["name"] == MESH_VOLUME for m in mounts):
        mounts.append(dict(MESH_MOUNT))
    volumes = pod.setdefault("volumes", [])
    if not any(v["name"] == MESH_VOLUME for v in volumes):
        volumes.append(copy.deepcopy(volume))
    return out


def with_apiserver_flag(deployment: dict[str, Any]) -> dict[str, Any]:
    """The clustermesh-apiserver Deployment whose ``apiserver`` container exports ServiceExports."""
    out = copy.deepcopy(deployment)
    container = next(c for c in out["spec"]["template"]["spec"]["containers"] if c["name"] == "apiserver")
    if APISERVER_FLAG not in container["args"]:
        container["args"] = [*container["args"], APISERVER_FLAG]
    return out


def objects(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The objects ``helm upgrade --set clustermesh.mcsapi.enabled=true`` changes for the member ``name``: first
    the operator's side (cilium-config with its cluster name and ID, the operator's ClusterRole and Deployment), then
    the clustermesh-apiserver's (its ClusterRole and Deployment), applied once the CRDs exist."""
    from .. import cni
    from . import objects as apiserver_objects

    cilium = cni.objects("cilium", name)
    config = copy.deepcopy(_find(cilium, "ConfigMap", "cilium-config"))
    config["data"].update(CONFIG)
    operator_side = [config, with_rules(_find(cilium, "ClusterRole", OPERATOR), OPERATOR_RULES),
                     with_operator_mesh(_find(cilium, "Deployment", OPERATOR), _mesh_volume(cilium))]
    mesh = apiserver_objects()
    apiserver_side = [with_rules(_find(mesh, "ClusterRole", APISERVER), APISERVER_RULES),
                      with_apiserver_flag(_find(mesh, "Deployment", APISERVER))]
    return operator_side, apiserver_side


def enabled(cluster: Cluster) -> bool:
    """Whether the member runs MCS-API as :func:`enable` leaves it: the switch in cilium-config, the operator reading
    the Cluster Mesh configuration, the clustermesh-apiserver exporting."""
    data = (cluster.find("ConfigMap", "cilium-config", NAMESPACE) or {}).get("data") or {}
    op = cluster.find("Deployment", OPERATOR, NAMESPACE, api_version="apps/v1")
    api = cluster.find("Deployment", APISERVER, NAMESPACE, api_version="apps/v1")
    args = next((c.get("args") or [] for c in ((api or {}).get("spec") or {}).get("template", {}).get("spec", {})
                 .get("containers", []) if c.get("name") == "apiserver"), [])
    return (all(data.get(k) == v for k, v in CONFIG.items()) and op is not None and peers.reads_mesh(op)
            and APISERVER_FLAG in args)


def enable(cluster: Cluster, timeout: float = 600) -> None:
    """Switch MCS-API on in a kind member as the chart's upgrade does: apply the operator's side and wait for its
    rollout and the CRDs it installs, give the operator the agents' host aliases, then apply the
    clustermesh-apiserver's side and wait for it. Idempotent (server-side apply of the same objects).

    Raises:
        RuntimeError: the cluster has no clustermesh-apiserver (a member made with
            ``k8snet kind up --name NAME --cni cilium`` has one).
        TimeoutError: a rollout or the CRDs did not come in time, naming what.
    """
    if cluster.find("Deployment", APISERVER, NAMESPACE, api_version="apps/v1") is None:
        raise RuntimeError(f"{cluster.context} has no {NAMESPACE}/{APISERVER}: MCS-API shares exports through Cluster "
                           f"Mesh (`k8snet kind up --name {cluster.name} --cni cilium` installs it, or "
                           "k8snet.kind.clustermesh.enable(cluster))")
    operator_side, apiserver_side = objects(cluster.name)
    cluster.apply(operator_side)
    peers.sync_operator_aliases(cluster)
    cluster.wait_ready(OPERATOR, NAMESPACE, timeout=timeout)
    readiness.wait_crds_established(cluster, list(CRDS), timeout=timeout)
    cluster.dynamic.resources.invalidate_cache()  # multicluster.x-k8s.io is new: discovery must be read again
    cluster.apply(apiserver_side)
    cluster.wait_ready(APISERVER, NAMESPACE, timeout=timeout)
