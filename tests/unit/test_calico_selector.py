"""Calico's selector language (dataplane/calico/selector.py) against the cases of libcalico-go's own parser tests
(lib/selector/parser/parser_test.go at v3.32.1: selectorTests, badSelectors, canonicalisationTests, the Visitor
table), and the selectors the policy converter builds (updateprocessors/rules.go getEndpointSelector)."""

from __future__ import annotations

import pytest

from k8snet.sandbox.dataplane.calico import selector as sel
from k8snet.sandbox.dataplane.calico.labels import Endpoint
from k8snet.sandbox.dataplane.calico.rules import entity_selector

# (selector, labels it matches, labels it does not match)
CASES = [
    ('a == "b"', [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"c": "d"}]),
    ('a == "b" && c == "d"', [{"a": "b", "c": "d"}], [{}, {"a": "b", "c": "e"}, {"a": "c", "c": "d"}, {"c": "d"},
                                                      {"a": "b"}]),
    ('a == "b" || c == "d"', [{"a": "b", "c": "d"}, {"a": "b"}, {"c": "d"}],
     [{}, {"a": "e", "c": "e"}, {"c": "e"}, {"a": "e"}]),
    ("""a in {"'", '"', "c"}""", [{"a": "c"}, {"a": '"'}, {"a": "'"}], [{}, {"a": "e"}]),
    ("""a not in {"'", '"', "c"}""", [{}, {"a": "e"}], [{"a": "c"}, {"a": '"'}, {"a": "'"}]),
    ("a == 'a'", [{"a": "a"}], [{"a": "b"}, {}]),
    ('a != "b"', [{"a": "a"}], []),
    ('a != "a"', [{}], [{"a": "a"}]),
    ('a contains "a"', [{"a": "a"}, {"a": "bab"}, {"a": "aaa", "b": "c"}], [{}, {"a": "b"}, {"b": "aaa"}]),
    ('a starts with "a"', [{"a": "a"}, {"a": "abb"}, {"a": "aaa", "b": "c"}],
     [{}, {"a": "b"}, {"a": "baa"}, {"b": "aaa"}]),
    ('a ends with "a"', [{"a": "a"}, {"a": "bba"}, {"a": "aaa", "b": "c"}], [{}, {"a": "b"}, {"a": "aab"}, {"b": "aaa"}]),
    ('a in {"a"}', [{"a": "a"}], [{"a": "b"}]),
    ('!a in {"a"}', [{"a": "b"}], []),
    ('a in {"a", "b"}', [{"a": "a"}, {"a": "b"}], [{"a": "c"}]),
    ('a not in {"d", "e"}', [{"a": "a"}], []),
    ('a not in {"a"}', [], [{"a": "a"}]),
    ("has(a)", [{"a": "b"}], []),
    ("has(b)", [], [{"a": "b"}]),
    ("!has(a)", [{"b": "b"}], [{"a": "b"}]),
    ("!!has(b)", [], [{"a": "b"}]),
    ("! has(a)", [], [{"a": "b"}]),
    ("!!! has(a)", [], [{"a": "b"}]),
    ("!! ! has(a)", [], [{"a": "b"}]),
    ("", [{}, {"a": "b"}], []),
    (" ", [{}], []),
    ("all()", [{}], []),
    (" all()", [{}, {"a": "b"}], []),
    ("global()", [{}], []),
    (" global()", [{}, {"a": "b"}], []),
    ("a == 'a1' && b == 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a == 'a1' && b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("a != 'a1' && !b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("has(a) && !has(b)", [{"a": "a"}], []),
    ("!(!has(a) || has(b))", [{"a": "a"}], []),
    ("!(has(b) || !has(a))", [{"a": "a"}], []),
    ("a == 'a1' || b != 'b1'", [{"a": "a1", "b": "b1"}], []),
    ("a != 'a1' || b != 'b1'", [], [{"a": "a1", "b": "b1"}]),
    ("! a == 'a1' || ! b == 'b1'", [], [{"a": "a1", "b": "b1"}]),
]

BAD = ["b == b", "b contains b", "b starts with b", "b ends with b", "'b1' == b", "b", "a b", "!", 'foo == "bar" &',
       'foo == "bar" |', "foo != ||", 'foo in {"", ||', 'foo in ""', '"FOO', "\"FOO'", "'FOO", "(", '(a == "foo"', ")",
       "()", "%", 'a == "b" && %', 'a == "b" || %', "a ", "has(foo) &&"]

CANONICAL = [("", "all()"), (" all() ", "all()"), (" (all() )", "all()"),
             ("! (has( b)||! has(a ))", "!(has(b) || !has(a))"),
             ('! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'),
             ("a == \"'\"", "a == \"'\""), ("a == '\"'", "a == '\"'"), ("a startswith '\"'", "a starts with '\"'"),
             ("a endswith \"'\"", "a ends with \"'\""), ("a!='\"'", "a != '\"'"),
             ('a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'),
             ('a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}')]


@pytest.mark.parametrize("text,good,bad", CASES)
def test_parser_test_go_selector_tests(text, good, bad):
    node = sel.parse(text)
    assert sel.validate(text) is None
    for labels in good:
        assert node.evaluate(labels), (text, labels)
        assert sel.parse(str(node)).evaluate(labels)  # "should match after canonicalising"
    for labels in bad:
        assert not node.evaluate(labels), (text, labels)
        assert not sel.parse(str(node)).evaluate(labels)


@pytest.mark.parametrize("text", BAD)
def test_parser_test_go_bad_selectors_are_rejected(text):
    with pytest.raises(sel.SelectorError):
        sel.parse(text)
    assert sel.validate(text)


@pytest.mark.parametrize("text,canonical", CANONICAL)
def test_parser_test_go_canonicalisation_round_trips(text, canonical):
    assert str(sel.parse(text)) == canonical
    assert str(sel.parse(canonical)) == canonical


def test_the_parser_messages():
    assert sel.validate("b == b") == "expected string"
    assert sel.validate('"FOO') == "unterminated string"
    assert sel.validate("a b") == 'expected operator after label "a"'
    assert sel.validate("a = 'b'") == "expected =="
    assert sel.validate("app == 'x' 'y'") == "unexpected content at end of selector [TokStringLiteral(y) TokEOF()]"


@pytest.mark.parametrize("text,prefixed", [
    ("k == 'v'", 'visited/k == "v"'), ("k != 'v'", 'visited/k != "v"'),
    ("k contains 'v'", 'visited/k contains "v"'), ("k starts with 'v'", 'visited/k starts with "v"'),
    ("k ends with 'v'", 'visited/k ends with "v"'), ("k == 'v' && x == 'y'", '(visited/k == "v" && visited/x == "y")'),
    ("k == 'v' || has(x)", '(visited/k == "v" || has(visited/x))'), ("!(k == 'v')", '!visited/k == "v"'),
    ("k in {'v'}", 'visited/k in {"v"}'), ("k not in {'v'}", 'visited/k not in {"v"}'),
    ("!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))",
     '!(!((visited/k == "v" && has(visited/t)) || all()) && visited/a in {"b", "c"})'),
])
def test_parser_test_go_prefix_visitor(text, prefixed):
    assert str(sel.prefixed(text, "visited/")) == prefixed


def test_rules_go_entity_selectors_namespace_and_service_accounts():
    # a namespaced policy's rule selector stays in the policy's namespace
    assert str(entity_selector({"selector": "app == 'web'"}, "shop")) == \
        '(projectcalico.org/namespace == "shop" && app == "web")'
    # namespaceSelector: the pcns. labels, all() meaning every namespace
    assert str(entity_selector({"namespaceSelector": "team == 'a'"}, "shop")) == 'pcns.team == "a"'
    assert str(entity_selector({"namespaceSelector": "all()", "selector": "x == 'y'"}, "shop")) == \
        '(has(projectcalico.org/namespace) && x == "y")'
    assert str(entity_selector({"serviceAccounts": {"names": ["b", "a"], "selector": "role == 'db'"}}, None)) == \
        '(pcsa.role == "db" && projectcalico.org/serviceaccount in {"a", "b"})'
    assert entity_selector({"nets": ["10.0.0.0/8"]}, "shop") is None


def test_a_bare_address_matches_no_selector_but_a_network_sets_labels():
    node = entity_selector({"selector": "role == 'partner'"}, None)
    assert not any(node.evaluate(ls) for ls in Endpoint(ip="172.18.0.1").label_sets())
    assert any(node.evaluate(ls) for ls in Endpoint(ip="172.18.0.1", sets=({"role": "partner"},)).label_sets())
