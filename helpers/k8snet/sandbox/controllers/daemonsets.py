"""The DaemonSet controller (pkg/controller/daemon): one pod on every node the DaemonSet may run on.

A sync follows ``syncDaemonSet``: find or snapshot the template's
ControllerRevision (its hash labels the pods ``controller-revision-hash``),
``manage`` (create a pod on each eligible node that has none, delete pods on
nodes that may no longer run one, failed pods and extras), then the update
strategy (``RollingUpdate``: replace old pods within ``maxUnavailable``, or
surge within ``maxSurge``; ``OnDelete``: only a deleted pod comes back new),
trim the history, and write the status ``kubectl rollout status ds/…`` reads.

Eligibility is ``NodeShouldRunDaemonPod``: the template's nodeName, nodeSelector
and required node affinity, and the node's NoSchedule/NoExecute taints against
the template's tolerations plus the ones every daemon pod gets
(``AddOrUpdateDaemonPodTolerations``). So a DaemonSet that does not tolerate
``node-role.kubernetes.io/control-plane:NoSchedule`` runs on the two workers
only, as on kind. Each pod is pinned to its node by a required node affinity
on ``metadata.name`` and placed by the scheduler (``ReplaceDaemonSetPodNodeNameNodeAffinity``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..apiserver import DeleteOptions, WriteOptions
from ..errors import ApiError
from ..selectors import fits_node_affinity
from ..store import Event
from ..strategies import TEMPLATE_GENERATION
from . import Controller, Key, history, owner_key, same_key
from .deployments import resolve, template_hash
from .events import record
from .pods import tolerates
from .replicasets import controlled_by, is_available, is_ready, owner_ref

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
MANAGER = "kube-controller-manager"
COMPONENT = "daemonset-controller"
HASH_LABEL = "controller-revision-hash"  # apps.DefaultDaemonSetUniqueLabelKey
GENERATION_LABEL = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey

DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
"""util.AddOrUpdateDaemonPodTolerations: daemon pods survive node problems and run on cordoned nodes (a
hostNetwork pod also tolerates ``node.kubernetes.io/network-unavailable``)."""


def add_daemon_tolerations(spec: Obj) -> None:
    """Add each daemon toleration the spec lacks (v1helper.AddOrUpdateTolerationInPodSpec: a toleration with
    the same key, operator, value and effect is replaced, any other kept)."""
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    tolerations = list(spec.get("tolerations") or [])
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(tolerations) if (t.get("key", ""), t.get("operator") or "Equal",
                                                         t.get("value", ""), t.get("effect", "")) ==
                (key, "Exists", "", effect)]
        if same:
            tolerations[same[0]] = toleration
        else:
            tolerations.append(toleration)
    spec["tolerations"] = tolerations


def daemon_pod_spec(ds: Obj) -> Obj:
    """util.NewPod: the template's spec with the daemon tolerations, as eligibility is judged on it."""
    spec = copy.deepcopy(ds["spec"]["template"].get("spec") or {})
    add_daemon_tolerations(spec)
    return spec


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run a pod there, may keep one running there)."""
    spec = daemon_pod_spec(ds)
    name = node["metadata"]["name"]
    if spec.get("nodeName") not in (None, "", name) or not fits_node_affinity(spec, node):
        return False, False
    probe = {"spec": spec}
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if not tolerates(probe, t)]
    if any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints):
        return False, not any(t.get("effect") == "NoExecute" for t in taints)
    return True, True


def target_node(pod: Obj) -> str:
    """util.GetTargetNodeName: the node a daemon pod is bound to, or the one its node affinity names."""
    if pod["spec"].get("nodeName"):
        return pod["spec"]["nodeName"]
    required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and \
                    len(field.get("values") or []) == 1:
                return field["values"][0]
    return ""


def pin_to_node(spec: Obj, node: str) -> None:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes exactly this node."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}


def template_generation(ds: Obj) -> str:
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION, "")


def is_updated(pod: Obj, hash_: str, generation: str) -> bool:
    """util.IsPodUpdated: the pod carries the current revision's hash (or the current template generation)."""
    labels = pod["metadata"].get("labels") or {}
    return bool(hash_) and labels.get(HASH_LABEL) == hash_ or bool(generation) and \
        labels.get(GENERATION_LABEL) == generation


def creation_order(pod: Obj) -> tuple:
    """podByCreationTimestampAndPhase: scheduled pods first, then the oldest, then by name."""
    return (not pod["spec"].get("nodeName"), pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"])


class DaemonSync:
    """One sync of a DaemonSet: its nodes, pods and history as the store holds them now."""

    def __init__(self, sb: Sandbox, ds: Obj):
        self.sb, self.ds = sb, ds
        self.ns, self.name = ds["metadata"]["namespace"], ds["metadata"]["name"]
        self.pod_rt = sb.registry.lookup("", "v1", "pods")
        self.nodes = sorted(sb.store.list("nodes"), key=lambda n: n["metadata"]["name"])
        self.hash = ""
        self.generation = template_generation(ds)

    def pods_by_node(self, include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: the DaemonSet's pods by target node (a terminal pod being deleted is done)."""
        out: dict[str, list[Obj]] = {}
        for pod in self.sb.store.owned_by("pods", self.ds["metadata"]["uid"]):
            if not controlled_by(pod, self.ds):
                continue
            terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
            if terminal and pod["metadata"].get("deletionTimestamp") and not include_deleted_terminal:
                continue
            out.setdefault(target_node(pod), []).append(pod)
        return out

    # -- history (update.go constructHistory, snapshot, cleanupHistory) ------------------------------

    def construct_history(self) -> tuple[Obj, list[Obj]]:
        data = history.template_patch(self.ds)
        revisions = history.controlled(self.sb, self.ds)
        current = [r for r in revisions if r.get("data") == data]
        old = [r for r in revisions if r.get("data") != data]
        number = max([r.get("revision", 0) for r in old] + [0]) + 1
        if not current:
            collision = (self.ds.get("status") or {}).get("collisionCount", 0)
            hash_ = template_hash(self.ds["spec"]["template"], collision)
            labels = {**((self.ds["spec"]["template"].get("metadata") or {}).get("labels") or {}), HASH_LABEL: hash_}
            annotations = {k: v for k, v in (self.ds["metadata"].get("annotations") or {}).items()}
            cur = history.create(self.sb, self.ds, f"{self.name}-{hash_}", labels, data, number, annotations)
        else:
            cur = current[-1]
            for duplicate in current[:-1]:  # dedupCurHistories keeps the highest revision
                old.append(duplicate)
            if cur.get("revision", 0) < number:
                cur = history.renumber(self.sb, cur, number)
        return cur, old

    def cleanup_history(self, old: list[Obj]) -> None:
        """Keep revisionHistoryLimit old revisions, and every one a pod still runs."""
        live = {(p["metadata"].get("labels") or {}).get(HASH_LABEL) for pods in
                self.pods_by_node(include_deleted_terminal=True).values() for p in pods}
        dead = [r for r in sorted(old, key=lambda r: r.get("revision", 0))
                if (r["metadata"].get("labels") or {}).get(HASH_LABEL) not in live]
        history.delete_oldest(self.sb, dead, len(old) - self.ds["spec"].get("revisionHistoryLimit", 10))

    # -- manage (daemon_controller.go podsShouldBeOnNode, syncNodes) -------------------------------

    def manage(self) -> None:
        by_node = self.pods_by_node()
        create: list[str] = []
        delete: list[Obj] = []
        names = {n["metadata"]["name"] for n in self.nodes}
        for node in self.nodes:
            node_name = node["metadata"]["name"]
            run, keep = should_run(self.ds, node)
            pods = by_node.get(node_name, [])
            if run and not pods:
                create.append(node_name)
            elif keep:
                running = []
                for pod in pods:
                    if pod["metadata"].get("deletionTimestamp"):
                        continue
                    if (pod.get("status") or {}).get("phase") == "Failed":
                        record(self.sb, self.ds, "FailedDaemonPod", f"Found failed daemon pod {self.ns}/"
                               f"{pod['metadata']['name']} on node {node_name}, will try to kill it", COMPONENT,
                               "Warning")
                        delete.append(pod)
                    else:
                        running.append(pod)
                delete += self.excess(sorted(running, key=creation_order))
            elif pods:
                delete += pods
        # getUnscheduledPodsWithoutNode: pods meant for a node that no longer exists never get scheduled
        for node_name, pods in by_node.items():
            if node_name not in names:
                delete += [p for p in pods if not p["spec"].get("nodeName")]
        self.sync_nodes(delete, create)

    def excess(self, running: list[Obj]) -> list[Obj]:
        """The node's pods (oldest first) beyond the one it keeps: the oldest, or while surging the oldest old and
        the oldest new pod, until the new one is available (or the old one is not ready)."""
        if not self.allows_surge():
            return running[1:]
        new = next((p for p in running if (p["metadata"].get("labels") or {}).get(HASH_LABEL) == self.hash), None)
        old = next((p for p in running if (p["metadata"].get("labels") or {}).get(HASH_LABEL) != self.hash), None)
        out = [p for p in running if p is not new and p is not old]
        if new is not None and old is not None and (not is_ready(old) or is_available(
                new, self.ds["spec"].get("minReadySeconds", 0), self.sb.clock.now())):
            out.append(old)
        return out

    def allows_surge(self) -> bool:
        """util.AllowsSurge: a RollingUpdate whose maxSurge comes to more than zero."""
        strategy = self.ds["spec"].get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return False
        return resolve((strategy.get("rollingUpdate") or {}).get("maxSurge", 0), 1, True) != 0

    def sync_nodes(self, delete: list[Obj], create: list[str]) -> None:
        template = copy.deepcopy(self.ds["spec"]["template"])
        meta = template.get("metadata") or {}
        meta.pop("creationTimestamp", None)
        labels = meta.get("labels") or {}
        if self.generation:
            labels[GENERATION_LABEL] = self.generation
        labels[HASH_LABEL] = self.hash
        meta["labels"] = labels
        for node_name in create:
            spec = daemon_pod_spec(self.ds)
            pin_to_node(spec, node_name)
            pod = {"metadata": {**copy.deepcopy(meta), "generateName": f"{self.name}-",
                                "ownerReferences": [owner_ref(self.ds)]}, "spec": spec}
            pod["metadata"].pop("name", None)
            try:
                created = self.sb.api.create(self.pod_rt, self.ns, pod, WriteOptions(field_manager=MANAGER))
            except ApiError as exc:
                record(self.sb, self.ds, "FailedCreate", f"Error creating: {exc.message}", COMPONENT, "Warning")
                continue
            record(self.sb, self.ds, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", COMPONENT)
        for pod in delete:
            try:
                self.sb.api.delete(self.pod_rt, self.ns, pod["metadata"]["name"], DeleteOptions())
            except ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            record(self.sb, self.ds, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", COMPONENT)

    # -- rolling update (update.go rollingUpdate) --------------------------------------------------

    def rolling_update(self) -> None:
        by_node = self.pods_by_node()
        desired = [n for n in self.nodes if should_run(self.ds, n)[0]]
        for node in desired:
            by_node.setdefault(node["metadata"]["name"], [])
        rolling = (self.ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge", 0), len(desired), True)
        unavailable = resolve(rolling.get("maxUnavailable", 1), len(desired), True)
        if desired and surge == 0 and unavailable == 0:
            unavailable = 1
        min_ready, now = self.ds["spec"].get("minReadySeconds", 0), self.sb.clock.now()

        def available(pod: Obj) -> bool:
            return is_available(pod, min_ready, now)

        nodes = {n["metadata"]["name"]: n for n in self.nodes}
        if surge == 0:
            unavailable_now, replace, candidates = 0, [], []
            for node_name in sorted(by_node):
                found = self.split_pods(by_node[node_name])
                if found is None:
                    unavailable_now += 1
                    continue
                new, old = found
                if (new is None) == (old is None):
                    unavailable_now += 1
                elif new is not None:
                    unavailable_now += not available(new)
                elif not available(old):
                    replace.append(old)
                    unavailable_now += 1
                elif unavailable_now < unavailable:
                    candidates.append(old)
            room = min(max(unavailable - unavailable_now, 0), len(candidates))
            self.sync_nodes(replace + candidates[:room], [])
            return
        delete, not_run, candidate_nodes, allowed_nodes, surging, available_count = [], [], [], [], 0, 0
        for node_name in sorted(by_node):
            found = self.split_pods(by_node[node_name])
            if found is None:
                surging += 1
                continue
            new, old = found
            if old is not None:
                available_count += available(old)
            elif new is not None:
                available_count += available(new)
            if old is None:
                continue
            if new is None:  # a surge candidate
                runs = node_name in nodes and should_run(self.ds, nodes[node_name])[0]
                if not available(old) and runs:
                    allowed_nodes.append(node_name)
                elif not available(old):
                    delete.append(old)
                elif not runs:
                    not_run.append(old)
                elif surging < surge:
                    candidate_nodes.append(node_name)
            elif not available(new):
                surging += 1
            else:
                delete.append(old)
        if (extra := available_count - len(desired)) > 0:
            delete += not_run[:extra]
        room = min(max(surge - surging, 0), len(candidate_nodes))
        self.sync_nodes(delete, allowed_nodes + candidate_nodes[:room])

    def split_pods(self, pods: list[Obj]) -> tuple[Obj | None, Obj | None] | None:
        """findUpdatedPodsOnNode: the node's (new, old) pod, or None when it has more than one of either."""
        new = old = None
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if is_updated(pod, self.hash, self.generation):
                if new is not None:
                    return None
                new = pod
            else:
                if old is not None:
                    return None
                old = pod
        return new, old

    # -- status (updateDaemonSetStatus) ------------------------------------------------------------

    def update_status(self) -> float | None:
        by_node = self.pods_by_node()
        desired = current = misscheduled = ready = updated = available = 0
        min_ready, now = self.ds["spec"].get("minReadySeconds", 0), self.sb.clock.now()
        for node in self.nodes:
            pods = by_node.get(node["metadata"]["name"], [])
            if not should_run(self.ds, node)[0]:
                misscheduled += bool(pods)
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            pod = sorted(pods, key=creation_order)[0]
            if is_ready(pod):
                ready += 1
                available += is_available(pod, min_ready, now)
            updated += is_updated(pod, self.hash, self.generation)
        fresh = self.sb.store.get("daemonsets.apps", self.ns, self.name)
        if fresh is None:
            return None
        status = {k: v for k, v in (fresh.get("status") or {}).items() if k in ("collisionCount", "conditions")}
        status.update({"currentNumberScheduled": current, "desiredNumberScheduled": desired,
                       "numberMisscheduled": misscheduled, "numberReady": ready,
                       "observedGeneration": fresh["metadata"].get("generation", 1)})
        status.update({k: v for k, v in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                                         ("numberUnavailable", desired - available)) if v})
        if status != fresh.get("status"):
            new = copy.deepcopy(fresh)
            new["status"] = status
            rt = self.sb.registry.lookup("apps", "v1", "daemonsets")
            self.sb.api.update(rt, self.ns, self.name, new, WriteOptions(field_manager=MANAGER), "status")
        return float(min_ready) if min_ready > 0 and ready != available else None


def reconcile_daemonset(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    ds = sb.store.get("daemonsets.apps", ns, name)
    if ds is None or ds["metadata"].get("deletionTimestamp"):
        return None
    selector = ds["spec"].get("selector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        record(sb, ds, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.",
               COMPONENT, "Warning")
        return None
    sync = DaemonSync(sb, ds)
    current, old = sync.construct_history()
    sync.hash = (current["metadata"].get("labels") or {}).get(HASH_LABEL, "")
    sync.manage()
    if ((ds["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate":
        sync.rolling_update()
    sync.cleanup_history(old)
    return sync.update_status()


def every_daemonset(sb: Sandbox, event: Event) -> list[Key]:
    """A node came, went or changed (labels, taints): every DaemonSet looks at it again."""
    return [(ds["metadata"]["namespace"], ds["metadata"]["name"]) for ds in sb.store.list("daemonsets.apps")]


def controller(sb: Sandbox) -> Controller:
    return Controller("daemonset", reconcile_daemonset,
                      {"daemonsets.apps": same_key, "pods": owner_key("DaemonSet"),
                       "controllerrevisions.apps": owner_key("DaemonSet"), "nodes": every_daemonset})
