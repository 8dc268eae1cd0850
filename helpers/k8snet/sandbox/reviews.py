"""``kubectl auth can-i`` and ``kubectl auth whoami``: the self-review resources, answered, never stored.

The sandbox has one user, the one its kubeconfig authenticates as, and it is a cluster admin, as kind's is:
kubeadm's admin certificate names ``kubernetes-admin`` in the group ``kubeadm:cluster-admins``, which the
ClusterRoleBinding ``kubeadm:cluster-admins`` binds to ClusterRole ``cluster-admin``. So every access review
is allowed by that binding (pkg/registry/authorization/selfsubjectaccessreview/rest.go fills ``status`` and
returns the object; pkg/registry/authentication/selfsubjectreview/rest.go returns the caller's user info).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .validation import Cause, required

USER = {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]}
ALLOWED_BY = ('RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to '
              'Group "kubeadm:cluster-admins"')
KINDS = {("authorization.k8s.io", "selfsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
         ("authentication.k8s.io", "selfsubjectreviews")}


def is_review(group: str, plural: str) -> bool:
    return (group, plural) in KINDS


def answer(group: str, plural: str, body: Any) -> dict[str, Any]:
    """The review with its status filled in, as the registry's Create returns it (nothing is persisted).

    Raises:
        ApiError: 400 for a body that is not an object, 422 as the apiserver's validation words it.
    """
    if body is not None and not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not an object")
    body = body or {}
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    kind = {"selfsubjectaccessreviews": "SelfSubjectAccessReview",
            "selfsubjectrulesreviews": "SelfSubjectRulesReview",
            "selfsubjectreviews": "SelfSubjectReview"}[plural]
    out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": {"creationTimestamp": None}}
    if plural == "selfsubjectreviews":
        out["status"] = {"userInfo": USER}
        return out
    out["spec"] = spec
    if plural == "selfsubjectaccessreviews":
        # pkg/apis/authorization/validation ValidateSelfSubjectAccessReviewSpec
        resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
        causes: list[Cause] = []
        if resource is None and non_resource is None:
            causes.append(required("spec.resourceAttributes",
                                   "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
        elif resource is not None and non_resource is not None:
            causes.append(Cause("FieldValueInvalid", "Invalid value: \"\": cannot be specified in combination with "
                                "resourceAttributes", "spec.nonResourceAttributes"))
        if causes:
            raise errors.invalid(kind, group, "", causes)
        out["status"] = {"allowed": True, "reason": ALLOWED_BY}
        return out
    out["status"] = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                     "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    return out
