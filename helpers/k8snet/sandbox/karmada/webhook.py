"""karmada-webhook's admission of policies, called where the karmada-apiserver calls it.

Mutating (pkg/webhook/propagationpolicy/mutating.go, clusterpropagationpolicy/mutating.go): a selector without a
namespace takes the policy's (PropagationPolicy only); ``replicaScheduling`` of type Divided without a division
preference gets ``Weighted`` (helper.SetReplicaDivisionPreferenceWeighted); on CREATE the policy gets its
permanent-id label (a new UUID) and the policy controller's finalizer.

Validating: Karmada accepts every placement its API describes; the sandbox's scheduler does not do them all
(:func:`.division.unsupported`), nor failover, suspension or dependency propagation, so a policy that asks for
them is admitted with a Warning naming each (kubectl prints ``Warning: …``), and the scheduler refuses the
binding with a Warning event.
"""

from __future__ import annotations

from typing import Any

from ..admission import Request, Verdict, Webhook
from . import division

NAME = "propagationpolicy.karmada.io"
GROUP = "policy.karmada.io"
PP_ID_LABEL = "propagationpolicy.karmada.io/permanent-id"
CPP_ID_LABEL = "clusterpropagationpolicy.karmada.io/permanent-id"
PP_FINALIZER = "karmada.io/propagation-policy-controller"
CPP_FINALIZER = "karmada.io/cluster-propagation-policy-controller"
NOT_EMULATED_SPEC = {"failover": "spec.failover (application and cluster failover)",
                     "suspension": "spec.suspension (dispatching suspension)",
                     "propagateDeps": "spec.propagateDeps (dependencies distributor)",
                     "dependentOverrides": "spec.dependentOverrides (OverridePolicies are not served)",
                     "activationPreference": "spec.activationPreference"}


def webhook() -> Webhook:
    return Webhook(NAME, frozenset({GROUP}), validate=validate, mutate=mutate)


def mutate(request: Request) -> None:
    """MutatingAdmission.Handle for PropagationPolicy and ClusterPropagationPolicy."""
    plural = request.rt.plural
    if plural not in ("propagationpolicies", "clusterpropagationpolicies") or request.subresource:
        return
    policy = request.obj
    spec = policy.get("spec")
    if not isinstance(spec, dict):
        return
    if plural == "propagationpolicies":
        ns = policy["metadata"].get("namespace", "")
        for selector in spec.get("resourceSelectors") or []:
            if isinstance(selector, dict) and not selector.get("namespace"):
                selector["namespace"] = ns
    rs = (spec.get("placement") or {}).get("replicaScheduling")
    if isinstance(rs, dict) and rs.get("replicaSchedulingType", division.DIVIDED) == division.DIVIDED \
            and not rs.get("replicaDivisionPreference"):
        rs["replicaDivisionPreference"] = division.WEIGHTED
    if request.operation == "CREATE":
        meta = policy["metadata"]
        label = PP_ID_LABEL if plural == "propagationpolicies" else CPP_ID_LABEL
        meta.setdefault("labels", {})[label] = request.api.new_uid()
        finalizer = PP_FINALIZER if plural == "propagationpolicies" else CPP_FINALIZER
        if finalizer not in (meta.get("finalizers") or []):
            meta["finalizers"] = [*(meta.get("finalizers") or []), finalizer]


def not_emulated(spec: dict[str, Any]) -> list[str]:
    """What a policy's spec asks for that the sandbox's Karmada does not do."""
    out = [f"placement.{m}" if not m.startswith("placement.") else m
           for m in division.unsupported(spec.get("placement"))]
    out += [what for field, what in NOT_EMULATED_SPEC.items() if spec.get(field)]
    return out


def validate(request: Request) -> Verdict:
    if request.rt.plural not in ("propagationpolicies", "clusterpropagationpolicies") or request.subresource:
        return Verdict()
    spec = request.obj.get("spec") or {}
    missing = not_emulated(spec)
    if request.rt.plural == "clusterpropagationpolicies":
        for selector in spec.get("resourceSelectors") or []:
            group = str(selector.get("apiVersion", "")).rpartition("/")[0]
            rt = request.api.registry.by_kind(group, str(selector.get("kind", "")))
            if rt is not None and not rt.namespaced:
                missing.append(f"ClusterResourceBinding (the cluster-scoped {rt.kind} selected by "
                               "spec.resourceSelectors is not propagated)")
    return Verdict(warnings=[f"not emulated by the k8snet sandbox's Karmada: {m}" for m in missing])
