"""Mutual TLS with nginx, through kubectl: nginx asks for a client certificate and judges it per request
(src/http/ngx_http_request.c ngx_http_process_request), curl presents one with ``--cert``/``--key``.

Certificates are real (two CAs made with ``cryptography``); the handshakes are OpenSSL's. A certificate of the
trusted CA gets 200 and ``$ssl_client_s_dn``; none gets nginx's 400 "No required SSL certificate was sent";
one of another CA, or an expired one, 400 "The SSL certificate error"; the reasons go to the error log at
``info`` (the server's ``error_log /dev/stderr info``), as nginx writes them."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.conftest import wait_for
from tests.sandbox.certificates import issue

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
SITE = r"""log_format mtls '$remote_addr "$request" $status $ssl_client_verify "$ssl_client_s_dn"';

server {
    listen 443 ssl;
    server_name web;
    ssl_certificate /etc/nginx/tls/tls.crt;
    ssl_certificate_key /etc/nginx/tls/tls.key;
    ssl_client_certificate /etc/nginx/tls/ca.crt;
    ssl_verify_client on;
    error_log /dev/stderr info;
    access_log /dev/stdout mtls;

    location / {
        return 200 "hello $ssl_client_s_dn ($ssl_client_verify, $ssl_protocol)\n";
    }
}

server {
    listen 8443 ssl;
    server_name web;
    ssl_certificate /etc/nginx/tls/tls.crt;
    ssl_certificate_key /etc/nginx/tls/tls.key;
    ssl_verify_client optional_no_ca;

    location / {
        return 200 "$ssl_client_verify\n";
    }
}
"""


@pytest.fixture(scope="module")
def mtls(sandbox, tmp_path_factory):
    """nginx with a server certificate of CA A that trusts CA A for clients, and a client pod holding three
    client certificates: alice (CA A), mallory (CA B), bob (CA A, expired yesterday)."""
    ns = "t-mtls-" + uuid.uuid4().hex[:6]
    ca, other = issue("Shop CA", ca=True), issue("Other CA", ca=True)
    server = issue("web", ca, dns=("web", f"web.{ns}.svc.cluster.local"))
    clients = {"alice": issue("alice", ca, client=True), "mallory": issue("mallory", other, client=True),
               "bob": issue("bob", ca, client=True, valid=(-30, -1))}
    tmp = tmp_path_factory.mktemp("mtls")
    for name, data in {"tls.crt": server.cert_pem, "tls.key": server.key_pem, "ca.crt": ca.cert_pem,
                       **{f"{n}.crt": c.cert_pem for n, c in clients.items()},
                       **{f"{n}.key": c.key_pem for n, c in clients.items()}}.items():
        (tmp / name).write_text(data)
    sandbox.kubectl("create", "namespace", ns)
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "web-tls", *(f"--from-file={tmp / n}" for n in
                                                                         ("tls.crt", "tls.key", "ca.crt")))
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "client-certs", f"--from-file={tmp / 'ca.crt'}",
                    *(f"--from-file={tmp / n}.{ext}" for n in clients for ext in ("crt", "key")))
    sandbox.kubectl("-n", ns, "create", "configmap", "site", f"--from-literal=default.conf={SITE}")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "volumeMounts": [
             {"name": "site", "mountPath": "/etc/nginx/conf.d"}, {"name": "tls", "mountPath": "/etc/nginx/tls"}]}],
             "volumes": [{"name": "site", "configMap": {"name": "site"}},
                         {"name": "tls", "secret": {"secretName": "web-tls"}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"name": "https", "port": 443},
                                                       {"name": "other", "port": 8443}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
         "spec": {"containers": [{"name": "main", "image": AGNHOST, "args": ["pause"],
                                  "volumeMounts": [{"name": "certs", "mountPath": "/certs"}]}],
                  "volumes": [{"name": "certs", "secret": {"secretName": "client-certs"}}]}}]}))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "pod/client", "--timeout=30s")
    wait_for(lambda: sandbox.kubectl("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                                     "-o", "jsonpath={.items[*].endpoints[*].addresses}").stdout, what="web's endpoints")
    for port in (443, 8443):  # kube-proxy writes the new endpoint at its next sync (minSyncPeriod): until then, refused
        wait_for(lambda p=port: sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sk", "-o", "/dev/null",
                                                f"https://web:{p}/", check=False).returncode != 7,
                 what=f"kube-proxy's rules for web:{port}")
    yield ns
    sandbox.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def curl(sandbox, ns: str, *args: str, port: int = 443):
    return sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", "--cacert", "/certs/ca.crt", *args,
                           f"https://web:{port}/", check=False)


def cert(name: str) -> tuple[str, ...]:
    return "--cert", f"/certs/{name}.crt", "--key", f"/certs/{name}.key"


def test_a_client_certificate_of_the_trusted_ca_gets_200_and_its_subject(sandbox, mtls):
    answer = curl(sandbox, mtls, *cert("alice"))
    assert (answer.returncode, answer.stdout) == (0, "hello CN=alice,O=k8snet (SUCCESS, TLSv1.3)\n")
    log = sandbox.kubectl("-n", mtls, "logs", "web").stdout
    assert '"GET / HTTP/1.1" 200 SUCCESS "CN=alice,O=k8snet"' in log  # log_format with the ssl variables


def test_no_certificate_gets_nginxs_400_page_and_an_info_line(sandbox, mtls):
    answer = curl(sandbox, mtls, "-i")
    assert answer.returncode == 0  # nginx completes the handshake and answers at the HTTP level
    head, _, body = answer.stdout.partition("\n\n")  # kubectl's output read as text: CRLF is "\n" here
    assert head.startswith("HTTP/1.1 400 Bad Request") and "Connection: close" in head
    assert body == ("<html>\n<head><title>400 No required SSL certificate was sent</title></head>\n<body>\n"
                    "<center><h1>400 Bad Request</h1></center>\n<center>No required SSL certificate was sent"
                    "</center>\n<hr><center>nginx/1.27.5</center>\n</body>\n</html>\n")
    log = sandbox.kubectl("-n", mtls, "logs", "web").stdout
    assert "[info] 29#29: *1 client sent no required SSL certificate while reading client request headers, " \
           'client: ' in log
    assert '"GET / HTTP/1.1" 400 NONE ""' in log


@pytest.mark.parametrize(("client", "reason"), [("mallory", "20:unable to get local issuer certificate"),
                                                ("bob", "10:certificate has expired")])
def test_a_certificate_of_another_ca_or_expired_gets_400_the_ssl_certificate_error(sandbox, mtls, client, reason):
    answer = curl(sandbox, mtls, *cert(client), "-w", "%{http_code}")
    assert answer.returncode == 0
    assert answer.stdout.startswith("<html>\n<head><title>400 The SSL certificate error</title></head>")
    assert answer.stdout.endswith("400")
    log = sandbox.kubectl("-n", mtls, "logs", "web").stdout
    assert f"client SSL certificate verify error: ({reason}) while reading client request headers" in log


def test_optional_no_ca_lets_an_unknown_ca_through_with_its_verdict(sandbox, mtls):
    assert curl(sandbox, mtls, *cert("mallory"), port=8443).stdout == "FAILED:unable to get local issuer certificate\n"
    assert curl(sandbox, mtls, port=8443).stdout == "NONE\n"


def test_curl_checks_the_server_and_its_own_files_as_curl_8_does(sandbox, mtls):
    wrong_ca = sandbox.kubectl("-n", mtls, "exec", "client", "--", "curl", "-sS", "--cacert", "/certs/alice.crt",
                               "https://web/", check=False)
    assert wrong_ca.returncode == 60
    assert wrong_ca.stderr.startswith("curl: (60) SSL certificate problem: unable to get local issuer certificate\n")
    missing = curl(sandbox, mtls, "--cert", "/certs/carol.crt")
    assert missing.returncode == 58 and "could not load PEM client certificate from /certs/carol.crt" in missing.stderr
