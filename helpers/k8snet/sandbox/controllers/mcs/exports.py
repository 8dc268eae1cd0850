"""Cilium's ServiceImport reconciler: the local ServiceExport's status and the merged ServiceImport.

pkg/clustermesh/mcsapi/serviceimport_controller.go (mcsAPIServiceImportReconciler.Reconcile), for the key
``<namespace>/<name>`` of a ServiceExport, ServiceImport or Service:

1. the namespace is gone: nothing; a namespace that is not global (annotation ``clustermesh.cilium.io/global:
   "false"``): the local export is invalid (``NamespaceNotGlobal``, "Namespace is not global, Service cannot be
   exported") and left out;
2. no peer exports the name and there is no local ServiceExport: the ServiceImport is deleted;
3. the local export's Service is missing: Valid False ``NoService`` "Service doesn't exist"; an ExternalName
   Service: Valid False ``InvalidServiceType`` "Service type ExternalName is not supported"; either way Ready
   False ``Pending`` "ServiceExport is not valid", Conflict removed, and nothing more is done (an existing
   ServiceImport stays until the export is deleted);
4. else every export is merged (:mod:`.merge`): the local export gets Valid True ``Valid`` "ServiceExport is
   valid", Ready True ``Ready`` "ServiceExport is ready" and Conflict False ``NoConflicts`` "ServiceExport has no
   conflicts" (or True with the merge's reason and message); the ServiceImport gets the merged spec (its ``ips``
   are the derived Service's, :mod:`.derived`), the oldest export's exported labels and annotations, the
   ``clustermesh.cilium.io/supported-ip-families`` annotation (the families this IPv4-only cluster can serve) and
   ``status.clusters`` oldest first, with Ready True ``Ready`` "ServiceImport is ready" once its derived Service
   is named on it, False ``Pending`` "Waiting for the derived Service to be created" until then.

Conditions follow meta.SetStatusCondition (lastTransitionTime moves with the status only). The ServiceImport has no
owner: it lives while some cluster exports the name.
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
    EXPORTS,
    IMPORTS,
    OPERATOR,
    SUPPORTED_IP_FAMILIES,
    Obj,
    cluster_name,
    enabled,
    every_key,
    is_global,
    on_config,
    remove_condition,
    rt,
    set_condition,
)
from .merge import NO_CONFLICTS, Merged, export_of, merge, valid_for_export
from .remote import RECONCILER, exports_for, names

if TYPE_CHECKING:
    from ...instance import Sandbox

LOCAL_FAMILIES = ("IPv4",)
"""The families the sandbox's clusters serve (enable-ipv4 true, enable-ipv6 false): filterSupportedIPFamilies."""


def controller(sb: Sandbox) -> Controller:
    def namespace_keys(sb: Sandbox, event: Event) -> Iterable[Key]:
        ns = event.obj["metadata"]["name"]
        keys = {k for r in (EXPORTS, IMPORTS) for k in every_key(sb, r) if k[0] == ns}
        return sorted(keys | {k for k in names(sb) if k[0] == ns})

    return Controller(RECONCILER, reconcile, {
        EXPORTS: same_key, IMPORTS: same_key, "services": same_key, "namespaces": namespace_keys,
        "configmaps": on_config(EXPORTS, IMPORTS)})


def reconcile(sb: Sandbox, key: Key) -> float | None:
    if not enabled(sb):
        return None
    ns, name = key
    ns_obj = sb.store.get("namespaces", "", ns)
    if ns_obj is None:
        return None
    now = sb.api.now()
    svc_import = sb.store.get(IMPORTS, ns, name)
    svc_export = sb.store.get(EXPORTS, ns, name)
    global_ns = is_global(sb, ns_obj)
    if not global_ns and svc_export is not None:
        _write_invalid(sb, svc_export, "NamespaceNotGlobal", "Namespace is not global, Service cannot be exported",
                       now)
        svc_export = None
    exports = exports_for(sb, ns, name)
    if not exports and svc_export is None:
        if svc_import is not None:
            sb.api.delete(rt(sb, "serviceimports"), ns, name)
        return None
    if svc_export is not None:
        service = sb.store.get("services", ns, name)
        if service is None:
            _write_invalid(sb, svc_export, "NoService", "Service doesn't exist", now)
            return None
        valid, reason, message = valid_for_export(service)
        if not valid:
            _write_invalid(sb, svc_export, reason, message, now)
            return None
        exports.append(export_of(service, svc_export, cluster_name(sb)))
    merged = merge(exports)
    if svc_export is not None:
        _write_valid(sb, svc_export, merged, now)
    _write_import(sb, ns, name, svc_import, merged, global_ns, now)
    return None


def _write_status(sb: Sandbox, plural: str, obj: Obj) -> None:
    meta = obj["metadata"]
    sb.api.update(rt(sb, plural), meta["namespace"], meta["name"], obj, WriteOptions(field_manager=OPERATOR),
                  "status")


def _write_invalid(sb: Sandbox, svc_export: Obj, reason: str, message: str, now: str) -> None:
    """setInvalidStatus."""
    updated = copy.deepcopy(svc_export)
    conditions = updated.setdefault("status", {}).setdefault("conditions", [])
    changed = set_condition(conditions, "Valid", "False", reason, message, now)
    changed = set_condition(conditions, "Ready", "False", "Pending", "ServiceExport is not valid", now) or changed
    changed = remove_condition(conditions, "Conflict") or changed
    if changed:
        _write_status(sb, "serviceexports", updated)


def _write_valid(sb: Sandbox, svc_export: Obj, merged: Merged, now: str) -> None:
    updated = copy.deepcopy(svc_export)
    conditions = updated.setdefault("status", {}).setdefault("conditions", [])
    changed = set_condition(conditions, "Valid", "True", "Valid", "ServiceExport is valid", now)
    changed = set_condition(conditions, "Ready", "True", "Ready", "ServiceExport is ready", now) or changed
    if merged.conflict_reason != NO_CONFLICTS:
        changed = set_condition(conditions, "Conflict", "True", merged.conflict_reason, merged.conflict_message,
                                now) or changed
    else:
        changed = set_condition(conditions, "Conflict", "False", NO_CONFLICTS, "ServiceExport has no conflicts",
                                now) or changed
    if changed:
        _write_status(sb, "serviceexports", updated)


def supported_families(families: list[str] | None) -> list[str]:
    """filterSupportedIPFamilies: the merged families this cluster serves, in their order; every family it serves
    when no export says (legacy clusters)."""
    if families is None:
        return list(LOCAL_FAMILIES)
    return [f for f in families if f in LOCAL_FAMILIES]


def _write_import(sb: Sandbox, ns: str, name: str, existing: Obj | None, merged: Merged, global_ns: bool,
                  now: str) -> None:
    """createOrUpdateServiceImport, then the status (clusters, Ready)."""
    oldest = merged.oldest
    annotations = dict(oldest.annotations)
    derived = ((existing or {}).get("metadata", {}).get("annotations") or {}).get(DERIVED_SERVICE)
    if derived is not None:
        annotations[DERIVED_SERVICE] = derived
    families = supported_families(merged.ip_families)
    annotations[SUPPORTED_IP_FAMILIES] = ",".join(families)
    spec = merged.spec()
    if existing is not None and (existing.get("spec") or {}).get("ips"):
        spec["ips"] = existing["spec"]["ips"]  # the reconciler edits the stored spec: the derived Service's IPs stay
    resource = rt(sb, "serviceimports")
    opts = WriteOptions(field_manager=OPERATOR)
    if existing is None:
        body: Obj = {"metadata": {"name": name, "annotations": annotations}, "spec": spec}
        if oldest.labels:
            body["metadata"]["labels"] = dict(oldest.labels)
        try:
            svc_import = sb.api.create(resource, ns, body, opts)
        except ApiError as exc:  # "Aborting reconciliation because namespace is being terminated"
            if exc.code == 403:
                return
            raise
    else:
        updated = copy.deepcopy(existing)
        meta = updated["metadata"]
        meta["annotations"] = annotations
        if oldest.labels:
            meta["labels"] = dict(oldest.labels)
        else:
            meta.pop("labels", None)
        updated["spec"] = spec
        svc_import = sb.api.update(resource, ns, name, updated, opts)
    status = copy.deepcopy(svc_import.get("status") or {})
    status["clusters"] = merged.clusters()
    conditions = status.setdefault("conditions", [])
    if not global_ns:
        set_condition(conditions, "Ready", "False", "NamespaceNotGlobal",
                      "Namespace is not global, service cannot be imported", now)
    elif not families:
        set_condition(conditions, "Ready", "False", "IPFamilyNotSupported",
                      "The local cluster does not support any of the ServiceImport IPFamilies", now)
    elif derived is not None:
        set_condition(conditions, "Ready", "True", "Ready", "ServiceImport is ready", now)
    else:
        set_condition(conditions, "Ready", "False", "Pending", "Waiting for the derived Service to be created", now)
    if status != (svc_import.get("status") or {}):
        _write_status(sb, "serviceimports", {**svc_import, "status": status})
