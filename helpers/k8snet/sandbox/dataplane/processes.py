"""A container's own command, run as a process: its output is its log, its exit goes to the kubelet.

Servers the sandbox emulates (netexec, nginx, http-echo, …) answer connections and never exit. Every other
command a container starts in an image with a shell (``sh -c 'echo hi; exit 3'``, ``wget -qO- http://web``,
busybox's bare ``sh``) runs here, through the same emulated programs as ``kubectl exec``, in slices between
the API server's other requests and under the same budgets. What it writes becomes log lines as it runs;
when it ends, the kubelet's hook (``on_exit``: :func:`k8snet.sandbox.controllers.pods.container_exited`) decides the pod's fate as the kubelet
does (``restartPolicy``, back-off).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import commands
from .context import Budget, Ctx, Pipe
from .workloads import container_spec

if TYPE_CHECKING:
    from . import DataPlane

log = logging.getLogger("k8snet.sandbox.processes")
Pod = dict[str, Any]
Key = tuple[str, str]  # (pod uid, container)


class Processes:
    """The running container processes of one sandbox, one asyncio task each."""

    def __init__(self, dataplane: DataPlane):
        self.dp = dataplane
        self._tasks: dict[Key, asyncio.Task[None]] = {}
        self.failures: dict[Key, int] = {}  # the kubelet's crash back-off: exits since the last reset
        self.pipes: dict[Key, Pipe] = {}  # held-open standard inputs (containers with ``stdin: true``)
        self._watchers: dict[Key, list[Callable[[bytes | None], None]]] = {}  # attached clients
        self.on_exit: Callable[[Pod, str, int, Any], None] | None = None
        """The kubelet's hook for an ended process (set by the sandbox: the data plane sits below controllers)."""

    def start(self, pod: Pod, container: str, argv: list[str]) -> None:
        """Start a container's command (replacing an earlier run of the same container)."""
        key = (pod["metadata"].get("uid", ""), container)
        self.stop(key)
        spec = container_spec(pod, container) or {}
        if spec.get("stdin"):
            self.pipes[key] = Pipe()  # a new process gets a new pipe (stdinOnce closed the last one)
        else:
            self.pipes.pop(key, None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a synchronous test): the container's command does not run
        self._tasks[key] = loop.create_task(self._run(pod, container, argv), name=f"process-{container}")

    def stop(self, key: Key) -> None:
        task = self._tasks.pop(key, None)
        if task is not None and not task.done():
            task.cancel()

    def forget_all(self) -> None:
        """The cluster is gone (a reset): every container's process is killed."""
        for uid in {key[0] for key in [*self._tasks, *self.pipes, *self._watchers]}:
            self.forget(uid)

    def forget(self, pod_uid: str) -> None:
        """The pod is gone: its processes are killed."""
        for key in [k for k in self._tasks if k[0] == pod_uid]:
            self.stop(key)
        for key in [k for k in self.failures if k[0] == pod_uid]:
            del self.failures[key]
        for key in [k for k in self.pipes if k[0] == pod_uid]:
            self.pipes.pop(key).close()
        for key in [k for k in self._watchers if k[0] == pod_uid]:
            for watcher in self._watchers.pop(key):
                watcher(None)

    def attach(self, pod: Pod, container: str, watcher: Callable[[bytes | None], None]) -> Pipe | None | bool:
        """Hand the process's output to ``watcher`` from now on (None once it has ended); its held-open
        standard input, None without one, or False when the container runs no process of its own."""
        key = (pod["metadata"].get("uid", ""), container)
        task = self._tasks.get(key)
        if task is None or task.done():
            return False
        self._watchers.setdefault(key, []).append(watcher)
        return self.pipes.get(key)

    def detach(self, pod: Pod, container: str, watcher: Callable[[bytes | None], None]) -> None:
        key = (pod["metadata"].get("uid", ""), container)
        watchers = self._watchers.get(key, [])
        if watcher in watchers:
            watchers.remove(watcher)

    def alive(self, pod: Pod, container: str) -> bool:
        """Whether the container's own command runs as a process here (and has not ended)."""
        task = self._tasks.get((pod["metadata"].get("uid", ""), container))
        return task is not None and not task.done()

    def running(self) -> int:
        return sum(1 for t in self._tasks.values() if not t.done())

    async def _run(self, pod: Pod, container: str, argv: list[str]) -> None:
        uid = pod["metadata"].get("uid", "")
        seen: list[Ctx] = []
        logs = self.dp.logs

        budget = Budget(cpu=math.inf)  # a container's process is throttled (drive's share), never ended

        key = (uid, container)
        spec = container_spec(pod, container) or {}

        def flush() -> None:
            for ctx in seen:
                for stream in (ctx.out, ctx.err):
                    if stream:
                        data = b"".join(stream)
                        stream.clear()
                        budget.held -= len(data)  # handed to the log: no longer held
                        if data:
                            logs.write(uid, container, data.decode(errors="replace"))
                            for watcher in list(self._watchers.get(key, [])):
                                watcher(data)

        def attach(ctx: Ctx) -> None:
            ctx.detached = True
            ctx.pipe = self.pipes.get(key)
            ctx.tty = bool(spec.get("tty"))
            seen.append(ctx)

        steps = commands._steps(self.dp, pod, container, argv, None, False, budget, attach)
        try:
            result = await commands.drive(self.dp, steps, flush, commands.PROCESS_CPU_SHARE,
                                          self.pipes.get(key) if spec.get("tty") else None)
        except asyncio.CancelledError:
            return
        for stream in (result.stdout, result.stderr):  # what the last step wrote (or a start failure's message)
            if stream:
                logs.write(uid, container, stream.decode(errors="replace"))
                for watcher in list(self._watchers.get(key, [])):
                    watcher(stream)
        logs.close_line(uid, container)
        for watcher in self._watchers.pop(key, []):
            watcher(None)
        code = result.exit_code
        if isinstance(result, commands.ExecStartFailure):
            code = 128  # containerd: the process could not start (StartError)
        if self.on_exit is None:
            return
        try:
            self.on_exit(pod, container, code, result)
        except Exception:  # a kubelet bug must not kill the loop
            log.exception("recording the exit of %s/%s failed", pod["metadata"].get("name"), container)
