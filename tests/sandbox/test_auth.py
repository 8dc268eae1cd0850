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


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/readyz/ping", "/version", "/version/"])
def test_health_and_version_answer_anonymously(sandbox, path):
    """The system:public-info-viewer ClusterRole lets unauthenticated clients read these."""
    code, body = get(sandbox, path, None)
    assert code == 200 and body


def test_verbose_readyz_lists_its_checks(sandbox):
    code, body = get(sandbox, "/readyz?verbose", None)
    assert code == 200 and body.startswith("[+]ping ok\n") and body.endswith("readyz check passed\n")


@pytest.mark.parametrize("path,authorization", [
    ("/api/v1/namespaces", None),
    ("/api", None),
    ("/k8snet/admin/status", None),
    ("/healthz", "Bearer wrong-token"),  # credentials that fail are refused even where anonymous may read
    ("/api/v1/namespaces", "Basic dXNlcjpwYXNz"),
    ("/api/v1/namespaces", "Bearer"),
])
def test_everything_else_needs_the_token(sandbox, path, authorization):
    code, body = get(sandbox, path, authorization)
    assert code == 401 and '"reason":"Unauthorized"' in body
