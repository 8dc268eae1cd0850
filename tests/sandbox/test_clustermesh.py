"""Cilium Cluster Mesh between two sandboxes (east and west, both Cilium): the flat pod network across clusters,
identities that carry the cluster's name, each cluster's own policies, global Services with affinity and failover.

Upstream: docs.cilium.io Documentation/network/clustermesh/ (clustermesh.rst "Prerequisites", global-services.rst,
affinity.rst, policy.rst) and the ``policy-default-local-cluster`` default of Cilium 1.19+
(Documentation/operations/upgrade.rst). One pair of members for the module, meshed by the first tests."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from tests.conftest import KUBECTL, private_sandbox, wait_for

import k8snet
from k8snet.cni import clustermesh
from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
RTT_MS = 30

APP = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: shop}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {AGNHOST}
        args: ["netexec", "--http-port=8080"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations: {{service.cilium.io/global: "true"}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: shop, labels: {{app: client}}}}
spec:
  containers:
  - name: c
    image: {AGNHOST}
    args: ["pause"]
"""


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """east and west, both running Cilium, with the shop app in each; not meshed yet."""
    with private_sandbox(tmp_path_factory.mktemp("clustermesh"), cni="cilium", name="east") as env:
        try:
            process.up(seed=0, edge_http_port=0, edge_https_port=0, name="west", cni="cilium")
            east, west = k8snet.connect("east", start=False), k8snet.connect("west", start=False)
            for c in (east, west):
                c.apply(APP)
            for c in (east, west):
                wait_for(lambda c=c: len(ready_ips(env, c.context)) == 2 and client_ready(env, c.context), 60,
                         f"the shop app in {c.name}")
            yield env, east, west
        finally:
            process.down(name="west")


def kubectl(env, context: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return env.kubectl("--context", context, *args, check=check)


def pods(env, context: str) -> list[dict]:
    return json.loads(kubectl(env, context, "get", "pods", "-n", "shop", "-o", "json").stdout)["items"]


def ready_ips(env, context: str) -> dict[str, str]:
    """The web pods that are Running: name → IP."""
    return {p["metadata"]["name"]: p["status"]["podIP"] for p in pods(env, context)
            if p["metadata"]["name"].startswith("web-") and p["status"].get("phase") == "Running"
            and p["status"].get("podIP")}


def client_ready(env, context: str) -> bool:
    return any(p["metadata"]["name"] == "client" and p["status"].get("phase") == "Running" for p in pods(env, context))


def curl(env, context: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    return kubectl(env, context, "exec", "-n", "shop", "client", "--", "curl", "-sS", "-m", "2", *extra, url,
                   check=False)


def served(env, context: str, n: int = 24) -> list[str]:
    """Who answered ``n`` requests to http://web/hostname from the client."""
    script = "; ".join(["curl -sS -m 2 http://web/hostname; echo"] * n)
    out = kubectl(env, context, "exec", "-n", "shop", "client", "--", "sh", "-c", script).stdout
    return [line for line in out.splitlines() if line]


def connected(env, east, west):
    clustermesh.connect(east, west)
    clustermesh.wait_connected(east, west)


def test_connect_refuses_what_cilium_cli_refuses(mesh):
    env, east, west = mesh
    with pytest.raises(ValueError, match="both named 'east'"):
        clustermesh.connect(east, east)
    default = k8snet.connect(start=False) if process.status() else None
    if default is not None:  # the workbook's own cluster runs kindnet: no Cilium
        with pytest.raises(RuntimeError, match="does not run Cilium"):
            clustermesh.connect(default, east)


def test_each_member_has_ciliums_cluster_name_and_id_and_allocates_identities_in_its_range(mesh):
    """clustermesh.rst: "a unique human-readable name as well as a numeric cluster ID (1-255)"; numericidentity.go:
    a cluster with ID N allocates identities from N<<16."""
    env, east, west = mesh
    for c, cid in ((east, 1), (west, 2)):
        data = json.loads(kubectl(env, c.context, "get", "cm", "cilium-config", "-n", "kube-system",
                                  "-o", "json").stdout)["data"]
        assert (data["cluster-name"], data["cluster-id"]) == (c.name, str(cid))
        ids = json.loads(kubectl(env, c.context, "get", "ciliumidentities", "-o", "json").stdout)["items"]
        assert ids and all(cid << 16 <= int(i["metadata"]["name"]) < (cid + 1) << 16 for i in ids)
        assert all(i["security-labels"]["k8s:io.cilium.k8s.policy.cluster"] == c.name for i in ids)


def test_before_connecting_a_remote_pod_address_goes_nowhere(mesh):
    env, east, west = mesh
    ip = next(iter(ready_ips(env, west.context).values()))
    r = curl(env, east.context, f"http://{ip}:8080/hostname")
    assert r.returncode == 28, r


def test_connect_writes_each_cluster_into_the_others_secret_and_both_connect(mesh):
    """cilium-cli clustermesh connect: kube-system/cilium-clustermesh gets one key per remote cluster."""
    env, east, west = mesh
    connected(env, east, west)
    for c, other in ((east, "west"), (west, "east")):
        secret = json.loads(kubectl(env, c.context, "get", "secret", "cilium-clustermesh", "-n", "kube-system",
                                    "-o", "json").stdout)
        assert set(secret["data"]) == {other}
        assert base64.b64decode(secret["data"][other]).decode().startswith(
            f"endpoints:\n- https://{other}.mesh.cilium.io:2379\n")
        (status,) = clustermesh.status(c)
        assert status["cluster"] == other and status["connected"] and status["globalServices"] == 1


def test_a_pod_reaches_a_remote_pod_at_its_own_address_and_the_server_sees_the_clients(mesh):
    """intro.rst: pod IP routing across clusters, no NAT: agnhost's /clientip is the east client's pod IP."""
    env, east, west = mesh
    connected(env, east, west)
    name, ip = next(iter(ready_ips(env, west.context).items()))
    assert curl(env, east.context, f"http://{ip}:8080/hostname").stdout == name
    client_ip = next(p["status"]["podIP"] for p in pods(env, east.context) if p["metadata"]["name"] == "client")
    assert curl(env, east.context, f"http://{ip}:8080/clientip").stdout.split(":")[0] == client_ip


def test_netexecs_dial_reaches_a_remote_pod_too(mesh):
    """A caller that cannot wait for an answer (agnhost netexec's /dial, Go's http.Client) gets it in place."""
    env, east, west = mesh
    connected(env, east, west)
    name, ip = next(iter(ready_ips(env, west.context).items()))
    local = next(iter(ready_ips(env, east.context)))
    url = f"http://localhost:8080/dial?request=hostname&protocol=http&host={ip}&port=8080&tries=3"
    r = kubectl(env, east.context, "exec", "-n", "shop", local, "--", "curl", "-sS", url)
    assert json.loads(r.stdout) == {"responses": [name, name, name]}


def test_a_command_run_in_one_go_reaches_a_remote_pod_in_place(mesh):
    """netexec's /shell runs its command at once, inside the request (no step can wait there): its curl to a
    west pod gets the answer in place, as /dial does."""
    env, east, west = mesh
    connected(env, east, west)
    name, ip = next(iter(ready_ips(env, west.context).items()))
    local = next(iter(ready_ips(env, east.context).values()))
    r = curl(env, east.context, f"http://{local}:8080/shell?cmd=curl%20-s%20http://{ip}:8080/hostname")
    assert json.loads(r.stdout) == {"output": name}, r


def test_the_round_trip_between_the_clusters_shows_in_curls_times(mesh):
    env, east, west = mesh
    connected(env, east, west)
    clustermesh.set_latency(east, west, RTT_MS)
    try:
        ip = next(iter(ready_ips(env, west.context).values()))
        remote = curl(env, east.context, f"http://{ip}:8080/hostname", "-o", "/dev/null", "-w",
                      "%{time_connect} %{time_total}").stdout.split()
        local_ip = next(iter(ready_ips(env, east.context).values()))
        local = curl(env, east.context, f"http://{local_ip}:8080/hostname", "-o", "/dev/null", "-w",
                     "%{time_total}").stdout
        assert float(remote[0]) >= RTT_MS / 1000 and float(remote[1]) >= 2 * RTT_MS / 1000
        assert float(local) < RTT_MS / 1000
        assert clustermesh.latency_ms(west, east) == RTT_MS
    finally:
        clustermesh.set_latency(east, west, 0)


def test_a_global_service_balances_over_both_clusters_backends(mesh):
    """global-services.rst: the same Service annotated global in each cluster load-balances to pods in both."""
    env, east, west = mesh
    connected(env, east, west)
    answered = set(served(env, east.context, 30))
    assert answered <= set(ready_ips(env, east.context)) | set(ready_ips(env, west.context))
    assert answered & set(ready_ips(env, east.context)) and answered & set(ready_ips(env, west.context))


def test_affinity_local_keeps_traffic_home_and_fails_over_when_the_local_backends_go(mesh):
    """affinity.rst: "load-balance across healthy local backends, and only use remote endpoints if and only if
    all of local backends are not available or unhealthy"."""
    env, east, west = mesh
    connected(env, east, west)
    kubectl(env, east.context, "annotate", "svc", "web", "-n", "shop", "service.cilium.io/affinity=local")
    try:
        wait_for(lambda: set(served(env, east.context, 12)) <= set(ready_ips(env, east.context)), 20,
                 "east's requests to stay in east")
        kubectl(env, east.context, "scale", "deployment", "web", "-n", "shop", "--replicas=0")
        wait_for(lambda: not ready_ips(env, east.context), 30, "east's web pods to go")
        wait_for(lambda: set(served(env, east.context, 6)) <= set(ready_ips(env, west.context)), 30,
                 "east's requests to fail over to west")
    finally:
        kubectl(env, east.context, "scale", "deployment", "web", "-n", "shop", "--replicas=2")
        kubectl(env, east.context, "annotate", "svc", "web", "-n", "shop", "service.cilium.io/affinity-")
        wait_for(lambda: len(ready_ips(env, east.context)) == 2, 60, "east's web pods back")


def test_a_cluster_that_stops_sharing_keeps_its_backends_to_itself(mesh):
    """global-services.rst: service.cilium.io/shared="false" in west: east sees only its own backends."""
    env, east, west = mesh
    connected(env, east, west)
    kubectl(env, west.context, "annotate", "svc", "web", "-n", "shop", "service.cilium.io/shared=false")
    try:
        wait_for(lambda: clustermesh.status(east)[0]["globalServices"] == 0, 20, "west to stop sharing")
        assert set(served(env, east.context, 12)) <= set(ready_ips(env, east.context))
        answered_in_west = set(served(env, west.context, 30))
        assert answered_in_west & set(ready_ips(env, east.context)), "west still uses east's shared backends"
    finally:
        kubectl(env, west.context, "annotate", "svc", "web", "-n", "shop", "service.cilium.io/shared-")


NETPOL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
"""

CNP_FROM_EAST = """
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-from-east-clients, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: client, io.cilium.k8s.policy.cluster: east}
"""


NETPOL_FROM_EAST = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-clients, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client, io.cilium.k8s.policy.cluster: east}}
"""


def test_each_cluster_enforces_its_own_policies_and_selectors_stay_in_the_local_cluster(mesh):
    """policy.rst: policies are not distributed across clusters; with policy-default-local-cluster a selector that
    names no cluster selects local endpoints only, and io.cilium.k8s.policy.cluster selects a remote one."""
    env, east, west = mesh
    connected(env, east, west)
    ip = next(iter(ready_ips(env, west.context).values()))
    env.kubectl("--context", west.context, "apply", "-f", "-", input=NETPOL)
    try:
        assert curl(env, east.context, f"http://{ip}:8080/hostname").returncode == 28  # dropped at west's ingress
        assert curl(env, west.context, f"http://{ip}:8080/hostname").returncode == 0  # west's own client
        env.kubectl("--context", west.context, "apply", "-f", "-", input=CNP_FROM_EAST)
        assert curl(env, east.context, f"http://{ip}:8080/hostname").returncode == 0
    finally:
        kubectl(env, west.context, "delete", "networkpolicy,ciliumnetworkpolicy", "--all", "-n", "shop")


def test_a_networkpolicy_podselector_that_names_a_cluster_selects_that_clusters_pods(mesh):
    """Cilium's parseNetworkPolicyPeer (pkg/k8s/network_policy.go): the local cluster is added to a podSelector
    unless it names io.cilium.k8s.policy.cluster itself (isPodSelectorSelectingCluster); then it selects that
    cluster's pods, in the policy's namespace, and no longer the local ones."""
    env, east, west = mesh
    connected(env, east, west)
    ip = next(iter(ready_ips(env, west.context).values()))
    env.kubectl("--context", west.context, "apply", "-f", "-", input=NETPOL_FROM_EAST)
    try:
        assert curl(env, east.context, f"http://{ip}:8080/hostname").returncode == 0  # east's client is in
        assert curl(env, west.context, f"http://{ip}:8080/hostname").returncode == 28  # west's own client is not
    finally:
        kubectl(env, west.context, "delete", "networkpolicy", "--all", "-n", "shop")


def test_udp_across_clusters_is_refused_by_name(mesh):
    env, east, west = mesh
    connected(env, east, west)
    ip = next(iter(ready_ips(env, west.context).values()))
    r = kubectl(env, east.context, "exec", "-n", "shop", "client", "--", "/agnhost", "connect", f"{ip}:8080",
                "--protocol=udp", "--timeout=1s", check=False)
    assert r.returncode != 0


def test_a_clusterip_global_service_that_opts_in_gets_slices_the_load_balancer_leaves_out(mesh):
    """global-services.rst "Synchronizing Kubernetes EndpointSlice": on by default for headless global Services
    only, opt-in for others with service.cilium.io/global-sync-endpoint-slices: "true". The agents watch
    EndpointSlices with managed-by!=endpointslice-mesh-controller.cilium.io, so the backends are not doubled."""
    env, east, west = mesh
    connected(env, east, west)
    west_ips = sorted(ready_ips(env, west.context).values())

    def mesh_slice() -> list[str] | None:
        out = kubectl(env, east.context, "get", "endpointslice", "web-west", "-n", "shop", "-o", "json", check=False)
        if out.returncode != 0:
            return None
        body = json.loads(out.stdout)
        assert body["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-mesh-controller.cilium.io"
        return sorted(a for e in body["endpoints"] for a in e["addresses"])

    assert mesh_slice() is None  # not headless, not opted in
    kubectl(env, east.context, "annotate", "service", "web", "-n", "shop",
            "service.cilium.io/global-sync-endpoint-slices=true")
    try:
        assert wait_for(lambda: mesh_slice() == west_ips, 20, "east's slice of west's backends")
        answered = served(env, east.context, 40)
        names = set(ready_ips(env, east.context)) | set(ready_ips(env, west.context))
        assert set(answered) <= names and len(set(answered) & set(ready_ips(env, east.context))) >= 1
    finally:
        kubectl(env, east.context, "annotate", "service", "web", "-n", "shop",
                "service.cilium.io/global-sync-endpoint-slices-")
    assert wait_for(lambda: mesh_slice() is None, 20, "the opted-out slice to go")


def test_a_member_that_hangs_holds_no_loop_while_a_pods_curl_waits_for_it(mesh):
    """West stops answering (SIGSTOP): a curl in east to a west pod waits for west's verdict as a step of the
    exec, so east's API answers meanwhile (one learner's command cannot stall the cluster), and the curl ends
    with the connection timing out once the call gives up (RPC_TIMEOUT), as a dropped SYN does."""
    import os
    import signal

    env, east, west = mesh
    connected(env, east, west)
    ip = next(iter(ready_ips(env, west.context).values()))
    pid = process.status(name="west").pid
    os.kill(pid, signal.SIGSTOP)
    try:
        waiting = subprocess.Popen([KUBECTL, "--context", east.context, "exec", "-n", "shop", "client", "--", "sh",
                                    "-c", f"echo started; curl -sS -m 30 http://{ip}:8080/hostname"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "KUBECONFIG": str(env.kubeconfig), "HOME": str(env.home)})
        assert waiting.stdout is not None and waiting.stdout.readline() == "started\n"  # the curl comes next
        assert kubectl(env, east.context, "get", "pods", "-n", "shop", "-o", "name").stdout
        assert waiting.poll() is None  # east answered while the curl still waits for west
        out, err = waiting.communicate(timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert waiting.returncode == 28, (out, err)
    assert "curl: (28) Connection timed out after 30001 milliseconds" in err
    wait_for(lambda: curl(env, east.context, f"http://{ip}:8080/hostname").returncode == 0, 30,
             "west to answer again")


def test_disconnect_removes_the_remote_cluster_and_its_backends(mesh):
    env, east, west = mesh
    connected(env, east, west)
    clustermesh.disconnect(east, west)
    try:
        wait_for(lambda: not clustermesh.status(east) and not clustermesh.status(west), 20, "both to disconnect")
        assert set(served(env, east.context, 12)) <= set(ready_ips(env, east.context))
        ip = next(iter(ready_ips(env, west.context).values()))
        assert curl(env, east.context, f"http://{ip}:8080/hostname").returncode == 28
    finally:
        connected(env, east, west)


def test_hubble_in_each_cluster_shows_its_own_half_of_a_crossing_with_the_remote_identity(mesh):
    """Each cluster's Hubble sees the flow where its own agents handle it: east's the packet leaving its client for
    the tunnel, west's its arrival at the pod; the remote end carries its cluster's identity and labels
    (``io.cilium.k8s.policy.cluster``), as the imported ipcache has them."""
    from k8snet.cni import hubble

    env, east, west = mesh
    connected(env, east, west)
    name, ip = next(iter(ready_ips(env, west.context).items()))
    assert curl(env, east.context, f"http://{ip}:8080/hostname").stdout == name
    arrived = [f for f in hubble.flows(west, namespace="shop", last=None)
               if f.destination == f"shop/{name}" and f.source == "shop/client" and f.type == "to-endpoint"]
    assert arrived, "west's Hubble has no flow from east's client"
    assert "k8s:io.cilium.k8s.policy.cluster=east" in arrived[-1].source_labels
    assert 1 << 16 <= arrived[-1].source_identity < 2 << 16  # east's identity range (cluster ID 1)
    left = [f for f in hubble.flows(east, namespace="shop", last=None)
            if f.destination == f"shop/{name}" and f.type == "to-overlay"]
    assert left and left[-1].node.startswith("east-")
    assert not [f for f in hubble.flows(east, namespace="shop", last=None)
                if f.destination == f"shop/{name}" and f.type == "to-endpoint"]  # the arrival is west's to see


@pytest.mark.parametrize("request_", [None, "GET /", {"headers": "x"}, {"headers": {"a": 1}},
                                      {"headers": {}, "method": 7}, {"headers": {}, "body": "%%%"}])
def test_a_malformed_crossing_request_is_a_400_never_a_500(mesh, request_):
    """The members' own endpoint answers a body it cannot read with 400 and a Status, as kube-apiserver would."""
    import ssl
    import urllib.error
    import urllib.request

    env, east, west = mesh
    running = process.status(name="west")
    body = {"src": {"ip": "10.1.1.1"}, "dst": "10.2.1.1", "port": 8080, "request": request_}
    req = urllib.request.Request(f"{running.server}/k8snet/admin/clustermesh/http", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {running.token}",
                                                         "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context(cafile=str(running.ca_file)))
    assert caught.value.code == 400
    status = json.loads(caught.value.read())
    assert status["kind"] == "Status" and "request" in status["message"]
