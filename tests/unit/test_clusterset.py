"""The members of a cluster set (k8snet.clusterset): names as kind accepts them, networks apart as Cilium Cluster
Mesh requires ("PodCIDR ranges in all clusters and all nodes must be non-conflicting and unique IP addresses"), and
the same networks for the same name on every machine."""

from __future__ import annotations

import ipaddress
import itertools
import subprocess
import sys

import pytest

from k8snet import clusterset


def test_the_default_cluster_keeps_its_networks_nodes_and_context():
    d = clusterset.DEFAULT
    assert (d.name, d.pod_cidr, d.service_cidr, d.dns_ip, d.kubernetes_ip) == (
        "k8snet", "10.244.0.0/16", "10.96.0.0/12", "10.96.0.10", "10.96.0.1")
    assert [(n.name, n.pod_cidr, n.internal_ip) for n in d.nodes] == [
        ("k8snet-control-plane", "10.244.0.0/24", "172.18.0.2"), ("k8snet-worker", "10.244.1.0/24", "172.18.0.3"),
        ("k8snet-worker2", "10.244.2.0/24", "172.18.0.4")]
    assert d.load_balancer_first == "172.18.0.5"
    assert clusterset.context("k8snet") == "k8snet-sandbox" and clusterset.context("k8snet", "kind") == "kind-k8snet"


def test_east_and_west_take_cilium_kind_clustermesh_networks_and_kinds_node_names():
    """cilium/cilium Makefile, kind-clustermesh: clustermesh1 10.1.0.0/16 + 172.20.1.0/24, clustermesh2 10.2/172.20.2."""
    east, west = clusterset.shape("east"), clusterset.shape("west")
    assert (east.pod_cidr, east.service_cidr, east.dns_ip, east.kubernetes_ip) == (
        "10.1.0.0/16", "172.20.1.0/24", "172.20.1.10", "172.20.1.1")
    assert (west.pod_cidr, west.service_cidr, west.dns_ip) == ("10.2.0.0/16", "172.20.2.0/24", "172.20.2.10")
    assert [n.name for n in east.nodes] == ["east-control-plane", "east-worker", "east-worker2"]
    assert [n.pod_cidr for n in west.nodes] == ["10.2.0.0/24", "10.2.1.0/24", "10.2.2.0/24"]
    assert [n.internal_ip for n in east.nodes] == ["172.18.1.2", "172.18.1.3", "172.18.1.4"]
    assert east.load_balancer_first == "172.18.1.5"
    assert clusterset.context("east") == "k8snet-east" and clusterset.context("east", "kind") == "kind-east"


def test_a_name_has_the_same_networks_in_another_interpreter():
    """Deterministic across machines and runs: no dependence on Python's per-process hash seed."""
    code = "from k8snet import clusterset; s = clusterset.shape('shop-eu'); print(s.pod_cidr, s.service_cidr)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PYTHONPATH": ":".join(sys.path)})
    here = clusterset.shape("shop-eu")
    assert other.stdout.split() == [here.pod_cidr, here.service_cidr]


def test_every_slot_is_apart_from_every_other_and_from_the_default_cluster():
    shapes = [clusterset.DEFAULT] + [clusterset.shape(n) for n in clusterset.WELL_KNOWN]
    shapes += [s for s in (clusterset.shape(f"c{i}") for i in range(400))]
    by_slot = {clusterset.slot(s.name): s for s in shapes}
    assert set(by_slot) >= set(clusterset.HASHED_SLOTS)  # 400 names reach every hashed slot
    for a, b in itertools.combinations(by_slot.values(), 2):
        assert a.overlaps(b) == [], (a.name, b.name)
        assert set(clusterset.edge_ports(a.name)).isdisjoint(clusterset.edge_ports(b.name))
    for s in by_slot.values():
        assert all(ipaddress.ip_address(n.internal_ip) in clusterset.DOCKER_NETWORK for n in s.nodes)
        assert not ipaddress.ip_network(s.pod_cidr).overlaps(ipaddress.ip_network(s.service_cidr))


def test_two_names_on_one_slot_clash_and_say_where():
    a, b = next((x, y) for x, y in itertools.combinations((f"c{i}" for i in range(200)), 2)
                if clusterset.slot(x) == clusterset.slot(y))
    clashes = clusterset.clashes(clusterset.shape(a), [clusterset.shape(b), clusterset.shape("east")])
    n = clusterset.slot(a)
    assert f"{a}'s pod range 10.{n}.0.0/16 overlaps {b}'s pod range 10.{n}.0.0/16" in clashes
    assert f"{a}'s node address 172.18.{n}.2 is also one of {b}'s" in clashes
    assert not any("east" in c for c in clashes)


def test_a_named_members_edge_ports_move_up_by_100_per_slot():
    assert clusterset.edge_ports("east") == (8180, 8543) and clusterset.edge_ports("west") == (8280, 8643)


@pytest.mark.parametrize("name", ["East", "a_b", "", "x" * 51, "-east", "east."])
def test_names_kind_or_the_api_server_would_refuse_are_refused(name):
    with pytest.raises(ValueError, match="cluster name"):
        clusterset.check_name(name)


def test_kinds_own_message_for_a_bad_name():
    with pytest.raises(ValueError) as err:
        clusterset.check_name("East")
    assert str(err.value) == "'East' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`"


def test_sandbox_is_refused_as_it_would_take_the_default_clusters_context():
    with pytest.raises(ValueError, match="k8snet-sandbox"):
        clusterset.check_name("sandbox")


def test_a_shape_survives_its_stored_form():
    east = clusterset.shape("east")
    assert clusterset.Shape.from_dict(east.to_dict()) == east
