"""Traefik Middlewares (traefik.io/v1alpha1) on Ingress routers, through the edge: each one's effect and status.

Sources (Traefik v3.7): https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/http/middlewares/
and github.com/traefik/traefik pkg/middlewares/{redirect,ratelimiter,ipallowlist,headers,buffering,stripprefix,
auth,chain}, pkg/provider/kubernetes/crd/kubernetes.go (how Middleware objects become configuration),
pkg/server/middleware/middlewares.go (a missing or unbuildable middleware: the router is not served).
"""

from __future__ import annotations

import base64
import gzip
import subprocess
import time

import pytest
from tests.conftest import wait_for
from tests.ingress.conftest import backend, ingress, logged, middleware, rule, subject_cn

ROUTER_MIDDLEWARES = "traefik.ingress.kubernetes.io/router.middlewares"


@pytest.fixture
def app(sandbox, ns, edge):
    """A netexec backend ``web`` and a function that puts it behind an Ingress with the given middlewares."""
    backend(sandbox, ns, "web", 1)

    def expose(name: str, *refs: str, extra: dict | None = None, tls: bool = False) -> str:
        host = f"{name}.{ns}.test"
        annotations = {ROUTER_MIDDLEWARES: ",".join(refs), **(extra or {})}
        ingress(sandbox, ns, name, [rule(host, ("/", "Prefix", "web"))], annotations=annotations)
        return host

    return expose


def test_redirect_scheme_sends_http_to_https_permanently(sandbox, ns, edge, app):
    ref = middleware(sandbox, ns, "https", {"redirectScheme": {"scheme": "https", "port": str(edge.https_port),
                                                               "permanent": True}})
    host = app("redirect", ref)
    moved = edge.until(host, "/cart?id=7", status=301)
    assert moved.headers["location"] == f"https://{host}:{edge.https_port}/cart?id=7"
    assert moved.text == "Moved Permanently"
    assert edge.request(host, "/cart", method="POST", body=b"x").status == 308  # permanent, not GET
    # on HTTPS the URL already has the scheme: the request goes through
    assert edge.request(host, "/hostname", https=True).text.startswith("web-")


def test_rate_limit_answers_429_with_retry_after_until_tokens_refill(sandbox, ns, edge, app):
    """average 1 per 3 s, burst 1: the bucket holds one token, which takes 3 s (Traefik's own clock) to refill."""
    ref = middleware(sandbox, ns, "slow", {"rateLimit": {"average": 1, "period": "3s", "burst": 1}})
    host = app("limited", ref)
    edge.until(host, "/hostname", status=429)  # the route is there, and its one token is spent
    refused = edge.request(host, "/hostname")
    assert refused.status == 429 and refused.text == "Too Many Requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 3 and refused.headers["x-retry-in"].endswith("s")
    time.sleep(3.3)  # one whole token, and the bucket holds no more than one
    assert edge.request(host, "/hostname").status == 200
    assert edge.request(host, "/hostname").status == 429


def test_ip_allow_list_refuses_other_sources_with_403(sandbox, ns, edge, app):
    # the edge's client reaches Traefik through kube-proxy's NodePort SNAT: from the control plane's address
    closed = app("closed", middleware(sandbox, ns, "office", {"ipAllowList": {"sourceRange": ["10.10.0.0/16"]}}))
    refused = edge.until(closed, "/hostname", status=403)
    assert refused.text == "Forbidden"
    opened = app("opened", middleware(sandbox, ns, "kind-net", {"ipAllowList": {"sourceRange": ["172.18.0.0/16"]}}))
    assert edge.until(opened, "/hostname").text.startswith("web-")
    teapot = app("teapot", middleware(sandbox, ns, "teapot", {"ipAllowList": {"sourceRange": ["10.10.0.0/16"],
                                                                              "rejectStatusCode": 418}}))
    assert edge.until(teapot, status=418).text == "I'm a teapot"  # Go's http.StatusText(418)


def test_headers_adds_security_headers_and_custom_request_headers(sandbox, ns, edge, app):
    ref = middleware(sandbox, ns, "secure", {"headers": {
        "stsSeconds": 31536000, "stsIncludeSubdomains": True, "frameDeny": True, "contentTypeNosniff": True,
        "customRequestHeaders": {"X-Tenant": "bank"}, "customResponseHeaders": {"X-Served-By": "edge"}}})
    host = app("hardened", ref)
    plain = edge.until(host, "/header")
    assert plain.headers["x-frame-options"] == "DENY" and plain.headers["x-content-type-options"] == "nosniff"
    assert plain.headers["x-served-by"] == "edge"
    assert "strict-transport-security" not in plain.headers  # HSTS only over HTTPS (unrolled/secure)
    assert plain.json()["X-Tenant"] == ["bank"]
    secure = edge.request(host, "/header", https=True)
    assert secure.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_buffering_refuses_bodies_over_max_request_body_bytes_with_413(sandbox, ns, edge, app):
    host = app("upload", middleware(sandbox, ns, "small", {"buffering": {"maxRequestBodyBytes": 1024}}))
    assert edge.until(host, "/echo?msg=ok", method="POST", body=b"x" * 1024).text == "ok"
    big = edge.request(host, "/echo?msg=ok", method="POST", body=b"x" * 1025)
    assert (big.status, big.text) == (413, "Request Entity Too Large")


def test_strip_prefix_removes_the_prefix_and_tells_the_backend(sandbox, ns, edge, app):
    host = app("api", middleware(sandbox, ns, "strip", {"stripPrefix": {"prefixes": ["/api"]}}))
    assert edge.until(host, "/api/hostname").text.startswith("web-")
    echo = edge.request(host, "/api/header").json()
    assert echo["X-Forwarded-Prefix"] == ["/api"]


def test_basic_auth_from_an_htpasswd_secret_and_a_basic_auth_secret(sandbox, ns, edge, app):
    line = subprocess.run(["openssl", "passwd", "-apr1", "s3cret"], capture_output=True, text=True,
                          check=True).stdout.strip()
    sandbox.kubectl("create", "secret", "generic", "users", "-n", ns, f"--from-literal=users=alice:{line}")
    host = app("private", middleware(sandbox, ns, "auth", {"basicAuth": {"secret": "users"}}))
    denied = edge.until(host, "/hostname", status=401)
    assert denied.headers["www-authenticate"] == 'Basic realm="traefik"' and denied.text == "401 Unauthorized\n"

    def auth(user: str, password: str) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    assert edge.request(host, "/hostname", headers=auth("alice", "wrong")).status == 401
    assert edge.request(host, "/hostname", headers=auth("alice", "s3cret")).text.startswith("web-")
    sandbox.kubectl("create", "secret", "generic", "bob", "-n", ns, "--type=kubernetes.io/basic-auth",
                    "--from-literal=username=bob", "--from-literal=password=hunter2")
    other = app("bob", middleware(sandbox, ns, "bob-auth", {"basicAuth": {"secret": "bob", "realm": "shop"}}))
    assert edge.until(other, status=401).headers["www-authenticate"] == 'Basic realm="shop"'
    assert edge.request(other, "/hostname", headers=auth("bob", "hunter2")).status == 200


def test_chain_applies_its_middlewares_in_order(sandbox, ns, edge, app):
    middleware(sandbox, ns, "strip", {"stripPrefix": {"prefixes": ["/v1"]}})
    middleware(sandbox, ns, "tag", {"headers": {"customRequestHeaders": {"X-Chain": "yes"}}})
    ref = middleware(sandbox, ns, "both", {"chain": {"middlewares": [{"name": "strip"}, {"name": "tag"}]}})
    host = app("chained", ref)
    echo = edge.until(host, "/v1/header").json()
    assert echo["X-Chain"] == ["yes"] and echo["X-Forwarded-Prefix"] == ["/v1"]


def test_compress_gzips_a_large_answer_for_a_client_that_accepts_it(sandbox, ns, edge, app):
    """compress (pkg/middlewares/compress): gzip when the client accepts it and the body reaches 1024 bytes."""
    host = app("zipped", middleware(sandbox, ns, "gzip", {"compress": {}}))
    path = "/echo?msg=" + "a" * 2000
    zipped = wait_for(lambda: (r := edge.request(host, path, headers={"Accept-Encoding": "gzip"}))
                      .headers.get("content-encoding") == "gzip" and r, what="a gzipped answer")
    assert gzip.decompress(zipped.body) == b"a" * 2000
    assert "content-encoding" not in edge.request(host, path).headers  # no Accept-Encoding: as it is
    small = edge.request(host, "/echo?msg=hi", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers and small.text == "hi"


def test_a_missing_middleware_disables_the_router_as_in_traefik(sandbox, ns, edge, app):
    host = app("dangling", f"{ns}-nope@kubernetescrd")
    logged(sandbox, f'error="middleware \\"{ns}-nope@kubernetescrd\\" does not exist"', "routerName=")
    assert edge.request(host, "/hostname").status == 404


def test_middlewares_are_served_like_the_crd_with_kubectl(sandbox, ns):
    middleware(sandbox, ns, "limit", {"rateLimit": {"average": 10, "burst": 20}})
    listed = sandbox.kubectl("get", "middlewares", "-n", ns).stdout.splitlines()
    assert listed[0].split() == ["NAME", "AGE"] and listed[1].split()[0] == "limit"
    assert sandbox.kubectl_json("get", "middleware.traefik.io", "limit", "-n", ns)["spec"]["rateLimit"]["burst"] == 20
    typo = sandbox.kubectl("apply", "-n", ns, "-f", "-", check=False,
                           input='{"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", '
                                 '"metadata": {"name": "typo"}, "spec": {"ratelimit": {"average": 1}}}')
    assert typo.returncode == 1 and 'unknown field "spec.ratelimit"' in typo.stderr  # structural schema, strict
    bad = sandbox.kubectl("apply", "-n", ns, "-f", "-", check=False,
                          input='{"apiVersion": "traefik.io/v1alpha1", "kind": "TLSOption", "metadata": {"name": "x"},'
                                ' "spec": {"clientAuth": {"clientAuthType": "Sometimes"}}}')
    assert bad.returncode == 1 and "spec.clientAuth.clientAuthType: Unsupported value" in bad.stderr
    explained = sandbox.kubectl("explain", "middleware.spec.rateLimit").stdout
    assert "average" in explained and "burst" in explained


def test_ingress_annotations_traefik_ignores_or_rejects_show_in_its_log(sandbox, ns, edge, app):
    """Traefik reads only its own annotations: another controller's are ignored without a word; a resolver that
    does not exist, or a misspelt key, is an ERR line (the sandbox adds nothing of its own)."""
    host = app("annotated", extra={"nginx.ingress.kubernetes.io/ssl-redirect": "true",
                                   "traefik.ingress.kubernetes.io/router.tls.certresolver": "letsencrypt"})
    logged(sandbox, "Router uses a nonexistent certificate resolver", "certificateResolver=letsencrypt")
    # a tls.* option makes the router a TLS router (there is no resolver, so Traefik's default certificate)
    wait_for(lambda: edge.request(host, "/hostname", https=True).status == 200, what="the TLS router")
    assert edge.request(host, "/hostname").status == 404
    bad = app("misspelt", extra={"traefik.ingress.kubernetes.io/router.entrypoint": "web"})
    logged(sandbox, "Failed to parse annotations", 'error="field not found, node: entrypoint"', "ingress=misspelt")
    assert edge.request(bad, "/hostname").status == 404  # the Ingress is skipped


def test_a_rate_limited_https_router_keeps_its_certificate(sandbox, ns, edge, app, pki):
    crt, key = pki.issue(f"tlsrl-{ns}", [f"tlsrl.{ns}.test"])
    sandbox.kubectl("create", "secret", "tls", "tlsrl", "-n", ns, f"--cert={crt}", f"--key={key}")
    ref = middleware(sandbox, ns, "rl", {"rateLimit": {"average": 100}})
    host = f"tlsrl.{ns}.test"
    ingress(sandbox, ns, "tlsrl", [rule(host, ("/", "Prefix", "web"))], tls=[{"secretName": "tlsrl"}],
            annotations={ROUTER_MIDDLEWARES: ref})
    resp = edge.until(host, "/hostname", https=True, cafile=pki.ca_file)
    assert subject_cn(resp) == host
