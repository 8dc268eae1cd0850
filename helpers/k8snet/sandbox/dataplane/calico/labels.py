"""What Calico's policies match on: a pod's workload endpoint labels, its profiles' labels, network sets.

libcalico-go's Kubernetes conversion (lib/backend/k8s/conversion, v3.32.1) gives each pod's workload endpoint
its own labels plus ``projectcalico.org/namespace``, ``projectcalico.org/orchestrator: k8s`` and
``projectcalico.org/serviceaccount`` (workload_endpoint_default.go), and two profiles whose labels the endpoint
inherits: ``kns.<namespace>`` with each namespace label under ``pcns.`` and ``pcns.projectcalico.org/name``
(NamespaceToProfile), ``ksa.<namespace>.<serviceaccount>`` with each service account label under ``pcsa.`` and
``pcsa.projectcalico.org/name`` (ServiceAccountToProfile). The ``kns`` profile allows everything both ways: what
no tier decides is allowed.

A NetworkSet (namespaced) or GlobalNetworkSet gives addresses labels: an address in one of its ``nets`` matches a
selector that matches the set's labels (a NetworkSet's also carry ``projectcalico.org/namespace`` and its
namespace's ``pcns.`` labels, as the networkset update processor gives them the ``kns`` profile).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE = "projectcalico.org/namespace"
SERVICE_ACCOUNT = "projectcalico.org/serviceaccount"
ORCHESTRATOR = "projectcalico.org/orchestrator"
NAME = "projectcalico.org/name"
NS_PREFIX, SA_PREFIX = "pcns.", "pcsa."


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection as felix sees it: a workload endpoint (a pod), or an address with the label sets
    of the network sets that hold it (none: a bare address)."""

    ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None
    name: str | None = None
    node: str | None = None
    ports: tuple[tuple[str, int, str], ...] = ()
    sets: tuple[Mapping[str, str], ...] = ()  # labels of each network set whose nets hold the address

    @property
    def is_pod(self) -> bool:
        return self.name is not None

    def label_sets(self) -> tuple[Mapping[str, str], ...]:
        """What a selector is matched against: the endpoint's labels, or each network set's."""
        return (self.labels,) if self.is_pod else self.sets

    def named_port(self, name: str, protocol: str) -> int | None:
        return next((p for n, p, proto in self.ports if n == name and proto == protocol), None)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.is_pod else self.ip


def pod_labels(pod: Mapping[str, Any], namespace_labels: Mapping[str, str],
               sa_labels: Mapping[str, str]) -> dict[str, str]:
    """The workload endpoint's labels with its profiles' (see the module's docstring)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    ns = meta.get("namespace", "default")
    sa = spec.get("serviceAccountName") or "default"
    out = {NS_PREFIX + k: str(v) for k, v in namespace_labels.items()}
    out[NS_PREFIX + NAME] = ns
    out.update({SA_PREFIX + k: str(v) for k, v in sa_labels.items()})
    out[SA_PREFIX + NAME] = sa
    out.update({k: str(v) for k, v in (meta.get("labels") or {}).items()})
    out.update({NAMESPACE: ns, ORCHESTRATOR: "k8s", SERVICE_ACCOUNT: sa})
    return out


def set_labels(obj: Mapping[str, Any], namespace_labels: Mapping[str, str] | None) -> dict[str, str]:
    """A (Global)NetworkSet's labels, as selectors see them."""
    out = {k: str(v) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items()}
    ns = (obj.get("metadata") or {}).get("namespace")
    if ns:
        out.update({NS_PREFIX + k: str(v) for k, v in (namespace_labels or {}).items()})
        out[NS_PREFIX + NAME] = ns
        out[NAMESPACE] = ns
    return out


def in_nets(ip: str, nets: Iterable[str]) -> bool:
    """Whether ``ip`` is in one of ``nets`` (CIDRs, or addresses meaning /32)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for net in nets:
        try:
            if address in ipaddress.ip_network(str(net), strict=False):
                return True
        except ValueError:
            continue
    return False
