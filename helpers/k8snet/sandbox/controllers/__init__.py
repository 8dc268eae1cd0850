"""Controllers: plain reconcile functions registered for resources, played by one manager.

As with kopf, a controller is a function of a key; the manager feeds it keys
from store events (deduplicated work queues, like client-go's), runs it on the
sandbox's event loop, and retries on conflicts. A reconcile is synchronous, so
all its writes commit together before anything else runs; it returns the
seconds after which it wants to look again (declared stage delays), or None.
Those seconds are real time, or sandbox time for a ``clocked`` controller (one
whose delays are deadlines on the sandbox clock, such as a certificate's
renewal time): an admin advance of the clock wakes it.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..store import Event

if TYPE_CHECKING:
    from ..instance import Sandbox

log = logging.getLogger("k8snet.sandbox.controllers")

Key = tuple[str, str]  # (namespace, name)
POLL_KEY: Key = ("", "")
"""The key a periodic controller (``every``) is polled with."""
ANY_RESOURCE = "*"
"""A watch key for resources registered after the controller was built (custom resources of a new CRD)."""
Reconcile = Callable[["Sandbox", Key], "float | None"]
Mapper = Callable[["Sandbox", Event], Iterable[Key]]


def same_key(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    return [(meta.get("namespace", ""), meta["name"])]


def owner_key(kind: str) -> Mapper:
    """Map an event on a dependent to its controlling owner of ``kind`` (and the dependent itself is ignored)."""
    def mapper(sb: Sandbox, event: Event) -> Iterable[Key]:
        meta = event.obj["metadata"]
        out = []
        for obj in (event.obj, event.old):
            for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
                if ref.get("kind") == kind and ref.get("controller"):
                    out.append((meta.get("namespace", ""), ref["name"]))
        return out
    return mapper


@dataclass
class Controller:
    """One reconcile function and the resources whose events feed it."""

    name: str
    reconcile: Reconcile
    watches: dict[str, Mapper]
    every: float | None = None
    """A poll interval in sandbox-clock seconds: the reconcile then also gets the key ``("", "")`` at start and
    once each interval (wait.Until's period); an advance of the clock brings the next poll forward."""
    queue: list[Key] = field(default_factory=list)
    queued: set[Key] = field(default_factory=set)
    wakeup: asyncio.Event | None = None
    clocked: bool = False
    """Its delays are sandbox-clock time: waited with Clock.sleep_until (one timer per key, the latest wins)."""
    timers: dict[Key, asyncio.Task[Any]] = field(default_factory=dict)

    def enqueue(self, key: Key) -> None:
        if key not in self.queued:
            self.queued.add(key)
            self.queue.append(key)
            if self.wakeup is not None:
                self.wakeup.set()


class Manager:
    """Runs every controller's work queue on the sandbox's loop."""

    def __init__(self, sandbox: Sandbox, controllers: list[Controller]):
        self.sandbox = sandbox
        self.controllers = controllers
        self.tasks: list[asyncio.Task[Any]] = []
        sandbox.store.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        for c in self.controllers:
            mapper = c.watches.get(event.resource) or c.watches.get(ANY_RESOURCE)
            if mapper is not None:
                for key in mapper(self.sandbox, event):
                    c.enqueue(key)

    def start(self) -> None:
        for c in self.controllers:
            c.wakeup = asyncio.Event()
            self.tasks.append(asyncio.get_running_loop().create_task(self._run(c), name=f"controller-{c.name}"))
            if c.every is not None:
                self.tasks.append(asyncio.get_running_loop().create_task(self._poll(c), name=f"poll-{c.name}"))
        self.resync()

    async def _poll(self, c: Controller) -> None:
        """Enqueue the poll key now and then every ``c.every`` seconds of the sandbox clock."""
        assert c.every is not None
        clock = self.sandbox.clock
        while True:
            c.enqueue(POLL_KEY)
            await clock.sleep_until(clock.time() + c.every)

    def resync(self) -> None:
        """Enqueue every existing object once (start-up and reset), like an informer's initial list."""
        for c in self.controllers:
            for resource in c.watches:
                if resource == ANY_RESOURCE:
                    continue
                for obj in self.sandbox.store.list(resource):
                    event = Event("ADDED", resource, obj, 0)
                    for key in c.watches[resource](self.sandbox, event):
                        c.enqueue(key)

    async def _run(self, c: Controller) -> None:
        assert c.wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await c.wakeup.wait()
            c.wakeup.clear()
            while c.queue:
                key = c.queue.pop(0)
                c.queued.discard(key)
                try:
                    with self.sandbox.store.batch():
                        again = c.reconcile(self.sandbox, key)
                    if again is not None and c.clocked:
                        self._wake_at(c, key, self.sandbox.clock.time() + max(again, 0.0))
                    elif again is not None:
                        loop.call_later(max(again, 0.0), c.enqueue, key)
                except ApiError as exc:
                    if exc.code == 409:
                        loop.call_later(0.01, c.enqueue, key)  # stale view: look again
                    elif exc.code != 404:
                        log.warning("%s %s: %s", c.name, key, exc)
                except Exception:  # a controller bug must not stop the sandbox
                    log.error("%s %s failed:\n%s", c.name, key, traceback.format_exc())
                await asyncio.sleep(0)  # let requests in between keys

    def _wake_at(self, c: Controller, key: Key, when: float) -> None:
        """Enqueue ``key`` at sandbox time ``when`` (replacing the key's earlier timer, as a scheduled work queue
        does)."""
        old = c.timers.pop(key, None)
        if old is not None:
            old.cancel()

        async def sleeper() -> None:
            await self.sandbox.clock.sleep_until(when)
            if c.timers.get(key) is task:
                del c.timers[key]
            c.enqueue(key)

        task = asyncio.get_running_loop().create_task(sleeper(), name=f"{c.name}-timer")
        c.timers[key] = task

    async def stop(self) -> None:
        for c in self.controllers:
            for timer in c.timers.values():
                timer.cancel()
            c.timers.clear()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks.clear()
