"""The exec'd commands of the probe contract: outputs, error lines and exit codes of the real programs.

Sources: test/images/agnhost/connect/connect.go (TIMEOUT/REFUSED/DNS/OTHER/UNKNOWN), curl 8's error
texts (lib/strerror.c, lib/multi.c "Connection timed out after N milliseconds", lib/cf-socket.c "Failed to
connect to H port P after N ms"), busybox 1.37 wget.c/coreutils wording vs GNU coreutils (Debian nginx),
containerd's exec start error as kubectl prints it (kubernetes issue #40820 and its successors).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.controllers import pods as lifecycle
from k8snet.sandbox.dataplane.commands import ExecStartFailure, run_sync, split_script
from k8snet.sandbox.dataplane.model import Hop
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.instance import Sandbox

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=9)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def running(sb: Sandbox, name: str, image: str = AGNHOST, **container: Any) -> dict[str, Any]:
    rt = sb.registry.lookup("", "v1", "pods")
    body = {"metadata": {"name": name}, "spec": {"containers": [{"name": "main", "image": image, **container}]}}
    sb.api.create(rt, "default", body, WriteOptions(field_manager="test"))
    lifecycle.schedule(sb, sb.store.get("pods", "default", name))
    lifecycle.start(sb, sb.store.get("pods", "default", name))
    return sb.store.get("pods", "default", name)


def sh(sb: Sandbox, pod: dict[str, Any], *argv: str) -> tuple[str, str, int]:
    result = asyncio.run(sb.dataplane.exec(pod, "main", list(argv)))
    return result.stdout.decode(), result.stderr.decode(), result.exit_code


@pytest.fixture
def pair(sb: Sandbox) -> tuple[dict[str, Any], dict[str, Any]]:
    return running(sb, "client", args=["netexec"]), running(sb, "server", args=["netexec"])


# -- /agnhost connect (connect.go) -------------------------------------------------------------------


def test_connect_success_is_silent_exit_0(sb, pair):
    client, server = pair
    assert sh(sb, client, "/agnhost", "connect", f"{server['status']['podIP']}:8080", "--timeout=1s") == ("", "", 0)


def test_connect_refused_timeout_dns_unknown(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    assert sh(sb, client, "/agnhost", "connect", f"{ip}:81", "--timeout=1s") == ("", "REFUSED\n", 1)
    assert sh(sb, client, "/agnhost", "connect", "10.244.7.7:80", "--timeout=1s") == ("", "TIMEOUT\n", 1)
    assert sh(sb, client, "/agnhost", "connect", "nope:80", "--timeout=1s") == (
        "", "DNS: lookup nope on 10.96.0.10:53: no such host\n", 1)
    assert sh(sb, client, "/agnhost", "connect", ip, "--timeout=1s") == (
        "", f"UNKNOWN: address {ip}: missing port in address\n", 1)


def test_connect_policy_drop_is_timeout(sb, pair):
    class DenyAll:
        def verdict(self, src_pod, src_ip, dst_pod, port, protocol):  # noqa: ANN001
            return False, [Hop("policy", "deny", {"allowed": False})]

    client, server = pair
    sb.dataplane.policy = DenyAll()
    assert sh(sb, client, "/agnhost", "connect", f"{server['status']['podIP']}:8080", "--timeout=1s")[1:] == (
        "TIMEOUT\n", 1)


def test_connect_udp_needs_a_reply(sb, pair):
    """connectUDP writes "hostname\\n" and reads; parseUDPErrorAndExit prints the Go error after the prefix."""
    client, server = pair
    ip = server["status"]["podIP"]
    assert sh(sb, client, "/agnhost", "connect", f"{ip}:8081", "--protocol=udp", "--timeout=1s") == ("", "", 0)
    out, err, code = sh(sb, client, "/agnhost", "connect", f"{ip}:9999", "--protocol=udp", "--timeout=1s")
    assert code == 1 and err.startswith(f"REFUSED: read udp {client['status']['podIP']}:")
    assert err.endswith(f"->{ip}:9999: connection refused\n")


def test_agnhost_is_not_in_path(sb, pair):
    """The binary sits at /agnhost (Dockerfile ADD agnhost agnhost), outside $PATH."""
    client, _ = pair
    result = run_sync(sb.dataplane, client, "main", ["agnhost", "connect", "x:1"])
    assert isinstance(result, ExecStartFailure)
    assert 'exec: "agnhost": executable file not found in $PATH: unknown' in result.message


# -- curl ----------------------------------------------------------------------------------------------


def test_curl_write_out_and_body(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    out, err, code = sh(sb, client, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}",
                        f"http://{ip}:8080/hostname")
    assert (out, err, code) == (f"200 {ip}", "", 0)
    assert sh(sb, client, "curl", "-s", f"{ip}:8080/hostname") == ("server", "", 0)


def test_curl_errors_as_curl_8_words_them(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    assert sh(sb, client, "curl", "-sS", f"http://{ip}:81/") == (
        "", f"curl: (7) Failed to connect to {ip} port 81 after 0 ms: Couldn't connect to server\n", 7)
    assert sh(sb, client, "curl", "-sS", "-m", "1", "http://10.244.7.7/") == (
        "", "curl: (28) Connection timed out after 1001 milliseconds\n", 28)
    assert sh(sb, client, "curl", "-sS", "--max-time", "2", "http://nope/") == (
        "", "curl: (6) Could not resolve host: nope\n", 6)
    assert sh(sb, client, "curl", "-s", f"http://{ip}:81/") == ("", "", 7)  # -s without -S: silent
    out, _, code = sh(sb, client, "curl", "-s", "-w", "%{http_code}", f"http://{ip}:81/")
    assert (out, code) == ("000", 7)


def test_curl_https_to_a_plain_http_port(sb, pair):
    """OpenSSL reads the server's HTTP 400 as a bad TLS record: "wrong version number" (exit 35)."""
    client, server = pair
    _, err, code = sh(sb, client, "curl", "-sSk", f"https://{server['status']['podIP']}:8080/")
    assert code == 35 and "error:0A00010B:SSL routines::wrong version number" in err


def test_curl_head_headers_resolve_and_fail(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    out, _, code = sh(sb, client, "curl", "-sI", f"http://{ip}:8080/hostname")
    assert code == 0 and out.startswith("HTTP/1.1 200 OK\r\n") and out.endswith("\r\n\r\n")
    out, _, _ = sh(sb, client, "curl", "-s", "-H", "X-Test: 1", "--resolve", f"web.example:8080:{ip}",
                   "http://web.example:8080/header?key=X-Test")
    assert out == "1"
    assert sh(sb, client, "curl", "-sSf", f"http://{ip}:8080/echo?code=404")[1:] == (
        "curl: (22) The requested URL returned error: 404\n", 22)


def test_curl_progress_meter_without_s(sb, pair):
    client, server = pair
    out, err, code = sh(sb, client, "curl", f"http://{server['status']['podIP']}:8080/hostname")
    assert code == 0 and out == "server" and "% Total" in err


def test_curl_unemulated_option_is_refused_loudly(sb, pair):
    out, err, code = sh(sb, pair[0], "curl", "--http2", "http://x/")
    assert code == 2 and "not emulated" in err


# -- busybox wget, nslookup, hostname ---------------------------------------------------------------------


def test_wget_quiet_and_errors(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    assert sh(sb, client, "wget", "-qO-", f"http://{ip}:8080/hostname") == ("server", "", 0)
    assert sh(sb, client, "wget", "-qO-", f"http://{ip}:81/") == (
        "", f"wget: can't connect to remote host ({ip}): Connection refused\n", 1)
    assert sh(sb, client, "wget", "-qO-", "http://nope/") == ("", "wget: bad address 'nope'\n", 1)
    assert sh(sb, client, "wget", "-qO-", "-T", "1", "http://10.244.7.7/") == ("", "wget: download timed out\n", 1)
    assert sh(sb, client, "wget", "-qO-", f"http://{ip}:8080/echo?code=404")[1] == (
        "wget: server returned error: HTTP/1.1 404 Not Found\n")


def test_nslookup_and_hostname(sb, pair):
    client, _ = pair
    out, _, code = sh(sb, client, "nslookup", "kubernetes.default")
    assert code == 0 and "Address: 10.96.0.1" in out
    assert sh(sb, client, "hostname") == ("client\n", "", 0)
    assert sh(sb, client, "hostname", "-i") == (client["status"]["podIP"] + "\n", "", 0)


# -- files and the shell ---------------------------------------------------------------------------------


def test_files_busybox_wording(sb, pair):
    client, _ = pair
    assert sh(sb, client, "touch", "/tmp/healthy") == ("", "", 0)
    assert sh(sb, client, "cat", "/tmp/healthy") == ("", "", 0)
    assert sh(sb, client, "ls", "/tmp") == ("healthy\n", "", 0)
    assert sh(sb, client, "rm", "/tmp/healthy") == ("", "", 0)
    assert sh(sb, client, "cat", "/tmp/healthy") == ("", "cat: can't open '/tmp/healthy': No such file or directory\n",
                                                      1)
    assert sh(sb, client, "rm", "/tmp/healthy")[1:] == ("rm: can't remove '/tmp/healthy': No such file or directory\n",
                                                        1)


def test_files_gnu_wording_in_nginx(sb):
    web = running(sb, "web", image="nginx:1.27")
    assert sh(sb, web, "cat", "/tmp/x") == ("", "cat: /tmp/x: No such file or directory\n", 1)
    assert sh(sb, web, "ls", "/nope") == ("", "ls: cannot access '/nope': No such file or directory\n", 2)


def test_shell_operators_redirects_and_exit(sb, pair):
    client, _ = pair
    script = "echo one > /tmp/f; echo two >> /tmp/f && cat /tmp/f; cat /nope 2>/dev/null || echo rc=$?; exit 3"
    assert sh(sb, client, "sh", "-c", script) == ("one\ntwo\nrc=1\n", "", 3)
    assert sh(sb, client, "sh", "-c", "test -f /tmp/f && echo yes") == ("yes\n", "", 0)
    assert sh(sb, client, "sh", "-c", "[ -f /tmp/none ] || echo no") == ("no\n", "", 0)
    assert sh(sb, client, "sh", "-c", "frobnicate") == ("", "sh: frobnicate: not found\n", 127)
    assert sh(sb, client, "bash", "-c", "frobnicate") == ("", "bash: line 1: frobnicate: command not found\n", 127)
    assert sh(sb, client, "sh", "-c", "echo a | cat") == ("a\n", "", 0)


def test_split_script_finds_the_server():
    setup, main = split_script("touch /tmp/healthy; mkdir -p /x && exec /agnhost netexec --http-port=80", {})
    assert setup == "touch /tmp/healthy; mkdir -p /x" and main == ["/agnhost", "netexec", "--http-port=80"]
    assert split_script("echo hi", {}) == ("echo hi", None)


# -- what each image has ---------------------------------------------------------------------------------


def test_http_echo_has_no_shell(sb):
    """distroless: containerd refuses to start the exec; kubectl prints "error: Internal error occurred: …"."""
    echo = running(sb, "echo", image="hashicorp/http-echo:1.0.0", args=["-text=hi"])
    with pytest.raises(ApiError) as info:
        asyncio.run(sb.dataplane.exec(echo, "main", ["sh", "-c", "true"]))
    assert info.value.message.startswith("error executing command in container: failed to exec in container: "
                                         'failed to start exec "')
    assert info.value.message.endswith('OCI runtime exec failed: exec failed: unable to start container process: '
                                       'exec: "sh": executable file not found in $PATH: unknown')
    assert sh(sb, echo, "/http-echo", "-version")[2] == 0


def test_nginx_lacks_wget_and_nslookup(sb):
    web = running(sb, "web", image="nginx:1.27")
    assert isinstance(run_sync(sb.dataplane, web, "main", ["wget", "-qO-", "x"]), ExecStartFailure)
    assert sh(sb, web, "sh", "-c", "nslookup web") == ("", "sh: 1: nslookup: not found\n", 127)
    assert sh(sb, web, "nginx", "-v") == ("", "nginx version: nginx/1.27.5\n", 0)


def test_present_but_not_emulated_exits_127_with_the_list(sb, pair):
    out, err, code = sh(sb, pair[0], "awk", "{print}")
    assert code == 127 and "`awk` is not emulated" in err and "curl" in err


def test_unknown_image_runs_nothing(sb):
    pod = running(sb, "bb", image="redis:7.4", command=["sleep", "3600"])
    out, err, code = sh(sb, pod, "sh", "-c", "true")
    assert code == 127 and "redis:7.4 is not emulated" in err


# -- budgets: a runaway program is ended as a kill would end it ------------------------------------------


def test_a_script_past_its_cpu_budget_is_killed_with_137_and_an_event(sb):
    pod = running(sb, "runaway", args=["netexec"])
    result = run_sync(sb.dataplane, pod, "main", ["sh", "-c", "true;" * 50_000 + "echo never"], cpu_budget=0.01)
    assert result.exit_code == 137 and b"never" not in result.stdout
    assert b"went over its CPU budget (0.01 s)" in result.stderr
    events = [e for e in sb.store.list("events", "default") if e["reason"] == "BudgetExceeded"]
    assert events and events[-1]["involvedObject"]["name"] == "runaway" and events[-1]["type"] == "Warning"


def test_output_past_the_budget_ends_the_program(sb, monkeypatch):
    from k8snet.sandbox.dataplane import context

    monkeypatch.setattr(context, "OUTPUT_BUDGET", 1000)
    pod = running(sb, "chatty", args=["netexec"])
    out, err, code = sh(sb, pod, "sh", "-c", "echo 0123456789; " * 200)
    assert code == 137 and "output budget" in err and len(out) <= 1000


def test_output_redirected_to_a_file_counts_against_the_file_system_instead(sb, monkeypatch):
    from k8snet.sandbox.dataplane import context

    monkeypatch.setattr(context, "OUTPUT_BUDGET", 1000)
    pod = running(sb, "quiet", args=["netexec"])
    assert sh(sb, pod, "sh", "-c", "echo 0123456789 >> /tmp/log; " * 200 + "echo ok")[2] == 0


# -- busybox wget's whole option set (networking/wget.c wget_longopts) --------------------------------------


def test_wget_long_options_as_the_networkpolicy_recipes_use_them(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    url = f"http://{ip}:8080/hostname"
    for argv in (["--timeout=2", "-qO-", url], ["-q", "--timeout", "2", "-O", "-", url], ["-qO-", "-T", "2", url],
                 ["--time=2", "--quiet", "--output-document=-", url], ["-q", "--tries=1", "-O-", url]):
        assert sh(sb, client, "wget", *argv) == ("server", "", 0), argv
    assert sh(sb, client, "wget", "--spider", "-q", url) == ("", "", 0)
    assert sh(sb, client, "wget", "-qO-", "--timeout=1", "http://10.244.7.7/") == ("", "wget: download timed out\n", 1)


def test_wget_server_response_headers_and_post(sb, pair):
    client, server = pair
    ip = server["status"]["podIP"]
    out, err, code = sh(sb, client, "wget", "-S", "-qO-", f"http://{ip}:8080/hostname")
    assert code == 0 and out == "server" and err.startswith("  HTTP/1.1 200 OK\n") and "  Content-Length: 6\n" in err
    out, _, _ = sh(sb, client, "wget", "-qO-", "--header", "X-Probe: yes", f"http://{ip}:8080/header?key=X-Probe")
    assert out == "yes"
    out, _, _ = sh(sb, client, "wget", "-qO-", "-U", "probe/1", f"http://{ip}:8080/header?key=User-Agent")
    assert out == "probe/1"


@pytest.mark.parametrize("argv,line", [
    (["--bogus", "http://x/"], "wget: unrecognized option '--bogus'"),
    (["-Z", "http://x/"], "wget: invalid option -- 'Z'"),
    (["--no", "http://x/"], "wget: ambiguous option '--no'"),
    (["-T", "abc", "http://x/"], "wget: invalid number 'abc'"),
    (["-O"], "wget: option requires an argument -- 'O'"),
])
def test_wget_refuses_what_busybox_refuses(sb, pair, argv, line):
    client, _ = pair
    _, err, code = sh(sb, client, "wget", *argv)
    assert code == 1 and err.startswith(line + "\n")


# -- the images tutorials reach for: busybox, alpine, curlimages/curl, nicolaka/netshoot ------------------


@pytest.mark.parametrize("image,family", [
    ("busybox", "busybox"), ("busybox:1.36", "busybox"), ("docker.io/library/busybox:1.37", "busybox"),
    ("alpine:3.20", "alpine"), ("curlimages/curl:8.5.0", "curl"), ("nicolaka/netshoot", "netshoot"),
])
def test_tutorial_images_are_recognised(image, family):
    from k8snet.sandbox.dataplane.workloads import image_family

    assert image_family(image) == family


def test_busybox_has_wget_and_its_shell_but_no_curl_or_bash(sb, pair):
    _, server = pair
    ip = server["status"]["podIP"]
    box = running(sb, "box", image="busybox:1.36", command=["sleep", "3600"])
    assert sh(sb, box, "wget", "-qO-", "--timeout=2", f"http://{ip}:8080/hostname") == ("server", "", 0)
    assert sh(sb, box, "sh", "-c", "curl -s web") == ("", "sh: curl: not found\n", 127)
    assert isinstance(run_sync(sb.dataplane, box, "main", ["bash"]), ExecStartFailure)
    out, _, code = sh(sb, box, "sh", "-c", "echo $HOSTNAME; hostname")
    assert code == 0 and out.splitlines()[-1] == "box"


def test_alpine_refuses_apk_with_the_reason(sb):
    pod = running(sb, "alp", image="alpine:3.20", command=["sleep", "3600"])
    _, err, code = sh(sb, pod, "apk", "add", "curl")
    assert code == 1 and "apk cannot reach a package mirror" in err


def test_curl_and_netshoot_carry_curl(sb, pair):
    _, server = pair
    ip = server["status"]["podIP"]
    for name, image in (("c", "curlimages/curl:8.5.0"), ("n", "nicolaka/netshoot")):
        pod = running(sb, name, image=image, command=["sleep", "infinity"])
        assert sh(sb, pod, "curl", "-s", f"http://{ip}:8080/hostname") == ("server", "", 0), image
    netshoot = sb.store.get("pods", "default", "n")
    assert sh(sb, netshoot, "bash", "-c", "echo from bash")[0] == "from bash\n"
