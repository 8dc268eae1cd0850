"""What every lab's regression tests share: the lab loaded on the test sandbox, and where its files are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import k8snet
from k8snet import labs

LABS_ROOT = Path(__file__).resolve().parents[2] / "labs"


@pytest.fixture(scope="module")
def lab(sandbox, request) -> Iterator[labs.Lab]:
    """The lab named by the test module's ``LAB``, on the sandbox; torn down after the module."""
    loaded = labs.load(request.module.LAB, k8snet.connect())
    yield loaded
    loaded.teardown()


def assert_fails_then_passes(lab: labs.Lab, exercise: str) -> str:
    """The exercise's check fails on its starting state and passes once the reference solution is applied (a check
    that cannot fail grades nothing; one that cannot pass cannot be solved); returns the starting state's hint."""
    lab.setup(exercise)
    before = lab.check(exercise)
    assert not before.passed, f"the check passed on the starting state: {before.message}"
    lab.apply_solution(exercise)
    after = lab.check(exercise)
    assert after.passed, f"the reference solution did not pass: {after.message}"
    return before.message


def assert_wrong_answer_hinted(lab: labs.Lab, exercise: str, manifests: list[dict], phrases: list[str]) -> None:
    """Apply a wrong answer over the exercise's starting state: its check must fail with every phrase in the hint."""
    lab.setup(exercise)
    lab.on(exercise).apply(manifests, namespace=lab.exercise(exercise).namespace)
    result = lab.check(exercise)
    assert not result.passed, result.message
    for phrase in phrases:
        assert phrase in result.message, f"{phrase!r} not in the hint: {result.message}"
