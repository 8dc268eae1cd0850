"""Cilium's derived Service: the ordinary Service behind each ServiceImport, which the data path load-balances.

pkg/clustermesh/mcsapi/service_controller.go (mcsAPIServiceReconciler.Reconcile), for each ServiceImport:

- the Service ``derived-<hash>`` (:func:`..mcs.derived_name`, mcs-api's derivedName) in its namespace, type
  ClusterIP, ``ipFamilyPolicy: PreferDualStack``, headless (``clusterIP: None``) when the import is Headless; a
  derived Service of the wrong headlessness is deleted and made again (a ClusterIP cannot be changed in place);
- no selector (its EndpointSlices are the mirrored local ones, :mod:`.mirror`, and the peers'), the import's ports
  (name, protocol, appProtocol, port), internalTrafficPolicy (Cluster by default) and trafficDistribution;
- owned by the ServiceImport (a controller reference: deleting the import deletes it);
- the import's annotations and labels, plus ``service.cilium.io/global: "true"`` (the data path serves it as a
  Cilium global Service) and ``multicluster.kubernetes.io/service-name: <import name>``;
- then the import gets ``multicluster.kubernetes.io/derived-service: <derived name>`` and ``spec.ips``: the derived
  Service's ClusterIPs in the order of the import's supported families (none when headless), patched as
  client.MergeFrom does;
- an import whose ``clustermesh.cilium.io/supported-ip-families`` is set and empty gets no derived Service (an
  existing one is deleted).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...store import Event
from .. import Controller, Key, same_key
from .common import (
    DERIVED_SERVICE,
    GLOBAL_SERVICE,
    GROUP,
    IMPORTS,
    LABEL_SERVICE_NAME,
    OPERATOR,
    SUPPORTED_IP_FAMILIES,
    VERSION,
    Obj,
    derived_name,
    enabled,
    on_config,
    rt,
)

if TYPE_CHECKING:
    from ...instance import Sandbox


def controller(sb: Sandbox) -> Controller:
    return Controller("mcsapi-derived-service", reconcile, {
        IMPORTS: same_key, "services": import_of_service, "configmaps": on_config(IMPORTS)})


def import_of_service(sb: Sandbox, event: Event) -> Iterable[Key]:
    """The ServiceImport that owns a Service (the derived one), else the Service's own name."""
    meta = event.obj["metadata"]
    for ref in meta.get("ownerReferences") or []:
        if ref.get("apiVersion") == f"{GROUP}/{VERSION}" and ref.get("kind") == "ServiceImport":
            return [(meta.get("namespace", ""), ref["name"])]
    return [(meta.get("namespace", ""), meta["name"])]


def desired_ips(svc: Obj) -> list[str]:
    """getDesiredIPs: the derived Service's ClusterIPs in the order of its supported families."""
    spec = svc.get("spec") or {}
    if spec.get("clusterIP") == "None":
        return []
    ips = list(spec.get("clusterIPs") or [ip for ip in [spec.get("clusterIP")] if ip])
    value = ((svc.get("metadata") or {}).get("annotations") or {}).get(SUPPORTED_IP_FAMILIES)
    if value is None:
        return ips
    out = []
    for family in [f.strip() for f in value.split(",") if f.strip()]:
        found = next((ip for ip in ips if (":" in ip) == (family == "IPv6")), None)
        if found is not None:
            out.append(found)
    return out


def reconcile(sb: Sandbox, key: Key) -> float | None:
    if not enabled(sb):
        return None
    ns, name = key
    svc_import = sb.store.get(IMPORTS, ns, name)
    if svc_import is None:
        return None  # the garbage collector deletes a derived Service whose import is gone
    services = rt(sb, "services")
    derived = derived_name(ns, name)
    headless = (svc_import.get("spec") or {}).get("type") == "Headless"
    existing = sb.store.get("services", ns, derived)
    if existing is not None and headless != ((existing.get("spec") or {}).get("clusterIP") == "None"):
        sb.api.delete(services, ns, derived)
        existing = None
    annotations = (svc_import["metadata"].get("annotations") or {})
    if annotations.get(SUPPORTED_IP_FAMILIES, None) == "":
        if existing is not None:
            sb.api.delete(services, ns, derived)
        return None
    spec_in = svc_import.get("spec") or {}
    svc = copy.deepcopy(existing) if existing is not None else {
        "metadata": {"name": derived, "namespace": ns},
        "spec": {"type": "ClusterIP", **({"clusterIP": "None"} if headless else {})}}
    spec = svc["spec"]
    spec["ipFamilyPolicy"] = "PreferDualStack"
    spec.pop("selector", None)
    spec["ports"] = [_service_port(p) for p in spec_in.get("ports") or []]
    spec["internalTrafficPolicy"] = spec_in.get("internalTrafficPolicy") or "Cluster"
    if spec_in.get("trafficDistribution"):
        spec["trafficDistribution"] = spec_in["trafficDistribution"]
    else:
        spec.pop("trafficDistribution", None)
    meta = svc["metadata"]
    meta["ownerReferences"] = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ServiceImport", "name": name,
                                "uid": svc_import["metadata"]["uid"], "controller": True,
                                "blockOwnerDeletion": True}]
    meta["annotations"] = {**annotations, GLOBAL_SERVICE: "true"}
    meta["labels"] = {**(svc_import["metadata"].get("labels") or {}), LABEL_SERVICE_NAME: name}
    opts = WriteOptions(field_manager=OPERATOR)
    try:
        svc = sb.api.create(services, ns, svc, opts) if existing is None else \
            sb.api.update(services, ns, derived, svc, opts)
    except ApiError as exc:  # "Aborting reconciliation because namespace is being terminated"
        if exc.code == 403:
            return None
        raise
    _patch_import(sb, svc_import, derived, desired_ips(svc))
    return None


def _service_port(port: Obj) -> Obj:
    """servicePorts: a corev1.ServicePort from an MCS port (no targetPort: the API server defaults it to the
    port)."""
    out: Obj = {"port": port["port"], "protocol": port.get("protocol") or "TCP"}
    if port.get("name"):
        out["name"] = port["name"]
    if port.get("appProtocol") is not None:
        out["appProtocol"] = port["appProtocol"]
    return out


def _patch_import(sb: Sandbox, svc_import: Obj, derived: str, ips: list[str]) -> None:
    """patchServiceImport: the derived-service annotation and spec.ips, written only when they change."""
    annotations = svc_import["metadata"].get("annotations") or {}
    current = (svc_import.get("spec") or {}).get("ips") or []
    if annotations.get(DERIVED_SERVICE) == derived and current == ips:
        return
    patch: Obj = {"metadata": {"annotations": {DERIVED_SERVICE: derived}}}
    if current != ips:
        patch["spec"] = {"ips": ips or None}
    meta = svc_import["metadata"]
    sb.api.patch(rt(sb, "serviceimports"), meta["namespace"], meta["name"], "merge", patch,
                 WriteOptions(field_manager=OPERATOR))
