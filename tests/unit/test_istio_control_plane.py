"""The sandbox's Istio programs one at a time, on an in-process sandbox: istiod's CA (security/pkg/pki/ca, ztunnel's
rotation), the istio-cni node agent's enrolment (cni/pkg/nodeagent, cni/pkg/util), the waypoint istiod renders
(pilot/pkg/config/kube/gatewaycommon/testdata/deployment/waypoint.yaml), and the images' programs."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.controllers.istio import ca, istiod, names, nodeagent, waypoints, ztunnel_for_node
from k8snet.sandbox.dataplane import istioimages, workloads
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
WORKER = "k8snet-worker"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(None, seed=5)
    sandbox.bootstrap()
    from k8snet.sandbox.controllers import istio

    istio.install(sandbox)
    yield sandbox
    sandbox.close()


def create(sb: Sandbox, plural: str, ns: str, body: dict[str, Any], group: str = "", version: str = "v1") -> None:
    rt = sb.registry.lookup(group, version, plural)
    sb.api.create(rt, ns, body, WriteOptions(field_manager="test"))


def namespace(sb: Sandbox, name: str, **labels: str) -> None:
    create(sb, "namespaces", "", {"metadata": {"name": name, "labels": labels}})


def started(sb: Sandbox, ns: str, name: str, image: str = AGNHOST, node: str = WORKER, args: list[str] | None = None,
            labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod made, bound to ``node`` and started by the kubelet (the CNI chain runs as it starts)."""
    create(sb, "pods", ns, {"metadata": {"name": name, "labels": labels or {}},
                            "spec": {"nodeName": node, "containers": [{"name": "main", "image": image,
                                                                       "args": args or ["netexec"]}]}})
    lifecycle.start(sb, sb.store.get("pods", ns, name))
    return sb.store.get("pods", ns, name)


def agents(sb: Sandbox, node: str = WORKER, ztunnel: bool = True) -> None:
    """istio-cni (and ztunnel) running on ``node``, as their DaemonSets would start them."""
    if sb.store.get("namespaces", "", names.ISTIO_NAMESPACE) is None:
        namespace(sb, names.ISTIO_NAMESPACE)
    started(sb, names.ISTIO_NAMESPACE, f"cni-{node}", names.istio_image("install-cni"), node, [])
    if ztunnel:
        started(sb, names.ISTIO_NAMESPACE, f"ztunnel-{node}", names.istio_image("ztunnel"), node,
                ["proxy", "ztunnel"], {"app": "ztunnel"})


def redirection(sb: Sandbox, ns: str, name: str) -> str | None:
    return nodeagent.redirection(sb.store.get("pods", ns, name))


# -- istiod's CA -------------------------------------------------------------------------------------------------


@pytest.fixture
def mesh_ca(sb: Sandbox) -> ca.MeshCA:
    namespace(sb, names.ISTIO_NAMESPACE)
    started(sb, names.ISTIO_NAMESPACE, "istiod", names.istio_image("pilot"), args=["discovery"])
    made = istiod.ensure_ca(sb, [sb.store.get("pods", names.ISTIO_NAMESPACE, "istiod")])
    assert made is not None
    return made


def test_no_ca_until_istiod_makes_its_root(sb: Sandbox):
    assert ca.mesh_ca(sb) is None


def test_the_root_is_istiods_self_signed_ca(sb: Sandbox, mesh_ca: ca.MeshCA):
    secret = sb.store.get("secrets", names.ISTIO_NAMESPACE, names.CA_SECRET)
    assert secret["type"] == "istio.io/ca-root"
    assert sorted(secret["data"]) == ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "key.pem", "root-cert.pem"]
    assert secret["data"]["cert-chain.pem"] == secret["data"]["key.pem"] == ""
    root = mesh_ca.root
    assert root.subject.rfc4514_string() == "O=cluster.local" == root.issuer.rfc4514_string()
    made = root.not_valid_before_utc  # no back-dating for the root: made this second (the clock may tick since)
    assert sb.clock.now() - dt.timedelta(seconds=2) <= made <= sb.clock.now()
    assert root.not_valid_after_utc - root.not_valid_before_utc == dt.timedelta(days=3650)
    key = serialization.load_pem_private_key(base64.b64decode(secret["data"]["ca-key.pem"]), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert base64.b64decode(secret["data"]["ca-key.pem"]).startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    usage = root.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and not usage.value.digital_signature
    basic = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length is None
    spki_bits = root.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    assert root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == \
        hashlib.sha256(spki_bits).digest()[:20]  # Go 1.26's truncated SHA-256 key identifier
    assert istiod.ensure_ca(sb, []) is mesh_ca  # a later start loads it (and the data path gets the same object)


def test_a_workload_certificate_is_what_istiod_signs_for_ztunnel(sb: Sandbox, mesh_ca: ca.MeshCA):
    issued = mesh_ca.workload("shop", "cart")
    cert = issued.certificate
    now = sb.clock.now()
    assert (issued.not_before, issued.not_after) == (now - dt.timedelta(minutes=2), now + dt.timedelta(hours=24))
    assert len(cert.subject) == 0 and cert.issuer == mesh_ca.root.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and list(san.value) == [x509.UniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/cart")]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == \
        mesh_ca.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert issued.key_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, as ztunnel keeps it
    assert issued.chain_pem == issued.cert_pem and issued.root_pem == mesh_ca.root_pem
    assert cert.serial_number == issued.serial
    cert.verify_directly_issued_by(mesh_ca.root)


def test_ztunnel_keeps_a_certificate_until_half_its_life_on_the_sandbox_clock(sb: Sandbox, mesh_ca: ca.MeshCA):
    first = mesh_ca.workload("shop", "cart")
    assert first.refresh_at == first.not_before + dt.timedelta(hours=12, minutes=1)
    assert mesh_ca.workload("shop", "web").serial != first.serial  # one per identity
    sb.advance_clock((first.refresh_at - sb.clock.now()).total_seconds() - 60)
    assert ca.mesh_ca(sb).workload("shop", "cart") is first
    sb.advance_clock(61)
    second = ca.mesh_ca(sb).workload("shop", "cart")
    backdated = sb.clock.now() - dt.timedelta(minutes=2)  # istiod backdates by 2 minutes (the clock may tick since)
    assert second.serial != first.serial and backdated - dt.timedelta(seconds=2) <= second.not_before <= backdated


def test_a_ttl_over_istiods_maximum_is_refused(mesh_ca: ca.MeshCA):
    with pytest.raises(ca.CAError, match="requested TTL 2184h0m0s is greater than the max allowed TTL 2160h0m0s"):
        mesh_ca.sign("spiffe://cluster.local/ns/a/sa/b", dt.timedelta(days=91))


def test_the_root_goes_into_every_namespace_but_the_ignored_ones(sb: Sandbox, mesh_ca: ca.MeshCA):
    namespace(sb, "shop")
    for ns in sb.store.list("namespaces"):
        istiod.sync_namespace(sb, ns["metadata"]["name"])
    shop = sb.store.get("configmaps", "shop", names.ROOT_CERT_CONFIGMAP)
    assert shop["data"] == {"root-cert.pem": mesh_ca.root_pem} and shop["metadata"]["labels"] == {
        "istio.io/config": "true"}
    assert sb.store.get("configmaps", "shop", names.CRL_CONFIGMAP)["data"] == {"ca-crl.pem": ""}
    assert sb.store.get("configmaps", "kube-system", names.ROOT_CERT_CONFIGMAP) is not None
    for ignored in ("kube-public", "kube-node-lease", "local-path-storage"):
        assert sb.store.get("configmaps", ignored, names.ROOT_CERT_CONFIGMAP) is None


# -- the istio-cni node agent --------------------------------------------------------------------------------------


def test_a_pod_started_in_an_ambient_namespace_is_annotated_before_it_runs(sb: Sandbox):
    agents(sb)
    namespace(sb, "shop", **{names.DATAPLANE_MODE: "ambient"})
    pod = started(sb, "shop", "web")
    assert pod["status"]["phase"] == "Running"
    assert pod["metadata"]["annotations"][names.AMBIENT_REDIRECTION] == "enabled"
    assert nodeagent.redirection(started(sb, "shop", "out", labels={names.DATAPLANE_MODE: "none"})) is None


def test_what_the_agent_captures(sb: Sandbox):
    agents(sb)
    namespace(sb, "plain")
    namespace(sb, "mesh", **{names.DATAPLANE_MODE: "ambient"})
    pod = lambda ns, **labels: {"metadata": {"name": "p", "namespace": ns, "labels": labels}, "spec": {}}  # noqa
    assert nodeagent.should_capture(sb, pod("mesh"))
    assert not nodeagent.should_capture(sb, pod("mesh", **{names.DATAPLANE_MODE: "none"}))
    assert nodeagent.should_capture(sb, pod("plain", **{names.DATAPLANE_MODE: "ambient"}))
    assert not nodeagent.should_capture(sb, pod("plain"))
    host = pod("mesh")
    host["spec"]["hostNetwork"] = True
    assert not nodeagent.should_capture(sb, host)
    sidecar = pod("mesh")
    sidecar["metadata"]["annotations"] = {names.SIDECAR_STATUS: "{}"}
    assert not nodeagent.should_capture(sb, sidecar)
    assert not nodeagent.should_capture(sb, pod("kube-system", **{names.DATAPLANE_MODE: "ambient"}))  # excluded


def test_running_pods_are_captured_and_released_by_the_agent(sb: Sandbox):
    agents(sb)
    namespace(sb, "shop")
    started(sb, "shop", "web")
    assert nodeagent.reconcile(sb, ("shop", "web")) is None and redirection(sb, "shop", "web") is None
    sb.api.patch(sb.registry.lookup("", "v1", "namespaces"), "", "shop", "merge",
                 {"metadata": {"labels": {names.DATAPLANE_MODE: "ambient"}}}, WriteOptions())
    nodeagent.reconcile(sb, ("shop", "web"))
    assert redirection(sb, "shop", "web") == "enabled"
    sb.api.patch(sb.registry.lookup("", "v1", "pods"), "shop", "web", "merge",
                 {"metadata": {"labels": {names.DATAPLANE_MODE: "none"}}}, WriteOptions())
    nodeagent.reconcile(sb, ("shop", "web"))
    assert names.AMBIENT_REDIRECTION not in (sb.store.get("pods", "shop", "web")["metadata"].get("annotations")
                                             or {})  # removed, not set to another value


def test_without_ztunnel_a_captured_pod_is_pending_until_one_runs(sb: Sandbox):
    agents(sb, ztunnel=False)
    namespace(sb, "shop", **{names.DATAPLANE_MODE: "ambient"})
    assert nodeagent.redirection(started(sb, "shop", "web")) == "pending"
    assert ztunnel_for_node(sb, WORKER) is None
    started(sb, names.ISTIO_NAMESPACE, "ztunnel-late", names.istio_image("ztunnel"), WORKER, ["proxy", "ztunnel"],
            {"app": "ztunnel"})
    assert ztunnel_for_node(sb, WORKER)["metadata"]["name"] == "ztunnel-late"
    nodeagent.reconcile(sb, ("shop", "web"))
    assert redirection(sb, "shop", "web") == "enabled"


def test_no_agent_on_the_node_no_capture(sb: Sandbox):
    agents(sb, node="k8snet-worker2")
    namespace(sb, "shop", **{names.DATAPLANE_MODE: "ambient"})
    assert nodeagent.redirection(started(sb, "shop", "web", node=WORKER)) is None
    nodeagent.reconcile(sb, ("shop", "web"))
    assert redirection(sb, "shop", "web") is None


# -- the waypoint istiod deploys ------------------------------------------------------------------------------------


def test_the_waypoint_objects_are_the_templates(sb: Sandbox):
    gw = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
          "metadata": {"name": "waypoint", "namespace": "shop", "uid": "u-1",
                       "labels": {names.WAYPOINT_FOR: "service"}},
          "spec": {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008,
                                                                       "protocol": "HBONE"}]}}
    account, deployment, service = waypoints.render(sb, gw)
    owner = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "waypoint", "uid": "u-1"}]
    labels = {names.WAYPOINT_FOR: "service", "gateway.networking.k8s.io/gateway-name": "waypoint",
              "gateway.networking.k8s.io/gateway-class-name": "istio-waypoint",
              "gateway.istio.io/managed": "istio.io-mesh-controller"}
    for obj in (account, deployment, service):
        assert obj["metadata"]["name"] == "waypoint" and obj["metadata"]["ownerReferences"] == owner
        assert obj["metadata"]["labels"] == labels
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    [container] = pod["spec"]["containers"]
    assert container["image"] == "docker.io/istio/proxyv2:1.31.0-distroless"  # no injector ConfigMap: the pins
    assert container["args"] == ["proxy", "waypoint", "--domain", "$(POD_NAMESPACE).svc.cluster.local",
                                 "--serviceCluster", "waypoint.$(POD_NAMESPACE)", "--proxyLogLevel", "warning",
                                 "--proxyComponentLogLevel", "misc:error", "--log_output_level", "default:info"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PROXY_CONFIG"] == '{"proxyMetadata":{"ISTIO_META_ENABLE_HBONE":"true"},"image":{"imageType":' \
                                  '"distroless"}}\n'
    assert env["ISTIO_META_OWNER"] == "kubernetes://apis/apps/v1/namespaces/shop/deployments/waypoint"
    assert service["spec"]["ports"] == [
        {"name": "status-port", "port": 15021, "protocol": "TCP", "appProtocol": "tcp"},
        {"name": "mesh", "port": 15008, "protocol": "TCP", "appProtocol": "hbone"}]
    assert service["metadata"]["annotations"] == {"networking.istio.io/traffic-distribution": "PreferClose"}


# -- the images as programs ---------------------------------------------------------------------------------------


def test_the_istio_images_run_their_programs():
    def program(image: str, args: list[str]) -> Any:
        family = workloads.image_family(image)
        return workloads.parse_program(family, workloads.container_argv({"image": image, "args": args}, {}), {})

    zt = program(names.istio_image("ztunnel"), ["proxy", "ztunnel"])
    assert zt.name == "ztunnel" and sorted(p for p, _ in zt.ports) == [15001, 15006, 15008, 15020, 15021]
    assert program(names.istio_image("pilot"), ["discovery"]).name == "istiod"
    wp = program(names.istio_image("proxyv2"), ["proxy", "waypoint"])
    assert wp.name == "waypoint" and sorted(p for p, _ in wp.ports) == [15008, 15020, 15021, 15090]
    sidecar = program(names.istio_image("proxyv2"), ["proxy", "sidecar"])
    assert sidecar.name == "exited" and "sidecars and Istio's ingress gateway" in sidecar.opts["not-emulated"][0]
    assert workloads.image_family("docker.io/istio/examples-bookinfo-details-v1:1.20.3") is None  # not emulated
    assert workloads.container_argv({"image": names.istio_image("pilot"), "args": ["discovery"]}, {}) == [
        "/usr/local/bin/pilot-discovery", "discovery"]
    ready = istioimages.serve(zt, 15021, workloads.HttpRequest("GET", "/healthz/ready"), dt.datetime.now(dt.UTC))
    assert (ready.status, ready.body) == (200, b"ready\n")
