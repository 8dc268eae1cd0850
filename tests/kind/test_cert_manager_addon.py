"""cert-manager on kind: the pin, the install step (against the sandbox's API, no Docker), and on a real cluster
(``-m kind``) the same issuance, refusal and manual renewal the sandbox tests check."""

from __future__ import annotations

import base64
import re
from importlib import resources

import pytest
import yaml
from tests.conftest import wait_for

import k8snet
from k8snet import certs
from k8snet.kind import addons, lifecycle, readiness, versions


def test_the_pin_is_a_v1_21_release_and_its_manifest_url():
    assert re.fullmatch(r"v1\.21\.\d+", versions.CERT_MANAGER_VERSION)
    assert versions.CERT_MANAGER_MANIFEST_URL == ("https://github.com/cert-manager/cert-manager/releases/download/"
                                                  f"{versions.CERT_MANAGER_VERSION}/cert-manager.yaml")
    assert addons.CERT_MANAGER.cache_name == f"cert-manager-{versions.CERT_MANAGER_VERSION}.yaml"


def test_the_sandbox_serves_the_crds_of_the_pinned_tag():
    text = (resources.files("k8snet.sandbox") / "crds" / "cert-manager.io.yaml").read_text()
    assert f"tag {versions.CERT_MANAGER_VERSION}" in text.split("---", 1)[0]
    docs = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]
    assert {d["metadata"]["labels"]["app.kubernetes.io/version"] for d in docs} == {versions.CERT_MANAGER_VERSION}
    assert sorted(d["spec"]["names"]["kind"] for d in docs) == [
        "Certificate", "CertificateRequest", "Challenge", "ClusterIssuer", "Issuer", "Order"]


STAND_IN = """
apiVersion: v1
kind: Namespace
metadata: {name: cert-manager}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: standins.k8snet-test.example}
spec:
  group: k8snet-test.example
  names: {kind: StandIn, plural: standins}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object}}
"""


def stand_in_manifest() -> str:
    """What the step needs of cert-manager.yaml: its namespace, CRDs and three Deployments (agnhost stands in for
    cert-manager's images, which the sandbox does not run)."""
    deployments = []
    for name in versions.CERT_MANAGER_DEPLOYMENTS:
        labels = {"app.kubernetes.io/name": name}
        container = "cert-manager-controller" if name == "cert-manager" else name  # the chart's container names
        deployments.append(yaml.safe_dump({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": versions.CERT_MANAGER_NAMESPACE},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": container, "image": versions.AGNHOST_IMAGE,
                                                           "args": ["pause"]}]}}}}))
    return STAND_IN + "".join("---\n" + d for d in deployments)


def test_install_applies_the_cached_release_manifest_and_waits_for_the_webhook(sandbox, tmp_path, monkeypatch):
    """The kind-only step against a real API server (the sandbox's): nothing downloaded, the Deployments awaited,
    then a dry-run Issuer that cert-manager's webhook must admit."""
    cluster = k8snet.connect("sandbox", start=False)
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path))  # where the kind backend keeps its download cache
    cache = tmp_path / "kind" / "cache"
    cache.mkdir(parents=True)
    (cache / addons.CERT_MANAGER.cache_name).write_text(stand_in_manifest())
    before, seen = readiness.cert_manager_ready(cluster)
    assert before is None and seen == "cert-manager is not installed (no Deployment cert-manager/cert-manager)"
    run = lifecycle._Run(lifecycle.Options(timeout=60), say=lambda line: None)
    run.cluster = cluster
    try:
        lifecycle.install_cert_manager(run)
        image, _ = readiness.cert_manager_ready(cluster)
        assert image == versions.AGNHOST_IMAGE
        # Gateway API support on, as the sandbox has it (cert-manager.io/docs/usage/gateway/): the flag is added to
        # the controller's args, nowhere else
        deployed = {name: cluster.apps.read_namespaced_deployment(name, versions.CERT_MANAGER_NAMESPACE)
                    for name in versions.CERT_MANAGER_DEPLOYMENTS}
        assert [c.args for c in deployed["cert-manager"].spec.template.spec.containers] == [
            ["pause", "--enable-gateway-api"]]
        assert [c.args for c in deployed["cert-manager-webhook"].spec.template.spec.containers] == [["pause"]]
        twice = addons.with_gateway_api(addons.with_gateway_api([d for d in yaml.safe_load_all(stand_in_manifest())
                                                                 if d]))
        controller = next(d for d in twice if d["kind"] == "Deployment" and d["metadata"]["name"] == "cert-manager")
        assert controller["spec"]["template"]["spec"]["containers"][0]["args"] == ["pause", "--enable-gateway-api"]
        assert readiness.dry_run_accepted(cluster, addons.cert_manager_probe()) == (True, "accepted")
        assert cluster.get("Issuer", namespace="cert-manager", api_version="cert-manager.io/v1") == []  # a dry run
        bad = {**addons.cert_manager_probe(), "spec": {}}
        ok, said = readiness.dry_run_accepted(cluster, bad)
        assert not ok and said == ('HTTP 403: admission webhook "webhook.cert-manager.io" denied the request: spec: '
                                   "Required value: at least one issuer must be configured")
    finally:
        for name in versions.CERT_MANAGER_DEPLOYMENTS:
            cluster.delete("Deployment", name, versions.CERT_MANAGER_NAMESPACE, api_version="apps/v1")
        cluster.delete("CustomResourceDefinition", "standins.k8snet-test.example",
                       api_version="apiextensions.k8s.io/v1")


# -- a real kind cluster -------------------------------------------------------------------------------------

NS = "k8snet-cmtest"


@pytest.mark.kind
def test_issuance_refusal_and_manual_renewal_on_kind(kind_cluster):
    cluster = kind_cluster
    assert lifecycle.status().cert_manager is not None
    cluster.recreate_namespace(NS, timeout=180)
    try:
        cluster.apply([
            {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "self", "namespace": NS},
             "spec": {"selfSigned": {}}},
            {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "web", "namespace": NS},
             "spec": {"secretName": "web-tls", "dnsNames": ["web.example.test"],
                      "privateKey": {"algorithm": "ECDSA"}, "issuerRef": {"name": "self"}}}])

        def revision() -> int | None:
            crt = cluster.get("Certificate", "web", NS, api_version="cert-manager.io/v1")
            ready = [c for c in (crt.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"]
            return crt["status"].get("revision") if ready and ready[0]["status"] == "True" else None

        assert wait_for(revision, timeout=120, what="the Certificate to be issued") == 1
        secret = cluster.core.read_namespaced_secret("web-tls", NS)
        assert secret.metadata.annotations["cert-manager.io/alt-names"] == "web.example.test"
        assert base64.b64decode(secret.data["ca.crt"]) == base64.b64decode(secret.data["tls.crt"])
        certs.renew(cluster, "web", NS)
        wait_for(lambda: revision() == 2, timeout=120, what="the manual renewal")
        ok, said = readiness.dry_run_accepted(cluster, {
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "bad", "namespace": NS},
            "spec": {"secretName": "x", "commonName": "a", "duration": "30m", "issuerRef": {"name": "self"}}})
        assert not ok and said.endswith("spec.duration: Invalid value: 30m0s: certificate duration must be greater "
                                        "than 1h0m0s")
        with pytest.raises(RuntimeError, match="cannot be advanced"):
            cluster.advance_clock("1440h")
    finally:
        cluster.delete("Namespace", NS)


@pytest.mark.kind
def test_annotated_ingress_and_gateway_get_served_certificates_on_kind(kind_cluster, tmp_path):
    """The certificate-shim on kind, as tests/ingress/test_cert_manager_shim.py checks it in the sandbox: an
    annotated Ingress (ingress-shim) and Gateway (gateway-shim, on through --enable-gateway-api) get a Certificate
    each, and Traefik serves what cert-manager issued."""
    from k8snet import ingress

    cluster = kind_cluster
    ns = NS + "-shim"
    cluster.recreate_namespace(ns, timeout=180)
    annotations = {"cert-manager.io/issuer": "self", "cert-manager.io/private-key-algorithm": "ECDSA"}
    try:
        cluster.apply([
            {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "self", "namespace": ns},
             "spec": {"selfSigned": {}}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
             "metadata": {"name": "shop", "namespace": ns, "annotations": annotations},
             "spec": {"tls": [{"hosts": ["shop.shim.test"], "secretName": "shop-tls"}],
                      "rules": [{"host": "shop.shim.test", "http": {"paths": [{
                          "path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "edge", "namespace": ns, "annotations": annotations},
             "spec": {"gatewayClassName": "traefik", "listeners": [{
                 "name": "https", "port": 8443, "protocol": "HTTPS", "hostname": "gw.shim.test",
                 "tls": {"certificateRefs": [{"name": "gw-tls"}]}}]}}])
        for secret, host, owner in (("shop-tls", "shop.shim.test", "Ingress"), ("gw-tls", "gw.shim.test", "Gateway")):
            crt = cluster.wait_for("Certificate", secret, ns, "cert-manager.io/v1", timeout=120)
            assert crt["metadata"]["ownerReferences"][0]["kind"] == owner
            assert crt["spec"]["dnsNames"] == [host]
            ca = tmp_path / f"{secret}.crt"
            ca.write_bytes(base64.b64decode(cluster.core.read_namespaced_secret(secret, ns).data["ca.crt"]))
            served = wait_for(lambda host=host, ca=ca: (s := ingress.certificate(cluster, host, cacert=ca)).verified
                              and s, timeout=60, what=f"Traefik to serve {secret}")
            assert served.sans == [host]
    finally:
        cluster.delete("Namespace", ns)
