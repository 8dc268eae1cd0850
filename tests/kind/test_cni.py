"""``k8snet kind up --cni cilium|calico``: the kind config the plugins' kind guides ask for, the rendered manifests
both backends use, the refusal to switch a cluster's plugin in place; then (``pytest -m kind``, with Docker and
kind) a real cluster per plugin."""

from __future__ import annotations

import os

import pytest
import yaml

from k8snet.kind import cni, config, lifecycle, versions
from k8snet.sandbox import cni as plugins

from .conftest import docker_and_kind_missing


def test_kindnet_keeps_kinds_default_cni():
    assert "disableDefaultCNI" not in config.cluster_config()["networking"]


@pytest.mark.parametrize("name", ["cilium", "calico"])
def test_another_cni_disables_kindnet_and_keeps_the_pod_subnet_and_kube_proxy(name):
    networking = yaml.safe_load(config.render(config.cluster_config(cni=name)))["networking"]
    assert networking["disableDefaultCNI"] is True  # docs.cilium.io installation/kind, docs.tigera.io …/kind
    assert networking["podSubnet"] == "10.244.0.0/16"  # kept for all three plugins (see the manifests' headers)
    assert networking["kubeProxyMode"] == "iptables"  # neither guide replaces kube-proxy


def test_unknown_cni_is_refused():
    with pytest.raises(ValueError, match="choose one of kindnet, cilium, calico"):
        config.cluster_config(cni="flannel")


def test_cilium_manifest_is_the_charts_kind_install():
    objs = cni.objects("cilium")
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    assert not [o for o in objs if o["kind"] == "CustomResourceDefinition"]  # the operator creates them
    config_map = by[("ConfigMap", "cilium-config")]["data"]
    assert (config_map["ipam"], config_map["kube-proxy-replacement"]) == ("kubernetes", "false")  # the kind guide
    agent = by[("DaemonSet", "cilium")]["spec"]["template"]["spec"]
    assert agent["containers"][0]["image"] == versions.CILIUM_IMAGES[0]
    assert by[("Deployment", "cilium-operator")]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        versions.CILIUM_IMAGES[1]
    assert all(o["metadata"].get("namespace") in (None, "kube-system", "cilium-secrets") for o in objs)


def test_calico_manifest_is_the_release_manifests_kube_system():
    objs = cni.objects("calico")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert {("DaemonSet", "calico-node"), ("Deployment", "calico-kube-controllers"),
            ("ConfigMap", "calico-config")} <= kinds
    images = {c["image"] for o in objs if o["kind"] in ("DaemonSet", "Deployment")
              for key in ("containers", "initContainers") for c in o["spec"]["template"]["spec"].get(key) or []}
    assert images == set(versions.CALICO_IMAGES)
    env = {e["name"]: e.get("value") for o in objs if o["kind"] == "DaemonSet"
           for e in o["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CALICO_IPV4POOL_IPIP"] == "Always" and "CALICO_IPV4POOL_CIDR" not in env  # kubeadm's podSubnet
    assert versions.CALICO_MANIFEST_URL.endswith(f"/{versions.CALICO_VERSION}/manifests/calico.yaml")


def test_the_sandbox_pins_the_same_releases():
    assert plugins.CILIUM_VERSION == versions.CILIUM_VERSION
    assert "v" + plugins.CALICO_VERSION == versions.CALICO_VERSION


class FakeApps:
    def __init__(self, names):
        self.names = names

    def list_namespaced_daemon_set(self, namespace):
        class Item:
            def __init__(self, name):
                self.metadata = type("M", (), {"name": name})()
        return type("L", (), {"items": [Item(n) for n in self.names]})()


class FakeCluster:
    def __init__(self, names):
        self.apps = FakeApps(names)


def test_a_cluster_with_another_plugin_is_not_switched_in_place():
    cluster = FakeCluster(["kube-proxy", "kindnet"])
    assert cni.installed(cluster) == "kindnet"
    with pytest.raises(RuntimeError, match="runs the kindnet CNI plugin, not cilium.*k8snet kind down"):
        cni.install(cluster, "cilium")
    assert cni.install(FakeCluster(["kube-proxy", "kindnet"]), "kindnet") == []


def test_rollout_check_wants_every_node():
    assert cni.daemonset_rolled_out({"status": {"desiredNumberScheduled": 2, "numberAvailable": 2,
                                                "updatedNumberScheduled": 2}}, 3)[0] is False
    assert cni.daemonset_rolled_out({"status": {"desiredNumberScheduled": 3, "numberAvailable": 3,
                                                "updatedNumberScheduled": 3}}, 3)[0] is True


@pytest.mark.kind
@pytest.mark.parametrize("name", ["cilium", "calico"])
def test_kind_up_with_the_plugin(name):
    """A real cluster per plugin (it replaces the workbook's cluster: run it on its own)."""
    reason = docker_and_kind_missing()
    if reason:
        pytest.skip(f"kind tests need Docker and kind: {reason}")
    from k8snet import connect

    lifecycle.down()
    lifecycle.up(lifecycle.Options(cni=name, cloud_provider=False, preload=False, canary=False))
    cluster = connect("kind", start=False)
    daemonset, deployment = cni.WORKLOADS[name]
    ds = cluster.apps.read_namespaced_daemon_set(daemonset, "kube-system")
    assert ds.status.number_available == len(versions.NODE_NAMES)
    assert cluster.apps.read_namespaced_deployment(deployment, "kube-system").status.available_replicas >= 1
    assert cni.installed(cluster) == name
    if name == "calico":  # projectcalico.org/v3 through the aggregated API server, as the sandbox serves it
        tiers = cluster.dynamic.resources.get(api_version="projectcalico.org/v3", kind="Tier").get()
        assert {"default", "kube-admin", "kube-baseline"} <= {t.metadata.name for t in tiers.items}
    if os.environ.get("K8SNET_KIND_DOWN") == "1":
        lifecycle.down()


# -- Calico's aggregated API server (kind/calico_apiserver.py) --------------------------------------------------

APISERVER_MANIFEST = [  # the shape of manifests/apiserver.yaml at v3.32.1 (abridged)
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "calico-apiserver"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "calico-apiserver",
                                                                 "namespace": "calico-apiserver"}},
    {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v3.projectcalico.org"},
     "spec": {"group": "projectcalico.org", "version": "v3", "service": {"name": "calico-api",
                                                                          "namespace": "calico-apiserver"}}},
]


def test_calico_apiserver_is_the_release_manifest_pinned_with_calico():
    from k8snet.kind import calico_apiserver

    assert versions.CALICO_APISERVER_URL.endswith(f"/{versions.CALICO_VERSION}/manifests/apiserver.yaml")
    assert calico_apiserver.MANIFEST.url == versions.CALICO_APISERVER_URL


def test_calico_apiserver_certificate_is_the_install_guides():
    """docs.tigera.io operations/install-apiserver (manifest): a self-signed RSA 4096 certificate for
    calico-api.calico-apiserver.svc, valid 365 days."""
    import datetime

    from cryptography import x509

    from k8snet.kind import calico_apiserver

    now = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
    cert_pem, key_pem = calico_apiserver.certificate(now)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.issuer == cert.subject == x509.Name([])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["calico-api.calico-apiserver.svc"]
    assert cert.public_key().key_size == 4096
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365)
    assert b"PRIVATE KEY" in key_pem


def test_calico_apiserver_objects_carry_the_secret_and_the_ca_bundle():
    import base64

    from k8snet.kind import calico_apiserver

    objs = calico_apiserver.objects(APISERVER_MANIFEST, b"CERT", b"KEY")
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds.index(("Secret", "calico-apiserver-certs")) == kinds.index(("Namespace", "calico-apiserver")) + 1
    secret = objs[kinds.index(("Secret", "calico-apiserver-certs"))]
    assert {k: base64.b64decode(v) for k, v in secret["data"].items()} == {"apiserver.crt": b"CERT",
                                                                           "apiserver.key": b"KEY"}
    apiservice = objs[kinds.index(("APIService", "v3.projectcalico.org"))]
    assert base64.b64decode(apiservice["spec"]["caBundle"]) == b"CERT"
    assert "caBundle" not in APISERVER_MANIFEST[2]["spec"]  # the manifest itself is not changed


def test_calico_apiserver_waits_for_available():
    from k8snet.kind import calico_apiserver

    assert calico_apiserver.available(None) == (False, "no Available condition yet")
    assert calico_apiserver.available({"conditions": [{"type": "Available", "status": "False",
                                                       "reason": "MissingEndpoints"}]})[0] is False
    assert calico_apiserver.available({"conditions": [{"type": "Available", "status": "True"}]})[0] is True
