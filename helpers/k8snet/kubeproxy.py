"""kube-proxy's rules on a node, read the way an administrator reads them.

A privileged pod on the node's network runs ``iptables-save -t nat`` (what ``kubectl debug node/NAME
--profile=sysadmin --image=nicolaka/netshoot`` does by hand), so the same code reads a kind node's real rules
and the sandbox's, which it generates from the tables its data plane routes with.

Example:
    >>> rules = kubeproxy.node_rules(cluster, "k8snet-worker")
    >>> print(kubeproxy.service_rules(rules, "lesson02", "web"))
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .cluster import Cluster
from .kind.versions import NETSHOOT_IMAGE as IMAGE
from .traffic import PodRef, exec_in


def node_rules(cluster: Cluster, node: str, table: str = "nat", namespace: str = "default",
               timeout: float = 60) -> str:
    """``iptables-save -t TABLE`` on ``node``, from a short-lived privileged host-network pod."""
    name = f"iptables-{node}"[:55] + f"-{int(time.time() * 1000) % 100000}"
    cluster.apply({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"k8snet/role": "node-reader"}},
        "spec": {"nodeName": node, "hostNetwork": True, "restartPolicy": "Never",
                 "tolerations": [{"operator": "Exists"}],
                 "containers": [{"name": "reader", "image": IMAGE, "command": ["sleep", "600"],
                                 "securityContext": {"privileged": True}}]}}, namespace=namespace)
    try:
        cluster.wait_pod_ready(name, namespace, timeout=timeout)
        out = exec_in(cluster, PodRef(namespace, name, "reader"), ["iptables-save", "-t", table], timeout=timeout)
        if out.exit_code:
            raise RuntimeError(f"iptables-save on {node} failed: {out.stderr.strip()}")
        return out.stdout
    finally:
        cluster.delete("Pod", name, namespace)


@dataclass
class ServiceRules:
    """The rules of one Service: its KUBE-SERVICES jumps, its Service chains and its endpoint chains."""

    lines: list[str]

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def _repr_pretty_(self, p, cycle: bool) -> None:  # noqa: ANN001  (IPython's printer)
        p.text(str(self))

    def picks(self) -> list[tuple[str, float | None]]:
        """(endpoint, probability of its rule) in chain order; None for the last rule, which takes the rest."""
        out = []
        for line in self.lines:
            m = re.search(r'--comment "[^"]* -> ([^"]+)"(?: -m statistic --mode random --probability ([0-9.]+))? '
                          r"-j KUBE-SEP-", line)
            if m and "--rcheck" not in line:
                out.append((m.group(1), float(m.group(2)) if m.group(2) else None))
        return out

    def shares(self) -> dict[str, float]:
        """Each endpoint's share of new connections: a rule sees what the rules before it left over."""
        left, out = 1.0, {}
        for endpoint, p in self.picks():
            share = left * (p if p is not None else 1.0)
            out[endpoint] = share
            left -= share
        return out


def service_rules(rules: str, namespace: str, service: str) -> ServiceRules:
    """The lines of ``iptables-save`` output that belong to a Service (found by the comment kube-proxy writes
    on each of its rules, then the chains those rules jump to)."""
    lines = [line for line in rules.splitlines() if line.startswith("-A ")]
    prefix = f"{namespace}/{service}"
    own = [line for line in lines if re.search(rf'--comment "{re.escape(prefix)}(:[^" ]+)?( |")', line)]
    chains = {m.group(1) for line in own for m in [re.search(r"-j (KUBE-(?:SVC|SVL|EXT|SEP)-\w+)", line)] if m}
    chains |= {line.split()[1] for line in own if re.match(r"-A KUBE-(SVC|SVL|EXT|SEP)-", line)}
    picked = [line for line in lines if line in own or line.split()[1] in chains]
    jumps = [m.group(1) for line in picked for m in [re.search(r"-j (KUBE-SEP-\w+)", line)] if m]
    sep_order = {name: jumps.index(name) for name in jumps}

    def rank(line: str) -> tuple[int, int]:
        chain = line.split()[1]
        if chain in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
            return (0 if chain == "KUBE-SERVICES" else 1, 0)
        if chain.startswith("KUBE-SEP-"):
            return (3, sep_order.get(chain, len(sep_order)))  # in the order the Service chain tries them
        return (2, 0)

    return ServiceRules(sorted(picked, key=rank))
