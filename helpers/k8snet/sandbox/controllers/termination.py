"""Stopping containers as the kubelet does, and the graceful termination of a deleted pod.

One path stops a container, whatever the reason (a failed liveness or startup probe, or the pod's deletion):
pkg/kubelet/kuberuntime/kuberuntime_container.go ``killContainer``:

1. a ``Killing`` event ("Stopping container NAME" for a deletion);
2. the ``lifecycle.preStop`` hook (``executePreStopHook``), given the grace period: pkg/kubelet/lifecycle/
   handlers.go runs an ``exec`` command in the container (it fails if the command cannot run or exits non-zero),
   an ``httpGet`` from the node to the pod (it fails only without an HTTP answer: the status is not checked),
   or a ``sleep`` (PodLifecycleSleepAction, on by default in 1.33); any other handler is invalid. A failed hook
   is a Warning ``FailedPreStopHook`` event "PreStopHook failed" (the message is left out "so that secrets won't
   leak"). The whole seconds the hook took come off the grace period;
3. sidecars (restartable init containers) wait for the regular containers to end (terminationOrdering);
4. "always give containers a minimal shutdown window": at least ``minimumGracePeriodInSeconds`` (2 s);
5. ``StopContainer``: SIGTERM, and SIGKILL when the grace period is over. What the program does on SIGTERM is its
   own (:meth:`~k8snet.sandbox.dataplane.workloads.Workloads.on_sigterm`: agnhost netexec exits at once, or
   after ``--delay-shutdown`` seconds of serving on; a shell or ``sleep`` as PID 1 ignores it and is killed,
   exit code 137).

The grace period is ``setTerminationGracePeriod``'s: the delete request's (``deletionGracePeriodSeconds``),
else a failed probe's ``terminationGracePeriodSeconds``, else the pod's (30 s by default). A deleted pod's
running containers are stopped together (killContainersWithSyncResult); a shorter grace period from a second
delete cuts the wait short. Meanwhile the pod keeps its IP: a container that has ended refuses connections,
one that still runs answers them. When every container has ended the pod gets its terminal phase
(kubelet_pods.go getPhase with podIsTerminal: Succeeded if every container exited 0, else Failed) and the
kubelet's status manager removes it from the API (a delete with grace period 0), unless finalizers hold it.
See https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination and
https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/.

Every wait is on the sandbox clock (an admin clock advance moves it on). Where no event loop runs (a
synchronous test drives the kubelet by hand) nothing waits: hooks and programs end at once.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions
from . import kubelethttp
from .events import record
from .podstatus import not_ready, set_condition, write_status

if TYPE_CHECKING:
    from ..instance import Sandbox

log = logging.getLogger("k8snet.sandbox.termination")
Pod = dict[str, Any]

MINIMUM_GRACE = 2
"""kuberuntime_container.go ``minimumGracePeriodInSeconds``."""
DEFAULT_GRACE = 30
"""core/v1 defaults: ``terminationGracePeriodSeconds``."""
TICK = 0.25
"""Seconds between looks while a stop waits (a shorter grace period or a process's own end can cut it short)."""
STATUS_LISTS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")


def grace_period(pod: Pod, probe: dict[str, Any] | None = None) -> int:
    """setTerminationGracePeriod: the delete's grace period, else the failed probe's, else the pod's."""
    meta = pod["metadata"]
    if meta.get("deletionGracePeriodSeconds") is not None:
        return int(meta["deletionGracePeriodSeconds"])
    if probe is not None and probe.get("terminationGracePeriodSeconds") is not None:
        return int(probe["terminationGracePeriodSeconds"])
    value = pod["spec"].get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if value is None else int(value)


def container_kind(pod: Pod, container: str) -> str:
    """``containers``, ``initContainers`` or ``ephemeralContainers``: where the pod declares ``container``."""
    for key in ("containers", "initContainers", "ephemeralContainers"):
        if any(c.get("name") == container for c in pod["spec"].get(key) or []):
            return key
    return "containers"


def is_sidecar(pod: Pod, container: str) -> bool:
    return any(c.get("name") == container and c.get("restartPolicy") == "Always"
               for c in pod["spec"].get("initContainers") or [])


class Clockwork:
    """Waiting on the sandbox clock, or not at all (``instant``: no event loop runs)."""

    def __init__(self, sb: Sandbox, instant: bool):
        self.sb, self.instant = sb, instant

    def now(self) -> float:
        return self.sb.clock.time()

    async def until(self, when: Callable[[], float], done: Callable[[], bool] = lambda: False) -> None:
        """Until sandbox time ``when()`` (looked at again as it goes) or ``done()``."""
        if self.instant:
            return
        clock = self.sb.clock
        while not done() and clock.time() < when():
            await clock.sleep_until(min(when(), clock.time() + TICK))


def run_now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits (an instant stop) to its end, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("an instant container stop waited")


# -- a container that ended ---------------------------------------------------------------------------


def container_ended(sb: Sandbox, pod: Pod, container: str, code: int) -> None:
    """A terminating pod's container has ended with ``code``: terminated, not ready, and never restarted."""
    meta = pod["metadata"]
    current = sb.store.get("pods", meta.get("namespace", ""), meta["name"])
    if current is None or current["metadata"].get("uid") != meta.get("uid"):
        return
    new = copy.deepcopy(current)
    status = new.setdefault("status", {})
    cs = next((c for key in STATUS_LISTS for c in status.get(key) or [] if c.get("name") == container), None)
    if cs is None or "terminated" in (cs.get("state") or {}):
        return
    now = sb.api.now()
    started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
    cs.update({"ready": False, "started": False, "state": {"terminated": {
        "exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": started, "finishedAt": now,
        "containerID": cs.get("containerID")}}})
    not_ready(status, now)
    write_status(sb, new)


def terminal_phase(pod: Pod) -> str:
    """kubelet_pods.go getPhase for a terminal pod (podIsTerminal): Pending while a container never started,
    else Succeeded if every container exited 0, else Failed (a container waiting to restart counts as failed)."""
    states = {cs["name"]: cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    stopped = succeeded = pending = 0
    for c in pod["spec"]["containers"]:
        cs = states.get(c["name"])
        state = (cs or {}).get("state") or {}
        if cs is None or "running" in state:
            pending += 1  # unknown (or still running): not terminal yet
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif (cs.get("lastState") or {}).get("terminated"):
            stopped += 1
        else:
            pending += 1  # waiting, never started
    if pending or not stopped:
        return "Pending"
    return "Succeeded" if stopped == succeeded else "Failed"


# -- the kubelet's stops ------------------------------------------------------------------------------


@dataclass
class PodTermination:
    """A deleted pod the kubelet is terminating."""

    uid: str
    namespace: str
    name: str
    grace: int
    deadline: float = math.inf  # a shorter grace period from a later delete: everything still running is killed
    done: bool = False


class Terminator:
    """The kubelet's container stops and pod terminations for one sandbox."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.stops: dict[tuple[str, str], asyncio.Future[int | None]] = {}
        self.pods: dict[str, PodTermination] = {}

    # -- one container --------------------------------------------------------------------------

    def stop(self, pod: Pod, container: str, grace: int, message: str,
             on_done: Callable[[int | None], None]) -> None:
        """Stop one container off the reconcile (a liveness or startup kill); ``on_done`` gets its exit code
        (None when its process ended by itself meanwhile, which the kubelet's exit hook has recorded)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            on_done(run_now(self.stop_container(pod, container, grace, message, Clockwork(self.sb, True))))
            return
        task = self._stop_task(loop, pod, container,
                               lambda: self.stop_container(pod, container, grace, message, Clockwork(self.sb, False)))
        task.add_done_callback(lambda t: self._deliver(t, on_done))

    def _stop_task(self, loop: asyncio.AbstractEventLoop, pod: Pod, container: str,
                   make: Callable[[], Coroutine[Any, Any, int | None]]) -> asyncio.Future[int | None]:
        """The container's stop in progress, or a new one (a container is stopped once at a time)."""
        key = (pod["metadata"].get("uid", ""), container)
        running = self.stops.get(key)
        if running is not None and not running.done():
            return running
        task = loop.create_task(make(), name=f"stop-{container}")
        self.stops[key] = task
        task.add_done_callback(lambda t, k=key: self.stops.pop(k, None) if self.stops.get(k) is t else None)
        return task

    @staticmethod
    def _deliver(task: asyncio.Future[int | None], on_done: Callable[[int | None], None]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("stopping a container failed", exc_info=task.exception())
            return
        try:
            on_done(task.result())
        except Exception:  # a kubelet bug must not kill the loop
            log.exception("recording a stopped container failed")

    async def stop_container(self, pod: Pod, container: str, grace: int, message: str, clock: Clockwork,
                             deadline: Callable[[], float] = lambda: math.inf,
                             turn: Callable[[Callable[[], float]], Awaitable[None]] | None = None) -> int | None:
        """killContainer: the Killing event, the preStop hook, SIGTERM and the program's answer to it, SIGKILL
        at the end of the grace period. The exit code, or None if the process ended by itself meanwhile."""
        from ..dataplane.workloads import container_spec

        sb, node = self.sb, pod["spec"].get("nodeName", "")
        path = f"spec.{container_kind(pod, container)}{{{container}}}"
        record(sb, pod, "Killing", message, "kubelet", host=node, field_path=path)
        hook = ((container_spec(pod, container) or {}).get("lifecycle") or {}).get("preStop")
        start = clock.now()
        if hook and grace > 0:
            finished, ok = await self._pre_stop(pod, container, hook, start + grace, clock, deadline)
            if finished and not ok:
                record(sb, pod, "FailedPreStopHook", "PreStopHook failed", "kubelet", "Warning", host=node,
                       field_path=path)
            grace -= 0 if clock.instant else int(clock.now() - start)  # time.Duration.Seconds, truncated
        if turn is not None and grace > 0:
            waited = clock.now()
            await turn(lambda: min(waited + grace, deadline()))
            grace -= 0 if clock.instant else int(clock.now() - waited)
        grace = max(grace, MINIMUM_GRACE)
        return await self._sigterm(pod, container, grace, clock, deadline)

    async def _pre_stop(self, pod: Pod, container: str, hook: dict[str, Any], limit: float, clock: Clockwork,
                        deadline: Callable[[], float]) -> tuple[bool, bool]:
        """handlers.go Run: (finished within the grace period, succeeded)."""
        from ..dataplane.commands import EXEC_CPU_BUDGET, ExecStartFailure, run_probe, run_sync

        sb = self.sb
        if "exec" in hook:
            argv = list(hook["exec"].get("command") or [])
            if clock.instant:
                result = run_sync(sb.dataplane, pod, container, argv)
            else:
                task = asyncio.get_running_loop().create_task(
                    run_probe(sb.dataplane, pod, container, argv, EXEC_CPU_BUDGET))
                await clock.until(lambda: min(limit, deadline()), done=task.done)
                if not task.done():  # "PreStop hook not completed in grace period": the stop goes on
                    task.cancel()
                    return False, False
                result = task.result()
            return True, not isinstance(result, ExecStartFailure) and result.exit_code == 0
        if "httpGet" in hook:
            reply = kubelethttp.get(sb, pod, container, hook["httpGet"], "lifecycle")
            if reply.status is None and "server gave HTTP response to HTTPS client" in reply.error:
                retry = kubelethttp.get(sb, pod, container, {**hook["httpGet"], "scheme": "HTTP"}, "lifecycle")
                if retry.status is not None:  # isHTTPResponseError: retried over HTTP, with a Warning
                    ip = (pod.get("status") or {}).get("podIP", "")
                    port = kubelethttp.container_port(pod, container, hook["httpGet"].get("port"))
                    record(sb, pod, "LifecycleHTTPFallback", f"request to HTTPS lifecycle hook {ip}:{port} got "
                           "HTTP response, retry with HTTP succeeded", "kubelet", "Warning",
                           host=pod["spec"].get("nodeName", ""))
                    reply = retry
            return True, reply.status is not None
        if "sleep" in hook:
            until = clock.now() + float(hook["sleep"].get("seconds") or 0)
            await clock.until(lambda: min(until, limit, deadline()))
            return clock.instant or clock.now() >= until, True
        return True, False  # "invalid handler" (tcpSocket is accepted by validation, never run)

    async def _sigterm(self, pod: Pod, container: str, grace: int, clock: Clockwork,
                       deadline: Callable[[], float]) -> int | None:
        """StopContainer(grace): SIGTERM now, SIGKILL (137) when the grace period is over."""
        dp = self.sb.dataplane
        runs_process = dp.processes.alive(pod, container)
        after, code = dp.workloads.on_sigterm(pod, container)
        sent = clock.now()
        exits = sent + after if after is not None and after < grace else math.inf
        killed = sent + grace

        def ended_by_itself() -> bool:
            return runs_process and not dp.processes.alive(pod, container)

        await clock.until(lambda: min(exits, killed, deadline()), done=ended_by_itself)
        if ended_by_itself():
            return None
        if clock.instant:
            final = code if exits < math.inf else 137
        else:
            final = code if clock.now() >= exits and exits <= min(killed, deadline()) else 137
        dp.workloads.on_container_killed(pod, container)
        return final

    # -- a deleted pod (the "terminate" stage) --------------------------------------------------------

    def needs(self, pod: Pod) -> bool:
        """Whether a deleted pod wants the kubelet: to start terminating, to take a shorter grace period, or
        (terminated, its finalizers gone) to be removed."""
        state = self.pods.get(pod["metadata"].get("uid", ""))
        if state is None:
            return True
        if state.done:
            return not pod["metadata"].get("finalizers")
        return grace_period(pod) < state.grace

    def act(self, sb: Sandbox, pod: Pod) -> float | None:
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        state = self.pods.get(uid)
        if state is None:
            state = PodTermination(uid, meta.get("namespace", ""), meta["name"], grace_period(pod))
            self.pods[uid] = state
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                run_now(self._terminate(state, Clockwork(sb, True)))
                return None
            loop.create_task(self._terminate(state, Clockwork(sb, False)), name=f"terminate-{meta['name']}")
        elif state.done:
            self._remove(state)
        else:  # a second delete with a shorter grace period (kubectl delete --grace-period=N)
            state.grace = grace_period(pod)
            state.deadline = min(state.deadline, sb.clock.time() + max(state.grace, MINIMUM_GRACE))
        return None

    def _current(self, state: PodTermination) -> Pod | None:
        pod = self.sb.store.get("pods", state.namespace, state.name)
        return pod if pod is not None and pod["metadata"].get("uid") == state.uid else None

    async def _terminate(self, state: PodTermination, clock: Clockwork) -> None:
        """killPod: every running container stopped together, sidecars after the regular containers."""
        try:
            pod = self._current(state)
            if pod is None:
                return
            running = [cs["name"] for key in STATUS_LISTS for cs in (pod.get("status") or {}).get(key) or []
                       if "running" in (cs.get("state") or {})]
            regular = [name for name in running if not is_sidecar(pod, name)]
            ended: set[str] = set()

            async def turn(limit: Callable[[], float]) -> None:
                await clock.until(limit, done=lambda: all(name in ended for name in regular))

            async def one(name: str) -> None:
                def make() -> Coroutine[Any, Any, int | None]:
                    return self.stop_container(pod, name, state.grace, f"Stopping container {name}", clock,
                                               lambda: state.deadline, turn if is_sidecar(pod, name) else None)

                if clock.instant:
                    code = await make()
                else:
                    code = await self._stop_task(asyncio.get_running_loop(), pod, name, make)
                if code is not None:
                    container_ended(self.sb, pod, name, code)
                ended.add(name)

            if clock.instant:
                for name in regular + [n for n in running if n not in regular]:
                    await one(name)
            else:
                await asyncio.gather(*(one(name) for name in running))
        except Exception:  # a kubelet bug must not leave the pod terminating for ever
            log.exception("terminating pod %s/%s failed", state.namespace, state.name)
        self._finish(state)

    def _finish(self, state: PodTermination) -> None:
        """Every container has ended: the terminal phase, then the status manager's final delete."""
        state.done = True
        pod = self._current(state)
        if pod is None:
            self.pods.pop(state.uid, None)
            return
        new = copy.deepcopy(pod)
        status = new.setdefault("status", {})
        phase = terminal_phase(new)
        now = self.sb.api.now()
        if phase in ("Succeeded", "Failed"):
            status["phase"] = phase
            for ctype in ("Ready", "ContainersReady"):
                set_condition(status, ctype, "False", now, "PodCompleted")
        if new != pod:
            write_status(self.sb, new)
        if not pod["metadata"].get("finalizers"):
            self._remove(state)

    def _remove(self, state: PodTermination) -> None:
        """The kubelet's final delete: grace period 0, preconditioned on the pod's uid."""
        from ..errors import ApiError

        self.pods.pop(state.uid, None)
        if self._current(state) is None:
            return
        rt = self.sb.registry.lookup("", "v1", "pods")
        try:
            self.sb.api.delete(rt, state.namespace, state.name,
                               DeleteOptions(grace_period=0, preconditions={"uid": state.uid}))
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
