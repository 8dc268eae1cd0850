"""kubectl auth can-i and whoami: the kubeconfig's user is a cluster admin, as kind's kubernetes-admin is."""

from __future__ import annotations

import json

from tests.sandbox.test_bad_requests import call, status_of


def test_auth_can_i_answers_yes(sandbox):
    proc = sandbox.kubectl("auth", "can-i", "create", "pods")
    assert proc.stdout.strip() == "yes"
    assert sandbox.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"


def test_auth_can_i_list_shows_every_rule(sandbox):
    out = sandbox.kubectl("auth", "can-i", "--list").stdout
    assert "*.*" in out and "[*]" in out


def test_kubectl_auth_whoami(sandbox):
    """kubectl 1.32+ sends its SelfSubjectReview as protobuf; the table prints kind's admin."""
    out = sandbox.kubectl("auth", "whoami").stdout.splitlines()
    assert out[0].split() == ["ATTRIBUTE", "VALUE"]
    assert out[1].split() == ["Username", "kubernetes-admin"]
    assert out[2].split()[0] == "Groups" and "kubeadm:cluster-admins" in out[2]


def test_a_self_subject_review_names_kind_s_admin(sandbox):
    """What `kubectl auth whoami` asks, over JSON."""
    code, review, _ = call(sandbox, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                           json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}))
    info = review["status"]["userInfo"]
    assert code == 201 and info["username"] == "kubernetes-admin" and "kubeadm:cluster-admins" in info["groups"]


def test_a_review_without_attributes_is_invalid_and_nothing_is_stored(sandbox):
    """ValidateSelfSubjectAccessReviewSpec: exactly one of resourceAttributes or nonResourceAttributes."""
    code, status, _ = call(sandbox, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                           json.dumps({"spec": {}}))
    assert "exactly one of nonResourceAttributes or resourceAttributes" in status_of(422, status)["message"]
    code, status, _ = call(sandbox, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
    assert code == 405
