"""The cluster's CNI plugin (``k8snet sandbox up --cni kindnet|cilium|calico``): kube-system as each plugin's install
looks on kind, what it does for every pod (eth0, the host side's name, MTU, routes, traceroute across nodes), and the
choice kept with the cluster (refused when another is asked for, switched by ``reset --cni``). One sandbox, reset
to each plugin in turn (the same reset a learner runs)."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import subprocess
import sys

import pytest
from tests.conftest import private_sandbox, wait_for

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NETSHOOT = "nicolaka/netshoot"
NODE_IPS = {"k8snet-control-plane": "172.18.0.2", "k8snet-worker": "172.18.0.3", "k8snet-worker2": "172.18.0.4"}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("cni")) as env:
        yield env


def k8snet(env, *args: str) -> subprocess.CompletedProcess:
    """The k8snet command against the module's sandbox (its environment: K8SNET_HOME, KUBECONFIG)."""
    return subprocess.run([sys.executable, "-m", "k8snet.cli", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def use(env, cni: str) -> None:
    """A fresh cluster with ``cni``; two pods on different workers (a netshoot client, an agnhost server)."""
    done = k8snet(env, "sandbox", "reset", "--cni", cni)
    assert done.returncode == 0, done.stderr
    assert f"CNI {'kindnet' if cni == 'kindnet' else cni.capitalize()}" in done.stdout
    env.kubectl("run", "client", f"--image={NETSHOOT}", "--overrides",
                '{"spec": {"nodeName": "k8snet-worker"}}', "--", "sleep", "3600")
    env.kubectl("run", "server", f"--image={AGNHOST}", "--overrides",
                '{"spec": {"nodeName": "k8snet-worker2"}}', "--", "netexec")
    env.kubectl("wait", "--for=condition=Ready", "pod/client", "pod/server", "--timeout=30s")


def system_ready(env) -> str:
    def ready():
        items = env.kubectl_json("-n", "kube-system", "get", "ds")["items"]
        return all(d["status"].get("numberReady") == 3 for d in items) and items
    wait_for(ready, timeout=30, what="kube-system DaemonSets ready on every node")
    wait_for(lambda: all(d["status"].get("readyReplicas") == d["spec"]["replicas"]
                         for d in env.kubectl_json("-n", "kube-system", "get", "deploy")["items"]),
             timeout=30, what="kube-system Deployments ready")
    return env.kubectl("-n", "kube-system", "get", "ds,deploy", "-o", "wide").stdout


def rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines() if line.strip() and not line.startswith("NAME")}


def pod_ip(env, name: str) -> str:
    return env.kubectl_json("get", "pod", name)["status"]["podIP"]


def node_debug(env, node: str, *command: str) -> str:
    """``kubectl debug node/NODE --image=nicolaka/netshoot -- COMMAND``: the command's output from the node's network."""
    out = env.kubectl("debug", f"node/{node}", "--profile=general", f"--image={NETSHOOT}", "--", "sleep", "600").stdout
    name = re.search(r"node-debugger-[\w-]+", out).group(0)
    env.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")
    return env.kubectl("exec", name, "--", *command).stdout


def test_kindnet_is_the_default_and_kept(box):
    info = process.admin(box.running, "status")
    assert (info["cni"], info["cniTitle"]) == ("kindnet", "kindnet")
    status = k8snet(box, "sandbox", "status")
    assert "CNI plugin: kindnet" in status.stdout
    refused = k8snet(box, "sandbox", "up", "--cni", "cilium")  # the running cluster was made with kindnet
    assert refused.returncode == 1
    assert "made with the kindnet CNI plugin, not cilium" in refused.stderr
    assert "k8snet sandbox reset --cni cilium" in refused.stderr
    with pytest.raises(RuntimeError, match="not switched in place"):
        process.up(cni="calico")  # the Python API refuses the same way
    assert process.up(cni="kindnet").pid == box.running.pid


def test_kindnet_pod_network(box):
    use(box, "kindnet")
    assert set(rows(system_ready(box))) >= {"daemonset.apps/kindnet", "daemonset.apps/kube-proxy",
                                            "deployment.apps/coredns"}
    client, server = pod_ip(box, "client"), pod_ip(box, "server")
    assert ipaddress.ip_address(client) in ipaddress.ip_network("10.244.1.0/24")
    addr = box.kubectl("exec", "client", "--", "ip", "addr").stdout
    assert f"inet {client}/24 brd 10.244.1.255 scope global eth0" in addr and "mtu 1500" in addr
    assert box.kubectl("get", "ciliumnetworkpolicies", check=False).returncode != 0  # Cilium's kinds: Cilium only
    route = box.kubectl("exec", "client", "--", "ip", "route").stdout
    assert route.splitlines()[0].strip() == "default via 10.244.1.1 dev eth0"
    trace = box.kubectl("exec", "client", "--", "traceroute", "-n", "-q", "1", server).stdout
    assert [line.split()[1] for line in trace.splitlines()[1:]] == ["10.244.1.1", "172.18.0.4", server]


def test_cilium_kube_system_as_its_chart_installs_it(box):
    use(box, "cilium")
    out = rows(system_ready(box))
    assert set(out) == {"daemonset.apps/cilium", "daemonset.apps/kube-proxy", "deployment.apps/cilium-operator",
                        "deployment.apps/coredns"}  # kube-proxy stays, as in Cilium's kind guide
    assert out["daemonset.apps/cilium"][1:6] == ["3"] * 5
    assert out["daemonset.apps/cilium"][9].startswith("quay.io/cilium/cilium:v1.20.2@sha256:2939231d")
    assert out["deployment.apps/cilium-operator"][1] == "2/2"
    agent = box.kubectl_json("-n", "kube-system", "get", "pods", "-l", "k8s-app=cilium")["items"][0]
    assert [c["name"] for c in agent["status"]["initContainerStatuses"]] == [
        "config", "mount-cgroup", "apply-sysctl-overwrites", "mount-bpf-fs", "clean-cilium-state",
        "install-cni-binaries"]
    assert all(c["state"]["terminated"]["exitCode"] == 0 for c in agent["status"]["initContainerStatuses"])
    log = box.kubectl("-n", "kube-system", "logs", agent["metadata"]["name"]).stdout
    assert 'msg="Daemon initialization completed"' in log
    config = box.kubectl_json("-n", "kube-system", "get", "configmap", "cilium-config")["data"]
    assert (config["ipam"], config["routing-mode"], config["tunnel-protocol"]) == ("kubernetes", "tunnel", "vxlan")
    # the plugin's own kinds are served in a Cilium cluster only (test_cilium_policy.py has their semantics)
    assert box.kubectl("get", "ciliumnetworkpolicies", "-A").returncode == 0


def test_cilium_pod_network(box):
    client, server = pod_ip(box, "client"), pod_ip(box, "server")
    assert ipaddress.ip_address(client) in ipaddress.ip_network("10.244.1.0/24")  # ipam.mode=kubernetes
    addr = box.kubectl("exec", "client", "--", "ip", "addr").stdout
    assert f"inet {client}/32 scope global eth0" in addr
    assert re.search(r"eth0@if\d+: <[A-Z_,-]+> mtu 1500 ", addr)  # the veth keeps 1500: the routes carry 1450
    route = box.kubectl("exec", "client", "--", "ip", "route").stdout.splitlines()
    router = route[0].split()[2]
    assert route[0].strip() == f"default via {router} dev eth0 mtu 1450"
    assert route[1].strip() == f"{router} dev eth0 scope link"
    assert ipaddress.ip_address(router) in ipaddress.ip_network("10.244.1.0/24")  # cilium_host's router IP
    trace = box.kubectl("exec", "client", "--", "traceroute", "-n", "-q", "1", "-w", "1", server).stdout
    assert [line.split()[1] for line in trace.splitlines()[1:]] == ["*", server]  # eBPF sends no Time Exceeded
    node = node_debug(box, "k8snet-worker", "ip", "route")
    assert f"10.244.2.0/24 via {router} dev cilium_host proto kernel src {router} mtu 1450" in node
    assert f"{router} dev cilium_host proto kernel scope link" in node
    uid = box.kubectl_json("get", "pod", "client")["metadata"]["uid"]
    links = node_debug(box, "k8snet-worker", "ip", "link")
    assert "lxc" + hashlib.sha256(uid.encode()).hexdigest()[:12] + "@if" in links
    assert "cilium_host@cilium_net" in links and "cilium_vxlan" in links


def test_calico_kube_system_and_pod_network(box):
    use(box, "calico")
    out = rows(system_ready(box))
    assert set(out) == {"daemonset.apps/calico-node", "daemonset.apps/kube-proxy",
                        "deployment.apps/calico-kube-controllers", "deployment.apps/coredns"}
    assert out["daemonset.apps/calico-node"][9] == "quay.io/calico/node:v3.32.1"
    node_pod = box.kubectl_json("-n", "kube-system", "get", "pods", "-l", "k8s-app=calico-node")["items"][0]
    assert "Done configuring CNI.  Sleep= false" in box.kubectl(
        "-n", "kube-system", "logs", node_pod["metadata"]["name"], "-c", "install-cni").stdout
    client, server = pod_ip(box, "client"), pod_ip(box, "server")
    assert box.kubectl("get", "ciliumnetworkpolicies", check=False).returncode != 0  # reset: Cilium's kinds are gone
    # calico-ipam: a /26 block of 10.244.0.0/16 per node, not the node's spec.podCIDR
    assert ipaddress.ip_address(client) in ipaddress.ip_network("10.244.0.0/16")
    assert ipaddress.ip_address(client) not in ipaddress.ip_network("10.244.1.0/24")
    addr = box.kubectl("exec", "client", "--", "ip", "addr").stdout
    assert f"inet {client}/32 scope global eth0" in addr and "mtu 1480" in addr
    route = [line.strip() for line in box.kubectl("exec", "client", "--", "ip", "route").stdout.splitlines()]
    assert route == ["default via 169.254.1.1 dev eth0", "169.254.1.1 dev eth0 scope link"]
    node = node_debug(box, "k8snet-worker", "ip", "route")
    server_block = ipaddress.ip_network(f"{server}/26", strict=False)
    assert f"{server_block} via 172.18.0.4 dev tunl0 proto bird onlink" in node
    client_block = ipaddress.ip_network(f"{client}/26", strict=False)
    assert f"blackhole {client_block} proto bird" in node
    veth = "cali" + hashlib.sha1(b"default.client").hexdigest()[:11]
    assert f"{client} dev {veth} scope link" in node
    tunl0 = node_debug(box, "k8snet-worker", "ip", "addr")
    assert f"inet {client_block.network_address}/32 scope global tunl0" in tunl0
    trace = box.kubectl("exec", "client", "--", "traceroute", "-n", "-q", "1", server).stdout
    assert [line.split()[1] for line in trace.splitlines()[1:]] == [
        "172.18.0.3", str(server_block.network_address), server]  # the node, the other node's tunl0, the pod


def test_the_choice_is_kept_and_a_reset_switches_it(box):
    assert process.admin(box.running, "status")["cni"] == "calico"
    process.down()
    refused = k8snet(box, "sandbox", "up", "--cni", "kindnet")  # a stopped sandbox: its store says calico
    assert refused.returncode == 1 and "made with the calico CNI plugin, not kindnet" in refused.stderr
    box.running = process.up(edge_http_port=0, edge_https_port=0)  # no --cni: the store's own
    assert "CNI plugin: Calico 3.32.1" in k8snet(box, "sandbox", "status").stdout
    bad = k8snet(box, "sandbox", "reset", "--cni", "flannel")
    assert bad.returncode == 2 and "invalid choice: 'flannel'" in bad.stderr
    use(box, "kindnet")
    assert process.admin(box.running, "status")["cni"] == "kindnet"
