"""Karmada's placement arithmetic (k8snet.sandbox.karmada.division), checked with Karmada's own test cases:
pkg/scheduler/core/assignment_test.go Test_assignByStaticWeightStrategy and Test_assignByDuplicatedStrategy,
pkg/util/helper/webstermethod_test.go (ExampleAllocateWebsterSeats, TestAllocateWebsterSeats: Wikipedia's
Sainte-Laguë example round by round), pkg/util/selector_test.go's ClusterMatches rules, and
pkg/util/names GenerateWorkName / GenerateBindingName."""

from __future__ import annotations

import pytest

from k8snet.sandbox.karmada import division

MEMBERS = ("member1", "member2", "member3")  # assignment_test.go ClusterMember1..3


def cluster(name: str, labels: dict | None = None, **spec) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def weighted(*rules: tuple[list[str], int]) -> dict:
    return {"replicaScheduling": {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                                  "weightPreference": {"staticWeightList": [
                                      {"targetCluster": {"clusterNames": names}, "weight": w} for names, w in rules]}}}


def result(pairs: list[dict]) -> dict[str, int]:
    return {p["name"]: p["replicas"] for p in pairs}


@pytest.mark.parametrize(("case", "members", "placement", "replicas", "want"), [
    ("replica 12, weight 3:2:1", MEMBERS, weighted((["member1"], 3), (["member2"], 2), (["member3"], 1)), 12,
     {"member1": 6, "member2": 4, "member3": 2}),
    ("replica 12, default weight", MEMBERS,
     {"replicaScheduling": {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted"}}, 12,
     {"member1": 4, "member2": 4, "member3": 4}),
    ("replica 13, weight 3:2:1", MEMBERS, weighted((["member1"], 3), (["member2"], 2), (["member3"], 1)), 13,
     {"member1": 7, "member2": 4, "member3": 2}),
    ("replica 14, weight 3:2:1", MEMBERS, weighted((["member1"], 3), (["member2"], 2), (["member3"], 1)), 14,
     {"member1": 7, "member2": 5, "member3": 2}),
    ("selected cluster without weight should be ignored", MEMBERS[:2], weighted((["member1"], 1)), 2,
     {"member1": 2}),
    ("cluster with multiple weights", MEMBERS[:2],
     weighted((["member1"], 1), (["member2"], 1), (["member1"], 2)), 3, {"member1": 2, "member2": 1}),
    ("the lesson's 2:1 over east and west", ("east", "west"), weighted((["east"], 2), (["west"], 1)), 3,
     {"east": 2, "west": 1}),
])
def test_assign_by_static_weight_strategy_as_karmadas_test_cases(case, members, placement, replicas, want):
    assert result(division.assign([cluster(n) for n in members], placement, replicas)) == want, case


def test_insufficient_replicas_leave_every_cluster_out_as_remove_zero_replicas_cluster_does():
    """'insufficient replica assignment should get 0 replica': the dispenser gives 0 and 0, and
    removeZeroReplicasCluster then drops both (a workload with 0 replicas; a Service has none and goes everywhere)."""
    placement = weighted((["member1"], 1), (["member2"], 1))
    parties = division.allocate_webster_seats(0, division.static_weights([cluster("member1"), cluster("member2")],
                                                                         placement["replicaScheduling"][
                                                                             "weightPreference"]["staticWeightList"]))
    assert [(p.name, p.seats) for p in parties] == [("member1", 0), ("member2", 0)]
    assert division.assign([cluster("member1"), cluster("member2")], placement, 0) == [{"name": "member1"},
                                                                                     {"name": "member2"}]


def test_duplicated_gives_every_cluster_all_replicas():
    """Test_assignByDuplicatedStrategy 'test with multiple cluster'; no replicaScheduling is Duplicated."""
    placement = {"replicaScheduling": {"replicaSchedulingType": "Duplicated"}}
    assert result(division.assign([cluster(n) for n in MEMBERS], placement, 3)) == dict.fromkeys(MEMBERS, 3)
    assert result(division.assign([cluster(n) for n in MEMBERS], {}, 2)) == dict.fromkeys(MEMBERS, 2)


def test_webster_classic_example_round_by_round():
    """TestAllocateWebsterSeats: 230,000 votes, 8 seats (Wikipedia's Sainte-Laguë example)."""
    votes = {"PartyA": 100000, "PartyB": 80000, "PartyC": 30000, "PartyD": 20000}
    rounds = [(1, 0, 0, 0), (1, 1, 0, 0), (2, 1, 0, 0), (2, 1, 1, 0), (2, 2, 1, 0), (2, 2, 1, 1), (3, 2, 1, 1),
              (3, 3, 1, 1)]
    for seats, want in enumerate(rounds, start=1):
        got = division.allocate_webster_seats(seats, votes)
        assert tuple(p.seats for p in got) == want, f"round {seats}"
    assert division.allocate_webster_seats(1, {}) == []
    example = division.allocate_webster_seats(4, {"Alpha": 1200, "Beta": 900, "Gamma": 400})
    assert [(p.name, p.seats) for p in example] == [("Alpha", 2), ("Beta", 1), ("Gamma", 1)]


def test_ties_go_to_fewer_replicas_then_by_name_in_the_direction_the_uid_hash_picks():
    """tieBreakerByUID: no uid → names ascending; an odd FNV-32a of the uid → descending."""
    even = next(u for u in (f"uid-{i}" for i in range(100)) if division.fnv32a(u.encode()) % 2 == 0)
    odd = next(u for u in (f"uid-{i}" for i in range(100)) if division.fnv32a(u.encode()) % 2 == 1)
    two = [cluster("a"), cluster("b")]
    placement = weighted((["a"], 1), (["b"], 1))
    assert result(division.assign(two, placement, 1)) == {"a": 1}
    assert result(division.assign(two, placement, 1, uid=even)) == {"a": 1}
    assert result(division.assign(two, placement, 1, uid=odd)) == {"b": 1}


def test_fnv32a_and_safe_encode_are_gos():
    """hash/fnv's test vectors; rand.SafeEncodeString maps by code point onto bcdfghjklmnpqrstvwxz2456789."""
    assert division.fnv32a(b"") == 0x811C9DC5
    assert division.fnv32a(b"a") == 0xE40C292C
    assert division.fnv32a(b"foobar") == 0xBF9CF968
    assert division.safe_encode("0123456789") == "456789bcdf"  # "0" is 48, 48 % 27 = 21: "4"


def test_work_and_binding_names_as_names_go_makes_them():
    """TestGenerateWorkName's form: ``<name>-<SafeEncodeString(fnv32a("<ns>-<name>-<kind>"))>``."""
    digest = division.safe_encode(str(division.fnv32a(b"default-work.pod-pods")))
    assert division.work_name("Pods", "work:pod", "default") == f"work.pod-{digest}"
    assert division.work_name("Pod", "pod", "") == f"pod-{division.safe_encode(str(division.fnv32a(b'pod-pod')))}"
    assert division.binding_name("Deployment", "nginx") == "nginx-deployment"
    assert division.binding_name("ClusterRole", "system:admin") == "system.admin-clusterrole"
    assert division.execution_namespace("east") == "karmada-es-east"
    assert division.cluster_of("karmada-es-east") == "east" and division.cluster_of("default") is None


@pytest.mark.parametrize(("affinity", "matches"), [
    (None, True),
    ({"clusterNames": ["east"]}, True),
    ({"clusterNames": ["west"]}, False),
    ({"exclude": ["east"]}, False),
    ({"clusterNames": ["east"], "exclude": ["east"]}, False),
    ({"labelSelector": {"matchLabels": {"location": "eu"}}}, True),
    ({"labelSelector": {"matchLabels": {"location": "us"}}}, False),
    ({"labelSelector": {"matchLabels": {"location": "eu"}}, "clusterNames": ["west"]}, False),
    ({"fieldSelector": {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu-west-1"]}]}}, True),
    ({"fieldSelector": {"matchExpressions": [{"key": "provider", "operator": "NotIn", "values": ["kind"]}]}}, False),
    ({"fieldSelector": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}}, True),
    ({"fieldSelector": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}, False),
])
def test_cluster_matches_as_selector_go(affinity, matches):
    """util.ClusterMatches: exclude first, then labelSelector, fieldSelector (provider, region, zones: In needs
    every zone of the cluster among the values), then clusterNames."""
    east = cluster("east", {"location": "eu"}, provider="kind", region="eu-west-1", zones=["a", "b"])
    assert division.cluster_matches(east, affinity) is matches


@pytest.mark.parametrize(("placement", "named"), [
    ({"replicaScheduling": {"replicaSchedulingType": "Divided", "weightPreference": {
        "dynamicWeight": "AvailableReplicas"}}}, "dynamicWeight"),
    ({"replicaScheduling": {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Aggregated"}},
     "Aggregated"),
    ({"spreadConstraints": [{"spreadByField": "cluster", "maxGroups": 2, "minGroups": 1}]}, "spreadConstraints"),
    ({"clusterAffinities": [{"affinityName": "a", "clusterNames": ["east"]}]}, "clusterAffinities"),
])
def test_what_is_not_emulated_is_refused_by_name(placement, named):
    with pytest.raises(division.Unsupported, match=named):
        division.assign([cluster("east")], placement, 3)


def test_no_candidate_is_an_error():
    with pytest.raises(ValueError, match="no clusters available to schedule"):
        division.assign([], {}, 1)
