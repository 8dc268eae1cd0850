"""``clusterset.local`` in one Cilium sandbox: CoreDNS configured as docs.cilium.io's Multi-Cluster Services API guide
says (CoreDNS v1.12.2 or later, a ClusterRole to list and watch ServiceImports, ``multicluster clusterset.local`` in
the kubernetes plugin's block of kube-system/coredns's Corefile), answering from ServiceImports and MCS
EndpointSlices as CoreDNS's multicluster support does (coredns/coredns plugin/kubernetes at v1.12.2), asked from a
pod with dig and nslookup, and a connection through the name. The DNS cases of sigs.k8s.io/mcs-api's conformance
suite (conformance/clusterip_service_dns.go, headless_service_dns.go, connectivity.go at v0.5.0) are re-expressed for
one cluster, each naming its upstream spec. One sandbox for the module; the first test takes CoreDNS from kubeadm's
configuration to a working one, step by step, and the others use it."""

from __future__ import annotations

import json
import re

import pytest
from tests.conftest import private_sandbox, wait_for

NS = "mcs"
CLUSTER = "east"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
APPS = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hello, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: hello}}}}
  template:
    metadata: {{labels: {{app: hello}}}}
    spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=42]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: hello, namespace: {NS}}}
spec: {{selector: {{app: hello}}, ports: [{{name: tcp, port: 42, protocol: TCP}}]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {NS}}}
spec:
  serviceName: db
  replicas: 2
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=42]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {NS}}}
spec: {{clusterIP: None, selector: {{app: db}}, ports: [{{name: tcp, port: 42, protocol: TCP}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: private, namespace: {NS}}}
spec: {{selector: {{app: hello}}, ports: [{{name: tcp, port: 42, protocol: TCP}}]}}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {{name: hello, namespace: {NS}}}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {{name: db, namespace: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}}}
spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
"""


def cilium_corefile(corefile: str, cluster_domain: str = "cluster.local",
                    clusterset_domain: str = "clusterset.local") -> str:
    """Cilium's CoreDNS auto-configuration (clustermesh-apiserver mcsapi-coredns-cfg updateCorefile), which is the
    guide's ``sed`` pair: the clusterset domain after every cluster domain, ``multicluster <clusterset>`` first in
    the kubernetes plugin's block."""
    corefile = corefile.replace(cluster_domain, f"{cluster_domain} {clusterset_domain}")
    return re.sub(r"(?m)^(\s*)kubernetes(.*)\{", lambda m: f"{m[1]}kubernetes{m[2]}{{\n{m[1]}   multicluster "
                  f"{clusterset_domain}", corefile)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("mcs-dns"), cni="cilium") as env:
        env.kubectl("-n", "kube-system", "patch", "configmap", "cilium-config", "--type", "merge", "-p",
                    json.dumps({"data": {"clustermesh-enable-mcs-api": "true", "cluster-name": CLUSTER}}))
        env.kubectl("create", "namespace", NS)
        env.kubectl("apply", "-f", "-", input=APPS)
        env.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
        wait_for(lambda: (si := json.loads(env.kubectl("-n", NS, "get", "svcim", "hello", "-o", "json",
                                                       check=False).stdout or "{}")) and si["spec"].get("ips"),
                 what="the hello ServiceImport's IP")
        yield env


def dig(box, *args: str) -> str:
    return box.kubectl("-n", NS, "exec", "client", "--", "dig", *args).stdout


def status(box, name: str) -> str:
    return re.search(r"status: (\w+)", dig(box, name))[1]


def import_ip(box, name: str) -> str:
    return box.kubectl_json("-n", NS, "get", "svcim", name)["spec"]["ips"][0]


def rollout(box) -> None:
    """``kubectl rollout restart deployment -n kube-system coredns`` (the guide's last step), until every CoreDNS pod
    runs the template's image."""
    # kubectl stamps the restart to the second and refuses a second one within it ("please wait"): wait it out
    restarted = wait_for(lambda: box.kubectl("-n", "kube-system", "rollout", "restart", "deployment", "coredns",
                                             check=False).returncode == 0, 5, "kubectl rollout restart to take")
    assert restarted
    box.kubectl("-n", "kube-system", "rollout", "status", "deployment", "coredns", "--timeout=60s")
    image = box.kubectl_json("-n", "kube-system", "get", "deploy", "coredns")["spec"]["template"]["spec"][
        "containers"][0]["image"]
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in box.kubectl_json(
        "-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns")["items"]
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")} == {image},
        what="CoreDNS pods on the new template")


def test_cilium_guides_coredns_configuration_step_by_step(box):
    name = f"hello.{NS}.svc.clusterset.local"
    assert status(box, name) == "NXDOMAIN"  # kubeadm's Corefile: clusterset.local is forwarded, and unknown
    cm = box.kubectl_json("-n", "kube-system", "get", "configmap", "coredns")
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa {" in cm["data"]["Corefile"]
    cm["data"]["Corefile"] = cilium_corefile(cm["data"]["Corefile"])
    box.kubectl("replace", "-f", "-", input=json.dumps(cm))
    rollout(box)
    assert status(box, name) == "NXDOMAIN"  # CoreDNS v1.12.0 has no multicluster option: it keeps kubeadm's file
    box.kubectl("-n", "kube-system", "set", "image", "deployment/coredns",
                "coredns=registry.k8s.io/coredns/coredns:v1.12.2")
    rollout(box)
    # the ServiceImport informer cannot list without RBAC: never synced, every name error is a server failure
    assert status(box, name) == "SERVFAIL"
    assert status(box, f"nothing.{NS}.svc.cluster.local") == "SERVFAIL"
    assert status(box, f"hello.{NS}.svc.cluster.local") == "NOERROR"
    box.kubectl("create", "clusterrole", "coredns-mcsapi", "--verb=list,watch",
                "--resource=serviceimports.multicluster.x-k8s.io")
    box.kubectl("create", "clusterrolebinding", "coredns-mcsapi", "--clusterrole=coredns-mcsapi",
                "--serviceaccount=kube-system:coredns")
    assert dig(box, "+short", name) == f"{import_ip(box, 'hello')}\n"
    assert status(box, f"nothing.{NS}.svc.cluster.local") == "NXDOMAIN"


def test_clusterset_name_of_a_clusterip_service_resolves_to_the_clusterset_ip(box):
    """conformance/clusterip_service_dns.go: "A DNS lookup of the <service>.<ns>.svc.clusterset.local domain for a
    ClusterIP service should resolve to the clusterset IP" and "A DNS SRV query of the <service>.<ns>.svc.
    clusterset.local domain for a ClusterIP service should return valid SRV records"."""
    ip = import_ip(box, "hello")
    out = box.kubectl("-n", NS, "exec", "client", "--", "nslookup", f"hello.{NS}.svc.clusterset.local").stdout
    assert f"Name:\thello.{NS}.svc.clusterset.local\nAddress: {ip}\n" in out
    assert dig(box, "+short", "SRV", f"hello.{NS}.svc.clusterset.local") == \
        f"0 100 42 hello.{NS}.svc.clusterset.local.\n"
    assert dig(box, "+short", "SRV", f"_tcp._tcp.hello.{NS}.svc.clusterset.local") == \
        f"0 100 42 hello.{NS}.svc.clusterset.local.\n"
    assert status(box, f"_udp._udp.hello.{NS}.svc.clusterset.local") == "NXDOMAIN"  # no such port


def test_cluster_local_name_still_resolves_to_the_local_service(box):
    """conformance/clusterip_service_dns.go: "DNS lookups of the <service>.<ns>.svc.cluster.local domain for a
    ClusterIP service should only resolve local services"; and the pod's search path has no clusterset.local
    (kubelet writes <ns>.svc.cluster.local svc.cluster.local cluster.local), so the short name stays local."""
    local = box.kubectl_json("-n", NS, "get", "svc", "hello")["spec"]["clusterIP"]
    assert dig(box, "+short", f"hello.{NS}.svc.cluster.local") == f"{local}\n"
    resolv = box.kubectl("-n", NS, "exec", "client", "--", "cat", "/etc/resolv.conf").stdout
    assert f"search {NS}.svc.cluster.local svc.cluster.local cluster.local" in resolv and "clusterset" not in resolv
    assert f"Address: {local}" in box.kubectl("-n", NS, "exec", "client", "--", "nslookup", "hello").stdout


def test_headless_clusterset_name_answers_every_ready_pod(box):
    """conformance/headless_service_dns.go: "A DNS query of the <service>.<ns>.svc.clusterset.local domain for a
    headless service should return the IPs of the backing pods" and "A DNS SRV query ... for a headless service
    should return valid SRV records" (one per endpoint, its host name first)."""
    pods = {p["metadata"]["name"]: p["status"]["podIP"] for p in box.kubectl_json(
        "-n", NS, "get", "pods", "-l", "app=db")["items"]}
    assert sorted(dig(box, "+short", f"db.{NS}.svc.clusterset.local").split()) == sorted(pods.values())
    srv = dig(box, "+short", "SRV", f"db.{NS}.svc.clusterset.local").splitlines()
    assert sorted(srv) == [f"0 50 42 {name}.{CLUSTER}.db.{NS}.svc.clusterset.local." for name in sorted(pods)]


def test_a_statefulset_pod_is_named_by_hostname_and_cluster(box):
    """conformance/headless_service_dns.go: "A DNS query of the <hostname>.<clusterid>.<service>.<ns>.svc.
    clusterset.local domain for a headless StatefulSet service should return the requested pod's endpoint
    address"; without the cluster id the name is not served (KEP-1645: no cluster-specific targeting by DNS
    alone, as Cilium's guide notes)."""
    ip = box.kubectl_json("-n", NS, "get", "pod", "db-0")["status"]["podIP"]
    assert dig(box, "+short", f"db-0.{CLUSTER}.db.{NS}.svc.clusterset.local") == f"{ip}\n"
    assert status(box, f"db-0.db.{NS}.svc.clusterset.local") == "NXDOMAIN"
    assert status(box, f"db-0.west.db.{NS}.svc.clusterset.local") == "NXDOMAIN"
    assert status(box, f"{CLUSTER}.db.{NS}.svc.clusterset.local") == "NXDOMAIN"


def test_a_service_that_is_not_exported_has_no_clusterset_name(box):
    """conformance/connectivity.go: "Connectivity to a service that is not exported should be inaccessible"."""
    assert status(box, f"private.{NS}.svc.clusterset.local") == "NXDOMAIN"
    assert status(box, f"{NS}.svc.clusterset.local") == "NOERROR"  # the namespace: NODATA
    assert status(box, "nowhere.svc.clusterset.local") == "NXDOMAIN"
    connect = box.kubectl("-n", NS, "exec", "client", "--", "/agnhost", "connect",
                          f"private.{NS}.svc.clusterset.local:42", "--timeout=1s", check=False)
    assert connect.returncode == 1 and connect.stderr.startswith("DNS:")


def test_an_exported_service_is_reachable_through_its_clusterset_name(box):
    """conformance/connectivity.go: "Connectivity to an exported ClusterIP service should be accessible through
    DNS": the ClusterSetIP is the derived Service's, load-balanced to the mirrored endpoints."""
    pods = {p["metadata"]["name"] for p in box.kubectl_json("-n", NS, "get", "pods", "-l", "app=hello")["items"]}
    assert box.kubectl("-n", NS, "exec", "client", "--", "/agnhost", "connect",
                       f"hello.{NS}.svc.clusterset.local:42", "--timeout=1s").returncode == 0
    served = box.kubectl("-n", NS, "exec", "client", "--", "curl", "-s",
                         f"http://hello.{NS}.svc.clusterset.local:42/hostname").stdout
    assert served in pods
