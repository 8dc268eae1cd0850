"""A blocking call to another Cluster Mesh member that does not answer holds this member's event loop: it may do
so once per outage, never once per connection (one learner's command cannot stall the cluster)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import certifi
import pytest

from k8snet.sandbox import clustermesh
from k8snet.sandbox.clustermesh import ClusterMesh
from k8snet.sandbox.instance import Sandbox
from k8snet.sandbox.process import Running


@pytest.fixture
def hung() -> Iterator[int]:
    """A port whose listener never accepts: the kernel completes the handshake, nobody ever answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def mesh(hung: int, tmp_path, monkeypatch: pytest.MonkeyPatch) -> ClusterMesh:
    monkeypatch.setattr(clustermesh, "RPC_TIMEOUT", 0.3)
    sb = Sandbox(seed=1)
    sb.bootstrap()
    (tmp_path / "ca.crt").write_bytes(open(certifi.where(), "rb").read())
    cm = ClusterMesh(sb)
    monkeypatch.setattr(cm, "member", lambda name: Running(pid=0, port=hung, token="t", state=tmp_path, name=name))
    return cm


def test_a_silent_member_is_waited_for_once_then_fails_at_once_until_the_hold_ends(mesh, monkeypatch):
    first = mesh.call("west", "connect", {})
    assert first["error"] == "TIMEOUT" and "cluster west does not answer (" in first["message"], first
    assert "not tried again" not in first["message"]
    second = mesh.call("west", "connect", {})
    assert second["error"] == "TIMEOUT" and "s ago, so not tried again for 5 s" in second["message"], second
    assert second["hops"][0]["summary"] == "cluster west does not answer: the tunnel to it drops the packet"
    monkeypatch.setattr(clustermesh, "HOLD", 0.0)  # the hold is over: the member is tried again
    assert "not tried again" not in mesh.call("west", "connect", {})["message"]



def test_a_command_waits_for_the_members_answer_as_a_step_and_the_loop_goes_on(mesh, tmp_path, monkeypatch):
    """A program's connect (curl, wget, nc, agnhost connect) to a pod of another member hands the call to the
    loop: connect raises Deferred at once, other work runs while the member is silent, and the answer is the
    same timeout the blocking call gives (then the same hold), with this cluster's hops and the remote's."""
    import asyncio

    from k8snet.sandbox.clustermesh import Remote
    from k8snet.sandbox.dataplane.model import CAN_WAIT, Deferred, Timeout

    monkeypatch.setenv("K8SNET_HOME", str(tmp_path / "home"))
    west = Remote("west")
    west.update({"cluster": {"name": "west", "podCIDR": "10.245.0.0/16"},
                 "endpoints": [{"ip": "10.245.1.5", "name": "web", "namespace": "default", "node": "west-worker"}]},
                "1")
    mesh.remotes["west"] = west

    async def scenario() -> tuple[bool, int, Timeout, dict]:
        token = CAN_WAIT.set(True)
        try:
            with pytest.raises(Deferred) as caught:
                mesh.connect(None, "10.244.0.9", "10.245.1.5", 80, "TCP", [], None)
        finally:
            CAN_WAIT.reset(token)
        pending = caught.value
        done_at_once = pending.answer.done()
        ticks = 0
        while not pending.answer.done():  # the loop is free: this coroutine runs while the call waits
            ticks += 1
            await asyncio.sleep(0.01)
        with pytest.raises(Timeout) as failed:
            pending.finish(pending.answer.result())
        second = await mesh.connect_async("west", {})
        # without a waiting caller, the same connect is the blocking call, which the hold now answers at once
        with pytest.raises(Timeout, match="not tried again"):
            mesh.connect(None, "10.244.0.9", "10.245.1.5", 80, "TCP", [], None)
        mesh.close()  # its aiohttp session closes on this loop
        await asyncio.sleep(0.05)
        return done_at_once, ticks, failed.value, second

    done_at_once, ticks, failed, second = asyncio.run(scenario())
    assert not done_at_once and ticks > 0
    assert failed.message.startswith("cluster west does not answer ("), failed.message
    assert [h.kind for h in failed.hops][-2:] == ["clustermesh", "error"]
    assert "s ago, so not tried again for 5 s" in second["message"], second
