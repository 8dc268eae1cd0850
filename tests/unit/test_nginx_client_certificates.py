"""nginx's client certificates without a sandbox: the directives (ngx_http_ssl_module.c), the per-request verdict
(ngx_http_request.c ngx_http_process_request), the ssl variables (ngx_event_openssl.c ngx_ssl_get_*), the error
log's levels and the access log's formats (ngx_http_log_module.c), on real handshakes (dataplane/tls.py); and the
words of OpenSSL and curl when a server that requires a certificate refuses the handshake."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from tests.sandbox.certificates import issue
from tests.unit.test_commands import running, sb  # noqa: F401  (the in-process sandbox fixture)
from tests.unit.test_nginx import NOW, emerg, files, load

from k8snet.sandbox.dataplane import nginx, tls

CA = issue("Shop CA", ca=True)
OTHER_CA = issue("Other CA", ca=True)
INTERMEDIATE = issue("Shop Issuing CA", CA, ca=True)
SERVER = issue("web", CA, dns=("web",))
ALICE = issue("alice", CA, client=True)
MALLORY = issue("mallory", OTHER_CA, client=True)
EXPIRED = issue("bob", CA, client=True, valid=(-10, -1))
DEEP = issue("carol", INTERMEDIATE, client=True)
PEMS = {"/etc/nginx/tls/tls.crt": SERVER.cert_pem.encode(), "/etc/nginx/tls/tls.key": SERVER.key_pem.encode(),
        "/etc/nginx/tls/ca.crt": CA.cert_pem.encode()}


def site(verify: str = "on", extra: str = "") -> str:
    return ("log_format mtls '$remote_addr \"$request\" $status $ssl_client_verify \"$ssl_client_s_dn\"';\n"
            "server {\n  listen 443 ssl;\n  server_name web;\n  access_log /dev/stdout mtls;\n"
            "  ssl_certificate /etc/nginx/tls/tls.crt;\n  ssl_certificate_key /etc/nginx/tls/tls.key;\n"
            f"  ssl_client_certificate /etc/nginx/tls/ca.crt;\n  ssl_verify_client {verify};\n{extra}"
            "  location / { return 200 \"$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|$ssl_protocol\\n\"; }\n"
            "}\n")


def request(conf: str, client=None, now: datetime | None = None, pems: dict | None = None):
    """One HTTPS request to the configuration, after a real handshake with ``client``'s certificate."""
    config = load(conf, pems or PEMS)
    server = config.servers[-1].tls
    offered = (client.cert_pem + (INTERMEDIATE.cert_pem if client is DEEP else "")).encode() if client else b""
    ctx = tls.client_context(CA.cert_pem.encode(), True, offered, client.key_pem.encode() if client else b"")
    session = tls.handshake(ctx, server, "web", (offered, client.key_pem.encode()) if client else None,
                            now or datetime.now(UTC))
    assert session.ok, session.error
    logged: list[tuple[str, str]] = []
    ex = nginx.Exchange(fs=files(conf, pems or PEMS), version="1.29.1", method="GET", uri="/",
                        headers={"Host": "web"}, body=b"", client="10.244.1.7:40000", port=443, scheme="https",
                        date="-", mtime=lambda path: NOW,
                        error_log=lambda text, level="error": logged.append((level, text)),
                        upstream=lambda *a: ("refused", ""), tls=session)
    answer = nginx.answer(config, ex, True)
    return answer, logged, nginx.access_lines(config, ex, answer, NOW)


def test_a_client_certificate_of_the_trusted_ca_is_accepted_and_its_variables_are_set():
    a, logged, line = request(site(), ALICE)
    assert a.status == 200 and logged == []
    assert a.body == b"SUCCESS|CN=alice,O=k8snet|CN=Shop CA,O=k8snet|TLSv1.3\n"
    assert line == ['10.244.1.7 "GET / HTTP/1.1" 200 SUCCESS "CN=alice,O=k8snet"']
    session = tls.handshake(tls.client_context(None, False, ALICE.cert_pem.encode(), ALICE.key_pem.encode()),
                            load(site(), PEMS).servers[0].tls, "web", (ALICE.cert_pem.encode(),
                                                                       ALICE.key_pem.encode()))
    values = nginx._ssl_vars(session)
    assert values["ssl_client_fingerprint"] == hashlib.sha1(session.client_cert).hexdigest()  # noqa: S324
    serial = f"{ALICE.cert.serial_number:X}"
    assert values["ssl_client_serial"] == ("0" if len(serial) % 2 else "") + serial  # i2a_ASN1_INTEGER: whole bytes
    assert values["ssl_cipher"] == "TLS_AES_256_GCM_SHA384"


def test_no_certificate_is_400_no_required_ssl_certificate_logged_at_info():
    a, logged, line = request(site(extra="  error_log /dev/stderr info;\n"))
    assert a.status == 400 and a.headers["Connection"] == "close"
    assert a.body == (b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n"
                      b"<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent"
                      b"</center>\r\n<hr><center>nginx/1.29.1</center>\r\n</body>\r\n</html>\r\n")
    assert logged == [("info", 'client sent no required SSL certificate while reading client request headers, '
                               'client: 10.244.1.7, server: web, request: "GET / HTTP/1.1", host: "web"')]
    assert line == ['10.244.1.7 "GET / HTTP/1.1" 400 NONE ""']


def test_the_images_error_log_level_notice_hides_the_info_lines():
    a, logged, _ = request(site())  # the main context's "error_log /var/log/nginx/error.log notice;"
    assert a.status == 400 and logged == []


@pytest.mark.parametrize(("client", "now", "reason"), [
    (MALLORY, None, "20:unable to get local issuer certificate"),
    (EXPIRED, None, "10:certificate has expired"),
    (ALICE, datetime.now(UTC) + timedelta(days=31), "10:certificate has expired"),  # the sandbox clock moved on
])
def test_a_certificate_that_fails_verification_is_400_the_ssl_certificate_error(client, now, reason):
    a, logged, line = request(site(extra="  error_log /dev/stderr info;\n"), client, now)
    assert a.status == 400 and b"<center>The SSL certificate error</center>" in a.body
    assert b"<title>400 The SSL certificate error</title>" in a.body
    assert logged[0] == ("info", f"client SSL certificate verify error: ({reason}) while reading client request "
                                 'headers, client: 10.244.1.7, server: web, request: "GET / HTTP/1.1", host: "web"')
    assert f"FAILED:{reason.split(':', 1)[1]}" in line[0]


def test_optional_and_optional_no_ca():
    a, _, _ = request(site("optional"))
    assert a.status == 200 and a.body.startswith(b"NONE||")
    assert request(site("optional"), MALLORY)[0].status == 400  # optional still refuses a failed certificate
    a, _, _ = request(site("optional_no_ca"), MALLORY)
    assert a.status == 200 and a.body.startswith(b"FAILED:unable to get local issuer certificate|CN=mallory")
    assert request(site("optional_no_ca"), EXPIRED)[0].status == 400  # an expired one is not "no CA"


def test_ssl_verify_depth_counts_the_intermediates():
    assert request(site(), DEEP)[0].status == 200  # one intermediate: the default depth 1
    a, _, _ = request(site(extra="  ssl_verify_depth 0;\n"), DEEP)
    assert a.status == 400
    assert request(site("optional_no_ca", "  ssl_verify_depth 0;\n"), DEEP)[0].status == 400


def test_error_page_495_496_and_the_plain_http_request():
    conf = site(extra="  error_page 495 496 /nocert.html;\n  location = /nocert.html { root /srv; }\n")
    pems = {**PEMS, "/srv/nocert.html": b"show your badge\n"}
    a, _, _ = request(conf, None, pems=pems)
    assert (a.status, a.body) == (400, b"show your badge\n")


@pytest.mark.parametrize(("conf", "message"), [
    (site("maybe"), 'invalid value "maybe" in /etc/nginx/conf.d/default.conf:9'),
    (site(extra="  ssl_verify_depth two;\n"),
     '"ssl_verify_depth" directive invalid number in /etc/nginx/conf.d/default.conf:10'),
    (site().replace("  ssl_client_certificate /etc/nginx/tls/ca.crt;\n", ""),
     "no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client"),
    (site().replace("tls/ca.crt", "tls/missing.crt"),
     'cannot load certificate "/etc/nginx/tls/missing.crt": BIO_new_file() failed (SSL: error:80000002:system '
     'library::No such file or directory:calling fopen(/etc/nginx/tls/missing.crt, r) error:10000080:BIO '
     'routines::no such file)'),
    (site().replace("tls/ca.crt", "tls/tls.key"),
     'cannot load certificate "/etc/nginx/tls/tls.key": PEM_read_bio_X509_AUX() failed (SSL: error:0480006C:PEM '
     'routines::no start line:Expecting: TRUSTED CERTIFICATE)'),
    (site(extra="  error_log /dev/stderr loud;\n"), 'invalid log level "loud" in /etc/nginx/conf.d/default.conf:10'),
])
def test_what_stops_nginx_at_start(conf, message):
    assert emerg(conf, PEMS) == message


def test_optional_no_ca_needs_no_ca_file_and_trusted_certificate_is_enough():
    conf = site("optional_no_ca").replace("  ssl_client_certificate /etc/nginx/tls/ca.crt;\n", "")
    assert request(conf, MALLORY)[0].status == 200
    conf = site().replace("ssl_client_certificate", "ssl_trusted_certificate")
    assert request(conf, ALICE)[0].body.startswith(b"SUCCESS|")


def test_access_log_off_several_logs_and_the_combined_format():
    assert request(site("optional", "  access_log off;\n"))[2] == []
    assert request(site("optional", "  access_log /dev/stdout;\n"))[2] == [
        '10.244.1.7 "GET / HTTP/1.1" 200 NONE ""',
        '10.244.1.7 - - [05/Dec/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 15 "-" "-"']


# -- a server that requires the certificate at the handshake (Go's RequireAndVerifyClientCert) -----------------


def test_a_requiring_server_refuses_the_handshake_with_openssls_alert():
    server = tls.server_context(SERVER.cert_pem.encode(), SERVER.key_pem.encode(), client_ca=CA.cert_pem.encode())
    none = tls.handshake(tls.client_context(CA.cert_pem.encode(), True), server, "web")
    assert (none.ok, none.failed_side) == (False, "server")
    assert none.error_string == "error:0A00045C:SSL routines::tlsv13 alert certificate required"
    other = tls.handshake(tls.client_context(CA.cert_pem.encode(), True, MALLORY.cert_pem.encode(),
                                             MALLORY.key_pem.encode()), server, "web")
    assert other.error_string == "error:0A000418:SSL routines::tlsv1 alert unknown ca"


def test_curl_reads_the_refusal_as_its_first_ssl_read_fails(sb, monkeypatch):  # noqa: F811
    """curl 8 (lib/vtls/openssl.c ossl_recv): exit 56 with OpenSSL's error string after the library's version."""
    from tests.unit.test_commands import sh

    client = running(sb, "client", args=["pause"])
    server = running(sb, "server", args=["netexec", "--http-port=8443", "--tls-cert-file=/c", "--tls-private-key-file=/k"])
    fs = sb.dataplane.workloads.files(client, "main")
    for path, pem in (("/ca.crt", CA.cert_pem), ("/mallory.crt", MALLORY.cert_pem), ("/mallory.key", MALLORY.key_pem)):
        fs.write(path, pem.encode())
    requiring = tls.server_context(SERVER.cert_pem.encode(), SERVER.key_pem.encode(), client_ca=CA.cert_pem.encode())
    monkeypatch.setattr(sb.dataplane.workloads, "tls_server", lambda conn, sni: requiring)
    url = f"https://{server['status']['podIP']}:8443/"
    _, err, code = sh(sb, client, "curl", "-sS", "-k", url)
    assert (code, err) == (56, "curl: (56) OpenSSL SSL_read: OpenSSL/3.3.3: error:0A00045C:SSL routines::tlsv13 alert "
                               "certificate required, errno 0\n")
    _, err, code = sh(sb, client, "curl", "-sS", "-k", "--cert", "/mallory.crt", "--key", "/mallory.key", url)
    assert (code, err) == (56, "curl: (56) OpenSSL SSL_read: OpenSSL/3.3.3: error:0A000418:SSL routines::tlsv1 alert "
                               "unknown ca, errno 0\n")
    _, err, code = sh(sb, client, "curl", "-sS", "--cert", "/nope.crt", url)
    assert (code, err) == (58, "curl: (58) could not load PEM client certificate from /nope.crt, OpenSSL error "
                               "OpenSSL/3.3.3: error:80000002:system library::No such file or directory, (no key "
                               "found, wrong pass phrase, or wrong file format?)\n")
    _, err, code = sh(sb, client, "curl", "-sS", "--cert", "/mallory.crt", "--key", "/nope.key", url)
    assert (code, err) == (58, "curl: (58) unable to set private key file: '/nope.key' type PEM\n")
    _, err, code = sh(sb, client, "curl", "-sS", "--cacert", "/nope.crt", url)
    assert (code, err) == (77, "curl: (77) error setting certificate file: /nope.crt\n")
