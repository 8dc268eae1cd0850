"""Impersonation: ``kubectl --as=USER --as-group=GROUP`` (the Impersonate-* request headers).

Ports staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go: each thing asked for is authorized
as the verb ``impersonate`` on ``users``, ``groups`` or ``serviceaccounts`` (in the account's namespace; a user
name ``system:serviceaccount:NS:NAME`` is that account), ``userextras/KEY`` and ``uids`` of
``authentication.k8s.io``; the first one refused is a 403 naming it. The request then goes on as the
impersonated user: a ServiceAccount gets its two groups unless groups were given, and everyone but
``system:anonymous`` gets ``system:authenticated`` unless a group given is already one of the two
``system:(un)authenticated``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from .rbac import Authorizer
from .users import (
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    Attributes,
    UserInfo,
    extra_of,
    forbidden,
    service_account_groups,
    service_account_username,
)

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"


class ImpersonationError(Exception):
    """A request that asks for impersonation without a user: kube-apiserver answers 500 in plain text."""


@dataclass(frozen=True)
class Ask:
    """One impersonation request (the v1.ObjectReference buildImpersonationRequests makes)."""

    kind: str
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def go(self) -> str:
        """``%v`` of the ObjectReference: its seven fields, space-separated."""
        return "{" + " ".join((self.kind, self.namespace, self.name, "", self.api_version, "", self.field_path)) + "}"


def requests_of(headers: Mapping[str, str], groups: Sequence[str],
                extras: Sequence[tuple[str, str]]) -> list[Ask]:
    """buildImpersonationRequests: the user (or service account), extras, groups and uid asked for."""
    asks: list[Ask] = []
    user = headers.get(USER_HEADER, "")
    if user:
        account = UserInfo(user).service_account
        asks.append(Ask("ServiceAccount", account[1], account[0]) if account else Ask("User", user))
    for key, value in extras:
        asks.append(Ask("UserExtra", value, api_version="authentication.k8s.io/v1", field_path=unquote(key.lower())))
    asks += [Ask("Group", g) for g in groups]
    uid = headers.get(UID_HEADER, "")
    if uid:
        asks.append(Ask("UID", uid, api_version="authentication.k8s.io/v1"))
    if not user and asks:
        raise ImpersonationError(f"requested [{' '.join(a.go() for a in asks)}] without impersonating a user")
    return asks


def impersonate(authorizer: Authorizer, requestor: UserInfo, headers: Mapping[str, str], groups: Sequence[str],
                extras: Sequence[tuple[str, str]]) -> UserInfo:
    """The user the request acts as (``requestor`` when it asks for no one).

    Raises:
        ApiError: 403, for the first impersonation the requestor may not do.
        ImpersonationError: groups, extras or a uid without a user.
    """
    asks = requests_of(headers, groups, extras)
    if not asks:
        return requestor
    name, uid = "", ""
    new_groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for ask in asks:
        if ask.kind == "ServiceAccount":
            attrs = Attributes(requestor, "impersonate", True, ask.namespace, "", "", "serviceaccounts", "",
                               ask.name)
            name = service_account_username(ask.namespace, ask.name)
            if not groups:
                new_groups = list(service_account_groups(ask.namespace))
        elif ask.kind == "User":
            attrs = Attributes(requestor, "impersonate", True, "", "", "", "users", "", ask.name)
            name = ask.name
        elif ask.kind == "Group":
            attrs = Attributes(requestor, "impersonate", True, "", "", "", "groups", "", ask.name)
            new_groups.append(ask.name)
        elif ask.kind == "UserExtra":
            attrs = Attributes(requestor, "impersonate", True, "", "authentication.k8s.io", "v1", "userextras",
                               ask.field_path, ask.name)
            extra.setdefault(ask.field_path, []).append(ask.name)
        else:
            attrs = Attributes(requestor, "impersonate", True, "", "authentication.k8s.io", "v1", "uids", "",
                               ask.name)
            uid = ask.name
        allowed, reason = authorizer.authorize(attrs)
        if not allowed:
            raise forbidden(attrs, reason)
    if name != ANONYMOUS:
        if not any(g in (ALL_AUTHENTICATED, ALL_UNAUTHENTICATED) for g in new_groups):
            new_groups.append(ALL_AUTHENTICATED)
    elif ALL_UNAUTHENTICATED not in new_groups:
        new_groups.append(ALL_UNAUTHENTICATED)
    return UserInfo(name, tuple(new_groups), uid, extra_of(extra))
