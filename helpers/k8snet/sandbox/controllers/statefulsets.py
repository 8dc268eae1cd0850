"""The StatefulSet controller (pkg/controller/statefulset): pods with a stable name, DNS name and order.

A sync follows ``updateStatefulSet`` in stateful_set_control.go. The template's
ControllerRevision is the update revision (``history.NewControllerRevision``:
named ``<set>-<hash of its data>``, labelled ``controller.kubernetes.io/hash``);
the status's current revision is the one the pods ran before. Pod ``<set>-<i>``
(ordinals from ``spec.ordinals.start``, 0 by default) gets the labels
``statefulset.kubernetes.io/pod-name`` and ``apps.kubernetes.io/pod-index``,
``hostname`` = its name and ``subdomain`` = ``spec.serviceName`` (initIdentity),
so a headless Service of that name gives it the DNS name
``<pod>.<service>.<namespace>.svc.cluster.local``.

``OrderedReady`` (the default) creates one pod at a time, in ordinal order, each
only when the ones before it are Running and Ready, and removes from the highest
ordinal down, one at a time; ``Parallel`` creates and removes all at once. A
``RollingUpdate`` replaces pods from the highest ordinal down to the partition,
one at a time, each after the previous one is Running and Ready again;
``OnDelete`` replaces only pods that are deleted.

Not emulated: PersistentVolumeClaims. A ``volumeClaimTemplates`` entry is kept as
written and its volume is added to each pod (``updateStorage``), but no claim is
created: a Warning event on the StatefulSet names the claims, and the kubelet
mounts an empty, writable directory in their place (a FailedMount Warning says
so), which does not outlive the pod.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from ..errors import ApiError
from . import Controller, Key, history, owner_key, same_key
from .events import record
from .replicasets import controlled_by, is_available, is_ready, owner_ref

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
MANAGER = "kube-controller-manager"
COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"  # apps.StatefulSetRevisionLabel: the pod's revision name
HASH_LABEL = "controller.kubernetes.io/hash"  # history.ControllerRevisionHashLabel
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(set_name: str, pod: Obj) -> int:
    """getOrdinal: the number after the set's name, -1 when the name is not ``<set>-<n>``."""
    m = re.fullmatch(re.escape(set_name) + r"-(\d+)", pod["metadata"]["name"])
    return int(m.group(1)) if m else -1


def revision_of(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(REVISION_LABEL, "")


def terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_ready(pod)


def healthy(pod: Obj) -> bool:
    return running_and_ready(pod) and not terminating(pod)


def claim_name(claim: Obj, set_name: str, number: int) -> str:
    """getPersistentVolumeClaimName: ``<claim>-<set>-<ordinal>``."""
    return f"{claim['metadata']['name']}-{set_name}-{number}"


class StatefulSync:
    """One sync of a StatefulSet: its revisions and pods as the store holds them now."""

    def __init__(self, sb: Sandbox, sts: Obj):
        self.sb, self.sts = sb, sts
        self.ns, self.name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        self.spec = sts["spec"]
        self.pod_rt = sb.registry.lookup("", "v1", "pods")
        self.start = (self.spec.get("ordinals") or {}).get("start", 0)
        self.replicas = self.spec.get("replicas", 1)
        self.monotonic = self.spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        self.collisions = (sts.get("status") or {}).get("collisionCount", 0)

    def pods(self) -> list[Obj]:
        return [p for p in self.sb.store.owned_by("pods", self.sts["metadata"]["uid"]) if controlled_by(p, self.sts)]

    # -- revisions (getStatefulSetRevisions, truncateHistory) --------------------------------------

    def revisions(self) -> tuple[Obj, Obj, list[Obj]]:
        """(current, update, every revision): the update revision is the template's, created or renumbered."""
        revisions = history.controlled(self.sb, self.sts)
        data = history.template_patch(self.sts)
        number = max([r.get("revision", 0) for r in revisions] + [0]) + 1
        equal = [r for r in revisions if r.get("data") == data]
        if equal and revisions and equal[-1] is revisions[-1]:
            update = revisions[-1]
        elif equal:
            update = history.renumber(self.sb, equal[-1], number)
        else:
            hash_ = history.revision_hash(data, self.collisions)
            labels = {**((self.spec["template"].get("metadata") or {}).get("labels") or {}), HASH_LABEL: hash_}
            update = history.create(self.sb, self.sts, f"{self.name}-{hash_}", labels, data, number)
        revisions = history.controlled(self.sb, self.sts)
        current_name = (self.sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), update)
        return current, update, revisions

    def truncate(self, revisions: list[Obj], current: Obj, update: Obj) -> None:
        live = {current["metadata"]["name"], update["metadata"]["name"]} | {revision_of(p) for p in self.pods()}
        old = [r for r in revisions if r["metadata"]["name"] not in live]
        history.delete_oldest(self.sb, old, len(old) - self.spec.get("revisionHistoryLimit", 10))

    # -- pods (newVersionedStatefulSetPod, newStatefulSetPod, initIdentity, updateStorage) ------------

    def new_pod(self, number: int, current: Obj, update: Obj) -> Obj:
        """The pod for ``number``, at the current revision below the partition, else at the update revision."""
        strategy = self.spec.get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate")
        index = number - self.start
        below = strategy.get("type") == "RollingUpdate" and (
            rolling is not None and index < rolling.get("partition", 0) or
            rolling is None and index < (self.sts.get("status") or {}).get("currentReplicas", 0))
        revision = current if below else update
        template = copy.deepcopy(revision["data"]["spec"]["template"])
        template.pop("$patch", None)
        name = f"{self.name}-{number}"
        meta = {k: v for k, v in (template.get("metadata") or {}).items() if k != "creationTimestamp"}
        meta["labels"] = {**(meta.get("labels") or {}), POD_NAME_LABEL: name, POD_INDEX_LABEL: str(number),
                          REVISION_LABEL: revision["metadata"]["name"]}
        meta.update(name=name, ownerReferences=[owner_ref(self.sts)])
        spec = template.get("spec") or {}
        spec["hostname"] = name
        if self.spec.get("serviceName"):
            spec["subdomain"] = self.spec["serviceName"]
        claims = {c["metadata"]["name"]: c for c in self.spec.get("volumeClaimTemplates") or []}
        if claims:
            volumes = [{"name": n, "persistentVolumeClaim": {"claimName": claim_name(c, self.name, number)}}
                       for n, c in sorted(claims.items())]
            spec["volumes"] = volumes + [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
        return {"metadata": meta, "spec": spec}

    def create(self, pod: Obj) -> bool:
        name = pod["metadata"]["name"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes") or []
                  if "persistentVolumeClaim" in v and any(
                      v["name"] == c["metadata"]["name"] for c in self.spec.get("volumeClaimTemplates") or [])]
        if claims:
            record(self.sb, self.sts, "ClaimsNotEmulated",
                   f"The k8snet sandbox does not emulate PersistentVolumeClaims: claim(s) {', '.join(claims)} of Pod "
                   f"{name} are not created; the pod mounts an empty directory in their place, which does not "
                   "outlive the pod", COMPONENT, "Warning")
        try:
            self.sb.api.create(self.pod_rt, self.ns, pod, WriteOptions(field_manager=MANAGER))
        except ApiError as exc:
            record(self.sb, self.sts, "FailedCreate", f"create Pod {name} in StatefulSet {self.name} failed error: "
                   f"{exc.message}", COMPONENT, "Warning")
            return False
        record(self.sb, self.sts, "SuccessfulCreate", f"create Pod {name} in StatefulSet {self.name} successful",
               COMPONENT)
        return True

    def delete(self, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            self.sb.api.delete(self.pod_rt, self.ns, name, DeleteOptions())
        except ApiError as exc:
            if exc.code != 404:
                raise
            return
        record(self.sb, self.sts, "SuccessfulDelete", f"delete Pod {name} in StatefulSet {self.name} successful",
               COMPONENT)

    # -- the update (updateStatefulSet) ------------------------------------------------------------

    def update(self, current: Obj, update: Obj) -> None:
        """Create, replace and remove pods, stopping where OrderedReady has to wait."""
        if self.sts["metadata"].get("deletionTimestamp"):
            return
        wanted = range(self.start, self.start + self.replicas)
        replicas: dict[int, Obj] = {}
        condemned = []
        for pod in self.pods():
            number = ordinal(self.name, pod)
            if number in wanted:
                replicas[number] = pod
            elif number >= 0:
                condemned.append(pod)
        condemned.sort(key=lambda p: ordinal(self.name, p))
        unhealthy = [p for n, p in sorted(replicas.items()) if not healthy(p)] + [p for p in condemned if not healthy(p)]
        first_unhealthy = min(unhealthy, key=lambda p: ordinal(self.name, p), default=None)
        for number in wanted:
            pod = replicas.get(number)
            if pod is not None and (pod.get("status") or {}).get("phase") == "Failed" and not terminating(pod):
                record(self.sb, self.sts, "RecreatingFailedPod", f"StatefulSet {self.ns}/{self.name} is recreating "
                       f"failed Pod {pod['metadata']['name']}", COMPONENT, "Warning")
                self.delete(pod)  # a failed pod goes at once (no grace period), so its successor can be made
                pod = None
            if pod is None:
                self.create(self.new_pod(number, current, update))
                if self.monotonic:
                    return
                continue
            if self.monotonic and (terminating(pod) or not self.running_and_available(pod)):
                return  # "waiting for Pod … to be Running and Ready"
        for pod in reversed(condemned):  # scale down, highest ordinal first
            if terminating(pod):
                if self.monotonic:
                    return
                continue
            if self.monotonic and not running_and_ready(pod) and pod is not first_unhealthy:
                return
            self.delete(pod)
            if self.monotonic:
                return
        strategy = self.spec.get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        for number in reversed(wanted):
            if number - self.start < partition:
                break
            pod = replicas[number]
            if revision_of(pod) != update["metadata"]["name"] and not terminating(pod):
                self.delete(pod)
                return
            if not healthy(pod):
                return  # "waiting for Pod … to update"

    def running_and_available(self, pod: Obj) -> bool:
        """isRunningAndAvailable: Running, Ready for minReadySeconds."""
        return running_and_ready(pod) and is_available(pod, self.spec.get("minReadySeconds", 0), self.sb.clock.now())

    # -- status (updateStatus, completeRollingUpdate) ----------------------------------------------

    def write_status(self, current: Obj, update: Obj) -> float | None:
        fresh = self.sb.store.get("statefulsets.apps", self.ns, self.name)
        if fresh is None:
            return None
        min_ready, now = self.spec.get("minReadySeconds", 0), self.sb.clock.now()
        pods = self.pods()
        live = [p for p in pods if not terminating(p) and (p.get("status") or {}).get("phase")]
        status: Obj = {
            "observedGeneration": fresh["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": sum(running_and_ready(p) for p in pods),
            "availableReplicas": sum(running_and_ready(p) and is_available(p, min_ready, now) for p in pods),
            "currentReplicas": sum(revision_of(p) == current["metadata"]["name"] for p in live),
            "updatedReplicas": sum(revision_of(p) == update["metadata"]["name"] for p in live),
            "currentRevision": current["metadata"]["name"], "updateRevision": update["metadata"]["name"],
            "collisionCount": self.collisions,
        }
        if (self.spec.get("updateStrategy") or {}).get("type") == "RollingUpdate" and \
                status["updatedReplicas"] == status["replicas"] == status["readyReplicas"]:  # completeRollingUpdate
            status["currentRevision"], status["currentReplicas"] = status["updateRevision"], status["updatedReplicas"]
        if (fresh.get("status") or {}).get("conditions"):
            status["conditions"] = fresh["status"]["conditions"]
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas", "collisionCount")}
        if status != fresh.get("status"):
            new = copy.deepcopy(fresh)
            new["status"] = status
            rt = self.sb.registry.lookup("apps", "v1", "statefulsets")
            self.sb.api.update(rt, self.ns, self.name, new, WriteOptions(field_manager=MANAGER), "status")
        ready, available = status.get("readyReplicas", 0), status["availableReplicas"]
        return float(min_ready) if min_ready > 0 and ready != available else None


def reconcile_statefulset(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    sts = sb.store.get("statefulsets.apps", ns, name)
    if sts is None:
        return None
    sync = StatefulSync(sb, sts)
    current, update, revisions = sync.revisions()
    sync.update(current, update)
    again = sync.write_status(current, update)
    sync.truncate(revisions, current, update)
    return again


def controller(sb: Sandbox) -> Controller:
    return Controller("statefulset", reconcile_statefulset,
                      {"statefulsets.apps": same_key, "pods": owner_key("StatefulSet"),
                       "controllerrevisions.apps": owner_key("StatefulSet")})
