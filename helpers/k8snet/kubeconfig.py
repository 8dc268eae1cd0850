"""Kubeconfig entries, added and removed the way ``kind create cluster`` does it.

The file is the first path in ``KUBECONFIG`` (else ``~/.kube/config``); other
clusters, users and contexts in it are left untouched, and writes are atomic.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml


def path() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def load(file: Path | None = None) -> dict[str, Any]:
    file = file or path()
    if file.exists():
        data = yaml.safe_load(file.read_text()) or {}
    else:
        data = {}
    data.setdefault("apiVersion", "v1")
    data.setdefault("kind", "Config")
    data.setdefault("preferences", {})
    for key in ("clusters", "users", "contexts"):
        data[key] = data.get(key) or []
    data.setdefault("current-context", "")
    return data


def save(data: dict[str, Any], file: Path | None = None) -> None:
    file = file or path()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".k8snet.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)


def _upsert(items: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    for item in items:
        if item.get("name") == name:
            item[key] = value
            return
    items.append({"name": name, key: value})


def add_context(name: str, server: str, token: str, namespace: str | None = None, *,
                ca_data: bytes | None = None, use: bool = True, file: Path | None = None) -> None:
    """Add (or refresh) cluster, user and context ``name``, and make it current."""
    data = load(file)
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = base64.b64encode(ca_data).decode()
    _upsert(data["clusters"], name, "cluster", cluster)
    _upsert(data["users"], name, "user", {"token": token})
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    _upsert(data["contexts"], name, "context", context)
    if use:
        data["current-context"] = name
    save(data, file)


def set_context(name: str, cluster: dict[str, Any], user: dict[str, Any], *, use: bool = False,
                file: Path | None = None) -> None:
    """Add (or refresh) cluster, user and context ``name`` from entries of another kubeconfig (a server, CA and
    client certificate, as ``kubectl config set-cluster/set-credentials`` write them); current only when ``use``."""
    data = load(file)
    _upsert(data["clusters"], name, "cluster", dict(cluster))
    _upsert(data["users"], name, "user", dict(user))
    _upsert(data["contexts"], name, "context", {"cluster": name, "user": name})
    if use:
        data["current-context"] = name
    save(data, file)


def current_context(file: Path | None = None) -> str:
    """The kubeconfig's current context ("" when none)."""
    file = file or path()
    return str(load(file).get("current-context") or "") if file.exists() else ""


def remove_context(name: str, file: Path | None = None) -> None:
    """Remove cluster, user and context ``name``; clear current-context if it was this one."""
    file = file or path()
    if not file.exists():
        return
    data = load(file)
    for key in ("clusters", "users", "contexts"):
        data[key] = [item for item in data[key] if item.get("name") != name]
    if data.get("current-context") == name:
        data["current-context"] = ""
    save(data, file)


def context(name: str, file: Path | None = None) -> dict[str, Any] | None:
    """The server and token of context ``name``, or None."""
    data = load(file)
    ctx = next((c["context"] for c in data["contexts"] if c.get("name") == name), None)
    if ctx is None:
        return None
    cluster = next((c["cluster"] for c in data["clusters"] if c.get("name") == ctx.get("cluster")), {})
    user = next((u["user"] for u in data["users"] if u.get("name") == ctx.get("user")), {})
    return {"server": cluster.get("server"), "token": user.get("token"), "namespace": ctx.get("namespace")}
