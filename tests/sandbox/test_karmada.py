"""A Karmada control plane in the sandbox (``k8snet sandbox up --name karmada --karmada``) with east and west
joined as Push clusters (k8snet.federation.join, as ``karmadactl join``): PropagationPolicies place a Deployment
and its Service across the set through the real chain (detector → ResourceBinding → scheduler → Works in
``karmada-es-<cluster>`` → the members' own APIs → status back), all seen through kubectl and the Python client.
One Karmada plane and two members for the module."""

from __future__ import annotations

import json

import pytest
from tests.conftest import private_sandbox, wait_for

import k8snet
from k8snet import federation
from k8snet.sandbox import process
from k8snet.sandbox.karmada import division

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
KARMADA = "k8snet-karmada"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """east (the private sandbox), west, and the Karmada plane, with east and west joined."""
    with private_sandbox(tmp_path_factory.mktemp("karmada"), name="east") as env:
        try:
            process.up(seed=0, edge_http_port=0, edge_https_port=0, name="west")
            process.up(seed=0, edge_http_port=0, edge_https_port=0, name="karmada", karmada=True)
            karmada = k8snet.connect("karmada", start=False)
            for member in ("east", "west"):
                federation.join(karmada, k8snet.connect(member, start=False))
            yield env
        finally:
            process.down(name="karmada")
            process.down(name="west")


def kubectl(env, context: str, *args: str, check: bool = True, input: str | None = None):
    return env.kubectl("--context", context, *args, check=check, input=input)


def kjson(env, context: str, *args: str) -> dict:
    return json.loads(kubectl(env, context, *args, "-o", "json").stdout)


def app(name: str, replicas: int, weights: dict[str, int] | None, exclude: tuple[str, ...] = (),
        namespace: str = "default") -> str:
    """A Deployment, its Service and a PropagationPolicy selecting both (Divided by static weights)."""
    rules = "".join(f"        - targetCluster: {{clusterNames: [{c}]}}\n          weight: {w}\n"
                    for c, w in (weights or {}).items())
    excluded = f"      exclude: [{', '.join(exclude)}]\n" if exclude else ""
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}, labels: {{app: {name}}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - {{name: web, image: "{AGNHOST}", args: [netexec, --http-port=8080]}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  resourceSelectors:
  - {{apiVersion: apps/v1, kind: Deployment, name: {name}}}
  - {{apiVersion: v1, kind: Service, name: {name}}}
  placement:
    clusterAffinity:
      clusterNames: [east, west]
{excluded}    replicaScheduling:
      replicaSchedulingType: Divided
      weightPreference:
        staticWeightList:
{rules}"""


def member_replicas(env, name: str, namespace: str = "default") -> dict[str, int | None]:
    """Each member's copy of the Deployment: its spec.replicas, None where there is none."""
    out: dict[str, int | None] = {}
    for member in ("east", "west"):
        done = kubectl(env, f"k8snet-{member}", "-n", namespace, "get", "deployment", name, "-o",
                       "jsonpath={.spec.replicas}", check=False)
        out[member] = int(done.stdout) if done.returncode == 0 else None
    return out


def test_the_karmada_apiserver_has_no_nodes_and_serves_karmadas_kinds_only(box):
    assert kubectl(box, KARMADA, "get", "nodes", "-o", "name").stdout == ""
    resources = kubectl(box, KARMADA, "api-resources", "-o", "name").stdout.split()
    for kind in ("propagationpolicies.policy.karmada.io", "clusterpropagationpolicies.policy.karmada.io",
                 "resourcebindings.work.karmada.io", "works.work.karmada.io", "clusters.cluster.karmada.io"):
        assert kind in resources
    done = kubectl(box, KARMADA, "apply", "-f", "-", check=False, input="""apiVersion: policy.karmada.io/v1alpha1
kind: OverridePolicy
metadata: {name: o}
spec: {resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]}
""")
    assert done.returncode != 0 and 'no matches for kind "OverridePolicy"' in done.stderr
    assert not kjson(box, KARMADA, "get", "serviceaccounts", "-n", "default")["items"]  # no serviceaccount controller


def test_join_registers_each_member_as_a_ready_push_cluster_with_its_credentials(box):
    table = kubectl(box, KARMADA, "get", "clusters").stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "MODE", "READY", "AGE"]
    wait_for(lambda: all(c["status"]["conditions"][0]["status"] == "True"
                         for c in kjson(box, KARMADA, "get", "clusters")["items"] if c.get("status")) and
             len(kjson(box, KARMADA, "get", "clusters")["items"]) == 2, what="both clusters Ready")
    east = kjson(box, KARMADA, "get", "cluster", "east")
    assert east["spec"]["syncMode"] == "Push"
    assert east["spec"]["apiEndpoint"] == process.status(name="east").server
    assert east["spec"]["secretRef"] == {"namespace": "karmada-cluster", "name": "east"}
    assert east["status"]["kubernetesVersion"].startswith("v1.") and east["status"]["nodeSummary"] == {
        "totalNum": 3, "readyNum": 3}
    secret = kjson(box, KARMADA, "-n", "karmada-cluster", "get", "secret", "east")
    assert set(secret["data"]) == {"caBundle", "token"}
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "Cluster"
    for ns in ("karmada-es-east", "karmada-es-west"):  # the cluster controller's execution spaces
        kubectl(box, KARMADA, "get", "namespace", ns)
    crb = kjson(box, "k8snet-east", "get", "clusterrolebinding", "karmada-controller-manager:karmada-east")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "karmada-east", "namespace": "karmada-cluster"}]
    with pytest.raises(RuntimeError, match="already exists"):
        federation.join(k8snet.connect("karmada", start=False), k8snet.connect("east", start=False))


def test_divided_by_static_weights_2_to_1_places_two_replicas_on_east_and_one_on_west(box):
    kubectl(box, KARMADA, "apply", "-f", "-", input=app("web", 3, {"east": 2, "west": 1}))
    assert wait_for(lambda: member_replicas(box, "web") == {"east": 2, "west": 1} or None,
                    what="2 replicas on east and 1 on west")
    rb = kjson(box, KARMADA, "get", "resourcebinding", "web-deployment")
    assert rb["spec"]["clusters"] == [{"name": "east", "replicas": 2}, {"name": "west", "replicas": 1}]
    assert rb["spec"]["replicas"] == 3 and rb["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert federation.placement(k8snet.connect("karmada", start=False), "Deployment", "web") == {"east": 2, "west": 1}
    work = division.work_name("Deployment", "web", "default")
    manifest = kjson(box, KARMADA, "-n", "karmada-es-east", "get", "work", work)["spec"]["workload"]["manifests"][0]
    assert manifest["spec"]["replicas"] == 2 and manifest["metadata"]["labels"]["karmada.io/managed"] == "true"
    assert "uid" not in manifest["metadata"] and "status" not in manifest
    east = kjson(box, "k8snet-east", "get", "deployment", "web")
    assert east["metadata"]["annotations"]["work.karmada.io/name"] == work
    assert east["metadata"]["annotations"]["resourcebinding.karmada.io/name"] == "web-deployment"
    # status flows back: the Work's manifest status, the binding's aggregatedStatus, the template's own status
    template = wait_for(lambda: (d := kjson(box, KARMADA, "get", "deployment", "web")).get("status", {}).get(
        "readyReplicas") == 3 and d, timeout=60, what="the template's aggregated status")
    assert template["status"]["replicas"] == 3 and template["status"]["availableReplicas"] == 3
    rb = kjson(box, KARMADA, "get", "resourcebinding", "web-deployment")
    assert [(i["clusterName"], i["applied"], i["health"], i["status"]["readyReplicas"])
            for i in rb["status"]["aggregatedStatus"]] == [("east", True, "Healthy", 2), ("west", True, "Healthy", 1)]
    conditions = {c["type"]: (c["status"], c["reason"]) for c in rb["status"]["conditions"]}
    assert conditions == {"Scheduled": ("True", "Success"), "FullyApplied": ("True", "FullyAppliedSuccess")}
    events = kubectl(box, KARMADA, "get", "events", "--field-selector", "involvedObject.kind=Deployment").stdout
    assert "ScheduleBindingSucceed" in events and "Result: {east:2, west:1}" in events


def test_the_service_goes_to_every_cluster_and_gets_each_members_own_cluster_ip(box):
    rb = wait_for(lambda: kjson(box, KARMADA, "get", "resourcebinding", "web-service").get("spec", {}).get(
        "clusters"), what="the Service scheduled")
    assert rb == [{"name": "east"}, {"name": "west"}]  # no replicas: every candidate
    ips = {m: wait_for(lambda m=m: kubectl(box, f"k8snet-{m}", "get", "service", "web", "-o",
                                           "jsonpath={.spec.clusterIP}", check=False).stdout, what=f"web on {m}")
           for m in ("east", "west")}
    assert ips["east"].startswith("172.20.1.") and ips["west"].startswith("172.20.2.")
    template_ip = kjson(box, KARMADA, "get", "service", "web")["spec"]["clusterIP"]
    assert template_ip not in ips.values()  # Karmada prunes the template's own clusterIP


def test_changing_the_weights_moves_replicas_and_excluding_a_cluster_removes_its_copy(box):
    kubectl(box, KARMADA, "apply", "-f", "-", input=app("web", 3, {"east": 1, "west": 2}))
    assert wait_for(lambda: member_replicas(box, "web") == {"east": 1, "west": 2} or None, what="1:2")
    kubectl(box, KARMADA, "apply", "-f", "-", input=app("web", 3, {"east": 1, "west": 2}, exclude=("west",)))
    assert wait_for(lambda: member_replicas(box, "web") == {"east": 3, "west": None} or None,
                    what="all three on east, none left on west")
    assert kjson(box, KARMADA, "get", "resourcebinding", "web-deployment")["spec"]["clusters"] == [
        {"name": "east", "replicas": 3}]
    kubectl(box, KARMADA, "scale", "deployment", "web", "--replicas=4")  # a scale reschedules
    assert wait_for(lambda: member_replicas(box, "web") == {"east": 4, "west": None} or None, what="4 on east")


def test_deleting_the_template_removes_every_members_copy(box):
    kubectl(box, KARMADA, "delete", "deployment", "web")
    assert wait_for(lambda: member_replicas(box, "web") == {"east": None, "west": None} or None,
                    what="the copies gone")
    wait_for(lambda: not kubectl(box, KARMADA, "get", "resourcebinding", "web-deployment", check=False).stdout,
             what="the binding gone")


def test_a_new_namespace_is_created_on_every_member(box):
    kubectl(box, KARMADA, "create", "namespace", "shop")
    for member in ("east", "west"):
        wait_for(lambda m=member: kubectl(box, f"k8snet-{m}", "get", "namespace", "shop", check=False).returncode == 0,
                 what=f"namespace shop on {member}")
    labels = kjson(box, "k8snet-east", "get", "namespace", "shop")["metadata"]["labels"]
    assert labels["karmada.io/managed"] == "true"


def test_no_cluster_fits_an_affinity_naming_no_member(box):
    policy = app("lost", 1, {"east": 1}).replace("clusterNames: [east, west]", "clusterNames: [nowhere]")
    kubectl(box, KARMADA, "apply", "-f", "-", input=policy)
    cond = wait_for(lambda: next((c for c in kjson(box, KARMADA, "get", "resourcebinding", "lost-deployment").get(
        "status", {}).get("conditions", []) if c["type"] == "Scheduled"), None), what="the Scheduled condition")
    assert (cond["status"], cond["reason"]) == ("False", "NoClusterFit")
    assert cond["message"] == ("0/2 clusters are available: 2 cluster(s) did not match the placement cluster "
                               "affinity constraint.")


def test_what_the_sandbox_does_not_schedule_is_warned_at_apply_and_refused_by_name(box):
    policy = app("dyn", 3, None).replace("""      weightPreference:
        staticWeightList:
""", """      weightPreference:
        dynamicWeight: AvailableReplicas
""")
    done = kubectl(box, KARMADA, "apply", "-f", "-", input=policy)
    assert "Warning: not emulated by the k8snet sandbox's Karmada: placement.replicaScheduling.weightPreference." \
           "dynamicWeight" in done.stderr
    cond = wait_for(lambda: next((c for c in kjson(box, KARMADA, "get", "resourcebinding", "dyn-deployment").get(
        "status", {}).get("conditions", []) if c["type"] == "Scheduled"), None), what="the Scheduled condition")
    assert (cond["status"], cond["reason"]) == ("False", "SchedulerError") and "dynamicWeight" in cond["message"]
    events = kubectl(box, KARMADA, "get", "events", "--field-selector", "reason=ScheduleBindingFailed").stdout
    assert "Warning" in events and "dynamicWeight" in events
    assert member_replicas(box, "dyn") == {"east": None, "west": None}


def test_an_object_karmada_does_not_manage_is_not_overwritten(box):
    """conflictResolution Abort (the default): objectWatcher.allowUpdate refuses a member's own object."""
    kubectl(box, "k8snet-west", "create", "deployment", "mine", f"--image={AGNHOST}", "--replicas=1")
    kubectl(box, KARMADA, "apply", "-f", "-", input=app("mine", 2, {"west": 1}))
    work = division.work_name("Deployment", "mine", "default")
    cond = wait_for(lambda: next((c for c in kjson(box, KARMADA, "-n", "karmada-es-west", "get", "work", work).get(
        "status", {}).get("conditions", []) if c["type"] == "Applied"), None)
        if kubectl(box, KARMADA, "-n", "karmada-es-west", "get", "work", work, check=False).returncode == 0 else None,
        what="the Applied condition")
    assert (cond["status"], cond["reason"]) == ("False", "AppliedFailed")
    assert "already exists in the cluster west" in cond["message"] and "Karmada will not manage" in cond["message"]
    assert member_replicas(box, "mine")["west"] == 1


def test_a_karmada_plane_is_not_restarted_as_an_ordinary_cluster(box):
    with pytest.raises(RuntimeError, match="running with --karmada"):
        process.up(name="karmada", karmada=False)


def test_a_cluster_propagation_policy_duplicates_a_config_map_and_warns_for_cluster_scoped_kinds(box):
    done = kubectl(box, KARMADA, "apply", "-f", "-", input="""apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {color: blue}
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: everywhere}
spec:
  resourceSelectors:
  - {apiVersion: v1, kind: ConfigMap, name: settings}
  - {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: viewer}
""")
    assert "Warning: not emulated by the k8snet sandbox's Karmada: ClusterResourceBinding (the cluster-scoped " \
           "ClusterRole" in done.stderr
    for member in ("east", "west"):  # no replicaScheduling: Duplicated, to every cluster
        data = wait_for(lambda m=member: kubectl(box, f"k8snet-{m}", "get", "configmap", "settings", "-o",
                                                 "jsonpath={.data.color}", check=False).stdout,
                        what=f"settings on {member}")
        assert data == "blue"
    template = kjson(box, KARMADA, "get", "configmap", "settings")["metadata"]
    assert template["annotations"]["clusterpropagationpolicy.karmada.io/name"] == "everywhere"


def test_deleting_a_policy_releases_its_templates_and_keeps_the_binding(box):
    """HandlePropagationPolicyDeletion: the finalizer karmada-webhook added goes once the claim labels are off."""
    policy = kjson(box, KARMADA, "get", "propagationpolicy", "dyn")
    assert "karmada.io/propagation-policy-controller" in policy["metadata"]["finalizers"]
    kubectl(box, KARMADA, "delete", "propagationpolicy", "dyn", "--timeout=30s")
    labels = kjson(box, KARMADA, "get", "deployment", "dyn")["metadata"].get("labels") or {}
    assert "propagationpolicy.karmada.io/permanent-id" not in labels
    rb = kjson(box, KARMADA, "get", "resourcebinding", "dyn-deployment")["metadata"]
    assert "propagationpolicy.karmada.io/permanent-id" not in (rb.get("labels") or {})


def test_status_describes_a_karmada_plane_without_a_pod_network(box):
    """A Karmada control plane has no nodes: ``sandbox status`` says what it is, and names no CNI plugin."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "k8snet.cli", "sandbox", "status", "--name", "karmada"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}).stdout
    assert "Karmada control plane" in out and "CNI plugin" not in out
