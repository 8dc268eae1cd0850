"""Pod lifecycle as declared stages, played by one engine (the kwok way).

Each :class:`Stage` says which pods it applies to, how long after the pod
reached it the transition happens, and a hook that writes the next state:
scheduling (kube-scheduler), starting containers and getting an IP
(kubelet + CNI), readiness, and graceful termination. A new behaviour — a slow
start, a failing readiness probe — is a new stage or different delays.
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions
from . import Controller, Key, same_key
from .events import record

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]


@dataclass(frozen=True)
class Stage:
    """One declared transition: ``applies`` selects pods, ``act`` writes the next state after ``delay`` s."""

    name: str
    applies: Callable[[Pod], bool]
    delay: Callable[[Pod], float]
    act: Callable[[Sandbox, Pod], None]


# -- helpers --------------------------------------------------------------------------


def full_image(image: str) -> str:
    """Normalize an image reference as the container runtime reports it (docker.io/library/nginx:latest)."""
    name, _, tag = image.partition("@")
    if "@" in image:
        return image
    repo, sep, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    repo = repo if sep else name
    tag = tag if sep else "latest"
    first = repo.split("/")[0]
    if "/" not in repo:
        repo = "docker.io/library/" + repo
    elif "." not in first and ":" not in first and first != "localhost":
        repo = "docker.io/" + repo
    return f"{repo}:{tag}"


def container_id(pod: Pod, name: str) -> str:
    digest = hashlib.sha256(f"{pod['metadata'].get('uid')}/{name}".encode()).hexdigest()
    return "containerd://" + digest


def set_condition(status: dict[str, Any], ctype: str, value: str, now: str, reason: str = "",
                  message: str = "") -> None:
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c["type"] == ctype:
            if c["status"] != value:
                c["status"], c["lastTransitionTime"] = value, now
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


def node_ip(sb: Sandbox, node_name: str) -> str:
    node = sb.store.get("nodes", "", node_name) or {}
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return a["address"]
    return ""


def write_status(sb: Sandbox, pod: Pod) -> None:
    """The kubelet's status update, written straight to storage as /status does."""
    sb.store.put("pods", pod)


# -- scheduling (kube-scheduler's filters, least-loaded score, seeded tie-break) ---------------


def tolerates(pod: Pod, taint: dict[str, Any]) -> bool:
    for t in pod["spec"].get("tolerations") or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def feasible(pod: Pod, node: dict[str, Any]) -> str:
    """Why a node does not fit the pod ('' when it fits)."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return f"untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod["spec"].get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return "didn't match Pod's node affinity/selector"
    return ""


def node_capacity(node: dict[str, Any]) -> int:
    """The kubelet's maxPods, as the node reports it in status.allocatable.pods (110 by default)."""
    try:
        return int(((node.get("status") or {}).get("allocatable") or {}).get("pods", "110"))
    except ValueError:
        return 110


def schedule(sb: Sandbox, pod: Pod) -> None:
    """Filter nodes (taints, nodeSelector, the node's pod capacity), then the least-loaded, seeded tie-break."""
    nodes = sb.store.list("nodes")
    load = sb.pods_per_node()
    reasons: dict[str, int] = {}
    fits = []
    for node in nodes:
        why = feasible(pod, node)
        if not why and load.get(node["metadata"]["name"], 0) >= node_capacity(node):
            why = "Too many pods"  # the NodeResourcesFit filter's reason
        if why:
            reasons[why] = reasons.get(why, 0) + 1
        else:
            fits.append(node)
    now = sb.api.now()
    new = copy.deepcopy(pod)
    if not fits:
        detail = ", ".join(f"{n} {r}" if r == "Too many pods" else
                           f"{n} node(s) had {r}" if r.startswith("untolerated") else f"{n} node(s) {r}"
                           for r, n in sorted(reasons.items()))
        message = (f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} nodes are available: "
                   f"{len(nodes)} Preemption is not helpful for scheduling.")
        status = new.setdefault("status", {})
        before = copy.deepcopy(status)
        set_condition(status, "PodScheduled", "False", now, "Unschedulable", message)
        if status != before:
            write_status(sb, new)
            record(sb, pod, "FailedScheduling", message, "default-scheduler", "Warning")
        return
    counts = {n["metadata"]["name"]: load.get(n["metadata"]["name"], 0) for n in fits}
    least = min(counts.values())
    choice = sb.rng.choice(sorted(n for n, c in counts.items() if c == least))
    new["spec"]["nodeName"] = choice
    set_condition(new.setdefault("status", {}), "PodScheduled", "True", now)
    sb.store.put("pods", new)
    ns = pod["metadata"].get("namespace", "")
    record(sb, new, "Scheduled", f"Successfully assigned {ns}/{pod['metadata']['name']} to {choice}",
           "default-scheduler")


# -- kubelet ------------------------------------------------------------------------------


def start(sb: Sandbox, pod: Pod) -> None:
    """Pull (already present), create and start every container; the CNI hands out the pod IP."""
    node = pod["spec"]["nodeName"]
    new = copy.deepcopy(pod)
    status = new.setdefault("status", {})
    now = sb.api.now()
    ip = sb.pod_ip(node)
    host = node_ip(sb, node)
    status.update({"phase": "Running", "hostIP": host, "hostIPs": [{"ip": host}], "podIP": ip,
                   "podIPs": [{"ip": ip}], "startTime": status.get("startTime") or now})
    statuses = []
    all_ready = True
    for c in new["spec"]["containers"]:
        ready = not c.get("readinessProbe")
        all_ready = all_ready and ready
        statuses.append({"containerID": container_id(pod, c["name"]), "image": full_image(c["image"]),
                         "imageID": "", "lastState": {}, "name": c["name"], "ready": ready,
                         "restartCount": 0, "started": True, "state": {"running": {"startedAt": now}}})
    status["containerStatuses"] = statuses
    set_condition(status, "PodReadyToStartContainers", "True", now)
    set_condition(status, "Initialized", "True", now)
    set_condition(status, "Ready", "True" if all_ready else "False", now,
                  "" if all_ready else "ContainersNotReady",
                  "" if all_ready else "containers with unready status: [" + " ".join(
                      c["name"] for c in new["spec"]["containers"] if c.get("readinessProbe")) + "]")
    set_condition(status, "ContainersReady", "True" if all_ready else "False", now,
                  "" if all_ready else "ContainersNotReady")
    order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    status["conditions"].sort(key=lambda c: order.index(c["type"]) if c["type"] in order else 99)
    write_status(sb, new)
    for c in pod["spec"]["containers"]:
        record(sb, new, "Pulled", f'Container image "{c["image"]}" already present on machine', "kubelet",
               host=node, field_path=f"spec.containers{{{c['name']}}}")
        record(sb, new, "Created", f"Created container: {c['name']}", "kubelet", host=node,
               field_path=f"spec.containers{{{c['name']}}}")
        record(sb, new, "Started", f"Started container {c['name']}", "kubelet", host=node,
               field_path=f"spec.containers{{{c['name']}}}")


def become_ready(sb: Sandbox, pod: Pod) -> None:
    """A readiness probe's first success (the data plane issue makes probes real)."""
    new = copy.deepcopy(pod)
    status = new["status"]
    now = sb.api.now()
    for cs in status.get("containerStatuses") or []:
        cs["ready"] = True
    for ctype in ("Ready", "ContainersReady"):
        for c in status.get("conditions") or []:
            if c["type"] == ctype:
                c.pop("reason", None)
                c.pop("message", None)
        set_condition(status, ctype, "True", now)
    write_status(sb, new)


def terminate(sb: Sandbox, pod: Pod) -> None:
    """Stop the containers, free the IP and remove the pod (the kubelet's final delete with grace 0)."""
    node = pod["spec"].get("nodeName", "")
    for c in pod["spec"]["containers"]:
        record(sb, pod, "Killing", f"Stopping container {c['name']}", "kubelet", host=node,
               field_path=f"spec.containers{{{c['name']}}}")
    rt = sb.registry.lookup("", "v1", "pods")
    ip = (pod.get("status") or {}).get("podIP")
    if pod["metadata"].get("finalizers"):
        new = copy.deepcopy(pod)
        new["status"]["phase"] = "Succeeded" if pod["spec"].get("restartPolicy") == "Never" else "Failed"
        write_status(sb, new)
        return
    sb.api.delete(rt, pod["metadata"]["namespace"], pod["metadata"]["name"], DeleteOptions(grace_period=0))
    if ip:
        sb.release_pod_ip(node, ip)


def _probe_delay(pod: Pod) -> float:
    probes = [c.get("readinessProbe") or {} for c in pod["spec"]["containers"]]
    return max((p.get("initialDelaySeconds", 0) for p in probes), default=0)


def _phase(pod: Pod) -> str:
    return (pod.get("status") or {}).get("phase", "")


def _deleting(pod: Pod) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _unready(pod: Pod) -> bool:
    return any(not cs.get("ready") for cs in (pod.get("status") or {}).get("containerStatuses") or [])


STAGES: list[Stage] = [
    Stage("terminate", lambda p: _deleting(p) and bool(p["spec"].get("nodeName")), lambda p: 0.2, terminate),
    Stage("schedule", lambda p: not p["spec"].get("nodeName") and not _deleting(p), lambda p: 0.0, schedule),
    Stage("start", lambda p: bool(p["spec"].get("nodeName")) and _phase(p) == "Pending" and not _deleting(p),
          lambda p: 0.1, start),
    Stage("ready", lambda p: _phase(p) == "Running" and _unready(p) and not _deleting(p), _probe_delay,
          become_ready),
]
"""The pod lifecycle, first matching stage wins (delays in seconds of sandbox time)."""


class StageEngine:
    """Plays :data:`STAGES`: remembers when each pod entered a stage, acts when its delay has passed."""

    def __init__(self, stages: list[Stage]):
        self.stages = stages
        self.entered: dict[tuple[Key, str], float] = {}

    def reconcile(self, sb: Sandbox, key: Key) -> float | None:
        pod = sb.store.get("pods", *key)
        if pod is None:
            for k in [k for k in self.entered if k[0] == key]:
                del self.entered[k]
            return None
        for stage in self.stages:
            if not stage.applies(pod):
                continue
            now = time.monotonic()
            since = self.entered.setdefault((key, stage.name), now)
            wait = since + stage.delay(pod) - now
            if wait > 0:
                return wait
            del self.entered[(key, stage.name)]
            stage.act(sb, pod)
            return None
        return None


def controller(sb: Sandbox) -> Controller:
    engine = StageEngine(STAGES)
    return Controller("pod-lifecycle", engine.reconcile, {"pods": same_key})

