"""Work objects: the manifest a member cluster gets, and writing it into the cluster's execution namespace.

- pruning: pkg/resourceinterpreter/default/native/prune/prune.go ``RemoveIrrelevantFields`` (what the
  karmada-apiserver generated: uid, resourceVersion, generation, creationTimestamp, managedFields, owner
  references, finalizers, status; a Service's allocated clusterIP(s) unless headless; a Deployment's revision
  annotations);
- stamping: pkg/controllers/ctrlutil/work.go ``CreateOrUpdateWork`` (label ``karmada.io/managed: "true"``,
  annotations naming the Work and the template's UID, the managed-annotations/-labels records of
  pkg/util/annotation.go and label.go, the Work's permanent id);
- the Work: finalizer ``karmada.io/execution-controller``, its labels and annotations merged into an existing
  one, ``spec.workload.manifests`` replaced.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from . import division

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
GROUP, VERSION, PLURAL = "work.karmada.io", "v1alpha1", "works"
RESOURCE = "works.work.karmada.io"
MANAGER = "karmada-controller-manager"
EXECUTION_FINALIZER = "karmada.io/execution-controller"
MANAGED_LABEL = "karmada.io/managed"
WORK_ID_LABEL = "work.karmada.io/permanent-id"
WORK_NAME = "work.karmada.io/name"
WORK_NAMESPACE = "work.karmada.io/namespace"
TEMPLATE_UID = "resourcetemplate.karmada.io/uid"
MANAGED_ANNOTATIONS = "resourcetemplate.karmada.io/managed-annotations"
MANAGED_LABELS = "resourcetemplate.karmada.io/managed-labels"
CONFLICT_RESOLUTION = "work.karmada.io/conflict-resolution"
DEPLOYMENT_REVISION = ("deployment.kubernetes.io/revision", "deployment.kubernetes.io/revision-history")


def prune(obj: Obj) -> Obj:
    """RemoveIrrelevantFields: the template without what its API server generated."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    for field in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                  "managedFields", "resourceVersion", "selfLink", "uid", "ownerReferences", "finalizers"):
        meta.pop(field, None)
    out.pop("status", None)
    kind, spec = out.get("kind"), out.get("spec")
    if kind == "Deployment":
        for key in DEPLOYMENT_REVISION:
            (meta.get("annotations") or {}).pop(key, None)
    if kind == "Service" and isinstance(spec, dict) and "clusterIP" in spec and spec["clusterIP"] != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if kind == "Namespace" and isinstance(spec, dict):
        spec.pop("finalizers", None)
        if not spec:
            out.pop("spec")
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    return out


def _record_managed(obj: Obj) -> None:
    """RecordManagedAnnotations and RecordManagedLabels: which keys came from Karmada, so a later update can
    drop the ones the template no longer has and keep the member's own."""
    meta = obj["metadata"]
    annotations = meta.setdefault("annotations", {})
    keys = sorted({MANAGED_ANNOTATIONS, MANAGED_LABELS, *annotations})
    annotations[MANAGED_ANNOTATIONS] = ",".join(keys)
    labels = meta.get("labels") or {}
    if labels:
        annotations[MANAGED_LABELS] = ",".join(sorted(labels))


def stamp(workload: Obj, template_uid: str, work_name: str, work_namespace: str, work_id: str,
          conflict_resolution: str | None = None) -> Obj:
    """The manifest as CreateOrUpdateWork stores it."""
    out = copy.deepcopy(workload)
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})[MANAGED_LABEL] = "true"
    annotations = meta.setdefault("annotations", {})
    annotations[TEMPLATE_UID] = template_uid
    annotations[WORK_NAME] = work_name
    annotations[WORK_NAMESPACE] = work_namespace
    if conflict_resolution:
        annotations[CONFLICT_RESOLUTION] = conflict_resolution
    out = prune(out)
    meta = out["metadata"]
    meta.setdefault("annotations", {})
    _record_managed(out)  # SetLabelsAndAnnotationsForWorkload: managed annotations, the Work's id, managed labels
    meta.setdefault("labels", {})[WORK_ID_LABEL] = work_id
    meta["annotations"][MANAGED_LABELS] = ",".join(sorted(meta["labels"]))
    return out


def ensure(sb: Sandbox, cluster: str, workload: Obj, template_uid: str, labels: dict[str, str],
           annotations: dict[str, str], owner: Obj | None = None, conflict_resolution: str | None = None) -> Obj:
    """Create or update the Work for ``workload`` in ``karmada-es-<cluster>`` (CreateOrUpdateWork)."""
    rt = sb.registry.lookup(GROUP, VERSION, PLURAL)
    assert rt is not None
    meta = workload["metadata"]
    name = division.work_name(workload["kind"], meta["name"], meta.get("namespace", ""))
    ns = division.execution_namespace(cluster)
    existing = sb.store.get(RESOURCE, ns, name)
    work_id = ((existing or {}).get("metadata", {}).get("labels") or {}).get(WORK_ID_LABEL) or sb.api.new_uid()
    manifest = stamp(workload, template_uid, name, ns, work_id, conflict_resolution)
    opts = WriteOptions(field_manager=MANAGER)
    if existing is None:
        work_meta: Obj = {"name": name, "namespace": ns, "finalizers": [EXECUTION_FINALIZER],
                          "labels": {**labels, WORK_ID_LABEL: work_id}, "annotations": dict(annotations)}
        if owner is not None:
            work_meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                             "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                             "controller": True, "blockOwnerDeletion": True}]
        return sb.api.create(rt, ns, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Work", "metadata": work_meta,
                                      "spec": {"workload": {"manifests": [manifest]}}}, opts)
    if existing["metadata"].get("deletionTimestamp"):
        return existing
    updated = copy.deepcopy(existing)
    um = updated["metadata"]
    um["labels"] = {**(um.get("labels") or {}), **labels}
    um["annotations"] = {**(um.get("annotations") or {}), **annotations}
    if EXECUTION_FINALIZER not in (um.get("finalizers") or []):
        um["finalizers"] = [*(um.get("finalizers") or []), EXECUTION_FINALIZER]
    updated["spec"] = {**(existing.get("spec") or {}), "workload": {"manifests": [manifest]}}
    if updated == existing:
        return existing
    return sb.api.update(rt, ns, name, updated, opts)


def remove(sb: Sandbox, work: Obj) -> None:
    """Delete a Work (its finalizer keeps it until the execution controller has removed the member's copy)."""
    from ..apiserver import DeleteOptions
    from ..errors import ApiError

    rt = sb.registry.lookup(GROUP, VERSION, PLURAL)
    assert rt is not None
    if work["metadata"].get("deletionTimestamp"):
        return
    try:
        sb.api.delete(rt, work["metadata"]["namespace"], work["metadata"]["name"], DeleteOptions())
    except ApiError as exc:
        if exc.code != 404:
            raise
