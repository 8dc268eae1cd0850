"""Structural schemas and custom-object validation, checked against apiextensions-apiserver's rules and wording.

Sources: k8s.io/apiextensions-apiserver/pkg/apiserver/schema (validation.go, pruning/algorithm.go,
defaulting/algorithm.go, listtype/validation.go, objectmeta/validation.go) and
k8s.io/kube-openapi/pkg/validation (errors/schema.go messages), as converted to field errors by
apiextensions-apiserver/pkg/apiserver/validation/validation.go kubeOpenAPIResultToFieldErrors.
"""

from __future__ import annotations

from k8snet.sandbox import openapivalidation, structural
from k8snet.sandbox.errors import Cause

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["color"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "name": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^[a-z]+$"},
                "ratio": {"type": "number", "nullable": True},
                "port": {"x-kubernetes-int-or-string": True},
                "ip": {"type": "string", "format": "ipv4"},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"},
                         "x-kubernetes-list-type": "set"},
                "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "required": ["name"],
                                    "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    },
}


def messages(causes: list[Cause]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_kube_openapi_type_error_as_apiextensions_reports_it():
    # kube-openapi errors.InvalidType "%s in %s must be of type %s: %q" as field.TypeInvalid
    causes = openapivalidation.validate({"spec": {"color": "red", "replicas": "two"}}, SCHEMA)
    assert messages(causes) == ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
                                'integer: "string"']
    assert causes[0].type == "FieldValueTypeInvalid"


def test_enum_required_bounds_lengths_pattern_and_items():
    causes = openapivalidation.validate({"spec": {"color": "green", "replicas": 11, "name": "ABCDEF",
                                                  "tags": ["a", "b", "c", "d"]}}, SCHEMA)
    assert messages(causes) == [
        'spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10',
        'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.name: Invalid value: \"ABCDEF\": spec.name in body should match '^[a-z]+$'",
        "spec.tags: Too many: 4: must have at most 3 items",
    ]
    assert messages(openapivalidation.validate({"spec": {}}, SCHEMA)) == ["spec.color: Required value"]
    assert messages(openapivalidation.validate({"spec": {"color": "red", "name": "a"}}, SCHEMA)) == [
        'spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long']


def test_int_or_string_nullable_and_formats():
    ok = {"spec": {"color": "red", "port": 80, "ratio": None, "ip": "10.0.0.1", "when": "2024-01-02T03:04:05Z"}}
    assert openapivalidation.validate(ok, SCHEMA) == []
    assert openapivalidation.validate({"spec": {"color": "red", "port": "http"}}, SCHEMA) == []
    bad = {"spec": {"color": "red", "port": 1.5, "ip": "300.1.1.1", "when": "yesterday"}}
    assert messages(openapivalidation.validate(bad, SCHEMA)) == [
        'spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"',
        'spec.ip: Invalid value: "300.1.1.1": spec.ip in body must be of type ipv4: "300.1.1.1"',
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"',
    ]


def test_prune_reports_unknown_paths_and_keeps_preserved_and_meta_fields():
    # pruning/algorithm.go: apiVersion/kind/metadata stay at the root; x-kubernetes-preserve-unknown-fields keeps
    # unknown fields but still prunes inside its specified properties
    obj = {"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"}, "extra": 1,
           "spec": {"color": "red", "foo": {"bar": 1}, "ports": [{"name": "a", "bogus": True}],
                    "free": {"anything": [1], "known": {"a": "x", "b": "y"}}}}
    unknown = structural.prune(obj, SCHEMA)
    assert unknown == ["extra", "spec.foo", "spec.free.known.b", "spec.ports[0].bogus"]
    assert obj["spec"]["free"] == {"anything": [1], "known": {"a": "x"}}
    assert obj["metadata"] == {"name": "a"} and "extra" not in obj


def test_defaults_and_non_nullable_nulls():
    # defaulting/algorithm.go: a missing field, or a null where null is not allowed, takes the default;
    # prunenulls.go drops other non-nullable nulls
    obj = {"spec": {"color": "red", "name": None, "ratio": None}}
    structural.prune_nulls(obj, SCHEMA)
    structural.default(obj, SCHEMA)
    assert obj == {"spec": {"color": "red", "ratio": None, "replicas": 1}}
    obj = {"spec": {"replicas": None}}
    structural.prune_nulls(obj, SCHEMA)
    structural.default(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 1


def test_list_type_set_and_map_duplicates():
    # listtype/validation.go: the second occurrence is a Duplicate value; map items by their keys
    obj = {"spec": {"tags": ["a", "b", "a"], "ports": [{"name": "web", "port": 1}, {"name": "web", "port": 2}]}}
    assert messages(structural.list_errors(obj, SCHEMA)) == [
        'spec.tags[2]: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: map[string]interface {}{"name":"web"}',
    ]


def test_embedded_resource_needs_apiversion_and_kind():
    obj = {"spec": {"template": {"metadata": {"name": "Bad_Name"}}}}
    msgs = messages(structural.embedded_errors(obj, SCHEMA, "", lambda meta, path: [
        Cause("FieldValueInvalid", "bad", f"{path}.name")] if meta.get("name") == "Bad_Name" else []))
    assert msgs == ["spec.template.apiVersion: Required value: must not be empty",
                    "spec.template.kind: Required value: must not be empty",
                    "spec.template.metadata.name: bad"]


def test_structural_schema_rules_as_validate_structural_words_them():
    schema = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        "spec": {"properties": {"x": {"type": "string"}}},
        "list": {"type": "array"},
        "any": {"type": "string", "anyOf": [{"type": "string"}]}}}
    assert messages(structural.structural_errors(schema, "spec.validation.openAPIV3Schema")) == sorted([
        "spec.validation.openAPIV3Schema.properties[any].anyOf[0].type: Forbidden: must be empty to be structural",
        "spec.validation.openAPIV3Schema.properties[list].items: Required value: must be specified",
        "spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name "
        "and generateName, but metadata is implicitly specified",
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified "
        "object fields",
    ])
    assert structural.structural_errors(SCHEMA, "s") == []


def test_rules_inside_allof_are_not_structural():
    # ValidateStructural runs with AllowNestedXValidations false: a rule in allOf would never run
    schema = {"type": "object", "properties": {"spec": {"type": "object", "allOf": [
        {"x-kubernetes-validations": [{"rule": "true"}]}]}}}
    assert messages(structural.structural_errors(schema, "s")) == [
        "s.properties[spec].allOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural"]
