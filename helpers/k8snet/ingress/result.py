"""What requests from outside got back: one row per request, and the compact views a notebook shows.

Default views print no times, ports or latencies (they vary from run to run); the rows keep them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..table import Table
from .client import TlsInfo

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class EdgeRequest:
    """One request through the edge and what answered it."""

    i: int
    t: float  # seconds from the first request's start to this one's
    url: str
    status: int | None
    reason: str  # the HTTP reason phrase; "" without an answer
    error: str | None  # why there was no (whole) answer
    pod: str | None  # the pod that answered, when it can be known
    service: str | None  # "namespace/name:port" the matching rule sends to
    body: str  # decoded, cut at client.BODY_LIMIT characters (see ``truncated``)
    headers: dict[str, str]
    tls: TlsInfo | None
    backend: str  # "sandbox" or "kind": who produced this answer
    ingress: str | None = None  # "namespace/name" of the Ingress whose rule matched
    rule: str | None = None  # Traefik's rule text, e.g. Host(`shop.example.test`) && PathPrefix(`/cart`)
    router: str | None = None  # Traefik's router name, as its access log writes it
    answered_by: str = ""  # the pod, "Traefik" (it answered itself), or "unknown"
    note: str = ""  # how the answer and its source were known, or why not
    elapsed: float = 0.0  # seconds until the whole answer was read
    truncated: bool = False

    @property
    def outcome(self) -> str:
        """The status code, or the error's short form."""
        return str(self.status) if self.status is not None else "error"


def _numbers(items: list[int], limit: int = 8) -> str:
    """``0–9``, ``0, 2, 4, …`` for a list of request numbers."""
    runs: list[tuple[int, int]] = []
    for n in items:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    parts = [f"{a}–{b}" if b > a + 1 else f"{a}, {b}" if b == a + 1 else str(a) for a, b in runs]
    text = ", ".join(parts[:limit])
    return f"#{text}" + (", …" if len(parts) > limit else "")


def _first_line(text: str, width: int = 48) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@dataclass
class EdgeResult:
    """N requests from outside to one URL through the ingress edge."""

    url: str
    backend: str
    method: str = "GET"
    rate: float | None = None
    rows: list[EdgeRequest] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[EdgeRequest]:
        return iter(self.rows)

    def __getitem__(self, i: int) -> EdgeRequest:
        return self.rows[i]

    def counts(self) -> dict[int | str, int]:
        """Requests per status code; requests without an answer count under ``"error"``."""
        out: dict[int | str, int] = {}
        for r in self.rows:
            key: int | str = r.status if r.status is not None else "error"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (isinstance(kv[0], str), kv[0])))

    @property
    def ok(self) -> int:
        """How many requests got a 2xx or 3xx answer."""
        return sum(1 for r in self.rows if r.status is not None and 200 <= r.status < 400)

    def pods(self) -> dict[str, int]:
        """Answers per pod (the pods that can be known), sorted by name."""
        out: dict[str, int] = {}
        for r in self.rows:
            if r.pod:
                out[r.pod] = out.get(r.pod, 0) + 1
        return dict(sorted(out.items()))

    def services(self) -> dict[str, int]:
        """Answers per Service port (``namespace/name:port``) of the rule that matched, sorted by name."""
        out: dict[str, int] = {}
        for r in self.rows:
            if r.service and r.status is not None:
                out[r.service] = out.get(r.service, 0) + 1
        return dict(sorted(out.items()))

    def plot(self, ax: Any = None) -> Figure:
        """Status codes over time: one dot per request, one colour and lane per status (e.g. 200 vs 429)."""
        from .pictures import status_over_time

        return status_over_time(self, ax=ax)

    def summary(self) -> str:
        split = ", ".join(f"{k} ×{v}" for k, v in self.counts().items())
        pace = f" at {self.rate:g}/s" if self.rate else " back to back"
        return (f"{len(self)} {self.method} request{'s' if len(self) != 1 else ''} to {self.url}{pace} through the "
                f"ingress edge ({self.backend}): {split or 'none'}")

    def groups(self) -> Table:
        """The compact view: requests with the same outcome, source and Service together."""
        keys: dict[tuple[str, str, str, str], list[int]] = {}
        for r in self.rows:
            key = (r.outcome, r.answered_by or "—", r.service or "—", r.error or r.note or "")
            keys.setdefault(key, []).append(r.i)
        rows = [[outcome, who, svc, str(len(ids)), _numbers(ids), note] for (outcome, who, svc, note), ids
                in keys.items()]
        return Table(["status", "answered by", "service", "n", "requests", "note"], rows, self.summary())

    def table(self) -> Table:
        """One row per request: status, who answered, the Service, TLS version, the body's first line."""
        rows = [[str(r.i), r.outcome, r.answered_by or "—", r.service or "—",
                 r.tls.version if r.tls else "—", _first_line(r.error or r.body)] for r in self.rows]
        return Table(["#", "status", "answered by", "service", "tls", "body (first line) or error"], rows,
                     self.summary())

    def _repr_html_(self) -> str:
        return self.groups()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.groups())
