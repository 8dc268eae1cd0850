"""The Multi-Cluster Services API in one Cilium sandbox, through kubectl and the kubernetes client: the
multicluster.x-k8s.io CRDs of mcs-api v0.5.0 (served versions, short names, printer columns, schema validation),
and what Cilium's operator (pkg/clustermesh/mcsapi) does inside one cluster once MCS-API is enabled: the
ServiceExport's conditions, the ServiceImport merged from the local export, the derived Service and the mirrored
EndpointSlices. The cases of sigs.k8s.io/mcs-api's conformance suite (conformance/service_import.go,
endpoint_slice.go, at v0.5.0) that one cluster can show are re-expressed here, each naming its upstream spec.
One sandbox for the module."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from tests.conftest import private_sandbox, wait_for

NS = "mcs"
CLUSTER = "east"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
SERVICE_NAME = "multicluster.kubernetes.io/service-name"
SOURCE_CLUSTER = "multicluster.kubernetes.io/source-cluster"


def hello(name: str, headless: bool = False, extra: str = "") -> str:
    """conformance/k8s_objects.go: the hello Deployment and Service (agnhost serving on 8080 behind port 42)."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=8080]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NS}, labels: {{not-exported: "true"}}}}
spec:
  selector: {{app: {name}}}
  {"clusterIP: None" if headless else ""}
  ports: [{{name: tcp, port: 42, targetPort: 8080, protocol: TCP}}]
  {extra}
"""


def export(name: str, spec: str = "") -> str:
    return f"""---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {{name: {name}, namespace: {NS}}}
{spec}
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("mcs-api"), cni="cilium") as env:
        # helm upgrade --set clustermesh.mcsapi.enabled=true --set cluster.name=east renders these two keys
        env.kubectl("-n", "kube-system", "patch", "configmap", "cilium-config", "--type", "merge", "-p",
                    json.dumps({"data": {"clustermesh-enable-mcs-api": "true", "cluster-name": CLUSTER}}))
        env.kubectl("create", "namespace", NS)
        yield env


def get(box, kind: str, name: str) -> dict | None:
    proc = box.kubectl("-n", NS, "get", kind, name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def condition(box, name: str, ctype: str) -> dict | None:
    svcex = get(box, "serviceexport", name) or {}
    return next((c for c in (svcex.get("status") or {}).get("conditions") or [] if c["type"] == ctype), None)


def await_condition(box, name: str, ctype: str, status: str) -> dict:
    return wait_for(lambda: (c := condition(box, name, ctype)) and c["status"] == status and c,
                    what=f"ServiceExport {name} {ctype}={status}")


def await_import(box, name: str, ips: bool = True) -> dict:
    """conformance/framework.go awaitServiceImport (withIPs: the ServiceImport has its clusterset IPs)."""
    return wait_for(lambda: (si := get(box, "serviceimport", name)) and (not ips or si["spec"].get("ips")) and si,
                    what=f"ServiceImport {name}")


def await_no_import(box, name: str) -> None:
    wait_for(lambda: get(box, "serviceimport", name) is None, what=f"ServiceImport {name} deleted")


# -- the CRDs ------------------------------------------------------------------------------------------------------

def test_crds_are_mcs_api_v0_5_0s_with_v1beta1_stored_and_v1alpha1_served(box):
    out = box.kubectl("api-resources", "--api-group=multicluster.x-k8s.io", "--no-headers").stdout
    rows = sorted(line.split() for line in out.splitlines())
    assert rows == [["serviceexports", "svcex,svcexport", "multicluster.x-k8s.io/v1beta1", "true", "ServiceExport"],
                    ["serviceimports", "svcim,svcimport", "multicluster.x-k8s.io/v1beta1", "true", "ServiceImport"]]
    for plural in ("serviceexports", "serviceimports"):
        crd = box.kubectl_json("get", "crd", f"{plural}.multicluster.x-k8s.io")
        assert [(v["name"], v["served"], v["storage"]) for v in crd["spec"]["versions"]] == [
            ("v1alpha1", True, False), ("v1beta1", True, True)]
        assert crd["metadata"]["labels"]["multicluster.x-k8s.io/release-version"] == "v0.5.0"
    # an object written as v1alpha1 reads as v1beta1 (no conversion webhook: the same stored object)
    box.kubectl("apply", "-f", "-", input=export("crd-probe"))
    assert box.kubectl_json("-n", NS, "get", "serviceexports.v1beta1.multicluster.x-k8s.io", "crd-probe")[
        "apiVersion"] == "multicluster.x-k8s.io/v1beta1"
    assert box.kubectl("-n", NS, "get", "svcex").stdout.split("\n")[0].split() == ["NAME", "AGE"]
    box.kubectl("-n", NS, "delete", "svcex", "crd-probe")


def test_invalid_service_import_is_422_naming_the_fields(box):
    api = client.CustomObjectsApi(box.api_client())
    body = {"apiVersion": "multicluster.x-k8s.io/v1beta1", "kind": "ServiceImport", "metadata": {"name": "bad"},
            "spec": {"type": "Foo", "ips": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}}
    with pytest.raises(ApiException) as raised:
        api.create_namespaced_custom_object("multicluster.x-k8s.io", "v1beta1", NS, "serviceimports", body)
    assert raised.value.status == 422
    status = json.loads(raised.value.body)
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "ServiceImport"
    causes = {(c["field"], c["reason"]) for c in status["details"]["causes"]}
    assert causes == {("spec.ports", "FieldValueRequired"), ("spec.type", "FieldValueNotSupported"),
                      ("spec.ips", "FieldValueTooMany")}
    assert 'spec.type: Unsupported value: "Foo": supported values: "ClusterSetIP", "Headless"' in status["message"]
    box.kubectl("apply", "-f", "-", input=export("bad-status"))
    bad = {"status": {"conditions": [{"type": "Valid", "status": "Maybe", "reason": "not camel", "message": "",
                                      "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    with pytest.raises(ApiException) as raised:
        api.patch_namespaced_custom_object_status("multicluster.x-k8s.io", "v1alpha1", NS, "serviceexports",
                                                  "bad-status", bad)
    assert raised.value.status == 422
    causes = {(c["field"], c["reason"]) for c in json.loads(raised.value.body)["details"]["causes"]}
    assert causes == {("status.conditions[0].status", "FieldValueNotSupported"),
                      ("status.conditions[0].reason", "FieldValueInvalid")}
    box.kubectl("-n", NS, "delete", "svcex", "bad-status")


# -- ServiceExport conditions (the local checks) ---------------------------------------------------------------------

def test_export_of_a_missing_service_is_not_valid_until_the_service_appears(box):
    box.kubectl("apply", "-f", "-", input=export("late"))
    valid = await_condition(box, "late", "Valid", "False")
    assert (valid["reason"], valid["message"]) == ("NoService", "Service doesn't exist")
    ready = condition(box, "late", "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "Pending", "ServiceExport is not valid")
    assert condition(box, "late", "Conflict") is None and get(box, "serviceimport", "late") is None
    box.kubectl("apply", "-f", "-", input=hello("late"))
    valid = await_condition(box, "late", "Valid", "True")
    assert (valid["reason"], valid["message"]) == ("Valid", "ServiceExport is valid")
    assert condition(box, "late", "Ready")["reason"] == "Ready"
    conflict = condition(box, "late", "Conflict")
    assert (conflict["status"], conflict["reason"], conflict["message"]) == (
        "False", "NoConflicts", "ServiceExport has no conflicts")
    box.kubectl("-n", NS, "delete", "service", "late")
    assert await_condition(box, "late", "Valid", "False")["reason"] == "NoService"
    assert condition(box, "late", "Conflict") is None  # setInvalidStatus removes it
    box.kubectl("-n", NS, "delete", "svcex,deploy", "late")
    await_no_import(box, "late")


def test_exporting_an_externalname_service_sets_valid_false(box):
    """conformance/service_import.go testExternalNameService: "Exporting an ExternalName service should set
    ServiceExport Valid condition to False" (and no ServiceImport exists)."""
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: v1
kind: Service
metadata: {{name: external, namespace: {NS}}}
spec: {{type: ExternalName, externalName: example.com}}
""" + export("external"))
    valid = await_condition(box, "external", "Valid", "False")
    assert (valid["reason"], valid["message"]) == ("InvalidServiceType", "Service type ExternalName is not supported")
    assert get(box, "serviceimport", "external") is None
    box.kubectl("-n", NS, "delete", "svcex,svc", "external")


# -- ServiceImport, derived Service, EndpointSlices --------------------------------------------------------------------

def test_exporting_a_clusterip_service_creates_a_clustersetip_import_and_unexporting_deletes_it(box):
    """conformance/service_import.go testClusterIPServiceImport: "Exporting a ClusterIP service should create a
    ServiceImport of type ClusterSetIP in the service's namespace in each cluster. Unexporting should delete the
    ServiceImport", "An IP should be allocated for a ClusterSetIP ServiceImport for each IP family", "The ports for a
    ClusterSetIP ServiceImport should match those of the exported service" and "The SessionAffinity for a
    ClusterSetIP ServiceImport should match the exported service's SessionAffinity"."""
    box.kubectl("apply", "-f", "-", input=hello("web", extra="sessionAffinity: ClientIP") + export("web"))
    await_condition(box, "web", "Valid", "True")
    si = await_import(box, "web")
    spec = si["spec"]
    assert spec["type"] == "ClusterSetIP" and spec["ports"] == [{"name": "tcp", "port": 42, "protocol": "TCP"}]
    assert spec["ipFamilies"] == ["IPv4"] and len(spec["ips"]) == 1
    assert (spec["sessionAffinity"], spec["sessionAffinityConfig"]) == ("ClientIP", {"clientIP": {"timeoutSeconds":
                                                                                                   10800}})
    assert si["status"]["clusters"] == [{"cluster": CLUSTER}]
    ready = wait_for(lambda: next((c for c in get(box, "svcim", "web")["status"]["conditions"]
                                   if c["type"] == "Ready" and c["status"] == "True"), None), what="import Ready")
    assert (ready["reason"], ready["message"]) == ("Ready", "ServiceImport is ready")
    # the derived Service: derived-<base32hex sha256 of "mcs/web">, owned by the import, its ClusterIP is the import's
    derived = si["metadata"]["annotations"]["multicluster.kubernetes.io/derived-service"]
    assert derived.startswith("derived-") and len(derived) == len("derived-") + 10
    svc = get(box, "service", derived)
    assert svc["spec"]["clusterIP"] == spec["ips"][0] and "selector" not in svc["spec"]
    assert svc["spec"]["ports"] == [{"name": "tcp", "port": 42, "protocol": "TCP", "targetPort": 42}]
    assert svc["metadata"]["annotations"]["service.cilium.io/global"] == "true"
    assert svc["metadata"]["labels"][SERVICE_NAME] == "web"
    owner = svc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "ServiceImport", "web", si["metadata"]["uid"], True)
    line = box.kubectl("-n", NS, "get", "svcim", "web", "--no-headers").stdout.split()
    assert line[:3] == ["web", "ClusterSetIP", f'["{spec["ips"][0]}"]']
    box.kubectl("-n", NS, "delete", "svcex", "web")
    await_no_import(box, "web")
    wait_for(lambda: get(box, "service", derived) is None, what="the derived Service collected")
    assert get(box, "service", "web") is not None  # the exported Service itself stays
    box.kubectl("-n", NS, "delete", "svc,deploy", "web")


def test_exporting_a_headless_service_creates_a_headless_import_without_ips(box):
    """conformance/service_import.go testHeadlessServiceImport: "Exporting a headless service should create a
    ServiceImport of type Headless in the service's namespace in each cluster. Unexporting should delete the
    ServiceImport" and "No clusterset IP should be allocated for a Headless ServiceImport"."""
    box.kubectl("apply", "-f", "-", input=hello("db", headless=True) + export("db"))
    si = wait_for(lambda: (s := get(box, "svcim", "db")) and "multicluster.kubernetes.io/derived-service" in
                  s["metadata"].get("annotations", {}) and s, what="headless import with its derived Service")
    assert si["spec"]["type"] == "Headless" and "ips" not in si["spec"]
    derived = get(box, "service", si["metadata"]["annotations"]["multicluster.kubernetes.io/derived-service"])
    assert derived["spec"]["clusterIP"] == "None"
    box.kubectl("-n", NS, "delete", "svcex", "db")
    await_no_import(box, "db")
    box.kubectl("-n", NS, "delete", "svc,deploy", "db")


def test_endpointslices_of_an_exported_service_carry_the_mcs_labels(box):
    """conformance/endpoint_slice.go: "Exporting a service should create an MCS EndpointSlice in the service's
    namespace in each cluster with the required MCS labels" (multicluster.kubernetes.io/service-name and
    source-cluster), as Cilium's EndpointSlice mirror makes them from the local slices."""
    box.kubectl("apply", "-f", "-", input=hello("api") + export("api"))
    si = await_import(box, "api")
    derived = si["metadata"]["annotations"]["multicluster.kubernetes.io/derived-service"]
    pods = wait_for(lambda: sorted(p["status"]["podIP"] for p in box.kubectl_json(
        "-n", NS, "get", "pods", "-l", "app=api")["items"] if p["status"].get("podIP")), what="api pods' IPs")

    def mcs_slice():
        items = box.kubectl_json("-n", NS, "get", "endpointslices", "-l", f"{SERVICE_NAME}=api")["items"]
        return items and len(items[0].get("endpoints") or []) == 2 and items[0]
    eps = wait_for(mcs_slice, what="the MCS EndpointSlice with both pods")
    labels = eps["metadata"]["labels"]
    assert labels[SOURCE_CLUSTER] == CLUSTER and labels["kubernetes.io/service-name"] == derived
    assert labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-local-mcsapi-controller.cilium.io"
    local = labels["service.cilium.io/local-endpointslice"]
    assert local.startswith("api-") and eps["metadata"]["name"] == f"{derived}-{local.removeprefix('api-')}"
    assert sorted(e["addresses"][0] for e in eps["endpoints"]) == pods and eps["addressType"] == "IPv4"
    assert eps["ports"] == [{"name": "tcp", "port": 8080, "protocol": "TCP"}]
    box.kubectl("-n", NS, "delete", "svcex", "api")
    wait_for(lambda: not box.kubectl_json("-n", NS, "get", "endpointslices", "-l", f"{SERVICE_NAME}=api")["items"],
             what="the mirror gone with the export")
    box.kubectl("-n", NS, "delete", "svc,deploy", "api")


def test_only_exported_labels_and_annotations_reach_the_import(box):
    """conformance/service_import.go testGeneralServiceImport: "Only labels and annotations specified as exported in
    the ServiceExport should be propagated to the ServiceImport"; the derived Service carries them too."""
    box.kubectl("apply", "-f", "-", input=hello("labelled") + export("labelled", """spec:
  exportedLabels: {dummy-label: "true"}
  exportedAnnotations: {dummy-annotation: "true"}"""))
    si = await_import(box, "labelled")
    assert si["metadata"]["labels"] == {"dummy-label": "true"}
    assert si["metadata"]["annotations"]["dummy-annotation"] == "true"
    assert "not-exported" not in si["metadata"]["labels"]
    derived = get(box, "service", si["metadata"]["annotations"]["multicluster.kubernetes.io/derived-service"])
    assert derived["metadata"]["labels"]["dummy-label"] == "true"
    box.kubectl("-n", NS, "delete", "svcex,svc,deploy", "labelled")


def test_internal_traffic_policy_and_traffic_distribution_match_the_exported_service(box):
    """conformance/service_import.go testClusterIPServiceImport: "The InternalTrafficPolicy for a ClusterSetIP
    ServiceImport should match the exported service's InternalTrafficPolicy" and "The TrafficDistribution ... should
    match the exported service's TrafficDistribution"."""
    box.kubectl("apply", "-f", "-", input=hello("close", extra="trafficDistribution: PreferClose") + export("close"))
    spec = await_import(box, "close")["spec"]
    assert (spec["internalTrafficPolicy"], spec["trafficDistribution"]) == ("Cluster", "PreferClose")
    box.kubectl("-n", NS, "delete", "svcex,svc,deploy", "close")


def test_a_service_import_no_cluster_exports_is_deleted(box):
    """conformance/service_import.go "A ServiceImport should only exist as long as there's at least one exporting
    cluster", in one cluster: Cilium's ServiceImport reconciler deletes an import that neither this cluster nor a
    peer exports (a hand-made one too)."""
    box.kubectl("apply", "-f", "-", input=f"""
apiVersion: multicluster.x-k8s.io/v1beta1
kind: ServiceImport
metadata: {{name: orphan, namespace: {NS}}}
spec: {{type: ClusterSetIP, ports: [{{port: 80, protocol: TCP}}]}}
""")
    await_no_import(box, "orphan")


def test_a_namespace_that_is_not_global_exports_nothing(box):
    """Cilium's global namespaces (pkg/clustermesh/namespace): annotated clustermesh.cilium.io/global=false, a
    namespace's exports are invalid (NamespaceNotGlobal)."""
    box.kubectl("create", "namespace", "private")
    box.kubectl("annotate", "namespace", "private", "clustermesh.cilium.io/global=false")
    box.kubectl("apply", "-f", "-", input=hello("web").replace(f"namespace: {NS}", "namespace: private")
                + export("web").replace(f"namespace: {NS}", "namespace: private"))

    def invalid():
        svcex = json.loads(box.kubectl("-n", "private", "get", "svcex", "web", "-o", "json").stdout)
        return next((c for c in (svcex.get("status") or {}).get("conditions") or []
                     if c["type"] == "Valid" and c["status"] == "False"), None)
    valid = wait_for(invalid, what="Valid False")
    assert (valid["reason"], valid["message"]) == ("NamespaceNotGlobal",
                                                   "Namespace is not global, Service cannot be exported")
    assert box.kubectl("-n", "private", "get", "svcim", "web", check=False).returncode == 1
    box.kubectl("delete", "namespace", "private", "--wait=false")
