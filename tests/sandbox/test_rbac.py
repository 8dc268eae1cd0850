"""RBAC through real clients: the four kinds, the default roles, the authorizer's answers and its 403s.

Upstream sources named in the test names: pkg/apis/rbac/validation/validation.go, pkg/printers/internalversion
printers.go, plugin/pkg/auth/authorizer/rbac/bootstrappolicy, pkg/controller/clusterroleaggregation,
plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/registry/rbac/validation/rule.go.
"""

from __future__ import annotations

import json

ROLE = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: secret-reader, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list]
"""
BINDING = """apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: read-secrets, namespace: {ns}}}
roleRef: {{kind: Role, name: secret-reader}}
subjects:
- {{kind: ServiceAccount, name: web}}
- {{kind: User, name: jane}}
- {{kind: Group, name: devs}}
"""


# -- the kinds -----------------------------------------------------------------------------------


def test_kubectl_create_role_and_rolebinding_print_as_kube_apiserver_does(sandbox, ns):
    """printers.go printRoleBinding: NAME ROLE AGE | USERS GROUPS SERVICEACCOUNTS; roles: NAME CREATED AT."""
    sandbox.kubectl("create", "role", "secret-reader", "-n", ns, "--verb=get,list", "--resource=secrets")
    sandbox.kubectl("create", "rolebinding", "read-secrets", "-n", ns, "--role=secret-reader",
                    f"--serviceaccount={ns}:web", "--user=jane", "--group=devs")
    roles = sandbox.kubectl("get", "roles", "-n", ns).stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"] and roles[1].split()[0] == "secret-reader"
    wide = sandbox.kubectl("get", "rolebinding", "read-secrets", "-n", ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    cells = wide[1].split()
    assert cells[:2] == ["read-secrets", "Role/secret-reader"] and cells[3:] == ["jane", "devs", f"{ns}/web"]


def test_kubectl_describe_role_lists_its_rules(sandbox, ns):
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=ns))
    out = sandbox.kubectl("describe", "role", "secret-reader", "-n", ns).stdout
    assert "PolicyRule:" in out and "secrets" in out and "[get list]" in out


def test_binding_defaults_name_the_rbac_group_for_users_and_groups_only(sandbox, ns):
    """pkg/apis/rbac/v1/defaults.go: roleRef.apiGroup, and a User's or Group's apiGroup; a ServiceAccount's stays
    empty (it is a core object)."""
    sandbox.kubectl("apply", "-f", "-", input=BINDING.format(ns=ns))
    rb = sandbox.kubectl_json("get", "rolebinding", "read-secrets", "-n", ns)
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"}
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "web"},
                              {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "jane"},
                              {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"}]


def test_validation_roleref_is_immutable(sandbox, ns):
    """validation.go ValidateRoleBindingUpdate: ``cannot change roleRef``, with the Go value of the new one."""
    sandbox.kubectl("apply", "-f", "-", input=BINDING.format(ns=ns))
    proc = sandbox.kubectl("patch", "rolebinding", "read-secrets", "-n", ns, "--type=merge",
                           "-p", '{"roleRef":{"name":"other"}}', check=False)
    assert proc.returncode == 1
    assert ('The RoleBinding "read-secrets" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:'
            '"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef') in proc.stderr


def test_validation_roleref_kinds_and_subject_kinds(sandbox, ns):
    """validation.go: a RoleBinding names a Role or a ClusterRole, a ClusterRoleBinding a ClusterRole; subjects are
    ServiceAccount, User or Group, and a ClusterRoleBinding's ServiceAccount needs its namespace. A kind that is
    no role is refused before validation by the escalation check, which cannot resolve it (policybased
    storage.go runs first, and kind's admin is not in system:masters)."""
    bad = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: bad, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}}
subjects: [{{kind: Robot, name: r}}, {{kind: ServiceAccount, name: web, apiGroup: foo}}]
"""
    proc = sandbox.kubectl("apply", "-f", "-", input=bad, check=False)
    assert ('subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'
            in proc.stderr)
    assert 'subjects[1].apiGroup: Unsupported value: "foo": supported values: ""' in proc.stderr
    proc = sandbox.kubectl("apply", "-f", "-", input=bad.replace("kind: Role,", "kind: Secret,"), check=False)
    assert ('rolebindings.rbac.authorization.k8s.io "bad" is forbidden: unsupported role reference kind: "Secret"'
            in proc.stderr)
    cluster = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: t-bad-crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: x}
subjects: [{kind: ServiceAccount, name: web}]
"""
    proc = sandbox.kubectl("apply", "-f", "-", input=cluster, check=False)
    assert 'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"' in proc.stderr
    assert "subjects[0].namespace: Required value" in proc.stderr


def test_validation_policy_rules(sandbox, ns):
    """validation.go validatePolicyRule: verbs, then resources or non-resource URLs (never both, and none in a
    Role); resource names for one resource only."""
    role = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: bad, namespace: {ns}}}
rules:
- apiGroups: [""]
  resources: [pods]
- nonResourceURLs: [/healthz]
  verbs: [get]
- apiGroups: [""]
  resources: [pods, secrets]
  resourceNames: [a]
  verbs: [get]
"""
    err = sandbox.kubectl("apply", "-f", "-", input=role, check=False).stderr
    assert "rules[0].verbs: Required value: verbs must contain at least one value" in err
    assert ('rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to '
            "non-resource URLs") in err
    assert "rules[2].resourceNames: Required value: resource names cannot apply to multiple resources" in err


def test_role_names_are_path_segments(sandbox):
    """validation.go minimalNameRequirements (path.IsValidPathSegmentName): ``system:basic-user`` is a name."""
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "t:Odd_Name"}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
"""
    sandbox.kubectl("apply", "-f", "-", input=role)
    assert sandbox.kubectl_json("get", "clusterrole", "t:Odd_Name")["metadata"]["name"] == "t:Odd_Name"
    sandbox.kubectl("delete", "clusterrole", "t:Odd_Name")


def test_server_side_apply_of_a_cluster_role(sandbox):
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: t-ssa-reader}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
"""
    sandbox.kubectl("apply", "--server-side", "-f", "-", input=role)
    got = sandbox.kubectl_json("get", "clusterrole", "t-ssa-reader", "--show-managed-fields")
    assert got["rules"] == [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]
    assert json.dumps(got["metadata"]["managedFields"]).count('"Apply"') == 1
    sandbox.kubectl("delete", "clusterrole", "t-ssa-reader")


def test_the_python_client_reads_rbac_objects(sandbox, ns):
    from kubernetes import client

    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=ns) + "---\n" + BINDING.format(ns=ns))
    rbac = client.RbacAuthorizationV1Api(sandbox.api_client())
    binding = rbac.read_namespaced_role_binding("read-secrets", ns)
    assert binding.role_ref.name == "secret-reader" and [s.kind for s in binding.subjects] == \
        ["ServiceAccount", "User", "Group"]
    assert [r.resources for r in rbac.read_namespaced_role("secret-reader", ns).rules] == [["secrets"]]


# -- the default roles and bindings, and aggregation ----------------------------------------------


def test_bootstrap_policy_creates_the_default_roles_and_bindings(sandbox):
    """bootstrappolicy/testdata/cluster-roles.yaml and cluster-role-bindings.yaml, plus kubeadm's binding of its
    admin group to cluster-admin."""
    roles = set(sandbox.kubectl("get", "clusterroles", "-o", "name").stdout.split())
    assert {f"clusterrole.rbac.authorization.k8s.io/{n}" for n in (
        "admin", "edit", "view", "cluster-admin", "system:basic-user", "system:discovery",
        "system:public-info-viewer", "system:aggregate-to-view", "system:node", "system:coredns")} <= roles
    admin = sandbox.kubectl_json("get", "clusterrole", "cluster-admin")
    assert admin["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert admin["metadata"]["annotations"] == {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    assert admin["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                              {"nonResourceURLs": ["*"], "verbs": ["*"]}]
    binding = sandbox.kubectl_json("get", "clusterrolebinding", "kubeadm:cluster-admins")
    assert binding["roleRef"]["name"] == "cluster-admin"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "kubeadm:cluster-admins"}]
    out = sandbox.kubectl("get", "clusterrolebinding", "system:public-info-viewer", "-o", "wide").stdout
    assert "ClusterRole/system:public-info-viewer" in out and "system:authenticated, system:unauthenticated" in out


def test_aggregation_gives_view_edit_and_admin_their_rules(sandbox):
    """clusterroleaggregation_controller.go: view holds system:aggregate-to-view's rules; edit adds view's (view is
    labelled aggregate-to-edit); admin adds edit's; the controller applies them as its own field manager."""
    def rules(name: str) -> list[dict]:
        return sandbox.kubectl_json("get", "clusterrole", name).get("rules") or []

    view = rules("view")
    assert view == rules("system:aggregate-to-view")
    edit, admin = rules("edit"), rules("admin")
    assert all(r in edit for r in view) and all(r in edit for r in rules("system:aggregate-to-edit"))
    assert all(r in admin for r in edit) and all(r in admin for r in rules("system:aggregate-to-admin"))
    fields = sandbox.kubectl_json("get", "clusterrole", "view", "--show-managed-fields")["metadata"]["managedFields"]
    assert {(f["manager"], f["operation"]) for f in fields} >= {("clusterrole-aggregation-controller", "Apply")}


def test_a_role_labelled_aggregate_to_view_joins_view_edit_and_admin(sandbox):
    from tests.conftest import wait_for

    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: t-widgets-view
  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
rules:
- {apiGroups: [example.com], resources: [widgets], verbs: [get, list, watch]}
"""
    rule = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}
    sandbox.kubectl("apply", "-f", "-", input=role)
    try:
        for name in ("view", "edit", "admin"):
            wait_for(lambda n=name: rule in (sandbox.kubectl_json("get", "clusterrole", n).get("rules") or []),
                     what=f"{name} to aggregate t-widgets-view")
    finally:
        sandbox.kubectl("delete", "clusterrole", "t-widgets-view")
    wait_for(lambda: rule not in (sandbox.kubectl_json("get", "clusterrole", "admin").get("rules") or []),
             what="admin to drop the deleted role's rule")


# -- the authorizer (rbac.go, rule.go, evaluation_helpers.go) and impersonation (impersonation.go) ---------------


def raw(sandbox, method: str, path: str, body: dict | None = None, token: str | None = None,
        headers: dict[str, str] | list[tuple[str, str]] | None = None) -> tuple[int, bytes, dict]:
    """One HTTPS request with the given bearer token (the admin's by default) and extra headers."""
    import http.client
    from urllib.parse import urlsplit

    from k8snet.sandbox import process

    url = urlsplit(sandbox.running.server)
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=process._tls(sandbox.running.state),
                                       timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    conn.putrequest(method, path)
    conn.putheader("Authorization", f"Bearer {token or sandbox.running.token}")
    if data is not None:
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
    for key, value in (headers.items() if isinstance(headers, dict) else headers or []):
        conn.putheader(key, value)
    conn.endheaders(data)
    resp = conn.getresponse()
    out = resp.status, resp.read(), dict(resp.getheaders())
    conn.close()
    return out


def can_i(sandbox, *args: str) -> str:
    return sandbox.kubectl("auth", "can-i", *args, check=False).stdout.strip()


def web_account(sandbox, ns: str) -> str:
    sandbox.kubectl("create", "serviceaccount", "web", "-n", ns)
    return f"--as=system:serviceaccount:{ns}:web"


def test_can_i_says_no_then_yes_after_a_role_and_rolebinding(sandbox, ns):
    """The certificates lesson's question: who may read a Secret. kubectl sends a SelfSubjectAccessReview with
    Impersonate-User; RBAC allows it once a RoleBinding grants a Role with the rule."""
    who = web_account(sandbox, ns)
    assert can_i(sandbox, "get", "secrets", who, "-n", ns) == "no"
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=ns) + "---\n" + BINDING.format(ns=ns))
    assert can_i(sandbox, "get", "secrets", who, "-n", ns) == "yes"
    assert can_i(sandbox, "delete", "secrets", who, "-n", ns) == "no"
    assert can_i(sandbox, "get", "secrets", who, "-n", "default") == "no"  # a RoleBinding holds in its namespace


def test_the_allowing_binding_is_the_reason(sandbox, ns):
    """rule.go roleBindingDescriber: ``RoleBinding "NAME/NS" of Role "R" to ServiceAccount "NAME/NS"``."""
    web_account(sandbox, ns)
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=ns) + "---\n" + BINDING.format(ns=ns))
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": ns, "verb": "get", "resource": "secrets"}}}
    code, body, _ = raw(sandbox, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review,
                        headers={"Impersonate-User": f"system:serviceaccount:{ns}:web"})
    assert code == 201
    assert json.loads(body)["status"] == {"allowed": True, "reason": f'RBAC: allowed by RoleBinding "read-secrets/{ns}" '
                                          f'of Role "secret-reader" to ServiceAccount "web/{ns}"'}
    code, body, _ = raw(sandbox, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert json.loads(body)["status"]["reason"] == ('RBAC: allowed by ClusterRoleBinding "kubeadm:cluster-admins" of '
                                                    'ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"')


def test_a_denied_request_is_kube_apiservers_403_byte_for_byte(sandbox, ns):
    """responsewriters.Forbidden and forbiddenMessage: the Status JSON, its reason and its details."""
    code, body, headers = raw(sandbox, "GET", f"/api/v1/namespaces/{ns}/pods",
                              headers={"Impersonate-User": f"system:serviceaccount:{ns}:web"})
    assert code == 403 and headers["Content-Type"] == "application/json"
    assert body == ('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is '
                    f'forbidden: User \\"system:serviceaccount:{ns}:web\\" cannot list resource \\"pods\\" in API '
                    f'group \\"\\" in the namespace \\"{ns}\\"","reason":"Forbidden","details":{{"kind":"pods"}},'
                    '"code":403}\n').encode()
    code, body, _ = raw(sandbox, "GET", "/apis/apps/v1/namespaces/x/deployments/web/scale",
                        headers={"Impersonate-User": "jane"})
    status = json.loads(body)
    assert status["message"] == ('deployments.apps "web" is forbidden: User "jane" cannot get resource '
                                 '"deployments/scale" in API group "apps" in the namespace "x"')
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    code, body, _ = raw(sandbox, "GET", "/k8snet/admin/status", headers={"Impersonate-User": "jane"})
    assert code == 403 and json.loads(body)["message"] == 'forbidden: User "jane" cannot get path "/k8snet/admin/status"'
    assert json.loads(body)["details"] == {}


def test_a_binding_to_a_missing_role_is_named_in_the_denial(sandbox, ns):
    """rbac.go: resolution errors become the reason, ``RBAC: role.rbac.authorization.k8s.io "x" not found``."""
    sandbox.kubectl("apply", "-f", "-", input=BINDING.format(ns=ns))
    proc = sandbox.kubectl("get", "secrets", "-n", ns, "--as=jane", check=False)
    assert ('secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace '
            f'"{ns}": RBAC: role.rbac.authorization.k8s.io "secret-reader" not found') in proc.stderr


def test_a_rolebinding_to_a_cluster_role_grants_it_in_its_namespace_only(sandbox, ns):
    """A RoleBinding of ClusterRole view: its rules (aggregated) in the binding's namespace."""
    who = web_account(sandbox, ns)
    sandbox.kubectl("create", "rolebinding", "viewers", "-n", ns, "--clusterrole=view",
                    f"--serviceaccount={ns}:web")
    assert can_i(sandbox, "list", "pods", who, "-n", ns) == "yes"
    assert can_i(sandbox, "get", "pods/log", who, "-n", ns) == "yes"
    assert can_i(sandbox, "list", "secrets", who, "-n", ns) == "no"  # view leaves Secrets out
    assert can_i(sandbox, "list", "pods", who, "-n", "default") == "no"
    assert can_i(sandbox, "list", "nodes", who) == "no"
    assert sandbox.kubectl("get", "pods", "-n", ns, who).returncode == 0


def test_rules_match_subresources_resource_names_and_urls(sandbox, ns):
    """evaluation_helpers.go: ``*/scale``, resourceNames, and a non-resource URL ending in ``*``; asked with a
    SubjectAccessReview (the user and groups of its spec, nothing added)."""
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: t-matching}
rules:
- {apiGroups: ["*"], resources: ["*/scale"], verbs: [update]}
- {apiGroups: [""], resources: [configmaps], resourceNames: [app-config], verbs: [get]}
- {nonResourceURLs: ["/healthz/*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: t-matching}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: t-matching}
subjects: [{kind: Group, name: t-matchers}]
"""
    sandbox.kubectl("apply", "-f", "-", input=role)

    def allowed(attributes: dict, key: str = "resourceAttributes") -> bool:
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {key: attributes, "user": "sam", "groups": ["t-matchers"]}}
        code, body, _ = raw(sandbox, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        assert code == 201, body
        return json.loads(body)["status"]["allowed"]

    try:
        assert allowed({"verb": "update", "group": "apps", "resource": "deployments", "subresource": "scale"})
        assert not allowed({"verb": "update", "group": "apps", "resource": "deployments"})
        assert allowed({"verb": "get", "resource": "configmaps", "name": "app-config", "namespace": ns})
        assert not allowed({"verb": "get", "resource": "configmaps", "name": "other", "namespace": ns})
        assert not allowed({"verb": "list", "resource": "configmaps", "namespace": ns})
        assert allowed({"verb": "get", "path": "/healthz/etcd"}, "nonResourceAttributes")
        assert not allowed({"verb": "get", "path": "/metrics"}, "nonResourceAttributes")
    finally:
        sandbox.kubectl("delete", "-f", "-", input=role)


def test_a_subject_access_review_needs_a_user_or_a_group(sandbox):
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}
    code, body, _ = raw(sandbox, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    assert code == 422 and json.loads(body)["message"] == ('SubjectAccessReview.authorization.k8s.io "" is invalid: '
                                                           'spec.user: Invalid value: "": at least one of user or '
                                                           "group must be specified")


def test_can_i_list_shows_the_rules_of_the_account(sandbox, ns):
    """A SelfSubjectRulesReview: the Role's rule, and what every authenticated user may do (system:basic-user,
    system:discovery, system:public-info-viewer)."""
    who = web_account(sandbox, ns)
    sandbox.kubectl("apply", "-f", "-", input=ROLE.format(ns=ns) + "---\n" + BINDING.format(ns=ns))
    rows = [line.split() for line in sandbox.kubectl("auth", "can-i", "--list", who, "-n", ns).stdout.splitlines()]
    assert ["secrets", "[]", "[]", "[get", "list]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/api/*]", "[]", "[get]"] in rows
    assert not any(row[0] == "*.*" for row in rows)


def test_impersonating_groups_without_a_user_is_an_internal_error(sandbox):
    """impersonation.go buildImpersonationRequests: kube-apiserver answers 500 in plain text."""
    code, body, _ = raw(sandbox, "GET", "/api/v1/namespaces", headers={"Impersonate-Group": "devs"})
    assert code == 500
    assert body == b'Internal Server Error: "/api/v1/namespaces": requested [{Group  devs    }] without ' \
                   b"impersonating a user\n"


def test_impersonated_users_get_system_authenticated_and_the_groups_asked_for(sandbox):
    """impersonation.go: ``--as-group`` replaces the groups; system:authenticated is added; system:masters is
    allowed everything (the privileged-group authorizer)."""
    out = sandbox.kubectl("auth", "whoami", "--as=jane", "--as-group=devs", "-o", "json").stdout
    assert json.loads(out)["status"]["userInfo"] == {"username": "jane", "groups": ["devs", "system:authenticated"]}
    assert can_i(sandbox, "delete", "nodes", "--as=jane", "--as-group=system:masters") == "yes"
    assert can_i(sandbox, "delete", "nodes", "--as=jane") == "no"


# -- escalation (pkg/registry/rbac/*/policybased/storage.go, escalation_check.go) -----------------------------


def test_a_namespace_admin_may_grant_only_what_it_holds(sandbox, ns):
    """ConfirmNoEscalation: a ServiceAccount bound to admin in its namespace writes Roles and RoleBindings there,
    but a rule it does not hold (or a binding of cluster-admin) is 403, the missing rules listed."""
    who = web_account(sandbox, ns)
    sandbox.kubectl("create", "rolebinding", "ns-admin", "-n", ns, "--clusterrole=admin", f"--serviceaccount={ns}:web")
    sandbox.kubectl("create", "role", "reader", "-n", ns, "--verb=get", "--resource=secrets", who)
    proc = sandbox.kubectl("create", "role", "nodes", "-n", ns, "--verb=get,list", "--resource=nodes", who,
                           check=False)
    assert proc.returncode == 1
    assert (f'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "system:serviceaccount:{ns}:web" '
            f'(groups=["system:serviceaccounts" "system:serviceaccounts:{ns}" "system:authenticated"]) is '
            'attempting to grant RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "list"]}') in proc.stderr
    proc = sandbox.kubectl("create", "rolebinding", "root", "-n", ns, "--clusterrole=cluster-admin",
                           f"--serviceaccount={ns}:web", who, check=False)
    assert (f'rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "system:serviceaccount:{ns}:web"'
            in proc.stderr and "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}" in proc.stderr)
    sandbox.kubectl("create", "rolebinding", "readers", "-n", ns, "--role=reader", "--user=jane", who)


def test_the_bind_verb_allows_binding_a_role_one_does_not_hold(sandbox, ns):
    """escalation_check.go BindingAuthorized: ``bind`` on the named ClusterRole."""
    who = web_account(sandbox, ns)
    grant = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: binder, namespace: {ns}}}
rules:
- {{apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}}
- {{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [view]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: binder, namespace: {ns}}}
roleRef: {{kind: Role, name: binder}}
subjects: [{{kind: ServiceAccount, name: web}}]
"""
    sandbox.kubectl("apply", "-f", "-", input=grant)
    sandbox.kubectl("create", "rolebinding", "viewers", "-n", ns, "--clusterrole=view", "--group=devs", who)
    proc = sandbox.kubectl("create", "rolebinding", "editors", "-n", ns, "--clusterrole=edit", "--group=devs", who,
                           check=False)
    assert 'rolebindings.rbac.authorization.k8s.io "editors" is forbidden' in proc.stderr
