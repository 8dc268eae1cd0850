"""Cilium's view of a peer: its security labels, its identity, and how an EndpointSelector matches them.

- **Labels** (pkg/labels): each has a source, a key and a value, written ``source:key=value``. A pod's identity
  labels are its own labels under the ``k8s`` source, plus ``k8s:io.kubernetes.pod.namespace``,
  ``k8s:io.cilium.k8s.policy.serviceaccount``, ``k8s:io.cilium.k8s.policy.cluster`` and
  ``k8s:io.cilium.k8s.namespace.labels.<key>`` for each of its namespace's labels (pkg/k8s/utils
  GetPodMetadata/SanitizePodLabels). Labels that change per pod and would split identities are left out, as
  pkg/labelsfilter's defaults do (``pod-template-hash``, ``controller-revision-hash``,
  ``pod-template-generation``, ``statefulset.kubernetes.io/pod-name``).
- **Reserved identities** (pkg/identity/numericidentity.go): ``host`` 1, ``world`` 2, ``health`` 4, ``init`` 5,
  ``remote-node`` 6, ``kube-apiserver`` 7; each carries the label ``reserved:<name>``. kind's clusters are IPv4
  only, so outside addresses are ``world`` (2), not ``world-ipv4``.
- **Selectors** (pkg/policy/api/selector.go): a Kubernetes LabelSelector whose keys may carry a source prefix;
  ``k8s:app`` matches the ``k8s`` label ``app`` only, a bare ``app`` (source ``any``) matches ``app`` from any
  source.
- **Entities** (pkg/policy/api/entity.go EntitySelectorMapping): ``all``; ``world``; ``cluster`` (every identity
  that is not world: pods, ``host``, ``remote-node``, ``kube-apiserver``, ``health``, ``init``); ``host``;
  ``remote-node``; ``kube-apiserver``; ``health``, ``init``, ``ingress``, ``unmanaged`` (none of which the sandbox
  has).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

Label = tuple[str, str, str]  # (source, key, value)

K8S, RESERVED, ANY = "k8s", "reserved", "any"
NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
SERVICE_ACCOUNT_LABEL = "io.cilium.k8s.policy.serviceaccount"
CLUSTER_LABEL = "io.cilium.k8s.policy.cluster"
NAMESPACE_LABELS_PREFIX = "io.cilium.k8s.namespace.labels."
CLUSTER_NAME = "default"
"""Cilium's ``cluster-name`` (the chart's default; cilium-config in kind/manifests/cilium.yaml)."""

RESERVED_IDS = {"host": 1, "world": 2, "unmanaged": 3, "health": 4, "init": 5, "remote-node": 6,
                "kube-apiserver": 7, "ingress": 8}
"""pkg/identity/numericidentity.go ReservedIdentity*."""
RESERVED_NAMES = {v: k for k, v in RESERVED_IDS.items()}

FILTERED = ("pod-template-hash", "controller-revision-hash", "pod-template-generation",
            "statefulset.kubernetes.io/pod-name")
"""Pod labels pkg/labelsfilter leaves out of identities by default."""

ENTITIES = ("all", "world", "cluster", "host", "init", "ingress", "unmanaged", "remote-node", "health", "none",
            "kube-apiserver")


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection as Cilium's policy sees it: a pod's endpoint, or a reserved identity."""

    ip: str
    labels: frozenset[Label]
    identity: int = 0
    namespace: str | None = None
    name: str | None = None
    node: str | None = None
    ports: tuple[tuple[str, int, str], ...] = ()
    endpoint_id: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def is_pod(self) -> bool:
        return self.name is not None and not self.reserved

    @cached_property
    def reserved(self) -> frozenset[str]:
        return frozenset(k for s, k, _ in self.labels if s == RESERVED)

    def __str__(self) -> str:
        if self.is_pod:
            return f"{self.namespace}/{self.name}"
        return f"{'/'.join(sorted(self.reserved)) or 'world'} ({self.ip})"

    def named_port(self, name: str, protocol: str) -> int | None:
        return next((p for n, p, proto in self.ports if n == name and proto in (protocol, "ANY")), None)

    def label_strings(self) -> list[str]:
        """``source:key=value`` (``reserved:host``), sorted, as ``cilium-dbg`` and Hubble print them."""
        return sorted(f"{s}:{k}={v}" if v or s != RESERVED else f"{s}:{k}" for s, k, v in self.labels)


def cluster_name(store: Any) -> str:
    """cilium-config's ``cluster-name`` (the chart's ``default`` when unset): the value of every local endpoint's
    ``io.cilium.k8s.policy.cluster`` label."""
    cm = store.get("configmaps", "kube-system", "cilium-config") or {}
    return str((cm.get("data") or {}).get("cluster-name") or CLUSTER_NAME)


def pod_labels(pod: Mapping[str, Any], namespace_labels: Mapping[str, str],
               cluster: str = CLUSTER_NAME) -> frozenset[Label]:
    """The security labels of a pod's endpoint (see the module's docstring), in the cluster named ``cluster``."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    out = {(K8S, k, str(v)) for k, v in (meta.get("labels") or {}).items() if k not in FILTERED}
    out.add((K8S, NAMESPACE_LABEL, meta.get("namespace", "default")))
    out.add((K8S, SERVICE_ACCOUNT_LABEL, spec.get("serviceAccountName") or "default"))
    out.add((K8S, CLUSTER_LABEL, cluster))
    out |= {(K8S, NAMESPACE_LABELS_PREFIX + k, str(v)) for k, v in namespace_labels.items()}
    return frozenset(out)


def reserved(*names: str) -> frozenset[Label]:
    return frozenset((RESERVED, n, "") for n in names)


def parse_key(key: str) -> tuple[str, str]:
    """``k8s:app`` → (k8s, app); ``app`` → (any, app) (pkg/labels ParseSelectLabel)."""
    source, sep, rest = key.partition(":")
    if sep and source in (K8S, RESERVED, ANY, "container", "cidr", "fqdn", "unspec", "cilium-generated"):
        return source, rest
    return ANY, key


def _values(labels: Iterable[Label], key: str) -> list[str]:
    source, name = parse_key(key)
    return [v for s, k, v in labels if k == name and (source == ANY or s == source)]


def selector_matches(selector: Mapping[str, Any] | None, labels: Iterable[Label]) -> bool:
    """A Cilium EndpointSelector against a set of labels (matchLabels and matchExpressions all hold)."""
    labels = list(labels)
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if str(value if value is not None else "") not in _values(labels, key):
            return False
    for expr in selector.get("matchExpressions") or []:
        found = _values(labels, expr.get("key", ""))
        op, values = expr.get("operator"), [str(v) for v in expr.get("values") or []]
        if op == "In" and not any(v in values for v in found):
            return False
        if op == "NotIn" and any(v in values for v in found):
            return False
        if op == "Exists" and not found:
            return False
        if op == "DoesNotExist" and found:
            return False
    return True


def selector_keys(selector: Mapping[str, Any] | None) -> set[str]:
    selector = selector or {}
    return set(selector.get("matchLabels") or {}) | {e.get("key", "") for e in selector.get("matchExpressions") or []}


def names_namespace(selector: Mapping[str, Any] | None) -> bool:
    return any(parse_key(k)[1] == NAMESPACE_LABEL for k in selector_keys(selector))


def names_reserved(selector: Mapping[str, Any] | None) -> bool:
    return any(parse_key(k)[0] == RESERVED for k in selector_keys(selector))


def names_cluster(selector: Mapping[str, Any] | None) -> bool:
    return any(parse_key(k)[1] == CLUSTER_LABEL for k in selector_keys(selector))


def peer_selector_matches(selector: Mapping[str, Any] | None, policy_ns: str | None, peer: Endpoint) -> bool:
    """fromEndpoints/toEndpoints: a CiliumNetworkPolicy's selector that names no namespace (and no reserved label)
    selects endpoints of the policy's own namespace only (pkg/k8s/apis/cilium.io/utils ParseToCiliumRule adds
    ``k8s:io.kubernetes.pod.namespace``); a clusterwide policy's does not. Selectors without reserved labels select
    endpoints (pods), never the reserved identities. In a Cluster Mesh, a selector that names no cluster selects the
    local cluster's endpoints only: ``policy-default-local-cluster``, on by default since Cilium 1.19
    (Documentation/operations/upgrade.rst "Preparing for a policy-default-local-cluster change"); an endpoint of
    another cluster (``extra["cluster"]``) needs ``io.cilium.k8s.policy.cluster`` in the selector."""
    if names_reserved(selector):
        return selector_matches(selector, peer.labels)
    if not peer.is_pod:
        return False
    if peer.extra.get("cluster") and not names_cluster(selector):
        return False
    if policy_ns and not names_namespace(selector) and peer.namespace != policy_ns:
        return False
    return selector_matches(selector, peer.labels)


def entity_matches(entity: str, peer: Endpoint) -> bool:
    """fromEntities/toEntities (see the module's docstring)."""
    kinds = peer.reserved
    if entity == "all":
        return True
    if entity == "world":
        return "world" in kinds
    if entity == "cluster":
        return "world" not in kinds
    if entity in ("host", "remote-node", "kube-apiserver", "health", "init", "ingress", "unmanaged"):
        return entity in kinds
    return False
