"""Clients against servers: one request from each client pod to each target, as a table and a picture.

The certificates lesson asks which clients get through a TLS server (:mod:`k8snet.certs.handshakes`), the mesh
lesson which clients get through a mesh's policies (:mod:`k8snet.mesh.reach`); both answer with a :class:`Matrix`
whose cells say ✓ or ✗ and why, in the words the learner will see in curl and the logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .table import Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Matrix:
    """Clients (rows) against servers (columns); each cell has ``ok`` and ``reason``."""

    clients: list[str]
    servers: list[str]
    cells: dict[tuple[str, str], Any] = field(default_factory=dict)
    backend: str = ""
    title: str = "Who gets through to which server"  # the picture's heading
    caption: str = ""  # the table's (the title when empty)

    def table(self) -> Table:
        rows = [[c, *(("✓ " if self.cells[(c, s)].ok else "✗ ") + self.cells[(c, s)].reason for s in self.servers)]
                for c in self.clients]
        return Table(["client", *self.servers], rows, f"{self.caption or self.title} · {self.backend}")

    def plot(self) -> Figure:
        from .plots import handshake_matrix

        return handshake_matrix(self)

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.table())
