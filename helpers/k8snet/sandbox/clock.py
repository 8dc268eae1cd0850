"""The sandbox clock: real time plus an offset an admin call can move forward.

Handed to the sandbox, never read from a module global, so tests and
lessons (certificate renewal, ages) can step time deterministically.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time shifted by ``offset``; ``advance`` moves it forward."""

    def __init__(self, offset: timedelta = timedelta(0)):
        self.offset = offset
        self._sleepers: set[asyncio.Future[None]] = set()
        self._now: tuple[int, timedelta, datetime] | None = None  # the last answer: (second, offset, time)

    def now(self) -> datetime:
        """The sandbox time, whole seconds (``datetime.now(UTC)`` floors to microseconds, so its second is the
        system clock's floored one); every call in the same second with the same offset gets the same answer."""
        second = time.time_ns() // 1_000_000_000
        last = self._now
        if last is None or last[0] != second or last[1] != self.offset:
            last = self._now = (second, self.offset, datetime.fromtimestamp(second, UTC) + self.offset)
        return last[2]

    def time(self) -> float:
        """Sandbox time in seconds since the epoch, with sub-second precision (what ``sleep`` waits on)."""
        return time.time() + self.offset.total_seconds()

    async def sleep_until(self, when: float) -> None:
        """Wait until sandbox time ``when``; an advance of the clock wakes the sleeper early."""
        loop = asyncio.get_running_loop()
        while (remaining := when - self.time()) > 0:
            woken: asyncio.Future[None] = loop.create_future()
            timer = loop.call_later(min(remaining, 86400.0), lambda f=woken: f.done() or f.set_result(None))
            self._sleepers.add(woken)
            try:
                await woken
            finally:
                timer.cancel()
                self._sleepers.discard(woken)

    def advance(self, seconds: float) -> None:
        """Move the clock forward; an advance it cannot represent changes nothing.

        Raises:
            ValueError: a negative, non-finite or out-of-range advance (the clock is unchanged).
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("the sandbox clock only moves forward, by a finite number of seconds")
        try:
            offset = self.offset + timedelta(seconds=seconds)
            datetime.now(UTC) + offset + timedelta(days=366)  # every time the cluster will write must fit
        except OverflowError:
            raise ValueError(f"advancing the clock by {seconds:g}s goes past the largest date the sandbox can "
                             f"write (year 9999)") from None
        self.offset = offset
        for sleeper in list(self._sleepers):
            if not sleeper.done():
                sleeper.get_loop().call_soon_threadsafe(lambda f=sleeper: f.done() or f.set_result(None))


def rfc3339(t: datetime) -> str:
    """Format as Kubernetes serializes metav1.Time: second precision, UTC, trailing Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse a metav1.Time string."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
