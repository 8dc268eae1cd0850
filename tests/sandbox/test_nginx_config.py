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
    assert broken.returncode == 1 and "nginx: [emerg] unexpected end of file" in broken.stderr
    assert sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-s", f"http://{ip}:8081/").stdout == \
        "reloaded\n"  # a failed reload keeps the running configuration
