"""The SNI and ALPN of a TLS ClientHello, read from the first bytes of a connection before any handshake.

The pod-network bridge reads them so the emulated server behind a real component's connection presents the
certificate for the name asked (as Traefik reads them, pkg/server/router/tcp/router.go ``clientHelloInfo``: a
first byte 0x16 means TLS). RFC 8446 section 4.1.2 (the ClientHello), RFC 6066 section 3 (server_name) and
RFC 7301 (ALPN).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ClientHello:
    """What a client's first TLS record offers: the server name (SNI) and the ALPN protocols."""

    server_name: str = ""
    alpn: list[str] = field(default_factory=list)


def parse_client_hello(data: bytes) -> ClientHello | None:
    """Parse the ClientHello in the first record; None when the bytes are not one (garbage gets no SNI)."""
    try:
        if data[0] != 0x16 or data[5] != 0x01:
            return None
        body = data[9:5 + int.from_bytes(data[3:5], "big")]
        pos = 2 + 32  # client_version, random
        pos += 1 + body[pos]  # session id
        pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]  # compression methods
        hello = ClientHello()
        if pos + 2 > len(body):
            return hello
        end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(body)):
            ext, size = int.from_bytes(body[pos:pos + 2], "big"), int.from_bytes(body[pos + 2:pos + 4], "big")
            payload = body[pos + 4:pos + 4 + size]
            pos += 4 + size
            if ext == 0 and len(payload) >= 5 and payload[2] == 0:
                length = int.from_bytes(payload[3:5], "big")
                hello.server_name = payload[5:5 + length].decode("ascii", "replace")
            elif ext == 16 and len(payload) >= 2:
                i = 2
                while i < len(payload):
                    n = payload[i]
                    hello.alpn.append(payload[i + 1:i + 1 + n].decode("ascii", "replace"))
                    i += 1 + n
        return hello
    except (IndexError, ValueError):
        return None

