"""The sandbox through the real kubectl: the verbs a learner types, and the errors a real cluster gives."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time

import pytest
import yaml
from tests.conftest import KUBECTL_MINORS

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
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
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def apply_web(sandbox, ns: str) -> None:
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT)
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s")


def test_version_reports_one_kubernetes_version(sandbox):
    out = json.loads(sandbox.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == "v1.33.1"
    assert out["serverVersion"]["minor"] == "33"


def test_nodes_are_kind_named_and_ready(sandbox):
    out = sandbox.kubectl("get", "nodes", "-o", "wide").stdout.splitlines()
    assert out[0].split()[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == {"k8snet-control-plane", "k8snet-worker", "k8snet-worker2"}
    assert rows["k8snet-control-plane"][1:3] == ["Ready", "control-plane"]
    cidrs = sandbox.kubectl("get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}").stdout.split()
    assert cidrs == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]


def test_apply_get_describe_delete(sandbox, ns):
    apply_web(sandbox, ns)
    pods = sandbox.kubectl_json("get", "pods", "-n", ns, "-l", "app=web")["items"]
    assert len(pods) == 3
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"].startswith("10.244.")
        assert pod["spec"]["nodeName"] in ("k8snet-worker", "k8snet-worker2")  # the control plane is tainted
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready["Ready"] == "True" and ready["PodScheduled"] == "True"
    wide = sandbox.kubectl("get", "pods", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:8] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED"]
    assert all(" 1/1 " in line and "Running" in line for line in wide[1:])
    svc = sandbox.kubectl("get", "svc", "web", "-n", ns).stdout.splitlines()
    assert svc[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    name, stype, ip, ext, ports = svc[1].split()[:5]
    assert (name, stype, ext, ports) == ("web", "ClusterIP", "<none>", "80/TCP")
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    described = sandbox.kubectl("describe", "deployment", "web", "-n", ns).stdout
    assert "Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable" in described
    assert "ScalingReplicaSet" in described
    pod_name = pods[0]["metadata"]["name"]
    described = sandbox.kubectl("describe", "pod", pod_name, "-n", ns).stdout
    assert "Successfully assigned" in described and "Started container web" in described
    sandbox.kubectl("delete", "-n", ns, "-f", "-", input=DEPLOYMENT)
    sandbox.kubectl("wait", "--for=delete", "pod", "-l", "app=web", "-n", ns, "--timeout=30s")
    assert sandbox.kubectl("get", "rs", "-n", ns, "-o", "name").stdout == ""


def test_apply_twice_takes_the_update_path(sandbox, ns):
    apply_web(sandbox, ns)
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT).stdout
    assert "deployment.apps/web unchanged" in out and "service/web unchanged" in out
    changed = DEPLOYMENT.replace("replicas: 3", "replicas: 2")
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=changed).stdout
    assert "deployment.apps/web configured" in out
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s")
    d = sandbox.kubectl_json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["replicas"] == 2 and d["status"]["readyReplicas"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in d["metadata"]["annotations"]


def test_scale_and_rollout_history_undo(sandbox, ns):
    apply_web(sandbox, ns)
    sandbox.kubectl("scale", "-n", ns, "deploy/web", "--replicas=5")
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s")
    assert len(sandbox.kubectl_json("get", "pods", "-n", ns, "-l", "app=web")["items"]) == 5
    sandbox.kubectl("set", "image", "-n", ns, "deploy/web", "web=registry.k8s.io/e2e-test-images/agnhost:2.67")
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=60s")
    history = sandbox.kubectl("rollout", "history", "-n", ns, "deploy/web").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    rs = sandbox.kubectl_json("get", "rs", "-n", ns)["items"]
    assert sorted(r["spec"]["replicas"] for r in rs) == [0, 5]
    sandbox.kubectl("rollout", "undo", "-n", ns, "deploy/web")
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=60s")
    rs = sandbox.kubectl_json("get", "rs", "-n", ns)["items"]
    assert len(rs) == 2, "undo reuses the first ReplicaSet rather than making a third"
    first = [r for r in rs if r["spec"]["replicas"] == 5][0]
    assert first["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    image = sandbox.kubectl("get", "deploy", "web", "-n", ns,
                            "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{a: '1'}}\n"


def test_get_watch_streams_changes(sandbox, ns):
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "HOME": str(sandbox.home)}
    watcher = subprocess.Popen(["kubectl", "get", "configmaps", "-n", ns, "-w", "--output-watch-events"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(0.5)
        sandbox.kubectl("apply", "-n", ns, "-f", "-", input=CONFIGMAP.format(name="c1"))
        sandbox.kubectl("label", "configmap", "c1", "-n", ns, "x=y")
        sandbox.kubectl("delete", "configmap", "c1", "-n", ns)
        time.sleep(0.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    events = [line.split()[0] for line in out.splitlines() if "c1" in line]
    assert events == ["ADDED", "MODIFIED", "DELETED"]


def test_server_side_apply_conflict_and_force(sandbox, ns):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: alice}\n"
    sandbox.kubectl("apply", "--server-side", "--field-manager=alice", "-n", ns, "-f", "-", input=cm)
    bob = cm.replace("alice", "bob")
    failed = sandbox.kubectl("apply", "--server-side", "--field-manager=bob", "-n", ns, "-f", "-", input=bob,
                             check=False)
    assert failed.returncode != 0
    assert 'conflict with "alice"' in failed.stderr and ".data.owner" in failed.stderr
    sandbox.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bob", "-n", ns, "-f", "-",
                    input=bob)
    got = sandbox.kubectl_json("get", "configmap", "shared", "-n", ns, "--show-managed-fields")
    assert got["data"] == {"owner": "bob"}
    assert [m["manager"] for m in got["metadata"]["managedFields"]] == ["bob"]


def test_yaml_round_trip(sandbox, ns):
    apply_web(sandbox, ns)
    text = sandbox.kubectl("get", "svc", "web", "-n", ns, "-o", "yaml").stdout
    obj = yaml.safe_load(text)
    assert obj["spec"]["clusterIP"] and obj["spec"]["sessionAffinity"] == "None"
    assert obj["spec"]["ports"][0] == {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=text).stdout
    assert "service/web" in out
    assert yaml.safe_load(sandbox.kubectl("get", "svc", "web", "-n", ns, "-o", "yaml").stdout)["spec"] == obj["spec"]


def test_explain_reads_the_openapi_documents(sandbox):
    out = sandbox.kubectl("explain", "service.spec.ports.targetPort").stdout
    assert "KIND:       Service" in out and "IntOrString" in out
    out = sandbox.kubectl("explain", "deployment.spec.strategy").stdout
    assert "rollingUpdate" in out


def test_api_resources_lists_the_lesson_groups(sandbox):
    out = sandbox.kubectl("api-resources", "--no-headers").stdout
    names = {line.split()[0] for line in out.splitlines()}
    assert {"pods", "services", "deployments", "replicasets", "endpointslices", "ingresses", "networkpolicies",
            "namespaces", "events"} <= names


def test_dry_run_server_stores_nothing(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", "--dry-run=server", input=CONFIGMAP.format(name="dry"))
    missing = sandbox.kubectl("get", "configmap", "dry", "-n", ns, check=False)
    assert missing.returncode == 1 and 'configmaps "dry" not found' in missing.stderr


def test_namespace_deletion_terminates_its_contents(sandbox):
    sandbox.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata: {name: doomed}\n")
    apply_web(sandbox, "doomed")
    sandbox.kubectl("delete", "namespace", "doomed", "--wait=false")
    phase = sandbox.kubectl("get", "ns", "doomed", "-o", "jsonpath={.status.phase}", check=False).stdout
    assert phase in ("Terminating", "")
    sandbox.kubectl("wait", "--for=delete", "namespace/doomed", "--timeout=60s")
    assert sandbox.kubectl("get", "pods", "-n", "doomed", "-o", "name").stdout == ""


# -- errors, worded as kube-apiserver words them ------------------------------------------


def test_invalid_port_is_refused_with_the_field(sandbox, ns):
    bad = "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 70000, targetPort: 80}]\n"
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == ('The Service "bad" is invalid: spec.ports[0].port: Invalid value: 70000: must be '
                                  'between 1 and 65535, inclusive')
    assert sandbox.kubectl("get", "svc", "bad", "-n", ns, check=False).returncode == 1


def test_port_zero_defaults_target_port_so_both_are_reported(sandbox, ns):
    # targetPort defaults to port (SetDefaults_Service) before validation, so kube-apiserver names both.
    bad = "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 0}]\n"
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert out.returncode == 1
    assert "* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in out.stderr
    assert "* spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive" in out.stderr


def test_unknown_field_is_refused_strictly(sandbox, ns):
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nspec: {x: 1}\n"
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert out.returncode == 1
    assert 'unknown field "spec"' in out.stderr


def test_unknown_kind_and_wrong_api_version(sandbox, ns):
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input="apiVersion: v1\nkind: Widget\nmetadata: {name: w}\n",
                          check=False)
    assert out.returncode == 1 and 'no matches for kind "Widget" in version "v1"' in out.stderr
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-",
                          input="apiVersion: apps/v2\nkind: Deployment\nmetadata: {name: w}\n", check=False)
    assert out.returncode == 1 and 'no matches for kind "Deployment" in version "apps/v2"' in out.stderr


def test_malformed_yaml(sandbox, ns):
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input="apiVersion: v1\nkind: [ConfigMap\n", check=False)
    assert out.returncode == 1 and "error" in out.stderr.lower()


def test_invalid_name(sandbox, ns):
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-",
                          input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n", check=False)
    assert out.returncode == 1
    assert 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in out.stderr


def test_missing_required_field(sandbox, ns):
    bad = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  selector: {matchLabels: {a: b}}\n"
           "  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c}]\n")
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert out.returncode == 1
    assert "spec.template.spec.containers[0].image: Required value" in out.stderr


def test_immutable_selector(sandbox, ns):
    apply_web(sandbox, ns)
    changed = DEPLOYMENT.replace("selector: {matchLabels: {app: web}}", "selector: {matchLabels: {app: web2}}")
    changed = changed.replace("metadata: {labels: {app: web}}", "metadata: {labels: {app: web2}}")
    out = sandbox.kubectl("apply", "-n", ns, "-f", "-", input=changed, check=False)
    assert out.returncode == 1 and "field is immutable" in out.stderr


def test_stale_update_conflicts(sandbox, ns):
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=CONFIGMAP.format(name="c"))
    obj = sandbox.kubectl_json("get", "configmap", "c", "-n", ns)
    sandbox.kubectl("label", "configmap", "c", "-n", ns, "x=y")
    out = sandbox.kubectl("replace", "-f", "-", input=json.dumps(obj), check=False)
    assert out.returncode == 1
    assert ('Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your '
            'changes to the latest version and try again') in out.stderr


def test_token_is_required(sandbox):
    out = sandbox.kubectl("get", "pods", "--token=wrong", check=False)
    assert out.returncode == 1 and "Unauthorized" in out.stderr or "credentials" in out.stderr


@pytest.mark.parametrize("minor", sorted(KUBECTL_MINORS))
def test_core_verbs_with_each_kubectl_minor(sandbox, ns, minor):
    binary = KUBECTL_MINORS[minor]
    if not os.path.exists(binary):
        pytest.skip(f"kubectl 1.{minor} is not on this machine")
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=DEPLOYMENT, binary=binary)
    sandbox.kubectl("rollout", "status", "-n", ns, "deploy/web", "--timeout=30s", binary=binary)
    out = sandbox.kubectl("get", "pods", "-n", ns, binary=binary).stdout
    assert out.count("Running") == 3
    sandbox.kubectl("scale", "-n", ns, "deploy/web", "--replicas=1", binary=binary)
    sandbox.kubectl("wait", "-n", ns, "--for=jsonpath={.status.replicas}=1", "deploy/web", "--timeout=30s",
                    binary=binary)
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=CONFIGMAP.format(name="c"), binary=binary)
    # kubectl scale made "kubectl" the owner of .spec.replicas, so taking it back needs --force-conflicts
    sandbox.kubectl("apply", "--server-side", "--force-conflicts", "-n", ns, "-f", "-", input=DEPLOYMENT,
                    binary=binary)
    assert "KIND:" in sandbox.kubectl("explain", "pod.spec.containers", binary=binary).stdout
    sandbox.kubectl("delete", "-n", ns, "deploy/web", "configmap/c", binary=binary)


def test_create_subcommands_send_protobuf_and_work(sandbox, ns):
    """kubectl 1.32+ typed clients post protobuf bodies (kubectl create …); the sandbox decodes them."""
    sandbox.kubectl("create", "deployment", "echo", "-n", ns, "--image=hashicorp/http-echo:1.0.0", "--replicas=2",
                    "--port=5678")
    sandbox.kubectl("rollout", "status", "deploy/echo", "-n", ns, "--timeout=30s")
    sandbox.kubectl("create", "service", "nodeport", "echo", "-n", ns, "--tcp=80:5678", "--node-port=30999")
    svc = sandbox.kubectl_json("get", "svc", "echo", "-n", ns)
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 30999
    sandbox.kubectl("create", "configmap", "cfg", "-n", ns, "--from-literal=color=blue")
    sandbox.kubectl("create", "secret", "generic", "pw", "-n", ns, "--from-literal=password=s3cret")
    secret = sandbox.kubectl_json("get", "secret", "pw", "-n", ns)
    assert secret["type"] == "Opaque" and secret["data"]["password"] == "czNjcmV0"
    sandbox.kubectl("create", "serviceaccount", "robot", "-n", ns)
    name = "t-" + ns[2:] + "-x"
    sandbox.kubectl("create", "namespace", name)
    assert sandbox.kubectl_json("get", "ns", name)["status"]["phase"] == "Active"
    sandbox.kubectl("delete", "namespace", name, "--wait=false")
    taken = sandbox.kubectl("create", "service", "nodeport", "again", "-n", ns, "--tcp=80:5678",
                            "--node-port=30999", check=False)
    assert taken.returncode == 1
    assert "spec.ports[0].nodePort: Invalid value: 30999: provided port is already allocated" in taken.stderr


def test_an_image_the_sandbox_does_not_emulate_gets_a_warning_event(sandbox, ns):
    sandbox.kubectl("run", "db", "-n", ns, "--image=redis:7")
    sandbox.kubectl("wait", "-n", ns, "--for=condition=Ready", "pod/db", "--timeout=30s")
    events = sandbox.kubectl("get", "events", "-n", ns, "--field-selector", "reason=ImageNotEmulated").stdout
    assert "Warning" in events and 'does not emulate image "redis:7"' in events
