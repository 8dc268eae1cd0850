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
    if os.environ.get("K8SNET_KIND_DOWN") == "1":
        lifecycle.down()
