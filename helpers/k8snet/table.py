"""Text tables for notebooks: an HTML table in Jupyter, aligned columns in a terminal or a doctest.

Every helper that answers with rows (routing tables, certificate details, Gateway status) returns one, so they all
read the same at notebook width.
"""

from __future__ import annotations

import html


class Table:
    """Rows of text cells shown as an HTML table in Jupyter and aligned text elsewhere."""

    def __init__(self, header: list[str], rows: list[list[str]], caption: str = ""):
        self.header = header
        self.rows = rows
        self.caption = caption

    def shown(self) -> list[list[str]]:
        """The header and rows without the columns that are empty in every row (a "note" nothing needed)."""
        keep = [i for i in range(len(self.header)) if not self.rows or any(r[i] for r in self.rows)]
        return [[r[i] for i in keep] for r in [self.header, *self.rows]]

    def _repr_html_(self) -> str:
        header, *rows = self.shown()
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{_cell_html(c)}</td>" for c in row) + "</tr>"
                       for row in rows)
        cap = f"<p>{html.escape(self.caption)}</p>" if self.caption else ""
        return f"{cap}<table><tr>{head}</tr>{body}</table>"

    def __repr__(self) -> str:
        shown = self.shown()
        widths = [max(len(r[i]) for r in shown) for i in range(len(shown[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in shown]
        return "\n".join(([self.caption] if self.caption else []) + lines)


def _cell_html(text: str) -> str:
    """A cell's text as HTML that wraps between words only; a newline in the cell starts a new line.

    Browsers also break lines after a hyphen, which spread a pod name such as ``storefront-7f8f99947f-jktpl``
    over three lines of a narrow column: words with a hyphen are kept whole, and a count (``×2``) stays with
    the name before it.
    """
    def line(text: str) -> str:
        words = html.escape(text).replace(" ×", "\u00a0×").split(" ")
        return " ".join(f"<span style='white-space:nowrap'>{w}</span>" if "-" in w else w for w in words)

    return "<br>".join(line(part) for part in text.split("\n"))
