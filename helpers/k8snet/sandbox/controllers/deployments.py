"""The Deployment controller (pkg/controller/deployment): ReplicaSets per template, rolling updates.

Rolling update follows rolling.go: scale the new ReplicaSet up within
``maxSurge``, scale old ones down while keeping ``replicas - maxUnavailable``
available; Recreate scales old ReplicaSets to zero first. Revisions are the
``deployment.kubernetes.io/revision`` annotations that ``kubectl rollout
history|undo`` read.
"""

from __future__ import annotations

import copy
import json
import math
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..selectors import match_label_selector
from . import Controller, Key, owner_key, same_key
from .events import record
from .replicasets import controlled_by, owner_ref

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"
COMPONENT = "deployment-controller"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """controller.ComputeHash: fnv32a of the template (and collisionCount), safe-encoded.

    Upstream hashes Go's printed struct; we hash canonical JSON, so names look
    the same (``web-5d8f9c7b6``) without being byte-identical to a real cluster's.
    """
    data = json.dumps(template, sort_keys=True).encode()
    if collision_count:
        data += str(collision_count).encode()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in str(fnv32a(data)).encode())


def resolve(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def surge_and_unavailable(d: dict[str, Any]) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts."""
    strategy = d["spec"].get("strategy") or {}
    ru = strategy.get("rollingUpdate") or {}
    replicas = d["spec"].get("replicas", 1)
    surge = resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def strip_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class Rollout:
    """One reconcile pass over a Deployment and its ReplicaSets."""

    def __init__(self, sb: Sandbox, d: dict[str, Any]):
        self.sb = sb
        self.d = d
        self.ns = d["metadata"].get("namespace", "")
        self.rs_rt = sb.registry.lookup("apps", "v1", "replicasets")
        self.d_rt = sb.registry.lookup("apps", "v1", "deployments")
        self.all = [rs for rs in sb.store.owned_by("replicasets.apps", d["metadata"]["uid"]) if controlled_by(rs, d)]
        wanted = strip_hash(d["spec"]["template"])
        self.new = next((rs for rs in self.all if strip_hash(rs["spec"]["template"]) == wanted), None)
        self.old = [rs for rs in self.all if rs is not self.new]

    def write_rs(self, rs: dict[str, Any]) -> dict[str, Any]:
        return self.sb.api.update(self.rs_rt, self.ns, rs["metadata"]["name"], rs,
                                  WriteOptions(field_manager=MANAGER))

    def scale(self, rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        old = rs["spec"].get("replicas", 0)
        if old == replicas:
            return rs
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = replicas
        ann = new["metadata"].setdefault("annotations", {})
        surge, _ = surge_and_unavailable(self.d)
        ann[DESIRED] = str(self.d["spec"].get("replicas", 1))
        ann[MAX_REPLICAS] = str(self.d["spec"].get("replicas", 1) + surge)
        updated = self.write_rs(new)
        verb = "up" if replicas > old else "down"
        record(self.sb, self.d, "ScalingReplicaSet",
               f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {replicas}", COMPONENT)
        return updated

    def ensure_new(self) -> None:
        if self.new is not None:
            rev = str(max([revision(rs) for rs in self.old] + [0]) + 1) if revision(self.new) <= max(
                [revision(rs) for rs in self.old] + [0]) else None
            if rev:
                new = copy.deepcopy(self.new)
                new["metadata"].setdefault("annotations", {})[REVISION] = rev
                self.new = self.write_rs(new)
            return
        d = self.d
        template = copy.deepcopy(d["spec"]["template"])
        h = template_hash(template, (d.get("status") or {}).get("collisionCount", 0))
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        surge, _ = surge_and_unavailable(d)
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
               if k not in (REVISION, "kubectl.kubernetes.io/last-applied-configuration")}
        ann.update({DESIRED: str(d["spec"].get("replicas", 1)),
                    MAX_REPLICAS: str(d["spec"].get("replicas", 1) + surge),
                    REVISION: str(max([revision(rs) for rs in self.old] + [0]) + 1)})
        rs = {"metadata": {"name": f"{d['metadata']['name']}-{h}", "namespace": self.ns,
                           "labels": template["metadata"]["labels"], "annotations": ann,
                           "ownerReferences": [owner_ref(d)]},
              "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                       "selector": selector, "template": template}}
        self.new = self.sb.api.create(self.rs_rt, self.ns, rs, WriteOptions(field_manager=MANAGER))
        self.all.append(self.new)

    def rolling(self) -> None:
        d, new = self.d, self.new
        assert new is not None
        replicas = d["spec"].get("replicas", 1)
        surge, unavailable = surge_and_unavailable(d)
        current = sum(rs["spec"].get("replicas", 0) for rs in self.all)
        # Scale up the new ReplicaSet within maxSurge (rolling.go reconcileNewReplicaSet).
        if new["spec"].get("replicas", 0) < replicas:
            room = replicas + surge - current
            if room > 0:
                target = min(replicas, new["spec"].get("replicas", 0) + room)
                self.new = new = self.scale(new, target)
        elif new["spec"].get("replicas", 0) > replicas:
            self.new = new = self.scale(new, replicas)
        # Scale down old ReplicaSets while keeping replicas - maxUnavailable available (reconcileOldReplicaSets).
        all_rs = [new] + self.old
        total = sum(rs["spec"].get("replicas", 0) for rs in all_rs)
        min_available = replicas - unavailable
        new_unavailable = new["spec"].get("replicas", 0) - (new.get("status") or {}).get("availableReplicas", 0)
        budget = total - min_available - new_unavailable
        for rs in sorted(self.old, key=revision):
            if budget <= 0:
                break
            have = rs["spec"].get("replicas", 0)
            if have == 0:
                continue
            down = min(have, budget)
            self.scale(rs, have - down)
            budget -= down

    def recreate(self) -> None:
        assert self.new is not None
        for rs in self.old:
            if rs["spec"].get("replicas", 0):
                self.scale(rs, 0)
        still = [p for rs in self.old for p in self.sb.store.owned_by("pods", rs["metadata"]["uid"])]
        if not still:
            self.new = self.scale(self.new, self.d["spec"].get("replicas", 1))

    def cleanup(self) -> None:
        """Keep revisionHistoryLimit old ReplicaSets that are scaled to zero."""
        limit = self.d["spec"].get("revisionHistoryLimit", 10)
        idle = sorted([rs for rs in self.old if not rs["spec"].get("replicas") and
                       not (rs.get("status") or {}).get("replicas")], key=revision)
        from ..apiserver import DeleteOptions
        for rs in idle[:max(len(idle) - limit, 0)]:
            self.sb.api.delete(self.rs_rt, self.ns, rs["metadata"]["name"], DeleteOptions(propagation="Background"))

    def sync_status(self) -> None:
        d = self.sb.store.get("deployments.apps", self.ns, self.d["metadata"]["name"])
        if d is None:
            return
        rss = [rs for rs in self.sb.store.owned_by("replicasets.apps", d["metadata"]["uid"]) if controlled_by(rs, d)]
        new = next((rs for rs in rss if self.new and rs["metadata"]["name"] == self.new["metadata"]["name"]), None)
        st = lambda rs, k: (rs.get("status") or {}).get(k, 0)  # noqa: E731
        replicas = d["spec"].get("replicas", 1)
        _, unavailable = surge_and_unavailable(d)
        available = sum(st(rs, "availableReplicas") for rs in rss)
        total = sum(st(rs, "replicas") for rs in rss)
        updated = st(new, "replicas") if new else 0
        now = self.sb.api.now()
        old_status = d.get("status") or {}
        conditions = {c["type"]: c for c in old_status.get("conditions") or []}

        def cond(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
            prev = conditions.get(ctype)
            if prev and prev["status"] == status and prev["reason"] == reason and prev["message"] == message:
                return prev
            return {"type": ctype, "status": status, "lastUpdateTime": now,
                    "lastTransitionTime": prev["lastTransitionTime"] if prev and prev["status"] == status else now,
                    "reason": reason, "message": message}

        avail = cond("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.") \
            if available >= replicas - unavailable else \
            cond("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        name = new["metadata"]["name"] if new else ""
        complete = new is not None and updated == replicas and total == replicas and available >= replicas
        prog = cond("Progressing", "True", "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.') if complete else \
            cond("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')
        status: dict[str, Any] = {
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": total, "updatedReplicas": updated,
            "readyReplicas": sum(st(rs, "readyReplicas") for rs in rss),
            "availableReplicas": available, "unavailableReplicas": max(total - available, 0),
            "conditions": [avail, prog],
        }
        if "collisionCount" in old_status:
            status["collisionCount"] = old_status["collisionCount"]
        status = {k: v for k, v in status.items() if v or k in ("observedGeneration", "conditions")}
        if status != old_status:
            new_d = copy.deepcopy(d)
            new_d["status"] = status
            self.sb.api.update(self.d_rt, self.ns, d["metadata"]["name"], new_d, WriteOptions(field_manager=MANAGER),
                               "status")
        if new is not None and (new["metadata"].get("annotations") or {}).get(REVISION) != \
                (d["metadata"].get("annotations") or {}).get(REVISION):
            fresh = copy.deepcopy(self.sb.store.get("deployments.apps", self.ns, d["metadata"]["name"]))
            fresh["metadata"].setdefault("annotations", {})[REVISION] = new["metadata"]["annotations"][REVISION]
            self.sb.api.update(self.d_rt, self.ns, d["metadata"]["name"], fresh, WriteOptions(field_manager=MANAGER))


def reconcile_deployment(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    d = sb.store.get("deployments.apps", ns, name)
    if d is None or d["metadata"].get("deletionTimestamp"):
        return None
    if not match_label_selector(d["spec"].get("selector"), (d["spec"]["template"].get("metadata") or {})
                                .get("labels") or {}):
        return None
    r = Rollout(sb, d)
    if d["spec"].get("paused"):
        r.sync_status()
        return None
    r.ensure_new()
    if ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
        r.recreate()
    else:
        r.rolling()
    r.cleanup()
    r.sync_status()
    return None


def controller(sb: Sandbox) -> Controller:
    return Controller("deployment", reconcile_deployment,
                      {"deployments.apps": same_key, "replicasets.apps": owner_key("Deployment")})
