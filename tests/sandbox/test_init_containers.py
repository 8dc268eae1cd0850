"""Init containers run in order before the app containers; sidecars keep running beside them.

The first test is kubernetes.io "Init Containers" (Init containers in use) run as written: two busybox init
containers loop on ``nslookup`` until their Services exist, the pod shows ``Init:0/2`` meanwhile, then runs.
"""

from __future__ import annotations

from tests.conftest import wait_for

MYAPP = """
apiVersion: v1
kind: Pod
metadata:
  name: myapp-pod
  labels:
    app.kubernetes.io/name: MyApp
spec:
  containers:
  - name: myapp-container
    image: busybox:1.28
    command: ['sh', '-c', 'echo The app is running! && sleep 3600']
  initContainers:
  - name: init-myservice
    image: busybox:1.28
    command: ['sh', '-c', "until nslookup myservice.$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace).svc.cluster.local; do echo waiting for myservice; sleep 2; done"]
  - name: init-mydb
    image: busybox:1.28
    command: ['sh', '-c', "until nslookup mydb.$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace).svc.cluster.local; do echo waiting for mydb; sleep 2; done"]
"""

SERVICES = """
apiVersion: v1
kind: Service
metadata:
  name: myservice
spec:
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9376
---
apiVersion: v1
kind: Service
metadata:
  name: mydb
spec:
  ports:
  - protocol: TCP
    port: 80
    targetPort: 9377
"""


def status(sandbox, ns: str, pod: str) -> str:
    line = sandbox.kubectl("-n", ns, "get", "pod", pod, "--no-headers").stdout.split()
    return line[2] if len(line) > 2 else ""


def test_the_init_containers_page_as_written(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=MYAPP)
    wait_for(lambda: status(sandbox, ns, "myapp-pod") == "Init:0/2", what="Init:0/2")
    waiting = wait_for(lambda: "waiting for myservice" in (out := sandbox.kubectl(
        "-n", ns, "logs", "myapp-pod", "-c", "init-myservice", check=False).stdout) and out, what="the init log")
    assert "waiting for myservice" in waiting
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "myapp-pod")
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=SERVICES)
    wait_for(lambda: status(sandbox, ns, "myapp-pod") == "Running", timeout=30, what="the pod to run")
    assert sandbox.kubectl("-n", ns, "logs", "myapp-pod").stdout == "The app is running!\n"
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "myapp-pod")
    assert [cs["state"]["terminated"]["reason"] for cs in pod["status"]["initContainerStatuses"]] == \
        ["Completed", "Completed"]
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Initialized"] == "True"


def test_a_failing_init_container_with_restart_never_fails_the_pod(sandbox, ns):
    sandbox.kubectl("-n", ns, "run", "never", "--image=busybox:1.36", "--restart=Never",
                    "--overrides", '{"spec": {"initContainers": [{"name": "check", "image": "busybox:1.36", '
                                   '"command": ["sh", "-c", "echo no; exit 2"]}]}}', "--", "echo", "never runs")
    wait_for(lambda: status(sandbox, ns, "never") == "Init:Error", what="Init:Error")
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "never")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2


def test_a_sidecar_starts_first_and_keeps_running_beside_the_app(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: withsidecar, namespace: {ns}}}
spec:
  volumes: [{{name: shared, emptyDir: {{}}}}]
  initContainers:
  - name: logger
    image: busybox:1.36
    restartPolicy: Always
    command: [sh, -c, "touch /data/log; tail -f /data/log"]
    volumeMounts: [{{name: shared, mountPath: /data}}]
  containers:
  - name: app
    image: busybox:1.36
    command: [sh, -c, "for i in 1 2 3; do echo line $i >> /data/log; sleep 0.2; done; sleep 3600"]
    volumeMounts: [{{name: shared, mountPath: /data}}]
""")
    wait_for(lambda: status(sandbox, ns, "withsidecar") == "Running", what="the pod to run")
    logged = wait_for(lambda: "line 3" in (out := sandbox.kubectl(
        "-n", ns, "logs", "withsidecar", "-c", "logger").stdout) and out, what="the sidecar to follow the file")
    assert logged == "line 1\nline 2\nline 3\n"
    pod = sandbox.kubectl_json("-n", ns, "get", "pod", "withsidecar")
    assert "running" in pod["status"]["initContainerStatuses"][0]["state"]
    assert sandbox.kubectl("-n", ns, "get", "pod", "withsidecar", "--no-headers").stdout.split()[1] == "2/2"
