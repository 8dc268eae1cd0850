"""k8snet.ingress, the helper API for traffic from outside: real requests through the sandbox's edge.

Each test sends real HTTP/HTTPS requests from this process to the edge on 127.0.0.1 (as ``curl --resolve`` does)
and checks what the helper says answered them against the cluster's objects. Sources: the Kubernetes Ingress
API (https://kubernetes.io/docs/concepts/services-networking/ingress/), Traefik v3.7's access log format
(https://doc.traefik.io/traefik/v3.7/reference/install-configuration/observability/logs-and-accesslogs/), its
rateLimit middleware (https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/http/middlewares/ratelimit/)
and its default certificate (pkg/tls/generate: ``TRAEFIK DEFAULT CERT``).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from tests.conftest import wait_for
from tests.ingress.conftest import apply, backend, echo_args, ingress, make_pki, middleware, mtls_route, rule

from k8snet import ingress as edge_api
from k8snet import pins, traefik_config
from k8snet.cluster import Cluster
from k8snet.ingress.attribution import parse_access_log
from k8snet.kind import versions
from k8snet.sandbox import process


@pytest.fixture(scope="module")
def cluster(sandbox) -> Cluster:
    return Cluster("sandbox", process.CONTEXT, sandbox.api_client())


@pytest.fixture
def shop(sandbox, ns, edge):
    """``web`` (2 agnhost replicas) on ``/`` and ``cart`` (http-echo) on ``/cart`` of ``shop.<ns>.test``."""
    backend(sandbox, ns, "web", 2)
    backend(sandbox, ns, "cart", 1, **echo_args("cart"))
    host = f"shop.{ns}.test"
    ingress(sandbox, ns, "shop", [rule(host, ("/", "Prefix", "web"), ("/cart", "Prefix", "cart"))])
    edge.until(host, "/hostname")
    return host


def pods_of(sandbox, ns: str, app: str) -> set[str]:
    return set(sandbox.kubectl("get", "pods", "-n", ns, "-l", f"app={app}", "-o",
                               "jsonpath={.items[*].metadata.name}").stdout.split())


# -- one parser for the edge ports of both backends ---------------------------------------------------------


def test_edge_ports_allow_any_free_port_on_the_sandbox_but_not_on_kind(monkeypatch):
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", "0")
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", "0")
    assert process.edge_ports() == (0, 0)
    with pytest.raises(ValueError, match=r"\$K8SNET_EDGE_HTTP_PORT='0' is not a port number \(1-65535\): 0 \(any "
                                         r"free port\) works for the sandbox's edge only"):
        versions.edge_ports()
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", "18080")
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", "18080")
    with pytest.raises(ValueError, match="must differ"):
        versions.edge_ports()
    assert process.edge_ports(9080, 9443) == (9080, 9443)  # arguments before the environment
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", "x")
    with pytest.raises(ValueError, match=r"\$K8SNET_EDGE_HTTPS_PORT='x' is not a port number \(0-65535\)$"):
        process.edge_ports()


def test_both_backends_read_one_pin_of_traefik_and_the_edge():
    assert traefik_config.TRAEFIK_VERSION == versions.TRAEFIK_VERSION == pins.TRAEFIK_VERSION
    assert traefik_config.TRAEFIK_IMAGE == versions.TRAEFIK_IMAGE == pins.TRAEFIK_IMAGE
    assert traefik_config.NODE_PORTS == versions.EDGE_NODE_PORTS == pins.EDGE_NODE_PORTS
    assert traefik_config.DEFAULT_EDGE_PORTS == (versions.EDGE_HTTP_PORT, versions.EDGE_HTTPS_PORT) == (8080, 8443)


# -- the edge and the requests ----------------------------------------------------------------------------------


def test_the_edge_is_where_the_running_sandbox_listens(sandbox, cluster):
    where = edge_api.edge(cluster)
    assert (where.backend, where.host) == ("sandbox", "127.0.0.1")
    assert (where.http_port, where.https_port) == (sandbox.running.edge_http_port, sandbox.running.edge_https_port)
    assert where.url("shop.example.test", "/cart", tls=True) == f"https://shop.example.test:{where.https_port}/cart"
    assert where.curl("http://shop.example.test/cart?x=1") == (
        f"curl --resolve shop.example.test:{where.http_port}:127.0.0.1 "
        f"http://shop.example.test:{where.http_port}/cart?x=1")
    assert where.port_for("https://shop.example.test:443/") == where.https_port
    with pytest.raises(edge_api.EdgeError, match="leave the port out of the URL"):
        where.port_for("http://shop.example.test:9999/")
    with pytest.raises(edge_api.EdgeError, match="not an http:// or https:// URL"):
        edge_api.send(cluster, "ftp://shop.example.test/")


def test_on_kind_the_same_calls_need_only_the_api_and_the_mapped_ports(sandbox, ns, monkeypatch, shop):
    """Nothing sandbox-only: a cluster that says it is kind, with the edge ports from the environment as kind's
    port mappings take them, gets the same attribution (API objects and Traefik's log through the API)."""
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", str(sandbox.running.edge_http_port))
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", str(sandbox.running.edge_https_port))
    as_kind = Cluster("kind", "kind-k8snet", sandbox.api_client())
    assert edge_api.edge(as_kind) == edge_api.Edge("kind", sandbox.running.edge_http_port,
                                                   sandbox.running.edge_https_port)
    result = edge_api.send(as_kind, f"http://{shop}/hostname", n=2)
    assert result.backend == "kind" and {r.backend for r in result} == {"kind"}
    assert all(r.pod == r.body and r.note == "Traefik's access log" and r.service == f"{ns}/web:80"
               for r in result)
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", "0")
    with pytest.raises(edge_api.EdgeError, match="works for the sandbox's edge only"):
        edge_api.edge(as_kind)


def test_send_attributes_each_request_to_its_rule_service_and_pod(sandbox, ns, cluster, shop):
    result = edge_api.send(cluster, f"http://{shop}/hostname", n=6)
    web = pods_of(sandbox, ns, "web")
    assert len(result) == 6 and result.counts() == {200: 6} and result.ok == 6
    for row in result:
        assert row.backend == "sandbox" and row.status == 200 and row.reason == "OK" and row.error is None
        assert row.pod in web and row.pod == row.body.strip() == row.answered_by  # agnhost names itself
        assert (row.ingress, row.service) == (f"{ns}/shop", f"{ns}/web:80")
        assert row.router == f"{ns}-shop-shop-{ns}-test@kubernetes" and row.note == "Traefik's access log"
        assert row.rule.startswith(f'Host("{shop}")') and row.tls is None
    names = [r.pod for r in result]
    assert names[:2] * 3 == names and set(names) == web  # Traefik's round robin: every request moves on
    assert result.pods() == {p: 3 for p in sorted(web)}
    assert [r.i for r in result] == list(range(6)) and result.rows[0].t == 0.0
    assert all(b.t >= a.t for a, b in zip(result.rows, result.rows[1:], strict=False))
    cart = edge_api.send(cluster, f"http://{shop}/cart/items", n=2)
    assert [(r.body, r.service) for r in cart] == [("cart\n", f"{ns}/cart:80")] * 2
    assert {r.pod for r in cart} == pods_of(sandbox, ns, "cart")  # http-echo does not say: the access log does


def test_default_views_print_no_ports_times_or_latencies(cluster, shop):
    result = edge_api.send(cluster, f"http://{shop}/hostname", n=4)
    where = edge_api.edge(cluster)
    for text in (repr(result), result._repr_html_(), repr(result.table()), result.table()._repr_html_()):
        assert str(where.http_port) not in text and " ms" not in text and "Date" not in text
        assert f"http://{shop}/hostname" in text and "answered by" in text
    assert repr(result).splitlines()[0] == (f"4 GET requests to http://{shop}/hostname back to back through the "
                                            "ingress edge (sandbox): 200 ×4")


def test_headers_cookies_method_and_body_reach_the_backend(ns, cluster, shop):
    cookie = edge_api.send(cluster, f"http://{shop}/header?key=Cookie", n=1, cookies={"session": "abc", "lang": "en"})
    assert cookie[0].body == "session=abc; lang=en"
    custom = edge_api.send(cluster, f"http://{shop}/header?key=X-Tenant", n=1, headers={"X-Tenant": "bank"})
    assert custom[0].body == "bank"
    posted = edge_api.send(cluster, f"http://{shop}/echo", n=1, method="POST", body="msg=hello",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (posted[0].status, posted[0].body, posted.method) == (200, "hello", "POST")
    # a Host header replaces the URL's host, as curl -H does: the other Ingress host's rule matches
    other = edge_api.send(cluster, f"http://{shop}/hostname", n=1, headers={"Host": f"elsewhere.{ns}.test"})
    assert (other[0].status, other[0].answered_by, other[0].note) == (404, "Traefik",
                                                                      "no router matches this host and path")
    # the client's own User-Agent is sent as given: the row falls back to the rules and the body
    named = edge_api.send(cluster, f"http://{shop}/hostname", n=1, headers={"User-Agent": "curl/8.5.0"})
    assert named[0].pod == named[0].body and "rule from the Ingress objects" in named[0].note


def test_a_router_without_access_log_is_attributed_from_the_rules_and_the_body(sandbox, ns, cluster, edge):
    backend(sandbox, ns, "quiet", 1)
    host = f"quiet.{ns}.test"
    ingress(sandbox, ns, "quiet", [rule(host, ("/", "Prefix", "quiet"))],
            annotations={"traefik.ingress.kubernetes.io/router.observability.accesslogs": "false"})
    edge.until(host, "/hostname")
    row = edge_api.send(cluster, f"http://{host}/hostname", n=1)[0]
    assert row.pod in pods_of(sandbox, ns, "quiet") and row.service == f"{ns}/quiet:80"
    assert row.note == "the pod names itself; rule from the Ingress objects"
    silent = edge_api.send(cluster, f"http://{host}/", n=1)[0]  # netexec's / does not name the pod
    assert (silent.pod, silent.answered_by, silent.service) == (None, "unknown", f"{ns}/quiet:80")


def test_no_ready_endpoint_is_traefiks_own_503(sandbox, ns, cluster, shop, edge):
    sandbox.kubectl("scale", "deployment/cart", "-n", ns, "--replicas=0")
    edge.until(shop, "/cart", status=503)
    row = edge_api.send(cluster, f"http://{shop}/cart", n=1)[0]
    assert (row.status, row.answered_by, row.service, row.pod) == (503, "Traefik", f"{ns}/cart:80", None)
    assert row.note == "no available server (no ready endpoint)" and row.body == "no available server\n"


def test_a_body_over_the_buffering_limit_gets_traefiks_413(sandbox, ns, cluster, edge):
    backend(sandbox, ns, "web", 1)
    ref = middleware(sandbox, ns, "small", {"buffering": {"maxRequestBodyBytes": 1048576}})
    host = f"upload.{ns}.test"
    ingress(sandbox, ns, "upload", [rule(host, ("/", "Prefix", "web"))],
            annotations={"traefik.ingress.kubernetes.io/router.middlewares": ref})
    edge.until(host, "/hostname")
    big = edge_api.send(cluster, f"http://{host}/echo", n=1, method="POST", body=b"x" * (2 << 20))[0]
    assert (big.status, big.answered_by, big.note) == (413, "Traefik", f"buffering {ns}-small@kubernetescrd")
    small = edge_api.send(cluster, f"http://{host}/hostname", n=1, method="POST", body="x" * 1000)[0]
    assert small.status == 200 and small.pod == small.body


def test_bad_arguments_are_refused_with_the_reason(cluster, shop, tmp_path):
    with pytest.raises(ValueError, match="n must be at least 1"):
        edge_api.send(cluster, f"http://{shop}/", n=0)
    with pytest.raises(ValueError, match="requests per second and must be positive"):
        edge_api.send(cluster, f"http://{shop}/", rate=0)
    with pytest.raises(ValueError, match="apply to https:// URLs only"):
        edge_api.send(cluster, f"http://{shop}/", cacert="x")
    with pytest.raises(FileNotFoundError, match="no such file"):
        edge_api.send(cluster, f"https://{shop}/", cacert=tmp_path / "missing.crt")


# -- TLS ------------------------------------------------------------------------------------------------------


def test_https_verifies_with_the_issuing_ca_as_a_path_or_pem_text(sandbox, ns, cluster, secure, pki):
    for cacert in (pki.ca_file, pki.ca_file.read_text()):
        result = edge_api.send(cluster, f"https://{secure}/hostname", n=2, cacert=cacert)
        assert result.counts() == {200: 2}
        row = result[0]
        assert row.pod in pods_of(sandbox, ns, "web") and row.service == f"{ns}/web:80"
        assert row.tls.version in ("TLSv1.2", "TLSv1.3") and row.tls.cipher and row.tls.sni == secure
        assert (row.tls.common_name, row.tls.sans) == (secure, [secure])
        assert row.tls.issuer == "CN=k8snet test CA" and row.tls.not_after > datetime.now(UTC)
    assert "TLSv1." in repr(result.table())


def test_https_without_the_ca_fails_like_curl_unless_verification_is_off(cluster, secure):
    failed = edge_api.send(cluster, f"https://{secure}/hostname", n=1)
    row = failed[0]
    assert (row.status, row.answered_by, failed.counts()) == (None, "no answer", {"error": 1})
    assert row.error.startswith("TLS: certificate verify failed: unable to get local issuer certificate")
    assert "verify=False" in row.error
    insecure = edge_api.send(cluster, f"https://{secure}/hostname", n=1, verify=False)  # curl -k
    assert insecure[0].status == 200 and insecure[0].tls.common_name == secure


def test_a_client_certificate_opens_an_mtls_route(sandbox, ns, cluster, edge, pki, tmp_path):
    """TLSOption clientAuth RequireAndVerifyClientCert, chosen by router.tls.options and the SNI."""
    host, clients = mtls_route(sandbox, ns, pki, tmp_path)
    alice_crt, alice_key = clients.issue("alice", [], client=True)
    alice = (alice_crt.read_text(), alice_key.read_text())  # PEM text, as a notebook holds it
    ok = wait_for(lambda: (r := edge_api.send(cluster, f"https://{host}/hostname", n=1, cacert=pki.ca_file,
                                              client_cert=alice))[0].status == 200 and r, what="the mTLS route")
    row = ok[0]
    assert row.pod in pods_of(sandbox, ns, "bank") and row.router == f"{ns}-bank-bank-{ns}-test@kubernetes"
    assert row.service == f"{ns}/bank:80" and row.tls.common_name == host
    refused = edge_api.send(cluster, f"https://{host}/hostname", n=1, cacert=pki.ca_file)[0]
    assert refused.status is None and refused.error.startswith(("TLS handshake failed", "connection reset",
                                                                "empty reply"))
    stranger = make_pki(tmp_path / "strangers", "other CA").issue("mallory", [], client=True)
    assert edge_api.send(cluster, f"https://{host}/hostname", n=1, cacert=pki.ca_file,
                         client_cert=stranger)[0].status is None  # files work too; an unknown issuer is refused


# -- rate limiting --------------------------------------------------------------------------------------------


@pytest.fixture
def limited(sandbox, ns, edge):
    """``limited.<ns>.test`` behind rateLimit average 5 per minute, burst 10 (a token every 12 s of Traefik's
    clock: no refill while a test's requests run)."""
    backend(sandbox, ns, "web", 2)
    ref = middleware(sandbox, ns, "rl", {"rateLimit": {"average": 5, "period": "1m", "burst": 10}})
    host = f"limited.{ns}.test"
    ingress(sandbox, ns, "limited", [rule(host, ("/", "Prefix", "web"))],
            annotations={"traefik.ingress.kubernetes.io/router.middlewares": ref})
    # a second Ingress, made after the limited one and without the middleware, answers once Traefik has loaded
    # both (its configuration is one snapshot of the objects): waiting on it takes no token from the bucket
    ingress(sandbox, ns, "probe", [rule(f"probe.{ns}.test", ("/", "Prefix", "web"))])
    edge.until(f"probe.{ns}.test", "/hostname")
    return host


def test_twenty_back_to_back_split_ten_200_and_ten_429(sandbox, ns, cluster, limited):
    result = edge_api.send(cluster, f"http://{limited}/hostname", n=20)
    assert result.counts() == {200: 10, 429: 10} and result.ok == 10
    assert [r.status for r in result] == [200] * 10 + [429] * 10  # the bucket's burst, then no token
    web = pods_of(sandbox, ns, "web")
    assert all(r.pod in web for r in result.rows[:10])
    for row in result.rows[10:]:
        assert (row.answered_by, row.pod, row.service) == ("Traefik", None, f"{ns}/web:80")
        assert row.note == f"rateLimit {ns}-rl@kubernetescrd" and row.headers["Retry-After"].isdigit()
    fig = result.plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["200", "429"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["200 ×10", "429 ×10"]
    assert [c.get_gid() for c in ax.collections] == ["status:200", "status:429"]
    assert f"http://{limited}/hostname" in ax.get_title() and "sandbox" in ax.get_title()
    assert edge_api.status_over_time(result).axes[0].get_legend() is not None


def test_a_paced_send_keeps_its_rate_and_the_bucket_refuses_the_rest(sandbox, cluster, limited):
    result = edge_api.send(cluster, f"http://{limited}/hostname", n=14, rate=50)
    assert result.counts() == {200: 10, 429: 4} and result.rate == 50
    assert result.rows[-1].t >= 13 / 50 - 0.005  # request i leaves no earlier than i/rate after the first
    assert "at 50/s" in repr(result).splitlines()[0]


# -- routing table and certificates ----------------------------------------------------------------------------


def test_routing_table_from_urls_and_from_a_result(sandbox, ns, cluster, shop):
    table = edge_api.routing_table(cluster, [f"http://{shop}/hostname", f"http://{shop}/cart",
                                             f"http://nowhere.{ns}.test/"], n=4)
    web, cart = pods_of(sandbox, ns, "web"), pods_of(sandbox, ns, "cart")
    first, second, third = table.rows
    assert (first.ingress, first.service, set(first.answered), first.statuses) == (
        f"{ns}/shop", f"{ns}/web:80", web, {200: 4})
    assert all(v == 2 for v in first.answered.values())  # round robin over both pods
    assert (second.service, set(second.answered), second.rule) == (
        f"{ns}/cart:80", cart, f'Host("{shop}") && (Path("/cart") || PathPrefix("/cart/"))')
    assert (third.ingress, third.service, third.answered, third.statuses) == (None, None, {"Traefik": 4}, {404: 4})
    assert third.note == "no router matches this host and path"
    text = repr(table)
    assert text.splitlines()[0] == "3 URLs, 12 requests through the ingress edge (sandbox)"
    assert "URL" in text and "no rule matches" in text and f"{ns}/cart:80" in table._repr_html_()
    one = edge_api.routing_table(cluster, edge_api.send(cluster, f"http://{shop}/cart", n=2))
    assert len(one) == 1 and one[0].statuses == {200: 2} and set(one[0].answered) == cart


def test_the_default_certificate_for_a_name_without_a_secret(ns, cluster, shop):
    summary = edge_api.certificate(cluster, f"nosecret.{ns}.test")
    assert summary.is_default and summary.self_signed and not summary.covers(f"nosecret.{ns}.test")
    assert (summary.common_name, summary.chain_length, summary.key) == ("TRAEFIK DEFAULT CERT", 1, "RSA 2048")
    assert summary.sans[0].endswith(".traefik.default")
    assert summary.not_after - summary.not_before == timedelta(days=365)  # generate.DefaultCertificate: one year
    text = repr(summary)
    assert "<random>.traefik.default" in text and summary.sans[0] not in text  # random per Traefik start
    assert "Traefik's default certificate  yes" in text


def test_a_secrets_chain_is_summarised_and_verified_with_its_root(sandbox, ns, cluster, edge, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    root = make_pki(tmp_path / "root", "k8snet root CA")
    mid_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC) - timedelta(minutes=5)
    mid_name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "k8snet issuing CA")])
    mid = (x509.CertificateBuilder().subject_name(mid_name).issuer_name(root.ca_cert.subject)
           .public_key(mid_key.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now)
           .not_valid_after(now + timedelta(days=2))
           .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
           .sign(root.ca_key, hashes.SHA256()))
    host = f"chain.{ns}.test"
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME,
                                                                                  host)]))
            .issuer_name(mid_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host), x509.DNSName(f"*.{host}")]),
                           critical=False)
            .sign(mid_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain_pem = leaf.public_bytes(pem) + mid.public_bytes(pem)
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    apply(sandbox, ns, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "chain-tls"},
                        "type": "kubernetes.io/tls", "data": {"tls.crt": base64.b64encode(chain_pem).decode(),
                                                              "tls.key": base64.b64encode(key_pem).decode()}})
    backend(sandbox, ns, "web", 1)
    ingress(sandbox, ns, "chain", [rule(host, ("/", "Prefix", "web"))], tls=[{"secretName": "chain-tls"}])
    wait_for(lambda: not edge_api.certificate(cluster, host).is_default, what="the Secret's certificate")
    summary = edge_api.certificate(cluster, host, cacert=root.ca_file)
    assert (summary.subject, summary.issuer, summary.sans) == (f"CN={host}", "CN=k8snet issuing CA",
                                                               [host, f"*.{host}"])
    assert summary.chain == [f"CN={host}", "CN=k8snet issuing CA"] and summary.chain_length == 2
    assert (summary.is_default, summary.self_signed, summary.key, summary.verified) == (False, False,
                                                                                        "ECDSA P-256", True)
    assert summary.covers(f"api.{host}") and not summary.covers(f"a.b.{host}")  # *. is one label
    assert summary.not_after.replace(microsecond=0) == leaf.not_valid_after_utc.replace(microsecond=0)
    stranger = make_pki(tmp_path / "other", "someone else's CA")
    refused = edge_api.certificate(cluster, host, cacert=stranger.ca_file)
    assert refused.verified is False and "unable to get local issuer certificate" in refused.verify_error
    text = repr(summary)
    assert "chain                          2 certificates served" in text and "verifies with the CA   " in text
    assert "valid until" in text


# -- the access log parser -------------------------------------------------------------------------------------


def test_access_log_lines_in_traefiks_common_format_are_read():
    """The common format as documented: client, user, time, request line, status, size, referer, user agent,
    request count, router, server URL, duration (``-`` or ``"-"`` for a missing value)."""
    text = "\n".join([
        '172.18.0.1 - - [02/Jan/2026:03:04:05 +0000] "GET /cart HTTP/1.1" 200 5 "-" "k8snet-edge/3.1" 7 '
        '"shop-shop-example-test@kubernetes" "http://10.244.1.5:5678" 0ms',
        '2026-01-02T03:04:05Z ERR something Traefik logs itself',
        '172.18.0.1 - - [02/Jan/2026:03:04:05 +0000] "GET / HTTP/1.1" 404 19 "-" "say \\"hi\\"" 8 "-" "-" 0ms'])
    first, second = parse_access_log(text)
    assert (first.method, first.path, first.status, first.user_agent) == ("GET", "/cart", 200, "k8snet-edge/3.1")
    assert (first.router, first.server) == ("shop-shop-example-test@kubernetes", "http://10.244.1.5:5678")
    assert (second.status, second.router, second.server, second.user_agent) == (404, "", "", 'say "hi"')


def test_path_draws_one_request_from_the_edge_to_the_pod(sandbox, ns, cluster, shop):
    trace = edge_api.path(cluster, f"http://{shop}/hostname")
    kinds = [h["kind"] for h in trace.hops]
    assert kinds == ["edge", "service", "ingress", "service", "pod"]
    assert "NodePort 32080" in trace.hops[0]["summary"] and "traefik/traefik" in trace.hops[1]["summary"]
    assert trace.hops[2]["summary"].startswith(f'router Host("{shop}")') and f"Ingress {ns}/shop" in \
        trace.hops[2]["summary"]
    balanced = trace.hops[3]["detail"]
    assert set(balanced["candidates"]) == pods_of(sandbox, ns, "web") and balanced["chosen"] == trace.answered_by
    assert trace.hops[4]["summary"] == f"{trace.answered_by} answered 200"
    fig = trace.plot()
    titles = [t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("hop-title:")]
    assert titles[:3] == ["source", "ingress edge", "Service"]
    missing = edge_api.path(cluster, f"http://nowhere.{ns}.test/")
    assert [h["kind"] for h in missing.hops][-2:] == ["error", "traefik"]
    assert missing.hops[-2]["summary"] == "no router matches: Traefik answers 404 itself"
    assert missing.hops[-1]["summary"] == "Traefik answered 404 itself; no pod was asked"


def test_path_names_the_middlewares_and_the_one_that_answered(sandbox, ns, cluster, shop):
    middleware(sandbox, ns, "https-only", {"redirectScheme": {"scheme": "https", "permanent": True}})
    middleware(sandbox, ns, "tagged", {"headers": {"customResponseHeaders": {"X-Shop": "1"}}})
    ingress(sandbox, ns, "shop", [rule(shop, ("/", "Prefix", "web"))],
            annotations={"traefik.ingress.kubernetes.io/router.middlewares":
                         f"{ns}-tagged@kubernetescrd,{ns}-https-only@kubernetescrd"})
    trace = wait_for(lambda: (t := edge_api.path(cluster, f"http://{shop}/hostname")).status == 301 and t,
                     what="the middlewares to apply")
    chain = next(h for h in trace.hops if h["kind"] == "middleware")["summary"]
    assert chain.startswith("in order: tagged (headers); https-only (redirectScheme)")
    assert chain.endswith("one of them answered 301 itself")
    assert trace.hops[-1] == {"kind": "traefik", "summary": "Traefik answered 301 itself; no pod was asked",
                              "detail": {}}
