"""Connectivity matrices for NetworkPolicy lessons: measured through exec, predicted from the policies.

``measure`` probes every (source, target, port, protocol) cell with
``/agnhost connect`` from inside the source pod, in parallel, as the upstream
e2e network policy suite does. ``predict`` computes the same matrix offline
from the cluster's NetworkPolicies, Pods and Namespaces with
:mod:`k8snet.netpol`. ``expect`` is a matrix written by hand. Comparing a
measured matrix with an expectation shows what the cluster really does; on
kind, a measured matrix that differs from the predicted one is how a learner
discovers policies that are not enforced.

Targets are ``"ns/pod"`` (probed at the pod's IP) or ``"svc:ns/name"``
(probed at the Service's ClusterIP, so kube-proxy picks an endpoint first).

Example:
    >>> m = policy.measure(cluster, ["x/a", "x/b"], ["x/a"], ports=[80])
    >>> print(m.compare(policy.expect(["x/a", "x/b"], ["x/a"], ports=[80]).set("x/b", "x/a", False)))
    0 wrong, 2 correct
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes import client

from .netpol import Peer, PolicySet, Verdict, pod_peer
from .traffic import PodRef, default_container, exec_many

if TYPE_CHECKING:
    from .canary import CanaryResult
    from .cluster import Cluster

Obj = dict[str, Any]
Key = tuple[str, str, int, str]  # source, target, port, protocol


@dataclass
class Cell:
    """One probe's outcome: allowed (True), blocked (False) or partial (None: only some endpoints)."""

    allowed: bool | None
    reason: str = ""


@dataclass
class Comparison:
    """Cells where a matrix differs from an expectation."""

    wrong: list[tuple[Key, Cell, bool | None]]
    correct: int

    @property
    def ok(self) -> bool:
        return not self.wrong

    def __len__(self) -> int:
        return len(self.wrong)

    def __str__(self) -> str:
        lines = [f"{len(self.wrong)} wrong, {self.correct} correct"]
        for (src, dst, port, proto), got, want in self.wrong:
            lines.append(f"  {src} → {dst} {port}/{proto}: expected {_word(want)}, got {_word(got.allowed)}"
                         + (f" ({got.reason})" if got.reason else ""))
        return "\n".join(lines)

    __repr__ = __str__


@dataclass
class Matrix:
    """Reachability from sources to targets on each (port, protocol): what was measured, predicted or expected."""

    sources: list[str]
    targets: list[str]
    cases: list[tuple[int, str]]
    kind: str = "expected"  # measured, predicted, expected
    backend: str = ""
    cells: dict[Key, Cell] = field(default_factory=dict)

    def allowed(self, src: str, dst: str, port: int | None = None, protocol: str = "TCP") -> bool | None:
        """The cell's verdict; ``port`` may be left out when the matrix has one port."""
        port = port if port is not None else self.cases[0][0]
        return self.cells[(src, dst, port, protocol.upper())].allowed

    def set(self, src: str, dst: str, allowed: bool, port: int | None = None,
            protocol: str | None = None) -> Matrix:
        """Set every cell whose source and target match the patterns (``*`` wildcards: ``x/*``, ``*/a``)."""
        for key in self.cells:
            s, d, p, proto = key
            if fnmatch.fnmatchcase(s, src) and fnmatch.fnmatchcase(d, dst) and port in (None, p) \
                    and protocol in (None, proto):
                self.cells[key] = Cell(allowed, "expected")
        return self

    def compare(self, expected: Matrix) -> Comparison:
        """The cells that differ from ``expected`` (compared on the cells both matrices have)."""
        wrong, correct = [], 0
        for key, cell in self.cells.items():
            if key not in expected.cells:
                continue
            want = expected.cells[key].allowed
            if cell.allowed == want:
                correct += 1
            else:
                wrong.append((key, cell, want))
        return Comparison(wrong, correct)

    def table(self) -> str:
        """Truth tables as the upstream e2e suite prints them: ``.`` connected, ``X`` blocked, ``~`` partial."""
        width = max(len(t) for t in self.targets + self.sources + ["80/TCP"]) + 1
        out = []
        for port, proto in self.cases:
            out.append((f"{port}/{proto}".ljust(width) + "".join(t.ljust(width) for t in self.targets)).rstrip())
            for s in self.sources:
                marks = {True: ".", False: "X", None: "~"}
                row = [marks[self.cells[(s, t, port, proto)].allowed] for t in self.targets]
                out.append((s.ljust(width) + "".join(m.ljust(width) for m in row)).rstrip())
            out.append("")
        return "\n".join(out).rstrip() + "\n"

    def __repr__(self) -> str:
        head = f"{self.kind} connectivity" + (f" ({self.backend})" if self.backend else "")
        return f"{head}\n{self.table()}"

    def plot(self, expected: Matrix | None = None, ax=None):
        """A heatmap per port: green allowed, red blocked; with ``expected``, wrong cells are marked."""
        from .plots import connectivity

        return connectivity(self, expected, ax=ax)


def _word(allowed: bool | None) -> str:
    return {True: "allowed", False: "blocked", None: "partial"}[allowed]


def _cases(ports: Iterable[int], protocols: Iterable[str]) -> list[tuple[int, str]]:
    return [(int(p), proto.upper()) for proto in protocols for p in ports]


def expect(sources: Sequence[str], targets: Sequence[str], ports: Iterable[int] = (80,),
           protocols: Iterable[str] = ("TCP",), allowed: bool = True) -> Matrix:
    """A hand-written expectation: every cell ``allowed`` until ``set`` changes some."""
    cases = _cases(ports, protocols)
    m = Matrix(list(sources), list(targets), cases, "expected")
    m.cells = {(s, t, p, proto): Cell(allowed, "expected") for s in sources for t in targets for p, proto in cases}
    return m


# -- the cluster's objects, as plain dicts -----------------------------------------------------


@dataclass
class Snapshot:
    """The objects a prediction needs, read once through the Kubernetes API."""

    namespaces: dict[str, Obj]
    pods: dict[str, Obj]  # "ns/name" → Pod
    services: dict[str, Obj]
    slices: list[Obj]
    policies: PolicySet

    @classmethod
    def read(cls, cluster: Cluster) -> Snapshot:
        ser = cluster.api.sanitize_for_serialization
        core = cluster.core
        namespaces = {n["metadata"]["name"]: n for n in ser(core.list_namespace().items)}
        pods = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p
                for p in ser(core.list_pod_for_all_namespaces().items)}
        services = {f"{s['metadata']['namespace']}/{s['metadata']['name']}": s
                    for s in ser(core.list_service_for_all_namespaces().items)}
        slices = ser(client.DiscoveryV1Api(cluster.api).list_endpoint_slice_for_all_namespaces().items)
        policies = ser(client.NetworkingV1Api(cluster.api).list_network_policy_for_all_namespaces().items)
        return cls(namespaces, pods, services, slices, PolicySet(policies))

    def peer(self, name: str) -> Peer:
        pod = self.pods.get(name)
        if pod is None:
            raise LookupError(f'pod "{name}" not found (give pods as namespace/name)')
        ns = self.namespaces.get(pod["metadata"]["namespace"], {})
        return pod_peer(pod, (ns.get("metadata") or {}).get("labels") or {})

    def address(self, target: str, port: int, protocol: str) -> str:
        """Where a probe of ``target`` connects: the pod's IP, or the Service's ClusterIP."""
        if target.startswith("svc:"):
            svc = self._service(target)
            return svc["spec"].get("clusterIP") or ""
        return self.peer(target).ip

    def _service(self, target: str) -> Obj:
        svc = self.services.get(target.removeprefix("svc:"))
        if svc is None:
            raise LookupError(f'service "{target.removeprefix("svc:")}" not found (give services as svc:namespace/name)')
        return svc

    def backends(self, target: str, port: int, protocol: str) -> list[tuple[Peer, int]]:
        """The pods (and their ports) a connection to ``target:port`` can end on, after kube-proxy's DNAT."""
        if not target.startswith("svc:"):
            return [(self.peer(target), port)]
        svc = self._service(target)
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        sport = next((p for p in svc["spec"].get("ports") or []
                      if p.get("port") == port and (p.get("protocol") or "TCP") == protocol), None)
        if sport is None:
            return []
        out = []
        for es in self.slices:
            if es["metadata"].get("namespace") != ns or \
                    (es["metadata"].get("labels") or {}).get("kubernetes.io/service-name") != name:
                continue
            number = next((p.get("port") for p in es.get("ports") or []
                           if (p.get("name") or "") == (sport.get("name") or "")
                           and (p.get("protocol") or "TCP") == protocol), None)
            for ep in es.get("endpoints") or []:
                ref = ep.get("targetRef") or {}
                if (ep.get("conditions") or {}).get("ready") is False or number is None or not ref.get("name"):
                    continue
                out.append((self.peer(f"{ref.get('namespace', ns)}/{ref['name']}"), int(number)))
        return out


# -- predict, measure, explain ---------------------------------------------------------------------


def predict(cluster: Cluster, sources: Sequence[str], targets: Sequence[str], ports: Iterable[int] = (80,),
            protocols: Iterable[str] = ("TCP",)) -> Matrix:
    """The matrix the cluster's NetworkPolicies call for, computed offline (no traffic is sent)."""
    snap = Snapshot.read(cluster)
    m = Matrix(list(sources), list(targets), _cases(ports, protocols), "predicted", cluster.backend)
    for s in sources:
        src = snap.peer(s)
        for t in targets:
            for port, proto in m.cases:
                m.cells[(s, t, port, proto)] = _predict_cell(snap, src, t, port, proto)
    return m


def topology(cluster: Cluster, namespaces: list[str], ports: Sequence[int] | None = None, protocol: str = "TCP",
             matrix: Matrix | None = None) -> Any:
    """The cluster's namespaces, pods and Services with the pod-to-pod connections allowed, drawn by
    ``plots.topology``: edges from ``predict`` on ``ports`` (default 80), or from a given (measured) ``matrix``.

    Example:
        >>> policy.topology(cluster, ["shop", "payments", "tools"], ports=[8080])
    """
    from . import plots

    protocol = protocol.upper()
    snap = Snapshot.read(cluster)
    missing = [n for n in namespaces if n not in snap.namespaces]
    if missing:
        raise LookupError(f'namespace{"s" if len(missing) > 1 else ""} {", ".join(missing)} not found')
    names = sorted(k for k, p in snap.pods.items() if p["metadata"]["namespace"] in namespaces)
    if matrix is None:
        cases = [(int(p), protocol) for p in (ports or (80,))]
        matrix = predict(cluster, names, names, [p for p, _ in cases], [protocol]) if names else None
    else:
        cases = [(p, proto) for p, proto in matrix.cases if proto == protocol and (not ports or p in ports)]
        if not cases:
            raise ValueError(f"the matrix has no {protocol} port{' among ' + str(list(ports)) if ports else ''}: "
                             f"it has {', '.join(f'{p}/{proto}' for p, proto in matrix.cases)}")
    return plots.topology(snap, namespaces, matrix, cases, protocol, cluster.backend)


def _predict_cell(snap: Snapshot, src: Peer, target: str, port: int, protocol: str) -> Cell:
    backends = snap.backends(target, port, protocol)
    if not backends:
        return Cell(False, "no endpoints")
    verdicts = [snap.policies.evaluate(src, dst, p, protocol) for dst, p in backends]
    allowed = [v.allowed for v in verdicts]
    if all(allowed):
        return Cell(True, "allowed")
    if not any(allowed):
        return Cell(False, next(v for v in verdicts if not v.allowed).summary().split(" (", 1)[-1].rstrip(")"))
    return Cell(None, f"{sum(allowed)} of {len(allowed)} endpoints allowed")


PROBE_MARK = "@@k8snet-probe"
PROBES_PER_EXEC = 25
"""Probes one exec runs, one after another: few enough that a chunk of timeouts on a real cluster stays short
and the workers stay evenly loaded, many enough that the exec round trip stops dominating (see bench/policy.py)."""


def measure(cluster: Cluster, sources: Sequence[str], targets: Sequence[str], ports: Iterable[int] = (80,),
            protocols: Iterable[str] = ("TCP",), timeout: str = "1s", workers: int = 16) -> Matrix:
    """Probe every cell with ``/agnhost connect`` from inside each source pod, in parallel.

    Each exec runs up to :data:`PROBES_PER_EXEC` probes from one source pod as a
    ``sh -c`` script (busybox ash on agnhost), every probe followed by a marker
    line carrying its exit code; the execs run in parallel. On a real cluster a
    dropped probe costs its ``timeout`` either way, so grouping saves only the
    exec round trips. Probes run in the pod's default container, as ``kubectl
    exec`` picks it: the ``kubectl.kubernetes.io/default-container`` annotation,
    else the first container (kubectl exec --help, ``-c``).
    """
    snap = Snapshot.read(cluster)
    m = Matrix(list(sources), list(targets), _cases(ports, protocols), "measured", cluster.backend)
    jobs: list[tuple[PodRef, list[str]]] = []
    chunks: list[list[Key]] = []
    seconds = _go_seconds(timeout)
    for s in sources:
        snap.peer(s)  # fail early, naming a missing pod
        ns, name = s.split("/", 1)
        ref = PodRef(ns, name, default_container(snap.pods[s]))
        probes: list[tuple[Key, str]] = []
        for t in targets:
            for port, proto in m.cases:
                host = snap.address(t, port, proto)
                probes.append(((s, t, port, proto), f"/agnhost connect {shlex.quote(f'{host}:{port}')} "
                                                    f"--timeout={shlex.quote(timeout)} --protocol={proto.lower()}"))
        for i in range(0, len(probes), PROBES_PER_EXEC):
            chunk = probes[i:i + PROBES_PER_EXEC]
            script = "; ".join(f'{cmd} 2>&1; echo "{PROBE_MARK} $?"' for _, cmd in chunk)
            jobs.append((ref, ["sh", "-c", script]))
            chunks.append([key for key, _ in chunk])
    exec_timeout = 30 + 2 * seconds * PROBES_PER_EXEC
    outputs = exec_many(cluster, jobs, workers=workers, timeout=exec_timeout)
    # An exec that exited 0 without every marker lost its output on the way back (seen about once in 5,000
    # sandbox execs under load): run those scripts once more rather than report their cells as failed.
    lost = [i for i, (keys, out) in enumerate(zip(chunks, outputs, strict=True))
            if out.exit_code == 0 and len(_parse_probes(out.stdout)) < len(keys)]
    for i, out in zip(lost, exec_many(cluster, [jobs[i] for i in lost], workers=workers, timeout=exec_timeout),
                      strict=True):
        outputs[i] = out
    for keys, out in zip(chunks, outputs, strict=True):
        results = _parse_probes(out.stdout)
        for i, key in enumerate(keys):
            if i < len(results):
                code, reason = results[i]
                m.cells[key] = Cell(True, "connected") if code == 0 else Cell(False, reason or "failed")
            else:  # the script stopped early, or the exec failed: say what it printed
                why = (out.stderr.strip() or out.stdout.strip()).splitlines()
                m.cells[key] = Cell(False, why[0] if why else f"no result from the probe exec (exit {out.exit_code})")
    return m


def _parse_probes(stdout: str) -> list[tuple[int, str]]:
    """(exit code, first line printed) per probe, from the marker lines of a probe script's output."""
    results, text = [], []
    for line in stdout.splitlines():
        if line.startswith(PROBE_MARK + " ") and line[len(PROBE_MARK) + 1:].strip().isdigit():
            first = next((t.strip() for t in text if t.strip()), "")
            results.append((int(line[len(PROBE_MARK) + 1:]), first))
            text = []
        else:
            text.append(line)
    return results


def _go_seconds(duration: str) -> float:
    """A Go duration such as ``1s`` or ``500ms`` in seconds (1 when it cannot be read; agnhost will say why)."""
    import re

    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", duration)
    return sum(float(a) * units[b] for a, b in parts) or 1.0


@dataclass
class Explanation:
    """Why a connection is allowed or dropped: one walkthrough per backend pod the target can reach."""

    verdicts: list[Verdict]
    target: str

    @property
    def allowed(self) -> bool:
        return bool(self.verdicts) and all(v.allowed for v in self.verdicts)

    def __str__(self) -> str:
        if not self.verdicts:
            return f"{self.target} has no ready endpoints for that port: nothing to explain"
        return "\n\n".join(v.walkthrough() for v in self.verdicts)

    __repr__ = __str__


def explain(cluster: Cluster, source: str, target: str, port: int, protocol: str = "TCP") -> Explanation:
    """The walkthrough of one connection, per direction: which policies select each end and which rule allows it."""
    snap = Snapshot.read(cluster)
    src = snap.peer(source)
    protocol = protocol.upper()
    return Explanation([snap.policies.evaluate(src, dst, p, protocol)
                        for dst, p in snap.backends(target, port, protocol)], target)


# -- is this cluster enforcing policies at all? ------------------------------------------------------

def enforcement_check(cluster: Cluster, settle: float = 30) -> CanaryResult:
    """The canary: a deny-all policy must stop a probe that connected before (see :mod:`k8snet.canary`).

    The policy lesson runs it first; ``k8snet kind up`` and ``k8snet doctor`` run it too.
    """
    from .canary import policy_enforcement_check

    return policy_enforcement_check(cluster, settle=settle)
