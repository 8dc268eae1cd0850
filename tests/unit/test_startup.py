"""The sandbox process's start: it listens before it has prepared, and holds requests until it has.

``python -m k8snet.sandbox serve`` binds its port and writes ``ready.json`` as soon as the store is open, then
prepares (bootstrap objects, the add-ons' CRDs, RBAC) with requests waiting (server.py ``ready_mw``). These tests
hold a real client's requests at that point, through the same ``serve`` and TLS as the process, and check they are
answered as they would be a moment later. The CRD documents' JSON copies and the warm-up child that makes them for
a new state directory are checked here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes import client

from k8snet.sandbox import crddocs, pki, warmup
from k8snet.sandbox.auth.clientcerts import server_context
from k8snet.sandbox.instance import CRD_DOCUMENTS, Sandbox, serve, shutdown
from k8snet.sandbox.server import API_SERVER, ApiServer

TOKEN = "startup-test-token-0123456789abcdefghijklmnop"


def api_client(state: Path, port: int) -> client.ApiClient:
    conf = client.Configuration()
    conf.host = f"https://127.0.0.1:{port}"
    conf.ssl_ca_cert = str(state / "ca.crt")
    conf.api_key = {"authorization": TOKEN}
    conf.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(conf)


async def wait_until(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def unprepared(state: Path) -> AsyncIterator[tuple[Sandbox, asyncio.Event, ApiServer, client.ApiClient]]:
    """A sandbox listening before it has prepared (as the sandbox process starts), the event that ends the wait
    of its requests, its server and a client of it."""
    sb = Sandbox(state, seed=0)
    ca, crt, key = pki.ensure(state)
    ready = asyncio.Event()
    runner, port = await serve(sb, TOKEN, tls=server_context(crt, key, ca), ready=ready)
    api = api_client(state, port)
    try:
        yield sb, ready, runner.app[API_SERVER], api
    finally:
        api.close()
        await shutdown(sb, runner)
        sb.close()


def test_requests_during_the_start_wait_and_find_what_the_start_makes(tmp_path):
    """Requests that arrive before the sandbox has prepared are held, not answered from a half-made cluster: a
    ConfigMap in ``default`` (the namespace comes with the bootstrap) and a list of IngressRoutes (a kind of the
    add-ons' CRDs) both succeed once it has, as they would a moment later (before, they would be a 404 each)."""
    state = tmp_path / "state"

    async def main() -> None:
        async with unprepared(state) as (sb, ready, server, api):
            loop = asyncio.get_running_loop()
            made = loop.run_in_executor(None, lambda: client.CoreV1Api(api).create_namespaced_config_map(
                "default", {"metadata": {"name": "early"}, "data": {"a": "1"}}))
            routes = loop.run_in_executor(None, lambda: client.CustomObjectsApi(api).list_cluster_custom_object(
                "traefik.io", "v1alpha1", "ingressroutes"))
            await wait_until(lambda: server.held == 2, "both requests to reach the server")
            assert not made.done() and not routes.done()
            assert sb.store.get("namespaces", "", "default") is None  # nothing prepared yet
            sb.prepare()
            ready.set()
            cm = await made
            assert (cm.metadata.namespace, cm.data) == ("default", {"a": "1"})
            assert (await routes)["items"] == []
            assert server.held == 0

    asyncio.run(main())


def test_the_version_and_core_discovery_are_answered_while_the_rest_waits(tmp_path):
    """``GET /version`` is answered before the sandbox has prepared, as kube-apiserver answers it before its
    post-start hooks have run, and so is the core group's discovery, which no CRD changes: at once from the moment
    the RBAC policy is in (the first step of a new store's preparation); one that came before that waits like any
    other request, and ``/apis``, which lists the CRDs' groups, waits for them."""
    state = tmp_path / "state"

    async def main() -> None:
        async with unprepared(state) as (sb, ready, server, api):
            loop = asyncio.get_running_loop()

            def core() -> list[str]:
                return sorted(r.name for r in client.CoreV1Api(api).get_api_resources(_request_timeout=10).resources)

            early = loop.run_in_executor(None, lambda: client.VersionApi(api).get_code())
            await wait_until(lambda: server.held == 1, "the first request to reach the server")
            steps = sb.preparation()
            steps[0][1]()  # the bootstrap: namespaces, nodes, the RBAC policy
            version = await loop.run_in_executor(None, lambda: client.VersionApi(api).get_code())
            assert version.git_version.startswith("v1.") and not ready.is_set()
            versions = await loop.run_in_executor(None, lambda: client.CoreApi(api).get_api_versions(
                _request_timeout=10).versions)
            resources = await loop.run_in_executor(None, core)
            assert versions == ["v1"] and "pods" in resources and not ready.is_set()
            groups = loop.run_in_executor(None, lambda: client.ApisApi(api).get_api_versions())
            await wait_until(lambda: server.held == 2, "the request for /apis to reach the server")
            assert not early.done() and not groups.done()
            for _, step in steps[1:]:
                for _ in step() or ():  # a step's pauses (one per CRD)
                    pass
            ready.set()
            assert (await early).git_version == version.git_version
            assert "traefik.io" in {g.name for g in (await groups).groups}
            assert await loop.run_in_executor(None, core) == resources  # the same answer once prepared

    asyncio.run(main())


def test_the_facts_the_ready_file_carries_are_the_status_ones(tmp_path):
    """``ready.json`` carries what ``k8snet sandbox up`` prints (process.Running.facts), so up says it without a
    request that would wait for the start; they are the admin status's own."""
    sb = Sandbox(tmp_path / "state", seed=0, cni="cilium")
    try:
        facts = sb.facts()
        status = sb.status()
        assert facts == {k: status[k] for k in facts}
        assert facts["cni"] == "cilium" and facts["karmada"] is False and facts["kubernetesVersion"].startswith("v")
    finally:
        sb.close()


# -- the CRD documents' JSON copies ----------------------------------------------------------------------------------


def test_a_documents_copy_reads_back_as_the_yaml_parses(tmp_path):
    name = CRD_DOCUMENTS[0]
    parsed = crddocs.load(name)
    assert crddocs.load(name, tmp_path) == parsed  # parsed, then the copy written
    copy = tmp_path / crddocs.CACHE_DIR / f"{name}.json"
    assert copy.exists() and copy.stat().st_mode & 0o777 == 0o600
    assert crddocs.cached_documents(tmp_path, name) == parsed
    assert crddocs.load(name, tmp_path) == parsed  # read back from the copy


def test_documents_are_separate_objects_where_the_yaml_shares_them():
    """YAML aliases (``*name``) become separate copies, so installing one CRD never changes another's schema."""
    docs = crddocs.load("gateway.networking.k8s.io.yaml")
    seen: dict[int, str] = {}

    def walk(node, where: str) -> None:
        if isinstance(node, (dict, list)):
            assert id(node) not in seen, f"{where} is the object at {seen.get(id(node))}"
            seen[id(node)] = where
            for k, v in node.items() if isinstance(node, dict) else enumerate(node):
                walk(v, f"{where}/{k}")

    walk(docs, "")


@pytest.mark.parametrize("copy", ['{"sha256": "0000", "documents": []}', "{not json", '["a list"]'])
def test_a_copy_of_another_document_version_or_a_broken_one_is_not_used(tmp_path, copy):
    name = CRD_DOCUMENTS[-1]
    (tmp_path / crddocs.CACHE_DIR).mkdir()
    (tmp_path / crddocs.CACHE_DIR / f"{name}.json").write_text(copy)
    assert crddocs.cached_documents(tmp_path, name) is None
    assert crddocs.load(name, tmp_path) == crddocs.load(name)
    assert crddocs.cached_documents(tmp_path, name) == crddocs.load(name)  # and it is made again


def test_the_warm_up_child_makes_every_cache_a_new_state_directory_lacks(tmp_path):
    """The child the sandbox process starts for a new state directory (warmup.py): the JSON copy of every CRD
    document and the CEL grammar's parser tables, saying each as it is written."""
    env = {k: v for k, v in os.environ.items() if k != warmup.GRAMMAR_ENV}
    proc = subprocess.run([sys.executable, "-m", "k8snet.sandbox.cachemaker", str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    # what every sandbox reads first, then the grammar, then the documents of some clusters only
    others = [n for n in crddocs.names() if n not in CRD_DOCUMENTS]
    assert proc.stdout.split() == [*CRD_DOCUMENTS, warmup.CEL, *others] and others
    for name in crddocs.names():
        assert crddocs.cached_documents(tmp_path, name) == crddocs.load(name)
    assert warmup.grammar_path(tmp_path).stat().st_size > 0
    assert warmup.Warmup.start(tmp_path) is None  # a directory with both caches starts no child


def test_the_sandbox_waits_for_the_child_and_installs_the_same_crds(tmp_path):
    """A sandbox that gets its documents through the warm-up child installs exactly the CRDs one parsing the YAML
    itself does."""
    state = tmp_path / "state"
    state.mkdir()
    sb = Sandbox(state, seed=0)
    sb.warmup = warmup.Warmup.start(state)
    assert sb.warmup is not None
    try:
        sb.prepare()
        sb.warmup.close()
        assert sb.warmup.proc.returncode == 0
        names = sorted(c["metadata"]["name"] for c in sb.store.list("customresourcedefinitions.apiextensions.k8s.io"))
    finally:
        sb.close()
    plain = Sandbox(None, seed=0)
    try:
        plain.prepare()
        assert names == sorted(c["metadata"]["name"]
                               for c in plain.store.list("customresourcedefinitions.apiextensions.k8s.io"))
        assert plain.store.get("gatewayclasses.gateway.networking.k8s.io", "", "traefik") is not None
    finally:
        plain.close()
    assert json.loads((state / crddocs.CACHE_DIR / f"{CRD_DOCUMENTS[0]}.json").read_text())["documents"]


def test_traefiks_gateway_class_passes_the_checks_the_start_skips():
    """The start writes Traefik's GatewayClass without validating it (WriteOptions.checked: its CRD's CEL rules
    would need the CEL parser before the first answer); through the full create it validates, warns of nothing and
    is stored alike, and its CRD's CEL rule holds it afterwards."""
    from k8snet import traefik_config as config
    from k8snet.sandbox.errors import ApiError
    from k8snet.sandbox.options import WriteOptions

    sb = Sandbox(None, seed=0)
    try:
        sb.prepare()
        rt = sb.registry.lookup("gateway.networking.k8s.io", "v1", "gatewayclasses")
        started = sb.store.get(rt.group_resource, "", config.GATEWAY_CLASS)
        body = config.gateway_class()
        body["metadata"]["name"] = "traefik-checked"
        opts = WriteOptions(field_manager="k8snet")
        created = sb.api.create(rt, "", body, opts)
        assert opts.warnings == []

        def content(obj: dict) -> dict:  # the status is Traefik's to write (the start's had none before either)
            meta = {k: v for k, v in obj["metadata"].items()
                    if k not in ("name", "uid", "creationTimestamp", "resourceVersion", "managedFields")}
            return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}

        assert content(created) == content(started)
        changed = {**created, "spec": {**created["spec"], "controllerName": "example.com/other"}}
        with pytest.raises(ApiError, match="Value is immutable"):
            sb.api.update(rt, "", "traefik-checked", changed, WriteOptions(field_manager="k8snet"))
    finally:
        sb.close()


def test_what_requests_do_before_the_controllers_run_reaches_them():
    """The process answers requests before it starts its controllers; an owner deleted in between still has its
    dependent collected (the garbage collector acts on the deletion's event, which the controllers' first pass
    over the store cannot show them)."""
    from k8snet.sandbox.options import DeleteOptions, WriteOptions

    async def main() -> None:
        sb = Sandbox(None, seed=0)
        try:
            sb.prepare()
            rt = sb.registry.lookup("", "v1", "configmaps")
            opts = WriteOptions(field_manager="test")
            owner = sb.api.create(rt, "default", {"metadata": {"name": "owner"}}, opts)
            ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
            sb.api.create(rt, "default", {"metadata": {"name": "dependent", "ownerReferences": [ref]}}, opts)
            sb.api.delete(rt, "default", "owner", DeleteOptions())
            sb.run_controllers()
            await wait_until(lambda: sb.store.get("configmaps", "default", "dependent") is None,
                             "the dependent to be collected")
        finally:
            await sb.stop()
            sb.close()

    asyncio.run(main())


def test_stopping_traefiks_pinger_ends_even_when_a_ping_swallows_the_cancellation():
    """Python 3.11's wait_for can return a result instead of raising a cancellation that comes as the awaited call
    completes (gh-86296): a ping that does so must not keep `sandbox down` waiting for the ping loop forever."""
    from k8snet.sandbox.components.traefik import PodSide

    class Swallowing:
        pings = 0

        async def ping(self) -> bool:
            self.pings += 1
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                pass  # as wait_for does when its inner call has just completed
            return False

    async def scenario() -> int:
        traefik = Swallowing()
        pods = PodSide(traefik)  # type: ignore[arg-type]
        pods.start()
        await asyncio.sleep(0.01)  # the loop is in its first ping
        await asyncio.wait_for(pods.stop(), 5.0)  # a hang guard, not a timing: it ends at once or never
        return traefik.pings

    assert asyncio.run(scenario()) == 1
