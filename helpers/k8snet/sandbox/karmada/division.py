"""Karmada's placement arithmetic, as pure functions: which clusters a placement selects and how many replicas
each gets, and the names Karmada derives for its objects.

Ported from github.com/karmada-io/karmada (master, 2026-08):

- cluster affinity: pkg/util/selector.go ``ClusterMatches`` (``exclude`` first, then ``labelSelector``,
  ``fieldSelector`` on provider/region/zone, then ``clusterNames``; every part that is set must match);
- Duplicated: pkg/scheduler/core/assignment.go ``assignByDuplicatedStrategy`` (every candidate gets all replicas);
- Divided + Weighted by static weights: ``assignByStaticWeightStrategy`` and division_algorithm.go
  ``getStaticWeightInfoList`` (a cluster's weight is the largest weight of the rules whose targetCluster it
  matches; a cluster no rule matches is left out; when no candidate has a weight, each gets weight 1; no
  weightPreference weighs every candidate 1), dividing with pkg/util/helper/binding.go ``Dispenser`` and
  pkg/util/helper/webstermethod.go ``AllocateWebsterSeats``: the Webster (Sainte-Laguë) method, one replica at a
  time to the cluster with the highest ``weight / (2 * replicas + 1)``; a tie goes to the cluster with fewer
  replicas, then by name, ascending or descending as the FNV-32a hash of the binding's resource UID is even or odd
  (``tieBreakerByUID``; no UID: ascending). So 3 replicas at 2:1 are 2 and 1, 12 at 3:2:1 are 6, 4 and 2, and
  13 are 7, 4, 2 (assignment_test.go Test_assignByStaticWeightStrategy);
- clusters given 0 replicas leave the result (core/util.go ``removeZeroReplicasCluster``); a resource without
  replicas (a Service) goes to every candidate with none (core/common.go ``AssignReplicas``);
- names: pkg/util/names/names.go ``GenerateBindingName`` (``<name>-<kind>``, lower case), ``GenerateWorkName``
  (``<name>-<SafeEncodeString(FNV-32a of "<namespace>-<name>-<kind>")>``) and ``GenerateExecutionSpaceName``
  (``karmada-es-<cluster>``).

What the sandbox does not emulate is refused by name (:class:`Unsupported`): dynamic weights and the Aggregated
preference (both need the replica estimator's view of member capacity), spread constraints, multiple cluster
affinity groups (``clusterAffinities``), overflow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..selectors import match_label_selector

Obj = Mapping[str, Any]

DUPLICATED, DIVIDED = "Duplicated", "Divided"
WEIGHTED, AGGREGATED = "Weighted", "Aggregated"
EXECUTION_SPACE_PREFIX = "karmada-es-"
"""names.ExecutionSpacePrefix: the namespace on the Karmada API server holding a member cluster's Works."""
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
"""k8s.io/apimachinery/pkg/util/rand's alphabet (no vowels, no 0, 1 or 3: no words, no look-alikes)."""
ZONE_FIELD, PROVIDER_FIELD, REGION_FIELD = "zone", "provider", "region"


class Unsupported(ValueError):
    """A placement asks for scheduling Karmada does but the sandbox does not emulate (the message names it)."""


@dataclass(frozen=True)
class Party:
    """One cluster in the Webster method: its name, weight (votes) and replicas (seats) so far."""

    name: str
    votes: int
    seats: int


def fnv32a(data: bytes) -> int:
    """hash/fnv's 32-bit FNV-1a."""
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped onto :data:`ALPHANUMS` by its code point."""
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in text)


def binding_name(kind: str, name: str) -> str:
    """names.GenerateBindingName: ``nginx`` Deployment → ``nginx-deployment``."""
    return f"{name.replace(':', '.')}-{kind}".lower()


def work_name(kind: str, name: str, namespace: str) -> str:
    """names.GenerateWorkName: the object's name and a hash of namespace, name and kind (the hash is of the
    plain string: pkg/util/hash.DeepHashObject prints it with kr/pretty's ``%v``)."""
    name = name.replace(":", ".").lower()
    full = f"{name}-{kind}".lower() if not namespace else f"{namespace}-{name}-{kind}".lower()
    return f"{name}-{safe_encode(str(fnv32a(full.encode())))}"


def execution_namespace(cluster: str) -> str:
    return EXECUTION_SPACE_PREFIX + cluster


def cluster_of(namespace: str) -> str | None:
    """names.GetClusterName: the member cluster of an execution namespace (None: not one)."""
    return namespace[len(EXECUTION_SPACE_PREFIX):] if namespace.startswith(EXECUTION_SPACE_PREFIX) else None


# -- cluster affinity -------------------------------------------------------------------------------------------

def _field_requirement(req: Obj, fields: Mapping[str, str], zones: list[str]) -> bool:
    """One requirement of a fieldSelector: ``zone`` against the cluster's zones (selector.go matchZones: In
    needs every zone of the cluster among the values, NotIn none of them), provider and region as a node
    selector requirement on the cluster's fields."""
    key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    if key == ZONE_FIELD:
        if op == "In":
            return bool(zones) and all(z in values for z in zones)
        if op == "NotIn":
            return not any(z in values for z in zones)
        if op == "Exists":
            return bool(zones)
        if op == "DoesNotExist":
            return not zones
        return False
    if op == "In":
        return key in fields and fields[key] in values
    if op == "NotIn":
        return key not in fields or fields[key] not in values
    if op == "Exists":
        return key in fields
    if op == "DoesNotExist":
        return key not in fields
    return False


def cluster_matches(cluster: Obj, affinity: Obj | None) -> bool:
    """util.ClusterMatches: whether a Cluster object fits a ClusterAffinity (None or empty: every cluster)."""
    affinity = affinity or {}
    meta, spec = cluster.get("metadata") or {}, cluster.get("spec") or {}
    name = meta.get("name", "")
    if name in (affinity.get("exclude") or []):
        return False
    if affinity.get("labelSelector") is not None and \
            not match_label_selector(affinity["labelSelector"], meta.get("labels") or {}):
        return False
    field_selector = affinity.get("fieldSelector")
    if field_selector is not None:
        fields = {k: spec[f] for k, f in ((PROVIDER_FIELD, "provider"), (REGION_FIELD, "region")) if spec.get(f)}
        zones = list(spec.get("zones") or [])
        if not all(_field_requirement(r, fields, zones) for r in field_selector.get("matchExpressions") or []):
            return False
    names = affinity.get("clusterNames") or []
    return not names or name in names


# -- the Webster method -----------------------------------------------------------------------------------------

TieBreaker = Callable[[Party, Party], bool]


def tie_breaker_by_uid(uid: str) -> TieBreaker:
    """tieBreakerByUID: fewer replicas first, then the name ascending, or descending when the FNV-32a of the UID
    is odd (so ties do not always favour the same cluster, yet repeat for the same object)."""
    descending = bool(uid) and fnv32a(uid.encode()) & 1 == 1

    def less(a: Party, b: Party) -> bool:
        if a.seats != b.seats:
            return a.seats < b.seats
        return a.name > b.name if descending else a.name < b.name
    return less


def _default_less(a: Party, b: Party) -> bool:
    if a.seats != b.seats:
        return a.seats < b.seats
    return a.name < b.name


def allocate_webster_seats(new_seats: int, votes: Mapping[str, int], initial: Mapping[str, int] | None = None,
                           tie_breaker: TieBreaker | None = None) -> list[Party]:
    """AllocateWebsterSeats: hand out ``new_seats`` one at a time to the party with the highest
    ``votes / (2 * seats + 1)`` (compared as float64, as Go does), ties to ``tie_breaker`` (default: fewer seats,
    then the smaller name). A party only in ``initial`` keeps its seats with no votes. Sorted by name."""
    parties = {n: Party(n, 0, s) for n, s in (initial or {}).items()}
    for n, v in votes.items():
        parties[n] = Party(n, v, parties[n].seats if n in parties else 0)
    if not parties:
        return []
    tie = tie_breaker or _default_less

    def less(a: Party, b: Party) -> bool:  # WebsterPriorityQueue.Less
        pa, pb = float(a.votes) / float(2 * a.seats + 1), float(b.votes) / float(2 * b.seats + 1)
        if pa == pb:
            return tie(a, b)
        return pa > pb

    order = functools.cmp_to_key(lambda a, b: -1 if less(a, b) else (1 if less(b, a) else 0))
    for _ in range(max(new_seats, 0)):
        top = min(parties.values(), key=order)
        parties[top.name] = Party(top.name, top.votes, top.seats + 1)
    return sorted(parties.values(), key=lambda p: p.name)


# -- replica assignment -----------------------------------------------------------------------------------------

def static_weights(candidates: Iterable[Obj], static_weight_list: list[Obj]) -> dict[str, int]:
    """getStaticWeightInfoList: each candidate's weight, the largest of the rules it matches; candidates no rule
    matches are left out, and when none has a weight every candidate weighs 1."""
    candidates = list(candidates)
    out: dict[str, int] = {}
    for cluster in candidates:
        weight = 0
        for rule in static_weight_list:
            if cluster_matches(cluster, rule.get("targetCluster")):
                weight = max(weight, int(rule.get("weight") or 0))
        if weight > 0:
            out[cluster["metadata"]["name"]] = weight
    if not out:
        out = {c["metadata"]["name"]: 1 for c in candidates}
    return out


def strategy(placement: Obj | None) -> str:
    """newAssignState's strategy: Duplicated (no replicaScheduling, or its type), StaticWeight, or the ones the
    sandbox refuses (DynamicWeight, Aggregated)."""
    rs = (placement or {}).get("replicaScheduling")
    if rs is None or rs.get("replicaSchedulingType", DIVIDED) == DUPLICATED:
        return "Duplicated"
    preference = rs.get("replicaDivisionPreference") or WEIGHTED  # the webhook's SetReplicaDivisionPreferenceWeighted
    if preference == AGGREGATED:
        return "Aggregated"
    if (rs.get("weightPreference") or {}).get("dynamicWeight"):
        return "DynamicWeight"
    return "StaticWeight"


def unsupported(placement: Obj | None) -> list[str]:
    """What a placement asks for that the sandbox's scheduler does not do (empty: it schedules it as Karmada)."""
    placement = placement or {}
    out = []
    kind = strategy(placement)
    if kind == "DynamicWeight":
        out.append("replicaScheduling.weightPreference.dynamicWeight (needs the scheduler-estimator's available "
                   "replicas of each member)")
    if kind == "Aggregated":
        out.append("replicaScheduling.replicaDivisionPreference Aggregated (needs the scheduler-estimator's "
                   "available replicas of each member)")
    if placement.get("spreadConstraints"):
        out.append("placement.spreadConstraints")
    if placement.get("clusterAffinities"):
        out.append("placement.clusterAffinities (ordered affinity groups)")
    return out


def assign(candidates: list[Obj], placement: Obj | None, replicas: int, uid: str = "") -> list[dict[str, Any]]:
    """The scheduler's ``spec.clusters`` for a binding: ``[{"name": ..., "replicas": ...}]`` in name order
    (replicas left out for a resource that has none).

    Raises:
        Unsupported: the placement needs what :func:`unsupported` names.
        ValueError: no candidate cluster ("no clusters available to schedule", common.go AssignReplicas).
    """
    missing = unsupported(placement)
    if missing:
        raise Unsupported("not emulated by the k8snet sandbox: " + "; ".join(missing))
    if not candidates:
        raise ValueError("no clusters available to schedule")
    names = [c["metadata"]["name"] for c in candidates]
    if replicas <= 0:  # not a workload (a Service, a ConfigMap): every candidate, no replicas
        return [{"name": n} for n in names]
    kind = strategy(placement)
    if kind == "Duplicated":
        result = [(n, replicas) for n in names]
    else:
        rs = (placement or {}).get("replicaScheduling") or {}
        preference = rs.get("weightPreference")
        rules = (preference or {}).get("staticWeightList") if preference is not None else \
            [{"targetCluster": {"clusterNames": [n]}, "weight": 1} for n in names]  # getDefaultWeightPreference
        weights = static_weights(candidates, rules or [])
        parties = allocate_webster_seats(replicas, weights, None, tie_breaker_by_uid(uid))
        result = [(p.name, p.seats) for p in parties]
    return [{"name": n, "replicas": r} for n, r in result if r > 0]
