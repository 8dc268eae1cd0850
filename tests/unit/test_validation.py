"""Validation messages compared with what kube-apiserver v1.33 answers.

Expected strings come from upstream sources: k8s.io/apimachinery/pkg/util/validation
(validation.go, field/errors.go), pkg/apis/core/validation/validation.go,
pkg/apis/apps/validation/validation.go, pkg/apis/networking/validation/validation.go,
pkg/apis/discovery/validation/validation.go, the encoding/json decoder wording
(UnmarshalTypeError, base64.CorruptInputError) and the apiserver's
transformDecodeError; kubectl transcripts of the same errors agree.
"""

from __future__ import annotations

import copy

import pytest

from k8snet.sandbox import defaults, strategies, validation
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.registry import builtin
from k8snet.sandbox.schema import upstream

SCHEMAS = upstream()
REGISTRY = builtin()

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
POD_UPDATE_MSG = ("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions "
                  "to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it "
                  "was previously negative)")


def rt(group: str, kind: str):
    found = REGISTRY.by_kind(group, kind)
    assert found is not None
    return found


def decode(obj: dict, kind: str, group: str = "", version: str = "v1", mode: str = "Strict") -> list[str]:
    node = SCHEMAS.for_kind(group, version, kind)
    name = (obj.get("metadata") or {}).get("name", "")
    return validation.check_schema(obj, SCHEMAS, node, kind=kind, name=name, group=group, mode=mode)


def decode_error(obj: dict, kind: str, group: str = "", version: str = "v1", mode: str = "Strict") -> ApiError:
    with pytest.raises(ApiError) as info:
        decode(obj, kind, group, version, mode)
    return info.value


def causes(kind: str, obj: dict, old: dict | None = None, group: str = "") -> list[str]:
    """Default then validate, as the API server does; return ``field: message`` for each cause."""
    r = rt(group, kind)
    obj = copy.deepcopy(obj)
    defaults.apply_defaults(r, obj)
    if old is not None:
        old = copy.deepcopy(old)
        defaults.apply_defaults(r, old)
    try:
        validation.validate(r, obj, old, SCHEMAS)
    except ApiError as e:
        assert e.code == 422 and e.reason == "Invalid"
        return [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in e.details["causes"]]
    return []


def meta(name: str = "web", namespace: str | None = "default") -> dict:
    out = {"name": name}
    if namespace:
        out["namespace"] = namespace
    return out


def service(**spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(),
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}


def pod(*containers: dict, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(),
            "spec": {"containers": list(containers) or [{"name": "app", "image": "nginx:1.27"}], **spec}}


def deployment(**spec) -> dict:
    base = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(), "spec": {**base, **spec}}


# ---------------------------------------------------------------- decoding stage


def test_wrong_type_is_a_go_decoding_error():
    err = decode_error(service(ports=[{"port": "abc"}]), "Service")
    assert err.code == 400 and err.reason == "BadRequest"
    assert err.message == ('Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string '
                           'into Go struct field ServicePort.spec.ports.port of type int32')


@pytest.mark.parametrize("patch, expected", [
    ({"spec": "abc"}, "cannot unmarshal string into Go struct field Service.spec of type v1.ServiceSpec"),
    ({"metadata": {"name": "web", "labels": {"a": 1}}},
     "cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"spec": {"ports": {"port": 80}}},
     "cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"),
    ({"spec": {"ports": [{"port": 1.5}]}},
     "cannot unmarshal number 1.5 into Go struct field ServicePort.spec.ports.port of type int32"),
    ({"spec": {"ports": [{"port": 80, "targetPort": 1.5}]}},
     "cannot unmarshal number 1.5 into Go struct field ServicePort.spec.ports.targetPort of type int32"),
    ({"spec": {"ports": [{"port": 99999999999}]}},
     "cannot unmarshal number 99999999999 into Go struct field ServicePort.spec.ports.port of type int32"),
    ({"spec": {"ports": [{"port": 80}], "type": True}},
     "cannot unmarshal bool into Go struct field ServiceSpec.spec.type of type string"),
])
def test_go_type_error_wording(patch, expected):
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta(), **patch}
    assert decode_error(obj, "Service").message.endswith("json: " + expected)


def test_only_the_first_type_error_is_reported():
    obj = service(ports=[{"port": "a"}], type=1)
    assert "ServicePort.spec.ports.port" in decode_error(obj, "Service").message


def test_strict_unknown_fields_are_listed_in_document_order():
    obj = service(ports=[{"port": 80, "nodeport": 30001, "targetport": 8080}])
    obj["spec"]["foo"] = 1
    err = decode_error(obj, "Service")
    assert err.code == 400
    assert err.message == ('Service in version "v1" cannot be handled as a Service: strict decoding error: '
                           'unknown field "spec.ports[0].nodeport", unknown field "spec.ports[0].targetport", '
                           'unknown field "spec.foo"')


def test_unknown_metadata_and_nested_container_fields():
    obj = deployment()
    obj["metadata"]["app"] = "web"
    obj["spec"]["template"]["spec"]["containers"][0]["foo"] = 1
    assert decode_error(obj, "Deployment", "apps").message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "metadata.app", unknown field "spec.template.spec.containers[0].foo"')


def test_warn_returns_warnings_and_drops_the_fields():
    obj = service()
    obj["spec"]["foo"] = 1
    assert decode(obj, "Service", mode="Warn") == ['unknown field "spec.foo"']
    assert "foo" not in obj["spec"]


def test_ignore_drops_unknown_fields_silently():
    obj = service()
    obj["spec"]["foo"] = 1
    assert decode(obj, "Service", mode="Ignore") == []
    assert "foo" not in obj["spec"]


def test_valid_body_and_free_form_fields_pass():
    obj = deployment()
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "128Mi"}}
    assert decode(obj, "Deployment", "apps") == []


def test_secret_data_must_be_base64():
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("creds"), "data": {"user": "admin"}}
    assert decode_error(obj, "Secret").message == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4')
    assert validation.base64_error("YWRtaW4=") is None
    assert validation.base64_error("abc") == "illegal base64 data at input byte 0"
    assert validation.base64_error("hello world") == "illegal base64 data at input byte 5"


@pytest.mark.parametrize("quantity, message", [
    ("500Mb", "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ("1K", "unable to parse quantity's suffix"),
    ("", "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
])
def test_bad_quantities(quantity, message):
    obj = pod({"name": "app", "image": "nginx", "resources": {"requests": {"memory": quantity}}})
    assert decode_error(obj, "Pod").message == f'Pod in version "v1" cannot be handled as a Pod: {message}'


@pytest.mark.parametrize("quantity", ["128Mi", "0.5", "500m", "1e3", "1G", 2, 0.25])
def test_good_quantities(quantity):
    assert decode(pod({"name": "app", "image": "nginx", "resources": {"limits": {"memory": quantity}}}), "Pod") == []


CRD_SCHEMA = {"io.example.v1.Widget": {
    "type": "object",
    "x-kubernetes-group-version-kind": [{"group": "example.io", "version": "v1", "kind": "Widget"}],
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer"}, "color": {"type": "string", "enum": ["red", "blue"]}}},
    },
}}


def test_custom_resources_get_openapi_schema_errors():
    schemas = upstream()
    schemas.add(CRD_SCHEMA)
    node = schemas.for_kind("example.io", "v1", "Widget")
    obj = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "green"}}
    with pytest.raises(ApiError) as info:
        validation.check_schema(obj, schemas, node, kind="Widget", name="w", group="example.io", mode="Strict")
    assert info.value.code == 422
    assert info.value.message == ('Widget.example.io "w" is invalid: [spec.color: Unsupported value: "green": supported '
                                  'values: "red", "blue", spec.size: Required value]')
    obj["spec"] = {"size": "three"}
    with pytest.raises(ApiError) as info:
        validation.check_schema(obj, schemas, node, kind="Widget", name="w", group="example.io", mode="Strict")
    assert info.value.message == ('Widget.example.io "w" is invalid: spec.size: Invalid value: "string": spec.size in body '
                                  'must be of type integer: "string"')
    obj["spec"] = {"size": 3, "extra": 1}
    assert validation.check_schema(obj, schemas, node, kind="Widget", name="w", group="example.io",
                                   mode="Warn") == ['unknown field "spec.extra"']


# ---------------------------------------------------------------- object metadata


def test_subdomain_name_message_matches_upstream():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("Bad_Name")}
    assert causes("ConfigMap", cm) == [f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}']


def test_whole_message_and_details():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("Bad_Name")}
    with pytest.raises(ApiError) as info:
        validation.validate(rt("", "ConfigMap"), cm, None, SCHEMAS)
    status = info.value.status()
    assert status["message"] == f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ' \
                                f'{SUBDOMAIN_MSG}'
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.name",
                                            "message": f'Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'}]


def test_service_names_are_dns1035_labels():
    svc = service()
    svc["metadata"]["name"] = "1web"
    assert causes("Service", svc) == [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']


def test_namespace_names_are_dns1123_labels():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team.a", None)}
    assert causes("Namespace", ns) == ['metadata.name: Invalid value: "team.a": must not contain dots']
    ns["metadata"]["name"] = "Team"
    assert causes("Namespace", ns) == [f'metadata.name: Invalid value: "Team": {LABEL_MSG}']


def test_name_required_unless_generate_name():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "default"}}
    assert causes("ConfigMap", cm) == ["metadata.name: Required value: name or generateName is required"]


def test_label_key_and_value_messages():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta("c"), "labels": {"bad key": "x", "ok": "-"}}}
    assert causes("ConfigMap", cm) == [
        'metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, \'-\', '
        "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        'metadata.labels: Invalid value: "-": a valid label must be an empty string or consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
        "or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]


def test_annotations_size_limit():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta("c"), "annotations": {"a": "x" * 262144}}}
    assert causes("ConfigMap", cm) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_namespace_and_uid_are_immutable():
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta("c"), "uid": "1"}}
    new = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta("c", "other"), "uid": "2"}}
    assert causes("ConfigMap", new, old) == ['metadata.namespace: Invalid value: "other": field is immutable',
                                             'metadata.uid: Invalid value: "2": field is immutable']


# ---------------------------------------------------------------- Service


def test_valid_services_pass():
    assert causes("Service", service()) == []
    assert causes("Service", service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}])) == []
    assert causes("Service", service(type="LoadBalancer")) == []
    assert causes("Service", service(clusterIP="None")) == []
    assert causes("Service", {"apiVersion": "v1", "kind": "Service", "metadata": meta(),
                              "spec": {"type": "ExternalName", "externalName": "db.example.com."}}) == []


def test_service_port_range():
    # a missing port decodes as 0, and targetPort defaults to it
    assert causes("Service", service(ports=[{"protocol": "TCP"}])) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]
    assert causes("Service", service(ports=[{"port": 70000}])) == [
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]


def test_service_port_names_protocol_and_target_port():
    svc = service(ports=[{"port": 80, "protocol": "HTTP"}, {"port": 81, "targetPort": "web_port"}])
    assert causes("Service", svc) == [
        "spec.ports[0].name: Required value",
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        "spec.ports[1].name: Required value",
        'spec.ports[1].targetPort: Invalid value: "web_port": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
    ]


def test_service_duplicate_port_name_and_port():
    svc = service(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 80}])
    assert causes("Service", svc) == [
        'spec.ports[1].name: Duplicate value: "http"',
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ]


def test_service_type_and_policies():
    assert causes("Service", service(type="Internal")) == [
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']
    assert causes("Service", service(externalTrafficPolicy="Local")) == [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']
    assert causes("Service", service(internalTrafficPolicy="Node")) == [
        'spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"']
    assert causes("Service", service(ports=[{"port": 80, "nodePort": 30080}])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


def test_service_session_affinity_timeout():
    svc = service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}})
    assert causes("Service", svc) == ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: "
                                      "must be greater than 0 and less than 86400"]
    svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = 86400
    assert causes("Service", svc) == []


def test_service_cluster_ip_and_external_name():
    assert causes("Service", service(clusterIP="10.96.0.300")) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)']
    assert causes("Service", service(type="NodePort", clusterIP="None")) == [
        "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]
    ext = {"apiVersion": "v1", "kind": "Service", "metadata": meta(), "spec": {"type": "ExternalName"}}
    assert causes("Service", ext) == ["spec.externalName: Required value"]
    ext["spec"]["externalName"] = "Not_A_Host"
    assert causes("Service", ext) == [f'spec.externalName: Invalid value: "Not_A_Host": {SUBDOMAIN_MSG}']


def test_service_needs_ports_unless_headless():
    svc = service()
    del svc["spec"]["ports"]
    assert causes("Service", svc) == ["spec.ports: Required value"]
    svc["spec"]["clusterIP"] = "None"
    assert causes("Service", svc) == []


def test_service_cluster_ip_is_immutable():
    old = service(clusterIP="10.96.0.10")
    assert causes("Service", service(clusterIP="10.96.0.20"), old) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.20"}: may not change once set']
    assert causes("Service", service(), old) == []  # an omitted clusterIP is carried over


# ---------------------------------------------------------------- Pod


def test_valid_pod_passes():
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    ctr = {"name": "app", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 80}],
           "readinessProbe": probe, "livenessProbe": {"tcpSocket": {"port": 80}}}
    assert causes("Pod", pod(ctr)) == []


def test_pod_needs_containers():
    assert causes("Pod", pod(containers=[])) == ["spec.containers: Required value"]


def test_container_name_and_image_required():
    assert causes("Pod", pod({"ports": [{"containerPort": 80}]})) == [
        "spec.containers[0].name: Required value", "spec.containers[0].image: Required value"]


def test_container_names_are_unique_labels():
    assert causes("Pod", pod({"name": "App", "image": "x"}, {"name": "App", "image": "y"})) == [
        f'spec.containers[0].name: Invalid value: "App": {LABEL_MSG}',
        f'spec.containers[1].name: Invalid value: "App": {LABEL_MSG}',
        'spec.containers[1].name: Duplicate value: "App"']


def test_container_ports():
    ctr = {"name": "app", "image": "nginx", "ports": [
        {"name": "http-web-server-long", "containerPort": 80},
        {"containerPort": 0}, {"containerPort": 65536, "protocol": "ICMP"}]}
    assert causes("Pod", pod(ctr)) == [
        'spec.containers[0].ports[0].name: Invalid value: "http-web-server-long": must be no more than 15 '
        "characters",
        "spec.containers[0].ports[1].containerPort: Required value",
        "spec.containers[0].ports[2].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]


def test_probe_handlers():
    ctr = {"name": "app", "image": "nginx", "readinessProbe": {"periodSeconds": 5},
           "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}, "successThreshold": 2}}
    assert causes("Pod", pod(ctr)) == [
        "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
    ]


def test_duplicate_name_comes_before_probe_errors():
    probe = {"periodSeconds": 5}
    assert causes("Pod", pod({"name": "a", "image": "x"}, {"name": "a", "image": "y", "readinessProbe": probe})) == [
        'spec.containers[1].name: Duplicate value: "a"',
        "spec.containers[1].readinessProbe: Required value: must specify a handler type"]


def test_init_containers():
    init = {"name": "init", "image": "busybox", "readinessProbe": {"exec": {"command": ["true"]}}}
    assert causes("Pod", pod(initContainers=[init])) == [
        "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without "
        "restartPolicy=Always"]
    assert causes("Pod", pod(initContainers=[{**init, "restartPolicy": "Always"}])) == []
    assert causes("Pod", pod(initContainers=[{"name": "app", "image": "x"}])) == [
        'spec.initContainers[0].name: Duplicate value: "app"']


def test_restart_and_dns_policies():
    assert causes("Pod", pod(restartPolicy="Sometimes", dnsPolicy="Google")) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"',
    ]


def test_volume_mount_must_name_a_volume():
    ctr = {"name": "app", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    assert causes("Pod", pod(ctr)) == ['spec.containers[0].volumeMounts[0].name: Not found: "data"']
    assert causes("Pod", pod(ctr, volumes=[{"name": "data", "emptyDir": {}}])) == []


def test_pod_update_allows_only_images():
    old = pod({"name": "app", "image": "nginx:1.26", "ports": [{"containerPort": 80}]})
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.27"
    new["metadata"]["labels"] = {"v": "2"}
    assert causes("Pod", new, old) == []
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 8080
    assert causes("Pod", new, old) == [POD_UPDATE_MSG]
    new["spec"]["containers"].append({"name": "side", "image": "busybox"})
    assert causes("Pod", new, old) == ["spec.containers: Forbidden: pod updates may not add or remove containers"]


# ---------------------------------------------------------------- Deployment, ReplicaSet


def test_valid_deployment_passes():
    assert causes("Deployment", deployment(), group="apps") == []


def test_selector_must_match_template_labels():
    dep = deployment(selector={"matchLabels": {"app": "other"}})
    dep["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert causes("Deployment", dep, group="apps") == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
        "`selector` does not match template `labels`"]


def test_selector_required():
    dep = deployment()
    del dep["spec"]["selector"]
    assert causes("Deployment", dep, group="apps") == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"]


def test_empty_selector_and_expressions():
    assert causes("Deployment", deployment(selector={"matchLabels": {}}), group="apps") == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    exprs = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    assert causes("Deployment", deployment(selector=exprs), group="apps") == []


def test_replicas_strategy_and_template_restart_policy():
    dep = deployment(replicas=-1, strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    dep["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert causes("Deployment", dep, group="apps") == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, '
        'StrVal:""}: may not be 0 when `maxSurge` is 0',
    ]


def test_int_or_percent():
    dep = deployment(strategy={"rollingUpdate": {"maxSurge": "abc", "maxUnavailable": "150%"}})
    assert causes("Deployment", dep, group="apps") == [
        'spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"abc"}: '
        "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', "
        "regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
        'StrVal:"150%"}: must not be greater than 100%',
    ]


def test_deployment_selector_is_immutable():
    new = deployment(selector={"matchLabels": {"app": "web2"}})
    new["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    assert causes("Deployment", new, deployment(), group="apps") == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_replica_set_uses_the_same_rules():
    rs = deployment()
    rs["kind"] = "ReplicaSet"
    rs["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert causes("ReplicaSet", rs, group="apps") == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
        "`selector` does not match template `labels`"]


# ---------------------------------------------------------------- ConfigMap, Secret, Namespace


def test_config_map_keys_and_immutability():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("c"), "data": {"bad key": "v"}}
    assert causes("ConfigMap", cm) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')"]
    old = {**cm, "data": {"k": "1"}, "immutable": True}
    assert causes("ConfigMap", {**old, "data": {"k": "2"}}, old) == [
        "data: Forbidden: field is immutable when `immutable` is set"]
    assert causes("ConfigMap", {**old, "immutable": False}, old) == [
        "immutable: Forbidden: field is immutable when `immutable` is set"]


def test_tls_secret_needs_cert_and_key():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("tls"), "type": "kubernetes.io/tls",
              "data": {"tls.crt": "Y2VydA=="}}
    assert causes("Secret", secret) == ["data[tls.key]: Required value"]
    secret["stringData"] = {"tls.key": "key"}
    assert causes("Secret", secret) == []


def test_secret_type_and_data_immutability():
    old = {"apiVersion": "v1", "kind": "Secret", "metadata": meta("s"), "data": {"a": "YQ=="}, "immutable": True}
    new = {**old, "type": "kubernetes.io/basic-auth", "data": {"username": "YQ=="}}
    assert causes("Secret", new, old) == ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable',
                                          "data: Forbidden: field is immutable when `immutable` is set"]


def test_namespace_finalizers():
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team", None), "spec": {"finalizers": ["x"]}}
    assert causes("Namespace", ns) == [
        'spec.finalizers: Invalid value: "x": name is neither a standard finalizer name nor is it fully qualified']
    assert causes("Namespace", {**ns, "spec": {}}) == []


# ---------------------------------------------------------------- networking


def ingress(*paths: dict, host: str = "web.example.com", **spec) -> dict:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    paths = paths or ({"path": "/", "pathType": "Prefix", "backend": backend},)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(),
            "spec": {"rules": [{"host": host, "http": {"paths": list(paths)}}], **spec}}


def test_valid_ingress_passes():
    assert causes("Ingress", ingress(host="*.example.com"), group="networking.k8s.io") == []


def test_ingress_path_rules():
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    ing = ingress({"path": "/", "backend": backend}, {"path": "api", "pathType": "Prefix", "backend": backend},
                  {"path": "/x", "pathType": "Regex", "backend": backend})
    assert causes("Ingress", ing, group="networking.k8s.io") == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
        'spec.rules[0].http.paths[1].path: Invalid value: "api": must be an absolute path',
        'spec.rules[0].http.paths[2].pathType: Unsupported value: "Regex": supported values: "Exact", '
        '"ImplementationSpecific", "Prefix"',
    ]


def test_ingress_hosts():
    assert causes("Ingress", ingress(host="*.*.example.com"), group="networking.k8s.io") == [
        'spec.rules[0].host: Invalid value: "*.*.example.com": a wildcard DNS-1123 subdomain must start with '
        "'*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' "
        "or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is "
        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]
    assert causes("Ingress", ingress(host="10.0.0.1"), group="networking.k8s.io") == [
        'spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address']


def test_ingress_backends():
    both = {"service": {"name": "web", "port": {"number": 80}}, "resource": {"kind": "Bucket", "name": "b"}}
    no_port = {"service": {"name": "web", "port": {}}}
    two_ports = {"service": {"name": "web", "port": {"number": 80, "name": "http"}}}
    ing = ingress(*({"path": "/", "pathType": "Prefix", "backend": b} for b in (both, no_port, two_ports, {})))
    assert causes("Ingress", ing, group="networking.k8s.io") == [
        'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends',
        "spec.rules[0].http.paths[1].backend: Required value: port name or number is required",
        'spec.rules[0].http.paths[2].backend: Invalid value: "": cannot set both port name & port number',
        'spec.rules[0].http.paths[3].backend: Invalid value: "": resource or service backend is required',
    ]


def test_ingress_needs_rules_or_default_backend():
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(), "spec": {}}
    assert causes("Ingress", ing, group="networking.k8s.io") == [
        "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"]


def test_ingress_class_controller():
    ic = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": meta("nginx", None),
          "spec": {"controller": "nginx"}}
    assert causes("IngressClass", ic, group="networking.k8s.io") == [
        'spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")']
    ic["spec"]["controller"] = "k8s.io/ingress-nginx"
    assert causes("IngressClass", ic, group="networking.k8s.io") == []


def netpol(**spec) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("np"),
            "spec": {"podSelector": {}, **spec}}


def test_valid_network_policy_passes():
    np = netpol(ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                                   {"podSelector": {"matchLabels": {"app": "web"}}}],
                          "ports": [{"port": 8000, "endPort": 8080}]}])
    assert causes("NetworkPolicy", np, group="networking.k8s.io") == []


def test_network_policy_ports():
    np = netpol(ingress=[{"ports": [{"port": "http", "endPort": 90}, {"port": 90, "endPort": 80},
                                    {"endPort": 80}, {"protocol": "ICMP"}]}])
    assert causes("NetworkPolicy", np, group="networking.k8s.io") == [
        "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
        "spec.ingress[0].ports[1].endPort: Invalid value: 80: must be greater than or equal to `port`",
        "spec.ingress[0].ports[2].endPort: Invalid value: 80: may not be specified when `port` is not specified",
        'spec.ingress[0].ports[3].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
    ]


def test_network_policy_peers_and_types():
    np = netpol(policyTypes=["Ingress", "Outbound"], egress=[{"to": [
        {}, {"ipBlock": {"cidr": "10.0.0.0/33"}},
        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}, "podSelector": {}}]}])
    assert causes("NetworkPolicy", np, group="networking.k8s.io") == [
        "spec.egress[0].to[0]: Required value: must specify a peer",
        'spec.egress[0].to[1].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
        "(e.g. 10.9.8.0/24 or 2001:db8::/64)",
        'spec.egress[0].to[2].ipBlock.except[0]: Invalid value: "192.168.0.0/24": must be a strict subset of '
        "`cidr`",
        "spec.egress[0].to[2]: Forbidden: may not specify both ipBlock and another peer",
        'spec.policyTypes[1]: Unsupported value: "Outbound": supported values: "Ingress", "Egress"',
    ]


def test_endpoint_slice():
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta("web-abc"),
           "addressType": "IP", "endpoints": [{"addresses": []}], "ports": [{"port": 80}, {"port": 81}]}
    assert causes("EndpointSlice", eps, group="discovery.k8s.io") == [
        'addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"',
        "endpoints[0].addresses: Required value: must contain at least 1 address",
        'ports[1].name: Duplicate value: ""',
    ]
    ok = {**eps, "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"]}], "ports": [{"port": 80}]}
    assert causes("EndpointSlice", ok, group="discovery.k8s.io") == []
    assert causes("EndpointSlice", {**ok, "addressType": "IPv6"}, ok, group="discovery.k8s.io") == [
        'endpoints[0].addresses[0]: Invalid value: "10.244.1.5": must be a valid IPv6 address',
        'addressType: Invalid value: "IPv6": field is immutable']


def test_validators_table_is_keyed_by_group_and_kind():
    for r in REGISTRY.types:
        if r.kind in ("Node", "ServiceAccount", "Event") or "create" not in r.verbs or r.verbs == ("create",):
            continue
        if r.group == "apiextensions.k8s.io":  # CRDs: crdvalidation.py, through the CRD service (crds.py)
            continue
        if r.group == "certificates.k8s.io":  # per subresource: sandbox/certificates/validation.py, via strategies
            assert strategies.kind_validator(r, "approval") is not None
            continue
        assert (r.group, r.kind) in validation.VALIDATORS


def test_several_causes_are_bracketed():
    with pytest.raises(ApiError) as info:
        validation.validate(rt("", "Service"), service(ports=[{"port": 0, "protocol": "TCP", "targetPort": 80}],
                                                       type="ClusterIP", sessionAffinity="None",
                                                       internalTrafficPolicy="Cluster"), None, SCHEMAS)
    assert info.value.message == 'Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be ' \
                                 'between 1 and 65535, inclusive'
    with pytest.raises(ApiError) as info:
        validation.validate(rt("", "Service"), service(ports=[{"port": 0}]), None, SCHEMAS)
    assert info.value.message.startswith('Service "web" is invalid: [spec.ports[0].port: Invalid value: 0: ')
    assert info.value.message.endswith("spec.sessionAffinity: Required value, spec.type: Required value]")
