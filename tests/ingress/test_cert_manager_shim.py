"""cert-manager's certificate-shim in the sandbox: annotated Ingresses and Gateways get Certificates, and the real
Traefik serves what cert-manager issues and renews, without a restart.

Upstream: cert-manager v1.21.1 pkg/controller/certificate-shim (sync.go, helper.go, ingresses/, gateways/) and
its docs (https://cert-manager.io/docs/usage/ingress/, https://cert-manager.io/docs/usage/gateway/); expected
event texts are sync.go's (its sync_test.go checks the same strings). The module runs on a sandbox of its own
with the real Traefik (the ingress tests' fixture), since its last test moves the clock by two months.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from tests.conftest import SandboxEnv, wait_for

from k8snet import ingress as edge_api
from k8snet.cluster import Cluster
from k8snet.sandbox import process

CM = "cert-manager.io"
CA = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: shim-selfsigned}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: shim-ca, namespace: cert-manager}
spec:
  isCA: true
  commonName: shim test CA
  secretName: shim-ca
  duration: 87600h
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: shim-selfsigned, kind: ClusterIssuer}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: shim-ca}
spec: {ca: {secretName: shim-ca}}
"""
"""A CA ClusterIssuer (cert-manager.io/docs/configuration/selfsigned/#bootstrapping-ca-issuers) whose ten years
outlive every clock move here."""


@pytest.fixture(scope="module")
def api(sandbox: SandboxEnv) -> client.ApiClient:
    return sandbox.api_client()


@pytest.fixture(scope="module")
def cluster(sandbox: SandboxEnv, api: client.ApiClient) -> Cluster:
    return Cluster("sandbox", process.CONTEXT, api)


@pytest.fixture(scope="module")
def ca(sandbox: SandboxEnv, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CA ClusterIssuer ``shim-ca``, Ready; its certificate as a file for clients to trust."""
    sandbox.kubectl("apply", "-f", "-", input=CA)
    wait_for(lambda: _ready(api, "cert-manager", "shim-ca", "clusterissuers"), what="ClusterIssuer shim-ca Ready")
    pem = client.CoreV1Api(api).read_namespaced_secret("shim-ca", "cert-manager").data["tls.crt"]
    path = tmp_path_factory.mktemp("shim-ca") / "ca.crt"
    path.write_bytes(base64.b64decode(pem))
    return path


def _ready(api: client.ApiClient, ns: str, name: str, plural: str = "certificates") -> dict | None:
    custom = client.CustomObjectsApi(api)
    try:
        obj = (custom.get_cluster_custom_object(CM, "v1", plural, name) if plural == "clusterissuers"
               else custom.get_namespaced_custom_object(CM, "v1", ns, plural, name))
    except client.ApiException:
        return None
    ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"), {})
    return obj if ready.get("status") == "True" else None


def certificate(api: client.ApiClient, ns: str, name: str) -> dict | None:
    try:
        return client.CustomObjectsApi(api).get_namespaced_custom_object(CM, "v1", ns, "certificates", name)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def certificates(api: client.ApiClient, ns: str) -> list[str]:
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(CM, "v1", ns, "certificates")["items"]
    return sorted(c["metadata"]["name"] for c in items)


def events(api: client.ApiClient, ns: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of the Events about ``name``, oldest first; all from cert-manager's shims."""
    items = client.CoreV1Api(api).list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
    items.sort(key=lambda e: (e.first_timestamp, e.metadata.name))
    assert {e.source.component for e in items} <= {"cert-manager-ingress-shim", "cert-manager-gateway-shim"}
    return [(e.type, e.reason, e.message) for e in items]


def apply(sandbox: SandboxEnv, ns: str, text: str) -> None:
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=text)


def ingress(name: str, annotations: dict[str, str], tls: list[dict], labels: dict | None = None) -> str:
    """An Ingress with ``tls`` and a rule per TLS host (to a Service that need not exist: Traefik loads the
    certificates all the same)."""
    hosts = [h for entry in tls for h in entry.get("hosts") or []] or ["unused.example.test"]
    rules = [{"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
        "service": {"name": "web", "port": {"number": 80}}}}]}} for h in hosts if not h[0].isdigit()]
    return json.dumps({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                       "metadata": {"name": name, "annotations": annotations, "labels": labels or {}},
                       "spec": {"tls": tls, "rules": rules}})


def served(cluster: Cluster, host: str, ca: Path, changed_from: str | None = None) -> edge_api.CertSummary:
    """What the edge serves for ``host`` once it is not Traefik's default (or no longer ``changed_from``'s
    serial)."""
    def check():
        summary = edge_api.certificate(cluster, host, cacert=ca)
        if summary.is_default or summary.leaf.serial == changed_from:
            return None
        return summary
    return wait_for(check, what=f"the edge to serve a new certificate for {host}")


def test_an_annotated_ingress_gets_one_certificate_per_tls_entry_and_the_edge_serves_it(
        sandbox, api, cluster, ns, ca):
    """sync.go buildCertificates: named after the secretName, hosts split into dnsNames and ipAddresses, the
    Ingress's labels but applyset's, a controller reference, default usages, helper.go's annotations; an entry
    without hosts is skipped with a BadConfig warning."""
    host = f"shop.{ns}.test"
    apply(sandbox, ns, ingress("shop", {
        "cert-manager.io/cluster-issuer": "shim-ca", "cert-manager.io/common-name": host,
        "cert-manager.io/alt-names": f"www.{host}", "cert-manager.io/duration": "2160h",
        "cert-manager.io/renew-before": "360h", "cert-manager.io/usages": "digital signature, server auth",
        "cert-manager.io/revision-history-limit": "2", "cert-manager.io/private-key-algorithm": "ECDSA",
        "cert-manager.io/private-key-size": "384", "cert-manager.io/private-key-rotation-policy": "Always",
        "cert-manager.io/subject-organizations": '"Shop, Inc",Example',
        "cert-manager.io/secret-template": '{"labels": {"team": "shop"}}'},
        [{"hosts": [host, "10.20.30.40"], "secretName": "shop-tls"}, {"secretName": "no-hosts-tls"}],
        labels={"app": "shop", "applyset.kubernetes.io/part-of": "applyset-x"}))
    crt = wait_for(lambda: _ready(api, ns, "shop-tls"), what="Certificate shop-tls Ready")
    uid = sandbox.kubectl_json("get", "ingress", "shop", "-n", ns)["metadata"]["uid"]
    assert crt["metadata"]["labels"] == {"app": "shop"}
    assert crt["metadata"]["ownerReferences"] == [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                                   "name": "shop", "uid": uid, "controller": True,
                                                   "blockOwnerDeletion": True}]
    assert crt["spec"] == {
        "secretName": "shop-tls", "commonName": host, "dnsNames": [host, f"www.{host}"],
        "ipAddresses": ["10.20.30.40"], "issuerRef": {"name": "shim-ca", "kind": "ClusterIssuer", "group": CM},
        "duration": "2160h0m0s", "renewBefore": "360h0m0s", "usages": ["digital signature", "server auth"],
        "revisionHistoryLimit": 2, "privateKey": {"algorithm": "ECDSA", "size": 384, "rotationPolicy": "Always"},
        "subject": {"organizations": ["Shop, Inc", "Example"]}, "secretTemplate": {"labels": {"team": "shop"}}}
    assert certificates(api, ns) == ["shop-tls"]
    assert events(api, ns, "shop") == [
        ("Warning", "BadConfig", "Skipped a TLS block: spec.tls[1].hosts: Required value"),
        ("Normal", "CreateCertificate", 'Successfully created Certificate "shop-tls"')]

    summary = served(cluster, host, ca)
    assert (summary.verified, summary.verify_error) == (True, None)
    assert summary.sans == [host, f"www.{host}", "10.20.30.40"] and summary.issuer == "CN=shim test CA"
    assert summary.subject == f"CN={host},O=Example+O=Shop\\, Inc"  # the CSV-quoted organization kept whole
    assert summary.key == "ECDSA P-384"


def test_issuer_annotations_and_what_upstream_refuses(sandbox, api, ns, ca):
    """issuerForIngressLike: issuer, cluster-issuer, issuer-kind and issuer-group; the kubernetes.io/tls-acme
    annotation needs --default-issuer-name, unset by default; bad annotations, duplicate secretNames."""
    apply(sandbox, ns, "\n---\n".join([
        ingress("acme", {"kubernetes.io/tls-acme": "true"}, [{"hosts": ["acme.example.test"],
                                                             "secretName": "acme-tls"}]),
        ingress("acme-off", {"kubernetes.io/tls-acme": "false"}, [{"hosts": ["off.example.test"],
                                                                  "secretName": "off-tls"}]),
        ingress("plain", {}, [{"hosts": ["plain.example.test"], "secretName": "plain-tls"}]),
        ingress("both", {"cert-manager.io/issuer": "a", "cert-manager.io/cluster-issuer": "b",
                         "cert-manager.io/issuer-group": "example.com"},
                [{"hosts": ["both.example.test"], "secretName": "both-tls"}]),
        ingress("twice", {"cert-manager.io/cluster-issuer": "shim-ca"},
                [{"hosts": ["a.example.test"], "secretName": "same-tls"},
                 {"hosts": ["b.example.test"], "secretName": "same-tls"}]),
        ingress("bad-duration", {"cert-manager.io/cluster-issuer": "shim-ca", "cert-manager.io/duration": "90d"},
                [{"hosts": ["bad.example.test"], "secretName": "bad-tls"}]),
        ingress("external", {"cert-manager.io/issuer": "pca", "cert-manager.io/issuer-kind": "AWSPCAIssuer",
                             "cert-manager.io/issuer-group": "awspca.cert-manager.io"},
                [{"hosts": ["pca.example.test"], "secretName": "pca-tls"}]),
        ingress("local", {"cert-manager.io/issuer": "local-ca"},
                [{"hosts": ["local.example.test"], "secretName": "local-tls"}])]))
    # the shim takes objects in the order they come: once the last two have their Certificates, it has been
    # through the ones before
    external = wait_for(lambda: certificate(api, ns, "pca-tls"), what="Certificate pca-tls")
    local = wait_for(lambda: certificate(api, ns, "local-tls"), what="Certificate local-tls")
    assert external["spec"]["issuerRef"] == {"name": "pca", "kind": "AWSPCAIssuer", "group": "awspca.cert-manager.io"}
    assert local["spec"]["issuerRef"] == {"name": "local-ca", "kind": "Issuer", "group": CM}
    assert certificates(api, ns) == ["local-tls", "pca-tls"]
    assert events(api, ns, "acme") == [("Warning", "BadConfig", "Could not determine issuer for ingress due to bad "
                                        "annotations: failed to determine issuer name to be used for ingress "
                                        "resource")]
    assert events(api, ns, "acme-off") == events(api, ns, "plain") == []
    assert events(api, ns, "both") == [("Warning", "BadConfig", "Could not determine issuer for ingress due to bad "
                                        'annotations: both "cert-manager.io/issuer" and "cert-manager.io/cluster-'
                                        'issuer" may not be set, both "cert-manager.io/cluster-issuer" and '
                                        '"cert-manager.io/issuer-group" may not be set')]
    assert events(api, ns, "twice") == [("Warning", "BadConfig", 'spec.tls[0].secretName: Invalid value: '
                                         '"same-tls": this secret name must only appear in a single TLS entry but '
                                         'is also used in spec.tls[1].secretName')]
    # a certificate annotation upstream cannot parse: no Event (upstream has none), the controller's log says why
    assert events(api, ns, "bad-duration") == []
    log = process.home() / "sandbox.log"
    wait_for(lambda: f'error processing {ns}/bad-duration: invalid ingress annotation "cert-manager.io/duration": '
                     'time: unknown unit "d" in duration "90d"' in log.read_text(), what="the shim's log line")


def test_host_changes_update_the_certificate_and_dropped_entries_delete_theirs(sandbox, api, ns, ca):
    """certNeedsUpdate (dnsNames) → UpdateCertificate; findCertificatesToBeRemoved → DeleteCertificate; a
    Certificate the Ingress does not control is never touched; one deleted by hand comes back."""
    ann = {"cert-manager.io/cluster-issuer": "shim-ca"}
    apply(sandbox, ns, """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: mine-tls}
spec: {secretName: mine-tls, dnsNames: [mine.example.test], issuerRef: {name: shim-ca, kind: ClusterIssuer}}
""")
    apply(sandbox, ns, ingress("web", ann, [{"hosts": ["a.example.test"], "secretName": "a-tls"},
                                            {"hosts": ["b.example.test"], "secretName": "b-tls"},
                                            {"hosts": ["mine.example.test", "x.example.test"],
                                             "secretName": "mine-tls"}]))
    wait_for(lambda: _ready(api, ns, "b-tls"), what="Certificate b-tls Ready")
    apply(sandbox, ns, ingress("web", ann, [{"hosts": ["a.example.test", "www.a.example.test"],
                                             "secretName": "a-tls"},
                                            {"hosts": ["mine.example.test", "x.example.test"],
                                             "secretName": "mine-tls"}]))
    wait_for(lambda: certificates(api, ns) == ["a-tls", "mine-tls"], what="b-tls to be deleted")
    a = wait_for(lambda: (c := certificate(api, ns, "a-tls")) and len(c["spec"]["dnsNames"]) == 2 and c,
                 what="a-tls to list both hosts")
    assert a["spec"]["dnsNames"] == ["a.example.test", "www.a.example.test"] and a["metadata"]["generation"] == 2
    mine = certificate(api, ns, "mine-tls")
    assert mine["spec"]["dnsNames"] == ["mine.example.test"] and "ownerReferences" not in mine["metadata"]
    assert [e[1:] for e in events(api, ns, "web")] == [
        ("CreateCertificate", 'Successfully created Certificate "a-tls"'),
        ("CreateCertificate", 'Successfully created Certificate "b-tls"'),
        ("UpdateCertificate", 'Successfully updated Certificate "a-tls"'),
        ("DeleteCertificate", 'Successfully deleted unrequired Certificate "b-tls"')]
    uid = a["metadata"]["uid"]
    sandbox.kubectl("delete", "certificate", "a-tls", "-n", ns)
    again = wait_for(lambda: (c := certificate(api, ns, "a-tls")) and c["metadata"]["uid"] != uid and c,
                     what="a-tls to be created again")
    assert again["spec"]["dnsNames"] == ["a.example.test", "www.a.example.test"]


def test_deleting_the_ingress_collects_its_certificates_and_keeps_the_secret(sandbox, api, ns, ca):
    """The ownerReference: the garbage collector deletes the Certificate (and its CertificateRequests) with the
    Ingress; the Secret is not the Certificate's dependent (--enable-certificate-owner-ref is off by default)."""
    apply(sandbox, ns, ingress("gone", {"cert-manager.io/cluster-issuer": "shim-ca"},
                               [{"hosts": ["gone.example.test"], "secretName": "gone-tls"}]))
    wait_for(lambda: _ready(api, ns, "gone-tls"), what="Certificate gone-tls Ready")
    sandbox.kubectl("delete", "ingress", "gone", "-n", ns)
    wait_for(lambda: certificates(api, ns) == [], what="the Certificate to be collected")
    wait_for(lambda: not client.CustomObjectsApi(api).list_namespaced_custom_object(
        CM, "v1", ns, "certificaterequests")["items"], what="its CertificateRequests to be collected")
    assert client.CoreV1Api(api).read_namespaced_secret("gone-tls", ns).type == "kubernetes.io/tls"


GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
  annotations:
    cert-manager.io/cluster-issuer: shim-ca
    cert-manager.io/private-key-algorithm: ECDSA
    cert-manager.io/ignore-tls-listeners: ignored
spec:
  gatewayClassName: traefik
  listeners:
  - {{name: web, port: 8000, protocol: HTTP}}
  - name: https
    port: 8443
    protocol: HTTPS
    hostname: {host}
    tls: {{certificateRefs: [{{name: gw-tls}}]}}
  - name: api
    port: 8443
    protocol: HTTPS
    hostname: api.{host}
    tls: {{certificateRefs: [{{name: gw-tls}}]}}
  - name: passthrough
    port: 8443
    protocol: TLS
    hostname: pass.{host}
    tls: {{mode: Passthrough}}
  - name: ignored
    port: 8443
    protocol: HTTPS
    hostname: ignored.{host}
    tls: {{certificateRefs: [{{name: ignored-tls}}]}}
  - name: nohost
    port: 8443
    protocol: HTTPS
    tls: {{certificateRefs: [{{name: nohost-tls}}]}}
  - name: elsewhere
    port: 8443
    protocol: HTTPS
    hostname: elsewhere.{host}
    tls: {{certificateRefs: [{{name: far-tls, namespace: other}}]}}
"""


def test_an_annotated_gateway_gets_a_certificate_per_secret_its_https_listeners_name(
        sandbox, api, cluster, ns, ca):
    """handleGatewayAPIListeners: HTTPS and TLS listeners in Terminate mode, hostnames gathered per Secret;
    Passthrough and ignore-tls-listeners skipped silently; a listener without hostname or with a Secret in
    another namespace skipped with BadConfig; setIssuerSpecificConfig's parentRef annotations."""
    host = f"gw.{ns}.test"
    apply(sandbox, ns, GATEWAY.format(host=host))
    crt = wait_for(lambda: _ready(api, ns, "gw-tls"), what="Certificate gw-tls Ready")
    uid = sandbox.kubectl_json("get", "gateway", "edge", "-n", ns)["metadata"]["uid"]
    assert crt["metadata"]["annotations"] == {"acme.cert-manager.io/http01-parentrefkind": "Gateway",
                                              "acme.cert-manager.io/http01-parentrefname": "edge"}
    assert crt["metadata"]["ownerReferences"] == [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                                                   "name": "edge", "uid": uid, "controller": True,
                                                   "blockOwnerDeletion": True}]
    assert crt["spec"] == {"secretName": "gw-tls", "dnsNames": [host, f"api.{host}"],
                           "issuerRef": {"name": "shim-ca", "kind": "ClusterIssuer", "group": CM},
                           "usages": ["digital signature", "key encipherment"], "privateKey": {"algorithm": "ECDSA"}}
    assert certificates(api, ns) == ["gw-tls"]
    assert events(api, ns, "edge") == [
        ("Warning", "BadConfig", "Skipped a listener block: spec.listeners[5].hostname: Required value: the hostname "
                                 "cannot be empty"),
        ("Warning", "BadConfig", 'Skipped a listener block: spec.listeners[6].tls.certificateRef[0].namespace: '
                                 'Invalid value: "other": cross-namespace secret references are not allowed in '
                                 'listeners'),
        ("Normal", "CreateCertificate", 'Successfully created Certificate "gw-tls"')]
    for name in (host, f"api.{host}"):
        summary = served(cluster, name, ca)
        assert (summary.verified, summary.sans, summary.key) == (True, [host, f"api.{host}"], "ECDSA P-256")


def _traefik_pid(sandbox: SandboxEnv) -> int:
    found = subprocess.run(["pgrep", "-P", str(sandbox.running.pid), "-x", "traefik"], capture_output=True,
                           text=True).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def test_renewed_certificates_reach_the_edge_without_restarting_traefik(sandbox, api, cluster, ns, ca):
    """The clock past renewalTime: cert-manager re-issues (revision 2, a new serial), the Secret changes, and
    Traefik, watching Secrets, serves the new certificate for the Ingress and the Gateway listener from the same
    process."""
    ing_host, gw_host = f"renew.{ns}.test", f"gw.renew.{ns}.test"
    apply(sandbox, ns, ingress("renew", {"cert-manager.io/cluster-issuer": "shim-ca",
                                         "cert-manager.io/private-key-algorithm": "ECDSA"},
                               [{"hosts": [ing_host], "secretName": "renew-tls"}]))
    apply(sandbox, ns, yaml.safe_dump({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "renew", "annotations": {"cert-manager.io/cluster-issuer": "shim-ca",
                                                      "cert-manager.io/private-key-algorithm": "ECDSA"}},
        "spec": {"gatewayClassName": "traefik", "listeners": [{
            "name": "https", "port": 8443, "protocol": "HTTPS", "hostname": gw_host,
            "tls": {"certificateRefs": [{"name": "renew-gw-tls"}]}}]}}))
    first = {n: wait_for(lambda n=n: _ready(api, ns, n), what=f"{n} Ready") for n in ("renew-tls", "renew-gw-tls")}
    before = {h: served(cluster, h, ca) for h in (ing_host, gw_host)}
    pid = _traefik_pid(sandbox)
    renewal = max(c["status"]["renewalTime"] for c in first.values())
    now = cluster.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert renewal > now  # 90 days, renewed a third before the end: 60 days from now
    cluster.advance_clock("1441h")  # past the renewal time
    for name in first:
        wait_for(lambda name=name: (c := _ready(api, ns, name)) and c["status"].get("revision") == 2,
                 what=f"{name} at revision 2")
    for h, name in ((ing_host, "renew-tls"), (gw_host, "renew-gw-tls")):
        after = served(cluster, h, ca, changed_from=before[h].leaf.serial)
        assert (after.verified, after.verify_error) == (True, None)  # judged on the sandbox's clock
        assert after.not_before.strftime("%Y-%m-%dT%H:%M:%SZ") >= first[name]["status"]["renewalTime"]
    assert _traefik_pid(sandbox) == pid
    pod = sandbox.kubectl_json("get", "pods", "-n", "traefik", "-l", "app.kubernetes.io/name=traefik")["items"][0]
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
