"""Lab exercises: a setup that prepares the cluster, a check that grades the live outcome, hints.

A check inspects the cluster and real traffic, never the learner's YAML, and
answers with a pass or a hint that names what is off (the object, the field,
the traffic result). Every exercise has a reference solution; CI proves each
check fails on the starting state and passes after the solution.

Example:
    >>> lab = k8snet.labs.load("lab-01-services", cluster)
    >>> lab.setup()                 # prepares every exercise's namespace
    >>> lab.check("expose")         # ✗ Service "shop" does not exist yet in namespace lab01-expose …
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cluster import Cluster

LABS = {"lab-01-services": "k8snet.labs.lab01", "lab-02-network-policies": "k8snet.labs.lab02",
        "lab-03-ingress": "k8snet.labs.lab03", "lab-04-debugging": "k8snet.labs.lab04",
        "lab-05-load-balancing": "k8snet.labs.lab05", "lab-06-gateway-api": "k8snet.labs.lab06",
        "lab-07-certificates": "k8snet.labs.lab07", "lab-08-service-mesh": "k8snet.labs.lab08",
        "lab-09-cni-policy": "k8snet.labs.lab09", "lab-10-multi-cluster": "k8snet.labs.lab10"}


@dataclass
class Result:
    """A check's verdict: passed, or the specific hint."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.exercise}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = "#009E73" if self.passed else "#D55E00"
        mark = "✓ passed" if self.passed else "✗ not yet"
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px'><b>{self.exercise}</b> — "
                f"<span style='color:{colour}'>{mark}</span><br>{self.message}</div>")


class Hint(Exception):
    """Raised by a check when something is off; the message is what the learner reads."""


@dataclass
class Exercise:
    """One exercise: its namespace, how to prepare it, how to grade it, and its reference solution."""

    id: str
    title: str
    namespace: str
    setup: Callable[..., None]
    """Called as ``setup(cluster, namespace, **peers)`` (see :attr:`peers`)."""
    check: Callable[..., str]
    """Called as ``check(cluster, namespace, **peers)``; returns the success message, or raises :class:`Hint`."""
    solution: str
    """Reference solution: a YAML file name under the lab's ``solutions/`` folder."""
    hints: list[str] = field(default_factory=list)
    shared_namespaces: tuple[str, ...] = ()
    """Namespaces the setup also uses and shares with other exercises (never recreated; deleted by teardown)."""
    after_solution: Callable[..., None] | None = None
    """What the reference solution does once its YAML is applied, as the solution notebook does it (a restart of a
    server that reads its certificate only when it starts, a deletion in another cluster), called as
    ``after_solution(cluster, namespace, **peers)``; None when the YAML is the whole answer."""
    cluster: str | None = None
    """The member of the cluster set the exercise runs on (lab 09's ``calico``), one of the lab module's
    ``MEMBERS``; None: the cluster the lab was loaded with."""
    peers: tuple[str, ...] = ()
    """The other clusters an exercise spans, by name (lab 10's ``cloud`` and ``onprem``: a global Service, an
    export, a policy for the other cluster's pods): the exercise's namespace is made in each as well (the same
    namespace in every cluster, as Cluster Mesh and the MCS API's namespace sameness expect), ``setup``, ``check``
    and ``after_solution`` get each as a keyword argument of that name, and teardown deletes the namespace there
    too. The solution is applied to :attr:`cluster`."""


@dataclass
class Lab:
    """A set of exercises on one cluster."""

    name: str
    cluster: Cluster
    exercises: list[Exercise]
    folder: Path
    cleanup: Callable[[Cluster], None] | None = None
    """Deletes what the lab made outside its namespaces (cluster-wide objects, a CA in cert-manager): the lab
    module's ``cleanup`` function, when it has one; called for each cluster the lab uses."""
    members: dict[str, Cluster] = field(default_factory=dict)
    """The other clusters some exercises run on, by member name (:attr:`Exercise.cluster`)."""

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise KeyError(f"no exercise {exercise_id!r} in {self.name}: "
                       f"choose one of {', '.join(e.id for e in self.exercises)}")

    def on(self, exercise_id: str) -> Cluster:
        """The cluster an exercise runs on: the lab's own, or the member it names."""
        ex = self.exercise(exercise_id)
        return self.cluster if ex.cluster is None else self.members[ex.cluster]

    def named(self, name: str) -> Cluster:
        """A cluster of the lab by its name: a member, or the cluster the lab was loaded with.

        Raises:
            KeyError: naming the clusters the lab has.
        """
        if name in self.members:
            return self.members[name]
        if self.cluster.name == name:
            return self.cluster
        raise KeyError(f"{self.name} needs a cluster named {name}, and it was loaded with {self.cluster.context}"
                       f"{' and ' + ', '.join(self.members) if self.members else ''}: load it with "
                       f"k8snet.connect({name!r}, cni=...) as its notebook does")

    def peers(self, exercise_id: str) -> dict[str, Cluster]:
        """The other clusters an exercise spans, by name (:attr:`Exercise.peers`)."""
        return {name: self.named(name) for name in self.exercise(exercise_id).peers}

    def clusters(self) -> list[Cluster]:
        """Every cluster the lab uses, its own first."""
        return [self.cluster, *(c for c in self.members.values() if c is not self.cluster)]

    def setup(self, exercise_id: str | None = None) -> None:
        """Prepare one exercise (or all): a fresh namespace in its starting state."""
        for ex in [self.exercise(exercise_id)] if exercise_id else self.exercises:
            cluster, peers = self.on(ex.id), self.peers(ex.id)
            for each in (cluster, *peers.values()):
                each.recreate_namespace(ex.namespace)
            ex.setup(cluster, ex.namespace, **peers)

    def check(self, exercise_id: str) -> Result:
        """Grade an exercise from the live cluster and real traffic."""
        ex = self.exercise(exercise_id)
        try:
            return Result(ex.id, True, ex.check(self.on(ex.id), ex.namespace, **self.peers(ex.id)))
        except Hint as hint:
            return Result(ex.id, False, str(hint))

    def hint(self, exercise_id: str, tier: int = 1) -> str:
        """The exercise's hints one tier at a time: the symptom first, where to look next, the fix last."""
        hints = self.exercise(exercise_id).hints
        if not hints:
            return f"{exercise_id} has no written hints: run lab.check({exercise_id!r}), its answer names what is off."
        tier = max(1, min(tier, len(hints)))
        more = f" (lab.hint({exercise_id!r}, {tier + 1}) for the next)" if tier < len(hints) else ""
        return f"Hint {tier} of {len(hints)}: {hints[tier - 1]}{more}"

    def solution_path(self, exercise_id: str) -> Path:
        return self.folder / "solutions" / self.exercise(exercise_id).solution

    def apply_solution(self, exercise_id: str) -> None:
        """Apply the reference solution (what CI does to prove the check can pass)."""
        ex, cluster = self.exercise(exercise_id), self.on(exercise_id)
        cluster.apply(self.solution_path(exercise_id).read_text(), namespace=ex.namespace)
        if ex.after_solution is not None:
            ex.after_solution(cluster, ex.namespace, **self.peers(exercise_id))

    def progress(self) -> list[Result]:
        return [self.check(ex.id) for ex in self.exercises]

    def teardown(self) -> None:
        done: set[tuple[int, str]] = set()
        for ex in self.exercises:
            cluster = self.on(ex.id)
            spanned = [(cluster, name) for name in (ex.namespace, *ex.shared_namespaces)]
            spanned += [(peer, ex.namespace) for peer in self.peers(ex.id).values()]
            for where, name in spanned:
                if (id(where), name) not in done:
                    done.add((id(where), name))
                    where.delete("Namespace", name)
        if self.cleanup is not None:
            for cluster in self.clusters():
                self.cleanup(cluster)


def labs_folder() -> Path:
    """The repository's labs/ folder (next to helpers/ in a checkout)."""
    return Path(__file__).resolve().parents[3] / "labs"


def load(name: str, cluster: Cluster, **members: Cluster) -> Lab:
    """Load a lab by its folder name, e.g. ``lab-01-services``.

    A lab whose exercises run on more than one cluster lists the others in its module's ``MEMBERS`` (member name
    → CNI plugin); pass them by name (``calico=calico``), or ``load`` connects to each as
    ``k8snet.connect(name, cni=...)`` does, on the backend of ``cluster``, starting it if need be.
    """
    if name not in LABS:
        raise KeyError(f"unknown lab {name!r}: choose one of {', '.join(LABS)}")
    module = importlib.import_module(LABS[name])
    wanted: dict[str, str] = getattr(module, "MEMBERS", {})
    if unknown := sorted(set(members) - set(wanted)):
        raise KeyError(f"{name} runs on no cluster named {', '.join(unknown)}: "
                       f"{'its others are ' + ', '.join(wanted) if wanted else 'it uses only the one it is given'}")
    if missing := [m for m in wanted if m not in members]:
        from ..connection import connect

        members.update({m: connect(cluster.backend, name=m, cni=wanted[m]) for m in missing})
    return Lab(name, cluster, module.exercises(), labs_folder() / name, getattr(module, "cleanup", None),
               {m: members[m] for m in wanted})
