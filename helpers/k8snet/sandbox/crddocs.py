"""The CRD documents of ``sandbox/crds/`` as objects, read from a JSON copy in the state directory where it has one.

Parsing the YAML costs the sandbox's start a sixth of a second (1.3 MB with libyaml), reading the JSON copy a
hundredth. A copy is used only while it was made from the document as it is now (its SHA-256), so an upgraded
k8snet parses its new documents once. A new state directory gets its copies from the warm-up child
(:mod:`.warmup`), made on another core while the sandbox process starts.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

CRD_DOCUMENTS = ("traefik.io.yaml", "gateway.networking.k8s.io.yaml", "cert-manager.io.yaml",
                 "trust.cert-manager.io.yaml")
"""The CustomResourceDefinitions in ``sandbox/crds/`` every sandbox installs, as ``k8snet kind up`` applies
Traefik's, Gateway API's and cert-manager's release manifests and trust-manager's chart (the documents say what
they were written from); a cluster's CNI plugin adds its own (instance.CNI_CRD_DOCUMENTS)."""
CACHE_DIR = "crd-documents"
"""The state directory's folder of JSON copies, one per document (``traefik.io.yaml.json``)."""


def names() -> list[str]:
    """Every document in ``sandbox/crds/``."""
    return sorted(p.name for p in (files("k8snet.sandbox") / "crds").iterdir() if p.name.endswith(".yaml"))


def load(name: str, state: Path | None = None) -> list[dict[str, Any]]:
    """The objects of the document ``name``, each a separate copy (YAML aliases included), from the state
    directory's copy when it is current; else parsed, and the copy (re)made when there is a state directory."""
    text = (files("k8snet.sandbox") / "crds" / name).read_bytes()
    if state is None:
        return json.loads(_as_json(text))
    digest = hashlib.sha256(text).hexdigest()
    cached = cached_documents(state, name, digest)
    if cached is not None:
        return cached
    body = _as_json(text)
    _write_private(state / CACHE_DIR / f"{name}.json", _header(digest) + body + "}")
    return json.loads(body)


def ensure_copy(name: str, state: Path) -> None:
    """Make the state directory's copy of ``name`` unless it has a current one."""
    text = (files("k8snet.sandbox") / "crds" / name).read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    try:
        with open(state / CACHE_DIR / f"{name}.json", "rb") as f:
            if f.read(80).startswith(_header(digest).encode()):
                return
    except OSError:
        pass
    _write_private(state / CACHE_DIR / f"{name}.json", _header(digest) + _as_json(text) + "}")


def cached_documents(state: Path, name: str, digest: str | None = None) -> list[dict[str, Any]] | None:
    """The state directory's copy of ``name`` when it was made from the document as it is now, else None."""
    if digest is None:
        digest = hashlib.sha256((files("k8snet.sandbox") / "crds" / name).read_bytes()).hexdigest()
    try:
        copy = json.loads((state / CACHE_DIR / f"{name}.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(copy, dict) or copy.get("sha256") != digest or not isinstance(copy.get("documents"), list):
        return None
    return copy["documents"]


def _header(digest: str) -> str:
    return f'{{"sha256":"{digest}","documents":'


def _as_json(text: bytes) -> str:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml, where PyYAML was built with it
    return json.dumps([doc for doc in yaml.load_all(text, Loader=loader) if doc], separators=(",", ":"))


def _write_private(path: Path, text: str) -> None:
    """Write atomically, owner-only like the rest of the state directory (a reader never sees half a copy)."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
