"""Readiness checks: real conditions through the API (against the sandbox) and real HTTP/TLS on local ports."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import k8snet
from k8snet.kind import readiness, versions


@pytest.fixture
def cluster(sandbox):
    return k8snet.connect("sandbox", start=False)


def test_nodes_ready_sees_the_three_nodes(cluster):
    assert readiness.wait_nodes_ready(cluster, versions.NODE_NAMES, timeout=10) == list(versions.NODE_NAMES)
    value, seen = readiness.nodes_ready(cluster, ["k8snet-worker3"])
    assert value is None and seen == "nodes not registered yet: k8snet-worker3"


def test_until_names_what_it_waited_for_and_what_it_last_saw():
    with pytest.raises(TimeoutError, match=r"timed out after 0s waiting for the moon: still night"):
        readiness.until(lambda: (None, "still night"), 0, "the moon")


def test_load_balancer_address_comes_from_service_status(cluster, ns):
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "edge", "namespace": ns},
                   "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 80}]}})
    ip = readiness.until(lambda: readiness.load_balancer_address(cluster, ns, "edge"), 20, "an external IP")
    assert ip.startswith("172.18.0.")
    cluster.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "inner", "namespace": ns},
                   "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}})
    value, seen = readiness.load_balancer_address(cluster, ns, "inner")
    assert value is None and "EXTERNAL-IP <pending>" in seen


def test_dry_run_accepted_is_the_api_servers_verdict_and_stores_nothing(cluster, ns):
    good = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "probe", "namespace": ns},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    assert readiness.dry_run_accepted(cluster, good) == (True, "accepted")
    assert readiness.wait_dry_run_accepted(cluster, good, timeout=5) == "accepted"
    bad = {**good, "spec": {"selector": {"app": "x"}, "ports": [{"port": 70000}]}}
    ok, seen = readiness.dry_run_accepted(cluster, bad)
    assert not ok and seen.startswith("HTTP 422: ")
    assert "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive" in seen
    assert cluster.get("Service", namespace=ns) == []


# -- the edge: a local stand-in that answers as Traefik's entrypoint does ---------------------------------


class NotFound(http.server.BaseHTTPRequestHandler):
    body = b"404 page not found\n"  # Go's http.NotFoundHandler, Traefik's answer when no router matches
    status = 404

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class Hello(NotFound):
    body = b"hello"
    status = 200


def self_signed(tmp: Path, cn: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = tmp / "tls.crt", tmp / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def serve(handler, tls: tuple[Path, Path] | None = None) -> tuple[http.server.HTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture
def traefik_like(tmp_path) -> Iterator[tuple[int, int]]:
    plain, http_port = serve(NotFound)
    secure, https_port = serve(NotFound, self_signed(tmp_path, "TRAEFIK DEFAULT CERT"))
    yield http_port, https_port
    plain.shutdown()
    secure.shutdown()


def test_the_edge_is_ready_when_both_ports_answer_as_traefik(traefik_like):
    http_port, https_port = traefik_like
    answers = readiness.wait_edge(http_port, https_port, timeout=5)
    assert [a.traefik for a in answers] == [True, True]
    assert answers[1].server_cert == "TRAEFIK DEFAULT CERT" and answers[0].server_cert is None
    assert str(answers[0]) == f"http://127.0.0.1:{http_port}: HTTP 404 '404 page not found'"


def test_another_server_on_the_edge_port_is_not_traefik(tmp_path):
    server, port = serve(Hello)
    try:
        answer = readiness.probe_edge(port, tls=False)
        assert answer.status == 200 and not answer.traefik
    finally:
        server.shutdown()


def test_nothing_listening_is_a_clear_error_and_the_wait_says_so():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    answer = readiness.probe_edge(port, tls=True)
    assert answer.error == "connection refused (nothing listens on this port)" and not answer.traefik
    with pytest.raises(TimeoutError, match=rf"Traefik to answer on 127\.0\.0\.1:{port} .*connection refused"):
        readiness.wait_edge(port, port, timeout=0)


def test_port_free_sees_a_listener():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert readiness.port_free(held.getsockname()[1]) is False
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert readiness.port_free(port) is True
