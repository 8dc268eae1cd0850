"""karmada-controller-manager's binding controller and binding status controller.

- binding (pkg/controllers/binding/binding_controller.go, common.go ensureWork): for each cluster of
  ``spec.clusters`` a Work in ``karmada-es-<cluster>`` holding the template with its replicas revised to that
  cluster's share (ReviseReplica: ``spec.replicas`` of a Deployment, StatefulSet or ReplicaSet, a Job's
  ``parallelism``), the binding's permanent-id label and name annotations, and the template's generation
  (``resourcetemplate.karmada.io/generation``); Works of clusters no longer scheduled go (removeOrphanWorks).
  A binding being deleted has its Works deleted, then loses its finalizer ``karmada.io/binding-controller``.
- status (pkg/controllers/status/rb_status_controller.go, pkg/util/helper/workstatus.go
  AggregateResourceBindingWorkStatus): ``status.aggregatedStatus`` one item per Work (cluster name, applied, its
  reflected status and health), sorted by cluster; the condition ``FullyApplied``; then the template's own status
  on the Karmada API: a Deployment's replicas, ready, updated, available and unavailable replicas summed over the
  members, and ``observedGeneration`` the template's generation once every member has caught up
  (pkg/resourceinterpreter/default/native/aggregatestatus.go aggregateDeploymentStatus).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..controllers import Controller, Key, same_key
from ..store import Event
from . import division, works
from .detector import BINDING_FINALIZER, RB, RB_ID_LABEL, template_types

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
MANAGER = "karmada-controller-manager"
RB_NAME, RB_NAMESPACE = "resourcebinding.karmada.io/name", "resourcebinding.karmada.io/namespace"
TEMPLATE_GENERATION = "resourcetemplate.karmada.io/generation"
FULLY_APPLIED = "FullyApplied"
FULLY_APPLIED_SUCCESS = ("FullyAppliedSuccess", "All works have been successfully applied")
FULLY_APPLIED_FAILED = ("FullyAppliedFailed", "Failed to apply all works, see status.aggregatedStatus for details")
DEPLOYMENT_SUMS = ("replicas", "readyReplicas", "updatedReplicas", "availableReplicas", "unavailableReplicas")


def _rb_rt(sb: Sandbox) -> Any:
    rt = sb.registry.lookup("work.karmada.io", "v1alpha2", "resourcebindings")
    assert rt is not None
    return rt


def works_of(sb: Sandbox, rb: Obj) -> list[Obj]:
    """GetWorksByBindingID: the Works labelled with the binding's permanent id."""
    rb_id = (rb["metadata"].get("labels") or {}).get(RB_ID_LABEL)
    return [w for w in sb.store.list(works.RESOURCE)
            if rb_id and (w["metadata"].get("labels") or {}).get(RB_ID_LABEL) == rb_id]


def template_of(sb: Sandbox, rb: Obj) -> tuple[Any, Obj | None]:
    ref = (rb.get("spec") or {}).get("resource") or {}
    group = ref.get("apiVersion", "").rpartition("/")[0]
    rt = next((t for t in template_types(sb) if t.kind == ref.get("kind") and t.group == group), None)
    if rt is None:
        return None, None
    obj = sb.store.get(rt.group_resource, ref.get("namespace", ""), ref.get("name", ""))
    return rt, sb.api.view(rt, obj) if obj is not None else None


def revise_replicas(workload: Obj, replicas: int) -> Obj:
    """The default interpreter's ReviseReplica (revisereplica.go)."""
    out = copy.deepcopy(workload)
    kind = out.get("kind")
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        out.setdefault("spec", {})["replicas"] = replicas
    elif kind == "Job":
        out.setdefault("spec", {})["parallelism"] = replicas
    return out


def reconcile_binding(sb: Sandbox, key: Key) -> float | None:
    rb = sb.store.get(RB, *key)
    if rb is None:
        return None
    if rb["metadata"].get("deletionTimestamp"):
        remaining = works_of(sb, rb)
        for work in remaining:
            works.remove(sb, work)
        if remaining:
            return 0.2  # the execution controller removes the members' copies first
        if BINDING_FINALIZER in (rb["metadata"].get("finalizers") or []):
            updated = copy.deepcopy(rb)
            updated["metadata"]["finalizers"] = [f for f in rb["metadata"]["finalizers"] if f != BINDING_FINALIZER]
            sb.api.update(_rb_rt(sb), key[0], key[1], updated, WriteOptions(field_manager=MANAGER))
        return None
    spec = rb.get("spec") or {}
    targets = {t["name"]: t for t in spec.get("clusters") or []}
    for work in works_of(sb, rb):  # removeOrphanWorks
        if division.cluster_of(work["metadata"]["namespace"]) not in targets:
            works.remove(sb, work)
    _, template = template_of(sb, rb)
    if template is None or not targets:
        return None
    meta = template["metadata"]
    rb_id = (rb["metadata"].get("labels") or {}).get(RB_ID_LABEL, "")
    workload = copy.deepcopy(template)
    wmeta = workload["metadata"]
    wmeta.setdefault("labels", {})[RB_ID_LABEL] = rb_id  # mergeLabel
    annotations = wmeta.setdefault("annotations", {})
    if meta.get("generation"):
        annotations[TEMPLATE_GENERATION] = str(meta["generation"])  # mergeAnnotations
    annotations[RB_NAMESPACE] = key[0]
    annotations[RB_NAME] = key[1]
    resolution = "overwrite" if spec.get("conflictResolution") == "Overwrite" else "abort"  # mergeConflictResolution
    for cluster, target in sorted(targets.items()):
        if cluster not in {c["metadata"]["name"] for c in sb.store.list("clusters.cluster.karmada.io")}:
            continue
        manifest = revise_replicas(workload, int(target.get("replicas") or 0)) if spec.get("replicas") else workload
        works.ensure(sb, cluster, manifest, meta.get("uid", ""), {RB_ID_LABEL: rb_id},
                     {RB_NAMESPACE: key[0], RB_NAME: key[1]}, conflict_resolution=resolution)
    return None


def aggregate(sb: Sandbox, rb: Obj) -> list[Obj]:
    """assembleWorkStatus: one item per live Work of the binding."""
    ref = (rb.get("spec") or {}).get("resource") or {}
    group, _, version = ref.get("apiVersion", "").rpartition("/")
    items = []
    for work in works_of(sb, rb):
        if work["metadata"].get("deletionTimestamp"):
            continue
        cluster = division.cluster_of(work["metadata"]["namespace"]) or ""
        status = work.get("status") or {}
        applied = next((c for c in status.get("conditions") or [] if c.get("type") == "Applied"), None)
        if applied is None or applied.get("status") != "True":
            item: Obj = {"clusterName": cluster, "applied": False, "health": "Unknown"}
            if applied is not None and applied.get("message"):
                item["appliedMessage"] = applied["message"]
            items.append(item)
            continue
        item = {"clusterName": cluster, "applied": True, "health": "Unknown"}
        for ms in status.get("manifestStatuses") or []:
            ident = ms.get("identifier") or {}
            if (ident.get("ordinal"), ident.get("group", ""), ident.get("version"), ident.get("kind"),
                    ident.get("namespace", ""), ident.get("name")) == \
                    (0, group, version, ref.get("kind"), ref.get("namespace", ""), ref.get("name")):
                if ms.get("status") is not None:
                    item["status"] = ms["status"]
                item["health"] = ms.get("health") or "Unknown"
                break
        items.append(item)
    return sorted(items, key=lambda i: i["clusterName"])


def reconcile_status(sb: Sandbox, key: Key) -> float | None:
    rb = sb.store.get(RB, *key)
    if rb is None or rb["metadata"].get("deletionTimestamp"):
        return None
    items = aggregate(sb, rb)
    clusters = {t["name"] for t in (rb.get("spec") or {}).get("clusters") or []}
    applied = {i["clusterName"] for i in items if i["applied"]}
    reason, message = FULLY_APPLIED_SUCCESS if clusters and clusters <= applied else FULLY_APPLIED_FAILED
    status = copy.deepcopy(rb.get("status") or {})
    if items:
        status["aggregatedStatus"] = items
    else:
        status.pop("aggregatedStatus", None)
    cond_status = "True" if reason == FULLY_APPLIED_SUCCESS[0] else "False"
    conditions = status.get("conditions") or []
    old = next((c for c in conditions if c.get("type") == FULLY_APPLIED), None)
    new = {"type": FULLY_APPLIED, "status": cond_status, "reason": reason, "message": message,
           "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == cond_status
           else sb.api.now()}
    status["conditions"] = [c for c in conditions if c.get("type") != FULLY_APPLIED] + [new]
    if status != (rb.get("status") or {}):
        sb.api.update(_rb_rt(sb), key[0], key[1], {**rb, "status": status}, WriteOptions(field_manager=MANAGER),
                      "status")
    _aggregate_template(sb, rb, items)
    return None


def _aggregate_template(sb: Sandbox, rb: Obj, items: list[Obj]) -> None:
    """AggregateStatus of the resource template (Deployments; other kinds keep their own status)."""
    rt, template = template_of(sb, rb)
    if template is None or template.get("kind") != "Deployment":
        return
    old = template.get("status") or {}
    new = {f: 0 for f in DEPLOYMENT_SUMS}
    caught_up = 0
    for item in items:
        member = item.get("status")
        if member is None:
            continue
        for f in DEPLOYMENT_SUMS:
            new[f] += int(member.get(f) or 0)
        if int(member.get("observedGeneration") or 0) >= int(member.get("generation") or 0) and \
                int(member.get("resourceTemplateGeneration") or 0) >= int(template["metadata"].get("generation") or 0):
            caught_up += 1
    generation = old.get("observedGeneration")
    if caught_up == len(items):
        generation = template["metadata"].get("generation")
    status = {**old, **{f: v for f, v in new.items()}}
    if generation is not None:
        status["observedGeneration"] = generation
    status = {k: v for k, v in status.items() if v not in (0, None) or k == "observedGeneration"}
    if status == old:
        return
    meta = template["metadata"]
    sb.api.update(rt, meta.get("namespace", ""), meta["name"], {**template, "status": status},
                  WriteOptions(field_manager=MANAGER), "status")


def _work_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    annotations = event.obj["metadata"].get("annotations") or {}
    if annotations.get(RB_NAME):
        return [(annotations.get(RB_NAMESPACE, ""), annotations[RB_NAME])]
    return []


def _cluster_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [(rb["metadata"]["namespace"], rb["metadata"]["name"]) for rb in sb.store.list(RB)]


def _template_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    """A template changed (a new image, a scale): its binding's Works follow."""
    meta = event.obj["metadata"]
    if event.resource in (RB, works.RESOURCE) or not meta.get("namespace"):
        return []
    kind = event.obj.get("kind") or ""
    if not kind:
        return []
    return [(meta["namespace"], division.binding_name(kind, meta["name"]))]


def controllers(sb: Sandbox) -> list[Controller]:
    from ..controllers import ANY_RESOURCE

    return [Controller("karmada-binding", reconcile_binding,
                       {RB: same_key, "clusters.cluster.karmada.io": _cluster_events, ANY_RESOURCE: _template_events}),
            Controller("karmada-binding-status", reconcile_status, {RB: same_key, works.RESOURCE: _work_events})]
