"""Container logs: what ``kubectl logs`` (and ``-f``) reads from the emulated programs.

The emulated workloads append their startup lines and one line per served
request, in the program's real format; the exec/log protocol (``podsub``)
reads them back, and followers get new lines through an asyncio queue.
Lines are kept per container and bounded, as the kubelet rotates container
logs, so a long-running notebook cannot grow the sandbox without limit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime

from ..clock import Clock

Line = tuple[datetime, str]
LIMIT = 10_000
"""Lines kept per container (older lines are dropped, like a rotated log file)."""
BYTES = 10 << 20
"""Bytes kept per container: the kubelet's containerLogMaxSize default (10Mi) before it rotates a log."""


class LogBook:
    """Every emulated container's log lines, timestamped with the sandbox clock.

    Example:
        >>> book = LogBook(Clock())
        >>> book.append("uid-1", "web", "Started HTTP server on port 8080")
        >>> [text for _, text in book.lines("uid-1", "web")]
        ['Started HTTP server on port 8080']
    """

    def __init__(self, clock: Clock, limit: int = LIMIT):
        self.clock = clock
        self.limit = limit
        self._lines: dict[tuple[str, str], deque[Line]] = {}
        self._bytes: dict[tuple[str, str], int] = {}
        self._followers: dict[tuple[str, str], list[asyncio.Queue[Line | None]]] = {}
        self._partial: dict[tuple[str, str], str] = {}  # the unfinished last line of each program's output
        self._previous: dict[tuple[str, str], list[Line]] = {}  # the last terminated instance's lines

    def append(self, pod_uid: str, container: str, line: str, at: datetime | None = None) -> None:
        """Add one line (or several, split on newlines) and hand it to every follower."""
        key = (pod_uid, container)
        book = self._lines.setdefault(key, deque())
        when = at or self.clock.now()
        for text in line.rstrip("\n").split("\n") if "\n" in line else (line,):
            text = text[:BYTES]
            book.append((when, text))
            size = self._bytes.get(key, 0) + len(text) + 1
            while len(book) > self.limit or size > BYTES:  # rotated away, oldest first
                size -= len(book.popleft()[1]) + 1
            self._bytes[key] = size
            for queue in self._followers.get(key, []):
                queue.put_nowait((when, text))

    def write(self, pod_uid: str, container: str, text: str) -> None:
        """A program's raw output: whole lines become log lines at once; a line still being written waits for
        its end (the runtime's log joins partial writes), or for :meth:`close_line`."""
        key = (pod_uid, container)
        text = self._partial.pop(key, "") + text
        head, newline, tail = text.rpartition("\n")
        if tail:
            self._partial[key] = tail
        if newline:
            self.append(pod_uid, container, head)

    def close_line(self, pod_uid: str, container: str) -> None:
        """The program ended: a last line without its newline is logged as it is."""
        tail = self._partial.pop((pod_uid, container), "")
        if tail:
            self.append(pod_uid, container, tail)

    def restarted(self, pod_uid: str, container: str) -> None:
        """The container was started again: its log so far becomes the previous instance's (``--previous``);
        the kubelet keeps one terminated instance, so the one before is gone."""
        key = (pod_uid, container)
        self.close_line(pod_uid, container)
        self._previous[key] = list(self._lines.pop(key, ()))
        self._bytes.pop(key, None)

    def previous(self, pod_uid: str, container: str) -> list[Line]:
        """The lines of the container's last terminated instance, oldest first."""
        return list(self._previous.get((pod_uid, container), ()))

    def has(self, pod_uid: str, container: str) -> bool:
        """Whether the container has written anything yet (its program has started)."""
        return bool(self._lines.get((pod_uid, container)))

    def lines(self, pod_uid: str, container: str) -> list[Line]:
        """The container's kept lines, oldest first."""
        return list(self._lines.get((pod_uid, container), ()))

    def subscribe(self, pod_uid: str, container: str) -> asyncio.Queue[Line | None]:
        """A queue that receives each new line; ``None`` means the container is gone."""
        queue: asyncio.Queue[Line | None] = asyncio.Queue()
        self._followers.setdefault((pod_uid, container), []).append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Line | None]) -> None:
        """Stop feeding a follower's queue (``kubectl logs -f`` was interrupted)."""
        for key, queues in list(self._followers.items()):
            if queue in queues:
                queues.remove(queue)
            if not queues:
                del self._followers[key]

    def forget(self, pod_uid: str) -> None:
        """Drop a deleted pod's logs and end its followers' streams, as the kubelet does."""
        for key in [k for k in self._partial if k[0] == pod_uid]:
            del self._partial[key]
        for key in [k for k in self._lines if k[0] == pod_uid]:
            del self._lines[key]
            self._bytes.pop(key, None)
        for key in [k for k in self._previous if k[0] == pod_uid]:
            del self._previous[key]
        for key in [k for k in self._followers if k[0] == pod_uid]:
            for queue in self._followers.pop(key):
                queue.put_nowait(None)
