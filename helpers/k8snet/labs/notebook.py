"""The learner copy of a lab notebook, generated from its solution notebook.

The solution notebook is the source: cells tagged ``solution`` hold the
reference answers. The learner copy replaces each such cell with the
``learner`` text from its metadata (a template to fill in), so the two cannot
drift apart; ``tests/labs`` checks the committed learner copy equals what this
generates.

Usage: ``python -m k8snet.labs.notebook labs/lab-01-services`` rewrites ``lab.ipynb``.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat

SOLUTION = "solution.ipynb"
LEARNER = "lab.ipynb"


def learner_copy(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and swap every ``solution``-tagged cell for its learner template."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            cell.source = cell.metadata.get("learner", "# Your answer here\n")
            cell.metadata = {"tags": ["exercise"]}
    return nb


def render(folder: Path) -> str:
    nb = nbformat.read(folder / SOLUTION, as_version=4)
    return nbformat.writes(learner_copy(nb)) + "\n"


def main(argv: list[str]) -> int:
    for arg in argv or []:
        folder = Path(arg)
        (folder / LEARNER).write_text(render(folder))
        print(f"wrote {folder / LEARNER}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
