"""Pod subresources without the real data plane: exec framing, log rendering, binding and eviction.

An in-memory :class:`Sandbox` is served by the real :class:`ApiServer` over plain HTTP
(aiohttp's test server); its data plane is a fake whose ``exec`` echoes argv and whose
log book holds fixed lines, so the wire protocols are checked on their own.
Expected frames follow k8s.io/apiserver/pkg/util/proxy/websocket.go (v5) and the
kubelet's remotecommand server (v4 and older).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from k8snet.sandbox import podsub
from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods
from k8snet.sandbox.dataplane.model import ExecResult
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.instance import Sandbox
from k8snet.sandbox.server import ApiServer

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)


class FakeLogs:
    """The LogBook interface: lines(uid, container), subscribe/unsubscribe for follow."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        self.queues: list[asyncio.Queue] = []

    def lines(self, uid: str, container: str) -> list[tuple[datetime, str]]:
        return list(self.data.get((uid, container), []))

    def subscribe(self, uid: str, container: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self.queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.queues.remove(queue)

    def add(self, uid: str, container: str, when: datetime, text: str) -> None:
        self.data.setdefault((uid, container), []).append((when, text))
        for q in self.queues:
            q.put_nowait((when, text))


class FakeDataPlane:
    """``exec`` echoes argv on stdout, stdin on stderr; ``exit N`` exits N."""

    def __init__(self) -> None:
        self.logs = FakeLogs()
        self.calls: list[tuple[str, list[str], bytes | None, bool]] = []
        self.forgotten: list[str] = []

    def forget(self, pod_uid: str) -> None:
        self.forgotten.append(pod_uid)

    def session(self, pod_uid: str) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()  # the pod is never killed here

    def close_session(self, pod_uid: str, ended: asyncio.Future[None]) -> None:
        pass

    async def exec(self, pod, container, argv, stdin=None, tty=False, pipe=None,  # noqa: ANN001
                   on_output=None) -> ExecResult:  # noqa: ANN001
        self.calls.append((container, argv, stdin, tty))
        if argv[0] == "exit":
            return ExecResult(b"", b"bye\n", int(argv[1]))
        return ExecResult((" ".join(argv) + "\n").encode(), stdin or b"", 0)


def make_sandbox() -> Sandbox:
    sb = Sandbox(seed=1)
    sb.bootstrap()
    sb._dataplane = FakeDataPlane()
    return sb


def add_pod(sb: Sandbox, name: str, containers: tuple[str, ...] = ("app",), run: bool = True,
            schedule: bool = True) -> dict:
    rt = sb.registry.lookup("", "v1", "pods")
    pod = sb.api.create(rt, "default", {"metadata": {"name": name}, "spec": {"containers": [
        {"name": c, "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1"} for c in containers]}},
        WriteOptions(field_manager="test"))
    if schedule:
        pods.schedule(sb, pod)
        pod = sb.store.get("pods", "default", name)
    if run:
        pods.start(sb, pod)
    return sb.store.get("pods", "default", name)


@contextlib.asynccontextmanager
async def serve(sb: Sandbox) -> AsyncIterator[TestClient]:
    server = ApiServer(sb, TOKEN)
    async with TestClient(TestServer(server.app)) as client:
        yield client


def exec_url(pod: str, *command: str, **params: str) -> str:
    query = "&".join([f"command={c}" for c in command] + [f"{k}={v}" for k, v in params.items()])
    return f"/api/v1/namespaces/default/pods/{pod}/exec?{query}"


async def frames(ws: aiohttp.ClientWebSocketResponse) -> list[bytes | str]:
    """Every data message until the server closes."""
    out: list[bytes | str] = []
    async for msg in ws:
        out.append(msg.data)
    return out


def channels(messages: list[bytes]) -> dict[int, bytes]:
    merged: dict[int, bytes] = {}
    for m in messages:
        merged[m[0]] = merged.get(m[0], b"") + m[1:]
    return merged


# -- pure parts -------------------------------------------------------------------------


def test_exit_status_is_what_client_go_decodes():
    assert podsub.exit_status(0) == {"metadata": {}, "status": "Success"}
    failed = podsub.exit_status(3)
    assert failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert failed["message"].endswith("command terminated with exit code 3")


def test_rfc3339nano_trims_trailing_zeros_like_go():
    assert podsub.rfc3339nano(T0) == "2026-01-01T12:00:00.5Z"
    assert podsub.rfc3339nano(T0.replace(microsecond=0)) == "2026-01-01T12:00:00Z"
    assert podsub.rfc3339nano(T0.replace(microsecond=123456)) == "2026-01-01T12:00:00.123456Z"


def test_container_choice_is_worded_as_the_apiserver():
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    assert podsub.choose_container(pod, "b") == "b"
    with pytest.raises(ApiError, match=r"^a container name must be specified for pod p, choose one of: \[a b\]$"):
        podsub.choose_container(pod, "")
    with pytest.raises(ApiError, match="^container c is not valid for pod p$") as exc:
        podsub.choose_container(pod, "c")
    assert exc.value.code == 400


def test_log_problems_follow_the_kubelet():
    pod = {"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Pending", "containerStatuses": [
        {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}}
    assert podsub.log_problem(pod, "a", False) == 'container "a" in pod "p" is waiting to start: ContainerCreating'
    assert podsub.log_problem(pod, "a", True) == 'previous terminated container "a" in pod "p" not found'
    pod["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert podsub.log_problem(pod, "a", False) == ""


def test_log_writer_tail_since_timestamps_limit():
    lines = [(T0.replace(second=s), f"line {s}") for s in range(5)]
    opts = podsub.LogOptions(tail_lines=2, timestamps=True)
    out = podsub.LogWriter(opts, T0).backlog(lines).decode()
    assert out == "2026-01-01T12:00:03.5Z line 3\n2026-01-01T12:00:04.5Z line 4\n"
    assert podsub.LogWriter(podsub.LogOptions(tail_lines=0), T0).backlog(lines) == b""
    # more lines asked for than there are: all of them (kubelet's tail), not a slice from the end
    assert podsub.LogWriter(podsub.LogOptions(tail_lines=8), T0).backlog(lines).decode().count("line") == 5
    since = podsub.LogWriter(podsub.LogOptions(since_seconds=2), T0.replace(second=4, microsecond=0))
    assert since.backlog(lines) == b"line 2\nline 3\nline 4\n"
    limited = podsub.LogWriter(podsub.LogOptions(limit_bytes=10), T0)
    assert limited.backlog(lines) == b"line 0\nlin" and limited.exhausted


# -- exec over WebSocket ------------------------------------------------------------------


def test_exec_v5_stdout_and_success_status():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "echo", "hi", container="app", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V5]) as ws:
                assert ws.protocol == podsub.V5
                got = await frames(ws)
        assert got[0] == b"\x01"  # the "established" message on the lowest writable channel
        assert channels(got)[1] == b"echo hi\n"
        assert json.loads(channels(got)[3]) == {"metadata": {}, "status": "Success"}
    asyncio.run(main())


def test_exec_nonzero_exit_code_and_stderr():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "exit", "3", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V5, podsub.V4]) as ws:
                got = channels(await frames(ws))
        assert got[2] == b"bye\n"
        status = json.loads(got[3])
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    asyncio.run(main())


def test_exec_v5_stdin_until_close_signal():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "cat", stdin="true", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V5]) as ws:
                await ws.send_bytes(b"\x00hello ")
                await ws.send_bytes(b"\x04" + json.dumps({"Width": 80, "Height": 24}).encode())  # ignored
                await ws.send_bytes(b"\x00world")
                await ws.send_bytes(bytes([255, 0]))
                got = channels(await frames(ws))
        assert got[2] == b"hello world"  # the fake echoes stdin on stderr
        assert sb.dataplane.calls[-1] == ("app", ["cat"], b"hello world", False)
    asyncio.run(main())


def test_exec_v4_text_stdin_runs_after_quiet_period(monkeypatch):
    monkeypatch.setattr(podsub, "STDIN_QUIET", 0.2)

    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "cat", stdin="true", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V4]) as ws:
                await ws.send_str("\x00typed")  # the Python client sends str stdin as a text frame
                got = channels(await frames(ws))
        assert got[2] == b"typed"
        assert json.loads(got[3])["status"] == "Success"
    asyncio.run(main())


def test_exec_tty_merges_stderr_into_stdout(monkeypatch):
    monkeypatch.setattr(podsub, "STDIN_QUIET", 0.1)

    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "exit", "2", stdin="true", stdout="true", stderr="true",
                                                  tty="true"), headers=AUTH, protocols=[podsub.V5]) as ws:
                got = channels(await frames(ws))
        assert got[1] == b"bye\r\n" and 2 not in got  # one stream, and the pty's ONLCR turns \n into \r\n
        assert sb.dataplane.calls[-1][3] is True
    asyncio.run(main())


def test_exec_base64_and_v1_protocols():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "exit", "4", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V4_BASE64]) as ws:
                b64 = await frames(ws)
            async with client.ws_connect(exec_url("p", "exit", "5", stdout="true", stderr="true"),
                                         headers=AUTH, protocols=[podsub.V1]) as ws:
                v1 = channels(await frames(ws))
        decoded = {m[0]: base64.b64decode(m[1:]) for m in b64 if len(m) > 1}
        assert decoded["2"] == b"bye\n"
        assert json.loads(decoded["3"])["details"]["causes"][0]["message"] == "4"
        assert v1[3] == b"command terminated with non-zero exit code: command terminated with exit code 5"
    asyncio.run(main())


def test_exec_errors_before_the_upgrade():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p", containers=("a", "b"))
        add_pod(sb, "unscheduled", run=False, schedule=False)
        async with serve(sb) as client:
            async def status(url: str, **headers: str) -> tuple[int, str]:
                resp = await client.get(url, headers={**AUTH, **headers})
                return resp.status, (await resp.json())["message"]

            assert await status(exec_url("nope", "ls", stdout="true")) == (404, 'pods "nope" not found')
            assert await status(exec_url("p", "ls", container="c", stdout="true")) == (
                400, "container c is not valid for pod p")
            assert await status(exec_url("p", "ls", stdout="true")) == (
                400, "a container name must be specified for pod p, choose one of: [a b]")
            assert await status(exec_url("p", container="a", stdout="true")) == (
                400, "you must specify at least one command for the container")
            assert await status(exec_url("p", "ls", container="a")) == (
                400, "you must specify at least 1 of stdin, stdout, stderr")
            assert await status(exec_url("unscheduled", "ls", stdout="true")) == (
                400, "pod unscheduled does not have a host assigned")
            assert await status(exec_url("p", "ls", container="a", stdout="true")) == (
                400, "Upgrade request required")
            code, message = await status(exec_url("p", "ls", container="a", stdout="true"),
                                         Connection="Upgrade", Upgrade="SPDY/3.1")
            assert code == 400 and "SPDY is not supported" in message
    asyncio.run(main())


def test_exec_into_a_container_that_does_not_run_reports_on_the_error_channel():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "pending", run=False)
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("pending", "ls", stdout="true"), headers=AUTH,
                                         protocols=[podsub.V5]) as ws:
                status = json.loads(channels(await frames(ws))[3])
        assert status["reason"] == "InternalError"
        assert status["message"] == ('Internal error occurred: unable to upgrade connection: '
                                     'container not found ("app")')
    asyncio.run(main())


def test_exec_without_data_plane_fails_loudly():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")

        class Broken(Sandbox):
            @property
            def dataplane(self):  # noqa: ANN202
                raise ModuleNotFoundError("No module named 'k8snet.sandbox.dataplane.dns'")

        sb.__class__ = Broken
        async with serve(sb) as client:
            async with client.ws_connect(exec_url("p", "hostname", stdout="true"), headers=AUTH,
                                         protocols=[podsub.V5]) as ws:
                status = json.loads(channels(await frames(ws))[3])
        assert "the sandbox data plane is not available" in status["message"]
    asyncio.run(main())


def test_python_client_stream_against_the_test_server():
    """kubernetes.stream.stream (v5 negotiated) gets stdout and the return code."""
    from kubernetes import client as k8s
    from kubernetes.stream import stream

    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as tc:
            config = k8s.Configuration(host=str(tc.make_url("")).rstrip("/"),
                                       api_key={"authorization": TOKEN}, api_key_prefix={"authorization": "Bearer"})
            core = k8s.CoreV1Api(k8s.ApiClient(config))

            def run() -> tuple[str, int | None, str]:
                out = stream(core.connect_get_namespaced_pod_exec, "p", "default", command=["echo", "a b"],
                             stderr=True, stdin=False, stdout=True, tty=False)
                resp = stream(core.connect_get_namespaced_pod_exec, "p", "default", command=["exit", "7"],
                              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
                resp.run_forever(timeout=10)
                return out, resp.returncode, resp.subprotocol

            return await asyncio.to_thread(run)

    out, code, protocol = asyncio.run(main())
    assert out == "echo a b\n" and code == 7 and protocol == podsub.V5


# -- log --------------------------------------------------------------------------------


def test_log_text_with_tail_and_timestamps():
    async def main():
        sb = make_sandbox()
        pod = add_pod(sb, "p")
        for s in range(3):
            sb.dataplane.logs.add(pod["metadata"]["uid"], "app", T0.replace(second=s), f"line {s}")
        async with serve(sb) as client:
            base = "/api/v1/namespaces/default/pods/p/log"
            resp = await client.get(base, headers=AUTH)
            assert resp.headers["Content-Type"] == "text/plain"
            assert await resp.text() == "line 0\nline 1\nline 2\n"
            resp = await client.get(base + "?tailLines=1&timestamps=true", headers=AUTH)
            assert await resp.text() == "2026-01-01T12:00:02.5Z line 2\n"
            resp = await client.get(base + "?tailLines=-1", headers=AUTH)
            assert resp.status == 422
            assert (await resp.json())["message"] == ('PodLogOptions "p" is invalid: tailLines: Invalid value: -1: '
                                                      'must be greater than or equal to 0')
    asyncio.run(main())


def test_log_errors_are_worded_as_upstream():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "two", containers=("a", "b"))
        add_pod(sb, "pending", run=False)
        async with serve(sb) as client:
            async def message(path: str) -> tuple[int, str]:
                resp = await client.get(f"/api/v1/namespaces/default/pods/{path}", headers=AUTH)
                return resp.status, (await resp.json())["message"]

            assert await message("two/log") == (
                400, "a container name must be specified for pod two, choose one of: [a b]")
            assert await message("pending/log") == (
                400, 'container "app" in pod "pending" is waiting to start: ContainerCreating')
            assert await message("two/log?container=a&previous=true") == (
                400, 'previous terminated container "a" in pod "two" not found')
    asyncio.run(main())


def test_log_follow_streams_until_the_pod_is_gone(monkeypatch):
    monkeypatch.setattr(podsub, "FOLLOW_POLL", 0.05)

    async def main():
        sb = make_sandbox()
        pod = add_pod(sb, "p")
        uid = pod["metadata"]["uid"]
        book = sb.dataplane.logs
        book.add(uid, "app", T0, "before")
        async with serve(sb) as client:
            resp = await client.get("/api/v1/namespaces/default/pods/p/log?follow=true", headers=AUTH)
            assert await resp.content.readline() == b"before\n"
            book.add(uid, "app", T0, "after")
            assert await resp.content.readline() == b"after\n"
            sb.store.remove("pods", "default", "p")
            assert await asyncio.wait_for(resp.content.read(), 5) == b""
        assert book.queues == []
    asyncio.run(main())


# -- binding and eviction -------------------------------------------------------------------


def test_binding_sets_the_node_once():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p", run=False, schedule=False)
        async with serve(sb) as client:
            url = "/api/v1/namespaces/default/pods/p/binding"
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                    "target": {"kind": "Node", "name": "k8snet-worker"}}
            resp = await client.post(url, json=body, headers=AUTH)
            assert resp.status == 201 and (await resp.json())["status"] == "Success"
            pod = sb.store.get("pods", "default", "p")
            assert pod["spec"]["nodeName"] == "k8snet-worker"
            resp = await client.post(url, json=body, headers=AUTH)
            assert resp.status == 409
            assert (await resp.json())["message"] == ('Operation cannot be fulfilled on pods/binding "p": pod p is '
                                                      'already assigned to node "k8snet-worker"')
    asyncio.run(main())


def test_eviction_deletes_gracefully():
    async def main():
        sb = make_sandbox()
        add_pod(sb, "p")
        async with serve(sb) as client:
            body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"},
                    "deleteOptions": {"gracePeriodSeconds": 5}}
            resp = await client.post("/api/v1/namespaces/default/pods/p/eviction", json=body, headers=AUTH)
            assert resp.status == 201
            pod = sb.store.get("pods", "default", "p")
            assert pod["metadata"]["deletionGracePeriodSeconds"] == 5
            resp = await client.post("/api/v1/namespaces/default/pods/nope/eviction",
                                     json={**body, "metadata": {"name": "nope"}}, headers=AUTH)
            assert resp.status == 404
    asyncio.run(main())
