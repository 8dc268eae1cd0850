"""ControllerRevision names and DaemonSet eligibility, checked against upstream's own data."""

from __future__ import annotations

import json

from k8snet.sandbox.controllers import daemonsets, history

# pkg/controller/statefulset/testdata/compatibility_revision_1.33.0.json (kubernetes/kubernetes): a revision a 1.33
# controller wrote, named test-c77f6d978 and labelled controller.kubernetes.io/hash: c77f6d978.
UPSTREAM_1_33_DATA = json.loads(
    '{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},"creationTimestamp":null,'
    '"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always","name":"test",'
    '"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],'
    '"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},'
    '"terminationGracePeriodSeconds":30}}}}')


def test_statefulset_revision_hash_is_upstreams():
    """history.HashControllerRevision: FNV-1 (not 1a) of the data and the collision count, safe-encoded."""
    assert history.revision_hash(UPSTREAM_1_33_DATA, 0) == "c77f6d978"
    assert history.revision_hash(UPSTREAM_1_33_DATA, 1) != "c77f6d978"


def test_template_patch_puts_the_whole_template_back():
    owner = {"spec": {"template": {"metadata": {"labels": {"app": "foo"}}, "spec": {"containers": []}}}}
    assert history.template_patch(owner) == {"spec": {"template": {
        "$patch": "replace", "metadata": {"labels": {"app": "foo"}}, "spec": {"containers": []}}}}
    assert "$patch" not in owner["spec"]["template"]


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/os": "linux", **(labels or {})}},
            "spec": {"taints": taints or []}}


def ds(**pod_spec) -> dict:
    return {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], **pod_spec}}}}


CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_a_daemon_pod_runs_where_its_selector_affinity_and_tolerations_allow():
    """NodeShouldRunDaemonPod: (should run, may keep running)."""
    control_plane = node("cp", taints=[CONTROL_PLANE_TAINT])
    assert daemonsets.should_run(ds(), node("w")) == (True, True)
    assert daemonsets.should_run(ds(), control_plane) == (False, True)  # NoSchedule: a running pod may stay
    assert daemonsets.should_run(ds(tolerations=[{"operator": "Exists"}]), control_plane) == (True, True)
    assert daemonsets.should_run(ds(), node("w", taints=[{"key": "k", "effect": "NoExecute"}])) == (False, False)
    assert daemonsets.should_run(ds(nodeSelector={"disk": "ssd"}), node("w")) == (False, False)
    assert daemonsets.should_run(ds(nodeSelector={"disk": "ssd"}), node("w", {"disk": "ssd"})) == (True, True)
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}
    assert daemonsets.should_run(ds(affinity=affinity), node("w", {"zone": "b"}))[0]
    assert not daemonsets.should_run(ds(affinity=affinity), node("w", {"zone": "c"}))[0]
    # the daemon tolerations: a cordoned node still runs its daemon pods
    assert daemonsets.should_run(ds(), node("w", taints=[{"key": "node.kubernetes.io/unschedulable",
                                                          "effect": "NoSchedule"}])) == (True, True)


def test_daemon_tolerations_are_added_once_and_network_unavailable_for_host_network():
    spec = {"hostNetwork": True, "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                  "effect": "NoExecute", "tolerationSeconds": 30}]}
    daemonsets.add_daemon_tolerations(spec)
    keys = [t["key"] for t in spec["tolerations"]]
    assert keys == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
                    "node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure",
                    "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
                    "node.kubernetes.io/network-unavailable"]
    assert "tolerationSeconds" not in spec["tolerations"][0]  # replaced, as AddOrUpdateTolerationInPodSpec does
