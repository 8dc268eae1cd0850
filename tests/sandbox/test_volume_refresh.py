"""ConfigMap, Secret, downwardAPI and projected volumes follow the API in running pods, as the kubelet makes them:
at the pod's next periodic sync (syncFrequency 1 minute, stretched by up to half: pkg/kubelet/pod_workers.go),
written by the atomic writer (pkg/volume/util/atomic_writer.go: ``..data`` -> a timestamped directory, one link
per key), never through a ``subPath`` (kubernetes.io/docs/concepts/configuration/configmap/
#mounted-configmaps-are-updated-automatically). A projected token is asked again after 80% of its lifetime
(pkg/kubelet/token/token_manager.go). nginx keeps the certificate it read at start until ``nginx -s reload``.

The syncs run on the sandbox clock, so these tests step it with the admin endpoint instead of waiting: 90 s covers
any pod's next sync. A sandbox of the module's own: a moved clock would age every other test's objects."""

from __future__ import annotations

import base64
import json
import time

import pytest
from tests.conftest import private_sandbox, wait_for
from tests.sandbox.certificates import issue

from k8snet.sandbox import process

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NEXT_SYNC = 90  # syncFrequency (60 s) plus the largest jitter (half of it)
ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with private_sandbox(tmp_path_factory.mktemp("refresh")) as sandbox:
        yield sandbox


def advance(env, seconds: float) -> None:
    process.admin(env.running, "clock", {"advance": seconds})


def run(env, name: str, volumes: list[dict], mounts: list[dict], image: str = AGNHOST, **meta) -> None:
    container = {"name": "main", "image": image, "volumeMounts": mounts}
    if image == AGNHOST:
        container["args"] = ["pause"]
    env.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **meta},
        "spec": {"containers": [container], "volumes": volumes}}))
    env.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")


def sh(env, pod: str, script: str) -> str:
    return env.kubectl("exec", pod, "--", "sh", "-c", script).stdout


def test_a_configmap_update_reaches_the_files_at_the_next_sync_but_never_a_subpath(env):
    env.kubectl("create", "configmap", "site", "--from-literal=greeting=hello")
    run(env, "reader", [{"name": "site", "configMap": {"name": "site"}}],
        [{"name": "site", "mountPath": "/etc/site"},
         {"name": "site", "mountPath": "/etc/greeting", "subPath": "greeting"}])
    first = sh(env, "reader", "readlink /etc/site/..data").strip()
    assert first.startswith("..") and len(first.split(".")[2]) >= 1  # ..2026_12_05_12_00_00.2434149931
    assert sh(env, "reader", "ls -a /etc/site").split() == [".", "..", first, "..data", "greeting"]
    assert sh(env, "reader", "readlink /etc/site/greeting") == "..data/greeting\n"

    env.kubectl("patch", "configmap", "site", "--type=merge", "-p", '{"data": {"greeting": "bonjour", "extra": "1"}}')
    assert sh(env, "reader", "cat /etc/site/greeting") == "hello"  # not yet: the kubelet has not synced the pod
    advance(env, NEXT_SYNC)
    assert wait_for(lambda: sh(env, "reader", "cat /etc/site/greeting") == "bonjour", what="the new greeting")
    assert sh(env, "reader", "cat /etc/site/extra; echo; cat /etc/greeting") == "1\nhello"  # subPath: a copy
    second = sh(env, "reader", "readlink /etc/site/..data").strip()
    assert second != first and sh(env, "reader", "ls -a /etc/site").split() == [
        ".", "..", second, "..data", "extra", "greeting"]


def test_a_secret_update_an_optional_object_deleted_and_a_required_one_deleted(env):
    env.kubectl("create", "secret", "generic", "creds", "--from-literal=user=alice")
    env.kubectl("create", "configmap", "flags", "--from-literal=beta=on")
    env.kubectl("create", "configmap", "must", "--from-literal=mode=strict")
    run(env, "holder", [{"name": "creds", "secret": {"secretName": "creds"}},
                        {"name": "flags", "configMap": {"name": "flags", "optional": True}},
                        {"name": "must", "configMap": {"name": "must"}}],
        [{"name": "creds", "mountPath": "/etc/creds"}, {"name": "flags", "mountPath": "/etc/flags"},
         {"name": "must", "mountPath": "/etc/must"}])
    env.kubectl("patch", "secret", "creds", "-p", json.dumps({"data": {"user": base64.b64encode(b"bob").decode()}}))
    env.kubectl("delete", "configmap", "flags", "must")
    assert sh(env, "holder", "cat /etc/creds/user /etc/flags/beta") == "aliceon"
    advance(env, NEXT_SYNC)
    assert wait_for(lambda: sh(env, "holder", "cat /etc/creds/user") == "bob", what="the new secret")
    data_dir = sh(env, "holder", "readlink /etc/flags/..data").strip()
    assert sh(env, "holder", "ls -a /etc/flags").split() == [".", "..", data_dir, "..data"]  # emptied
    assert sh(env, "holder", "cat /etc/must/mode") == "strict"  # the remount failed: the files stay
    events = env.kubectl("get", "events", "--field-selector", "involvedObject.name=holder,reason=FailedMount",
                         "-o", "jsonpath={.items[*].message}").stdout
    assert 'MountVolume.SetUp failed for volume "must" : configmap "must" not found' in events


def test_an_immutable_configmap_is_read_once(env):
    env.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "immutable": True,
                                                      "metadata": {"name": "frozen"}, "data": {"v": "1"}}))
    run(env, "frozen-reader", [{"name": "frozen", "configMap": {"name": "frozen"}}],
        [{"name": "frozen", "mountPath": "/etc/frozen"}])
    patched = env.kubectl("patch", "configmap", "frozen", "--type=merge", "-p", '{"data": {"v": "2"}}', check=False)
    assert patched.returncode == 1 and "field is immutable when `immutable` is set" in patched.stderr
    env.kubectl("delete", "configmap", "frozen")
    env.kubectl("create", "configmap", "frozen", "--from-literal=v=2")
    advance(env, NEXT_SYNC)
    run(env, "fresh-reader", [{"name": "frozen", "configMap": {"name": "frozen"}}],
        [{"name": "frozen", "mountPath": "/etc/frozen"}])  # a pod started after it, which has synced too
    assert sh(env, "fresh-reader", "cat /etc/frozen/v") == "2"
    assert sh(env, "frozen-reader", "cat /etc/frozen/v") == "1"  # the kubelet stopped watching it


def test_downward_api_labels_follow_a_label_change_at_once(env):
    run(env, "labelled", [{"name": "info", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}],
        [{"name": "info", "mountPath": "/etc/podinfo"}], labels={"app": "shop"})
    assert sh(env, "labelled", "cat /etc/podinfo/labels") == 'app="shop"'
    env.kubectl("label", "pod", "labelled", "tier=gold")  # a pod update: the kubelet syncs the pod now
    assert wait_for(lambda: sh(env, "labelled", "cat /etc/podinfo/labels") == 'app="shop"\ntier="gold"',
                    what="the new label in the file")


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_projected_token_is_asked_again_after_80_percent_of_its_lifetime(env):
    env.kubectl("create", "configmap", "marker", "--from-literal=n=1")
    run(env, "vault-client", [{"name": "vault", "projected": {"sources": [
        {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "token"}},
        {"configMap": {"name": "marker"}}]}}], [{"name": "vault", "mountPath": "/var/run/vault"}])
    first = sh(env, "vault-client", "cat /var/run/vault/token")
    assert _claims(first)["aud"] == ["vault"] and _claims(first)["exp"] - _claims(first)["iat"] == 600
    default = sh(env, "vault-client", f"cat {ACCOUNT}/token")  # kube-api-access: 3607 s, refreshed after ~48 min

    env.kubectl("patch", "configmap", "marker", "--type=merge", "-p", '{"data": {"n": "2"}}')
    advance(env, 300)  # a sync comes, half of the lifetime gone: the kubelet keeps its token
    wait_for(lambda: sh(env, "vault-client", "cat /var/run/vault/n") == "2", what="the pod's sync")
    assert sh(env, "vault-client", "cat /var/run/vault/token") == first

    advance(env, 200)  # 500 s: past 80% of 600 s (less the jitter of up to 10 s)
    second = wait_for(lambda: (t := sh(env, "vault-client", "cat /var/run/vault/token")) != first and t,
                      what="a new token")
    assert _claims(second)["iat"] - _claims(first)["iat"] >= 480 and _claims(second)["aud"] == ["vault"]
    assert sh(env, "vault-client", f"cat {ACCOUNT}/token") == default
    advance(env, 2500)  # 3000 s: past 80% of the 3607 s the kubelet asks for the ServiceAccount's volume
    renewed = wait_for(lambda: (t := sh(env, "vault-client", f"cat {ACCOUNT}/token")) != default and t,
                       what="a new ServiceAccount token")
    assert _claims(renewed)["kubernetes.io"]["warnafter"] - _claims(renewed)["iat"] == 3607
    assert sh(env, "vault-client", f"readlink {ACCOUNT}/token") == "..data/token\n"


def test_nginx_serves_the_certificate_it_read_until_reload(env, tmp_path):
    """The lesson: the Secret's new certificate is in the files a minute later, but nginx answers with the one it
    loaded at start until ``nginx -s reload`` (its master re-reads configuration and certificates on SIGHUP)."""
    old_ca, new_ca = issue("Old CA", ca=True), issue("New CA", ca=True)
    old, new = issue("web", old_ca, dns=("web",)), issue("web", new_ca, dns=("web",))
    (tmp_path / "tls.crt").write_text(old.cert_pem)
    (tmp_path / "tls.key").write_text(old.key_pem)
    (tmp_path / "ca.crt").write_text(new_ca.cert_pem)
    env.kubectl("create", "secret", "tls", "web-tls", f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}")
    env.kubectl("create", "configmap", "trust", f"--from-file={tmp_path / 'ca.crt'}")
    env.kubectl("create", "configmap", "web-site", "--from-literal=default.conf=server { listen 443 ssl; "
                "server_name web;\n  ssl_certificate /etc/nginx/tls/tls.crt; ssl_certificate_key /etc/nginx/tls/tls.key;"
                "\n  return 200 \"hello\\n\"; }\n")
    run(env, "web", [{"name": "site", "configMap": {"name": "web-site"}},
                     {"name": "tls", "secret": {"secretName": "web-tls"}}],
        [{"name": "site", "mountPath": "/etc/nginx/conf.d"}, {"name": "tls", "mountPath": "/etc/nginx/tls"}],
        image="nginx:1.27", labels={"app": "web"})
    env.kubectl("expose", "pod", "web", "--port=443")
    run(env, "client", [{"name": "trust", "configMap": {"name": "trust"}}], [{"name": "trust", "mountPath": "/trust"}])

    def curl():
        return env.kubectl("exec", "client", "--", "curl", "-sS", "--cacert", "/trust/ca.crt", "https://web/",
                           check=False)

    assert wait_for(lambda: curl().returncode == 60, what="the old certificate, which the client does not trust")
    env.kubectl("patch", "secret", "web-tls", "-p", json.dumps({"data": {
        "tls.crt": base64.b64encode(new.cert_pem.encode()).decode(),
        "tls.key": base64.b64encode(new.key_pem.encode()).decode()}}))
    advance(env, NEXT_SYNC)
    wait_for(lambda: env.kubectl("exec", "web", "--", "cat", "/etc/nginx/tls/tls.crt").stdout == new.cert_pem,
             what="the new certificate in nginx's files")
    assert curl().returncode == 60  # nginx still presents the certificate it loaded at start
    reload = env.kubectl("exec", "web", "--", "nginx", "-s", "reload")
    assert "signal process started" in reload.stderr
    assert curl().stdout == "hello\n"
    assert "signal 1 (SIGHUP) received" in env.kubectl("logs", "web").stdout


def test_a_failed_mount_is_tried_again_after_a_back_off_that_stops_at_2m2s(env):
    """pkg/util/goroutinemap/exponentialbackoff/exponential_backoff.go: 500 ms after the first failed SetUp,
    doubled after each one, at most 2m2s; the tries wait on the sandbox clock, so stepping it brings each on."""
    env.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "patient"},
        "spec": {"containers": [{"name": "main", "image": AGNHOST, "args": ["pause"],
                                 "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds"}]}],
                 "volumes": [{"name": "creds", "secret": {"secretName": "late"}}]}}))

    def tries() -> int:
        events = env.kubectl_json("get", "events", "--field-selector", "involvedObject.name=patient,reason=FailedMount")
        return sum(e["count"] for e in events["items"])

    wait_for(tries, what="the first failed mount")
    while (seen := tries()) < 10:  # the 10th failure waits 2m2s (uncapped: 0.5 s * 2^9 = 256 s)
        advance(env, 130)
        wait_for(lambda seen=seen: tries() > seen, what=f"try {seen + 1}")
    env.kubectl("create", "secret", "generic", "late", "--from-literal=token=t0k3n")
    advance(env, 100)  # short of 2m2s: no try yet
    time.sleep(0.5)  # a try that the clock brought on would have run by now (it waits 0.1 s)
    assert env.kubectl_json("get", "pod", "patient")["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}}
    advance(env, 30)
    env.kubectl("wait", "--for=condition=Ready", "pod/patient", "--timeout=30s")
    assert sh(env, "patient", "cat /etc/creds/token") == "t0k3n"
