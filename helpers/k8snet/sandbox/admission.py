"""Admission webhooks of the add-ons the sandbox emulates, called in-process where kube-apiserver calls them.

kube-apiserver runs the mutating webhooks after defaulting and before validation, the validating webhooks after
the object's own validation (k8s.io/apiserver/pkg/admission/plugin/webhook). A webhook here is data: its name,
the API groups its rules match (every resource and subresource, CREATE and UPDATE, as cert-manager's
``*/*`` rules), a namespace label that exempts a namespace (its namespaceSelector), and two functions.

A denial is what k8s.io/apiserver's webhookerrors.ToStatusErr makes of the webhook's answer: the webhook's code
(controller-runtime's ``admission.Denied`` answers 403 Forbidden, ``admission.Errored`` the error's code) and the
message ``admission webhook "<name>" denied the request: <message>``; warnings go back as Warning headers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:
    from .apiserver import Api
    from .registry import ResourceType

Obj = dict[str, Any]


@dataclass
class Request:
    """What an AdmissionReview carries: the operation, the resource, the objects and who asks."""

    api: Api
    rt: ResourceType
    operation: str  # CREATE or UPDATE
    obj: Obj
    old: Obj | None
    subresource: str
    user: Any
    """The requester (auth.users.UserInfo), None for the sandbox's own controllers."""


@dataclass
class Verdict:
    """The webhook's answer: allowed when ``message`` is empty."""

    message: str = ""
    code: int = 403
    reason: str = "Forbidden"
    warnings: list[str] = field(default_factory=list)


@dataclass
class Webhook:
    name: str
    groups: frozenset[str]
    validate: Callable[[Request], Verdict] | None = None
    mutate: Callable[[Request], None] | None = None
    """Changes ``request.obj`` in place (the JSON patch a mutating webhook answers with)."""
    exempt_label: str = ""
    """Namespaces labelled ``<exempt_label>: "true"`` are not sent to the webhook (its namespaceSelector)."""

    def matches(self, request: Request) -> bool:
        if request.rt.group not in self.groups:
            return False
        if self.exempt_label and request.rt.namespaced:
            ns = request.api.store.get("namespaces", "", request.obj["metadata"].get("namespace", ""))
            if ((ns or {}).get("metadata", {}).get("labels") or {}).get(self.exempt_label) == "true":
                return False
        return True


def mutate(webhooks: list[Webhook], request: Request) -> None:
    for hook in webhooks:
        if hook.mutate is not None and hook.matches(request):
            hook.mutate(request)


def validate(webhooks: list[Webhook], request: Request) -> list[str]:
    """Run the validating webhooks; returns their warnings, raises the first denial."""
    warnings: list[str] = []
    for hook in webhooks:
        if hook.validate is None or not hook.matches(request):
            continue
        verdict = hook.validate(request)
        warnings += verdict.warnings
        if verdict.message:
            raise errors.ApiError(f'admission webhook "{hook.name}" denied the request: {verdict.message}',
                                  max(verdict.code, 400), verdict.reason)
    return warnings
