"""The merge of every cluster's export of one Service into a ServiceImport (k8snet.sandbox.controllers.mcs.merge),
case by case as Cilium's serviceimport_controller.go computes it (its unit tests,
pkg/clustermesh/mcsapi/serviceimport_controller_test.go, cover the same ground): the oldest export wins every
disagreement and the Conflict condition names the first one. The mcs-api conformance cases that need two clusters
(conformance/service_import.go at v0.5.0) are re-expressed on the function, each naming its upstream spec."""

from __future__ import annotations

import pytest

from k8snet.sandbox.controllers.mcs import derived_name
from k8snet.sandbox.controllers.mcs.merge import Export, Port, export_of, merge, valid_for_export

HTTP = Port(80, "TCP", "http")


def ex(cluster: str, created: str = "2026-01-01T00:00:00Z", **kw) -> Export:
    kw.setdefault("ports", (HTTP,))
    kw.setdefault("ip_families", ("IPv4",))
    return Export(cluster, "shop", "web", created, **kw)


def test_one_export_is_the_import_without_conflict():
    m = merge([ex("east", session_affinity="ClientIP", session_affinity_timeout=10800)])
    assert (m.conflict_reason, m.conflict_message) == ("NoConflicts", "")
    assert m.spec() == {"ports": [{"port": 80, "name": "http", "protocol": "TCP"}], "type": "ClusterSetIP",
                        "sessionAffinity": "ClientIP", "ipFamilies": ["IPv4"],
                        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}}}
    assert m.clusters() == [{"cluster": "east"}]


def test_the_oldest_export_comes_first_and_a_tie_goes_by_cluster_name():
    m = merge([ex("west", "2026-01-01T00:00:05Z"), ex("south", "2026-01-01T00:00:01Z"),
               ex("east", "2026-01-01T00:00:01Z")])
    assert [c["cluster"] for c in m.clusters()] == ["east", "south", "west"]


def test_union_of_ports_with_a_conflict():
    """conformance "A ClusterIP service exported on two clusters should expose the union of the constituent service
    ports and raise a conflict"."""
    sctp = Port(142, "SCTP", "stcp")
    m = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", ports=(HTTP, sctp))])
    assert m.ports == [HTTP, sctp]
    assert (m.conflict_reason, m.conflict_message) == (
        "PortConflict", 'Ports from cluster "east" does not match ports of oldest service export in cluster "east".')


def test_a_port_name_reused_for_another_number_keeps_the_oldest():
    """conformance "A ClusterIP service exported on two clusters with conflicting ports should apply the conflict
    resolution policy and report a Conflict condition on each ServiceExport"."""
    m = merge([ex("west", "2026-01-02T00:00:00Z", ports=(Port(81, "TCP", "http"),)), ex("east")])
    assert m.ports == [HTTP]
    assert m.conflict_reason == "PortConflict"
    assert m.conflict_message == ('Duplicated port name "http". Using port definition "{{http TCP <nil> 80} east '
                                  '2026-01-01 00:00:00 +0000 UTC}" from oldest service export in cluster "east".')


def test_the_same_port_under_another_name_or_app_protocol_conflicts():
    renamed = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", ports=(Port(80, "TCP", "web"),))])
    assert renamed.ports == [HTTP] and renamed.conflict_message == (
        'Conflicting port name on "{{web TCP <nil> 80} west 2026-01-02 00:00:00 +0000 UTC}". Using the port name '
        '"http" from oldest service export in cluster "east".')
    h2 = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", ports=(Port(80, "TCP", "http", "kubernetes.io/h2c"),))])
    assert h2.conflict_message.startswith('Conflicting appProtocol on "{{http TCP kubernetes.io/h2c 80} west') and \
        h2.conflict_message.endswith('Using the appProtocol "" from oldest service export in cluster "east".')


def test_headlessness_conflict_keeps_the_oldest_type():
    """conformance testServiceTypeConflict: "A service exported on two clusters with conflicting headlessness should
    apply the conflict resolution policy and report a Conflict condition on the ServiceExport" (ClusterSetIP, the
    oldest's type, wins)."""
    m = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", type="Headless")])
    assert m.spec()["type"] == "ClusterSetIP"
    assert (m.conflict_reason, m.conflict_message) == (
        "TypeConflict", 'Conflicting type. 1/2 clusters disagree. Using "ClusterSetIP" from oldest service export in '
                        'cluster "east".')


def test_session_affinity_conflict_counts_the_clusters_that_disagree():
    m = merge([ex("a", session_affinity="ClientIP", session_affinity_timeout=10800),
               ex("b", "2026-01-02T00:00:00Z"), ex("c", "2026-01-03T00:00:00Z"),
               ex("d", "2026-01-04T00:00:00Z", session_affinity="ClientIP", session_affinity_timeout=10800)])
    assert m.spec()["sessionAffinity"] == "ClientIP"
    assert (m.conflict_reason, m.conflict_message) == (
        "SessionAffinityConflict", 'Conflicting sessionAffinity. 2/4 clusters disagree. Using "ClientIP" from oldest '
                                   'service export in cluster "a".')


def test_session_affinity_timeout_conflict():
    m = merge([ex("east", session_affinity="ClientIP", session_affinity_timeout=60),
               ex("west", "2026-01-02T00:00:00Z", session_affinity="ClientIP", session_affinity_timeout=600)])
    assert m.conflict_reason == "SessionAffinityConfigConflict"
    assert m.spec()["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}
    # Cilium shows the value as Go's string(int32) makes it: the character with that code point ('<' for 60)
    assert m.conflict_message == ('Conflicting sessionAffinityConfig.clientIP. 1/2 clusters disagree. Using "<" from '
                                  'oldest service export in cluster "east".')


def test_labels_and_annotations_come_from_the_oldest_export():
    """conformance testGeneralServiceImport "A service exported on two clusters with conflicting annotations and
    labels should apply the conflict resolution policy and report a Conflict condition on each ServiceExport"."""
    m = merge([ex("west", "2026-01-02T00:00:00Z", annotations={"dummy-annotation2": "true"},
                  labels={"dummy-label2": "true"}),
               ex("east", annotations={"dummy-annotation": "true"}, labels={"dummy-label": "true"})])
    assert (m.oldest.labels, m.oldest.annotations) == ({"dummy-label": "true"}, {"dummy-annotation": "true"})
    assert (m.conflict_reason, m.conflict_message) == (
        "AnnotationsConflict", 'Conflicting annotations. 1/2 clusters disagree. Using "map[dummy-annotation:true]" '
                               'from oldest service export in cluster "east".')


def test_ports_are_checked_before_ip_families_before_the_other_fields():
    both = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", type="Headless", ip_families=("IPv6",),
                                 ports=(Port(81, "TCP", "http"),))])
    assert both.conflict_reason == "PortConflict"
    families = merge([ex("east"), ex("west", "2026-01-02T00:00:00Z", type="Headless", ip_families=("IPv6",))])
    assert (families.conflict_reason, families.conflict_message) == (
        "IPFamilyConflict", "IPFamilies conflict. Cluster 'west' has no IPFamilies in common.")
    assert families.ip_families == ["IPv4"]
    legacy = merge([ex("east", ip_families=()), ex("west", "2026-01-02T00:00:00Z", ip_families=())])
    assert legacy.ip_families is None and "ipFamilies" not in legacy.spec()


def test_export_of_a_service_and_its_json():
    service = {"metadata": {"name": "web", "namespace": "shop"},
               "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                                        "targetPort": 8080}],
                        "sessionAffinity": "None", "ipFamilies": ["IPv4"], "internalTrafficPolicy": "Cluster"}}
    svcex = {"metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2026-01-01T00:00:00Z"},
             "spec": {"exportedLabels": {"tier": "front"}}}
    e = export_of(service, svcex, "east")
    assert e == Export("east", "shop", "web", "2026-01-01T00:00:00Z", (HTTP,), "Headless", "None", None, ("IPv4",),
                       "Cluster", None, {}, {"tier": "front"})
    assert Export.from_json(e.to_json()) == e
    assert e.to_json()["exportCreationTimestamp"] == "2026-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="type is unknown: LoadBalancer"):
        Export.from_json({**e.to_json(), "type": "LoadBalancer"})
    assert valid_for_export({"spec": {"type": "ExternalName"}}) == (
        False, "InvalidServiceType", "Service type ExternalName is not supported")


def test_derived_names_are_mcs_apis():
    """mcs-api controllers/common.go derivedName, as Cilium's own fixtures name one
    (pkg/clustermesh/mcsapi/testdata/endpointslice-mirror/port-filter/output/derived-endpointslice.yaml)."""
    assert derived_name("default", "port-filter") == "derived-rot6lodnc8"


def test_merging_nothing_or_two_names_is_refused():
    with pytest.raises(ValueError, match="no export"):
        merge([])
    with pytest.raises(ValueError, match="different Services"):
        merge([ex("east"), Export("west", "shop", "api", "2026-01-01T00:00:00Z")])
