"""SPDY/3.1 framing, as the port-forward protocol carries it (moby/spdystream, k8s.io/apimachinery httpstream).

kubectl 1.31+ tunnels this byte stream through a WebSocket (subprotocol ``SPDY/3.1+portforward.k8s.io``).
Only what port-forwarding uses is read and written: SYN_STREAM / SYN_REPLY with their zlib-compressed header
blocks (one compression context per direction, preset with the SPDY/3 dictionary), DATA with FIN,
RST_STREAM, PING (echoed), SETTINGS, WINDOW_UPDATE and GOAWAY (read and ignored).
Source: the SPDY protocol draft 3 (frame layouts, the dictionary) and spdystream's spdy/read.go, write.go.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
VERSION = 3

_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
          "age allow authorization cache-control connection content-base content-encoding content-language "
          "content-length content-location content-md5 content-range content-type date etag expect expires from "
          "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
          "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
          "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 "
         "Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 "
         "Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr "
         "May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,"
         "image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
         "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
"""The SPDY/3 header compression dictionary (1423 bytes, sha256 51d27341…7f02)."""


class SpdyError(Exception):
    """A frame the peer should not have sent."""


@dataclass
class Frame:
    """One frame: ``kind`` is a control type or 0 for DATA."""

    kind: int
    stream: int = 0
    flags: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""
    value: int = 0  # PING id, RST_STREAM status, WINDOW_UPDATE delta

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Codec:
    """One side of a SPDY/3 connection: feed it bytes, take frames; build frames to send."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        """The whole frames the bytes so far complete.

        Raises:
            SpdyError: a control frame of another SPDY version, or a header block that does not decode.
        """
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack(">II", self._buffer[:8])
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            flags = second >> 24
            if first & 0x80000000:
                version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
                if version != VERSION:
                    raise SpdyError(f"unsupported SPDY version {version}")
                frames.append(self._control(kind, flags, payload))
            else:
                frames.append(Frame(0, first & 0x7FFFFFFF, flags, data=payload))
        return frames

    def _control(self, kind: int, flags: int, payload: bytes) -> Frame:
        if kind == SYN_STREAM:
            stream = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return Frame(kind, stream, flags, self._headers(payload[10:]))
        if kind in (SYN_REPLY, HEADERS):
            stream = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            return Frame(kind, stream, flags, self._headers(payload[4:]))
        if kind in (RST_STREAM, WINDOW_UPDATE):
            stream, value = struct.unpack(">II", payload[:8])
            return Frame(kind, stream & 0x7FFFFFFF, flags, value=value)
        if kind == PING:
            return Frame(kind, flags=flags, value=struct.unpack(">I", payload[:4])[0])
        return Frame(kind, flags=flags, data=payload)  # SETTINGS, GOAWAY, and what SPDY/3 may add

    def _headers(self, block: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise SpdyError(f"header block: {exc}") from None
        count = struct.unpack(">I", raw[:4])[0]
        out, at = {}, 4
        for _ in range(count):
            size = struct.unpack(">I", raw[at:at + 4])[0]
            name = raw[at + 4:at + 4 + size].decode()
            at += 4 + size
            size = struct.unpack(">I", raw[at:at + 4])[0]
            out[name.lower()] = raw[at + 4:at + 4 + size].decode().split("\x00")[0]
            at += 4 + size
        return out

    # -- writing --------------------------------------------------------------------------------

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.lower().encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def _control_frame(kind: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def syn_reply(self, stream: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        return self._control_frame(SYN_REPLY, FLAG_FIN if fin else 0,
                                   struct.pack(">I", stream) + self._header_block(headers or {}))

    def ping(self, value: int) -> bytes:
        return self._control_frame(PING, 0, struct.pack(">I", value))

    def rst_stream(self, stream: int, status: int = 5) -> bytes:  # 5: CANCEL
        return self._control_frame(RST_STREAM, 0, struct.pack(">II", stream, status))

    @staticmethod
    def data(stream: int, payload: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload

    # -- for tests and tools: the client's side -------------------------------------------------

    def syn_stream(self, stream: int, headers: dict[str, str], fin: bool = False) -> bytes:
        return self._control_frame(SYN_STREAM, FLAG_FIN if fin else 0,
                                   struct.pack(">IIBB", stream, 0, 0, 0) + self._header_block(headers))
