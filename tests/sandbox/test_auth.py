"""Authentication as kube-apiserver does it: a case-insensitive Bearer scheme, anonymous health and version."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from k8snet.sandbox import process


def get(sandbox, path: str, authorization: str | None) -> tuple[int, str]:
    running = sandbox.running
    headers = {"Authorization": authorization} if authorization is not None else {}
    req = urllib.request.Request(f"{running.server}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, context=process._tls(running.state), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(sandbox, scheme):
    """authentication/request/bearertoken: ``strings.ToLower(parts[0]) != "bearer"``."""
    code, _ = get(sandbox, "/api/v1/namespaces", f"{scheme} {sandbox.running.token}")
    assert code == 200


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version", "/version/"])
def test_health_and_version_answer_anonymously(sandbox, path):
    """The system:public-info-viewer ClusterRole lets unauthenticated clients read these, and only these: its
    nonResourceURLs have no ``*`` (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go)."""
    code, body = get(sandbox, path, None)
    assert code == 200 and body


def test_verbose_readyz_lists_its_checks(sandbox):
    code, body = get(sandbox, "/readyz?verbose", None)
    assert code == 200 and body.startswith("[+]ping ok\n") and body.endswith("readyz check passed\n")


@pytest.mark.parametrize("path,authorization,message", [
    ("/api/v1/namespaces", None, 'namespaces is forbidden: User \\"system:anonymous\\" cannot list resource '
                                 '\\"namespaces\\" in API group \\"\\" at the cluster scope'),
    ("/api", None, 'forbidden: User \\"system:anonymous\\" cannot get path \\"/api\\"'),
    ("/readyz/ping", None, 'forbidden: User \\"system:anonymous\\" cannot get path \\"/readyz/ping\\"'),
    ("/k8snet/admin/status", None, 'forbidden: User \\"system:anonymous\\" cannot get path \\"/k8snet/admin/status\\"'),
    ("/api/v1/namespaces", "Basic dXNlcjpwYXNz", "namespaces is forbidden: User"),  # no authenticator reads Basic
    ("/api/v1/namespaces", "Bearer", "namespaces is forbidden: User"),  # an empty token is no credential
])
def test_anonymous_requests_are_forbidden_by_rbac(sandbox, path, authorization, message):
    """No credentials is the anonymous user (authentication/request/anonymous; --anonymous-auth is on in kind's
    kube-apiserver), in group system:unauthenticated: RBAC grants it only system:public-info-viewer, so anything
    else is responsewriters.Forbidden's 403 naming system:anonymous, as ``curl -k https://127.0.0.1:6443/api``
    shows on kind."""
    code, body = get(sandbox, path, authorization)
    assert code == 403 and '"reason":"Forbidden"' in body and message in body


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/namespaces"])
def test_credentials_that_fail_are_401_even_where_anonymous_may_read(sandbox, path):
    """union.NewFailOnError: a bearer token no authenticator accepts is an error, never the anonymous user."""
    code, body = get(sandbox, path, "Bearer wrong-token")
    assert code == 401 and '"reason":"Unauthorized"' in body
