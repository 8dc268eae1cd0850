"""Programs that listen with a raw byte stream (``nc -l``): a port opened while a container runs.

A connection to such a port hands the server what the client sent (the server prints it: its output is the
container's log or the terminal) and the client gets what the server sends back, which for netcat is its
standard input. The server's process waits on :attr:`StreamServer.arrivals` between connections; without
``-k`` it ends after its first connection, as netcat does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .context import Pipe

Key = tuple[str, int, str]  # (pod uid, port, protocol)


@dataclass
class StreamServer:
    pod_uid: str
    container: str
    port: int
    protocol: str
    keep: bool  # -k: keep listening after a connection ends
    reply: Callable[[], bytes]  # what the server sends to a new connection
    arrivals: Pipe = field(default_factory=Pipe)
    received: list[tuple[str, bytes]] = field(default_factory=list)  # (client "ip:port", data) not yet printed
    connections: int = 0
    closed: bool = False

    def accept(self, client: str, data: bytes) -> bytes:
        """A connection from ``client`` that sends ``data``: the server's answer (its bytes, maybe none)."""
        self.connections += 1
        self.received.append((client, data))
        answer = self.reply()
        self.arrivals.feed(b"\n")
        if not self.keep:
            self.closed = True  # netcat without -k takes one connection
        return answer

    def take(self) -> list[tuple[str, bytes]]:
        """The connections that arrived since the last call (the server's process prints them)."""
        arrived, self.received = self.received, []
        self.arrivals.data.clear()
        return arrived


class Streams:
    """Every listening stream server, by pod, port and protocol."""

    def __init__(self) -> None:
        self._servers: dict[Key, StreamServer] = {}

    def listen(self, server: StreamServer) -> bool:
        """Bind the server's port (False: the port is taken in the pod's network namespace)."""
        key = (server.pod_uid, server.port, server.protocol)
        current = self._servers.get(key)
        if current is not None and not current.closed:
            return False
        self._servers[key] = server
        return True

    def close(self, server: StreamServer) -> None:
        server.closed = True
        key = (server.pod_uid, server.port, server.protocol)
        if self._servers.get(key) is server:
            del self._servers[key]

    def find(self, pod_uid: str, port: int, protocol: str) -> StreamServer | None:
        server = self._servers.get((pod_uid, port, protocol.upper()))
        return server if server is not None and not server.closed else None

    def held(self, pod_uid: str) -> list[tuple[int, str]]:
        """The (port, protocol) pairs the pod's stream servers listen on."""
        return sorted((k[1], k[2]) for k, s in self._servers.items() if k[0] == pod_uid and not s.closed)

    def forget(self, pod_uid: str, container: str | None = None) -> None:
        """The pod is gone, or one of its containers restarted: its listeners close."""
        for key in [k for k, s in self._servers.items() if k[0] == pod_uid and container in (None, s.container)]:
            self._servers.pop(key).closed = True
