"""The kubelet's periodic pod sync, for what it changes in running containers: the files of their volumes.

The kubelet syncs every pod again ``syncFrequency`` after its last sync (1 minute:
pkg/kubelet/apis/config/v1beta1/defaults.go), stretched by up to half of it (pkg/kubelet/pod_workers.go
``wrapUp``: ``wait.Jitter(resyncInterval, workerResyncIntervalJitterFactor)`` with a factor of 0.5), and at once
when the pod's spec, labels or annotations change (pkg/kubelet/config/config.go ``podsDifferSemantically``).
Each sync remounts the pod's ConfigMap, Secret, downwardAPI and projected volumes
(``RequiresRemount``); with the default ``Watch`` change-detection strategy the kubelet's copy of a ConfigMap or
Secret follows the API at once (pkg/kubelet/configmap, pkg/kubelet/secret), so a change reaches the files at the
pod's next sync: up to a minute and a half later (kubernetes.io/docs/concepts/configuration/configmap/
#mounted-configmaps-are-updated-automatically, and /docs/concepts/configuration/secret/).

Syncs run on the sandbox clock (an admin advance of the clock brings them on at once), each delay drawn from the
sandbox's seeded generator, so a lesson can show "not yet" and then "updated", and a test can step the clock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import DataPlane

log = logging.getLogger("k8snet.sandbox.podsync")
Pod = dict[str, Any]

SYNC_FREQUENCY = 60.0
"""KubeletConfiguration syncFrequency's default, in seconds."""
JITTER_FACTOR = 0.5
"""pod_workers.go workerResyncIntervalJitterFactor."""


def differ(old: Pod | None, new: Pod) -> bool:
    """config.go podsDifferSemantically: the spec, labels, annotations or deletion changed (not the status)."""
    if old is None:
        return False
    a, b = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or a.get("labels") != b.get("labels")
            or a.get("annotations") != b.get("annotations") or a.get("deletionTimestamp") != b.get("deletionTimestamp"))


class PodSync:
    """When each running pod of one data plane is synced next, and the task that syncs them on time."""

    def __init__(self, dataplane: DataPlane):
        self.dp = dataplane
        self.sb = dataplane.sb
        self.due: dict[str, float] = {}  # pod uid -> sandbox time of its next sync
        self.pods: dict[str, tuple[str, str]] = {}  # pod uid -> (namespace, name)
        self.syncs = 0
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def track(self, pod: Pod) -> None:
        """A container of the pod started: the pod is synced from now on (its next sync a period away)."""
        uid = pod["metadata"].get("uid", "")
        if uid in self.due:
            return
        self.pods[uid] = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        self.due[uid] = self.sb.clock.time() + self._period()
        self._ensure_running()

    def changed(self, old: Pod | None, new: Pod) -> None:
        """The pod was updated: a semantic change (labels, annotations, spec) makes the kubelet sync it now."""
        uid = new["metadata"].get("uid", "")
        if uid in self.due and differ(old, new):
            self.due[uid] = self.sb.clock.time()
            self._ensure_running()
            if self._wake is not None:
                self._wake.set()

    def forget(self, uid: str) -> None:
        self.due.pop(uid, None)
        self.pods.pop(uid, None)

    def sync(self, uid: str) -> None:
        """One sync of the pod: its volumes remounted; the next sync a jittered period away."""
        ns, name = self.pods[uid]
        pod = self.sb.store.get("pods", ns, name)
        if pod is None or pod["metadata"].get("uid") != uid:
            self.forget(uid)  # gone (deleted, or the cluster was reset under this data plane)
            return
        self.syncs += 1
        try:
            self.dp.workloads.sync_volumes(pod)
        finally:
            self.due[uid] = self.sb.clock.time() + self._period()

    def _period(self) -> float:
        """wait.Jitter(syncFrequency, 0.5): the period plus up to half of it, from the seeded generator."""
        return SYNC_FREQUENCY * (1 + JITTER_FACTOR * self.sb.random.stream("kubelet-sync").random())

    def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a synchronous test drives the kubelet by hand): syncs run when asked
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="kubelet-pod-sync")

    async def _run(self) -> None:
        assert self._wake is not None
        while self.due:
            self._wake.clear()
            sleeper = asyncio.ensure_future(self.sb.clock.sleep_until(min(self.due.values())))
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()
            now = self.sb.clock.time()
            for uid in [u for u, when in self.due.items() if when <= now]:
                try:
                    self.sync(uid)
                except Exception:  # a sync's bug must not stop the others
                    log.exception("pod sync of %s failed", self.pods.get(uid))
            await asyncio.sleep(0)
