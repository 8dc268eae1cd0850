"""kube-system as a kind cluster has it: the coredns Deployment, and the kube-proxy (kubeadm's addon manifest) and
kindnet (kind v0.32.0's default CNI manifest) DaemonSets with a host-network pod on every node, whose containers
are the sandbox's emulated kube-proxy and kindnetd (the data plane does their work)."""

from __future__ import annotations

import re

from tests.conftest import wait_for

from k8snet.sandbox.controllers import daemonsets
from k8snet.sandbox.instance import Sandbox, install_kube_system

NODES = {"k8snet-control-plane": "172.18.0.2", "k8snet-worker": "172.18.0.3", "k8snet-worker2": "172.18.0.4"}


def system_pods(sandbox, label: str) -> list[dict]:
    pods = sandbox.kubectl_json("-n", "kube-system", "get", "pods", "-l", label)["items"]
    return sorted(pods, key=lambda p: p["spec"]["nodeName"])


def test_get_ds_deploy_reads_as_on_kind(sandbox):
    wait_for(lambda: all(ds["status"].get("numberAvailable") == 3 for ds in
                         sandbox.kubectl_json("-n", "kube-system", "get", "ds")["items"]), what="daemon pods ready")
    out = sandbox.kubectl("-n", "kube-system", "get", "ds,deploy").stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert rows[0] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert [r[:7] for r in rows[1:3]] == [
        ["daemonset.apps/kindnet", "3", "3", "3", "3", "3", "kubernetes.io/os=linux"],
        ["daemonset.apps/kube-proxy", "3", "3", "3", "3", "3", "kubernetes.io/os=linux"]]
    assert rows[3][:4] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE"]
    assert rows[4][:4] == ["deployment.apps/coredns", "2/2", "2", "2"]
    wide = sandbox.kubectl("-n", "kube-system", "get", "ds", "-o", "wide", "--no-headers").stdout
    assert "kindnet-cni   docker.io/kindest/kindnetd:v20260528-9350166c   app=kindnet" in re.sub(r" {2,}", "   ", wide)
    assert "registry.k8s.io/kube-proxy:v1.33.1" in wide


def test_a_host_network_pod_of_each_on_every_node(sandbox):
    for label, name, container in (("k8s-app=kube-proxy", "kube-proxy", "kube-proxy"),
                                   ("app=kindnet", "kindnet", "kindnet-cni")):
        pods = wait_for(lambda label=label: len(p := system_pods(sandbox, label)) == 3 and p, what=f"{name} pods")
        assert [p["spec"]["nodeName"] for p in pods] == list(NODES)
        for pod in pods:
            assert re.fullmatch(name + r"-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
            assert pod["spec"]["hostNetwork"] and pod["status"]["podIP"] == NODES[pod["spec"]["nodeName"]]
            assert pod["status"]["phase"] == "Running"
            assert pod["spec"]["priority"] == 2000001000  # system-node-critical
            assert pod["spec"]["containers"][0]["name"] == container
            assert {"controller-revision-hash", "pod-template-generation"} <= set(pod["metadata"]["labels"])
    warnings = sandbox.kubectl_json("-n", "kube-system", "get", "events", "--field-selector", "type=Warning")["items"]
    assert [(e["reason"], e["involvedObject"]["name"]) for e in warnings] == []


def test_their_logs_and_kube_proxys_rules(sandbox):
    pod = system_pods(sandbox, "k8s-app=kube-proxy")[1]  # k8snet-worker
    log = sandbox.kubectl("-n", "kube-system", "logs", pod["metadata"]["name"]).stdout
    assert '"Using iptables Proxier"' in log and 'IPs=["172.18.0.3"]' in log
    assert re.match(r"I\d{4} \d\d:\d\d:\d\d\.\d{6} {7}1 server_linux\.go:66\] \"Using iptables proxy\"", log)
    kindnet = system_pods(sandbox, "app=kindnet")[1]
    log = sandbox.kubectl("-n", "kube-system", "logs", kindnet["metadata"]["name"]).stdout
    assert "hostIP = 172.18.0.3\npodIP = 172.18.0.3\n" in log and "handling current node" in log
    assert "Node k8snet-worker2 has CIDR [10.244.2.0/24]" in log
    rules = sandbox.kubectl("-n", "kube-system", "exec", pod["metadata"]["name"], "--", "iptables-save").stdout
    assert "-A KUBE-SERVICES" in rules and "default/kubernetes:https cluster IP" in rules
    proc = sandbox.kubectl("-n", "kube-system", "exec", pod["metadata"]["name"], "--", "sh", check=False)
    assert proc.returncode != 0 and 'exec: "sh": executable file not found in $PATH' in proc.stderr


def test_a_store_made_before_gets_them_once():
    """install_kube_system adds what the store lacks (as install_crds does) and nothing twice."""
    sb = Sandbox(None, seed=5)
    try:
        sb.bootstrap()
        assert sb.store.get("daemonsets.apps", "kube-system", "kube-proxy") is None  # bootstrap predates them
        install_kube_system(sb)
        install_kube_system(sb)
        names = sorted(ds["metadata"]["name"] for ds in sb.store.list("daemonsets.apps", "kube-system"))
        assert names == ["kindnet", "kube-proxy"]
        assert sb.store.get("configmaps", "kube-system", "kube-proxy") is not None
        assert {sa["metadata"]["name"] for sa in sb.store.list("serviceaccounts", "kube-system")} >= {
            "kube-proxy", "kindnet"}
        proxy = sb.store.get("daemonsets.apps", "kube-system", "kube-proxy")
        assert proxy["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
        for node in sb.store.list("nodes"):  # everything tolerated, the control plane included
            assert daemonsets.should_run(proxy, node) == (True, True)
    finally:
        sb.close()
