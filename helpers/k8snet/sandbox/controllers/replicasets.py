"""The ReplicaSet controller (pkg/controller/replicaset): keep N active pods, report status."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from ..clock import parse_time
from . import Controller, Key, owner_key, same_key
from .events import record

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"
COMPONENT = "replicaset-controller"


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = owner["metadata"].get("uid")
    return any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def is_active(pod: dict[str, Any]) -> bool:
    """controller.FilterActivePods: not terminating, not finished."""
    return (not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def is_ready(pod: dict[str, Any]) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def is_available(pod: dict[str, Any], min_ready: int, now) -> bool:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    if min_ready <= 0:
        return True
    since = parse_time(c["lastTransitionTime"]) if c.get("lastTransitionTime") else now
    return (now - since).total_seconds() >= min_ready


def deletion_rank(pod: dict[str, Any]) -> tuple:
    """controller.ActivePods ordering: the pods to delete first sort first."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    return (bool(pod["spec"].get("nodeName")), phase_rank, is_ready(pod), -restarts,
            [-ord(ch) for ch in pod["metadata"].get("creationTimestamp", "")], pod["metadata"]["name"])


def reconcile_replicaset(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    rt = sb.registry.lookup("apps", "v1", "replicasets")
    pod_rt = sb.registry.lookup("", "v1", "pods")
    rs = sb.store.get("replicasets.apps", ns, name)
    if rs is None or rt is None or pod_rt is None or rs["metadata"].get("deletionTimestamp"):
        return None
    pods = [p for p in sb.store.owned_by("pods", rs["metadata"]["uid"]) if controlled_by(p, rs)]
    active = [p for p in pods if is_active(p)]
    want = rs["spec"].get("replicas", 1)
    diff = len(active) - want
    if diff < 0:
        template = rs["spec"]["template"]
        for _ in range(-diff):
            pod = {"metadata": {**copy.deepcopy(template.get("metadata") or {}),
                                "generateName": name + "-", "ownerReferences": [owner_ref(rs)]},
                   "spec": copy.deepcopy(template["spec"])}
            pod["metadata"].pop("name", None)
            created = sb.api.create(pod_rt, ns, pod, WriteOptions(field_manager=MANAGER))
            active.append(created)
            record(sb, rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", COMPONENT)
    elif diff > 0:
        for pod in sorted(active, key=deletion_rank)[:diff]:
            sb.api.delete(pod_rt, ns, pod["metadata"]["name"], DeleteOptions())
            active.remove(pod)
            record(sb, rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT)
    now = sb.clock.now()
    min_ready = rs["spec"].get("minReadySeconds", 0)
    selector_labels = (rs["spec"].get("template", {}).get("metadata") or {}).get("labels") or {}
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(1 for p in active if all(
            (p["metadata"].get("labels") or {}).get(k) == v for k, v in selector_labels.items())),
        "readyReplicas": sum(1 for p in active if is_ready(p)),
        "availableReplicas": sum(1 for p in active if is_available(p, min_ready, now)),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
    current = sb.store.get("replicasets.apps", ns, name)
    if current is not None and current.get("status") != status:
        new = copy.deepcopy(current)
        new["status"] = status
        sb.api.update(rt, ns, name, new, WriteOptions(field_manager=MANAGER), "status")
    if min_ready > 0 and status.get("readyReplicas", 0) > status.get("availableReplicas", 0):
        return float(min_ready)
    return None


def controller(sb: Sandbox) -> Controller:
    return Controller("replicaset", reconcile_replicaset,
                      {"replicasets.apps": same_key, "pods": owner_key("ReplicaSet")})
