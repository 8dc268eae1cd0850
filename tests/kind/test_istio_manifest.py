"""Istio's manifest (kind/manifests/istio-ambient.yaml), the one ``k8snet mesh install istio`` applies on both
backends: checked without Docker against the charts' values and what the sandbox serves and emulates, and, on a
real kind cluster (``make test-kind``), installed and used as in the sandbox."""

from __future__ import annotations

import json

import pytest
import yaml

from k8snet import pins
from k8snet.kind import addons, versions
from k8snet.mesh.install import check_mesh, daemonset_rolled_out, deployment_available
from k8snet.sandbox import registry
from k8snet.sandbox.controllers.istio import names
from k8snet.sandbox.dataplane import workloads

from .conftest import assert_strict

HELM_LABELS = {"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/part-of": "istio",
               "app.kubernetes.io/version": versions.ISTIO_VERSION}
CHARTS = {"istio-base": "base", "istiod": "istiod", "istio-cni": "cni", "ztunnel": "ztunnel"}


def objects() -> list[dict]:
    return addons.istio_objects()


def by(kind: str, name: str) -> dict:
    [found] = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_the_manifest_holds_the_four_charts_in_install_order():
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects()]
    assert kinds[0] == ("Namespace", "istio-system")
    crds = [name for kind, name in kinds if kind == "CustomResourceDefinition"]
    assert len(crds) == 15 and all(name.endswith(".istio.io") for name in crds)
    assert {"peerauthentications.security.istio.io", "authorizationpolicies.security.istio.io"} <= set(crds)
    assert [k for k in kinds if k[0] in ("Deployment", "DaemonSet", "Service")] == [
        ("Service", "istiod"), ("Deployment", "istiod"), ("DaemonSet", "istio-cni-node"), ("DaemonSet", "ztunnel")]
    for obj in objects()[1:]:
        labels = obj["metadata"]["labels"]
        assert HELM_LABELS.items() <= labels.items(), obj["metadata"]["name"]
        assert labels["helm.sh/chart"] == f"{CHARTS[labels['app.kubernetes.io/instance']]}-{versions.ISTIO_VERSION}"
    left_out = {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "HorizontalPodAutoscaler",
                "PodDisruptionBudget"}
    assert not left_out & {k for k, _ in kinds}
    assert ("ConfigMap", "istio-sidecar-injector") in kinds  # its waypoint template is what istiod deploys from


def test_every_kind_of_the_manifest_is_served_by_the_sandbox():
    served = {(rt.group, rt.version, rt.kind) for rt in registry.builtin().types}
    for obj in objects():
        group, _, version = obj["apiVersion"].rpartition("/")
        assert (group, version, obj["kind"]) in served, obj["kind"]


def test_every_builtin_object_decodes_strictly_against_its_1_33_schema():
    for obj in objects():
        assert_strict(obj)


def test_the_images_are_the_pinned_release_and_the_sandbox_emulates_each():
    images = {c["image"] for o in objects() if o["kind"] in ("Deployment", "DaemonSet")
              for c in o["spec"]["template"]["spec"]["containers"]}
    assert images == {pins.istio_image("pilot"), pins.istio_image("install-cni"), pins.istio_image("ztunnel")}
    assert set(versions.ISTIO_IMAGES) == images | {pins.istio_image("proxyv2")}
    assert pins.istio_image("ztunnel") == "docker.io/istio/ztunnel:1.31.0-distroless"
    for image in versions.ISTIO_IMAGES:
        assert workloads.image_family(image) is not None, image
    assert workloads.istioimages.VERSION == versions.ISTIO_VERSION


def test_the_values_the_emulation_reads_are_the_manifests():
    cni = by("ConfigMap", "istio-cni-config")["data"]
    assert yaml.safe_load(cni["AMBIENT_ENABLEMENT_SELECTOR"]) == [
        {"podSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}}},
        {"namespaceSelector": {"matchLabels": {"istio.io/dataplane-mode": "ambient"}},
         "podSelector": {"matchExpressions": [{"key": "istio.io/dataplane-mode", "operator": "NotIn",
                                               "values": ["none"]}]}}]
    assert cni["EXCLUDE_NAMESPACES"] == "kube-system" and cni["AMBIENT_ENABLED"] == "true"
    injector = json.loads(by("ConfigMap", "istio-sidecar-injector")["data"]["values"])
    assert injector["global"]["hub"] == pins.ISTIO_HUB and injector["global"]["tag"] == pins.ISTIO_VERSION
    assert injector["global"]["variant"] == pins.ISTIO_VARIANT and injector["pilot"]["env"] == {
        "PILOT_ENABLE_AMBIENT": "true"}
    assert "  waypoint: |" in by("ConfigMap", "istio-sidecar-injector")["data"]["config"]
    mesh = yaml.safe_load(by("ConfigMap", "istio")["data"]["mesh"])
    assert mesh["trustDomain"] == names.TRUST_DOMAIN
    assert mesh["defaultConfig"]["proxyMetadata"] == {"ISTIO_META_ENABLE_HBONE": "true"}
    istiod = by("Deployment", "istiod")["spec"]
    env = {e["name"]: e.get("value") for e in istiod["template"]["spec"]["containers"][0]["env"]}
    assert env["CA_TRUSTED_NODE_ACCOUNTS"] == "istio-system/ztunnel" and env["PILOT_ENABLE_AMBIENT"] == "true"
    assert istiod["replicas"] == 1  # autoscaleEnabled=false: no HorizontalPodAutoscaler (the header says why)
    ztunnel = by("DaemonSet", "ztunnel")["spec"]["template"]["spec"]
    assert ztunnel["containers"][0]["readinessProbe"]["httpGet"] == {"port": 15021, "path": "/healthz/ready"}
    assert {t.get("operator") for t in ztunnel["tolerations"]} == {"Exists"}  # every node, control plane too


def test_the_learner_side_names_are_istios():
    from k8snet import mesh
    from k8snet.mesh import waypoints as waypoint

    assert mesh.REDIRECTION == names.AMBIENT_REDIRECTION
    assert (waypoint.DATAPLANE_MODE, waypoint.USE_WAYPOINT, waypoint.WAYPOINT_FOR) == (
        names.DATAPLANE_MODE, names.USE_WAYPOINT, names.WAYPOINT_FOR)


# -- the waits install makes (kubectl rollout status), on objects as the API returns them ---------------------------


def test_a_daemonset_is_rolled_out_when_every_node_runs_an_updated_available_pod():
    ds = {"metadata": {"generation": 2}, "status": {"observedGeneration": 2, "desiredNumberScheduled": 3,
                                                     "updatedNumberScheduled": 3, "numberAvailable": 3}}
    assert daemonset_rolled_out(ds, 3) == (True, "3 of 3 pods available")
    assert daemonset_rolled_out(ds, 4) == (False, "it runs on 3 of 4 nodes")
    stale = {**ds, "status": {**ds["status"], "observedGeneration": 1}}
    assert daemonset_rolled_out(stale, 3) == (False, "the new generation is not observed yet")
    pulling = {**ds, "status": {**ds["status"], "numberAvailable": 1}}  # a kind node still pulling the image
    assert daemonset_rolled_out(pulling, 3) == (False, "1 of 3 updated pods available")
    assert daemonset_rolled_out(None, 3) == (False, "the DaemonSet does not exist")


def test_a_deployment_is_available_when_every_replica_is():
    dep = {"metadata": {"generation": 1}, "spec": {"replicas": 1},
           "status": {"observedGeneration": 1, "updatedReplicas": 1, "availableReplicas": 0}}
    assert deployment_available(dep) == (False, "0 of 1 replicas available (1 updated)")
    dep["status"]["availableReplicas"] = 1
    assert deployment_available(dep) == (True, "1 of 1 replicas available")


def test_only_istio_is_installed():
    with pytest.raises(ValueError, match="unknown mesh 'linkerd': k8snet installs istio"):
        check_mesh("linkerd")


# -- a real kind cluster ---------------------------------------------------------------------------------------

NS = "k8snet-meshtest"


@pytest.mark.kind
def test_install_enrol_and_waypoint_on_kind(kind_cluster):
    """The same calls as tests/sandbox/test_mesh_install.py, on kind: the nodes pull the images, istio-cni installs
    its plugin on each node before its pod is Ready, and the same annotation marks captured pods."""
    from k8snet import mesh

    cluster = kind_cluster
    report = mesh.install(cluster, "istio", timeout=900)
    assert len(report.crds) == 15
    cluster.recreate_namespace(NS, timeout=180)
    try:
        cluster.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS},
                       "spec": {"containers": [{"name": "web", "image": versions.AGNHOST_IMAGE,
                                                "args": ["netexec"]}]}})
        cluster.wait_pod_ready("web", NS, timeout=180)
        mesh.enroll(cluster, NS)
        cluster.wait_for("Pod", "web", NS, condition=lambda p: (p["metadata"].get("annotations") or {}).get(
            mesh.REDIRECTION) == "enabled", timeout=120)
        gw = mesh.waypoint(cluster, NS, timeout=300)
        assert gw is not None  # Programmed, as istioctl's --wait waits for it
        labels = cluster.core.read_namespace(NS).metadata.labels
        assert labels["istio.io/use-waypoint"] == "waypoint"
        assert mesh.install(cluster, "istio").crds == report.crds  # idempotent
    finally:
        cluster.delete("Namespace", NS)
