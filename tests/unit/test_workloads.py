"""The emulated programs: which image runs what, their ports, answers and log lines.

Sources (cited per test): kubernetes/kubernetes test/images/agnhost (netexec/netexec.go,
serve-hostname/serve_hostname.go, pause/pause.go, Dockerfile), hashicorp/http-echo v1.0.0 (main.go,
handlers.go, Dockerfile), the nginx Docker library image (docker-entrypoint.sh, the Debian package's
index.html, nginx's combined log format) — and the real network/dns/proxy modules of the data plane.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.dataplane.ingress.program import entrypoints
from k8snet.sandbox.dataplane.logs import LogBook
from k8snet.sandbox.dataplane.model import Connection, HttpRequest
from k8snet.sandbox.dataplane.workloads import (
    EMULATED,
    NGINX_INDEX,
    image_family,
    nginx_version,
    parse_program,
)
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
GO_LOG = r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} "


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=5)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def running(sb: Sandbox, name: str, image: str = AGNHOST, **container: Any) -> dict[str, Any]:
    """A pod scheduled and started by the lifecycle's own stages (so the start hook runs)."""
    rt = sb.registry.lookup("", "v1", "pods")
    body = {"metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": image, **container}]}}
    sb.api.create(rt, "default", body, WriteOptions(field_manager="test"))
    lifecycle.schedule(sb, sb.store.get("pods", "default", name))
    lifecycle.start(sb, sb.store.get("pods", "default", name))
    return sb.store.get("pods", "default", name)


def lines(sb: Sandbox, pod: dict[str, Any], container: str = "main") -> list[str]:
    return [text for _, text in sb.dataplane.logs.lines(pod["metadata"]["uid"], container)]


def get(sb: Sandbox, src: dict[str, Any] | None, dst: dict[str, Any], port: int, path: str,
        headers: dict[str, str] | None = None):
    return sb.dataplane.http(src, dst["status"]["podIP"], port, HttpRequest("GET", path, headers or {}),
                             src_ip=None if src else "172.18.0.1")


# -- which program runs -------------------------------------------------------------------------


def test_image_families_from_references():
    assert image_family(AGNHOST) == "agnhost"
    assert image_family("k8s.gcr.io/e2e-test-images/agnhost:2.39") == "agnhost"
    assert image_family("hashicorp/http-echo:1.0.0") == "http-echo"
    assert image_family("docker.io/library/nginx:1.27") == "nginx"
    assert image_family("nginx") == "nginx"
    assert image_family("registry.k8s.io/coredns/coredns:v1.12.0") == "coredns"
    assert image_family("redis:7.4") is None
    assert nginx_version("1.27") == "1.27.5" and nginx_version("1.26.2-alpine") == "1.26.2"
    assert image_family("docker.io/library/traefik:v3.7.14@sha256:" + "0" * 64) == "traefik"
    assert image_family("registry.k8s.io/serve_hostname") == image_family("k8s.gcr.io/serve_hostname") == \
        "serve_hostname"
    assert image_family("gcr.io/google-containers/busybox") == "busybox"
    assert image_family("bprashanth/nginxhttps:1.0") == "nginx"
    assert image_family("radial/busyboxplus:curl") == "busyboxplus"
    assert image_family("docker.io/kennethreitz/httpbin") == "httpbin"
    assert image_family("gcr.io/k8s-staging-gateway-api/echo-basic:v20260204-monthly-2026.01-60-g28382302") == \
        "echo-basic"
    assert image_family("registry.k8s.io/kube-proxy:v1.33.1") == "kube-proxy"
    assert image_family("docker.io/kindest/kindnetd:v20260528-9350166c") == "kindnetd"
    assert set(EMULATED) == {"agnhost", "http-echo", "nginx", "coredns", "traefik", "busybox", "busyboxplus",
                             "alpine", "curl", "serve_hostname", "netshoot", "httpbin", "echo-basic", "kube-proxy",
                             "kindnetd", "istiod", "istio-cni", "ztunnel", "istio-proxy", "cilium", "cilium-operator",
                             "calico-node", "calico-cni", "calico-kube-controllers"}
    assert image_family("quay.io/cilium/cilium:v1.20.2@sha256:" + "0" * 64) == "cilium"
    assert image_family("quay.io/calico/node:v3.32.1") == "calico-node"
    assert image_family("docker.io/istio/ztunnel:1.31.0-distroless") == "ztunnel"
    assert image_family("docker.io/istio/proxyv2:1.31.0-distroless") == "istio-proxy"



def test_traefik_entrypoints_come_from_the_container_args():
    ports, tls = entrypoints(["--entrypoints.web.address=:8000/tcp", "--entryPoints.websecure.address=:8443/tcp",
                              "--entrypoints.websecure.http.tls=true", "--ping=true"])
    assert ports == {8000: "web", 8443: "websecure"} and tls == {8443}
    assert entrypoints(["--log.level=INFO"]) == ({80: "http"}, set())

def test_agnhost_defaults_from_upstream_flags():
    """netexec.go: --http-port 8080, --udp-port 8081, --sctp-port -1; serve_hostname.go: --port 9376 HTTP."""
    netexec = parse_program("agnhost", ["/agnhost", "netexec"], {})
    assert netexec.ports == {(8080, "TCP"): "http", (8081, "UDP"): "udp"}
    custom = parse_program("agnhost", ["/agnhost", "netexec", "--http-port=80", "--udp-port", "-1"], {})
    assert custom.ports == {(80, "TCP"): "http"}
    assert parse_program("agnhost", ["/agnhost", "serve-hostname"], {}).ports == {(9376, "TCP"): "http"}
    udp = parse_program("agnhost", ["/agnhost", "serve-hostname", "--http=false", "--udp", "--port=53"], {})
    assert udp.ports == {(53, "UDP"): "udp"}
    clash = parse_program("agnhost", ["/agnhost", "serve-hostname", "--udp"], {})
    assert clash.name == "exited" and "HTTP mode at the same time" in clash.problem
    assert parse_program("agnhost", ["/agnhost", "pause"], {}).ports == {}
    assert parse_program("agnhost", ["/agnhost", "netexec", "--bogus"], {}).problem == "Error: unknown flag: --bogus"


def test_default_cmd_is_pause_and_script_prefix_runs_first(sb: Sandbox):
    """agnhost's Dockerfile: ENTRYPOINT ["/agnhost"], CMD ["pause"]; pause.go prints "Paused"."""
    pod = running(sb, "idle")
    assert not sb.dataplane.workloads.listening(pod, 8080, "TCP")
    assert lines(sb, pod) == ["Paused"]
    scripted = running(sb, "scripted", command=["sh", "-c", "touch /tmp/healthy && exec /agnhost netexec"])
    assert sb.dataplane.workloads.listening(scripted, 8080, "TCP")
    assert sb.dataplane.workloads.files(scripted, "main").exists("/tmp/healthy")


def test_args_expand_env_as_kubernetes_does(sb: Sandbox):
    pod = running(sb, "echo", image="hashicorp/http-echo:1.0.0", args=["-text=hello from $(POD_NAME)"],
                  env=[{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
    assert get(sb, None, pod, 5678, "/").body == b"hello from echo\n"


def test_unknown_image_listens_nowhere_and_says_so(sb: Sandbox):
    pod = running(sb, "bb", image="redis:7.4", command=["sleep", "3600"], ports=[{"containerPort": 80}])
    assert not sb.dataplane.workloads.listening(pod, 80, "TCP")
    text = sb.dataplane.workloads.describe(pod)
    assert "not emulated" in text and "refused" in text


def test_describe_flags_a_declared_port_nothing_listens_on(sb: Sandbox):
    pod = running(sb, "web", image="nginx:1.27", ports=[{"containerPort": 8080}])
    assert "nginx listening on 80/TCP" in sb.dataplane.workloads.describe(pod)
    assert "containerPort 8080/TCP but nothing listens there" in sb.dataplane.workloads.describe(pod)


# -- startup log lines ----------------------------------------------------------------------------


def test_netexec_startup_lines_netexec_go(sb: Sandbox):
    """startServer logs "Started HTTP server on port %d"; startUDPServer "Started UDP server on port %s %d"
    with address "" (two spaces)."""
    pod = running(sb, "n", args=["netexec"])
    assert re.fullmatch(GO_LOG + "Started HTTP server on port 8080", lines(sb, pod)[0])
    assert re.fullmatch(GO_LOG + "Started UDP server on port  8081", lines(sb, pod)[1])


def test_http_echo_and_nginx_startup_lines(sb: Sandbox):
    echo = running(sb, "e", image="hashicorp/http-echo:1.0.0", args=["-text=hi"])
    assert re.fullmatch(GO_LOG + r"\[INFO\] server is listening on :5678", lines(sb, echo)[0])
    web = running(sb, "w", image="nginx:1.27.3")
    log = lines(sb, web)
    assert log[0] == ("/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform "
                      "configuration")
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up" in log
    assert any(line.endswith("[notice] 1#1: nginx/1.27.3") for line in log)


# -- agnhost netexec endpoints (netexec.go) ---------------------------------------------------------


def test_netexec_hostname_clientip_echo_header(sb: Sandbox):
    server, client = running(sb, "server", args=["netexec"]), running(sb, "client", args=["netexec"])
    assert get(sb, client, server, 8080, "/hostname").body == b"server"
    ip, port = get(sb, client, server, 8080, "/clientip").body.decode().rsplit(":", 1)
    assert ip == client["status"]["podIP"] and 32768 <= int(port) <= 60999
    echo = get(sb, client, server, 8080, "/echo?msg=hello%20world&code=201")
    assert (echo.status, echo.body) == (201, b"hello world")
    assert get(sb, client, server, 8080, "/header?key=x-test", {"X-Test": "yes"}).body == b"yes"
    whole = json.loads(get(sb, client, server, 8080, "/header", {"X-Test": "yes"}).body)
    assert whole == {"X-Test": ["yes"]}
    assert get(sb, client, server, 8080, "/").body.startswith(b"NOW: ")
    log = lines(sb, server)
    assert re.fullmatch(GO_LOG + "GET /hostname", log[2])
    assert re.fullmatch(GO_LOG + "GET /echo\\?msg=hello world&code=201", log[4])


def test_netexec_healthz_needs_the_udp_server(sb: Sandbox):
    """healthzHandler: 200 once the UDP (or SCTP) server is up, 412 when --udp-port=-1 leaves it off."""
    assert get(sb, None, running(sb, "a", args=["netexec"]), 8080, "/healthz").status == 200
    assert get(sb, None, running(sb, "b", args=["netexec", "--udp-port=-1"]), 8080, "/healthz").status == 412


def test_netexec_shell_runs_emulated_commands_only(sb: Sandbox):
    """/shell answers {"output", "error"} as shellHandler does, but through the sandbox's emulated shell."""
    pod = running(sb, "s", args=["netexec"])
    ok = json.loads(get(sb, None, pod, 8080, "/shell?cmd=hostname").body)
    assert ok == {"output": "s\n"}
    denied = json.loads(get(sb, None, pod, 8080, "/shell?cmd=ps").body)
    assert denied["error"] == "exit status 127" and "not emulated" in denied["output"]


def test_dial_many_tries_from_the_pod_itself(sb: Sandbox):
    """dialHandler: N fresh connections; 200 with {"responses": [...]} (errors key left out)."""
    server, client = running(sb, "server", args=["netexec"]), running(sb, "client", args=["netexec"])
    ip = server["status"]["podIP"]
    answer = get(sb, None, client, 8080, f"/dial?request=hostname&protocol=http&host={ip}&port=8080&tries=3")
    assert answer.status == 200 and json.loads(answer.body) == {"responses": ["server"] * 3}
    udp = get(sb, None, client, 8080, f"/dial?request=hostname&protocol=udp&host={ip}&port=8081&tries=2")
    assert json.loads(udp.body) == {"responses": ["server", "server"]}
    assert re.search(r"GET /dial\?host=.*&protocol=http&port=8080&request=hostname&tries=3", "\n".join(
        lines(sb, client)))


def test_dial_errors_worded_as_go_http_client(sb: Sandbox):
    """A failed try is Go's *url.Error text; a failed LAST try hides "responses" (len(response) > 0 check)."""
    client = running(sb, "client", args=["netexec"])
    ip = client["status"]["podIP"]
    refused = json.loads(get(sb, None, client, 8080, f"/dial?request=hostname&host={ip}&port=81&tries=1").body)
    assert refused == {"errors": [f'Get "http://{ip}:81/hostname": dial tcp {ip}:81: connect: connection refused']}
    lost = json.loads(get(sb, None, client, 8080, "/dial?request=hostname&host=10.244.9.9&port=80").body)
    assert lost == {"errors": ['Get "http://10.244.9.9:80/hostname": context deadline exceeded '
                               "(Client.Timeout exceeded while awaiting headers)"]}
    bad = get(sb, None, client, 8080, "/dial?request=hostname&host=nope&port=80")
    assert bad.status == 400
    assert bad.body == b"host and/or port param are invalid. lookup nope on 10.96.0.10:53: no such host\n"
    assert get(sb, None, client, 8080, "/dial?host=x&port=80").body == b"request parameter not specified. <nil>\n"


def test_serve_hostname_answers_the_pod_name(sb: Sandbox):
    pod = running(sb, "sh-1", args=["serve-hostname"])
    assert get(sb, None, pod, 9376, "/anything").body == b"sh-1"
    assert re.fullmatch(GO_LOG + r"HTTP request from 172\.18\.0\.1:\d+", lines(sb, pod)[-1])


# -- http-echo v1.0.0 and nginx -------------------------------------------------------------------------


def test_http_echo_text_status_headers_and_log(sb: Sandbox):
    """main.go: -text + newline, -status-code; handlers.go: X-App-Name/X-App-Version, httpLogFormat."""
    pod = running(sb, "echo", image="hashicorp/http-echo:1.0.0", args=["-text=hi", "-status-code=503"])
    client = running(sb, "client", args=["netexec"])
    answer = get(sb, client, pod, 5678, "/x", {"Host": "echo:5678", "User-Agent": "curl/8.12.1"})
    assert (answer.status, answer.body) == (503, b"hi\n")
    assert answer.headers["X-App-Name"] == "http-echo" and answer.headers["X-App-Version"] == "1.0.0"
    assert get(sb, client, pod, 5678, "/health").body == b'{"status":"ok"}\n'
    log = lines(sb, pod)
    assert len(log) == 2  # /health is not wrapped in httpLog
    assert re.fullmatch(GO_LOG + rf'echo:5678 {client["status"]["podIP"]}:\d+ "GET /x HTTP/1.1" 503 3 '
                        r'"curl/8.12.1" \S+', log[1])


def test_http_echo_image_env_default(sb: Sandbox):
    """The image sets ENV ECHO_TEXT="hello-world" (Dockerfile), used when -text is not given."""
    pod = running(sb, "echo", image="hashicorp/http-echo:1.0.0")
    assert get(sb, None, pod, 5678, "/").body == b"hello-world\n"


def test_nginx_default_page_404_and_combined_log(sb: Sandbox):
    pod = running(sb, "web", image="nginx:1.27.3")
    client = running(sb, "client", args=["netexec"])
    page = get(sb, client, pod, 80, "/", {"User-Agent": "curl/8.12.1"})
    assert page.status == 200 and page.body == NGINX_INDEX and len(NGINX_INDEX) == 615
    assert page.headers["Server"] == "nginx/1.27.3" and page.headers["Content-Type"] == "text/html"
    missing = get(sb, client, pod, 80, "/nope")
    assert missing.status == 404 and b"<hr><center>nginx/1.27.3</center>" in missing.body
    access = [line for line in lines(sb, pod) if '"GET / HTTP/1.1"' in line][0]
    assert re.fullmatch(rf'{client["status"]["podIP"]} - - \[\d{{2}}/\w{{3}}/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} \+0000\] '
                        r'"GET / HTTP/1\.1" 200 615 "-" "curl/8\.12\.1" "-"', access)


def test_nginx_serves_what_exec_wrote(sb: Sandbox):
    pod = running(sb, "web", image="nginx")
    result = asyncio.run(sb.dataplane.exec(pod, "main", ["sh", "-c", "echo hello > /usr/share/nginx/html/index.html"]))
    assert result.exit_code == 0
    assert get(sb, None, pod, 80, "/").body == b"hello\n"


def test_nginx_reads_the_files_as_the_release_and_command_line_of_its_container(sb: Sandbox):
    # the image's CMD is nginx -g "daemon off;" (nginxinc/docker-nginx): read before nginx.conf (src/core/nginx.c)
    pod = running(sb, "web", image="nginx:1.27")
    result = asyncio.run(sb.dataplane.exec(pod, "main", ["sh", "-c", "sed -i 's/^pid/daemon off;\\npid/' "
                                                         "/etc/nginx/nginx.conf && echo 'early_hints 1;' > "
                                                         "/etc/nginx/conf.d/hints.conf"]))
    assert result.exit_code == 0
    workloads = sb.dataplane.workloads
    assert workloads.load_nginx(pod, "main") == '"daemon" directive is duplicate in /etc/nginx/nginx.conf:5'
    # nginx -t (no -g) gets past it, to what 1.27.5 does not know yet (early_hints came with 1.29.0)
    assert workloads.load_nginx(pod, "main", "") == 'unknown directive "early_hints" in /etc/nginx/conf.d/hints.conf:1'


def test_coredns_health_and_ready(sb: Sandbox):
    pod = next(p for p in sb.store.list("pods", "kube-system")) if sb.store.list("pods", "kube-system") else \
        running(sb, "dns", image="registry.k8s.io/coredns/coredns:v1.12.0", args=["-conf", "/etc/coredns/Corefile"])
    assert get(sb, None, pod, 8181, "/ready").body == b"OK"
    assert get(sb, None, pod, 8080, "/health").body == b"OK"
    assert sb.dataplane.workloads.listening(pod, 53, "UDP")


def test_serve_http_on_a_direct_connection(sb: Sandbox):
    """The kubelet's probes build the Connection themselves (no kube-proxy, no policy)."""
    pod = running(sb, "n", args=["netexec"])
    conn = Connection(None, pod, pod["status"]["podIP"], 8080, "TCP", "10.244.1.1", 40000)
    assert sb.dataplane.workloads.serve_http(conn, HttpRequest("GET", "/clientip")).body == b"10.244.1.1:40000"


# -- the log book ------------------------------------------------------------------------------------


def test_logbook_bounded_followers_and_forget(sb: Sandbox):
    book = LogBook(sb.clock, limit=3)

    async def follow() -> list[Any]:
        queue = book.subscribe("u", "c")
        book.append("u", "c", "one\ntwo")
        book.forget("u")
        return [await queue.get() for _ in range(3)]

    got = asyncio.run(follow())
    assert [g[1] for g in got[:2]] == ["one", "two"] and got[2] is None
    for i in range(5):
        book.append("u", "c", str(i))
    assert [text for _, text in book.lines("u", "c")] == ["2", "3", "4"]


def test_porter_serves_each_serve_variable_on_its_protocol():
    """agnhost porter (porter/porter.go): SERVE_{PORT,TCP_PORT,UDP_PORT,TLS_PORT,SCTP_PORT}_N → a server on N."""
    env = {"SERVE_PORT_80": "foo", "SERVE_UDP_PORT_81": "bar", "SERVE_SCTP_PORT_82": "baz",
           "SERVE_TLS_PORT_443": "tls", "SERVE_PORT_x": "ignored", "OTHER": "1"}
    program = parse_program("agnhost", ["/agnhost", "porter"], env)
    assert program.name == "porter"
    assert program.ports == {(80, "TCP"): "http", (81, "UDP"): "udp", (82, "SCTP"): "sctp", (443, "TCP"): "https"}
    assert program.opts["values"][(81, "UDP")] == "bar"
    assert "{go} Started SCTP server" in program.startup
    assert parse_program("agnhost", ["/agnhost", "porter", "--bogus"], env).name == "exited"


def test_a_container_log_keeps_at_most_the_kubelet_s_rotation_size(sb, monkeypatch):
    """containerLogMaxSize (10Mi by default): older lines are rotated away, in bytes as well as lines."""
    from k8snet.sandbox.dataplane import logs

    monkeypatch.setattr(logs, "BYTES", 1000)
    book = LogBook(sb.clock)
    for i in range(100):
        book.append("uid", "c", f"{i:03d} " + "x" * 96)
    kept = book.lines("uid", "c")
    assert sum(len(text) + 1 for _, text in kept) <= 1000
    assert kept[-1][1].startswith("099") and len(kept) == 9


# -- echo-basic (gateway-api v1.5.1 conformance/echo-basic/echo-basic.go) --------------------------------

ECHO_BASIC = "gcr.io/k8s-staging-gateway-api/echo-basic:v20260204-monthly-2026.01-60-g28382302"
POD_ENV = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
           {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]


def test_echo_basic_echoes_the_request_as_the_conformance_suite_reads_it(sb: Sandbox):
    """echoHandler: RequestAssertions as json.MarshalIndent(…, "", " ") writes it — the request URI, Host apart
    from the canonical headers, the Context (inline) from the downward-API env — and X-Echo-Set-Header's pairs
    set on the response (writeEchoResponseHeaders, names' case kept)."""
    assert image_family(ECHO_BASIC) == "echo-basic"
    pod = running(sb, "infra-backend-v1-6b4f-x2x9k", image=ECHO_BASIC, env=POD_ENV)
    client = running(sb, "client", args=["netexec"])
    answer = get(sb, client, pod, 3000, "/one/two?x=<1>", {"Host": "example.com", "version": "one",
                                                            "X-Echo-Set-Header": "X-Foo: a, x-bar:b"})
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json"
    assert answer.headers["X-Foo"] == " a" and answer.headers["x-bar"] == "b"  # Cut keeps the value's space
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.body.startswith(b'{\n "path": "/one/two?x=\\u003c1\\u003e",\n "host": "example.com",\n')
    echoed = json.loads(answer.body)
    assert list(echoed) == ["path", "host", "method", "proto", "headers", "httpPort", "namespace", "ingress",
                            "service", "pod"]
    assert echoed["headers"] == {"Version": ["one"], "X-Echo-Set-Header": ["X-Foo: a, x-bar:b"]}
    assert (echoed["method"], echoed["proto"], echoed["httpPort"]) == ("GET", "HTTP/1.1", "3000")
    assert (echoed["namespace"], echoed["pod"]) == ("default", "infra-backend-v1-6b4f-x2x9k")
    assert lines(sb, pod)[:2] == ["Starting server, listening on port 3000 (http)",
                                  "Starting server, listening on port 3001 (h2c)"]
    assert re.fullmatch(r"Echoing back request made to /one/two\?x=<1> to client \(10\.244\.\d+\.\d+:\d+\)",
                        lines(sb, pod)[-1])


def test_echo_basic_mux_health_status_ws_delay_and_h2c_port(sb: Sandbox):
    """The ServeMux (/health, /status/, the subtree and clean-path redirects), statusHandler's regexp on the
    request URI, x/net/websocket's refusal, delayResponse's time.ParseDuration error, runH2CServer's 400."""
    pod = running(sb, "echo", image=ECHO_BASIC, env=POD_ENV)
    assert (get(sb, None, pod, 3000, "/health").status, get(sb, None, pod, 3000, "/health").body) == (200, b"OK")
    assert get(sb, None, pod, 3000, "/status/418").status == 418
    assert get(sb, None, pod, 3000, "/status/418?x=1").status == 400  # the regexp reads the whole request URI
    moved = get(sb, None, pod, 3000, "/status")
    assert moved.status == 301 and moved.headers["Location"] == "/status/"
    assert get(sb, None, pod, 3000, "/a/../b").headers["Location"] == "/b"
    assert json.loads(get(sb, None, pod, 3000, "//x").body)["path"] == "//x"  # preserveSlashes: routed, echoed
    ws = get(sb, None, pod, 3000, "/ws")
    assert (ws.status, ws.body) == (400, b"not websocket protocol")
    bad = get(sb, None, pod, 3000, "/?delay=10")
    assert bad.status == 500 and json.loads(bad.body) == {"message": 'time: missing unit in duration "10"'}
    assert get(sb, None, pod, 3000, "/?delay=1.5s").delay == 1.5
    h2c = get(sb, None, pod, 3001, "/")
    assert (h2c.status, h2c.body) == (400, b"Expected h2c request")


def test_echo_basic_says_what_it_does_not_emulate(sb: Sandbox):
    """HTTPS (TLS_SERVER_CERT/TLS_SERVER_PRIVKEY) and the gRPC/TCP modes are not emulated: a Warning event or
    the pod's description says so, and nothing listens where the real server would."""
    tls = running(sb, "tls", image=ECHO_BASIC, env=[{"name": "TLS_SERVER_CERT", "value": "/c"},
                                                     {"name": "TLS_SERVER_PRIVKEY", "value": "/k"}])
    assert not sb.dataplane.workloads.listening(tls, 8443)
    warned = [e["message"] for e in sb.store.list("events", "default") if e["reason"] == "NotEmulated"]
    assert warned == ["container main: echo-basic's HTTPS server (TLS_SERVER_CERT): nothing listens on port 8443"]
    grpc = running(sb, "grpc", image=ECHO_BASIC, env=[{"name": "GRPC_ECHO_SERVER", "value": "1"}])
    assert not sb.dataplane.workloads.listening(grpc, 3000)
    assert "GRPC_ECHO_SERVER mode is not emulated" in sb.dataplane.workloads.describe(grpc)
