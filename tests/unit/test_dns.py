"""Cluster DNS: the pod's resolv.conf and CoreDNS's kubernetes plugin, as upstream answers.

Sources: https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/ (DNS),
github.com/coredns/coredns plugin/kubernetes (parse.go, kubernetes.go, object/endpoint.go),
and BIND 9's bin/dig/nslookup.c for the agnhost image's ``nslookup`` output.
EndpointSlices are written by the test, so nothing here depends on the endpoints controller.
"""

from __future__ import annotations

from typing import Any

import pytest

from k8snet.sandbox.dataplane.dns import Resolver, format_nslookup
from k8snet.sandbox.instance import Sandbox

Obj = dict[str, Any]


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def sb() -> Sandbox:
    sandbox = Sandbox(None, seed=7)
    sandbox.bootstrap()
    yield sandbox
    sandbox.close()


def namespace(sb: Sandbox, name: str) -> None:
    sb.api.create(sb.registry.lookup("", "v1", "namespaces"), "", {"metadata": {"name": name}})


def service(sb: Sandbox, name: str, ns: str = "default", **spec: Any) -> Obj:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    spec.setdefault("selector", {"app": name})
    return sb.api.create(sb.registry.lookup("", "v1", "services"), ns, {"metadata": {"name": name}, "spec": spec})


def client(ns: str = "default", **spec: Any) -> Obj:
    return {"metadata": {"name": "client", "namespace": ns},
            "spec": {"dnsPolicy": "ClusterFirst", "nodeName": "k8snet-worker", **spec},
            "status": {"phase": "Running", "podIP": "10.244.1.9"}}


def endpoint_slice(sb: Sandbox, svc: str, endpoints: list[Obj], ns: str = "default",
                   ports: list[Obj] | None = None) -> None:
    sb.store.put("endpointslices.discovery.k8s.io", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{svc}-abcde", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints})


def ep(ip: str, ready: bool = True, hostname: str | None = None, node: str = "k8snet-worker") -> Obj:
    e: Obj = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": False},
              "nodeName": node, "targetRef": {"kind": "Pod", "name": f"pod-{ip.replace('.', '-')}",
                                              "namespace": "default"}}
    if hostname:
        e["hostname"] = hostname
    return e


# -- the pod's resolv.conf ------------------------------------------------------------------------------


def test_clusterfirst_resolv_conf_search_list_and_ndots5(sb: Sandbox) -> None:
    """dns-pod-service: "nameserver 10.32.0.10 / search <namespace>.svc.cluster.local svc.cluster.local
    cluster.local / options ndots:5"."""
    conf = Resolver(sb).resolv_conf(client("team"))
    assert conf.nameserver == "10.96.0.10"
    assert conf.search == ["team.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert conf.ndots == 5


def test_fewer_dots_than_ndots_tries_search_list_first_then_as_is(sb: Sandbox) -> None:
    """resolv.conf(5): a name with fewer than ndots dots goes through the search list before being tried as is."""
    answer = Resolver(sb).lookup(client(), "nosuch")
    assert answer.rcode == "NXDOMAIN"
    assert [name for name, _ in answer.attempts] == [
        "nosuch.default.svc.cluster.local", "nosuch.svc.cluster.local", "nosuch.cluster.local", "nosuch"]


def test_at_least_ndots_dots_tries_as_is_first(sb: Sandbox) -> None:
    """resolv.conf(5): "If a name has at least ndots dots … an initial absolute query will be made"."""
    svc = service(sb, "web")
    answer = Resolver(sb).lookup(client(dnsConfig={"options": [{"name": "ndots", "value": "1"}]}),
                                 "web.default.svc.cluster.local")
    assert answer.attempts == [("web.default.svc.cluster.local", "NOERROR")]
    assert answer.addresses == [svc["spec"]["clusterIP"]]


def test_dnspolicy_default_uses_the_node_resolver_which_knows_no_cluster_names(sb: Sandbox) -> None:
    """dns-pod-service: "Default: The Pod inherits the name resolution configuration from the node"; kind's
    node resolver is Docker's embedded DNS, which answers node (container) names only."""
    service(sb, "web")
    pod = client(dnsPolicy="Default")
    answer = Resolver(sb).lookup(pod, "web.default.svc.cluster.local")
    assert answer.server == "172.18.0.1"
    assert answer.rcode == "NXDOMAIN"
    node = Resolver(sb).lookup(pod, "k8snet-worker")
    assert node.addresses == ["172.18.0.3"] and not node.authoritative


def test_hostnetwork_clusterfirst_falls_back_to_default(sb: Sandbox) -> None:
    """dns-pod-service: "ClusterFirst … For Pods running with hostNetwork, you should explicitly set its DNS
    policy to ClusterFirstWithHostNet. Otherwise, Pods running with hostNetwork and "ClusterFirst" will fallback
    to the behavior of the "Default" policy"."""
    resolver = Resolver(sb)
    assert resolver.resolv_conf(client(hostNetwork=True)).nameserver == "172.18.0.1"
    assert resolver.resolv_conf(client(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")).nameserver \
        == "10.96.0.10"


# -- Services ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "web.default", "web.default.svc", "web.default.svc.cluster.local",
                                  "web.default.svc.cluster.local.", "WEB.Default"])
def test_service_name_forms_resolve_to_the_cluster_ip(sb: Sandbox, name: str) -> None:
    """dns-pod-service: "Normal (not headless) Services are assigned DNS A … records … of the form
    my-svc.my-namespace.svc.cluster-domain.example. This resolves to the cluster IP of the Service"."""
    svc = service(sb, "web")
    answer = Resolver(sb).lookup(client(), name)
    assert answer.rcode == "NOERROR"
    assert answer.name == "web.default.svc.cluster.local"
    assert answer.addresses == [svc["spec"]["clusterIP"]]


def test_short_name_resolves_only_in_the_clients_namespace(sb: Sandbox) -> None:
    """dns-pod-service: "A query for data returns no results … because it uses the Pod's namespace
    (test) … A query for data.prod returns the intended result"."""
    namespace(sb, "team")
    service(sb, "web")
    resolver = Resolver(sb)
    assert resolver.lookup(client("team"), "web").rcode == "NXDOMAIN"
    answer = resolver.lookup(client("team"), "web.default")
    assert answer.attempts == [("web.default.team.svc.cluster.local", "NXDOMAIN"),
                               ("web.default.svc.cluster.local", "NOERROR")]


def test_kubernetes_default_resolves_to_the_apiserver_service(sb: Sandbox) -> None:
    """Debugging DNS Resolution: "kubectl exec -i -t dnsutils -- nslookup kubernetes.default"."""
    answer = Resolver(sb).lookup(client(), "kubernetes.default")
    assert answer.name == "kubernetes.default.svc.cluster.local"
    assert answer.addresses == ["10.96.0.1"]


def test_namespace_and_apex_names_are_nodata_unknown_namespace_is_nxdomain(sb: Sandbox) -> None:
    """parse.go: "return NODATA for apex queries"; findServices: an empty service name in an existing namespace
    is NODATA; Records(): a namespace that does not exist is not exposed (NXDOMAIN)."""
    resolver = Resolver(sb)
    nodata = resolver.lookup(client(), "default.svc.cluster.local.")
    assert (nodata.rcode, nodata.records) == ("NOERROR", [])
    assert resolver.lookup(client(), "web.nowhere.svc.cluster.local.").rcode == "NXDOMAIN"


def test_headless_service_answers_one_a_record_per_ready_endpoint(sb: Sandbox) -> None:
    """dns-pod-service: "For headless Services, this resolves to multiple answers, one for each Pod that is
    backing the Service"; object/endpoint.go skips endpoints whose ready condition is false."""
    service(sb, "db", clusterIP="None")
    endpoint_slice(sb, "db", [ep("10.244.1.5"), ep("10.244.2.6"), ep("10.244.2.7", ready=False)])
    answer = Resolver(sb).lookup(client(), "db")
    assert sorted(answer.addresses) == ["10.244.1.5", "10.244.2.6"]


def test_headless_publish_not_ready_addresses_are_answered(sb: Sandbox) -> None:
    """EndpointSlice controller: "ready := service.Spec.PublishNotReadyAddresses || …", so CoreDNS, which reads
    only the ready condition, answers pods that are not ready yet."""
    service(sb, "db", clusterIP="None", publishNotReadyAddresses=True)
    endpoint_slice(sb, "db", [{"addresses": ["10.244.1.5"], "conditions": {"ready": True, "serving": False}}])
    assert Resolver(sb).lookup(client(), "db").addresses == ["10.244.1.5"]


def test_headless_service_without_ready_endpoints_is_nxdomain(sb: Sandbox) -> None:
    """kubernetes.go findServices: err stays errNoItems when no endpoint address matched."""
    service(sb, "db", clusterIP="None")
    endpoint_slice(sb, "db", [ep("10.244.1.5", ready=False)])
    assert Resolver(sb).lookup(client(), "db").rcode == "NXDOMAIN"


def test_headless_a_records_are_shuffled_by_the_seeded_generator(sb: Sandbox) -> None:
    """CoreDNS's loadbalance plugin (in kubeadm's Corefile) randomizes the order of A records per answer; the
    sandbox draws from its one seeded generator, so a seed repeats the orders."""
    service(sb, "db", clusterIP="None")
    endpoint_slice(sb, "db", [ep(f"10.244.1.{i}") for i in range(2, 8)])

    def orders(seed: int) -> list[list[str]]:
        sb.reseed(seed)
        return [Resolver(sb).lookup(client(), "db").addresses for _ in range(5)]

    first = orders(3)
    assert len({tuple(o) for o in first}) > 1
    assert orders(3) == first


def test_endpoint_hostname_and_dashed_ip_names(sb: Sandbox) -> None:
    """dns-pod-service: a Pod with hostname and subdomain gets "busybox-1.busybox-subdomain.my-namespace.svc…";
    endpointHostname falls back to the IP with dashes."""
    service(sb, "db", clusterIP="None")
    endpoint_slice(sb, "db", [ep("10.244.1.5", hostname="db-0"), ep("10.244.2.6")])
    resolver = Resolver(sb)
    assert resolver.lookup(client(), "db-0.db").addresses == ["10.244.1.5"]
    assert resolver.lookup(client(), "10-244-2-6.db.default.svc.cluster.local.").addresses == ["10.244.2.6"]
    assert resolver.lookup(client(), "db-1.db").rcode == "NXDOMAIN"


def test_pod_a_records_dashed_ip(sb: Sandbox) -> None:
    """dns-pod-service: "pod-ipv4-address.my-namespace.pod.cluster-domain.example … 172-17-0-3.default.pod…";
    findPods (pods insecure) answers the address without checking a pod, but needs the namespace."""
    resolver = Resolver(sb)
    assert resolver.lookup(client(), "10-244-1-5.default.pod.cluster.local").addresses == ["10.244.1.5"]
    assert resolver.lookup(client(), "10-244-1-5.nowhere.pod.cluster.local.").rcode == "NXDOMAIN"
    assert resolver.lookup(client(), "web.default.pod.cluster.local.").rcode == "NXDOMAIN"


def test_srv_named_port_targets_the_service_name(sb: Sandbox) -> None:
    """dns-pod-service: "SRV Records are created for named ports … _port-name._port-protocol.my-svc.my-namespace
    .svc… For a regular Service, this resolves to the port number and the domain name"."""
    service(sb, "web", ports=[{"name": "http", "port": 80, "targetPort": 8080},
                              {"name": "metrics", "port": 9090, "protocol": "TCP"}])
    answer = Resolver(sb).lookup(client(), "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert [(r.type, r.data, r.port, r.priority, r.weight) for r in answer.records] == [
        ("SRV", "web.default.svc.cluster.local", 80, 0, 100)]
    assert Resolver(sb).lookup(client(), "_grpc._tcp.web.default.svc.cluster.local.", "SRV").rcode == "NXDOMAIN"


def test_srv_of_headless_service_targets_each_endpoint(sb: Sandbox) -> None:
    """dns-pod-service: "For a headless Service, this resolves to multiple answers, one for each Pod … the
    port number and the domain name of the Pod of the form hostname.my-svc.my-namespace.svc…"."""
    service(sb, "db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    endpoint_slice(sb, "db", [ep("10.244.1.5", hostname="db-0"), ep("10.244.2.6")],
                   ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}])
    answer = Resolver(sb).lookup(client(), "_pg._tcp.db.default.svc.cluster.local.", "SRV")
    assert sorted((r.data, r.port, r.weight) for r in answer.records) == [
        ("10-244-2-6.db.default.svc.cluster.local", 5432, 50), ("db-0.db.default.svc.cluster.local", 5432, 50)]


def test_externalname_is_a_cname_and_outside_targets_are_said_to_be_outside(sb: Sandbox) -> None:
    """Service docs: "When looking up the host my-service.prod.svc.cluster.local, the cluster DNS Service
    returns a CNAME record with the value my.database.example.com"."""
    sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {
        "metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "my.database.example.com"}})
    answer = Resolver(sb).lookup(client(), "ext")
    assert answer.rcode == "NOERROR"
    assert [(r.type, r.data) for r in answer.records] == [("CNAME", "my.database.example.com")]
    assert "outside the sandbox" in answer.hop.summary


def test_externalname_to_an_in_cluster_name_is_followed(sb: Sandbox) -> None:
    """backend_lookup.go A(): a CNAME target inside the zone is resolved and its addresses follow the CNAME."""
    web = service(sb, "web")
    sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {
        "metadata": {"name": "alias"}, "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}})
    answer = Resolver(sb).lookup(client(), "alias")
    assert [(r.type, r.data) for r in answer.records] == [("CNAME", "web.default.svc.cluster.local"),
                                                         ("A", web["spec"]["clusterIP"])]


# -- nslookup output ----------------------------------------------------------------------------------


def test_nslookup_prints_bind_format_for_an_answer(sb: Sandbox) -> None:
    """nslookup.c printmessage(): "Server:\\t\\t%s", "Address:\\t%s" (address#port), "Name:\\t%s",
    "Address: %s"; main() ends with puts(""); no "Non-authoritative answer:" since CoreDNS is authoritative."""
    svc = service(sb, "web")
    out, err, code = format_nslookup(Resolver(sb).lookup(client(), "web", stop_at_nodata=True))
    assert out == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n"
                   f"Name:\tweb.default.svc.cluster.local\nAddress: {svc['spec']['clusterIP']}\n\n")
    assert (err, code) == ("", 0)


def test_nslookup_nxdomain_names_the_last_name_tried_and_exits_1(sb: Sandbox) -> None:
    """nslookup.c: "** server can't find %s: %s" for the last lookup of the search (the name as given), and
    main() returns query_error | print_error."""
    out, _, code = format_nslookup(Resolver(sb).lookup(client(), "nosuch", stop_at_nodata=True))
    assert out == "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\n** server can't find nosuch: NXDOMAIN\n\n"
    assert code == 1


def test_nslookup_prints_cname_and_non_authoritative_answers(sb: Sandbox) -> None:
    """nslookup.c printsection(): other records as "%s\\t" + "canonical name = " + target with its dot;
    "Non-authoritative answer:" when the AA flag is clear (answers forwarded to the node's resolver)."""
    sb.api.create(sb.registry.lookup("", "v1", "services"), "default", {
        "metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})
    out, _, _ = format_nslookup(Resolver(sb).lookup(client(), "ext", stop_at_nodata=True))
    assert "ext.default.svc.cluster.local\tcanonical name = example.com.\n" in out
    node, _, _ = format_nslookup(Resolver(sb).lookup(client(), "k8snet-worker", stop_at_nodata=True))
    assert "Non-authoritative answer:\nName:\tk8snet-worker\nAddress: 172.18.0.3\n" in node


def test_outside_names_fail_loudly_as_servfail(sb: Sandbox) -> None:
    """DESIGN: never silent about what the sandbox does not emulate — the internet is outside it, but for the
    emulated outside world's few hosts (dataplane/outside.py)."""
    answer = Resolver(sb).lookup(client(), "kubernetes.io")
    assert answer.rcode == "SERVFAIL"
    assert "outside the sandbox" in answer.hop.summary


def test_the_outside_worlds_names_are_forwarded_answers_after_the_search_list(sb: Sandbox) -> None:
    """resolv.conf(5): api.payments.example has 2 dots, fewer than ndots:5, so the search list comes first (each
    NXDOMAIN from CoreDNS's cluster.local zone) and the name as given last, which CoreDNS forwards to the node's
    resolver: a non-authoritative A record with the upstream's TTL."""
    answer = Resolver(sb).lookup(client(), "api.payments.example")
    assert answer.attempts == [("api.payments.example.default.svc.cluster.local", "NXDOMAIN"),
                               ("api.payments.example.svc.cluster.local", "NXDOMAIN"),
                               ("api.payments.example.cluster.local", "NXDOMAIN"),
                               ("api.payments.example", "NOERROR")]
    assert [(r.name, r.type, r.data, r.ttl) for r in answer.records] == [
        ("api.payments.example", "A", "203.0.113.10", 60)]
    out, _, code = format_nslookup(Resolver(sb).lookup(client(), "api.payments.example", stop_at_nodata=True))
    assert out == ("Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nNon-authoritative answer:\n"
                   "Name:\tapi.payments.example\nAddress: 203.0.113.10\n\n") and code == 0
    assert Resolver(sb).lookup(client(), "www.payments.example").rcode == "NXDOMAIN"  # .example: no such name
