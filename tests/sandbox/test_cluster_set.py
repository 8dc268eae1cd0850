"""Several sandboxes side by side (``k8snet sandbox up --name east``): each member of the cluster set is its own
process with its own state, kubeconfig context (``k8snet-east``, as ``kind create cluster --name east`` makes
``kind-east``), node names, and pod and Service ranges apart from every other member's (Cilium Cluster Mesh:
"PodCIDR ranges in all clusters and all nodes must be non-conflicting and unique IP addresses"). One default
sandbox and two members (east, west) for the module; the last test stops west."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest
from tests.conftest import private_sandbox, wait_for

import k8snet
from k8snet import clusterset, kubeconfig
from k8snet.sandbox import process, topology
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
MEMBERS = ("east", "west")


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """The default sandbox plus east and west, in one temporary K8SNET_HOME and kubeconfig."""
    with private_sandbox(tmp_path_factory.mktemp("clusterset")) as env:
        try:
            for name in MEMBERS:
                process.up(seed=0, edge_http_port=0, edge_https_port=0, name=name)
            yield env
        finally:
            for name in MEMBERS:
                process.down(name=name)


def kubectl(env, context: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return env.kubectl("--context", context, *args, check=check)


def kubectl_json(env, context: str, *args: str) -> dict:
    return json.loads(kubectl(env, context, *args, "-o", "json").stdout)


def k8snet_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "k8snet.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def nodes(env, context: str) -> dict[str, tuple[str, str]]:
    """Node name → (podCIDR, InternalIP), as kubectl reads them."""
    out = {}
    for node in kubectl_json(env, context, "get", "nodes")["items"]:
        ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        out[node["metadata"]["name"]] = (node["spec"]["podCIDR"], ip)
    return out


def test_each_member_is_its_own_process_state_and_context(box):
    running = process.members()
    assert set(running) == {"k8snet", "east", "west"}
    assert len({r.pid for r in running.values()}) == 3 and len({r.port for r in running.values()}) == 3
    assert running["east"].state == process.home("east") == box.home / "home" / "sandboxes" / "east"
    assert running["k8snet"].state == box.home / "home" / "sandbox"
    for name, context in (("k8snet", "k8snet-sandbox"), ("east", "k8snet-east"), ("west", "k8snet-west")):
        assert kubeconfig.context(context) is not None and running[name].context == context
    edges = [p for r in running.values() for p in (r.edge_http_port, r.edge_https_port)]
    assert len(set(edges)) == 6  # every member's ingress edge on ports of its own


def test_nodes_are_named_as_kind_names_them_with_addresses_distinct_across_the_set(box):
    seen = {ctx: nodes(box, ctx) for ctx in ("k8snet-sandbox", "k8snet-east", "k8snet-west")}
    assert seen["k8snet-sandbox"] == {"k8snet-control-plane": ("10.244.0.0/24", "172.18.0.2"),
                                      "k8snet-worker": ("10.244.1.0/24", "172.18.0.3"),
                                      "k8snet-worker2": ("10.244.2.0/24", "172.18.0.4")}
    assert seen["k8snet-east"] == {"east-control-plane": ("10.1.0.0/24", "172.18.1.2"),
                                   "east-worker": ("10.1.1.0/24", "172.18.1.3"),
                                   "east-worker2": ("10.1.2.0/24", "172.18.1.4")}
    assert sorted(seen["k8snet-west"]) == ["west-control-plane", "west-worker", "west-worker2"]
    ips = [ip for members in seen.values() for _, ip in members.values()]
    assert len(set(ips)) == 9
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("172.18.0.0/16") for ip in ips)  # kind's network


def test_kube_system_shows_each_members_networks(box):
    for context, pods, services, dns in (("k8snet-sandbox", "10.244.0.0/16", "10.96.0.0/12", "10.96.0.10"),
                                         ("k8snet-east", "10.1.0.0/16", "172.20.1.0/24", "172.20.1.10"),
                                         ("k8snet-west", "10.2.0.0/16", "172.20.2.0/24", "172.20.2.10")):
        kubeadm = kubectl_json(box, context, "-n", "kube-system", "get", "configmap", "kubeadm-config")
        text = kubeadm["data"]["ClusterConfiguration"]
        assert f"  podSubnet: {pods}\n" in text and f"  serviceSubnet: {services}\n" in text
        proxy = kubectl_json(box, context, "-n", "kube-system", "get", "configmap", "kube-proxy")
        assert f"clusterCIDR: {pods}\n" in proxy["data"]["config.conf"]
        assert kubectl_json(box, context, "-n", "kube-system", "get", "service", "kube-dns")["spec"]["clusterIP"] == dns
        kubernetes = ipaddress.ip_network(services).network_address + 1
        assert kubectl_json(box, context, "get", "service", "kubernetes")["spec"]["clusterIP"] == str(kubernetes)
    east = kubectl_json(box, "k8snet-east", "-n", "kube-system", "get", "configmap", "kubeadm-config")
    assert "clusterName: east\n" in east["data"]["ClusterConfiguration"]


def test_a_deployment_and_service_in_each_member_get_addresses_from_that_members_ranges(box):
    answers = {}
    for name in MEMBERS:
        context, shape = f"k8snet-{name}", clusterset.shape(name)
        kubectl(box, context, "create", "deployment", "web", f"--image={AGNHOST}", "--replicas=2", "--",
                "/agnhost", "netexec", "--http-port=8080")
        kubectl(box, context, "expose", "deployment", "web", "--port=80", "--target-port=8080")
        kubectl(box, context, "rollout", "status", "deployment/web", "--timeout=60s")
        pods = kubectl_json(box, context, "get", "pods", "-l", "app=web")["items"]
        assert all(ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(shape.pod_cidr) for p in pods)
        assert {p["spec"]["nodeName"] for p in pods} <= {n.name for n in shape.nodes}
        cluster_ip = kubectl_json(box, context, "get", "service", "web")["spec"]["clusterIP"]
        assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(shape.service_cidr)
        client = pods[0]["metadata"]["name"]
        looked_up = kubectl(box, context, "exec", client, "--", "nslookup", "web").stdout
        assert f"Server:\t\t{shape.dns_ip}" in looked_up and f"Address: {cluster_ip}" in looked_up
        # the Service's endpoints reach kube-proxy a moment after the rollout (a refused connection until then)
        answers[name] = wait_for(lambda ctx=context, pod=client: kubectl(box, ctx, "exec", pod, "--", "curl", "-s",
                                                                         "web/hostname", check=False).stdout,
                                 timeout=30, what="the Service answering")
        assert answers[name] in {p["metadata"]["name"] for p in pods}  # served inside its own cluster
    assert not kubectl(box, "k8snet-sandbox", "get", "deployment", "web", check=False).stdout  # not in the default


def test_status_without_a_name_lists_every_running_member(box):
    done = k8snet_cli("sandbox", "status")
    assert done.returncode == 0, done.stderr
    for name, context in (("k8snet", "k8snet-sandbox"), ("east", "k8snet-east"), ("west", "k8snet-west")):
        assert f"== cluster {name} (context {context})" in done.stdout
    assert "Networks: pods 10.1.0.0/16, Services 172.20.1.0/24; nodes east-control-plane 172.18.1.2" in done.stdout
    one = k8snet_cli("sandbox", "status", "--name", "west")
    assert one.returncode == 0 and "== cluster" not in one.stdout and "Services 172.20.2.0/24" in one.stdout


def test_the_python_helpers_connect_to_each_member_by_name(box):
    east = k8snet.connect("east", start=False)
    assert (east.name, east.context) == ("east", "k8snet-east")
    assert sorted(n.metadata.name for n in east.nodes()) == ["east-control-plane", "east-worker", "east-worker2"]
    assert east.edge_ports() == (process.members()["east"].edge_http_port, process.members()["east"].edge_https_port)
    members = k8snet.clusters()
    assert {name: c.context for name, c in members.items()} == {
        "k8snet": "k8snet-sandbox", "east": "k8snet-east", "west": "k8snet-west"}
    assert k8snet.connect(start=False).name == "k8snet"


def test_a_member_whose_networks_overlap_a_running_members_is_refused(box):
    first, second = next((a, b) for a in (f"c{i}" for i in range(200)) for b in (f"d{i}" for i in range(200))
                         if clusterset.slot(a) == clusterset.slot(b))
    process.up(seed=0, edge_http_port=0, edge_https_port=0, name=first)
    try:
        with pytest.raises(ValueError, match=rf"cluster '{second}' cannot join the running cluster set: "
                                             rf"{second}'s pod range .* overlaps {first}'s pod range"):
            process.up(seed=0, edge_http_port=0, edge_https_port=0, name=second)
        assert not process.home(second).exists()  # refused before anything was made
    finally:
        process.down(name=first)


def test_a_state_directory_made_as_one_member_is_refused_as_another(box, tmp_path):
    """As a CNI mismatch: a cluster's name and networks are not changed in place."""
    with pytest.raises(RuntimeError, match="is cluster 'east', not 'west'"):
        process.up(state=process.home("east"), name="west", write_kubeconfig=False)
    state = tmp_path / "made-as-east"
    Sandbox(state, shape=clusterset.shape("east")).close()
    with pytest.raises(topology.Mismatch, match="holds cluster 'east' .* not 'west'"):
        Sandbox(state, shape=clusterset.shape("west"))
    again = Sandbox(state)  # without a name: the store's own
    assert again.shape == clusterset.shape("east")
    again.close()
    with pytest.raises(RuntimeError, match=r"holds cluster 'east' \(pods 10\.1\.0\.0/16, Services 172\.20\.1\.0/24\), "
                                           r"not 'west'"):  # the server refuses to start (exit CLUSTER_MISMATCH)
        process.up(state=state, name="west", write_kubeconfig=False, edge_http_port=0, edge_https_port=0)
    assert "k8snet-cluster-mismatch: " in (state / "sandbox.log").read_text()


def test_down_of_one_member_leaves_the_others_running(box):
    done = k8snet_cli("sandbox", "down", "--name", "west")
    assert done.returncode == 0 and done.stdout.startswith("Sandbox west stopped"), done.stderr
    assert set(process.members()) == {"k8snet", "east"}
    assert kubeconfig.context("k8snet-west") is None
    assert kubectl(box, "k8snet-east", "get", "deployment", "web").returncode == 0
    assert sorted(nodes(box, "k8snet-sandbox")) == ["k8snet-control-plane", "k8snet-worker", "k8snet-worker2"]
    gone = k8snet_cli("sandbox", "status", "--name", "west")
    assert gone.returncode == 1 and "No sandbox west is running" in gone.stdout


def test_the_notebook_magics_name_a_member_with_cluster(box, capsys):
    """``%kubectl --cluster east …`` and ``%%k8s apply --cluster east`` act on that member's context only."""
    from k8snet import magics

    magics._current, magics._members = None, {}
    magics.k8s("apply --cluster east -n default", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only-east}\n")
    assert capsys.readouterr().out == "configmap/only-east serverside-applied\n"
    assert magics.kubectl("--cluster=east get configmap only-east -o name") == 0
    assert capsys.readouterr().out == "configmap/only-east\n"
    assert magics.kubectl("get configmap only-east -o name") == 1  # the workbook's own cluster has none
    assert 'configmaps "only-east" not found' in capsys.readouterr().out
    magics.k8s("delete --cluster east", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only-east}\n")
    assert capsys.readouterr().out == 'configmap "only-east" deleted\n'


def test_a_member_leaves_kubectls_current_context_to_the_workbooks_cluster(box):
    assert kubeconfig.current_context() == "k8snet-sandbox"
    assert {c["name"] for c in kubeconfig.load()["contexts"]} >= {"k8snet-sandbox", "k8snet-east"}


def test_disconnect_stops_a_member_and_never_the_workbooks_own(box):
    assert k8snet.connect("east", start=False).name == "east"
    assert k8snet.disconnect("east") is True
    assert "east" not in process.members() and process.status() is not None
    assert kubeconfig.current_context() == "k8snet-sandbox"
    with pytest.raises(ValueError, match="not the workbook's own"):
        k8snet.disconnect("k8snet")
