"""The kubelet's volume manager before a pod starts, driven by hand on the sandbox clock: a failed SetUp is tried
again after pkg/util/goroutinemap/exponentialbackoff's back-off (500 ms, doubled, at most 2m2s), each failure a
FailedMount event counted on one Event (client-go's EventCorrelator), and the pod's sandbox (its IP) is created
once every mounted volume is set up (pkg/kubelet/kubelet.go SyncPod: WaitForAttachAndMount first)."""

from __future__ import annotations

from typing import Any

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.controllers.volumemanager import Backoff, expected_volumes
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
OPTS = WriteOptions(field_manager="test")


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=3)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def create(sb: Sandbox, resource: str, body: dict[str, Any]) -> None:
    sb.api.create(sb.registry.lookup("", "v1", resource), "default", body, OPTS)


def sync(sb: Sandbox, name: str, advance: float = 0) -> dict[str, Any]:
    """Move the sandbox clock, then let the kubelet try to start the pod once; the pod as stored afterwards."""
    if advance:
        sb.clock.advance(advance)
    lifecycle.start(sb, sb.store.get("pods", "default", name))
    return sb.store.get("pods", "default", name)


def tries(sb: Sandbox) -> int:
    return sum(e["count"] for e in sb.store.list("events", "default") if e["reason"] == "FailedMount")


def test_the_back_off_doubles_from_500ms_to_2m2s():
    backoff, waits = Backoff(), []
    for _ in range(10):
        backoff.update(0.0)
        waits.append(backoff.retry_at)
    assert waits == [0.5, 1, 2, 4, 8, 16, 32, 64, 122, 122]


def test_only_the_volumes_a_container_mounts_are_waited_for():
    pod = {"spec": {"volumes": [{"name": "unused"}, {"name": "a"}, {"name": "b"}],
                    "initContainers": [{"volumeMounts": [{"name": "b"}]}],
                    "containers": [{"volumeMounts": [{"name": "a", "mountPath": "/a"}]}]}}
    assert expected_volumes(pod) == ["a", "b"]


def test_a_missing_secret_is_tried_on_the_back_off_and_the_pod_starts_once_it_exists(sb):
    create(sb, "pods", {"metadata": {"name": "web"}, "spec": {
        "containers": [{"name": "main", "image": AGNHOST, "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
        "volumes": [{"name": "s", "secret": {"secretName": "later"}},
                    {"name": "declared-only", "secret": {"secretName": "nowhere"}}]}})
    lifecycle.schedule(sb, sb.store.get("pods", "default", "web"))
    pod = sync(sb, "web")
    assert tries(sb) == 1 and "podIP" not in pod["status"]
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    rv = pod["metadata"]["resourceVersion"]
    assert sync(sb, "web", 0.4)["metadata"]["resourceVersion"] == rv and tries(sb) == 1  # within 500 ms: no try
    sync(sb, "web", 0.2)
    assert tries(sb) == 2  # 600 ms: tried again; the next waits 1 s
    sync(sb, "web", 0.9)
    assert tries(sb) == 2
    create(sb, "secrets", {"metadata": {"name": "later"}, "type": "kubernetes.io/ssh-auth",
                           "data": {"ssh-privatekey": "a2V5"}})
    assert "podIP" not in sync(sb, "web")["status"]  # the Secret exists, but its try is not due
    pod = sync(sb, "web", 0.2)
    assert pod["status"]["podIP"] and pod["status"]["phase"] == "Running" and tries(sb) == 2
    [event] = [e for e in sb.store.list("events", "default") if e["reason"] == "FailedMount"]
    assert event["message"] == 'MountVolume.SetUp failed for volume "s" : secret "later" not found'
    assert (event["count"], event["type"], event["source"]) == (
        2, "Warning", {"component": "kubelet", "host": pod["spec"]["nodeName"]})
