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
import os
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
HISTORY_BYTES = 64 << 20
"""The history's bound in bytes of stored JSON too: a few large objects rewritten often (a 900 KB ConfigMap
updated 200 times) must not hold hundreds of MiB. kube-apiserver's watch cache is bounded by event count and
time; the sandbox bounds memory directly, and an older watch gets 410 Gone as it would there."""


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


class Unstorable(ValueError):
    """An object holds a value JSON cannot represent (NaN, a date, a set, bytes): nothing was written."""


def encode(obj: Obj) -> str:
    """The stored form of an object: strict JSON (no NaN/Infinity), as etcd holds what the apiserver encodes."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Unstorable(str(exc)) from exc


class Store:
    """In-memory objects backed by sqlite; the only place state changes."""

    def __init__(self, path: Path | str | None = None):
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}  # resource → namespace → name → object
        self._owned: dict[str, dict[str, set[Key]]] = {}  # resource → owner uid → keys of its dependents
        self._history: deque[tuple[Event, int]] = deque()  # (event, its size in bytes)
        self._history_bytes = 0
        self._undo: list[tuple[str, Key, Obj | None, int]] | None = None  # a batch's writes, to undo on failure
        self._listeners: list[Callable[[Event], None]] = []
        self._watchers: set[Watcher] = set()
        self._batch_depth = 0
        self.rv = 0
        self.compacted_rv = 0  # watches from at or below this revision get 410 Gone
        self.epoch = 0  # bumped at every open and wipe: seeds the uid stream so no uid repeats in a store's life
        self._changes = 0  # every change to memory, counted (never undone, unlike rv): see generation()
        self._changed: dict[str, int] = {}  # resource → the count at its last change
        self._wiped = 0
        self._db = self._open(path)
        self._load()
        self._bump_epoch()

    # -- persistence -----------------------------------------------------------------

    @staticmethod
    def _open(path: Path | str | None) -> sqlite3.Connection:
        if path:  # the store holds Secrets: owner-only, the WAL and shared-memory files too (they inherit umask)
            for suffix in ("", "-wal", "-shm"):
                file = Path(f"{path}{suffix}")
                os.close(os.open(file, os.O_CREAT | os.O_RDWR, 0o600))
                os.chmod(file, 0o600)
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
        row = self._db.execute("SELECT value FROM meta WHERE key='epoch'").fetchone()
        self.epoch = int(row[0]) if row else 0

    def _bump_epoch(self) -> None:
        self.epoch += 1
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('epoch', ?)", (str(self.epoch),))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write's sqlite statements: its own transaction, or a savepoint inside a batch's."""
        if self._batch_depth:
            self._db.execute("SAVEPOINT write")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO write")
                self._db.execute("RELEASE write")
                raise
            self._db.execute("RELEASE write")
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several writes into one durable commit (controllers writing many objects).

        Each write inside is atomic on its own (a savepoint): a write that fails leaves neither memory nor
        disk changed, and the writes before it stay, as separate API calls would. If the commit itself
        fails, memory is put back as the disk has it and every watch is closed, so clients list again.
        """
        outer = self._batch_depth == 0
        if outer:
            self._db.execute("BEGIN IMMEDIATE")
            self._undo = []
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if outer:
                undo, self._undo = self._undo or [], None
                try:
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    self._revert(undo)
                    raise

    def _revert(self, undo: list[tuple[str, Key, Obj | None, int]]) -> None:
        for resource, key, old, rv in reversed(undo):
            current = self.get(resource, *key)
            self._set(resource, key, old)
            self._index(resource, key, current, old)
            self.rv = rv
        self._history.clear()
        self._history_bytes = 0
        self.compacted_rv = self.rv
        for w in list(self._watchers):
            w.close()

    def _set(self, resource: str, key: Key, obj: Obj | None) -> None:
        self._changes += 1
        self._changed[resource] = self._changes
        if obj is None:
            self._objects.get(resource, {}).get(key[0], {}).pop(key[1], None)
        else:
            self._objects.setdefault(resource, {}).setdefault(key[0], {})[key[1]] = obj

    def _persist(self, resource: str, key: Key, data: str | None, rv: int) -> None:
        """Write one change to disk before memory changes: a failure leaves both as they were."""
        with self._transaction():
            if data is None:
                self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                                 (resource, *key))
            else:
                self._db.execute("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)",
                                 (resource, key[0], key[1], rv, data))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))

    def meta(self, key: str) -> str | None:
        """A cluster-wide setting kept beside the objects (the clock's offset), or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Keep a cluster-wide setting, durably before this returns, as every write is."""
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def wipe(self) -> None:
        """Forget every object (``k8snet sandbox reset``); revisions and the uid epoch keep counting up."""
        with self._transaction():
            self._db.execute("DELETE FROM objects")
        self._objects.clear()
        self._owned.clear()
        self._changes += 1
        self._wiped = self._changes
        self._history.clear()
        self._history_bytes = 0
        self.compacted_rv = self.rv
        self._bump_epoch()
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

    def generation(self, resource: str) -> int:
        """A number that changes whenever an object of ``resource`` is written, deleted, put back by a failed batch or
        wiped, and never comes back: what a cache built from ``list(resource)`` keys on (unlike ``rv``, which
        moves with every resource, and which a failed batch winds back)."""
        return max(self._changed.get(resource, 0), self._wiped)

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
        """Create or replace an object, stamping the next resourceVersion.

        Raises:
            Unstorable: the object holds a value JSON cannot represent; nothing changed.
        """
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self.get(resource, *key)
        rv = self.rv + 1
        previous_rv = meta.get("resourceVersion")
        meta["resourceVersion"] = str(rv)
        try:
            data = encode(obj)
            self._persist(resource, key, data, rv)
        except BaseException:
            if previous_rv is None:
                meta.pop("resourceVersion", None)
            else:
                meta["resourceVersion"] = previous_rv
            raise
        self._applied(resource, key, old, obj, rv)
        self._emit(Event("MODIFIED" if old is not None else "ADDED", resource, obj, rv, old), len(data))
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> Obj | None:
        """Delete an object; watchers get it with a fresh resourceVersion, as the apiserver sends."""
        key = (namespace, name)
        old = self.get(resource, *key)
        if old is None:
            return None
        rv = self.rv + 1
        self._persist(resource, key, None, rv)
        self._applied(resource, key, old, None, rv)
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(rv)}}
        self._emit(Event("DELETED", resource, gone, rv, old), len(encode(old)))
        return gone

    def _applied(self, resource: str, key: Key, old: Obj | None, new: Obj | None, rv: int) -> None:
        """Memory follows a write that is on disk (and remembers how to undo it inside a batch)."""
        if self._undo is not None:
            self._undo.append((resource, key, old, self.rv))
        self._set(resource, key, new)
        self._index(resource, key, old, new)
        self.rv = rv

    # -- change notification ---------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` synchronously after every write (controllers enqueue work here)."""
        self._listeners.append(listener)

    def _emit(self, event: Event, size: int) -> None:
        self._history.append((event, size))
        self._history_bytes += size
        while len(self._history) > HISTORY or self._history_bytes > HISTORY_BYTES:
            dropped, dropped_size = self._history.popleft()
            self._history_bytes -= dropped_size
            self.compacted_rv = dropped.rv
        for w in list(self._watchers):
            w.offer(event)
        for listener in list(self._listeners):
            listener(event)

    def watch(self, resource: str, namespace: str | None, since: int) -> Watcher:
        """Start a watch delivering every event after revision ``since`` (replayed from history)."""
        if since < self.compacted_rv:
            raise TooOld(since)
        w = Watcher(self, resource, namespace)
        for event, _ in self._history:
            if event.rv > since:
                w.offer(event)
        self._watchers.add(w)
        return w

    def close_watches(self) -> None:
        """End every watch stream (the server is stopping: each reader sees the end at once, instead of when its
        timeout or the next event comes)."""
        for w in list(self._watchers):
            w.close()


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
