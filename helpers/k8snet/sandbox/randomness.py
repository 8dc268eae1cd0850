"""Seeded random streams, one per purpose, all derived from the sandbox's one seed (``K8SNET_SEED``).

Controllers run concurrently with the notebook's requests, so a single shared
generator would hand out numbers in a timing-dependent order. Each purpose
(uids, generated names, the scheduler, kube-proxy, address pools) draws from
its own stream instead, and what a notebook sees repeats run after run.

A stream about one object (a Service's endpoint choice, a route's weights)
is also scoped by the object's uid: a namespace made again starts its
streams from the beginning, so what it sees does not depend on what earlier
objects of the same name drew on the same sandbox (a shared test sandbox, a
lab set up twice). The seed comes from the name alone, never the uid.

A named member of a cluster set (``--name east``) draws from streams scoped
by its name too, so two members started with the same seed still name their
pods and pick their addresses differently, as two real clusters do.
"""

from __future__ import annotations

import random


class Randomness:
    """Named :class:`random.Random` streams seeded from ``f"{seed}:{name}"``."""

    def __init__(self, seed: int, scope: str = ""):
        self.seed = seed
        self.scope = scope
        self._streams: dict[tuple[str, str], random.Random] = {}

    def _seed_of(self, seed: int, name: str) -> str:
        return f"{seed}:{self.scope}:{name}" if self.scope else f"{seed}:{name}"

    def stream(self, name: str, owner: str = "") -> random.Random:
        """The stream for one purpose (the same object every time, so holders stay in step on reseed); ``owner``
        (an object's uid) gives each object its own stream, which starts where a first object's did."""
        key = (name, owner)
        if key not in self._streams:
            self._streams[key] = random.Random(self._seed_of(self.seed, name))
        return self._streams[key]

    def reseed(self, seed: int) -> None:
        """Start every stream again from a new seed (``k8snet sandbox reset --seed``)."""
        self.seed = seed
        for (name, _), stream in self._streams.items():
            stream.seed(self._seed_of(seed, name))

    def rescope(self, scope: str) -> None:
        """Scope every stream by a cluster's name ('' for none) and start them again."""
        self.scope = scope
        self.reseed(self.seed)
