"""netcat listening (nc -l) in a pod, as tutorials use it: a one-shot HTTP server made of echo and nc, a fake
database port for NetworkPolicy exercises (OpenBSD nc -lk keeps listening), what a client sends printed in the
listener's log, and the port shown by netstat while it listens."""

from __future__ import annotations

from tests.conftest import wait_for


def _ready(sandbox, ns: str, pod: str) -> str:
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=30s")
    return sandbox.kubectl_json("-n", ns, "get", "pod", pod)["status"]["podIP"]


def test_echo_piped_into_nc_is_a_one_shot_http_server(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "oneshot", "--image=busybox:1.36", "--restart=Never", "--", "sh", "-c",
                    "printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from nc\\n' | "
                    "nc -lv -p 8080")
    ip = _ready(sandbox, ns, "oneshot")
    sandbox.kubectl("-n", ns, "run", "client", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "3600")
    _ready(sandbox, ns, "client")
    listening = sandbox.kubectl("-n", ns, "exec", "oneshot", "--", "netstat", "-tln").stdout
    assert ":::8080" in listening
    got = sandbox.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", f"http://{ip}:8080/")
    assert got.stdout == "hello from nc\n"
    # busybox nc takes one connection, prints the request and exits: the pod is Completed
    wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "pod", "oneshot")["status"]["phase"] == "Succeeded",
             what="nc to exit")
    log = sandbox.kubectl("-n", ns, "logs", "oneshot").stdout
    assert log.startswith("listening on [::]:8080 ...\nconnect to [::ffff:")
    assert f"GET / HTTP/1.1\nHost: {ip}:8080\nUser-Agent: Wget" in log  # (text mode reads CR LF as LF)
    again = sandbox.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", "-T", "2", f"http://{ip}:8080/",
                            check=False)
    assert again.returncode == 1


def test_a_fake_database_port_with_openbsd_nc_keeps_listening(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "db", "--image=nicolaka/netshoot", "--labels=app=db", "--", "nc", "-lk", "5432")
    ip = _ready(sandbox, ns, "db")
    sandbox.kubectl("-n", ns, "run", "api", "--image=nicolaka/netshoot", "--", "sleep", "3600")
    _ready(sandbox, ns, "api")
    for n in (1, 2):
        probe = sandbox.kubectl("-n", ns, "exec", "api", "--", "nc", "-zv", "-w", "2", ip, "5432")
        assert f"Connection to {ip} {5432} port [tcp/postgresql] succeeded!" in probe.stderr, n
    sandbox.kubectl("-n", ns, "exec", "api", "--", "sh", "-c", f"echo 'SELECT 1;' | nc -w 2 {ip} 5432")
    assert "SELECT 1;" in wait_for(lambda: sandbox.kubectl("-n", ns, "logs", "db").stdout, what="the query")
    taken = sandbox.kubectl("-n", ns, "exec", "db", "--", "nc", "-l", "5432", check=False)
    assert taken.returncode == 1 and "nc: Address in use" in taken.stderr
