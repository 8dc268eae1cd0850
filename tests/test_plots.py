"""The cluster picture, drawn from a real sandbox and checked by what it says, not by pixels."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes.client.exceptions import ApiException
from matplotlib.figure import Figure

from k8snet import plots
from k8snet.cluster import Cluster
from k8snet.sandbox import process

KUBEADM_CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
networking:
  dnsDomain: cluster.local
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/12
"""


@pytest.fixture(scope="module")
def cluster(sandbox) -> Cluster:
    return Cluster("sandbox", process.CONTEXT, sandbox.api_client())


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def gids(fig: Figure, prefix: str) -> list[str]:
    return [p.get_gid() for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith(prefix)]


def test_one_box_per_node_control_plane_first(cluster: Cluster) -> None:
    fig = plots.cluster_picture(cluster)
    names = sorted(n.metadata.name for n in cluster.nodes())
    control = [n.metadata.name for n in cluster.nodes() if plots.is_control_plane(n)]
    assert len(names) == 3 and len(control) == 1
    assert gids(fig, "node:") == [f"node:{n}" for n in control + [n for n in names if n not in control]]


def test_nodes_show_their_addresses_and_pod_cidr(cluster: Cluster) -> None:
    shown = "\n".join(texts(plots.cluster_picture(cluster)))
    for node in cluster.nodes():
        assert node.metadata.name in shown
        assert f"InternalIP {plots.internal_ip(node)}" in shown
        assert f"pod CIDR {node.spec.pod_cidr}" in shown


def test_coredns_pods_are_drawn_with_their_ips(cluster: Cluster) -> None:
    fig = plots.cluster_picture(cluster)
    coredns = cluster.core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-dns").items
    assert len(coredns) == 2
    for pod in coredns:
        assert f"pod:kube-system/{pod.metadata.name}" in gids(fig, "pod:")
        assert pod.metadata.name in texts(fig)
        assert any(t.startswith(pod.status.pod_ip or "no IP yet") for t in texts(fig))


def test_api_server_and_services(cluster: Cluster) -> None:
    fig = plots.cluster_picture(cluster)
    assert gids(fig, "apiserver") == ["apiserver"]
    assert any("10.96.0.1:443" in t for t in texts(fig))  # the `kubernetes` Service, read from the API
    assert {"service:default/kubernetes", "service:kube-system/kube-dns"} <= set(gids(fig, "service:"))


def test_same_state_same_picture(cluster: Cluster) -> None:
    # earlier tests' namespaces may still be terminating: draw twice once nothing is changing
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        first = texts(plots.cluster_picture(cluster))
        second = texts(plots.cluster_picture(cluster))
        if first == second:
            break
        time.sleep(0.5)
    assert first == second


@pytest.fixture
def kubeadm_config(cluster: Cluster) -> Iterator[None]:
    """kube-system/kubeadm-config as kubeadm writes it on a kind cluster, put back as it was afterwards."""
    try:
        before = cluster.core.read_namespaced_config_map("kubeadm-config", "kube-system")
    except ApiException as exc:
        assert exc.status == 404
        before = None
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
                   "data": {"ClusterConfiguration": KUBEADM_CONFIG}})
    yield
    if before is None:
        cluster.delete("ConfigMap", "kubeadm-config", "kube-system")
    else:
        cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "kubeadm-config", "namespace": "kube-system"}, "data": before.data})


def test_ranges_come_from_kubeadm_config(cluster: Cluster, kubeadm_config: None) -> None:
    assert plots.cluster_networks(cluster) == plots.Networks("10.244.0.0/16", "10.96.0.0/12")
    fig = plots.cluster_picture(cluster)
    assert any(t.startswith("Pod network 10.244.0.0/16") for t in texts(fig))
    assert any(t.startswith("Service network 10.96.0.0/12") for t in texts(fig))


def test_picture_labels_the_ranges_the_cluster_publishes(cluster: Cluster) -> None:
    nets = plots.cluster_networks(cluster)
    shown = texts(plots.cluster_picture(cluster))
    assert any(t.startswith(f"Pod network {nets.pods}:" if nets.pods else "Pod network:") for t in shown)
    assert any(t.startswith(f"Service network {nets.services}:" if nets.services else
                            "Service network (range not published") for t in shown)


def test_service_map_draws_dropped_edges_dashed():
    from matplotlib.patches import FancyArrowPatch

    from k8snet.cni.hubble import Edge
    from k8snet.plots import service_map

    fig = service_map([Edge("ns/client", "ns/echo", 8080, 0, 3), Edge("ns/client2", "ns/echo", 8080, 5, 0)])
    arrows = {p.get_gid(): p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch)}
    assert arrows["edge:ns/client>ns/echo"].get_linestyle() == "--"
    assert arrows["edge:ns/client2>ns/echo"].get_linestyle() == "-"
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert ":8080 ✗ 3 dropped" in texts and ":8080 5 forwarded" in texts
