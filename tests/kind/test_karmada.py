"""Karmada on kind (k8snet.kind.karmada, ``k8snet kind up --name karmada --karmada``): the Karmada operator as its
README and hack/deploy-karmada-operator.sh install it, the ``Karmada`` object it turns into a control plane, the
one-node host cluster that publishes the karmada-apiserver, the operator's admin kubeconfig rewritten for this
machine (checked over real TLS), the address Karmada's controllers reach a kind member at; then the same objects
against a real API server (the sandbox's karmada-apiserver, which serves CRDs with their schemas), the lifecycle
through fake docker and kind, and (``pytest -m kind``, with Docker and kind) a real Karmada placing a Deployment over
two kind clusters, as lesson 09 does.

Upstream: karmada-io/karmada at v1.19.0-rc.0: operator/README.md, operator/config/, operator/pkg/ (constants, certs,
tasks/init/upload.go, util/naming.go, util/kubeconfig.go), test/helper/karmada.go, hack/deploy-karmada-operator.sh;
kind's pkg/internal/apis/config/validate.go and pkg/cluster/internal/kubeconfig/kubeconfig.go."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import ssl
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from tests.kind.conftest import docker_json

from k8snet import clusterset, federation, kubeconfig
from k8snet.cluster import ConnectError
from k8snet.kind import commands, karmada, lifecycle, readiness, versions
from k8snet.sandbox import process

from .conftest import assert_strict, docker_and_kind_missing

KIND_OK = (["kind", "version"], "kind v0.32.0 go1.26.3 linux/amd64\n", "", 0)


def by_kind() -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in karmada.operator_objects()}


# -- the operator, as Karmada installs it without helm ---------------------------------------------------------------


def test_the_operator_manifest_is_the_readmes_yaml_install_in_its_order():
    """operator/README.md "Using YAML resource" and hack/deploy-karmada-operator.sh: the karmada-system Namespace, the
    Karmada CRD (server-side: it is a megabyte), the ClusterRole, its binding, the ServiceAccount, the Deployment."""
    assert list(by_kind()) == [("Namespace", "karmada-system"),
                               ("CustomResourceDefinition", "karmadas.operator.karmada.io"),
                               ("ClusterRole", "karmada-operator"), ("ClusterRoleBinding", "karmada-operator"),
                               ("ServiceAccount", "karmada-operator"), ("Deployment", "karmada-operator")]
    for (kind, _), obj in by_kind().items():
        if kind != "CustomResourceDefinition":
            assert_strict(obj)


def test_the_operator_runs_the_pinned_release_image_not_latest():
    pod = by_kind()[("Deployment", "karmada-operator")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == versions.KARMADA_OPERATOR_IMAGE == f"docker.io/karmada/karmada-operator:" \
                                                                    f"{versions.KARMADA_VERSION}"
    assert container["command"][:2] == ["/bin/karmada-operator", "--leader-elect-resource-namespace=karmada-system"]
    assert pod["serviceAccountName"] == "karmada-operator"
    text = (Path(karmada.__file__).parent / "manifests" / versions.KARMADA_OPERATOR_MANIFEST).read_text()
    header = text.split("---")[0]
    assert f"karmada-io/karmada at the tag {versions.KARMADA_VERSION}" in header.replace("\n# ", " ")


def test_the_operator_may_do_what_its_init_job_does_and_no_more():
    """The upstream ClusterRole: Karmada objects and their status, the control plane's Secrets, Services,
    Deployments, StatefulSets and PodDisruptionBudgets, and /healthz of the karmada-apiserver."""
    rules = by_kind()[("ClusterRole", "karmada-operator")]["rules"]
    granted = {(g, r): set(rule["verbs"]) for rule in rules for g in rule.get("apiGroups", []) for r in
               rule.get("resources", [])}
    assert granted[("operator.karmada.io", "karmadas/status")] == {"update"}
    assert granted[("apps", "deployments")] == {"get", "create", "update", "delete"}
    assert granted[("", "secrets")] == {"get", "create", "update", "delete"}
    assert ("", "configmaps") not in granted and ("rbac.authorization.k8s.io", "clusterroles") not in granted
    binding = by_kind()[("ClusterRoleBinding", "karmada-operator")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "karmada-operator",
                                    "namespace": "karmada-system"}]


# -- the Karmada object and the Service this machine reaches -------------------------------------------------------------


def test_the_karmada_object_pins_every_component_with_one_replica():
    spec = karmada.instance()["spec"]
    components = spec["components"]
    assert components["etcd"] == {"local": {"imageRepository": "registry.k8s.io/etcd",
                                            "imageTag": versions.KARMADA_ETCD_VERSION, "replicas": 1}}
    for part in ("karmadaAPIServer", "kubeControllerManager"):
        assert components[part]["imageTag"] == versions.KARMADA_KUBE_VERSION
    karmada_parts = {"karmadaAggregatedAPIServer": "karmada-aggregated-apiserver",
                     "karmadaControllerManager": "karmada-controller-manager",
                     "karmadaScheduler": "karmada-scheduler", "karmadaWebhook": "karmada-webhook",
                     "karmadaMetricsAdapter": "karmada-metrics-adapter"}
    for part, image in karmada_parts.items():
        assert components[part] == {"imageRepository": f"docker.io/karmada/{image}",
                                    "imageTag": versions.KARMADA_VERSION, "replicas": 1}
    assert {c.get("replicas") for c in components.values() if "replicas" in c} == {1}  # metrics-adapter's default: 2
    assert components["karmadaAPIServer"]["serviceType"] == "ClusterIP"
    assert spec["crdTarball"]["httpSource"]["url"] == (f"https://github.com/karmada-io/karmada/releases/download/"
                                                       f"{versions.KARMADA_VERSION}/crds.tar.gz")


def test_names_follow_the_operators_naming_for_an_instance_called_karmada():
    """util/naming.go: a name containing "karmada" is prefixed as is (karmada-apiserver), as karmadactl init names
    its parts; another would get "-karmada-" in the middle."""
    assert (karmada.APISERVER, karmada.ADMIN_SECRET) == ("karmada-apiserver", "karmada-admin-config")
    assert karmada.instance()["metadata"] == {"name": "karmada", "namespace": "karmada-system"}


def test_the_nodeport_service_selects_the_operators_apiserver_pods_on_karmadactls_port():
    svc = karmada.nodeport_service()
    assert_strict(svc)
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "karmada-apiserver",
                                       "app.kubernetes.io/instance": "karmada"}
    assert svc["spec"]["ports"] == [{"name": "client", "protocol": "TCP", "port": 5443, "targetPort": 5443,
                                     "nodePort": 32443}]
    assert versions.KARMADA_APISERVER_NODE_PORT == 32443  # karmadactl init --port's default


# -- the host cluster -----------------------------------------------------------------------------------------------


def test_the_host_is_one_node_that_publishes_the_apiserver_on_a_free_local_port():
    cfg = karmada.host_config("karmada")
    shape = clusterset.shape("karmada")
    assert (cfg["name"], cfg["networking"]["podSubnet"], cfg["networking"]["serviceSubnet"]) == (
        "karmada", shape.pod_cidr, shape.service_cidr)
    (node,) = cfg["nodes"]
    assert node["role"] == "control-plane" and node["image"] == versions.NODE_IMAGE
    # hostPort 0: kind picks a free port (validate.go: "Port -1 and 0 cause a random port to be selected")
    assert node["extraPortMappings"] == [{"containerPort": 32443, "hostPort": 0, "listenAddress": "127.0.0.1",
                                          "protocol": "TCP"}]
    assert "disableDefaultCNI" not in cfg["networking"]  # kindnet: the control plane's pods need no more
    text = karmada.render_host_config(cfg)
    assert text.startswith("# Generated by k8snet") and yaml.safe_load(text) == cfg


@pytest.mark.parametrize(("published", "host", "port"), [
    ({32080: "127.0.0.1:8080", 32443: "127.0.0.1:8443"}, False, 8443),  # an ordinary member: the edge
    ({32443: "127.0.0.1:41234"}, True, 41234),                           # a Karmada host
    ({}, False, None),                                                   # a stopped node publishes nothing
])
def test_a_karmada_host_is_told_by_the_ports_its_node_publishes(published, host, port):
    assert karmada.is_host(published) is host
    if port is None:
        with pytest.raises(ValueError, match="does not publish the karmada-apiserver's nodePort 32443"):
            karmada.host_port(published)
    else:
        assert karmada.host_port(published) == port


def test_a_kind_member_is_reached_at_its_node_on_kinds_docker_network():
    """kind get kubeconfig --internal: the node's admin.conf, server <name>-control-plane:6443."""
    assert karmada.member_endpoint("cloud") == "https://cloud-control-plane:6443"
    with pytest.raises(ValueError, match="is not a valid cluster name"):
        karmada.member_endpoint("Cloud_1")


def stand_in(backend: str, name: str, host: str) -> types.SimpleNamespace:
    """What :func:`federation.api_endpoint` reads of a Cluster: its backend, name, context and API address."""
    return types.SimpleNamespace(backend=backend, name=name, context=clusterset.context(name, backend),
                                 api=types.SimpleNamespace(configuration=types.SimpleNamespace(host=host)))


def test_join_gives_each_member_the_address_karmadas_controllers_reach():
    on_kind, in_sandbox = stand_in("kind", "karmada", "https://127.0.0.1:41234"), stand_in("sandbox", "karmada", "x")
    kind_east, sandbox_east = stand_in("kind", "east", "https://127.0.0.1:39001"), stand_in("sandbox", "east",
                                                                                          "https://127.0.0.1:6443")
    assert federation.api_endpoint(on_kind, kind_east) == "https://east-control-plane:6443"
    assert federation.api_endpoint(in_sandbox, sandbox_east) == "https://127.0.0.1:6443"
    assert federation.api_endpoint(in_sandbox, kind_east) == "https://127.0.0.1:39001"  # the sandbox runs here
    with pytest.raises(RuntimeError, match="k8snet-east is a sandbox: its API listens on 127.0.0.1"):
        federation.api_endpoint(on_kind, sandbox_east)


# -- the admin kubeconfig, rewritten for this machine and used over real TLS -------------------------------------------


def issue(cn: str, issuer: tuple | None = None, *, ca: bool = False, ips: tuple[str, ...] = (), client_auth=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer[0].subject if issuer else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ips:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
    if client_auth:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def pem(cert, key=None) -> bytes:
    if key is None:
        return cert.public_bytes(serialization.Encoding.PEM)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def control_plane_pki():
    """The operator's shape: one CA, the apiserver's certificate for 127.0.0.1 and localhost among others
    (apiServerAltNamesMutator), the admin's client certificate (KarmadaCertClient, O=system:masters)."""
    ca = issue("karmada", ca=True)
    server = issue("karmada-apiserver", ca, ips=("127.0.0.1",))
    admin = issue("system:admin", ca, client_auth=True)
    return ca, server, admin


def operator_admin_secret(ca, admin, server_url: str) -> dict:
    """The Secret the operator writes (upload.go, util.CreateWithCerts: cluster karmada-apiserver, user
    karmada-admin, context karmada-admin@karmada-apiserver), as the API returns it."""
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {},
              "clusters": [{"name": "karmada-apiserver", "cluster": {
                  "server": server_url, "certificate-authority-data": b64(pem(ca[0]))}}],
              "users": [{"name": "karmada-admin", "user": {"client-certificate-data": b64(pem(admin[0])),
                                                          "client-key-data": b64(pem(admin[0], admin[1]))}}],
              "contexts": [{"name": "karmada-admin@karmada-apiserver",
                            "context": {"cluster": "karmada-apiserver", "user": "karmada-admin"}}],
              "current-context": "karmada-admin@karmada-apiserver"}
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "karmada-admin-config", "namespace": "karmada-system"},
            "data": {"karmada.config": b64(yaml.safe_dump(config).encode())}}


CLUSTER_IP_URL = "https://karmada-apiserver.karmada-system.svc.cluster.local:5443"
"""upload.go's endpoint for a ClusterIP karmada-apiserver."""


def test_the_admin_kubeconfig_keeps_its_credentials_and_gets_this_machines_server(control_plane_pki):
    ca, _, admin = control_plane_pki
    secret = operator_admin_secret(ca, admin, CLUSTER_IP_URL)
    admin_config = karmada.admin_kubeconfig(secret)
    cluster, user = karmada.context_entries(admin_config, "https://127.0.0.1:41234")
    assert cluster == {"server": "https://127.0.0.1:41234",
                       "certificate-authority-data": admin_config["clusters"][0]["cluster"][
                           "certificate-authority-data"]}
    assert user == admin_config["users"][0]["user"]
    assert admin_config["clusters"][0]["cluster"]["server"] == CLUSTER_IP_URL  # the Secret's copy is not changed


def test_a_secret_without_a_kubeconfig_is_said_plainly():
    with pytest.raises(ValueError, match=r"has no 'karmada.config' key \(keys: \['kubeconfig'\]\)"):
        karmada.admin_kubeconfig({"data": {"kubeconfig": ""}})
    with pytest.raises(ValueError, match="is not a kubeconfig with a cluster and a user"):
        karmada.admin_kubeconfig({"data": {"karmada.config": base64.b64encode(b"clusters: []").decode()}})


@pytest.fixture
def tls_apiserver(control_plane_pki) -> Iterator[int]:
    """A TLS server on 127.0.0.1 with the karmada-apiserver's certificate that asks for a client certificate from
    the CA and answers /version as kube-apiserver does; yields its port."""
    ca, server, _ = control_plane_pki

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            peer = self.connection.getpeercert()
            cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else None
            body = json.dumps({"major": "1", "minor": "36", "gitVersion": versions.KARMADA_KUBE_VERSION,
                               "gitCommit": "0" * 40, "gitTreeState": "clean", "buildDate": "2026-08-01T00:00:00Z",
                               "goVersion": "go1.26.7", "compiler": "gc", "platform": f"client {cn}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    def write(path: Path, data: bytes) -> str:
        path.write_bytes(data)
        return str(path)

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(write(Path(d) / "s.crt", pem(server[0])), write(Path(d) / "s.key", pem(*server)))
        ctx.load_verify_locations(write(Path(d) / "ca.crt", pem(ca[0])))
        ctx.verify_mode = ssl.CERT_REQUIRED
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield httpd.server_address[1]
        finally:
            httpd.shutdown()
            httpd.server_close()


def test_the_rewritten_context_reaches_the_apiserver_over_tls_with_the_admins_certificate(
        control_plane_pki, tls_apiserver, tmp_path, monkeypatch):
    """What write_context puts into $KUBECONFIG is enough for the official client: the CA verifies the server's
    certificate at 127.0.0.1 and the admin's certificate is presented."""
    ca, _, admin = control_plane_pki
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    kubeconfig.add_context("kind-cloud", "https://127.0.0.1:1", "t")  # the workbook's own context stays current
    host = types.SimpleNamespace(find=lambda kind, name, ns: (
        operator_admin_secret(ca, admin, CLUSTER_IP_URL) if (kind, name, ns) == ("Secret", "karmada-admin-config",
                                                                                 "karmada-system") else None))
    karmada.write_context(host, "karmada", tls_apiserver)  # type: ignore[arg-type]
    assert kubeconfig.current_context() == "kind-cloud"
    assert kubeconfig.context("kind-karmada")["server"] == f"https://127.0.0.1:{tls_apiserver}"
    api = kube_config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"), context="kind-karmada")
    version = client.VersionApi(api).get_code()
    assert (version.git_version, version.platform) == (versions.KARMADA_KUBE_VERSION, "client system:admin")


def test_the_context_becomes_current_when_there_is_none(control_plane_pki, tmp_path, monkeypatch):
    ca, _, admin = control_plane_pki
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    host = types.SimpleNamespace(find=lambda kind, name, ns: operator_admin_secret(ca, admin, CLUSTER_IP_URL))
    karmada.write_context(host, "karmada", 41234)  # type: ignore[arg-type]
    assert kubeconfig.current_context() == "kind-karmada"


# -- readiness -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "ok", "said"), [
    (None, None, "the Karmada object is not there"),
    ({}, None, "no Ready condition yet"),
    ({"conditions": [{"type": "Ready", "status": "False", "reason": "Progressing",
                      "message": "karmada init job is in progressing"}]}, None,
     "Ready=False Progressing: karmada init job is in progressing"),
    ({"conditions": [{"type": "Ready", "status": "False", "reason": "Failed",
                      "message": "wait-apiserver: timed out"}]}, None, "Ready=False Failed: wait-apiserver"),
    ({"conditions": [{"type": "Ready", "status": "True", "reason": "Completed",
                      "message": "karmada init job is completed"}]}, True, "Ready=True Completed"),
])
def test_ready_is_the_operators_condition_and_failed_is_not_final(status, ok, said):
    """planner.go: Progressing before the init job, Failed when it errs (the controller requeues and runs it again),
    Completed when done (helper.go KarmadaInProgressing/KarmadaFailed/KarmadaCompleted)."""
    obj = None if status is None else {"status": status}
    got_ok, got_said = karmada.condition(obj)
    assert got_ok is ok and got_said.startswith(said)


# -- against a real API server: the sandbox's karmada-apiserver -------------------------------------------------------


@pytest.fixture(scope="module")
def plane(tmp_path_factory) -> Iterator[object]:
    """A karmada-apiserver of its own (``k8snet sandbox up --name karmada --karmada``): a Kubernetes API that serves
    CRDs with their schemas and keeps Deployments as templates (nothing runs them)."""
    import k8snet

    base = tmp_path_factory.mktemp("kindkarmada")
    old = {k: os.environ.get(k) for k in ("KUBECONFIG", "K8SNET_HOME")}
    os.environ.update(KUBECONFIG=str(base / "kubeconfig"), K8SNET_HOME=str(base / "home"))
    try:
        process.up(seed=0, edge_http_port=0, edge_https_port=0, name="karmada", karmada=True)
        yield k8snet.connect("karmada", start=False)
    finally:
        process.down(name="karmada")
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_the_operator_and_the_karmada_object_pass_the_api_servers_validation(plane):
    """The operator's objects server-side applied (the CRD is too large for a last-applied annotation), the CRD
    Established, then the Karmada object and the NodePort Service: the CRD's schema admits the object and defaults
    it; a service type the schema does not list is refused as kube-apiserver refuses it."""
    plane.apply(karmada.operator_objects())
    readiness.wait_crds_established(plane, [karmada.CRD], timeout=60)
    plane.dynamic.resources.invalidate_cache()
    plane.apply([karmada.instance(), karmada.nodeport_service()])
    obj = plane.get(karmada.API[1], karmada.INSTANCE, karmada.NAMESPACE, api_version=karmada.API[0])
    assert obj["spec"]["components"]["karmadaAPIServer"]["serviceType"] == "ClusterIP"
    assert obj["spec"]["crdTarball"]["crdDownloadPolicy"] == "IfNotPresent"
    svc = plane.get("Service", karmada.NODEPORT_SERVICE, karmada.NAMESPACE)
    assert svc["spec"]["ports"][0]["nodePort"] == 32443
    wrong = karmada.instance()
    wrong["metadata"]["name"] = "wrong"
    wrong["spec"]["components"]["karmadaAPIServer"]["serviceType"] = "Ingress"
    with pytest.raises(ApiException) as err:
        client.CustomObjectsApi(plane.api).create_namespaced_custom_object(
            "operator.karmada.io", "v1alpha1", "karmada-system", "karmadas", wrong)
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"][0] == {
        "reason": "FieldValueNotSupported", "field": "spec.components.karmadaAPIServer.serviceType",
        "message": 'Unsupported value: "Ingress": supported values: "ClusterIP", "NodePort", "LoadBalancer"'}


def test_wait_ready_returns_once_the_operator_reports_completed(plane):
    api = client.CustomObjectsApi(plane.api)
    api.patch_namespaced_custom_object_status("operator.karmada.io", "v1alpha1", "karmada-system", "karmadas",
                                              "karmada", {"status": {"conditions": [{
                                                  "type": "Ready", "status": "True", "reason": "Completed",
                                                  "message": "karmada init job is completed",
                                                  "lastTransitionTime": "2026-12-06T00:00:00Z"}]}})
    assert karmada.wait_ready(plane, timeout=30)["metadata"]["name"] == "karmada"


def test_a_karmada_apiserver_serves_clusters_and_connect_checks_which_kind_of_cluster_it_is(plane):
    from k8snet import connection

    assert karmada.karmada_serves(plane) == (True, "serving")
    connection._check_karmada(plane, True)
    with pytest.raises(ConnectError, match="the kind cluster karmada is a Karmada control plane: a cluster is not "
                                           "turned into the other kind in place"):
        connection._check_karmada(plane, False)
    pp = karmada.probe_policy()
    assert readiness.dry_run_accepted(plane, pp) == (True, "accepted")  # karmada-webhook's defaulting admits it


# -- the lifecycle, through fake docker and kind ---------------------------------------------------------------------


def test_up_karmada_creates_the_host_with_its_own_kubeconfig(fake, tmp_path):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0)])
    fake.add("kind", [KIND_OK, (["kind", "get", "clusters"], "cloud\nonprem\n", "", 0),
                      (["kind", "create"], "", "Creating cluster \"karmada\" ...\n", 0)])
    said: list[str] = []
    with pytest.raises(commands.ToolError, match="karmada-host.kubeconfig is missing") as err:
        lifecycle.up(lifecycle.Options(name="karmada", karmada=True), say=said.append)
    home = tmp_path / "home" / "kind"
    assert fake.calls("kind")[-1] == ["kind", "create", "cluster", "--name", "karmada", "--config",
                                      str(home / "kind-config-karmada.yaml"), "--wait", "0s",
                                      "--kubeconfig", str(home / "karmada-host.kubeconfig")]
    assert yaml.safe_load((home / "kind-config-karmada.yaml").read_text()) == karmada.host_config("karmada")
    assert "kind export kubeconfig --name karmada --kubeconfig" in err.value.fix
    assert "✓ cluster karmada (v1.33.12, 1 node) to host Karmada" in " ".join(said)
    assert said[-1].startswith("The cluster is kept: fix the problem and re-run `k8snet kind up --name karmada "
                               "--karmada`")


def test_an_ordinary_member_is_not_turned_into_a_karmada_host(fake):
    fake.add("kind", [(["kind", "get", "clusters"], "karmada\n", "", 0)])
    fake.add("docker", [(["docker", "port"], "32080/tcp -> 127.0.0.1:8580\n32443/tcp -> 127.0.0.1:8943\n", "", 0)])
    run = lifecycle._Run(lifecycle.Options(name="karmada", karmada=True), print)
    with pytest.raises(commands.ToolError, match="kind cluster karmada is an ordinary member") as err:
        lifecycle.ensure_karmada_host(run)
    assert "`k8snet kind down --name karmada`, then `k8snet kind up --name karmada --karmada`" in err.value.fix
    assert ["kind", "create"] not in [c[:2] for c in fake.calls()]


def test_a_karmada_host_is_not_resumed_as_an_ordinary_member(fake):
    """The reverse: `k8snet kind up --name karmada` on the host would export kind's context over the
    karmada-apiserver's and install Traefik into the karmada-apiserver."""
    fake.add("kind", [(["kind", "get", "clusters"], "karmada\n", "", 0)])
    fake.add("docker", [(["docker", "port"], "32443/tcp -> 127.0.0.1:41234\n", "", 0)])
    run = lifecycle._Run(lifecycle.Options(name="karmada", http_port=18080, https_port=18443), print)
    with pytest.raises(commands.ToolError, match="kind cluster karmada hosts a Karmada control plane"):
        lifecycle.ensure_cluster(run)
    assert ["kind", "export"] not in [c[:2] for c in fake.calls()]


def test_an_existing_host_is_reused_and_its_own_kubeconfig_restored(fake, tmp_path):
    fake.add("kind", [(["kind", "get", "clusters"], "karmada\n", "", 0), (["kind", "export"], "", "", 0)])
    fake.add("docker", [(["docker", "port"], "32443/tcp -> 127.0.0.1:41234\n", "", 0)])
    run = lifecycle._Run(lifecycle.Options(name="karmada", karmada=True), print)
    lifecycle.ensure_karmada_host(run)
    assert fake.calls("kind")[-1] == ["kind", "export", "kubeconfig", "--name", "karmada", "--kubeconfig",
                                      str(tmp_path / "home" / "kind" / "karmada-host.kubeconfig")]
    assert not run.report.created


def test_a_karmada_host_runs_kindnet_only():
    with pytest.raises(ValueError, match="--karmada with --cni cilium"):
        lifecycle.Options(name="karmada", karmada=True, cni="cilium")


def test_down_deletes_the_host_and_both_kubeconfigs(fake, tmp_path):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0),
                        (["docker", "container", "inspect"], "", "Error: No such container\n", 1),
                        (["docker", "ps"], "", "", 0)])
    fake.add("kind", [(["kind", "get", "clusters"], "karmada\n", "", 0), (["kind", "delete"], "", "", 0)])
    host_file = tmp_path / "home" / "kind" / "karmada-host.kubeconfig"
    host_file.parent.mkdir(parents=True)
    host_file.write_text("apiVersion: v1\n")
    kubeconfig.add_context("kind-karmada", "https://127.0.0.1:41234", "t")
    assert lifecycle.down("karmada", say=lambda line: None) is True
    assert ["kind", "delete", "cluster", "--name", "karmada"] in fake.calls()
    assert kubeconfig.context("kind-karmada") is None and not host_file.exists()


def test_connect_karmada_on_kind_installs_it_instead_of_refusing(fake, monkeypatch):
    """Lesson 09's `k8snet.connect("karmada", karmada=True)` on kind runs `k8snet kind up --name karmada --karmada`
    (here it stops where docker is missing, saying so)."""
    import k8snet

    monkeypatch.setenv("K8SNET_BACKEND", "kind")
    with pytest.raises(k8snet.ConnectError, match="cannot create the kind cluster: docker: command not found"):
        k8snet.connect("karmada", karmada=True)


def test_the_command_line_takes_karmada_and_refuses_a_cni_for_it(fake, capsys):
    from k8snet import cli

    assert cli.main(["kind", "up", "--name", "karmada", "--karmada", "--cni", "calico"]) == 2
    assert "--karmada with --cni calico" in capsys.readouterr().err


# -- a real Karmada on kind -------------------------------------------------------------------------------------------


CATALOG = """
apiVersion: v1
kind: Namespace
metadata: {name: catalog}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, namespace: catalog}
spec:
  replicas: 3
  selector: {matchLabels: {app: catalog}}
  template:
    metadata: {labels: {app: catalog}}
    spec:
      containers: [{name: c, image: "registry.k8s.io/e2e-test-images/agnhost:2.66.1", args: [netexec]}]
---
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: catalog, namespace: catalog}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: catalog}]
  placement:
    clusterAffinity: {clusterNames: [east, west]}
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [east]}, weight: 2}
        - {targetCluster: {clusterNames: [west]}, weight: 1}
"""


@pytest.mark.kind
def test_karmada_on_kind_divides_a_deployment_over_two_kind_members():
    """``k8snet kind up --name karmada --karmada``, east and west as kind clusters, joined in Push mode through
    their addresses on kind's docker network; 3 replicas at 2:1 are 2 on east and 1 on west, and the template on
    Karmada reports the members' 3 ready (run on its own: it makes three clusters)."""
    reason = docker_and_kind_missing()
    if reason:
        pytest.skip(f"kind tests need Docker and kind: {reason}")
    from k8snet import connect

    lifecycle.up(lifecycle.Options(name="karmada", karmada=True))
    plane = connect("kind", name="karmada", start=False)
    members = {}
    for name in ("east", "west"):
        lifecycle.up(lifecycle.Options(name=name, cloud_provider=False, preload=False, canary=False, outside=False))
        members[name] = connect("kind", name=name, start=False)
    try:
        for name, member in members.items():
            joined = federation.join(plane, member)
            assert joined["spec"]["apiEndpoint"] == f"https://{name}-control-plane:6443"
        for name in members:  # the cluster-status controller reached each member through its secret
            plane.wait_for(federation.CLUSTER_API[1], name, api_version=federation.CLUSTER_API[0], timeout=300)
        plane.apply(CATALOG)
        plane.wait_for("ResourceBinding", "catalog-deployment", "catalog", "work.karmada.io/v1alpha2",
                       lambda rb: {c["name"]: c.get("replicas") for c in rb["spec"].get("clusters") or []}
                       == {"east": 2, "west": 1}, timeout=300)
        for name, replicas in (("east", 2), ("west", 1)):
            members[name].wait_for("Deployment", "catalog", "catalog", "apps/v1",
                                   lambda d, n=replicas: (d.get("status") or {}).get("readyReplicas") == n,
                                   timeout=300)
        plane.wait_for("Deployment", "catalog", "catalog", "apps/v1",
                       lambda d: (d.get("status") or {}).get("readyReplicas") == 3, timeout=300)
        assert lifecycle.status("karmada").ready
        plane.delete("Namespace", "catalog", wait=True, timeout=300)
    finally:
        for member in members.values():
            federation.unjoin(plane, member)
        if os.environ.get("K8SNET_KIND_DOWN") == "1":
            for name in ("karmada", "east", "west"):
                lifecycle.down(name)
