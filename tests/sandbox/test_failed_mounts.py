"""A pod whose volume names a ConfigMap or Secret that does not exist does not start, as on kind: the kubelet's
volume manager waits for the volume (pkg/kubelet/volumemanager/volume_manager.go WaitForAttachAndMount) before it
creates the pod's sandbox, so the pod stays Pending with its containers waiting ``ContainerCreating``, and each
try of the plugin's SetUp (pkg/volume/secret/secret.go, pkg/volume/configmap/configmap.go,
pkg/volume/projected/projected.go) is a Warning ``FailedMount`` event from the kubelet, retried with an
exponential back-off (pkg/util/goroutinemap/exponentialbackoff: 500 ms doubling to 2m2s). Once the object exists
the next try mounts it and the pod starts. ``optional: true`` mounts what exists and starts at once."""

from __future__ import annotations

import json

from kubernetes import client
from tests.conftest import wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def pod(name: str, volumes: list[dict], init: bool = False) -> dict:
    mounts = [{"name": v["name"], "mountPath": f"/etc/{v['name']}"} for v in volumes]
    spec: dict = {"containers": [{"name": "main", "image": AGNHOST, "args": ["pause"], "volumeMounts": mounts}],
                  "volumes": volumes}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", "true"],
                                   "volumeMounts": mounts}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def failed_mounts(sandbox, ns: str, name: str) -> list[dict]:
    events = sandbox.kubectl_json("-n", ns, "get", "events", "--field-selector",
                                  f"involvedObject.name={name},reason=FailedMount")["items"]
    return sorted(events, key=lambda e: e["metadata"]["creationTimestamp"])


def wait_failed_mount(sandbox, ns: str, name: str, count: int = 1) -> dict:
    """The pod's latest FailedMount event, once one has been counted ``count`` times."""
    return wait_for(lambda: next((e for e in reversed(failed_mounts(sandbox, ns, name)) if e["count"] >= count),
                                 None), what=f"a FailedMount event of {name} counted {count} times")


def test_a_missing_secret_keeps_the_pod_container_creating_until_the_secret_exists(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod(
        "web", [{"name": "creds", "secret": {"secretName": "db-creds"}}])))
    event = wait_failed_mount(sandbox, ns, "web", count=2)  # tried again after 500 ms: one event, counted
    assert event["message"] == 'MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found'
    assert (event["type"], event["source"]["component"], event["involvedObject"]["kind"]) == (
        "Warning", "kubelet", "Pod")
    status = sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]
    assert status["phase"] == "Pending" and "podIP" not in status and status["hostIP"]
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "False", "Initialized": "True", "Ready": "False", "ContainersReady": "False",
        "PodScheduled": "True"}
    assert sandbox.kubectl("-n", ns, "get", "pod", "web", "--no-headers").stdout.split()[1:3] == [
        "0/1", "ContainerCreating"]
    described = sandbox.kubectl("-n", ns, "describe", "pod", "web").stdout.split("Events:")[1]
    failed = next(line.split() for line in described.splitlines() if "FailedMount" in line)
    assert failed[:2] == ["Warning", "FailedMount"] and failed[3].startswith("(x") and failed[4] == "over"
    assert int(failed[3][2:]) >= 2  # "0s (x3 over 2s)": the repeats counted on one event
    assert failed[6:] == 'kubelet MountVolume.SetUp failed for volume "creds" : secret "db-creds" not found'.split()
    assert "Started" not in described  # no container ran

    # any type of Secret mounts; the next try (within seconds of back-off so far) finds it
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "db-creds", "--type=kubernetes.io/basic-auth",
                    "--from-literal=username=shop", "--from-literal=password=s3cret")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=30s")
    assert sandbox.kubectl("-n", ns, "exec", "web", "--", "cat", "/etc/creds/username").stdout == "shop"
    assert sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]["podIP"]


def test_an_optional_missing_secret_mounts_empty_and_the_pod_starts_at_once(sandbox, ns):
    """secret.go SetUpAt: NotFound and optional mounts an empty Secret; MakePayload leaves out a missing key."""
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "partial", "--from-literal=present=1")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod("opt", [
        {"name": "none", "secret": {"secretName": "absent", "optional": True}},
        {"name": "some", "secret": {"secretName": "partial", "optional": True,
                                    "items": [{"key": "present", "path": "p"}, {"key": "missing", "path": "m"}]}}])))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/opt", "--timeout=30s")
    assert sandbox.kubectl("-n", ns, "exec", "opt", "--", "ls", "/etc/none", "/etc/some").stdout == (
        "/etc/none:\n\n/etc/some:\np\n")
    assert failed_mounts(sandbox, ns, "opt") == []


def test_items_naming_a_key_the_secret_lacks_fail_the_mount(sandbox, ns):
    """secret.go MakePayload: ``references non-existent secret key`` (the volume plugin's words; ``couldn't find key
    K in Secret NS/NAME`` is the kubelet's for an env var's secretKeyRef)."""
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "tls", "--from-literal=tls.crt=cert")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod("keys", [
        {"name": "tls", "secret": {"secretName": "tls", "items": [{"key": "tls.key", "path": "key.pem"}]}}])))
    event = wait_failed_mount(sandbox, ns, "keys")
    assert event["message"] == 'MountVolume.SetUp failed for volume "tls" : references non-existent secret key: tls.key'
    assert sandbox.kubectl("-n", ns, "get", "pod", "keys", "--no-headers").stdout.split()[2] == "ContainerCreating"


def test_configmap_volumes_follow_the_same_rules(sandbox, ns):
    """configmap.go: ``configmap "NAME" not found`` and ``configmap references non-existent config key``, through
    the kubernetes client; the pod starts at the try after the ConfigMap is written."""
    core = client.CoreV1Api(sandbox.api_client())
    core.create_namespaced_config_map(ns, {"metadata": {"name": "flags"}, "data": {"beta": "on"}})
    core.create_namespaced_pod(ns, pod("cm", [
        {"name": "site", "configMap": {"name": "site"}},
        {"name": "flags", "configMap": {"name": "flags", "items": [{"key": "gamma", "path": "gamma"}]}}]))
    wait_for(lambda: len({e["message"] for e in failed_mounts(sandbox, ns, "cm")}) == 2, what="two FailedMounts")
    assert {e["message"] for e in failed_mounts(sandbox, ns, "cm")} == {
        'MountVolume.SetUp failed for volume "site" : configmap "site" not found',
        'MountVolume.SetUp failed for volume "flags" : configmap references non-existent config key: gamma'}
    waiting = core.read_namespaced_pod("cm", ns).status.container_statuses[0].state.waiting
    assert waiting.reason == "ContainerCreating"

    core.create_namespaced_config_map(ns, {"metadata": {"name": "site"}, "data": {"index.html": "hi"}})
    core.patch_namespaced_config_map("flags", ns, {"data": {"gamma": "off"}})
    wait_for(lambda: core.read_namespaced_pod("cm", ns).status.phase == "Running", timeout=30, what="Running")
    assert sandbox.kubectl("-n", ns, "exec", "cm", "--", "cat", "/etc/site/index.html", "/etc/flags/gamma"
                           ).stdout == "hioff"


def test_a_projected_volume_aggregates_its_sources_errors_and_init_containers_wait(sandbox, ns):
    """projected.go collectData: every source's error, as util/errors NewAggregate prints them; no container runs,
    init containers included, before the volumes are mounted (kubelet.go SyncPod)."""
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod("proj", [{"name": "bundle", "projected": {
        "sources": [{"secret": {"name": "identity"}}, {"configMap": {"name": "ca"}},
                    {"configMap": {"name": "extra", "optional": True}}]}}], init=True)))
    event = wait_failed_mount(sandbox, ns, "proj")
    assert event["message"] == ('MountVolume.SetUp failed for volume "bundle" : '
                                '[secret "identity" not found, configmap "ca" not found]')
    status = sandbox.kubectl_json("-n", ns, "get", "pod", "proj")["status"]
    assert [s["state"] for s in status["initContainerStatuses"] + status["containerStatuses"]] == [
        {"waiting": {"reason": "PodInitializing"}}] * 2
    assert sandbox.kubectl("-n", ns, "get", "pod", "proj", "--no-headers").stdout.split()[2] == "Init:0/1"
    logs = sandbox.kubectl("-n", ns, "logs", "proj", "-c", "setup", check=False)
    assert 'container "setup" in pod "proj" is waiting to start: PodInitializing' in logs.stderr

    sandbox.kubectl("-n", ns, "create", "secret", "generic", "identity", "--from-literal=id=checkout")
    sandbox.kubectl("-n", ns, "create", "configmap", "ca", "--from-literal=ca.crt=PEM")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/proj", "--timeout=30s")
    assert sandbox.kubectl("-n", ns, "exec", "proj", "--", "ls", "/etc/bundle").stdout == "ca.crt\nid\n"
    status = sandbox.kubectl_json("-n", ns, "get", "pod", "proj")["status"]
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"


def test_a_pod_waiting_for_its_volumes_is_deleted_at_once(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(pod(
        "stuck", [{"name": "creds", "secret": {"secretName": "never"}}])))
    wait_failed_mount(sandbox, ns, "stuck")
    sandbox.kubectl("-n", ns, "delete", "pod", "stuck", "--timeout=20s")
    assert sandbox.kubectl("-n", ns, "get", "pods", "-o", "name").stdout == ""
