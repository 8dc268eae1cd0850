"""The edge on 127.0.0.1: Ingress routing, TLS by SNI and what Traefik answers, over real sockets.

Sources: https://kubernetes.io/docs/concepts/services-networking/ingress/ (the API) and Traefik v3.7
(github.com/traefik/traefik: pkg/provider/kubernetes/ingress, pkg/muxer, pkg/server/service/loadbalancer/wrr,
pkg/middlewares/forwardedheaders, pkg/tls; https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/
kubernetes/ingress/).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess

import pytest
from tests.conftest import wait_for
from tests.ingress.conftest import backend, echo_args, ingress, logged, rule, subject_cn

import k8snet
from k8snet import kubeproxy


@pytest.fixture
def shop(sandbox, ns, edge):
    """``web`` (2 replicas) and ``cart`` behind one Ingress for ``shop.<ns>.test``."""
    backend(sandbox, ns, "web", 2)
    backend(sandbox, ns, "cart", 1, **echo_args("cart"))
    host = f"shop.{ns}.test"
    ingress(sandbox, ns, "shop", [rule(host, ("/", "Prefix", "web"), ("/cart", "Prefix", "cart"))])
    edge.until(host, "/hostname")
    return host


def test_the_ingress_routes_by_host_and_path_and_publishes_the_traefik_address(sandbox, ns, edge, shop):
    web = {edge.request(shop, "/hostname").text for _ in range(4)}
    assert len(web) == 2 and all(n.startswith("web-") for n in web)
    assert edge.request(shop, "/cart/items").text == "cart\n"  # the path goes to the backend unchanged
    assert edge.request(shop, "/cart").text == "cart\n"
    assert edge.request(shop, "/cartx").text.startswith("NOW: ")  # web's netexec: /cartx is not under /cart
    missing = edge.request(f"other.{ns}.test", "/hostname")
    assert (missing.status, missing.text, missing.headers["content-type"]) == \
        (404, "404 page not found\n", "text/plain; charset=utf-8")  # http.NotFoundHandler
    # status.loadBalancer is what Traefik publishes from its own LoadBalancer Service (publishedService)
    lb = sandbox.kubectl_json("get", "svc", "traefik", "-n", "traefik")["status"]["loadBalancer"]["ingress"][0]["ip"]
    got = wait_for(lambda: sandbox.kubectl_json("get", "ingress", "shop", "-n", ns)["status"]["loadBalancer"]
                   .get("ingress"), what="Ingress status")
    assert got == [{"ip": lb, "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}]
    row = sandbox.kubectl("get", "ingress", "shop", "-n", ns).stdout.splitlines()[1].split()
    assert row[:5] == ["shop", "traefik", shop, lb, "80"]


def test_traefik_balances_round_robin_and_adds_forwarded_headers(sandbox, ns, edge, shop):
    names = [edge.request(shop, "/hostname").text for _ in range(6)]
    assert names[0] != names[1] and names[:2] * 3 == names  # WRR: every request moves to the next pod
    echo = edge.request(shop, "/header", headers={"X-Forwarded-For": "6.6.6.6", "X-Real-Ip": "6.6.6.6"}).json()
    # the client's own X-Forwarded-* are dropped (no trusted IPs); Traefik sets its own
    client = echo["X-Real-Ip"][0]
    assert client != "6.6.6.6" and echo["X-Forwarded-For"] == [client]
    assert echo["X-Forwarded-Proto"] == ["http"] and echo["X-Forwarded-Host"] == [f"{shop}:{edge.http_port}"]
    assert echo["X-Forwarded-Port"] == [str(edge.http_port)]
    # Traefik names itself by os.Hostname(): the pod's name on kind, the host's name where the sandbox runs it
    assert echo["X-Forwarded-Server"] == [socket.gethostname()]
    # the access log, in Traefik's common format, through kubectl logs
    logs = sandbox.kubectl("logs", "-n", "traefik", "deploy/traefik").stdout
    assert '"GET /header HTTP/1.1" 200' in logs and f'"{ns}-shop-{shop.replace(".", "-")}@kubernetes"' in logs


def test_no_ready_endpoint_is_503_and_a_missing_service_is_404(sandbox, ns, edge, shop):
    sandbox.kubectl("scale", "deployment/cart", "-n", ns, "--replicas=0")
    gone = edge.until(shop, "/cart", status=503)
    assert gone.text == "no available server\n"  # wrr.go errNoAvailableServer, allowEmptyServices
    ingress(sandbox, ns, "broken", [rule(f"broken.{ns}.test", ("/", "Prefix", "nothing"))])
    line = logged(sandbox, "Cannot create service", f"ingress=broken namespace={ns}")  # the path is skipped
    assert 'error="service not found"' in line and "serviceName=nothing" in line
    assert edge.request(f"broken.{ns}.test").status == 404


def test_a_class_less_ingress_gets_the_default_class_and_other_classes_are_not_traefiks(sandbox, ns, edge):
    backend(sandbox, ns, "web", 1)
    ingress(sandbox, ns, "plain", [rule(f"plain.{ns}.test", ("/", "Prefix", "web"))])
    obj = sandbox.kubectl_json("get", "ingress", "plain", "-n", ns)
    assert obj["spec"]["ingressClassName"] == "traefik"  # the DefaultIngressClass admission plugin
    edge.until(f"plain.{ns}.test", "/hostname")
    ingress(sandbox, ns, "nginx", [rule(f"nginx.{ns}.test", ("/", "Prefix", "web"))], class_name="nginx")
    assert edge.request(f"nginx.{ns}.test").status == 404
    assert sandbox.kubectl_json("get", "ingress", "nginx", "-n", ns)["status"] == {"loadBalancer": {}}


def test_default_backend_without_rules_catches_what_nothing_else_matches(sandbox, ns, edge):
    backend(sandbox, ns, "fallback", 1)
    ingress(sandbox, ns, "fallback", [], default_backend={"service": {"name": "fallback", "port": {"number": 80}}})
    try:
        assert edge.until(f"anything.{ns}.test", "/hostname").text.startswith("fallback-")
    finally:
        sandbox.kubectl("delete", "ingress", "fallback", "-n", ns)  # one global default backend at a time


def test_mixed_paths_through_the_edge_follow_traefiks_priorities(sandbox, ns, edge):
    backend(sandbox, ns, "exact", 1)
    backend(sandbox, ns, "prefix", 1)
    host = f"mixed.{ns}.test"
    ingress(sandbox, ns, "mixed", [rule(host, ("/foo", "Exact", "exact"), ("/foo", "Prefix", "prefix"))])
    edge.until(host, "/foo")
    # docs: "Mixed /foo (Prefix), /foo (Exact) → /foo: prefers Exact"; Traefik: the longer rule, the Prefix one
    assert last_access(sandbox)["server"] == f"http://{pod_ip(sandbox, ns, 'prefix')}:8080"
    # one Ingress per path type, and router.priority on the Exact one, restore the spec's order
    ingress(sandbox, ns, "mixed", [rule(host, ("/foo", "Prefix", "prefix"))])
    ingress(sandbox, ns, "mixed-exact", [rule(host, ("/foo", "Exact", "exact"))],
            annotations={"traefik.ingress.kubernetes.io/router.priority": "1000"})
    wait_for(lambda: edge.request(host, "/foo").status == 200 and last_access(sandbox)["server"] ==
             f"http://{pod_ip(sandbox, ns, 'exact')}:8080", what="the Exact path's backend to answer /foo")
    assert last_access(sandbox)["router"] == f"{ns}-mixed-exact-mixed-{ns}-test-foo@kubernetes"
    edge.request(host, "/foo/bar")
    assert last_access(sandbox)["server"] == f"http://{pod_ip(sandbox, ns, 'prefix')}:8080"


def pod_ip(sandbox, ns: str, app: str) -> str:
    return sandbox.kubectl("get", "pods", "-n", ns, "-l", f"app={app}", "-o",
                           "jsonpath={.items[0].status.podIP}").stdout


def last_access(sandbox) -> dict[str, str]:
    """The newest access-log line of the Traefik pod: its router and server (common format's last fields)."""
    lines = [line for line in sandbox.kubectl("logs", "-n", "traefik", "deploy/traefik").stdout.splitlines()
             if line.endswith("ms") and '" ' in line]
    fields = re.findall(r'"([^"]*)"', lines[-1])
    return {"request": fields[0], "router": fields[-2], "server": fields[-1]}


# -- TLS ------------------------------------------------------------------------------------------------


def test_https_with_the_secret_verifies_with_the_issuing_ca(edge, secure, pki):
    resp = edge.request(secure, "/hostname", https=True, cafile=pki.ca_file)
    assert resp.status == 200 and resp.text.startswith("web-") and subject_cn(resp) == secure
    echo = edge.request(secure, "/header", https=True, cafile=pki.ca_file).json()
    assert echo["X-Forwarded-Proto"] == ["https"]


def test_an_unknown_sni_gets_traefiks_default_certificate_which_does_not_verify(edge, secure, pki, ns):
    other = f"other.{ns}.test"
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed certificate"):
        edge.request(other, https=True, cafile=pki.ca_file)
    resp = edge.request(other, https=True)  # like curl -k
    assert subject_cn(resp) == "TRAEFIK DEFAULT CERT" and resp.status == 404
    # the certificate is chosen by SNI, the route by the Host header
    mixed = edge.request(secure, "/hostname", https=True, sni=other)
    assert subject_cn(mixed) == "TRAEFIK DEFAULT CERT" and mixed.status == 200


def test_plain_http_on_the_https_port_and_tls_routers_on_the_http_port(edge, secure):
    # websecure has entrypoint TLS, so it has no plain-HTTP router: 404 (Traefik sniffs each connection)
    assert edge.request(secure, "/hostname", port=edge.https_port).status == 404
    # the Ingress has no entrypoints annotation, so its router also serves plain HTTP on web
    assert edge.request(secure, "/hostname").status == 200


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_resolve_against_the_edge_verifies(edge, secure, pki):
    port = edge.https_port
    done = subprocess.run(["curl", "-sS", "--resolve", f"{secure}:{port}:127.0.0.1", "--cacert", str(pki.ca_file),
                           f"https://{secure}:{port}/hostname"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("web-")
    insecure = subprocess.run(["curl", "-sS", "--resolve", f"nope.test:{port}:127.0.0.1", "--cacert",
                               str(pki.ca_file), f"https://nope.test:{port}/"], capture_output=True, text=True,
                              timeout=30)
    assert insecure.returncode == 60, insecure.stderr  # CURLE_PEER_FAILED_VERIFICATION: the default cert
    plain = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--resolve",
                            f"{secure}:{edge.http_port}:127.0.0.1", f"http://{secure}:{edge.http_port}/hostname"],
                           capture_output=True, text=True, timeout=30)
    assert plain.stdout == "200"


def test_a_tls_secret_that_is_missing_is_reported_and_https_falls_back(sandbox, ns, edge):
    backend(sandbox, ns, "web", 1)
    host = f"nosecret.{ns}.test"
    ingress(sandbox, ns, "nosecret", [rule(host, ("/", "Prefix", "web"))],
            tls=[{"hosts": [host], "secretName": "absent"}])
    resp = edge.until(host, "/hostname", https=True)
    assert subject_cn(resp) == "TRAEFIK DEFAULT CERT"
    logged(sandbox, "Error configuring TLS", f'error="secret {ns}/absent does not exist"', "ingress=nosecret")


def test_tls_options_with_client_auth_require_a_client_certificate(sandbox, ns, edge, pki, tmp_path):
    """TLSOption clientAuth RequireAndVerifyClientCert (mTLS), chosen by the router's tls.options and the SNI."""
    from tests.ingress.conftest import make_pki, mtls_route

    host, clients = mtls_route(sandbox, ns, pki, tmp_path)
    alice = clients.issue("alice", [], client=True)
    ok = edge.until(host, "/hostname", https=True, cafile=pki.ca_file, cert=alice)
    assert ok.text.startswith("bank-")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        edge.request(host, "/hostname", https=True, cafile=pki.ca_file)  # no client certificate: no handshake
    stranger = make_pki(tmp_path / "strangers", "other CA").issue("mallory", [], client=True)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        edge.request(host, "/hostname", https=True, cafile=pki.ca_file, cert=stranger)
    # another SNI gets the default TLS options (no client certificate), but the router is not fooled: 421
    sneaky = edge.request(host, "/hostname", https=True, sni=f"other.{ns}.test")
    assert (sneaky.status, sneaky.text) == (421, "Misdirected Request\n")
    assert edge.request(host, "/hostname").status == 404  # the router is on websecure only


# -- the way to the backend: Traefik's pod as the source, NetworkPolicies, nativeLB ---------------------------


def test_network_policies_see_the_traefik_pod_as_the_source(sandbox, ns, edge):
    """Traefik dials the endpoints itself, from its pod in namespace traefik: a policy admitting that namespace
    lets Ingress traffic in; a default deny drops Traefik's connection, which it reports as 504."""
    from tests.ingress.conftest import apply

    backend(sandbox, ns, "web", 1)
    host = f"guarded.{ns}.test"
    apply(sandbox, ns, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "deny-all"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    # Traefik waits 30 s by default; a ServersTransport of the Service's own gives up after 3 s (both timeouts:
    # on kind the dial is what waits, in the sandbox the bridge accepts and the response header never comes)
    apply(sandbox, ns, {"apiVersion": "traefik.io/v1alpha1", "kind": "ServersTransport", "metadata": {"name": "quick"},
                        "spec": {"forwardingTimeouts": {"dialTimeout": "3s", "responseHeaderTimeout": "3s"}}})
    sandbox.kubectl("annotate", "service", "web", "-n", ns,
                    f"traefik.ingress.kubernetes.io/service.serverstransport={ns}-quick@kubernetescrd")
    # before any request: a connection Traefik already holds would stay open (conntrack keeps established flows)
    ingress(sandbox, ns, "guarded", [rule(host, ("/", "Prefix", "web"))])
    # nothing answers the SYN: Traefik gives up after the transport's 3 s (404 while it has not loaded the route)
    def answered():
        try:
            r = edge.request(host, "/hostname", timeout=60)
        except ConnectionError:  # Traefik not ready yet
            return None
        return r if r.status != 404 else None

    dropped = wait_for(answered, what="the route")
    assert (dropped.status, dropped.text) == (504, "Gateway Timeout")
    apply(sandbox, ns, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": {"name": "from-traefik"},
                        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                                     "kubernetes.io/metadata.name": "traefik"}}}]}]}})
    assert edge.until(host, "/hostname").text.startswith("web-")
    assert edge.request(host, "/clientip").text.split(":")[0] == \
        sandbox.kubectl("get", "pods", "-n", "traefik", "-o", "jsonpath={.items[0].status.podIP}").stdout


def test_native_lb_sends_traefik_through_the_cluster_ip(sandbox, ns, edge):
    backend(sandbox, ns, "web", 2)
    kubeproxy.wait_synced(k8snet.connect(), "k8snet-worker", ns, "web")  # Traefik dials the ClusterIP: routed yet
    sandbox.kubectl("annotate", "service", "web", "-n", ns, "traefik.ingress.kubernetes.io/service.nativelb=true")
    host = f"native.{ns}.test"
    ingress(sandbox, ns, "native", [rule(host, ("/", "Prefix", "web"))])
    edge.until(host, "/hostname")
    cluster_ip = sandbox.kubectl_json("get", "svc", "web", "-n", ns)["spec"]["clusterIP"]
    assert last_access(sandbox)["server"] == f"http://{cluster_ip}:80"  # one server: the Service; kube-proxy picks
    # per connection (conntrack), and Traefik keeps its connection alive: one request after another, one pod
    names = {edge.request(host, "/hostname").text for _ in range(10)}
    assert len(names) == 1


def test_pods_reach_the_same_routes_through_the_traefik_service(sandbox, ns, edge, shop):
    """In the cluster, traefik.traefik:80 is the web entrypoint (kube-proxy → the Traefik pod → its routers)."""
    sandbox.kubectl("run", "client", "-n", ns, "--image=registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                    "--restart=Never", "--", "pause")
    sandbox.kubectl("wait", "pod/client", "-n", ns, "--for=condition=Ready", "--timeout=60s")
    out = sandbox.kubectl("exec", "client", "-n", ns, "--", "curl", "-s", "-H", f"Host: {shop}",
                          "http://traefik.traefik.svc.cluster.local/hostname").stdout
    assert out.startswith("web-")
    missing = sandbox.kubectl("exec", "client", "-n", ns, "--", "curl", "-s", "-o", "/dev/null", "-w",
                              "%{http_code}", "http://traefik.traefik/nothing").stdout
    assert missing == "404"


def test_a_backend_can_name_the_service_port(sandbox, ns, edge):
    backend(sandbox, ns, "web", 1)
    host = f"named.{ns}.test"
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "named"},
        "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"name": "http"}}}}]}}]}}))
    assert edge.until(host, "/hostname").text.startswith("web-")
    assert last_access(sandbox)["router"] == f"{ns}-named-named-{ns}-test@kubernetes"
