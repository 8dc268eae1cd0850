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
