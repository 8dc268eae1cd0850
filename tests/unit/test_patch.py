"""Pure-function tests of k8snet.sandbox.patch (JSON patch, merge patch, strategic merge patch).

Strategic cases are derived from k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go
(``strategicMergePatchRawTestCases`` / ``customStrategicMergePatchRawTestCases``, applying the
TwoWay patch to Original or the ThreeWay patch to Current), run against a schema mirroring its
``MergeItem`` test struct; kubectl-style cases use the real upstream schemas.
"""

from __future__ import annotations

import copy
import json

import pytest

from k8snet.sandbox import schema
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.patch import (
    UNPROCESSABLE_MESSAGE,
    PatchType,
    json_patch,
    merge_patch,
    patch_type,
    strategic_merge_patch,
    strategic_supported,
)

UPSTREAM = schema.upstream()


def _err(fn, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


# --------------------------------------------------------------------------- content types


def test_patch_type_from_content_type():
    assert patch_type("application/json-patch+json") is PatchType.JSON
    assert patch_type("application/merge-patch+json; charset=utf-8") is PatchType.MERGE
    assert patch_type("application/strategic-merge-patch+json") is PatchType.STRATEGIC
    assert patch_type("application/apply-patch+yaml") is PatchType.APPLY
    assert patch_type("application/json") is None
    assert patch_type(None) is None


# --------------------------------------------------------------------------- RFC 6902


DOC = {"foo": "bar", "baz": ["a", "b"], "a/b": 1, "m~n": 2, "nested": {"x": 1}}


@pytest.mark.parametrize("ops, expected", [
    # RFC 6902 appendix A.1 / A.2: add an object member, insert an array element.
    ([{"op": "add", "path": "/qux", "value": 1}], {**DOC, "qux": 1}),
    ([{"op": "add", "path": "/baz/1", "value": "x"}], {**DOC, "baz": ["a", "x", "b"]}),
    ([{"op": "add", "path": "/baz/-", "value": "c"}], {**DOC, "baz": ["a", "b", "c"]}),
    # Negative indexes count from the end of the grown array (json-patch.v4 SupportNegativeIndices).
    ([{"op": "add", "path": "/baz/-1", "value": "z"}], {**DOC, "baz": ["a", "b", "z"]}),
    ([{"op": "remove", "path": "/baz/-2"}], {**DOC, "baz": ["b"]}),
    ([{"op": "remove", "path": "/baz/0"}], {**DOC, "baz": ["b"]}),
    ([{"op": "remove", "path": "/a~1b"}], {k: v for k, v in DOC.items() if k != "a/b"}),
    ([{"op": "replace", "path": "/m~0n", "value": 3}], {**DOC, "m~n": 3}),
    ([{"op": "replace", "path": "/nested/x", "value": {"y": 2}}], {**DOC, "nested": {"x": {"y": 2}}}),
    # json-patch.v4 quirk: replace of a missing object member adds it.
    ([{"op": "replace", "path": "/new", "value": 1}], {**DOC, "new": 1}),
    ([{"op": "move", "from": "/foo", "path": "/nested/foo"}],
     {"baz": ["a", "b"], "a/b": 1, "m~n": 2, "nested": {"x": 1, "foo": "bar"}}),
    ([{"op": "copy", "from": "/baz", "path": "/copy"}], {**DOC, "copy": ["a", "b"]}),
    ([{"op": "test", "path": "/baz", "value": ["a", "b"]}, {"op": "remove", "path": "/foo"}],
     {k: v for k, v in DOC.items() if k != "foo"}),
    # A missing member tests equal to null (lazyNode(nil) upstream).
    ([{"op": "test", "path": "/missing", "value": None}], DOC),
    (None, DOC),
])
def test_json_patch(ops, expected):
    before = copy.deepcopy(DOC)
    assert json_patch(DOC, ops) == expected
    assert DOC == before


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/foo", "value": "nope"}],
    [{"op": "add", "path": "/missing/child", "value": 1}],
    [{"op": "remove", "path": "/missing"}],
    [{"op": "remove", "path": "/baz/5"}],
    [{"op": "add", "path": "/baz/3", "value": 1}],
    [{"op": "replace", "path": "/baz/2", "value": 1}],
    [{"op": "move", "from": "/missing", "path": "/x"}],
    [{"op": "frob", "path": "/foo"}],
    [{"op": "add", "value": 1}],
    [{"op": "add", "path": "foo", "value": 1}],
])
def test_json_patch_failures_are_generic_422(ops):
    # handlers/patch.go: errors.NewGenericServerResponse(422, ...) keeps no detail.
    err = _err(json_patch, DOC, ops)
    assert (err.code, err.reason, err.message) == (422, "Invalid", UNPROCESSABLE_MESSAGE)


def test_json_patch_decode_errors_are_400():
    err = _err(json_patch, DOC, {"op": "add"})
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"


def test_json_patch_operation_limit():
    err = _err(json_patch, DOC, [{"op": "test", "path": "/foo", "value": "bar"}] * 10001)
    assert err.code == 413
    assert err.message.endswith("The allowed maximum operations in a JSON patch is 10000, got 10001")


# --------------------------------------------------------------------------- RFC 7386


@pytest.mark.parametrize("target, patch, expected", [
    # RFC 7386 appendix A.
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_merge_patch_rejects_null_and_scalars():
    for bad in (None, "x", 3):
        err = _err(merge_patch, {"a": 1}, bad)
        assert (err.code, err.message) == (400, "Invalid JSON Patch")


# --------------------------------------------------------------------------- strategic: MergeItem schema

ITEM = "#/$defs/test.MergeItem"
MERGE_ITEM_SCHEMAS = schema.SchemaSet({
    "test.MergeItem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
            "mergingList": {"type": "array", "items": {"$ref": ITEM}, "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name"},
            "nonMergingList": {"type": "array", "items": {"$ref": ITEM}},
            "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
            "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "replacingItem": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
            "retainKeysMap": {"$ref": "#/$defs/test.RetainKeysMergeItem", "x-kubernetes-patch-strategy": "retainKeys"},
            "retainKeysMergingList": {"type": "array", "items": {"$ref": ITEM},
                                      "x-kubernetes-patch-strategy": "merge,retainKeys",
                                      "x-kubernetes-patch-merge-key": "name"},
        },
    },
    "test.RetainKeysMergeItem": {
        "type": "object",
        "properties": {
            "name": {"type": "string"}, "value": {"type": "string"}, "other": {"type": "string"},
            "simpleMap": {"type": "object", "additionalProperties": {"type": "string"}},
            "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
        },
    },
})
MERGE_ITEM = MERGE_ITEM_SCHEMAS.definitions["test.MergeItem"]


def smp(original, patch):
    return strategic_merge_patch(original, patch, MERGE_ITEM_SCHEMAS, MERGE_ITEM)


@pytest.mark.parametrize("name, original, patch, expected", [
    ("merge lists of maps",
     {"mergingList": [{"name": 1}, {"name": 2, "value": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
      "mergingList": [{"name": 3, "value": 3}]},
     {"mergingList": [{"name": 1}, {"name": 2, "value": 2}, {"name": 3, "value": 3}]}),
    ("add field to map in merging list",
     {"mergingList": [{"name": 1}, {"name": 2, "value": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
      "mergingList": [{"name": 1, "value": 1}]},
     {"mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}]}),
    ("delete map from merging list",
     {"mergingList": [{"name": 1}, {"name": 2}]},
     {"$setElementOrder/mergingList": [{"name": 2}], "mergingList": [{"name": 1, "$patch": "delete"}]},
     {"mergingList": [{"name": 2}]}),
    ("delete missing map from merging list",
     {"mergingList": [{"name": 1}, {"name": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}], "mergingList": [{"name": 3, "$patch": "delete"}]},
     {"mergingList": [{"name": 1}, {"name": 2}]}),
    ("delete field from map in merging list",
     {"mergingList": [{"name": 1, "value": 1}, {"name": 2, "value": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}], "mergingList": [{"name": 1, "value": None}]},
     {"mergingList": [{"name": 1}, {"name": 2, "value": 2}]}),
    ("replace non merging list nested in merging list",
     {"mergingList": [{"name": 1, "nonMergingList": [{"name": 1}, {"name": 2, "value": 2}]}, {"name": 2}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
      "mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}]},
     {"mergingList": [{"name": 1, "nonMergingList": [{"name": 1, "value": 1}]}, {"name": 2}]}),
    ("merge lists of scalars",
     {"mergingIntList": [1, 2]},
     {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3]},
     {"mergingIntList": [1, 2, 3]}),
    ("add and delete items in lists of scalars",
     {"mergingIntList": [1, 2, 3, 4]},
     {"$setElementOrder/mergingIntList": [1, 2, 4], "$deleteFromPrimitiveList/mergingIntList": [3]},
     {"mergingIntList": [1, 2, 4]}),
    ("delete all duplicate items in lists of scalars",
     {"mergingIntList": [1, 2, 3, 3]},
     {"$deleteFromPrimitiveList/mergingIntList": [3]},
     {"mergingIntList": [1, 2]}),
    ("set elements order in a list with server-only items 2 (ThreeWay on Current)",
     {"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 9}, {"name": 3, "value": 3},
                      {"name": 4, "value": 4}]},
     {"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]},
     {"mergingList": [{"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 9}, {"name": 4, "value": 4},
                      {"name": 3, "value": 3}]}),
    ("add an item in a list and preserve order",
     {"mergingList": [{"name": 1}, {"name": 3}]},
     {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}], "mergingList": [{"name": 2}]},
     {"mergingList": [{"name": 1}, {"name": 2}, {"name": 3}]}),
    ("retainKeys map should clear defaulted field",
     {"retainKeysMap": {"value": "foo"}},
     {"retainKeysMap": {"$retainKeys": ["other"], "other": "bar"}},
     {"retainKeysMap": {"other": "bar"}}),
    ("retainKeys map should clear defaulted field with conflict (discriminated union)",
     {"retainKeysMap": {"name": "type1", "value": "foo"}},
     {"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}},
     {"retainKeysMap": {"name": "type2", "other": "bar"}}),
    ("retainKeys list of maps clears a field",
     {"retainKeysMergingList": [{"name": "foo", "value": "a"}, {"name": "bar"}]},
     {"$setElementOrder/retainKeysMergingList": [{"name": "foo"}, {"name": "bar"}],
      "retainKeysMergingList": [{"name": "foo", "$retainKeys": ["name", "other"], "other": "b"}]},
     {"retainKeysMergingList": [{"name": "foo", "other": "b"}, {"name": "bar"}]}),
    ("$patch: replace on a list",
     {"mergingList": [{"name": 1}, {"name": 2}]},
     {"mergingList": [{"name": 3}, {"$patch": "replace"}]},
     {"mergingList": [{"name": 3}]}),
    ("$patch: replace on a map",
     {"simpleMap": {"a": "1", "b": "2"}, "value": "v"},
     {"simpleMap": {"$patch": "replace", "c": "3"}},
     {"simpleMap": {"c": "3"}, "value": "v"}),
    ("$patch: delete on a map",
     {"simpleMap": {"a": "1"}},
     {"simpleMap": {"$patch": "delete"}},
     {"simpleMap": {}}),
    ("patch strategy replace",
     {"replacingItem": {"a": 1, "b": {"c": 1}}},
     {"replacingItem": {"b": {"d": 1}}},
     {"replacingItem": {"b": {"d": 1}}}),
    ("null deletes and new values drop nested nulls",
     {"simpleMap": {"a": "1"}, "value": "v"},
     {"value": None, "other": {"x": None, "y": 1}},
     {"simpleMap": {"a": "1"}, "other": {"y": 1}}),
    ("$deleteFromPrimitiveList of nonexistent item should not add the item",
     {"mergingIntList": [1]}, {"$deleteFromPrimitiveList/mergingIntList": [2]}, {"mergingIntList": [1]}),
    ("$deleteFromPrimitiveList on nonexistent primitive list should not add the list",
     {}, {"$deleteFromPrimitiveList/mergingIntList": [2]}, {}),
    ("$deleteFromPrimitiveList on a list without merge strategy",
     {"nonMergingIntList": [1, 2]}, {"$deleteFromPrimitiveList/nonMergingIntList": [2]}, {"nonMergingIntList": [1]}),
    ("non merging list is replaced",
     {"nonMergingIntList": [1, 2]}, {"nonMergingIntList": [3]}, {"nonMergingIntList": [3]}),
])
def test_strategic_upstream_cases(name, original, patch, expected):
    before = copy.deepcopy(original)
    assert smp(original, patch) == expected, name
    assert original == before


def test_strategic_errors():
    # customStrategicMergePatchRawTestCases "should check if order in $setElementOrder and patch list match"
    err = _err(smp, {"mergingList": [{"name": 1}, {"name": 2}]},
               {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}],
                "mergingList": [{"name": 2}, {"name": 1}]})
    assert err.code == 400 and err.message.startswith("The order in patch list:")
    # "missing merge key should error out"
    err = _err(smp, {"mergingList": [{"name": 1}]}, {"mergingList": [{"value": 1}]})
    assert err.code == 400 and err.message == "map: map[value:1] does not contain declared merge key: name"
    # mergepatch sentinel errors: BadRequest / 422.
    err = _err(smp, {}, {"$setElementOrder": []})
    assert (err.code, err.message) == (400, "invalid patch format of setElementOrder list")
    err = _err(smp, {"retainKeysMap": {}}, {"retainKeysMap": {"$retainKeys": ["a"], "b": "x"}})
    assert (err.code, err.message) == (400, "invalid patch format of retainKeys")
    err = _err(smp, {"mergingIntList": [[1]]}, {"mergingIntList": [[2]]})
    assert (err.code, err.message) == (422, UNPROCESSABLE_MESSAGE)
    err = _err(smp, {"simpleMap": {"a": "1"}}, {"simpleMap": {"$patch": "merge"}})
    assert err.message == "unknown patch type: merge in map: map[$patch:merge]"
    err = _err(smp, {"mergingList": [{"name": 1}]}, {"mergingList": [{"name": 1, "$patch": "merge"}]})
    assert err.message == "merging lists cannot yet be specified in the patch"
    err = _err(smp, {}, [1])
    assert err.code == 400 and "cannot unmarshal array" in err.message


# --------------------------------------------------------------------------- strategic: kubectl-style patches

DEPLOYMENT = UPSTREAM.for_kind("apps", "v1", "Deployment")
SERVICE = UPSTREAM.for_kind("", "v1", "Service")


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "fe"},
                     "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                        {"name": "sidecar", "image": "busybox"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                },
            },
        },
    }


def dsmp(obj, patch):
    return strategic_merge_patch(obj, patch, UPSTREAM, DEPLOYMENT)


def test_kubectl_apply_changes_container_image():
    # The shape kubectl apply's CreateThreeWayMergePatch produces.
    last = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment"}) + "\n"
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last}},
             "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                            "containers": [{"image": "nginx:1.27", "name": "web"}]}}}}
    out = dsmp(deployment(), patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert containers[0]["image"] == "nginx:1.27"
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] == last
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}


def test_kubectl_patch_replicas_and_labels():
    out = dsmp(deployment(), {"spec": {"replicas": 5}, "metadata": {"labels": {"tier": None, "new": "x"}}})
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}


def test_add_env_var_and_reorder_containers():
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
        "containers": [{"name": "web", "$setElementOrder/env": [{"name": "A"}, {"name": "C"}, {"name": "B"}],
                        "env": [{"name": "C", "value": "3"}]}]}}}}
    out = dsmp(deployment(), patch)
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sidecar", "web"]
    assert [e["name"] for e in containers[1]["env"]] == ["A", "C", "B"]


def test_remove_container_and_finalizer():
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
             "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}],
                                            "containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    out = dsmp(deployment(), patch)
    assert out["metadata"]["finalizers"] == ["b"]
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_retain_keys_strategy_and_volume_source_switch():
    # DeploymentSpec.strategy has patch strategy retainKeys; volumes merge,retainKeys.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                      "template": {"spec": {"volumes": [{"$retainKeys": ["configMap", "name"], "name": "data",
                                                         "configMap": {"name": "cm"}}]}}}}
    out = dsmp(deployment(), patch)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]


def test_selector_map_merges_without_list_strategy():
    out = dsmp(deployment(), {"spec": {"selector": {"matchLabels": {"x": "y"}}}})
    assert out["spec"]["selector"] == {"matchLabels": {"app": "web", "x": "y"}}


def service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]}}


def test_kubectl_apply_removes_service_port():
    patch = {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"$patch": "delete", "port": 443}]}}
    out = strategic_merge_patch(service(), patch, UPSTREAM, SERVICE)
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]


def test_kubectl_patch_service_port_target():
    patch = {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}
    out = strategic_merge_patch(service(), patch, UPSTREAM, SERVICE)
    assert [p["targetPort"] for p in out["spec"]["ports"]] == [8080, 9443]


def test_strategic_support():
    assert strategic_supported(DEPLOYMENT)
    assert not strategic_supported(None)
    crd = {"type": "object", "x-kubernetes-group-version-kind": [
        {"group": "cert-manager.io", "version": "v1", "kind": "Certificate"}]}
    assert not strategic_supported(crd)
    err = _err(strategic_merge_patch, {}, {}, UPSTREAM, None)
    assert (err.code, err.message) == (400, "strategic merge patch format is not supported")
