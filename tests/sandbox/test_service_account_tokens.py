"""ServiceAccount tokens through real clients: ``kubectl create token``, a pod's projected token, and what the API
server does with them (pkg/registry/core/serviceaccount/storage/token.go, pkg/serviceaccount/claims.go,
staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go)."""

from __future__ import annotations

import base64
import json

import pytest
from tests.conftest import wait_for
from tests.sandbox.test_rbac import BINDING, ROLE, raw

from k8snet.sandbox import process

ISSUER = "https://kubernetes.default.svc.cluster.local"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def create_token(sandbox, ns: str, *args: str) -> str:
    return sandbox.kubectl("create", "token", "web", "-n", ns, *args).stdout.strip()


@pytest.fixture
def web(sandbox, ns) -> str:
    """The ServiceAccount ``web`` in a fresh namespace; returns the namespace."""
    sandbox.kubectl("create", "serviceaccount", "web", "-n", ns)
    return ns


def test_kubectl_create_token_issues_kube_apiservers_claims(sandbox, web):
    """claims.go: iss, sub, aud (the API server's), an hour by default, the account's name and uid; RS256 with the
    key's id."""
    token = create_token(sandbox, web)
    c = claims(token)
    uid = sandbox.kubectl_json("get", "serviceaccount", "web", "-n", web)["metadata"]["uid"]
    assert sorted(c) == ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"]
    assert (c["iss"], c["aud"], c["sub"]) == (ISSUER, [ISSUER], f"system:serviceaccount:{web}:web")
    assert c["exp"] - c["iat"] == 3600 and c["nbf"] == c["iat"]
    assert c["kubernetes.io"] == {"namespace": web, "serviceaccount": {"name": "web", "uid": uid}}
    assert header(token)["alg"] == "RS256" and len(header(token)["kid"]) == 43
    assert claims(create_token(sandbox, web, "--duration=2h"))["exp"] - c["iat"] in (7200, 7201)


def test_a_token_authenticates_as_its_service_account(sandbox, web):
    token = create_token(sandbox, web)
    out = sandbox.kubectl("auth", "whoami", f"--token={token}", "-o", "json").stdout
    info = json.loads(out)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{web}:web"
    assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{web}", "system:authenticated"]
    assert info["extra"]["authentication.kubernetes.io/credential-id"] == [f"JTI={claims(token)['jti']}"]


def test_a_service_account_token_gets_kube_apiservers_403_byte_for_byte(sandbox, web):
    token = create_token(sandbox, web)
    code, body, _ = raw(sandbox, "GET", f"/api/v1/namespaces/{web}/pods", token=token)
    assert code == 403
    assert body == ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is '
                    f'forbidden: User \\"system:serviceaccount:{web}:web\\" cannot list resource \\"pods\\" in API '
                    f'group \\"\\" in the namespace \\"{web}\\"","reason":"Forbidden","details":{{"kind":"pods"}},'
                    '"code":403}\n').encode()


def test_the_python_client_with_a_token_is_forbidden_then_allowed(sandbox, web):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    config = client.Configuration()
    config.host = sandbox.running.server
    config.ssl_ca_cert = str(sandbox.running.state / "ca.crt")
    config.api_key = {"authorization": "Bearer " + create_token(sandbox, web)}
    core = client.CoreV1Api(client.ApiClient(config))
    with pytest.raises(ApiException) as err:
        core.list_namespaced_secret(web)
    assert err.value.status == 403 and json.loads(err.value.body)["reason"] == "Forbidden"
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=web) + "---\n" + BINDING.format(ns=web))
    assert core.list_namespaced_secret(web).items == []


def test_a_service_account_may_not_impersonate_without_the_right(sandbox, web):
    """impersonation.go: the impersonation itself is authorized (verb impersonate on users)."""
    proc = sandbox.kubectl("get", "pods", "-n", web, "--as=jane", f"--token={create_token(sandbox, web)}",
                           check=False)
    assert proc.returncode == 1
    assert ('Error from server (Forbidden): users "jane" is forbidden: User "system:serviceaccount:'
            f'{web}:web" cannot impersonate resource "users" in API group "" at the cluster scope') in proc.stderr


def test_a_token_for_a_deleted_service_account_is_unauthorized(sandbox, web):
    token = create_token(sandbox, web)
    sandbox.kubectl("delete", "serviceaccount", "web", "-n", web)
    code, body, _ = raw(sandbox, "GET", "/api", token=token)
    assert code == 401 and json.loads(body)["reason"] == "Unauthorized"
    sandbox.kubectl("create", "serviceaccount", "web", "-n", web)  # the same name, another uid
    assert raw(sandbox, "GET", "/api", token=token)[0] == 401


def test_token_request_validation(sandbox, web):
    """token.go and ValidateTokenRequest: ten minutes at least; the account must exist."""
    proc = sandbox.kubectl("create", "token", "web", "-n", web, "--duration=5m", check=False)
    assert ('TokenRequest.authentication.k8s.io "web" is invalid: spec.expirationSeconds: Invalid value: 300: may '
            "not specify a duration less than 10 minutes") in proc.stderr
    proc = sandbox.kubectl("create", "token", "nobody", "-n", web, check=False)
    assert 'serviceaccounts "nobody" not found' in proc.stderr


def test_a_token_for_another_audience_is_not_the_api_servers(sandbox, web):
    """A token whose audiences do not include the API server's is refused (401); a TokenReview for that audience
    authenticates it."""
    token = create_token(sandbox, web, "--audience=vault")
    assert claims(token)["aud"] == ["vault"]
    assert raw(sandbox, "GET", "/api", token=token)[0] == 401
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": token, "audiences": ["vault"]}}
    code, body, _ = raw(sandbox, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)
    status = json.loads(body)["status"]
    assert code == 201 and status["authenticated"] is True and status["audiences"] == ["vault"]
    assert status["user"]["username"] == f"system:serviceaccount:{web}:web"


# -- the kubelet's projected token -----------------------------------------------------------------


POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  serviceAccountName: web
  {extra}
  containers:
  - name: app
    image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
    args: [netexec]
{mounts}
"""


def run_pod(sandbox, ns: str, name: str = "client", extra: str = "", mounts: str = "") -> None:
    sandbox.kubectl("apply", "-f", "-", input=POD.format(name=name, ns=ns, extra=extra, mounts=mounts))
    sandbox.kubectl("wait", "--for=condition=Ready", f"pod/{name}", "-n", ns, "--timeout=60s")


def cat(sandbox, ns: str, path: str, pod: str = "client") -> str:
    return sandbox.kubectl("exec", pod, "-n", ns, "--", "cat", path).stdout


def test_a_pod_has_a_token_bound_to_it_and_its_node(sandbox, web):
    """The kube-api-access volume: a TokenRequest for the pod (3607 s asked, a year given, warnafter at 3607 s),
    bound to the pod and its node; it authenticates with the pod's and node's extra values."""
    run_pod(sandbox, web)
    token = cat(sandbox, web, f"{TOKEN_DIR}/token")
    pod = sandbox.kubectl_json("get", "pod", "client", "-n", web)
    c = claims(token)
    k = c["kubernetes.io"]
    assert k["pod"] == {"name": "client", "uid": pod["metadata"]["uid"]}
    assert k["node"]["name"] == pod["spec"]["nodeName"]
    assert k["warnafter"] - c["iat"] == 3607 and c["exp"] - c["iat"] == 365 * 24 * 3600
    assert cat(sandbox, web, f"{TOKEN_DIR}/namespace") == web
    info = json.loads(sandbox.kubectl("auth", "whoami", f"--token={token}", "-o", "json").stdout)["status"]
    assert info["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"] == ["client"]
    sandbox.kubectl("delete", "pod", "client", "-n", web, "--now")
    assert raw(sandbox, "GET", "/api", token=token)[0] == 401  # the bound pod is gone: the token is invalidated


def test_a_pods_own_token_is_forbidden_where_its_account_has_no_rights(sandbox, web):
    run_pod(sandbox, web)
    token = cat(sandbox, web, f"{TOKEN_DIR}/token")
    proc = sandbox.kubectl("get", "secrets", "-n", web, f"--token={token}", check=False)
    assert (f'secrets is forbidden: User "system:serviceaccount:{web}:web" cannot list resource "secrets" in API '
            f'group "" in the namespace "{web}"') in proc.stderr
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=web) + "---\n" + BINDING.format(ns=web))
    assert sandbox.kubectl("get", "secrets", "-n", web, f"--token={token}").returncode == 0


def test_no_token_without_automount(sandbox, web):
    run_pod(sandbox, web, extra="automountServiceAccountToken: false")
    proc = sandbox.kubectl("exec", "client", "-n", web, "--", "ls", TOKEN_DIR, check=False)
    assert proc.returncode != 0


def test_a_projected_service_account_token_volume(sandbox, web):
    """pkg/volume/projected: a serviceAccountToken source with its own audience, lifetime and path."""
    extra = """volumes:
  - name: vault
    projected:
      sources:
      - serviceAccountToken: {audience: vault, expirationSeconds: 7200, path: vault-token}"""
    mounts = "    volumeMounts: [{name: vault, mountPath: /var/run/secrets/tokens}]"
    run_pod(sandbox, web, extra=extra, mounts=mounts)
    c = claims(cat(sandbox, web, "/var/run/secrets/tokens/vault-token"))
    assert c["aud"] == ["vault"] and c["exp"] - c["iat"] == 7200 and "warnafter" not in c["kubernetes.io"]


# -- durability and expiry: a sandbox of the test's own ---------------------------------------------


def test_rbac_objects_and_tokens_survive_a_restart_and_tokens_expire(own_sandbox):
    """The store keeps Roles and bindings, the state directory the signing key; the default roles a learner
    deleted come back at start; advancing the sandbox clock past ``exp`` makes the token 401."""
    from tests.conftest import SandboxEnv

    env = SandboxEnv(process.status(), own_sandbox / "kubeconfig", own_sandbox)
    assert env.running is not None
    env.kubectl("create", "namespace", "shop")
    env.kubectl("create", "serviceaccount", "web", "-n", "shop")
    env.kubectl("apply", "-f", "-", input=ROLE.format(ns="shop") + "---\n" + BINDING.format(ns="shop"))
    env.kubectl("delete", "clusterrole", "system:basic-user")
    token = env.kubectl("create", "token", "web", "-n", "shop").stdout.strip()
    process.down()
    process.up(seed=0, edge_http_port=0, edge_https_port=0)
    env = SandboxEnv(process.status(), own_sandbox / "kubeconfig", own_sandbox)
    assert env.kubectl("get", "role", "secret-reader", "-n", "shop").returncode == 0
    assert env.kubectl("get", "clusterrole", "system:basic-user").returncode == 0
    assert env.kubectl("auth", "can-i", "get", "secrets", "-n", "shop", f"--token={token}").stdout.strip() == "yes"
    process.admin(env.running, "clock", {"advance": 3601})
    wait_for(lambda: raw(env, "GET", "/api", token=token)[0] == 401, what="the token to expire")


# -- from inside a pod: https://kubernetes.default.svc with the mounted token (dataplane/apiserver.py) -----------

CURL = ('curl -sS --cacert {dir}/ca.crt -H "Authorization: Bearer $(cat {dir}/token)" '
        "https://kubernetes.default.svc{path}")


def test_curl_with_the_mounted_token_gets_the_403_then_the_list(sandbox, web):
    """As the tutorials do: the Service kubernetes (10.96.0.1:443) leads to the API server, whose certificate the
    pod's ca.crt verifies; the pod's own token is authorized by RBAC."""
    run_pod(sandbox, web)
    command = CURL.format(dir=TOKEN_DIR, path=f"/api/v1/namespaces/{web}/secrets")
    out = sandbox.kubectl("exec", "client", "-n", web, "--", "sh", "-c", command).stdout
    status = json.loads(out)
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (f'secrets is forbidden: User "system:serviceaccount:{web}:web" cannot list '
                                 f'resource "secrets" in API group "" in the namespace "{web}"')
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=web) + "---\n" + BINDING.format(ns=web))
    listed = json.loads(sandbox.kubectl("exec", "client", "-n", web, "--", "sh", "-c", command).stdout)
    assert listed["kind"] == "SecretList"


def test_the_api_servers_in_cluster_names_verify_and_plain_http_is_refused_as_go_does(sandbox, web):
    run_pod(sandbox, web)
    out = sandbox.kubectl("exec", "client", "-n", web, "--", "curl", "-sS", "--cacert", f"{TOKEN_DIR}/ca.crt",
                          "https://kubernetes.default.svc.cluster.local/version").stdout
    assert json.loads(out)["gitVersion"].startswith("v1.33")
    out = sandbox.kubectl("exec", "client", "-n", web, "--", "curl", "-s", "http://kubernetes.default:443/").stdout
    assert out == "Client sent an HTTP request to an HTTPS server.\n"
