"""cert-manager v1.21 in the sandbox, through kubectl, the kubernetes client and openssl.

The module runs on a sandbox of its own: it moves the sandbox clock by weeks (renewals), which would age every
other test's objects. Expected texts are cert-manager's (the upstream file is named where each is checked).
Keys are ECDSA where the key type does not matter (fast to make).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from kubernetes import client
from tests.conftest import SandboxEnv, private_sandbox, wait_for

import k8snet
from k8snet import certs

CM = "cert-manager.io"


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEnv]:
    with private_sandbox(tmp_path_factory.mktemp("cert-manager")) as env:
        yield env


@pytest.fixture(scope="module")
def cluster(sb: SandboxEnv) -> k8snet.Cluster:
    return k8snet.connect("sandbox", start=False)


@pytest.fixture
def ns(sb: SandboxEnv) -> Iterator[str]:
    name = "cm-" + uuid.uuid4().hex[:6]
    sb.kubectl("create", "namespace", name)
    yield name
    sb.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def refusals_ns(sb: SandboxEnv) -> Iterator[str]:
    """One namespace for the refusal cases: nothing is ever stored in it."""
    sb.kubectl("create", "namespace", "cm-refusals")
    yield "cm-refusals"
    sb.kubectl("delete", "namespace", "cm-refusals", "--wait=false", check=False)


def apply(sb: SandboxEnv, ns: str, text: str, check: bool = True) -> subprocess.CompletedProcess:
    return sb.kubectl("apply", "-n", ns, "-f", "-", input=text, check=check)


CUSTOM = {"certificate": "certificates", "certificaterequest": "certificaterequests", "issuer": "issuers",
          "clusterissuer": "clusterissuers"}
_clients: dict[int, client.ApiClient] = {}


def get(sb: SandboxEnv, kind: str, name: str, ns: str | None = None) -> dict:
    """One object as JSON, through the kubernetes client (polling it is cheaper than starting kubectl)."""
    api = _clients.setdefault(id(sb), sb.api_client())
    if kind in CUSTOM:
        custom = client.CustomObjectsApi(api)
        if ns:
            return custom.get_namespaced_custom_object(CM, "v1", ns, CUSTOM[kind], name)
        return custom.get_cluster_custom_object(CM, "v1", CUSTOM[kind], name)
    if kind == "secret":
        return api.sanitize_for_serialization(client.CoreV1Api(api).read_namespaced_secret(name, ns))
    return sb.kubectl_json("get", kind, name, *(["-n", ns] if ns else []))


def cond(obj: dict, ctype: str) -> dict:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == ctype), {})


def ready(sb: SandboxEnv, kind: str, name: str, ns: str | None = None, revision: int | None = None) -> dict:
    def check():
        obj = get(sb, kind, name, ns)
        ok = cond(obj, "Ready").get("status") == "True" and not cond(obj, "Issuing")
        return obj if ok and (revision is None or obj["status"].get("revision") == revision) else None
    return wait_for(check, what=f"{kind} {name} Ready" + (f" at revision {revision}" if revision else ""))


def secret_data(sb: SandboxEnv, ns: str, name: str) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in get(sb, "secret", name, ns)["data"].items()}


def leaf(data: dict[str, bytes]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data["tls.crt"])


def events(sb: SandboxEnv, ns: str, name: str) -> list[tuple[str, str, str, str]]:
    items = sb.kubectl_json("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}")["items"]
    items.sort(key=lambda e: (e["metadata"]["creationTimestamp"], e["metadata"]["name"]))
    return [(e["type"], e["reason"], e["source"]["component"], e["message"]) for e in items]


# The bootstrap of cert-manager.io/docs/configuration/selfsigned/#bootstrapping-ca-issuers, with ECDSA keys.
BOOTSTRAP = """
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: selfsigned-issuer
spec:
  selfSigned: {}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: my-selfsigned-ca
spec:
  isCA: true
  commonName: my-selfsigned-ca
  secretName: root-secret
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned-issuer
    kind: ClusterIssuer
    group: cert-manager.io
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: my-ca-issuer
spec:
  ca:
    secretName: root-secret
"""

LEAF = """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {name}
spec:
  secretName: {name}-tls
  commonName: {name}.example.test
  dnsNames: [{name}.example.test, www.{name}.example.test]
  ipAddresses: [10.1.2.3]
  uris: [spiffe://cluster.local/ns/shop/sa/{name}]
  emailAddresses: [ops@example.test]
  subject:
    organizations: [Shop]
  privateKey: {{algorithm: ECDSA{extra_key}}}
  usages: [server auth, client auth, digital signature, key encipherment]
  issuerRef:
    name: my-ca-issuer
{extra}
"""


def bootstrap(sb: SandboxEnv, ns: str) -> None:
    apply(sb, ns, BOOTSTRAP)
    ready(sb, "issuer", "my-ca-issuer", ns)


def test_crds_are_cert_managers_own_v1_21(sb):
    crd = get(sb, "crd", "certificates.cert-manager.io")
    assert crd["metadata"]["labels"]["app.kubernetes.io/version"] == "v1.21.1"
    assert crd["spec"]["names"]["shortNames"] == ["cert", "certs"]
    names = sb.kubectl("get", "crd", "-o", "name").stdout.split()
    for plural in ("certificates.cert-manager.io", "certificaterequests.cert-manager.io", "issuers.cert-manager.io",
                   "clusterissuers.cert-manager.io", "orders.acme.cert-manager.io",
                   "challenges.acme.cert-manager.io"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{plural}" in names
    explained = sb.kubectl("explain", "certificate.spec.renewBeforePercentage").stdout
    assert "renewBeforePercentage" in explained
    assert get(sb, "namespace", "cert-manager")["status"]["phase"] == "Active"


def test_the_docs_bootstrap_issues_a_ca_and_a_leaf_it_signs(sb, ns, tmp_path: Path):
    bootstrap(sb, ns)
    # selfsigned/setup.go: Ready True IsReady; ca/setup.go: KeyPairVerified "Signing CA verified"
    assert cond(get(sb, "clusterissuer", "selfsigned-issuer"), "Ready")["reason"] == "IsReady"
    issuer = cond(get(sb, "issuer", "my-ca-issuer", ns), "Ready")
    assert (issuer["status"], issuer["reason"], issuer["message"]) == ("True", "KeyPairVerified",
                                                                        "Signing CA verified")
    apply(sb, ns, LEAF.format(name="shop", extra_key="", extra=""))
    ready(sb, "certificate", "shop", ns)
    # the issuing controller drops nextPrivateKeySecretName in its own status write, which may land just after the
    # readiness controller's Ready (two controllers, as in cert-manager)
    crt = wait_for(lambda: (lambda o: o if "nextPrivateKeySecretName" not in o["status"] else None)(
        get(sb, "certificate", "shop", ns)), what="the issuing controller's status")
    status = crt["status"]
    assert cond(crt, "Ready") | {"lastTransitionTime": None} == {
        "type": "Ready", "status": "True", "reason": "Ready", "observedGeneration": 1, "lastTransitionTime": None,
        "message": "Certificate is up to date and has not expired"}
    assert status["revision"] == 1 and "nextPrivateKeySecretName" not in status
    not_before, not_after, renewal = (dt.datetime.strptime(status[k], "%Y-%m-%dT%H:%M:%SZ")
                                      for k in ("notBefore", "notAfter", "renewalTime"))
    assert not_after - not_before == dt.timedelta(hours=2160)  # the default duration, 90 days
    assert not_after - renewal == dt.timedelta(hours=720)  # renewaltime.go: a third of the lifetime before the end

    secret = get(sb, "secret", "shop-tls", ns)
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["labels"] == {"controller.cert-manager.io/fao": "true"}
    assert secret["metadata"]["annotations"] == {
        "cert-manager.io/alt-names": "shop.example.test,www.shop.example.test",
        "cert-manager.io/certificate-name": "shop", "cert-manager.io/common-name": "shop.example.test",
        "cert-manager.io/email-sans": "ops@example.test", "cert-manager.io/ip-sans": "10.1.2.3",
        "cert-manager.io/issuer-group": "", "cert-manager.io/issuer-kind": "", "cert-manager.io/issuer-name":
        "my-ca-issuer", "cert-manager.io/subject-organizations": "Shop",
        "cert-manager.io/uri-sans": "spiffe://cluster.local/ns/shop/sa/shop"}
    data = secret_data(sb, ns, "shop-tls")
    assert set(data) == {"tls.crt", "tls.key", "ca.crt"}
    assert data["tls.key"].startswith(b"-----BEGIN EC PRIVATE KEY-----")  # spec.privateKey.encoding PKCS1
    root = x509.load_pem_x509_certificate(secret_data(sb, ns, "root-secret")["tls.crt"])
    assert data["ca.crt"] == secret_data(sb, ns, "root-secret")["tls.crt"]  # ca: the CA; selfSigned: itself
    assert secret_data(sb, ns, "root-secret")["ca.crt"] == secret_data(sb, ns, "root-secret")["tls.crt"]
    assert data["tls.crt"].count(b"BEGIN CERTIFICATE") == 1  # a self-signed root is not part of the chain

    cert = leaf(data)
    assert cert.issuer == root.subject and cert.subject.rfc4514_string() == "CN=shop.example.test,O=Shop"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["shop.example.test", "www.shop.example.test"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["spiffe://cluster.local/ns/shop/sa/shop"]
    assert san.get_values_for_type(x509.RFC822Name) == ["ops@example.test"]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_encipherment and not ku.value.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    root_bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert root_bc.ca and root.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey) and root.public_key().curve.key_size == 256
    (tmp_path / "leaf.pem").write_bytes(data["tls.crt"])
    (tmp_path / "ca.pem").write_bytes(data["ca.crt"])
    verified = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
                              capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified.stderr

    cr = get(sb, "certificaterequest", "shop-1", ns)  # StableCertificateRequestName: <certificate>-<revision>
    annotations = cr["metadata"]["annotations"]
    assert annotations["cert-manager.io/certificate-name"] == "shop"
    assert annotations["cert-manager.io/certificate-revision"] == "1"
    assert annotations["cert-manager.io/private-key-secret-name"].startswith("shop-")
    assert cr["metadata"]["ownerReferences"][0]["kind"] == "Certificate"
    assert cr["spec"]["usages"] == ["server auth", "client auth", "digital signature", "key encipherment"]
    assert cr["spec"]["issuerRef"] == {"name": "my-ca-issuer"}
    assert cr["spec"]["username"] == "system:serviceaccount:cert-manager:cert-manager"
    csr = x509.load_pem_x509_csr(base64.b64decode(cr["spec"]["request"]))
    assert csr.public_key() == cert.public_key()
    approved = cond(cr, "Approved")
    assert (approved["reason"], approved["message"]) == ("cert-manager.io",
                                                         "Certificate request has been approved by cert-manager.io")
    assert (cond(cr, "Ready")["reason"], cond(cr, "Ready")["message"]) == (
        "Issued", "Certificate fetched from issuer successfully")
    assert base64.b64decode(cr["status"]["certificate"]) == data["tls.crt"]
    # the temporary next-private-key Secret is gone once issued
    secrets = sb.kubectl_json("get", "secrets", "-n", ns, "-l", "cert-manager.io/next-private-key=true")["items"]
    assert secrets == []

    assert [e[1:] for e in events(sb, ns, "shop")] == [
        ("Issuing", "cert-manager-certificates-trigger", "Issuing certificate as Secret does not exist"),
        ("Generated", "cert-manager-certificates-key-manager",
         f'Stored new private key in temporary Secret resource "{annotations["cert-manager.io/private-key-secret-name"]}"'),
        ("Requested", "cert-manager-certificates-request-manager", 'Created new CertificateRequest resource "shop-1"'),
        ("Issuing", "cert-manager-certificates-issuing", "The certificate has been successfully issued")]
    cr_events = events(sb, ns, "shop-1")
    assert ("Normal", "cert-manager.io", "cert-manager-certificaterequests-approver",
            "Certificate request has been approved by cert-manager.io") in cr_events
    assert cr_events[-1] == ("Normal", "CertificateIssued", "cert-manager-certificaterequests-issuer-ca",
                             "Certificate fetched from issuer successfully")


def test_key_algorithms_sizes_and_encodings(sb, ns):
    bootstrap(sb, ns)
    apply(sb, ns, """
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: rsa}
spec:
  secretName: rsa-tls
  dnsNames: [rsa.example.test]
  privateKey: {encoding: PKCS8}
  issuerRef: {name: my-ca-issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: ed}
spec:
  secretName: ed-tls
  dnsNames: [ed.example.test]
  privateKey: {algorithm: Ed25519}
  issuerRef: {name: my-ca-issuer}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: p384}
spec:
  secretName: p384-tls
  dnsNames: [p384.example.test]
  privateKey: {algorithm: ECDSA, size: 384}
  issuerRef: {name: my-ca-issuer}
""")
    for name in ("rsa", "ed", "p384"):
        ready(sb, "certificate", name, ns)
    rsa_data = secret_data(sb, ns, "rsa-tls")
    assert rsa_data["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
    key = leaf(rsa_data).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048  # generate.go: RSA 2048 by default
    assert isinstance(leaf(secret_data(sb, ns, "ed-tls")).public_key(), ed25519.Ed25519PublicKey)
    assert leaf(secret_data(sb, ns, "p384-tls")).public_key().curve.key_size == 384


def test_renewal_at_the_renewal_time_on_the_sandbox_clock(sb, ns, cluster):
    bootstrap(sb, ns)
    apply(sb, ns, LEAF.format(name="always", extra_key="", extra="  duration: 3h\n  revisionHistoryLimit: 2"))
    apply(sb, ns, LEAF.format(name="never", extra_key=", rotationPolicy: Never", extra="  duration: 3h"))
    apply(sb, ns, LEAF.format(name="frozen", extra_key="", extra="  duration: 3h\n  renewal: {policy: Disabled}"))
    frozen = ready(sb, "certificate", "frozen", ns, revision=1)
    assert "renewalTime" not in frozen["status"]  # renewaltime.go: no renewal time when renewal is Disabled
    first = {n: ready(sb, "certificate", n, ns, revision=1) for n in ("always", "never")}
    before = {n: leaf(secret_data(sb, ns, f"{n}-tls")) for n in first}
    assert first["always"]["status"]["renewalTime"] == (
        dt.datetime.strptime(first["always"]["status"]["notAfter"], "%Y-%m-%dT%H:%M:%SZ") - dt.timedelta(hours=1)
    ).strftime("%Y-%m-%dT%H:%M:%SZ")  # a third of 3h before notAfter

    out = subprocess.run([sys.executable, "-m", "k8snet.cli", "sandbox", "clock", "advance", "2h1m"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Sandbox time: ") and "ahead of this machine" in out.stdout
    for n in ("always", "never"):
        ready(sb, "certificate", n, ns, revision=2)
    after = {n: leaf(secret_data(sb, ns, f"{n}-tls")) for n in first}
    assert all(after[n].serial_number != before[n].serial_number for n in first)
    assert after["always"].public_key() != before["always"].public_key()  # rotationPolicy Always: a new key
    assert after["never"].public_key() == before["never"].public_key()  # Never: the Secret's key again
    renewing = [e for e in events(sb, ns, "always") if e[1] == "Issuing"]
    renewal_time = dt.datetime.strptime(first["always"]["status"]["renewalTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert ("Normal", "Issuing", "cert-manager-certificates-trigger",
            f"Renewing certificate as renewal was scheduled at {renewal_time:%Y-%m-%d %H:%M:%S} +0000 UTC") in renewing
    assert ("Normal", "Reused", "cert-manager-certificates-key-manager",
            'Reusing private key stored in existing Secret resource "never-tls"') in events(sb, ns, "never")
    requests = sorted(r["metadata"]["name"] for r in sb.kubectl_json("get", "certificaterequests", "-n", ns)["items"]
                      if r["metadata"]["name"].startswith(("always", "never")))
    # revisionmanager: the default history limit keeps one request, "always" keeps two
    assert requests == ["always-1", "always-2", "never-2"]
    assert get(sb, "certificate", "frozen", ns)["status"]["revision"] == 1
    assert cluster.clock() > dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)


def test_deleting_or_changing_the_secret_reissues(sb, ns):
    bootstrap(sb, ns)
    apply(sb, ns, LEAF.format(name="web", extra_key="", extra=""))
    ready(sb, "certificate", "web", ns, revision=1)
    sb.kubectl("delete", "secret", "web-tls", "-n", ns)
    ready(sb, "certificate", "web", ns, revision=2)
    assert ("Normal", "Issuing", "cert-manager-certificates-trigger", "Issuing certificate as Secret does not exist"
            ) in events(sb, ns, "web")
    sb.kubectl("annotate", "secret", "web-tls", "-n", ns, "--overwrite", "cert-manager.io/issuer-name=someone-else")
    ready(sb, "certificate", "web", ns, revision=3)
    assert ("Normal", "Issuing", "cert-manager-certificates-trigger",
            'Issuing certificate as Secret was previously issued by "Issuer.cert-manager.io/someone-else"'
            ) in events(sb, ns, "web")
    sb.kubectl("patch", "certificate", "web", "-n", ns, "--type=merge", "-p",
               '{"spec": {"dnsNames": ["web.example.test", "www.web.example.test", "api.web.example.test"]}}')
    crt = ready(sb, "certificate", "web", ns, revision=4)
    assert ("Normal", "Issuing", "cert-manager-certificates-trigger", "Fields on existing CertificateRequest resource "
            "not up to date: [spec.dnsNames]") in events(sb, ns, "web")
    assert "api.web.example.test" in get(sb, "secret", "web-tls", ns)["metadata"]["annotations"][
        "cert-manager.io/alt-names"]
    assert crt["metadata"]["generation"] == 2 and cond(crt, "Ready")["observedGeneration"] == 2


def test_manual_renewal_as_cmctl_renew_does_it(sb, ns, cluster):
    bootstrap(sb, ns)
    apply(sb, ns, LEAF.format(name="manual", extra_key="", extra=""))
    ready(sb, "certificate", "manual", ns, revision=1)
    before = leaf(secret_data(sb, ns, "manual-tls")).serial_number
    updated = certs.renew(cluster, "manual", ns)
    issuing = cond(updated, "Issuing")
    assert (issuing["status"], issuing["reason"], issuing["message"]) == (
        "True", "ManuallyTriggered", "Certificate re-issuance manually triggered")
    ready(sb, "certificate", "manual", ns, revision=2)
    assert leaf(secret_data(sb, ns, "manual-tls")).serial_number != before
    assert not [e for e in events(sb, ns, "manual") if e[3].startswith("Renewing")]  # not a scheduled renewal


def test_secret_template_and_additional_output_formats(sb, ns):
    bootstrap(sb, ns)
    apply(sb, ns, LEAF.format(name="tmpl", extra_key="", extra="""  secretTemplate:
    labels: {team: shop}
    annotations: {example.test/owner: alice}
  additionalOutputFormats: [{type: CombinedPEM}, {type: DER}]"""))
    ready(sb, "certificate", "tmpl", ns)
    secret = get(sb, "secret", "tmpl-tls", ns)
    assert secret["metadata"]["labels"] == {"team": "shop", "controller.cert-manager.io/fao": "true"}
    assert secret["metadata"]["annotations"]["example.test/owner"] == "alice"
    data = secret_data(sb, ns, "tmpl-tls")
    assert data["tls-combined.pem"] == data["tls.key"] + b"\n" + data["tls.crt"]
    assert data["key.der"][:1] == b"\x30"  # a DER SEQUENCE
    sb.kubectl("patch", "certificate", "tmpl", "-n", ns, "--type=json", "-p",
               '[{"op": "remove", "path": "/spec/secretTemplate/labels"}]')
    wait_for(lambda: "team" not in (get(sb, "secret", "tmpl-tls", ns)["metadata"].get("labels") or {}),
             what="the template label to leave the Secret (post-issuance policies)")
    assert get(sb, "certificate", "tmpl", ns)["status"]["revision"] == 1  # metadata only: no re-issuance


WEBHOOK = 'admission webhook "webhook.cert-manager.io" denied the request: '


@pytest.mark.parametrize(("spec", "message"), [
    ("secretName: x\n  commonName: a\n  issuerRef: {name: ''}", "spec.issuerRef.name: Required value: must be specified"),
    ("secretName: x\n  issuerRef: {name: i}",
     'spec: Invalid value: "": at least one of commonName (from the commonName field or from a literalSubject), '
     "dnsNames, emailSANs, ipAddresses, otherNames, or uriSANs must be set"),
    ("secretName: x\n  commonName: a\n  duration: 30m\n  issuerRef: {name: i}",
     "spec.duration: Invalid value: 30m0s: certificate duration must be greater than 1h0m0s"),
    ("secretName: x\n  commonName: a\n  duration: 2h\n  renewBefore: 3h\n  issuerRef: {name: i}",
     "spec.renewBefore: Invalid value: 3h0m0s: certificate duration 2h0m0s must be greater than renewBefore 3h0m0s"),
    ("secretName: x\n  commonName: a\n  privateKey: {size: 1024}\n  issuerRef: {name: i}",
     "spec.privateKey.size: Invalid value: 1024: must be between 2048 and 8192 for rsa keyAlgorithm"),
    ("secretName: x\n  commonName: a\n  privateKey: {algorithm: ECDSA, size: 255}\n  issuerRef: {name: i}",
     'spec.privateKey.size: Unsupported value: 255: supported values: "256", "384", "521"'),
    ("secretName: x\n  commonName: a\n  revisionHistoryLimit: 0\n  issuerRef: {name: i}",
     "spec.revisionHistoryLimit: Invalid value: 0: must not be less than 1"),
    ("secretName: x\n  commonName: a\n  secretTemplate: {annotations: {cert-manager.io/x: \"v\"}}\n  issuerRef: {name: i}",
     'spec.secretTemplate.annotations: Invalid value: "cert-manager.io/x": cert-manager.io/* annotations are not '
     "allowed"),
    ("secretName: x\n  ipAddresses: [10.0.0.300]\n  issuerRef: {name: i}",
     'spec.ipAddresses[0]: Invalid value: "10.0.0.300": invalid IP address'),
    ("secretName: x\n  commonName: a\n  issuerRef: {name: i, kind: Gateway}",
     'spec.issuerRef.kind: Invalid value: "Gateway": must be one of Issuer or ClusterIssuer'),
])
def test_the_webhook_refuses_bad_certificates(sb, refusals_ns, spec, message):
    """internal/apis/certmanager/validation/certificate.go, as the API server relays a webhook's denial."""
    done = apply(sb, refusals_ns, f"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: bad}}\nspec:\n  {spec}\n",
                 check=False)
    assert done.returncode != 0
    assert f"Error from server (Forbidden): error when creating \"STDIN\": {WEBHOOK}{message}\n" == done.stderr


def test_the_webhook_answers_403_with_every_error_and_400_for_bad_durations(sb, ns, cluster):
    api = client.CustomObjectsApi(cluster.api)
    body = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "bad"},
            "spec": {"secretName": "x", "duration": "30m", "issuerRef": {"name": ""}}}
    with pytest.raises(client.ApiException) as denied:
        api.create_namespaced_custom_object(CM, "v1", ns, "certificates", body)
    status = json.loads(denied.value.body)
    assert (denied.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == WEBHOOK + "[spec.issuerRef.name: Required value: must be specified, spec: Invalid " \
        'value: "": at least one of commonName (from the commonName field or from a literalSubject), dnsNames, ' \
        "emailSANs, ipAddresses, otherNames, or uriSANs must be set, spec.duration: Invalid value: 30m0s: " \
        "certificate duration must be greater than 1h0m0s]"
    body["spec"] = {"secretName": "x", "commonName": "a", "duration": "90d", "issuerRef": {"name": "i"}}
    with pytest.raises(client.ApiException) as undecodable:
        api.create_namespaced_custom_object(CM, "v1", ns, "certificates", body)
    assert undecodable.value.status == 400
    assert json.loads(undecodable.value.body)["message"] == WEBHOOK + 'time: unknown unit "d" in duration "90d"'
    for spec, message in (({}, "spec: Required value: at least one issuer must be configured"),
                          ({"ca": {"secretName": ""}}, "spec.ca.secretName: Required value"),
                          ({"ca": {"secretName": "a"}, "selfSigned": {}},
                           "spec.selfSigned: Forbidden: may not specify more than one issuer type")):
        with pytest.raises(client.ApiException) as refused:
            api.create_namespaced_custom_object(CM, "v1", ns, "issuers", {
                "apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "i"}, "spec": spec})
        assert json.loads(refused.value.body)["message"] == WEBHOOK + message
    # the CRD's own schema answers first (422), the webhook only sees what the schema admits
    body["spec"] = {"secretName": "x", "commonName": "a", "usages": ["flying"], "issuerRef": {"name": "i"}}
    with pytest.raises(client.ApiException) as invalid:
        api.create_namespaced_custom_object(CM, "v1", ns, "certificates", body)
    assert invalid.value.status == 422
    assert 'spec.usages[0]: Unsupported value: \\"flying\\"' in invalid.value.body
    assert api.list_namespaced_custom_object(CM, "v1", ns, "certificates")["items"] == []
    # a namespace labelled cert-manager.io/disable-validation is not sent to the webhook (its namespaceSelector)
    sb.kubectl("label", "namespace", ns, "cert-manager.io/disable-validation=true")
    api.create_namespaced_custom_object(CM, "v1", ns, "issuers", {
        "apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "i"}, "spec": {}})


def test_certificate_requests_record_their_requester_and_never_change(sb, ns):
    bootstrap(sb, ns)
    apply(sb, ns, LEAF.format(name="req", extra_key="", extra=""))
    ready(sb, "certificate", "req", ns)
    request = get(sb, "certificaterequest", "req-1", ns)["spec"]["request"]
    apply(sb, ns, f"""
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata: {{name: by-hand}}
spec:
  request: {request}
  usages: [server auth, client auth, digital signature, key encipherment]
  issuerRef: {{name: my-ca-issuer}}
""")
    cr = wait_for(lambda: (lambda o: o if cond(o, "Ready").get("reason") == "Issued" else None)(
        get(sb, "certificaterequest", "by-hand", ns)), what="the hand-made request to be issued")
    assert cr["spec"]["username"] == "kubernetes-admin"
    assert "system:authenticated" in cr["spec"]["groups"]
    done = sb.kubectl("patch", "certificaterequest", "by-hand", "-n", ns, "--type=merge", "-p",
                      '{"spec": {"isCA": true}}', check=False)
    assert done.returncode != 0 and WEBHOOK + "spec: Forbidden: cannot change spec after creation" in done.stderr


def test_broken_issuers_never_crash_and_recover_when_fixed(sb, ns):
    apply(sb, ns, """
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: acme}
spec:
  acme:
    server: https://acme-staging-v02.api.letsencrypt.org/directory
    privateKeySecretRef: {name: acme-account}
    solvers: [{http01: {ingress: {ingressClassName: traefik}}}]
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: vault}
spec:
  vault: {server: https://vault.example.test, path: pki/sign/x, auth: {tokenSecretRef: {name: t, key: k}}}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca}
spec:
  ca: {secretName: ca-key-pair}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: orphan}
spec:
  secretName: orphan-tls
  commonName: orphan.example.test
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: later}
""")
    acme = wait_for(lambda: cond(get(sb, "issuer", "acme", ns), "Ready") or None, what="the ACME issuer's status")
    assert (acme["status"], acme["reason"]) == ("False", "ErrRegisterACMEAccount")
    assert acme["message"].startswith("Failed to register ACME account: the k8snet sandbox has no ACME server")
    vault = wait_for(lambda: cond(get(sb, "issuer", "vault", ns), "Ready") or None, what="the Vault issuer's status")
    assert (vault["status"], vault["reason"]) == ("False", "VaultError") and "no Vault server" in vault["message"]
    ca = wait_for(lambda: cond(get(sb, "issuer", "ca", ns), "Ready") or None, what="the CA issuer's status")
    assert (ca["status"], ca["reason"], ca["message"]) == (
        "False", "ErrGetKeyPair", 'Error getting keypair for CA issuer: secrets "ca-key-pair" not found')

    pending = wait_for(lambda: cond(get(sb, "certificaterequest", "orphan-1", ns), "Ready") or None,
                       what="the orphan request's Ready condition")
    assert (pending["status"], pending["reason"], pending["message"]) == (
        "False", "Pending", 'Referenced "Issuer" not found: issuer.cert-manager.io "later" not found')
    assert ("Normal", "IssuerNotFound", pending["message"]) in [(e[0], e[1], e[3]) for e in events(sb, ns, "orphan-1")]

    # a non-CA certificate in the CA Secret: ErrInvalidKeyPair; a real CA: Ready (retried when the Secret changes)
    site = certs.authority("k8snet test CA").issue("site.example.test")
    sb.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(certs.tls_secret("ca-key-pair", site)))
    ca = wait_for(lambda: (lambda c: c if c.get("reason") == "ErrInvalidKeyPair" else None)(
        cond(get(sb, "issuer", "ca", ns), "Ready")), what="ErrInvalidKeyPair")
    assert ca["message"] == "Error getting keypair for CA issuer: certificate is not a CA"
    authority = certs.authority("k8snet test CA")
    sb.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(certs.tls_secret("ca-key-pair", authority)))
    ready(sb, "issuer", "ca", ns)

    # the missing issuer appears: the pending request is issued
    apply(sb, ns, "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: later}\nspec: {selfSigned: {}}\n")
    ready(sb, "certificate", "orphan", ns)
    assert leaf(secret_data(sb, ns, "orphan-tls")).issuer.rfc4514_string() == "CN=orphan.example.test"


def test_a_ca_secret_whose_key_is_not_the_certificates_fails_at_signing(sb, ns, cluster):
    """ca/setup.go does not compare key and certificate; Go's CreateCertificate refuses to sign with them."""
    one, other = certs.authority("one"), certs.authority("other")
    mixed = certs.tls_secret("mixed", one)
    mixed["data"]["tls.key"] = certs.tls_secret("x", other)["data"]["tls.key"]
    sb.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(mixed))
    apply(sb, ns, """
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: mixed}
spec: {ca: {secretName: mixed}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: doomed}
spec:
  secretName: doomed-tls
  dnsNames: [doomed.example.test]
  privateKey: {algorithm: ECDSA}
  issuerRef: {name: mixed}
""")
    crt = wait_for(lambda: (lambda o: o if cond(o, "Issuing").get("status") == "False" else None)(
        get(sb, "certificate", "doomed", ns)), what="the issuance to fail")
    message = "Error signing certificate: error creating x509 certificate: x509: provided PrivateKey doesn't match " \
              "parent's PublicKey"
    assert cond(get(sb, "certificaterequest", "doomed-1", ns), "Ready")["message"] == message
    issuing = cond(crt, "Issuing")
    assert (issuing["reason"], issuing["message"]) == (
        "Failed", f"The certificate request has failed to complete and will be retried: {message}")
    assert crt["status"]["failedIssuanceAttempts"] == 1 and crt["status"]["lastFailureTime"]
    assert cond(crt, "Ready")["reason"] == "DoesNotExist"
    assert ("Warning", "Failed", "cert-manager-certificates-issuing", issuing["message"]) in events(sb, ns, "doomed")

    # fixed, the issuance is retried once the back-off (1h after the first failure) is over, on the sandbox clock
    sb.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump(certs.tls_secret("mixed", one)))
    assert get(sb, "certificate", "doomed", ns)["status"]["failedIssuanceAttempts"] == 1  # still backing off
    cluster.advance_clock("61m")
    crt = ready(sb, "certificate", "doomed", ns, revision=1)
    assert "failedIssuanceAttempts" not in crt["status"] and "lastFailureTime" not in crt["status"]
    assert leaf(secret_data(sb, ns, "doomed-tls")).issuer.rfc4514_string() == "CN=one"


def test_advance_clock_moves_the_sandbox_and_is_refused_on_kind_where_time_cannot_move(cluster):
    before = cluster.clock()
    assert cluster.advance_clock("1m") - before >= dt.timedelta(minutes=1)
    with pytest.raises(ValueError, match="only moves forward"):
        cluster.advance_clock(-5)
    kind = k8snet.Cluster("kind", "kind-k8snet", cluster.api)  # the backend decides; nothing is sent
    with pytest.raises(RuntimeError, match="cannot be advanced"):
        kind.advance_clock("1440h")
    with pytest.raises(ValueError, match='unknown unit "d"'):
        kind.advance_clock("60d")


def test_a_cluster_issuer_reads_its_ca_from_the_cert_manager_namespace(sb, ns):
    """--cluster-resource-namespace defaults to cert-manager, where the release manifest installs it."""
    authority = certs.authority("k8snet cluster CA")
    sb.kubectl("apply", "-n", "cert-manager", "-f", "-",
               input=yaml.safe_dump(certs.tls_secret("cluster-ca-" + ns, authority)))
    done = apply(sb, ns, f"""
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{name: cluster-ca-{ns}}}
spec: {{ca: {{secretName: cluster-ca-{ns}}}}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{name: site}}
spec:
  secretName: site-tls
  dnsNames: [site.example.test]
  privateKey: {{algorithm: ECDSA}}
  keystores: {{pkcs12: {{create: true, password: changeit}}}}
  issuerRef: {{name: cluster-ca-{ns}, kind: ClusterIssuer}}
""")
    ready(sb, "clusterissuer", f"cluster-ca-{ns}")
    ready(sb, "certificate", "site", ns)
    secret = get(sb, "secret", "site-tls", ns)
    assert secret["metadata"]["annotations"]["cert-manager.io/issuer-kind"] == "ClusterIssuer"
    assert base64.b64decode(secret["data"]["ca.crt"]).decode() == authority.pem
    assert "Warning: the k8snet sandbox does not emulate spec.keystores (JKS and PKCS#12 keystores); cert-manager " \
           "on kind does" in done.stderr
