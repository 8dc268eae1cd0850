"""Lab regression, both ways: every check FAILS on its exercise's starting state and PASSES after the solution.

A check that cannot fail grades nothing; one that cannot pass cannot be solved.
"""

from __future__ import annotations

import pytest
from tests.labs.conftest import assert_fails_then_passes

LAB = "lab-01-services"


@pytest.mark.parametrize("exercise", ["expose", "selector", "sticky"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    hint = assert_fails_then_passes(lab, exercise)
    assert hint and "try again" not in hint.lower()


def test_hints_name_what_is_off(lab):
    lab.setup("selector")
    hint = lab.check("selector").message
    assert "carts" in hint and "selector" in hint  # names the field and the wrong value


def test_every_exercise_has_a_solution_file(lab):
    for ex in lab.exercises:
        assert lab.solution_path(ex.id).is_file()
