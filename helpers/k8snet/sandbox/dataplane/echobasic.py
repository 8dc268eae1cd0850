"""gcr.io/k8s-staging-gateway-api/echo-basic: the Gateway API conformance suite's echo server, emulated.

Copied from kubernetes-sigs/gateway-api v1.5.1 ``conformance/echo-basic/echo-basic.go`` (the image's only program,
``ENTRYPOINT ["/echo-basic"]`` in ``docker/Dockerfile.echo-basic``, on distroless: no shell):

- HTTP on ``$HTTP_PORT`` (3000) behind a ``http.ServeMux``: ``/health`` answers ``OK``; ``/status/NNN`` answers
  that status with no body (any other ``/status/…`` 400); ``/ws`` without a WebSocket upgrade is refused as
  x/net/websocket refuses it (400 ``not websocket protocol``); every other path answers the request as JSON —
  ``path`` (the request URI), ``host``, ``method``, ``proto``, ``headers``, ``httpPort`` and ``namespace``,
  ``ingress``, ``service``, ``pod`` from ``$NAMESPACE``, ``$INGRESS_NAME``, ``$SERVICE_NAME``, ``$POD_NAME`` — after
  waiting ``?delay=`` (a Go duration), with each ``name:value`` of ``X-Echo-Set-Header`` set on the response.
  The mux's own redirects hold (an unclean path, ``/status`` without its slash: 301).
- ``$H2C_PORT`` (3001) answers an HTTP/1.1 request that is not an h2c upgrade with 400 ``Expected h2c request``.

Not emulated, and said so with a ``NotEmulated`` Warning event on the pod: HTTP/2 on the h2c port and WebSocket
echo (the connection closes unanswered), the HTTPS server (``TLS_SERVER_CERT``/``TLS_SERVER_PRIVKEY``: nothing
listens on ``$HTTPS_PORT``), and the ``GRPC_ECHO_SERVER``/``TCP_ECHO_SERVER`` modes (the pod serves nothing).
"""

from __future__ import annotations

import http
import json
import posixpath
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from .model import EMPTY_REPLY, HttpRequest, HttpResponse, Program, go_response

IMAGE_ARGV = ["/echo-basic"]
"""docker/Dockerfile.echo-basic: ENTRYPOINT ["/echo-basic"], no CMD."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SEGMENT = re.compile(r"([0-9]*(?:\.[0-9]*)?)([^0-9.]*)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def program(env: dict[str, str]) -> Program:
    """The servers ``main()`` starts for the container's environment (its startup lines are its stdout)."""
    if env.get("GRPC_ECHO_SERVER") or env.get("TCP_ECHO_SERVER"):
        mode = "GRPC_ECHO_SERVER" if env.get("GRPC_ECHO_SERVER") else "TCP_ECHO_SERVER"
        return Program("echo-basic", "echo-basic", problem=f"echo-basic's {mode} mode is not emulated by the "
                                                             "k8snet sandbox")
    http_port, h2c_port = env.get("HTTP_PORT") or "3000", env.get("H2C_PORT") or "3001"
    for port in (http_port, h2c_port):
        if not port.isdigit() or not 0 < int(port) < 65536:
            message = f"panic: Failed to start listening: listen tcp: address {port}: invalid port"
            return Program("exited", "echo-basic", problem=message, startup=[message])
    startup = [f"Starting server, listening on port {http_port} (http)",
               f"Starting server, listening on port {h2c_port} (h2c)"]
    not_emulated = []
    if env.get("TLS_SERVER_CERT") and env.get("TLS_SERVER_PRIVKEY"):
        not_emulated.append(f"echo-basic's HTTPS server (TLS_SERVER_CERT): nothing listens on port "
                            f"{env.get('HTTPS_PORT') or '8443'}")
    context = {"namespace": env.get("NAMESPACE", ""), "ingress": env.get("INGRESS_NAME", ""),
               "service": env.get("SERVICE_NAME", ""), "pod": env.get("POD_NAME", "")}
    return Program("echo-basic", "echo-basic", {(int(http_port), "TCP"): "http", (int(h2c_port), "TCP"): "http"},
                   {"http-port": http_port, "h2c-port": int(h2c_port), "context": context,
                    "not-emulated": not_emulated}, startup)


def serve(program: Program, port: int, req: HttpRequest, client: str, now: datetime,
          log: Callable[[str], None], warn: Callable[[str], None]) -> HttpResponse:
    """One request to the HTTP server (or the h2c port) as echo-basic answers it; ``log`` takes its stdout lines,
    ``warn`` what the sandbox does not emulate (the connection then closes without an answer)."""
    upgrade = next((v for k, v in req.headers.items() if k.lower() == "upgrade"), "").lower()
    if port == program.opts["h2c-port"]:
        if upgrade == "h2c":
            warn(f"echo-basic's HTTP/2 (h2c) on port {port} is not emulated by the k8snet sandbox")
            return HttpResponse(EMPTY_REPLY)
        return go_response(now, 400, b"Expected h2c request")
    uri = req.path
    raw_path, _, query = uri.partition("?")  # url.ParseRequestURI: "//x" is a path, not an authority
    path = raw_path.replace("//", "/")  # preserveSlashes, before the mux
    clean = _clean(path)
    if clean != path:
        return _moved(now, req, clean, query)
    if path == "/status":
        return _moved(now, req, "/status/", query)
    if path == "/health":
        return go_response(now, 200, b"OK")
    if path.startswith("/status/"):
        m = re.fullmatch(r"/status/(\d\d\d)", uri)
        return go_response(now, int(m.group(1)) if m else 400, b"")
    if path == "/ws":
        # x/net/websocket hybiServerHandshaker.ReadHandshake: the hijacked connection gets the status line only
        if req.method != "GET":
            return HttpResponse(405, {}, b"bad method")
        connection = next((v for k, v in req.headers.items() if k.lower() == "connection"), "").lower()
        if upgrade != "websocket" or "upgrade" not in connection:
            return HttpResponse(400, {}, b"not websocket protocol")
        warn("echo-basic's WebSocket echo (/ws) is not emulated by the k8snet sandbox")
        return HttpResponse(EMPTY_REPLY)
    log(f"Echoing back request made to {uri} to client ({client})")
    delay, error = _delay(req)
    if error:
        body = json.dumps({"message": error}, ensure_ascii=False, separators=(",", ":"))
        return go_response(now, 500, _html_escaped(body).encode(), {"X-Content-Type-Options": "nosniff"},
                           "application/json")
    headers: dict[str, list[str]] = {}
    for key, value in req.headers.items():
        if key.lower() != "host":  # net/http moves Host into Request.Host
            headers.setdefault(_canonical(key), []).append(value)
    host = req.host or next((v for k, v in req.headers.items() if k.lower() == "host"), "")
    assertions = {"path": uri, "host": host, "method": req.method, "proto": "HTTP/1.1",
                  "headers": dict(sorted(headers.items())), "httpPort": program.opts["http-port"],
                  **program.opts["context"]}
    body = _html_escaped(json.dumps(assertions, indent=1, ensure_ascii=False))
    extra = _echo_set_headers(headers.get("X-Echo-Set-Header", []))
    extra["X-Content-Type-Options"] = "nosniff"
    answer = go_response(now, 200, body.encode(), extra, "application/json")
    answer.delay = max(delay, 0.0)
    return answer


def _canonical(key: str) -> str:
    """textproto.CanonicalMIMEHeaderKey (a name with a character outside a token is left as it is)."""
    if not _TOKEN.fullmatch(key):
        return key
    return "-".join(p[:1].upper() + p[1:].lower() for p in key.split("-"))


def _html_escaped(text: str) -> str:
    """encoding/json's HTML escaping of <, > and & (and U+2028, U+2029)."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _clean(path: str) -> str:
    """ServeMux's cleanPath: path.Clean, keeping a trailing slash."""
    if not path.startswith("/"):
        path = "/" + path
    cleaned = posixpath.normpath(re.sub(r"/+", "/", path))
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def _moved(now: datetime, req: HttpRequest, location: str, query: str) -> HttpResponse:
    """ServeMux's redirect (http.RedirectHandler, 301): the link as the body of a GET."""
    if query:
        location += "?" + query
    body = (f'<a href="{location}">{http.HTTPStatus(301).phrase}</a>.\n\n'.encode() if req.method == "GET"
            else b"")
    return go_response(now, 301, body, {"Location": location}, "text/html; charset=utf-8")


def _delay(req: HttpRequest) -> tuple[float, str]:
    """``request.FormValue("delay")`` as time.ParseDuration reads it: (seconds, error text)."""
    form = parse_qs(req.path.partition("?")[2], keep_blank_values=True)
    content_type = next((v for k, v in req.headers.items() if k.lower() == "content-type"), "")
    if "delay" not in form and req.method in ("POST", "PUT", "PATCH") and \
            content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(req.body.decode(errors="replace"), keep_blank_values=True)
    text = (form.get("delay") or [""])[0]
    if not text:
        return 0.0, ""
    return parse_duration(text)


def parse_duration(text: str) -> tuple[float, str]:
    """time.ParseDuration: ``1.5s``, ``300ms``, ``1h2m``; (seconds, "") or (0, Go's error text)."""
    from ..gofmt import quote

    s, sign = text, 1.0
    if s[:1] in ("+", "-"):
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        return 0.0, ""
    if not s:
        return 0.0, f"time: invalid duration {quote(text)}"
    total, pos = 0.0, 0
    while pos < len(s):
        m = _SEGMENT.match(s, pos)
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            return 0.0, f"time: invalid duration {quote(text)}"
        if not unit:
            return 0.0, f"time: missing unit in duration {quote(text)}"
        if unit not in _UNITS:
            return 0.0, f"time: unknown unit {quote(unit)} in duration {quote(text)}"
        total += float(number) * _UNITS[unit]
        pos = m.end()
    return sign * total, ""


def _echo_set_headers(values: list[str]) -> dict[str, str]:
    """writeEchoResponseHeaders: each ``name:value`` of each X-Echo-Set-Header, the name's case kept (a name
    that is not a token is dropped when the response is written)."""
    out: dict[str, str] = {}
    for listed in values:
        for pair in listed.split(","):
            name, _, value = pair.strip().partition(":")
            if not _TOKEN.fullmatch(name):
                continue
            out[name] = value if name not in out else out[name] + "," + value.strip()
    return out
