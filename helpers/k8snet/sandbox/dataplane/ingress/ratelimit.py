"""Traefik's rateLimit middleware: one token bucket per traffic source, on the sandbox clock.

Semantics from pkg/middlewares/ratelimiter (rate_limiter.go, in_memory_limiter.go) and the token bucket of
golang.org/x/time/rate (``Limiter.Reserve``, ``Reservation.Cancel``), which Traefik uses:

- the rate is ``average`` requests per ``period`` (default 1 s); ``average: 0`` means no limit;
  ``burst`` (at least 1) is the bucket's size, and a new bucket starts full;
- each request reserves one token; the reservation's delay is how long until the token exists.
  A delay up to ``maxDelay`` (``1/(2·rate)``, or 500 ms when the rate is below 1/s) is waited out and the
  request goes on; a longer one is cancelled (the token given back) and answered ``429`` with
  ``Retry-After`` (whole seconds, rounded up) and ``X-Retry-In``;
- a bucket not used for its ``ttl`` (2 s at ≥ 1 req/s, else ``1 + 1/rate`` s) is forgotten, so the next
  request starts a full one.

Time comes from the sandbox clock, so a lesson (or a test) steps it with the admin clock endpoint and every
run gives the same answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

INF = math.inf


def go_duration(seconds: float) -> str:
    """time.Duration.String for the delays a limiter reports (``1.5s``, ``250ms``, ``59.999s``, ``1m0s``)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1e3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1e6)}ms"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _trim(rest / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_period(value: object) -> float:
    """``period`` as paerser's Duration reads it: a bare number is seconds, else a Go duration (``1m``, ``500ms``)."""
    if value is None:
        return 0.0
    text = str(value).strip()
    try:
        return float(int(text))
    except ValueError:
        pass
    import re

    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text.lstrip("+"):
        raise ValueError(f'time: invalid duration "{text}"')
    return sum(float(n) * units[u] for n, u in parts)


@dataclass
class Bucket:
    """x/time/rate.Limiter: ``tokens`` at time ``last``; ``last_event`` is the latest reservation's time."""

    limit: float  # tokens per second
    burst: int
    tokens: float = 0.0
    last: float = -INF
    last_event: float = -INF

    def _advance(self, t: float) -> float:
        last = min(self.last, t)
        elapsed = t - last
        return min(self.tokens + elapsed * self.limit, float(self.burst))

    def reserve(self, t: float) -> tuple[float, float]:
        """Reserve one token at time ``t``; returns (delay, time to act)."""
        if self.limit == INF:
            return 0.0, t
        tokens = self._advance(t) - 1
        wait = -tokens / self.limit if tokens < 0 else 0.0
        self.last, self.tokens, self.last_event = t, tokens, t + wait
        return wait, t + wait

    def cancel(self, t: float, time_to_act: float) -> None:
        """Reservation.CancelAt: give the token back, minus what later reservations already counted on."""
        if self.limit == INF or time_to_act < t:
            return
        restore = 1 - (self.last_event - time_to_act) * self.limit
        if restore <= 0:
            return
        tokens = min(self._advance(t) + restore, float(self.burst))
        self.last, self.tokens = t, tokens
        if time_to_act == self.last_event:
            previous = time_to_act - 1 / self.limit
            if previous >= t:
                self.last_event = previous


class Limiter:
    """The in-memory limiter of one rateLimit middleware: buckets per source, with their ttl."""

    def __init__(self, average: int, period: float, burst: int):
        self.burst = max(burst, 1)
        period = period or 1.0
        self.rate = INF if average <= 0 else average / period
        if average <= 0:
            self.max_delay = 0.0
        elif self.rate < 1:
            self.max_delay = 0.5
        else:
            self.max_delay = 1 / (int(self.rate) * 2)  # time.Second / (time.Duration(rtl) * 2)
        self.ttl = 2 if self.rate >= 1 else 1 + int(1 / self.rate)
        self._buckets: dict[str, tuple[Bucket, float]] = {}  # source -> (bucket, expiry)

    def allow(self, source: str, now: float) -> tuple[bool, float]:
        """(allowed, delay): allowed after waiting ``delay``, or refused with ``delay`` until a token is there."""
        entry = self._buckets.get(source)
        bucket = entry[0] if entry and entry[1] > now else Bucket(self.rate, self.burst)
        self._buckets[source] = (bucket, now + self.ttl)
        if len(self._buckets) > 65536:  # maxSources: the ttlmap's capacity
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] > now}
        delay, act = bucket.reserve(now)
        if delay > self.max_delay:
            bucket.cancel(now, act)
            return False, delay
        return True, delay
