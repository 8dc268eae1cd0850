"""Answers the data plane works out from the store's objects, kept until those objects change.

A connection asks the same questions again and again: which pod holds this address, which Service owns this
ClusterIP and port, which ztunnel runs on a node, which Istio policies bind a workload. Each answer is a function
of one or a few resources' objects, so it is kept under their ``Store.generation`` (which moves with every write,
delete, undone batch or wipe of that resource, and never comes back) and worked out afresh after any of them
changed: the same answer as reading the objects each time, without reading them each time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ..store import Store

T = TypeVar("T")

LIMIT = 4096
"""How many answers one table keeps before it starts afresh (keys such as label sets come and go)."""


class Derived(Generic[T]):
    """Answers derived from ``resources`` of ``store``, by key, dropped together when one of them changes."""

    def __init__(self, store: Store, *resources: str, limit: int = LIMIT):
        self.store, self.resources, self.limit = store, resources, limit
        self._generation: tuple[int, ...] | None = None
        self._answers: dict[Hashable, T] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The answer for ``key``: kept, or ``make()`` when the resources changed since (or it was never asked)."""
        generation = tuple(self.store.generation(r) for r in self.resources)
        if generation != self._generation:
            self._answers.clear()
            self._generation = generation
        try:
            return self._answers[key]
        except KeyError:
            pass
        answer = make()
        if len(self._answers) >= self.limit:
            self._answers.clear()
        self._answers[key] = answer
        return answer
