"""Pod lifecycle as declared stages, played by one engine (the kwok way).

Each :class:`Stage` says which pods it applies to, how long after the pod
reached it the transition happens, and a hook that writes the next state:
scheduling (kube-scheduler), starting containers and getting an IP
(kubelet + CNI), readiness, and graceful termination. A new behaviour — a slow
start, a failing readiness probe — is a new stage or different delays.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import parse_time
from ..selectors import fits_node_affinity
from . import Controller, Key, containerconfig, kubelethttp, same_key, termination
from .events import record
from .podstatus import not_ready as _not_ready
from .podstatus import set_condition, write_status  # noqa: F401  (re-exported for their users)
from .podstatus import sort_conditions as _sort_conditions

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]


@dataclass(frozen=True)
class Stage:
    """One declared transition: ``applies`` selects pods, ``act`` writes the next state after ``delay`` s."""

    name: str
    applies: Callable[[Pod], bool]
    delay: Callable[[Pod], float]
    act: Callable[[Sandbox, Pod], float | None]  # may return seconds after which to look again


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


def node_ip(sb: Sandbox, node_name: str) -> str:
    node = sb.store.get("nodes", "", node_name) or {}
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP":
            return a["address"]
    return ""


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
    """Why a node does not fit the pod ('' when it fits): taints, then nodeSelector and required node affinity."""
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
            return f"untolerated taint {{{taint['key']}: {taint.get('value', '')}}}"
    if not fits_node_affinity(pod["spec"], node):
        return "didn't match Pod's node affinity/selector"
    return ""


def pinned(pod: Pod) -> bool:
    """A pod whose required node affinity names one node by ``metadata.name`` (a DaemonSet's pod)."""
    required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    return len(terms) == 1 and any(f.get("key") == "metadata.name" and f.get("operator") == "In" and
                                   len(f.get("values") or []) == 1 for f in terms[0].get("matchFields") or [])


def node_capacity(node: dict[str, Any]) -> int:
    """The kubelet's maxPods, as the node reports it in status.allocatable.pods (110 by default)."""
    try:
        return int(((node.get("status") or {}).get("allocatable") or {}).get("pods", "110"))
    except ValueError:
        return 110


def _ours(pod: Pod) -> bool:
    """kube-scheduler places only the pods that name it (spec.schedulerName, defaulted to default-scheduler);
    a pod for another scheduler stays Pending until something binds it (pods/binding)."""
    return pod["spec"].get("schedulerName", "default-scheduler") == "default-scheduler"


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
    if len(fits) == 1 and pinned(pod):  # one node to go to: nothing to score, no tie to break
        choice = fits[0]["metadata"]["name"]
    else:
        spread = sb.spread_load()
        counts = {n["metadata"]["name"]: spread.get(n["metadata"]["name"], 0) for n in fits}
        least = min(counts.values())
        choice = sb.random.stream("scheduler").choice(sorted(n for n, c in counts.items() if c == least))
    new["spec"]["nodeName"] = choice
    set_condition(new.setdefault("status", {}), "PodScheduled", "True", now)
    sb.store.put("pods", new)
    ns = pod["metadata"].get("namespace", "")
    record(sb, new, "Scheduled", f"Successfully assigned {ns}/{pod['metadata']['name']} to {choice}",
           "default-scheduler")


# -- kubelet ------------------------------------------------------------------------------


def start(sb: Sandbox, pod: Pod) -> None:
    """Once the pod's volumes are mounted (:mod:`.volumemanager`), create the pod's sandbox (the CNI hands out its
    IP), then run its init containers in order, then the app containers (kubelet: computePodActions; init
    containers, sidecars with ``restartPolicy: Always``)."""
    if sb.volume_manager.wait_for_attach_and_mount(pod):
        _wait_for_volumes(sb, pod)
        return
    node = pod["spec"]["nodeName"]
    new = copy.deepcopy(pod)
    status = new.setdefault("status", {})
    now = sb.api.now()
    host = node_ip(sb, node)
    ip = host if new["spec"].get("hostNetwork") else sb.pod_ip(node)  # the CNI is not called for the host's
    status.update({"hostIP": host, "hostIPs": [{"ip": host}], "podIP": ip, "podIPs": [{"ip": ip}],
                   "startTime": status.get("startTime") or now})
    if not new["spec"].get("hostNetwork"):
        for plugin in getattr(sb, "cni_chain", ()):  # chained CNI plugins, after the one that gave the IP (istio-cni's)
            plugin(sb, new)
    init = new["spec"].get("initContainers") or []
    if not init:
        _start_app_containers(sb, new, now)
        return
    status["phase"] = "Pending"
    status["initContainerStatuses"] = [_waiting(c) for c in init]
    status["containerStatuses"] = [_waiting(c) for c in new["spec"]["containers"]]
    set_condition(status, "PodReadyToStartContainers", "True", now)
    set_condition(status, "Initialized", "False", now, "ContainersNotInitialized",
                  f"containers with incomplete status: [{' '.join(c['name'] for c in init)}]")
    _not_ready(status, now)
    _sort_conditions(status)
    write_status(sb, new)
    _run_init(sb, new, 0)


def _wait_for_volumes(sb: Sandbox, pod: Pod) -> None:
    """The status SyncPod writes before it waits for the volumes (kubelet_pods.go generateAPIPodStatus with no
    sandbox yet): Pending, the node's IP but none of the pod's, every container waiting (``ContainerCreating``, or
    ``PodInitializing`` in a pod with init containers); written when it differs from the stored one."""
    new = copy.deepcopy(pod)
    status = new.setdefault("status", {})
    now = sb.api.now()
    host = node_ip(sb, pod["spec"]["nodeName"])
    status.update({"phase": "Pending", "hostIP": host, "hostIPs": [{"ip": host}],
                   "startTime": status.get("startTime") or now})
    init = new["spec"].get("initContainers") or []
    reason = "PodInitializing" if init else "ContainerCreating"
    if init:
        status["initContainerStatuses"] = [_waiting(c) for c in init]
    status["containerStatuses"] = [_waiting(c, reason) for c in new["spec"]["containers"]]
    set_condition(status, "PodReadyToStartContainers", "False", now)
    if init:
        set_condition(status, "Initialized", "False", now, "ContainersNotInitialized",
                      f"containers with incomplete status: [{' '.join(c['name'] for c in init)}]")
    else:
        set_condition(status, "Initialized", "True", now)
    _not_ready(status, now)
    _sort_conditions(status)
    if status != pod.get("status"):
        write_status(sb, new)


def _waiting(c: dict[str, Any], reason: str = "PodInitializing") -> dict[str, Any]:
    """A container the kubelet has not started yet: waiting for the init containers, or for its pod's sandbox."""
    return {"image": full_image(c["image"]), "imageID": "", "lastState": {}, "name": c["name"], "ready": False,
            "restartCount": 0, "started": False, "state": {"waiting": {"reason": reason}}}


def _started_events(sb: Sandbox, pod: Pod, c: dict[str, Any], kind: str) -> None:
    node, path = pod["spec"].get("nodeName", ""), f"spec.{kind}{{{c['name']}}}"
    containerconfig.pulled(sb, pod, c, kind)
    record(sb, pod, "Created", f"Created container: {c['name']}", "kubelet", host=node, field_path=path)
    record(sb, pod, "Started", f"Started container {c['name']}", "kubelet", host=node, field_path=path)


def _run_init(sb: Sandbox, pod: Pod, index: int) -> None:
    """Start init container ``index``; a sidecar (``restartPolicy: Always``) keeps running and the next one
    starts at once, a regular one is waited for (its exit lands in :func:`container_exited`)."""
    init = pod["spec"].get("initContainers") or []
    while index < len(init):
        c = init[index]
        current = sb.store.get("pods", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        if current is None or current["metadata"].get("uid") != pod["metadata"].get("uid") or _deleting(current):
            return
        new = copy.deepcopy(current)
        cs = new["status"]["initContainerStatuses"][index]
        error = containerconfig.config_error(sb, new, c, "initContainers")
        if error:  # it holds back the init containers after it and the app containers
            cs.update({"state": containerconfig.waiting(error), "ready": False, "started": False})
            if new != current:
                write_status(sb, new)
            sb.pod_workers.sync_failed(new)
            return
        sidecar = c.get("restartPolicy") == "Always"
        cs.update({"containerID": container_id(new, c["name"]), "state": {"running": {"startedAt": sb.api.now()}},
                   "started": True, "ready": sidecar and not c.get("readinessProbe")})
        write_status(sb, new)
        _started_events(sb, new, c, "initContainers")
        workloads = getattr(sb.dataplane, "workloads", None)
        if workloads is not None:
            workloads.start_container(new, c["name"])
        if not sidecar:
            return
        index += 1
    current = sb.store.get("pods", pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
    if current is not None and current["metadata"].get("uid") == pod["metadata"].get("uid"):
        _start_app_containers(sb, copy.deepcopy(current), sb.api.now())


def _start_app_containers(sb: Sandbox, new: Pod, now: str) -> None:
    """The init containers are done (or there are none): start the app containers that have not started; the pod
    is Running, or Pending while one of them cannot be created (:mod:`.containerconfig`, tried again at the pod
    worker's next sync)."""
    status = new["status"]
    before = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
    statuses, started = [], []
    all_ready = all(cs.get("ready") for cs in status.get("initContainerStatuses") or []
                    if _is_sidecar(new, cs["name"]))
    for c in new["spec"]["containers"]:
        old = before.get(c["name"]) or {}
        if _has_started(old):
            statuses.append(old)  # started at an earlier sync (a restart waiting included)
            all_ready = all_ready and bool(old.get("ready"))
            continue
        error = containerconfig.config_error(sb, new, c, "containers")
        if error:
            statuses.append({**_waiting(c), "state": containerconfig.waiting(error)})
            all_ready = False
            continue
        # ready at once without a readiness or startup probe; otherwise the prober decides (see Prober)
        ready = not c.get("readinessProbe") and not c.get("startupProbe")
        all_ready = all_ready and ready
        statuses.append({"containerID": container_id(new, c["name"]), "image": full_image(c["image"]),
                         "imageID": "", "lastState": {}, "name": c["name"], "ready": ready,
                         "restartCount": 0, "started": not c.get("startupProbe"),
                         "state": {"running": {"startedAt": now}}})
        started.append(c)
    status["containerStatuses"] = statuses
    failed = any(containerconfig.failed(cs) for cs in statuses)
    status["phase"] = "Pending" if failed else "Running"  # getPhase: a container waiting to start
    set_condition(status, "PodReadyToStartContainers", "True", now)
    set_condition(status, "Initialized", "True", now)
    if all_ready:
        set_condition(status, "Ready", "True", now)
        set_condition(status, "ContainersReady", "True", now)
    else:
        _not_ready(status, now)
    _sort_conditions(status)
    write_status(sb, new)
    for c in started:
        _started_events(sb, new, c, "containers")
    workloads = getattr(sb.dataplane, "workloads", None)  # tests may stand a smaller data plane in
    if workloads is not None and started:
        names = [c["name"] for c in started]
        workloads.on_pod_started(new, names)  # the programs start: startup log lines, the script's setup
        warn_not_emulated(sb, new, workloads, names)
    if failed:
        sb.pod_workers.sync_failed(new)


def _has_started(cs: dict[str, Any]) -> bool:
    """Whether a container status is that of a container created before (running, ended, or waiting to restart),
    not one waiting for its first start."""
    return bool(cs) and ("waiting" not in (cs.get("state") or {}) or
                         bool((cs.get("lastState") or {}).get("terminated")))


def _is_sidecar(pod: Pod, name: str) -> bool:
    return any(c.get("name") == name and c.get("restartPolicy") == "Always"
               for c in pod["spec"].get("initContainers") or [])


def warn_not_emulated(sb: Sandbox, pod: Pod, workloads: Any, containers: list[str] | None = None) -> None:
    """Fail loudly: a container (of those named) whose image the sandbox does not emulate gets a Warning event
    saying so."""
    from ..dataplane.workloads import image_family

    for c in pod["spec"]["containers"]:
        if image_family(c["image"]) is None and (containers is None or c["name"] in containers):
            record(sb, pod, "ImageNotEmulated",
                   f'The k8snet sandbox does not emulate image "{c["image"]}": the pod runs with an IP, but '
                   "connections to it are refused and exec runs no program of that image. Emulated images: "
                   "agnhost, hashicorp/http-echo, nginx (see the k8snet README).", "kubelet", "Warning",
                   host=pod["spec"].get("nodeName", ""), field_path=f"spec.containers{{{c['name']}}}")


# -- a container's process ends (pkg/kubelet/kuberuntime: computePodActions, doBackOff) -----------------

BACKOFF_INITIAL = 10.0
"""Seconds of the kubelet's first crash back-off; it doubles up to :data:`BACKOFF_MAX` (kubelet.go
backOffPeriod 10s, MaxContainerBackOff 300s)."""
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0
"""A container that ran this long before it exited starts its back-off again from the first step."""


def container_exited(sb: Sandbox, pod: Pod, container: str, code: int, result: Any = None,
                     killed: bool = False) -> None:
    """A container's process ended with ``code``: terminated state, then the pod's phase or a restart, as the
    kubelet decides by ``restartPolicy`` (Never: Completed/Error; OnFailure: restart unless 0; Always: restart),
    with the crash back-off (``CrashLoopBackOff``) between restarts. An init container that succeeds lets the
    next one start (then the app containers); a sidecar restarts whatever the pod's policy. A container the
    kubelet ``killed`` for a failed probe restarts unless the policy is Never, whatever its exit code
    (kuberuntime_manager.go computePodActions: shouldRestartOnFailure). In a pod being deleted nothing restarts:
    the exit is recorded and the termination goes on (:mod:`.termination`)."""
    meta = pod["metadata"]
    current = sb.store.get("pods", meta.get("namespace", ""), meta["name"])
    if current is not None and current["metadata"].get("uid") == meta.get("uid") and _deleting(current):
        termination.container_ended(sb, current, container, code)
        return
    live = _live_container(sb, pod, container)
    if live is None:
        return
    new, cs = live
    meta, now = new["metadata"], sb.api.now()
    running = (cs.get("state") or {}).get("running") or {}
    started = running.get("startedAt", now)
    failed_to_start = result is not None and type(result).__name__ == "ExecStartFailure"
    terminated = {"exitCode": code, "reason": "StartError" if failed_to_start else "Completed" if code == 0
                  else "Error", "startedAt": started, "finishedAt": now, "containerID": cs.get("containerID")}
    if failed_to_start:
        terminated["message"] = result.message
    if any(c["name"] == container for c in new["spec"].get("ephemeralContainers") or []):
        cs.update({"ready": False, "state": {"terminated": terminated}})  # never restarted
        write_status(sb, new)
        return
    init = [c["name"] for c in new["spec"].get("initContainers") or []]
    sidecar = _is_sidecar(new, container)
    policy = new["spec"].get("restartPolicy", "Always")
    restart = sidecar or policy == "Always" or (policy == "OnFailure" and (code != 0 or killed))
    if container in init and not sidecar:
        restart = code != 0 and policy != "Never"  # an init container that failed is retried, one that ran is done
    cs.update({"ready": False, "started": False})
    node = new["spec"].get("nodeName", "")
    path = f"spec.{'initContainers' if container in init else 'containers'}{{{container}}}"
    delay = 0.0
    if restart:
        failures = sb.dataplane.processes.failures
        key = (meta.get("uid", ""), container)
        ran = (parse_time(now) - parse_time(started)).total_seconds()
        count = 0 if ran >= BACKOFF_RESET else failures.get(key, 0)
        failures[key] = count + 1
        delay = 0.0 if count == 0 else min(BACKOFF_INITIAL * 2 ** (count - 1), BACKOFF_MAX)
        cs["lastState"] = {"terminated": terminated}
        if delay:
            pod_ref = f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off {_go_seconds(delay)} "
                                       f"restarting failed container={container} pod={pod_ref}"}}
            record(sb, new, "BackOff", f"Back-off restarting failed container {container} in pod {pod_ref}",
                   "kubelet", "Warning", host=node, field_path=path)
        else:
            cs["state"] = {"terminated": terminated}
    else:
        cs["state"] = {"terminated": terminated}
    try:
        _settle_exit(sb, new, cs, container, code, restart, init, sidecar, now)
    finally:
        if restart:  # after the exit is written: the restart writes the container's next state
            _later(max(delay, 0.5), restart_container, sb, pod, container)


def _settle_exit(sb: Sandbox, new: Pod, cs: dict[str, Any], container: str, code: int, restart: bool,
                 init: list[str], sidecar: bool, now: str) -> None:
    """Write the exit: an init container's outcome, or the pod's phase once every container has ended."""
    status = new["status"]
    if container in init and not sidecar:
        if code == 0:
            cs["ready"] = True  # a completed init container counts as ready (kubelet: initContainerStatuses)
            write_status(sb, new)
            _run_init(sb, new, init.index(container) + 1)
            return
        if not restart:  # restartPolicy Never: the pod fails in its init phase
            status["phase"] = "Failed"
        write_status(sb, new)
        return
    states = [c.get("state") or {} for c in status.get("containerStatuses") or []]
    if all("terminated" in st for st in states) and not restart:
        status["phase"] = "Succeeded" if all(st["terminated"]["exitCode"] == 0 for st in states) else "Failed"
        set_condition(status, "Ready", "False", now, "PodCompleted")
        set_condition(status, "ContainersReady", "False", now, "PodCompleted")
    else:
        _not_ready(status, now)
    write_status(sb, new)


def _later(delay: float, fn: Any, *args: Any) -> None:
    """Call ``fn`` after ``delay`` seconds on the sandbox's loop; at once where no loop runs (a synchronous
    test drives the kubelet by hand)."""
    try:
        asyncio.get_running_loop().call_later(delay, fn, *args)
    except RuntimeError:
        fn(*args)


def _live_container(sb: Sandbox, pod: Pod, container: str) -> tuple[Pod, dict[str, Any]] | None:
    """A copy of the pod as stored now and its container's status (an app or an init container), or None when
    that pod is gone, replaced or terminating (a process that ends after its pod must not write)."""
    meta = pod["metadata"]
    current = sb.store.get("pods", meta.get("namespace", ""), meta["name"])
    if current is None or current["metadata"].get("uid") != meta.get("uid") or _deleting(current):
        return None
    new = copy.deepcopy(current)
    statuses = [cs for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
                for cs in new["status"].get(key) or []]
    cs = next((c for c in statuses if c["name"] == container), None)
    return (new, cs) if cs is not None else None


def _go_seconds(seconds: float) -> str:
    """time.Duration's String for whole seconds: 10s, 1m20s, 5m0s."""
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60}s"


def restart_container(sb: Sandbox, pod: Pod, container: str) -> None:
    """The back-off has passed: start the container again (a new ID, restartCount + 1, fresh files)."""
    live = _live_container(sb, pod, container)
    if live is None:
        return
    new, cs = live
    meta, status, now = new["metadata"], new["status"], sb.api.now()
    init = any(c["name"] == container for c in new["spec"].get("initContainers") or [])
    spec = next(c for c in new["spec"].get("initContainers" if init else "containers") or []
                if c["name"] == container)
    error = containerconfig.config_error(sb, new, spec, "initContainers" if init else "containers")
    if error:  # a referenced Secret deleted since: not created, tried again at the next sync
        cs.update({"state": containerconfig.waiting(error), "ready": False, "started": False})
        write_status(sb, new)
        sb.pod_workers.sync_failed(new)
        return
    cs["restartCount"] = cs.get("restartCount", 0) + 1
    digest = hashlib.sha256(f"{meta.get('uid')}/{container}/{cs['restartCount']}".encode()).hexdigest()
    cs["containerID"] = "containerd://" + digest
    cs["state"] = {"running": {"startedAt": now}}
    cs["started"] = not spec.get("startupProbe")
    cs["ready"] = not spec.get("readinessProbe") and not spec.get("startupProbe") and (not init or
                                                                                         _is_sidecar(new, container))
    if not init and all(c.get("ready") for c in status["containerStatuses"]):
        set_condition(status, "Ready", "True", now)
        set_condition(status, "ContainersReady", "True", now)
    write_status(sb, new)
    _started_events(sb, new, spec, "initContainers" if init else "containers")
    sb.dataplane.workloads.on_container_restarted(new, container)


def resync_failed(sb: Sandbox, key: Key) -> None:
    """The pod worker's next sync after one that failed (:mod:`.podworkers`): the containers the runtime could not
    create (:mod:`.containerconfig`) are tried again: the first such init container (the others wait for it),
    else the ephemeral and app containers; a restart goes on as a restart (its count and last state kept)."""
    pod = sb.store.get("pods", *key)
    if pod is None or _deleting(pod) or _phase(pod) not in ("Pending", "Running"):
        return
    status = pod.get("status") or {}
    for index, cs in enumerate(status.get("initContainerStatuses") or []):
        if containerconfig.failed(cs):
            if _has_started(cs):
                restart_container(sb, pod, cs["name"])
            else:
                _run_init(sb, pod, index)
            return
    if _phase(pod) == "Running" and any(containerconfig.failed(cs)
                                        for cs in status.get("ephemeralContainerStatuses") or []):
        start_ephemeral(sb, pod, retry=True)
        pod = sb.store.get("pods", *key) or pod
        status = pod.get("status") or {}
    waiting = [cs for cs in status.get("containerStatuses") or [] if containerconfig.failed(cs)]
    for cs in waiting:
        if _has_started(cs):
            restart_container(sb, pod, cs["name"])
    if any(not _has_started(cs) for cs in waiting):
        current = sb.store.get("pods", *key)
        if current is not None and current["metadata"].get("uid") == pod["metadata"].get("uid"):
            _start_app_containers(sb, copy.deepcopy(current), sb.api.now())


# -- kubelet probes (pkg/kubelet/prober: worker.go, prober.go; pkg/probe/http, pkg/probe/tcp) --------------

PROBES = (("startupProbe", "Startup"), ("livenessProbe", "Liveness"), ("readinessProbe", "Readiness"))
PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                  "failureThreshold": 3}
INITIAL = {"Readiness": False, "Liveness": True, "Startup": None}  # worker.go: the value before the first result


@dataclass
class ProbeWorker:
    """One container's probe of one kind (worker.go): its schedule and its run of equal results."""

    kind: str  # Startup, Liveness or Readiness
    container: str
    spec: dict[str, Any]
    container_id: str = ""
    due: float = 0.0  # sandbox time (epoch seconds) of the next probe
    result: bool | None = None  # what the results manager holds
    last: bool | None = None
    run: int = 0
    on_hold: bool = False  # after a liveness/startup failure, until the container restarts
    pending: asyncio.Task[Any] | None = None  # an exec probe still running (the kubelet's prober is async too)

    def setting(self, name: str) -> int:
        return int(self.spec.get(name) or PROBE_DEFAULTS[name])


class Prober:
    """The kubelet's prober for the pods of one sandbox: probes on the sandbox clock, status on transitions.

    A probe runs ``initialDelaySeconds`` after the container started (as the
    kubelet's manual trigger makes it), then every ``periodSeconds``; a result
    counts once it repeats ``successThreshold``/``failureThreshold`` times. The
    kubelet connects from the host network: its source address is the node's
    pod-CIDR gateway (kindnet's ptp plugin puts it on each pod's host-side
    veth), and no NetworkPolicy applies to it. A liveness or startup failure
    restarts the container at once (no CrashLoopBackOff back-off).
    """

    def __init__(self, sb: Sandbox, terminator: termination.Terminator | None = None):
        self.sb = sb
        self.terminator = terminator or termination.Terminator(sb)
        self.workers: dict[str, dict[tuple[str, str], ProbeWorker]] = {}  # pod uid -> (container, kind) -> worker
        self.events: dict[tuple[str, ...], str] = {}  # (pod uid, container, message) -> Event name
        self.acts = 0

    def act(self, sb: Sandbox, pod: Pod) -> float | None:
        """Run the probes that are due; write the pod's status only when a result changed; seconds to the next."""
        self.acts += 1
        if self.acts % 500 == 0:
            self._prune()
        now = sb.clock.now().timestamp()
        workers = self._workers(pod)
        new = copy.deepcopy(pod)
        statuses = {cs["name"]: cs for cs in new["status"].get("containerStatuses") or []}
        kills: list[tuple[dict[str, Any], ProbeWorker]] = []
        deleting = _deleting(pod)
        for w in workers.values():
            if deleting and w.kind in ("Liveness", "Startup"):
                continue  # worker.go: "Pod deletion requested, setting probe result to success" (readiness goes on)
            cs = statuses.get(w.container)
            running = ((cs or {}).get("state") or {}).get("running")
            if cs is None or not running:
                continue
            if w.container_id != cs.get("containerID"):  # a new container: start over
                w.container_id, w.result, w.last, w.run, w.on_hold = cs.get("containerID", ""), INITIAL[w.kind], \
                    None, 0, False
                w.due = parse_time(running["startedAt"]).timestamp() + w.setting("initialDelaySeconds")
            if w.pending is not None:  # an exec probe that was started earlier
                if not w.pending.done():
                    continue
                task, w.pending = w.pending, None
                ok = self._probe(new, w, task.result() if not task.cancelled() else None)
            else:
                if w.on_hold or now < w.due or (w.kind == "Startup") == bool(cs.get("started")):
                    continue  # startup probes run until started; the others only after
                w.due = now + w.setting("periodSeconds")
                if "exec" in w.spec and self._start_exec(new, w):
                    continue  # its result is read when the program ends, off this reconcile
                ok = self._probe(new, w)
            if ok is None:  # the probe errored: the result is thrown away (worker.go doProbe)
                continue
            w.run = w.run + 1 if w.last == ok else 1
            w.last = ok
            if w.run < w.setting("successThreshold" if ok else "failureThreshold"):
                continue
            w.result = ok
            if not ok and w.kind in ("Liveness", "Startup"):
                w.on_hold, w.run = True, 0
                kills.append((cs, w))
            elif ok and w.kind == "Startup":
                cs["started"] = True
        self._readiness(new, workers)
        if new["status"] != pod["status"]:
            write_status(sb, new)
        for cs, w in kills:  # after the write: the kill writes the container's end itself
            self._kill(new, cs, w)
        if any(w.pending is not None for w in workers.values()):
            return 0.05  # an exec probe is running: look for its result soon
        pending = [w.due for w in workers.values() if not w.on_hold]
        return max(min(pending) - now, 0.25) if pending else None

    def _start_exec(self, pod: Pod, w: ProbeWorker) -> bool:
        """Start an exec probe's command as a task (False: no event loop here, run it in place)."""
        from ..dataplane.commands import run_probe

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        budget = float(w.spec.get("timeoutSeconds", PROBE_DEFAULTS["timeoutSeconds"]))
        w.pending = loop.create_task(run_probe(self.sb.dataplane, pod, w.container,
                                               list(w.spec["exec"].get("command") or []), budget))
        return True

    def _workers(self, pod: Pod) -> dict[tuple[str, str], ProbeWorker]:
        uid = pod["metadata"].get("uid", "")
        workers = self.workers.setdefault(uid, {})
        for c in pod["spec"]["containers"]:
            for field_name, kind in PROBES:
                if c.get(field_name) and (c["name"], kind) not in workers:
                    workers[(c["name"], kind)] = ProbeWorker(kind, c["name"], c[field_name])
        return workers

    def _prune(self) -> None:
        alive = {p["metadata"].get("uid") for p in self.sb.store.list("pods")}
        self.workers = {uid: w for uid, w in self.workers.items() if uid in alive}
        self.events = {k: v for k, v in self.events.items() if k[0] in alive}

    def _readiness(self, pod: Pod, workers: dict[tuple[str, str], ProbeWorker]) -> None:
        """containerStatuses[].ready and the Ready/ContainersReady conditions from the readiness results."""
        status, now = pod["status"], self.sb.api.now()
        for cs in status.get("containerStatuses") or []:
            w = workers.get((cs["name"], "Readiness"))
            running = bool((cs.get("state") or {}).get("running"))
            cs["ready"] = running and bool(cs.get("started")) and (w is None or bool(w.result))
        unready = [cs["name"] for cs in status.get("containerStatuses") or [] if not cs["ready"]]
        for ctype in ("Ready", "ContainersReady"):
            if unready:
                message = "containers with unready status: [" + " ".join(unready) + "]"
                set_condition(status, ctype, "False", now, "ContainersNotReady", message)
            else:
                for c in status.get("conditions") or []:
                    if c["type"] == ctype:
                        c.pop("reason", None)
                        c.pop("message", None)
                set_condition(status, ctype, "True", now)

    def _probe(self, pod: Pod, w: ProbeWorker, exec_result: Any = None) -> bool | None:
        """Run one probe, or judge an exec probe's finished result (prober.go runProbe); a failure records an
        Unhealthy event as the kubelet words it."""
        ok, output, errored = self._exec_outcome(exec_result) if exec_result is not None else self._run(pod, w)
        if errored:
            self._unhealthy(pod, w.container, f"{w.kind} probe errored and resulted in unknown state: {output}")
            return None
        if not ok:
            self._unhealthy(pod, w.container, f"{w.kind} probe failed: {output}")
        return ok

    @staticmethod
    def _exec_outcome(result: Any) -> tuple[bool, str, bool]:
        """(success, output, errored) of an exec probe's result (pkg/probe/exec)."""
        from ..dataplane.commands import ExecStartFailure

        if isinstance(result, ExecStartFailure):
            return False, "rpc error: code = Unknown desc = " + result.message.removeprefix(
                "error executing command in container: "), True
        return result.exit_code == 0, (result.stdout + result.stderr).decode(errors="replace"), False

    def _run(self, pod: Pod, w: ProbeWorker) -> tuple[bool, str, bool]:
        """(success, output, errored) of an exec, httpGet or tcpSocket probe."""
        from ..dataplane.commands import run_sync

        dp, spec = self.sb.dataplane, w.spec
        ip = pod["status"].get("podIP", "")
        if "exec" in spec:
            # the probe's timeoutSeconds bounds its work, as the kubelet's exec probe timeout does
            return self._exec_outcome(run_sync(dp, pod, w.container, list(spec["exec"].get("command") or []),
                                               cpu_budget=float(spec.get("timeoutSeconds",
                                                                         PROBE_DEFAULTS["timeoutSeconds"]))))
        if "tcpSocket" in spec:
            port = kubelethttp.container_port(pod, w.container, spec["tcpSocket"].get("port"))
            if dp.workloads.listening(pod, port, "TCP"):
                return True, "", False
            return False, f"dial tcp {ip}:{port}: connect: connection refused", False
        if "httpGet" in spec:
            reply = kubelethttp.get(self.sb, pod, w.container, spec["httpGet"], "probe")
            if reply.status is None:
                return False, reply.error, False
            if 200 <= reply.status < 400:  # pkg/probe/http: 2xx and (followed) 3xx succeed
                return True, reply.body, False
            return False, f"HTTP probe failed with statuscode: {reply.status}", False
        return False, "k8snet sandbox: only exec, httpGet and tcpSocket probes are emulated (not gRPC)", False

    def _kill(self, pod: Pod, cs: dict[str, Any], w: ProbeWorker) -> None:
        """Stop the container that failed its liveness/startup probe (kuberuntime_manager.go computePodActions,
        killContainer: :mod:`.termination`): a ``Killing`` event that says whether it will be restarted, its
        preStop hook, SIGTERM, and SIGKILL at the end of the grace period (the probe's
        ``terminationGracePeriodSeconds``, else the pod's) for a program that does not exit on SIGTERM (exit code
        137). Its exit then goes the way of any exit: restarted unless ``restartPolicy`` is Never, with the crash
        back-off from the second time on (doBackOff)."""
        name = cs["name"]
        restart = pod["spec"].get("restartPolicy", "Always") != "Never"
        message = f"Container {name} failed {w.kind.lower()} probe" + (", will be restarted" if restart else "")
        self.terminator.stop(pod, name, termination.grace_period(pod, w.spec), message,
                             lambda code: self._killed(pod, name, code))

    def _killed(self, pod: Pod, container: str, code: int | None) -> None:
        """The stopped container's process has ended: record its exit (None: it ended by itself, recorded)."""
        if code is not None:
            container_exited(self.sb, pod, container, code, killed=True)

    def _unhealthy(self, pod: Pod, container: str, message: str) -> None:
        """A Warning Unhealthy event; a repeat bumps its count, as client-go's event correlator does."""
        uid, ns = pod["metadata"].get("uid", ""), pod["metadata"].get("namespace") or "default"
        key = (uid, container, message)
        name = self.events.get(key)
        event = self.sb.store.get("events", ns, name) if name else None
        if event is not None:
            event = copy.deepcopy(event)
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = self.sb.api.now()
            self.sb.store.put("events", event)
            return
        record(self.sb, pod, "Unhealthy", message, "kubelet", "Warning", host=pod["spec"].get("nodeName", ""),
               field_path=f"spec.containers{{{container}}}")
        for e in self.sb.store.list("events", ns):
            if (e.get("involvedObject") or {}).get("uid") == uid and e.get("message") == message:
                self.events[key] = e["metadata"]["name"]


def _phase(pod: Pod) -> str:
    return (pod.get("status") or {}).get("phase", "")


def _deleting(pod: Pod) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def _new_ephemeral(pod: Pod) -> list[dict[str, Any]]:
    """Ephemeral containers added (``kubectl debug``) that the kubelet has not started yet."""
    known = {cs.get("name") for cs in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
    return [c for c in pod["spec"].get("ephemeralContainers") or [] if c.get("name") not in known]


def start_ephemeral(sb: Sandbox, pod: Pod, retry: bool = False) -> None:
    """The kubelet starts each new ephemeral container once; it is never restarted (pkg/kubelet: ephemeral
    containers). One that cannot be created (:mod:`.containerconfig`) waits, and is tried again (``retry``) at the
    pod worker's next sync."""
    new = copy.deepcopy(pod)
    statuses = new["status"].setdefault("ephemeralContainerStatuses", [])
    known = {cs["name"]: cs for cs in statuses}
    started, failed = [], False
    for c in new["spec"].get("ephemeralContainers") or []:
        cs = known.get(c["name"])
        if cs is not None and not (retry and containerconfig.failed(cs)):
            continue
        fresh = {"containerID": container_id(new, c["name"]), "image": full_image(c["image"]), "imageID": "",
                 "lastState": {}, "name": c["name"], "ready": False, "restartCount": 0,
                 "state": {"running": {"startedAt": sb.api.now()}}}
        error = containerconfig.config_error(sb, new, c, "ephemeralContainers")
        if error:
            del fresh["containerID"]
            fresh["state"] = containerconfig.waiting(error)
            failed = True
        else:
            started.append(c)
        if cs is None:
            statuses.append(fresh)
        else:
            cs.clear()
            cs.update(fresh)
    write_status(sb, new)
    for c in started:
        _started_events(sb, new, c, "ephemeralContainers")
        workloads = getattr(sb.dataplane, "workloads", None)
        if workloads is not None:
            workloads.start_container(new, c["name"])
    if failed:
        sb.pod_workers.sync_failed(new)


def _key(pod: Pod) -> Key:
    return pod["metadata"].get("namespace", ""), pod["metadata"]["name"]


def _failed_sync(pod: Pod) -> bool:
    """Whether a container of the pod could not be created at the last sync (:mod:`.containerconfig`)."""
    status = pod.get("status") or {}
    return any(containerconfig.failed(cs) for key in ("initContainerStatuses", "containerStatuses",
                                                      "ephemeralContainerStatuses") for cs in status.get(key) or [])


def _back_off(sb: Sandbox, pod: Pod) -> float | None:
    """Wait the pod worker's back-off before the next sync of a pod whose last one failed; look at the pod again
    at once (its other stages, the prober's), unless nothing waits (no event loop)."""
    sb.pod_workers.sync_failed(pod)
    return 0.0 if sb.pod_workers.pending(_key(pod)) else None


def _probed(pod: Pod) -> bool:
    return any(c.get(kind) for c in pod["spec"]["containers"] for kind, _ in PROBES)


STAGES: list[Stage] = [
    # graceful termination and the prober are added per sandbox by controller(), as they remember pods
    Stage("schedule", lambda p: not p["spec"].get("nodeName") and not _deleting(p) and _ours(p), lambda p: 0.0,
          schedule),
    Stage("start", lambda p: bool(p["spec"].get("nodeName")) and _phase(p) == "Pending" and not _deleting(p)
          and not (p.get("status") or {}).get("podIP"), lambda p: 0.1, start),  # once: init containers keep it Pending
    Stage("ephemeral", lambda p: _phase(p) == "Running" and not _deleting(p) and bool(_new_ephemeral(p)),
          lambda p: 0.1, lambda sb, p: start_ephemeral(sb, p)),
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
            return stage.act(sb, pod)  # a stage may ask to look again (the prober's next probe)
        return None


def controller(sb: Sandbox) -> Controller:
    terminator = termination.Terminator(sb)
    # the kubelet sees the deletion (its pod worker starts terminating the pod), a moment after it is made
    terminate = Stage("terminate", lambda p: _deleting(p) and bool(p["spec"].get("nodeName")) and
                      terminator.needs(p), lambda p: 0.2, terminator.act)
    prober = Prober(sb, terminator)
    # a pod whose last sync failed with no retry waited for (the sandbox restarted): its back-off starts now
    retry = Stage("retry", lambda p: _phase(p) in ("Pending", "Running") and not _deleting(p)
                  and bool((p.get("status") or {}).get("podIP"))
                  and _failed_sync(p) and not sb.pod_workers.pending(_key(p)), lambda p: 0.0, _back_off)
    # readiness probes go on while a pod terminates (the EndpointSlice's serving condition follows them)
    probe = Stage("probe", lambda p: _phase(p) == "Running" and _probed(p), lambda p: 0.0, prober.act)
    engine = StageEngine([terminate, *STAGES, retry, probe])
    lifecycle = Controller("pod-lifecycle", engine.reconcile, {"pods": same_key})
    sb.volume_manager.wake = lifecycle.enqueue  # a pod waiting for its volumes: their next try is due
    sb.pod_workers.resync = lambda key: resync_failed(sb, key)  # a failed sync's back-off has passed
    return lifecycle

