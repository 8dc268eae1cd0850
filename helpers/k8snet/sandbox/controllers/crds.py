"""The CRD controller: what is left for apiextensions' controllers after the request path did its part.

A CRD's names and conditions are set, and its instances deleted, within the
request that wrote it (crds.py). Two things wait for other objects, as upstream's
controllers wait for them:

* a Terminating CRD whose instances are held by their own finalizers is finished
  once they are gone (pkg/controller/finalizer/crd_finalizer.go polls the same way);
* a deleted CRD frees its names: the other CRDs of its group are looked at again
  (pkg/controller/status/naming_controller.go requeueAllOtherGroupCRDs), so one
  that conflicted with it becomes NamesAccepted and Established.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..crds import CLEANUP_FINALIZER, CRD_RESOURCE
from ..store import Event
from . import Controller, Key

if TYPE_CHECKING:
    from ..instance import Sandbox

RETRY_SECONDS = 1.0
"""How often a Terminating CRD looks at its remaining instances."""


def reconcile(sb: Sandbox, key: Key) -> float | None:
    crd = sb.store.get(CRD_RESOURCE, "", key[1])
    if crd is None:
        return None
    meta = crd["metadata"]
    if meta.get("deletionTimestamp"):
        if CLEANUP_FINALIZER in (meta.get("finalizers") or []) and not sb.crds.finalize(sb.api, key[1]):
            return RETRY_SECONDS
        return None
    sb.crds.accept_names(sb.api, crd)
    return None


def keys(sb: Sandbox, event: Event) -> Iterable[Key]:
    """The CRD itself; when one is deleted, every other CRD of its group (its names are free now)."""
    name = event.obj["metadata"]["name"]
    if event.type != "DELETED":
        return [("", name)]
    group = (event.obj.get("spec") or {}).get("group")
    return [("", c["metadata"]["name"]) for c in sb.store.list(CRD_RESOURCE)
            if (c.get("spec") or {}).get("group") == group]


def controller(sb: Sandbox) -> Controller:
    return Controller("customresourcedefinitions", reconcile, {CRD_RESOURCE: keys})
