"""The versioned object store: one global resourceVersion, watches, crash-safe persistence.

Like etcd behind kube-apiserver, every write gets the next revision, and
watchers see every change in revision order. Objects live in memory for
fast lists; every acknowledged write is committed to sqlite (WAL mode,
``synchronous=FULL``) before the caller gets its answer, so ``kill -9``
loses nothing that was acknowledged and revisions stay monotonic across
restarts.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects

HISTORY = 50_000
"""Watch events kept in memory; a watch from an older revision gets 410 Gone (like the watch cache)."""


@dataclass(frozen=True)
class Event:
    """One change: ADDED, MODIFIED or DELETED, at revision ``rv``."""

    type: str
    resource: str  # group_resource, e.g. "pods" or "deployments.apps"
    obj: Obj
    rv: int
    old: Obj | None = None


class TooOld(Exception):
    """A watch asked for a revision older than the kept history."""


class Store:
    """In-memory objects backed by sqlite; the only place state changes."""

    def __init__(self, path: Path | str | None = None):
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}  # resource → namespace → name → object
        self._owned: dict[str, dict[str, set[Key]]] = {}  # resource → owner uid → keys of its dependents
        self._history: deque[Event] = deque(maxlen=HISTORY)
        self._listeners: list[Callable[[Event], None]] = []
        self._watchers: set[Watcher] = set()
        self._batch_depth = 0
        self.rv = 0
        self.compacted_rv = 0  # watches from at or below this revision get 410 Gone
        self._db = self._open(path)
        self._load()

    # -- persistence -----------------------------------------------------------------

    @staticmethod
    def _open(path: Path | str | None) -> sqlite3.Connection:
        db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS objects (resource TEXT, namespace TEXT, name TEXT, rv INTEGER,"
                   " data TEXT, PRIMARY KEY (resource, namespace, name))")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        return db

    def _load(self) -> None:
        for resource, ns, name, data in self._db.execute("SELECT resource, namespace, name, data FROM objects"
                                                         " ORDER BY resource, namespace, name"):
            obj = json.loads(data)
            self._objects.setdefault(resource, {}).setdefault(ns, {})[name] = obj
            self._index(resource, (ns, name), None, obj)
        row = self._db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        self.rv = int(row[0]) if row else 0
        self.compacted_rv = self.rv

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several writes into one durable commit (controllers writing many objects)."""
        if self._batch_depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._batch_depth += 1
        try:
            yield
        except BaseException:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._db.execute("COMMIT")  # writes already applied in memory must stay durable
            raise
        self._batch_depth -= 1
        if self._batch_depth == 0:
            self._db.execute("COMMIT")

    def _persist(self, resource: str, key: Key, obj: Obj | None) -> None:
        own = self._batch_depth == 0
        if own:
            self._db.execute("BEGIN IMMEDIATE")
        if obj is None:
            self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", (resource, *key))
        else:
            self._db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                             (resource, key[0], key[1], self.rv, json.dumps(obj, separators=(",", ":"))))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self.rv),))
        if own:
            self._db.execute("COMMIT")

    def wipe(self) -> None:
        """Forget every object (``k8snet sandbox reset``); revisions keep counting up."""
        self._objects.clear()
        self._owned.clear()
        self._history.clear()
        self._db.execute("DELETE FROM objects")
        self.compacted_rv = self.rv
        for w in list(self._watchers):
            w.close()

    def close(self) -> None:
        self._db.close()

    # -- reads -----------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        """The stored object (shared: copy before changing it)."""
        return self._objects.get(resource, {}).get(namespace, {}).get(name)

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        """Objects of one resource, sorted by namespace and name as etcd keys sort."""
        by_ns = self._objects.get(resource, {})
        if namespace is not None:
            objs = by_ns.get(namespace, {})
            return [objs[n] for n in sorted(objs)]
        return [by_ns[ns][n] for ns in sorted(by_ns) for n in sorted(by_ns[ns])]

    def owned_by(self, resource: str, uid: str) -> list[Obj]:
        """Objects of ``resource`` whose ownerReferences name ``uid`` (an index, as informers keep)."""
        keys = self._owned.get(resource, {}).get(uid, ())
        return [o for o in (self.get(resource, ns, n) for ns, n in sorted(keys)) if o is not None]

    def count(self, resource: str) -> int:
        return sum(len(v) for v in self._objects.get(resource, {}).values())

    def _index(self, resource: str, key: Key, old: Obj | None, new: Obj | None) -> None:
        owners = self._owned.setdefault(resource, {})
        for obj, add in ((old, False), (new, True)):
            for ref in ((obj or {}).get("metadata") or {}).get("ownerReferences") or []:
                keys = owners.setdefault(ref.get("uid", ""), set())
                if add:
                    keys.add(key)
                else:
                    keys.discard(key)

    # -- writes ----------------------------------------------------------------------

    def put(self, resource: str, obj: Obj) -> Obj:
        """Create or replace an object, stamping the next resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self.get(resource, *key)
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self._objects.setdefault(resource, {}).setdefault(key[0], {})[key[1]] = obj
        self._index(resource, key, old, obj)
        self._persist(resource, key, obj)
        self._emit(Event("MODIFIED" if old is not None else "ADDED", resource, obj, self.rv, old))
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> Obj | None:
        """Delete an object; watchers get it with a fresh resourceVersion, as the apiserver sends."""
        old = self._objects.get(resource, {}).get(namespace, {}).pop(name, None)
        if old is None:
            return None
        self._index(resource, (namespace, name), old, None)
        self.rv += 1
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self.rv)}}
        self._persist(resource, (namespace, name), None)
        self._emit(Event("DELETED", resource, gone, self.rv, old))
        return gone

    # -- change notification ---------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` synchronously after every write (controllers enqueue work here)."""
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        if len(self._history) == self._history.maxlen:
            self.compacted_rv = self._history[0].rv - 1
        for w in list(self._watchers):
            w.offer(event)
        for listener in list(self._listeners):
            listener(event)

    def watch(self, resource: str, namespace: str | None, since: int) -> Watcher:
        """Start a watch delivering every event after revision ``since`` (replayed from history)."""
        if since < self.compacted_rv:
            raise TooOld(since)
        w = Watcher(self, resource, namespace)
        for event in self._history:
            if event.rv > since:
                w.offer(event)
        self._watchers.add(w)
        return w


class Watcher:
    """A queue of events for one watch request, filtered by resource and namespace."""

    def __init__(self, store: Store, resource: str, namespace: str | None):
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def offer(self, event: Event) -> None:
        if event.resource != self.resource:
            return
        if self.namespace is not None and event.obj["metadata"].get("namespace", "") != self.namespace:
            return
        self.queue.put_nowait(event)

    def close(self) -> None:
        """Stop the watch; the reader sees ``None`` and ends the stream."""
        if not self.closed:
            self.closed = True
            self.store._watchers.discard(self)
            self.queue.put_nowait(None)
