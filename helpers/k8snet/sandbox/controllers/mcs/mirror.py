"""Cilium's EndpointSlice mirror: the local endpoints of an exported Service, copied onto its derived Service.

pkg/clustermesh/mcsapi/endpointslice_mirror_controller.go (mcsAPIEndpointSliceMirrorReconciler), for each local
EndpointSlice (labelled ``kubernetes.io/service-name``, not managed by this mirror nor by Cilium's cluster-mesh
EndpointSlice sync):

- mirrored while a ServiceExport of its Service exists, the derived Service exists, the slice's address type is
  one of the derived Service's supported families and at least one of its ports survives the filter (a port the
  derived Service has under the same name with the same number and protocol as the local Service's: a port in
  conflict is left out, so traffic for it never reaches this cluster);
- the mirror is named ``<derived Service>-<the slice's name without its Service's prefix>``, owned by the derived
  Service (controller reference), labelled with the derived Service's labels plus
  ``multicluster.kubernetes.io/service-name: <Service>``, ``kubernetes.io/service-name: <derived Service>``,
  ``multicluster.kubernetes.io/source-cluster: <cluster-name>``, ``endpointslice.kubernetes.io/managed-by:
  endpointslice-local-mcsapi-controller.cilium.io`` and ``service.cilium.io/local-endpointslice: <slice>``; its
  endpoints are the local slice's, its ports the filtered ones;
- otherwise (and when the local slice goes) its mirrors are deleted.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...store import Event
from .. import Controller, Key
from .common import (
    EXPORTS,
    GROUP,
    LABEL_SERVICE_NAME,
    LABEL_SOURCE_CLUSTER,
    OPERATOR,
    SLICES,
    SUPPORTED_IP_FAMILIES,
    VERSION,
    Obj,
    cluster_name,
    derived_name,
    enabled,
)

if TYPE_CHECKING:
    from ...instance import Sandbox

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SERVICE_NAME = "kubernetes.io/service-name"
MIRROR_CONTROLLER = "endpointslice-local-mcsapi-controller.cilium.io"
MESH_CONTROLLER = "endpointslice-mesh-controller.cilium.io"
"""Cilium's cluster-mesh EndpointSlice sync (pkg/k8s/utils EndpointSliceMeshControllerName): remote endpoints."""
LOCAL_SLICE = "service.cilium.io/local-endpointslice"
MAX_NAME = 253


def controller(sb: Sandbox) -> Controller:
    return Controller("mcsapi-endpointslice-mirror", reconcile, {
        SLICES: slice_keys, EXPORTS: service_slices, "services": service_slices,
        "configmaps": lambda sb, e: [(s["metadata"]["namespace"], s["metadata"]["name"])
                                     for s in sb.store.list(SLICES)] if e.obj["metadata"]["name"] == "cilium-config"
        else []})


def slice_keys(sb: Sandbox, event: Event) -> Iterable[Key]:
    """endpointSliceMirrorRequests: a mirror maps to its local slice, a mesh slice to nothing."""
    meta = event.obj["metadata"]
    labels = meta.get("labels") or {}
    managed = labels.get(MANAGED_BY)
    if managed == MESH_CONTROLLER:
        return []
    if managed == MIRROR_CONTROLLER:
        local = labels.get(LOCAL_SLICE)
        return [(meta["namespace"], local)] if local else []
    return [(meta["namespace"], meta["name"])]


def service_slices(sb: Sandbox, event: Event) -> Iterable[Key]:
    """The local slices of the Service an export or Service event names (a derived Service: its import's)."""
    meta = event.obj["metadata"]
    name = meta["name"]
    for ref in meta.get("ownerReferences") or []:
        if ref.get("apiVersion") == f"{GROUP}/{VERSION}" and ref.get("kind") == "ServiceImport":
            name = ref["name"]
    return [k for s in sb.store.list(SLICES, meta["namespace"])
            if (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name
            for k in slice_keys(sb, Event("ADDED", SLICES, s, 0))]


def mirror_name(local: Obj) -> str:
    """getLocalDerivedEndpointSliceKey: the derived Service's name and the local slice's suffix."""
    meta = local["metadata"]
    service = meta["labels"][SERVICE_NAME]
    suffix = meta["name"].removeprefix(service).lstrip("-.")
    return (derived_name(meta["namespace"], service) + "-" + suffix).rstrip("-")


def reconcile(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    local = sb.store.get(SLICES, ns, name)
    labels = ((local or {}).get("metadata") or {}).get("labels") or {}
    if local is not None and (labels.get(MANAGED_BY) in (MESH_CONTROLLER, MIRROR_CONTROLLER)
                              or not labels.get(SERVICE_NAME)):
        local = None
    if not enabled(sb):
        return None
    if local is None:
        _cleanup(sb, ns, name, keep=None)
        return None
    service_name = labels[SERVICE_NAME]
    derived = sb.store.get("services", ns, derived_name(ns, service_name))
    if derived is None:
        return None  # made once the derived Service exists (its event requeues this slice)
    ports = _filtered_ports(sb, local, derived) if _should_mirror(sb, local, derived) else []
    if not ports:
        _cleanup(sb, ns, name, keep=None)
        return None
    target = mirror_name(local)
    if len(target) > MAX_NAME:
        return None  # Cilium shortens such names with a hash (pkg/shortener); not emulated
    _cleanup(sb, ns, name, keep=target)
    desired = _desired(sb, local, derived, ports, target)
    resource = sb.registry.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert resource is not None
    existing = sb.store.get(SLICES, ns, target)
    opts = WriteOptions(field_manager=OPERATOR)
    try:
        if existing is None:
            sb.api.create(resource, ns, desired, opts)
        elif any(existing.get(k) != desired.get(k) for k in ("addressType", "endpoints", "ports")) or \
                existing["metadata"].get("labels") != desired["metadata"]["labels"] or \
                existing["metadata"].get("ownerReferences") != desired["metadata"]["ownerReferences"]:
            updated = copy.deepcopy(existing)
            updated["metadata"]["labels"] = desired["metadata"]["labels"]
            updated["metadata"]["ownerReferences"] = desired["metadata"]["ownerReferences"]
            for k in ("addressType", "endpoints", "ports"):
                updated[k] = desired[k]
            sb.api.update(resource, ns, target, updated, opts)
    except ApiError as exc:  # "Aborting reconciliation because namespace is being terminated"
        if exc.code != 403:
            raise
    return None


def _should_mirror(sb: Sandbox, local: Obj, derived: Obj) -> bool:
    """shouldMirrorLocalEndpointSlice: the Service is exported and the slice's family is served."""
    if sb.store.get(EXPORTS, local["metadata"]["namespace"], local["metadata"]["labels"][SERVICE_NAME]) is None:
        return False
    value = (derived["metadata"].get("annotations") or {}).get(SUPPORTED_IP_FAMILIES)
    families = [f.strip() for f in value.split(",") if f.strip()] if value is not None else \
        (derived.get("spec") or {}).get("ipFamilies") or []
    return local.get("addressType", "IPv4") in families


def _filtered_ports(sb: Sandbox, local: Obj, derived: Obj) -> list[Obj]:
    """getFilteredPorts: the slice's ports whose name the derived Service has with the local Service's number and
    protocol."""
    service = sb.store.get("services", local["metadata"]["namespace"], local["metadata"]["labels"][SERVICE_NAME])
    if service is None:
        return copy.deepcopy(local.get("ports") or [])
    local_ports = {p.get("name") or "": p for p in (service.get("spec") or {}).get("ports") or []}
    derived_ports = {p.get("name") or "": p for p in (derived.get("spec") or {}).get("ports") or []}
    out = []
    for port in local.get("ports") or []:
        name = port.get("name") or ""
        mine, theirs = local_ports.get(name) or {}, derived_ports.get(name)
        if theirs is None:
            continue
        if mine.get("port") != theirs.get("port") or mine.get("protocol", "TCP") != theirs.get("protocol", "TCP"):
            continue
        out.append(copy.deepcopy(port))
    return out


def _desired(sb: Sandbox, local: Obj, derived: Obj, ports: list[Obj], name: str) -> Obj:
    meta = local["metadata"]
    labels = {**(derived["metadata"].get("labels") or {}),
              LABEL_SERVICE_NAME: meta["labels"][SERVICE_NAME], SERVICE_NAME: derived["metadata"]["name"],
              LABEL_SOURCE_CLUSTER: cluster_name(sb), MANAGED_BY: MIRROR_CONTROLLER, LOCAL_SLICE: meta["name"]}
    owner = {"apiVersion": "v1", "kind": "Service", "name": derived["metadata"]["name"],
             "uid": derived["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    return {"metadata": {"name": name, "namespace": meta["namespace"], "labels": labels, "ownerReferences": [owner]},
            "addressType": local.get("addressType", "IPv4"), "endpoints": copy.deepcopy(local.get("endpoints") or []),
            "ports": ports}


def _cleanup(sb: Sandbox, ns: str, local: str, keep: str | None) -> None:
    """getAndCleanupDerivedEndpointSlice: delete this slice's mirrors but ``keep``."""
    resource = sb.registry.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert resource is not None
    for s in sb.store.list(SLICES, ns):
        labels = s["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY) == MIRROR_CONTROLLER and labels.get(LOCAL_SLICE) == local and \
                s["metadata"]["name"] != keep:
            try:
                sb.api.delete(resource, ns, s["metadata"]["name"])
            except ApiError as exc:
                if exc.code != 404:
                    raise
