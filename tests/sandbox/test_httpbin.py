"""kennethreitz/httpbin in the sandbox is the real httpbin (its WSGI app in-process): the answers of the echo
server mesh tutorials use, with the client's pod address as ``origin``, and /delay waited on the sandbox clock so
a client's timeout (curl -m) fires as it does against the real server."""

from __future__ import annotations

import json

from tests.conftest import wait_for


def test_httpbin_answers_as_httpbin(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "httpbin", "--image=docker.io/kennethreitz/httpbin")
    sandbox.kubectl("-n", ns, "expose", "deployment", "httpbin", "--port=8000", "--target-port=80")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/httpbin", "--timeout=30s")
    sandbox.kubectl("-n", ns, "run", "sleep", "--image=curlimages/curl", "--command", "--", "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/sleep", "--timeout=30s")
    client_ip = sandbox.kubectl_json("-n", ns, "get", "pod", "sleep")["status"]["podIP"]

    def curl(*args: str, check: bool = True):
        return sandbox.kubectl("-n", ns, "exec", "sleep", "--", "curl", "-sS", *args, check=check)

    got = json.loads(wait_for(lambda: curl("http://httpbin:8000/get?show=1", check=False).stdout,
                              what="httpbin to answer"))
    assert got["args"] == {"show": "1"} and got["origin"] == client_ip
    assert got["headers"]["Host"] == "httpbin:8000" and got["headers"]["User-Agent"].startswith("curl/")
    assert got["url"] == "http://httpbin:8000/get?show=1"
    teapot = curl("-i", "http://httpbin:8000/status/418").stdout
    assert teapot.startswith("HTTP/1.1 418") and "Server: gunicorn/19.9.0" in teapot and "-=[ teapot ]=-" in teapot
    posted = json.loads(curl("-X", "POST", "-d", "a=1", "http://httpbin:8000/anything/x").stdout)
    assert posted["method"] == "POST" and posted["form"] == {"a": "1"} and posted["url"].endswith("/anything/x")
    slow = curl("-m", "1", "http://httpbin:8000/delay/3", check=False)
    assert slow.returncode == 28 and "Operation timed out after 1001 milliseconds" in slow.stderr
    assert json.loads(curl("http://httpbin:8000/delay/1").stdout)["url"].endswith("/delay/1")
    log = sandbox.kubectl("-n", ns, "logs", "deployment/httpbin").stdout
    assert "[INFO] Starting gunicorn 19.9.0" in log and "Listening at: http://0.0.0.0:80 (1)" in log
