"""HTTPS from pods to Traefik: ``curl https://traefik.traefik`` in a pod meets the real Traefik's handshake.

In a cluster, traefik.traefik:443 is the websecure entrypoint (kube-proxy → the Traefik pod): the certificate is
the one Traefik picks by SNI (an Ingress's ``spec.tls`` Secret, else its self-signed ``TRAEFIK DEFAULT CERT``,
Traefik v3.7 pkg/tls/tlsmanager.go), a TLSOption with ``RequireAndVerifyClientCert`` refuses a client without a
certificate (Go's crypto/tls sends ``certificate required`` after the TLS 1.3 handshake, so curl fails on its
first read: lib/vtls/openssl.c ossl_recv, exit 56), and the pod's own address reaches Traefik (X-Forwarded-For).
"""

from __future__ import annotations

import json

import pytest
from tests.ingress.conftest import mtls_route

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def start_client(sandbox, ns: str):
    """An agnhost pod (it has curl) with the test CA at /ca/ca.crt and Secret ``client-id``, if it exists, at /id;
    returns a function running ``curl -sS`` in it."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": ns},
           "spec": {"containers": [{"name": "c", "image": AGNHOST, "args": ["pause"],
                                    "volumeMounts": [{"name": "ca", "mountPath": "/ca"},
                                                     {"name": "id", "mountPath": "/id"}]}],
                    "volumes": [{"name": "ca", "configMap": {"name": "ca"}},
                                {"name": "id", "secret": {"secretName": "client-id", "optional": True}}]}}
    sandbox.kubectl("apply", "-f", "-", input=json.dumps(pod))
    sandbox.kubectl("wait", "pod/client", "-n", ns, "--for=condition=Ready", "--timeout=60s")
    return lambda *args: sandbox.kubectl("exec", "client", "-n", ns, "--", "curl", "-sS", *args, check=False)


@pytest.fixture
def client(sandbox, ns, pki):
    sandbox.kubectl("create", "configmap", "ca", "-n", ns, f"--from-file=ca.crt={pki.ca_file}")
    return start_client(sandbox, ns)


def traefik_ip(sandbox) -> str:
    return sandbox.kubectl("get", "svc", "traefik", "-n", "traefik", "-o", "jsonpath={.spec.clusterIP}").stdout


def test_a_pod_gets_the_ingress_certificate_by_sni_and_traefik_sees_its_address(sandbox, ns, secure, client):
    ip = traefik_ip(sandbox)
    done = client("--cacert", "/ca/ca.crt", "--resolve", f"{secure}:443:{ip}", f"https://{secure}/hostname")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("web-")
    echo = json.loads(client("--cacert", "/ca/ca.crt", "--resolve", f"{secure}:443:{ip}",
                             f"https://{secure}/header").stdout)
    pod_ip = sandbox.kubectl("get", "pod", "client", "-n", ns, "-o", "jsonpath={.status.podIP}").stdout
    assert echo["X-Forwarded-Proto"] == ["https"]
    assert echo["X-Forwarded-For"] == [pod_ip]  # the PROXY header carries the pod's address, as on a cluster


def test_a_name_without_a_certificate_gets_traefiks_default_one(sandbox, ns, secure, client):
    """curl checks the chain against its CA file: Traefik's default certificate is self-signed (exit 60); with -k
    the handshake completes and the router for the Host header answers."""
    refused = client("--cacert", "/ca/ca.crt", "https://traefik.traefik/")
    assert refused.returncode == 60
    assert "curl: (60) SSL certificate problem: self-signed certificate" in refused.stderr
    insecure = client("-k", "-o", "/dev/null", "-w", "%{http_code}", "https://traefik.traefik/")
    assert (insecure.returncode, insecure.stdout) == (0, "404")
    routed = client("-k", "-H", f"Host: {secure}", "https://traefik.traefik.svc.cluster.local/hostname")
    assert routed.stdout.startswith("web-")


def test_plain_http_to_the_websecure_port_is_answered_by_traefik(sandbox, ns, secure, client):
    """Traefik sniffs each connection on websecure: an HTTP request there meets no plain router (404), and
    the web entrypoint (port 80) does not speak TLS (curl: wrong version number, exit 35)."""
    plain = client("-o", "/dev/null", "-w", "%{http_code}", "-H", f"Host: {secure}", "http://traefik.traefik:443/")
    assert plain.stdout == "404"
    wrong = client("-k", "https://traefik.traefik:80/")
    assert wrong.returncode == 35 and "wrong version number" in wrong.stderr


def test_a_tls_option_requiring_client_certificates_refuses_a_pod_without_one(sandbox, ns, edge, pki, tmp_path,
                                                                             client):
    host, clients = mtls_route(sandbox, ns, pki, tmp_path)
    alice = clients.issue("alice", [], client=True)
    edge.until(host, "/hostname", https=True, cafile=pki.ca_file, cert=alice)
    ip = traefik_ip(sandbox)
    bare = client("--cacert", "/ca/ca.crt", "--resolve", f"{host}:443:{ip}", f"https://{host}/hostname")
    assert bare.returncode == 56
    assert "OpenSSL SSL_read: OpenSSL/3.3.3: error:0A00045C:SSL routines::tlsv13 alert certificate required" \
        in bare.stderr
    sandbox.kubectl("create", "secret", "generic", "client-id", "-n", ns, f"--from-file=tls.crt={alice[0]}",
                    f"--from-file=tls.key={alice[1]}")
    sandbox.kubectl("delete", "pod", "client", "-n", ns, "--wait=true")
    done = start_client(sandbox, ns)("--cacert", "/ca/ca.crt", "--cert", "/id/tls.crt", "--key", "/id/tls.key",
                                     "--resolve", f"{host}:443:{ip}", f"https://{host}/hostname")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("bank-")


def test_busybox_wget_reaches_traefik_over_https(sandbox, ns, secure):
    """busybox's own TLS code verifies nothing and says so (networking/wget.c spawn_ssl_client)."""
    sandbox.kubectl("run", "bb", "-n", ns, "--image=busybox:1.37", "--restart=Never", "--", "sleep", "3600")
    sandbox.kubectl("wait", "pod/bb", "-n", ns, "--for=condition=Ready", "--timeout=60s")
    done = sandbox.kubectl("exec", "bb", "-n", ns, "--", "wget", "-qO-", "--header", f"Host: {secure}",
                           "https://traefik.traefik/hostname", check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("web-")
    assert "wget: note: TLS certificate validation not implemented" in done.stderr
