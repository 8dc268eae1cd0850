"""The edge under bad input: malformed HTTP, oversized headers, slow clients, TLS garbage — and it keeps serving.

What a Go (Traefik) server answers: net/http's server.go writes ``400 Bad Request`` for a request it cannot
parse and ``431 Request Header Fields Too Large`` past ``MaxHeaderBytes`` (1 MiB), then closes; a request not
read within the entrypoint's ``readTimeout`` is dropped without an answer; a TLS handshake that fails is closed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from tests.ingress.conftest import backend, ingress, rule

from k8snet.sandbox import process


@pytest.fixture(scope="module")
def site(sandbox, edge):
    """One Ingress for the module (its own namespace), answering on both edge ports."""
    ns = "robust"
    sandbox.kubectl("create", "namespace", ns, check=False)
    backend(sandbox, ns, "web", 1)
    host = "robust.example.test"
    ingress(sandbox, ns, "robust", [rule(host, ("/", "Prefix", "web"))])
    edge.until(host, "/hostname")
    yield host
    sandbox.kubectl("delete", "namespace", ns, "--wait=false")


def raw(port: int, data: bytes, *, hang_up: bool = False, wait: float = 10) -> bytes:
    """Send bytes (then half-close, with ``hang_up``), read until the server closes or ``wait`` passes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    sock.sendall(data)
    if hang_up:
        sock.shutdown(socket.SHUT_WR)
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    sock.close()
    return b"".join(chunks)


def still_serving(edge, host: str) -> None:
    assert edge.request(host, "/hostname").text.startswith("web-")
    assert edge.request(host, "/hostname", https=True).text.startswith("web-")


def test_garbage_gets_go_s_400_and_the_connection_closes(edge, site):
    answer = raw(edge.http_port, b"\x00\x01 this is not HTTP \xff\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and answer.endswith(b"\r\n\r\n400 Bad Request")
    assert b"Connection: close" in answer and b"Server:" not in answer
    # plain garbage on the HTTPS port is read as HTTP too (no TLS record type): the same 400
    assert raw(edge.https_port, b"HELLO? this is not TLS and not HTTP either\r\n\r\n").startswith(
        b"HTTP/1.1 400 Bad Request")
    still_serving(edge, site)


def test_http11_without_a_host_header_is_refused(edge, site):
    answer = raw(edge.http_port, b"GET /hostname HTTP/1.1\r\nUser-Agent: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request") and b"missing required Host header" in answer
    ok = raw(edge.http_port, f"GET /hostname HTTP/1.0\r\nHost: {site}\r\n\r\n".encode())  # HTTP/1.0 may omit it...
    assert ok.startswith(b"HTTP/1.0 200") or ok.startswith(b"HTTP/1.1 200")
    still_serving(edge, site)


def test_oversized_headers_get_431(edge, site):
    big = b"GET / HTTP/1.1\r\nHost: " + site.encode() + b"\r\nX-Big: " + b"a" * (2 << 20) + b"\r\n\r\n"
    answer = raw(edge.http_port, big)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert answer.endswith(b"431 Request Header Fields Too Large")
    still_serving(edge, site)


@pytest.mark.parametrize("junk", [b"\x16\x03\x01\x00\x04\x01\x00\x00\x00",  # an empty ClientHello
                                  b"\x16\x03\x03\x00\x05\xff\xff\xff\xff\xff",  # no such handshake message
                                  b"\x16\x03\x01\x00\x02\x01"])  # a record cut short, then the client hangs up
def test_tls_garbage_is_closed_without_an_http_answer(edge, site, junk):
    for port in (edge.https_port, edge.http_port):  # every entrypoint sniffs for TLS
        answer = raw(port, junk, hang_up=True)
        assert answer == b"" or answer[:1] == b"\x15", answer  # nothing, or a TLS alert record: then closed
    still_serving(edge, site)


def test_a_slow_client_does_not_hold_up_others(edge, site):
    slow = socket.create_connection(("127.0.0.1", edge.http_port), timeout=10)
    slow.sendall(f"GET /hostname HTTP/1.1\r\nHost: {site}\r\nX-Slow: ".encode())  # half a request
    idle = [socket.create_connection(("127.0.0.1", edge.http_port)) for _ in range(20)]  # and idle ones
    try:
        for _ in range(5):
            still_serving(edge, site)
        slow.sendall(b"yes\r\n\r\n")  # the rest, well within Traefik's 60 s readTimeout
        answer = slow.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"web-" in answer
    finally:
        slow.close()
        for s in idle:
            s.close()


def test_keep_alive_carries_several_requests_and_pipelining_works(edge, site):
    one = f"GET /hostname HTTP/1.1\r\nHost: {site}\r\n\r\n".encode()
    answer = raw(edge.http_port, one * 3 + f"GET /hostname HTTP/1.1\r\nHost: {site}\r\nConnection: close\r\n\r\n"
                 .encode())
    assert answer.count(b"HTTP/1.1 200 OK") == 4


# -- the process: ports, ready.json, status -----------------------------------------------------------------


def test_the_bound_edge_ports_are_in_ready_json_and_sandbox_status(sandbox, edge):
    ready = json.loads((sandbox.running.state / "ready.json").read_text())
    assert ready["edge"] == {"http": edge.http_port, "https": edge.https_port}
    env = {**os.environ, "KUBECONFIG": str(sandbox.kubeconfig), "K8SNET_HOME": str(sandbox.home / "home")}
    out = subprocess.run([sys.executable, "-m", "k8snet.cli", "sandbox", "status"], capture_output=True, text=True,
                         env=env, timeout=30).stdout
    assert f"Ingress edge: http://127.0.0.1:{edge.http_port} and https://127.0.0.1:{edge.https_port}" in out


def test_a_busy_edge_port_fails_up_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path / "home"))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(RuntimeError) as err:
            process.up(edge_http_port=port, edge_https_port=0)
        assert f"127.0.0.1:{port}" in str(err.value) and "--edge-http-port" in str(err.value)
        assert process.status() is None
    finally:
        taken.close()
    with pytest.raises(ValueError, match="must differ"):
        process.up(edge_http_port=9999, edge_https_port=9999)


def test_a_request_line_without_a_version_gets_go_s_400(edge, site):
    """net/http parseRequestLine needs three fields: ``400 Bad Request`` on an HTTP/1.1 status line, never an
    HTTP/0.9 answer. (Traefik 3.7.15 reads more before it decides: ``GET /`` alone, 9 bytes, is answered only at
    its 60 s readTimeout, as measured; 24 bytes or more are answered at once.)"""
    answer = raw(edge.http_port, b"GET /a-path-long-enough-to-be-read\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer[:80]
    assert answer.endswith(b"400 Bad Request") and b"Connection: close" in answer
    still_serving(edge, site)


def test_an_absolute_form_request_is_routed_by_the_uri_s_host(edge, site):
    """net/http readRequest: for an absolute-form request-target, the URL's host wins over the Host header."""
    answer = raw(edge.http_port, f"GET http://{site}/hostname HTTP/1.1\r\nHost: elsewhere.test\r\n"
                                 "Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert answer.split(b"\r\n\r\n", 1)[1].startswith(b"web-")
