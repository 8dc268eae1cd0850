"""DaemonSets (apps/v1) through kubectl and the kubernetes client, as pkg/controller/daemon runs them: one pod per
eligible node (kind's control plane is tainted ``node-role.kubernetes.io/control-plane:NoSchedule``), pods named
``<ds>-<5 chars>`` and pinned to their node by node affinity, RollingUpdate (maxUnavailable 1) and OnDelete, the
ControllerRevisions ``kubectl rollout history|undo`` read, and the status ``kubectl rollout status ds/…`` waits on.
"""

from __future__ import annotations

import re
import uuid

from tests.conftest import wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
WORKERS = ["k8snet-worker", "k8snet-worker2"]
NODES = ["k8snet-control-plane", *WORKERS]


def daemonset(ns: str, name: str = "agent", image: str = AGNHOST, spec: str = "", pod_spec: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
{spec}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{pod_spec}
      containers: [{{name: agent, image: "{image}", args: [netexec]}}]
"""


def pods_of(sandbox, ns: str, name: str = "agent") -> list[dict]:
    items = sandbox.kubectl_json("-n", ns, "get", "pods", "-l", f"app={name}")["items"]
    return sorted((p for p in items if not p["metadata"].get("deletionTimestamp")),
                  key=lambda p: p["spec"].get("nodeName", ""))


def test_one_pod_on_each_worker_not_on_the_tainted_control_plane(sandbox, ns):
    """pkg/controller/daemon NodeShouldRunDaemonPod: the control plane's NoSchedule taint is not tolerated."""
    sandbox.kubectl("apply", "-f", "-", input=daemonset(ns))
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s")
    pods = pods_of(sandbox, ns)
    assert [p["spec"]["nodeName"] for p in pods] == WORKERS
    ds = sandbox.kubectl_json("-n", ns, "get", "ds", "agent")
    for pod in pods:
        assert re.fullmatch(r"agent-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
        assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                                       "uid": ds["metadata"]["uid"], "controller": True,
                                                       "blockOwnerDeletion": True}]
        assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                    "values": [pod["spec"]["nodeName"]]}]}]}}}
        # util.AddOrUpdateDaemonPodTolerations, so DefaultTolerationSeconds adds none of its own
        assert [(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]] == [
            ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
        assert set(pod["metadata"]["labels"]) == {"app", "controller-revision-hash", "pod-template-generation"}
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert ds["status"] == {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberAvailable": 2,
                            "numberMisscheduled": 0, "numberReady": 2, "observedGeneration": 1,
                            "updatedNumberScheduled": 2}
    row = sandbox.kubectl("-n", ns, "get", "ds", "agent", "--no-headers").stdout.split()
    assert row[:7] == ["agent", "2", "2", "2", "2", "2", "<none>"]


def test_tolerating_the_control_plane_taint_runs_on_all_three_nodes(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=daemonset(ns, pod_spec="""      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}"""))
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s")
    assert [p["spec"]["nodeName"] for p in pods_of(sandbox, ns)] == NODES


def test_rolling_update_history_and_undo(sandbox, ns):
    """RollingUpdate replaces one pod at a time; each template is a ControllerRevision; undo brings one back as the
    newest revision (update.go constructHistory renumbers it)."""
    sandbox.kubectl("apply", "-f", "-", input=daemonset(ns))
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s")
    sandbox.kubectl("-n", ns, "set", "image", "ds/agent", "agent=registry.k8s.io/e2e-test-images/agnhost:2.53")
    out = sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s").stdout
    assert out.rstrip().endswith('daemon set "agent" successfully rolled out')
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns)} == {
        "registry.k8s.io/e2e-test-images/agnhost:2.53"}
    history = sandbox.kubectl("-n", ns, "rollout", "history", "ds/agent").stdout
    assert re.search(r"REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>", history), history
    revisions = sandbox.kubectl("-n", ns, "get", "controllerrevisions", "--no-headers").stdout.splitlines()
    assert sorted(line.split()[1:3] for line in revisions) == [["daemonset.apps/agent", "1"],
                                                                ["daemonset.apps/agent", "2"]]
    sandbox.kubectl("-n", ns, "rollout", "undo", "ds/agent")
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns)} == {AGNHOST}
    assert re.search(r"\n2\s+<none>\n3\s+<none>", sandbox.kubectl("-n", ns, "rollout", "history", "ds/agent").stdout)
    ds = sandbox.kubectl_json("-n", ns, "get", "ds", "agent")
    assert ds["metadata"]["generation"] == 3
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "3"
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in pods_of(sandbox, ns)} == {"3"}


def test_max_surge_starts_the_new_pod_before_the_old_one_goes(sandbox, ns):
    """update.go rollingUpdate with maxSurge: a node runs its new pod beside the old one until the new one is
    available, so each node's update begins with a create (with maxUnavailable, with a delete)."""
    sandbox.kubectl("apply", "-f", "-", input=daemonset(
        ns, spec="  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"))
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s")
    sandbox.kubectl("-n", ns, "set", "image", "ds/agent", "agent=registry.k8s.io/e2e-test-images/agnhost:2.53")
    sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=60s")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns)} == {
        "registry.k8s.io/e2e-test-images/agnhost:2.53"}
    assert len(pods_of(sandbox, ns)) == 2
    events = sandbox.kubectl_json("-n", ns, "get", "events", "--field-selector", "involvedObject.kind=DaemonSet")
    reasons = [e["reason"] for e in sorted(events["items"], key=lambda e: e["metadata"]["name"])]
    assert reasons[2:] == ["SuccessfulCreate", "SuccessfulDelete", "SuccessfulCreate", "SuccessfulDelete"]


def test_on_delete_replaces_only_the_pods_deleted(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=daemonset(ns, spec="  updateStrategy: {type: OnDelete}"))
    wait_for(lambda: len(pods_of(sandbox, ns)) == 2, what="two daemon pods")
    sandbox.kubectl("-n", ns, "set", "image", "ds/agent", "agent=registry.k8s.io/e2e-test-images/agnhost:2.53")
    wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "ds", "agent")["status"]["observedGeneration"] == 2,
             what="the new generation observed")
    first, second = pods_of(sandbox, ns)
    assert first["spec"]["containers"][0]["image"] == AGNHOST
    sandbox.kubectl("-n", ns, "delete", "pod", first["metadata"]["name"])

    def replaced():
        pods = pods_of(sandbox, ns)
        return len(pods) == 2 and {p["metadata"]["name"] for p in pods} != {first["metadata"]["name"],
                                                                             second["metadata"]["name"]} and pods

    pods = wait_for(replaced, what="the deleted pod replaced")
    images = {p["spec"]["nodeName"]: p["spec"]["containers"][0]["image"] for p in pods}
    assert images == {first["spec"]["nodeName"]: "registry.k8s.io/e2e-test-images/agnhost:2.53",
                      second["spec"]["nodeName"]: AGNHOST}
    status = sandbox.kubectl_json("-n", ns, "get", "ds", "agent")["status"]
    assert (status["desiredNumberScheduled"], status.get("updatedNumberScheduled")) == (2, 1)
    proc = sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", check=False)
    assert proc.returncode != 0 and "rollout status is only available for RollingUpdate strategy type" in proc.stderr


def test_node_labels_decide_which_nodes_run_a_pod(sandbox, ns):
    """A nodeSelector the nodes do not match: no pod; labelling a node adds its pod, unlabelling removes it."""
    key = "k8snet-test-" + uuid.uuid4().hex[:6]
    sandbox.kubectl("apply", "-f", "-", input=daemonset(ns, pod_spec=f"      nodeSelector: {{{key}: 'yes'}}"))
    wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "ds", "agent").get("status", {}).get(
        "observedGeneration") == 1, what="the DaemonSet observed")
    assert pods_of(sandbox, ns) == []
    try:
        sandbox.kubectl("label", "node", "k8snet-worker2", f"{key}=yes")
        pods = wait_for(lambda: pods_of(sandbox, ns), what="a pod on the labelled node")
        assert [p["spec"]["nodeName"] for p in pods] == ["k8snet-worker2"]
        sandbox.kubectl("-n", ns, "rollout", "status", "ds/agent", "--timeout=30s")
        row = sandbox.kubectl("-n", ns, "get", "ds", "agent", "--no-headers").stdout.split()
        assert row[:7] == ["agent", "1", "1", "1", "1", "1", f"{key}=yes"]
    finally:
        sandbox.kubectl("label", "node", "k8snet-worker2", f"{key}-")
    wait_for(lambda: not pods_of(sandbox, ns), what="the pod gone from the unlabelled node")
    wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "ds", "agent")["status"]["desiredNumberScheduled"] == 0,
             what="no node desired")


def test_invalid_daemonsets_are_refused_with_the_apiservers_words(sandbox, ns):
    proc = sandbox.kubectl("apply", "-f", "-", check=False, input=daemonset(
        ns, spec="  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}"))
    assert proc.returncode != 0
    assert ('spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, '
            'StrVal:""}: may not be set when maxUnavailable is non-zero') in proc.stderr
    proc = sandbox.kubectl("apply", "-f", "-", check=False, input=daemonset(ns).replace(
        "labels: {app: agent}", "labels: {app: other}"))
    assert proc.returncode != 0 and "`selector` does not match template `labels`" in proc.stderr


def test_python_client_reads_daemonsets_and_their_revisions(sandbox, ns):
    from kubernetes import client

    apps = client.AppsV1Api(sandbox.api_client())
    apps.create_namespaced_daemon_set(ns, {
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": AGNHOST, "args": ["netexec"]}]}}}})
    ds = wait_for(lambda: (d := apps.read_namespaced_daemon_set_status("agent", ns)).status.number_ready == 2 and d,
                  what="two ready daemon pods")
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1
    revisions = apps.list_namespaced_controller_revision(ns).items
    assert [(r.revision, r.metadata.owner_references[0].kind) for r in revisions] == [(1, "DaemonSet")]
    assert revisions[0].data["spec"]["template"]["$patch"] == "replace"
    apps.delete_namespaced_daemon_set("agent", ns)
    wait_for(lambda: not pods_of(sandbox, ns) and not apps.list_namespaced_controller_revision(ns).items,
             what="pods and revisions collected with their DaemonSet")
