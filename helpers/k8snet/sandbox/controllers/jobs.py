"""The Job controller (pkg/controller/job): run a Job's pods to completion, count them, finish the Job.

NonIndexed Jobs: up to ``parallelism`` pods at once until ``completions`` have succeeded (or, without
``completions``, until one succeeds: the work-queue pattern). Failed pods (and, with ``restartPolicy:
OnFailure``, container restarts) count against ``backoffLimit``; a replacement waits out the controller's
back-off (10 s doubling, at most 6 min). ``activeDeadlineSeconds`` ends a Job that runs too long;
``ttlSecondsAfterFinished`` deletes a finished one. A finished Job gets the conditions 1.33 writes:
``SuccessCriteriaMet`` then ``Complete`` (CompletionsReached), or ``FailureTarget`` then ``Failed``
(BackoffLimitExceeded, DeadlineExceeded), with the controller's events. Indexed completion, pod failure and
success policies, and suspension are stored but not acted on: the Job's events say so.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from ..clock import parse_time
from . import Controller, Key, owner_key, same_key
from .events import record
from .replicasets import controlled_by, is_active, is_ready, owner_ref

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"
COMPONENT = "job-controller"
BACKOFF, BACKOFF_MAX = 10.0, 360.0
DONE = "Reached expected number of succeeded pods"
FAILURES = {"BackoffLimitExceeded": "Job has reached the specified backoff limit",
            "DeadlineExceeded": "Job was active longer than specified deadline"}
NOT_EMULATED = ("podFailurePolicy", "successPolicy", "backoffLimitPerIndex", "maxFailedIndexes")


def finished(job: dict[str, Any]) -> str:
    """``Complete``, ``Failed`` or '' (still running)."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c["type"]
    return ""


def reconcile_job(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    rt = sb.registry.lookup("batch", "v1", "jobs")
    pod_rt = sb.registry.lookup("", "v1", "pods")
    job = sb.store.get("jobs.batch", ns, name)
    if job is None or rt is None or pod_rt is None or job["metadata"].get("deletionTimestamp"):
        return None
    if finished(job):
        return _expire(sb, job)
    spec, now = job["spec"], sb.clock.now()
    status = copy.deepcopy(job.get("status") or {})
    if not status.get("startTime"):
        status["startTime"] = sb.api.now()
        _warn_not_emulated(sb, job)
    pods = [p for p in sb.store.owned_by("pods", job["metadata"]["uid"]) if controlled_by(p, job)]
    active = [p for p in pods if is_active(p)]
    succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
    failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
    restarts = sum(cs.get("restartCount", 0) for p in active for cs in (p.get("status") or {}).get(
        "containerStatuses") or []) if spec["template"]["spec"].get("restartPolicy") == "OnFailure" else 0
    completions, parallelism = spec.get("completions"), int(spec.get("parallelism", 1))
    started = parse_time(status["startTime"])
    deadline = spec.get("activeDeadlineSeconds")
    requeue: float | None = None
    reason = ""
    if failed + restarts > int(spec.get("backoffLimit", 6)):
        reason = "BackoffLimitExceeded"
    elif deadline is not None and (now - started).total_seconds() >= deadline:
        reason = "DeadlineExceeded"
    if reason:
        for pod in active:
            sb.api.delete(pod_rt, ns, pod["metadata"]["name"], DeleteOptions())
            record(sb, job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT)
        active = []
        _finish(status, "FailureTarget", "Failed", reason, FAILURES[reason], sb.api.now())
        record(sb, job, reason, FAILURES[reason], COMPONENT, "Warning")
    elif (succeeded >= completions) if completions is not None else (succeeded and not active):
        _finish(status, "SuccessCriteriaMet", "Complete", "CompletionsReached", DONE, sb.api.now())
        status["completionTime"] = sb.api.now()
        record(sb, job, "Completed", "Job completed", COMPONENT)
    else:
        left = (completions - succeeded) if completions is not None else (parallelism if not succeeded else 0)
        want = min(parallelism, left) - len(active)
        wait = _backoff_left(pods, failed, now)
        if want > 0 and wait > 0:
            requeue = wait
        elif want > 0:
            template = spec["template"]
            for _ in range(want):
                pod = {"metadata": {**copy.deepcopy(template.get("metadata") or {}),
                                    "generateName": name + "-", "ownerReferences": [owner_ref(job)]},
                       "spec": copy.deepcopy(template["spec"])}
                pod["metadata"].pop("name", None)
                pod["metadata"].pop("creationTimestamp", None)
                created = sb.api.create(pod_rt, ns, pod, WriteOptions(field_manager=MANAGER))
                active.append(created)
                record(sb, job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", COMPONENT)
        if deadline is not None:
            remaining = deadline - (now - started).total_seconds()
            requeue = remaining if requeue is None else min(requeue, remaining)
    status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                   "ready": sum(1 for p in active if is_ready(p)), "terminating": 0,
                   "uncountedTerminatedPods": {}})
    for key_ in ("active", "succeeded", "failed"):  # omitempty int32 fields
        if not status[key_]:
            status.pop(key_)
    current = sb.store.get("jobs.batch", ns, name)
    if current is not None and current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        sb.api.update(rt, ns, name, new, WriteOptions(field_manager=MANAGER), "status")
    if finished({"status": status}):
        return _expire(sb, {**job, "status": status})
    return requeue


def _finish(status: dict[str, Any], interim: str, final: str, reason: str, message: str, now: str) -> None:
    conditions = status.setdefault("conditions", [])
    for ctype in (interim, final):
        conditions.append({"type": ctype, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                           "reason": reason, "message": message})


def _backoff_left(pods: list[dict[str, Any]], failed: int, now: Any) -> float:
    """Seconds until the controller may replace a failed pod (10 s doubling per failure, 6 min at most)."""
    if not failed:
        return 0.0
    ends = [parse_time(cs["state"]["terminated"]["finishedAt"]) for p in pods
            for cs in (p.get("status") or {}).get("containerStatuses") or []
            if (cs.get("state") or {}).get("terminated", {}).get("finishedAt")
            and (p.get("status") or {}).get("phase") == "Failed"]
    if not ends:
        return 0.0
    delay = min(BACKOFF * 2 ** (failed - 1), BACKOFF_MAX)
    return max(0.0, delay - (now - max(ends)).total_seconds())


def _expire(sb: Sandbox, job: dict[str, Any]) -> float | None:
    """ttlSecondsAfterFinished: the TTL-after-finished controller deletes the Job (and, through the garbage
    collector, its pods) that long after it finished."""
    ttl = job["spec"].get("ttlSecondsAfterFinished")
    if ttl is None:
        return None
    ended = next((c.get("lastTransitionTime") for c in job["status"].get("conditions") or []
                  if c.get("type") in ("Complete", "Failed")), None)
    left = ttl - (sb.clock.now() - parse_time(ended)).total_seconds() if ended else 0
    if left > 0:
        return left
    rt = sb.registry.lookup("batch", "v1", "jobs")
    sb.api.delete(rt, job["metadata"]["namespace"], job["metadata"]["name"],
                  DeleteOptions(propagation="Background"))
    return None


def _warn_not_emulated(sb: Sandbox, job: dict[str, Any]) -> None:
    spec = job["spec"]
    named = [f for f in NOT_EMULATED if spec.get(f) is not None]
    if spec.get("completionMode") == "Indexed":
        named.append("completionMode: Indexed")
    if spec.get("suspend"):
        named.append("suspend")
    if named:
        record(sb, job, "NotEmulated", f"k8snet sandbox: the Job controller does not act on {', '.join(named)}; "
                                       "the Job runs as a NonIndexed Job without them", COMPONENT, "Warning")


def reconcile_cron_job(sb: Sandbox, key: Key) -> float | None:
    """CronJobs are stored and serve ``kubectl create job --from=cronjob/…``; their schedule does not run in the
    sandbox, which a Warning event says once."""
    ns, name = key
    cron = sb.store.get("cronjobs.batch", ns, name)
    if cron is None or cron["metadata"].get("deletionTimestamp"):
        return None
    uid = cron["metadata"].get("uid")
    if any(e.get("reason") == "NotEmulated" and (e.get("involvedObject") or {}).get("uid") == uid
           for e in sb.store.list("events", ns)):
        return None
    record(sb, cron, "NotEmulated", "k8snet sandbox: CronJob schedules do not run in the sandbox; start a run by "
                                    f"hand with kubectl create job NAME --from=cronjob/{name}", "cronjob-controller",
           "Warning")
    return None


def controller(sb: Sandbox) -> Controller:
    return Controller("job", reconcile_job, {"jobs.batch": same_key, "pods": owner_key("Job")})


def cron_controller(sb: Sandbox) -> Controller:
    return Controller("cronjob", reconcile_cron_job, {"cronjobs.batch": same_key})
