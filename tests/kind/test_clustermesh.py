"""Cilium Cluster Mesh on kind (k8snet.kind.clustermesh): the clustermesh-apiserver as the chart renders it, its
certificates from the cluster set's one CA, what ``cilium clustermesh connect`` writes into each cluster, the
``cilium-dbg status`` parser on real output, the netem commands on the nodes; then the same objects and patches
against a real API server (a Cilium sandbox), and (``pytest -m kind``, with Docker and kind) two real meshed
clusters.

Upstream: install/kubernetes/cilium/templates/clustermesh-apiserver/ and clustermesh-config/ (Cilium's chart),
cilium-cli/clustermesh/clustermesh.go (connect, status), Documentation/network/clustermesh/clustermesh.rst, tc-prio(8)
and tc-netem(8)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.conftest import private_sandbox

from k8snet.kind import clustermesh, commands, versions
from k8snet.kind.clustermesh import agents, certs, mcsapi, netem, peers

from .conftest import assert_strict, docker_and_kind_missing

# -- the rendered clustermesh-apiserver ---------------------------------------------------------------------------


def by_kind() -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in clustermesh.objects()}


def test_the_chart_objects_of_clustermesh_use_api_server():
    """templates/clustermesh-apiserver/: ServiceAccount, ClusterRole(Binding), Deployment, Service; the metrics
    Service, PodDisruptionBudget, ServiceMonitor and certgen Job are off with the header's values."""
    assert set(by_kind()) == {("ServiceAccount", "clustermesh-apiserver"), ("ClusterRole", "clustermesh-apiserver"),
                              ("ClusterRoleBinding", "clustermesh-apiserver"),
                              ("Deployment", "clustermesh-apiserver"), ("Service", "clustermesh-apiserver")}
    for obj in clustermesh.objects():
        assert_strict(obj)
        assert obj["metadata"].get("namespace") in (None, "kube-system")


def test_the_deployment_runs_etcd_and_the_apiserver_from_the_pinned_image_without_kvstoremesh():
    pod = by_kind()[("Deployment", "clustermesh-apiserver")]["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert list(containers) == ["etcd", "apiserver"]  # kvstoremesh.enabled=false: no third container
    assert [c["name"] for c in pod["initContainers"]] == ["etcd-init"]
    images = {c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images == {versions.CLUSTERMESH_APISERVER_IMAGE}
    assert versions.CLUSTERMESH_APISERVER_IMAGE.startswith(f"quay.io/cilium/clustermesh-apiserver:v"
                                                           f"{versions.CILIUM_VERSION}@sha256:")
    etcd = containers["etcd"]["args"]
    assert "--client-cert-auth" in etcd and "--trusted-ca-file=/var/lib/etcd-secrets/ca.crt" in etcd
    api = containers["apiserver"]
    assert api["args"][:3] == ["clustermesh", "--cluster-name=$(CLUSTER_NAME)", "--cluster-id=$(CLUSTER_ID)"]
    env = {e["name"]: e["valueFrom"]["configMapKeyRef"]["key"] for e in api["env"] if "configMapKeyRef" in
           e.get("valueFrom", {})}
    assert env["CLUSTER_NAME"] == "cluster-name" and env["CLUSTER_ID"] == "cluster-id"  # from cilium-config
    init_env = {e["name"]: e["valueFrom"] for e in pod["initContainers"][0]["env"]}
    assert init_env["CILIUM_CLUSTER_NAME"]["configMapKeyRef"] == {"name": "cilium-config", "key": "cluster-name"}
    secrets = {v["name"]: v["projected"]["sources"][0]["secret"]["name"] for v in pod["volumes"] if "projected" in v}
    assert secrets == {"etcd-server-secrets": certs.SERVER_SECRET, "etcd-admin-client": certs.ADMIN_SECRET}
    assert all(v["projected"]["defaultMode"] == 0o400 for v in pod["volumes"] if "projected" in v)
    assert pod["serviceAccountName"] == by_kind()[("ServiceAccount", "clustermesh-apiserver")]["metadata"]["name"]


def test_the_service_is_a_node_port_on_etcds_port_selecting_the_pods():
    objs = by_kind()
    svc = objs[("Service", "clustermesh-apiserver")]["spec"]
    assert svc["type"] == "NodePort"
    assert svc["ports"] == [{"port": 2379, "nodePort": versions.CLUSTERMESH_APISERVER_NODE_PORT}]
    assert versions.CLUSTERMESH_APISERVER_NODE_PORT == 32379  # the chart's clustermesh.apiserver.service.nodePort
    labels = objs[("Deployment", "clustermesh-apiserver")]["spec"]["template"]["metadata"]["labels"]
    assert svc["selector"].items() <= labels.items()
    assert versions.CLUSTERMESH_APISERVER_NODE_PORT not in versions.EDGE_NODE_PORTS.values()
    binding = objs[("ClusterRoleBinding", "clustermesh-apiserver")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "clustermesh-apiserver",
                                    "namespace": "kube-system"}]


def test_the_cilium_agents_already_mount_what_connect_writes():
    """cilium.yaml's clustermesh-secrets volume: the Secret cilium-clustermesh whole, and the remote certificate
    as the common-etcd-client files the Secret's entries name."""
    from k8snet.kind import cni

    ds = next(o for o in cni.objects("cilium", "east") if o["kind"] == "DaemonSet")
    volume = next(v for v in ds["spec"]["template"]["spec"]["volumes"] if v["name"] == "clustermesh-secrets")
    sources = {s["secret"]["name"]: s["secret"] for s in volume["projected"]["sources"]}
    assert "items" not in sources[peers.SECRET]
    assert {i["path"] for i in sources[certs.REMOTE_SECRET]["items"]} == {
        "common-etcd-client.key", "common-etcd-client.crt", "common-etcd-client-ca.crt"}
    mounts = {m["name"]: m["mountPath"] for m in ds["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["clustermesh-secrets"] == peers.MOUNT


# -- the Multi-Cluster Services API: what `helm upgrade --set clustermesh.mcsapi.enabled=true` changes ----------------


def mcs_by_kind(name: str = "east") -> dict[tuple[str, str], dict]:
    operator_side, apiserver_side = mcsapi.objects(name)
    return {(o["kind"], o["metadata"]["name"]): o for o in operator_side + apiserver_side}


def test_mcs_api_changes_five_of_the_rendered_objects_and_nothing_else():
    """cilium-config, the operator's ClusterRole and Deployment, the clustermesh-apiserver's ClusterRole and
    Deployment; every one still valid against Kubernetes 1.33's schema."""
    objs = mcs_by_kind()
    assert list(objs) == [("ConfigMap", "cilium-config"), ("ClusterRole", "cilium-operator"),
                          ("Deployment", "cilium-operator"), ("ClusterRole", "clustermesh-apiserver"),
                          ("Deployment", "clustermesh-apiserver")]
    for obj in objs.values():
        assert_strict(obj)


def test_cilium_config_switches_mcs_api_on_and_lets_the_operator_install_the_crds():
    """types/config.go: ShouldInstallMCSAPICrds = clustermesh-enable-mcs-api && clustermesh-mcs-api-install-crds;
    the member keeps its Cluster Mesh name and ID."""
    from k8snet.kind import cni

    data = mcs_by_kind()[("ConfigMap", "cilium-config")]["data"]
    assert (data["clustermesh-enable-mcs-api"], data["clustermesh-mcs-api-install-crds"]) == ("true", "true")
    assert (data["cluster-name"], data["cluster-id"]) == ("east", "1")
    before = next(o for o in cni.objects("cilium", "east") if o["kind"] == "ConfigMap")["data"]
    assert {k: v for k, v in data.items() if k not in mcsapi.CONFIG} == before
    assert "clustermesh-enable-mcs-api" not in before  # off as rendered: the lesson switches it on


def test_the_operator_may_write_imports_derived_services_and_slices_and_update_the_mcs_crds():
    from k8snet.kind import cni

    rules = mcs_by_kind()[("ClusterRole", "cilium-operator")]["rules"]
    original = next(o for o in cni.objects("cilium", "east") if o["kind"] == "ClusterRole"
                    and o["metadata"]["name"] == "cilium-operator")["rules"]
    assert rules[:len(original)] == original  # nothing taken away
    granted = {(g, r): set(rule["verbs"]) for rule in rules[len(original):] for g in rule["apiGroups"]
               for r in rule["resources"]}
    assert granted[("multicluster.x-k8s.io", "serviceimports")] >= {"create", "update", "delete", "watch"}
    assert granted[("multicluster.x-k8s.io", "serviceexports/status")] == {"update", "patch"}
    assert granted[("discovery.k8s.io", "endpointslices")] >= {"create", "delete"}
    crd_update = next(r for r in rules if r.get("resourceNames") == list(mcsapi.CRDS))
    assert crd_update["verbs"] == ["update"] and mcsapi.CRDS == ("serviceexports.multicluster.x-k8s.io",
                                                                "serviceimports.multicluster.x-k8s.io")
    assert mcsapi.with_rules(mcs_by_kind()[("ClusterRole", "cilium-operator")], mcsapi.OPERATOR_RULES)["rules"] \
        == rules  # applying it again adds nothing


def test_the_operator_reads_the_mesh_as_the_agents_do():
    """cilium-operator/deployment.yaml with MCS-API: CILIUM_CLUSTERMESH_CONFIG and the agents' projected
    clustermesh-secrets volume (the cilium-clustermesh Secret and the remote certificate), read-only."""
    from k8snet.kind import cni

    pod = mcs_by_kind()[("Deployment", "cilium-operator")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "CILIUM_CLUSTERMESH_CONFIG", "value": "/var/lib/cilium/clustermesh/"} in container["env"]
    assert {"name": "clustermesh-secrets", "mountPath": peers.MOUNT, "readOnly": True} in container["volumeMounts"]
    ds = next(o for o in cni.objects("cilium", "east") if o["kind"] == "DaemonSet")
    agents_volume = next(v for v in ds["spec"]["template"]["spec"]["volumes"] if v["name"] == "clustermesh-secrets")
    assert next(v for v in pod["volumes"] if v["name"] == "clustermesh-secrets") == agents_volume
    assert peers.reads_mesh(mcs_by_kind()[("Deployment", "cilium-operator")])
    plain = next(o for o in cni.objects("cilium", "east") if o["kind"] == "Deployment")
    assert not peers.reads_mesh(plain)


def test_the_clustermesh_apiserver_exports_service_exports():
    objs = mcs_by_kind()
    api = next(c for c in objs[("Deployment", "clustermesh-apiserver")]["spec"]["template"]["spec"]["containers"]
               if c["name"] == "apiserver")
    assert api["args"][-1] == "--clustermesh-enable-mcs-api" and api["args"].count("--clustermesh-enable-mcs-api") == 1
    assert mcsapi.with_apiserver_flag(objs[("Deployment", "clustermesh-apiserver")]) == \
        objs[("Deployment", "clustermesh-apiserver")]
    assert {"apiGroups": ["multicluster.x-k8s.io"], "resources": ["serviceexports"],
            "verbs": ["get", "list", "watch"]} in objs[("ClusterRole", "clustermesh-apiserver")]["rules"]


# -- certificates ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> certs.Authority:
    return certs.shared_authority(tmp_path_factory.mktemp("meshca"))


def secret_of(objs: list[dict], name: str) -> dict:
    return next(o for o in objs if o["metadata"]["name"] == name)


def pem_of(secret: dict, key: str) -> bytes:
    return base64.b64decode(secret["data"][key])


def cert_of(secret: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem_of(secret, "tls.crt"))


def cn(cert: x509.Certificate) -> str:
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_the_set_ca_is_made_once_and_kept_private(tmp_path):
    first = certs.shared_authority(tmp_path / "ca")
    second = certs.shared_authority(tmp_path / "ca")
    assert first.pem == second.pem
    assert cn(first.cert) == "Cilium CA"  # the chart's genCA "Cilium CA", certgen's --ca-common-name
    assert first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for f in ("ca.key", "ca.crt"):
        assert stat.S_IMODE((tmp_path / "ca" / f).stat().st_mode) == 0o600


def test_the_set_ca_lives_under_k8snet_home(monkeypatch, tmp_path):
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path))
    assert certs.directory() == tmp_path / "kind" / "clustermesh"


def test_a_members_secrets_are_the_charts_tls_secrets(ca):
    objs = certs.secrets("east", ca)
    assert [o["metadata"]["name"] for o in objs] == ["cilium-ca", "clustermesh-apiserver-server-cert",
                                                     "clustermesh-apiserver-admin-cert",
                                                     "clustermesh-apiserver-remote-cert"]
    for obj in objs:
        assert_strict(obj)
        assert obj["metadata"]["namespace"] == "kube-system"
    assert pem_of(objs[0], "ca.crt") == ca.pem and b"PRIVATE KEY" in pem_of(objs[0], "ca.key")
    for obj in objs[1:]:
        assert obj["type"] == "kubernetes.io/tls" and set(obj["data"]) == {"ca.crt", "tls.crt", "tls.key"}
        assert pem_of(obj, "ca.crt") == ca.pem
        cert = cert_of(obj)
        cert.verify_directly_issued_by(ca.cert)  # chained to the set's CA
        key = serialization.load_pem_private_key(pem_of(obj, "tls.key"), None)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=1095, minutes=5)


def test_names_sans_and_usages_are_certgens(ca):
    """tls-cronjob/_job-spec.tpl: the server for clustermesh-apiserver.cilium.io, *.mesh.cilium.io,
    clustermesh-apiserver.kube-system.svc, 127.0.0.1 and ::1 (server auth); admin-<cluster> and remote (client
    auth, tls.authMode legacy)."""
    objs = certs.secrets("east", ca)
    server, admin, remote = (cert_of(secret_of(objs, n)) for n in (certs.SERVER_SECRET, certs.ADMIN_SECRET,
                                                                   certs.REMOTE_SECRET))
    assert (cn(server), cn(admin), cn(remote)) == ("clustermesh-apiserver.cilium.io", "admin-east", "remote")
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["clustermesh-apiserver.cilium.io", "*.mesh.cilium.io",
                                                     "clustermesh-apiserver.kube-system.svc"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]

    def eku(c):
        return list(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    assert eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert eku(admin) == eku(remote) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for c in (admin, remote):
        with pytest.raises(x509.ExtensionNotFound):
            c.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def _files(tmp: Path, secret: dict, prefix: str) -> tuple[str, str, str]:
    paths = []
    for key in ("tls.crt", "tls.key", "ca.crt"):
        p = tmp / f"{prefix}-{key}"
        p.write_bytes(pem_of(secret, key))
        paths.append(str(p))
    return paths[0], paths[1], paths[2]


def handshake(tmp: Path, server_secret: dict, client_secret: dict, hostname: str) -> str:
    """An mTLS handshake as an agent dials a remote etcd: etcd with --client-cert-auth and the server certificate,
    the agent with its own cluster's remote certificate, checking the name it dialled. Returns the client CN the
    server saw."""
    s_crt, s_key, s_ca = _files(tmp, server_secret, "server")
    c_crt, c_key, c_ca = _files(tmp, client_secret, "client")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(s_crt, s_key)
    server_ctx.load_verify_locations(s_ca)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.load_cert_chain(c_crt, c_key)
    client_ctx.load_verify_locations(c_ca)
    a, b = socket.socketpair()
    seen: dict[str, object] = {}

    def serve():
        try:
            with server_ctx.wrap_socket(a, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname=hostname) as tls:
            tls.recv(2)
    finally:
        t.join(10)
    if "error" in seen:
        raise seen["error"]  # type: ignore[misc]
    subject = dict(x[0] for x in seen["peer"]["subject"])  # type: ignore[index]
    return subject["commonName"]


def test_an_agent_of_one_member_can_dial_the_etcd_of_another(ca, tmp_path):
    """The point of the shared CA: west's agents, with west's remote certificate, open east's etcd at
    east.mesh.cilium.io, and east's etcd sees the user "remote"."""
    east, west = certs.secrets("east", ca), certs.secrets("west", ca)
    assert handshake(tmp_path, secret_of(east, certs.SERVER_SECRET), secret_of(west, certs.REMOTE_SECRET),
                     "east.mesh.cilium.io") == "remote"


def test_a_member_with_another_ca_is_refused_by_etcd(ca, tmp_path):
    stranger = certs.secrets("west", certs.new_authority())
    east = certs.secrets("east", ca)
    with pytest.raises(ssl.SSLError):
        handshake(tmp_path, secret_of(east, certs.SERVER_SECRET), secret_of(stranger, certs.REMOTE_SECRET),
                  "east.mesh.cilium.io")


def test_enable_keeps_certificates_from_the_set_ca_and_replaces_others(ca):
    objs = certs.secrets("east", ca)
    for obj in objs:
        name = obj["metadata"]["name"]
        assert certs.issued_by(obj, ca, certs.expected_cn(name, "east"))
    other = certs.secrets("east", certs.new_authority())
    assert not any(certs.issued_by(o, ca, certs.expected_cn(o["metadata"]["name"], "east")) for o in other)
    assert not certs.issued_by(secret_of(objs, certs.ADMIN_SECRET), ca, "admin-west")  # another member's name
    assert not certs.issued_by(None, ca, "remote")


def test_ca_match_is_cilium_clis_subject_key_identifier_check(ca):
    assert certs.same_authority(ca.pem, ca.pem)
    assert not certs.same_authority(ca.pem, certs.new_authority().pem)


# -- what connect writes (cilium-cli's Helm mode, the chart's clustermesh-config) ---------------------------------


def access(name: str, cluster_id: int, ip: str, ca: certs.Authority) -> peers.Access:
    remote = secret_of(certs.secrets(name, ca), certs.REMOTE_SECRET)
    return peers.Access(name, cluster_id, ip, 32379, ca.pem, pem_of(remote, "tls.crt"), pem_of(remote, "tls.key"))


def test_the_entry_for_a_remote_with_the_shared_ca_is_the_charts():
    """clustermesh-config-generate-etcd-cfg for {name: west, ips: [...], port: 32379} without tls or KVStoreMesh:
    dialled by name, the agents' own common- client files."""
    assert peers.etcd_config("west", 32379) == (
        "endpoints:\n"
        "- https://west.mesh.cilium.io:32379\n"
        "trusted-ca-file: /var/lib/cilium/clustermesh/common-etcd-client-ca.crt\n"
        "key-file: /var/lib/cilium/clustermesh/common-etcd-client.key\n"
        "cert-file: /var/lib/cilium/clustermesh/common-etcd-client.crt")
    assert yaml.safe_load(peers.etcd_config("west", 32379, own_tls=True)) == {
        "endpoints": ["https://west.mesh.cilium.io:32379"],
        "trusted-ca-file": "/var/lib/cilium/clustermesh/west.etcd-client-ca.crt",
        "key-file": "/var/lib/cilium/clustermesh/west.etcd-client.key",
        "cert-file": "/var/lib/cilium/clustermesh/west.etcd-client.crt"}


def test_the_secret_keys_for_one_remote(ca):
    west = access("west", 2, "172.18.0.5", ca)
    shared = peers.secret_data(west)
    assert list(shared) == ["west"]
    assert base64.b64decode(shared["west"]).decode() == peers.etcd_config("west", 32379)
    own = peers.secret_data(west, own_tls=True)  # CAs differ: the chart puts the remote's files in the Secret
    assert sorted(own) == ["west", "west.etcd-client-ca.crt", "west.etcd-client.crt", "west.etcd-client.key"]
    assert base64.b64decode(own["west.etcd-client.crt"]) == west.client_cert
    assert base64.b64decode(own["west.etcd-client-ca.crt"]) == ca.pem
    assert sorted(peers.remote_keys("west")) == sorted(own)
    # what the agent projects into /var/lib/cilium/clustermesh, one file per key, parses as etcd client config
    assert yaml.safe_load(base64.b64decode(own["west"]))["cert-file"] == f"{peers.MOUNT}/west.etcd-client.crt"


def test_the_agents_find_the_remote_by_a_host_alias():
    """cilium-agent/daemonset.yaml: one alias <name>.mesh.cilium.io per remote cluster's IP."""
    other = {"ip": "10.0.0.9", "hostnames": ["registry.local"]}
    one = peers.aliases_with([other], "west", "172.18.0.5")
    assert one == [other, {"ip": "172.18.0.5", "hostnames": ["west.mesh.cilium.io"]}]
    moved = peers.aliases_with(one, "west", "172.18.0.9")  # west recreated elsewhere
    assert moved == [other, {"ip": "172.18.0.9", "hostnames": ["west.mesh.cilium.io"]}]
    assert peers.aliases_with(moved, "west", None) == [other]


def test_cilium_cli_dials_the_first_nodes_external_else_internal_ip():
    node = {"status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.4"},
                                     {"type": "Hostname", "address": "west-control-plane"}]}}
    assert peers.node_address(node) == "172.18.0.4"
    node["status"]["addresses"].append({"type": "ExternalIP", "address": "203.0.113.7"})
    assert peers.node_address(node) == "203.0.113.7"
    assert peers.node_address({"status": {}}) is None


def test_a_pair_is_validated_as_cilium_cli_does(ca):
    east, west = access("east", 1, "172.18.0.2", ca), access("west", 2, "172.18.0.5", ca)
    clustermesh.validate(east, west)
    with pytest.raises(ValueError, match="default name"):
        clustermesh.validate(access("default", 0, "172.18.0.2", ca), west)
    with pytest.raises(ValueError, match="same, non-unique name: west"):
        clustermesh.validate(access("west", 3, "172.18.0.2", ca), west)
    with pytest.raises(ValueError, match="same, non-unique ID: 2"):
        clustermesh.validate(access("north", 2, "172.18.0.2", ca), west)


def test_the_remotes_a_secret_configures_are_cilium_clis():
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    secret = {"data": {"west": b64(peers.etcd_config("west", 32379)), "east": b64(peers.etcd_config("east", 1)),
                       "west.etcd-client.crt": b64("-----BEGIN CERTIFICATE-----"), "junk": b64("nothing")}}
    assert peers.configured(secret, "east") == ["west"]  # not the local cluster, not the files
    assert peers.configured(None, "east") == []


# -- cilium-dbg status ---------------------------------------------------------------------------------------------

READY_1_16 = """\
ClusterMesh:            1/1 clusters ready, 0 global-services
   clustermesh1: ready, 2 nodes, 12 endpoints, 5 identities, 0 services, 0 failures (last: never)
   └  etcd: 1/1 connected, leases=0, lock leases=1, has-quorum=true: endpoint status checks are disabled, ID: cdbc8223a1135072
   └  remote configuration: expected=true, retrieved=true, cluster-id=1, kvstoremesh=true, sync-canaries=true
   └  synchronization status: nodes=true, endpoints=true, identities=true, services=true
"""
"""cilium/cilium#32341 (the example output in its description)."""

QUORUM_LOST = """\
ClusterMesh:            4/5 clusters ready, 13292 global-services
   REDACT-01-use1: not-ready, 41 nodes, 3997 endpoints, 0 identities, 4187 services, 4 failures (last: 18m31s ago)
   └  quorum check failed 39 times in a row: 18m21.655367018s since last heartbeat update has been received
   └  remote configuration: expected=false, retrieved=false
   └  synchronization status: nodes=false, endpoints=false, identities=false, services=false
"""
"""cilium/cilium#30797 (an agent stuck after the remote etcd was upgraded)."""

FULL_1_12 = """\
KVStore:                Ok   Disabled
Kubernetes:             Ok   1.24 (v1.24.0) [linux/amd64]
KubeProxyReplacement:   Strict   [eth0 172.18.0.3]
Host firewall:          Disabled
CNI Chaining:           none
Cilium:                 Ok   1.12.0 (v1.12.0-9447cd1)
NodeMonitor:            Listening for events on 8 CPUs with 64x4096 of shared memory
Cilium health daemon:   Ok
IPAM:                   IPv4: 3/254 allocated from 10.1.0.0/24,
Allocated addresses:
  10.1.0.103 (ingress)
  10.1.0.108 (health)
  10.1.0.237 (router)
ClusterMesh:   1/1 clusters ready, 9 global-services
   mesh-2: ready, 2 nodes, 8 identities, 9 services, 0 failures (last: never)
   └  etcd: 1/1 connected, lease-ID=7c02824532923d40, lock lease-ID=7c02824532923d42, has-quorum=true: https://mesh-2.mesh.cilium.io:31868 - 3.4.13 (Leader)
BandwidthManager:       Disabled
"""
"""cilium/cilium#20729: `cilium status --verbose` of a 1.12 agent on kind (abridged where the report is cut)."""


def test_the_parser_reads_a_ready_remote_with_its_details():
    view = agents.parse(READY_1_16)
    assert (view.ready, view.total, view.global_services) == (1, 1, 0)
    remote = view.clusters["clustermesh1"]
    assert (remote.ready, remote.nodes, remote.endpoints, remote.identities, remote.services) == (True, 2, 12, 5, 0)
    assert remote.details[1].startswith("remote configuration: expected=true, retrieved=true, cluster-id=1")
    assert remote.problem() is None


def test_the_parser_says_why_a_remote_is_not_ready_as_cilium_cli_does():
    remote = agents.parse(QUORUM_LOST).clusters["REDACT-01-use1"]
    assert not remote.ready and remote.endpoints == 3997
    assert remote.problem() == ("quorum check failed 39 times in a row: 18m21.655367018s since last heartbeat "
                                "update has been received")  # the backend's status first, as remoteClusterStatusToError
    syncing = agents.Remote("west", "not-ready", 0, 0, 0, 0, [
        "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint status checks are disabled",
        "remote configuration: expected=true, retrieved=true, cluster-id=2, kvstoremesh=false",
        "synchronization status: nodes=true, endpoints=false, identities=false, services=true"])
    assert syncing.problem() == "synchronization in progress for endpoints, identities"
    no_config = agents.Remote("west", "not-ready", 0, 0, 0, 0, [
        "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: endpoint status checks are disabled",
        "remote configuration: expected=true, retrieved=false"])
    assert no_config.problem() == "remote cluster configuration required but not found"


def test_the_parser_finds_the_section_in_a_full_status_and_stops_after_it():
    view = agents.parse(FULL_1_12)
    assert list(view.clusters) == ["mesh-2"] and view.global_services == 9
    assert view.clusters["mesh-2"].endpoints is None  # 1.12 did not count endpoints
    assert len(view.clusters["mesh-2"].details) == 1
    assert agents.parse("KVStore:  Ok   Disabled\nCilium:   Ok   1.20.2\n") is None


def test_connected_means_every_agent_reports_the_remote_ready():
    ready = agents.parse(READY_1_16.replace("clustermesh1", "west"))
    stuck = agents.parse(QUORUM_LOST.replace("REDACT-01-use1", "west"))
    both = agents.summarize({"cilium-a": ready, "cilium-b": ready}, ["west"])
    assert both == [{"cluster": "west", "connected": True, "error": None, "endpoints": 12, "globalServices": 0,
                     "nodes": 2, "identities": 5, "agents": {"total": 2, "configured": 2, "connected": 2}}]
    [half] = agents.summarize({"cilium-a": ready, "cilium-b": stuck}, ["west"])
    assert not half["connected"] and half["error"].startswith("cilium-b: quorum check failed")
    assert half["agents"] == {"total": 2, "configured": 2, "connected": 1}
    [rolling] = agents.summarize({"cilium-a": ready, "cilium-c": "the agent pod is Pending"}, ["west"])
    assert rolling["error"] == "cilium-c: the agent pod is Pending"
    unknown = {s["cluster"]: s for s in agents.summarize({"cilium-a": ready}, ["west", "north"])}
    assert unknown["north"] == {"cluster": "north", "connected": False, "error": "cilium-a: unknown status",
                                "endpoints": None, "globalServices": None, "nodes": None, "identities": None,
                                "agents": {"total": 1, "configured": 0, "connected": 0}}
    assert agents.summarize({}, ["west"])[0]["error"] == "no cilium agent answered"
    assert agents.COMMAND == ["cilium-dbg", "status", "--all-clusters"]


# -- netem on the nodes ----------------------------------------------------------------------------------------------


def test_one_band_per_remote_cluster_with_its_delay_and_filters():
    delays = [netem.Delay("west", 15, ("172.18.0.5/32", "10.2.0.0/16")), netem.Delay("cloud", 2.5, ("10.3.0.0/16",))]
    tc = [argv[3:] for argv in netem.plan("east-worker", delays)]
    assert all(argv[:3] == ["docker", "exec", "east-worker"] for argv in netem.plan("east-worker", delays))
    assert tc == [
        ["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "prio", "bands", "5",
         "priomap", "1", "2", "2", "2", "1", "2", "0", "0", "1", "1", "1", "1", "1", "1", "1", "1"],
        ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:4", "handle", "14:", "netem", "delay", "2.5ms"],
        ["tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
         "dst", "10.3.0.0/16", "flowid", "1:4"],
        ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:5", "handle", "15:", "netem", "delay", "15ms"],
        ["tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
         "dst", "172.18.0.5/32", "flowid", "1:5"],
        ["tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
         "dst", "10.2.0.0/16", "flowid", "1:5"]]
    assert netem.plan("east-worker", [netem.Delay("west", 0, ("10.2.0.0/16",))]) == []
    assert netem.clear_argv("east-worker") == ["docker", "exec", "east-worker", "tc", "qdisc", "del", "dev", "eth0",
                                               "root"]
    too_many = [netem.Delay(f"peer{i}", 1, ("10.9.0.0/16",)) for i in range(14)]
    with pytest.raises(ValueError, match="at most 13"):
        netem.plan("east-worker", too_many)


EAST_NODES, WEST_NODES = ["east-control-plane", "east-worker", "east-worker2"], ["west-control-plane", "west-worker",
                                                                                   "west-worker2"]
NO_ROOT = "Error: Cannot delete qdisc with handle of zero.\n"


def fake_docker(fake, netem_error: str | None = None) -> None:
    rules = [
        (commands.kind_node_names_argv("east"), "\n".join(EAST_NODES) + "\n", "", 0),
        (commands.kind_node_names_argv("west"), "\n".join(WEST_NODES) + "\n", "", 0),
        (["docker", "ps"], "", "", 0),  # no other kind cluster
        (commands.docker_network_ip_argv(EAST_NODES), "172.18.0.2\n172.18.0.3\n172.18.0.4\n", "", 0),
        (commands.docker_network_ip_argv(WEST_NODES), "172.18.0.5\n172.18.0.6\n172.18.0.7\n", "", 0),
    ]
    for node in EAST_NODES + WEST_NODES:
        rules.append((netem.clear_argv(node), "", NO_ROOT, 2))
        if netem_error:
            rules.append((netem.tc_argv(node, "qdisc", "add", "dev", "eth0", "parent"), "", netem_error, 2))
    rules.append((["docker", "exec"], "", "", 0))
    fake.add("docker", rules)


def test_set_rtt_delays_each_node_by_half_toward_the_other_clusters_nodes_and_pods(fake):
    from k8snet.sandbox.clustermesh import latency

    fake_docker(fake)
    done = netem.set_rtt("east", "west", 30)
    assert latency.rtt_ms("east", "west") == 30.0  # the table both backends read (latency_ms)
    assert done["east"] == [netem.Delay("west", 15.0, ("172.18.0.5/32", "172.18.0.6/32", "172.18.0.7/32",
                                                        "10.2.0.0/16"))]
    assert done["west"][0].destinations[-1] == "10.1.0.0/16"
    execs = [c for c in fake.calls("docker") if c[1] == "exec"]
    worker = [c[3:] for c in execs if c[2] == "east-worker"]
    assert worker[0] == ["tc", "qdisc", "del", "dev", "eth0", "root"]  # nothing there yet: tolerated
    assert worker[2] == ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:4", "handle", "14:", "netem", "delay",
                         "15ms"]
    assert [c[-3] for c in worker if c[1] == "filter"] == ["172.18.0.5/32", "172.18.0.6/32", "172.18.0.7/32",
                                                          "10.2.0.0/16"]
    assert {c[2] for c in execs} == set(EAST_NODES + WEST_NODES)

    fake.log.write_text("")
    netem.set_rtt("east", "west", 0)  # back to no delay: only the root qdiscs go
    assert [c[3:] for c in fake.calls("docker") if c[1] == "exec"] == [
        ["tc", "qdisc", "del", "dev", "eth0", "root"]] * 6
    with pytest.raises(ValueError, match="not 'east' and itself"):
        netem.set_rtt("east", "east", 10)


def test_a_kernel_without_netem_is_said_with_the_fix(fake):
    fake_docker(fake, netem_error="Error: Specified qdisc kind is unknown.\n")
    with pytest.raises(commands.CommandFailed, match="(?s)qdisc kind is unknown.*sch_netem"):
        netem.set_rtt("east", "west", 20)


# -- against a real API server: a Cilium sandbox named east ------------------------------------------------------------


@pytest.fixture(scope="module")
def east(tmp_path_factory):
    import k8snet

    with private_sandbox(tmp_path_factory.mktemp("kindmesh"), cni="cilium", name="east"):
        yield k8snet.connect("east", start=False)


def test_enable_applies_the_objects_and_keeps_good_certificates(east):
    assert clustermesh.cilium_cluster(east) == ("east", 1)
    ca = certs.shared_authority()  # $K8SNET_HOME/kind/clustermesh of this sandbox's home
    assert certs.directory().is_relative_to(Path(os.environ["K8SNET_HOME"]))
    assert clustermesh.ensure_secrets(east, "east", ca) == list(certs.SECRETS)
    assert clustermesh.ensure_secrets(east, "east", ca) == []  # from the set's CA already: kept
    applied = east.apply(clustermesh.objects())
    assert len(applied) == 5
    svc = east.get("Service", "clustermesh-apiserver", "kube-system")
    assert svc["spec"]["ports"][0]["nodePort"] == 32379
    me = peers.access(east)
    assert (me.name, me.cluster_id, me.port, me.ca) == ("east", 1, 32379, ca.pem)
    assert me.ip == east.get("Node")[0]["status"]["addresses"][0]["address"]  # east-control-plane's InternalIP
    assert cn(x509.load_pem_x509_certificate(me.client_cert)) == "remote"


def test_connect_writes_the_secret_and_the_alias_and_disconnect_takes_them_back(east):
    ca = certs.shared_authority()
    west = access("west", 2, "172.18.2.2", ca)
    peers.write(east, west)
    secret = east.get("Secret", peers.SECRET, "kube-system")
    assert sorted(secret["data"]) == ["west"]
    assert base64.b64decode(secret["data"]["west"]).decode() == peers.etcd_config("west", 32379)
    ds = east.get("DaemonSet", "cilium", "kube-system", api_version="apps/v1")
    assert ds["spec"]["template"]["spec"]["hostAliases"] == [{"ip": "172.18.2.2",
                                                              "hostnames": ["west.mesh.cilium.io"]}]
    peers.write(east, west, own_tls=True)  # the CAs differ now: the files come along, the alias stays
    assert sorted(east.get("Secret", peers.SECRET, "kube-system")["data"]) == sorted(peers.remote_keys("west"))
    peers.write(east, west)  # and back: the files go
    assert sorted(east.get("Secret", peers.SECRET, "kube-system")["data"]) == ["west"]
    peers.erase(east, "west")
    assert not east.get("Secret", peers.SECRET, "kube-system").get("data")
    ds = east.get("DaemonSet", "cilium", "kube-system", api_version="apps/v1")
    assert not ds["spec"]["template"]["spec"].get("hostAliases")


def test_mcs_api_applies_to_a_member_and_the_operator_follows_connect(east):
    """The five objects server-side applied over the member's own (a real API server's validation and field
    ownership), then connect and disconnect keep the operator's host aliases in step with the agents'."""
    ca = certs.shared_authority()
    west = access("west", 2, "172.18.2.2", ca)
    peers.write(east, west)  # connected before MCS-API is on, as lesson 09 does it
    assert not mcsapi.enabled(east)
    operator_side, apiserver_side = mcsapi.objects("east")
    east.apply(operator_side)
    peers.sync_operator_aliases(east)
    east.apply(apiserver_side)
    assert mcsapi.enabled(east)
    op = east.get("Deployment", "cilium-operator", "kube-system", api_version="apps/v1")
    assert op["spec"]["template"]["spec"]["hostAliases"] == [{"ip": "172.18.2.2",
                                                              "hostnames": ["west.mesh.cilium.io"]}]
    peers.write(east, access("west", 2, "172.18.2.3", ca))  # west's first node changed: both follow
    for kind, name in (("DaemonSet", "cilium"), ("Deployment", "cilium-operator")):
        obj = east.get(kind, name, "kube-system", api_version="apps/v1")
        assert obj["spec"]["template"]["spec"]["hostAliases"] == [{"ip": "172.18.2.3",
                                                                  "hostnames": ["west.mesh.cilium.io"]}]
    peers.erase(east, "west")
    op = east.get("Deployment", "cilium-operator", "kube-system", api_version="apps/v1")
    assert not op["spec"]["template"]["spec"].get("hostAliases")
    cm = east.get("ConfigMap", "cilium-config", "kube-system")["data"]
    assert (cm["cluster-name"], cm["clustermesh-enable-mcs-api"]) == ("east", "true")


def test_mcs_api_on_kind_needs_the_clustermesh_apiserver(east):
    """A member that cannot mesh has nothing to share exports through: refused, naming the fix."""
    east.delete("Deployment", "clustermesh-apiserver", "kube-system", api_version="apps/v1", wait=True)
    with pytest.raises(RuntimeError, match="has no kube-system/clustermesh-apiserver: MCS-API shares exports "
                                           "through Cluster Mesh"):
        mcsapi.enable(east)


# -- two real kind clusters -----------------------------------------------------------------------------------------


MESH_APP = """
apiVersion: v1
kind: Namespace
metadata: {name: mesh}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh, labels: {app: server}}
spec:
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
    args: ["netexec", "--http-port=8080"]
"""


def kind_pair():
    """``k8snet kind up --name east|west --cni cilium`` (kept after the test unless K8SNET_KIND_DOWN=1), connected."""
    from k8snet import connect
    from k8snet.kind import lifecycle

    for name in ("east", "west"):
        lifecycle.up(lifecycle.Options(name=name, cni="cilium", cloud_provider=False, preload=False, canary=False,
                                       outside=False))
    return connect("kind", name="east", start=False), connect("kind", name="west", start=False)


@pytest.mark.kind
def test_two_kind_clusters_meshed_with_a_round_trip_between_them():
    """``k8snet kind up --name east|west --cni cilium``, connect, wait, a pod of east reaches a pod of west at its
    own address, then 40 ms of round trip on the nodes (run on its own: it makes two clusters)."""
    reason = docker_and_kind_missing()
    if reason:
        pytest.skip(f"kind tests need Docker and kind: {reason}")
    import subprocess

    from k8snet import traffic
    from k8snet.cni import clustermesh as mesh
    from k8snet.kind import lifecycle

    east, west = kind_pair()
    try:
        for c in (east, west):
            assert c.apps.read_namespaced_deployment("clustermesh-apiserver", "kube-system").status.ready_replicas == 1
        mesh.connect(east, west)
        mesh.wait_connected(east, west)
        seen = {s["cluster"]: s for s in mesh.status(east)}
        assert seen["west"]["connected"] and seen["west"]["nodes"] == 3

        west.apply(MESH_APP)
        west.wait_pod_ready("server", "mesh", timeout=300)
        server_ip = west.get("Pod", "server", "mesh")["status"]["podIP"]
        assert server_ip.startswith("10.2.")  # west's pod range
        east.recreate_namespace("mesh")
        client = traffic.ensure_client(east, "mesh", timeout=300)
        assert traffic.connect(east, client, server_ip, 8080).connected

        mesh.set_latency(east, west, 40)
        qdiscs = subprocess.run(["docker", "exec", "east-worker", "tc", "qdisc", "show", "dev", "eth0"],
                                capture_output=True, text=True, check=True).stdout
        assert "netem" in qdiscs and "delay 20ms" in qdiscs
        timed = traffic.exec_in(east, client, ["curl", "-s", "-o", "/dev/null", "-w", "%{time_connect}",
                                               f"http://{server_ip}:8080/hostname"])
        assert float(timed.stdout) >= 0.036  # one round trip for the handshake: at least the 40 ms set
        mesh.set_latency(east, west, 0)
        assert "netem" not in subprocess.run(["docker", "exec", "east-worker", "tc", "qdisc", "show", "dev", "eth0"],
                                             capture_output=True, text=True, check=True).stdout
        mesh.disconnect(east, west)
        assert "west" not in (east.get("Secret", "cilium-clustermesh", "kube-system").get("data") or {})
    finally:
        if os.environ.get("K8SNET_KIND_DOWN") == "1":
            for name in ("east", "west"):
                lifecycle.down(name)


INVENTORY = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: inventory, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: inventory}}
  template:
    metadata: {labels: {app: inventory}}
    spec:
      containers: [{name: c, image: "registry.k8s.io/e2e-test-images/agnhost:2.66.1", args: [netexec]}]
---
apiVersion: v1
kind: Service
metadata: {name: inventory, namespace: shop}
spec:
  selector: {app: inventory}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: inventory, namespace: shop}
"""


@pytest.mark.kind
def test_a_service_exported_by_west_answers_in_east_at_its_clusterset_name():
    """Lesson 09's MCS-API section on kind: ``enable_mcs_api`` on both members (the operator installs the CRDs),
    a ServiceExport in west, the ServiceImport with its clusterset IP in east, and
    ``inventory.shop.svc.clusterset.local`` answered by west's pods (run on its own: it makes two clusters)."""
    reason = docker_and_kind_missing()
    if reason:
        pytest.skip(f"kind tests need Docker and kind: {reason}")
    from k8snet import traffic
    from k8snet.cni import clustermesh as mesh
    from k8snet.kind import lifecycle

    east, west = kind_pair()
    try:
        mesh.connect(east, west)
        mesh.wait_connected(east, west)
        for c in (east, west):
            mesh.enable_mcs_api(c)
            assert mcsapi.enabled(c)
            crds = {c_["metadata"]["name"] for c_ in c.get("CustomResourceDefinition",
                                                           api_version="apiextensions.k8s.io/v1")}
            assert set(mcsapi.CRDS) <= crds  # installed by the operator, not by k8snet
        east.recreate_namespace("shop")
        west.apply(INVENTORY)
        west.wait_ready("inventory", "shop", timeout=300)
        imported = east.wait_for("ServiceImport", "inventory", "shop", "multicluster.x-k8s.io/v1alpha1",
                                 lambda si: (si.get("spec") or {}).get("ips"), timeout=300)
        assert [c_["cluster"] for c_ in imported["status"]["clusters"]] == ["west"]
        west_pods = [p.metadata.name for p in west.core.list_namespaced_pod("shop", label_selector="app=inventory")
                     .items]
        client = traffic.ensure_client(east, "shop", timeout=300)
        traffic.wait_answered(east, client, "http://inventory.shop.svc.clusterset.local/hostname", west_pods, n=1,
                              timeout=300)
        west.delete("ServiceExport", "inventory", "shop", api_version="multicluster.x-k8s.io/v1alpha1")
        east.wait_gone("ServiceImport", "inventory", "shop", "multicluster.x-k8s.io/v1alpha1", timeout=300)
    finally:
        mesh.disconnect(east, west)
        if os.environ.get("K8SNET_KIND_DOWN") == "1":
            for name in ("east", "west"):
                lifecycle.down(name)
