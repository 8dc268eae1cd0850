"""ControllerRevisions: the template history DaemonSets and StatefulSets keep (pkg/controller/history).

A revision stores a strategic merge patch that puts a template back
(``{"spec": {"template": {..., "$patch": "replace"}}}``, the controllers'
``getPatch``), a revision number, and the owner's controller reference;
``kubectl rollout history`` lists them by the owner's selector and
``kubectl rollout undo`` applies one's data as a patch.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from .deployments import SAFE_ALPHABET
from .replicasets import controlled_by, owner_ref

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
MANAGER = "kube-controller-manager"
RESOURCE = "controllerrevisions.apps"


def template_patch(owner: Obj) -> Obj:
    """getPatch: the owner's template, to be put back whole (``$patch: replace``)."""
    template = copy.deepcopy(owner["spec"]["template"])
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def go_json(value: Any) -> bytes:
    """The bytes json.Marshal writes for a value decoded into map[string]interface{}: compact, keys sorted."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fnv32(data: bytes) -> int:
    """hash/fnv New32 (FNV-1: multiply, then xor)."""
    h = 0x811C9DC5
    for b in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ b
    return h


def safe_encode(text: str) -> str:
    """k8s.io/apimachinery rand.SafeEncodeString: every byte mapped into an alphabet without vowels."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def revision_hash(data: Obj, collision_count: int) -> str:
    """history.HashControllerRevision: FNV-1 of the revision's data and the collision count, safe-encoded."""
    return safe_encode(str(fnv32(go_json(data) + str(collision_count).encode())))


def controlled(sb: Sandbox, owner: Obj) -> list[Obj]:
    """The ControllerRevisions ``owner`` controls, oldest revision first."""
    revisions = [r for r in sb.store.owned_by(RESOURCE, owner["metadata"]["uid"]) if controlled_by(r, owner)]
    return sorted(revisions, key=lambda r: (r.get("revision", 0), r["metadata"]["name"]))


def create(sb: Sandbox, owner: Obj, name: str, labels: dict[str, str], data: Obj, revision: int,
           annotations: dict[str, str] | None = None) -> Obj:
    rt = sb.registry.lookup("apps", "v1", "controllerrevisions")
    meta: Obj = {"name": name, "labels": labels, "ownerReferences": [owner_ref(owner)]}
    if annotations:
        meta["annotations"] = annotations
    return sb.api.create(rt, owner["metadata"]["namespace"], {"metadata": meta, "data": data, "revision": revision},
                         WriteOptions(field_manager=MANAGER))


def renumber(sb: Sandbox, revision: Obj, number: int) -> Obj:
    """Give an existing revision a new number (a rollback to it makes it the newest again)."""
    rt = sb.registry.lookup("apps", "v1", "controllerrevisions")
    new = copy.deepcopy(revision)
    new["revision"] = number
    return sb.api.update(rt, new["metadata"]["namespace"], new["metadata"]["name"], new,
                         WriteOptions(field_manager=MANAGER))


def delete_oldest(sb: Sandbox, revisions: list[Obj], count: int) -> None:
    """Delete the first ``count`` of ``revisions`` (oldest first): a history beyond its revisionHistoryLimit."""
    rt = sb.registry.lookup("apps", "v1", "controllerrevisions")
    for revision in revisions[:max(count, 0)]:
        sb.api.delete(rt, revision["metadata"]["namespace"], revision["metadata"]["name"], DeleteOptions())
