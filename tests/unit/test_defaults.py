"""Defaulting compared with what a v1.33 cluster stores.

Expected values follow pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
pkg/apis/networking/v1/defaults.go and pkg/apis/discovery/v1/defaults.go, plus the
create-time mutations visible in ``kubectl get -o yaml`` (ServiceAccount, Priority
and DefaultTolerationSeconds admission; the namespace and service registries).
"""

from __future__ import annotations

import copy

import pytest

from k8snet.sandbox import defaults
from k8snet.sandbox.registry import builtin

REGISTRY = builtin()


def defaulted(group: str, kind: str, obj: dict) -> dict:
    rt = REGISTRY.by_kind(group, kind)
    assert rt is not None
    obj = copy.deepcopy(obj)
    defaults.apply_defaults(rt, obj)
    again = copy.deepcopy(obj)
    defaults.apply_defaults(rt, again)
    assert again == obj, "defaulting must be idempotent"
    return obj


CONTAINER_DEFAULTS = {"imagePullPolicy": "IfNotPresent", "resources": {},
                      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
TEMPLATE_SPEC_DEFAULTS = {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                          "securityContext": {}, "terminationGracePeriodSeconds": 30}
TOLERATIONS = [
    {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
    {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
]


def test_pod_matches_a_real_pod_spec():
    pod = {"metadata": {"name": "web"}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}
    assert defaulted("", "Pod", pod)["spec"] == {
        "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        **CONTAINER_DEFAULTS}],
        **TEMPLATE_SPEC_DEFAULTS,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "tolerations": TOLERATIONS,
    }


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.k8s.io/pause:3.10", "IfNotPresent"),
    ("localhost:5000/app", "Always"),
    ("localhost:5000/app:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "Always"),
])
def test_image_pull_policy_follows_the_tag(image, policy):
    pod = {"spec": {"containers": [{"name": "c", "image": image}]}}
    assert defaulted("", "Pod", pod)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_values_are_kept():
    pod = {"spec": {"restartPolicy": "Never", "serviceAccountName": "robot", "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}],
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                     "effect": "NoExecute", "tolerationSeconds": 5}]}}
    spec = defaulted("", "Pod", pod)["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "robot"
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["containers"][0]["imagePullPolicy"] == "Never"
    assert spec["tolerations"] == [pod["spec"]["tolerations"][0], TOLERATIONS[1]]


def test_probe_and_http_get_defaults():
    ctr = {"name": "c", "image": "nginx", "readinessProbe": {"httpGet": {"port": 80}},
           "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
           "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}}}
    out = defaulted("", "Pod", {"spec": {"containers": [ctr]}})["spec"]["containers"][0]
    assert out["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                     "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert out["livenessProbe"]["periodSeconds"] == 5
    assert out["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}


def test_pod_only_defaults():
    ctr = {"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80}],
           "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}
    spec = defaulted("", "Pod", {"spec": {"hostNetwork": True, "containers": [ctr]}})["spec"]
    out = spec["containers"][0]
    assert out["resources"] == {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}
    assert out["ports"] == [{"containerPort": 80, "hostPort": 80, "protocol": "TCP"}]
    assert out["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}


def test_volume_defaults():
    vols = [{"name": "a"}, {"name": "b", "configMap": {"name": "cfg"}}, {"name": "c", "secret": {"secretName": "s"}},
            {"name": "d", "hostPath": {"path": "/tmp"}}]
    out = defaulted("", "Pod", {"spec": {"containers": [{"name": "c", "image": "x"}], "volumes": vols}})
    assert out["spec"]["volumes"] == [
        {"name": "a", "emptyDir": {}},
        {"name": "b", "configMap": {"name": "cfg", "defaultMode": 420}},
        {"name": "c", "secret": {"secretName": "s", "defaultMode": 420}},
        {"name": "d", "hostPath": {"path": "/tmp", "type": ""}},
    ]


def test_cluster_ip_service():
    svc = {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    assert defaulted("", "Service", svc)["spec"] == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }


def test_named_target_port_is_kept():
    svc = {"spec": {"ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}]}}
    assert defaulted("", "Service", svc)["spec"]["ports"] == [{"port": 80, "targetPort": "http", "protocol": "UDP"}]


def test_node_port_and_load_balancer_services():
    spec = defaulted("", "Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster" and "allocateLoadBalancerNodePorts" not in spec
    spec = defaulted("", "Service", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster" and spec["allocateLoadBalancerNodePorts"] is True


def test_external_name_service_gets_no_ip_fields():
    spec = defaulted("", "Service", {"spec": {"type": "ExternalName", "externalName": "db.example.com"}})["spec"]
    assert spec == {"type": "ExternalName", "externalName": "db.example.com", "sessionAffinity": "None"}


def test_headless_services():
    spec = defaulted("", "Service", {"spec": {"clusterIP": "None", "selector": {"app": "db"}}})["spec"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    spec = defaulted("", "Service", {"spec": {"clusterIP": "None"}})["spec"]
    assert spec["ipFamilyPolicy"] == "RequireDualStack" and spec["ipFamilies"] == ["IPv4"]


def test_client_ip_affinity_gets_three_hour_timeout():
    spec = defaulted("", "Service", {"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}})["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    spec = defaulted("", "Service", {"spec": {"sessionAffinityConfig": {"clientIP": {}}}})["spec"]
    assert "sessionAffinityConfig" not in spec


def test_deployment():
    dep = {"spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    assert defaulted("apps", "Deployment", dep)["spec"] == {
        "replicas": 1,
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        # kubectl get -o yaml on a 1.33 cluster shows the template's zero creationTimestamp as null
        "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27", **CONTAINER_DEFAULTS}],
                              **TEMPLATE_SPEC_DEFAULTS}},
    }


def test_deployment_recreate_and_explicit_values():
    spec = defaulted("apps", "Deployment", {"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}})["spec"]
    assert spec["replicas"] == 0 and spec["strategy"] == {"type": "Recreate"}
    spec = defaulted("apps", "Deployment", {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}})["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}


def test_replica_set():
    spec = defaulted("apps", "ReplicaSet", {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "nginx"}]}}}})["spec"]
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert "enableServiceLinks" not in spec["template"]["spec"]  # Pod-only default


def test_namespace():
    assert defaulted("", "Namespace", {"metadata": {"name": "team-a"}}) == {
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def test_secret_type_and_string_data():
    out = defaulted("", "Secret", {"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "hello"}})
    assert out == {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ==", "b": "aGVsbG8="}}


def test_config_map_and_ingress_have_no_visible_defaults():
    cm = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    assert defaulted("", "ConfigMap", cm) == cm
    ing = {"spec": {"rules": [{"http": {"paths": [{"path": "/", "backend": {}}]}}]}}
    assert defaulted("networking.k8s.io", "Ingress", ing) == ing


def test_network_policy_types_and_port_protocol():
    assert defaulted("networking.k8s.io", "NetworkPolicy", {"spec": {"podSelector": {}}})["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress"]}
    spec = defaulted("networking.k8s.io", "NetworkPolicy", {"spec": {
        "podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{"ports": [{"port": 53,
                                                                                          "protocol": "UDP"}]}]}})
    assert spec["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert spec["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert spec["spec"]["egress"][0]["ports"] == [{"port": 53, "protocol": "UDP"}]
    spec = defaulted("networking.k8s.io", "NetworkPolicy", {"spec": {"policyTypes": ["Egress"]}})
    assert spec["spec"]["policyTypes"] == ["Egress"]


def test_endpoint_slice_ports():
    eps = defaulted("discovery.k8s.io", "EndpointSlice", {"addressType": "IPv4", "ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


def test_ingress_class_parameters_scope():
    ic = defaulted("networking.k8s.io", "IngressClass", {"spec": {"controller": "k8s.io/ingress-nginx",
                                                                   "parameters": {"kind": "Cfg", "name": "x"}}})
    assert ic["spec"]["parameters"]["scope"] == "Cluster"


def test_every_lesson_kind_is_covered_or_deliberately_empty():
    covered = set(defaults.DEFAULTERS) | {("", "ConfigMap"), ("networking.k8s.io", "Ingress"),
                                          ("rbac.authorization.k8s.io", "Role"),
                                          ("rbac.authorization.k8s.io", "ClusterRole")}
    for rt in REGISTRY.types:
        if rt.kind in ("Node", "ServiceAccount", "Event", "Lease", "ControllerRevision"):  # no API defaults to apply
            continue
        if rt.kind == "CertificateSigningRequest":  # pkg/apis/certificates/v1 registers no defaulting functions
            continue
        if "create" not in rt.verbs or rt.verbs == ("create",):  # read-only, or reviews never stored
            continue
        assert (rt.group, rt.kind) in covered
