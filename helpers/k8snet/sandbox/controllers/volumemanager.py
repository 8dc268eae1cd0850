"""The kubelet's volume manager, for what it decides before a pod starts: whether the pod's volumes are mounted.

A pod's sync (pkg/kubelet/kubelet.go ``SyncPod``) writes the pod's status, then waits for its volumes
(``WaitForAttachAndMount``) before the container runtime creates the pod's sandbox (its IP) and starts any
container, init containers included. Until then the pod is ``Pending`` with its containers ``Waiting``:
``ContainerCreating``, or ``PodInitializing`` when it has init containers (kubelet_pods.go
``convertToAPIContainerStatuses``), so ``kubectl get pods`` shows ``ContainerCreating`` (or ``Init:0/N``).

The volumes waited for are those a container mounts (volumemanager/volume_manager.go ``getExpectedVolumes``:
util.GetPodVolumeNames over init, app and ephemeral containers). Mounting one is its plugin's ``SetUp``, run by
the reconciler through the operation executor: a ConfigMap or Secret that does not exist fails with
``configmap "NAME" not found`` / ``secret "NAME" not found`` unless the volume is ``optional`` (then it mounts
empty, or with the keys that exist); a key of ``items`` missing from the object fails with ``configmap references
non-existent config key: KEY`` / ``references non-existent secret key: KEY``, unless ``optional``; a projected
volume's ``sources[].configMap`` and ``sources[].secret`` follow the same rules, its errors aggregated as
``[a, b]`` (pkg/volume/configmap/configmap.go, pkg/volume/secret/secret.go, pkg/volume/projected/projected.go;
the words: :func:`..dataplane.volumes.setup_error`). Any Secret mounts, whatever its ``type``.

Each failure is a Warning ``FailedMount`` event from the kubelet, ``MountVolume.SetUp failed for volume "VOL" :
ERROR`` (pkg/volume/util/operationexecutor/operation_generator.go), and the next try of that volume waits an
exponential back-off: 500 ms after the first failure, doubled after each one, at most 2m2s
(pkg/util/goroutinemap/exponentialbackoff/exponential_backoff.go ``initialDurationBeforeRetry``,
``maxDurationBeforeRetry``). A repeated event raises the count of the one before (client-go's event correlator),
so ``kubectl describe pod`` shows ``(x7 over 2m)``. Once the ConfigMap or Secret exists, the next try mounts it
and the pod starts.

The pod worker's own wait gives up after ``podAttachAndMountTimeout`` (2m3s) and syncs the pod again; in
Kubernetes 1.33 that timeout records no event of its own: SyncPod records ``Unable to attach or mount volumes:
unmounted volumes=[...], unattached volumes=[...], failed to process volumes=[...]: ...`` only for an error
that is not a timeout (``if !wait.Interrupted(err)``; the poll's context deadline is one), and only logs the
rest. The sandbox starts the pod at the try that mounts its last volume, without the pod worker's re-sync gap
(up to 15 s after a wait that timed out).

The back-off runs on the sandbox clock (an admin advance of the clock brings the next try on at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dataplane.volumes import setup_error
from .events import record_aggregated

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]
Key = tuple[str, str]

INITIAL_BACKOFF = 0.5
"""exponential_backoff.go initialDurationBeforeRetry, in seconds."""
MAX_BACKOFF = 122.0
"""exponential_backoff.go maxDurationBeforeRetry (2m2s)."""
SETUP_KINDS = ("configMap", "secret", "projected")
"""The volume sources whose SetUp can fail in the sandbox (the others mount at once)."""


def expected_volumes(pod: Pod) -> list[str]:
    """The pod's volumes that some container mounts, in the order the pod declares them."""
    mounted = {m.get("name") for kind in ("initContainers", "containers", "ephemeralContainers")
               for c in pod["spec"].get(kind) or [] for m in c.get("volumeMounts") or []}
    return [v["name"] for v in pod["spec"].get("volumes") or [] if v.get("name") in mounted]


@dataclass
class Backoff:
    """exponential_backoff.go ExponentialBackoff: when the last try failed and how long the next one waits."""

    duration: float = 0.0
    last_error_at: float = 0.0

    def update(self, now: float) -> None:
        self.duration = INITIAL_BACKOFF if not self.duration else min(2 * self.duration, MAX_BACKOFF)
        self.last_error_at = now

    @property
    def retry_at(self) -> float:
        return self.last_error_at + self.duration


@dataclass
class PodVolumes:
    """What the actual state of the world holds for one pod: the volumes mounted, the back-off of the others."""

    uid: str
    mounted: set[str] = field(default_factory=set)
    backoff: dict[str, Backoff] = field(default_factory=dict)


class VolumeManager:
    """The volume manager of the sandbox's kubelets: mounts tried per pod and volume, failures reported and
    backed off on the sandbox clock; ``wake`` (the pod lifecycle's work queue) is called with a waiting pod's
    key when its next try is due."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.pods: dict[Key, PodVolumes] = {}
        self.wake: Callable[[Key], None] | None = None
        self._timers: dict[Key, asyncio.Task[None]] = {}

    def wait_for_attach_and_mount(self, pod: Pod) -> list[str]:
        """Try each of the pod's unmounted volumes whose back-off has passed (SetUp); a failure records the
        kubelet's FailedMount event and backs off. The volumes still unmounted (none: the pod may start); for
        them the pod is woken at the earliest next try."""
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        state = self.pods.get(key)
        if state is None or state.uid != meta.get("uid", ""):
            state = self.pods[key] = PodVolumes(meta.get("uid", ""))
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        now = self.sb.clock.time()
        waiting: list[str] = []
        for name in expected_volumes(pod):
            vol = volumes[name]
            if name in state.mounted or not any(kind in vol for kind in SETUP_KINDS):
                continue
            backoff = state.backoff.setdefault(name, Backoff())
            if backoff.duration and now < backoff.retry_at:
                waiting.append(name)
                continue
            error = setup_error(self.sb, pod, vol)
            if not error:
                state.mounted.add(name)
                state.backoff.pop(name, None)
                continue
            backoff.update(now)
            waiting.append(name)
            record_aggregated(self.sb, pod, "FailedMount", error, "kubelet", "Warning",
                              host=pod["spec"].get("nodeName", ""))
        if waiting:
            self._wake_at(key, min(state.backoff[name].retry_at for name in waiting))
        else:
            self.forget(key)  # mounted: the pod starts, and its volumes are the data plane's from now on
        return waiting

    def forget(self, key: Key) -> None:
        """The pod started or is gone: drop what was kept for it."""
        self.pods.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        """The cluster is replaced: no pod is waited for any more."""
        for key in list(self.pods):
            self.forget(key)

    def _wake_at(self, key: Key, when: float) -> None:
        """Enqueue the pod at sandbox time ``when`` (its earlier timer replaced); nothing where no loop runs (a
        synchronous test drives the kubelet by hand)."""
        if self.wake is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        wake = self.wake

        async def sleeper() -> None:
            await self.sb.clock.sleep_until(when)
            if self._timers.get(key) is task:
                del self._timers[key]
            wake(key)

        task = loop.create_task(sleeper(), name="kubelet-volume-retry")
        self._timers[key] = task
