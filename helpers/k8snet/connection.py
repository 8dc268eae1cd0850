"""``k8snet.connect()``: the workbook's cluster, started if it is not running yet; ``k8snet.clusters()``: the
members of a cluster set.

It sits above both backends' lifecycles and the facade they share (``cluster``), so neither backend imports
the other and the facade imports neither.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from . import clusterset
from .cluster import BACKENDS, Cluster, ConnectError, choose_backend, open_cluster


def connect(backend: str | None = None, *, start: bool = True, cni: str | None = None,
            name: str | None = None, karmada: bool | None = None) -> Cluster:
    """Connect to the workbook's cluster, starting the sandbox (or creating the kind cluster) if needed.

    ``name`` is a member of a cluster set (``east``: context ``k8snet-east``, or ``kind-east`` on kind); without it,
    the workbook's own cluster. A first argument that is no backend's name is taken as the cluster's name, so
    ``k8snet.connect("east")`` reads as ``k8snet.connect(name="east")``. ``karmada=True`` makes a new cluster a
    Karmada control plane (:mod:`k8snet.federation`): the sandbox's (``k8snet sandbox up --name karmada --karmada``),
    or on kind the real one, installed by the Karmada operator on a kind cluster of that name (``k8snet kind up
    --name karmada --karmada``, :mod:`k8snet.kind.karmada`); either way the cluster returned is the
    karmada-apiserver. A running cluster made the other way is refused, saying so.
    ``cni`` (kindnet, cilium or calico) is the CNI plugin of a cluster this call creates; a running cluster made
    with another one is refused with a RuntimeError that says how to switch (``k8snet sandbox reset --cni``).

    Example:
        >>> cluster = k8snet.connect()          # the sandbox, unless K8SNET_BACKEND=kind
        >>> cluster.backend
        'sandbox'
        >>> east = k8snet.connect("east")      # another member of the set: its own process, networks, context
    """
    backend, name = _backend_or_name(backend, name)
    chosen = choose_backend(backend)
    if chosen == "sandbox":
        from .sandbox import process

        try:
            running = process.status(name=name) if not start else process.up(cni=cni, name=name, karmada=karmada)
        except ValueError as exc:
            raise ConnectError(str(exc)) from exc
        if running is None:
            flag = f" --name {name}" if name else ""
            raise ConnectError(f"no sandbox{flag and ' ' + name} is running: start it with `k8snet sandbox up{flag}`")
    elif start:
        from . import kubeconfig

        if kubeconfig.context(clusterset.context(name or clusterset.DEFAULT_NAME, "kind")) is None:
            from .kind import commands, lifecycle

            try:
                # as `k8snet kind up [--karmada]`: checks docker and kind, creates the cluster and its add-ons (or
                # the Karmada control plane)
                lifecycle.up(lifecycle.Options(name=name or clusterset.DEFAULT_NAME, cni=cni or "kindnet",
                                               karmada=bool(karmada)))
            except (commands.ToolError, ValueError) as exc:
                raise ConnectError(f"cannot create the kind cluster: {exc}") from exc
    cluster = open_cluster(chosen, name)
    if chosen == "kind" and karmada is not None:
        _check_karmada(cluster, karmada)
    return cluster


def _check_karmada(cluster: Cluster, karmada: bool) -> None:
    """On kind, the context ``kind-NAME`` of a running cluster is a karmada-apiserver or not; ``karmada=`` that does
    not fit is refused, as the sandbox refuses it (a cluster is not turned into the other kind in place)."""
    from kubernetes import client

    groups = {g.name for g in client.ApisApi(cluster.api).get_api_versions().groups}
    if ("cluster.karmada.io" in groups) != karmada:
        made = "a Karmada control plane" if not karmada else "an ordinary cluster"
        flag = " --karmada" if karmada else ""
        raise ConnectError(f"the kind cluster {cluster.name} is {made}: a cluster is not turned into the other kind "
                           f"in place. `k8snet kind down --name {cluster.name}`, then `k8snet kind up --name "
                           f"{cluster.name}{flag}`")


def _backend_or_name(backend: str | None, name: str | None) -> tuple[str | None, str | None]:
    """``connect("east")``: a first argument that names no backend names the cluster. One that looks like a
    misspelt backend (``"sandbx"``) is left to fail as an unknown backend, rather than start a cluster by that name."""
    if backend is None or backend.lower() in BACKENDS or name is not None:
        return backend, name
    if difflib.get_close_matches(backend.lower(), BACKENDS, n=1, cutoff=0.75):
        return backend, name
    return None, backend


def clusters(names: Iterable[str] | None = None, backend: str | None = None, *,
             start: bool = True) -> dict[str, Cluster]:
    """The clusters of the set, by name: the members ``names`` (each started, as :func:`connect` does, unless
    ``start=False``), else every member running now (the sandbox's; on kind, every kind cluster with a context).

    Example:
        >>> east, west = k8snet.clusters(["east", "west"]).values()
        >>> {name: c.context for name, c in k8snet.clusters().items()}
        {'east': 'k8snet-east', 'west': 'k8snet-west'}
    """
    chosen = choose_backend(backend)
    if names is not None:
        return {name: connect(chosen, start=start, name=name) for name in names}
    if chosen == "sandbox":
        from .sandbox import process

        return {name: open_cluster(chosen, name) for name in process.members()}
    from . import kubeconfig
    from .kind import lifecycle

    return {name: open_cluster(chosen, name) for name in lifecycle.cluster_names()
            if kubeconfig.context(clusterset.context(name, "kind")) is not None}


def disconnect(name: str, backend: str | None = None) -> bool:
    """Stop the cluster set's member ``name`` when a notebook is done with it, as its command line does: the
    sandbox's process stops (``k8snet sandbox down --name NAME``: its state stays for the next
    ``connect(NAME)``); on kind the cluster is deleted (``k8snet kind down --name NAME``). The workbook's own
    cluster is never stopped this way. Returns whether there was one to stop.

    Example:
        >>> cilium = k8snet.connect("cilium", cni="cilium")
        >>> ...
        >>> k8snet.disconnect("cilium")
        True
    """
    if name == clusterset.DEFAULT_NAME:
        raise ValueError("disconnect stops a notebook's other clusters, not the workbook's own")
    if choose_backend(backend) == "sandbox":
        from .sandbox import process

        return process.down(name=name)
    from .kind import lifecycle

    return lifecycle.down(name, say=lambda *_: None)
