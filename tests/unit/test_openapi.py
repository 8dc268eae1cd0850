"""OpenAPI v3 documents: upstream shape, hash caching, and kubectl explain / field validation / apply against them."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from k8snet.sandbox import discovery, openapi
from k8snet.sandbox.registry import Registry, ResourceType, builtin
from k8snet.sandbox.schema import SchemaSet, upstream

WIDGET = ResourceType("stable.example.com", "v1", "widgets", "Widget", short_names=("wd",),
                      subresources=("status",))
WIDGET_DEF = "com.example.stable.v1.Widget"
WIDGET_DEFS = {
    WIDGET_DEF: {
        "description": "Widget is a test custom resource.",
        "properties": {
            "apiVersion": {"description": "APIVersion of the widget.", "type": ["string", "null"]},
            "kind": {"description": "Kind of the widget.", "type": ["string", "null"]},
            "metadata": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
            "spec": {
                "description": "WidgetSpec is the desired widget.",
                "properties": {
                    "size": {"description": "How big the widget is.", "type": "integer"},
                    "color": {"description": "Paint colour.", "type": ["string", "null"], "enum": ["red", "blue"]},
                    "ports": {"items": {"properties": {"port": {"type": "integer"}, "name": {"type": "string"}},
                                        "type": "object"},
                              "type": ["array", "null"], "x-kubernetes-list-map-keys": ["port"],
                              "x-kubernetes-list-type": "map"},
                },
                "required": ["size"],
                "type": "object",
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "stable.example.com", "kind": "Widget", "version": "v1"}],
    },
}


def _registry() -> Registry:
    r = builtin()
    r.add(WIDGET)
    return r


def _schemas() -> SchemaSet:
    s = upstream()
    s.add(copy.deepcopy(WIDGET_DEFS))
    return s


@pytest.fixture(scope="module")
def reg() -> Registry:
    return _registry()


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return _schemas()


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def _schema_nodes(doc: dict) -> Iterator[tuple[str, dict]]:
    """Every schema-ish dict in the component schemas (skipping extension payloads)."""
    for name, schema in doc["components"]["schemas"].items():
        for path, node in _walk(schema, name):
            if "/x-kubernetes-" not in path:
                yield path, node


# --------------------------------------------------------------------------- index and documents


def test_index_lists_every_group_version(reg: Registry, schemas: SchemaSet) -> None:
    paths = openapi.index(reg, schemas)["paths"]
    assert {"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/networking.k8s.io/v1",
            "apis/discovery.k8s.io/v1", "apis/stable.example.com", "apis/stable.example.com/v1",
            "version"} <= set(paths)
    for key, entry in paths.items():
        body, etag = openapi.document_bytes(reg, schemas, key)
        assert entry["serverRelativeURL"] == f"/openapi/v3/{key}?hash={etag}"
        assert etag == openapi.etag_of(body) and len(etag) == 128 and etag == etag.upper()
        assert json.loads(body) == openapi.document(reg, schemas, key)


def test_document_header(reg: Registry, schemas: SchemaSet) -> None:
    doc = openapi.document(reg, schemas, "apis/apps/v1")
    assert doc["openapi"] == "3.0.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.33.1"}
    assert set(doc["components"]["schemas"]) >= {
        "io.k8s.api.apps.v1.Deployment", "io.k8s.api.apps.v1.DeploymentList", "io.k8s.api.autoscaling.v1.Scale",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch", "io.k8s.api.core.v1.PodSpec",
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    }
    # only what apps/v1 reaches: no Service, no Ingress
    assert "io.k8s.api.core.v1.Service" not in doc["components"]["schemas"]
    assert "io.k8s.api.networking.v1.Ingress" not in doc["components"]["schemas"]


@pytest.mark.parametrize("key", ["api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1", "apis/stable.example.com/v1",
                                 "api", "apis", "apis/apps", "version"])
def test_refs_are_components_and_all_resolve(reg: Registry, schemas: SchemaSet, key: str) -> None:
    doc = openapi.document(reg, schemas, key)
    names = set(doc["components"]["schemas"])
    refs = [node["$ref"] for _, node in _walk(doc) if isinstance(node.get("$ref"), str)]
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref[len("#/components/schemas/"):] in names, ref


def test_schema_nodes_are_openapi3(reg: Registry, schemas: SchemaSet) -> None:
    doc = openapi.document(reg, schemas, "api/v1")
    for path, node in _schema_nodes(doc):
        if "type" in node and not path.endswith("/properties"):
            assert isinstance(node["type"], str) and node["type"] != "null", path
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"unwrapped $ref with siblings at {path}"


def test_ref_siblings_wrapped_in_allof(reg: Registry, schemas: SchemaSet) -> None:
    comps = openapi.document(reg, schemas, "apis/apps/v1")["components"]["schemas"]
    meta = comps["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"]
    assert meta["allOf"] == [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert meta["description"].startswith("Standard object's metadata.")
    containers = comps["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"


def test_kind_enums_dropped_and_special_types(reg: Registry, schemas: SchemaSet) -> None:
    comps = openapi.document(reg, schemas, "api/v1")["components"]["schemas"]
    svc = comps["io.k8s.api.core.v1.Service"]
    assert svc["properties"]["apiVersion"] == {"description": svc["properties"]["apiVersion"]["description"],
                                               "type": "string"}
    assert "enum" not in svc["properties"]["kind"]
    assert svc["type"] == "object"
    assert svc["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Service", "version": "v1"}]
    ios = comps["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["format"] == "int-or-string" and "type" not in ios
    assert ios["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    qty = comps["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert "type" not in qty and qty["description"].startswith("Quantity is a fixed-point")


def _op(doc: dict, path: str, method: str) -> dict:
    return doc["paths"][path][method]


def _param_names(params: list[dict]) -> list[str]:
    return [p["name"] for p in params]


def test_resource_paths_and_operations(reg: Registry, schemas: SchemaSet) -> None:
    doc = openapi.document(reg, schemas, "apis/apps/v1")
    item = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    assert set(doc["paths"][item]) == {"get", "put", "patch", "delete", "parameters"}
    assert _param_names(doc["paths"][item]["parameters"]) == ["name", "namespace", "pretty"]
    patch = _op(doc, item, "patch")
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["tags"] == ["apps_v1"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert _param_names(patch["parameters"]) == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert all(p["in"] == "query" for p in patch["parameters"])
    assert set(patch["requestBody"]["content"]) == {
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json"}
    assert patch["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}
    coll = "/apis/apps/v1/namespaces/{namespace}/deployments"
    assert _op(doc, coll, "get")["x-kubernetes-action"] == "list"
    assert _op(doc, coll, "get")["operationId"] == "listAppsV1NamespacedDeployment"
    assert _op(doc, coll, "post")["x-kubernetes-action"] == "post"
    assert _op(doc, coll, "delete")["x-kubernetes-action"] == "deletecollection"
    assert _op(doc, "/apis/apps/v1/deployments", "get")["operationId"] == "listAppsV1DeploymentForAllNamespaces"
    scale = _op(doc, item + "/scale", "patch")
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert _op(doc, item + "/status", "get")["operationId"] == "readAppsV1NamespacedDeploymentStatus"
    assert _op(doc, "/apis/apps/v1/", "get")["operationId"] == "getAppsV1APIResources"


def test_core_subresources(reg: Registry, schemas: SchemaSet) -> None:
    doc = openapi.document(reg, schemas, "api/v1")
    exec_path = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert exec_path["get"]["operationId"] == "connectCoreV1GetNamespacedPodExec"
    assert exec_path["post"]["x-kubernetes-action"] == "connect"
    assert exec_path["post"]["x-kubernetes-group-version-kind"]["kind"] == "PodExecOptions"
    assert {"command", "container", "stdin", "name", "namespace"} <= set(_param_names(exec_path["parameters"]))
    log = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]
    assert log["get"]["operationId"] == "readCoreV1NamespacedPodLog"
    assert {"follow", "tailLines", "container"} <= set(_param_names(log["parameters"]))
    evict = _op(doc, "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post")
    assert evict["x-kubernetes-group-version-kind"] == {"group": "policy", "kind": "Eviction", "version": "v1"}
    assert "io.k8s.api.policy.v1.Eviction" in doc["components"]["schemas"]
    ns = doc["paths"]["/api/v1/namespaces/{name}"]
    assert _op(doc, "/api/v1/namespaces/{name}", "get")["operationId"] == "readCoreV1Namespace"
    assert "delete" in ns and "/api/v1/namespaces" in doc["paths"]
    finalize = doc["paths"]["/api/v1/namespaces/{name}/finalize"]
    assert set(finalize) == {"put", "parameters"}


def test_every_patch_operation_declares_field_validation(reg: Registry, schemas: SchemaSet) -> None:
    """query_param_verifier_v3 stops at the first PATCH op with the GVK; all of them must qualify."""
    for key in openapi.index(reg, schemas)["paths"]:
        doc = openapi.document(reg, schemas, key)
        for path, item in doc["paths"].items():
            if "patch" in item and item["patch"]["x-kubernetes-action"] == "patch":
                names = _param_names(item["patch"].get("parameters", []))
                assert "fieldValidation" in names, (key, path)
                assert "x-kubernetes-group-version-kind" in item["patch"], (key, path)


def test_crd_document(reg: Registry, schemas: SchemaSet) -> None:
    doc = openapi.document(reg, schemas, "apis/stable.example.com/v1")
    comps = doc["components"]["schemas"]
    assert set(comps) >= {WIDGET_DEF, WIDGET_DEF + "List", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    assert comps[WIDGET_DEF]["properties"]["spec"]["properties"]["color"]["enum"] == ["red", "blue"]
    assert comps[WIDGET_DEF + "List"]["x-kubernetes-group-version-kind"] == \
        [{"group": "stable.example.com", "kind": "WidgetList", "version": "v1"}]
    item = "/apis/stable.example.com/v1/namespaces/{namespace}/widgets/{name}"
    patch = _op(doc, item, "patch")
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "fieldValidation" in _param_names(patch["parameters"])
    assert set(_op(doc, item, "get")["responses"]["200"]["content"]) == {"application/json", "application/yaml"}
    assert patch["operationId"] == "patchStableExampleComV1NamespacedWidget"
    assert patch["tags"] == ["stableExampleCom_v1"]


def test_schemaless_registration_is_synthesized() -> None:
    r = builtin()
    r.add(ResourceType("things.example.org", "v1alpha1", "gadgets", "Gadget", namespaced=False))
    s = upstream()
    doc = openapi.document(r, s, "apis/things.example.org/v1alpha1")
    comps = doc["components"]["schemas"]
    assert comps["org.example.things.v1alpha1.Gadget"]["x-kubernetes-preserve-unknown-fields"] is True
    assert "org.example.things.v1alpha1.GadgetList" in comps
    assert "/apis/things.example.org/v1alpha1/gadgets/{name}" in doc["paths"]


# --------------------------------------------------------------------------- caching and serving


def test_cached_per_revision() -> None:
    r, s = builtin(), upstream()
    first = openapi.index(r, s)
    assert openapi.index(r, s) is first
    t0 = time.perf_counter()
    for _ in range(100):
        openapi.document_bytes(r, s, "api/v1")
    assert (time.perf_counter() - t0) / 100 < 0.002
    apps_hash = first["paths"]["apis/apps/v1"]["serverRelativeURL"]
    r.add(WIDGET)
    s.add(copy.deepcopy(WIDGET_DEFS))
    second = openapi.index(r, s)
    assert "apis/stable.example.com/v1" in second["paths"] and "apis/stable.example.com/v1" not in first["paths"]
    assert second["paths"]["apis/apps/v1"]["serverRelativeURL"] == apps_hash  # unchanged documents keep their hash


def test_respond_with_current_hash_is_immutable(reg: Registry, schemas: SchemaSet) -> None:
    body, etag = openapi.document_bytes(reg, schemas, "apis/apps/v1")
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    res = openapi.respond_v3(reg, schemas, "/apis/apps/v1", etag, "application/json", now=now)
    assert res.status == 200 and res.body == body
    assert res.headers["ETag"] == f'"{etag}"'
    assert res.headers["Content-Type"] == "application/json"
    assert res.headers["Cache-Control"] == "public, immutable"
    assert res.headers["Vary"] == "Accept"
    assert res.headers["Expires"] == "Mon, 01 Jun 2026 12:00:00 GMT"


def test_respond_without_or_with_stale_hash(reg: Registry, schemas: SchemaSet) -> None:
    _, etag = openapi.document_bytes(reg, schemas, "api/v1")
    plain = openapi.respond_v3(reg, schemas, "api/v1")
    assert plain.status == 200 and "Cache-Control" not in plain.headers and plain.headers["ETag"] == f'"{etag}"'
    stale = openapi.respond_v3(reg, schemas, "api/v1", "0123")
    assert stale.status == 301 and stale.headers["Location"] == f"/openapi/v3/api/v1?hash={etag}"
    assert openapi.respond_v3(reg, schemas, "api/v1", None, None, f'"{etag}"').status == 304
    assert openapi.respond_v3(reg, schemas, "apis/nope/v1").status == 404
    assert openapi.respond_v3(reg, schemas, "api/v1", None,
                              "application/com.github.proto-openapi.spec.v3@v1.0+protobuf").status == 406
    index = openapi.respond_v3(reg, schemas, "")
    assert index.status == 200 and json.loads(index.body) == openapi.index(reg, schemas)
    assert index.headers["ETag"] == f'"{openapi.index_bytes(reg, schemas)[1]}"'


def test_openapi_v2_not_served() -> None:
    res = openapi.openapi_v2_status()
    assert res.status == 404 and json.loads(res.body)["reason"] == "NotFound"


# --------------------------------------------------------------------------- real kubectl

KUBECTL = shutil.which("kubectl")
SDK_BIN = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_MINORS = [p for p in (SDK_BIN / f"kubectl.1.{m}" for m in range(30, 34)) if p.exists()]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPLOY_PATH = "/apis/apps/v1/namespaces/default/deployments/web"
WIDGET_PATH = "/apis/stable.example.com/v1/namespaces/default/widgets/w1"
APPLIED_DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
APPLIED_WIDGET = {"apiVersion": "stable.example.com/v1", "kind": "Widget",
                  "metadata": {"name": "w1", "namespace": "default"}, "spec": {"size": 1}}


@dataclass
class _Server:
    url: str = ""
    log: list[tuple[str, str]] = field(default_factory=list)
    patches: list[tuple[str, str, str]] = field(default_factory=list)


def _stored(applied: dict) -> dict:
    """A live object whose last-applied annotation is ``applied`` (what client-side apply diffs against)."""
    obj = copy.deepcopy(applied)
    obj["metadata"].update({"uid": "0000", "resourceVersion": "1",
                            "annotations": {LAST_APPLIED: json.dumps(applied)}})
    return obj


def _handler(reg: Registry, schemas: SchemaSet, state: _Server):
    canned = {DEPLOY_PATH: _stored(APPLIED_DEPLOY), WIDGET_PATH: _stored(APPLIED_WIDGET)}

    async def handle(request: web.Request) -> web.Response:
        state.log.append((request.method, request.path_qs))
        path = request.path
        if path == "/version":
            return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "0" * 40,
                                      "gitTreeState": "clean", "buildDate": "2025-05-15T00:00:00Z",
                                      "goVersion": "go1.24.2", "compiler": "gc", "platform": "linux/amd64"})
        if path in canned:  # just enough "storage" for client-side apply to compute and send a patch
            if request.method == "PATCH":
                state.patches.append((path, request.headers["Content-Type"], await request.text()))
            return web.json_response(canned[path])
        if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
            answer = openapi.respond_v3(reg, schemas, path[len("/openapi/v3"):], request.query.get("hash"),
                                        request.headers.get("Accept"), request.headers.get("If-None-Match"))
        elif path.startswith("/openapi/v2"):
            answer = openapi.openapi_v2_status()
        else:
            answer = discovery.respond(reg, path, request.headers.get("Accept"), request.headers.get("If-None-Match"))
            if answer is None:
                return web.Response(status=404)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
    return handle


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    """A throwaway discovery + OpenAPI HTTP server on 127.0.0.1 for real kubectl binaries."""
    state = _Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handler(_registry(), _schemas(), state))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    host, port = runner.addresses[0][:2]
    state.url = f"http://{host}:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield state
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def _kubectl(server: _Server, tmp_path: Path, *args: str, binary: str | None = None,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sandbox",
        "clusters": [{"name": "sandbox", "cluster": {"server": server.url}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "u", "namespace": "default"}}],
    }))
    cmd = [binary or KUBECTL, "--kubeconfig", str(cfg), "--cache-dir", str(tmp_path / "cache"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, input=stdin)


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")


@needs_kubectl
def test_kubectl_explain_field(server: _Server, tmp_path: Path) -> None:
    out = _kubectl(server, tmp_path, "explain", "service.spec.ports")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["KIND:       Service", "VERSION:    v1"]
    assert "FIELD: ports <[]ServicePort>" in out.stdout
    assert "ServicePort contains information on service's port." in out.stdout
    assert "  port\t<integer> -required-" in out.stdout
    assert "  targetPort\t<IntOrString>" in out.stdout
    assert "  protocol\t<string>" in out.stdout


@needs_kubectl
def test_kubectl_explain_recursive(server: _Server, tmp_path: Path) -> None:
    out = _kubectl(server, tmp_path, "explain", "deployment", "--recursive")
    assert out.returncode == 0, out.stderr
    head = out.stdout.splitlines()[:12]
    assert head[:3] == ["GROUP:      apps", "KIND:       Deployment", "VERSION:    v1"]
    assert "  metadata\t<ObjectMeta>" in head
    assert "    annotations\t<map[string]string>" in out.stdout
    assert "      containers\t<[]Container> -required-" in out.stdout
    assert "            limits\t<map[string]Quantity>" in out.stdout


@needs_kubectl
def test_kubectl_explain_custom_resource(server: _Server, tmp_path: Path) -> None:
    out = _kubectl(server, tmp_path, "explain", "widgets.spec")
    assert out.returncode == 0, out.stderr
    assert "GROUP:      stable.example.com" in out.stdout
    assert "  size\t<integer> -required-" in out.stdout
    assert "enum: red, blue" in out.stdout


@pytest.mark.skipif(not KUBECTL_MINORS, reason="versioned kubectl binaries not installed")
@pytest.mark.parametrize("binary", KUBECTL_MINORS, ids=lambda p: p.name)
def test_explain_across_kubectl_minors(server: _Server, tmp_path: Path, binary: Path) -> None:
    out = _kubectl(server, tmp_path, "explain", "ingress.spec.rules.http.paths.backend", binary=str(binary))
    assert out.returncode == 0, out.stderr
    assert "GROUP:      networking.k8s.io" in out.stdout
    assert "  service\t<IngressServiceBackend>" in out.stdout


@needs_kubectl
def test_kubectl_uses_server_side_field_validation(server: _Server, tmp_path: Path) -> None:
    """The v3 PATCH op carries fieldValidation, so kubectl never falls back to OpenAPI v2 (404 here)."""
    manifest = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                           "spec": {"ports": [{"port": 80}]}})
    before = len(server.log)
    out = _kubectl(server, tmp_path, "create", "-f", "-", "--dry-run=client", "--validate=strict", "-o", "name",
                   stdin=manifest)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "service/web"
    requested = [p for _, p in server.log[before:]]
    assert any(p.startswith("/openapi/v3/api/v1?hash=") for p in requested)
    assert not any(p.startswith("/openapi/v2") for p in requested)


@needs_kubectl
def test_kubectl_client_side_apply_uses_v3_patch_metadata(server: _Server, tmp_path: Path) -> None:
    modified = copy.deepcopy(APPLIED_DEPLOY)
    modified["spec"]["template"]["spec"]["containers"] = [{"name": "c", "image": "nginx:2"},
                                                          {"name": "d", "image": "busybox"}]
    before, patches = len(server.log), len(server.patches)
    out = _kubectl(server, tmp_path, "apply", "-f", "-", stdin=json.dumps(modified))
    assert out.returncode == 0, out.stderr
    assert "warning" not in out.stderr.lower()
    path, content_type, body = server.patches[patches]
    assert path == DEPLOY_PATH and content_type == "application/strategic-merge-patch+json"
    patch = json.loads(body)
    assert patch["spec"]["template"]["spec"]["$setElementOrder/containers"] == [{"name": "c"}, {"name": "d"}]
    requested = [p for _, p in server.log[before:]]
    assert any(p.startswith(f"{DEPLOY_PATH}?") and "fieldValidation=Strict" in p
               for m, p in server.log[before:] if m == "PATCH")
    assert not any(p.startswith("/openapi/v2") for p in requested)


@needs_kubectl
def test_kubectl_client_side_apply_custom_resource_merge_patch(server: _Server, tmp_path: Path) -> None:
    """No strategic merge patch for CRDs: kubectl falls back (v2 404 is tolerated) to a JSON merge patch."""
    modified = copy.deepcopy(APPLIED_WIDGET)
    modified["spec"]["size"] = 3
    patches = len(server.patches)
    out = _kubectl(server, tmp_path, "apply", "-f", "-", stdin=json.dumps(modified))
    assert out.returncode == 0, out.stderr
    path, content_type, body = server.patches[patches]
    assert path == WIDGET_PATH and content_type == "application/merge-patch+json"
    assert json.loads(body)["spec"] == {"size": 3}
