"""Pure-function tests of k8snet.sandbox.apply (server-side apply and managedFields).

Expectations follow sigs.k8s.io/structured-merge-diff (merge/multiple_appliers_test.go,
merge/conflict_test.go, typed/toset_test.go) and the apiserver field manager
(k8s.io/apimachinery/pkg/util/managedfields/internal: conflict_test.go,
fieldmanager_test.go, lastappliedmanager_test.go, capmanagers_test.go).
"""

from __future__ import annotations

import copy
import json

import pytest

from k8snet.sandbox import schema
from k8snet.sandbox.apply import (
    LAST_APPLIED,
    decode_managed_fields,
    fields_from_json,
    fields_to_json,
    fieldset,
    path_string,
    server_side_apply,
    track_update,
)
from k8snet.sandbox.errors import ApiError

S = schema.upstream()
DEPLOYMENT = S.for_kind("apps", "v1", "Deployment")
SERVICE = S.for_kind("", "v1", "Service")
T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"


def deployment(replicas: int = 2, image: str = "nginx:1.25", **extra_labels: str) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", **extra_labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def entries(obj: dict) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def owned(obj: dict, manager: str, operation: str = "Apply") -> set[str]:
    for e in obj["metadata"]["managedFields"]:
        if (e["manager"], e["operation"]) == (manager, operation):
            return {path_string(p) for p in fields_from_json(e["fieldsV1"])}
    return set()


def stored(obj: dict, uid: str = "uid-1") -> dict:
    """What the registry would add on create (fields the field manager never tracks)."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid=uid, resourceVersion="1", creationTimestamp=T0, generation=1)
    return out


# --------------------------------------------------------------------------- field sets


def test_fieldset_service_keys_sets_and_atomic():
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "s", "finalizers": ["b", "a"], "labels": {"x": "1"}},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}],
                    "ipFamilies": ["IPv4"]}}
    fields = fields_to_json(fieldset(svc, S, SERVICE))
    assert fields["f:spec"]["f:ports"] == {'k:{"port":80,"protocol":"TCP"}': {
        ".": {}, "f:port": {}, "f:targetPort": {}}}
    assert fields["f:spec"]["f:selector"] == {}  # x-kubernetes-map-type: atomic
    assert fields["f:spec"]["f:ipFamilies"] == {}  # atomic list
    assert list(fields["f:metadata"]["f:finalizers"]) == ['v:"a"', 'v:"b"']
    assert fields["f:metadata"]["f:labels"] == {"f:x": {}}
    assert set(fields) == {"f:apiVersion", "f:kind", "f:metadata", "f:spec"}


def test_fieldsv1_roundtrip_and_atomic_selector():
    paths = fieldset(deployment(), S, DEPLOYMENT)
    assert fields_from_json(fields_to_json(paths)) == paths
    assert ".spec.selector" in {path_string(p) for p in paths}  # LabelSelector is x-kubernetes-map-type atomic
    assert '.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"]' in {
        path_string(p) for p in paths}


def test_deduced_schema_owns_maps():
    # Without a schema maps are granular (each key owned) and lists atomic.
    obj = {"apiVersion": "x.io/v1", "kind": "Thing", "spec": {"a": {"b": 1}, "l": [1, 2]}}
    assert fields_to_json(fieldset(obj, S, None))["f:spec"] == {
        ".": {}, "f:a": {".": {}, "f:b": {}}, "f:l": {}}


# --------------------------------------------------------------------------- server-side apply


def test_create_via_apply():
    out = server_side_apply(None, deployment(), "kubectl", False, S, DEPLOYMENT, T0)
    assert out["spec"]["replicas"] == 2
    [entry] = out["metadata"]["managedFields"]
    assert entry == {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                     "fieldsType": "FieldsV1", "fieldsV1": entry["fieldsV1"]}
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert "f:apiVersion" not in fields and "f:name" not in fields["f:metadata"]
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"] == {'k:{"name":"web"}': {
        ".": {}, "f:image": {}, "f:name": {},
        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}


def test_reapply_removing_fields_prunes_them():
    live = stored(server_side_apply(None, deployment(tier="fe"), "mgr", False, S, DEPLOYMENT, T0))
    config = deployment()
    config["spec"]["template"]["spec"]["containers"][0].pop("ports")
    del config["spec"]["replicas"]
    out = server_side_apply(live, config, "mgr", False, S, DEPLOYMENT, T1)
    assert out["metadata"]["labels"] == {"app": "web"}
    assert "replicas" not in out["spec"]
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "nginx:1.25"}]
    assert out["metadata"]["uid"] == "uid-1"
    assert ".spec.replicas" not in owned(out, "mgr")
    assert out["metadata"]["managedFields"][0]["time"] == T1


def test_conflict_with_client_side_apply_manager():
    live = stored(track_update(None, deployment(), "kubectl-client-side-apply", S, DEPLOYMENT, T0))
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    with pytest.raises(ApiError) as info:
        server_side_apply(live, config, "ssa", False, S, DEPLOYMENT, T1)
    err = info.value
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                           '.spec.replicas')
    assert err.details == {"causes": [{"reason": "FieldManagerConflict",
                                       "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                       "field": ".spec.replicas"}]}
    assert err.status()["details"]["causes"][0]["field"] == ".spec.replicas"


def test_several_conflicts_message():
    live = stored(server_side_apply(None, deployment(), "alpha", False, S, DEPLOYMENT, T0))
    live = server_side_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                                    "spec": {"paused": True}}, "beta", False, S, DEPLOYMENT, T0)
    config = deployment(replicas=5, image="nginx:2")
    config["spec"]["paused"] = False
    with pytest.raises(ApiError) as info:
        server_side_apply(live, config, "gamma", False, S, DEPLOYMENT, T1)
    assert info.value.message == (
        'Apply failed with 3 conflicts: conflicts with "alpha":\n'
        '- .spec.replicas\n'
        '- .spec.template.spec.containers[name="web"].image\n'
        'conflicts with "beta":\n'
        '- .spec.paused')
    assert [c["field"] for c in info.value.details["causes"]] == [
        ".spec.replicas", '.spec.template.spec.containers[name="web"].image', ".spec.paused"]


def test_force_moves_ownership():
    live = stored(track_update(None, deployment(), "kubectl-client-side-apply", S, DEPLOYMENT, T0))
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    out = server_side_apply(live, config, "ssa", True, S, DEPLOYMENT, T1)
    assert out["spec"]["replicas"] == 3
    assert entries(out) == [("ssa", "Apply"), ("kubectl-client-side-apply", "Update")]
    assert owned(out, "ssa") == {".spec.replicas"}
    assert ".spec.replicas" not in owned(out, "kubectl-client-side-apply", "Update")
    assert ".spec.selector" in owned(out, "kubectl-client-side-apply", "Update")


def test_shared_ownership_keeps_fields_one_manager_drops():
    live = stored(server_side_apply(None, deployment(), "one", False, S, DEPLOYMENT, T0))
    same = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}}
    live = server_side_apply(live, same, "two", False, S, DEPLOYMENT, T1)  # same value: no conflict
    assert ".spec.replicas" in owned(live, "one") and ".spec.replicas" in owned(live, "two")
    config = deployment()
    del config["spec"]["replicas"]
    out = server_side_apply(live, config, "one", False, S, DEPLOYMENT, T2)
    assert out["spec"]["replicas"] == 2  # still owned by "two"
    assert ".spec.replicas" not in owned(out, "one")
    # Once "two" drops it as well, nobody owns it and it is removed.
    out = server_side_apply(out, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
                                  "labels": {"app": "web"}}}, "two", False, S, DEPLOYMENT, T2)
    assert "replicas" not in out["spec"]


def test_noop_apply_keeps_time_and_object():
    live = stored(server_side_apply(None, deployment(), "mgr", False, S, DEPLOYMENT, T0))
    out = server_side_apply(live, deployment(), "mgr", False, S, DEPLOYMENT, T1)
    assert out["metadata"]["managedFields"][0]["time"] == T0
    assert {k: v for k, v in out.items() if k != "metadata"} == {k: v for k, v in live.items() if k != "metadata"}


def test_apply_merges_lists_by_key_keeping_live_items():
    live = stored(track_update(None, deployment(), "kubectl-create", S, DEPLOYMENT, T0))
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "busybox"}]}}}}
    out = server_side_apply(live, config, "sidecar-injector", False, S, DEPLOYMENT, T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["web", "log"]


def test_apply_errors():
    wrong = deployment()
    wrong["kind"] = "StatefulSet"
    with pytest.raises(ApiError) as info:
        server_side_apply(None, wrong, "m", False, S, DEPLOYMENT, T0)
    assert (info.value.code, info.value.message) == (400, "invalid object type: apps/v1, Kind=StatefulSet")
    bare = deployment()
    del bare["apiVersion"], bare["kind"]
    with pytest.raises(ApiError) as info:
        server_side_apply(None, bare, "m", False, S, DEPLOYMENT, T0)
    assert info.value.message == "invalid object type: /, Kind="
    with_managed = deployment()
    with_managed["metadata"]["managedFields"] = []
    with pytest.raises(ApiError) as info:
        server_side_apply(None, with_managed, "m", False, S, DEPLOYMENT, T0)
    assert (info.value.code, info.value.message) == (400, "metadata.managedFields must be nil")


def test_kubectl_server_side_takes_over_client_side_apply():
    # lastappliedmanager.go: fields in the last-applied annotation with unchanged values are no conflict
    # for manager "kubectl", and lastappliedupdater.go rewrites the annotation.
    created = deployment()
    created["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(deployment()) + "\n"}
    live = stored(track_update(None, created, "kubectl-client-side-apply", S, DEPLOYMENT, T0))
    out = server_side_apply(live, deployment(replicas=4), "kubectl", False, S, DEPLOYMENT, T1)
    assert out["spec"]["replicas"] == 4
    assert json.loads(out["metadata"]["annotations"][LAST_APPLIED])["spec"]["replicas"] == 4
    assert ".spec.replicas" in owned(out, "kubectl")


def test_apply_to_untracked_object_records_before_first_apply():
    live = stored(deployment())
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"paused": True}}
    out = server_side_apply(live, config, "m", False, S, DEPLOYMENT, T1)
    assert entries(out) == [("m", "Apply"), ("before-first-apply", "Update")]


# --------------------------------------------------------------------------- non-apply writes


def test_create_owns_whole_object_like_upstream():
    out = track_update(None, deployment(), "kubectl-create", S, DEPLOYMENT, T0)
    [entry] = out["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["time"]) == (
        "kubectl-create", "Update", "apps/v1", T0)
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    # Value structs (spec, template, template.spec) and required lists get no "." entry.
    assert "." not in fields["f:spec"] and "." not in fields["f:spec"]["f:template"]
    assert fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["."] == {}
    assert "." not in fields["f:spec"]["f:template"]["f:spec"]["f:containers"]


def test_update_moves_changed_fields_and_orders_entries():
    live = stored(track_update(None, deployment(), "kubectl-create", S, DEPLOYMENT, T0))
    changed = deployment(image="nginx:2")
    changed["metadata"] = live["metadata"]
    out = track_update(live, changed, "kubectl-set", S, DEPLOYMENT, T1)
    assert entries(out) == [("kubectl-create", "Update"), ("kubectl-set", "Update")]
    assert owned(out, "kubectl-set", "Update") == {'.spec.template.spec.containers[name="web"].image'}
    assert '.spec.template.spec.containers[name="web"].image' not in owned(out, "kubectl-create", "Update")
    # The same manager again merges into its entry; an Apply entry sorts first.
    again = track_update(out, deployment(replicas=9, image="nginx:2") | {"metadata": out["metadata"]},
                         "kubectl-set", S, DEPLOYMENT, T2)
    assert owned(again, "kubectl-set", "Update") == {'.spec.template.spec.containers[name="web"].image',
                                                     ".spec.replicas"}


def test_removed_fields_leave_every_manager():
    live = stored(track_update(None, deployment(tier="fe"), "creator", S, DEPLOYMENT, T0))
    smaller = deployment()
    smaller["metadata"] = {**live["metadata"], "labels": {"app": "web"}}
    out = track_update(live, smaller, "editor", S, DEPLOYMENT, T1)
    assert ".metadata.labels.tier" not in owned(out, "creator", "Update")
    assert entries(out) == [("creator", "Update")]  # nothing added or changed: no entry for "editor"


def test_status_is_not_owned_through_the_main_resource():
    obj = deployment()
    obj["status"] = {"replicas": 2}
    out = track_update(None, obj, "creator", S, DEPLOYMENT, T0)
    assert "f:status" not in out["metadata"]["managedFields"][0]["fieldsV1"]
    status = track_update(stored(out), stored(out) | {"status": {"replicas": 3}}, "controller", S, DEPLOYMENT, T1,
                          "status")
    entry = [e for e in status["metadata"]["managedFields"] if e["manager"] == "controller"][0]
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:replicas": {}}}


def test_managed_fields_in_request_and_untracked_objects():
    live = stored(track_update(None, deployment(), "creator", S, DEPLOYMENT, T0))
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = []
    assert "managedFields" not in track_update(live, cleared, "x", S, DEPLOYMENT, T1)["metadata"]
    untracked = stored(deployment())
    assert "managedFields" not in track_update(untracked, deployment(replicas=3) | {
        "metadata": untracked["metadata"]}, "x", S, DEPLOYMENT, T1)["metadata"]


def test_update_managers_are_capped():
    obj = stored(track_update(None, deployment(), "m00", S, DEPLOYMENT, "2024-05-01T00:00:00Z"))
    for i in range(1, 12):
        changed = copy.deepcopy(obj)
        changed["metadata"]["labels"][f"l{i}"] = "x"
        obj = track_update(obj, changed, f"m{i:02d}", S, DEPLOYMENT, f"2024-05-01T00:00:{i:02d}Z")
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers
    assert len(decode_managed_fields(obj["metadata"]["managedFields"])) == 10
