"""Bad input gets kube-apiserver's 4xx Status, never a 500 and never a silent write.

Each case names the upstream code whose answer it checks. Raw HTTPS with the token, so the exact status,
reason and message are what a client sees.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from tests.conftest import SandboxEnv

from k8snet.sandbox import process


def call(sb: SandboxEnv, method: str, path: str, body: bytes | str | None = None,
         ctype: str = "application/json") -> tuple[int, dict, dict]:
    running = sb.running
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"{running.server}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {running.token}", "Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, context=process._tls(running.state), timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else {}, dict(exc.headers)


def status_of(code: int, body: dict) -> dict:
    assert body.get("kind") == "Status", body
    assert body["code"] == code
    return body


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def exists(sb: SandboxEnv, ns: str, name: str) -> bool:
    return call(sb, "GET", cm_path(ns, name))[0] == 200


# -- decoding: only JSON values get in (sigs.k8s.io/yaml, encoding/json) -----------------------------


def test_a_yaml_date_becomes_the_string_it_was_written_as(sandbox, ns):
    """yaml.v2 decode.go keeps timestamp-like scalars as strings when decoding into interface{}."""
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dated}\ndata: {day: 2020-01-01}\n"
    code, obj, _ = call(sandbox, "POST", cm_path(ns), body, "application/yaml")
    assert code == 201, obj
    assert obj["data"]["day"] == "2020-01-01"


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!set {a, b}", "2020-01-01T10:00:00Z"])
def test_non_json_yaml_tags_in_a_free_form_field_do_not_wedge_the_store(sandbox, ns, value):
    kind = ("apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: odd}\n"
            f"spec:\n  headers:\n    customRequestHeaders:\n      x: {value}\n")
    path = f"/apis/traefik.io/v1alpha1/namespaces/{ns}/middlewares"
    code, body, _ = call(sandbox, "POST", path, kind, "application/yaml")
    assert code < 500, body
    later = call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "after"}}))
    assert later[0] == 201, later  # every write after still works
    call(sandbox, "DELETE", cm_path(ns, "after"))


@pytest.mark.parametrize("body,ctype", [
    ('{"metadata": {"name": "nan"}, "data": {"x": NaN}}', "application/json"),
    ("metadata: {name: nan}\nbinaryData: {}\ndata: {}\nimmutable: .nan\n", "application/yaml"),
    ("metadata: {name: inf}\nx: -.inf\n", "application/yaml"),
])
def test_nan_and_infinity_are_refused(sandbox, ns, body, ctype):
    code, status, _ = call(sandbox, "POST", cm_path(ns), body, ctype)
    status_of(400, status)
    assert not exists(sandbox, ns, "nan") and not exists(sandbox, ns, "inf")


def test_nesting_past_the_limit_is_a_400_not_a_500(sandbox, ns):
    """encoding/json: maxNestingDepth 10000, ``invalid character '{' exceeded max depth``."""
    deep = '{"a":' * 20000 + "1" + "}" * 20000
    code, status, _ = call(sandbox, "POST", cm_path(ns), deep)
    assert "exceeded max depth" in status_of(400, status)["message"]
    code, status, _ = call(sandbox, "POST", cm_path(ns), "a:\n" + "- " * 20000 + "1\n", "application/yaml")
    status_of(400, status)


def test_a_lone_surrogate_becomes_the_replacement_character(sandbox, ns):
    """encoding/json replaces invalid UTF-16 with U+FFFD rather than failing."""
    code, obj, _ = call(sandbox, "POST", cm_path(ns), '{"metadata": {"name": "sur"}, "data": {"x": "a\\ud800b"}}')
    assert code == 201, obj
    assert obj["data"]["x"] == "a\ufffdb"


def test_a_body_over_the_limit_is_a_413_status(sandbox, ns):
    """handlers/rest.go limitedReadBody: ``Request entity too large: limit is 3145728``."""
    big = json.dumps({"metadata": {"name": "big"}, "data": {"x": "y" * (4 << 20)}})
    code, status, _ = call(sandbox, "POST", cm_path(ns), big)
    assert status_of(413, status)["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: limit is 3145728"


def test_duplicate_fields_under_strict_validation(sandbox, ns):
    """sigs.k8s.io/json UnmarshalStrict: ``strict decoding error: duplicate field``."""
    body = '{"metadata": {"name": "dup", "name": "dup"}, "data": {}}'
    code, status, _ = call(sandbox, "POST", cm_path(ns) + "?fieldValidation=Strict", body)
    assert 'duplicate field "metadata.name"' in status_of(400, status)["message"]
    code, obj, headers = call(sandbox, "POST", cm_path(ns) + "?fieldValidation=Warn", body)
    # client-go NewWarningHeader: the text is an HTTP quoted-string, inner quotes escaped, or kubectl drops it
    assert code == 201 and headers.get("Warning") == '299 - "duplicate field \\"metadata.name\\""'
    code, obj, _ = call(sandbox, "POST", cm_path(ns) + "?fieldValidation=Ignore",
                        '{"metadata": {"name": "dup2"}, "data": {"k": "1", "k": "2"}}')
    assert code == 201 and obj["data"] == {"k": "2"}  # the last one wins, as in Go


# -- query parameters (runtime/conversion.go; meta/v1/validation) -------------------------------


@pytest.mark.parametrize("query,message", [
    ("limit=null", 'strconv.ParseInt: parsing "null": invalid syntax'),
    ("watch=1&timeoutSeconds=abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
])
def test_unparsable_list_parameters(sandbox, ns, query, message):
    code, status, _ = call(sandbox, "GET", cm_path(ns) + "?" + query)
    assert status_of(400, status)["message"] == message


def test_a_negative_limit_lists_everything_as_the_storage_layer_does(sandbox, ns):
    for i in range(3):
        call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": f"l{i}"}}))
    code, body, _ = call(sandbox, "GET", cm_path(ns) + "?limit=-5")
    assert code == 200 and len([i for i in body["items"] if i["metadata"]["name"].startswith("l")]) == 3


@pytest.mark.parametrize("grace", ["abc", "1e12"])
def test_unparsable_grace_periods(sandbox, ns, grace):
    call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "g"}}))
    code, status, _ = call(sandbox, "DELETE", cm_path(ns, "g") + f"?gracePeriodSeconds={grace}")
    assert status_of(400, status)["message"] == f'strconv.ParseInt: parsing "{grace}": invalid syntax'
    assert exists(sandbox, ns, "g")


@pytest.mark.parametrize("value", ["all", "Bogus"])
def test_an_unknown_dry_run_value_is_invalid_and_writes_nothing(sandbox, ns, value):
    """ValidateCreateOptions → ValidateDryRun: 422 on ``CreateOptions.meta.k8s.io ""``."""
    code, status, _ = call(sandbox, "POST", cm_path(ns) + f"?dryRun={value}",
                           json.dumps({"metadata": {"name": "dry"}}))
    assert status_of(422, status)["message"] == (
        f'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{{"{value}"}}: '
        'supported values: "All"')
    assert not exists(sandbox, ns, "dry")


def test_force_on_a_non_apply_patch_is_forbidden(sandbox, ns):
    """ValidatePatchOptions: ``force: Forbidden: may not be specified for non-apply patch``; any value but
    false/0 is true (Convert_Slice_string_To_bool)."""
    call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "f"}}))
    code, status, _ = call(sandbox, "PATCH", cm_path(ns, "f") + "?force=maybe", '{"data": {"a": "b"}}',
                           "application/merge-patch+json")
    assert "force: Forbidden: may not be specified for non-apply patch" in status_of(422, status)["message"]


@pytest.mark.parametrize("manager,detail", [
    ("m" * 129, "fieldManager: Too long: may not be more than 128 bytes"),
    ("bell\x07", "fieldManager: Invalid value: \"bell\\a\": invalid character U+0007 (at position 4)"),
])
def test_field_manager_validation(sandbox, ns, manager, detail):
    from urllib.parse import quote
    code, status, _ = call(sandbox, "PATCH", cm_path(ns, "fm") + f"?fieldManager={quote(manager)}",
                           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fm}\n", "application/apply-patch+yaml")
    assert detail in status_of(422, status)["message"]
    assert not exists(sandbox, ns, "fm")


# -- server-side dry run everywhere -----------------------------------------------------------


def test_kubectl_scale_dry_run_server_changes_nothing(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "web", "--image=nginx", "--replicas=1")
    out = sandbox.kubectl("-n", ns, "scale", "deploy", "web", "--replicas=4", "--dry-run=server").stdout
    assert "scaled (server dry run)" in out
    assert sandbox.kubectl_json("-n", ns, "get", "deploy", "web")["spec"]["replicas"] == 1


# -- bodies of subresources and deletes -------------------------------------------------------


def pending_pod(sb: SandboxEnv, ns: str, name: str = "unbound") -> None:
    pod = {"metadata": {"name": name}, "spec": {"schedulerName": "nobody",
                                                 "containers": [{"name": "c", "image": "nginx"}]}}
    code, body, _ = call(sb, "POST", f"/api/v1/namespaces/{ns}/pods", json.dumps(pod))
    assert code == 201, body


@pytest.mark.parametrize("metadata", ['"a string"', '{"annotations": {"n": 5}}', "[1]"])
def test_a_binding_with_badly_typed_metadata_is_refused(sandbox, ns, metadata):
    pending_pod(sandbox, ns)
    body = f'{{"metadata": {metadata}, "target": {{"kind": "Node", "name": "k8snet-worker"}}}}'
    code, status, _ = call(sandbox, "POST", f"/api/v1/namespaces/{ns}/pods/unbound/binding", body)
    status_of(400, status)
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "unbound")
    assert not pod["spec"].get("nodeName")
    sandbox.kubectl("-n", ns, "describe", "pod", "unbound")  # still decodable by kubectl


def test_a_dry_run_binding_binds_nothing(sandbox, ns):
    pending_pod(sandbox, ns, "dry-bind")
    body = '{"metadata": {"name": "dry-bind"}, "target": {"kind": "Node", "name": "k8snet-worker"}}'
    code, _, _ = call(sandbox, "POST", f"/api/v1/namespaces/{ns}/pods/dry-bind/binding?dryRun=All", body)
    assert code == 201
    assert not sandbox.kubectl_json("-n", ns, "get", "pod", "dry-bind")["spec"].get("nodeName")


def test_an_eviction_with_badly_typed_metadata_is_refused(sandbox, ns):
    pending_pod(sandbox, ns, "evict-me")
    code, status, _ = call(sandbox, "POST", f"/api/v1/namespaces/{ns}/pods/evict-me/eviction",
                           '{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": 7}')
    status_of(400, status)
    assert sandbox.kubectl("-n", ns, "get", "pod", "evict-me", check=False).returncode == 0


def test_a_delete_whose_body_is_a_list_is_a_400(sandbox, ns):
    call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "listbody"}}))
    code, status, _ = call(sandbox, "DELETE", cm_path(ns, "listbody"), "[1, 2]")
    status_of(400, status)
    assert exists(sandbox, ns, "listbody")


def test_a_strategic_merge_patch_with_a_null_list_item(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "service", "clusterip", "smp", "--tcp=80:80")
    code, status, _ = call(sandbox, "PATCH", f"/api/v1/namespaces/{ns}/services/smp", '{"spec": {"ports": [null]}}',
                           "application/strategic-merge-patch+json")
    assert 400 <= code < 500, status
    status_of(code, status)


# -- identity and immortal namespaces -----------------------------------------------------------


@pytest.mark.parametrize("op,code", [
    ('[{"op": "replace", "path": "/metadata/name", "value": "other"}]', 400),
    ('[{"op": "replace", "path": "/metadata/uid", "value": "00000000-0000-4000-8000-000000000000"}]', 422),
])
def test_json_patching_name_or_uid_is_refused(sandbox, ns, op, code):
    """handlers/patch.go checkName (400); ValidateObjectMetaUpdate: uid is immutable (422)."""
    call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "ident"}}))
    before = call(sandbox, "GET", cm_path(ns, "ident"))[1]
    got, status, _ = call(sandbox, "PATCH", cm_path(ns, "ident"), op, "application/json-patch+json")
    status_of(code, status)
    after = call(sandbox, "GET", cm_path(ns, "ident"))[1]
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_put_with_another_uid_fails_its_precondition(sandbox, ns):
    call(sandbox, "POST", cm_path(ns), json.dumps({"metadata": {"name": "putuid"}}))
    obj = call(sandbox, "GET", cm_path(ns, "putuid"))[1]
    obj["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000"
    code, status, _ = call(sandbox, "PUT", cm_path(ns, "putuid"), json.dumps(obj))
    assert "Precondition failed: UID in precondition" in status_of(409, status)["message"]


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public", "kube-node-lease"])
def test_immortal_namespaces_cannot_be_deleted(sandbox, name):
    """NamespaceLifecycle admission: ``namespaces "default" is forbidden: this namespace may not be deleted``."""
    proc = sandbox.kubectl("delete", "namespace", name, check=False)
    assert proc.returncode != 0
    assert f'namespaces "{name}" is forbidden: this namespace may not be deleted' in proc.stderr
    time.sleep(0.05)
    ns = sandbox.kubectl_json("get", "namespace", name)
    assert not ns["metadata"].get("deletionTimestamp")


def test_an_applied_list_item_without_its_key_is_a_400(sandbox, ns):
    """structuredmerge.go: ``failed to create typed patch object (...): element 0: associative list with keys
    has an element that omits all key fields ["uid"]`` — the applied object's fault, so a 400, not a 500."""
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  ownerReferences:\n"
            "  - {apiVersion: v1, kind: ConfigMap, name: x}\n")
    code, status, _ = call(sandbox, "PATCH", cm_path(ns, "applied") + "?fieldManager=t", body,
                           "application/apply-patch+yaml")
    assert "omits all key fields" in status_of(400, status)["message"]
    assert not exists(sandbox, ns, "applied")


def test_a_null_list_item_decodes_to_its_zero_value_and_is_validated(sandbox, ns):
    """encoding/json: ``[null]`` in a []EndpointPort is one zero EndpointPort, which validation then refuses."""
    body = json.dumps({"metadata": {"name": "nullport"},
                       "subsets": [{"addresses": [{"ip": "10.244.1.9"}], "ports": [None]}]})
    code, status, _ = call(sandbox, "POST", f"/api/v1/namespaces/{ns}/endpoints", body)
    assert "subsets[0].ports[0].port" in status_of(422, status)["message"]


def test_a_null_struct_field_is_the_zero_value(sandbox, ns):
    """encoding/json leaves a field given as null at its zero value: ``"spec": null`` is an empty spec."""
    body = json.dumps({"metadata": {"name": "nullspec"}, "spec": None})
    code, obj, _ = call(sandbox, "POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", body)
    assert code == 201, obj


# -- honest 404s: kube-apiserver's generic answer for what it does not serve -------------------------------


@pytest.mark.parametrize("path", [
    "/api/v1/namespaces/default/podtemplates",
    "/api/v1/namespaces/default/pods/nosuch/nosuchsub",
    "/api/v1/namespaces/default/nodes",
    "/apis/apps/v1/namespaces/default/nosuchthings",
])
def test_an_unserved_resource_is_the_generic_404(sandbox, path):
    code, status, _ = call(sandbox, "GET", path)
    assert status_of(404, status)["message"] == "the server could not find the requested resource"


def test_an_unserved_subresource_of_a_running_pod_is_not_a_missing_pod(sandbox, ns):
    pending_pod(sandbox, ns, "here")
    code, status, _ = call(sandbox, "GET", f"/api/v1/namespaces/{ns}/pods/here/nosuchsub")
    assert status_of(404, status)["message"] == "the server could not find the requested resource"
    code, status, _ = call(sandbox, "GET", f"/api/v1/namespaces/{ns}/pods/gone")
    assert status_of(404, status)["message"] == 'pods "gone" not found'


def test_kubectl_cluster_info_dump_completes(sandbox, tmp_path):
    out = tmp_path / "dump"
    sandbox.kubectl("cluster-info", "dump", "--namespaces", "default,kube-system", f"--output-directory={out}",
                    timeout=120)
    assert (out / "nodes.json").exists()


def test_read_only_kinds_list_empty_and_refuse_writes(sandbox, ns):
    """ReplicationControllers list as on kind; while no controller runs them, a write is a 405, never accepted."""
    assert sandbox.kubectl_json("-n", ns, "get", "replicationcontrollers")["items"] == []
    proc = sandbox.kubectl("-n", ns, "create", "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"selector": {"a": "b"}, "template": {"metadata": {"labels": {"a": "b"}},
                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
    assert proc.returncode != 0 and "does not allow this method" in proc.stderr


def test_status_bodies_are_byte_for_byte_the_apiservers(sandbox, ns):
    """metav1.Status in its Go field order (details before code, StatusDetails name, group, kind) and the JSON
    encoder's trailing newline, as client libraries compare them (client-python's e2e tests do)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(sandbox.api_client())
    with pytest.raises(ApiException) as err:
        core.create_namespace({"metadata": {"name": ns}})
    body = err.value.body.decode() if isinstance(err.value.body, bytes) else err.value.body
    assert body == ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces '
                    f'\\"{ns}\\" already exists","reason":"AlreadyExists","details":{{"name":"{ns}","kind":'
                    '"namespaces"},"code":409}\n')
    apps = client.AppsV1Api(sandbox.api_client())
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("nope", ns)
    body = err.value.body.decode() if isinstance(err.value.body, bytes) else err.value.body
    assert body.endswith('"details":{"name":"nope","group":"apps","kind":"deployments"},"code":404}\n')
