"""START.ipynb, the page `make lab` opens, stays in step with the notebooks/ and labs/ directories.

Every lesson and every lab is linked once, under its own title, with a time; lessons and labs each in their
order, and a lab after the lessons it says to run first. The page has no code cells: nbval is not given it
(the Makefile's test line lists notebooks/ and the lab solutions), so code there would go untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
START = ROOT / "START.ipynb"
LINK = re.compile(r"\[([^\]]+)\]\(((?:notebooks|labs)/[^)]+\.ipynb)\)")


def markdown(path: Path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def title(path: Path) -> str:
    return next(line[2:].strip() for line in markdown(path).splitlines() if line.startswith("# "))


def entries() -> list[tuple[str, str, str]]:
    """(link text, path, the list item's text) for each numbered item of the start page."""
    items = re.split(r"\n(?=\d+\. )", markdown(START))
    return [(m.group(1), m.group(2), item) for item in items for m in [LINK.search(item)] if m]


LESSONS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
LABS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "labs").glob("*/lab.ipynb"))


def test_every_lesson_and_lab_is_listed_once_in_order() -> None:
    paths = [path for _, path, _ in entries()]
    assert sorted(paths) == sorted(LESSONS + LABS), "START.ipynb and the notebooks/ and labs/ directories differ"
    assert [p for p in paths if p in LESSONS] == LESSONS
    assert [p for p in paths if p in LABS] == LABS


@pytest.mark.parametrize("lab", LABS)
def test_a_lab_comes_after_the_lessons_it_builds_on(lab: str) -> None:
    paths = [path for _, path, _ in entries()]
    named = set(re.findall(r"`(\d\d-[a-z-]+)`", markdown(ROOT / lab)))
    assert named, f"{lab} names no lesson to run first"
    for lesson in named:
        assert paths.index(f"notebooks/{lesson}.ipynb") < paths.index(lab), f"{lab} is listed before {lesson}"


def test_each_entry_carries_the_notebooks_title_a_time_and_what_it_teaches() -> None:
    for text, path, item in entries():
        assert text == title(ROOT / path), f"{path}: the link says {text!r}, the notebook {title(ROOT / path)!r}"
        assert re.search(r"about \d+ min", item), f"{path}: no time"
        assert len(item.split()) > 25, f"{path}: say what it teaches"


def test_the_start_page_has_no_code_to_leave_untested() -> None:
    assert [c.cell_type for c in nbformat.read(START, as_version=4).cells if c.cell_type != "markdown"] == []
