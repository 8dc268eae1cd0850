"""Go durations, as Kubernetes and cert-manager read and print them (``2160h``, ``90m``, ``1h30m0s``).

A port of Go's time.ParseDuration (what metav1.Duration and ``k8snet sandbox clock advance`` accept) and
time.Duration.String (how a duration prints: ``2160h0m0s``, ``30m0s``, ``1.5s``).
"""

from __future__ import annotations

import re

UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)")
MAX_SECONDS = 9223372036.854775807
"""The largest time.Duration (int64 nanoseconds)."""


def parse(text: str) -> float:
    """time.ParseDuration, in seconds.

    Raises:
        ValueError: Go's message (``time: invalid duration "x"``, ``time: missing unit in duration "1"``,
            ``time: unknown unit "d" in duration "1d"``).
    """
    s, sign = text, 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None:
            number = _NUMBER.match(s, pos)
            if number is None:
                raise ValueError(f'time: invalid duration "{text}"')
            unit = re.match(r"[^\d.]*", s[number.end():]).group(0)  # type: ignore[union-attr]
            if not unit:
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(m.group(1)) * UNITS[m.group(2)]
        pos = m.end()
    if total > MAX_SECONDS:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def format(seconds: float) -> str:  # noqa: A001  (Duration.String's name in this module's namespace)
    """time.Duration.String."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + f"{nanos / size:.9f}".rstrip("0").rstrip(".") + unit
    whole, frac = divmod(nanos, 1_000_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec = str(secs) + (("." + f"{frac:09d}".rstrip("0")) if frac else "")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec}s"
    if minutes:
        return f"{sign}{minutes}m{sec}s"
    return f"{sign}{sec}s"
