"""The kubelet's pod workers, for what they do after a pod sync that failed: sync the pod again after a back-off.

A sync fails when a container could not be started for a reason other than a back-off (pkg/kubelet/kubelet.go
``SyncPod``: the runtime's result has an error that is neither CrashLoopBackOff nor ImagePullBackOff, such as
``CreateContainerConfigError``). The pod worker then queues the pod again after
``wait.Jitter(backOffPeriod, workerBackOffPeriodJitterFactor)``: 10 s plus up to half of it
(pkg/kubelet/pod_workers.go ``completeWork``; kubelet.go ``backOffPeriod``). Nothing else brings that sync
forward: the kubelet's ConfigMap and Secret managers watch the objects its pods use, but a new object wakes no
pod worker, so a pod waiting for a Secret starts at the first sync after the Secret exists.

The wait runs on the sandbox clock (an admin advance of the clock brings the sync on at once), its jitter drawn
from the sandbox's seeded generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]
Key = tuple[str, str]

BACKOFF_PERIOD = 10.0
"""kubelet.go backOffPeriod, in seconds."""
JITTER_FACTOR = 0.5
"""pod_workers.go workerBackOffPeriodJitterFactor."""


class PodWorkers:
    """When each pod whose last sync failed is synced next; ``resync`` (the kubelet's retry) is called with its
    key then, if the pod is still the one that failed."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.resync: Callable[[Key], None] | None = None
        self._timers: dict[Key, asyncio.Task[None]] = {}

    def sync_failed(self, pod: Pod) -> float:
        """The pod's sync failed: its next one is a jittered back-off away (seconds returned); a later failure
        replaces the earlier wait, as the work queue's Enqueue does. Nothing waits where no loop runs (a
        synchronous test drives the kubelet by hand)."""
        meta = pod["metadata"]
        key, uid = (meta.get("namespace", ""), meta["name"]), meta.get("uid", "")
        delay = BACKOFF_PERIOD * (1 + JITTER_FACTOR * self.sb.random.stream("kubelet-pod-workers").random())
        if self.resync is None:
            return delay
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return delay
        self.forget(key)
        when, resync = self.sb.clock.time() + delay, self.resync

        async def sleeper() -> None:
            await self.sb.clock.sleep_until(when)
            if self._timers.get(key) is task:
                del self._timers[key]
            current = self.sb.store.get("pods", *key)
            if current is not None and current["metadata"].get("uid") == uid:
                resync(key)

        task = loop.create_task(sleeper(), name="kubelet-pod-worker-backoff")
        self._timers[key] = task
        return delay

    def pending(self, key: Key) -> bool:
        """Whether a retry of the pod is waited for (none after a restart of the sandbox: its pods are looked at
        again, and a failed one gets a new back-off)."""
        return key in self._timers

    def forget(self, key: Key) -> None:
        """The pod is gone (or synced again): no retry is waited for."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        """The cluster is replaced: no pod is waited for any more."""
        for key in list(self._timers):
            self.forget(key)
