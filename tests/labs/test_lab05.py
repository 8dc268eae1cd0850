"""Lab 05 regression, both ways: every check FAILS on its starting state and PASSES once the reference solution
is applied, graded on who answered real requests from the client pod; the hints come in tiers."""

from __future__ import annotations

import pytest
from tests.labs.conftest import assert_fails_then_passes

LAB = "lab-05-load-balancing"


@pytest.mark.parametrize("exercise", ["bluegreen", "local", "canary"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    assert_fails_then_passes(lab, exercise)


def test_the_hints_name_what_is_off(lab):
    lab.setup("canary")
    hint = lab.check("canary").message
    assert "3 canary and 3 stable ready endpoints" in hint and "50%" in hint
    lab.setup("local")
    assert "internalTrafficPolicy is Cluster" in lab.check("local").message


def test_hints_come_in_tiers_symptom_first(lab):
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3
