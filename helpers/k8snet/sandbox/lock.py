"""One server per state directory: an OS lock the server holds for its whole life.

Two servers on one ``store.sqlite`` would both acknowledge writes with the same
resourceVersions and lose one of them. So the server takes an exclusive
``flock`` on ``server.lock`` before it opens the store and keeps it until it
exits (the kernel drops it at exit, even after ``kill -9``). Whether a server
lives is read from the lock and the pid written in it, never from how fast it
answers: a busy sandbox is still a running one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

LOCK_FILE = "server.lock"
TAKE_RETRY = 1.0
"""Seconds a starting server keeps trying: a client probing the lock holds it for a microsecond."""


class Busy(Exception):
    """Another server holds this state directory; ``pid`` is its process id (0 if unknown)."""

    def __init__(self, pid: int):
        super().__init__(f"another sandbox server (pid {pid}) serves this state directory")
        self.pid = pid


def acquire(state: Path) -> int:
    """Take the state directory's lock for this process; returns the descriptor to keep open.

    Raises:
        Busy: another server holds it.
    """
    fd = os.open(state / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + TAKE_RETRY
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() > deadline:
                pid = holder(state) or 0
                os.close(fd)
                raise Busy(pid) from None
            time.sleep(0.01)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    os.fsync(fd)
    return fd


def holder(state: Path) -> int | None:
    """The pid of the server holding the lock, or None when no server does."""
    path = state / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
