"""The pure parts of the Traefik port the helpers use: token buckets, password hashes, annotations, ClientHello.

Each test names the Traefik (v3.7) or library source whose behaviour it checks.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading

import pytest

from k8snet.sandbox.dataplane.ingress import annotation, htpasswd
from k8snet.sandbox.dataplane.ingress.program import entrypoints
from k8snet.sandbox.dataplane.ingress.ratelimit import Limiter, go_duration, parse_period
from k8snet.sandbox.dataplane.ingress.routes import hashed_key, router_key
from k8snet.sandbox.dataplane.ingress.tls import parse_client_hello

# -- rateLimit: pkg/middlewares/ratelimiter + golang.org/x/time/rate ----------------------------------------

def test_a_new_bucket_is_full_then_refills_at_the_average_rate():
    limiter = Limiter(average=2, period=1.0, burst=3)  # 2 req/s, bursts of 3
    t = 1000.0
    assert [limiter.allow("ip", t)[0] for _ in range(3)] == [True, True, True]
    allowed, delay = limiter.allow("ip", t)  # the 4th waits 0.5 s for a token: more than maxDelay (1/(2·2))
    assert not allowed and delay == pytest.approx(0.5)
    assert limiter.allow("ip", t + 0.5) == (True, 0.0)  # the refused reservation gave its token back


def test_a_short_wait_is_served_late_not_refused():
    limiter = Limiter(average=1, period=2.0, burst=1)  # 0.5 req/s: maxDelay is 500 ms
    t = 50.0
    assert limiter.allow("ip", t) == (True, 0.0)
    assert limiter.allow("ip", t + 1.6) == (True, pytest.approx(0.4))  # 0.8 tokens there: wait 0.4 s


def test_sources_have_their_own_buckets_and_average_zero_is_unlimited():
    limiter = Limiter(average=1, period=60.0, burst=1)
    assert limiter.allow("a", 0.0)[0] and limiter.allow("b", 0.0)[0] and not limiter.allow("a", 0.0)[0]
    unlimited = Limiter(average=0, period=1.0, burst=1)
    assert all(unlimited.allow("a", 0.0)[0] for _ in range(100))


def test_an_idle_bucket_is_forgotten_after_its_ttl():
    limiter = Limiter(average=1, period=1.0, burst=50)  # ttl 2 s at >= 1 req/s
    for _ in range(50):
        limiter.allow("a", 0.0)
    assert not limiter.allow("a", 0.0)[0]
    assert sum(limiter.allow("a", 3.0)[0] for _ in range(50)) == 50  # a fresh, full bucket, not +3 tokens


def test_period_and_durations_read_and_print_as_go_does():
    assert parse_period(60) == 60 and parse_period("1m") == 60 and parse_period("1m30s") == 90
    assert parse_period("500ms") == 0.5
    with pytest.raises(ValueError, match='time: invalid duration "soon"'):
        parse_period("soon")
    assert go_duration(60) == "1m0s" and go_duration(0.25) == "250ms" and go_duration(1.5) == "1.5s"


# -- basicAuth: containous/go-http-auth CheckSecret ----------------------------------------------------------

@pytest.mark.parametrize("flag", ["-apr1", "-1"])
def test_md5_crypt_hashes_from_openssl_verify(flag):
    hashed = subprocess.run(["openssl", "passwd", flag, "s3cret"], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert htpasswd.check("s3cret", hashed) and not htpasswd.check("wrong", hashed)


def test_sha_hashes_as_traefik_makes_them_from_a_basic_auth_secret():
    hashed = htpasswd.sha_hash(b"s3cret")
    assert hashed.startswith("{SHA}") and htpasswd.check("s3cret", hashed) and not htpasswd.check("x", hashed)


def test_bcrypt_hashes_are_recognised_and_never_pass():
    assert htpasswd.is_bcrypt("$2y$05$abcdefghijklmnopqrstuu5s2v8.oN/J1.Ui0rFqIVrGhbzVKKw1a")
    assert not htpasswd.check("anything", "$2y$05$abcdefghijklmnopqrstuu5s2v8.oN/J1.Ui0rFqIVrGhbzVKKw1a")


# -- annotations: pkg/provider/kubernetes/ingress/annotations.go ------------------------------------------

def test_router_annotations_decode_case_insensitively_into_lists_and_values():
    cfg = annotation.parse_router({
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.middlewares": "ns-a@kubernetescrd, ns-b@kubernetescrd",
        "traefik.ingress.kubernetes.io/router.tls": "true",
        "traefik.ingress.kubernetes.io/router.tls.options": "ns-mtls@kubernetescrd",
        "traefik.ingress.kubernetes.io/router.priority": "42",
        "traefik.ingress.kubernetes.io/router.pathMatcher": "Path",
        "kubernetes.io/ingress.class": "traefik"})
    assert cfg.entrypoints == ["websecure"] and cfg.middlewares == ["ns-a@kubernetescrd", "ns-b@kubernetescrd"]
    assert cfg.tls and cfg.tls_options == "ns-mtls@kubernetescrd" and cfg.priority == 42
    assert cfg.path_matcher == "Path" and cfg.notes == []


@pytest.mark.parametrize("key,value,message", [
    ("router.entrypoint", "web", "field not found, node: entrypoint"),
    ("router.tls", "yes", 'strconv.ParseBool: parsing "yes": invalid syntax'),
    ("router.priority", "high", 'strconv.ParseInt: parsing "high": invalid syntax'),
])
def test_an_annotation_traefik_cannot_decode_is_an_error(key, value, message):
    with pytest.raises(annotation.AnnotationError, match=message):
        annotation.parse_router({f"traefik.ingress.kubernetes.io/{key}": value})


def test_annotations_traefik_ignores_or_the_sandbox_does_not_emulate_are_reported():
    notes = annotation.foreign_notes({"nginx.ingress.kubernetes.io/rewrite-target": "/",
                                      "traefik.ingress.kubernetes.io/service.passhostheader": "false",
                                      "traefik.ingress.kubernetes.io/frontend-entry-points": "http"})
    assert len(notes) == 3 and "kubernetesIngressNginx" in notes[0]
    cfg = annotation.parse_router({"traefik.ingress.kubernetes.io/router.tls.certresolver": "le"})
    assert cfg.tls and "certificate resolvers (ACME) are not emulated" in cfg.notes[0]
    svc = annotation.parse_service({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"})
    assert "sticky sessions are not emulated" in svc.notes[0]


def test_router_keys_and_their_conflict_hashes():
    assert router_key("default", "shop", "shop.example.test", "/cart") == "default-shop-shop-example-test-cart"
    assert router_key("default", "shop", "", "") == "default-shop"
    assert hashed_key("k", 'Path("/a")').startswith("k-") and len(hashed_key("k", 'Path("/a")')) == 2 + 20


# -- the Traefik container's entrypoints -------------------------------------------------------------------

def test_entrypoints_come_from_the_container_args():
    ports, tls = entrypoints(["--entrypoints.web.address=:8000/tcp", "--entryPoints.websecure.address=:8443/tcp",
                              "--entrypoints.websecure.http.tls=true", "--ping=true"])
    assert ports == {8000: "web", 8443: "websecure"} and tls == {8443}
    assert entrypoints(["--log.level=INFO"]) == ({80: "http"}, set())


# -- the ClientHello Traefik reads before the handshake ---------------------------------------------------

def _client_hello(server_name: str | None) -> bytes:
    """The first bytes Python's TLS client sends, captured from a socket pair."""
    a, b = socket.socketpair()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])

    def client() -> None:
        try:
            ctx.wrap_socket(a, server_hostname=server_name).close()
        except OSError:
            pass

    t = threading.Thread(target=client)
    t.start()
    data = b.recv(65536)
    b.close()
    t.join(5)
    a.close()
    return data


def test_the_sni_and_alpn_are_read_from_a_real_client_hello():
    hello = parse_client_hello(_client_hello("shop.example.test"))
    assert hello is not None and hello.server_name == "shop.example.test" and hello.alpn == ["h2", "http/1.1"]
    assert parse_client_hello(_client_hello(None)).server_name == ""
    assert parse_client_hello(b"\x16\x03\x01\x00\x05garbage") is None
    assert parse_client_hello(b"GET / HTTP/1.1\r\n") is None
