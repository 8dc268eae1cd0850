"""Is NetworkPolicy enforced here? A canary that asks the data plane, not the API.

kindnet's policy engine silently does nothing on some hosts (WSL2's kernel
rejects its nftables rules: kubernetes-sigs/kind#3705, #3789), and a brand-new
pod may be reachable for a moment before its rules land. The API accepts a
NetworkPolicy either way, so the only honest test is traffic: a server pod, a
client pod, a probe that connects, then a deny-all ingress policy and a probe
that must now fail. It runs through the Kubernetes API and :mod:`k8snet.traffic`
only, so the same code checks the sandbox and kind; ``k8snet kind up``,
``k8snet doctor`` and the policy lesson call it.

Example:
    >>> result = k8snet.policy.enforcement_check(cluster)
    >>> result.enforced
    True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from . import traffic

if TYPE_CHECKING:
    from .cluster import Cluster

NAMESPACE = "k8snet-canary"
SERVER = "canary-server"
CLIENT = "canary-client"
PORT = 8080
POLICY = "canary-deny-all-ingress"

KIND_FIX = (
    "kindnet did not block traffic that a deny-all policy forbids. The usual cause is a host kernel without the "
    "nftables features kindnet's policy engine uses (conntrack state and queue: nft_ct, nft_queue / "
    "nfnetlink_queue); WSL2's default kernel is the known case (kubernetes-sigs/kind#3705, #3789). Look for "
    "\"error syncing nftables rules\" in `kubectl -n kube-system logs -l app=kindnet`. Fixes: run kind on a "
    "Linux host or VM, or use a WSL2 kernel built with those options; until then the policy lesson's results "
    "on this cluster are wrong: use the sandbox for it (`k8snet.connect(\"sandbox\")`).")
SANDBOX_FIX = (
    "the sandbox's policy engine let through traffic a deny-all policy forbids: that is a bug in k8snet's sandbox. "
    "Please report it with the output of `k8snet doctor`; meanwhile the policy lesson's matrices are wrong here.")
BROKEN_FIX = ("the probe failed before any policy existed, so pod networking itself is broken: check "
              "`kubectl get pods -A` for pods that are not Running and the CNI's logs "
              "(`kubectl -n kube-system logs -l app=kindnet` on kind).")


@dataclass
class CanaryResult:
    """The verdict: ``enforced`` True, False, or None when the check could not decide."""

    enforced: bool | None
    backend: str
    detail: str
    fix: str | None = None
    probes: list[traffic.Probe] = field(default_factory=list)
    waited_s: float = 0.0

    @property
    def verdict(self) -> str:
        return {True: "enforced", False: "NOT enforced", None: "inconclusive"}[self.enforced]

    def __str__(self) -> str:
        text = f"NetworkPolicy on {self.backend}: {self.verdict}. {self.detail}"
        return text + (f"\n  fix: {self.fix}" if self.fix else "")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {True: "#1E8449", False: "#C0392B", None: "#B9770E"}[self.enforced]
        fix = f"<p><b>Fix:</b> {escape(self.fix)}</p>" if self.fix else ""
        return (f"<p><b style='color:{colour}'>NetworkPolicy on {escape(self.backend)}: {self.verdict}</b> "
                f"&mdash; {escape(self.detail)}</p>{fix}")


def _server_pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": SERVER, "namespace": NAMESPACE, "labels": {"app": SERVER, "role": "server"}},
            "spec": {"containers": [{"name": "agnhost", "image": traffic.AGNHOST,
                                     "args": ["netexec", f"--http-port={PORT}"],
                                     "ports": [{"containerPort": PORT, "name": "http"}]}]}}


def deny_all_ingress() -> dict:
    """A policy selecting the server pod with no ingress rule: every inbound connection is dropped."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": POLICY, "namespace": NAMESPACE},
            "spec": {"podSelector": {"matchLabels": {"app": SERVER}}, "policyTypes": ["Ingress"]}}


def policy_enforcement_check(cluster: Cluster, settle: float = 30, keep: bool = False,
                             pod_timeout: float = 180) -> CanaryResult:
    """Run the canary in namespace ``k8snet-canary`` (recreated fresh) and return the verdict.

    Args:
        cluster: a connected cluster, either backend.
        settle: seconds to keep probing after the policy is applied before calling it not enforced
            (kindnet may need a moment for brand-new pods).
        keep: leave the namespace in place to look at it (it is deleted otherwise).
        pod_timeout: seconds to wait for the two pods to be Ready (image pulls on kind).
    """
    cluster.recreate_namespace(NAMESPACE)
    try:
        cluster.apply(_server_pod())
        client = traffic.ensure_client(cluster, NAMESPACE, CLIENT, timeout=pod_timeout)
        server = cluster.wait_pod_ready(SERVER, NAMESPACE, pod_timeout)
        ip = server["status"]["pod_ip"]
        before = traffic.connect(cluster, client, ip, PORT)
        if not before.connected:
            return CanaryResult(None, cluster.backend,
                                f"the client could not reach the server ({ip}:{PORT}) even without a policy: "
                                f"{before.reason}", BROKEN_FIX, [before])
        cluster.apply(deny_all_ingress())
        start = time.monotonic()
        probes = [before]
        while True:
            probe = traffic.connect(cluster, client, ip, PORT)
            probes.append(probe)
            waited = time.monotonic() - start
            if not probe.connected:
                return CanaryResult(True, cluster.backend,
                                    f"a deny-all ingress policy blocked the probe ({probe.reason}); before it, "
                                    "the probe connected.", None, probes, waited)
            if waited >= settle:
                break
            time.sleep(0.2)
        hint = _kindnet_errors(cluster)
        fix = SANDBOX_FIX if cluster.backend == "sandbox" else KIND_FIX
        detail = (f"the probe still connected to {ip}:{PORT} {waited:.0f}s after a deny-all ingress policy "
                  f"selected the server ({len(probes) - 1} tries).")
        if hint:
            detail += f" kindnet logged: {hint}"
        return CanaryResult(False, cluster.backend, detail, fix, probes, waited)
    finally:
        if not keep:
            cluster.delete("Namespace", NAMESPACE)


def _kindnet_errors(cluster: Cluster) -> str | None:
    """The first nftables error line in kindnet's logs, when the cluster runs kindnet."""
    try:
        pods = cluster.core.list_namespaced_pod("kube-system", label_selector="app=kindnet").items
    except Exception:  # diagnosis only: never let it hide the verdict
        return None
    for pod in pods:
        try:
            log = cluster.core.read_namespaced_pod_log(pod.metadata.name, "kube-system", tail_lines=400)
        except Exception:
            continue
        for line in (log or "").splitlines():
            if "nftables" in line and "error" in line.lower():
                return line.strip()[:300]
    return None
