"""OpenAPI v3 documents (``/openapi/v3``) generated from the Registry and the SchemaSet.

kubectl 1.30 .. 1.33 reads these documents for three features, and each needs
a particular part of the apiserver's document shape:

* ``kubectl explain`` (k8s.io/kubectl/pkg/explain/v2, templates/plaintext.tmpl)
  fetches ``/openapi/v3``, then the group-version document named there, finds the
  GVK on an operation of ``/api[s]/<g>/<v>[/namespaces/{namespace}]/<plural>[/{name}]``
  and then the ``components.schemas`` entry whose ``x-kubernetes-group-version-kind``
  contains it. Types must be plain strings (the template compares ``.type`` to
  "object"); IntOrString/Quantity must be untyped ``oneOf`` schemas so they print
  as ``<IntOrString>``/``<Quantity>``.
* server-side field validation (cli-runtime pkg/resource/query_param_verifier_v3.go):
  the first PATCH operation carrying the GVK must list a ``fieldValidation`` query
  parameter *on the operation* (path-level parameters are not consulted). When it
  does, kubectl sends ``?fieldValidation=`` and never downloads OpenAPI v2.
* client-side ``kubectl apply``/``diff`` (kubectl pkg/cmd/apply/patcher.go): a PATCH
  operation with the GVK whose requestBody offers
  ``application/strategic-merge-patch+json`` means "strategic merge patch, with patch
  metadata from this document" (strategicpatch.PatchMetaFromOpenAPIV3 follows
  ``allOf[0]`` then ``$ref``). CRD groups do not offer it, so kubectl falls back to
  a JSON merge patch, as against a real cluster.

Component schemas are converted from the JSON-schema definitions
(``#/$defs/<name>`` → ``#/components/schemas/<name>``, ``["string", "null"]`` →
``"string"``) and a ``$ref`` with siblings is wrapped in ``allOf`` exactly like
k8s.io/kube-openapi/pkg/builder3/util.WrapRefs (the 1.33 apiserver's form).

Each document is served with upstream's hash semantics (kube-openapi
pkg/handler3/handler.go): the index names ``/openapi/v3/<path>?hash=<ETAG>``
where ETAG is the uppercase hex SHA-512 of the JSON; a request with the current
hash is ``Cache-Control: public, immutable``, a stale hash is redirected (301).

OpenAPI v2 is deliberately not served: see :func:`openapi_v2_status`.

Everything is built once per (registry, schema set) revision and cached.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from .discovery import is_builtin_group, ordered_groups, subresource_info
from .registry import Registry, ResourceType
from .schema import REF_PREFIX, SchemaSet

Node = dict[str, Any]

SERVER_VERSION = "v1.33.1"
COMPONENT_PREFIX = "#/components/schemas/"
OPENAPI_V3_PREFIX = "/openapi/v3"

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
DELETE_OPTIONS = META + "DeleteOptions"
STATUS = META + "Status"
PATCH = META + "Patch"
API_RESOURCE_LIST = META + "APIResourceList"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"

# Media types the apiserver's routes produce (endpoints/installer.go); CRDs have no protobuf.
MEDIA_BUILTIN = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
MEDIA_CRD = ("application/json", "application/yaml")
WATCH_MEDIA_BUILTIN = ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
WATCH_MEDIA_CRD = ("application/json;stream=watch",)
PATCH_MEDIA_BUILTIN = ("application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json", "application/strategic-merge-patch+json")
PATCH_MEDIA_CRD = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
LOG_MEDIA = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml", "text/plain")

# The two apimachinery types kubernetes-validate flattens to a bare oneOf. Upstream's v3 form
# (openapi-gen OpenAPIV3OneOfTypes) keeps them untyped, which is what makes explain print the
# type name instead of "string".
SPECIAL_DEFINITIONS: dict[str, Node] = {
    INT_OR_STRING: {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
                       "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you "
                       "to have, for example, a JSON field that can accept a name or number.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    QUANTITY: {
        "description": (
            "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling "
            "in JSON and YAML, in addition to String() and AsInt64() accessors.\n\nThe serialization format is:\n\n"
            "``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" "
            "case in <decimalSI>.)\n\n<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | "
            "<digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>    "
            "        ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= "
            "<binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t"
            "(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n<decimalSI>  "
            "     ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the "
            "capitalization.)\n\n<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\nNo matter "
            "which of the three exponent forms is used, no quantity may represent a number greater than 2^63-1 in "
            "magnitude, nor may it have more than 3 decimal places. Numbers larger or more precise will be capped "
            "or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the future if we require "
            "larger or smaller quantities.\n\nWhen a Quantity is parsed from a string, it will remember the type "
            "of suffix it had, and will use the same type again when it is serialized.\n\nBefore serializing, "
            "Quantity will be put in \"canonical form\". This means that Exponent/suffix will be adjusted up or "
            "down (with a corresponding increase or decrease in Mantissa) such that:\n\n- No precision is lost - "
            "No fractional digits will be emitted - The exponent (or suffix) is as large as possible.\n\nThe sign "
            "will be omitted unless the number is negative.\n\nExamples:\n\n- 1.5 will be serialized as \"1500m\" "
            "- 1.5Gi will be serialized as \"1536Mi\"\n\nNote that the quantity will NEVER be internally "
            "represented by a floating point number. That is the whole point of this exercise.\n\nNon-canonical "
            "representations will still parse as long as they are well-formed, but will be re-emitted in their "
            "canonical form. (So always use canonical form, or don't diff.)\n\nThis format is intended to make it "
            "difficult to use these numbers without writing some sort of special handling code in the hopes that "
            "that will cause implementors to also use a fixed point implementation."
        ),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}

SECURITY_SCHEMES = {
    "BearerToken": {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                    "type": "apiKey"},
}

# --------------------------------------------------------------------------- parameters
# Texts as the apiserver publishes them (k8s.io/apimachinery/pkg/apis/meta/v1 option types).

_D = {
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not "
                           "implement bookmarks may ignore this flag and bookmarks are sent at the server's "
                           "discretion. Clients should not assume bookmarks are returned at any specific interval, "
                           "nor may they assume the server will send any BOOKMARK event during a session. If this "
                           "is not a watch, this field is ignored.",
    "continue": "The continue option should be set when retrieving more results from the server. Since this value "
                "is server defined, clients may only use the continue value from a previous query result with "
                "identical query parameters (except for the value of continue) and the server may reject a "
                "continue value it does not recognize. If the specified continue value is no longer valid whether "
                "due to expiration (generally five to fifteen minutes) or a configuration change on the server, "
                "the server will respond with a 410 ResourceExpired error together with a continue token. If the "
                "client needs a consistent list, it must restart their list without the continue field. Otherwise, "
                "the client may send another list request with the token received with the 410 error, the server "
                "will respond with a list starting from the next key, but from the latest snapshot, which is "
                "inconsistent from the previous list results - objects that are created, modified, or deleted "
                "after the first list request will be included in the response, as long as their keys are after "
                "the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch "
                "from the last resourceVersion value returned by the server and not miss any modifications.",
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
              "dryRun directive will result in an error response and no further processing of the request. Valid "
              "values are: - All: all dry run stages will be processed",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes. The "
                    "value must be less than or 128 characters long, and only contain printable characters, as "
                    "defined by https://golang.org/pkg/unicode/#IsPrint.",
    "fieldManagerPatch": "fieldManager is a name associated with the actor or entity that is making these "
                         "changes. The value must be less than or 128 characters long, and only contain printable "
                         "characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required "
                         "for apply requests (application/apply-patch) but optional for non-apply patch types "
                         "(JsonPatch, MergePatch, StrategicMergePatch).",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                       "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This "
                       "will ignore any unknown fields that are silently dropped from the object, and will ignore "
                       "all but the last duplicate field that the decoder encounters. This is the default behavior "
                       "prior to v1.23. - Warn: This will send a warning via the standard warning response header "
                       "for each unknown field that is dropped from the object, and for each duplicate field that "
                       "is encountered. The request will still succeed if there are no other errors, and will only "
                       "persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will "
                       "fail the request with a BadRequest error if any unknown fields would be dropped from the "
                       "object, or if any duplicate fields are present. The error returned from the server will "
                       "contain all unknown and duplicate fields encountered.",
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by "
             "other people. Force flag must be unset for non-apply patch requests.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted. Value must be non-negative "
                          "integer. The value zero indicates delete immediately. If this value is nil, the default "
                          "grace period for the specified type will be used. Defaults to a per object value if not "
                          "specified. zero means delete immediately.",
    "ignoreStoreReadErrorWithClusterBreakingPotential": (
        "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails "
        "with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the "
        "underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or "
        "b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips "
        "precondition checks, and removes the object from the storage. WARNING: This may potentially break the "
        "cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. "
        "Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to "
        "enable it"),
    "labelSelector": "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call. If more items exist, the server "
             "will set the `continue` field on the list metadata to a value that can be used with the same initial "
             "query to retrieve the next set of results. Setting a limit may return fewer than the requested amount "
             "of items (up to zero items) in the event all requested objects are filtered out and clients should "
             "only use the presence of the continue field to determine whether more results are available. Servers "
             "may choose not to support the limit argument and will return all of the available results. If limit "
             "is specified and the continue field is empty, clients may assume that no more results are available. "
             "This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when "
             "using continue will be identical to issuing a single list call without a limit - that is, no objects "
             "created, modified, or deleted after the first request is issued will be included in any subsequent "
             "continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client "
             "that is using limit to receive smaller chunks of a very large result can ensure they see all possible "
             "objects. If objects are updated during a chunked list the version of the object that was present at "
             "the time the first list result was calculated is returned.",
    "namespace": "object name and auth scope, such as for teams and projects",
    "orphanDependents": "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should "
                        "the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added "
                        "to/removed from the object's finalizers list. Either this field or PropagationPolicy may "
                        "be set, but not both.",
    "pretty": "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a "
              "browser or command-line HTTP tool (curl and wget).",
    "propagationPolicy": "Whether and how garbage collection will be performed. Either this field or "
                         "OrphanDependents may be set, but not both. The default policy is decided by the existing "
                         "finalizer set in the metadata.finalizers and the resource-specific default policy. "
                         "Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage "
                         "collector to delete the dependents in the background; 'Foreground' - a cascading policy "
                         "that deletes all dependents in the foreground.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served from. "
                       "See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for "
                       "details.\n\nDefaults to unset",
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied to list calls. It is "
                            "highly recommended that resourceVersionMatch be set for list calls where "
                            "resourceVersion is set See "
                            "https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for "
                            "details.\n\nDefaults to unset",
    "sendInitialEvents": "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch "
                         "stream will begin with synthetic events to produce the current state of objects in the "
                         "collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be "
                         "sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of "
                         "objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. "
                         "Afterwards, the watch stream will proceed as usual, sending watch events corresponding to "
                         "changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is "
                         "set, we require `resourceVersionMatch` option to also be set. The semantic of the watch "
                         "request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as "
                         "\"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is "
                         "send when the state is synced\n  to a `resourceVersion` at least as fresh as the one "
                         "provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as "
                         "\"consistent read\" and the\n  bookmark event is send when the state is synced at least to "
                         "the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any "
                         "other value or unset\n  Invalid error is returned.\n\nDefaults to true if "
                         "`resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and "
                         "to false otherwise.",
    "timeoutSeconds": "Timeout for the list/watch call. This limits the duration of the call, regardless of any "
                      "activity or inactivity.",
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and remove "
             "notifications. Specify resourceVersion.",
}

_TYPES = {
    "allowWatchBookmarks": "boolean", "gracePeriodSeconds": "integer", "limit": "integer",
    "orphanDependents": "boolean", "sendInitialEvents": "boolean", "timeoutSeconds": "integer", "watch": "boolean",
    "force": "boolean", "ignoreStoreReadErrorWithClusterBreakingPotential": "boolean",
}


def _query(name: str, description: str | None = None, type_: str | None = None) -> Node:
    """A query parameter the way builder3.buildParameter renders it (uniqueItems: !AllowMultiple)."""
    return {"description": description if description is not None else _D[name], "in": "query", "name": name,
            "schema": {"type": type_ or _TYPES.get(name, "string"), "uniqueItems": True}}


def _path_param(name: str, description: str) -> Node:
    return {"description": description, "in": "path", "name": name, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
               "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
DELETECOLLECTION_PARAMS = ("continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
                           "ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector", "limit",
                           "orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
                           "sendInitialEvents", "timeoutSeconds")
DELETE_PARAMS = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                 "orphanDependents", "propagationPolicy")


def _write_params() -> list[Node]:
    return [_query("dryRun"), _query("fieldManager"), _query("fieldValidation")]


def _patch_params() -> list[Node]:
    """PATCH's query parameters; ``fieldValidation`` here is what kubectl's verifier looks for."""
    return [_query("dryRun"), _query("fieldManager", _D["fieldManagerPatch"]), _query("fieldValidation"),
            _query("force")]


# Query parameters of the connect/log subresources (core/v1 Pod*Options, NodeProxyOptions, ...).
_CONNECT_PARAMS: dict[str, list[Node]] = {
    "exec": [
        _query("command", "Command is the remote command to execute. argv array. Not executed within a shell."),
        _query("container", "Container in which to execute the command. Defaults to only container if there is "
                            "only one container in the pod."),
        _query("stderr", "Redirect the standard error stream of the pod for this call.", "boolean"),
        _query("stdin", "Redirect the standard input stream of the pod for this call. Defaults to false.", "boolean"),
        _query("stdout", "Redirect the standard output stream of the pod for this call.", "boolean"),
        _query("tty", "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false.",
               "boolean"),
    ],
    "attach": [
        _query("container", "The container in which to execute the command. Defaults to only container if there "
                            "is only one container in the pod."),
        _query("stderr", "Stderr if true indicates that stderr is to be redirected for the attach call. Defaults "
                         "to true.", "boolean"),
        _query("stdin", "Stdin if true, redirects the standard input stream of the pod for this call. Defaults to "
                        "false.", "boolean"),
        _query("stdout", "Stdout if true indicates that stdout is to be redirected for the attach call. Defaults "
                         "to true.", "boolean"),
        _query("tty", "TTY if true indicates that a tty will be allocated for the attach call. This is passed "
                      "through the container runtime so the tty is allocated on the worker node by the container "
                      "runtime. Defaults to false.", "boolean"),
    ],
    "portforward": [_query("ports", "List of ports to forward Required when using WebSockets", "integer")],
    "proxy": [_query("path", "Path is the URL path to use for the current proxy request.")],
}
_LOG_PARAMS = [
    _query("container", "The container for which to stream logs. Defaults to only container if there is one "
                        "container in the pod."),
    _query("follow", "Follow the log stream of the pod. Defaults to false.", "boolean"),
    _query("insecureSkipTLSVerifyBackend", "insecureSkipTLSVerifyBackend indicates that the apiserver should not "
           "confirm the validity of the serving certificate of the backend it is connecting to.  This will make the "
           "HTTPS connection between the apiserver and the backend insecure. This means the apiserver cannot verify "
           "the log data it is receiving came from the real kubelet.  If the kubelet is configured to verify the "
           "apiserver's TLS credentials, it does not mean the connection to the real kubelet is vulnerable to a man "
           "in the middle attack (e.g. an attacker could not intercept the actual log data coming from the real "
           "kubelet).", "boolean"),
    _query("limitBytes", "If set, the number of bytes to read from the server before terminating the log output. "
           "This may not display a complete final line of logging, and may return slightly more or slightly less "
           "than the specified limit.", "integer"),
    _query("previous", "Return previous terminated container logs. Defaults to false.", "boolean"),
    _query("sinceSeconds", "A relative time in seconds before the current time from which to show logs. If this "
           "value precedes the time a pod was started, only logs since the pod start will be returned. If this value "
           "is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified.",
           "integer"),
    _query("stream", "Specify which container log stream to return to the client. Acceptable values are \"All\", "
           "\"Stdout\" and \"Stderr\". If not specified, \"All\" is used, and both stdout and stderr are returned "
           "interleaved. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\"."),
    _query("tailLines", "If set, the number of lines from the end of the logs to show. If not specified, logs are "
           "shown from the creation of the container or sinceSeconds or sinceTime. Note that when \"TailLines\" is "
           "specified, \"Stream\" can only be set to nil or \"All\".", "integer"),
    _query("timestamps", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log "
           "output. Defaults to false.", "boolean"),
]

# --------------------------------------------------------------------------- schema conversion


def _plain_type(value: Any) -> str | None:
    """JSON-schema ``type`` (maybe a list with "null") → the single OpenAPI type string."""
    if isinstance(value, str):
        return None if value == "null" else value
    if isinstance(value, list):
        concrete = [t for t in value if t != "null"]
        return concrete[0] if concrete else None
    return None


def _wrap_ref(node: Node) -> Node:
    """A ``$ref`` with siblings becomes ``allOf: [{$ref}]`` plus the siblings (builder3/util.WrapRefs)."""
    if "$ref" in node and len(node) > 1:
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {"allOf": [{"$ref": node["$ref"]}], **rest}
    return node


_SCHEMA_MAPS = ("properties", "patternProperties")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_DROPPED = ("$schema", "$id", "$defs", "definitions")


def convert_schema(node: Any) -> Any:
    """One JSON-schema node (kubernetes-validate form) → its OpenAPI v3 form.

    Only schema-valued keywords are descended into, so extension values such as
    ``x-kubernetes-unions`` (whose entries contain a ``discriminator`` key) pass
    through untouched.
    """
    if not isinstance(node, dict):
        return node
    out: Node = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = COMPONENT_PREFIX + value[len(REF_PREFIX):] if value.startswith(REF_PREFIX) else value
        elif key == "type":
            plain = _plain_type(value)
            if plain:
                out[key] = plain
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: convert_schema(v) for k, v in value.items()}
        elif key in _SCHEMA_ONE:
            out[key] = convert_schema(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [convert_schema(v) for v in value]
        elif key not in _DROPPED:
            out[key] = value
    return _wrap_ref(out)


def convert_definition(name: str, node: Node) -> Node:
    """A top-level definition → component schema.

    The apiVersion/kind enums kubernetes-validate adds to every kind are dropped
    (the apiserver publishes none, and explain would print them as ENUM).
    """
    if name in SPECIAL_DEFINITIONS:
        return SPECIAL_DEFINITIONS[name]
    out = convert_schema(node)
    if node.get("x-kubernetes-group-version-kind") and isinstance(out.get("properties"), dict):
        props = dict(out["properties"])
        for key in ("apiVersion", "kind"):
            if isinstance(props.get(key), dict) and "enum" in props[key]:
                props[key] = {k: v for k, v in props[key].items() if k != "enum"}
        out["properties"] = props
    return out


def _refs_in(node: Any, found: set[str]) -> None:
    """Collect every ``#/$defs/<name>`` a raw definition refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX):])
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for v in value.values():
                    _refs_in(v, found)
            elif key in _SCHEMA_ONE or (key in _SCHEMA_LISTS and isinstance(value, list)):
                _refs_in(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs_in(item, found)


class _Components:
    """Converted definitions of one SchemaSet revision, memoised and shared by all documents."""

    def __init__(self, definitions: dict[str, Node]):
        self.definitions = definitions
        self.extra: dict[str, Node] = {}  # synthesized (already converted) definitions
        self._converted: dict[str, Node] = {}
        self._deps: dict[str, frozenset[str]] = {}

    def has(self, name: str) -> bool:
        return name in self.definitions or name in self.extra

    def converted(self, name: str) -> Node:
        if name in self.extra:
            return self.extra[name]
        if name not in self._converted:
            self._converted[name] = convert_definition(name, self.definitions[name])
        return self._converted[name]

    def deps(self, name: str) -> frozenset[str]:
        if name not in self._deps:
            found: set[str] = set()
            if name in self.extra:  # synthesized nodes are already in component form
                found = {r[len(COMPONENT_PREFIX):] for r in _component_refs(self.extra[name])}
            else:
                _refs_in(self.definitions[name], found)
            self._deps[name] = frozenset(found)
        return self._deps[name]

    def closure(self, roots: Iterable[str]) -> dict[str, Node]:
        """The component schemas reachable from ``roots``, sorted by name."""
        seen: set[str] = set()
        stack = [r for r in roots if self.has(r)]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(d for d in self.deps(name) if self.has(d) and d not in seen)
        return {name: self.converted(name) for name in sorted(seen)}


def _component_refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
            yield ref
        for value in node.values():
            yield from _component_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _component_refs(item)


# --------------------------------------------------------------------------- naming


def _camel(text: str, capitalize_first: bool) -> str:
    """Upstream's ToValidOperationID: drop separators, upper-case the letter after each."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]
    if not words:
        return ""
    head = words[0][0].upper() + words[0][1:] if capitalize_first else words[0]
    return head + "".join(w[0].upper() + w[1:] for w in words[1:])


def _friendly_group(group: str) -> str:
    """``networking.k8s.io`` → ``networking``; core → ``core`` (endpoints/openapi GetOperationIDAndTags)."""
    if not group:
        return "core"
    return group[: -len(".k8s.io")] if group.endswith(".k8s.io") else group


def tag_for(group: str, version: str) -> str:
    return f"{_camel(_friendly_group(group), False)}_{version}"


def _op_gv(group: str, version: str) -> str:
    return _camel(_friendly_group(group), True) + version[0].upper() + version[1:]


def gv_path(group: str, version: str) -> str:
    """The index key and URL tail of a group-version: ``api/v1`` or ``apis/<g>/<v>``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _ref(name: str) -> Node:
    return {"$ref": COMPONENT_PREFIX + name}


def _crd_definition_name(group: str, version: str, kind: str) -> str:
    """The component name apiextensions gives a CRD kind: reversed group, version, kind."""
    return ".".join([*reversed(group.split(".")), version, kind]) if group else f"{version}.{kind}"


# --------------------------------------------------------------------------- operations


def _content(media: Iterable[str], schema: Node) -> dict[str, Node]:
    return {m: {"schema": schema} for m in media}


def _responses(codes: Iterable[tuple[int, str]], media: Iterable[str], schema: Node) -> dict[str, Node]:
    media = tuple(media)
    out = {str(code): {"content": _content(media, schema), "description": text} for code, text in codes}
    out["401"] = {"description": "Unauthorized"}
    return out


@dataclass
class _Op:
    """One operation before common parameters are hoisted to the path item."""

    method: str
    body: Node
    params: list[Node]


def _operation(method: str, description: str, operation_id: str, tag: str, action: str,
               gvk: dict[str, str] | None, params: list[Node], responses: dict[str, Node],
               request_body: Node | None = None) -> _Op:
    body: Node = {"description": description, "operationId": operation_id}
    if request_body is not None:
        body["requestBody"] = request_body
    body["responses"] = responses
    body["tags"] = [tag]
    body["x-kubernetes-action"] = action
    if gvk is not None:
        body["x-kubernetes-group-version-kind"] = gvk
    return _Op(method, body, params)


def _param_key(param: Node) -> tuple[str, str]:
    return param["name"], param["in"]


def _path_item(ops: list[_Op]) -> Node:
    """Assemble a path item, hoisting parameters every operation shares (builder3.findCommonParameters).

    Both lists are sorted by (name, in) as builder3.sortParameters does.
    """
    counts: dict[tuple[str, str], int] = {}
    by_key: dict[tuple[str, str], Node] = {}
    for op in ops:
        for p in op.params:
            counts[_param_key(p)] = counts.get(_param_key(p), 0) + 1
            by_key[_param_key(p)] = p
    common = {k for k, n in counts.items() if n == len(ops)}
    item: Node = {}
    for op in sorted(ops, key=lambda o: o.method):
        own = sorted((p for p in op.params if _param_key(p) not in common), key=_param_key)
        item[op.method] = {**op.body, "parameters": own} if own else op.body
    if common:
        item["parameters"] = [by_key[k] for k in sorted(common)]
    return item


@dataclass(frozen=True)
class _Kind:
    """What the operations of one resource need to know about it."""

    rt: ResourceType
    schema: str  # component name of the kind
    list_schema: str
    builtin: bool

    @property
    def media(self) -> tuple[str, ...]:
        return MEDIA_BUILTIN if self.builtin else MEDIA_CRD

    @property
    def gvk(self) -> dict[str, str]:
        return _gvk(self.rt.group, self.rt.version, self.rt.kind)


class _DocBuilder:
    """Paths and component roots of one group-version document."""

    def __init__(self, schemas: SchemaSet, group: str, version: str):
        self.schemas = schemas
        self.group, self.version = group, version
        self.tag = tag_for(group, version)
        self.gv = _op_gv(group, version)
        self.prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        self.paths: dict[str, Node] = {}
        self.roots: set[str] = {API_RESOURCE_LIST}

    def add_resource(self, kind: _Kind) -> None:
        rt = kind.rt
        self.roots.update((kind.schema, kind.list_schema, DELETE_OPTIONS, STATUS, PATCH))
        ns = "Namespaced" if rt.namespaced else ""
        base = f"{self.prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{self.prefix}/{rt.plural}"
        scope = [_path_param("namespace", _D["namespace"])] if rt.namespaced else []
        item_scope = [_path_param("name", f"name of the {rt.kind}"), *scope]
        self._collection(kind, base, ns, scope)
        self._item(kind, base + "/{name}", ns, item_scope)
        if rt.namespaced and "list" in rt.verbs:
            self._all_namespaces(kind)
        for sub in rt.subresources:
            self._subresource(kind, sub, base + "/{name}/" + sub, ns, item_scope)

    def _collection(self, kind: _Kind, path: str, ns: str, scope: list[Node]) -> None:
        rt, ops = kind.rt, []
        common = [*scope, _query("pretty")]
        watch_media = WATCH_MEDIA_BUILTIN if kind.builtin else WATCH_MEDIA_CRD
        if "list" in rt.verbs:
            ops.append(_operation(
                "get", f"list or watch objects of kind {rt.kind}", f"list{self.gv}{ns}{rt.kind}", self.tag, "list",
                kind.gvk, [*common, *(_query(p) for p in LIST_PARAMS)],
                _responses([(200, "OK")], (*kind.media, *watch_media), _ref(kind.list_schema))))
        if "create" in rt.verbs:
            ops.append(_operation(
                "post", f"create a {rt.kind}", f"create{self.gv}{ns}{rt.kind}", self.tag, "post", kind.gvk,
                [*common, *_write_params()],
                _responses([(200, "OK"), (201, "Created"), (202, "Accepted")], kind.media, _ref(kind.schema)),
                {"content": _content(["*/*"], _ref(kind.schema)), "required": True}))
        if "deletecollection" in rt.verbs:
            ops.append(_operation(
                "delete", f"delete collection of {rt.kind}", f"delete{self.gv}Collection{ns}{rt.kind}", self.tag,
                "deletecollection", kind.gvk, [*common, *(_query(p) for p in DELETECOLLECTION_PARAMS)],
                _responses([(200, "OK")], kind.media, _ref(STATUS)),
                {"content": _content(["*/*"], _ref(DELETE_OPTIONS))}))
        if ops:
            self.paths[path] = _path_item(ops)

    def _item(self, kind: _Kind, path: str, ns: str, scope: list[Node]) -> None:
        rt, ops = kind.rt, []
        common = [*scope, _query("pretty")]
        schema = _ref(kind.schema)
        if "get" in rt.verbs:
            ops.append(_operation("get", f"read the specified {rt.kind}", f"read{self.gv}{ns}{rt.kind}", self.tag,
                                  "get", kind.gvk, common, _responses([(200, "OK")], kind.media, schema)))
        if "update" in rt.verbs:
            ops.append(_operation(
                "put", f"replace the specified {rt.kind}", f"replace{self.gv}{ns}{rt.kind}", self.tag, "put",
                kind.gvk, [*common, *_write_params()],
                _responses([(200, "OK"), (201, "Created")], kind.media, schema),
                {"content": _content(["*/*"], schema), "required": True}))
        if "patch" in rt.verbs:
            ops.append(self._patch_op(kind, f"partially update the specified {rt.kind}",
                                      f"patch{self.gv}{ns}{rt.kind}", kind.gvk, schema, common))
        if "delete" in rt.verbs:
            ops.append(_operation(
                "delete", f"delete a {rt.kind}", f"delete{self.gv}{ns}{rt.kind}", self.tag, "delete", kind.gvk,
                [*common, *(_query(p) for p in DELETE_PARAMS)],
                _responses([(200, "OK"), (202, "Accepted")], kind.media, _ref(STATUS)),
                {"content": _content(["*/*"], _ref(DELETE_OPTIONS))}))
        if ops:
            self.paths[path] = _path_item(ops)

    def _patch_op(self, kind: _Kind, description: str, operation_id: str, gvk: dict[str, str], schema: Node,
                  common: list[Node]) -> _Op:
        patch_media = PATCH_MEDIA_BUILTIN if kind.builtin else PATCH_MEDIA_CRD
        return _operation("patch", description, operation_id, self.tag, "patch", gvk, [*common, *_patch_params()],
                          _responses([(200, "OK"), (201, "Created")], kind.media, schema),
                          {"content": _content(patch_media, _ref(PATCH)), "required": True})

    def _all_namespaces(self, kind: _Kind) -> None:
        rt = kind.rt
        watch_media = WATCH_MEDIA_BUILTIN if kind.builtin else WATCH_MEDIA_CRD
        op = _operation("get", f"list or watch objects of kind {rt.kind}", f"list{self.gv}{rt.kind}ForAllNamespaces",
                        self.tag, "list", kind.gvk, [_query("pretty"), *(_query(p) for p in LIST_PARAMS)],
                        _responses([(200, "OK")], (*kind.media, *watch_media), _ref(kind.list_schema)))
        self.paths[f"{self.prefix}/{rt.plural}"] = _path_item([op])

    def _subresource(self, kind: _Kind, sub: str, path: str, ns: str, scope: list[Node]) -> None:
        """Operations of ``<plural>/{name}/<sub>``, shaped after the apiserver's per-verb routes."""
        rt, info = kind.rt, subresource_info(kind.rt, sub)
        sub_group = rt.group if info.group is None else info.group
        sub_version = rt.version if info.version is None else info.version
        sub_kind = info.kind or rt.kind
        gvk = _gvk(sub_group, sub_version, sub_kind)
        schema_name = self._schema_for(sub_group, sub_version, sub_kind, kind)
        suffix = _camel(sub, True)
        op_id = f"{self.gv}{ns}{rt.kind}{suffix}"
        common = [*scope, _query("pretty")]
        if sub in _CONNECT_PARAMS:
            self._connect(kind, sub, path, op_id, gvk, scope, info.verbs)
            return
        if sub == "log":
            op = _operation("get", f"read log of the specified {rt.kind}", f"read{op_id}", self.tag, "get", gvk,
                            [*common, *_LOG_PARAMS], _responses([(200, "OK")], LOG_MEDIA, {"type": "string"}))
            self.paths[path] = _path_item([op])
            return
        schema = _ref(schema_name) if schema_name else {"type": "object"}
        media = kind.media
        ops = []
        if "get" in info.verbs:
            ops.append(_operation("get", f"read {sub} of the specified {rt.kind}", f"read{op_id}", self.tag, "get",
                                  gvk, common, _responses([(200, "OK")], media, schema)))
        if "update" in info.verbs:
            ops.append(_operation(
                "put", f"replace {sub} of the specified {rt.kind}", f"replace{op_id}", self.tag, "put", gvk,
                [*common, *_write_params()], _responses([(200, "OK"), (201, "Created")], media, schema),
                {"content": _content(["*/*"], schema), "required": True}))
        if "patch" in info.verbs:
            ops.append(self._patch_op(kind, f"partially update {sub} of the specified {rt.kind}", f"patch{op_id}",
                                      gvk, schema, common))
        if "create" in info.verbs:
            ops.append(_operation(
                "post", f"create {sub} of a {rt.kind}", f"create{op_id}", self.tag, "post", gvk,
                [*common, *_write_params()],
                _responses([(200, "OK"), (201, "Created"), (202, "Accepted")], media, schema),
                {"content": _content(["*/*"], schema), "required": True}))
        if ops:
            self.paths[path] = _path_item(ops)

    def _connect(self, kind: _Kind, sub: str, path: str, op_id: str, gvk: dict[str, str], scope: list[Node],
                 verbs: tuple[str, ...]) -> None:
        """exec/attach/portforward/proxy: ``connect`` actions answering a raw stream (``*/*`` string)."""
        methods = {"get": "GET", "create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE"}
        params = _CONNECT_PARAMS[sub]
        responses = {"200": {"content": _content(["*/*"], {"type": "string"}), "description": "OK"},
                     "401": {"description": "Unauthorized"}}
        variants = [(path, scope, op_id)]
        if sub == "proxy":
            variants.append((path + "/{path}", [*scope, _path_param("path", "path to the resource")],
                             op_id + "WithPath"))
        for sub_path, sub_scope, sub_id in variants:
            ops = []
            for verb in verbs:
                method = methods[verb].lower()
                desc = f"connect {methods[verb]} requests to {sub} of {kind.rt.kind}"
                operation_id = f"connect{self.gv}{methods[verb].capitalize()}{sub_id[len(self.gv):]}"
                ops.append(_operation(method, desc, operation_id, self.tag, "connect", gvk, [*sub_scope, *params],
                                      responses))
            self.paths[sub_path] = _path_item(ops)

    def _schema_for(self, group: str, version: str, kind_name: str, kind: _Kind) -> str | None:
        """Component name for a subresource kind; the parent's own schema when the kinds match."""
        if (group, version, kind_name) == (kind.rt.group, kind.rt.version, kind.rt.kind):
            return kind.schema
        name = self.schemas.name_for(group, version, kind_name)
        if name:
            self.roots.add(name)
        return name

    def discovery_path(self) -> None:
        """``GET /apis/<g>/<v>/``: the APIResourceList route every group-version has."""
        op = {"description": "get available resources", "operationId": f"get{self.gv}APIResources",
              "responses": _responses([(200, "OK")], MEDIA_BUILTIN, _ref(API_RESOURCE_LIST)), "tags": [self.tag]}
        self.paths[self.prefix + "/"] = {"get": op}


# --------------------------------------------------------------------------- documents


def _document(paths: dict[str, Node], schemas: dict[str, Node]) -> Node:
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION},
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
    }


def _resolve_kind(rt: ResourceType, schemas: SchemaSet, components: _Components) -> _Kind:
    """Find (or synthesize, for a schemaless CRD-shaped registration) the kind and list schemas."""
    name = rt.schema_name or schemas.name_for(rt.group, rt.version, rt.kind)
    if not name or not components.has(name):
        name = _crd_definition_name(rt.group, rt.version, rt.kind)
        if not components.has(name):
            components.extra[name] = _synth_kind(rt)
    list_name = schemas.name_for(rt.group, rt.version, rt.list_kind)
    if not list_name or not components.has(list_name):
        list_name = name + "List"
        if not components.has(list_name):
            components.extra[list_name] = _synth_list(rt, name)
    return _Kind(rt, name, list_name, is_builtin_group(rt.group))


API_VERSION_DESC = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                     "convert recognized schemas to the latest internal value, and may reject unrecognized values. "
                     "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
                     "#resources")
KIND_DESC = ("Kind is a string value representing the REST resource this object represents. Servers may infer "
              "this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
              "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")


def _synth_kind(rt: ResourceType) -> Node:
    """A permissive schema for a registration without one (a CRD that preserves unknown fields)."""
    return {
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"allOf": [_ref(META + "ObjectMeta")],
                         "description": "Standard object's metadata. More info: "
                                        "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                        "api-conventions.md#metadata"},
        },
        "type": "object",
        "x-kubernetes-group-version-kind": [_gvk(rt.group, rt.version, rt.kind)],
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _synth_list(rt: ResourceType, item_name: str) -> Node:
    """``<Kind>List`` as the CRD OpenAPI builder generates it (apiextensions-apiserver controller/openapi/builder)."""
    return {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "properties": {
            "apiVersion": {"description": API_VERSION_DESC, "type": "string"},
            "items": {"description": f"List of {rt.plural}. More info: "
                                     "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                     "api-conventions.md",
                      "items": _ref(item_name), "type": "array"},
            "kind": {"description": KIND_DESC, "type": "string"},
            "metadata": {"allOf": [_ref(META + "ListMeta")],
                         "description": "Standard list metadata. More info: "
                                        "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                                        "api-conventions.md#types-kinds"},
        },
        "required": ["items"],
        "type": "object",
        "x-kubernetes-group-version-kind": [_gvk(rt.group, rt.version, rt.list_kind)],
    }


def _group_version_document(registry: Registry, schemas: SchemaSet, components: _Components,
                            group: str, version: str) -> Node:
    builder = _DocBuilder(schemas, group, version)
    builder.discovery_path()
    for rt in registry.in_group_version(group, version):
        builder.add_resource(_resolve_kind(rt, schemas, components))
    return _document(builder.paths, components.closure(builder.roots))


def _simple_document(path: str, operation: Node, roots: Iterable[str], components: _Components) -> Node:
    return _document({path: {"get": operation}}, components.closure(roots))


def _root_get(description: str, operation_id: str, tag: str, schema: str) -> Node:
    return {"description": description, "operationId": operation_id,
            "responses": _responses([(200, "OK")], MEDIA_BUILTIN, _ref(schema)), "tags": [tag]}


def _all_documents(registry: Registry, schemas: SchemaSet) -> dict[str, Node]:
    """Every document the index lists, keyed by index path (as a 1.33 apiserver: api, api/v1, apis,
    apis/<g>, apis/<g>/<v>, version)."""
    components = _Components(schemas.definitions)
    docs: dict[str, Node] = {}
    groups = ordered_groups(registry)
    if any(g == "" for g, _ in groups):
        docs["api"] = _simple_document(
            "/api/", _root_get("get available API versions", "getCoreAPIVersions", "core", META + "APIVersions"),
            [META + "APIVersions"], components)
    docs["apis"] = _simple_document(
        "/apis/", _root_get("get available API versions", "getAPIVersions", "apis", META + "APIGroupList"),
        [META + "APIGroupList"], components)
    for group, versions in groups:
        if group:
            docs[f"apis/{group}"] = _simple_document(
                f"/apis/{group}/",
                _root_get("get information of a group", f"get{_camel(_friendly_group(group), True)}APIGroup",
                          _camel(_friendly_group(group), False), META + "APIGroup"),
                [META + "APIGroup"], components)
        for version in versions:
            docs[gv_path(group, version)] = _group_version_document(registry, schemas, components, group, version)
    if components.has(VERSION_INFO):
        op = {"description": "get the version information for this server", "operationId": "getCodeVersion",
              "responses": _responses([(200, "OK")], ("application/json",), _ref(VERSION_INFO)), "tags": ["version"]}
        docs["version"] = _simple_document("/version/", op, [VERSION_INFO], components)
    return docs


# --------------------------------------------------------------------------- cache


def etag_of(body: bytes) -> str:
    """kube-openapi handler3 computeETag: uppercase hex SHA-512 of the served bytes."""
    return hashlib.sha512(body).hexdigest().upper()


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Built:
    documents: dict[str, Node]
    encoded: dict[str, tuple[bytes, str]]
    index: Node
    index_encoded: tuple[bytes, str]


def _build(registry: Registry, schemas: SchemaSet) -> _Built:
    documents = _all_documents(registry, schemas)
    encoded = {}
    for key, doc in documents.items():
        body = _encode(doc)
        encoded[key] = (body, etag_of(body))
    index = {"paths": {k: {"serverRelativeURL": f"{OPENAPI_V3_PREFIX}/{k}?hash={encoded[k][1]}"} for k in documents}}
    index_body = _encode(index)
    return _Built(documents, encoded, index, (index_body, etag_of(index_body)))


_CACHE: OrderedDict[tuple, tuple[Any, _Built]] = OrderedDict()
_CACHE_SIZE = 4


def revision_key(registry: Registry, schemas: SchemaSet) -> tuple:
    """A cheap identity of the inputs' current content.

    The registry's frozen types, and the SchemaSet's object plus the identity of
    every definition node: :meth:`SchemaSet.add` (new or replaced definitions)
    changes it. Definitions mutated in place are not noticed; add a new node instead.
    """
    defs = schemas.definitions
    return (tuple(registry.types), id(schemas), len(defs), tuple(map(id, defs.values())))


def _built(registry: Registry, schemas: SchemaSet) -> _Built:
    key = revision_key(registry, schemas)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit[1]
    built = _build(registry, schemas)
    # Keep the SchemaSet and its nodes alive while cached, so their ids cannot be reused by others.
    _CACHE[key] = ((schemas, list(schemas.definitions.values())), built)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return built


# --------------------------------------------------------------------------- public API


def index(registry: Registry, schemas: SchemaSet) -> Node:
    """``GET /openapi/v3``: ``{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}``."""
    return _built(registry, schemas).index


def index_bytes(registry: Registry, schemas: SchemaSet) -> tuple[bytes, str]:
    """The encoded index and its ETag (unquoted)."""
    return _built(registry, schemas).index_encoded


def document(registry: Registry, schemas: SchemaSet, path: str) -> Node | None:
    """The OpenAPI document at index path ``path`` (``api/v1``, ``apis/apps/v1``, ...), or None.

    The returned dict is shared with the cache: treat it as read-only.
    """
    return _built(registry, schemas).documents.get(path.strip("/"))


def document_bytes(registry: Registry, schemas: SchemaSet, path: str) -> tuple[bytes, str] | None:
    """(JSON body, unquoted ETag) of the document at ``path``; the ETag is the index's ``hash``."""
    return _built(registry, schemas).encoded.get(path.strip("/"))


@dataclass(frozen=True)
class OpenAPIResponse:
    """A ready-to-send OpenAPI answer."""

    status: int
    body: bytes
    headers: dict[str, str]


def _accepts_json(accept: str | None) -> bool:
    """handler3.HandleGroupVersion: an empty Accept means */*; JSON is served for json or wildcards.

    Protobuf-only requests cannot be served here and get 406 (upstream would send protobuf).
    """
    if not accept:
        return True
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        typ, _, sub = media.partition("/")
        if typ in ("application", "*") and sub in ("json", "*"):
            return True
    return False


def respond_v3(registry: Registry, schemas: SchemaSet, path: str, query_hash: str | None = None,
               accept: str | None = None, if_none_match: str | None = None,
               now: datetime | None = None) -> OpenAPIResponse:
    """Answer ``GET /openapi/v3[/<path>][?hash=...]`` (``path`` is what follows ``/openapi/v3``).

    Mirrors kube-openapi pkg/handler3: the index and documents carry a quoted
    ``ETag`` and ``Vary: Accept``; a matching ``If-None-Match`` gives 304; with
    ``?hash=`` equal to the current ETag the answer is cacheable forever
    (``Cache-Control: public, immutable`` and ``Expires`` a year ahead), with a
    stale hash it is a 301 to the current URL. Unknown paths get 404.
    """
    built = _built(registry, schemas)
    key = path.strip("/")
    if not key:
        body, etag = built.index_encoded
        return _ok(body, etag, {"Content-Type": "application/json"}, if_none_match)
    if key not in built.encoded:
        return OpenAPIResponse(404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})
    headers = {"Vary": "Accept"}
    if not _accepts_json(accept):
        return OpenAPIResponse(406, b"", headers)
    body, etag = built.encoded[key]
    if query_hash:
        if query_hash != etag:
            location = f"{OPENAPI_V3_PREFIX}/{key}?hash={etag}"
            return OpenAPIResponse(301, b"", {**headers, "Location": location})
        expires = (now or datetime.now(UTC)) + timedelta(days=365)
        headers["Cache-Control"] = "public, immutable"
        headers["Expires"] = format_datetime(expires.astimezone(UTC), usegmt=True)
    return _ok(body, etag, {"Content-Type": "application/json", **headers}, if_none_match)


def _ok(body: bytes, etag: str, headers: dict[str, str], if_none_match: str | None) -> OpenAPIResponse:
    quoted = f'"{etag}"'
    headers = {**headers, "ETag": quoted}
    if if_none_match and quoted in [t.strip() for t in if_none_match.split(",")]:
        return OpenAPIResponse(304, b"", headers)
    return OpenAPIResponse(200, body, headers)


def openapi_v2_status() -> OpenAPIResponse:
    """What to answer for ``/openapi/v2``: 404, on purpose.

    kubectl 1.30 .. 1.33 ask v2 only through client-go ``OpenAPISchema()``
    (``GET /openapi/v2``, ``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``)
    and only as a fallback: ``explain --output=plaintext-openapiv2``; the field-validation
    verifier when the v3 lookup *errors* (not when v3 says "unsupported"); client-side
    validation when server-side validation is unsupported; and ``apply``/``diff`` patch
    computation when v3 offers no strategic merge patch (CRDs) — where an error is ignored
    and kubectl falls back to its compiled-in types or a JSON merge patch, exactly what it
    does for CRDs against a real cluster. With the v3 documents above none of these paths
    needs v2, and a plain 404 makes the v2 getter fail cleanly.
    """
    status = {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server could not find the requested resource", "reason": "NotFound",
        "details": {}, "code": 404,
    }
    return OpenAPIResponse(404, _encode(status), {"Content-Type": "application/json"})


def _pb_string(field: int, text: str) -> bytes:
    data = text.encode()
    return bytes([field << 3 | 2, len(data)]) + data


OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""kube-openapi's response type for v2 protobuf (the request's ``@`` form is not a valid media type)."""
OPENAPI_V2_STUB = _pb_string(1, "2.0") + bytes([2 << 3 | 2]) + bytes([len(_pb_string(1, "Kubernetes"))]) + \
    _pb_string(1, "Kubernetes")
"""An OpenAPI v2 document (gnostic ``openapi_v2.Document``: swagger "2.0", info.title) with no definitions.

kubectl reads v2 only as a fallback: for a kind the v3 documents do not know
(an unknown kind or a missing CRD) its client-side validation downloads v2 and
skips kinds without a schema, then fails on the REST mapping with ``no matches
for kind``, as against a real cluster. A 404 instead would make it stop with
"failed to download openapi". Every served kind's schema is in the v3 documents.
"""

