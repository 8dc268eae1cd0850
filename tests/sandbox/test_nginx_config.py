"""nginx in a pod reads its configuration from the container's files, as on kind: a ConfigMap mounted over
conf.d changes what it serves, a broken one stops it at start (exit 1, CrashLoopBackOff, nginx's [emerg] line in
the log), ``nginx -t`` and ``nginx -s reload`` act on the files, and proxy_pass reaches a Service."""

from __future__ import annotations

import json

from tests.conftest import wait_for

FRONTEND_CONF = """upstream hello {
    server hello;
}

server {
    listen 80;

    location / {
        proxy_pass http://hello;
    }
}
"""


def _pod(name: str, configmap: str) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                 "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"}]}],
                 "volumes": [{"name": "conf", "configMap": {"name": configmap}}]}})


def test_a_broken_config_stops_nginx_and_the_pod_crash_loops(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "configmap", "site", "--from-literal=default.conf=server {\n  listen 80;\n}\n}\n")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=_pod("web", "site"))
    status = wait_for(lambda: (s := sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]).get(
        "containerStatuses") and (s["containerStatuses"][0].get("lastState") or {}).get("terminated") and s,
        what="nginx to exit")
    terminated = status["containerStatuses"][0]["lastState"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (1, "Error")
    log = wait_for(lambda: sandbox.kubectl("-n", ns, "logs", "web", "--previous").stdout, what="the previous log")
    assert ("10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/default.conf "
            "(read-only file system?)") in log
    assert 'nginx: [emerg] unexpected "}" in /etc/nginx/conf.d/default.conf:4' in log
    assert "[notice]" not in log  # it never started its workers


def test_proxy_pass_reaches_a_service_and_reload_reads_new_files(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "deployment", "hello", "--image=hashicorp/http-echo", "--",
                    "/http-echo", "-text=hello from the backend")
    sandbox.kubectl("-n", ns, "expose", "deployment", "hello", "--port=80", "--target-port=5678")
    sandbox.kubectl("-n", ns, "create", "configmap", "frontend", f"--from-literal=frontend.conf={FRONTEND_CONF}")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=_pod("frontend", "frontend"))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/frontend", "--timeout=30s")
    sandbox.kubectl("-n", ns, "rollout", "status", "deployment/hello", "--timeout=30s")
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "frontend")["status"]["podIP"]
    sandbox.kubectl("-n", ns, "run", "client", "--image=curlimages/curl", "--restart=Never", "--command", "--",
                    "sleep", "3600")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=30s")
    answer = wait_for(lambda: sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-s", f"http://{ip}/",
                                              check=False).stdout, what="the frontend to answer")
    assert answer == "hello from the backend\n"
    assert '"GET / HTTP/1.1" 200' in sandbox.kubectl("-n", ns, "logs", "frontend").stdout

    # nginx -t reads the files; a new server written into the container's layer serves after a reload
    tested = sandbox.kubectl("-n", ns, "exec", "frontend", "--", "nginx", "-t")
    assert "nginx: configuration file /etc/nginx/nginx.conf test is successful" in tested.stderr
    sandbox.kubectl("-n", ns, "exec", "frontend", "--", "sh", "-c",
                    "printf 'server { listen 8081; return 200 \"reloaded\\\\n\"; }' > /etc/nginx/extra.conf && "
                    "sed -i 's|include /etc/nginx/conf.d/\\*.conf;|&\\n    include /etc/nginx/extra.conf;|' "
                    "/etc/nginx/nginx.conf")
    before = sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-s", f"http://{ip}:8081/", check=False)
    assert before.returncode == 7  # nothing listens there until nginx reads the new file
    sandbox.kubectl("-n", ns, "exec", "frontend", "--", "nginx", "-s", "reload")
    after = sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-s", f"http://{ip}:8081/")
    assert after.stdout == "reloaded\n"
    broken = sandbox.kubectl("-n", ns, "exec", "frontend", "--", "sh", "-c",
                             "echo 'bogus {' >> /etc/nginx/extra.conf; nginx -s reload", check=False)
    # nginx looks the name up as it reads "{", before it meets the end of the file (ngx_conf_handler)
    assert broken.returncode == 1 and broken.stderr.startswith(
        'nginx: [emerg] unknown directive "bogus" in /etc/nginx/extra.conf:1\n')
    assert sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-s", f"http://{ip}:8081/").stdout == \
        "reloaded\n"  # a failed reload keeps the running configuration


TYPO_CONF = """server {
    listen 443 ssl;
    server_name web;
    ssl_certificate /etc/nginx/tls/tls.crt;
    ssl_certificate_key /etc/nginx/tls/tls.key;
    ssl_client_certificate /etc/nginx/tls/ca.crt;
    ssl_verfy_client on;
}
"""
WRONG_PLACE_CONF = "server {\n    listen 80;\n    proxy_pass http://hello;\n}\n"
NOT_EMULATED_CONF = "server {\n    listen 80;\n    location / {\n        limit_rate 10k;\n        return 200 ok;\n    }\n}\n"


def test_a_directive_nginx_does_not_know_stops_it_as_nginx_does(sandbox, ns):
    # src/core/ngx_conf_file.c ngx_conf_handler: "unknown directive", then "is not allowed here" for a name it
    # knows elsewhere; both at the directive's line, before any certificate is read
    sandbox.kubectl("-n", ns, "create", "configmap", "typo", f"--from-literal=default.conf={TYPO_CONF}")
    sandbox.kubectl("-n", ns, "create", "configmap", "drafts", f"--from-literal=typo.conf={TYPO_CONF}",
                    f"--from-literal=wrong-place.conf={WRONG_PLACE_CONF}")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=_pod("web", "typo"))
    debug = json.loads(_pod("debug", "drafts"))  # the same image with the drafts beside conf.d, nginx not started
    debug["spec"]["containers"][0].update({"command": ["sleep", "3600"], "volumeMounts": [
        {"name": "conf", "mountPath": "/drafts"}]})
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(debug))

    emerg = 'nginx: [emerg] unknown directive "ssl_verfy_client" in /etc/nginx/conf.d/default.conf:7'
    log = wait_for(lambda: emerg in (out := sandbox.kubectl("-n", ns, "logs", "web", check=False).stdout) and out,
                   what="nginx's [emerg] line in the log")
    assert "[notice]" not in log  # it never started its workers
    status = wait_for(lambda: (s := sandbox.kubectl_json("-n", ns, "get", "pod", "web")["status"]).get(
        "containerStatuses") and (s["containerStatuses"][0].get("lastState") or {}).get("terminated") and s,
        what="nginx to exit")
    assert (status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"]) == 1
    assert sandbox.kubectl("-n", ns, "get", "pod", "web", "--no-headers").stdout.split()[2] in (
        "Error", "CrashLoopBackOff")

    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/debug", "--timeout=30s")
    for draft, line in (("typo.conf", emerg),
                        ("wrong-place.conf",
                         'nginx: [emerg] "proxy_pass" directive is not allowed here in '
                         "/etc/nginx/conf.d/default.conf:3")):
        tested = sandbox.kubectl("-n", ns, "exec", "debug", "--", "sh", "-c",
                                 f"cp /drafts/{draft} /etc/nginx/conf.d/default.conf && nginx -t", check=False)
        assert tested.returncode == 1
        assert tested.stderr.startswith(f"{line}\nnginx: configuration file /etc/nginx/nginx.conf test failed\n")
    # -g is read before the file: "daemon off;" in both is a duplicate (the image's CMD passes -g "daemon off;")
    tested = sandbox.kubectl("-n", ns, "exec", "debug", "--", "sh", "-c",
                             "rm /etc/nginx/conf.d/default.conf && sed -i 's/^pid/daemon off;\\npid/' "
                             "/etc/nginx/nginx.conf && nginx -t && nginx -t -g 'daemon off;'", check=False)
    assert tested.returncode == 1 and tested.stderr.startswith(
        "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"
        "nginx: configuration file /etc/nginx/nginx.conf test is successful\n"
        'nginx: [emerg] "daemon" directive is duplicate in /etc/nginx/nginx.conf:5\n'
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n")


def test_a_directive_nginx_knows_and_the_sandbox_does_not_play_starts_it_with_a_warning(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "configmap", "limited", f"--from-literal=default.conf={NOT_EMULATED_CONF}")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=_pod("limited", "limited"))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/limited", "--timeout=30s")
    events = wait_for(lambda: [e for e in sandbox.kubectl_json("-n", ns, "get", "events")["items"]
                               if e["reason"] == "NotEmulated" and e["involvedObject"]["name"] == "limited"],
                      what="the NotEmulated event")
    assert events[0]["type"] == "Warning"
    assert "limit_rate (/etc/nginx/conf.d/default.conf:4)" in events[0]["message"]
    tested = sandbox.kubectl("-n", ns, "exec", "limited", "--", "nginx", "-t")
    assert "nginx: configuration file /etc/nginx/nginx.conf test is successful" in tested.stderr
