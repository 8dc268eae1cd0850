"""What each write of a CertificateSigningRequest may change, ported from
pkg/registry/certificates/certificates/strategy.go.

- create (PrepareForCreate): ``spec.username``, ``uid``, ``groups`` and ``extra`` are the requester's, whatever
  the body says, and the status starts empty: no one creates a pre-approved request;
- the main resource (PrepareForUpdate): spec and status stay as they are (only metadata changes);
- ``/status`` (csrStatusStrategy): spec stays, the Approved and Denied conditions stay as they were (adding or
  removing one is left to validation to refuse), timestamps of new conditions are filled in;
- ``/approval`` (csrApprovalStrategy): only the conditions change, with their timestamps filled in.

``populateConditionTimestamps``: a condition without ``lastUpdateTime`` gets now; one without
``lastTransitionTime`` keeps the old one of the same type and status, else now.
"""

from __future__ import annotations

import copy
from typing import Any

from . import csr as csrs

Obj = dict[str, Any]


def prepare_create(obj: Obj, user: Any) -> None:
    """PrepareForCreate: the requester's identity from the request's user (an auth.users.UserInfo, or None when
    the sandbox itself writes), an empty status."""
    spec = obj.setdefault("spec", {})
    for key in ("username", "uid", "groups", "extra"):
        spec.pop(key, None)
    if user is not None:
        spec["username"] = user.name
        if user.uid:
            spec["uid"] = user.uid
        if user.groups:
            spec["groups"] = list(user.groups)
        if user.extra:
            spec["extra"] = {k: list(v) for k, v in user.extra}
    obj["status"] = {}


def populate_condition_timestamps(obj: Obj, old: Obj, now: str) -> None:
    for c in csrs.conditions(obj):
        if not c.get("lastUpdateTime"):
            c["lastUpdateTime"] = now
        if not c.get("lastTransitionTime"):
            c["lastTransitionTime"] = next(
                (o["lastTransitionTime"] for o in csrs.conditions(old) if o.get("type") == c.get("type")
                 and o.get("status") == c.get("status") and o.get("lastTransitionTime")), now)


def _preserve_instances(obj: Obj, old: Obj, ctype: str) -> None:
    """preserveConditionInstances: the same number of ``ctype`` conditions keeps the old ones."""
    new_at = [i for i, c in enumerate(csrs.conditions(obj)) if c.get("type") == ctype]
    old_of = [c for c in csrs.conditions(old) if c.get("type") == ctype]
    if len(new_at) != len(old_of):
        return
    for i, kept in zip(new_at, old_of, strict=True):
        obj["status"]["conditions"][i] = copy.deepcopy(kept)


def _set_conditions(status: Obj, conditions: list[Obj]) -> None:
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def prepare_update(obj: Obj, old: Obj, subresource: str, now: str) -> None:
    """PrepareForUpdate of the main resource, ``/status`` or ``/approval`` (in place)."""
    obj["spec"] = copy.deepcopy(old.get("spec") or {})
    if subresource == "":
        obj["status"] = copy.deepcopy(old.get("status") or {})
    elif subresource == "status":
        if not isinstance(obj.get("status"), dict):
            obj["status"] = {}
        _preserve_instances(obj, old, csrs.APPROVED)
        _preserve_instances(obj, old, csrs.DENIED)
        populate_condition_timestamps(obj, old, now)
    elif subresource == "approval":
        populate_condition_timestamps(obj, old, now)
        status = copy.deepcopy(old.get("status") or {})
        _set_conditions(status, csrs.conditions(obj))
        obj["status"] = status
