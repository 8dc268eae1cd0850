"""The edge's pictures: status codes over time (rate limiting shows as 200s turning into 429s), and how a
traffic split shared real requests between Services, step by step.

Drawn like the rest of the workbook's figures (``k8snet.plots``: its palette and font sizes, a figure pyplot no
longer tracks, so a notebook shows it once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..plots import FONT, PALETTE, _figure, pod_colours

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .result import EdgeResult

ERROR_COLOUR = "#8C8C8C"


def status_colour(outcome: int | str) -> str:
    """One colour per class of answer; 429 (rate limited) gets its own, the lessons' signal colour."""
    if not isinstance(outcome, int):
        return ERROR_COLOUR
    if outcome == 429:
        return PALETTE["api"]  # vermillion
    return {2: PALETTE["worker"], 3: PALETTE["control_plane"], 4: PALETTE["pod"],
            5: PALETTE["service"]}.get(outcome // 100, ERROR_COLOUR)


def status_over_time(result: EdgeResult, ax: Any = None) -> Figure:
    """One dot per request at its send time, in one lane (and colour) per status code; errors in their own lane."""
    counts = result.counts()
    lanes = list(counts)
    fig, ax = (ax.figure, ax) if ax is not None else _figure(7.0, max(2.4, 0.7 * len(lanes) + 1.6))
    for lane, outcome in enumerate(lanes):
        rows = [r for r in result.rows if (r.status if r.status is not None else "error") == outcome]
        ax.scatter([r.t for r in rows], [lane] * len(rows), s=46, color=status_colour(outcome),
                   edgecolor=PALETTE["ink"], linewidth=0.5, zorder=3, label=f"{outcome} ×{len(rows)}",
                   gid=f"status:{outcome}")
    ax.set_yticks(range(len(lanes)), [str(o) for o in lanes], fontsize=FONT["body"])
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_xlabel("seconds since the first request", fontsize=FONT["body"])
    ax.set_ylabel("status", fontsize=FONT["body"])
    span = max((r.t for r in result.rows), default=0.0)
    ax.set_xlim(-0.02 * max(span, 0.05), max(span, 0.05) * 1.04)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=FONT["small"], loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    pace = f"{result.rate:g} requests/s" if result.rate else "back to back"
    ax.set_title(f"{len(result)} × {result.method} {result.url} ({pace})  ·  {result.backend}",
                 fontsize=FONT["body"])
    fig.tight_layout()
    return fig


def shares(steps: Sequence[tuple[str, EdgeResult]], title: str = "") -> Figure:
    """One bar per step, split by the Service that answered (its share of the step's requests, in %): what each
    change of a traffic split did to real requests. Requests without a known Service count as "other"."""
    services = sorted({svc for _, result in steps for svc in result.services()})
    colours = pod_colours(services)
    fig, ax = _figure(7.0, 0.62 * len(steps) + 1.7)
    for row, (_, result) in enumerate(steps):
        counts = result.services()
        other = len(result) - sum(counts.values())
        left = 0.0
        for name, n in [*((svc, counts.get(svc, 0)) for svc in services), ("other", other)]:
            if not n:
                continue
            width = 100.0 * n / len(result)
            ax.barh(row, width, left=left, height=0.62, color=colours.get(name, ERROR_COLOUR),
                    edgecolor=PALETTE["ink"], linewidth=0.5, gid=f"share:{row}:{name}")
            if width >= 7:
                ax.text(left + width / 2, row, f"{n}", ha="center", va="center", fontsize=FONT["small"])
            left += width
    ax.set_yticks(range(len(steps)), [label for label, _ in steps], fontsize=FONT["body"])
    ax.invert_yaxis()  # the first step on top, as the cells ran
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the step's requests (%), labelled with the number of requests", fontsize=FONT["body"])
    ax.spines[["top", "right"]].set_visible(False)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[svc], edgecolor=PALETTE["ink"], linewidth=0.5, label=svc) for svc in services]
    ax.legend(handles=handles, fontsize=FONT["small"], loc="upper center", bbox_to_anchor=(0.5, -0.32 if
              len(steps) < 3 else -0.22), ncol=min(3, max(1, len(services))), frameon=False)
    n = {len(result) for _, result in steps}
    ax.set_title(title or f"{'/'.join(map(str, sorted(n)))} requests per step through the ingress edge  ·  "
                 f"{steps[0][1].backend if steps else ''}", fontsize=FONT["body"])
    fig.tight_layout()
    return fig
