"""The store's own guarantees: a failed write changes nothing, memory equals disk, the history is bounded."""

from __future__ import annotations

import datetime
import stat

import pytest

from k8snet.sandbox import store as store_module
from k8snet.sandbox.store import Store, TooOld, Unstorable


def cm(name: str, **data: object) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": data}


def on_disk(path) -> dict:
    reopened = Store(path)
    try:
        return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in reopened.list("configmaps")}
    finally:
        reopened.close()


def in_memory(s: Store) -> dict:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in s.list("configmaps")}


@pytest.mark.parametrize("bad", [datetime.date(2020, 1, 1), {1, 2}, b"\x00", float("nan"), float("inf")])
def test_a_value_json_cannot_hold_changes_nothing_and_later_writes_work(tmp_path, bad):
    path = tmp_path / "store.sqlite"
    s = Store(path)
    s.put("configmaps", cm("a", x="1"))
    rv = s.rv
    with pytest.raises(Unstorable):
        s.put("configmaps", cm("b", x=bad))
    assert s.rv == rv and s.get("configmaps", "default", "b") is None
    s.put("configmaps", cm("c", x="3"))  # no transaction left open: the next write commits
    assert in_memory(s) == on_disk(path)
    s.close()


def test_a_failing_write_inside_a_batch_keeps_the_writes_before_it(tmp_path):
    path = tmp_path / "store.sqlite"
    s = Store(path)
    with pytest.raises(Unstorable), s.batch():
        s.put("configmaps", cm("a", x="1"))
        s.put("configmaps", cm("b", x={3}))
    s.put("configmaps", cm("c", x="3"))
    assert set(in_memory(s)) == {("default", "a"), ("default", "c")}
    assert in_memory(s) == on_disk(path)
    s.close()


def test_a_failed_commit_puts_memory_back_as_the_disk_has_it(tmp_path):
    path = tmp_path / "store.sqlite"
    s = Store(path)
    s.put("configmaps", cm("a", x="1"))
    watcher = s.watch("configmaps", None, s.rv)

    class Refuse:  # the disk refuses the batch's COMMIT (a full disk, an I/O error)
        def __init__(self, db):
            self.db = db

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise OSError("disk I/O error")
            return self.db.execute(sql, *args)

    real = s._db
    s._db = Refuse(real)
    with pytest.raises(OSError), s.batch():
        s.put("configmaps", cm("a", x="changed"))
        s.put("configmaps", cm("b", x="2"))
        s.remove("configmaps", "default", "a")
    s._db = real
    assert in_memory(s) == on_disk(path)
    assert s.get("configmaps", "default", "a")["data"] == {"x": "1"}
    assert watcher.closed  # watchers saw undone events: they must list again
    s.close()


def test_a_resources_generation_moves_with_its_own_writes_and_never_comes_back(tmp_path):
    """What caches built from one resource key on: unlike rv, other resources leave it be, and a batch undone by a
    failed commit moves it on rather than back (the rv it would have stamped is handed out again)."""
    s = Store(tmp_path / "store.sqlite")
    seen = [s.generation("configmaps")]
    s.put("configmaps", cm("a", x="1"))
    seen.append(s.generation("configmaps"))
    s.put("secrets", {"metadata": {"name": "s", "namespace": "default"}})
    assert s.generation("configmaps") == seen[-1]
    real = s._db

    class Refuse:
        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise OSError("disk I/O error")
            return real.execute(sql, *args)

    s._db = Refuse()
    with pytest.raises(OSError), s.batch():
        s.put("configmaps", cm("a", x="undone"))
    s._db = real
    seen.append(s.generation("configmaps"))
    s.put("configmaps", cm("a", x="2"))  # the same rv as the undone write
    seen.append(s.generation("configmaps"))
    s.remove("configmaps", "default", "a")
    seen.append(s.generation("configmaps"))
    s.wipe()
    seen.append(s.generation("configmaps"))
    assert seen == sorted(set(seen)), seen  # every step a new, larger number
    s.close()


def test_each_open_and_wipe_starts_a_new_uid_epoch(tmp_path):
    path = tmp_path / "store.sqlite"
    s = Store(path)
    first = s.epoch
    s.wipe()
    assert s.epoch == first + 1
    s.close()
    again = Store(path)
    assert again.epoch == first + 2
    again.close()


def test_watch_history_is_bounded_in_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "HISTORY_BYTES", 1 << 20)
    s = Store(tmp_path / "store.sqlite")
    start = s.rv
    big = "x" * (100 << 10)
    for i in range(50):
        s.put("configmaps", cm("big", x=big, i=str(i)))
    assert s._history_bytes <= 1 << 20
    assert len(s._history) < 50
    with pytest.raises(TooOld):
        s.watch("configmaps", None, start)
    newest = s.watch("configmaps", None, s.compacted_rv)  # what is kept is still served
    assert newest.queue.qsize() == len(s._history)
    s.close()


def test_store_files_are_private(tmp_path):
    path = tmp_path / "store.sqlite"
    s = Store(path)
    s.put("configmaps", cm("a", x="1"))
    for suffix in ("", "-wal", "-shm"):
        mode = stat.S_IMODE((tmp_path / f"store.sqlite{suffix}").stat().st_mode)
        assert mode == 0o600, (suffix, oct(mode))
    s.close()


def test_closing_the_watches_ends_every_stream_at_once(tmp_path):
    """A stopping server ends its watch streams: each reader gets the end marker now rather than at its timeout
    (kube-apiserver's shutdown likewise ends open watches)."""
    s = Store(tmp_path / "store.sqlite")
    s.put("configmaps", cm("a", x="1"))
    watchers = [s.watch("configmaps", None, s.rv), s.watch("secrets", "default", s.rv)]
    s.close_watches()
    assert all(w.closed and w.queue.get_nowait() is None for w in watchers)
    s.put("configmaps", cm("b", x="2"))  # nothing reaches a closed watch
    assert all(w.queue.empty() for w in watchers)
    s.close()
