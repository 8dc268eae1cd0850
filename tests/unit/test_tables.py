"""Server-side Table printing: columns and cells as kube-apiserver v1.33 prints them.

Expected strings follow k8s.io/kubernetes/pkg/printers/internalversion/printers.go and
its printers_test.go; the duration cases are upstream's duration_test.go.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from k8snet.sandbox import tables
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.registry import ResourceType, builtin
from k8snet.sandbox.tables import PRINTERS, human_duration, to_table

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
REG = builtin()


def ts(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, ago: timedelta = timedelta(minutes=5), **extra) -> dict:
    return {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "42",
            "creationTimestamp": ts(ago), **extra}


def rt(group: str, plural: str) -> ResourceType:
    found = next((t for t in REG.types if t.group == group and t.plural == plural), None)
    assert found is not None
    return found


def cells(group: str, plural: str, obj: dict) -> list:
    table = to_table(rt(group, plural), [obj], NOW)
    return table["rows"][0]["cells"]


def headers(group: str, plural: str) -> list[tuple[str, int]]:
    table = to_table(rt(group, plural), [], NOW)
    return [(c["name"], c["priority"]) for c in table["columnDefinitions"]]


# --------------------------------------------------------------------------- duration
@pytest.mark.parametrize(("d", "want"), [
    # TestHumanDuration
    (timedelta(seconds=1), "1s"),
    (timedelta(seconds=70), "70s"),
    (timedelta(seconds=190), "3m10s"),
    (timedelta(minutes=70), "70m"),
    (timedelta(hours=47), "47h"),
    (timedelta(hours=49), "2d1h"),
    (timedelta(hours=8 * 24 + 2), "8d"),
    (timedelta(hours=367 * 24), "367d"),
    (timedelta(hours=365 * 2 * 24 + 25), "2y1d"),
    (timedelta(hours=365 * 8 * 24 + 2), "8y"),
    # TestHumanDurationBoundaries (Go's -2s+1ns becomes -2s+1µs: timedelta has no nanoseconds)
    (timedelta(seconds=-2), "<invalid>"),
    (timedelta(seconds=-2, microseconds=1), "0s"),
    (timedelta(0), "0s"),
    (timedelta(seconds=1) - timedelta(milliseconds=1), "0s"),
    (timedelta(minutes=2) - timedelta(milliseconds=1), "119s"),
    (timedelta(minutes=2), "2m"),
    (timedelta(minutes=2, seconds=1), "2m1s"),
    (timedelta(minutes=10) - timedelta(milliseconds=1), "9m59s"),
    (timedelta(minutes=10), "10m"),
    (timedelta(minutes=10, seconds=1), "10m"),
    (timedelta(hours=3) - timedelta(milliseconds=1), "179m"),
    (timedelta(hours=3), "3h"),
    (timedelta(hours=3, minutes=1), "3h1m"),
    (timedelta(hours=8) - timedelta(milliseconds=1), "7h59m"),
    (timedelta(hours=8), "8h"),
    (timedelta(hours=8, minutes=59), "8h"),
    (timedelta(days=2) - timedelta(milliseconds=1), "47h"),
    (timedelta(days=2), "2d"),
    (timedelta(days=2, hours=1), "2d1h"),
    (timedelta(days=8) - timedelta(milliseconds=1), "7d23h"),
    (timedelta(days=8), "8d"),
    (timedelta(days=8, hours=23), "8d"),
    (timedelta(days=2 * 365) - timedelta(milliseconds=1), "729d"),
    (timedelta(days=2 * 365), "2y"),
    (timedelta(days=2 * 365, hours=23), "2y"),
    (timedelta(days=2 * 365, hours=23, minutes=59), "2y"),
    (timedelta(days=2 * 365 + 1) - timedelta(milliseconds=1), "2y"),
    (timedelta(days=2 * 365 + 1), "2y1d"),
    (timedelta(days=3 * 365), "3y"),
    (timedelta(days=4 * 365), "4y"),
    (timedelta(days=5 * 365), "5y"),
    (timedelta(days=6 * 365), "6y"),
    (timedelta(days=7 * 365), "7y"),
    (timedelta(days=8 * 365) - timedelta(milliseconds=1), "7y364d"),
    (timedelta(days=8 * 365), "8y"),
    (timedelta(days=8 * 365 + 364), "8y"),
    (timedelta(days=9 * 365), "9y"),
])
def test_human_duration_matches_upstream(d: timedelta, want: str) -> None:
    assert human_duration(d) == want


def test_age_is_unknown_without_creation_timestamp() -> None:
    assert cells("", "configmaps", {"metadata": {"name": "x"}})[2] == "<unknown>"


# --------------------------------------------------------------------------- table shape
def test_table_envelope_and_column_definitions() -> None:
    svc = {"metadata": meta("web"), "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                                             "ports": [{"port": 80, "protocol": "TCP"}]}}
    table = to_table(rt("", "services"), [svc], NOW,
                     list_meta={"resourceVersion": "123", "continue": "", "remainingItemCount": None})
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "123"}
    name = table["columnDefinitions"][0]
    assert set(name) == {"name", "type", "format", "description", "priority"}
    assert name["name"] == "Name" and name["format"] == "name" and name["priority"] == 0
    assert name["description"].startswith("Name must be unique within a namespace.")
    assert table["columnDefinitions"][1] == {**table["columnDefinitions"][1], "format": "", "priority": 0}
    assert table["columnDefinitions"][-1]["name"] == "Selector" and table["columnDefinitions"][-1]["priority"] == 1
    json.dumps(table)  # plain JSON


def test_row_object_policies() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cfg", labels={"a": "b"}), "data": {"k": "v"}}
    row = to_table(rt("", "configmaps"), [cm], NOW)["rows"][0]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": cm["metadata"]}
    assert "conditions" not in row
    assert to_table(rt("", "configmaps"), [cm], NOW, include_object="Object")["rows"][0]["object"] == cm
    assert to_table(rt("", "configmaps"), [cm], NOW, include_object="None")["rows"][0]["object"] is None
    assert to_table(rt("", "configmaps"), [cm], NOW, include_object="")["rows"][0]["object"]["kind"] == (
        "PartialObjectMetadata")


def test_full_object_gets_type_meta() -> None:
    row = to_table(rt("apps", "deployments"), [{"metadata": meta("d")}], NOW, include_object="Object")["rows"][0]
    assert row["object"]["apiVersion"] == "apps/v1" and row["object"]["kind"] == "Deployment"


def test_unknown_include_object_is_bad_request() -> None:
    with pytest.raises(ApiError) as err:
        to_table(rt("", "configmaps"), [], NOW, include_object="Everything")
    assert err.value.code == 400
    assert 'unrecognized includeObject value: "Everything"' in err.value.message


def test_empty_list_and_no_headers() -> None:
    table = to_table(rt("", "pods"), [], NOW, no_headers=True)
    assert table["rows"] == []
    assert table["columnDefinitions"] is None


def test_v1beta1_table() -> None:
    table = to_table(rt("", "configmaps"), [{"metadata": meta("c")}], NOW, api_version="meta.k8s.io/v1beta1")
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_every_registered_resource_has_a_printer_and_cells_match_columns() -> None:
    for t in REG.types:
        printer = PRINTERS[(t.group, t.plural)]
        row = printer.row({"metadata": meta("x")}, NOW)
        assert len(row) == len(printer.columns), t.plural


# --------------------------------------------------------------------------- pods
def container_status(name: str = "app", *, ready: bool = True, restarts: int = 0, state: dict | None = None,
                     last_finished: timedelta | None = None) -> dict:
    cs = {"name": name, "ready": ready, "restartCount": restarts, "image": "nginx",
          "state": state if state is not None else {"running": {"startedAt": ts(timedelta(minutes=4))}}}
    if last_finished is not None:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(last_finished)}}
    return cs


def pod(name: str = "web-0", *, phase: str = "Running", statuses: list[dict] | None = None, **kw) -> dict:
    obj = {
        "metadata": meta(name, timedelta(minutes=5)),
        "spec": {"containers": [{"name": "app", "image": "nginx"}], "nodeName": "node-1"},
        "status": {"phase": phase, "podIP": "10.244.1.5", "podIPs": [{"ip": "10.244.1.5"}],
                   "containerStatuses": statuses if statuses is not None else [container_status()]},
    }
    for key, value in kw.items():
        section, _, field = key.partition("__")
        obj[section][field] = value
    return obj


def test_pod_headers() -> None:
    assert headers("", "pods") == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
                                   ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]


def test_pod_running() -> None:
    assert cells("", "pods", pod()) == ["web-0", "1/1", "Running", "0", "5m", "10.244.1.5", "node-1", "<none>",
                                        "<none>"]


def test_pod_restarts_with_last_restart_age() -> None:
    p = pod(statuses=[container_status(restarts=3, last_finished=timedelta(minutes=2))])
    assert cells("", "pods", p)[3] == "3 (2m ago)"


def test_pod_crash_loop_back_off() -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}
    p = pod(statuses=[container_status(ready=False, restarts=5, state=waiting,
                                       last_finished=timedelta(seconds=30))])
    assert cells("", "pods", p)[1:4] == ["0/1", "CrashLoopBackOff", "5 (30s ago)"]


def test_pod_pending_container_creating_unscheduled() -> None:
    p = pod(phase="Pending", statuses=[container_status(ready=False, state={"waiting": {"reason": "ContainerCreating"}})])
    assert cells("", "pods", p)[1:3] == ["0/1", "ContainerCreating"]
    unscheduled = pod(phase="Pending", statuses=[])
    unscheduled["spec"].pop("nodeName")
    unscheduled["status"] = {"phase": "Pending"}
    assert cells("", "pods", unscheduled) == ["web-0", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>",
                                              "<none>"]


def test_pod_terminating() -> None:
    p = pod()
    p["metadata"]["deletionTimestamp"] = ts(timedelta(seconds=3))
    assert cells("", "pods", p)[2] == "Terminating"
    lost = pod(status__reason="NodeLost")
    lost["metadata"]["deletionTimestamp"] = ts(timedelta(seconds=3))
    assert cells("", "pods", lost)[2] == "Unknown"


def test_pod_completed_has_row_condition() -> None:
    done = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ts(timedelta(minutes=1))}}
    p = pod(phase="Succeeded", statuses=[container_status(ready=False, state=done)])
    p["metadata"]["deletionTimestamp"] = ts(timedelta(seconds=1))  # terminal pods are not "Terminating"
    row = to_table(rt("", "pods"), [p], NOW)["rows"][0]
    assert row["cells"][1:3] == ["0/1", "Completed"]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                  "message": "The pod has completed successfully."}]


def test_pod_error_without_reason_prints_exit_code() -> None:
    p = pod(phase="Failed", statuses=[container_status(ready=False, state={"terminated": {"exitCode": 137}})])
    row = to_table(rt("", "pods"), [p], NOW)["rows"][0]
    assert row["cells"][2] == "ExitCode:137"
    assert row["conditions"][0]["reason"] == "Failed"
    p = pod(phase="Failed", statuses=[container_status(ready=False, state={"terminated": {"exitCode": 0,
                                                                                          "signal": 9}})])
    assert cells("", "pods", p)[2] == "Signal:9"


def test_pod_completed_container_with_running_sibling() -> None:
    done = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    p = pod(statuses=[container_status("app"), container_status("job", ready=False, state=done)])
    p["spec"]["containers"].append({"name": "job", "image": "busybox"})
    p["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    assert cells("", "pods", p)[1:3] == ["1/2", "NotReady"]
    p["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert cells("", "pods", p)[2] == "Running"


def test_pod_init_containers() -> None:
    p = pod(phase="Pending", statuses=[container_status(ready=False, state={"waiting": {"reason": "PodInitializing"}})])
    p["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}, {"name": "migrate", "image": "busybox"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "setup", "ready": True, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
        {"name": "migrate", "ready": False, "restartCount": 0, "state": {"running": {}}},
    ]
    assert cells("", "pods", p)[1:3] == ["0/1", "Init:1/2"]
    p["status"]["initContainerStatuses"][1] = {"name": "migrate", "ready": False, "restartCount": 2,
                                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    assert cells("", "pods", p)[2:4] == ["Init:CrashLoopBackOff", "2"]
    p["status"]["initContainerStatuses"][1] = {"name": "migrate", "ready": False, "restartCount": 0,
                                               "state": {"terminated": {"exitCode": 3}}}
    assert cells("", "pods", p)[2] == "Init:ExitCode:3"


def test_pod_sidecar_counts_toward_ready_and_total() -> None:
    p = pod()
    p["spec"]["initContainers"] = [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]
    p["status"]["initContainerStatuses"] = [{"name": "proxy", "ready": True, "started": True, "restartCount": 1,
                                             "state": {"running": {}},
                                             "lastState": {"terminated": {"exitCode": 1,
                                                                          "finishedAt": ts(timedelta(minutes=3))}}}]
    assert cells("", "pods", p)[1:4] == ["2/2", "Running", "1 (3m ago)"]


def test_pod_scheduling_gated_and_wide_cells() -> None:
    p = pod(phase="Pending", statuses=[])
    p["status"] = {"phase": "Pending", "nominatedNodeName": "node-2",
                   "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
                                  {"type": "example.com/lb", "status": "True"}]}
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/other"}]
    assert cells("", "pods", p)[2:] == ["SchedulingGated", "0", "5m", "<none>", "node-1", "node-2", "1/2"]


def test_pod_ip_falls_back_to_pod_ip_field() -> None:
    p = pod()
    del p["status"]["podIPs"]
    assert cells("", "pods", p)[5] == "10.244.1.5"


# --------------------------------------------------------------------------- services
def service(svc_type: str, **spec) -> dict:
    base = {"type": svc_type, "clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "selector": {"app": "web", "tier": "frontend"}}
    return {"metadata": meta("web"), "spec": {**base, **spec}, "status": {"loadBalancer": {}}}


def test_service_headers() -> None:
    assert headers("", "services") == [("Name", 0), ("Type", 0), ("Cluster-IP", 0), ("External-IP", 0),
                                       ("Port(s)", 0), ("Age", 0), ("Selector", 1)]


def test_service_cluster_ip() -> None:
    assert cells("", "services", service("ClusterIP")) == [
        "web", "ClusterIP", "10.96.12.34", "<none>", "80/TCP", "5m", "app=web,tier=frontend"]


def test_service_node_port() -> None:
    svc = service("NodePort", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                     {"port": 53, "nodePort": 30053, "protocol": "UDP"}])
    assert cells("", "services", svc)[1:5] == ["NodePort", "10.96.12.34", "<none>", "80:30080/TCP,53:30053/UDP"]


def test_service_load_balancer_pending_and_assigned() -> None:
    svc = service("LoadBalancer", ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert cells("", "services", svc)[3:5] == ["<pending>", "443:31443/TCP"]
    svc["status"]["loadBalancer"] = {"ingress": [{"ip": "172.18.255.201"}, {"ip": "172.18.255.200"},
                                                 {"ip": "172.18.255.200"}]}
    # Sorted, de-duplicated, and not clipped to 16 characters: the server prints wide.
    assert cells("", "services", svc)[3] == "172.18.255.200,172.18.255.201"
    svc["status"]["loadBalancer"] = {"ingress": [{"hostname": "lb.example.com"}]}
    svc["spec"]["externalIPs"] = ["192.0.2.10"]
    assert cells("", "services", svc)[3] == "lb.example.com,192.0.2.10"
    assert tables.load_balancer_status({"ingress": [{"hostname": "a-very-long-hostname.example.com"}]},
                                       wide=False) == "a-very-long-h..."


def test_service_headless_external_name_and_no_selector() -> None:
    headless = service("ClusterIP", clusterIP="None", clusterIPs=["None"], ports=[], selector=None)
    assert cells("", "services", headless)[1:] == ["ClusterIP", "None", "<none>", "<none>", "5m", "<none>"]
    ext = {"metadata": meta("db"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert cells("", "services", ext)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    with_ips = service("ClusterIP", externalIPs=["192.0.2.1", "192.0.2.2"])
    assert cells("", "services", with_ips)[3] == "192.0.2.1,192.0.2.2"


# --------------------------------------------------------------------------- endpoints, slices
def test_endpoints_truncated_after_three() -> None:
    ep = {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": f"10.244.1.{i}"} for i in range(1, 6)],
         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics", "port": 9090}]},
    ]}
    assert cells("", "endpoints", ep) == ["web", "10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 7 more...", "5m"]


def test_endpoints_short_empty_headless_ipv6() -> None:
    assert cells("", "endpoints", {"metadata": meta("none")})[1] == "<none>"
    ep = {"metadata": meta("web"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]},
                                               {"addresses": [{"ip": "10.0.0.9"}]}]}
    assert cells("", "endpoints", ep)[1] == "[fd00::1]:80,10.0.0.9"
    not_ready = {"metadata": meta("web"), "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}],
                                                       "ports": [{"port": 80}]}]}
    assert cells("", "endpoints", not_ready)[1] == ""


def test_endpoint_slice() -> None:
    eps = {"metadata": meta("web-abcde"), "addressType": "IPv4",
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "named"}, {}, {"port": 1}],
           "endpoints": [{"addresses": ["10.244.1.1"]}, {"addresses": ["10.244.1.2", "10.244.1.3"]},
                         {"addresses": ["10.244.2.1"]}]}
    assert headers("discovery.k8s.io", "endpointslices") == [("Name", 0), ("AddressType", 0), ("Ports", 0),
                                                             ("Endpoints", 0), ("Age", 0)]
    assert cells("discovery.k8s.io", "endpointslices", eps) == [
        "web-abcde", "IPv4", "8080,named,* + 1 more...", "10.244.1.1,10.244.1.2,10.244.1.3 + 1 more...", "5m"]
    empty = {"metadata": meta("empty"), "addressType": "IPv4", "ports": None, "endpoints": None}
    assert cells("discovery.k8s.io", "endpointslices", empty)[2:4] == ["<unset>", "<unset>"]


# --------------------------------------------------------------------------- workloads
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}


def test_deployment_mid_rollout() -> None:
    d = {"metadata": meta("web", timedelta(hours=2, minutes=30)),
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                                              "matchExpressions": [{"key": "tier", "operator": "In",
                                                                    "values": ["front", "api"]}]},
                  "template": TEMPLATE},
         "status": {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}}
    assert headers("apps", "deployments") == [("Name", 0), ("Ready", 0), ("Up-to-date", 0), ("Available", 0),
                                              ("Age", 0), ("Containers", 1), ("Images", 1), ("Selector", 1)]
    assert cells("apps", "deployments", d) == ["web", "2/3", 1, 2, "150m", "nginx,log", "nginx:1.27,busybox",
                                               "app=web,tier in (api,front)"]


def test_deployment_fresh_without_status() -> None:
    d = {"metadata": meta("new", timedelta(seconds=3)), "spec": {"selector": {"matchLabels": {"app": "x"}},
                                                                 "template": TEMPLATE}}
    assert cells("apps", "deployments", d)[:5] == ["new", "0/1", 0, 0, "3s"]


def test_replica_set() -> None:
    rs = {"metadata": meta("web-7d4b9c8f5", timedelta(days=3, hours=4)),
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d4b9c8f5"}},
                   "template": TEMPLATE},
          "status": {"replicas": 3, "readyReplicas": 2}}
    assert headers("apps", "replicasets") == [("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0),
                                              ("Containers", 1), ("Images", 1), ("Selector", 1)]
    assert cells("apps", "replicasets", rs) == ["web-7d4b9c8f5", 3, 3, 2, "3d4h", "nginx,log", "nginx:1.27,busybox",
                                                "app=web,pod-template-hash=7d4b9c8f5"]


# --------------------------------------------------------------------------- networking
def test_ingress() -> None:
    ing = {"metadata": meta("web"), "spec": {"ingressClassName": "nginx",
                                             "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}],
                                             "tls": [{"hosts": ["a.example.com"]}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}}}
    assert headers("networking.k8s.io", "ingresses") == [("Name", 0), ("Class", 0), ("Hosts", 0), ("Address", 0),
                                                         ("Ports", 0), ("Age", 0)]
    assert cells("networking.k8s.io", "ingresses", ing) == [
        "web", "nginx", "a.example.com,b.example.com", "172.18.0.2", "80, 443", "5m"]


def test_ingress_defaults_and_many_hosts() -> None:
    bare = {"metadata": meta("catch-all"), "spec": {"defaultBackend": {"service": {"name": "web"}}}}
    assert cells("networking.k8s.io", "ingresses", bare)[1:5] == ["<none>", "*", "", "80"]
    many = {"metadata": meta("many"), "spec": {"rules": [{"host": f"h{i}.example.com"} for i in range(5)]}}
    assert cells("networking.k8s.io", "ingresses", many)[2] == (
        "h0.example.com,h1.example.com,h2.example.com + 2 more...")


def test_ingress_class() -> None:
    ic = {"metadata": meta("nginx"), "spec": {"controller": "k8s.io/ingress-nginx"}}
    assert cells("networking.k8s.io", "ingressclasses", ic) == ["nginx", "k8s.io/ingress-nginx", "<none>", "5m"]
    ic["spec"]["parameters"] = {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}
    assert cells("networking.k8s.io", "ingressclasses", ic)[2] == "IngressParameters.k8s.example.com/external-lb"


def test_network_policy() -> None:
    deny_all = {"metadata": meta("default-deny"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
    assert headers("networking.k8s.io", "networkpolicies") == [("Name", 0), ("Pod-Selector", 0), ("Age", 0)]
    assert cells("networking.k8s.io", "networkpolicies", deny_all) == ["default-deny", "<none>", "5m"]
    np = {"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}, "matchExpressions": [
        {"key": "env", "operator": "NotIn", "values": ["dev"]}, {"key": "legacy", "operator": "DoesNotExist"},
        {"key": "app", "operator": "Exists"}]}}}
    assert cells("networking.k8s.io", "networkpolicies", np)[1] == "app,env notin (dev),!legacy,role=db"


# --------------------------------------------------------------------------- events
def test_event_columns_match_kubectl_get_events() -> None:
    table = to_table(rt("", "events"), [], NOW)
    shown = [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]
    assert shown == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 1] == [
        "Subobject", "Source", "First Seen", "Count", "Name"]


def test_event_classic() -> None:
    ev = {"metadata": meta("web-0.17f3a"), "type": "Warning", "reason": "BackOff", "count": 7,
          "message": "Back-off restarting failed container app in pod web-0_default(uid)\n",
          "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default",
                             "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node-1"},
          "firstTimestamp": ts(timedelta(minutes=4)), "lastTimestamp": ts(timedelta(seconds=20))}
    assert cells("", "events", ev) == [
        "20s", "Warning", "BackOff", "pod/web-0", "spec.containers{app}", "kubelet, node-1",
        "Back-off restarting failed container app in pod web-0_default(uid)", "4m", 7, "web-0.17f3a"]


def test_event_new_api_shape() -> None:
    ev = {"metadata": meta("x.1"), "type": "Normal", "reason": "Scheduled", "message": "Successfully assigned",
          "involvedObject": {"kind": "Pod", "name": "web-1"}, "reportingComponent": "default-scheduler",
          "eventTime": (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert cells("", "events", ev) == ["30s", "Normal", "Scheduled", "pod/web-1", "", "default-scheduler",
                                       "Successfully assigned", "30s", 1, "x.1"]
    ev["series"] = {"count": 4, "lastObservedTime": (NOW - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    assert cells("", "events", ev)[0] == "2s" and cells("", "events", ev)[8] == 4
    assert cells("", "events", {"metadata": meta("y"), "involvedObject": {"kind": "Node"}})[0:4] == [
        "<unknown>", "", "", "node"]


# --------------------------------------------------------------------------- nodes and the rest
def test_node() -> None:
    node = {"metadata": meta("kind-control-plane", timedelta(days=1, hours=2),
                             labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}),
            "spec": {},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                                     {"type": "Hostname", "address": "kind-control-plane"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.8.0", "containerRuntimeVersion": "containerd://2.1.1"}}}
    assert headers("", "nodes") == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0), ("Version", 0),
                                    ("Internal-IP", 1), ("External-IP", 1), ("OS-Image", 1), ("Kernel-Version", 1),
                                    ("Container-Runtime", 1)]
    assert cells("", "nodes", node) == [
        "kind-control-plane", "Ready", "control-plane,master", "26h", "v1.33.1", "172.18.0.2", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.8.0", "containerd://2.1.1"]


def test_node_not_ready_cordoned_and_unknown() -> None:
    node = {"metadata": meta("w1"), "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert cells("", "nodes", node)[1:3] == ["NotReady,SchedulingDisabled", "<none>"]
    bare = {"metadata": meta("w2")}
    assert cells("", "nodes", bare)[1:] == ["Unknown", "<none>", "5m", "", "<none>", "<none>", "<unknown>",
                                            "<unknown>", "<unknown>"]


def test_namespace_configmap_secret_serviceaccount() -> None:
    ns = {"metadata": meta("team-a", timedelta(days=10)), "status": {"phase": "Active"}}
    assert cells("", "namespaces", ns) == ["team-a", "Active", "10d"]
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert cells("", "configmaps", cm) == ["cfg", 3, "5m"]
    secret = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "x", "tls.key": "y"}}
    assert cells("", "secrets", secret) == ["tls", "kubernetes.io/tls", 2, "5m"]
    sa = {"metadata": meta("default")}
    assert cells("", "serviceaccounts", sa) == ["default", 0, "5m"]
    assert headers("", "secrets") == [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]


# --------------------------------------------------------------------------- CRDs / default
CERT_COLUMNS = [
    {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Secret", "type": "string", "jsonPath": ".spec.secretName"},
    {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuerRef.name", "priority": 1},
    {"name": "Status", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
     "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
CERT_RT = ResourceType("cert-manager.io", "v1", "certificates", "Certificate")


def certificate() -> dict:
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": meta("web-tls"),
            "spec": {"secretName": "web-tls", "issuerRef": {"name": "ca-issuer", "kind": "ClusterIssuer"}},
            "status": {"conditions": [{"type": "Issuing", "status": "False"},
                                      {"type": "Ready", "status": "True",
                                       "message": "Certificate is up to date and has not expired"}]}}


def test_crd_columns_as_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "PRINTERS", dict(PRINTERS))
    tables.register_crd_columns("cert-manager.io", "certificates", CERT_COLUMNS)
    table = to_table(CERT_RT, [certificate()], NOW)
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0), ("Ready", "string", 0), ("Secret", "string", 0), ("Issuer", "string", 1),
        ("Status", "string", 1), ("Age", "date", 0)]
    assert table["columnDefinitions"][2]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.secretName")
    assert table["rows"][0]["cells"] == ["web-tls", "True", "web-tls", "ca-issuer",
                                         "Certificate is up to date and has not expired", "5m"]


def test_crd_missing_values_are_null() -> None:
    fresh = {"metadata": meta("new-cert"), "spec": {"secretName": "s", "issuerRef": {"name": "i"}}}
    row = to_table(CERT_RT, [fresh], NOW, columns=CERT_COLUMNS)["rows"][0]
    assert row["cells"] == ["new-cert", None, "s", "i", None, "5m"]


def test_default_table_is_name_and_age() -> None:
    widget = ResourceType("example.com", "v1", "widgets", "Widget")
    table = to_table(widget, [{"metadata": meta("w", timedelta(hours=5, minutes=7))}], NOW)
    assert [(c["name"], c["type"], c["format"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", "name"), ("Age", "date", "")]
    assert table["rows"][0]["cells"] == ["w", "5h7m"]


@pytest.mark.parametrize(("column", "value", "want"), [
    ({"type": "integer", "jsonPath": ".spec.replicas"}, 3, 3),
    ({"type": "integer", "jsonPath": ".spec.replicas"}, 3.9, 3),
    ({"type": "integer", "jsonPath": ".spec.replicas"}, "3", None),
    ({"type": "number", "jsonPath": ".spec.replicas"}, 2, 2.0),
    ({"type": "boolean", "jsonPath": ".spec.replicas"}, True, True),
    ({"type": "date", "jsonPath": ".spec.replicas"}, "yesterday", "<invalid>"),
    ({"type": "string", "jsonPath": ".spec.replicas"}, 1000000.0, "1e+06"),
    ({"type": "string", "jsonPath": ".spec.replicas"}, False, "false"),
    ({"type": "string", "jsonPath": ".spec.replicas"}, {"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
])
def test_crd_cell_types(column: dict, value: object, want: object) -> None:
    printer = tables.crd_printer([{"name": "X", **column}])
    assert printer.row({"metadata": meta("o"), "spec": {"replicas": value}}, NOW)[1] == want


def test_json_path_subset() -> None:
    obj = {"metadata": {"annotations": {"cert-manager.io/issuer": "ca"}},
           "spec": {"ports": [{"port": 80}, {"port": 443}]}}
    assert tables.json_path_find(obj, "{.spec.ports[1].port}") == [443]
    assert tables.json_path_find(obj, ".spec.ports[*].port") == [80, 443]
    assert tables.json_path_find(obj, ".metadata.annotations['cert-manager.io/issuer']") == ["ca"]
    assert tables.json_path_find(obj, ".spec.missing.deeper") == []
    with pytest.raises(ValueError):
        tables.parse_json_path(".spec..x[")
