"""Remote endpoints as EndpointSlices: Cilium's Cluster Mesh EndpointSlice synchronization, for headless Services.

A global Service's remote backends live in Cilium's own load balancer, not in the API: nothing outside Cilium
sees them. For the Services that need them visible — headless ones, whose DNS answers are their endpoints —
Cilium's operator writes one EndpointSlice per remote cluster, labelled ``endpointslice.kubernetes.io/managed-by:
endpointslice-mesh-controller.cilium.io`` (Documentation/network/clustermesh/global-services.rst "Synchronizing
Kubernetes EndpointSlice": on by default for global headless Services, opt-out with
``service.cilium.io/global-sync-endpoint-slices: "false"``). The derived Service of a headless ServiceImport is
such a Service, so its remote endpoints reach CoreDNS's ``clusterset.local`` answers this way.

A Service that is not headless is synchronized when it opts in (the same annotation set to ``"true"``), for the
controllers and tools that read EndpointSlices; the load balancer leaves those slices out, as Cilium's agents do
(:data:`..dataplane.proxy.MESH_SLICES`), since it balances over the remote backends already.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..dataplane.globalservices import is_global
from ..dataplane.proxy import MESH_SLICES, is_mesh_slice
from ..errors import ApiError

if TYPE_CHECKING:
    from ..instance import Sandbox
    from . import Remote

Obj = dict[str, Any]
SLICES = "endpointslices.discovery.k8s.io"
MANAGED_BY, MESH_CONTROLLER = MESH_SLICES
SERVICE_NAME = "kubernetes.io/service-name"
SYNC = "service.cilium.io/global-sync-endpoint-slices"
MCS_SERVICE_NAME = "multicluster.kubernetes.io/service-name"
SOURCE_CLUSTER = "multicluster.kubernetes.io/source-cluster"
OPERATOR = "cilium-operator"


def synced(svc: Obj) -> bool:
    """A global Service whose remote backends get slices: a headless one unless it opts out, another one when it
    opts in (Cilium's operator: on by default for headless Services only)."""
    spec, meta = svc.get("spec") or {}, svc["metadata"]
    value = ((meta.get("annotations") or {}).get(SYNC) or "").strip().lower()
    headless = spec.get("clusterIP") == "None"
    return is_global(svc) and (value != "false" if headless else value == "true")


def desired(sb: Sandbox, remotes: list[Remote]) -> dict[tuple[str, str], Obj]:
    """The mesh slices there should be: (namespace, name) → body."""
    out: dict[tuple[str, str], Obj] = {}
    for svc in sb.store.list("services"):
        if not synced(svc):
            continue
        meta = svc["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        for remote in remotes:
            shared = remote.services.get((ns, name))
            if not shared or not shared.get("backends"):
                continue
            backends = shared["backends"]
            ports = {tuple(p) for b in backends for p in b["ports"]}
            labels = {SERVICE_NAME: name, MANAGED_BY: MESH_CONTROLLER, SOURCE_CLUSTER: remote.cluster_name}
            if (meta.get("labels") or {}).get(MCS_SERVICE_NAME):
                labels[MCS_SERVICE_NAME] = meta["labels"][MCS_SERVICE_NAME]
            endpoints = []
            for b in sorted(backends, key=lambda b: b["ip"]):
                ep: Obj = {"addresses": [b["ip"]], "conditions": {"ready": b["ready"], "serving": b["serving"],
                                                                  "terminating": b["terminating"]}}
                if b.get("hostname"):
                    ep["hostname"] = b["hostname"]
                endpoints.append(ep)
            owner = {"apiVersion": "v1", "kind": "Service", "name": name, "uid": meta.get("uid", ""),
                     "controller": True, "blockOwnerDeletion": True}
            slice_name = f"{name}-{remote.cluster_name}"[:253]
            out[(ns, slice_name)] = {
                "metadata": {"name": slice_name, "namespace": ns, "labels": labels, "ownerReferences": [owner]},
                "addressType": "IPv4", "endpoints": endpoints,
                "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in sorted(ports)]}
    return out


def sync(sb: Sandbox, remotes: list[Remote]) -> None:
    """Create, update and delete the mesh slices so that they are what the remotes export now."""
    from ..apiserver import WriteOptions

    resource = sb.registry.lookup("discovery.k8s.io", "v1", "endpointslices")
    if resource is None:
        return
    want = desired(sb, remotes)
    opts = WriteOptions(field_manager=OPERATOR)
    have = {(s["metadata"].get("namespace", ""), s["metadata"]["name"]): s for s in sb.store.list(SLICES)
            if is_mesh_slice(s)}
    try:
        with sb.store.batch():
            for key in sorted(set(have) - set(want)):
                sb.api.delete(resource, key[0], key[1])
            for key, body in sorted(want.items()):
                existing = have.get(key)
                if existing is None:
                    sb.api.create(resource, key[0], body, opts)
                elif any(existing.get(k) != body.get(k) for k in ("endpoints", "ports")) or \
                        existing["metadata"].get("labels") != body["metadata"]["labels"]:
                    updated = copy.deepcopy(existing)
                    updated["metadata"]["labels"] = body["metadata"]["labels"]
                    updated["endpoints"], updated["ports"] = body["endpoints"], body["ports"]
                    sb.api.update(resource, key[0], key[1], updated, opts)
    except ApiError as exc:  # a namespace being deleted refuses new slices: the next sync catches up
        if exc.code not in (403, 404, 409):
            raise
