"""The network between the members of a cluster set: a round-trip time per pair of clusters.

Clusters in two clouds, or a cloud and a data centre, are tens of milliseconds apart; nodes of one cluster are
not. The sandbox keeps one table for the whole set in ``$K8SNET_HOME/clusterset.json`` (every member reads it,
so both ends of a pair agree), and every connection that crosses from one member to another waits it out on the
sandbox clock: one round trip for the TCP handshake, one per request and answer. On kind the same delay is what
``tc qdisc … netem delay`` on the nodes' interfaces adds (:mod:`k8snet.kind.clustermesh`).

Pairs without an entry are as far apart as kind's nodes on one Docker network: no added delay.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "clusterset.json"
MAX_RTT_MS = 10_000.0
"""The largest round trip accepted (10 s: beyond any real network, and beyond curl's patience anyway)."""


def path() -> Path:
    from ..process import _base

    return _base() / FILE


def _pair(a: str, b: str) -> str:
    return ",".join(sorted((a, b)))


def _read(file: Path) -> dict:
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_cache: dict[Path, tuple[float, dict[str, float]]] = {}


def table() -> dict[str, float]:
    """Every pair's round trip in milliseconds (``"east,west": 30.0``), re-read when the file changes."""
    file = path()
    try:
        mtime = file.stat().st_mtime
    except OSError:
        return {}
    seen = _cache.get(file)
    if seen is None or seen[0] != mtime:
        raw = _read(file).get("rttMilliseconds") or {}
        seen = (mtime, {k: float(v) for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)})
        _cache[file] = seen
    return seen[1]


def rtt_ms(a: str, b: str) -> float:
    """The round trip between two members in milliseconds (0 for the same cluster or an unknown pair)."""
    return 0.0 if a == b else table().get(_pair(a, b), 0.0)


def set_rtt(a: str, b: str, ms: float) -> None:
    """Set the round trip between two members (both must be different names; 0 removes the entry).

    Raises:
        ValueError: the same name twice, or a round trip below 0 or above :data:`MAX_RTT_MS`.
    """
    if a == b:
        raise ValueError(f"a round trip is between two clusters, not {a!r} and itself")
    if not 0 <= ms <= MAX_RTT_MS:
        raise ValueError(f"round trip {ms} ms is out of range (0 to {MAX_RTT_MS:g} ms)")
    file = path()
    data = _read(file)
    rtts = dict(data.get("rttMilliseconds") or {})
    if ms:
        rtts[_pair(a, b)] = float(ms)
    else:
        rtts.pop(_pair(a, b), None)
    data["rttMilliseconds"] = dict(sorted(rtts.items()))
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(file)  # atomic: a member reading it sees the old table or the new one
