"""API discovery bodies (``/api``, ``/apis``, ``/api/v1``, ``/apis/<g>/<v>``) built from the Registry.

kubectl and client-go learn which resources exist from these documents before
anything else, so their shape follows the 1.33 apiserver closely:

* legacy (unaggregated) discovery: ``APIVersions``, ``APIGroupList``,
  ``APIGroup`` and ``APIResourceList`` (k8s.io/apiserver/pkg/endpoints/discovery);
* aggregated discovery: one ``APIGroupDiscoveryList`` for ``/api`` or
  ``/apis``, chosen by the Accept header
  (k8s.io/apiserver/pkg/endpoints/discovery/aggregated/{wrapper,negotiation}.go).

client-go 0.30 .. 0.33 (kubectl 1.30 .. 1.33) send, for ``/api`` and ``/apis``
(client-go discovery/discovery_client.go ``acceptDiscoveryFormats``)::

    application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,
    application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,
    application/json

and decide how to parse the body from the response Content-Type
(``ContentTypeIsGVK``). A 1.33 apiserver has the ``AggregatedDiscoveryRemoveBetaType``
gate on by default, so it answers v2 and treats a v2beta1-only request as legacy;
:func:`negotiate` does the same unless ``allow_v2beta1`` is set.

The per group-version documents (``/api/v1``, ``/apis/<g>/<v>``) are always
legacy ``APIResourceList``; kubectl fetches them only when ``/apis`` came back
unaggregated.

All builders are pure and memoised per registry content (the tuple of its
frozen ResourceTypes), so repeated requests cost a dict lookup.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .registry import Registry, ResourceType

LEGACY = "legacy"
AGGREGATED_V2 = "aggregated-v2"
AGGREGATED_V2BETA1 = "aggregated-v2beta1"

DISCOVERY_GROUP = "apidiscovery.k8s.io"
DISCOVERY_KIND = "APIGroupDiscoveryList"

_CONTENT_TYPES = {
    LEGACY: "application/json",
    # Same parameter order the apiserver writes (responsewriters.generateMediaTypeWithGVK: g, v, as).
    AGGREGATED_V2: f"application/json;g={DISCOVERY_GROUP};v=v2;as={DISCOVERY_KIND}",
    AGGREGATED_V2BETA1: f"application/json;g={DISCOVERY_GROUP};v=v2beta1;as={DISCOVERY_KIND}",
}

DEFAULT_SERVER_ADDRESS = "127.0.0.1:6443"

# GroupPriorityMinimum of the built-in groups (pkg/controlplane/apiserver/aggregator.go
# DefaultGenericAPIServicePriorities merged with pkg/controlplane/aggregator.go apiVersionPriorities).
# /apis lists groups by descending priority, then name; kubectl's RESTMapper prefers earlier groups
# when a short name or kind is ambiguous (e.g. core events before events.k8s.io).
GROUP_PRIORITY: dict[str, int] = {
    "": 18000,
    "apps": 17800,
    "events.k8s.io": 17750,
    "authentication.k8s.io": 17700,
    "authorization.k8s.io": 17600,
    "autoscaling": 17500,
    "batch": 17400,
    "certificates.k8s.io": 17300,
    "networking.k8s.io": 17200,
    "policy": 17100,
    "rbac.authorization.k8s.io": 17000,
    "storage.k8s.io": 16800,
    "apiextensions.k8s.io": 16700,
    "admissionregistration.k8s.io": 16700,
    "scheduling.k8s.io": 16600,
    "coordination.k8s.io": 16500,
    "node.k8s.io": 16300,
    "discovery.k8s.io": 16200,
    "resource.k8s.io": 16200,
    "flowcontrol.apiserver.k8s.io": 16100,
    "internal.apiserver.k8s.io": 16000,
    "storagemigration.k8s.io": 15800,
}
CRD_GROUP_PRIORITY = 1000
"""What the crdregistration controller gives every CRD group (GroupPriorityMinimum)."""

BUILTIN_GROUPS = frozenset(GROUP_PRIORITY)


@dataclass(frozen=True)
class Subresource:
    """Discovery facts of one subresource: the kind it answers with and its verbs.

    ``group``/``version`` are set only when the kind lives in another group-version
    (APIResource.group/version are omitted otherwise, as upstream).
    """

    kind: str | None  # None: the parent's kind
    verbs: tuple[str, ...]
    group: str | None = None
    version: str | None = None


_STATUS_VERBS = ("get", "patch", "update")
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# Upstream's subresource table (kubectl get --raw /api/v1 on a 1.33 apiserver).
SUBRESOURCES_BY_NAME: dict[str, Subresource] = {
    "status": Subresource(None, _STATUS_VERBS),
    "scale": Subresource("Scale", _STATUS_VERBS, "autoscaling", "v1"),
    "ephemeralcontainers": Subresource(None, _STATUS_VERBS),
    "resize": Subresource(None, _STATUS_VERBS),
    "exec": Subresource("PodExecOptions", ("create", "get")),
    "attach": Subresource("PodAttachOptions", ("create", "get")),
    "portforward": Subresource("PodPortForwardOptions", ("create", "get")),
    "log": Subresource(None, ("get",)),
    "binding": Subresource("Binding", ("create",)),
    "eviction": Subresource("Eviction", ("create",), "policy", "v1"),
    "finalize": Subresource(None, ("update",)),
    "token": Subresource("TokenRequest", ("create",), "authentication.k8s.io", "v1"),
    "approval": Subresource(None, _STATUS_VERBS),
}
# Subresources whose kind depends on the parent resource.
SUBRESOURCES_BY_RESOURCE: dict[tuple[str, str, str], Subresource] = {
    ("", "pods", "proxy"): Subresource("PodProxyOptions", _PROXY_VERBS),
    ("", "nodes", "proxy"): Subresource("NodeProxyOptions", _PROXY_VERBS),
    ("", "services", "proxy"): Subresource("ServiceProxyOptions", _PROXY_VERBS),
}


def subresource_info(rt: ResourceType, sub: str) -> Subresource:
    """The discovery facts of ``rt``'s subresource ``sub`` (unknown ones act like status)."""
    return (SUBRESOURCES_BY_RESOURCE.get((rt.group, rt.plural, sub))
            or SUBRESOURCES_BY_NAME.get(sub)
            or Subresource(None, _STATUS_VERBS))


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """Opaque per-kind hash clients use to notice storage changes.

    k8s.io/apiserver/pkg/endpoints/discovery/storageversionhash.go: base64 of the
    first 8 bytes of sha256("<group>/<version>/<kind>").
    """
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def is_builtin_group(group: str) -> bool:
    """Whether a group is served natively (protobuf, strategic merge patch) rather than as a CRD."""
    return group in BUILTIN_GROUPS


# --------------------------------------------------------------------------- content negotiation


def _parse_accept(header: str) -> list[tuple[str, str, dict[str, str], float]]:
    """Accept clauses as (type, subtype, params, q), best first.

    Mirrors github.com/munnerz/goautoneg ParseAccept: a stable sort on q, with
    wildcards ranking below concrete types of equal q.
    """
    clauses = []
    for index, part in enumerate(header.split(",")):
        media, *raw_params = [p.strip() for p in part.split(";")]
        if not media:
            continue
        typ, _, subtype = media.partition("/")
        params: dict[str, str] = {}
        q = 1.0
        for raw in raw_params:
            key, _, value = raw.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        clauses.append((typ.strip().lower(), (subtype or "*").strip().lower(), params, q, index))
    clauses.sort(key=lambda c: (-c[3], c[0] == "*", c[1] == "*", c[4]))
    return [(t, s, p, q) for t, s, p, q, _ in clauses if q > 0]


def negotiate(accept_header: str | None, *, allow_v2beta1: bool = False) -> str:
    """Pick the discovery form for ``/api`` or ``/apis`` from an Accept header.

    Follows negotiation.NegotiateMediaTypeOptions with the
    aggregated.DiscoveryEndpointRestrictions: the first clause (by q) that
    matches application/json (or a wildcard) wins; a clause carrying g/v/as is
    only acceptable when it names an aggregated discovery version this server
    serves (v2 only on 1.33, v2beta1 too when ``allow_v2beta1``). Unmatched
    or empty headers fall back to legacy JSON.

    Returns:
        One of ``"aggregated-v2"``, ``"aggregated-v2beta1"``, ``"legacy"``.
    """
    if not accept_header:
        return LEGACY
    for typ, subtype, params, _q in _parse_accept(accept_header):
        if not (typ in ("application", "*") and subtype in ("json", "*")):
            continue
        convert = (params.get("g"), params.get("v"), params.get("as"))
        if convert == (None, None, None):
            return LEGACY
        if convert == (DISCOVERY_GROUP, "v2", DISCOVERY_KIND):
            return AGGREGATED_V2
        if convert == (DISCOVERY_GROUP, "v2beta1", DISCOVERY_KIND) and allow_v2beta1:
            return AGGREGATED_V2BETA1
    return LEGACY


def content_type_for(choice: str) -> str:
    """The response Content-Type for a :func:`negotiate` result.

    client-go parses the body as aggregated only when this header carries the
    matching g/v/as parameters, so it must be set exactly.
    """
    return _CONTENT_TYPES[choice]


# --------------------------------------------------------------------------- memoisation

_CACHE_SIZE = 8


@dataclass
class _Memo:
    """A tiny LRU of built bodies keyed by registry content and call arguments."""

    entries: OrderedDict[tuple, Any] = field(default_factory=OrderedDict)

    def get(self, key: tuple, build: Callable[[], Any]) -> Any:
        if key in self.entries:
            self.entries.move_to_end(key)
            return self.entries[key]
        value = build()
        self.entries[key] = value
        if len(self.entries) > _CACHE_SIZE * 16:
            self.entries.popitem(last=False)
        return value


_memo = _Memo()


def registry_key(registry: Registry) -> tuple[ResourceType, ...]:
    """The registry's revision: its (frozen, hashable) types in order.

    Adding a type changes the key, so cached bodies are rebuilt without any
    explicit invalidation.
    """
    return tuple(registry.types)


def _cached(kind: str, registry: Registry, *args: Any, build: Callable[[], Any]) -> Any:
    return _memo.get((kind, registry_key(registry), *args), build)


# --------------------------------------------------------------------------- groups


def ordered_groups(registry: Registry) -> list[tuple[str, list[str]]]:
    """(group, versions preferred-first) in the apiserver's listing order.

    Versions keep the registry's order (it registers the preferred version first);
    groups sort by GroupPriorityMinimum descending, then name
    (aggregated/handler.go calculateAPIGroupsLocked).
    """
    groups = registry.groups()
    names = sorted(groups, key=lambda g: (-GROUP_PRIORITY.get(g, CRD_GROUP_PRIORITY), g))
    return [(g, groups[g]) for g in names]


def _group_version_for_discovery(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def _api_group(group: str, versions: list[str]) -> dict[str, Any]:
    entries = [_group_version_for_discovery(group, v) for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def api_versions(registry: Registry, server_address: str = DEFAULT_SERVER_ADDRESS) -> dict[str, Any]:
    """``GET /api`` (legacy): the core group's versions.

    Upstream writes no apiVersion on this object; clients read only ``versions``.
    """
    def build() -> dict[str, Any]:
        versions = registry.groups().get("", [])
        return {
            "kind": "APIVersions",
            "versions": list(versions),
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
        }
    return _cached("api", registry, server_address, build=build)


def api_group_list(registry: Registry) -> dict[str, Any]:
    """``GET /apis`` (legacy): every named group with its versions, preferred first."""
    def build() -> dict[str, Any]:
        groups = [_api_group(g, vs) for g, vs in ordered_groups(registry) if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    return _cached("apis", registry, build=build)


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """``GET /apis/<group>``: one APIGroup, or None when the group is not served."""
    versions = registry.groups().get(group)
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)}


# --------------------------------------------------------------------------- resources


def _api_resource(rt: ResourceType) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        out["shortNames"] = list(rt.short_names)
    if rt.categories:
        out["categories"] = list(rt.categories)
    out["storageVersionHash"] = storage_version_hash(rt.group, rt.storage_version or rt.version, rt.kind)
    return out


def _api_subresource(rt: ResourceType, sub: str) -> dict[str, Any]:
    info = subresource_info(rt, sub)
    out: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced}
    if info.group is not None:
        out["group"] = info.group
        out["version"] = info.version
    out["kind"] = info.kind or rt.kind
    out["verbs"] = list(info.verbs)
    return out


def api_resources(registry: Registry, group: str, version: str) -> list[dict[str, Any]]:
    """The APIResource entries of one group-version, sorted by name as upstream.

    Subresources appear as ``<plural>/<sub>`` entries right after their parent,
    with an empty singularName (installer.go registers them that way).
    """
    def build() -> list[dict[str, Any]]:
        entries = []
        for rt in registry.in_group_version(group, version):
            entries.append(_api_resource(rt))
            entries.extend(_api_subresource(rt, sub) for sub in rt.subresources)
        return sorted(entries, key=lambda e: e["name"])
    return _cached("resources", registry, group, version, build=build)


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/<g>/<v>``: the APIResourceList, or None when not served.

    The core list carries no apiVersion (as a real /api/v1 answer); group lists say ``v1``.
    """
    if version not in registry.groups().get(group, []):
        return None
    head: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        head["apiVersion"] = "v1"
    head["groupVersion"] = f"{group}/{version}" if group else version
    return {**head, "resources": api_resources(registry, group, version)}


# --------------------------------------------------------------------------- aggregated


def _gvk(group: str | None, version: str | None, kind: str) -> dict[str, str]:
    return {"group": group or "", "version": version or "", "kind": kind}


def _resource_discovery(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """APIResource list → APIResourceDiscovery list.

    A port of k8s.io/apiserver/pkg/endpoints/installer.go ConvertGroupVersionIntoToDiscovery:
    parents first (in list order), then each ``parent/sub`` appended to its parent.
    """
    out: list[dict[str, Any]] = []
    parents: dict[str, dict[str, Any]] = {}
    for r in resources:
        if "/" in r["name"]:
            continue
        entry: dict[str, Any] = {
            "resource": r["name"],
            "responseKind": _gvk(r.get("group"), r.get("version"), r["kind"]),
            "scope": "Namespaced" if r["namespaced"] else "Cluster",
            "singularResource": r["singularName"],
            "verbs": r["verbs"],
        }
        for key in ("shortNames", "categories"):
            if key in r:
                entry[key] = r[key]
        out.append(entry)
        parents[r["name"]] = entry
    for r in resources:
        parent_name, slash, sub = r["name"].partition("/")
        if not slash:
            continue
        parent = parents.get(parent_name)
        if parent is None:  # orphan subresource: upstream invents an empty parent
            parent = {"resource": parent_name, "responseKind": _gvk("", "", ""),
                      "scope": "Namespaced" if r["namespaced"] else "Cluster"}
            out.append(parent)
            parents[parent_name] = parent
        parent.setdefault("subresources", []).append({
            "subresource": sub,
            "responseKind": _gvk(r.get("group"), r.get("version"), r["kind"]),
            "verbs": r["verbs"],
        })
    return out


def _crd_response_kinds(registry: Registry, group: str, version: str, resources: list[dict[str, Any]]) -> None:
    """The apiextensions DiscoveryController names a custom resource's (and its status's) group and version in
    responseKind, where built-in kinds leave them empty."""
    custom = {rt.plural for rt in registry.in_group_version(group, version) if rt.crd}
    for entry in resources:
        if entry["resource"] in custom:
            entry["responseKind"] = _gvk(group, version, entry["responseKind"]["kind"])
            for sub in entry.get("subresources") or []:
                if sub["subresource"] == "status":
                    sub["responseKind"] = _gvk(group, version, sub["responseKind"]["kind"])


def _group_discovery(registry: Registry, group: str, versions: list[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": group} if group else {}
    metadata["creationTimestamp"] = None  # Go's zero metav1.Time, as a 1.33 apiserver writes it
    out_versions = []
    for v in versions:
        resources = _resource_discovery(api_resources(registry, group, v))
        _crd_response_kinds(registry, group, v, resources)
        out_versions.append({"version": v, "resources": resources, "freshness": "Current"})
    return {"metadata": metadata, "versions": out_versions}


def aggregated_discovery(registry: Registry, *, core: bool, choice: str = AGGREGATED_V2) -> dict[str, Any]:
    """The APIGroupDiscoveryList for ``/api`` (``core=True``) or ``/apis``.

    ``/api`` holds only the core group (name ""), ``/apis`` every named group in
    priority order. v2 and v2beta1 have the same shape; only apiVersion differs.
    """
    version = "v2beta1" if choice == AGGREGATED_V2BETA1 else "v2"

    def build() -> dict[str, Any]:
        items = [_group_discovery(registry, g, vs) for g, vs in ordered_groups(registry) if (g == "") == core]
        return {"kind": DISCOVERY_KIND, "apiVersion": f"{DISCOVERY_GROUP}/{version}", "metadata": {}, "items": items}
    return _cached("aggregated", registry, core, version, build=build)


# --------------------------------------------------------------------------- serving helper


@dataclass(frozen=True)
class DiscoveryResponse:
    """A ready-to-send discovery answer (the HTTP layer copies it onto the wire)."""

    status: int
    body: bytes
    headers: dict[str, str]


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def etag_of(body: bytes) -> str:
    """Upstream's discovery ETag: uppercase hex SHA-512 of the JSON (aggregated/etag.go)."""
    return hashlib.sha512(body).hexdigest().upper()


def _encoded(kind: str, registry: Registry, *args: Any, build: Callable[[], Any]) -> tuple[bytes, str]:
    def encode() -> tuple[bytes, str]:
        body = _encode(build())
        return body, etag_of(body)
    return _cached("bytes:" + kind, registry, *args, build=encode)


def respond(registry: Registry, path: str, accept_header: str | None = None, if_none_match: str | None = None,
            *, server_address: str = DEFAULT_SERVER_ADDRESS, allow_v2beta1: bool = False) -> DiscoveryResponse | None:
    """Answer a discovery GET for ``path``; None when the path is not a discovery path.

    Discovery paths are ``/api``, ``/apis``, ``/api/<v>``, ``/apis/<g>`` and
    ``/apis/<g>/<v>``; anything deeper (resource URLs) is left to the caller.

    Aggregated answers carry ``ETag``/``Vary: Accept``/``Cache-Control: public``
    and turn a matching ``If-None-Match`` into 304, like aggregated/etag.go
    ServeHTTPWithETag. Unknown groups or versions give 404.
    """
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return None
    if len(parts) == 1:
        return _respond_root(registry, parts[0] == "api", accept_header, if_none_match, server_address, allow_v2beta1)
    if parts[0] == "api":
        if len(parts) != 2:
            return None
        body = api_resource_list(registry, "", parts[1])
    elif len(parts) == 2:
        body = api_group(registry, parts[1])
    elif len(parts) == 3:
        body = api_resource_list(registry, parts[1], parts[2])
    else:
        return None
    if body is None:
        return _not_found(path)
    return DiscoveryResponse(200, _encode(body), {"Content-Type": "application/json"})


def _respond_root(registry: Registry, core: bool, accept: str | None, if_none_match: str | None,
                  server_address: str, allow_v2beta1: bool) -> DiscoveryResponse:
    choice = negotiate(accept, allow_v2beta1=allow_v2beta1)
    if choice == LEGACY:
        obj = api_versions(registry, server_address) if core else api_group_list(registry)
        return DiscoveryResponse(200, _encode(obj), {"Content-Type": "application/json"})
    body, etag = _encoded("aggregated", registry, core, choice,
                          build=lambda: aggregated_discovery(registry, core=core, choice=choice))
    quoted = f'"{etag}"'
    headers = {"Content-Type": content_type_for(choice), "ETag": quoted, "Vary": "Accept", "Cache-Control": "public"}
    if if_none_match == quoted:
        return DiscoveryResponse(304, b"", headers)
    return DiscoveryResponse(200, body, headers)


def _not_found(path: str) -> DiscoveryResponse:
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {}, "code": 404,
    }
    return DiscoveryResponse(404, _encode(status), {"Content-Type": "application/json"})
