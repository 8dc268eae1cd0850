"""StatefulSets (apps/v1) through kubectl and the kubernetes client, as pkg/controller/statefulset runs them: pods
``<set>-0..N-1`` made in order (OrderedReady: the next only once the one before is Running and Ready) or all at
once (Parallel), removed from the highest ordinal down, with the identity labels, ``hostname`` and ``subdomain``
that give each a DNS name through a headless Service (kubernetes.io/docs/concepts/services-networking/
dns-pod-service/#pod-s-hostname-and-subdomain-fields), rolling updates down to the partition, OnDelete, and the
ControllerRevisions ``kubectl rollout history|undo`` read.
"""

from __future__ import annotations

import re

from tests.conftest import wait_for

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
AGNHOST_253 = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def web(ns: str, replicas: int = 2, spec: str = "", container: str = "", claims: str = "") -> str:
    """A headless Service ``nginx`` and the StatefulSet ``web`` of the StatefulSet basics tutorial, on agnhost."""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: nginx, namespace: {ns}}}
spec:
  clusterIP: None
  selector: {{app: nginx}}
  ports: [{{name: web, port: 8080}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web, namespace: {ns}}}
spec:
  serviceName: nginx
  replicas: {replicas}
{spec}
  selector: {{matchLabels: {{app: nginx}}}}
  template:
    metadata: {{labels: {{app: nginx}}}}
    spec:
      containers:
      - name: web
        image: "{AGNHOST}"
        args: [netexec]
{container}
{claims}
"""


def pods_of(sandbox, ns: str, app: str = "nginx") -> dict[str, dict]:
    items = sandbox.kubectl_json("-n", ns, "get", "pods", "-l", f"app={app}")["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def events(sandbox, ns: str, name: str = "web") -> list[str]:
    items = sandbox.kubectl_json("-n", ns, "get", "events", "--field-selector",
                                 f"involvedObject.kind=StatefulSet,involvedObject.name={name}")["items"]
    return [e["message"] for e in sorted(items, key=lambda e: e["metadata"]["name"])]


def test_pods_are_made_in_order_each_after_the_one_before_is_ready(sandbox, ns):
    """OrderedReady (stateful_set_control.go): web-1 is not created while web-0 is Running but not Ready."""
    sandbox.kubectl("apply", "-f", "-", input=web(ns, container="""        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 1"""))
    wait_for(lambda: (p := pods_of(sandbox, ns).get("web-0")) and p["status"].get("phase") == "Running",
             what="web-0 running")
    assert sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=2s", check=False).returncode != 0
    assert list(pods_of(sandbox, ns)) == ["web-0"]
    sandbox.kubectl("-n", ns, "exec", "web-0", "--", "touch", "/tmp/ready")
    wait_for(lambda: (p := pods_of(sandbox, ns).get("web-1")) and p["status"].get("phase") == "Running",
             what="web-1 running once web-0 is ready")  # exec before its container starts is refused, as by kubelet
    sandbox.kubectl("-n", ns, "exec", "web-1", "--", "touch", "/tmp/ready")
    out = sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s").stdout
    assert out.rstrip().endswith("partitioned roll out complete: 2 new pods have been updated...")
    assert events(sandbox, ns) == ["create Pod web-0 in StatefulSet web successful",
                                   "create Pod web-1 in StatefulSet web successful"]


def test_identity_labels_hostname_and_dns_names(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns))
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    sts = sandbox.kubectl_json("-n", ns, "get", "sts", "web")
    pods = pods_of(sandbox, ns)
    assert sorted(pods) == ["web-0", "web-1"]
    revision = sts["status"]["updateRevision"]
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]+", revision)
    for i, name in enumerate(["web-0", "web-1"]):
        pod = pods[name]
        assert pod["metadata"]["labels"] == {"app": "nginx", "apps.kubernetes.io/pod-index": str(i),
                                             "controller-revision-hash": revision,
                                             "statefulset.kubernetes.io/pod-name": name}
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (name, "nginx")
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
        assert sandbox.kubectl("-n", ns, "exec", name, "--", "hostname").stdout.strip() == name
    assert sts["status"] == {"availableReplicas": 2, "collisionCount": 0, "currentReplicas": 2,
                             "currentRevision": revision, "observedGeneration": 1, "readyReplicas": 2,
                             "replicas": 2, "updateRevision": revision, "updatedReplicas": 2}
    assert sandbox.kubectl("-n", ns, "get", "sts", "web", "--no-headers").stdout.split()[:2] == ["web", "2/2"]
    sandbox.kubectl("-n", ns, "run", "client", f"--image={AGNHOST}", "--restart=Never", "--", "pause")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/client", "--timeout=30s")
    out = sandbox.kubectl("-n", ns, "exec", "client", "--", "nslookup", "web-0.nginx").stdout
    assert f"Name:\tweb-0.nginx.{ns}.svc.cluster.local\nAddress: {pods['web-0']['status']['podIP']}" in out
    out = sandbox.kubectl("-n", ns, "exec", "client", "--", "nslookup",
                          f"web-1.nginx.{ns}.svc.cluster.local").stdout
    assert f"Address: {pods['web-1']['status']['podIP']}" in out
    hosts = sandbox.kubectl("-n", ns, "exec", "web-0", "--", "cat", "/etc/hosts").stdout
    assert f"{pods['web-0']['status']['podIP']}\tweb-0.nginx.{ns}.svc.cluster.local\tweb-0" in hosts


def test_scale_up_in_order_and_down_from_the_highest_ordinal(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=1))
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    sandbox.kubectl("-n", ns, "scale", "sts/web", "--replicas=3")
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    assert sorted(pods_of(sandbox, ns)) == ["web-0", "web-1", "web-2"]
    sandbox.kubectl("-n", ns, "scale", "sts/web", "--replicas=1")
    wait_for(lambda: sorted(pods_of(sandbox, ns)) == ["web-0"], what="scaled down to web-0")
    assert events(sandbox, ns)[-2:] == ["delete Pod web-2 in StatefulSet web successful",
                                        "delete Pod web-1 in StatefulSet web successful"]


def test_parallel_creates_every_pod_at_once(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=3, spec="  podManagementPolicy: Parallel",
                                                    container="""        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 1"""))
    wait_for(lambda: sorted(pods_of(sandbox, ns)) == ["web-0", "web-1", "web-2"], what="three pods at once")
    assert sandbox.kubectl_json("-n", ns, "get", "sts", "web")["status"].get("readyReplicas", 0) == 0


def test_rolling_update_history_and_undo(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=3))
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    first = sandbox.kubectl_json("-n", ns, "get", "sts", "web")["status"]["currentRevision"]
    sandbox.kubectl("-n", ns, "set", "image", "sts/web", f"web={AGNHOST_253}")
    out = sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=60s").stdout
    assert out.rstrip().endswith("partitioned roll out complete: 3 new pods have been updated...")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns).values()} == {AGNHOST_253}
    sts = sandbox.kubectl_json("-n", ns, "get", "sts", "web")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"] != first
    # pods are replaced from the highest ordinal down: web-2 first
    deleted = [m for m in events(sandbox, ns) if m.startswith("delete")]
    assert deleted == [f"delete Pod web-{i} in StatefulSet web successful" for i in (2, 1, 0)]
    assert re.search(r"REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>",
                     sandbox.kubectl("-n", ns, "rollout", "history", "sts/web").stdout)
    sandbox.kubectl("-n", ns, "rollout", "undo", "sts/web")
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=60s")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns).values()} == {AGNHOST}
    assert sandbox.kubectl_json("-n", ns, "get", "sts", "web")["status"]["currentRevision"] == first
    revisions = sandbox.kubectl("-n", ns, "get", "controllerrevisions", "--no-headers").stdout.splitlines()
    assert sorted(line.split()[:3] for line in revisions)[0] == [first, "statefulset.apps/web", "3"]


def test_a_partition_keeps_the_lower_ordinals_on_the_old_revision(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=3, spec="""  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 2}"""))
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    sandbox.kubectl("-n", ns, "set", "image", "sts/web", f"web={AGNHOST_253}")
    out = sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=60s").stdout
    assert out.rstrip().endswith("partitioned roll out complete: 1 new pods have been updated...")
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods_of(sandbox, ns).items()}
    assert images == {"web-0": AGNHOST, "web-1": AGNHOST, "web-2": AGNHOST_253}
    status = sandbox.kubectl_json("-n", ns, "get", "sts", "web")["status"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (2, 1)
    assert status["currentRevision"] != status["updateRevision"]


def test_on_delete_replaces_only_deleted_pods(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, spec="  updateStrategy: {type: OnDelete}"))
    wait_for(lambda: len([p for p in pods_of(sandbox, ns).values() if p["status"].get("phase") == "Running"]) == 2,
             what="two running pods")
    sandbox.kubectl("-n", ns, "set", "image", "sts/web", f"web={AGNHOST_253}")
    wait_for(lambda: sandbox.kubectl_json("-n", ns, "get", "sts", "web")["status"]["observedGeneration"] == 2,
             what="generation 2 observed")
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(sandbox, ns).values()} == {AGNHOST}
    old_uid = pods_of(sandbox, ns)["web-1"]["metadata"]["uid"]
    sandbox.kubectl("-n", ns, "delete", "pod", "web-1")
    pod = wait_for(lambda: (p := pods_of(sandbox, ns).get("web-1")) and p["metadata"]["uid"] != old_uid and p,
                   what="web-1 made again")
    assert pod["spec"]["containers"][0]["image"] == AGNHOST_253
    assert pods_of(sandbox, ns)["web-0"]["spec"]["containers"][0]["image"] == AGNHOST


def test_volume_claim_templates_are_kept_and_named_as_not_emulated(sandbox, ns):
    """No PersistentVolumeClaims in the sandbox: each pod gets the claim's volume as upstream's updateStorage adds
    it, a Warning on the StatefulSet names the claim, and the pod writes to an empty directory in its place."""
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=1, container="""        volumeMounts:
        - {name: www, mountPath: /data}""", claims="""  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}"""))
    sandbox.kubectl("-n", ns, "rollout", "status", "sts/web", "--timeout=30s")
    sts = sandbox.kubectl_json("-n", ns, "get", "sts", "web")
    assert sts["spec"]["volumeClaimTemplates"][0]["kind"] == "PersistentVolumeClaim"
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
    pod = pods_of(sandbox, ns)["web-0"]
    assert pod["spec"]["volumes"][0] == {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}
    assert any("does not emulate PersistentVolumeClaims: claim(s) www-web-0 of Pod web-0" in m
               for m in events(sandbox, ns))
    sandbox.kubectl("-n", ns, "exec", "web-0", "--", "sh", "-c", "echo hi > /data/note")
    assert sandbox.kubectl("-n", ns, "exec", "web-0", "--", "cat", "/data/note").stdout == "hi\n"
    warnings = sandbox.kubectl("-n", ns, "get", "events", "--field-selector", "reason=FailedMount").stdout
    assert 'claim "www-web-0"' in warnings


def test_only_the_updatable_fields_change(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=1))
    proc = sandbox.kubectl("-n", ns, "patch", "sts", "web", "-p", '{"spec":{"serviceName":"other"}}', check=False)
    assert proc.returncode != 0
    assert ("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
            "are forbidden") in proc.stderr


def test_python_client_scale_and_status(sandbox, ns):
    from kubernetes import client

    sandbox.kubectl("apply", "-f", "-", input=web(ns, replicas=1))
    apps = client.AppsV1Api(sandbox.api_client())
    apps.patch_namespaced_stateful_set_scale("web", ns, {"spec": {"replicas": 2}})
    sts = wait_for(lambda: (s := apps.read_namespaced_stateful_set_status("web", ns)).status.ready_replicas == 2 and s,
                   what="two ready replicas")
    assert sts.spec.pod_management_policy == "OrderedReady" and sts.spec.update_strategy.rolling_update.partition == 0
    scale = apps.read_namespaced_stateful_set_scale("web", ns)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (2, 2, "app=nginx")
    apps.delete_namespaced_stateful_set("web", ns)
    wait_for(lambda: not pods_of(sandbox, ns), what="the pods collected with their StatefulSet")
