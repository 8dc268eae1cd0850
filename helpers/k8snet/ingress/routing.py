"""``ingress.routing_table``: URL → Ingress rule → Service:port → the pods that answered, from real requests.

Every row is measured: requests go through the edge (``send``); Traefik's access log and the Ingress, Service and
EndpointSlice objects say which rule matched, which Service it sends to and which pod answered. The same calls
work on kind (API objects, pod logs and requests only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .result import EdgeResult, Table
from .send import send

if TYPE_CHECKING:
    from ..cluster import Cluster


@dataclass
class RouteRow:
    """One URL: the rule that matched it, where that sends, and who answered."""

    url: str
    ingress: str | None
    rule: str | None
    service: str | None
    answered: dict[str, int] = field(default_factory=dict)  # pod (or "Traefik", "unknown") → requests
    statuses: dict[int | str, int] = field(default_factory=dict)
    note: str = ""
    backend: str = ""

    def cells(self) -> list[str]:
        who = ", ".join(self._answered()) or "—"
        return [self.url, self.ingress or "—", self.rule or "no rule matches", self.service or "—", who,
                self._codes(), self.note]

    def narrow_cells(self) -> list[str]:
        """The same facts in four columns (and the note): the Ingress over its rule, the Service over its pods."""
        return [self.url, f"{self.ingress or '—'}\n{self.rule or 'no rule matches'}",
                "\n".join([self.service or "—", *self._answered()]), self._codes(), self.note]

    def _answered(self) -> list[str]:
        return [f"{k} ×{v}" for k, v in self.answered.items()]

    def _codes(self) -> str:
        return ", ".join(f"{k} ×{v}" for k, v in self.statuses.items())


class RoutingTable:
    """The routing table of some URLs, shown as an HTML table in Jupyter and as text elsewhere."""

    HEADER = ["URL", "Ingress", "rule", "Service:port", "answered by", "status", "note"]
    NARROW_HEADER = ["URL", "Ingress and rule", "Service:port and the pods that answered", "status", "note"]

    def __init__(self, rows: list[RouteRow], backend: str):
        self.rows = rows
        self.backend = backend

    def table(self) -> Table:
        return Table(self.HEADER, [r.cells() for r in self.rows], self._caption())

    def _caption(self) -> str:
        n = sum(sum(r.statuses.values()) for r in self.rows)
        return f"{len(self.rows)} URL{'s' if len(self.rows) != 1 else ''}, {n} requests through the ingress " \
               f"edge ({self.backend})"

    def _repr_html_(self) -> str:
        """Four columns, so the table fits a notebook's width (seven did not: pod names wrapped over four lines)."""
        return Table(self.NARROW_HEADER, [r.narrow_cells() for r in self.rows], self._caption())._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> RouteRow:
        return self.rows[i]


def row_of(result: EdgeResult) -> RouteRow:
    """Summarise one URL's requests."""
    first = next((r for r in result.rows if r.service or r.ingress), None)
    answered: dict[str, int] = {}
    notes: list[str] = []
    for r in result.rows:
        who = r.answered_by or "unknown"
        answered[who] = answered.get(who, 0) + 1
        text = r.error if r.status is None else r.note if who in ("Traefik", "unknown") else ""
        if text and text not in notes:  # why Traefik answered itself, or why there was no answer
            notes.append(text)
    answered = dict(sorted(answered.items(), key=lambda kv: (kv[0] in ("Traefik", "unknown", "no answer"), kv[0])))
    return RouteRow(result.url, first.ingress if first else None, first.rule if first else None,
                    first.service if first else None, answered, result.counts(), "; ".join(notes), result.backend)


def routing_table(cluster: Cluster, urls: Sequence[str] | EdgeResult | Sequence[EdgeResult], n: int = 4,
                  **send_options: Any) -> RoutingTable:
    """Which rule, Service and pods serve each URL, measured with ``n`` requests per URL (or from given results).

    ``send_options`` go to :func:`send` (``headers``, ``cacert``, ``verify``, …).

    Example:
        >>> ingress.routing_table(cluster, ["http://shop.example.test/", "http://shop.example.test/cart"])
    """
    items: list[EdgeResult | str] = [urls] if isinstance(urls, EdgeResult) else list(urls)
    results = [item if isinstance(item, EdgeResult) else send(cluster, item, n=n, **send_options) for item in items]
    return RoutingTable([row_of(r) for r in results], cluster.backend)
