"""karmada-scheduler: fills a ResourceBinding's ``spec.clusters`` from its placement.

Ported from pkg/scheduler/scheduler.go (doScheduleBinding, scheduleResourceBindingWithClusterAffinity,
patchScheduleResultForResourceBinding) and core/generic_scheduler.go:

- when: the placement differs from the one last applied (annotation ``policy.karmada.io/applied-placement``), the
  replicas no longer add up (util.IsBindingReplicasChanged), ``spec.rescheduleTriggeredAt`` is newer than the last
  schedule, a target cluster is being deleted, or always for a Duplicated or replica-less binding. A Divided
  binding is *not* moved when clusters join or change labels (upstream's "TODO: reschedule binding on cluster
  change"): change the policy, or trigger a reschedule;
- filter plugins: ClusterAffinity (division.cluster_matches) and TaintToleration (a NoSchedule or NoExecute taint
  the placement's ``clusterTolerations`` do not tolerate, unless the cluster already holds the binding); a cluster
  being deleted is skipped. APIEnablement and the other filters are not run (every member serves the same API);
- no fit: ``0/N clusters are available: <count> <reason>.`` (framework.FitError), and the (empty) result is
  still written, so the Works go; the condition ``Scheduled`` False with reason NoClusterFit;
- assignment: :func:`.division.assign`; what the sandbox does not schedule (dynamic weights, Aggregated, spread
  constraints, cluster affinity groups) leaves the binding as it was with ``Scheduled`` False, reason
  SchedulerError, and a Warning event naming it.

Each result is recorded as an Event on the binding and on its resource template (ScheduleBindingSucceed or
ScheduleBindingFailed), when it differs from the last one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..controllers import Controller, Key, same_key
from ..controllers import events as kube_events
from ..store import Event
from . import division

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
RB = "resourcebindings.work.karmada.io"
CLUSTERS = "clusters.cluster.karmada.io"
APPLIED_PLACEMENT = "policy.karmada.io/applied-placement"
COMPONENT = "karmada-scheduler"
SUCCESS_MESSAGE = "Binding has been scheduled successfully."
AFFINITY_REASON = "cluster(s) did not match the placement cluster affinity constraint"


def _taint_string(taint: Obj) -> str:
    """corev1.Taint.ToString: ``key=value:effect``, or ``key:effect`` without a value."""
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key', '')}{value}:{taint.get('effect', '')}"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """corev1 Toleration.ToleratesTaint (without the Lt/Gt operators)."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and toleration.get("value", "") == taint.get("value", "")


def filter_cluster(cluster: Obj, spec: Obj) -> str | None:
    """The filter plugins' verdict: None when the cluster fits, else the reason it does not."""
    placement = spec.get("placement") or {}
    if not division.cluster_matches(cluster, placement.get("clusterAffinity")):
        return AFFINITY_REASON
    name = cluster["metadata"]["name"]
    if any(c.get("name") == name for c in spec.get("clusters") or []):
        return None  # TaintToleration skips a cluster the binding is already on
    for taint in (cluster.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in placement.get("clusterTolerations") or []):
            return f"cluster(s) had untolerated taint {{{_taint_string(taint)}}}"
    return None


class NoClusterFit(Exception):
    """framework.FitError: no cluster passed the filters."""


def schedule(clusters: list[Obj], spec: Obj) -> list[Obj]:
    """genericScheduler.Schedule: the clusters that fit, then the replicas each gets.

    Raises:
        NoClusterFit: with FitError's message.
        division.Unsupported: the placement needs what the sandbox does not schedule.
    """
    live = sorted((c for c in clusters if not c["metadata"].get("deletionTimestamp")),
                  key=lambda c: c["metadata"]["name"])
    fit, reasons = [], {}
    for cluster in live:
        reason = filter_cluster(cluster, spec)
        if reason is None:
            fit.append(cluster)
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    if not fit:
        detail = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items())) if reasons and clusters \
            else "no cluster exists"
        raise NoClusterFit(f"0/{len(clusters)} clusters are available: {detail}.")
    return division.assign(fit, spec.get("placement"), int(spec.get("replicas") or 0),
                           (spec.get("resource") or {}).get("uid", ""))


def _replicas_changed(spec: Obj) -> bool:
    """util.IsBindingReplicasChanged."""
    placement = spec.get("placement") or {}
    replicas = int(spec.get("replicas") or 0)
    targets = spec.get("clusters") or []
    if division.strategy(placement) == "Duplicated":
        return any(int(t.get("replicas") or 0) != replicas for t in targets)
    if placement.get("replicaScheduling") and replicas:
        return sum(int(t.get("replicas") or 0) for t in targets) != replicas
    return False


def needs_schedule(rb: Obj, clusters: dict[str, Obj]) -> bool:
    """doScheduleBinding's questions, in its order."""
    spec = rb.get("spec") or {}
    applied = (rb["metadata"].get("annotations") or {}).get(APPLIED_PLACEMENT)
    try:
        if applied is None or json.loads(applied) != (spec.get("placement") or {}):
            return True
    except ValueError:
        return True
    if _replicas_changed(spec):
        return True
    triggered, last = spec.get("rescheduleTriggeredAt"), (rb.get("status") or {}).get("lastScheduledTime")
    if triggered and (not last or triggered > last):
        return True
    if not spec.get("replicas") or division.strategy(spec.get("placement")) == "Duplicated":
        return True
    return any(t.get("name") not in clusters or clusters[t["name"]]["metadata"].get("deletionTimestamp")
               for t in spec.get("clusters") or [])  # HasTerminatingTargetClusters (or one already gone)


def _condition(status: str, reason: str, message: str, now: str, generation: int) -> Obj:
    return {"type": "Scheduled", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": now, "observedGeneration": generation}


def _set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """meta.SetStatusCondition: the transition time moves only when the status does."""
    out = []
    found = False
    for c in conditions:
        if c.get("type") == new["type"]:
            found = True
            if c.get("status") == new["status"]:
                new = {**new, "lastTransitionTime": c.get("lastTransitionTime", new["lastTransitionTime"])}
            out.append(new)
        else:
            out.append(c)
    return out if found else [*out, new]


def _result_string(targets: list[Obj]) -> str:
    return "{" + ", ".join(f"{t['name']}:{t.get('replicas', 0)}" for t in targets) + "}"


def reconcile(sb: Sandbox, key: Key) -> float | None:
    rt = sb.registry.lookup("work.karmada.io", "v1alpha2", "resourcebindings")
    rb = sb.store.get(RB, *key)
    if rt is None or rb is None or rb["metadata"].get("deletionTimestamp"):
        return None
    clusters = {c["metadata"]["name"]: c for c in sb.store.list(CLUSTERS)}
    if not needs_schedule(rb, clusters):
        return None
    spec = rb.get("spec") or {}
    opts = WriteOptions(field_manager=COMPONENT)
    now = sb.api.now()
    generation = int(rb["metadata"].get("generation") or 0)
    try:
        targets: list[Obj] | None = schedule(list(clusters.values()), spec)
        condition = _condition("True", "Success", SUCCESS_MESSAGE, now, generation)
        event = ("Normal", "ScheduleBindingSucceed", f"{SUCCESS_MESSAGE} Result: {_result_string(targets or [])}")
    except NoClusterFit as exc:
        targets = []
        condition = _condition("False", "NoClusterFit", str(exc), now, generation)
        event = ("Warning", "ScheduleBindingFailed", str(exc))
    except (division.Unsupported, ValueError) as exc:
        targets = None
        condition = _condition("False", "SchedulerError", str(exc), now, generation)
        event = ("Warning", "ScheduleBindingFailed", str(exc))
    if targets is not None:
        updated = copy.deepcopy(rb)
        updated["metadata"].setdefault("annotations", {})[APPLIED_PLACEMENT] = json.dumps(
            spec.get("placement") or {}, separators=(",", ":"))
        if targets:
            updated["spec"]["clusters"] = targets
        else:
            updated["spec"].pop("clusters", None)
        if updated != rb:
            rb = sb.api.update(rt, key[0], key[1], updated, opts)
    status = copy.deepcopy(rb.get("status") or {})
    before = next((c for c in status.get("conditions") or [] if c.get("type") == "Scheduled"), None)
    status["conditions"] = _set_condition(status.get("conditions") or [], condition)
    status["schedulerObservedGeneration"] = int(rb["metadata"].get("generation") or 0)
    if targets is not None:
        status["lastScheduledTime"] = now if before is None or before.get("message") != condition["message"] or \
            (rb.get("status") or {}).get("lastScheduledTime") is None else rb["status"]["lastScheduledTime"]
    if status != (rb.get("status") or {}):
        sb.api.update(rt, key[0], key[1], {**rb, "status": status}, opts, "status")
    last = (before or {}).get("status"), (before or {}).get("message")
    if last != (condition["status"], condition["message"]) or (targets is not None and _changed_targets(rb, spec)):
        _record(sb, rb, *event)
    return None


def _changed_targets(rb: Obj, old_spec: Obj) -> bool:
    return (rb.get("spec") or {}).get("clusters") != old_spec.get("clusters")


def _record(sb: Sandbox, rb: Obj, type_: str, reason: str, message: str) -> None:
    """recordScheduleResultEventForResourceBinding: on the binding and on its resource template."""
    kube_events.record(sb, rb, reason, message, COMPONENT, type_=type_)
    ref = (rb.get("spec") or {}).get("resource") or {}
    template = {"apiVersion": ref.get("apiVersion"), "kind": ref.get("kind"),
                "metadata": {"namespace": ref.get("namespace"), "name": ref.get("name"), "uid": ref.get("uid")}}
    if ref.get("name"):
        kube_events.record(sb, template, reason, message, COMPONENT, type_=type_)


def _cluster_events(sb: Sandbox, event: Event) -> Iterable[Key]:
    """A cluster joined, left, or changed what the filters read (labels, spec, deletion): every binding."""
    def seen(c: Obj | None) -> Any:
        if c is None:
            return None
        return (c["metadata"].get("labels"), c.get("spec"), c["metadata"].get("deletionTimestamp"))
    if event.type == "MODIFIED" and seen(event.obj) == seen(event.old):
        return []
    return [(rb["metadata"]["namespace"], rb["metadata"]["name"]) for rb in sb.store.list(RB)]


def controller(sb: Sandbox) -> Controller:
    return Controller("karmada-scheduler", reconcile, {RB: same_key, CLUSTERS: _cluster_events})
