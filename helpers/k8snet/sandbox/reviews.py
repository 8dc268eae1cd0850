"""The review resources: answered by the authorizer or the authenticators, never stored.

- ``SelfSubjectAccessReview`` (``kubectl auth can-i``) and ``SelfSubjectRulesReview`` (``can-i --list``) ask
  for the requesting user, impersonated or not (pkg/registry/authorization/selfsubjectaccessreview,
  selfsubjectrulesreview);
- ``SubjectAccessReview`` and ``LocalSubjectAccessReview`` ask for the user and groups in their spec
  (pkg/registry/authorization/subjectaccessreview, localsubjectaccessreview; util/helpers.go);
- ``SelfSubjectReview`` (``kubectl auth whoami``) returns the requesting user's info
  (pkg/registry/authentication/selfsubjectreview);
- ``TokenReview`` authenticates a bearer token (pkg/registry/authentication/tokenreview).

Each Create fills ``status`` and returns the object, with a 201.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import errors
from .auth.rbac import Authorizer
from .auth.users import Attributes, UserInfo, extra_of
from .validation import Cause, invalid_value, required

KINDS = {("authorization.k8s.io", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
         ("authorization.k8s.io", "selfsubjectrulesreviews"): "SelfSubjectRulesReview",
         ("authorization.k8s.io", "subjectaccessreviews"): "SubjectAccessReview",
         ("authorization.k8s.io", "localsubjectaccessreviews"): "LocalSubjectAccessReview",
         ("authentication.k8s.io", "selfsubjectreviews"): "SelfSubjectReview",
         ("authentication.k8s.io", "tokenreviews"): "TokenReview"}
TokenReviewer = Callable[[str, list[str]], dict[str, Any]]
"""A token and the audiences asked for → a TokenReview's status."""


def is_review(group: str, plural: str) -> bool:
    return (group, plural) in KINDS


def answer(authorizer: Authorizer, user: UserInfo, group: str, plural: str, namespace: str, body: Any,
           token_review: TokenReviewer | None = None) -> dict[str, Any]:
    """The review with its status filled in, as the registry's Create returns it (nothing is persisted).

    Raises:
        ApiError: 400 for a body that is not an object, 422 as the apiserver's validation words it.
    """
    if body is not None and not isinstance(body, dict):
        raise errors.bad_request("the body of the request was not an object")
    body = body or {}
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    kind = KINDS[(group, plural)]
    meta: dict[str, Any] = {"creationTimestamp": None}
    if namespace:
        meta = {"namespace": namespace, **meta}
    out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/v1", "metadata": meta}
    if kind == "SelfSubjectReview":
        out["status"] = {"userInfo": user.to_dict()}
        return out
    if kind == "TokenReview":
        out["spec"] = spec
        assert token_review is not None
        out["status"] = token_review(str(spec.get("token") or ""), list(spec.get("audiences") or []))
        return out
    if kind == "SelfSubjectRulesReview":  # the status only: upstream returns a new object, spec left empty
        review_ns = spec.get("namespace") or ""
        if not review_ns:
            raise errors.bad_request("no namespace on request")
        resource, non_resource, error = authorizer.rules_for(user, review_ns)
        out["spec"] = {}
        out["status"] = {"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": False}
        if error:
            out["status"]["evaluationError"] = error
        return out
    out["spec"] = spec
    causes = _access_review_causes(spec, kind)
    if kind == "LocalSubjectAccessReview":
        causes += _local_causes(spec, namespace)
    if causes:
        raise errors.invalid(kind, group, "", causes)
    subject = user if kind == "SelfSubjectAccessReview" else UserInfo(
        str(spec.get("user") or ""), tuple(spec.get("groups") or ()), str(spec.get("uid") or ""),
        extra_of(spec.get("extra") or {}))
    allowed, reason = authorizer.authorize(_attributes(subject, spec))
    out["status"] = {"allowed": allowed, **({"reason": reason} if reason else {})}
    return out


def _access_review_causes(spec: dict[str, Any], kind: str) -> list[Cause]:
    """pkg/apis/authorization/validation: exactly one kind of attributes; a user or a group to check."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    causes: list[Cause] = []
    if resource is not None and non_resource is not None:
        causes.append(Cause("FieldValueInvalid", "Invalid value: \"\": cannot be specified in combination with "
                            "resourceAttributes", "spec.nonResourceAttributes"))
    if resource is None and non_resource is None:
        causes.append(required("spec.resourceAttributes",
                               "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    if kind in ("SubjectAccessReview", "LocalSubjectAccessReview") and not spec.get("user") and \
            not spec.get("groups"):
        causes.append(invalid_value("spec.user", spec.get("user") or "", "at least one of user or group must be "
                                                                           "specified"))
    return causes


def _local_causes(spec: dict[str, Any], namespace: str) -> list[Cause]:
    """ValidateLocalSubjectAccessReview: the attributes' namespace is the review's."""
    causes: list[Cause] = []
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict) and (resource.get("namespace") or "") != namespace:
        causes.append(invalid_value("spec.resourceAttributes.namespace", resource.get("namespace") or "",
                                    "must match metadata.namespace"))
    if spec.get("nonResourceAttributes") is not None:
        causes.append(Cause("FieldValueInvalid", "Invalid value: \"\": disallowed on this kind of request",
                            "spec.nonResourceAttributes"))
    return causes


def _attributes(user: UserInfo, spec: dict[str, Any]) -> Attributes:
    """ResourceAttributesFrom / NonResourceAttributesFrom (pkg/registry/authorization/util/helpers.go)."""
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(user, str(resource.get("verb") or ""), True, str(resource.get("namespace") or ""),
                          str(resource.get("group") or ""), str(resource.get("version") or "*"),
                          str(resource.get("resource") or ""), str(resource.get("subresource") or ""),
                          str(resource.get("name") or ""))
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(user, str(non_resource.get("verb") or ""), False, path=str(non_resource.get("path") or ""))
