"""Fuzzing the sandbox API from its own OpenAPI v3 documents: never a 5xx, always a Status, memory = disk.

The default run is bounded for CI (a fixed, derandomized set of examples, about a minute); set
``K8SNET_FUZZ=deep`` for a run about seventeen times longer that also shrinks what it finds, or
``K8SNET_FUZZ=N`` for N examples per kind. Each run uses a private sandbox process; at the end it is
killed with SIGKILL and its store, read from disk, must hold exactly what the API listed.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from k8snet.sandbox import process
from k8snet.sandbox.store import Store

from .strategies import JSON_PATCHES, PATCH_TYPES, QUERIES, RAW_BODIES, SCALARS, Schemas, mutate

FUZZ_ENV = os.environ.get("K8SNET_FUZZ", "")
DEEP = FUZZ_ENV == "deep"
EXAMPLES = 2000 if DEEP else int(FUZZ_ENV) if FUZZ_ENV.isdigit() else 120
"""Examples per kind: 120 in CI, 2,000 (with shrinking) for ``K8SNET_FUZZ=deep``, or ``K8SNET_FUZZ=N``."""
NAMESPACE = "fuzz"

KINDS = [
    # (OpenAPI document, schema, apiVersion, kind, collection path under /namespaces/fuzz or cluster)
    ("api/v1", "io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap", "/api/v1/namespaces/fuzz/configmaps"),
    ("api/v1", "io.k8s.api.core.v1.Secret", "v1", "Secret", "/api/v1/namespaces/fuzz/secrets"),
    ("api/v1", "io.k8s.api.core.v1.Service", "v1", "Service", "/api/v1/namespaces/fuzz/services"),
    ("api/v1", "io.k8s.api.core.v1.Pod", "v1", "Pod", "/api/v1/namespaces/fuzz/pods"),
    ("api/v1", "io.k8s.api.core.v1.Endpoints", "v1", "Endpoints", "/api/v1/namespaces/fuzz/endpoints"),
    ("api/v1", "io.k8s.api.core.v1.ServiceAccount", "v1", "ServiceAccount",
     "/api/v1/namespaces/fuzz/serviceaccounts"),
    ("api/v1", "io.k8s.api.core.v1.Namespace", "v1", "Namespace", "/api/v1/namespaces"),
    ("apis/apps/v1", "io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment",
     "/apis/apps/v1/namespaces/fuzz/deployments"),
    ("apis/apps/v1", "io.k8s.api.apps.v1.ReplicaSet", "apps/v1", "ReplicaSet",
     "/apis/apps/v1/namespaces/fuzz/replicasets"),
    ("apis/discovery.k8s.io/v1", "io.k8s.api.discovery.v1.EndpointSlice", "discovery.k8s.io/v1", "EndpointSlice",
     "/apis/discovery.k8s.io/v1/namespaces/fuzz/endpointslices"),
    ("apis/networking.k8s.io/v1", "io.k8s.api.networking.v1.NetworkPolicy", "networking.k8s.io/v1",
     "NetworkPolicy", "/apis/networking.k8s.io/v1/namespaces/fuzz/networkpolicies"),
    ("apis/networking.k8s.io/v1", "io.k8s.api.networking.v1.Ingress", "networking.k8s.io/v1", "Ingress",
     "/apis/networking.k8s.io/v1/namespaces/fuzz/ingresses"),
]
LISTED = {  # store resource → list path, for the memory = disk check
    "configmaps": "/api/v1/configmaps", "secrets": "/api/v1/secrets", "services": "/api/v1/services",
    "pods": "/api/v1/pods", "endpoints": "/api/v1/endpoints", "serviceaccounts": "/api/v1/serviceaccounts",
    "namespaces": "/api/v1/namespaces", "events": "/api/v1/events", "deployments.apps": "/apis/apps/v1/deployments",
    "replicasets.apps": "/apis/apps/v1/replicasets",
    "endpointslices.discovery.k8s.io": "/apis/discovery.k8s.io/v1/endpointslices",
    "networkpolicies.networking.k8s.io": "/apis/networking.k8s.io/v1/networkpolicies",
    "ingresses.networking.k8s.io": "/apis/networking.k8s.io/v1/ingresses",
}


class Client:
    """Raw HTTPS with the token: exactly the bytes a client sends."""

    def __init__(self, running: process.Running):
        self.running = running
        self.tls: ssl.SSLContext = process._tls(running.state)

    def call(self, method: str, path: str, body: bytes | None = None,
             ctype: str = "application/json") -> tuple[int, bytes]:
        req = urllib.request.Request(self.running.server + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {self.running.token}", "Content-Type": ctype,
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str) -> Any:
        code, raw = self.call("GET", path)
        assert code == 200, raw[:300]
        return json.loads(raw)


def check(client: Client, method: str, path: str, body: bytes | None = None,
          ctype: str = "application/json") -> tuple[int, Any]:
    """Send one request; the answer is never a 5xx, and a 4xx is a Status with the same code."""
    code, raw = client.call(method, path, body, ctype)
    assert code < 500, f"{method} {path} [{ctype}] → {code}: {raw[:500]!r}\nbody: {body[:500]!r}" if body else \
        f"{method} {path} → {code}: {raw[:500]!r}"
    if code >= 400:
        status = json.loads(raw)
        assert status.get("kind") == "Status" and status.get("code") == code, (method, path, raw[:300])
        return code, status
    if b"\n" in raw.strip():  # a watch: one JSON event per line
        return code, [json.loads(line) for line in raw.splitlines() if line.strip()]
    return code, json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def fuzz_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Path]]:
    state = tmp_path_factory.mktemp("fuzz") / "sandbox"
    running = process.up(state=state, seed=0, edge_http_port=0, edge_https_port=0, write_kubeconfig=False)
    client = Client(running)
    check(client, "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": NAMESPACE}}).encode())
    try:
        yield client, state
    finally:
        process.down(state=state, write_kubeconfig=False)


@pytest.fixture(scope="module")
def schemas(fuzz_sandbox: tuple[Client, Path]) -> dict[str, Schemas]:
    client, _ = fuzz_sandbox
    return {doc: Schemas(client.json(f"/openapi/v3/{doc}")) for doc in {k[0] for k in KINDS}}


PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if DEEP else [])
"""CI reports the first failing example as found: shrinking it can take minutes against a live server."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=PHASES,
                suppress_health_check=list(HealthCheck))


def encoded(text: str) -> bytes:
    try:
        return text.encode("latin-1")  # lets a body carry bytes that are not UTF-8
    except UnicodeEncodeError:
        return text.encode()


@pytest.mark.parametrize("kind", KINDS, ids=[k[3] for k in KINDS])
def test_writes_never_answer_5xx(fuzz_sandbox, schemas, kind):
    client, _ = fuzz_sandbox
    doc, schema, api_version, kind_name, collection = kind
    objects = schemas[doc].kind_object(schema, api_version, kind_name)

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        # the whole plan is drawn first: drawing may not depend on the server's answers (hypothesis replays)
        obj = data.draw(objects)
        if data.draw(st.integers(0, 3)) == 0:
            obj = data.draw(mutate(obj))
        query = data.draw(QUERIES)
        patches = []
        for _ in range(data.draw(st.integers(0, 2))):
            ctype = data.draw(st.sampled_from(PATCH_TYPES))
            if ctype == "application/json-patch+json":
                patch: Any = data.draw(JSON_PATCHES)
            elif ctype == "application/apply-patch+yaml":
                patch = {**obj, "apiVersion": api_version, "kind": kind_name}
            else:
                patch = data.draw(st.one_of(mutate(obj), st.dictionaries(st.sampled_from(
                    ["metadata", "spec", "data", "status", "$patch", "$retainKeys"]), SCALARS, max_size=2)))
            manager = "&fieldManager=fuzz" if ctype.startswith("application/apply") else ""
            patches.append((f"{data.draw(QUERIES)}{manager}", json.dumps(patch).encode(), ctype))
        replace = data.draw(st.one_of(st.none(), mutate(obj)))
        replace_query, list_query = data.draw(QUERIES), data.draw(QUERIES)
        delete = data.draw(st.one_of(st.none(), st.sampled_from(
            [b"", b"[1]", b'{"gracePeriodSeconds": "x"}', b'{"propagationPolicy": "Orphan", "orphanDependents": true}',
             b'{"preconditions": {"uid": "nope"}}'])))
        delete_query = data.draw(QUERIES)

        code, created = check(client, "POST", f"{collection}?{query}", json.dumps(obj).encode())
        name = created["metadata"]["name"] if code < 300 and isinstance(created, dict) and isinstance(
            created.get("metadata"), dict) else "x"
        item = f"{collection}/{name}"
        for patch_query, body, ctype in patches:
            check(client, "PATCH", f"{item}?{patch_query}", body, ctype)
        if replace is not None:
            check(client, "PUT", f"{item}?{replace_query}", json.dumps(replace).encode())
        check(client, "GET", f"{collection}?{list_query}")
        if delete is not None:
            check(client, "DELETE", f"{item}?{delete_query}", delete or None)

    run()


@pytest.mark.parametrize("ctype,body", RAW_BODIES, ids=[f"raw{i}" for i in range(len(RAW_BODIES))])
def test_hand_made_bodies_never_answer_5xx(fuzz_sandbox, ctype, body):
    client, _ = fuzz_sandbox
    for _, _, _, _, collection in KINDS:
        check(client, "POST", collection, encoded(body), ctype)
    check(client, "PATCH", "/api/v1/namespaces/fuzz", encoded(body),
          "application/apply-patch+yaml" if "yaml" in ctype else "application/merge-patch+json")


def test_subresources_and_odd_paths_never_answer_5xx(fuzz_sandbox):
    client, _ = fuzz_sandbox
    for method, path, body in [
        ("POST", "/api/v1/namespaces/fuzz/pods/none/binding", b'{"target": {"name": "k8snet-worker"}}'),
        ("POST", "/api/v1/namespaces/fuzz/pods/none/eviction", b"{}"),
        ("PUT", "/apis/apps/v1/namespaces/fuzz/deployments/none/scale", b'{"spec": {"replicas": -1}}'),
        ("GET", "/api/v1/namespaces/fuzz/pods/none/log", None),
        ("GET", "/api/v1/namespaces/fuzz/pods/none/nosuch", None),
        ("GET", "/api/v1/namespaces/fuzz/replicationcontrollers", None),
        ("GET", "/apis/nosuch.example/v1/things", None),
        ("GET", "/api/v1/namespaces/fuzz/configmaps?watch=1&timeoutSeconds=abc", None),
        ("DELETE", "/api/v1/namespaces/default", None),
        ("POST", "/k8snet/admin/clock", b'{"advance": 1e300}'),
        ("POST", "/k8snet/admin/seed", b'{"seed": "x"}'),
    ]:
        check(client, method, path, body)


def test_zz_memory_equals_disk_after_kill_9(fuzz_sandbox):
    """Last in the module: list everything, kill the server, read the store from disk: the same objects."""
    client, state = fuzz_sandbox
    listed: dict[tuple[str, str, str], dict] = {}
    list_rv = 0
    for resource, path in LISTED.items():
        body = client.json(path)
        list_rv = max(list_rv, int(body["metadata"]["resourceVersion"]))
        for item in body["items"]:
            meta = item["metadata"]
            listed[(resource, meta.get("namespace", ""), meta["name"])] = item
    pid = client.running.pid
    os.kill(pid, signal.SIGKILL)
    process.down(state=state, write_kubeconfig=False)  # reaps it and clears ready.json
    disk = Store(state / "store.sqlite")
    try:
        for (resource, ns, name), item in listed.items():
            stored = disk.get(resource, ns, name)
            if stored is None or stored["metadata"]["resourceVersion"] != item["metadata"]["resourceVersion"]:
                # only a write after the listing (a controller) may explain a difference
                later = stored is not None and int(stored["metadata"]["resourceVersion"]) > list_rv
                assert later or (stored is None and _deleted_after(disk, list_rv)), (resource, ns, name)
                continue
            assert {k: v for k, v in stored.items() if k not in ("apiVersion", "kind")} == \
                {k: v for k, v in item.items() if k not in ("apiVersion", "kind")}, (resource, ns, name)
        for resource in LISTED:
            for stored in disk.list(resource):
                meta = stored["metadata"]
                if int(meta["resourceVersion"]) <= list_rv:
                    assert (resource, meta.get("namespace", ""), meta["name"]) in listed, (resource, meta["name"])
    finally:
        disk.close()
    log = (state / "sandbox.log").read_text()
    assert "internal error serving" not in log, log[log.find("internal error serving"):][:2000]


def _deleted_after(disk: Store, list_rv: int) -> bool:
    return disk.rv > list_rv
