"""Traefik's duration syntax (paerser's ``types.Duration``), which a rateLimit middleware's ``period`` is written in.

A bare number is seconds; anything else is a Go duration (time.ParseDuration: ``500ms``, ``1m30s``).
"""

from __future__ import annotations

import re


def parse_period(value: object) -> float:
    """``period`` as paerser's Duration reads it: a bare number is seconds, else a Go duration (``1m``, ``500ms``)."""
    if value is None:
        return 0.0
    text = str(value).strip()
    try:
        return float(int(text))
    except ValueError:
        pass
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text.lstrip("+"):
        raise ValueError(f'time: invalid duration "{text}"')
    return sum(float(n) * units[u] for n, u in parts)
