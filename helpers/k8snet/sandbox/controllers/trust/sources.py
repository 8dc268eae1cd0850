"""A Bundle's sources, read and joined into one certificate pool.

A port of github.com/cert-manager/trust-manager v0.24.0 pkg/bundle/internal/source/source.go (BuildBundle):

* ``configMap`` / ``secret`` sources are read from the trust namespace only (trust-manager's cache holds no
  ConfigMap or Secret of any other namespace): by ``name`` (a missing object or key is a :class:`NotFoundError`),
  or every object a ``selector`` picks (none is fine); of each, the ``key`` (a ConfigMap's ``data``, else its
  ``binaryData``) or, with ``includeAllKeys``, every key -- refused for a ``kubernetes.io/tls`` Secret, whose
  ``tls.key`` is a private key;
* ``inLine`` PEM text;
* ``useDefaultCAs: true`` needs the default CA package, which the sandbox does not have (options.py): upstream's
  NotFoundError, "no default package was specified when trust-manager was started; default CAs not available";
* an empty pool at the end is a NotFoundError too ("couldn't find any valid certificates in bundle").

The error texts are upstream's, with the Go error chain spelled as Go would print it: a missing object reads
``failed to get ConfigMap cert-manager/x: ConfigMap "x" not found`` (controller-runtime's cache reader names the
kind where the API server would name the resource: pkg/cache/internal/cache_reader.go).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...validation import selector_matches
from .certpool import CertPool, PEMError
from .options import Options

if TYPE_CHECKING:
    from ...store import Store

Obj = dict[str, Any]
SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


class SourceError(Exception):
    """A source could not be read or parsed (reason SourceBuildError)."""


class NotFoundError(SourceError):
    """source.NotFoundError: a source is missing (reason SourceNotFound; no retry until something changes)."""


class InvalidPEMError(SourceError):
    """source.InvalidPEMError."""


class InvalidSecretError(SourceError):
    """source.InvalidSecretError."""


def build_bundle(store: Store, sources: list[Obj], options: Options) -> CertPool:
    """BuildBundle: every source's certificates in one pool; raises a :class:`SourceError`."""
    pool = CertPool(filter_expired=options.filter_expired_certs, filter_non_ca=options.filter_non_ca_certs)
    for source in sources:
        if source.get("configMap") is not None:
            _add_objects(store, pool, "ConfigMap", options.namespace, source["configMap"])
        elif source.get("secret") is not None:
            _add_objects(store, pool, "Secret", options.namespace, source["secret"])
        elif source.get("inLine"):
            try:
                pool.add_certs_from_pem(source["inLine"].encode())
            except PEMError as exc:
                raise InvalidPEMError(f"inline source contains invalid PEM data: {exc}") from None
        elif source.get("useDefaultCAs") is not None:
            if not source["useDefaultCAs"]:
                continue
            if not options.default_package:
                raise NotFoundError("no default package was specified when trust-manager was started; "
                                    "default CAs not available")
    if not len(pool):
        raise NotFoundError("couldn't find any valid certificates in bundle")
    return pool


def _add_objects(store: Store, pool: CertPool, kind: str, namespace: str, ref: Obj) -> None:
    """configMapBundleSource / secretBundleSource addToCertPool."""
    resource = "configmaps" if kind == "ConfigMap" else "secrets"
    if ref.get("name"):
        obj = store.get(resource, namespace, ref["name"])
        if obj is None:
            raise NotFoundError(f"failed to get {kind} {namespace}/{ref['name']}: {kind} \"{ref['name']}\" not found")
        objects = [obj]
    else:
        selector = ref.get("selector")
        bad = next((e.get("operator") for e in (selector or {}).get("matchExpressions") or []
                    if e.get("operator") not in SELECTOR_OPS), None)
        if bad is not None:
            raise SourceError(f"failed to parse label selector as Selector for {kind} in namespace {namespace}: "
                              f"\"{bad}\" is not a valid label selector operator")
        objects = [o for o in store.list(resource, namespace)
                   if selector_matches(selector, o["metadata"].get("labels") or {})]
    for obj in objects:
        name = f"{obj['metadata'].get('namespace', namespace)}/{obj['metadata']['name']}"
        if kind == "ConfigMap":
            entries = _configmap_entries(obj)
        else:
            entries = {k: _b64(v) for k, v in (obj.get("data") or {}).items()}
        key = ref.get("key")
        if key:
            if key not in entries:
                raise NotFoundError(f'no data found in {kind} {name} at key "{key}"')
            _add(pool, kind, name, key, entries[key])
        elif ref.get("includeAllKeys"):
            if kind == "Secret" and obj.get("type") == "kubernetes.io/tls":
                raise InvalidSecretError(f"includeAllKeys is not supported for TLS Secrets such as {name}")
            for k, data in entries.items():
                _add(pool, kind, name, k, data)


def _configmap_entries(cm: Obj) -> dict[str, bytes]:
    """A ConfigMap's keys: ``data`` first (upstream prefers it), then ``binaryData``."""
    out = {k: _b64(v) for k, v in (cm.get("binaryData") or {}).items()}
    out.update({k: str(v).encode() for k, v in (cm.get("data") or {}).items()})
    return out


def _add(pool: CertPool, kind: str, name: str, key: str, data: bytes) -> None:
    try:
        pool.add_certs_from_pem(data)
    except PEMError as exc:
        raise InvalidPEMError(f'invalid PEM data in {kind} {name} at key "{key}": {exc}') from None


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value)
    except ValueError:
        return b""


def selects(ref: Mapping[str, Any] | None, obj: Obj) -> bool:
    """sourceSelectsObject (pkg/bundle/controller.go): a source names the object, or its selector picks it."""
    if ref is None:
        return False
    if selector_matches(ref.get("selector"), obj["metadata"].get("labels") or {}):
        return True
    return ref.get("name") == obj["metadata"]["name"]
