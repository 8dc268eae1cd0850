"""HTTP/1.x requests read off a byte stream, as a server reads them from a kept-alive connection.

A forwarded port (``kubectl port-forward``) and the pod-network bridge (a real component's connection into a
pod) both carry raw bytes to the emulated servers; this finds where each request ends: ``Content-Length``,
or the chunks of ``Transfer-Encoding: chunked`` (RFC 9112 section 7.1), whose body is handed on de-chunked.
"""

from __future__ import annotations

from .model import HttpRequest


class BadRequest(ValueError):
    """Bytes that are not an HTTP/1.x request: a server answers 400 and closes."""


def read_request(buffer: bytearray) -> tuple[HttpRequest, int] | None:
    """The first whole request in ``buffer`` and the bytes it took (None: not whole yet).

    Raises:
        BadRequest: the head or the chunk framing is malformed.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].decode("latin-1").split("\r\n")
    parts = head[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"malformed request line {head[0]!r}")
    headers: dict[str, str] = {}
    for line in head[1:]:
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            raise BadRequest(f"malformed header line {line!r}")
        headers[key] = value.strip()
    lower = dict(zip(map(str.lower, headers), headers.values(), strict=True))
    start = end + 4
    if "chunked" in lower.get("transfer-encoding", "").lower():
        found = _chunked(buffer, start)
        if found is None:
            return None
        body, used = found
        headers = {k: v for k, v in headers.items() if k.lower() != "transfer-encoding"}
        headers["Content-Length"] = str(len(body))
    else:
        text = lower.get("content-length", "0") or "0"
        if not text.isdigit():
            raise BadRequest(f"bad Content-Length {text!r}")
        if len(buffer) < start + int(text):
            return None
        body, used = bytes(buffer[start:start + int(text)]), start + int(text)
    return HttpRequest(parts[0], parts[1], headers, body, lower.get("host", "")), used


def _chunked(buffer: bytearray, pos: int) -> tuple[bytes, int] | None:
    body = bytearray()
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buffer[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadRequest(f"bad chunk size {size_text!r}") from None
        pos = eol + 2
        if size == 0:  # the last chunk, then trailers up to an empty line
            trailer_end = buffer.find(b"\r\n\r\n", pos - 2)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        if len(buffer) < pos + size + 2:
            return None
        body += buffer[pos:pos + size]
        pos += size + 2
