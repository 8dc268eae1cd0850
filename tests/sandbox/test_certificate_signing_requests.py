"""CertificateSigningRequests through kubectl, openssl and the python client, and client-certificate users.

The task "Certificate Signing Requests → How to issue a certificate for a user"
(https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#normal-user) end to end,
then the rules behind it: pkg/apis/certificates/validation/validation.go, pkg/registry/certificates/certificates/
strategy.go, plugin/pkg/admission/certificates (approval, signing, subjectrestriction),
pkg/controller/certificates/signer and authority, pkg/controller/certificates/cleaner,
pkg/printers/internalversion/printers.go (printCertificateSigningRequest) and
k8s.io/apiserver/pkg/authentication/request/x509.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from tests.conftest import wait_for
from tests.sandbox.test_rbac import raw

from k8snet.sandbox import process

CLIENT = "kubernetes.io/kube-apiserver-client"
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def openssl(*args: str, cwd: Path) -> str:
    return subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def request_pem(tmp: Path, subject: str, name: str = "req", san: str = "") -> bytes:
    """A PKCS#10 request and its key (EC P-256, quick to make) as ``NAME.csr`` and ``NAME.key`` in ``tmp``."""
    extra = ["-addext", f"subjectAltName={san}"] if san else []
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", "-subj", subject, *extra, cwd=tmp)
    return (tmp / f"{name}.csr").read_bytes()


def csr_yaml(name: str, pem: bytes, signer: str = CLIENT, usages: str = "[client auth]", extra: str = "") -> str:
    return (f"apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {{name: {name}}}\n"
            f"spec:\n  request: {base64.b64encode(pem).decode()}\n  signerName: {signer}\n  usages: {usages}\n"
            f"{extra}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def issued(sandbox, name: str) -> x509.Certificate:
    text = wait_for(lambda: sandbox.kubectl("get", "csr", name, "-o", "jsonpath={.status.certificate}").stdout,
                    what=f"a certificate for {name}")
    return x509.load_pem_x509_certificate(base64.b64decode(text))


def conditions(sandbox, name: str) -> list[dict]:
    return (sandbox.kubectl_json("get", "csr", name).get("status") or {}).get("conditions") or []


@pytest.fixture
def private_kubeconfig(sandbox, tmp_path: Path) -> Path:
    """A copy of the session's kubeconfig the test may add users to."""
    copy = tmp_path / "kubeconfig"
    shutil.copy(sandbox.kubeconfig, copy)
    return copy


# -- the documentation's task -----------------------------------------------------------------------------------


def test_issue_a_certificate_for_a_user_as_the_documentation_does(sandbox, ns, tmp_path, private_kubeconfig):
    """openssl genrsa / req → CertificateSigningRequest → kubectl certificate approve → kubeconfig user: 403 until a
    RoleBinding grants it, then the list; ``kubectl auth whoami`` shows CN and O (x509 CommonNameUserConversion)."""
    name = unique("myuser")
    openssl("genrsa", "-out", "myuser.key", "2048", cwd=tmp_path)
    openssl("req", "-new", "-key", "myuser.key", "-out", "myuser.csr", "-subj", f"/CN={name}/O=app-team",
            cwd=tmp_path)
    pem = (tmp_path / "myuser.csr").read_bytes()
    out = sandbox.kubectl("apply", "-f", "-", input=csr_yaml(name, pem, extra="  expirationSeconds: 86400\n"))
    assert out.stdout.strip() == f"certificatesigningrequest.certificates.k8s.io/{name} created"

    table = sandbox.kubectl("get", "csr", name).stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    assert table[1].split()[0] == name and table[1].split()[2:] == [CLIENT, "kubernetes-admin", "24h", "Pending"]
    spec = sandbox.kubectl_json("get", "csr", name)["spec"]  # strategy.go PrepareForCreate: the requester
    assert (spec["username"], spec["groups"]) == ("kubernetes-admin", ["kubeadm:cluster-admins",
                                                                       "system:authenticated"])

    approved = sandbox.kubectl("certificate", "approve", name).stdout.strip()
    assert approved == f"certificatesigningrequest.certificates.k8s.io/{name} approved"
    cert = issued(sandbox, name)
    assert sandbox.kubectl("get", "csr", name).stdout.splitlines()[1].split()[-1] == "Approved,Issued"
    crt = tmp_path / "myuser.crt"
    crt.write_bytes(base64.b64decode(sandbox.kubectl("get", "csr", name, "-o",
                                                     "jsonpath={.status.certificate}").stdout))
    # at the cluster's time: other tests may have moved the shared sandbox's clock ahead (a clock never goes back)
    at = str(int(dt.datetime.fromisoformat(process.admin(sandbox.running, "clock", {"advance": 0})["now"]
                                           .replace("Z", "+00:00")).timestamp()))
    assert openssl("verify", "-attime", at, "-CAfile", str(sandbox.running.ca_file), str(crt),
                   cwd=tmp_path).strip() == \
        f"{crt}: OK"
    text = openssl("x509", "-in", str(crt), "-noout", "-subject", "-issuer", "-ext", "extendedKeyUsage,keyUsage,"
                   "basicConstraints", cwd=tmp_path)
    assert f"subject=O = app-team, CN = {name}" in text and "issuer=CN = kubernetes" in text  # Go's RDN order
    assert "TLS Web Client Authentication" in text and "CA:FALSE" in text and "X509v3 Key Usage" not in text
    # authority: 5 minutes backdated, 24h requested (at least 8h, so the end is backdated too)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(hours=24)

    kc = ["--kubeconfig", str(private_kubeconfig)]
    sandbox.kubectl(*kc, "config", "set-credentials", name, f"--client-key={tmp_path / 'myuser.key'}",
                    f"--client-certificate={crt}", "--embed-certs=true")
    denied = sandbox.kubectl(*kc, "--user", name, "get", "pods", "-n", ns, check=False)
    assert denied.returncode == 1
    assert denied.stderr.strip() == (f'Error from server (Forbidden): pods is forbidden: User "{name}" cannot list '
                                     f'resource "pods" in API group "" in the namespace "{ns}"')
    sandbox.kubectl("create", "role", "developer", "-n", ns, "--verb=create", "--verb=get", "--verb=list",
                    "--verb=update", "--verb=delete", "--resource=pods")
    sandbox.kubectl("create", "rolebinding", "developer-binding-myuser", "-n", ns, "--role=developer",
                    f"--user={name}")
    allowed = sandbox.kubectl(*kc, "--user", name, "get", "pods", "-n", ns, check=False)
    assert allowed.returncode == 0 and f"No resources found in {ns} namespace." in allowed.stderr
    whoami = sandbox.kubectl(*kc, "--user", name, "auth", "whoami", "-o", "json").stdout
    user = json.loads(whoami)["status"]["userInfo"]
    digest = cert.fingerprint(hashes.SHA256()).hex()
    assert user == {"username": name, "groups": ["app-team", "system:authenticated"],
                    "extra": {"authentication.kubernetes.io/credential-id": [f"X509SHA256={digest}"]}}


# -- validation ---------------------------------------------------------------------------------------------------


def test_validation_errors_are_kube_apiservers(sandbox, tmp_path):
    """validateCertificateSigningRequest: the request as Go's %#v of the bytes, usages known and unique, a
    qualified signer, no legacy signer in v1, at least 600 seconds."""
    out = sandbox.kubectl("create", "-f", "-", check=False, input=csr_yaml(
        "bad-csr", b"hello\n", signer="example", usages="[client auth, nonsense, client auth]",
        extra="  expirationSeconds: 60\n")).stderr
    assert 'The CertificateSigningRequest "bad-csr" is invalid: ' in out
    assert ("* spec.request: Invalid value: []byte{0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa}: PEM block type must be "
            "CERTIFICATE REQUEST") in out
    assert '* spec.usages[1]: Unsupported value: "nonsense": supported values: "any", "cert sign", "client auth"' in out
    assert '* spec.usages[2]: Duplicate value: "client auth"' in out
    assert ("* spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form "
            "'example.com/signer-name'") in out
    assert ("* spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 seconds "
            "(10 minutes)") in out
    pem = request_pem(tmp_path, "/CN=v")
    out = sandbox.kubectl("create", "-f", "-", check=False, input=csr_yaml(
        "legacy-csr", pem, signer="kubernetes.io/legacy-unknown", usages="[]")).stderr
    assert "* spec.usages: Required value" in out
    assert ('* spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not '
            "allowed via this API version") in out
    out = sandbox.kubectl("create", "-f", "-", check=False, input=csr_yaml("dots-csr", pem, signer="example/x"))
    assert out.stderr.strip() == ('The CertificateSigningRequest "dots-csr" is invalid: spec.signerName: Invalid '
                                  'value: "example": should be a domain with at least two segments separated by dots')


def test_system_masters_is_refused_for_the_client_signer(sandbox, tmp_path):
    """CertificateSubjectRestriction, after validation: 403 naming the signer."""
    pem = request_pem(tmp_path, "/CN=root/O=system:masters")
    name = unique("root")
    out = sandbox.kubectl("create", "-f", "-", input=csr_yaml(name, pem), check=False)
    assert out.stderr.strip() == (f'Error from server (Forbidden): error when creating "STDIN": certificatesigning'
                                  f'requests.certificates.k8s.io "{name}" is forbidden: use of {CLIENT} signer with '
                                  "system:masters group is not allowed")


# -- approval, denial, signers -----------------------------------------------------------------------------------


def test_deny_failed_and_unknown_signers(sandbox, tmp_path):
    """Denied is never signed; a signer that refuses the request adds Failed (SignerValidationFailure); a signer
    kube-controller-manager does not run leaves the request Approved, never Issued."""
    pem = request_pem(tmp_path, "/CN=u")
    denied, failed, custom = unique("denied"), unique("failed"), unique("custom")
    sandbox.kubectl("apply", "-f", "-", input="---\n".join([
        csr_yaml(denied, pem), csr_yaml(failed, pem, usages="[server auth]"),
        csr_yaml(custom, pem, signer="example.com/my-signer")]))
    assert sandbox.kubectl("certificate", "deny", denied).stdout.strip().endswith(" denied")
    sandbox.kubectl("certificate", "approve", failed, custom)
    condition = wait_for(lambda: next((c for c in conditions(sandbox, failed) if c["type"] == "Failed"), None),
                         what="the Failed condition")
    assert {k: condition[k] for k in ("status", "reason", "message")} == {
        "status": "True", "reason": "SignerValidationFailure",
        "message": "invalid usage for client certificate: server auth"}
    assert condition["lastTransitionTime"]  # populateConditionTimestamps
    approve_denied = sandbox.kubectl("certificate", "approve", denied, check=False)
    assert approve_denied.stderr.strip() == f'error: certificate signing request "{denied}" is already Denied'
    rows = {line.split()[0]: line.split()[-1] for line in sandbox.kubectl("get", "csr").stdout.splitlines()[1:]}
    assert (rows[denied], rows[failed], rows[custom]) == ("Denied", "Approved,Failed", "Approved")


def test_kubelet_signers_check_the_subject(sandbox, tmp_path):
    """ValidateKubeletServingCSR: organization system:nodes, then a DNS or IP name, ...; a serving request that
    passes gets serverAuth with its SANs."""
    bad = request_pem(tmp_path, "/CN=system:node:k8snet-worker/O=devs", "bad", san="DNS:k8snet-worker")
    good = request_pem(tmp_path, "/CN=system:node:k8snet-worker/O=system:nodes", "good",
                       san="DNS:k8snet-worker,IP:172.18.0.3")
    usages = "[digital signature, key encipherment, server auth]"
    bad_name, good_name = unique("serving-bad"), unique("serving")
    sandbox.kubectl("apply", "-f", "-", input="---\n".join([
        csr_yaml(bad_name, bad, "kubernetes.io/kubelet-serving", usages),
        csr_yaml(good_name, good, "kubernetes.io/kubelet-serving", usages)]))
    sandbox.kubectl("certificate", "approve", bad_name, good_name)
    failed = wait_for(lambda: next((c for c in conditions(sandbox, bad_name) if c["type"] == "Failed"), None),
                      what="the Failed condition")
    assert failed["message"] == "subject organization is not system:nodes"
    cert = issued(sandbox, good_name)
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).critical
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["k8snet-worker"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=365)  # 8760h, backdated


def test_approval_and_status_subresources_change_only_what_they_own(sandbox, tmp_path):
    """strategy.go and ValidateCertificateSigningRequest*Update: Approved and Denied exclude each other and stay
    once set; the main resource keeps spec and status; /status may not add Approved."""
    name = unique("rules")
    sandbox.kubectl("apply", "-f", "-", input=csr_yaml(name, request_pem(tmp_path, "/CN=r"),
                                                       signer="example.com/x"))
    csr = sandbox.kubectl_json("get", "csr", name)
    approved = {"type": "Approved", "status": "True", "reason": "Test"}
    status_body = {**csr, "status": {"conditions": [approved]}}
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}/status", status_body)
    assert code == 422 and json.loads(body)["message"] == (
        f'CertificateSigningRequest.certificates.k8s.io "{name}" is invalid: status.conditions: Forbidden: updates '
        'may not add a condition of type "Approved"')
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}/approval", status_body)
    assert code == 200
    csr = json.loads(body)
    both = {**csr, "status": {"conditions": [*csr["status"]["conditions"],
                                             {"type": "Denied", "status": "True"}]}}
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}/approval", both)
    assert code == 422 and json.loads(body)["message"] == (
        f'CertificateSigningRequest.certificates.k8s.io "{name}" is invalid: status.conditions[1].type: Invalid '
        'value: "Denied": Approved and Denied conditions are mutually exclusive')
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}/approval", {**csr, "status": {}})
    assert code == 422 and json.loads(body)["details"]["causes"] == [{
        "reason": "FieldValueForbidden", "field": "status.conditions",
        "message": 'Forbidden: updates may not remove a condition of type "Approved"'}]
    changed = {**csr, "metadata": {**csr["metadata"], "labels": {"a": "b"}},
               "spec": {**csr["spec"], "signerName": "example.com/other"}, "status": {}}
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}", changed)
    kept = json.loads(body)
    assert code == 200 and kept["metadata"]["labels"] == {"a": "b"}
    assert kept["spec"] == csr["spec"] and kept["status"] == csr["status"]


def test_approving_needs_approve_on_the_signer(sandbox, tmp_path):
    """RBAC on certificatesigningrequests/approval first, then CertificateApproval (approve on signers, by name or
    domain/*); CertificateSigning guards status.certificate with sign."""
    user = unique("approver")
    name = unique("needs-approver")
    sandbox.kubectl("apply", "-f", "-", input=csr_yaml(name, request_pem(tmp_path, "/CN=a")))
    out = sandbox.kubectl("certificate", "approve", name, "--as", user, check=False)
    assert out.stderr.strip() == (f'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io '
                                  f'"{name}" is forbidden: User "{user}" cannot get resource '
                                  '"certificatesigningrequests" in API group "certificates.k8s.io" at the cluster '
                                  'scope')
    sandbox.kubectl("apply", "-f", "-", input=f"""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {user}}}
rules:
- {{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [get, list, watch]}}
- {{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval, certificatesigningrequests/status],
   verbs: [update]}}
""")
    sandbox.kubectl("create", "clusterrolebinding", user, f"--clusterrole={user}", f"--user={user}")
    out = sandbox.kubectl("certificate", "approve", name, "--as", user, check=False)
    assert out.stderr.strip() == (f'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io '
                                  f'"{name}" is forbidden: user not permitted to approve requests with signerName '
                                  f'"{CLIENT}"')
    csr = sandbox.kubectl_json("get", "csr", name)
    failed = {**csr, "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    code, body, _ = raw(sandbox, "PUT", f"{CSR_PATH}/{name}/status", failed, headers={"Impersonate-User": user})
    assert code == 403 and json.loads(body)["message"].endswith(
        f'user not permitted to sign requests with signerName "{CLIENT}"')
    sandbox.kubectl("create", "clusterrolebinding", f"{user}-signer", f"--user={user}",
                    "--clusterrole=system:certificates.k8s.io:kube-apiserver-client-approver")
    sandbox.kubectl("certificate", "approve", name, "--as", user)
    issued(sandbox, name)


def test_the_python_client_approves_through_the_approval_subresource(sandbox, tmp_path):
    from kubernetes import client

    api = client.CertificatesV1Api(sandbox.api_client())
    name = unique("py")
    body = client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1CertificateSigningRequestSpec(request=base64.b64encode(request_pem(tmp_path, "/CN=py"))
                                                    .decode(), signer_name=CLIENT, usages=["client auth"]))
    created = api.create_certificate_signing_request(body)
    created.status.conditions = [client.V1CertificateSigningRequestCondition(type="Approved", status="True",
                                                                             reason="PythonApprove")]
    approved = api.replace_certificate_signing_request_approval(name, created)
    assert [c.type for c in approved.status.conditions] == ["Approved"]
    assert approved.status.conditions[0].last_update_time is not None
    done = wait_for(lambda: api.read_certificate_signing_request(name).status.certificate, what="the certificate")
    assert b"BEGIN CERTIFICATE" in base64.b64decode(done)


# -- the cleaner and an expired client certificate (the clock moves: keep these last) ----------------------------


def test_cleaner_deletes_old_requests_on_the_sandbox_clock_and_certificates_expire(sandbox, tmp_path,
                                                                                  private_kubeconfig):
    """cleaner.go: issued and denied after 1h, pending after 24h; x509 authenticator: an expired certificate is
    401 (on the sandbox clock)."""
    pem = request_pem(tmp_path, "/CN=clock-user", "clock")
    issued_name, denied_name, pending_name = unique("old-issued"), unique("old-denied"), unique("old-pending")
    sandbox.kubectl("apply", "-f", "-", input="---\n".join([
        csr_yaml(issued_name, pem, extra="  expirationSeconds: 7200\n"), csr_yaml(denied_name, pem),
        csr_yaml(pending_name, pem)]))
    sandbox.kubectl("certificate", "approve", issued_name)
    sandbox.kubectl("certificate", "deny", denied_name)
    crt = tmp_path / "clock.crt"
    crt.write_bytes(issued(sandbox, issued_name).public_bytes(serialization.Encoding.PEM))
    kc = ["--kubeconfig", str(private_kubeconfig)]
    sandbox.kubectl(*kc, "config", "set-credentials", "clock-user", f"--client-key={tmp_path / 'clock.key'}",
                    f"--client-certificate={crt}")
    assert "clock-user" in sandbox.kubectl(*kc, "--user", "clock-user", "auth", "whoami").stdout

    def names() -> set[str]:
        return {line.split()[0] for line in sandbox.kubectl("get", "csr", "--no-headers").stdout.splitlines()}

    process.admin(sandbox.running, "clock", {"advance": 3601})
    wait_for(lambda: not {issued_name, denied_name} & names(), what="the cleaner's hourly poll")
    assert pending_name in names()
    process.admin(sandbox.running, "clock", {"advance": 86400})
    wait_for(lambda: pending_name not in names(), what="the 24h pending deadline")
    expired = sandbox.kubectl(*kc, "--user", "clock-user", "get", "pods", check=False)
    assert expired.returncode == 1 and "error: You must be logged in to the server (Unauthorized)" in expired.stderr
