"""Lab 04 regression, both ways: every check FAILS on its broken starting state (the symptom the "Debug
Services" checklist starts from) and PASSES once the reference fix is applied, graded on live traffic."""

from __future__ import annotations

import pytest
from tests.labs.conftest import assert_fails_then_passes

LAB = "lab-04-debugging"


@pytest.mark.parametrize("exercise", ["targetport", "labels", "readiness", "dns"])
def test_check_fails_before_and_passes_after_the_solution(lab, exercise):
    assert_fails_then_passes(lab, exercise)


def test_the_hints_name_the_symptom_and_where_to_look(lab):
    lab.setup("targetport")
    assert "'web'" in lab.check("targetport").message  # the targetPort that names nothing
    lab.setup("dns")
    hint = lab.check("dns").message
    assert "bad address 'backnd'" in hint and "restarts" in hint


def test_hints_come_in_tiers_symptom_first(lab):
    for ex in lab.exercises:
        assert ex.hints[0].startswith("Symptom:") and len(ex.hints) == 3


def test_lab_hint_gives_one_tier_at_a_time(lab):
    assert lab.hint("dns").startswith("Hint 1 of 3: Symptom:") and "lab.hint('dns', 2)" in lab.hint("dns")
    assert lab.hint("dns", 3).startswith("Hint 3 of 3:") and "for the next" not in lab.hint("dns", 3)
