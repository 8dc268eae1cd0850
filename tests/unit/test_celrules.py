"""x-kubernetes-validations with the cel-python engine, reported as apiextensions-apiserver reports them.

Sources: k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go (fieldErrorForReason,
ruleMessageOrDefault, transition rules) and compilation.go ("compilation failed: " + cel-go issues);
property name escaping from k8s.io/apiserver/pkg/cel/escaping.go.
"""

from __future__ import annotations

import pytest

from k8snet.sandbox import celrules

SPEC = {"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.max", "message": "replicas must not exceed max"},
            {"rule": "self.name.lowerAscii() == self.name", "fieldPath": ".name"},
            {"rule": "self.replicas >= oldSelf.replicas", "reason": "FieldValueForbidden", "message": "no scale down"},
            {"rule": "self.items.all(x, x.startsWith('a'))",
             "messageExpression": "'items must start with a: ' + string(size(self.items))"},
            {"rule": "!has(self.legacy)", "reason": "FieldValueRequired"},
        ],
        "properties": {"replicas": {"type": "integer"}, "max": {"type": "integer"}, "name": {"type": "string"},
                       "legacy": {"type": "string"},
                       "items": {"type": "array", "items": {"type": "string"}},
                       "dash-name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() > 1"}]}}}
SCHEMA = {"type": "object", "properties": {"spec": SPEC},
          "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('w')"}]}


def run(obj, old=None):
    outcome = celrules.RuleSet(SCHEMA).validate(obj, old)
    return [f"{c.field}: {c.message}" for c in outcome.causes], outcome.warnings


def test_messages_reasons_field_paths_and_message_expressions():
    obj = {"apiVersion": "e.com/v1", "kind": "W", "metadata": {"name": "x"},
           "spec": {"replicas": 5, "max": 3, "name": "Ab", "items": ["ab", "b"], "legacy": "y", "dash-name": "z"}}
    causes, warnings = run(obj)
    assert causes == [
        "<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('w')",
        'spec: Invalid value: "object": replicas must not exceed max',
        'spec.name: Invalid value: "object": failed rule: self.name.lowerAscii() == self.name',
        'spec: Invalid value: "object": items must start with a: 2',
        "spec: Required value: failed rule: !has(self.legacy)",
        'spec.dash-name: Invalid value: "string": failed rule: self.size() > 1',
    ]
    assert warnings == []


def test_transition_rules_run_only_with_an_old_object():
    obj = {"metadata": {"name": "w"}, "spec": {"replicas": 1, "max": 3, "name": "a", "items": []}}
    assert run(obj) == ([], [])
    causes, _ = run(obj, {"metadata": {"name": "w"}, "spec": {"replicas": 2, "max": 3, "name": "a", "items": []}})
    assert causes == ["spec: Forbidden: no scale down"]


def test_runtime_errors_are_the_rules_errors_never_exceptions():
    causes, _ = run({"metadata": {"name": "w"}, "spec": {"max": 3, "name": "a", "items": []}})
    assert causes == ['spec: Invalid value: "object": no such key: replicas evaluating rule: replicas must not '
                      "exceed max"]


@pytest.mark.parametrize("rule, message", [
    ("self.x >", "Syntax error"),
    ("self.nope == 1", "ERROR: <input>:1:5: undefined field 'nope'"),
    ("self.bogus(1)", "ERROR: <input>:1:11: undeclared reference to 'bogus' (in container '')"),
    ("y == 1", "ERROR: <input>:1:1: undeclared reference to 'y' (in container '')"),
])
def test_rules_cel_go_would_refuse_are_compile_errors(rule, message):
    with pytest.raises(celrules.RuleError) as info:
        celrules.compile_rule({"rule": rule}, SPEC, False)
    assert str(info.value).startswith("compilation failed: ")
    assert message in str(info.value)


def test_escaped_property_names_and_library_functions():
    assert celrules.escape("dash-name") == "dash__dash__name"
    assert celrules.escape("namespace") == "__namespace__"
    compiled = celrules.compile_rule({"rule": "self.dash__dash__name.split('-').size() == 2"}, SPEC, False)
    assert compiled.missing == ()
    assert celrules.RuleSet({"type": "object", "properties": {"q": {
        "type": "string", "x-kubernetes-validations": [
            {"rule": "quantity(self).isLessThan(quantity('1Gi'))"}]}}}).validate({"q": "2Gi"}, None).causes[0].message \
        == "Invalid value: \"string\": failed rule: quantity(self).isLessThan(quantity('1Gi'))"


def test_a_library_function_the_engine_lacks_is_a_warning_naming_it():
    schema = {"type": "object", "properties": {"s": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self.format(['a']) != ''"}]}}}
    rules = celrules.RuleSet(schema)
    assert rules.missing() == [("self.format(['a']) != ''", "format")]
    outcome = rules.validate({"s": "x"}, None)
    assert outcome.causes == []
    assert outcome.warnings == ['s: x-kubernetes-validations rule "self.format([\'a\']) != \'\'" was not checked: '
                                "the k8snet sandbox's CEL engine lacks format"]


def test_a_stored_rule_that_does_not_compile_fails_every_object_as_upstream():
    # schema/cel/validation.go: "rule compile error: ..." for each object the rule would check
    rules = celrules.RuleSet({"type": "object", "x-kubernetes-validations": [{"rule": "self.nope("}]})
    causes = rules.validate({"metadata": {"name": "a"}}, None).causes
    assert len(causes) == 1 and causes[0].field == "<nil>"
    assert causes[0].message.startswith('Invalid value: "object": rule compile error: compilation failed: ERROR:')
