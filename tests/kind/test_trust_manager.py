"""trust-manager on the kind backend: the rendered Helm chart k8snet applies (manifests/trust-manager.yaml) checked
without Docker against the chart's values and the sandbox's emulation, and, on a real kind cluster
(``make test-kind``), the same Bundle giving the same answers on both backends."""

from __future__ import annotations

import json
import time
from importlib.resources import files

import pytest
import yaml

from k8snet import certs
from k8snet.kind import addons, commands, versions
from k8snet.sandbox import validation
from k8snet.sandbox.controllers.trust import options, webhook
from k8snet.sandbox.controllers.trust.certpool import CertPool

from .conftest import assert_strict

HELM_LABELS = {"app.kubernetes.io/name": "trust-manager",
               "helm.sh/chart": f"trust-manager-{versions.TRUST_MANAGER_VERSION}",
               "app.kubernetes.io/instance": "trust-manager",
               "app.kubernetes.io/version": versions.TRUST_MANAGER_VERSION, "app.kubernetes.io/managed-by": "Helm"}


def objects() -> list[dict]:
    return addons.trust_manager_objects()


def by_kind(kind: str) -> list[dict]:
    return [o for o in objects() if o["kind"] == kind]


def test_the_rendered_chart_holds_what_helm_installs_in_helms_order():
    assert [(o["kind"], o["metadata"]["name"]) for o in objects()] == [
        ("ServiceAccount", "trust-manager"), ("CustomResourceDefinition", "bundles.trust.cert-manager.io"),
        ("ClusterRole", "trust-manager-cluster-view"), ("ClusterRole", "trust-manager"),
        ("ClusterRoleBinding", "trust-manager"), ("Role", "trust-manager"), ("Role", "trust-manager:leaderelection"),
        ("RoleBinding", "trust-manager"), ("RoleBinding", "trust-manager:leaderelection"),
        ("Service", "trust-manager-metrics"), ("Service", "trust-manager"), ("Deployment", "trust-manager"),
        ("ValidatingWebhookConfiguration", "trust-manager"), ("Certificate", "trust-manager"),
        ("Issuer", "trust-manager")]
    for obj in objects():
        assert HELM_LABELS.items() <= obj["metadata"]["labels"].items(), obj["metadata"]["name"]
        if obj["kind"] not in ("CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                               "ValidatingWebhookConfiguration"):
            assert obj["metadata"]["namespace"] == versions.TRUST_MANAGER_NAMESPACE


def test_every_builtin_object_decodes_strictly_against_its_1_33_schema():
    for obj in objects():
        group, _, version = obj["apiVersion"].rpartition("/")
        if group not in validation.BUILTIN_GROUPS and group != "admissionregistration.k8s.io":
            assert group == "cert-manager.io" and obj["kind"] in ("Certificate", "Issuer")
            continue
        assert_strict(obj)


def test_the_crd_is_the_one_the_sandbox_serves():
    text = (files("k8snet.sandbox") / "crds" / "trust.cert-manager.io.yaml").read_text()
    assert f"tag {versions.TRUST_MANAGER_VERSION}" in text
    [served] = [d for d in yaml.safe_load_all(text) if d]
    [applied] = by_kind("CustomResourceDefinition")
    assert applied["spec"] == served["spec"]
    assert applied["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}  # crds.keep: true


def test_the_deployment_runs_the_pinned_image_with_the_options_the_sandbox_emulates():
    [dep] = by_kind("Deployment")
    pod = dep["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == versions.TRUST_MANAGER_IMAGE
    assert versions.TRUST_MANAGER_IMAGE.endswith(":" + versions.TRUST_MANAGER_VERSION)
    args = container["args"]
    assert f"--trust-namespace={options.DEFAULTS.namespace}" in args
    assert options.DEFAULTS.namespace == versions.TRUST_MANAGER_NAMESPACE
    # the sandbox's options: no default CA package, no Secret targets, no certificate filters
    assert not any(a.startswith(("--default-package-location", "--secret-targets-enabled",
                                 "--filter-expired-certificates", "--filter-non-ca-certs")) for a in args)
    assert (options.DEFAULTS.default_package, options.DEFAULTS.secret_targets_enabled) == (False, False)
    assert "initContainers" not in pod  # defaultPackage.enabled=false: no Debian package copied in
    assert pod["volumes"] == [{"name": "tls", "secret": {"defaultMode": 420, "secretName": "trust-manager-tls"}}]
    [cert] = by_kind("Certificate")
    assert cert["spec"]["secretName"] == "trust-manager-tls"
    assert cert["spec"]["dnsNames"] == [f"trust-manager.{versions.TRUST_MANAGER_NAMESPACE}.svc"]
    [issuer] = by_kind("Issuer")
    assert cert["spec"]["issuerRef"] == {"name": issuer["metadata"]["name"], "kind": "Issuer",
                                         "group": "cert-manager.io"}
    webhook_svc = next(s for s in by_kind("Service") if s["metadata"]["name"] == "trust-manager")
    assert webhook_svc["spec"]["ports"][0]["targetPort"] == next(
        p["containerPort"] for p in container["ports"] if p["name"] == "webhook")


def test_the_webhook_configuration_names_the_webhook_the_sandbox_ports():
    [config] = by_kind("ValidatingWebhookConfiguration")
    [hook] = config["webhooks"]
    assert hook["name"] == webhook.WEBHOOK and hook["failurePolicy"] == "Fail"
    assert hook["rules"] == [{"apiGroups": [options.GROUP], "apiVersions": [options.VERSION],
                              "operations": ["CREATE", "UPDATE"], "resources": ["bundles"]}]
    assert hook["clientConfig"]["service"] == {"name": "trust-manager", "namespace": versions.TRUST_MANAGER_NAMESPACE,
                                               "path": "/validate-trust-cert-manager-io-v1alpha1-bundle"}
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == \
        f"{versions.TRUST_MANAGER_NAMESPACE}/trust-manager"


def test_installing_without_cert_manager_is_refused_with_what_to_do():
    assert addons.cert_manager_missing(set(addons.CERT_MANAGER_CRDS)) is None
    problem = addons.cert_manager_missing({"issuers.cert-manager.io"})
    assert problem is not None and "needs cert-manager" in problem and "certificates.cert-manager.io" in problem
    with pytest.raises(commands.ToolError, match="(?s)needs cert-manager.*fix: install cert-manager first"):
        addons.apply_trust_manager(None, set())  # type: ignore[arg-type]  # refused before any API call


def test_the_readiness_probe_is_a_bundle_the_webhook_allows_and_an_api_server_accepts(sandbox):
    probe = addons.trust_manager_probe()
    assert webhook.validate(probe) == []
    out = sandbox.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-", input=json.dumps(probe)).stdout
    assert out.strip() == "bundle.trust.cert-manager.io/k8snet-readiness-probe"


def test_the_install_step_applies_the_chart_and_waits_for_the_deployment_and_the_webhook(sandbox, monkeypatch):
    """The kind-only step against a real API server (the sandbox's, which has cert-manager's CRDs): the chart's
    objects applied (a stand-in Deployment, agnhost pausing, for the image the sandbox cannot run), the Deployment
    awaited, then the dry-run Bundle its webhook must admit; the status check sees it."""
    import k8snet
    from k8snet.kind import lifecycle, readiness

    cluster = k8snet.connect("sandbox", start=False)
    chart = {(o["kind"], o["metadata"]["name"]): o for o in objects()}
    dep = json.loads(json.dumps(chart[("Deployment", "trust-manager")]))
    pod = dep["spec"]["template"]["spec"]
    pod["containers"] = [{"name": "trust-manager", "image": versions.AGNHOST_IMAGE, "args": ["pause"]}]
    pod.pop("volumes")  # the webhook's serving Secret comes from cert-manager on kind
    stand_in = [chart[("ServiceAccount", "trust-manager")], chart[("CustomResourceDefinition",
                                                                   "bundles.trust.cert-manager.io")], dep]
    monkeypatch.setattr(addons, "trust_manager_objects", lambda: stand_in)
    before, seen = readiness.trust_manager_ready(cluster)
    assert before is None and seen == "trust-manager is not installed (no Deployment cert-manager/trust-manager)"
    run = lifecycle._Run(lifecycle.Options(timeout=60), say=lambda line: None)
    run.cluster = cluster
    try:
        assert not addons.cert_manager_missing(lifecycle.established_crds(cluster))
        lifecycle.install_trust_manager(run)
        assert readiness.trust_manager_ready(cluster) == (versions.AGNHOST_IMAGE, "ready")
        assert readiness.dry_run_accepted(cluster, addons.trust_manager_probe()) == (True, "accepted")
        bad = {**addons.trust_manager_probe(), "spec": {"sources": [{"secret": {"name": "x"}}],
                                                        "target": {"configMap": {"key": "ca.crt"}}}}
        ok, said = readiness.dry_run_accepted(cluster, bad)
        assert not ok and said == f"HTTP 403: {webhook.denial(webhook.validate(bad))}"
    finally:
        cluster.delete("Deployment", "trust-manager", versions.TRUST_MANAGER_NAMESPACE, api_version="apps/v1")
        cluster.delete("ServiceAccount", "trust-manager", versions.TRUST_MANAGER_NAMESPACE)


@pytest.mark.kind
def test_a_bundle_answers_on_kind_as_in_the_sandbox(kind_cluster):
    """Parity: trust-manager's real controller and webhook give the PEM, condition and denial the sandbox gives."""
    from kubernetes.client.exceptions import ApiException

    cluster = kind_cluster
    ca, partner = certs.authority("kind CA"), certs.authority("kind partner CA")
    name, secret = f"k8snet-parity-{int(time.time())}", "k8snet-parity-ca"
    cluster.apply(certs.tls_secret(secret, ca, namespace=versions.TRUST_MANAGER_NAMESPACE))
    bundle = {"apiVersion": "trust.cert-manager.io/v1alpha1", "kind": "Bundle", "metadata": {"name": name},
              "spec": {"sources": [{"secret": {"name": secret, "key": "tls.crt"}}, {"inLine": partner.pem}],
                       "target": {"configMap": {"key": "ca.crt"},
                                  "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}}}
    try:
        cluster.apply(bundle)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = cluster.get("Bundle", name, api_version="trust.cert-manager.io/v1alpha1")
            synced = [c for c in (got.get("status") or {}).get("conditions") or [] if c["type"] == "Synced"]
            if synced and synced[0]["status"] == "True":
                break
            time.sleep(1)
        assert synced and synced[0]["status"] == "True", f"Bundle {name} not Synced in 60 s: {synced}"
        assert synced[0]["message"] == ("Successfully synced Bundle to namespaces that match this label selector: "
                                        "kubernetes.io/metadata.name=default")
        pool = CertPool()
        for pem in (ca.pem, partner.pem):
            pool.add_certs_from_pem(pem.encode())
        cm = cluster.core.read_namespaced_config_map(name, "default")
        assert cm.data == {"ca.crt": pool.pem()}
        assert cm.metadata.labels["trust.cert-manager.io/bundle"] == name

        unkeyed = {**bundle, "metadata": {"name": name + "-bad"},
                   "spec": {**bundle["spec"], "sources": [{"secret": {"name": secret}}]}}
        with pytest.raises(ApiException) as info:
            cluster.apply(unkeyed)
        assert json.loads(info.value.body)["message"] == webhook.denial(webhook.validate(unkeyed))
    finally:
        cluster.delete("Bundle", name, api_version="trust.cert-manager.io/v1alpha1")
        cluster.delete("Secret", secret, versions.TRUST_MANAGER_NAMESPACE)
