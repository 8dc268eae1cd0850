"""What Calico's own components write in a cluster that runs Calico: the built-in tiers, and the sandbox's Warning
events about policy fields it does not emulate.

- **Tiers** ``default`` (order 1,000,000, defaultAction Deny), ``kube-admin`` (1,000, Pass) and ``kube-baseline``
  (10,000,000, Pass): libcalico-go clientv3 EnsureInitialized creates them when calico-node and
  calico-kube-controllers start (v3.32.1 client.go ensureTierExists); here at the sandbox's start, when missing.
- **Warnings**: a NetworkPolicy or GlobalNetworkPolicy field the sandbox stores but does not enforce
  (:func:`..dataplane.calico.rules.not_emulated`) gets a Warning event ``NotEmulated`` on the policy, naming the
  field (once per generation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..apiserver import WriteOptions
from ..dataplane.calico import rules
from ..dataplane.calico.validation import BUILTIN_TIERS, GROUP
from . import Controller, Key, same_key
from .events import warn_not_emulated

if TYPE_CHECKING:
    from ..instance import Sandbox

NP, GNP = f"networkpolicies.{GROUP}", f"globalnetworkpolicies.{GROUP}"
WRITER = "calico-kube-controllers"


def install(sb: Sandbox) -> None:
    """The built-in tiers, each created when the store lacks it (Calico clusters only)."""
    if sb.cni != "calico":
        return
    rt = sb.registry.lookup(GROUP, "v3", "tiers")
    if rt is None:
        return
    for name, (order, action) in BUILTIN_TIERS.items():
        if sb.store.get(rt.group_resource, "", name) is None:
            sb.api.create(rt, "", {"metadata": {"name": name}, "spec": {"order": order, "defaultAction": action}},
                          WriteOptions(field_manager=WRITER))


def controllers(sb: Sandbox) -> list[Controller]:
    """The policies' warnings (only in a Calico cluster)."""
    if sb.cni != "calico":
        return []
    return [Controller("calico-policy-warnings", reconcile_warnings, {NP: same_key, GNP: same_key})]


def reconcile_warnings(sb: Sandbox, key: Key) -> float | None:
    """A Warning event naming each field of the policy that the sandbox does not enforce (once per generation)."""
    ns, name = key
    obj = sb.store.get(NP, ns, name) if ns else sb.store.get(GNP, "", name)
    if obj is None:
        return None
    kind = "NetworkPolicy" if ns else "GlobalNetworkPolicy"
    warn_not_emulated(sb, {**obj, "apiVersion": f"{GROUP}/v3", "kind": kind}, rules.not_emulated(obj), "calico-node")
    return None
