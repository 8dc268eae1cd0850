"""EndpointSlices, Endpoints and LoadBalancer addresses, through kubectl and the Python client.

Each test names the sentence of https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
(or the upstream code/test) it checks.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from kubernetes import client, watch
from tests.conftest import wait_for

SLICE_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SERVICE_NAME = "kubernetes.io/service-name"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
        args: ["netexec", "--http-port=8080"]
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


@pytest.fixture(scope="module")
def api(sandbox):
    return sandbox.api_client()


def slices(sandbox, ns: str, service: str = "web") -> list[dict]:
    return sandbox.kubectl_json("get", "endpointslices", "-n", ns, "-l", f"{SERVICE_NAME}={service}")["items"]


def one_slice(sandbox, ns: str, service: str = "web", ready: int | None = None) -> dict:
    """The Service's only slice, once it holds ``ready`` ready endpoints."""
    def check():
        items = slices(sandbox, ns, service)
        if len(items) != 1:
            return None
        eps = items[0].get("endpoints") or []
        if ready is not None and sum(1 for e in eps if e["conditions"]["ready"]) != ready:
            return None
        return items[0]
    return wait_for(check, what=f"one slice for {service} with {ready} ready endpoints")


def web(sandbox, ns: str) -> dict:
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=WEB)
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s")
    return one_slice(sandbox, ns, ready=3)


def pods_by_name(sandbox, ns: str, selector: str = "app=web") -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in sandbox.kubectl_json("get", "pods", "-n", ns, "-l", selector)["items"]}


def test_slice_for_a_deployment_of_three(sandbox, ns):
    # "The control plane automatically creates EndpointSlices for any Kubernetes Service that has a selector
    # specified. These EndpointSlices include references to all the Pods that match the Service selector."
    eps = web(sandbox, ns)
    meta = eps["metadata"]
    assert SLICE_NAME.match(meta["name"]) and meta["generateName"] == "web-"
    # "the control plane uses endpointslice-controller.k8s.io"; kubernetes.io/service-name names the Service;
    # the Service's own labels are copied (setEndpointSliceLabels).
    assert meta["labels"] == {"tier": "front", SERVICE_NAME: "web", MANAGED_BY: "endpointslice-controller.k8s.io"}
    svc = sandbox.kubectl_json("get", "svc", "web", "-n", ns)
    # "This ownership is indicated by an owner reference on each EndpointSlice".
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                        "uid": svc["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert TRIGGER in meta["annotations"]
    assert eps["addressType"] == "IPv4"
    assert eps["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]  # targetPort resolved
    pods = pods_by_name(sandbox, ns)
    assert len(eps["endpoints"]) == 3
    for ep in eps["endpoints"]:
        pod = pods[ep["targetRef"]["name"]]
        assert ep["addresses"] == [pod["status"]["podIP"]]
        assert ep["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert ep["nodeName"] == pod["spec"]["nodeName"]
        assert ep["targetRef"] == {"kind": "Pod", "namespace": ns, "name": pod["metadata"]["name"],
                                   "uid": pod["metadata"]["uid"]}
        assert "zone" not in ep  # kind nodes carry no topology.kubernetes.io/zone label

    # kubectl get endpointslices: printEndpointSlice's columns.
    out = sandbox.kubectl("get", "endpointslices", "-n", ns).stdout.splitlines()
    assert out[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    name, atype, ports, addresses = out[1].split()[:4]
    assert (name, atype, ports) == (meta["name"], "IPv4", "8080")
    assert sorted(addresses.split(",")) == sorted(p["status"]["podIP"] for p in pods.values())


def test_no_write_when_nothing_changed_and_repair_of_manual_edits(sandbox, ns, api):
    # reconcileByPortMapping only updates slices whose endpoints or labels changed.
    eps = web(sandbox, ns)
    name, rv = eps["metadata"]["name"], eps["metadata"]["resourceVersion"]
    ep_rv = sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)["metadata"]["resourceVersion"]
    pod = next(iter(pods_by_name(sandbox, ns)))
    sandbox.kubectl("annotate", "pod", pod, "-n", ns, "note=unrelated")
    sandbox.kubectl("label", "svc", "web", "-n", ns, "extra=1")  # a real change, processed after the pod event
    changed = wait_for(lambda: (s := one_slice(sandbox, ns))["metadata"]["labels"].get("extra") == "1" and s,
                       what="the Service label on its slice")
    # Exactly one write: the label change (a pod annotation changes nothing the slice shows).
    discovery = client.DiscoveryV1Api(api)
    events = []
    for ev in watch.Watch().stream(discovery.list_namespaced_endpoint_slice, ns, resource_version=rv,
                                   timeout_seconds=1):
        events.append((ev["type"], ev["object"].metadata.resource_version))
        if ev["object"].metadata.resource_version == changed["metadata"]["resourceVersion"]:
            break
    assert events == [("MODIFIED", changed["metadata"]["resourceVersion"])]
    # The Endpoints object copies Service labels too, so it changed once as well; then stays put.
    assert sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)["metadata"]["resourceVersion"] != ep_rv

    # A manual edit to a managed slice is repaired (the controller watches its slices).
    sandbox.kubectl("patch", "endpointslice", name, "-n", ns, "--type=json",
                    "-p", '[{"op": "remove", "path": "/endpoints/0"}]')
    repaired = one_slice(sandbox, ns, ready=3)
    assert repaired["metadata"]["name"] == name


def test_named_target_port_resolves_per_pod(sandbox, ns):
    # "When named ports are used for a Service, Pods may end up with different target port numbers for the
    # same named port, requiring different EndpointSlices."
    for name, port in (("a", 8080), ("b", 9090)):
        sandbox.kubectl("run", name, "-n", ns, "--image=registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                        "--labels=app=named", "--overrides", json.dumps({"spec": {"containers": [{
                            "name": name, "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                            "args": ["netexec", f"--http-port={port}"],
                            "ports": [{"name": "http", "containerPort": port}]}]}}))
    sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "named"},
        "spec": {"selector": {"app": "named"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}))

    def by_port():
        items = slices(sandbox, ns, "named")
        got = {s["ports"][0]["port"]: [e["targetRef"]["name"] for e in s.get("endpoints") or []]
               for s in items if s.get("ports")}
        return got if got == {8080: ["a"], 9090: ["b"]} and len(items) == 2 else None
    wait_for(by_port, what="one slice per resolved port")
    # The Endpoints object keeps one subset per port mapping (RepackSubsets).
    subsets = sandbox.kubectl_json("get", "endpoints", "named", "-n", ns)["subsets"]
    assert sorted((s["ports"][0]["port"], s["addresses"][0]["targetRef"]["name"]) for s in subsets) == [
        (8080, "a"), (9090, "b")]
    assert all(s["ports"][0]["name"] == "web" for s in subsets)


def test_not_ready_pod_then_publish_not_ready_addresses(sandbox, ns, api):
    # "ready is a condition that maps to a Pod's Ready condition."
    eps = web(sandbox, ns)
    core = client.CoreV1Api(api)
    pod = eps["endpoints"][0]["targetRef"]["name"]
    core.patch_namespaced_pod_status(pod, ns, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    eps = one_slice(sandbox, ns, ready=2)
    mine = next(e for e in eps["endpoints"] if e["targetRef"]["name"] == pod)
    assert mine["conditions"] == {"ready": False, "serving": False, "terminating": False}
    endpoints = sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)
    (subset,) = endpoints["subsets"]
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == [pod]
    assert len(subset["addresses"]) == 2
    # "An exception to this rule is for Services with spec.publishNotReadyAddresses set to true. Endpoints for
    # these Services will always have the ready condition set to true."
    sandbox.kubectl("patch", "svc", "web", "-n", ns, "-p", '{"spec": {"publishNotReadyAddresses": true}}')
    eps = one_slice(sandbox, ns, ready=3)
    mine = next(e for e in eps["endpoints"] if e["targetRef"]["name"] == pod)
    assert mine["conditions"] == {"ready": True, "serving": False, "terminating": False}
    wait_for(lambda: len(sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)["subsets"][0]["addresses"]) == 3,
             what="all three addresses ready in Endpoints")


def test_terminating_endpoints_stay_in_the_slice(sandbox, ns, api):
    # "terminating is a condition that indicates whether an endpoint is terminating. For pods, this is any pod
    # that has a deletion timestamp set." and "For compatibility reasons, ready is NEVER true when a Pod is
    # terminating"; serving keeps following readiness (EndpointSliceTerminatingCondition, GA in 1.26).
    eps = web(sandbox, ns)
    pod = eps["endpoints"][0]["targetRef"]["name"]
    discovery = client.DiscoveryV1Api(api)
    rv = eps["metadata"]["resourceVersion"]
    sandbox.kubectl("delete", "pod", pod, "-n", ns, "--wait=false")
    seen = []
    for ev in watch.Watch().stream(discovery.list_namespaced_endpoint_slice, ns, resource_version=rv,
                                   timeout_seconds=10):
        mine = [e for e in ev["object"].endpoints or [] if e.target_ref.name == pod]
        seen.append((mine[0].conditions.ready, mine[0].conditions.serving, mine[0].conditions.terminating)
                    if mine else None)
        if seen[-1] is None:
            break
    assert (False, True, True) in seen  # terminating, still serving, not ready
    assert seen[-1] is None  # gone once the pod is gone


def test_headless_service_slices(sandbox, ns):
    # "For headless Services, a cluster IP is not allocated" — slices still exist, labelled
    # service.kubernetes.io/headless (setEndpointSliceLabels), and the Endpoints object carries it too.
    web(sandbox, ns)
    sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-headless"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"port": 8080}]}}))
    eps = one_slice(sandbox, ns, "web-headless", ready=3)
    assert eps["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert eps["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    labels = wait_for(lambda: sandbox.kubectl("get", "endpoints", "web-headless", "-n", ns, "-o", "json",
                                              check=False).stdout, what="Endpoints web-headless")
    assert json.loads(labels)["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}


def test_service_without_selector_gets_no_slices(sandbox, ns):
    # Services without selectors: "Because this Service has no selector, the corresponding EndpointSlice (and
    # legacy Endpoints) objects are not created automatically." A user-written Endpoints object is left alone.
    sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
        "spec": {"ports": [{"port": 80, "targetPort": 9376}]}}))
    sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "marker"},
        "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 80}]}}))
    one_slice(sandbox, ns, "marker")  # the controller has processed Services created after "external"
    assert slices(sandbox, ns, "external") == []
    assert sandbox.kubectl("get", "endpoints", "external", "-n", ns, check=False).returncode != 0
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
              "subsets": [{"addresses": [{"ip": "192.0.2.42"}], "ports": [{"port": 9376, "protocol": "TCP"}]}]}
    sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(manual))
    sandbox.kubectl("label", "svc", "external", "-n", ns, "touched=yes")
    sandbox.kubectl("label", "svc", "marker", "-n", ns, "touched=yes")
    wait_for(lambda: one_slice(sandbox, ns, "marker")["metadata"]["labels"].get("touched"), what="marker resync")
    assert sandbox.kubectl_json("get", "endpoints", "external", "-n", ns)["subsets"] == manual["subsets"]


def test_scale_to_zero_keeps_a_placeholder_slice(sandbox, ns):
    # reconcileByAddressType: "When no endpoint slices would usually exist, we need to add a placeholder."
    # The slice is updated in place (finalize turns create+delete into an update), endpoints and ports null.
    name = web(sandbox, ns)["metadata"]["name"]
    sandbox.kubectl("scale", "deploy/web", "-n", ns, "--replicas=0")
    eps = wait_for(lambda: (s := one_slice(sandbox, ns)).get("endpoints") is None and s, what="empty slice")
    assert eps["metadata"]["name"] == name
    assert "endpoints" in eps and eps["endpoints"] is None and eps["ports"] is None
    row = sandbox.kubectl("get", "endpointslices", "-n", ns).stdout.splitlines()[1].split()
    assert row[:4] == [name, "IPv4", "<unset>", "<unset>"]
    endpoints = sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)
    assert "subsets" not in endpoints
    assert sandbox.kubectl("get", "endpoints", "web", "-n", ns).stdout.splitlines()[1].split()[1] == "<none>"
    sandbox.kubectl("scale", "deploy/web", "-n", ns, "--replicas=2")
    assert one_slice(sandbox, ns, ready=2)["metadata"]["name"] == name


def test_endpoints_object_in_step(sandbox, ns):
    # pkg/controller/endpoint: one Endpoints per Service with a selector, named after it, with the Service's
    # labels, ready addresses with nodeName and targetRef, and the last-change-trigger-time annotation.
    eps = web(sandbox, ns)
    endpoints = sandbox.kubectl_json("get", "endpoints", "web", "-n", ns)
    assert endpoints["metadata"]["labels"] == {"tier": "front"}
    assert TRIGGER in endpoints["metadata"]["annotations"]
    assert "ownerReferences" not in endpoints["metadata"]
    (subset,) = endpoints["subsets"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert "notReadyAddresses" not in subset
    by_ip = {e["addresses"][0]: e for e in eps["endpoints"]}
    assert sorted(a["ip"] for a in subset["addresses"]) == sorted(by_ip)
    assert [a["ip"] for a in subset["addresses"]] == sorted(by_ip)  # LessEndpointAddress: IP as a string
    for address in subset["addresses"]:
        assert address["nodeName"] == by_ip[address["ip"]]["nodeName"]
        assert address["targetRef"] == by_ip[address["ip"]]["targetRef"]
    # kubectl describe svc lists the endpoints (from the EndpointSlices) with their ports.
    described = sandbox.kubectl("describe", "svc", "web", "-n", ns).stdout
    line = next(ln for ln in described.splitlines() if ln.startswith("Endpoints:"))
    assert sorted(line.split(None, 1)[1].split(",")) == sorted(f"{ip}:8080" for ip in by_ip)
    # Deleting the Service removes both: slices through their owner reference, Endpoints by the controller.
    sandbox.kubectl("delete", "svc", "web", "-n", ns)
    wait_for(lambda: not slices(sandbox, ns), what="slices garbage collected")
    wait_for(lambda: sandbox.kubectl("get", "endpoints", "web", "-n", ns, check=False).returncode != 0,
             what="Endpoints deleted")


def test_load_balancer_gets_an_address_on_the_kind_network(sandbox, ns):
    # cloud-provider-kind: each LoadBalancer Service gets a container on kind's docker network; its IP is
    # published in status.loadBalancer.ingress with ipMode Proxy, and shown by kubectl as EXTERNAL-IP.
    def lb(name: str) -> None:
        sandbox.kubectl("create", "-n", ns, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}}))

    def ingress(name: str) -> list:
        return sandbox.kubectl_json("get", "svc", name, "-n", ns)["status"].get("loadBalancer", {}).get("ingress")

    lb("one")
    lb("two")
    (first,) = wait_for(lambda: ingress("one"), what="an address for one")
    (second,) = wait_for(lambda: ingress("two"), what="an address for two")
    pool = ipaddress.ip_network("172.18.0.0/16")
    assert ipaddress.ip_address(first["ip"]) in pool and ipaddress.ip_address(first["ip"]) >= \
        ipaddress.ip_address("172.18.0.5")
    assert first["ip"] != second["ip"]
    assert first == {"ip": first["ip"], "ipMode": "Proxy", "ports": [{"port": 80, "protocol": "TCP"}]}
    row = sandbox.kubectl("get", "svc", "one", "-n", ns).stdout.splitlines()[1].split()
    assert row[1] == "LoadBalancer" and row[3] == first["ip"] and re.match(r"80:3\d{4}/TCP", row[4])
    svc = sandbox.kubectl_json("get", "svc", "one", "-n", ns)
    assert svc["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]
    reasons = sandbox.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=one",
                              "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert reasons == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]

    # Changing the type releases the address (DeletingLoadBalancer, DeletedLoadBalancer) and the finalizer.
    sandbox.kubectl("patch", "svc", "one", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/type", "value": "ClusterIP"},
        {"op": "remove", "path": "/spec/allocateLoadBalancerNodePorts"},
        {"op": "remove", "path": "/spec/externalTrafficPolicy"}]))
    wait_for(lambda: not ingress("one"), what="the address released")
    svc = sandbox.kubectl_json("get", "svc", "one", "-n", ns)
    assert "finalizers" not in svc["metadata"]
    reasons = sandbox.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=one",
                              "-o", "jsonpath={.items[*].reason}").stdout.split()
    assert reasons[2:] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]
    # The freed address is handed out again (lowest free first), and deleting a LoadBalancer Service
    # waits for its finalizer, then frees the address too.
    lb("three")
    (third,) = wait_for(lambda: ingress("three"), what="an address for three")
    assert ipaddress.ip_address(third["ip"]) <= ipaddress.ip_address(first["ip"])
    sandbox.kubectl("delete", "svc", "two", "-n", ns, "--timeout=20s")
    lb("four")
    (fourth,) = wait_for(lambda: ingress("four"), what="an address for four")
    assert ipaddress.ip_address(fourth["ip"]) <= ipaddress.ip_address(second["ip"])
