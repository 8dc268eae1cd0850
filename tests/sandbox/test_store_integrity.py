"""Store integrity through the real API: uids never repeat, the garbage collector keys owners by uid and
namespace, an impossible clock jump changes nothing, the state is private."""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from tests.conftest import wait_for
from tests.sandbox.conftest import core_api

from k8snet.sandbox import process


def all_uids(core: client.CoreV1Api) -> set[str]:
    apps = client.AppsV1Api(core.api_client)
    lists = (core.list_pod_for_all_namespaces(), core.list_config_map_for_all_namespaces(), core.list_namespace(),
             core.list_service_for_all_namespaces(), apps.list_replica_set_for_all_namespaces(),
             apps.list_deployment_for_all_namespaces())
    return {item.metadata.uid for listed in lists for item in listed.items}


def test_uids_never_repeat_across_restarts_and_resets(own_sandbox):
    core = core_api(own_sandbox)
    seen = all_uids(core)
    for round_ in range(2):
        process.down(write_kubeconfig=False)
        process.up()
        core = core_api(own_sandbox)
        for i in range(5):
            cm = core.create_namespaced_config_map("default", client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"after-restart-{round_}-{i}")))
            assert cm.metadata.uid not in seen
            seen.add(cm.metadata.uid)
    process.admin(process.status(), "reset", {"seed": 0})
    fresh = all_uids(core)
    assert not fresh & seen, "a reset cluster reissued uids of this store's past"


def test_the_garbage_collector_keys_owners_by_uid_and_namespace(own_sandbox):
    """A dependent in another namespace naming an owner's uid is not that owner's (owners-dependents docs)."""
    core = core_api(own_sandbox)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="a")))
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="b")))
    owner = core.create_namespaced_config_map("a", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner")))
    ref = client.V1OwnerReference(api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid)
    core.create_namespaced_config_map("a", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="same-ns", owner_references=[ref])))
    core.create_namespaced_config_map("b", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="other-ns", owner_references=[ref])))
    core.delete_namespaced_config_map("owner", "a")

    def same_ns_gone() -> bool:
        return not [c for c in core.list_namespaced_config_map("a").items if c.metadata.name == "same-ns"]

    wait_for(same_ns_gone, what="the owner's dependent in its namespace to be collected")
    assert core.read_namespaced_config_map("other-ns", "b").metadata.name == "other-ns"


def admin_post(running: process.Running, action: str, body: object) -> tuple[int, dict]:
    req = urllib.request.Request(f"{running.server}/k8snet/admin/{action}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {running.token}",
                                                         "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=process._tls(running.state)) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("advance", [1e12, -5, "abc", None, 1e400])
def test_an_impossible_clock_jump_is_refused_and_changes_nothing(own_sandbox, advance):
    running = process.status()
    before = process.admin(running, "status")["now"]
    code, status = admin_post(running, "clock", {"advance": advance})
    assert code == 400 and status["kind"] == "Status" and status["code"] == 400
    after = process.admin(running, "status")["now"]
    assert after[:15] == before[:15]  # same minute: the offset was kept
    core = core_api(own_sandbox)
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="still")))


def test_the_state_directory_and_store_are_private(own_sandbox):
    state = process.home()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "token"):
        path = state / name
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
