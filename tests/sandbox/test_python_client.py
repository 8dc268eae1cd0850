"""The sandbox through the official kubernetes Python client: typed, dynamic, watch, server-side apply."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException
from tests.conftest import wait_for


@pytest.fixture
def api(sandbox):
    return sandbox.api_client()


def deployment(name: str, replicas: int = 2) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="web", image="hashicorp/http-echo:1.0.0", args=["-text=hi"],
                    ports=[client.V1ContainerPort(container_port=5678)])]))))


def test_typed_create_list_read_delete(api, ns):
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    created = apps.create_namespaced_deployment(ns, deployment("echo"))
    assert created.metadata.uid and created.metadata.generation == 1
    assert created.spec.strategy.rolling_update.max_surge == "25%"  # defaulted by the server
    wait_for(lambda: (apps.read_namespaced_deployment("echo", ns).status.available_replicas or 0) == 2,
             what="2 available replicas")
    pods = core.list_namespaced_pod(ns, label_selector="app=echo").items
    assert len(pods) == 2 and all(p.status.phase == "Running" for p in pods)
    assert {p.metadata.owner_references[0].kind for p in pods} == {"ReplicaSet"}
    # field selectors as kubectl describe node uses them
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={pods[0].spec.node_name}").items
    assert pods[0].metadata.name in {p.metadata.name for p in on_node}
    apps.delete_namespaced_deployment("echo", ns)
    wait_for(lambda: not core.list_namespaced_pod(ns, label_selector="app=echo").items, what="pods to go")


def test_not_found_and_conflict_are_api_exceptions(api, ns):
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map("nope", ns)
    assert info.value.status == 404
    cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"),
                                                                  data={"a": "1"}))
    core.patch_namespaced_config_map("c", ns, {"data": {"a": "2"}})
    cm.data = {"a": "3"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("c", ns, cm)  # carries the old resourceVersion
    assert info.value.status == 409
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c")))
    assert info.value.status == 409 and "already exists" in info.value.body


def test_generate_name_and_list_pagination(api, ns):
    core = client.CoreV1Api(api)
    names = {core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(generate_name="cfg-"))).metadata.name for _ in range(7)}
    assert len(names) == 7 and all(n.startswith("cfg-") and len(n) == 9 for n in names)
    first = core.list_namespaced_config_map(ns, limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(ns, limit=3, _continue=token)
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert seen == sorted(seen) and set(seen) >= names  # key order, as etcd lists
    assert len(seen) == len(set(seen))


def test_dynamic_client_and_server_side_apply(api, ns):
    dyn = dynamic.DynamicClient(api)
    svc = dyn.resources.get(api_version="v1", kind="Service")
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": ns},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    applied = svc.server_side_apply(body=body, name="s", namespace=ns, field_manager="lesson")
    assert applied.spec.clusterIP and applied.spec.ports[0].protocol == "TCP"
    managers = [m.manager for m in applied.metadata.managedFields]
    assert managers == ["lesson"]
    body["spec"]["ports"].append({"name": "b", "port": 81})
    body["spec"]["ports"][0]["name"] = "a"
    again = svc.server_side_apply(body=body, name="s", namespace=ns, field_manager="lesson")
    assert [p.port for p in again.spec.ports] == [80, 81]
    assert again.spec.clusterIP == applied.spec.clusterIP  # allocated once, kept by later applies


def test_watch_sees_every_change_in_order(api, ns):
    core = client.CoreV1Api(api)
    start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str, str]] = []

    def run():
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start_rv, timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name, ev["object"].data["n"] if ev["object"].data else ""))
            if ev["type"] == "DELETED":
                w.stop()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w"), data={"n": "0"}))
    for i in range(1, 20):
        core.patch_namespaced_config_map("w", ns, {"data": {"n": str(i)}})
    core.delete_namespaced_config_map("w", ns)
    t.join(15)
    assert [s[0] for s in seen] == ["ADDED"] + ["MODIFIED"] * 19 + ["DELETED"]
    assert [s[2] for s in seen[:-1]] == [str(i) for i in range(20)]


def test_watch_from_an_expired_version_is_gone(api, sandbox):
    import ssl
    import urllib.request
    req = urllib.request.Request(f"{sandbox.running.server}/api/v1/configmaps?watch=1&resourceVersion=1",
                                 headers={"Authorization": f"Bearer {sandbox.running.token}"})
    ctx = ssl.create_default_context(cafile=str(sandbox.running.ca_file))
    sandbox.reset()  # history starts again: revision 1 is long compacted
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, context=ctx, timeout=5)
    assert info.value.code == 410


def test_requests_without_credentials_are_anonymous_and_get_403_with_a_status(sandbox):
    import json
    import ssl
    import urllib.request
    ctx = ssl.create_default_context(cafile=str(sandbox.running.ca_file))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{sandbox.running.server}/api/v1/pods", context=ctx, timeout=5)
    assert info.value.code == 403
    status = json.loads(info.value.read())
    assert status["kind"] == "Status" and status["reason"] == "Forbidden" and status["code"] == 403
    assert status["message"] == ('pods is forbidden: User "system:anonymous" cannot list resource "pods" in API '
                                 'group "" at the cluster scope')


def test_foreground_and_orphan_deletion(api, ns):
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    apps.create_namespaced_deployment(ns, deployment("fg"))
    wait_for(lambda: len(core.list_namespaced_pod(ns, label_selector="app=fg").items) == 2, what="pods")
    apps.delete_namespaced_deployment("fg", ns, propagation_policy="Foreground")
    d = apps.read_namespaced_deployment("fg", ns)
    assert "foregroundDeletion" in d.metadata.finalizers and d.metadata.deletion_timestamp
    wait_for(lambda: not apps.list_namespaced_deployment(ns).items, what="the owner to go after its dependents")
    assert not core.list_namespaced_pod(ns, label_selector="app=fg").items
    apps.create_namespaced_deployment(ns, deployment("orph", 1))
    wait_for(lambda: apps.list_namespaced_replica_set(ns).items, what="a ReplicaSet")
    apps.delete_namespaced_deployment("orph", ns, propagation_policy="Orphan")
    wait_for(lambda: not apps.list_namespaced_deployment(ns).items, what="the deployment to go")
    rs = apps.list_namespaced_replica_set(ns).items
    assert len(rs) == 1 and not rs[0].metadata.owner_references
