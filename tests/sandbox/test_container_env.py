"""What the kubelet gives a container: Service link variables and mounted volumes.

Sources: kubernetes.io "Connecting Applications with Services" (Accessing the Service: Environment
Variables, `printenv | grep SERVICE`), pkg/kubelet/envvars/envvars.go FromServices, the configMap, secret,
downwardAPI and emptyDir volume plugins.
"""

from __future__ import annotations

from tests.conftest import wait_for

NGINX = "nginx:1.27"


def ready(sandbox, ns: str, name: str) -> None:
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")


def test_service_links_are_those_of_services_that_existed_when_the_pod_started(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "before", "--image=busybox:1.36", "--", "sleep", "3600")
    ready(sandbox, ns, "before")
    sandbox.kubectl("-n", ns, "create", "service", "clusterip", "my-nginx", "--tcp=80:80")
    sandbox.kubectl("-n", ns, "run", "after", "--image=busybox:1.36", "--", "sleep", "3600")
    ready(sandbox, ns, "after")
    ip = sandbox.kubectl_json("-n", ns, "get", "service", "my-nginx")["spec"]["clusterIP"]

    before = sandbox.kubectl("-n", ns, "exec", "before", "--", "sh", "-c", "printenv | grep SERVICE | sort").stdout
    assert before == "KUBERNETES_SERVICE_HOST=10.96.0.1\nKUBERNETES_SERVICE_PORT=443\n" \
                     "KUBERNETES_SERVICE_PORT_HTTPS=443\n"
    after = sandbox.kubectl("-n", ns, "exec", "after", "--", "sh", "-c", "printenv | grep MY_NGINX | sort").stdout
    assert after.splitlines() == [
        f"MY_NGINX_PORT=tcp://{ip}:80", f"MY_NGINX_PORT_80_TCP=tcp://{ip}:80", f"MY_NGINX_PORT_80_TCP_ADDR={ip}",
        "MY_NGINX_PORT_80_TCP_PORT=80", "MY_NGINX_PORT_80_TCP_PROTO=tcp", f"MY_NGINX_SERVICE_HOST={ip}",
        "MY_NGINX_SERVICE_PORT=80", "MY_NGINX_SERVICE_PORT_80_80=80"]


def test_enable_service_links_false_keeps_only_the_kubernetes_service(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "service", "clusterip", "web", "--tcp=80:80")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: quiet, namespace: {ns}}}
spec:
  enableServiceLinks: false
  containers: [{{name: main, image: "busybox:1.36", command: [sleep, "3600"]}}]
""")
    ready(sandbox, ns, "quiet")
    names = sandbox.kubectl("-n", ns, "exec", "quiet", "--", "sh", "-c", "env | cut -d= -f1 | grep _SERVICE_HOST")
    assert names.stdout == "KUBERNETES_SERVICE_HOST\n"


def test_configmap_secret_downward_and_shared_emptydir_volumes(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "configmap", "page", "--from-literal=index.html=<h1>from a ConfigMap</h1>")
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: vols, namespace: {ns}, labels: {{app: vols, tier: web}}}}
spec:
  volumes:
  - {{name: page, configMap: {{name: page}}}}
  - {{name: creds, secret: {{secretName: creds}}}}
  - {{name: info, downwardAPI: {{items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]}}}}
  - {{name: shared, emptyDir: {{}}}}
  containers:
  - name: web
    image: {NGINX}
    volumeMounts:
    - {{name: page, mountPath: /usr/share/nginx/html}}
    - {{name: creds, mountPath: /etc/creds, readOnly: true}}
    - {{name: info, mountPath: /etc/podinfo}}
    - {{name: shared, mountPath: /data}}
  - name: writer
    image: "busybox:1.36"
    command: [sh, -c, "echo written-by-writer > /out/note; sleep 3600"]
    volumeMounts: [{{name: shared, mountPath: /out}}]
""")
    ready(sandbox, ns, "vols")

    def run(*cmd: str, container: str = "web", check: bool = True):
        return sandbox.kubectl("-n", ns, "exec", "vols", "-c", container, "--", *cmd, check=check)

    assert run("cat", "/usr/share/nginx/html/index.html").stdout == "<h1>from a ConfigMap</h1>"
    assert run("cat", "/etc/creds/password").stdout == "s3cret"
    assert run("cat", "/etc/podinfo/labels").stdout == 'app="vols"\ntier="web"'
    assert wait_for(lambda: run("cat", "/data/note", check=False).stdout, what="the shared file") == \
        "written-by-writer\n"
    refused = run("touch", "/etc/creds/new", check=False)
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr
    ip = sandbox.kubectl_json("-n", ns, "get", "pod", "vols")["status"]["podIP"]
    sandbox.kubectl("-n", ns, "run", "client", "--image=busybox:1.36", "--", "sleep", "3600")
    ready(sandbox, ns, "client")
    page = sandbox.kubectl("-n", ns, "exec", "client", "--", "wget", "-qO-", f"http://{ip}/").stdout
    assert page == "<h1>from a ConfigMap</h1>"


def test_a_missing_configmap_is_a_failed_mount_event(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: nocm, namespace: {ns}}}
spec:
  volumes: [{{name: cfg, configMap: {{name: absent}}}}]
  containers:
  - {{name: main, image: "busybox:1.36", command: [sleep, "3600"], volumeMounts: [{{name: cfg, mountPath: /cfg}}]}}
""")

    def events() -> str:
        return sandbox.kubectl("-n", ns, "get", "events", "--field-selector", "reason=FailedMount").stdout

    text = wait_for(lambda: "absent" in events() and events(), what="a FailedMount event")
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found' in text
