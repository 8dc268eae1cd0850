"""The sandbox cluster's shape (its name, networks and nodes, :class:`k8snet.clusterset.Shape`), kept with its state.

A sandbox is handed its shape (``Sandbox(shape=clusterset.shape("east"))``; the default cluster's when none is
given); the API server, the controllers and the data plane read it from ``sb.shape``, never from a module constant,
so several clusters of a set run side by side with their own ranges. The shape is kept in the store (the meta key
:data:`META_KEY`, as the CNI plugin is): a restart keeps it, and starting a store made as one cluster as another is
refused (:class:`Mismatch`), as a real cluster's pod and Service ranges are not changed in place.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..clusterset import DEFAULT, Node, Shape

if TYPE_CHECKING:
    from .instance import Sandbox

__all__ = ["DEFAULT", "META_KEY", "Mismatch", "Node", "Shape", "choose", "stored"]

META_KEY = "cluster"
"""The store's meta key for the cluster's shape (a store made before shapes were kept is the default cluster)."""


class Mismatch(Exception):
    """The store was made as another cluster (name or networks) than the one asked for."""


def stored(sb: Sandbox) -> Shape | None:
    """The shape the store's cluster was made with (None: a fresh store); a store made before the shape was kept
    is the default cluster, the only one there was."""
    value = sb.store.meta(META_KEY)
    if value:
        return Shape.from_dict(json.loads(value))
    return DEFAULT if sb.store.get("namespaces", "", "default") is not None else None


def choose(sb: Sandbox, requested: Shape | None) -> Shape:
    """The shape this sandbox runs: the stored one, or ``requested`` (else the default cluster's) for a fresh
    store, which is then kept.

    Raises:
        Mismatch: the store's cluster was made with another shape than ``requested``.
    """
    have = stored(sb)
    if have is None:
        have = requested or DEFAULT
    elif requested is not None and requested != have:
        raise Mismatch(mismatch_message(have, requested))
    sb.store.set_meta(META_KEY, json.dumps(have.to_dict(), sort_keys=True))
    return have


def mismatch_message(have: Shape, wanted: Shape) -> str:
    return (f"this state directory holds cluster {have.name!r} (pods {have.pod_cidr}, Services {have.service_cidr}), "
            f"not {wanted.name!r} (pods {wanted.pod_cidr}, Services {wanted.service_cidr}): a cluster's name and "
            "networks are not changed in place. Start it under its own name (`k8snet sandbox up --name "
            f"{have.name}`), or remove this state directory to make a new cluster there.")
