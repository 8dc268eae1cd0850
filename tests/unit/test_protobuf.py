"""Tests for k8snet.sandbox.protobuf: the wire reader, the table, and real kubectl bodies.

The kubectl tests run the real binaries against a throwaway aiohttp server that
records the protobuf bodies they POST, then check that decoding gives exactly the
object the same command prints with ``--dry-run=client -o json``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from k8snet.sandbox import errors, protobuf, schema
from k8snet.sandbox.protobuf import LEN, VARINT, decode, decode_message, read_fields, read_varint, signed

# --- a tiny encoder, for hand-made messages -------------------------------------------------


def varint(n: int) -> bytes:
    """Encode an int as a varint; negative numbers as 10-byte two's complement (like Go)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vi(number: int, value: int) -> bytes:
    return varint(number << 3 | VARINT) + varint(value)


def ld(number: int, data: bytes | str) -> bytes:
    data = data.encode() if isinstance(data, str) else data
    return varint(number << 3 | LEN) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes) -> bytes:
    """A map entry {1: key, 2: value} where value is already encoded as field 2."""
    return ld(number, ld(1, key) + value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return protobuf.MAGIC + ld(1, ld(1, api_version) + ld(2, kind)) + ld(2, raw)


def meta(name: str, **extra: bytes) -> bytes:
    return ld(1, ld(1, name) + b"".join(extra.values()))


# --- wire format ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16384, 2**31 - 1, 2**32, 2**63, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    data = varint(value) + b"\xff"
    assert read_varint(data, 0) == (value, len(data) - 1)


def test_varint_known_bytes() -> None:
    assert read_varint(b"\xac\x02", 0) == (300, 2)
    assert read_varint(b"\x00\x96\x01", 1) == (150, 3)


def test_negative_ints_are_sign_extended_not_zigzag() -> None:
    encoded = varint(-1)
    assert len(encoded) == 10
    raw, _ = read_varint(encoded, 0)
    assert signed(raw, 32) == -1 and signed(raw, 64) == -1
    assert signed(varint_value(-62135596800), 64) == -62135596800
    assert signed(1, 32) == 1 and signed(2**31, 32) == -(2**31)


def varint_value(n: int) -> int:
    return read_varint(varint(n), 0)[0]


def test_truncated_and_overlong_varints_are_bad_requests() -> None:
    for data in (b"\x80", b"\xff" * 11):
        with pytest.raises(errors.ApiError) as err:
            read_varint(data, 0)
        assert err.value.code == 400


def test_read_fields_all_wire_types() -> None:
    data = vi(1, 150) + ld(2, "hi") + varint(3 << 3 | 1) + (7).to_bytes(8, "little") + varint(4 << 3 | 5) + (9).to_bytes(4, "little")
    assert list(read_fields(data)) == [(1, 0, 150), (2, 2, b"hi"), (3, 1, 7), (4, 5, 9)]


def test_read_fields_rejects_groups_and_overruns() -> None:
    for data in (varint(1 << 3 | 3), ld(1, "abc")[:-1], vi(0, 1)):
        with pytest.raises(errors.ApiError) as err:
            list(read_fields(data))
        assert err.value.code == 400


# --- decoding semantics ---------------------------------------------------------------------


def test_nested_messages_and_scalars() -> None:
    port = ld(1, "http") + ld(2, "TCP") + vi(3, 80) + ld(4, vi(1, 0) + vi(2, 8080) + ld(3, "")) + vi(5, 30080)
    spec = ld(1, port) + entry(2, "app", ld(2, "web")) + ld(4, "NodePort")
    body = envelope("v1", "Service", meta("web") + ld(2, spec) + ld(3, b""))
    assert decode(body) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
            "selector": {"app": "web"},
            "type": "NodePort",
        },
        "status": {},
    }


def test_int_or_string_by_type() -> None:
    table = "io.k8s.api.apps.v1.RollingUpdateDeployment"
    data = ld(1, vi(1, 1) + vi(2, 0) + ld(3, "25%")) + ld(2, vi(1, 0) + vi(2, 2) + ld(3, ""))
    assert decode_message(table, data) == {"maxUnavailable": "25%", "maxSurge": 2}


def test_zero_values_dropped_only_for_omitempty_non_pointers() -> None:
    # DeploymentSpec: replicas *int32 (kept at 0), minReadySeconds int32 omitempty (dropped),
    # paused bool omitempty (dropped); ContainerPort.containerPort has no omitempty (kept at 0).
    spec = vi(1, 0) + vi(5, 0) + vi(7, 0)
    assert decode_message("io.k8s.api.apps.v1.DeploymentSpec", spec) == {"replicas": 0}
    assert decode_message("io.k8s.api.core.v1.ContainerPort", ld(1, "") + vi(3, 0)) == {"containerPort": 0}
    assert decode_message("io.k8s.api.core.v1.PodSpec", vi(21, 0)) == {"automountServiceAccountToken": False}
    assert decode_message("io.k8s.api.core.v1.Container", ld(1, "")) == {"name": ""}


def test_repeated_ints_packed_and_unpacked() -> None:
    table = "io.k8s.api.core.v1.PodSecurityContext"
    unpacked = vi(4, 1000) + vi(4, 2000)
    packed = ld(4, varint(1000) + varint(2000) + varint(-5))
    assert decode_message(table, unpacked) == {"supplementalGroups": [1000, 2000]}
    assert decode_message(table, packed) == {"supplementalGroups": [1000, 2000, -5]}
    assert decode_message(table, unpacked + packed)["supplementalGroups"] == [1000, 2000, 1000, 2000, -5]


def test_maps_of_strings_bytes_and_quantities() -> None:
    secret = meta("s") + entry(2, "pass", ld(2, b"\x00\xffs3cr3t")) + entry(2, "empty", b"") + ld(3, "Opaque")
    assert decode(envelope("v1", "Secret", secret)) == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"pass": base64.b64encode(b"\x00\xffs3cr3t").decode(), "empty": ""}, "type": "Opaque",
    }
    resources = entry(1, "cpu", ld(2, ld(1, "500m"))) + entry(2, "memory", ld(2, ld(1, "64Mi")))
    assert decode_message("io.k8s.api.core.v1.ResourceRequirements", resources) == {
        "limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}


def test_times() -> None:
    seconds = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp())
    stamp = ld(8, vi(1, seconds) + vi(2, 123_456_789))
    zero = ld(8, b"")
    meta_table = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert decode_message(meta_table, stamp) == {"creationTimestamp": "2026-01-01T00:00:00Z"}
    assert decode_message(meta_table, zero + ld(1, "x")) == {"name": "x"}
    assert decode_message(meta_table, ld(8, vi(1, -62135596800))) == {}
    event = ld(10, vi(1, seconds) + vi(2, 123_456_789))
    assert decode_message("io.k8s.api.core.v1.Event", event) == {"eventTime": "2026-01-01T00:00:00.123456Z"}


def test_managed_fields_hold_json() -> None:
    fields_v1 = ld(1, b'{"f:metadata":{"f:labels":{}}}')
    entry_ = ld(1, "kubectl") + ld(2, "Update") + ld(3, "v1") + ld(6, "FieldsV1") + ld(7, fields_v1)
    out = decode_message("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", ld(17, entry_))
    assert out == {"managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                                      "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]}


def test_inline_structs_are_flattened() -> None:
    probe = ld(1, ld(2, ld(1, "/healthz") + ld(2, vi(1, 1) + ld(3, "http")))) + vi(4, 10)
    assert decode_message("io.k8s.api.core.v1.Probe", probe) == {
        "httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
    volume = ld(1, "cfg") + ld(2, ld(19, ld(1, ld(1, "app-config")) + vi(3, 0o644)))
    assert decode_message("io.k8s.api.core.v1.Volume", volume) == {
        "name": "cfg", "configMap": {"name": "app-config", "defaultMode": 0o644}}
    rule = ld(1, "example.com") + ld(2, ld(1, ld(1, ld(1, "/") + ld(3, "Prefix"))))
    assert decode_message("io.k8s.api.networking.v1.IngressRule", rule) == {
        "host": "example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix"}]}}


def test_pod_with_nested_spec() -> None:
    # kubectl run posts JSON, so Pods get a hand-made body: env from a secret (inline
    # LocalObjectReference), resources, a tcp probe, a toleration, node selector, affinity.
    secret_ref = ld(4, ld(1, ld(1, "db")) + ld(2, "password"))
    env = ld(1, "PASS") + ld(3, secret_ref)
    container = (ld(1, "app") + ld(2, "nginx") + ld(7, env) + ld(8, entry(1, "cpu", ld(2, ld(1, "1"))))
                 + ld(11, ld(1, ld(3, ld(1, vi(1, 0) + vi(2, 80)))) + vi(2, 5)))
    term = ld(1, ld(1, "zone") + ld(2, "In") + ld(3, "a") + ld(3, "b"))
    affinity = ld(1, ld(1, ld(1, term)))
    toleration = ld(1, "k") + ld(2, "Exists") + ld(4, "NoSchedule") + vi(5, 300)
    spec = ld(2, container) + ld(3, "Always") + entry(7, "disk", ld(2, "ssd")) + ld(18, affinity) + ld(22, toleration)
    assert decode(envelope("v1", "Pod", meta("p") + ld(2, spec) + ld(3, b""))) == {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {
            "containers": [{
                "name": "app", "image": "nginx",
                "env": [{"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "resources": {"limits": {"cpu": "1"}},
                "readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5},
            }],
            "restartPolicy": "Always",
            "nodeSelector": {"disk": "ssd"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 300}],
        },
        "status": {},
    }


def test_delete_options_under_any_group_version() -> None:
    raw = vi(1, 0) + ld(2, ld(1, "uid-1")) + ld(4, "Foreground") + ld(5, "All")
    expected = {"gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"},
                "propagationPolicy": "Foreground", "dryRun": ["All"]}
    for api_version in ("v1", "meta.k8s.io/v1", "apps/v1"):
        assert decode(envelope(api_version, "DeleteOptions", raw)) == {
            "apiVersion": api_version, "kind": "DeleteOptions", **expected}


def test_scale_and_default_gvk() -> None:
    body = protobuf.MAGIC + ld(2, meta("web") + ld(2, vi(1, 0)) + ld(3, vi(1, 0)))
    assert decode(body, api_version="autoscaling/v1", kind="Scale") == {
        "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
        "spec": {}, "status": {"replicas": 0}}


def test_unknown_field_is_415_naming_message_and_number() -> None:
    body = envelope("v1", "Pod", ld(2, ld(2, ld(1, "c") + vi(99, 1))))
    with pytest.raises(errors.ApiError) as err:
        decode(body)
    assert err.value.code == 415 and err.value.reason == "UnsupportedMediaType"
    message = str(err.value)
    assert "field number 99" in message and "io.k8s.api.core.v1.Container" in message
    assert "spec.containers[0]" in message and "kubectl apply -f -" in message


def test_unknown_kind_and_encoding_are_415() -> None:
    for body in (envelope("policy/v1", "PodDisruptionBudget", b""),
                 protobuf.MAGIC + ld(1, ld(1, "v1") + ld(2, "Pod")) + ld(2, b"") + ld(3, "gzip")):
        with pytest.raises(errors.ApiError) as err:
            decode(body)
        assert err.value.code == 415 and "JSON" in str(err.value)


def test_bad_magic_and_wrong_wire_types_are_400() -> None:
    bodies = [b'{"kind":"Pod"}', envelope("v1", "Pod", ld(1, vi(1, 5))), envelope("v1", "Pod", ld(2, ld(21, "x")))]
    for body in bodies:
        with pytest.raises(errors.ApiError) as err:
            decode(body)
        assert err.value.code == 400


# --- the table against the upstream schemas -------------------------------------------------

ROOTS = [*protobuf.KINDS.values(), protobuf.DELETE_OPTIONS]


@pytest.fixture(scope="module")
def defs() -> dict[str, Any]:
    return schema.upstream().definitions


def flattened(message: str) -> dict[str, protobuf.Field]:
    """JSON name -> field of a message, with inline structs merged in."""
    out: dict[str, protobuf.Field] = {}
    for f in protobuf.fields_of(message).values():
        if f.inline:
            out.update(flattened(f.kind))
        else:
            out[f.name] = f
    return out


def test_every_reachable_definition_has_an_entry(defs: dict[str, Any]) -> None:
    reachable: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref and ref[len(schema.REF_PREFIX):] not in reachable:
                reachable.add(ref[len(schema.REF_PREFIX):])
                walk(defs[ref[len(schema.REF_PREFIX):]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root in ROOTS:
        reachable.add(root)
        walk(defs[root])
    # ExtraValue is no schema definition: the schemas inline it as an array of strings
    in_table = {name for name in protobuf.MESSAGES if name in defs} | (set(protobuf.SPECIAL) - {protobuf.EXTRA_VALUE})
    assert reachable - in_table == set()
    assert in_table - reachable == set()


def test_inline_only_messages_are_not_definitions(defs: dict[str, Any]) -> None:
    inline = {f.kind for m in protobuf.MESSAGES for f in protobuf.fields_of(m).values() if f.inline}
    not_defs = {m for m in protobuf.MESSAGES if m not in defs}
    assert not_defs <= inline
    referenced = {f.kind for m in protobuf.MESSAGES for f in protobuf.fields_of(m).values() if not f.inline}
    assert not (not_defs & referenced)


def test_table_properties_match_schema_definitions(defs: dict[str, Any]) -> None:
    problems = []
    for name in protobuf.MESSAGES:
        if name not in defs:
            continue
        props = set(defs[name].get("properties", {}))
        if defs[name].get("x-kubernetes-group-version-kind"):
            props -= {"apiVersion", "kind"}
        mine = set(flattened(name))
        if props != mine:
            problems.append(f"{name}: missing {sorted(props - mine)}, unknown {sorted(mine - props)}")
    assert problems == []


def _schema_kind(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return node["$ref"][len(schema.REF_PREFIX):]
    types = schema.types_of(node)
    if types == {"string"}:
        return "[]byte" if node.get("format") == "byte" else "string"
    if types == {"integer"}:
        return node.get("format", "?")
    if types == {"boolean"}:
        return "bool"
    return f"?{sorted(types)}"


def test_table_types_match_schema_definitions(defs: dict[str, Any]) -> None:
    problems = []
    for name in protobuf.MESSAGES:
        if name not in defs:
            continue
        for json_name, f in flattened(name).items():
            node = defs[name]["properties"][json_name]
            types = schema.types_of(node)
            if "array" in types:
                shape, node = "repeated", node["items"]
            elif "object" in types and isinstance(node.get("additionalProperties"), dict):
                shape, node = "map", node["additionalProperties"]
            else:
                shape = "single"
            mine = "repeated" if f.repeated else "map" if f.map else "single"
            if f.kind == protobuf.EXTRA_VALUE and _schema_kind(node.get("items") or {}) == "string":
                continue  # ExtraValue is a []string in JSON (a one-field message on the wire)
            if (shape, _schema_kind(node)) != (mine, f.kind):
                problems.append(f"{name}.{json_name}: schema {shape} {_schema_kind(node)}, table {mine} {f.kind}")
    assert problems == []


# --- real kubectl bodies --------------------------------------------------------------------

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTLS = [KUBECTL_DIR / f"kubectl.{v}" for v in ("1.33", "1.32", "1.30")]
PROTOBUF_SINCE = (1, 32)
"""kubectl 1.32 switched its typed clients to protobuf; 1.30 and 1.31 still send JSON (a control here)."""


def minor(binary: Path) -> tuple[int, int]:
    major, minor_ = binary.name.removeprefix("kubectl.").split(".")
    return int(major), int(minor_)

RESOURCES = {
    "v1": [("namespaces", "Namespace", False), ("pods", "Pod", True), ("services", "Service", True),
           ("configmaps", "ConfigMap", True), ("secrets", "Secret", True),
           ("serviceaccounts", "ServiceAccount", True), ("resourcequotas", "ResourceQuota", True)],
    "apps/v1": [("deployments", "Deployment", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("clusterroles", "ClusterRole", False),
                                     ("rolebindings", "RoleBinding", True),
                                     ("clusterrolebindings", "ClusterRoleBinding", False)],
}


@dataclass
class FakeApiserver:
    """A minimal discovery + POST-recording server for kubectl."""

    url: str = ""
    bodies: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/version":
            return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": "v1"}],
                       "preferredVersion": {"groupVersion": gv, "version": "v1"}} for gv in RESOURCES if "/" in gv]
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        for gv, resources in RESOURCES.items():
            if path == ("/api/v1" if gv == "v1" else f"/apis/{gv}"):
                return web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
                    {"name": n, "singularName": k.lower(), "namespaced": ns, "kind": k, "verbs": ["create", "get"]}
                    for n, k, ns in resources]})
        if request.method == "POST":
            body = await request.read()
            self.bodies.append((path, request.headers.get("Content-Type", ""), body))
            try:
                obj = decode(body) if body.startswith(protobuf.MAGIC) else json.loads(body)
            except errors.ApiError as exc:
                return web.json_response(exc.status(), status=exc.code)
            return web.json_response(obj, status=201)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                                  "reason": "NotFound", "message": "not found"}, status=404)


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeApiserver, Path]]:
    server = FakeApiserver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    # Plain http and no credentials: kubectl only sends bearer tokens over TLS.
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": server.url}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}],
    }))
    try:
        yield server, kubeconfig
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TLS key pair and a binary file for the commands that read files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    root = tmp_path_factory.mktemp("files")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (root / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    (root / "blob.bin").write_bytes(bytes(range(256)))
    return root


COMMANDS = {
    "deployment": ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"],
    "deployment-two-images": ["create", "deployment", "multi", "--image=nginx:1.27", "--image=busybox:1.36"],
    "deployment-zero-replicas": ["create", "deployment", "idle", "--image=nginx", "--replicas=0"],
    "namespace": ["create", "namespace", "team-a"],
    "service-clusterip": ["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:8443"],
    "service-headless": ["create", "service", "clusterip", "headless", "--clusterip=None"],
    "service-nodeport": ["create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080"],
    "service-loadbalancer": ["create", "service", "loadbalancer", "web", "--tcp=80:8080"],
    "service-externalname": ["create", "service", "externalname", "ext", "--external-name=example.com"],
    "configmap": ["create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two words",
                  "--from-file=blob={files}/blob.bin"],
    "secret-generic": ["create", "secret", "generic", "creds", "--from-literal=user=admin",
                       "--from-literal=pass=s3cr3t"],
    "secret-tls": ["create", "secret", "tls", "web-tls", "--cert={files}/tls.crt", "--key={files}/tls.key"],
    "secret-docker-registry": ["create", "secret", "docker-registry", "reg", "--docker-server=r.example.com",
                               "--docker-username=u", "--docker-password=p"],
    "serviceaccount": ["create", "serviceaccount", "robot"],
    "ingress": ["create", "ingress", "web", "--class=nginx", "--rule=example.com/api*=api:8080,tls=web-tls",
                "--rule=example.com/=web:http", "--default-backend=web:80", "--annotation=team=a"],
    "role": ["create", "role", "secret-reader", "--verb=get,list", "--resource=secrets",
             "--resource-name=db", "--resource-name=api"],
    "clusterrole": ["create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz*"],
    "clusterrole-aggregated": ["create", "clusterrole", "monitoring",
                               "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"],
    "rolebinding": ["create", "rolebinding", "read-secrets", "--role=secret-reader", "--serviceaccount=shop:web",
                    "--user=jane", "--group=devs"],
    "clusterrolebinding": ["create", "clusterrolebinding", "view-all", "--clusterrole=view",
                           "--serviceaccount=shop:web"],
    "run": ["run", "web", "--image=nginx:1.27", "--port=80", "--labels=app=web,tier=frontend", "--env=A=1",
            "--env=B=two", "--command", "--", "sh", "-c", "sleep 3600"],
}


JSON_COMMANDS = {"run"}
"""Commands that send JSON in every version: ``kubectl run`` posts through the generic resource helper."""


def without_nulls(value: Any) -> Any:
    """JSON clients send ``creationTimestamp: null``; the decoder leaves zero Times out instead."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def kubectl(binary: Path, kubeconfig: Path, args: list[str], *flags: str) -> subprocess.CompletedProcess[str]:
    """Run kubectl with ``flags`` added before any ``--`` (after which ``kubectl run`` takes the command)."""
    cut = args.index("--") if "--" in args else len(args)
    argv = [str(binary), *args[:cut], *flags, *args[cut:]]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("binary", KUBECTLS, ids=lambda p: p.name)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_kubectl_bodies_decode_to_their_json_form(binary: Path, command: str, apiserver: tuple[FakeApiserver, Path],
                                                  files: Path) -> None:
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    server, kubeconfig = apiserver
    args = [a.replace("{files}", str(files)) for a in COMMANDS[command]]
    client = kubectl(binary, kubeconfig, args, "--dry-run=client", "-o", "json")
    assert client.returncode == 0, client.stderr
    expected = without_nulls(json.loads(client.stdout))

    server.bodies.clear()
    sent = kubectl(binary, kubeconfig, args, "--dry-run=server")
    assert sent.returncode == 0, sent.stderr
    assert len(server.bodies) == 1
    _path, content_type, body = server.bodies[0]
    if minor(binary) >= PROTOBUF_SINCE and command not in JSON_COMMANDS:
        assert content_type == protobuf.MEDIA_TYPE
        assert decode(body) == expected
    else:
        assert content_type == "application/json"
        assert without_nulls(json.loads(body)) == expected


def test_kubectl_sees_the_415_for_an_unsupported_kind(apiserver: tuple[FakeApiserver, Path]) -> None:
    binary = KUBECTLS[0]
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    _server, kubeconfig = apiserver
    result = kubectl(binary, kubeconfig, ["create", "quota", "q", "--hard=pods=2", "--dry-run=server"])
    assert result.returncode != 0
    assert "ResourceQuota" in result.stderr and "kubectl apply -f -" in result.stderr
