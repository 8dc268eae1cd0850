"""kubectl beside the helpers in a notebook: YAML cells and kubectl lines against the workbook's cluster.

After ``%load_ext k8snet.magics`` a cell can be a manifest, applied as ``kubectl apply --server-side`` applies
it, and a line can be a kubectl command; labs grade the cluster, so objects made either way count the same.

Example:
    %load_ext k8snet.magics

    %%k8s apply -n lesson02
    apiVersion: v1
    kind: Service
    ...

    %kubectl get pods -n lesson02 -o wide

Both take ``--cluster NAME`` for another member of the cluster set (``k8snet.connect("cilium")``: the sandbox's
``k8snet-cilium`` context, kind's ``kind-cilium``), so a notebook with two clusters names each the same way on
both backends: ``%kubectl --cluster cilium get cep -n shop``, ``%%k8s apply --cluster calico``.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
from typing import Any

from .cluster import Cluster, load_manifests
from .connection import connect

_current: Cluster | None = None
_members: dict[str, Cluster] = {}


def _cluster(name: str | None = None) -> Cluster:
    """The workbook's cluster (the backend ``k8snet.connect()`` chooses), or the member ``name`` of its cluster set,
    connected on first use (never started: a notebook starts its clusters with ``k8snet.connect``)."""
    global _current
    if name is not None:
        if name not in _members:
            _members[name] = connect(start=False, name=name)
        return _members[name]
    if _current is None:
        _current = connect(start=False)
    return _current


def _take_cluster(args: list[str]) -> tuple[str | None, list[str]]:
    """``--cluster NAME`` (or ``--cluster=NAME``) taken out of a magic's arguments: (NAME or None, the rest)."""
    for i, arg in enumerate(args):
        if arg == "--cluster":
            if i + 1 == len(args):
                raise ValueError("--cluster needs the name of a cluster (k8snet.connect(NAME))")
            return args[i + 1], args[:i] + args[i + 2:]
        if arg.startswith("--cluster="):
            return arg.split("=", 1)[1], args[:i] + args[i + 1:]
    return None, args


def kubectl_argv(cluster: Cluster, args: list[str]) -> list[str]:
    """The kubectl command line for the workbook's cluster: its kubeconfig and context, then ``args``."""
    from . import kubeconfig

    binary = shutil.which("kubectl")
    if binary is None:
        raise RuntimeError("kubectl is not installed on this machine (the helpers work without it)")
    return [binary, "--kubeconfig", str(kubeconfig.path()), "--context", cluster.context, *args]


def kubectl(line: str, timeout: float = 120) -> int:
    """``%kubectl [--cluster NAME] ARGS``: run kubectl against the workbook's cluster (or the member ``NAME``) and
    print what it prints."""
    name, args = _take_cluster(shlex.split(line))
    proc = subprocess.run(kubectl_argv(_cluster(name), args), capture_output=True, text=True, timeout=timeout)
    if proc.stdout:
        print(proc.stdout, end="")
    if proc.stderr:
        print(proc.stderr, end="")
    return proc.returncode


_PARSER = argparse.ArgumentParser(prog="%%k8s", add_help=False, exit_on_error=False)
_PARSER.add_argument("verb", choices=["apply", "delete"])
_PARSER.add_argument("-n", "--namespace", default=None)
_PARSER.add_argument("--cluster", default=None)


def k8s(line: str, cell: str) -> list[str]:
    """``%%k8s apply|delete [-n NS] [--cluster NAME]``: the cell's YAML documents applied (server-side, as the
    helpers do) or deleted, in the workbook's cluster or the member ``NAME``; prints and returns kubectl's lines
    (``service/web serverside-applied``, ``pod "x" deleted``)."""
    try:
        args = _PARSER.parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit) as exc:
        raise ValueError(f"usage: %%k8s apply|delete [-n NAMESPACE] [--cluster NAME] (got {line!r}): {exc}") \
            from None
    cluster = _cluster(args.cluster)
    lines: list[str] = []
    if not load_manifests(cell):
        print(f"error: no objects passed to {args.verb}")  # kubectl's words for an empty file
        return []
    if args.verb == "apply":
        for obj in cluster.apply(cell, namespace=args.namespace):
            group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
            kind = obj["kind"].lower() + (f".{group}" if group else "")
            lines.append(f"{kind}/{obj['metadata']['name']} serverside-applied")
    else:
        for obj in load_manifests(cell):
            meta = obj.get("metadata") or {}
            cluster.delete(obj["kind"], meta["name"], meta.get("namespace") or args.namespace or _default_ns(cluster,
                                                                                                       obj),
                           api_version=obj["apiVersion"])
            group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
            lines.append(f'{obj["kind"].lower()}{"." + group if group else ""} "{meta["name"]}" deleted')
    for text in lines:
        print(text)
    return lines


def _default_ns(cluster: Cluster, obj: dict[str, Any]) -> str | None:
    res = cluster._resource(obj["apiVersion"], obj["kind"])
    return "default" if res.namespaced else None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext k8snet.magics``: register ``%%k8s`` and ``%kubectl``."""

    def kubectl_magic(line: str) -> None:  # what kubectl printed is the output; its exit status is not shown
        kubectl(line)

    def k8s_magic(line: str, cell: str) -> None:
        k8s(line, cell)

    ipython.register_magic_function(kubectl_magic, "line", "kubectl")
    ipython.register_magic_function(k8s_magic, "cell", "k8s")
