"""Discovery bodies: shapes as a 1.33 apiserver serves them, and what kubectl / the Python client make of them."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from k8snet.sandbox import discovery
from k8snet.sandbox.registry import Registry, ResourceType, builtin

# client-go discovery_client.go acceptDiscoveryFormats, as kubectl 1.30 .. 1.33 send it.
KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
V2BETA1_ONLY = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

WIDGET = ResourceType("stable.example.com", "v1", "widgets", "Widget", short_names=("wd",), categories=("all",),
                      subresources=("status", "scale"))


@pytest.fixture
def reg() -> Registry:
    r = builtin()
    r.add(WIDGET)
    return r


def _by_name(resource_list: dict) -> dict[str, dict]:
    return {r["name"]: r for r in resource_list["resources"]}


# --------------------------------------------------------------------------- negotiation


@pytest.mark.parametrize(("accept", "choice"), [
    (KUBECTL_ACCEPT, discovery.AGGREGATED_V2),
    (V2BETA1_ONLY, discovery.LEGACY),  # 1.33: AggregatedDiscoveryRemoveBetaType is on
    ("application/json", discovery.LEGACY),
    ("application/json, */*", discovery.LEGACY),
    ("*/*", discovery.LEGACY),
    ("", discovery.LEGACY),
    (None, discovery.LEGACY),
    # q-values outrank order; wildcards rank below concrete types (goautoneg)
    ("application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
     discovery.AGGREGATED_V2),
    ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io", discovery.AGGREGATED_V2),
    ("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
     discovery.LEGACY),
    ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", discovery.LEGACY),
])
def test_negotiate(accept: str | None, choice: str) -> None:
    assert discovery.negotiate(accept) == choice


def test_negotiate_v2beta1_when_allowed() -> None:
    assert discovery.negotiate(V2BETA1_ONLY, allow_v2beta1=True) == discovery.AGGREGATED_V2BETA1
    assert discovery.negotiate(KUBECTL_ACCEPT, allow_v2beta1=True) == discovery.AGGREGATED_V2


def test_content_types() -> None:
    assert discovery.content_type_for(discovery.LEGACY) == "application/json"
    assert discovery.content_type_for(discovery.AGGREGATED_V2) == \
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert discovery.content_type_for(discovery.AGGREGATED_V2BETA1) == \
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


# --------------------------------------------------------------------------- legacy


def test_api_versions(reg: Registry) -> None:
    body = discovery.api_versions(reg, "10.0.0.1:6443")
    assert body == {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]}


def test_api_group_list_orders_by_priority(reg: Registry) -> None:
    body = discovery.api_group_list(reg)
    assert body["kind"] == "APIGroupList" and body["apiVersion"] == "v1"
    names = [g["name"] for g in body["groups"]]
    assert names == ["apps", "authentication.k8s.io", "authorization.k8s.io", "batch", "certificates.k8s.io", "networking.k8s.io",
                     "rbac.authorization.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "stable.example.com"]
    apps = body["groups"][0]
    assert apps["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_api_group(reg: Registry) -> None:
    assert discovery.api_group(reg, "apps")["kind"] == "APIGroup"
    assert discovery.api_group(reg, "nope.example.com") is None
    assert discovery.api_group(reg, "") is None


def test_core_resource_list(reg: Registry) -> None:
    body = discovery.api_resource_list(reg, "", "v1")
    assert "apiVersion" not in body and body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    names = [r["name"] for r in body["resources"]]
    assert names == sorted(names)
    res = _by_name(body)
    assert res["pods"] == {
        "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8=",
    }
    assert res["pods/exec"] == {"name": "pods/exec", "singularName": "", "namespaced": True,
                                "kind": "PodExecOptions", "verbs": ["create", "get"]}
    assert res["pods/log"]["kind"] == "Pod" and res["pods/log"]["verbs"] == ["get"]
    assert res["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert res["pods/eviction"] == {"name": "pods/eviction", "singularName": "", "namespaced": True,
                                    "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}
    assert res["namespaces"]["namespaced"] is False
    assert res["namespaces/finalize"]["verbs"] == ["update"]


def test_apps_resource_list(reg: Registry) -> None:
    body = discovery.api_resource_list(reg, "apps", "v1")
    assert body["apiVersion"] == "v1" and body["groupVersion"] == "apps/v1"
    res = _by_name(body)
    assert res["deployments"]["storageVersionHash"] == discovery.storage_version_hash("apps", "v1", "Deployment")
    assert res["deployments/scale"] == {"name": "deployments/scale", "singularName": "", "namespaced": True,
                                        "group": "autoscaling", "version": "v1", "kind": "Scale",
                                        "verbs": ["get", "patch", "update"]}
    assert discovery.api_resource_list(reg, "apps", "v2") is None


def test_storage_version_hash_matches_upstream() -> None:
    # Value a real apiserver publishes for pods.
    assert discovery.storage_version_hash("", "v1", "Pod") == "xPOwRZ+Yhw8="


# --------------------------------------------------------------------------- aggregated


def test_aggregated_core(reg: Registry) -> None:
    body = discovery.aggregated_discovery(reg, core=True)
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    [core] = body["items"]
    assert core["metadata"] == {"creationTimestamp": None}
    [v1] = core["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["exec"] == {"subresource": "exec", "responseKind": {"group": "", "version": "", "kind": "PodExecOptions"},
                            "verbs": ["create", "get"]}
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    nodes = next(r for r in v1["resources"] if r["resource"] == "nodes")
    assert nodes["scope"] == "Cluster"
    assert all("/" not in r["resource"] for r in v1["resources"])


def test_aggregated_groups(reg: Registry) -> None:
    body = discovery.aggregated_discovery(reg, core=False)
    assert [i["metadata"]["name"] for i in body["items"]] == \
        ["apps", "authentication.k8s.io", "authorization.k8s.io", "batch", "certificates.k8s.io", "networking.k8s.io",
         "rbac.authorization.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io", "stable.example.com"]
    apps = body["items"][0]["versions"][0]
    deploy = next(r for r in apps["resources"] if r["resource"] == "deployments")
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    widgets = body["items"][-1]["versions"][0]["resources"][0]
    assert widgets["resource"] == "widgets" and widgets["shortNames"] == ["wd"]
    assert {s["subresource"] for s in widgets["subresources"]} == {"status", "scale"}


def test_aggregated_v2beta1_shape(reg: Registry) -> None:
    body = discovery.aggregated_discovery(reg, core=False, choice=discovery.AGGREGATED_V2BETA1)
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


def test_respond_root_negotiates_and_etags(reg: Registry) -> None:
    agg = discovery.respond(reg, "/apis", KUBECTL_ACCEPT)
    assert agg.status == 200
    assert agg.headers["Content-Type"] == discovery.content_type_for(discovery.AGGREGATED_V2)
    assert agg.headers["Vary"] == "Accept" and agg.headers["Cache-Control"] == "public"
    etag = agg.headers["ETag"]
    assert etag == f'"{discovery.etag_of(agg.body)}"'
    assert json.loads(agg.body)["kind"] == "APIGroupDiscoveryList"
    assert discovery.respond(reg, "/apis", KUBECTL_ACCEPT, etag).status == 304
    legacy = discovery.respond(reg, "/apis/", "application/json")
    assert legacy.headers["Content-Type"] == "application/json"
    assert json.loads(legacy.body)["kind"] == "APIGroupList"
    assert json.loads(discovery.respond(reg, "/api", "application/json").body)["kind"] == "APIVersions"


def test_respond_group_versions(reg: Registry) -> None:
    assert json.loads(discovery.respond(reg, "/api/v1").body)["groupVersion"] == "v1"
    assert json.loads(discovery.respond(reg, "/apis/apps/v1").body)["groupVersion"] == "apps/v1"
    assert json.loads(discovery.respond(reg, "/apis/apps").body)["kind"] == "APIGroup"
    missing = discovery.respond(reg, "/apis/apps/v9")
    assert missing.status == 404 and json.loads(missing.body)["reason"] == "NotFound"
    assert discovery.respond(reg, "/api/v2").status == 404
    assert discovery.respond(reg, "/healthz") is None
    assert discovery.respond(reg, "/api/v1/pods") is None
    assert discovery.respond(reg, "/apis/apps/v1/deployments") is None


def test_cached_and_invalidated_by_new_types() -> None:
    r = builtin()
    first = discovery.aggregated_discovery(r, core=False)
    assert discovery.aggregated_discovery(r, core=False) is first
    r.add(WIDGET)
    second = discovery.aggregated_discovery(r, core=False)
    assert second is not first and second["items"][-1]["metadata"]["name"] == "stable.example.com"


# --------------------------------------------------------------------------- real clients

KUBECTL = shutil.which("kubectl")


@dataclass
class _Server:
    url: str
    log: list[tuple[str, str, str]] = field(default_factory=list)


def _handler(reg: Registry, log: list[tuple[str, str, str]]):
    async def handle(request: web.Request) -> web.Response:
        log.append((request.method, request.path_qs, request.headers.get("Accept", "")))
        if request.path == "/version":
            return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "0" * 40,
                                      "gitTreeState": "clean", "buildDate": "2025-05-15T00:00:00Z",
                                      "goVersion": "go1.24.2", "compiler": "gc", "platform": "linux/amd64"})
        answer = discovery.respond(reg, request.path, request.headers.get("Accept"),
                                   request.headers.get("If-None-Match"))
        if answer is None:
            return web.Response(status=404)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
    return handle


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    """A throwaway discovery-only HTTP server on 127.0.0.1 (real apiserver paths, no storage)."""
    reg = builtin()
    reg.add(WIDGET)
    state = _Server("")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handler(reg, state.log))
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


def _kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "sandbox",
        "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "u"}}],
    }))
    return path


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_api_resources(server: _Server, tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, server.url)
    out = subprocess.run([KUBECTL, "--kubeconfig", str(cfg), "--cache-dir", str(tmp_path / "cache"),
                          "api-resources"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines()[1:]}
    assert rows["pods"] == ["pods", "po", "v1", "true", "Pod"]
    assert rows["deployments"] == ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    assert rows["ingressclasses"] == ["ingressclasses", "networking.k8s.io/v1", "false", "IngressClass"]
    assert rows["widgets"] == ["widgets", "wd", "stable.example.com/v1", "true", "Widget"]
    # kubectl took the aggregated form: no per-group-version requests were needed.
    paths = [p.split("?")[0] for _, p, _ in server.log]
    assert "/apis" in paths and "/apis/apps/v1" not in paths
    accept = next(a for m, p, a in server.log if p.startswith("/apis?") or p == "/apis")
    assert accept == KUBECTL_ACCEPT


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_api_resources_filters(server: _Server, tmp_path: Path) -> None:
    cfg = _kubeconfig(tmp_path, server.url)
    out = subprocess.run([KUBECTL, "--kubeconfig", str(cfg), "--cache-dir", str(tmp_path / "cache"),
                          "api-resources", "--categories=all", "-o", "name"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"pods", "services", "replicationcontrollers", "deployments.apps",
                                       "replicasets.apps", "daemonsets.apps", "statefulsets.apps",
                                       "jobs.batch", "cronjobs.batch", "widgets.stable.example.com"}


def test_python_client_legacy_discovery(server: _Server, tmp_path: Path) -> None:
    """The official client's DynamicClient walks the legacy documents (/api, /apis, /apis/<g>/<v>)."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.dynamic import DynamicClient

    config = kubernetes.client.Configuration()
    config.host = server.url
    with kubernetes.client.ApiClient(config) as api:
        dyn = DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
        deploy = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        assert deploy.namespaced and "patch" in deploy.verbs and deploy.short_names == ["deploy"]
        widget = dyn.resources.get(api_version="stable.example.com/v1", kind="Widget")
        assert widget.name == "widgets"
        assert dyn.resources.get(api_version="v1", kind="Pod").name == "pods"
