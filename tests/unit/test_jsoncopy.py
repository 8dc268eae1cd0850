"""The API server's copy of JSON documents: as deep as copy.deepcopy, and a document that contains itself (a YAML
alias of its own parent, which the fuzz suite sends) still copies."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from k8snet.sandbox.jsoncopy import clone


def test_a_copy_shares_nothing_with_its_original():
    doc = {"spec": {"ports": [{"port": 80, "name": "http"}], "selector": {"app": "web"}}, "n": None, "f": 1.5}
    copy = clone(doc)
    assert copy == doc
    copy["spec"]["ports"][0]["port"] = 8080
    copy["spec"]["selector"]["tier"] = "front"
    assert doc["spec"]["ports"][0]["port"] == 80 and "tier" not in doc["spec"]["selector"]


def test_shared_sub_documents_become_separate_copies():
    shared = {"a": 1}
    copy = clone({"x": shared, "y": shared})
    copy["x"]["a"] = 2
    assert copy["y"]["a"] == 1 and shared["a"] == 1


def test_what_is_not_json_is_deep_copied_and_a_cycle_survives():
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert clone({"t": when, "pair": (1, [2])}) == {"t": when, "pair": (1, [2])}
    cyclic = yaml.safe_load("a: &a [*a]\n")
    copy = clone(cyclic)
    assert copy is not cyclic and copy["a"][0] is copy["a"]
