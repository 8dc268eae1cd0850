"""The RBAC pieces on their own: rule matching (evaluation_helpers.go), request attributes (requestinfo.go), the
authorizer's cache, impersonation requests (impersonation.go) and escalation's rule comparison
(policy_comparator.go, policy_compact.go)."""

from __future__ import annotations

import pytest

from k8snet.sandbox.apiserver import WriteOptions
from k8snet.sandbox.auth import escalation, impersonation, rbac
from k8snet.sandbox.auth.users import ADMIN, Attributes, UserInfo, forbidden, request_attributes
from k8snet.sandbox.instance import Sandbox

JANE = UserInfo("jane", ("devs", "system:authenticated"))


def attrs(verb: str, resource: str = "", sub: str = "", name: str = "", group: str = "", ns: str = "",
          path: str = "") -> Attributes:
    if path:
        return Attributes(JANE, verb, False, path=path)
    return Attributes(JANE, verb, True, ns, group, "v1", resource, sub, name)


@pytest.mark.parametrize("rule,request_,allowed", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, attrs("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, attrs("get", "pods", "log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, attrs("get", "pods", "log"), True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}, attrs("update", "deployments", "scale",
                                                                          group="apps"), True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}, attrs("update", "deployments", group="apps"),
     False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]},
     attrs("get", "secrets", name="a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]},
     attrs("list", "secrets"), False),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]}, attrs("get", "pods"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, attrs("get", path="/healthz/etcd"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, attrs("get", path="/healthz/etcd"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, attrs("post", path="/x"), False),
])
def test_rule_allows_as_evaluation_helpers_match(rule, request_, allowed):
    assert rbac.rule_allows(request_, rule) is allowed


@pytest.mark.parametrize("method,path,query,expected", [
    ("GET", "/api/v1/namespaces/shop/pods", {}, ("list", "shop", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/shop/pods", {"watch": "true"}, ("watch", "shop", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/shop/pods", {"fieldSelector": "metadata.name=web"},
     ("list", "shop", "", "pods", "", "web")),
    ("GET", "/api/v1/namespaces/shop", {}, ("get", "shop", "", "namespaces", "", "shop")),
    ("PUT", "/api/v1/namespaces/shop/finalize", {}, ("update", "shop", "", "namespaces", "finalize", "shop")),
    ("DELETE", "/apis/apps/v1/namespaces/shop/deployments", {}, ("deletecollection", "shop", "apps", "deployments",
                                                                 "", "")),
    ("GET", "/api/v1/namespaces/shop/pods/web/log", {}, ("get", "shop", "", "pods", "log", "web")),
    ("GET", "/api/v1/namespaces/shop/services/web/proxy/a/b", {}, ("get", "shop", "", "services", "proxy", "web")),
    ("PATCH", "/api/v1/nodes/n1/status", {}, ("patch", "", "", "nodes", "status", "n1")),
])
def test_request_attributes_as_requestinfo_reads_them(method, path, query, expected):
    a = request_attributes(JANE, method, path, query)
    assert a.resource_request
    assert (a.verb, a.namespace, a.api_group, a.resource, a.subresource, a.name) == expected


def test_discovery_and_other_paths_are_non_resource_requests():
    for path in ("/api", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version", "/k8snet/admin/status"):
        a = request_attributes(JANE, "GET", path, {})
        assert not a.resource_request and a.verb == "get" and a.path == path


def test_a_websocket_exec_needs_create_as_well():
    assert request_attributes(JANE, "GET", "/api/v1/namespaces/s/pods/p/exec", {}, upgrade=True).also == ("create",)
    assert request_attributes(JANE, "GET", "/api/v1/namespaces/s/pods/p/log", {}, upgrade=True).also == ()


def test_forbidden_names_the_group_resource_and_escapes_html():
    err = forbidden(attrs("get", "deployments", "scale", "web", "apps", "shop"))
    assert err.message == ('deployments.apps "web" is forbidden: User "jane" cannot get resource "deployments/scale" '
                           'in API group "apps" in the namespace "shop"')
    err = forbidden(attrs("get", path="/<x>"), "RBAC: oops")
    assert err.message == 'forbidden: User "jane" cannot get path "/&lt;x&gt;": RBAC: oops'
    assert err.status()["details"] == {}


def test_the_authorizer_cache_follows_rbac_writes():
    sb = Sandbox(seed=1)
    sb.bootstrap()
    secrets = attrs("list", "secrets", ns="default")
    assert sb.authorizer.authorize(secrets) == (False, "")
    rt = sb.registry.lookup("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    sb.api.create(rt, "", {"metadata": {"name": "devs-view"}, "roleRef": {"kind": "ClusterRole", "name": "edit"},
                           "subjects": [{"kind": "Group", "name": "devs"}]}, WriteOptions())
    # edit is aggregated by its controller, which does not run here: the role has no rules yet
    assert sb.authorizer.authorize(secrets) == (False, "")
    roles = sb.registry.lookup("rbac.authorization.k8s.io", "v1", "clusterroles")
    sb.api.patch(roles, "", "edit", "merge", {"rules": [{"apiGroups": [""], "resources": ["secrets"],
                                                         "verbs": ["list"]}]}, WriteOptions())
    assert sb.authorizer.authorize(secrets) == (True, 'RBAC: allowed by ClusterRoleBinding "devs-view" of '
                                                      'ClusterRole "edit" to Group "devs"')
    assert sb.authorizer.authorize(Attributes(ADMIN, "delete", True, "", "", "v1", "nodes"))[0]


def test_impersonation_requests_and_their_groups():
    sb = Sandbox(seed=1)
    sb.bootstrap()
    user = impersonation.impersonate(sb.authorizer, ADMIN, {"Impersonate-User": "system:serviceaccount:shop:web"},
                                     [], [])
    assert user == UserInfo("system:serviceaccount:shop:web",
                            ("system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"))
    user = impersonation.impersonate(sb.authorizer, ADMIN, {"Impersonate-User": "jane"},
                                     ["system:unauthenticated"], [("Scopes", "a")])
    assert user.groups == ("system:unauthenticated",) and user.extra == (("scopes", ("a",)),)
    with pytest.raises(impersonation.ImpersonationError):
        impersonation.requests_of({}, ["devs"], [])


def test_escalation_breaks_down_covers_and_compacts_rules():
    rule = {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}
    parts = escalation.breakdown(rule)
    assert len(parts) == 4 and {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["list"]} in parts
    owner = {"apiGroups": ["*"], "resources": ["*/log", "pods"], "verbs": ["get", "list"]}
    assert all(escalation.covers(owner, p) for p in parts)
    named = {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["get"]}
    assert not escalation.covers(named, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    assert escalation.compact(parts) == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                                         {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]}]
    assert escalation.compact_string(named) == '{APIGroups:[""], Resources:["secrets"], ResourceNames:["a"], ' \
                                               'Verbs:["get"]}'
