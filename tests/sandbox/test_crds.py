"""CustomResourceDefinitions served generically, as kube-apiserver's apiextensions-apiserver serves them.

Through the real kubectl and the official Python client against a real sandbox process. Expected texts come from
k8s.io/apiextensions-apiserver (pkg/apis/apiextensions/validation, pkg/controller/status and establish,
pkg/registry/customresource, pkg/apiserver/schema/cel) and k8s.io/kube-openapi/pkg/validation/errors, and from
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/.
"""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from tests.conftest import wait_for
from tests.sandbox.conftest import core_api

from k8snet.sandbox import process

GROUP = "toys.k8snet.dev"
CRD_NAME = f"widgets.{GROUP}"
WIDGET_CRD = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {CRD_NAME}
spec:
  group: {GROUP}
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wdg]
    categories: [k8snet-toys]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - {{name: Color, type: string, jsonPath: .spec.color}}
    - {{name: Replicas, type: integer, jsonPath: .spec.replicas}}
    - {{name: Size, type: string, jsonPath: .spec.size, priority: 1}}
    - {{name: Age, type: date, jsonPath: .metadata.creationTimestamp}}
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a toy the workbook builds.
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [color]
            x-kubernetes-validations:
            - rule: self.replicas <= self.maxReplicas
              message: replicas may not exceed maxReplicas
            - rule: self.replicas >= oldSelf.replicas || self.allowScaleDown
              messageExpression: "'cannot scale down from ' + string(oldSelf.replicas)"
              reason: FieldValueForbidden
            - rule: "!has(self.nickname) || self.nickname.startsWith('w')"
              fieldPath: .nickname
            properties:
              replicas: {{type: integer, minimum: 0, default: 1, description: How many.}}
              maxReplicas: {{type: integer, default: 10}}
              allowScaleDown: {{type: boolean, default: false}}
              color: {{type: string, enum: [red, blue], description: The colour.}}
              size: {{x-kubernetes-int-or-string: true}}
              nickname: {{type: string, maxLength: 8}}
              tags:
                type: array
                items: {{type: string}}
                x-kubernetes-list-type: set
          status:
            type: object
            properties:
              replicas: {{type: integer}}
              selector: {{type: string}}
"""


def crd_like_widget(plural: str, kind: str, short: str) -> str:
    """The Widget CRD under other names (all of them: the naming controller refuses a taken singular too)."""
    return WIDGET_CRD.replace("widgets", plural).replace("singular: widget", f"singular: {kind.lower()}").replace(
        "Widget", kind).replace("wdg", short).replace("categories: [k8snet-toys]", "")


def raw(sandbox, path: str) -> dict:
    return json.loads(sandbox.kubectl("get", "--raw", path).stdout)


def widget(name: str, **spec) -> str:
    return yaml.safe_dump({"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec})


def field(sandbox, ns: str, kind: str, name: str, path: str) -> str:
    return sandbox.kubectl("get", "-n", ns, kind, name, "-o", f"jsonpath={path}").stdout


@pytest.fixture(scope="module")
def crd(sandbox):
    """The Widget CRD, applied and Established for the module, deleted (with its objects) afterwards."""
    sandbox.kubectl("apply", "-f", "-", input=WIDGET_CRD)
    sandbox.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=20s")
    yield CRD_NAME
    sandbox.kubectl("delete", "crd", CRD_NAME, "--ignore-not-found", check=False)


@pytest.fixture
def custom(sandbox):
    return client.CustomObjectsApi(sandbox.api_client())


# --------------------------------------------------------------------------- the CRD itself


def test_crd_is_named_and_established_by_the_naming_and_establishing_controllers(sandbox, crd):
    # pkg/controller/status/naming_controller.go and pkg/controller/establish/establishing_controller.go
    obj = sandbox.kubectl_json("get", "crd", crd, "--show-managed-fields")
    status = obj["status"]
    assert [(c["type"], c["status"], c["reason"], c["message"]) for c in status["conditions"]] == [
        ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]
    assert status["acceptedNames"] == {"plural": "widgets", "singular": "widget", "shortNames": ["wdg"],
                                       "kind": "Widget", "listKind": "WidgetList", "categories": ["k8snet-toys"]}
    assert status["storedVersions"] == ["v1"]
    assert obj["spec"]["conversion"] == {"strategy": "None"}  # apis/apiextensions/v1 defaults.go
    assert obj["metadata"]["generation"] == 1
    managers = {(m["manager"], m["operation"], m.get("subresource", "")) for m in obj["metadata"]["managedFields"]}
    assert ("kube-apiserver", "Update", "status") in managers


def test_get_crd_prints_name_and_created_at_as_the_default_table_convertor(sandbox, crd):
    # the CRD registry prints with rest.NewDefaultTableConvertor: NAME, CREATED AT (RFC 3339)
    lines = sandbox.kubectl("get", "crd", crd).stdout.splitlines()
    created = sandbox.kubectl("get", "crd", crd, "-o", "jsonpath={.metadata.creationTimestamp}").stdout
    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split() == [crd, created]
    assert raw(sandbox, "/apis/apiextensions.k8s.io/v1")["resources"][0]["categories"] == ["api-extensions"]


def test_invalid_crd_is_refused_with_the_apiservers_field_errors(sandbox):
    # pkg/apis/apiextensions/validation/validation.go; a schema shared by every version is reported at
    # spec.validation (the v1 → internal conversion moves identical per-version schemas to the top)
    bad = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example}
spec:
  group: example
  scope: Everywhere
  names: {plural: Gadgets, kind: gadget}
  versions:
  - name: v1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              x: {type: strin}
"""
    proc = sandbox.kubectl("apply", "-f", "-", input=bad, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == 'The CustomResourceDefinition "gadgets.example" is invalid: '
    assert lines[1:3] == ['* metadata.name: Invalid value: "gadgets.example": must be spec.names.plural+"."+spec.group',
                          '* spec.group: Invalid value: "example": should be a domain with at least one dot']
    assert '* spec.scope: Unsupported value: "Everywhere": supported values: "Cluster", "Namespaced"' in lines
    assert any(line.startswith("* spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{")
               and line.endswith(": must have exactly one version marked as storage version") for line in lines)
    assert "* spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for " \
           "specified object fields" in lines
    assert '* spec.validation.openAPIV3Schema.properties[spec].properties[x].type: Unsupported value: "strin": ' \
           'supported values: "array", "boolean", "integer", "number", "object", "string"' in lines


def test_a_cel_rule_that_does_not_compile_refuses_the_crd(sandbox):
    crd = crd_like_widget("sprockets", "Sprocket", "spr").replace(
        "self.replicas <= self.maxReplicas", "self.replicas <= self.maxReplica")
    proc = sandbox.kubectl("apply", "-f", "-", input=crd, check=False)
    assert proc.returncode == 1
    assert ('The CustomResourceDefinition "sprockets.toys.k8snet.dev" is invalid: '
            "spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
            'apiextensions.ValidationRule{Rule:"self.replicas <= self.maxReplica", Message:"replicas may not exceed '
            'maxReplicas", MessageExpression:"", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", '
            "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:22: undefined field 'maxReplica'\n"
            " | self.replicas <= self.maxReplica\n"
            " | .....................^") in proc.stderr


def test_a_rule_using_a_function_the_engine_lacks_is_accepted_with_a_warning_naming_it(sandbox, ns):
    crd = crd_like_widget("doohickeys", "Doohickey", "dhk").replace("self.nickname.startsWith('w')",
                                                                    "self.nickname.format([1]) != ''")
    proc = sandbox.kubectl("apply", "-f", "-", input=crd)
    try:
        assert "Warning: k8snet sandbox: x-kubernetes-validations rule \"!has(self.nickname) || " \
               "self.nickname.format([1]) != ''\" uses format, which the sandbox's CEL engine lacks: the rule is not " \
               "enforced" in proc.stderr
        sandbox.kubectl("wait", "--for=condition=Established", f"crd/doohickeys.{GROUP}", "--timeout=20s")
        obj = widget("d1", color="red", nickname="x").replace("Widget", "Doohickey")
        proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=obj)
        assert "doohickey.toys.k8snet.dev/d1 created" in proc.stdout
        assert "Warning: spec: x-kubernetes-validations rule \"!has(self.nickname) || self.nickname.format([1]) != " \
               "''\" was not checked: the k8snet sandbox's CEL engine lacks format" in proc.stderr
    finally:
        sandbox.kubectl("delete", "crd", f"doohickeys.{GROUP}", "--ignore-not-found")


def test_a_taken_name_is_not_accepted_until_its_holder_goes(sandbox, crd):
    # naming_controller.go: the last failing check names the condition; a deleted CRD frees its names and the
    # controller looks at the rest of the group again
    rival = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gizmos.{GROUP}}}
spec:
  group: {GROUP}
  scope: Cluster
  names: {{plural: gizmos, kind: Widget}}
  versions: [{{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object}}}}}}]
"""
    sandbox.kubectl("apply", "-f", "-", input=rival)
    try:
        conditions = sandbox.kubectl_json("get", "crd", f"gizmos.{GROUP}")["status"]["conditions"]
        assert [(c["type"], c["status"], c["reason"], c["message"]) for c in conditions] == [
            ("NamesAccepted", "False", "ListKindConflict", '"WidgetList" is already in use'),
            ("Established", "False", "NotAccepted", "not all names are accepted")]
        raw = sandbox.kubectl("get", "--raw", f"/apis/{GROUP}/v1").stdout
        assert "gizmos" not in raw  # only Established CRDs are served (customresource_discovery_controller.go)
    finally:
        sandbox.kubectl("delete", "crd", f"gizmos.{GROUP}")


# --------------------------------------------------------------------------- discovery, OpenAPI, tables


def test_discovery_lists_the_custom_resource_legacy_and_aggregated(sandbox, crd):
    # customresource_discovery_controller.go: verbs in its order, subresources, responseKind with group/version
    legacy = raw(sandbox, f"/apis/{GROUP}/v1")
    by_name = {r["name"]: r for r in legacy["resources"]}
    assert by_name["widgets"]["verbs"] == ["delete", "deletecollection", "get", "list", "patch", "create", "update",
                                           "watch"]
    assert by_name["widgets"]["shortNames"] == ["wdg"] and by_name["widgets"]["categories"] == ["k8snet-toys"]
    assert by_name["widgets/scale"]["group"] == "autoscaling" and by_name["widgets/scale"]["kind"] == "Scale"
    api = sandbox.api_client()
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/apis", header_params={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
        auth_settings=["BearerToken"])
    resp = api.call_api(method, url, header_params=headers)
    resp.read()
    group = next(i for i in json.loads(resp.data)["items"] if i["metadata"]["name"] == GROUP)
    res = group["versions"][0]["resources"][0]
    assert res["responseKind"] == {"group": GROUP, "version": "v1", "kind": "Widget"}
    assert {s["subresource"]: s["responseKind"] for s in res["subresources"]} == {
        "status": {"group": GROUP, "version": "v1", "kind": "Widget"},
        "scale": {"group": "autoscaling", "version": "v1", "kind": "Scale"}}
    assert sandbox.kubectl("api-resources", f"--api-group={GROUP}", "--no-headers").stdout.split() == \
        ["widgets", "wdg", f"{GROUP}/v1", "true", "Widget"]


def test_explain_reads_the_crd_schema_from_openapi_v3(sandbox, crd):
    out = sandbox.kubectl("explain", "widget.spec").stdout
    assert f"GROUP:      {GROUP}" in out and "KIND:       Widget" in out
    assert "FIELD: spec <Object>" in out and "What the widget should be." in out
    assert "  color\t<string> -required-\n  enum: red, blue\n    The colour." in out
    assert "  size\t<Object>" in out  # int-or-string has no type: explain's typeGuess prints Object


def test_printer_columns_default_and_wide(sandbox, crd, ns):
    # registry/customresource/tableconvertor: NAME, then the CRD's columns; priority 1 only with -o wide
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("w1", color="red", size=3, replicas=2))
    lines = sandbox.kubectl("get", "-n", ns, "widgets").stdout.splitlines()
    assert lines[0].split() == ["NAME", "COLOR", "REPLICAS", "AGE"]
    assert lines[1].split()[:3] == ["w1", "red", "2"]
    wide = sandbox.kubectl("get", "-n", ns, "wdg", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "COLOR", "REPLICAS", "SIZE", "AGE"]
    assert wide[1].split()[:4] == ["w1", "red", "2", "3"]
    assert sandbox.kubectl("get", "-n", ns, "k8snet-toys", "-o", "name").stdout.split() == [f"widget.{GROUP}/w1"]
    # client-side apply of a custom resource: a JSON merge patch (the OpenAPI v3 PATCH offers no strategic merge)
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("w1", color="blue", size=3, replicas=3)).stdout
    assert out.strip() == f"widget.{GROUP}/w1 configured"
    assert sandbox.kubectl("get", "-n", ns, "widgets", "--no-headers").stdout.split()[:3] == ["w1", "blue", "3"]


# --------------------------------------------------------------------------- validation, defaults, pruning


def test_invalid_objects_get_the_apiservers_messages(sandbox, crd, ns):
    proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("bad", color="green", replicas="two"),
                           check=False)
    assert proc.stderr.splitlines() == [
        'The Widget "bad" is invalid: ',
        '* spec.color: Unsupported value: "green": supported values: "red", "blue"',
        '* spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        "* .spec.replicas: Invalid value: 0: .spec.replicas accessor error: two is of the type string, expected int64",
        '* <nil>: Invalid value: "null": some validation rules were not checked because the object was invalid; '
        "correct the existing errors to complete validation"]
    proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("bad", replicas=1), check=False)
    assert "The Widget \"bad\" is invalid: \n* spec.color: Required value\n" in proc.stderr
    proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("bad", color="red", tags=["a", "a"],
                                                                       nickname="far-too-long"), check=False)
    assert proc.stderr.splitlines()[1:3] == ["* spec.nickname: Too long: may not be more than 8 bytes",
                                             '* spec.tags[1]: Duplicate value: "a"']


def test_cel_rules_report_message_reason_field_path_and_transitions(sandbox, crd, ns, custom):
    def create(name: str, **spec) -> dict:
        return custom.create_namespaced_custom_object(GROUP, "v1", ns, "widgets", yaml.safe_load(widget(name, **spec)))

    with pytest.raises(ApiException) as info:
        create("c1", color="red", replicas=11, nickname="x")
    body = json.loads(info.value.body)
    assert info.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"] == ('Widget.toys.k8snet.dev "c1" is invalid: [spec: Invalid value: "object": replicas may '
                               'not exceed maxReplicas, spec.nickname: Invalid value: "object": failed rule: '
                               "!has(self.nickname) || self.nickname.startsWith('w')]")
    assert body["details"]["causes"][1] == {"reason": "FieldValueInvalid", "field": "spec.nickname",
                                            "message": 'Invalid value: "object": failed rule: !has(self.nickname) || '
                                                       "self.nickname.startsWith('w')"}
    create("c1", color="red", replicas=3)
    with pytest.raises(ApiException) as info:  # a transition rule (oldSelf) runs on updates only
        custom.patch_namespaced_custom_object(GROUP, "v1", ns, "widgets", "c1", {"spec": {"replicas": 2}})
    assert json.loads(info.value.body)["message"] == \
        'Widget.toys.k8snet.dev "c1" is invalid: spec: Forbidden: cannot scale down from 3'
    patched = custom.patch_namespaced_custom_object(GROUP, "v1", ns, "widgets", "c1",
                                                    {"spec": {"replicas": 2, "allowScaleDown": True}})
    assert patched["spec"]["replicas"] == 2


def test_unknown_fields_strict_refusal_and_warn_warning(sandbox, crd, ns):
    # kubectl sends fieldValidation=Strict by default: unknown fields are a strict decoding error (400)
    proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("u1", color="red", shade="dark"), check=False)
    assert proc.stderr.strip() == ('Error from server (BadRequest): error when creating "STDIN": Widget in version '
                                   '"v1" cannot be handled as a Widget: strict decoding error: unknown field '
                                   '"spec.shade"')
    proc = sandbox.kubectl("apply", "--validate=warn", "-n", ns, "-f", "-", input=widget("u1", color="red",
                                                                                           shade="dark"))
    assert proc.stderr.strip() == 'Warning: unknown field "spec.shade"'
    assert "shade" not in json.dumps(sandbox.kubectl_json("get", "-n", ns, "widget", "u1")["spec"])  # pruned


def test_defaults_apply_on_create_update_and_read(sandbox, crd, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("d1", color="blue"))
    spec = sandbox.kubectl_json("get", "-n", ns, "widget", "d1")["spec"]
    assert spec == {"color": "blue", "replicas": 1, "maxReplicas": 10, "allowScaleDown": False}
    # a default added to the schema later shows on read, before the object is written again
    # (docs: "Defaulting happens ... when reading from etcd using the storage version defaults")
    patch = [{"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/nickname/default",
              "value": "wally"}]
    sandbox.kubectl("patch", "crd", crd, "--type=json", "-p", json.dumps(patch))
    try:
        assert field(sandbox, ns, "widget", "d1", "{.spec.nickname}") == "wally"
    finally:
        sandbox.kubectl("patch", "crd", crd, "--type=json", "-p", json.dumps([{**patch[0], "op": "remove"}]))


# --------------------------------------------------------------------------- subresources and patches


def test_status_subresource_and_generation(sandbox, crd, ns):
    # customresource strategy.go: the main resource ignores status, /status ignores everything else, and only
    # non-status changes bump metadata.generation
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("s1", color="red"))
    sandbox.kubectl("patch", "-n", ns, "widget", "s1", "--type=merge", "-p", '{"status": {"replicas": 5}}')
    assert field(sandbox, ns, "widget", "s1", "{.status}") == ""
    sandbox.kubectl("patch", "-n", ns, "widget", "s1", "--subresource=status", "--type=merge",
                    "-p", '{"status": {"replicas": 5}, "spec": {"color": "blue"}}')
    assert field(sandbox, ns, "widget", "s1", "{.status.replicas} {.spec.color} {.metadata.generation}") == \
        "5 red 1"
    sandbox.kubectl("patch", "-n", ns, "widget", "s1", "--type=merge", "-p", '{"spec": {"color": "blue"}}')
    assert field(sandbox, ns, "widget", "s1", "{.metadata.generation}") == "2"


def test_scale_subresource_reads_and_writes_the_replicas_paths(sandbox, crd, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("sc1", color="red", replicas=2))
    sandbox.kubectl("patch", "-n", ns, "widget", "sc1", "--subresource=status", "--type=merge",
                    "-p", '{"status": {"replicas": 2, "selector": "app=sc1"}}')
    sandbox.kubectl("scale", "-n", ns, "widget", "sc1", "--replicas=4")
    scale = raw(sandbox, f"/apis/{GROUP}/v1/namespaces/{ns}/widgets/sc1/scale")
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 4} and scale["status"] == {"replicas": 2, "selector": "app=sc1"}
    proc = sandbox.kubectl("scale", "-n", ns, "widget", "sc1", "--replicas=20", check=False)
    assert 'spec: Invalid value: "object": replicas may not exceed maxReplicas' in proc.stderr


def test_patch_types_and_server_side_apply(sandbox, crd, ns):
    sandbox.kubectl("apply", "--server-side", "-n", ns, "-f", "-", input=widget("p1", color="red", tags=["a"]))
    managers = sandbox.kubectl_json("get", "-n", ns, "widget", "p1", "--show-managed-fields")["metadata"][
        "managedFields"]
    assert [(m["manager"], m["operation"]) for m in managers] == [("kubectl", "Apply")]
    sandbox.kubectl("patch", "-n", ns, "widget", "p1", "--type=json",
                    "-p", '[{"op": "add", "path": "/spec/tags/-", "value": "b"}]')
    assert field(sandbox, ns, "widget", "p1", "{.spec.tags}") == '["a","b"]'
    # custom resources take no strategic merge patch (customresource_handler.go supportedTypes): 415
    proc = sandbox.kubectl("patch", "-n", ns, "widget", "p1", "-p", '{"spec": {"color": "blue"}}', check=False)
    assert proc.stderr.strip().endswith(
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    proc = sandbox.kubectl("apply", "--server-side", "--field-manager=other", "-n", ns, "-f", "-",
                           input=widget("p1", color="blue", tags=["a"]), check=False)
    assert 'conflict with "kubectl"' in proc.stderr and ".spec.color" in proc.stderr


def test_watch_and_custom_objects_api(sandbox, crd, ns, custom):
    rv = custom.list_namespaced_custom_object(GROUP, "v1", ns, "widgets")["metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(GROUP, "v1", ns, "widgets", yaml.safe_load(widget("wa", color="red")))
    custom.delete_namespaced_custom_object(GROUP, "v1", ns, "widgets", "wa")
    seen = []
    for event in watch.Watch().stream(custom.list_namespaced_custom_object, GROUP, "v1", ns, "widgets",
                                      resource_version=rv, timeout_seconds=2):
        seen.append((event["type"], event["object"]["metadata"]["name"], event["object"]["spec"]["replicas"]))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "wa", 1), ("DELETED", "wa", 1)]


# --------------------------------------------------------------------------- versions


VERSIONED_CRD = f"""
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gears.{GROUP}}}
spec:
  group: {GROUP}
  scope: Cluster
  names: {{plural: gears, kind: Gear}}
  versions:
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    schema:
      openAPIV3Schema:
        type: object
        properties: {{spec: {{type: object, properties: {{teeth: {{type: integer}}, legacy: {{type: string}}}}}}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{teeth: {{type: integer}}, finish: {{type: string, default: matte}}}}}}
"""


def test_versions_convert_with_strategy_none_and_deprecated_ones_warn(sandbox):
    sandbox.kubectl("apply", "-f", "-", input=VERSIONED_CRD)
    try:
        assert raw(sandbox, f"/apis/{GROUP}")["versions"] == [
            {"groupVersion": f"{GROUP}/v1", "version": "v1"}, {"groupVersion": f"{GROUP}/v1beta1",
                                                                 "version": "v1beta1"}]
        old = yaml.safe_dump({"apiVersion": f"{GROUP}/v1beta1", "kind": "Gear", "metadata": {"name": "g1"},
                              "spec": {"teeth": 12, "legacy": "x"}})
        proc = sandbox.kubectl("apply", "-f", "-", input=old)
        # customresource_handler.go defaultDeprecationWarning
        assert f"Warning: {GROUP}/v1beta1 Gear is deprecated; use {GROUP}/v1 Gear" in proc.stderr
        stored = sandbox.kubectl_json("get", f"gears.v1.{GROUP}", "g1")
        assert stored["apiVersion"] == f"{GROUP}/v1"
        assert stored["spec"] == {"teeth": 12, "finish": "matte"}  # stored as v1: pruned, defaulted on read
        served_old = sandbox.kubectl_json("get", f"gears.v1beta1.{GROUP}", "g1")
        assert served_old["apiVersion"] == f"{GROUP}/v1beta1" and served_old["spec"] == {"teeth": 12}
    finally:
        sandbox.kubectl("delete", "crd", f"gears.{GROUP}")


# --------------------------------------------------------------------------- deletion and restarts


def test_deleting_the_crd_deletes_its_objects_and_stops_serving(sandbox, ns):
    crd = crd_like_widget("knobs", "Knob", "knb")
    sandbox.kubectl("apply", "-f", "-", input=crd)
    sandbox.kubectl("wait", "--for=condition=Established", f"crd/knobs.{GROUP}", "--timeout=20s")
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("k1", color="red").replace("Widget", "Knob"))
    out = sandbox.kubectl("delete", "crd", f"knobs.{GROUP}").stdout
    assert out.strip() == f'customresourcedefinition.apiextensions.k8s.io "knobs.{GROUP}" deleted'
    proc = sandbox.kubectl("get", "--raw", f"/apis/{GROUP}/v1/namespaces/{ns}/knobs", check=False)
    assert "NotFound" in proc.stderr
    status = json.loads(sandbox.kubectl("get", "--raw", "/k8snet/admin/status").stdout)
    assert f"knobs.{GROUP}" not in status["objects"]
    # the objects went with it: a new CRD of the same name starts empty
    sandbox.kubectl("apply", "-f", "-", input=crd)
    try:
        sandbox.kubectl("wait", "--for=condition=Established", f"crd/knobs.{GROUP}", "--timeout=20s")
        assert sandbox.kubectl("get", "-n", ns, "knobs", "-o", "name").stdout == ""
    finally:
        sandbox.kubectl("delete", "crd", f"knobs.{GROUP}")


def test_an_instance_finalizer_keeps_the_crd_terminating(sandbox, ns):
    # registry/customresourcedefinition/etcd.go Delete and controller/finalizer/crd_finalizer.go
    crd = crd_like_widget("levers", "Lever", "lvr")
    sandbox.kubectl("apply", "-f", "-", input=crd)
    sandbox.kubectl("wait", "--for=condition=Established", f"crd/levers.{GROUP}", "--timeout=20s")
    held = yaml.safe_load(widget("l1", color="red").replace("Widget", "Lever"))
    held["metadata"]["finalizers"] = ["toys.k8snet.dev/hold"]
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(held))
    sandbox.kubectl("delete", "crd", f"levers.{GROUP}", "--wait=false")
    obj = sandbox.kubectl_json("get", "crd", f"levers.{GROUP}")
    assert "customresourcecleanup.apiextensions.k8s.io" in obj["metadata"]["finalizers"]
    terminating = next(c for c in obj["status"]["conditions"] if c["type"] == "Terminating")
    assert (terminating["status"], terminating["reason"]) == ("True", "InstanceDeletionInProgress")
    proc = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=widget("l2", color="red").replace("Widget", "Lever"),
                           check=False)
    assert "create not allowed while custom resource definition is terminating" in proc.stderr
    sandbox.kubectl("patch", "-n", ns, "lever", "l1", "--type=merge", "-p", '{"metadata": {"finalizers": null}}')
    wait_for(lambda: sandbox.kubectl("get", "crd", f"levers.{GROUP}", check=False).returncode == 1, timeout=10,
             what="the terminating CRD to go once its last instance has")


def test_restart_serves_the_stored_crds_and_their_objects(own_sandbox):
    """Nothing accepted is lost: after a restart the registry is rebuilt from the stored CRDs."""
    api = core_api(own_sandbox).api_client
    ext = client.ApiextensionsV1Api(api)
    body = yaml.safe_load(WIDGET_CRD)
    ext.create_custom_resource_definition(body)
    custom = client.CustomObjectsApi(api)
    wait_for(lambda: _established(ext), what="the Widget CRD to be Established")
    custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets", yaml.safe_load(widget("r1", color="red")))
    process.down()
    process.up()
    api = core_api(own_sandbox).api_client
    custom = client.CustomObjectsApi(api)
    obj = custom.get_namespaced_custom_object(GROUP, "v1", "default", "widgets", "r1")
    assert obj["spec"] == {"color": "red", "replicas": 1, "maxReplicas": 10, "allowScaleDown": False}
    with pytest.raises(ApiException) as info:  # validation (CEL rules included) is back too
        custom.create_namespaced_custom_object(GROUP, "v1", "default", "widgets",
                                               yaml.safe_load(widget("r2", color="red", replicas=11)))
    assert info.value.status == 422 and "replicas may not exceed maxReplicas" in info.value.body


def _established(ext: client.ApiextensionsV1Api) -> bool:
    crd = ext.read_custom_resource_definition(CRD_NAME)
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])
