"""trust-manager's Bundle (trust.cert-manager.io/v1alpha1) through kubectl and the kubernetes client: how clients
learn a private CA.

What each test holds the sandbox to is trust-manager v0.24.0's behaviour (github.com/cert-manager/trust-manager):
pkg/bundle/bundle.go (conditions, Events, which namespaces get a target), pkg/bundle/internal/source (sources in the
trust namespace ``cert-manager``), pkg/bundle/internal/target (the target ConfigMap's label, hash annotation,
ownerReference, server-side apply as ``trust-manager``) and pkg/util/cert_pool.go (the PEM bundle: deduplicated,
ordered by the SHA-256 of each certificate, no trailing newline).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from tests.conftest import private_sandbox, wait_for

from k8snet import certs
from k8snet.sandbox import process

GROUP, VERSION = "trust.cert-manager.io", "v1alpha1"
TRUST_NAMESPACE = "cert-manager"
LABEL = "trust.cert-manager.io/bundle"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
NGINX = "nginx:1.29.1"


class Trust:
    """The test's Bundles and trust-namespace sources, through the kubernetes client; all deleted afterwards."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.api = sandbox.api_client()
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.bundles: list[str] = []
        self.sources: list[tuple[str, str]] = []

    def name(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:6]}"

    def bundle(self, name: str, sources: list[dict], target: dict | None = None) -> dict:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Bundle", "metadata": {"name": name},
                "spec": {"sources": sources, "target": target or {"configMap": {"key": "ca.crt"}}}}
        self.bundles.append(name)
        return self.custom.create_cluster_custom_object(GROUP, VERSION, "bundles", body)

    def secret(self, name: str, pair: certs.KeyPair | certs.Authority) -> None:
        self.sources.append(("secret", name))
        manifest = certs.tls_secret(name, pair)
        try:
            self.core.create_namespaced_secret(TRUST_NAMESPACE, manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, TRUST_NAMESPACE, manifest)

    def configmap(self, name: str, data: dict[str, str]) -> None:
        self.sources.append(("configmap", name))
        self.core.create_namespaced_config_map(TRUST_NAMESPACE, {"metadata": {"name": name}, "data": data})

    def get(self, name: str) -> dict:
        return self.custom.get_cluster_custom_object(GROUP, VERSION, "bundles", name)

    def synced(self, name: str, status: str, reason: str | None = None) -> dict:
        """Wait for the Bundle's Synced condition to have ``status`` (and ``reason``); returns the condition."""
        def check():
            for c in (self.get(name).get("status") or {}).get("conditions") or []:
                if c["type"] == "Synced" and c["status"] == status and reason in (None, c["reason"]):
                    return c
            return None
        return wait_for(check, what=f"Bundle {name} Synced={status} {reason or ''}")

    def target(self, name: str, namespace: str) -> client.V1ConfigMap | None:
        try:
            return self.core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def target_namespaces(self, name: str) -> set[str]:
        items = self.core.list_config_map_for_all_namespaces(label_selector=f"{LABEL}={name}").items
        return {cm.metadata.namespace for cm in items if cm.metadata.name == name}

    def active_namespaces(self) -> set[str]:
        return {n.metadata.name for n in self.core.list_namespace().items if n.status.phase == "Active"}

    def events(self, name: str) -> list:
        return self.core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items

    def cleanup(self) -> None:
        for name in self.bundles:
            try:
                self.custom.delete_cluster_custom_object(GROUP, VERSION, "bundles", name)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        for kind, name in self.sources:
            delete = self.core.delete_namespaced_secret if kind == "secret" else self.core.delete_namespaced_config_map
            try:
                delete(name, TRUST_NAMESPACE)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        for name in self.bundles:  # the garbage collector removes the targets (they are the Bundle's dependents)
            wait_for(lambda n=name: not self.target_namespaces(n), what=f"the targets of {name} to go")


@pytest.fixture
def trust(sandbox) -> Iterator[Trust]:
    t = Trust(sandbox)
    yield t
    t.cleanup()


def der(pem: str) -> bytes:
    return base64.b64decode("".join(line for line in pem.strip().splitlines() if not line.startswith("-----")))


def test_a_ca_in_a_secret_and_an_inline_ca_reach_every_namespace_as_one_pem_bundle(sandbox, trust, ns):
    private, partner = certs.authority("shop private CA"), certs.authority("partner CA")
    secret, name = trust.name("shop-ca"), trust.name("shop-trust")
    trust.secret(secret, private)
    # the partner CA twice, once behind a comment: it is kept once, and the comment is dropped
    trust.bundle(name, [{"secret": {"name": secret, "key": "tls.crt"}}, {"inLine": partner.pem},
                        {"inLine": "# a comment trust-manager drops\n" + partner.pem}])
    condition = trust.synced(name, "True", "Synced")
    assert condition["message"] == "Successfully synced Bundle to all namespaces"
    assert condition["observedGeneration"] == 1

    # a ConfigMap named after the Bundle in every namespace, the trust namespace and the test's own included
    wait_for(lambda: trust.target_namespaces(name) >= trust.active_namespaces(), what="a target in every namespace")
    assert {TRUST_NAMESPACE, ns, "default", "kube-system"} <= trust.target_namespaces(name)
    cm = trust.target(name, ns)
    pem = cm.data["ca.crt"]
    chain = certs.chain(pem)
    assert sorted(c.subject for c in chain) == ["CN=partner CA", "CN=shop private CA"]
    assert all(c.is_ca for c in chain)
    # trust-manager's sanitised bundle: certificates ordered by the SHA-256 of their DER, no trailing newline
    expected = sorted([private.pem, partner.pem], key=lambda p: hashlib.sha256(der(p)).digest())
    assert pem == "".join(expected).strip() and not pem.endswith("\n")
    assert cm.metadata.labels == {LABEL: name}
    assert cm.metadata.annotations == {"trust.cert-manager.io/hash": hashlib.sha256(pem.encode()).hexdigest()}
    [owner] = cm.metadata.owner_references
    bundle = trust.get(name)
    assert (owner.api_version, owner.kind, owner.name, owner.uid, owner.controller, owner.block_owner_deletion) == \
        (f"{GROUP}/{VERSION}", "Bundle", name, bundle["metadata"]["uid"], True, True)
    [managed] = [m for m in cm.metadata.managed_fields if m.manager == "trust-manager"]
    assert managed.operation == "Apply" and "f:ca.crt" in managed.fields_v1["f:data"]
    [status_owner] = [m for m in bundle["metadata"]["managedFields"] if m.get("subresource") == "status"]
    assert (status_owner["manager"], status_owner["operation"]) == ("trust-manager", "Apply")
    synced = [e for e in trust.events(name) if e.reason == "Synced"]
    assert synced and synced[0].type == "Normal" and synced[0].action == "Synced"
    assert synced[0].reporting_component == "bundles"

    # a namespace created afterwards gets its copy
    fresh = trust.name("t-late")
    sandbox.kubectl("create", "namespace", fresh)
    try:
        wait_for(lambda: trust.target(name, fresh), what=f"the target in the new namespace {fresh}")
        assert trust.target(name, fresh).data == {"ca.crt": pem}
    finally:
        sandbox.kubectl("delete", "namespace", fresh, "--wait=false")

    # the source changes (the CA is rotated): every target follows
    rotated = certs.authority("shop private CA 2")
    trust.secret(secret, rotated)
    wait_for(lambda: rotated.pem.strip() in trust.target(name, ns).data["ca.crt"], what="the rotated CA in the target")
    now = trust.target(name, ns).data["ca.crt"]
    assert private.pem.strip() not in now and partner.pem.strip() in now
    assert trust.target(name, "default").data["ca.crt"] == now


def test_a_namespace_selector_picks_namespaces_and_drops_those_that_stop_matching(sandbox, trust, ns):
    ca = certs.authority("team CA")
    name, label = trust.name("team-trust"), trust.name("team")
    trust.bundle(name, [{"inLine": ca.pem}], {"configMap": {"key": "team-ca.pem"},
                                              "namespaceSelector": {"matchLabels": {"trust": label}}})
    condition = trust.synced(name, "True", "Synced")
    assert condition["message"] == f"Successfully synced Bundle to namespaces that match this label selector: " \
                                   f"trust={label}"
    assert trust.target_namespaces(name) == set()
    sandbox.kubectl("label", "namespace", ns, f"trust={label}")
    wait_for(lambda: trust.target_namespaces(name) == {ns}, what=f"the target in {ns} only")

    # a key someone else wrote stays when the namespace stops matching; trust-manager's own key goes
    sandbox.kubectl("-n", ns, "patch", "configmap", name, "--type=merge", "-p", '{"data":{"mine":"keep me"}}')
    sandbox.kubectl("label", "namespace", ns, "trust-")
    wait_for(lambda: "team-ca.pem" not in (trust.target(name, ns).data or {}), what="trust-manager's key to go")
    assert trust.target(name, ns).data == {"mine": "keep me"}
    sandbox.kubectl("-n", ns, "delete", "configmap", name)
    sandbox.kubectl("label", "namespace", ns, f"trust={label}")
    wait_for(lambda: trust.target(name, ns), what="the target to come back")
    sandbox.kubectl("label", "namespace", ns, "trust-")
    wait_for(lambda: trust.target(name, ns) is None, what="a target with no other data to be deleted")


def test_a_missing_source_is_synced_false_until_it_appears_and_kubectl_shows_the_columns(sandbox, trust, ns):
    ca = certs.authority("late CA")
    name, source = trust.name("late-trust"), trust.name("late-ca")
    trust.bundle(name, [{"configMap": {"name": source, "key": "ca.pem"}}],
                 {"configMap": {"key": "ca.crt"},
                  "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
    failed = trust.synced(name, "False", "SourceNotFound")
    message = (f"Bundle source was not found: failed to get ConfigMap {TRUST_NAMESPACE}/{source}: "
               f'ConfigMap "{source}" not found')
    assert failed["message"] == message
    warning = wait_for(lambda: [e for e in trust.events(name) if e.reason == "SourceNotFound"], what="the Warning")
    assert (warning[0].type, warning[0].message, warning[0].action) == ("Warning", message, "SyncFailed")
    assert trust.target(name, ns) is None
    table = sandbox.kubectl("get", "bundles", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "CONFIGMAP", "TARGET", "SECRET", "TARGET", "SYNCED", "REASON", "AGE"]
    assert table[1].split()[:4] == [name, "ca.crt", "False", "SourceNotFound"]

    trust.configmap(source, {"ca.pem": ca.pem})  # in the trust namespace: the Bundle is looked at again
    trust.synced(name, "True", "Synced")
    assert trust.target(name, ns).data == {"ca.crt": ca.pem.strip()}
    table = sandbox.kubectl("get", "bundles", name, "--no-headers").stdout.split()
    assert table[:4] == [name, "ca.crt", "True", "Synced"]
    described = sandbox.kubectl("describe", "bundle", name).stdout
    assert "Successfully synced Bundle to namespaces that match this label selector" in described

    # a ConfigMap of that name outside the trust namespace is no source: only cert-manager is read
    other, elsewhere = trust.name("elsewhere"), trust.name("not-a-source")
    trust.core.create_namespaced_config_map(ns, {"metadata": {"name": elsewhere}, "data": {"ca.pem": ca.pem}})
    trust.bundle(other, [{"configMap": {"name": elsewhere, "key": "ca.pem"}}],
                 {"configMap": {"key": "ca.crt"}, "namespaceSelector": {"matchLabels": {"none": "none"}}})
    assert trust.synced(other, "False", "SourceNotFound")["message"] == (
        f"Bundle source was not found: failed to get ConfigMap {TRUST_NAMESPACE}/{elsewhere}: "
        f'ConfigMap "{elsewhere}" not found')


def test_deleting_a_bundle_removes_every_target(sandbox, trust, ns):
    name = trust.name("gone")
    trust.bundle(name, [{"inLine": certs.authority("short-lived CA").pem}])
    trust.synced(name, "True")
    wait_for(lambda: ns in trust.target_namespaces(name), what="the targets")
    sandbox.kubectl("delete", "bundle", name)
    wait_for(lambda: not trust.target_namespaces(name), what="every target to be deleted with its Bundle")


def test_what_trust_manager_refuses_it_says_in_the_condition(sandbox, trust, ns):
    ca = certs.authority("refusal CA")
    only_ns = {"matchLabels": {"kubernetes.io/metadata.name": ns}}
    secret = trust.name("tls-ca")
    trust.secret(secret, ca)
    key = trust.name("key")
    trust.configmap(key, {"ca.pem": ca.pair.key_pem})
    cases = {
        # no default CA package: trust-manager's own error (the sandbox, like the kind install, has none)
        "defaults": ([{"useDefaultCAs": True}], {"configMap": {"key": "ca.crt"}}, "SourceNotFound",
                     "Bundle source was not found: no default package was specified when trust-manager was started; "
                     "default CAs not available"),
        "secret-target": ([{"inLine": ca.pem}], {"secret": {"key": "ca.crt"}}, "SecretTargetsDisabled",
                          "Bundle has Secret targets but the feature is disabled"),
        "private-key": ([{"configMap": {"name": key, "key": "ca.pem"}}], {"configMap": {"key": "ca.crt"}},
                        "SourceBuildError",
                        f'Failed to build bundle sources: invalid PEM data in ConfigMap {TRUST_NAMESPACE}/{key} at key '
                        "\"ca.pem\": invalid PEM block in bundle: only CERTIFICATE blocks are permitted but found "
                        "'PRIVATE KEY'"),
        "tls-all-keys": ([{"secret": {"name": secret, "includeAllKeys": True}}], {"configMap": {"key": "ca.crt"}},
                         "SourceBuildError", "Failed to build bundle sources: includeAllKeys is not supported for TLS "
                         f"Secrets such as {TRUST_NAMESPACE}/{secret}"),
        "jks": ([{"inLine": ca.pem}], {"configMap": {"key": "ca.crt"}, "additionalFormats": {"jks": {"key": "t.jks"}}},
                "SyncConfigMapTargetFailed", f'Failed to sync bundle ConfigMap to namespace "{ns}": failed to encode '
                "JKS: the sandbox does not write JKS trust stores (deprecated in trust-manager: use "
                "additionalFormats.pkcs12)"),
    }
    names = {}
    for case, (sources, target, _, _) in cases.items():
        names[case] = trust.name(case)
        trust.bundle(names[case], sources, {**target, "namespaceSelector": only_ns})
    for case, (_, _, reason, message) in cases.items():
        assert trust.synced(names[case], "False", reason)["message"] == message, case
    assert trust.target(names["jks"], ns) is None

    # trust-manager's validating webhook refuses what the CRD lets through (403, in its words), also on update
    with pytest.raises(ApiException) as info:
        trust.bundle(trust.name("unkeyed"), [{"configMap": {"name": key}}], {"configMap": {"key": "ca.crt"}})
    assert info.value.status == 403 and json.loads(info.value.body)["message"] == (
        'admission webhook "trust.cert-manager.io" denied the request: spec.sources[0].configMap: Invalid value: '
        '"key: \' \', includeAllKeys: false": source configMap key must be defined when includeAllKeys is false')
    relabel = sandbox.kubectl("patch", "bundle", names["defaults"], "--type=merge", "-p", json.dumps(
        {"spec": {"target": {"configMap": {"metadata": {"labels": {"trust.cert-manager.io/own": "x"}}}}}}), check=False)
    assert relabel.returncode == 1 and 'denied the request: spec.target.configMap.metadata.labels: Invalid value: ' \
        '"trust.cert-manager.io/own": trust.cert-manager.io/* labels are not allowed' in relabel.stderr

    # the CRD's own rules answer as kube-apiserver does
    bad = sandbox.kubectl("apply", "-f", "-", check=False, input=json.dumps({
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Bundle", "metadata": {"name": trust.name("two")},
        "spec": {"sources": [{"inLine": ca.pem, "useDefaultCAs": False}], "target": {"configMap": {"key": "k"}}}}))
    assert bad.returncode == 1
    assert "spec.sources[0]: Invalid value: \"object\": exactly one of the fields in [configMap secret inLine " \
           "useDefaultCAs] must be set" in bad.stderr


def test_a_pkcs12_trust_store_joins_the_pem_bundle(sandbox, trust, ns):
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = certs.authority("java CA")
    name = trust.name("java-trust")
    trust.bundle(name, [{"inLine": ca.pem}], {"configMap": {"key": "ca.crt"}, "additionalFormats": {
        "pkcs12": {"key": "truststore.p12", "password": "changeit", "profile": "Modern2023"}},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
    trust.synced(name, "True")
    cm = trust.target(name, ns)
    store = pkcs12.load_pkcs12(base64.b64decode(cm.binary_data["truststore.p12"]), b"changeit")
    [entry] = store.additional_certs
    assert entry.certificate == ca.pair.cert
    assert entry.friendly_name == f"{hashlib.sha256(der(ca.pem)).hexdigest()[:8]}|CN=java CA".encode()
    # the password is part of the hash, so a new password rewrites the target
    before = cm.metadata.annotations["trust.cert-manager.io/hash"]
    assert before != hashlib.sha256(cm.data["ca.crt"].encode()).hexdigest()
    trust.custom.patch_cluster_custom_object(GROUP, VERSION, "bundles", name, {"spec": {"target": {
        "additionalFormats": {"pkcs12": {"key": "truststore.p12", "password": "", "profile": "Modern2023"}}}}})
    wait_for(lambda: trust.target(name, ns).metadata.annotations["trust.cert-manager.io/hash"] != before,
             what="the target rewritten for the new password")
    store = pkcs12.load_pkcs12(base64.b64decode(trust.target(name, ns).binary_data["truststore.p12"]), None)
    assert [c.certificate for c in store.additional_certs] == [ca.pair.cert]


SITE = """server {
    listen 443 ssl;
    server_name web;
    ssl_certificate /etc/nginx/ssl/tls.crt;
    ssl_certificate_key /etc/nginx/ssl/tls.key;
    location / { return 200 "hello over TLS\\n"; }
}
"""


def test_a_pod_mounts_the_bundle_and_curl_verifies_a_server_that_ca_signed(sandbox, trust, ns):
    """The lesson's whole story: a private CA in cert-manager's namespace signs, through a CA ClusterIssuer, the
    certificate nginx serves; the Bundle hands the CA to every client pod, whose curl then verifies nginx."""
    ca = certs.authority("internal CA")
    issuer, name = trust.name("internal-ca"), trust.name("internal-trust")
    trust.secret(issuer, ca)
    trust.bundle(name, [{"secret": {"name": issuer, "key": "tls.crt"}}],
                 {"configMap": {"key": "ca.crt"},
                  "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}})
    sandbox.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": issuer},
        "spec": {"ca": {"secretName": issuer}}}))
    try:
        _serve_and_verify(sandbox, trust, ns, issuer, name)
    finally:
        sandbox.kubectl("delete", "clusterissuer", issuer, "--wait=false", check=False)


def _serve_and_verify(sandbox, trust, ns: str, issuer: str, name: str) -> None:
    manifests = [
        {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "web"},
         "spec": {"secretName": "web-tls", "dnsNames": ["web", f"web.{ns}.svc"], "privateKey": {"algorithm": "ECDSA"},
                  "issuerRef": {"name": issuer, "kind": "ClusterIssuer"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"}, "data": {"default.conf": SITE}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"containers": [{"name": "nginx", "image": NGINX, "volumeMounts": [
             {"name": "tls", "mountPath": "/etc/nginx/ssl"}, {"name": "site", "mountPath": "/etc/nginx/conf.d"}]}],
             "volumes": [{"name": "tls", "secret": {"secretName": "web-tls"}},
                         {"name": "site", "configMap": {"name": "site"}}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 443, "targetPort": 443}]}},
        # the client trusts what the Bundle distributes: its ConfigMap, mounted
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
         "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                  "volumeMounts": [{"name": "trust", "mountPath": "/etc/trust", "readOnly": True}]}],
                  "volumes": [{"name": "trust", "configMap": {"name": name}}]}},
    ]
    trust.synced(name, "True")
    wait_for(lambda: trust.target(name, ns), what="the Bundle's ConfigMap in the namespace")
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "certificate/web", "--timeout=60s")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/web", "pod/client", "--timeout=60s")
    served = certs.secret(trust.core.read_namespaced_secret("web-tls", ns))
    assert served.leaf.issuer == "CN=internal CA"

    def curl(*args: str):
        return sandbox.kubectl("-n", ns, "exec", "client", "--", "curl", "-sS", *args, check=False)

    answer = wait_for(lambda: (r := curl("--cacert", "/etc/trust/ca.crt", "https://web")).returncode == 0 and r,
                      what="curl to verify web's certificate with the Bundle")
    assert answer.stdout == "hello over TLS\n"
    assert curl("--cacert", "/etc/trust/ca.crt", f"https://web.{ns}.svc").stdout == "hello over TLS\n"
    untrusted = curl("https://web")  # the image's own CAs do not know the private CA
    assert untrusted.returncode == 60 and "SSL certificate problem" in untrusted.stderr


def test_trust_manager_owns_only_its_condition_and_another_applier_keeps_its_own(sandbox, trust, ns):
    """The status is server-side applied to /status as trust-manager (ssa_client.GenerateBundleStatusPatch):
    another manager's condition in the same list-type map stays, and each manager's entry names the subresource."""
    name = trust.name("shared-status")
    trust.bundle(name, [{"inLine": certs.authority("status CA").pem}],
                 {"configMap": {"key": "ca.crt"}, "namespaceSelector": {"matchLabels": {"none": "none"}}})
    trust.synced(name, "True")
    mine = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Bundle", "metadata": {"name": name}, "status": {
        "conditions": [{"type": "Audited", "status": "True", "reason": "Reviewed", "message": "checked by hand",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
    sandbox.kubectl("apply", "--server-side", "--subresource=status", "--field-manager=auditor", "-f", "-",
                    input=json.dumps(mine))
    bundle = trust.get(name)
    assert [c["type"] for c in bundle["status"]["conditions"]] == ["Synced", "Audited"]
    owners = {(m["manager"], m["operation"], m.get("subresource")) for m in bundle["metadata"]["managedFields"]}
    assert {("trust-manager", "Apply", "status"), ("auditor", "Apply", "status")} <= owners
    # a change that wakes trust-manager keeps the other condition
    trust.custom.patch_cluster_custom_object(GROUP, VERSION, "bundles", name, {"metadata": {"labels": {"a": "b"}}})
    sandbox.kubectl("label", "namespace", ns, "none=none")
    wait_for(lambda: trust.target(name, ns), what="the target")
    assert [c["type"] for c in trust.get(name)["status"]["conditions"]] == ["Synced", "Audited"]


@pytest.fixture(scope="module")
def clocked(tmp_path_factory):
    """A sandbox of its own, whose clock the test moves (a moved clock would age the session sandbox's objects)."""
    with private_sandbox(tmp_path_factory.mktemp("trust-clock")) as env:
        yield env


def test_a_new_ca_reaches_a_running_pods_mounted_bundle_at_the_kubelets_next_sync(clocked):
    """Rotation: a CA added to the source reaches every target at once, and a running pod's mounted file at the
    kubelet's next pod sync (syncFrequency 1 minute plus jitter, on the sandbox clock; the volume refresh tests step
    it by 90 s) -- until then its clients still refuse the new CA's certificates."""
    old, new = certs.authority("CA of this year"), certs.authority("CA of next year")
    clocked.kubectl("-n", TRUST_NAMESPACE, "create", "configmap", "cas", f"--from-literal=ca.pem={old.pem}")
    bundle = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Bundle", "metadata": {"name": "rotation"},
              "spec": {"sources": [{"configMap": {"name": "cas", "key": "ca.pem"}}],
                       "target": {"configMap": {"key": "ca.crt"},
                                  "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}}}
    manifests = [bundle, certs.tls_secret("web-tls", new.issue("web")),
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"},
                  "data": {"default.conf": SITE}},
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
                  "spec": {"containers": [{"name": "nginx", "image": NGINX, "volumeMounts": [
                      {"name": "tls", "mountPath": "/etc/nginx/ssl"},
                      {"name": "site", "mountPath": "/etc/nginx/conf.d"}]}],
                      "volumes": [{"name": "tls", "secret": {"secretName": "web-tls"}},
                                  {"name": "site", "configMap": {"name": "site"}}]}},
                 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                  "spec": {"selector": {"app": "web"}, "ports": [{"port": 443, "targetPort": 443}]}},
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
                  "spec": {"containers": [{"name": "agnhost", "image": AGNHOST,
                                           "volumeMounts": [{"name": "trust", "mountPath": "/etc/trust"}]}],
                           "volumes": [{"name": "trust", "configMap": {"name": "rotation"}}]}}]
    clocked.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(m) for m in manifests))
    clocked.kubectl("wait", "--for=condition=Ready", "pod/web", "pod/client", "--timeout=60s")

    def curl():
        return clocked.kubectl("exec", "client", "--", "curl", "-sS", "--cacert", "/etc/trust/ca.crt",
                               "https://web", check=False)

    refused = wait_for(lambda: (r := curl()).returncode == 60 and r, what="curl to refuse the new CA's certificate")
    assert "SSL certificate problem" in refused.stderr

    clocked.kubectl("-n", TRUST_NAMESPACE, "patch", "configmap", "cas", "--type=merge", "-p",
                    json.dumps({"data": {"ca.pem": old.pem + new.pem}}))
    wait_for(lambda: clocked.kubectl_json("get", "configmap", "rotation")["data"]["ca.crt"].count("BEGIN") == 2,
             what="both CAs in the target")
    assert curl().returncode == 60  # the pod's file is the kubelet's copy: not yet rewritten
    process.admin(clocked.running, "clock", {"advance": 90})
    answer = wait_for(lambda: (r := curl()).returncode == 0 and r, what="the pod's bundle to trust the new CA")
    assert answer.stdout == "hello over TLS\n"
