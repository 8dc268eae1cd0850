"""What Cilium's agents write to the API in a cluster that runs Cilium: a CiliumEndpoint per pod and a
CiliumIdentity per set of security labels, and the Warning events of the sandbox's own about policy fields it does
not emulate.

- **CiliumEndpoint** (pkg/k8s/apis/cilium.io/v2 types.go EndpointStatus; the agent's endpoint-to-CRD sync,
  pkg/endpointmanager and pkg/k8s/watchers): named after its pod, in the pod's namespace, owned by the pod;
  ``status.id`` the endpoint ID on the node's agent, ``status.identity`` its numeric identity and labels,
  ``status.networking`` the pod's IPv4 and its node's address, ``status.state`` ``ready``, ``status.policy``
  whether ingress and egress are enforced (``enforcing``/``non-enforcing``), ``external-identifiers`` the pod.
  Pods on the host's network have no endpoint. ``kubectl get cep`` shows identity, state and IPv4
  (``-o wide`` the enforcement).
- **CiliumIdentity** (identity-allocation-mode crd): named by the number, ``security-labels`` the labels,
  ``metadata.labels`` the ``k8s``-source ones without their prefix (so ``kubectl get ciliumid -l app=web``
  finds it). Identities are not garbage-collected (the operator's identity GC is not emulated).
- **Warnings**: a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy field the sandbox stores but does not
  enforce (:func:`..dataplane.cilium.rules.not_emulated`) gets a Warning event ``NotEmulated`` on the policy,
  naming the field.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..dataplane.cilium import identity, rules
from ..dataplane.cilium.labels import K8S, cluster_name, pod_labels
from ..errors import ApiError
from ..store import Event
from . import Controller, Key, same_key
from .events import warn_not_emulated

if TYPE_CHECKING:
    from ..instance import Sandbox

Obj = dict[str, Any]
AGENT = "cilium-agent"
CNP, CCNP = "ciliumnetworkpolicies.cilium.io", "ciliumclusterwidenetworkpolicies.cilium.io"


def controllers(sb: Sandbox) -> list[Controller]:
    """The agent's endpoint and identity writers, and the policies' warnings (only in a Cilium cluster)."""
    if sb.cni != "cilium":
        return []

    def every_pod(sb: Sandbox, event: Event) -> Iterable[Key]:
        return [(p["metadata"].get("namespace", "default"), p["metadata"]["name"]) for p in sb.store.list("pods")]

    def namespace_pods(sb: Sandbox, event: Event) -> Iterable[Key]:
        ns = event.obj["metadata"]["name"]
        return [(ns, p["metadata"]["name"]) for p in sb.store.list("pods", ns)]

    return [Controller("cilium-endpoints", reconcile_endpoint, {
                "pods": same_key, "namespaces": namespace_pods, "networkpolicies.networking.k8s.io": every_pod,
                CNP: every_pod, CCNP: every_pod}),
            Controller("cilium-policy-warnings", reconcile_warnings, {CNP: same_key, CCNP: same_key})]


def reconcile_endpoint(sb: Sandbox, key: Key) -> float | None:
    ns, name = key
    pod = sb.store.get("pods", ns, name)
    cep = sb.store.get(identity.ENDPOINTS, ns, name)
    rt = sb.registry.lookup("cilium.io", "v2", "ciliumendpoints")
    if rt is None:
        return None
    ip = ((pod or {}).get("status") or {}).get("podIP")
    if pod is None or pod["spec"].get("hostNetwork") or not ip or pod["metadata"].get("deletionTimestamp") or \
            (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        if cep is not None:
            sb.api.delete(rt, ns, name, _delete_options())
        if pod is not None:
            identity.forget(sb, pod["metadata"].get("uid", ""))
        return None
    ns_obj = sb.store.get("namespaces", "", ns) or {}
    labels = pod_labels(pod, (ns_obj.get("metadata") or {}).get("labels") or {}, cluster_name(sb.store))
    number = identity.identity_of(sb, labels)
    ensure_identity(sb, number, labels)
    engine = sb.dataplane.policy
    ingress, egress = enforcement(sb, engine, pod)
    label_list = sorted(f"{s}:{k}={v}" for s, k, v in labels)
    node = pod["spec"].get("nodeName", "")
    node_obj = sb.store.get("nodes", "", node) or {}
    node_ip = next((a["address"] for a in (node_obj.get("status") or {}).get("addresses") or []
                    if a.get("type") == "InternalIP"), "")
    container = next(iter((pod.get("status") or {}).get("containerStatuses") or []), {})
    status: Obj = {
        "encryption": {},
        "external-identifiers": {
            "cni-attachment-id": f"{container.get('containerID', '').rpartition('/')[2]}:eth0",
            "container-id": container.get("containerID", "").rpartition("/")[2],
            "k8s-namespace": ns, "k8s-pod-name": name, "pod-name": f"{ns}/{name}"},
        "id": identity.endpoint_id(sb, pod),
        "identity": {"id": number, "labels": label_list},
        "networking": {"addressing": [{"ipv4": ip}], "node": node_ip},
        "policy": {"egress": {"enforcing": egress, "state": "enforcing" if egress else "non-enforcing"},
                   "ingress": {"enforcing": ingress, "state": "enforcing" if ingress else "non-enforcing"}},
        "state": "ready"}
    ports = [{"name": p["name"], "port": int(p["containerPort"]), "protocol": p.get("protocol") or "TCP"}
             for c in pod["spec"].get("containers") or [] for p in c.get("ports") or [] if p.get("name")]
    if ports:
        status["named-ports"] = ports
    opts = WriteOptions(field_manager=AGENT)
    owner = [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": pod["metadata"]["uid"]}]
    if cep is not None and not any(r.get("uid") == pod["metadata"]["uid"]
                                   for r in cep["metadata"].get("ownerReferences") or []):
        sb.api.delete(rt, ns, name, _delete_options())  # the endpoint of an earlier pod of that name
        cep = None
    if cep is None:
        sb.api.create(rt, ns, {"metadata": {"name": name, "ownerReferences": owner}, "status": status}, opts)
    elif cep.get("status") != status:
        updated = copy.deepcopy(cep)
        updated["status"] = status
        sb.api.update(rt, ns, name, updated, opts)
    return None


def enforcement(sb: Sandbox, engine: Any, pod: Obj) -> tuple[bool, bool]:
    """Whether the pod's endpoint is enforced for ingress and egress (a Cilium rule or a NetworkPolicy)."""
    if not hasattr(engine, "rules"):
        return False, False
    mode = engine.enforcement_mode()  # enable-policy: never enforces nothing, always everything
    if mode != "default":
        return mode == "always", mode == "always"
    ep = engine.endpoint(pod)
    peer = engine.k8s.peer(pod, None)
    out = []
    for direction, kind in ((rules.INGRESS, "Ingress"), (rules.EGRESS, "Egress")):
        cil = any(rules.enforces(r, direction) for r in engine.rules().selecting(ep))
        out.append(cil or bool(engine.k8s.policies().selecting(peer, kind)))
    return out[0], out[1]


def ensure_identity(sb: Sandbox, number: int, labels: frozenset[tuple[str, str, str]]) -> None:
    """The CiliumIdentity object of a number, created when missing."""
    if sb.store.get(identity.IDENTITIES, "", str(number)) is not None:
        return
    rt = sb.registry.lookup("cilium.io", "v2", "ciliumidentities")
    if rt is None:
        return
    meta_labels = {k: v for s, k, v in sorted(labels) if s == K8S}
    body = {"metadata": {"name": str(number), "labels": meta_labels},
            "security-labels": identity.security_labels(labels)}
    opts = WriteOptions(field_manager=AGENT)
    try:
        sb.api.create(rt, "", body, opts)
    except ApiError as exc:
        if exc.code == 409:
            return
        if exc.code != 422:
            raise
        body["metadata"]["labels"] = {k: v for k, v in meta_labels.items() if len(k) <= 63 and "/" not in k}
        sb.api.create(rt, "", body, opts)


def reconcile_warnings(sb: Sandbox, key: Key) -> float | None:
    """A Warning event naming each field of the policy that the sandbox does not enforce (once per generation)."""
    ns, name = key
    obj = sb.store.get(CNP, ns, name) if ns else sb.store.get(CCNP, "", name)
    if obj is None:
        return None
    kind = "CiliumNetworkPolicy" if ns else "CiliumClusterwideNetworkPolicy"
    warn_not_emulated(sb, {**obj, "apiVersion": "cilium.io/v2", "kind": kind}, rules.not_emulated(obj), AGENT)
    return None


def _delete_options() -> Any:
    from ..options import DeleteOptions

    return DeleteOptions()
