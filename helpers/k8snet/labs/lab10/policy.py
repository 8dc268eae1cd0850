"""Lab 10, exercise 3 (policy): onprem's payments takes cloud's checkout and nobody else, past a NetworkPolicy whose
selector, naming no cluster, selects onprem's pods only (policy-default-local-cluster, Cilium 1.19+)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import traffic
from ...cni import hubble
from ...sandbox.selectors import match_label_selector
from ...table import Table
from ...traffic import PodRef
from .. import Hint
from ..lab08 import Answer, ask
from ..lab09 import line, rules_words, settle
from .common import ensure_mesh, need_mesh, need_pair, need_pods, ready_pods, start

if TYPE_CHECKING:
    from ...cluster import Cluster

PAYMENTS = "http://payments/hostname"


def setup_policy(onprem: Cluster, ns: str, cloud: Cluster) -> None:
    need_pair(cloud, onprem, "policy")
    ensure_mesh(cloud, onprem)
    start(onprem, "policy", ns, kinds=("Deployment", "Service", "Pod"))
    start(cloud, "policy", ns)
    traffic.wait_answered(cloud, PodRef(ns, "checkout"), PAYMENTS, ready_pods(onprem, ns, "payments"), n=1,
                          timeout=60)  # cloud's global Service payments has onprem's pods
    start(onprem, "policy", ns, kinds=("NetworkPolicy",))
    settle(onprem, ns)


def policy_calls(cloud: Cluster, onprem: Cluster, ns: str = "lab10-policy") -> list[Answer]:
    """What the check sends: cloud's checkout, cloud's intruder and onprem's reports, each to http://payments/."""
    out = []
    for cluster, pod in ((cloud, "checkout"), (cloud, "intruder"), (onprem, "reports")):
        answer = ask(cluster, ns, pod, PAYMENTS)
        answer.caller = f"{cluster.name}'s {pod}"
        out.append(answer)
    return out


def calls_table(answers: list[Answer]) -> Table:
    """Who sent what, and what came back."""
    return Table(["FROM", "REQUEST", "ANSWER"], [[a.caller, f"{a.method} {a.url}", a.reason] for a in answers])


def _netpol_words(onprem: Cluster, ns: str, labels: dict[str, str]) -> list[str]:
    """The namespace's Kubernetes NetworkPolicies that isolate a pod with ``labels`` for ingress, in a few words."""
    words = []
    for np in onprem.get("NetworkPolicy", namespace=ns, api_version="networking.k8s.io/v1"):
        spec = np.get("spec") or {}
        types = spec.get("policyTypes") or ["Ingress"]
        if "Ingress" not in types or not match_label_selector(spec.get("podSelector") or {}, labels):
            continue
        peers = []
        for rule in spec.get("ingress") or []:
            for peer in rule.get("from") or [{}]:
                sel = (peer.get("podSelector") or {}).get("matchLabels")
                peers.append("pods " + ", ".join(f"{k}={v}" for k, v in sel.items()) if sel else
                             "anything" if not peer else "peers " + ", ".join(peer))
        words.append(f"NetworkPolicy {np['metadata']['name']}: from {', '.join(peers) or 'nothing (deny all)'}")
    return words


def policy_words(onprem: Cluster, ns: str) -> str:
    """onprem's policies for payments' ingress: its NetworkPolicies and CiliumNetworkPolicies, in a few words."""
    payments = [p for p in onprem.get("Pod", namespace=ns)
                if (p["metadata"].get("labels") or {}).get("app") == "payments"]
    if not payments:
        return "No payments pod runs in onprem."
    knp = _netpol_words(onprem, ns, payments[0]["metadata"].get("labels") or {})
    cnp = rules_words(onprem, ns, payments[0]["metadata"]["name"], "ingress")
    if not knp and cnp.startswith("No CiliumNetworkPolicy"):
        return "No policy in onprem selects payments for ingress."
    return " ".join([". ".join(knp) + "." if knp else "", "" if cnp.startswith("No ") else cnp]).strip()


def _cluster_of(labels: list[str]) -> str:
    return next((label.split("=", 1)[1] for label in labels if label.startswith("k8s:io.cilium.k8s.policy.cluster=")),
                "?")


def _last_drops(onprem: Cluster, ns: str) -> dict[str, hubble.Flow]:
    """onprem's Hubble: the last dropped connection to payments' port from each source, by source."""
    out: dict[str, hubble.Flow] = {}
    for f in hubble.flows(onprem, namespace=ns, verdict="DROPPED", last=100):
        if f.destination_port == 8080 and f.destination.startswith(f"{ns}/payments-"):
            out.pop(f.source, None)
            out[f.source] = f
    return out


def _denied_by(f: hubble.Flow) -> str:
    return ", ".join(p.get("name", "") for p in f.raw.get("ingress_denied_by") or [])


def drops(onprem: Cluster, ns: str, pod: str) -> str:
    """onprem's Hubble on the last drop of ``pod``'s connections to payments, with the policies that denied it."""
    f = _last_drops(onprem, ns).get(f"{ns}/{pod}")
    if f is None:
        return ""
    denied = _denied_by(f)
    return (f"{f.source} (cluster {_cluster_of(f.source_labels)}) -> {f.destination}:{f.destination_port} "
            f"{f.type} {f.verdict}" + (f", denied by {denied}" if denied else ""))


def drops_table(onprem: Cluster, ns: str = "lab10-policy") -> Table:
    """onprem's Hubble: the last dropped connection to payments from each source, with its cluster and the
    policies that denied it (``hubble observe --verdict DROPPED``, the flows' ``ingress_denied_by``)."""
    rows = [[f.source, _cluster_of(f.source_labels), f"{f.destination}:{f.destination_port}",
             f"{f.type} {f.verdict}", _denied_by(f)] for f in _last_drops(onprem, ns).values()]
    return Table(["SOURCE", "CLUSTER", "DESTINATION", "VERDICT", "DENIED BY"], rows,
                 caption="onprem's hubble observe --verdict DROPPED, the last drop from each source")


def check_policy(onprem: Cluster, ns: str, cloud: Cluster) -> str:
    need_pods(cloud, ns, "checkout", "intruder")
    need_pods(onprem, ns, "reports")
    need_mesh(cloud, onprem, ns)
    settle(onprem, ns)
    checkout, intruder, reports = answers = policy_calls(cloud, onprem, ns)
    said = ". ".join(map(line, answers)) + "."
    policies = policy_words(onprem, ns)
    if not checkout.ok:
        seen = drops(onprem, ns, "checkout")
        if checkout.exit_code == 28 and seen:
            raise Hint(f"{said} cloud's checkout is dropped at payments' door in onprem; onprem's Hubble: {seen}. "
                       f"{policies} Since Cilium 1.19 (policy-default-local-cluster), a selector that names no "
                       "cluster selects pods of its own cluster only: app=checkout means onprem's checkout pods, and "
                       "onprem has none. A selector names a cluster with Cilium's label io.cilium.k8s.policy.cluster "
                       "(Cilium reads it in a NetworkPolicy's podSelector and in a CiliumNetworkPolicy's "
                       "fromEndpoints).")
        raise Hint(f"{said} cloud's checkout does not reach payments. {policies}")
    if intruder.status is not None:
        raise Hint(f"{said} cloud's intruder gets in too: a rule lets in more of cloud than its checkout pods. "
                   f"{policies}")
    if reports.status is not None:
        raise Hint(f"{said} onprem's own reports gets in: payments should take cloud's checkout and nobody else. "
                   f"{policies}")
    seen = [s for s in (drops(onprem, ns, "intruder"), drops(onprem, ns, "reports")) if s]
    return (f"cloud's checkout gets {checkout.reason.replace(': ', ' from ')}; cloud's intruder and onprem's "
            f"reports time out, dropped at payments in onprem" + (f" (Hubble: {'; '.join(seen)})." if seen else "."))


def after_policy(onprem: Cluster, ns: str, cloud: Cluster) -> None:
    """The solution replaces the NetworkPolicy: it selected nobody there is, and would mislead its next reader."""
    onprem.delete("NetworkPolicy", "payments-from-checkout", ns, api_version="networking.k8s.io/v1")
