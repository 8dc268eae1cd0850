"""Federation with Karmada: join member clusters to a Karmada control plane, read where things were placed.

:func:`join` does what ``karmadactl join <name> --cluster-kubeconfig=…`` does in Push mode
(pkg/karmadactl/join/join.go RunJoinCluster, pkg/util/credential.go): on the member, the namespace
``karmada-cluster`` (labelled ``karmada.io/system: "true"``), the ServiceAccount ``karmada-<name>`` and the
ClusterRole/ClusterRoleBinding ``karmada-controller-manager:karmada-<name>`` granting it everything; on the Karmada
API, the same namespace, a Secret ``<name>`` holding the member's CA bundle and the ServiceAccount's token, and the
Cluster object (``syncMode: Push``, ``apiEndpoint``, ``id`` the uid of the member's kube-system namespace,
``secretRef``), which then owns the Secret. Karmada's controllers reach the member with exactly those credentials.

Two differences from karmadactl, both said here: the token comes from the TokenRequest API (a ten-year token, as
``kubectl create token``) where karmadactl creates a ``kubernetes.io/service-account-token`` Secret for
kube-controller-manager's token controller to fill, which the sandbox does not run; and no impersonator
ServiceAccount is made (karmada-aggregated-apiserver's cluster proxy, which uses it, is not served).

The same code joins kind clusters to the Karmada control plane ``k8snet kind up --name karmada --karmada`` installs
(:mod:`k8snet.kind.karmada`); the sandbox's is ``k8snet sandbox up --name karmada --karmada``. Only the address
differs (:func:`api_endpoint`): ``karmadactl join --cluster-kubeconfig`` takes it from the kubeconfig it is given,
and Karmada's controllers on kind run in pods on kind's docker network, so a kind member is given as ``kind get
kubeconfig --internal`` names it.
"""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cluster import Cluster

CLUSTER_NAMESPACE = "karmada-cluster"
SYSTEM_LABEL = {"karmada.io/system": "true"}
TOKEN_SECONDS = 10 * 365 * 24 * 3600
CLUSTER_API = ("cluster.karmada.io/v1alpha1", "Cluster")
BINDING_API = ("work.karmada.io/v1alpha2", "ResourceBinding")


def _ensure(create: Any, *args: Any) -> None:
    """Create, and take 409 AlreadyExists as done (karmadactl's Ensure…Exist)."""
    try:
        create(*args)
    except ApiException as exc:
        if exc.status != 409:
            raise


def _ca_bundle(member: Cluster) -> bytes:
    path = member.api.configuration.ssl_ca_cert
    if not path:
        raise ValueError(f"the kubeconfig of {member.context} has no certificate-authority: karmadactl join "
                         "needs the member's CA bundle")
    with open(path, "rb") as f:
        return f.read()


def api_endpoint(karmada: Cluster, member: Cluster) -> str:
    """The member's API server as Karmada's controllers reach it: a sandbox Karmada runs on this machine and uses the
    member's own address; Karmada on kind runs in pods on kind's docker network and reaches a kind member at its
    control-plane node there (:func:`k8snet.kind.karmada.member_endpoint`).

    Raises:
        RuntimeError: a sandbox member for Karmada on kind: its API listens on this machine's 127.0.0.1 only.
    """
    if karmada.backend != "kind":
        return str(member.api.configuration.host)
    if member.backend != "kind":
        raise RuntimeError(f"{member.context} is a sandbox: its API listens on 127.0.0.1 of this machine, which "
                           f"Karmada's controllers in the kind cluster {karmada.name} cannot reach; join kind clusters "
                           "to Karmada on kind, sandboxes to the sandbox's Karmada")
    from .kind import karmada as kind_karmada

    return kind_karmada.member_endpoint(member.name)


def join(karmada: Cluster, member: Cluster, name: str | None = None, *, provider: str | None = None,
         region: str | None = None, zones: list[str] | None = None) -> dict[str, Any]:
    """Register ``member`` with the Karmada control plane ``karmada`` as the Cluster ``name`` (default: the
    member's own name); returns the Cluster object.

    Raises:
        RuntimeError: a Cluster of that name is registered already (karmadactl: "cluster(…) already exist"),
            or ``karmada`` is not a Karmada control plane.
    """
    name = name or member.name
    endpoint = api_endpoint(karmada, member)
    try:
        karmada._resource(*CLUSTER_API)
    except Exception as exc:  # the discovery error the dynamic client gives for an unknown kind
        raise RuntimeError(f"{karmada.context} serves no {CLUSTER_API[0]} Cluster: is it a Karmada control plane "
                           f"(k8snet {'kind' if karmada.backend == 'kind' else 'sandbox'} up --name karmada "
                           "--karmada)?") from exc
    if karmada.find(CLUSTER_API[1], name, api_version=CLUSTER_API[0]) is not None:
        raise RuntimeError(f"failed to create cluster({name}) object. error: clusters.cluster.karmada.io "
                           f"\"{name}\" already exists")
    rbac = client.RbacAuthorizationV1Api(member.api)
    sa_name = f"karmada-{name}"
    role = f"karmada-controller-manager:{sa_name}"
    _ensure(member.core.create_namespace, {"metadata": {"name": CLUSTER_NAMESPACE, "labels": SYSTEM_LABEL}})
    _ensure(member.core.create_namespaced_service_account, CLUSTER_NAMESPACE,
            {"metadata": {"name": sa_name, "namespace": CLUSTER_NAMESPACE, "labels": SYSTEM_LABEL}})
    _ensure(rbac.create_cluster_role, {"metadata": {"name": role, "labels": SYSTEM_LABEL}, "rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["get"]}]})
    _ensure(rbac.create_cluster_role_binding, {
        "metadata": {"name": role, "labels": SYSTEM_LABEL},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": CLUSTER_NAMESPACE}]})
    token = member.core.create_namespaced_service_account_token(
        sa_name, CLUSTER_NAMESPACE, {"spec": {"expirationSeconds": TOKEN_SECONDS}}).status.token
    cluster_id = member.core.read_namespace("kube-system").metadata.uid  # util.ObtainClusterID
    _ensure(karmada.core.create_namespace, {"metadata": {"name": CLUSTER_NAMESPACE, "labels": SYSTEM_LABEL}})
    karmada.core.create_namespaced_secret(CLUSTER_NAMESPACE, {
        "metadata": {"name": name, "namespace": CLUSTER_NAMESPACE, "labels": SYSTEM_LABEL},
        "data": {"caBundle": base64.b64encode(_ca_bundle(member)).decode(),
                 "token": base64.b64encode(token.encode()).decode()}})
    spec: dict[str, Any] = {"syncMode": "Push", "apiEndpoint": endpoint, "id": cluster_id,
                            "secretRef": {"namespace": CLUSTER_NAMESPACE, "name": name}}
    if provider:
        spec["provider"] = provider
    if region:
        spec["region"] = region
    if zones:
        spec["zones"] = list(zones)
    clusters = karmada._resource(*CLUSTER_API)
    created = clusters.create(body={"apiVersion": CLUSTER_API[0], "kind": CLUSTER_API[1],
                                    "metadata": {"name": name}, "spec": spec}).to_dict()
    karmada.core.patch_namespaced_secret(name, CLUSTER_NAMESPACE, {"metadata": {"ownerReferences": [{
        "apiVersion": CLUSTER_API[0], "kind": CLUSTER_API[1], "name": name, "uid": created["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]}})
    return created


def unjoin(karmada: Cluster, member: Cluster, name: str | None = None) -> None:
    """``karmadactl unjoin``: the Cluster goes from the Karmada API (its secret with it) and the member loses the
    ServiceAccount and roles join gave Karmada. What Karmada had put on the member stays there."""
    name = name or member.name
    karmada.delete(CLUSTER_API[1], name, api_version=CLUSTER_API[0])
    karmada.delete("Secret", name, CLUSTER_NAMESPACE)
    role = f"karmada-controller-manager:karmada-{name}"
    member.delete("ClusterRoleBinding", role, api_version="rbac.authorization.k8s.io/v1")
    member.delete("ClusterRole", role, api_version="rbac.authorization.k8s.io/v1")
    member.delete("ServiceAccount", f"karmada-{name}", CLUSTER_NAMESPACE)


def placement(karmada: Cluster, kind: str, name: str, namespace: str = "default") -> dict[str, int]:
    """Where the scheduler placed a resource template: cluster → replicas, from its ResourceBinding's
    ``spec.clusters`` (``<name>-<kind>``); empty when it is not (yet) scheduled."""
    binding = karmada.find(BINDING_API[1], f"{name}-{kind}".lower(), namespace, api_version=BINDING_API[0])
    return {c["name"]: int(c.get("replicas") or 0) for c in ((binding or {}).get("spec") or {}).get("clusters") or []}
