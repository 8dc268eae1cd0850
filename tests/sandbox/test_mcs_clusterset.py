"""The Multi-Cluster Services API across two meshed Cilium sandboxes (east, west): exports travel through the Cluster
Mesh, imports appear in every member, ``clusterset.local`` resolves, and connections reach the exporting cluster.

The cross-cluster cases of sigs.k8s.io/mcs-api's conformance suite (conformance/*.go at v0.5.0) are re-expressed
here, each naming its upstream spec; the one-cluster cases are in test_mcs_api.py and test_mcs_dns.py. Cilium's
implementation (pkg/clustermesh/mcsapi) decides what is not in the spec: derived Services, mirrored and mesh
EndpointSlices. One pair of members for the module, meshed, with MCS-API enabled as Cilium's guide says
(``k8snet.cni.clustermesh.enable_mcs_api``)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from tests.conftest import private_sandbox, wait_for

import k8snet
from k8snet.cni import clustermesh
from k8snet.sandbox import process

NS = "mcs"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
APPS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hello, namespace: {NS}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: hello}}}}
  template:
    metadata: {{labels: {{app: hello}}}}
    spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=8080]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: hello, namespace: {NS}}}
spec: {{selector: {{app: hello}}, ports: [{{name: http, port: 80, targetPort: 8080, protocol: TCP}}]}}
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
    spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [netexec, --http-port=8080]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {NS}}}
spec: {{clusterIP: None, selector: {{app: db}}, ports: [{{name: http, port: 8080, protocol: TCP}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}}}
spec: {{containers: [{{name: c, image: "{AGNHOST}", args: [pause]}}]}}
"""
EXPORT = """
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {{name: {name}, namespace: {ns}}}
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("mcs-clusterset"), cni="cilium", name="east") as env:
        try:
            process.up(seed=0, edge_http_port=0, edge_https_port=0, name="west", cni="cilium")
            east, west = k8snet.connect("east", start=False), k8snet.connect("west", start=False)
            for c in (east, west):
                clustermesh.enable_mcs_api(c)
                c.apply(APPS)
            for c in (east, west):
                kubectl(env, c, "-n", NS, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
            clustermesh.connect(east, west)
            clustermesh.wait_connected(east, west)
            yield env, east, west
        finally:
            process.down(name="west")


def kubectl(env, cluster, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    return env.kubectl("--context", cluster.context, *args, check=check, input=input)


def get(env, cluster, *args: str) -> dict | None:
    r = kubectl(env, cluster, "get", *args, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def export(env, cluster, name: str) -> None:
    kubectl(env, cluster, "apply", "-f", "-", input=EXPORT.format(name=name, ns=NS))


def unexport(env, cluster, name: str) -> None:
    kubectl(env, cluster, "delete", "serviceexport", name, "-n", NS, "--ignore-not-found")


def dig(env, cluster, *args: str) -> str:
    return kubectl(env, cluster, "exec", "-n", NS, "client", "--", "dig", *args).stdout


def status(env, cluster, name: str) -> str:
    return re.search(r"status: (\w+)", dig(env, cluster, name))[1]


def web_pods(env, cluster) -> set[str]:
    return {p["metadata"]["name"] for p in get(env, cluster, "pods", "-n", NS, "-l", "app=hello")["items"]}


def condition(obj: dict, kind: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def test_an_export_in_one_cluster_creates_a_serviceimport_in_the_other(mesh):
    """conformance/service_import.go "ServiceImport should be created for a ClusterIP service" (type ClusterSetIP,
    the Service's ports, ``status.clusters`` naming the exporting cluster) and "... headless service" (Headless)."""
    env, east, west = mesh
    export(env, west, "hello")
    export(env, west, "db")
    try:
        si = wait_for(lambda: get(env, east, "serviceimport", "hello", "-n", NS), 20, "hello's import in east")
        assert si["spec"]["type"] == "ClusterSetIP"
        assert [(p["port"], p["protocol"]) for p in si["spec"]["ports"]] == [(80, "TCP")]
        assert si["status"]["clusters"] == [{"cluster": "west"}]
        ips = wait_for(lambda: (get(env, east, "serviceimport", "hello", "-n", NS) or {}).get("spec", {}).get("ips"),
                       20, "hello's clusterset IP in east")
        assert ips and ips[0].startswith("172.20.1.")  # an address of east's own Service range
        db = wait_for(lambda: get(env, east, "serviceimport", "db", "-n", NS), 20, "db's import in east")
        assert db["spec"]["type"] == "Headless" and not db["spec"].get("ips")
    finally:
        unexport(env, west, "hello")
        unexport(env, west, "db")


def test_the_clusterset_name_resolves_to_the_import_and_reaches_the_exporting_cluster(mesh):
    """conformance/clusterip_service_dns.go (the clusterset IP) and connectivity.go "Connectivity to a service that
    is not exported should be inaccessible" / "... exported should be accessible": a pod of east reaches west's
    pods through ``hello.mcs.svc.clusterset.local``, which east has no pod for until it exports too."""
    env, east, west = mesh
    name = f"hello.{NS}.svc.clusterset.local"
    assert status(env, east, name) == "NXDOMAIN"  # not exported anywhere
    export(env, west, "hello")
    try:
        ips = wait_for(lambda: (get(env, east, "serviceimport", "hello", "-n", NS) or {}).get("spec", {}).get("ips"),
                       20, "the clusterset IP")
        wait_for(lambda: dig(env, east, "+short", name).strip() == ips[0], 20, "the clusterset name in east's DNS")
        answered = wait_for(lambda: kubectl(env, east, "exec", "-n", NS, "client", "--", "curl", "-sS", "-m", "2",
                                            f"http://{name}/hostname", check=False).stdout, 20, "an answer")
        assert answered in web_pods(env, west)
    finally:
        unexport(env, west, "hello")


def test_a_headless_export_resolves_to_the_remote_pods_through_mesh_endpointslices(mesh):
    """conformance/headless_service_dns.go: the clusterset name of a headless service answers its pods' addresses,
    and ``<hostname>.<cluster>.<svc>.<ns>.svc.clusterset.local`` one of them; Cilium syncs the remote endpoints of a
    headless global Service as EndpointSlices labelled with the source cluster (global-services.rst)."""
    env, east, west = mesh
    export(env, west, "db")
    try:
        si = wait_for(lambda: get(env, east, "serviceimport", "db", "-n", NS), 20, "db's import")
        derived = si["metadata"]["annotations"]["multicluster.kubernetes.io/derived-service"]
        west_ips = sorted(p["status"]["podIP"] for p in get(env, west, "pods", "-n", NS, "-l", "app=db")["items"])

        def mesh_slice():
            slices = get(env, east, "endpointslices", "-n", NS, "-l",
                         "multicluster.kubernetes.io/source-cluster=west")["items"]
            return next((s for s in slices if s["metadata"]["labels"].get("kubernetes.io/service-name") == derived),
                        None)

        found = wait_for(mesh_slice, 20, "west's endpoints as an EndpointSlice in east")
        assert found["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-mesh-controller.cilium.io"
        assert found["metadata"]["labels"]["multicluster.kubernetes.io/service-name"] == "db"
        assert sorted(e["addresses"][0] for e in found["endpoints"]) == west_ips
        wait_for(lambda: sorted(dig(env, east, "+short", f"db.{NS}.svc.clusterset.local").split()) == west_ips, 20,
                 "the headless clusterset name")
        assert dig(env, east, "+short", f"db-0.west.db.{NS}.svc.clusterset.local").split() == \
            [next(p["status"]["podIP"] for p in get(env, west, "pods", "-n", NS)["items"]
                  if p["metadata"]["name"] == "db-0")]
    finally:
        unexport(env, west, "db")


def test_unexporting_removes_the_import_and_the_name(mesh):
    """conformance/service_import.go "ServiceImport should be removed when the ServiceExport is deleted"."""
    env, east, west = mesh
    export(env, west, "hello")
    wait_for(lambda: get(env, east, "serviceimport", "hello", "-n", NS), 20, "the import")
    unexport(env, west, "hello")
    wait_for(lambda: get(env, east, "serviceimport", "hello", "-n", NS) is None, 20, "the import to go")
    wait_for(lambda: status(env, east, f"hello.{NS}.svc.clusterset.local") == "NXDOMAIN", 20, "the name to go")


def test_exports_from_both_clusters_merge_and_a_conflict_is_reported_on_the_newer(mesh):
    """KEP-1645 "Constraints and Conflict Resolution": the oldest export wins, and every export says whether it
    conflicts (Cilium: Conflict True with the field that disagrees)."""
    env, east, west = mesh
    export(env, west, "hello")
    kubectl(env, east, "patch", "service", "hello", "-n", NS, "--type", "merge", "-p",
            json.dumps({"spec": {"sessionAffinity": "ClientIP"}}))
    created = get(env, west, "serviceexport", "hello", "-n", NS)["metadata"]["creationTimestamp"]
    # creation times are to the second, and a tie goes to the first cluster by name (east): make west's older
    wait_for(lambda: kubectl(env, east, "get", "--raw", "/version").returncode == 0 and
             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > created, 5, "the next second")
    export(env, east, "hello")
    try:
        si = wait_for(lambda: (s := get(env, east, "serviceimport", "hello", "-n", NS)) and
                      len(s.get("status", {}).get("clusters") or []) == 2 and s, 20, "both clusters in the import")
        assert si["status"]["clusters"] == [{"cluster": "west"}, {"cluster": "east"}]  # oldest first
        assert si["spec"]["sessionAffinity"] == "None"  # west's, the oldest
        newer = wait_for(lambda: (e := get(env, east, "serviceexport", "hello", "-n", NS)) and
                         condition(e, "Conflict").get("status") == "True" and e, 20, "east's Conflict")
        assert "sessionAffinity" in condition(newer, "Conflict")["message"]
        older = get(env, west, "serviceexport", "hello", "-n", NS)
        wait_for(lambda: condition(get(env, west, "serviceexport", "hello", "-n", NS), "Conflict").get("status")
                 == "True", 20, "west's export to see the conflict too")
        assert older is not None
    finally:
        unexport(env, east, "hello")
        unexport(env, west, "hello")
        kubectl(env, east, "patch", "service", "hello", "-n", NS, "--type", "merge", "-p",
                json.dumps({"spec": {"sessionAffinity": "None"}}))


def test_a_clusterset_name_exported_by_both_is_served_by_either_and_fails_over(mesh):
    """Exported from both clusters, the clusterset IP balances over both; when east loses its pods, west serves."""
    env, east, west = mesh
    name = f"hello.{NS}.svc.clusterset.local"
    export(env, west, "hello")
    export(env, east, "hello")
    try:
        wait_for(lambda: len(((get(env, east, "serviceimport", "hello", "-n", NS) or {}).get("status") or {}).get(
            "clusters") or []) == 2, 20, "both clusters in the import")

        def served(n: int = 16) -> set[str]:
            script = "; ".join([f"curl -sS -m 2 http://{name}/hostname; echo"] * n)
            out = kubectl(env, east, "exec", "-n", NS, "client", "--", "sh", "-c", script, check=False).stdout
            return {line for line in out.splitlines() if line}

        wait_for(lambda: served() & web_pods(env, west) and served() & web_pods(env, east), 30,
                 "answers from both clusters")
        kubectl(env, east, "scale", "deployment", "hello", "-n", NS, "--replicas=0")
        wait_for(lambda: not web_pods(env, east), 30, "east's pods to go")
        wait_for(lambda: served(6) <= web_pods(env, west), 30, "west to serve every request")
    finally:
        kubectl(env, east, "scale", "deployment", "hello", "-n", NS, "--replicas=2")
        unexport(env, east, "hello")
        unexport(env, west, "hello")
