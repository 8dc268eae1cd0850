"""What one member shares with the clusters meshed with it: what Cilium's clustermesh-apiserver exports.

The clustermesh-apiserver of each cluster writes the cluster's state to its etcd, and every agent of every other
cluster watches it (Documentation/network/clustermesh/intro.rst; pkg/clustermesh): the cluster's name and ID, its
nodes, every endpoint's address with its security identity and labels (the ipcache: how a remote packet's source
becomes an identity that policies can select), the global Services with their backends (pkg/clustermesh/store
ClusterService: only Services annotated ``service.cilium.io/global: "true"``, and not ``service.cilium.io/shared:
"false"``), and, with MCS-API support, the ServiceExports (their Service's spec and backends).

The sandbox serves the same facts as one JSON document (``GET /k8snet/admin/clustermesh/state``), which the other
members poll (:mod:`.peers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dataplane.globalservices import is_shared
from ..dataplane.proxy import Endpoint, endpoints_of_slices, is_mesh_slice
from .endpointslices import SLICES

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]

def backend(e: Endpoint) -> Obj:
    return {"ip": e.ip, "ports": [list(p) for p in e.ports], "ready": e.ready, "serving": e.serving,
            "terminating": e.terminating, "node": e.node, "pod": e.pod, "namespace": e.namespace,
            "hostname": e.hostname}


def cluster(sb: Sandbox) -> Obj:
    from ..dataplane.cilium.identity import allocation_range
    from ..dataplane.cilium.labels import cluster_name

    cm = sb.store.get("configmaps", "kube-system", "cilium-config") or {}
    try:
        cluster_id = int((cm.get("data") or {}).get("cluster-id") or 0)
    except ValueError:
        cluster_id = 0
    return {"name": cluster_name(sb.store), "id": cluster_id, "member": sb.shape.name,
            "podCIDR": sb.shape.pod_cidr, "serviceCIDR": sb.shape.service_cidr,
            "identities": list(allocation_range(sb)),
            "nodes": [{"name": n.name, "internalIP": n.internal_ip, "podCIDR": n.pod_cidr} for n in sb.shape.nodes]}


def endpoints(sb: Sandbox) -> list[Obj]:
    """The ipcache: every running pod on the pod network with its identity and labels."""
    engine = sb.dataplane.policy
    endpoint_of = getattr(engine, "endpoint", None)
    out = []
    for pod in sb.store.list("pods"):
        status, spec, meta = pod.get("status") or {}, pod.get("spec") or {}, pod["metadata"]
        if spec.get("hostNetwork") or not status.get("podIP") or status.get("phase") != "Running" or \
                meta.get("deletionTimestamp"):
            continue
        ns = meta.get("namespace", "default")
        ns_labels = ((sb.store.get("namespaces", "", ns) or {}).get("metadata") or {}).get("labels") or {}
        entry = {"ip": status["podIP"], "namespace": ns, "name": meta["name"], "node": spec.get("nodeName") or "",
                 "labels": meta.get("labels") or {}, "namespaceLabels": ns_labels,
                 "serviceAccount": spec.get("serviceAccountName") or "default"}
        if endpoint_of is not None:
            ep = endpoint_of(pod)
            entry["identity"] = ep.identity
            entry["securityLabels"] = sorted([list(label) for label in ep.labels])
        out.append(entry)
    return out


def services(sb: Sandbox) -> list[Obj]:
    """The global Services this cluster shares, with their backends as its EndpointSlices have them."""
    out = []
    for svc in sb.store.list("services"):
        if not is_shared(svc):
            continue
        meta, spec = svc["metadata"], svc.get("spec") or {}
        ns = meta.get("namespace", "default")
        own = [s for s in sb.store.list(SLICES, ns) if not is_mesh_slice(s)]  # never re-export another cluster's
        out.append({"namespace": ns, "name": meta["name"], "ports": spec.get("ports") or [],
                    "backends": [backend(e) for e in endpoints_of_slices(own, ns, meta["name"])]})
    return out


def service_exports(sb: Sandbox) -> list[Obj]:
    """What this cluster's operator publishes with MCS-API on: each valid ServiceExport as Cilium's
    MCSAPIServiceSpec (:func:`..controllers.mcs.remote.local_exports`)."""
    from ..controllers.mcs import remote

    return [e.to_json() for e in remote.local_exports(sb)]


def state(sb: Sandbox) -> Obj:
    """The member's exported state (see the module's docstring)."""
    return {"cluster": cluster(sb), "endpoints": endpoints(sb), "services": services(sb),
            "serviceExports": service_exports(sb)}
