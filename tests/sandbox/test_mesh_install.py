"""Istio 1.31 in ambient mode, installed by ``k8snet mesh install istio`` on a sandbox of this file's own, checked
through kubectl and the kubernetes client as on a kind cluster: the pods of istiod, istio-cni and ztunnel, the 15
CRDs and their schemas, the GatewayClasses istiod makes, the root certificate it puts into every namespace, the
node agents' enrolment annotation (istio-cni's ``ambient.istio.io/redirection``), a waypoint by ``k8snet mesh
waypoint`` (``istioctl waypoint apply``), and istiod's workload certificates for the data path."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from k8snet.sandbox.controllers.istio import ca, names

from ..conftest import SandboxEnv, private_sandbox, wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def k8snet(env: SandboxEnv, *args: str) -> subprocess.CompletedProcess:
    """The ``k8snet`` command against the sandbox (a real process, as a learner types it)."""
    run_env = {**os.environ, "KUBECONFIG": str(env.kubeconfig), "K8SNET_HOME": str(env.home / "home"),
               "HOME": str(env.home), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "k8snet.cli", *args], capture_output=True, text=True,
                          env=run_env, timeout=120)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxEnv, subprocess.CompletedProcess]]:
    with private_sandbox(tmp_path_factory.mktemp("mesh")) as env:
        installed = k8snet(env, "mesh", "install", "istio")
        yield env, installed


@pytest.fixture
def namespace(mesh) -> Iterator[str]:
    env, _ = mesh
    name = "m-" + uuid.uuid4().hex[:8]
    env.kubectl("create", "namespace", name)
    yield name
    env.kubectl("delete", "namespace", name, "--wait=false", check=False)


def run_pod(env: SandboxEnv, ns: str, name: str, *labels: str) -> None:
    args = ["run", name, "-n", ns, f"--image={AGNHOST}", "--restart=Never"]
    if labels:
        args.append("--labels=" + ",".join(labels))
    env.kubectl(*args, "--", "netexec")


def annotation(env: SandboxEnv, ns: str, pod: str) -> str | None:
    return (env.kubectl_json("get", "pod", pod, "-n", ns)["metadata"].get("annotations") or {}).get(
        names.AMBIENT_REDIRECTION)


def test_install_prints_each_step_and_waits_for_every_node(mesh):
    _, installed = mesh
    assert installed.returncode == 0, installed.stderr
    lines = installed.stdout.splitlines()
    assert "✓ Istio 1.31.0 CRDs (15) Established" in " ".join(lines)
    for done in ("istiod Available", "istio-cni-node rolled out on every node", "ztunnel rolled out on every node"):
        assert any(line.startswith("✓ " + done) for line in lines), installed.stdout


def test_istiod_one_ztunnel_and_one_istio_cni_per_node_all_running(mesh):
    env, _ = mesh
    pods = env.kubectl_json("get", "pods", "-n", "istio-system")["items"]
    nodes = {n["metadata"]["name"] for n in env.kubectl_json("get", "nodes")["items"]}
    by_app: dict[str, list[dict]] = {}
    for pod in pods:
        labels = pod["metadata"]["labels"]
        app = labels.get("app") or labels.get("k8s-app")
        by_app.setdefault(app, []).append(pod)
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
    assert len(by_app["istiod"]) == 1
    assert {p["spec"]["nodeName"] for p in by_app["ztunnel"]} == nodes and len(by_app["ztunnel"]) == len(nodes)
    assert {p["spec"]["nodeName"] for p in by_app["istio-cni-node"]} == nodes
    images = {c["image"] for p in pods for c in p["spec"]["containers"]}
    assert images == {"docker.io/istio/pilot:1.31.0-distroless", "docker.io/istio/install-cni:1.31.0-distroless",
                      "docker.io/istio/ztunnel:1.31.0-distroless"}
    out = env.kubectl("get", "pods", "-n", "istio-system").stdout
    assert out.count("Running") == 1 + 2 * len(nodes)
    assert "1/1" in out and "0/1" not in out  # Ready through their readiness probes (:8080, :8000, :15021)


def test_the_fifteen_istio_crds_are_served(mesh):
    env, _ = mesh
    lines = [line for line in env.kubectl("get", "crd").stdout.splitlines() if "istio.io" in line]
    assert len(lines) == 15
    resources = env.kubectl("api-resources", "--api-group=security.istio.io", "-o", "name").stdout.split()
    assert resources == ["authorizationpolicies.security.istio.io", "peerauthentications.security.istio.io",
                         "requestauthentications.security.istio.io"]


def test_istiod_creates_its_gateway_classes_accepted(mesh):
    env, _ = mesh
    out = env.kubectl("get", "gatewayclass").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["istio"][1:3] == ["istio.io/gateway-controller", "True"]
    assert rows["istio-waypoint"][1:3] == ["istio.io/mesh-controller", "True"]
    assert rows["istio-remote"][1:3] == ["istio.io/unmanaged-gateway", "True"]
    accepted = env.kubectl_json("get", "gatewayclass", "istio-waypoint")["status"]["conditions"][0]
    assert (accepted["reason"], accepted["message"]) == ("Accepted", "Handled by Istio controller")


def test_the_root_certificate_appears_in_a_new_namespace(mesh, namespace):
    env, _ = mesh
    cm = wait_for(lambda: env.kubectl("get", "configmap", names.ROOT_CERT_CONFIGMAP, "-n", namespace, "-o", "json",
                                      check=False).stdout, what="istio-ca-root-cert in a new namespace")
    root = json.loads(cm)["data"][names.ROOT_CERT_CONFIGMAP_KEY]
    secret = env.kubectl_json("get", "secret", names.CA_SECRET, "-n", "istio-system")
    assert secret["type"] == "istio.io/ca-root"
    assert base64.b64decode(secret["data"]["root-cert.pem"]).decode() == root
    cert = x509.load_pem_x509_certificate(root.encode())
    assert cert.subject.rfc4514_string() == "O=cluster.local" and cert.issuer == cert.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=3650)


def test_labelling_a_namespace_ambient_annotates_running_and_new_pods_but_not_opted_out(mesh, namespace):
    env, _ = mesh
    run_pod(env, namespace, "before")
    run_pod(env, namespace, "optout", "istio.io/dataplane-mode=none")
    wait_for(lambda: env.kubectl_json("get", "pod", "before", "-n", namespace)["status"].get("phase") == "Running",
             what="pod before Running")
    assert annotation(env, namespace, "before") is None
    env.kubectl("label", "namespace", namespace, "istio.io/dataplane-mode=ambient")
    wait_for(lambda: annotation(env, namespace, "before") == "enabled", what="the running pod captured")
    run_pod(env, namespace, "after")
    after = wait_for(lambda: (p := env.kubectl_json("get", "pod", "after", "-n", namespace))["status"].get(
        "phase") == "Running" and p, what="pod after Running")
    # captured by the CNI plugin as its sandbox was made: annotated by the time it runs
    assert after["metadata"]["annotations"][names.AMBIENT_REDIRECTION] == "enabled"
    assert annotation(env, namespace, "optout") is None
    env.kubectl("label", "namespace", namespace, "istio.io/dataplane-mode-")
    wait_for(lambda: annotation(env, namespace, "before") is None and annotation(env, namespace, "after") is None,
             what="the annotation removed once the namespace leaves the mesh")


def test_a_waypoint_from_the_cli_is_programmed_with_a_running_pod(mesh, namespace):
    env, _ = mesh
    env.kubectl("label", "namespace", namespace, "istio.io/dataplane-mode=ambient")
    done = k8snet(env, "mesh", "waypoint", namespace, "--enroll-namespace")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"✅ waypoint {namespace}/waypoint applied",
                                        f"✅ waypoint {namespace}/waypoint is ready!",
                                        f'✅ namespace {namespace} labeled with "istio.io/use-waypoint: waypoint"']
    gw = env.kubectl_json("get", "gateway", "waypoint", "-n", namespace)
    assert gw["spec"] == {"gatewayClassName": "istio-waypoint",  # allowedRoutes: the CRD's default
                          "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE",
                                         "allowedRoutes": {"namespaces": {"from": "Same"}}}]}
    programmed = {c["type"]: c for c in gw["status"]["conditions"]}["Programmed"]
    assert programmed["status"] == "True"
    assert programmed["message"] == (f"Resource programmed, assigned to service(s) "
                                     f"waypoint.{namespace}.svc.cluster.local:15008")
    svc = env.kubectl_json("get", "service", "waypoint", "-n", namespace)
    assert [a["value"] for a in gw["status"]["addresses"]] == [svc["spec"]["clusterIP"],
                                                               f"waypoint.{namespace}.svc.cluster.local"]
    assert [(p["name"], p["port"], p["appProtocol"]) for p in svc["spec"]["ports"]] == [
        ("status-port", 15021, "tcp"), ("mesh", 15008, "hbone")]
    pod = wait_for(lambda: [p for p in env.kubectl_json("get", "pods", "-n", namespace, "-l",
                                                        "gateway.networking.k8s.io/gateway-name=waypoint")["items"]
                            if p["status"].get("phase") == "Running"], what="the waypoint pod Running")[0]
    assert pod["spec"]["containers"][0]["image"] == "docker.io/istio/proxyv2:1.31.0-distroless"
    assert pod["spec"]["containers"][0]["args"][:2] == ["proxy", "waypoint"]
    assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    assert names.AMBIENT_REDIRECTION not in (pod["metadata"].get("annotations") or {})  # a waypoint is not captured
    labels = env.kubectl_json("get", "namespace", namespace)["metadata"]["labels"]
    assert labels["istio.io/use-waypoint"] == "waypoint"
    from k8snet.cluster import Cluster
    from k8snet.mesh import waypoint

    said: list[str] = []  # a second apply with enrolment: istioctl only warns, and applies nothing
    assert waypoint(Cluster("sandbox", "k8snet-sandbox", env.api_client()), namespace, say=said.append) is None
    assert said == [f"⚠️ Warning: namespace ({namespace}) already has an enrolled Waypoint. Consider adding the "
                    "`--overwrite` flag to your apply command."]


def test_workload_certificates_chain_to_the_mesh_root(mesh, tmp_path: Path):
    env, _ = mesh
    secret = env.kubectl_json("get", "secret", names.CA_SECRET, "-n", "istio-system")["data"]
    mesh_ca = ca.MeshCA.load(base64.b64decode(secret["ca-cert.pem"]).decode(),
                             base64.b64decode(secret["ca-key.pem"]).decode())
    issued = mesh_ca.workload("shop", "cart")
    cert = issued.certificate
    assert issued.spiffe == "spiffe://cluster.local/ns/shop/sa/cart"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [issued.spiffe]
    assert len(list(san.value)) == 1 and len(cert.subject) == 0
    assert issued.not_after - (issued.not_before + ca.CLOCK_SKEW_GRACE) == dt.timedelta(hours=24)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    cert.verify_directly_issued_by(mesh_ca.root)
    openssl = shutil.which("openssl")
    if openssl:
        (tmp_path / "root.pem").write_text(issued.root_pem)
        (tmp_path / "leaf.pem").write_text(issued.chain_pem)
        done = subprocess.run([openssl, "verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem")],
                              capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip().endswith("OK"), done.stdout + done.stderr
    assert mesh_ca.workload("shop", "cart") is issued  # ztunnel keeps it until half its life


def test_a_second_install_changes_nothing(mesh):
    env, _ = mesh
    from k8snet.cluster import Cluster
    from k8snet.mesh import install

    before = env.kubectl_json("get", "pods,secret", "-n", "istio-system")["items"]
    report = install(Cluster("sandbox", "k8snet-sandbox", env.api_client()), "istio", say=lambda line: None)
    assert len(report.crds) == 15
    after = env.kubectl_json("get", "pods,secret", "-n", "istio-system")["items"]
    assert [(o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for o in after if o["kind"] == "Secret"] == \
        [(o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for o in before if o["kind"] == "Secret"]
    assert sorted(o["metadata"]["uid"] for o in after) == sorted(o["metadata"]["uid"] for o in before)


def test_security_policies_are_validated_by_their_crd_schemas(mesh, namespace):
    env, _ = mesh
    good = f"""apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: allow-cart, namespace: {namespace}}}
spec:
  action: ALLOW
  rules:
  - from:
    - source: {{principals: ["cluster.local/ns/{namespace}/sa/cart"]}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: default, namespace: {namespace}}}
spec:
  mtls: {{mode: STRICT}}
"""
    env.kubectl("apply", "-f", "-", input=good)
    assert "STRICT" in env.kubectl("get", "peerauthentication", "-n", namespace).stdout
    bad = env.kubectl("apply", "-f", "-", check=False, input=f"""apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: bad, namespace: {namespace}}}
spec:
  mtls: {{mode: STRICTEST}}
""")
    assert bad.returncode != 0
    assert 'spec.mtls.mode: Unsupported value: "STRICTEST": supported values: "UNSET", "DISABLE", "PERMISSIVE", ' \
           '"STRICT"' in bad.stderr
    api = client.CustomObjectsApi(env.api_client())
    with pytest.raises(ApiException) as err:
        api.create_namespaced_custom_object("security.istio.io", "v1", namespace, "authorizationpolicies", {
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "mixed"},
            "spec": {"rules": [{"from": [{"source": {"serviceAccounts": ["a"], "principals": ["b"]}}]}]}})
    assert err.value.status == 422
    assert "Cannot set serviceAccounts with namespaces or principals" in json.loads(err.value.body)["message"]


def test_asking_for_a_sidecar_gets_a_warning_that_sidecar_mode_is_not_emulated(mesh, namespace):
    env, _ = mesh
    run_pod(env, namespace, "legacy", "sidecar.istio.io/inject=true")
    event = wait_for(lambda: [e for e in env.kubectl_json("get", "events", "-n", namespace)["items"]
                              if e["involvedObject"]["name"] == "legacy" and e["reason"] == "NotEmulated"],
                     what="the sidecar warning")[0]
    assert event["type"] == "Warning" and "sidecar mode is not emulated" in event["message"]
    pod = env.kubectl_json("get", "pod", "legacy", "-n", namespace)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["legacy"]  # nothing injected, as on kind
