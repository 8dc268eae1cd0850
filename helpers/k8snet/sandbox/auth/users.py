"""Users, the attributes of a request as the authorizer sees them, and the 403 that names them.

- :class:`UserInfo` is k8s.io/apiserver/pkg/authentication/user.Info: a name, a uid, groups and extra values.
- :func:`request_attributes` is apiserver's RequestInfoFactory (pkg/endpoints/request/requestinfo.go): the verb
  (``list``, ``watch``, ``deletecollection`` from a GET or DELETE without a name), API group, resource,
  subresource, namespace and name of a resource request, or the path of a non-resource one.
- :func:`forbidden` is responsewriters.Forbidden (pkg/endpoints/handlers/responsewriters/errors.go) with
  ``forbiddenMessage``: ``pods is forbidden: User "system:serviceaccount:shop:web" cannot list resource "pods" in
  API group "" in the namespace "shop"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from ..gofmt import quote as _q

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
SYSTEM_MASTERS = "system:masters"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"


@dataclass(frozen=True)
class UserInfo:
    """Who a request comes from (user.DefaultInfo): hashable, so decisions can be cached by it."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """authentication/v1 UserInfo, as a SelfSubjectReview or a TokenReview returns it."""
        out: dict[str, Any] = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        if self.groups:
            out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when this is a ServiceAccount's user name (serviceaccount.SplitUsername)."""
        if not self.name.startswith(SERVICE_ACCOUNT_PREFIX):
            return None
        namespace, sep, name = self.name[len(SERVICE_ACCOUNT_PREFIX):].partition(":")
        return (namespace, name) if sep and namespace and name and ":" not in name else None


ADMIN = UserInfo("kubernetes-admin", ("kubeadm:cluster-admins", ALL_AUTHENTICATED))
ANONYMOUS_USER = UserInfo(ANONYMOUS, (ALL_UNAUTHENTICATED,))
"""Who a request without credentials is (authentication/request/anonymous: kube-apiserver's --anonymous-auth, on
by default and on kind): RBAC then lets it read only what system:public-info-viewer grants."""
"""The user of the sandbox's kubeconfig, as kind's admin.conf authenticates (kubeadm's admin certificate)."""


def extra_of(values: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((k, tuple(v)) for k, v in values.items()))


def service_account_username(namespace: str, name: str) -> str:
    """serviceaccount.MakeUsername."""
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """serviceaccount.MakeGroupNames: every account's group, and its namespace's."""
    return (SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}")


@dataclass(frozen=True)
class Attributes:
    """authorizer.AttributesRecord: what one request (or one access review) asks to do."""

    user: UserInfo
    verb: str
    resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    also: tuple[str, ...] = field(default=())
    """Further verbs the request needs (a websocket exec needs create as well as get)."""


NAMESPACE_SUBRESOURCES = ("status", "finalize")
UPGRADE_CREATE = ("exec", "attach", "portforward")
"""Subresources whose websocket GET also needs ``create`` (the AuthorizePodWebsocketUpgradeCreatePermission
feature, on by default since 1.31)."""


def request_attributes(user: UserInfo, method: str, path: str, query: Mapping[str, str],
                       upgrade: bool = False) -> Attributes:
    """RequestInfoFactory.NewRequestInfo: a resource request's verb, group, resource, namespace, name and
    subresource; anything else is a non-resource request with the lower-case method as its verb."""
    parts = [p for p in path.split("/") if p]
    non_resource = Attributes(user, method.lower(), False, path=path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in ("proxy", "watch") and len(parts) > 1:  # the deprecated /api/v1/watch/… and /proxy/… forms
        verb, parts = parts[0], parts[1:]
    else:
        verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}.get(method, "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = (query.get("watch") or "").lower()
        verb = "watch" if watch and watch not in ("false", "0") else "list"
        name = _exact_name(query.get("fieldSelector") or "")
    if not name and verb == "delete":
        verb = "deletecollection"
    also = ("create",) if (upgrade and verb == "get" and group == "" and resource == "pods"
                           and subresource in UPGRADE_CREATE) else ()
    return Attributes(user, verb, True, namespace, group, version, resource, subresource, name, path, also)


def _exact_name(selector: str) -> str:
    """fields.Selector.RequiresExactMatch("metadata.name") of a list's fieldSelector (a valid path segment)."""
    for term in selector.split(","):
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key.strip() == "metadata.name" and not value.startswith("="):
                value = value.strip()
                return value if value not in (".", "..") and "/" not in value and "%" not in value else ""
    return ""


def forbidden_message(attrs: Attributes) -> str:
    """responsewriters forbiddenMessage."""
    username = attrs.user.name
    if not attrs.resource_request:
        return f"User {_q(username)} cannot {attrs.verb} path {_q(attrs.path)}"
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    scope = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
    return (f"User {_q(username)} cannot {attrs.verb} resource {_q(resource)} in API group {_q(attrs.api_group)} "
            f"{scope}")


def forbidden(attrs: Attributes, reason: str = "") -> errors.ApiError:
    """responsewriters.Forbidden: apierrors.NewForbidden of the request's group-resource and name, the message
    HTML-escaped as upstream's sanitizer does, the authorizers' reason after it."""
    message = forbidden_message(attrs).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if reason:
        message = f"{message}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return errors.ApiError(f"forbidden: {message}", 403, "Forbidden", {}, keep_details=True)
    resource = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    head = f"{resource} {_q(attrs.name)}" if attrs.name else resource
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.api_group), ("kind", attrs.resource)) if v}
    return errors.ApiError(f"{head} is forbidden: {message}", 403, "Forbidden", details)
