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
    ServiceAccount, User or Group, and a ClusterRoleBinding's ServiceAccount needs its namespace."""
    bad = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: bad, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Secret, name: x}}
subjects: [{{kind: Robot, name: r}}, {{kind: ServiceAccount, name: web, apiGroup: foo}}]
"""
    proc = sandbox.kubectl("apply", "-f", "-", input=bad, check=False)
    assert 'roleRef.kind: Unsupported value: "Secret": supported values: "Role", "ClusterRole"' in proc.stderr
    assert ('subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'
            in proc.stderr)
    assert 'subjects[1].apiGroup: Unsupported value: "foo": supported values: ""' in proc.stderr
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
