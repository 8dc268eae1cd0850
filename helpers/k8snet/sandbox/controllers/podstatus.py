"""The kubelet's writes to a pod's status: conditions and the status update (shared by the pod lifecycle stages
and graceful termination)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]


def set_condition(status: dict[str, Any], ctype: str, value: str, now: str, reason: str = "",
                  message: str = "") -> None:
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c["type"] == ctype:
            if c["status"] != value:
                c["status"], c["lastTransitionTime"] = value, now
            if value == "True" and not reason:  # a condition that holds again carries no reason
                c.pop("reason", None)
                c.pop("message", None)
            if reason:
                c["reason"] = reason
            if message:
                c["message"] = message
            return
    c = {"type": ctype, "status": value, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    conditions.append(c)


def write_status(sb: Sandbox, pod: Pod) -> None:
    """The kubelet's status update, written straight to storage as /status does."""
    sb.store.put("pods", pod)


def not_ready(status: dict[str, Any], now: str) -> None:
    """Ready and ContainersReady False, naming the containers that are not ready."""
    names = " ".join(cs["name"] for cs in status.get("containerStatuses") or [] if not cs.get("ready"))
    for ctype in ("Ready", "ContainersReady"):
        set_condition(status, ctype, "False", now, "ContainersNotReady", f"containers with unready status: [{names}]")


def sort_conditions(status: dict[str, Any]) -> None:
    order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    status["conditions"].sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
