"""Request validation as kube-apiserver performs it, with upstream wording.

Two stages, in the order the API server runs them:

1. :func:`check_schema` -- the decoding stage. Built-in kinds are decoded into
   Go structs by ``sigs.k8s.io/json``: a wrong JSON type fails with the Go
   decoder's ``json: cannot unmarshal ...`` text, unknown fields fail (Strict),
   warn (Warn) or vanish (Ignore). Custom resources are decoded as
   unstructured and their schema is enforced instead (``in body must be of
   type``, ``Required value``). Decoding errors are 400 BadRequest wrapped by
   ``transformDecodeError`` (k8s.io/apiserver/pkg/endpoints/handlers/rest.go).
2. :func:`validate` -- the Go validation of each kind (422 Invalid), ported
   from pkg/apis/core/validation/validation.go, pkg/apis/apps/validation,
   pkg/apis/networking/validation, pkg/apis/discovery/validation and pkg/apis/rbac/validation. Messages
   come from k8s.io/apimachinery/pkg/util/validation and .../validation/field.

Per-kind validators live in :data:`VALIDATORS`, keyed by (group, kind).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from .errors import Cause, bad_request, invalid
from .gofmt import quote as go_quote  # noqa: F401  (re-exported for its users)
from .openapivalidation import json_type
from .registry import ResourceType
from .schema import REF_PREFIX, Node, SchemaSet, types_of

# --------------------------------------------------------------------------
# field errors: k8s.io/apimachinery/pkg/util/validation/field/errors.go
# --------------------------------------------------------------------------


class GoRaw(str):
    """A value already rendered the way Go's ``%#v`` prints it (structs, typed slices)."""


def go_value(value: Any) -> str:
    """Render a bad value as ``field.Error.ErrorBody`` does (%q, %v or %#v)."""
    if isinstance(value, GoRaw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):  # map[string]string: fmt sorts map keys
        return "map[string]string{" + ", ".join(
            f"{go_quote(k)}:{go_quote(str(v))}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[]string{" + ", ".join(go_quote(str(v)) for v in value) + "}"
    return str(value)


def required(path: str, detail: str = "") -> Cause:
    return Cause("FieldValueRequired", "Required value" + (f": {detail}" if detail else ""), path)


def invalid_value(path: str, value: Any, detail: str = "") -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {go_value(value)}" + (f": {detail}" if detail else ""), path)


def not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    options = ", ".join(go_quote(o) for o in supported)
    return Cause("FieldValueNotSupported", f"Unsupported value: {go_value(value)}: supported values: {options}", path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {go_value(value)}", path)


def not_found(path: str, value: Any) -> Cause:
    return Cause("FieldValueNotFound", f"Not found: {go_value(value)}", path)


def too_long(path: str, max_length: int) -> Cause:
    return Cause("FieldValueTooLong", f"Too long: may not be more than {max_length} bytes", path)


def too_many(path: str, actual: int, max_items: int) -> Cause:
    return Cause("FieldValueTooMany", f"Too many: {actual}: must have at most {max_items} items", path)


def immutable(path: str, value: Any) -> Cause:
    """apimachinery ValidateImmutableField: ``Invalid value: ...: field is immutable``."""
    return invalid_value(path, value, "field is immutable")


# --------------------------------------------------------------------------
# string formats: k8s.io/apimachinery/pkg/util/validation/validation.go
# --------------------------------------------------------------------------

def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character")
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                      "and must start and end with an alphanumeric character")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                          "'-' or '.', and must start and end with an alphanumeric character")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                      "start with an alphabetic character, and end with an alphanumeric character")
_WILDCARD_FMT = "\\*\\." + _DNS1123_SUBDOMAIN_FMT
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
                 "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
                 "alphanumeric character")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER_MSG = "a valid HTTP header must consist of alphanumeric characters or '-'"


def _full(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def is_dns1123_label(value: str) -> list[str]:
    errs = [_max_len_error(63)] if len(value) > 63 else []
    if not _full(_DNS1123_LABEL_FMT, value):
        if _full(_DNS1123_SUBDOMAIN_FMT, value):
            errs.append("must not contain dots")
        else:
            errs.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len_error(253)] if len(value) > 253 else []
    if not _full(_DNS1123_SUBDOMAIN_FMT, value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = [_max_len_error(63)] if len(value) > 63 else []
    if not _full(_DNS1035_LABEL_FMT, value):
        errs.append(_regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len_error(253)] if len(value) > 253 else []
    if not _full(_WILDCARD_FMT, value):
        errs.append(_regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a qualified name " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _full(_QNAME_FMT, name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = [_max_len_error(63)] if len(value) > 63 else []
    if not _full(_LABEL_VALUE_FMT, value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME (RFC 6335): at most 15 characters, a letter, no double or edge hyphens."""
    errs = [_max_len_error(15)] if len(port) > 15 else []
    if not re.fullmatch("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_config_map_key(value: str) -> list[str]:
    errs = [_max_len_error(253)] if len(value) > 253 else []
    if not _full(_CONFIG_KEY_FMT, value):
        errs.append(_regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_percent(value: str) -> list[str]:
    return [] if _full(_PERCENT_FMT, value) else [_regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy: like net.ParseIP but IPv4 octets may carry leading zeros."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value):
        try:
            return ipaddress.ip_address(".".join(str(int(o)) for o in value.split(".")))
        except ValueError:
            return None
    return None


def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """netutils.ParseCIDRSloppy: host bits may be set."""
    if "/" not in value or parse_ip(value.split("/", 1)[0]) is None:
        return None
    ip, bits = value.split("/", 1)
    if not bits.isdigit():
        return None
    try:
        return ipaddress.ip_network(f"{parse_ip(ip)}/{int(bits)}", strict=False)
    except ValueError:
        return None


_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


# --------------------------------------------------------------------------
# object metadata: apimachinery pkg/api/validation/objectmeta.go,
# pkg/apis/meta/v1/validation (labels, selectors)
# --------------------------------------------------------------------------

NameFn = Callable[[str], list[str]]
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _name_errors(name_fn: NameFn, name: str, prefix: bool) -> list[str]:
    """apimachinery maskTrailingDash: a generateName may end with '-'."""
    if prefix and len(name) > 1 and name.endswith("-"):
        name = name[:-2] + "a"
    return name_fn(name)


def validate_labels(labels: dict[str, Any] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    for key, value in (labels or {}).items():
        out += [invalid_value(path, key, m) for m in is_qualified_name(key)]
        out += [invalid_value(path, value, m) for m in is_valid_label_value(str(value))]
    return out


def validate_annotations(annotations: dict[str, Any] | None, path: str) -> list[Cause]:
    out: list[Cause] = []
    total = 0
    for key, value in (annotations or {}).items():
        out += [invalid_value(path, key, m) for m in is_qualified_name(key.lower())]
        total += len(key.encode()) + len(str(value or "").encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        out.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return out


def validate_object_meta(meta: dict[str, Any], namespaced: bool, name_fn: NameFn) -> list[Cause]:
    """core ValidateObjectMeta (apimachinery ValidateObjectMetaAccessor + kube finalizer names)."""
    out: list[Cause] = []
    generate = meta.get("generateName") or ""
    if generate:
        out += [invalid_value("metadata.generateName", generate, m) for m in _name_errors(name_fn, generate, True)]
    name = meta.get("name") or ""
    if not name:
        out.append(required("metadata.name", "name or generateName is required"))
    else:
        out += [invalid_value("metadata.name", name, m) for m in _name_errors(name_fn, name, False)]
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            out.append(required("metadata.namespace"))
        else:
            out += [invalid_value("metadata.namespace", namespace, m) for m in is_dns1123_label(namespace)]
    elif namespace:
        out.append(forbidden("metadata.namespace", "not allowed on this type"))
    out += validate_labels(meta.get("labels"), "metadata.labels")
    out += validate_annotations(meta.get("annotations"), "metadata.annotations")
    for i, fin in enumerate(meta.get("finalizers") or []):
        out += [invalid_value("metadata.finalizers", fin, m) for m in is_qualified_name(fin)]
        if "/" not in fin and fin not in STANDARD_FINALIZERS:
            out.append(invalid_value(f"metadata.finalizers[{i}]", fin,
                                     "name is neither a standard finalizer name nor is it fully qualified"))
    return out


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """apimachinery ValidateObjectMetaAccessorUpdate: identity fields never change."""
    out: list[Cause] = []
    for key in ("name", "namespace", "uid"):
        if (new.get(key) or "") != (old.get(key) or ""):
            out.append(immutable(f"metadata.{key}", new.get(key) or ""))
    return out


_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: dict[str, Any] | None, path: str) -> list[Cause]:
    """meta/v1/validation ValidateLabelSelector."""
    if selector is None:
        return []
    out = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator") or "", expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            out.append(required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            out.append(forbidden(f"{epath}.values",
                                 "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif op not in _SELECTOR_OPS:
            out.append(invalid_value(f"{epath}.operator", op, "not a valid selector operator"))
        out += [invalid_value(f"{epath}.key", expr.get("key") or "", m)
                for m in is_qualified_name(expr.get("key") or "")]
        for j, v in enumerate(values):
            out += [invalid_value(f"{epath}.values[{j}]", v, m) for m in is_valid_label_value(v)]
    return out


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool | None:
    """metav1.LabelSelectorAsSelector(...).Matches: None for an unparsable selector.

    A nil selector matches nothing; an empty one matches everything.
    """
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op not in _SELECTOR_OPS:
            return None
        present = key in labels
        if ((op == "In" and not (present and labels[key] in values))
                or (op == "NotIn" and present and labels[key] in values)
                or (op == "Exists" and not present) or (op == "DoesNotExist" and present)):
            return False
    return True


def go_label_selector(selector: dict[str, Any]) -> GoRaw:
    """``%#v`` of a metav1.LabelSelector, as in ``spec.selector: Invalid value: v1.LabelSelector{...}``."""
    labels = selector.get("matchLabels")
    labels_s = "map[string]string(nil)" if labels is None else go_value(labels)
    exprs = selector.get("matchExpressions")
    if exprs is None:
        exprs_s = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            vals = e.get("values")
            vals_s = "[]string(nil)" if vals is None else go_value(vals)
            items.append(f"v1.LabelSelectorRequirement{{Key:{go_quote(e.get('key') or '')}, "
                         f"Operator:{go_quote(e.get('operator') or '')}, Values:{vals_s}}}")
        exprs_s = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return GoRaw(f"v1.LabelSelector{{MatchLabels:{labels_s}, MatchExpressions:{exprs_s}}}")


def go_int_or_string(value: Any) -> GoRaw:
    """``%#v`` of an intstr.IntOrString value."""
    if isinstance(value, str):
        return GoRaw(f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}')
    return GoRaw(f'intstr.IntOrString{{Type:0, IntVal:{int(value or 0)}, StrVal:""}}')


def validate_port_num_or_name(port: Any, path: str) -> list[Cause]:
    """core ValidatePortNumOrName."""
    if isinstance(port, str):
        return [invalid_value(path, port, m) for m in is_valid_port_name(port)]
    return [invalid_value(path, int(port or 0), m) for m in is_valid_port_num(int(port or 0))]


# --------------------------------------------------------------------------
# Pod spec: pkg/apis/core/validation/validation.go (ValidatePodSpec and helpers)
# --------------------------------------------------------------------------

_PROTOCOLS = ["SCTP", "TCP", "UDP"]  # sets.List(supportedPortProtocols)


def _validate_container_ports(ports: list[dict[str, Any]], path: str) -> list[Cause]:
    out: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                out += [invalid_value(f"{p}.name", name, m) for m in msgs]
            elif name in names:
                out.append(duplicate(f"{p}.name", name))
            else:
                names.add(name)
        cport = port.get("containerPort") or 0
        if cport == 0:
            out.append(required(f"{p}.containerPort"))
        else:
            out += [invalid_value(f"{p}.containerPort", cport, m) for m in is_valid_port_num(cport)]
        if port.get("hostPort"):
            out += [invalid_value(f"{p}.hostPort", port["hostPort"], m) for m in is_valid_port_num(port["hostPort"])]
        proto = port.get("protocol") or ""
        if not proto:
            out.append(required(f"{p}.protocol"))
        elif proto not in _PROTOCOLS:
            out.append(not_supported(f"{p}.protocol", proto, _PROTOCOLS))
    return out


def _validate_handler(handler: dict[str, Any], path: str, kinds: tuple[str, ...]) -> list[Cause]:
    """validateHandler: exactly one of exec/httpGet/tcpSocket/grpc(/sleep)."""
    out: list[Cause] = []
    seen = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if seen:
            out.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        seen += 1
        if kind == "exec" and not action.get("command"):
            out.append(required(f"{path}.exec.command"))
        elif kind == "httpGet":
            if not action.get("path"):
                out.append(required(f"{path}.httpGet.path"))
            out += validate_port_num_or_name(action.get("port"), f"{path}.httpGet.port")
            if action.get("scheme", "") not in ("HTTP", "HTTPS"):
                out.append(not_supported(f"{path}.httpGet.scheme", action.get("scheme", ""), ["HTTP", "HTTPS"]))
        elif kind == "tcpSocket":
            out += validate_port_num_or_name(action.get("port"), f"{path}.tcpSocket.port")
        elif kind == "grpc":
            out += validate_port_num_or_name(int(action.get("port") or 0), f"{path}.grpc.port")
    if not seen:
        out.append(required(path, "must specify a handler type"))
    return out


def _validate_probe(probe: dict[str, Any] | None, path: str, liveness_like: bool) -> list[Cause]:
    if probe is None:
        return []
    out = _validate_handler(probe, path, ("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        if (probe.get(key) or 0) < 0:
            out.append(invalid_value(f"{path}.{key}", probe[key], "must be greater than or equal to 0"))
    if liveness_like and probe.get("successThreshold", 1) != 1:
        out.append(invalid_value(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    return out


def _validate_container(ctr: dict[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    """validateContainerCommon: what every container type must satisfy."""
    out: list[Cause] = []
    name = ctr.get("name") or ""
    if not name:
        out.append(required(f"{path}.name"))
    else:
        out += [invalid_value(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    if not ctr.get("image"):
        out.append(required(f"{path}.image"))
    policy = ctr.get("terminationMessagePolicy") or ""
    if not policy:
        out.append(required(f"{path}.terminationMessagePolicy"))
    elif policy not in ("File", "FallbackToLogsOnError"):
        out.append(not_supported(f"{path}.terminationMessagePolicy", policy, ["File", "FallbackToLogsOnError"]))
    out += _validate_container_ports(ctr.get("ports") or [], f"{path}.ports")
    for i, env in enumerate(ctr.get("env") or []):
        if not env.get("name"):
            out.append(required(f"{path}.env[{i}].name"))
    mount_paths: set[str] = set()
    for i, mount in enumerate(ctr.get("volumeMounts") or []):
        mp = f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            out.append(required(f"{mp}.name"))
        if (mount.get("name") or "") not in volumes:
            out.append(not_found(f"{mp}.name", mount.get("name") or ""))
        if not mount.get("mountPath"):
            out.append(required(f"{mp}.mountPath"))
        elif mount["mountPath"] in mount_paths:
            out.append(invalid_value(f"{mp}.mountPath", mount["mountPath"], "must be unique"))
        mount_paths.add(mount.get("mountPath") or "")
    pull = ctr.get("imagePullPolicy") or ""
    if not pull:
        out.append(required(f"{path}.imagePullPolicy"))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        out.append(not_supported(f"{path}.imagePullPolicy", pull, ["Always", "IfNotPresent", "Never"]))
    return out


def _validate_hooks_and_probes(ctr: dict[str, Any], path: str, grace: Any = None) -> list[Cause]:
    """Lifecycle and probes: allowed on regular and restartable init containers. A ``sleep`` action lasts
    0 to terminationGracePeriodSeconds (validateSleepAction with PodLifecycleSleepActionAllowZero, on in 1.33)."""
    out: list[Cause] = []
    lifecycle = ctr.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            out += _validate_handler(lifecycle[hook], f"{path}.lifecycle.{hook}",
                                     ("exec", "httpGet", "tcpSocket", "sleep"))
            sleep = lifecycle[hook].get("sleep") if isinstance(lifecycle[hook], dict) else None
            seconds = sleep.get("seconds") if isinstance(sleep, dict) else None
            if isinstance(grace, int) and isinstance(seconds, int) and not 0 <= seconds <= grace:
                out.append(invalid_value(f"{path}.lifecycle.{hook}.sleep", seconds, "must be non-negative and "
                                         f"less than terminationGracePeriodSeconds ({grace})"))
    out += _validate_probe(ctr.get("livenessProbe"), f"{path}.livenessProbe", True)
    out += _validate_probe(ctr.get("readinessProbe"), f"{path}.readinessProbe", False)
    out += _validate_probe(ctr.get("startupProbe"), f"{path}.startupProbe", True)
    return out


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    """ValidatePodSpec, for the fields the lessons use."""
    out: list[Cause] = []
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        name = vol.get("name") or ""
        if not name:
            out.append(required(f"{path}.volumes[{i}].name"))
        else:
            out += [invalid_value(f"{path}.volumes[{i}].name", name, m) for m in is_dns1123_label(name)]
        if name in volumes:
            out.append(duplicate(f"{path}.volumes[{i}].name", name))
        volumes.add(name)
    containers = spec.get("containers") or []
    if not containers:
        out.append(required(f"{path}.containers"))
    names: set[str] = set()
    for i, ctr in enumerate(containers):
        out += _validate_container(ctr, f"{path}.containers[{i}]", volumes)
        if (ctr.get("name") or "") in names:
            out.append(duplicate(f"{path}.containers[{i}].name", ctr.get("name") or ""))
        names.add(ctr.get("name") or "")
        out += _validate_hooks_and_probes(ctr, f"{path}.containers[{i}]", spec.get("terminationGracePeriodSeconds"))
    for i, ctr in enumerate(spec.get("initContainers") or []):
        cpath = f"{path}.initContainers[{i}]"
        out += _validate_container(ctr, cpath, volumes)
        if (ctr.get("name") or "") in names:
            out.append(duplicate(f"{cpath}.name", ctr.get("name") or ""))
        elif ctr.get("name"):
            names.add(ctr["name"])
        if ctr.get("restartPolicy") == "Always":  # sidecar containers
            out += _validate_hooks_and_probes(ctr, cpath, spec.get("terminationGracePeriodSeconds"))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(key) is not None:
                    out.append(forbidden(f"{cpath}.{key}",
                                         "may not be set for init containers without restartPolicy=Always"))
    restart = spec.get("restartPolicy") or ""
    if not restart:
        out.append(required(f"{path}.restartPolicy"))
    elif restart not in ("Always", "OnFailure", "Never"):
        out.append(not_supported(f"{path}.restartPolicy", restart, ["Always", "OnFailure", "Never"]))
    dns = spec.get("dnsPolicy") or ""
    dns_values = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    if not dns:
        out.append(required(f"{path}.dnsPolicy"))
    elif dns not in dns_values:
        out.append(not_supported(f"{path}.dnsPolicy", dns, dns_values))
    out += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    if dns == "None" and not (spec.get("dnsConfig") or {}).get("nameservers"):
        if spec.get("dnsConfig") is None:
            out.append(required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
        else:
            out.append(required(f"{path}.dnsConfig.nameservers",
                                "must provide at least one DNS nameserver when `dnsPolicy` is None"))
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            out += [invalid_value(f"{path}.{key}", spec[key], m) for m in is_dns1123_subdomain(spec[key])]
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not 1 <= ads <= 2**31 - 1:
        out.append(invalid_value(f"{path}.activeDeadlineSeconds", ads, inclusive_range_error(1, 2**31 - 1)))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            out += [invalid_value(f"{path}.{key}", spec[key], m) for m in is_dns1123_label(spec[key])]
    return out


def validate_pod_template(template: dict[str, Any] | None, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec: template labels/annotations are reported at ``<path>.labels``."""
    template = template or {}
    meta = template.get("metadata") or {}
    out = validate_labels(meta.get("labels"), f"{path}.labels")
    out += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    out += validate_pod_spec(template.get("spec") or {}, f"{path}.spec")
    return out


_UPDATABLE_POD_FIELDS = ",".join([
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
])


def _validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and grace period change."""
    out: list[Cause] = []
    nspec, ospec = new.get("spec") or {}, old.get("spec") or {}
    for key in ("containers", "initContainers"):
        if len(nspec.get(key) or []) != len(ospec.get(key) or []):
            return [forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
    munged = dict(nspec)
    for key in ("containers", "initContainers"):
        if key in nspec:
            munged[key] = [{**c, "image": o.get("image")} for c, o in zip(nspec[key], ospec.get(key) or [], strict=True)]
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        munged.pop(key, None)
        if key in ospec:
            munged[key] = ospec[key]
    strip = [{k: v for k, v in t.items() if k != "tolerationSeconds"} for t in ospec.get("tolerations") or []]
    new_tol = [{k: v for k, v in t.items() if k != "tolerationSeconds"} for t in nspec.get("tolerations") or []]
    if all(t in new_tol for t in strip):
        munged.pop("tolerations", None)
        if "tolerations" in ospec:
            munged["tolerations"] = ospec["tolerations"]
    # ephemeral containers are added through pods/ephemeralcontainers (ValidatePodEphemeralContainersUpdate):
    # the ones already there may not change or go
    new_eph, old_eph = munged.pop("ephemeralContainers", []) or [], ospec.get("ephemeralContainers") or []
    ospec = {k: v for k, v in ospec.items() if k != "ephemeralContainers"}
    if munged != ospec:
        # Upstream appends a cmp.Diff of the two specs after a newline; that diff is not reproduced.
        out.append(forbidden("spec", f"pod updates may not change fields other than {_UPDATABLE_POD_FIELDS}"))
    for i, container in enumerate(old_eph):
        if i >= len(new_eph) or new_eph[i] != container:
            out.append(forbidden("spec.ephemeralContainers",
                                 f'existing ephemeral containers "{container.get("name")}" may not be changed'))
            break
    return out


def _validate_pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out = validate_pod_spec(obj.get("spec") or {}, "spec")
    if old is not None:
        out += _validate_pod_update(obj, old)
    return out


# --------------------------------------------------------------------------
# Service: ValidateService / ValidateServiceUpdate (pkg/apis/core/validation)
# --------------------------------------------------------------------------

def _cluster_ips(spec: dict[str, Any]) -> list[str]:
    """clusterIPs as the service strategy syncs them from clusterIP before validation."""
    if spec.get("clusterIPs"):
        return list(spec["clusterIPs"])
    return [spec["clusterIP"]] if spec.get("clusterIP") else []


def _go_service_port_key(protocol: str, port: int) -> GoRaw:
    return GoRaw(f'core.ServicePort{{Name:"", Protocol:{go_quote(protocol)}, AppProtocol:(*string)(nil), '
                 f'Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def _validate_service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    spec = obj.get("spec") or {}
    stype = spec.get("type") or ""
    cips = _cluster_ips(spec)
    headless = cips == ["None"]
    ports = spec.get("ports") or []
    if old is not None:
        out += _validate_service_update(spec, old.get("spec") or {})
    if not ports and not headless and stype != "ExternalName":
        out.append(required("spec.ports"))
    if stype in ("LoadBalancer", "NodePort") and headless:
        out.append(invalid_value("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services"))
    if stype == "ExternalName":
        for key, what in (("clusterIPs", cips), ("ipFamilies", spec.get("ipFamilies")),
                          ("ipFamilyPolicy", spec.get("ipFamilyPolicy"))):
            if what:
                out.append(forbidden(f"spec.{key}", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            out += [invalid_value("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname)]
        else:
            out.append(required("spec.externalName"))
    names: set[str] = set()
    for i, sp in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = sp.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(required(f"{p}.name"))
        elif name:
            out += [invalid_value(f"{p}.name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                out.append(duplicate(f"{p}.name", name))
            names.add(name)
        out += [invalid_value(f"{p}.port", sp.get("port") or 0, m) for m in is_valid_port_num(sp.get("port") or 0)]
        proto = sp.get("protocol") or ""
        if not proto:
            out.append(required(f"{p}.protocol"))
        elif proto not in _PROTOCOLS:
            out.append(not_supported(f"{p}.protocol", proto, _PROTOCOLS))
        out += validate_port_num_or_name(sp.get("targetPort"), f"{p}.targetPort")
        if sp.get("appProtocol") is not None:
            out += [invalid_value(f"{p}.appProtocol", sp["appProtocol"], m)
                    for m in is_qualified_name(sp["appProtocol"])]
    if spec.get("selector") is not None:
        out += validate_labels(spec["selector"], "spec.selector")
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        out.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        out.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if affinity == "ClientIP":
        out += _validate_client_ip_affinity(spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    out += _validate_cluster_ips(spec, cips)
    for i, ip in enumerate(spec.get("externalIPs") or []):
        if parse_ip(ip) is None:
            out.append(invalid_value(f"spec.externalIPs[{i}]", ip, _IP_MSG))
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if not stype:
        out.append(required("spec.type"))
    elif stype not in types:
        out.append(not_supported("spec.type", stype, types))
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for i, sp in enumerate(ports):
        if stype == "ClusterIP" and sp.get("nodePort"):
            out.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))
        if sp.get("nodePort"):
            key = (sp.get("protocol") or "", sp["nodePort"])
            if key in seen_node_ports:
                out.append(duplicate(f"spec.ports[{i}].nodePort", sp["nodePort"]))
            seen_node_ports.add(key)
        key = (sp.get("protocol") or "", sp.get("port") or 0)
        if key in seen_ports:
            out.append(duplicate(f"spec.ports[{i}]", _go_service_port_key(*key)))
        seen_ports.add(key)
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        out.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if spec.get("loadBalancerClass") is not None and stype != "LoadBalancer":
        out.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    out += _validate_traffic_policies(spec, stype)
    return out


def _validate_client_ip_affinity(config: dict[str, Any] | None) -> list[Cause]:
    path = "spec.sessionAffinityConfig"
    why = "when session affinity type is ClientIP"
    if config is None:
        return [required(path, why)]
    if config.get("clientIP") is None:
        return [required(f"{path}.clientIP", why)]
    timeout = config["clientIP"].get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", why)]
    if timeout <= 0 or timeout > 86400:
        return [invalid_value(f"{path}.clientIP.timeoutSeconds", timeout, "must be greater than 0 and less than 86400")]
    return []


def _validate_cluster_ips(spec: dict[str, Any], cips: list[str]) -> list[Cause]:
    """ValidateServiceClusterIPsRelatedFields (the single-stack cases)."""
    if spec.get("type") == "ExternalName":
        return []
    out: list[Cause] = []
    if spec.get("clusterIP") and spec.get("clusterIPs") and spec["clusterIPs"][0] != spec["clusterIP"]:
        out.append(invalid_value("spec.clusterIPs", spec["clusterIPs"], "first value must match `clusterIP`"))
    for i, family in enumerate(spec.get("ipFamilies") or []):
        if family not in ("IPv4", "IPv6"):
            out.append(not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
    policies = ["PreferDualStack", "RequireDualStack", "SingleStack"]
    if spec.get("ipFamilyPolicy") is not None and spec["ipFamilyPolicy"] not in policies:
        out.append(not_supported("spec.ipFamilyPolicy", spec["ipFamilyPolicy"], policies))
    for i, ip in enumerate(cips):
        if i == 0 and ip == "None":
            if len(cips) > 1:
                out.append(invalid_value("spec.clusterIPs", cips, "'None' must be the first and only value"))
            continue
        if parse_ip(ip) is None:
            out.append(invalid_value(f"spec.clusterIPs[{i}]", ip, _IP_MSG))
    if len(cips) > 2:
        out.append(invalid_value("spec.clusterIPs", cips, "may only hold up to 2 values"))
    return out


def _validate_traffic_policies(spec: dict[str, Any], stype: str) -> list[Cause]:
    out: list[Cause] = []
    external = stype in ("NodePort", "LoadBalancer") or (stype == "ClusterIP" and bool(spec.get("externalIPs")))
    etp = spec.get("externalTrafficPolicy") or ""
    if not external:
        if etp:
            out.append(invalid_value("spec.externalTrafficPolicy", etp,
                                     "may only be set for externally-accessible services"))
    elif not etp:
        out.append(required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        out.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        out.append(required("spec.internalTrafficPolicy"))
    elif itp is not None and itp not in ("Cluster", "Local"):
        out.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    return out


def _validate_service_update(new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    """validateUpgradeDowngradeClusterIPs: the primary clusterIP may not change once set."""
    if "ExternalName" in (new.get("type"), old.get("type")):
        return []
    ncips, ocips = _cluster_ips(new), _cluster_ips(old)
    if not ncips:  # the REST layer carries an omitted clusterIP over from the old object
        return []
    if ncips == ["None"] and ocips == ["None"]:
        return []
    if ocips and ncips[0] != ocips[0]:
        return [invalid_value("spec.clusterIPs[0]", ncips, "may not change once set")]
    return []


# --------------------------------------------------------------------------
# Namespace, ConfigMap, Secret (pkg/apis/core/validation)
# --------------------------------------------------------------------------

def _validate_namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    for fin in (obj.get("spec") or {}).get("finalizers") or []:
        out += [invalid_value("spec.finalizers", fin, m) for m in is_qualified_name(fin)]
        if "/" not in fin and fin not in STANDARD_FINALIZERS:
            out.append(invalid_value("spec.finalizers", fin,
                                     "name is neither a standard finalizer name nor is it fully qualified"))
    return out


def _b64_len(value: Any) -> int:
    return len(str(value or "")) * 3 // 4


def _immutable_data(obj: dict[str, Any], old: dict[str, Any] | None, keys: tuple[str, ...]) -> list[Cause]:
    """``immutable: true`` freezes the data maps and the flag itself."""
    if old is None or not old.get("immutable"):
        return []
    msg = "field is immutable when `immutable` is set"
    out = [] if obj.get("immutable") else [forbidden("immutable", msg)]
    return out + [forbidden(key, msg) for key in keys if (obj.get(key) or {}) != (old.get(key) or {})]


def _validate_config_map(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out = _immutable_data(obj, old, ("data", "binaryData"))
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    total = 0
    for key, value in data.items():
        out += [invalid_value(f"data[{key}]", key, m) for m in is_config_map_key(key)]
        if key in binary:
            out.append(invalid_value(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += len(str(value or "").encode())
    for key, value in binary.items():
        out += [invalid_value(f"binaryData[{key}]", key, m) for m in is_config_map_key(key)]
        total += _b64_len(value)
    if total > 1024 * 1024:
        out.append(too_long("", 1024 * 1024))
    return out


def _validate_secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    if old is not None and (obj.get("type") or "") != (old.get("type") or ""):
        out.append(immutable("type", obj.get("type") or ""))
    out += _immutable_data(obj, old, ("data",))
    data = {**(obj.get("data") or {}), **{k: "" for k in obj.get("stringData") or {}}}
    total = 0
    for key, value in data.items():
        out += [invalid_value(f"data[{key}]", key, m) for m in is_config_map_key(key)]
        total += _b64_len(value)
    if total > 1024 * 1024:
        out.append(too_long("data", 1024 * 1024))
    stype = obj.get("type") or ""
    if stype == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                out.append(required(f"data[{key}]"))
    elif stype == "kubernetes.io/service-account-token":
        if not ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/service-account.name"):
            out.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif stype in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if stype.endswith("dockercfg") else ".dockerconfigjson"
        if key not in data:
            out.append(required(f"data[{key}]"))
    elif stype == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        # upstream builds these paths with a literal "data[%s]" (sic)
        out += [required("data[%s][username]"), required("data[%s][password]")]
    elif stype == "kubernetes.io/ssh-auth" and not data.get("ssh-privatekey"):
        out.append(required("data[%s][ssh-privatekey]"))
    return out


# --------------------------------------------------------------------------
# Deployment, ReplicaSet: pkg/apis/apps/validation/validation.go
# --------------------------------------------------------------------------

def _nonnegative(spec: dict[str, Any], key: str, path: str) -> list[Cause]:
    value = spec.get(key)
    if isinstance(value, int) and value < 0:
        return [invalid_value(f"{path}.{key}" if path else key, value, "must be greater than or equal to 0")]
    return []


def _required_selector(selector: dict[str, Any] | None, kind: str) -> list[Cause]:
    """``spec.selector`` is required, a valid label selector, and not empty."""
    if selector is None:
        return [required("spec.selector")]
    out = validate_label_selector(selector, "spec.selector")
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        out.append(invalid_value("spec.selector", go_label_selector(selector), f"empty selector is invalid for {kind}"))
    return out


def _validate_selector_and_template(spec: dict[str, Any], kind: str) -> list[Cause]:
    """Selector required and non-empty; ValidatePodTemplateSpecForReplicaSet."""
    selector = spec.get("selector")
    out = _required_selector(selector, kind)
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    matched = selector_matches(selector, labels)
    if matched is None:
        out.append(invalid_value("spec.selector", go_label_selector(selector), "invalid label selector"))
    else:
        empty = selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")
        if not empty and not matched:
            out.append(invalid_value("spec.template.metadata.labels", labels or {},
                                     "`selector` does not match template `labels`"))
        out += validate_pod_template(template, "spec.template")
        restart = ((template.get("spec") or {}).get("restartPolicy")) or ""
        if restart and restart != "Always":
            out.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
        if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
            out.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                 "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return out


def _selector_immutable(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """apps/v1 strategies: ``spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable``."""
    if old is None:
        return []
    new_sel, old_sel = (obj.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if _norm_selector(new_sel) != _norm_selector(old_sel):
        return [immutable("spec.selector", go_label_selector(new_sel or {}))]
    return []


def _norm_selector(selector: dict[str, Any] | None) -> tuple[Any, Any]:
    selector = selector or {}
    return (selector.get("matchLabels") or {}, selector.get("matchExpressions") or [])


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        return int(value[:-1]) if not is_valid_percent(value) else 0
    return int(value or 0)


def _validate_int_or_percent(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        return [invalid_value(path, go_int_or_string(value), m) for m in is_valid_percent(value)]
    if (value or 0) < 0:
        return [invalid_value(path, value, "must be greater than or equal to 0")]
    return []


def _validate_strategy(strategy: dict[str, Any]) -> list[Cause]:
    path = "spec.strategy"
    stype = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if rolling is not None:
            return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if stype == "RollingUpdate":
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        rpath = f"{path}.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        out = _validate_int_or_percent(unavailable, f"{rpath}.maxUnavailable")
        out += _validate_int_or_percent(surge, f"{rpath}.maxSurge")
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            out.append(invalid_value(f"{rpath}.maxUnavailable", go_int_or_string(unavailable),
                                     "may not be 0 when `maxSurge` is 0"))
        if isinstance(unavailable, str) and not is_valid_percent(unavailable) and int(unavailable[:-1]) > 100:
            out.append(invalid_value(f"{rpath}.maxUnavailable", go_int_or_string(unavailable),
                                     "must not be greater than 100%"))
        return out
    rolling_s = "(*apps.RollingUpdateDeployment)(nil)" if rolling is None else "&apps.RollingUpdateDeployment{...}"
    value = GoRaw(f"apps.DeploymentStrategy{{Type:{go_quote(stype)}, RollingUpdate:{rolling_s}}}")
    return [not_supported(path, value, ["Recreate", "RollingUpdate"])]


def _validate_deployment(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    out = _selector_immutable(obj, old)
    out += _nonnegative(spec, "replicas", "spec")
    out += _validate_selector_and_template(spec, "deployment")
    out += _validate_strategy(spec.get("strategy") or {})
    out += _nonnegative(spec, "minReadySeconds", "spec")
    out += _nonnegative(spec, "revisionHistoryLimit", "spec")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        out += _nonnegative(spec, "progressDeadlineSeconds", "spec")
        if pds <= (spec.get("minReadySeconds") or 0):
            out.append(invalid_value("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return out


def _validate_replica_set(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    out = _selector_immutable(obj, old)
    out += _nonnegative(spec, "replicas", "spec")
    out += _nonnegative(spec, "minReadySeconds", "spec")
    # upstream reuses the Deployment wording for ReplicaSets
    out += _validate_selector_and_template(spec, "deployment")
    return out


# --------------------------------------------------------------------------
# DaemonSet, StatefulSet, ControllerRevision: pkg/apis/apps/validation/validation.go
# --------------------------------------------------------------------------

def _template_restrictions(template: dict[str, Any], kind: str, deadline_invalid: bool) -> list[Cause]:
    """restartPolicy Always only; no activeDeadlineSeconds (an Invalid for DaemonSets, a Forbidden otherwise)."""
    out: list[Cause] = []
    spec = template.get("spec") or {}
    restart = spec.get("restartPolicy") or ""
    if restart != "Always":
        out.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None:
        detail = f"activeDeadlineSeconds in {kind} is not Supported"
        out.append(invalid_value("spec.template.spec.activeDeadlineSeconds", deadline, detail) if deadline_invalid
                   else forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    return out


def _validate_daemon_set_strategy(strategy: dict[str, Any]) -> list[Cause]:
    """ValidateDaemonSetUpdateStrategy and ValidateRollingUpdateDaemonSet: exactly one of maxUnavailable and
    maxSurge is non-zero, neither above 100%."""
    path = "spec.updateStrategy"
    stype, rolling = strategy.get("type") or "", strategy.get("rollingUpdate")
    if stype == "OnDelete":
        return []
    if stype != "RollingUpdate":
        rolling_s = "(*apps.RollingUpdateDaemonSet)(nil)" if rolling is None else "&apps.RollingUpdateDaemonSet{...}"
        value = GoRaw(f"apps.DaemonSetUpdateStrategy{{Type:{go_quote(stype)}, RollingUpdate:{rolling_s}}}")
        return [not_supported(path, value, ["RollingUpdate", "OnDelete"])]
    if rolling is None:
        return [required(f"{path}.rollingUpdate")]
    out: list[Cause] = []
    for key in ("maxUnavailable", "maxSurge"):
        value = rolling.get(key)
        out += _validate_int_or_percent(value, f"{path}.rollingUpdate.{key}")
        if isinstance(value, str) and not is_valid_percent(value) and int(value[:-1]) > 100:
            out.append(invalid_value(f"{path}.rollingUpdate.{key}", go_int_or_string(value),
                                     "must not be greater than 100%"))
    unavailable = _int_or_percent_value(rolling.get("maxUnavailable")) != 0
    surge = _int_or_percent_value(rolling.get("maxSurge")) != 0
    if unavailable and surge:
        out.append(invalid_value(f"{path}.rollingUpdate.maxSurge", go_int_or_string(rolling.get("maxSurge")),
                                 "may not be set when maxUnavailable is non-zero"))
    elif not unavailable and not surge:
        out.append(required(f"{path}.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return out


def _validate_daemon_set(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateDaemonSet(Update): the selector (immutable) matches the template, which is validated as a pod's."""
    spec = obj.get("spec") or {}
    out = _selector_immutable(obj, old)
    selector = spec.get("selector")
    out += validate_label_selector(selector, "spec.selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    if selector_matches(selector, labels) is False or selector is None:
        out.append(invalid_value("spec.template.metadata.labels", labels or {},
                                 "`selector` does not match template `labels`"))
    if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
        out.append(invalid_value("spec.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    out += validate_pod_template(template, "spec.template")
    out += _template_restrictions(template, "DaemonSet", deadline_invalid=True)
    out += _nonnegative(spec, "minReadySeconds", "spec")
    out += _validate_daemon_set_strategy(spec.get("updateStrategy") or {})
    out += _nonnegative(spec, "revisionHistoryLimit", "spec")
    return out


STATEFUL_SET_UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                          "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _validate_stateful_set(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateStatefulSetSpec (and ValidateStatefulSetUpdate: only the fields of :data:`STATEFUL_SET_UPDATABLE`
    change). As upstream, the template's pod spec is not validated here (its claims stand in for volumes): a bad
    one fails when the controller creates a pod."""
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    if old is not None:
        keep = {k: v for k, v in spec.items() if k not in STATEFUL_SET_UPDATABLE}
        was = {k: v for k, v in (old.get("spec") or {}).items() if k not in STATEFUL_SET_UPDATABLE}
        if keep != was:
            fields = ", ".join(f"'{f}'" for f in STATEFUL_SET_UPDATABLE[:-1])
            out.append(forbidden("spec", f"updates to statefulset spec for fields other than {fields} and "
                                         f"'{STATEFUL_SET_UPDATABLE[-1]}' are forbidden"))
    policy = spec.get("podManagementPolicy") or ""
    if not policy:
        out.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        out.append(invalid_value("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    strategy = spec.get("updateStrategy") or {}
    stype, rolling = strategy.get("type") or "", strategy.get("rollingUpdate")
    if not stype:
        out.append(required("spec.updateStrategy"))
    elif stype == "OnDelete" and rolling is not None:
        out.append(invalid_value("spec.updateStrategy.rollingUpdate", GoRaw("&apps.RollingUpdateStatefulSetStrategy{...}"),
                                 "only allowed for updateStrategy 'RollingUpdate'"))
    elif stype == "RollingUpdate" and rolling is not None:
        out += _nonnegative(rolling, "partition", "spec.updateStrategy.rollingUpdate")
    elif stype not in ("OnDelete", "RollingUpdate"):
        out.append(invalid_value("spec.updateStrategy", GoRaw(f"apps.StatefulSetUpdateStrategy{{Type:{go_quote(stype)}}}"),
                                 "must be 'RollingUpdate' or 'OnDelete'"))
    for key in ("whenDeleted", "whenScaled"):
        value = (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get(key)
        if value not in (None, "Retain", "Delete"):
            out.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ["Retain", "Delete"]))
    out += _nonnegative(spec.get("ordinals") or {}, "start", "spec.ordinals")
    out += _nonnegative(spec, "replicas", "spec")
    out += _nonnegative(spec, "minReadySeconds", "spec")
    selector = spec.get("selector")
    out += _required_selector(selector, "statefulset")
    template = spec.get("template") or {}
    meta = template.get("metadata") or {}
    if selector and (selector.get("matchLabels") or selector.get("matchExpressions")) and \
            not selector_matches(selector, meta.get("labels")):
        out.append(invalid_value("spec.template.metadata.labels", meta.get("labels") or {},
                                 "`selector` does not match template `labels`"))
    out += validate_labels(meta.get("labels"), "spec.template.labels")
    out += validate_annotations(meta.get("annotations"), "spec.template.annotations")
    out += _template_restrictions(template, "StatefulSet", deadline_invalid=False)
    return out


def _validate_controller_revision(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateControllerRevision(Update): data is mandatory and immutable, revision not negative."""
    out = [] if obj.get("data") is not None else [required("data", "data is mandatory")]
    out += _nonnegative(obj, "revision", "")
    if old is not None and obj.get("data") != old.get("data"):
        out.append(immutable("data", GoRaw("runtime.RawExtension{...}")))
    return out


# --------------------------------------------------------------------------
# Job: pkg/apis/batch/validation/validation.go (ValidateJob, validateJobSpec)
# --------------------------------------------------------------------------

def _validate_job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        out += _nonnegative(spec, key, "spec")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels")
    selector = spec.get("selector")
    if selector is None:
        out.append(required("spec.selector"))
    elif not selector_matches(selector, labels):
        out.append(invalid_value("spec.template.metadata.labels", labels or {},
                                 "`selector` does not match template `labels`"))
    out += validate_pod_template(template, "spec.template")
    restart = (template.get("spec") or {}).get("restartPolicy") or ""
    if restart not in ("OnFailure", "Never"):
        out.append(not_supported("spec.template.spec.restartPolicy", restart, ["OnFailure", "Never"]) if restart
                   else required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    if old is not None:
        out += _selector_immutable(obj, old)
        if (old.get("spec") or {}).get("template") != template:
            out.append(immutable("spec.template", template))
        if (old.get("spec") or {}).get("completions") != spec.get("completions"):
            out.append(immutable("spec.completions", spec.get("completions")))
    return out


CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _validate_cron_job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateCronJobSpec: a schedule robfig/cron reads (five fields, a macro or ``@every``), and a Job
    template that is a valid Job spec."""
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        out.append(required("spec.schedule"))
    elif not (len(schedule.split()) == 5 or schedule in CRON_MACROS or schedule.startswith("@every ")):
        fields = len(schedule.split())
        out.append(invalid_value("spec.schedule", schedule, f"expected exactly 5 fields, found {fields}: {schedule}"))
    template = spec.get("jobTemplate") or {}
    job = {"metadata": obj.get("metadata") or {}, "spec": template.get("spec") or {}}
    for cause in _validate_job(job, None):
        if cause.field == "spec.selector":
            continue  # the CronJob's Jobs get their selectors when they are created
        out.append(dataclasses.replace(cause, field="spec.jobTemplate." + cause.field))
    return out


# --------------------------------------------------------------------------
# EndpointSlice: pkg/apis/discovery/validation/validation.go
# --------------------------------------------------------------------------

def _validate_endpoint_slice(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    atype = obj.get("addressType") or ""
    types = ["FQDN", "IPv4", "IPv6"]
    if not atype:
        out.append(required("addressType"))
    elif atype not in types:
        out.append(not_supported("addressType", atype, types))
    endpoints = obj.get("endpoints") or []
    if len(endpoints) > 1000:
        out.append(too_many("endpoints", len(endpoints), 1000))
        endpoints = []
    for i, ep in enumerate(endpoints):
        apath = f"endpoints[{i}].addresses"
        addresses = ep.get("addresses") or []
        if not addresses:
            out.append(required(apath, "must contain at least 1 address"))
        elif len(addresses) > 100:
            out.append(too_many(apath, len(addresses), 100))
        for j, addr in enumerate(addresses):
            ip = parse_ip(addr)
            if atype == "IPv4" and not isinstance(ip, ipaddress.IPv4Address):
                out.append(invalid_value(f"{apath}[{j}]", addr, "must be a valid IPv4 address"))
            elif atype == "IPv6" and not isinstance(ip, ipaddress.IPv6Address):
                out.append(invalid_value(f"{apath}[{j}]", addr, "must be a valid IPv6 address"))
        if ep.get("hostname") is not None:
            out += [invalid_value(f"endpoints[{i}].hostname", ep["hostname"], m)
                    for m in is_dns1123_label(ep["hostname"])]
    names: set[str] = set()
    for i, port in enumerate(obj.get("ports") or []):
        name = port.get("name") or ""
        if name:
            out += [invalid_value(f"ports[{i}].name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            out.append(duplicate(f"ports[{i}].name", name))
        names.add(name)
        proto = port.get("protocol")
        if proto is None:
            out.append(required(f"ports[{i}].protocol"))
        elif proto not in _PROTOCOLS:
            out.append(not_supported(f"ports[{i}].protocol", proto, _PROTOCOLS))
    if old is not None and atype != (old.get("addressType") or ""):
        out.append(immutable("addressType", atype))
    return out


def _validate_endpoints(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """pkg/apis/core/validation ValidateEndpoints → validateEndpointSubsets, -Address, -Port."""
    out: list[Cause] = []
    for i, subset in enumerate(obj.get("subsets") or []):
        path = f"subsets[{i}]"
        ready, not_ready = subset.get("addresses") or [], subset.get("notReadyAddresses") or []
        if not ready and not not_ready:
            out.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for field_name, addresses in (("addresses", ready), ("notReadyAddresses", not_ready)):
            for j, addr in enumerate(addresses):
                apath = f"{path}.{field_name}[{j}]"
                ip = addr.get("ip") or ""
                parsed = parse_ip(ip)
                if parsed is None:
                    out.append(invalid_value(f"{apath}.ip", ip, _IP_MSG))
                elif parsed.is_unspecified:  # ValidateNonSpecialIP
                    out.append(invalid_value(f"{apath}.ip", ip, "may not be unspecified (0.0.0.0)"))
                elif parsed.is_loopback:
                    out.append(invalid_value(f"{apath}.ip", ip, "may not be in the loopback range (127.0.0.0/8, "
                                                                 "::1/128)"))
                if addr.get("hostname"):
                    out += [invalid_value(f"{apath}.hostname", addr["hostname"], m)
                            for m in is_dns1123_label(addr["hostname"])]
        ports = subset.get("ports") or []
        for j, port in enumerate(ports):
            ppath = f"{path}.ports[{j}]"
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                out.append(required(f"{ppath}.name"))
            elif name:
                out += [invalid_value(f"{ppath}.name", name, m) for m in is_dns1123_label(name)]
            number = port.get("port") or 0
            out += [invalid_value(f"{ppath}.port", number, m) for m in is_valid_port_num(number)]
            proto = port.get("protocol")
            if not proto:
                out.append(required(f"{ppath}.protocol"))
            elif proto not in _PROTOCOLS:
                out.append(not_supported(f"{ppath}.protocol", proto, _PROTOCOLS))
    return out


# --------------------------------------------------------------------------
# Ingress, IngressClass, NetworkPolicy: pkg/apis/networking/validation
# --------------------------------------------------------------------------

_PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]


def _validate_ingress_backend(backend: dict[str, Any], path: str) -> list[Cause]:
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid_value(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        out = []
        for key in ("kind", "name"):
            if not resource.get(key):
                out.append(required(f"{path}.resource.{key}"))
        return out
    if service is None:
        return [invalid_value(path, "", "resource or service backend is required")]
    out: list[Cause] = []
    name = service.get("name") or ""
    if not name:
        out.append(required(f"{path}.service.name"))
    else:  # 1.33: Service names are DNS-1035 labels (RelaxedServiceNameValidation came later)
        out += [invalid_value(f"{path}.service.name", name, m) for m in is_dns1035_label(name)]
    port = service.get("port") or {}
    pname, pnum = port.get("name") or "", port.get("number") or 0
    if pname and pnum:
        out.append(invalid_value(path, "", "cannot set both port name & port number"))
    elif pname:
        out += [invalid_value(f"{path}.service.port.name", pname, m) for m in is_valid_port_name(pname)]
    elif pnum:
        out += [invalid_value(f"{path}.service.port.number", pnum, m) for m in is_valid_port_num(pnum)]
    else:
        out.append(required(path, "port name or number is required"))
    return out


def _validate_ingress(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    spec = obj.get("spec") or {}
    rules = spec.get("rules")
    if not rules and spec.get("defaultBackend") is None:
        shown = GoRaw("[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}")
        out.append(invalid_value("spec", shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        out += _validate_ingress_backend(spec["defaultBackend"], "spec.defaultBackend")
    for i, rule in enumerate(rules or []):
        rpath = f"spec.rules[{i}]"
        host = rule.get("host") or ""
        if host:
            if parse_ip(host) is not None:
                out.append(invalid_value(f"{rpath}.host", host, "must be a DNS name, not an IP address"))
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            out += [invalid_value(f"{rpath}.host", host, m) for m in check(host)]
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            out.append(required(f"{rpath}.http.paths"))
        for j, hp in enumerate(paths):
            out += _validate_http_path(hp, f"{rpath}.http.paths[{j}]")
    for i, tls in enumerate(spec.get("tls") or []):
        for j, host in enumerate(tls.get("hosts") or []):
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            out += [invalid_value(f"spec.tls[{i}].hosts[{j}]", host, m) for m in check(host)]
        if tls.get("secretName"):
            out += [invalid_value(f"spec.tls[{i}].secretName", tls["secretName"], m)
                    for m in is_dns1123_subdomain(tls["secretName"])]
    if spec.get("ingressClassName") is not None:
        out += [invalid_value("spec.ingressClassName", spec["ingressClassName"], m)
                for m in is_dns1123_subdomain(spec["ingressClassName"])]
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/ingress.class")
    if old is None and annotation is not None and spec.get("ingressClassName") not in (None, annotation):
        out.append(invalid_value("annotations.kubernetes.io/ingress.class", annotation,
                                 "must match `ingressClassName` when both are specified"))
    return out


def _validate_http_path(hp: dict[str, Any], path: str) -> list[Cause]:
    ptype, value = hp.get("pathType"), hp.get("path") or ""
    if ptype is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    out: list[Cause] = []
    if ptype in ("Exact", "Prefix"):
        if not value.startswith("/"):
            out.append(invalid_value(f"{path}.path", value, "must be an absolute path"))
        for seq in ("//", "/./", "/../", "%2f", "%2F"):
            if seq in value:
                out.append(invalid_value(f"{path}.path", value, f"must not contain '{seq}'"))
        for suffix in ("/..", "/."):
            if value.endswith(suffix):
                out.append(invalid_value(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif ptype == "ImplementationSpecific":
        if value and not value.startswith("/"):
            out.append(invalid_value(f"{path}.path", value, "must be an absolute path"))
    else:
        out.append(not_supported(f"{path}.pathType", ptype, _PATH_TYPES))
    return out + _validate_ingress_backend(hp.get("backend") or {}, f"{path}.backend")


def _validate_ingress_class(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    controller = spec.get("controller") or ""
    out: list[Cause] = []
    if old is not None and controller != ((old.get("spec") or {}).get("controller") or ""):
        out.append(immutable("spec.controller", controller))
    if not controller:
        out.append(required("spec.controller"))
    else:
        if len(controller) > 250:
            out.append(too_long("spec.controller", 250))
        host, _, rest = controller.partition("/")
        if not host or not rest:
            out.append(invalid_value("spec.controller", controller,
                                     'must be a domain-prefixed path (such as "acme.io/foo")'))
        else:
            out += [invalid_value("spec.controller", host, m) for m in is_dns1123_subdomain(host)]
    params = spec.get("parameters")
    if params is not None:
        ppath = "spec.parameters"
        for key in ("kind", "name", "scope"):
            if not params.get(key):
                out.append(required(f"{ppath}.{key}"))
        scope = params.get("scope")
        if scope and scope not in ("Cluster", "Namespace"):
            out.append(not_supported(f"{ppath}.scope", scope, ["Cluster", "Namespace"]))
        elif scope == "Namespace" and params.get("namespace") is None:
            out.append(required(f"{ppath}.namespace", "`parameters.scope` is set to 'Namespace'"))
        elif scope == "Cluster" and params.get("namespace") is not None:
            out.append(forbidden(f"{ppath}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return out


def _validate_np_port(port: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    proto = port.get("protocol")
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        out.append(not_supported(f"{path}.protocol", proto, ["TCP", "UDP", "SCTP"]))
    value, end = port.get("port"), port.get("endPort")
    if value is None:
        if end is not None:
            out.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(value, str):
        if end is not None:
            out.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        out += [invalid_value(f"{path}.port", value, m) for m in is_valid_port_name(value)]
    else:
        out += [invalid_value(f"{path}.port", value, m) for m in is_valid_port_num(value)]
        if end is not None:
            if end < value:
                out.append(invalid_value(f"{path}.endPort", end, "must be greater than or equal to `port`"))
            out += [invalid_value(f"{path}.endPort", end, m) for m in is_valid_port_num(end)]
    return out


def _validate_np_peer(peer: dict[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            out += validate_label_selector(peer[key], f"{path}.{key}")
    block = peer.get("ipBlock")
    if block is not None:
        count += 1
        out += _validate_ip_block(block, f"{path}.ipBlock")
    if count == 0:
        out.append(required(path, "must specify a peer"))
    elif count > 1 and block is not None:
        out.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return out


def _validate_ip_block(block: dict[str, Any], path: str) -> list[Cause]:
    cidr = block.get("cidr") or ""
    if not cidr:
        return [required(f"{path}.cidr")]
    net = parse_cidr(cidr)
    if net is None:
        return [invalid_value(f"{path}.cidr", cidr, _CIDR_MSG)]
    out: list[Cause] = []
    for i, except_ in enumerate(block.get("except") or []):
        epath = f"{path}.except[{i}]"
        sub = parse_cidr(except_)
        if sub is None:
            out.append(invalid_value(epath, except_, _CIDR_MSG))
        elif sub.version != net.version or not sub.subnet_of(net) or sub.prefixlen <= net.prefixlen:
            out.append(invalid_value(epath, except_, "must be a strict subset of `cidr`"))
    return out


def _validate_network_policy(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    out = validate_label_selector(spec.get("podSelector") or {}, "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            rpath = f"spec.{direction}[{i}]"
            for j, port in enumerate(rule.get("ports") or []):
                out += _validate_np_port(port, f"{rpath}.ports[{j}]")
            for j, peer in enumerate(rule.get(peers) or []):
                out += _validate_np_peer(peer, f"{rpath}.{peers}[{j}]")
    types = spec.get("policyTypes") or []
    if len(types) > 2:
        shown = GoRaw("[]networking.PolicyType{" + ", ".join(go_quote(t) for t in types) + "}")
        return out + [invalid_value("spec.policyTypes", shown, "may not specify more than two policyTypes")]
    for i, ptype in enumerate(types):
        if ptype not in ("Ingress", "Egress"):
            out.append(not_supported(f"spec.policyTypes[{i}]", ptype, ["Ingress", "Egress"]))
    return out


# --------------------------------------------------------------------------
# registry of kind validators
# --------------------------------------------------------------------------

Validator = Callable[[dict[str, Any], "dict[str, Any] | None"], list[Cause]]

def _validate_lease(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """pkg/apis/coordination/validation ValidateLeaseSpec: durations and transitions."""
    spec = obj.get("spec") or {}
    out: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        out.append(invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        out.append(invalid_value("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    return out


# --------------------------------------------------------------------------
# rbac.authorization.k8s.io/v1: pkg/apis/rbac/validation/validation.go
# --------------------------------------------------------------------------

RBAC_GROUP = "rbac.authorization.k8s.io"


def path_segment_name(name: str) -> list[str]:
    """apimachinery path.IsValidPathSegmentName, RBAC's "minimal name requirements" (``system:basic-user``)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _validate_policy_rule(rule: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    """validatePolicyRule: verbs, then resources (with groups) or non-resource URLs, never both."""
    out: list[Cause] = []
    if not rule.get("verbs"):
        out.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        if namespaced:
            out.append(invalid_value(f"{path}.nonResourceURLs", urls,
                                     "namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            out.append(invalid_value(f"{path}.nonResourceURLs", urls,
                                     "rules cannot apply to both regular resources and non-resource URLs"))
        return out
    if not rule.get("apiGroups"):
        out.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
    if not rule.get("resources"):
        out.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    if rule.get("resourceNames") and len(rule.get("resources") or []) > 1:
        out.append(required(f"{path}.resourceNames", "resource names cannot apply to multiple resources"))
    return out


def _validate_rules(obj: dict[str, Any], namespaced: bool) -> list[Cause]:
    return [c for i, rule in enumerate(obj.get("rules") or [])
            for c in _validate_policy_rule(rule if isinstance(rule, dict) else {}, namespaced, f"rules[{i}]")]


def _validate_role(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateRole."""
    return _validate_rules(obj, True)


def _validate_cluster_role(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ValidateClusterRole: its rules, and an aggregationRule's selectors."""
    out = _validate_rules(obj, False)
    aggregation = obj.get("aggregationRule")
    if aggregation is not None:
        selectors = (aggregation or {}).get("clusterRoleSelectors") or []
        if not selectors:
            out.append(required("aggregationRule.clusterRoleSelectors",
                                "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, selector in enumerate(selectors):
            out += validate_label_selector(selector, f"aggregationRule.clusterRoleSelectors[{i}]")
    return out


def go_role_ref(role_ref: dict[str, Any]) -> GoRaw:
    """``%#v`` of an rbac.RoleRef, as in ``roleRef: Invalid value: rbac.RoleRef{...}: cannot change roleRef``."""
    return GoRaw("rbac.RoleRef{" + ", ".join(f"{field}:{go_quote(str(role_ref.get(key) or ''))}" for field, key in
                                            (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))) + "}")


def _validate_binding(obj: dict[str, Any], old: dict[str, Any] | None, namespaced: bool) -> list[Cause]:
    """ValidateRoleBinding / ValidateClusterRoleBinding and their updates (roleRef never changes)."""
    out: list[Cause] = []
    role_ref = obj.get("roleRef") if isinstance(obj.get("roleRef"), dict) else {}
    if role_ref.get("apiGroup") != RBAC_GROUP:
        out.append(not_supported("roleRef.apiGroup", role_ref.get("apiGroup") or "", [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if role_ref.get("kind") not in kinds:
        out.append(not_supported("roleRef.kind", role_ref.get("kind") or "", kinds))
    name = role_ref.get("name") or ""
    if not name:
        out.append(required("roleRef.name"))
    else:
        out += [invalid_value("roleRef.name", name, m) for m in path_segment_name(name)]
    for i, subject in enumerate(obj.get("subjects") or []):
        out += _validate_subject(subject if isinstance(subject, dict) else {}, namespaced, f"subjects[{i}]")
    if old is not None:
        old_ref = old.get("roleRef") or {}
        if any((role_ref.get(k) or "") != (old_ref.get(k) or "") for k in ("apiGroup", "kind", "name")):
            out.append(invalid_value("roleRef", go_role_ref(role_ref), "cannot change roleRef"))
    return out


def _validate_subject(subject: dict[str, Any], namespaced: bool, path: str) -> list[Cause]:
    """validateRoleBindingSubject: a ServiceAccount (core, namespaced), a User or a Group (RBAC's group)."""
    out: list[Cause] = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        out.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            out += [invalid_value(f"{path}.name", name, m) for m in is_dns1123_subdomain(name)]
        if group:
            out.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            out.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if not name:
            out.append(invalid_value(f"{path}.name", name, f"{kind.lower()} name cannot be empty"))
        if group != RBAC_GROUP:
            out.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        out.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return out


def _validate_role_binding(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return _validate_binding(obj, old, True)


def _validate_cluster_role_binding(obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    return _validate_binding(obj, old, False)



VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): _validate_pod,
    ("", "Service"): _validate_service,
    ("", "Namespace"): _validate_namespace,
    ("", "ConfigMap"): _validate_config_map,
    ("", "Secret"): _validate_secret,
    ("", "Endpoints"): _validate_endpoints,
    ("apps", "Deployment"): _validate_deployment,
    ("apps", "ReplicaSet"): _validate_replica_set,
    ("apps", "DaemonSet"): _validate_daemon_set,
    ("apps", "StatefulSet"): _validate_stateful_set,
    ("apps", "ControllerRevision"): _validate_controller_revision,
    ("batch", "Job"): _validate_job,
    ("batch", "CronJob"): _validate_cron_job,
    ("discovery.k8s.io", "EndpointSlice"): _validate_endpoint_slice,
    ("networking.k8s.io", "Ingress"): _validate_ingress,
    ("networking.k8s.io", "IngressClass"): _validate_ingress_class,
    ("networking.k8s.io", "NetworkPolicy"): _validate_network_policy,
    ("coordination.k8s.io", "Lease"): _validate_lease,
    (RBAC_GROUP, "Role"): _validate_role,
    (RBAC_GROUP, "ClusterRole"): _validate_cluster_role,
    (RBAC_GROUP, "RoleBinding"): _validate_role_binding,
    (RBAC_GROUP, "ClusterRoleBinding"): _validate_cluster_role_binding,
}
"""Kind-specific validation, (group, kind) → fn(new, old-or-None) → causes (metadata excluded)."""

NAME_VALIDATORS: dict[tuple[str, str], NameFn] = {
    ("", "Service"): is_dns1035_label,  # ValidateServiceName = NameIsDNS1035Label
    ("", "Namespace"): is_dns1123_label,  # ValidateNamespaceName = NameIsDNSLabel
    **{(RBAC_GROUP, kind): path_segment_name for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")},
    # ValidateCertificateRequestName accepts any name; rest.BeforeCreate then applies the path-segment rule
    ("certificates.k8s.io", "CertificateSigningRequest"): path_segment_name,
}
"""metadata.name rules that differ from the default DNS-1123 subdomain."""


def validate(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, schemas: SchemaSet,
             fn: Validator | None = None) -> None:
    """Run kube-apiserver's create (``old`` None) or update validation; raise 422 Invalid with every cause.

    Call after defaulting, as the API server does: validation expects defaulted
    fields (e.g. ``protocol``, ``restartPolicy``) to be present. ``schemas`` is
    not needed by the Go-ported checks; custom resources are schema-validated in
    :func:`check_schema`, so kinds without a validator only get metadata checks. ``fn`` replaces the kind's
    entry in :data:`VALIDATORS` (a validation that depends on the subresource written).
    """
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    if old is not None:
        causes += validate_object_meta_update(meta, old.get("metadata") or {})
    name_fn = NAME_VALIDATORS.get((rt.group, rt.kind), is_dns1123_subdomain)
    causes += validate_object_meta(meta, rt.namespaced, name_fn)
    fn = fn or VALIDATORS.get((rt.group, rt.kind))
    if fn is not None:
        causes += fn(obj, old)
    if causes:
        raise invalid(rt.kind, rt.group, meta.get("name") or "", dedupe(causes))


def dedupe(causes: list[Cause]) -> list[Cause]:
    """field.ErrorList.ToAggregate drops repeated messages."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in causes:
        if (c.field, c.message) not in seen:
            seen.add((c.field, c.message))
            out.append(c)
    return out


# --------------------------------------------------------------------------
# decoding stage: sigs.k8s.io/json (a fork of encoding/json) and CRD schemas
# --------------------------------------------------------------------------

BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "discovery.k8s.io", "storage.k8s.io",
    "rbac.authorization.k8s.io", "coordination.k8s.io", "events.k8s.io", "scheduling.k8s.io", "node.k8s.io",
    "apiextensions.k8s.io", "admissionregistration.k8s.io", "certificates.k8s.io", "authentication.k8s.io",
    "authorization.k8s.io", "flowcontrol.apiserver.k8s.io", "apiregistration.k8s.io", "resource.k8s.io",
    "storagemigration.k8s.io", "internal.apiserver.k8s.io",
})
"""Groups served from Go types (typed decoding); anything else is a custom resource."""

_QUANTITY_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY_FORMAT_ERR = f"quantities must match the regular expression '{_QUANTITY_RE}'"
_QUANTITY_SUFFIXES = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "int": (-(2**63), 2**63 - 1)}
_B64 = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def quantity_error(text: str) -> str | None:
    """resource.ParseQuantity's error for ``text``, or None when it parses."""
    s = text.strip()
    if not s:
        return _QUANTITY_FORMAT_ERR
    m = re.match(r"[+-]?[0-9]*(\.[0-9]*)?", s)
    rest = s[m.end():] if m else s
    suffix = re.match(r"[eEinumkKMGTP]*[-+]?[0-9]*", rest)
    if suffix is None or suffix.end() != len(rest):
        return _QUANTITY_FORMAT_ERR
    if rest in _QUANTITY_SUFFIXES or re.fullmatch(r"[eE][-+]?[0-9]+", rest):
        return None
    return "unable to parse quantity's suffix"


def base64_error(value: str) -> str | None:
    """encoding/base64.StdEncoding.Decode's CorruptInputError text, or None when ``value`` decodes."""
    src = value.encode()
    n, si = len(src), 0

    def err(at: int) -> str:
        return f"illegal base64 data at input byte {at}"

    while si < n:
        j = 0
        while j < 4:
            if si == n:
                return err(si - j) if j else None
            c = src[si]
            si += 1
            if c in _B64:
                j += 1
                continue
            if c in (10, 13):
                continue
            if c != ord("="):
                return err(si - 1)
            if j < 2:
                return err(si - 1)
            if j == 2:
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    return err(n)
                if src[si] != ord("="):
                    return err(si - 1)
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            return err(si) if si < n else None
    return None


class _DecodeAbort(Exception):
    """An error returned (not saved) by encoding/json: it ends decoding at once."""


class _Walker:
    """Walk a request body against the schema like the Go decoder (builtins) or CRD validation."""

    def __init__(self, schemas: SchemaSet, typed: bool, prune: bool):
        self.schemas = schemas
        self.typed = typed
        self.prune = prune
        self.type_error: str | None = None  # first "saved" encoding/json error
        self.unknown: list[str] = []
        self.causes: list[Cause] = []  # CRD schema errors (422)

    # Go type names for the "of type X" part of UnmarshalTypeError
    def go_type(self, node: Node) -> str:
        ref = node.get("$ref")
        if ref:
            parts = ref[len(REF_PREFIX):].split(".")
            return f"{parts[-2]}.{parts[-1]}"
        types = types_of(node)
        if "array" in types:
            return "[]" + self.go_type(node.get("items") or {})
        if "object" in types:
            extra = node.get("additionalProperties")
            return "map[string]" + (self.go_type(extra) if isinstance(extra, dict) else "interface {}")
        if "string" in types:
            return "[]uint8" if node.get("format") == "byte" else "string"
        if "integer" in types:
            return node.get("format") if node.get("format") in ("int32", "int64") else "int"
        if "number" in types:
            return "float64"
        if "boolean" in types:
            return "bool"
        return "interface {}"

    def type_mismatch(self, value: Any, gotype: str, struct: str, fields: list[str], path: str, want: str,
                      number_detail: bool = False, abort: bool = False) -> None:
        if not self.typed:  # CRD: kube-openapi "in body must be of type"
            actual = json_type(value)
            self.causes.append(Cause("FieldValueTypeInvalid",
                                     f'Invalid value: "{actual}": {path} in body must be of type {want}: "{actual}"',
                                     path))
            return
        what = _go_json_kind(value, number_detail)
        where = f"Go struct field {struct}.{'.'.join(fields)}" if fields else "Go value"
        msg = f"json: cannot unmarshal {what} into {where} of type {gotype}"
        if abort:
            raise _DecodeAbort(msg)
        if self.type_error is None:
            self.type_error = msg

    def walk(self, value: Any, node: Node, struct: str, fields: list[str], path: str) -> None:
        if value is None:
            return
        ref = (node.get("$ref") or "")[len(REF_PREFIX):]
        resolved = self.schemas.resolve(node)
        if resolved.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-preserve-unknown-fields"):
            return
        short = ref.rsplit(".", 1)[-1]
        if ref and self.typed and short in ("IntOrString", "Quantity", "Time", "MicroTime", "RawExtension",
                                             "FieldsV1"):
            return self.walk_custom(value, short, struct, fields, path)
        if resolved.get("x-kubernetes-int-or-string"):
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                self.type_mismatch(value, "int32", struct, fields, path, "integer,string")
            return
        types = types_of(resolved)
        gotype = self.go_type(node)
        if "object" in types and isinstance(value, dict):
            return self.walk_object(value, resolved, short or struct, struct, fields, path)
        if "array" in types and isinstance(value, list):
            items = resolved.get("items") or {}
            for i, item in enumerate(value):
                if item is None and self.typed:  # encoding/json: null in a slice is the element's zero value
                    item = value[i] = _zero(types_of(self.schemas.resolve(items)))
                self.walk(item, items, struct, fields, f"{path}[{i}]")
            return
        if "object" in types or "array" in types:
            return self.type_mismatch(value, gotype, struct, fields, path, "object" if "object" in types else "array")
        if not types:
            return
        if "string" in types and isinstance(value, str):
            if resolved.get("format") == "byte" and self.typed:
                bad = base64_error(value)
                if bad and self.type_error is None:
                    self.type_error = bad
            return self.check_enum(value, resolved, path)
        if "integer" in types and isinstance(value, int) and not isinstance(value, bool):
            lo, hi = _INT_RANGES.get(resolved.get("format") or "int", _INT_RANGES["int"])
            if not lo <= value <= hi:
                self.type_mismatch(value, gotype, struct, fields, path, "integer", number_detail=True)
            return self.check_enum(value, resolved, path)
        if "integer" in types and isinstance(value, float):
            if not self.typed and value.is_integer():
                return
            return self.type_mismatch(value, gotype, struct, fields, path, "integer", number_detail=True)
        if "number" in types and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if "boolean" in types and isinstance(value, bool):
            return
        want = sorted(types)[0] if len(types) == 1 else ",".join(sorted(types))
        self.type_mismatch(value, gotype, struct, fields, path, want)

    def walk_custom(self, value: Any, short: str, struct: str, fields: list[str], path: str) -> None:
        """Types with their own UnmarshalJSON: errors abort decoding (and keep the field context)."""
        if short == "IntOrString":
            if isinstance(value, str):
                return
            if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
                return
            self.type_mismatch(value, "int32", struct, fields, path, "integer", number_detail=True, abort=True)
        elif short == "Quantity":
            text = value if isinstance(value, str) else _json_literal(value)
            problem = quantity_error(text)
            if problem:
                raise _DecodeAbort(problem)
        elif short in ("Time", "MicroTime") and not isinstance(value, str):
            self.type_mismatch(value, "string", struct, fields, path, "string", abort=True)

    def walk_object(self, value: dict[str, Any], node: Node, struct_name: str, parent_struct: str,
                    fields: list[str], path: str) -> None:
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        required_keys = node.get("required") or ()
        for key in list(value):
            child_path = f"{path}.{key}" if path else key
            if key in props:
                if value[key] is None and self.typed and key not in required_keys and \
                        "object" in types_of(self.schemas.resolve(props[key])):
                    # encoding/json leaves a struct or map field given as null at its zero value (nil for
                    # pointers and maps, which omitempty drops); lists and scalars keep their null, as a field
                    # without omitempty encodes it
                    del value[key]
                    continue
                self.walk(value[key], props[key], struct_name, fields + [key], child_path)
            elif isinstance(extra, dict):  # map values: Go keeps the enclosing struct and field stack
                self.walk(value[key], extra, parent_struct, fields, f"{path}[{key}]")
            elif props or extra is False:
                self.unknown.append(child_path)
                if self.prune:
                    del value[key]
        if not self.typed:
            for key in node.get("required") or []:
                if value.get(key) is None:
                    self.causes.append(required(f"{path}.{key}" if path else key))

    def check_enum(self, value: Any, node: Node, path: str) -> None:
        if not self.typed and node.get("enum") and value not in node["enum"]:
            self.causes.append(not_supported(path, value, [str(e) for e in node["enum"]]))


def _zero(types: set[str]) -> Any:
    """Go's zero value of a schema type, as it reads back in JSON (a struct with nothing set is ``{}``)."""
    if "object" in types:
        return {}
    if "array" in types:
        return []
    if "string" in types:
        return ""
    if "integer" in types or "number" in types:
        return 0
    if "boolean" in types:
        return False
    return None




def _json_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return repr(value) if isinstance(value, float) else str(value)


def _go_json_kind(value: Any, number_detail: bool) -> str:
    """UnmarshalTypeError.Value: "string", "bool", "object", "array", "number" or "number 1.5"."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {_json_literal(value)}" if number_detail else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def check_schema(obj: dict[str, Any], schemas: SchemaSet, node: Node | None, *, kind: str, name: str, group: str,
                 mode: str, prune: bool = True) -> list[str]:
    """Check a decoded request body against the kind's schema, as kube-apiserver's decoder does.

    Built-in kinds: a JSON type that does not fit the Go field raises 400 with
    the ``json: cannot unmarshal`` text (the first one, like encoding/json);
    unknown fields raise 400 ``strict decoding error`` (mode Strict), come back
    as ``unknown field "..."`` warnings (Warn) or are silently dropped (Ignore).
    Required fields are left to :func:`validate`, as upstream enforces them in
    Go validation. Custom resources additionally get OpenAPI schema validation:
    type, enum and required errors raise 422 Invalid.

    When ``prune`` is true, unknown fields are removed from ``obj`` (the Go
    decoder drops them; so does CRD pruning), so the stored object matches.

    Returns the warnings for the ``Warning`` response header.
    """
    if node is None:
        return []
    typed = group in BUILTIN_GROUPS
    walker = _Walker(schemas, typed, prune and mode.lower() != "strict")
    version = str(obj.get("apiVersion") or "").rsplit("/", 1)[-1]
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    try:
        walker.walk_object(obj, schemas.resolve(node), kind, kind, [], "")
    except _DecodeAbort as e:
        raise bad_request(prefix + str(e)) from None
    if walker.type_error:
        raise bad_request(prefix + walker.type_error)
    unknown = [f'unknown field "{p}"' for p in walker.unknown]
    warnings: list[str] = []
    if unknown and mode.lower() == "strict":
        raise bad_request(prefix + "strict decoding error: " + ", ".join(unknown))
    if unknown and mode.lower() == "warn":
        warnings = unknown
    if walker.causes:
        raise invalid(kind, group, name, dedupe(walker.causes))
    return warnings


def check_object_meta(obj: dict[str, Any], schemas: SchemaSet, *, kind: str, mode: str) -> list[str]:
    """A custom object's ``metadata`` decoded into ObjectMeta, as apiextensions' schemaobjectmeta does it
    (GetObjectMetaWithOptions, ``kjson.UnmarshalStrict``): a wrong type is a 400 naming ``ObjectMeta.<field>``,
    unknown fields are ``unknown field "metadata.x"`` (Strict: 400, Warn: warnings) and are dropped.

    Returns the warnings.
    """
    meta = obj.get("metadata")
    node = schemas.definitions.get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    if not isinstance(meta, dict) or node is None:
        return []
    walker = _Walker(schemas, True, mode.lower() != "strict")
    version = str(obj.get("apiVersion") or "").rsplit("/", 1)[-1]
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    try:
        walker.walk_object(meta, schemas.resolve(node), "ObjectMeta", "ObjectMeta", [], "metadata")
    except _DecodeAbort as e:
        raise bad_request(prefix + str(e)) from None
    if walker.type_error:
        raise bad_request(prefix + walker.type_error)
    unknown = [f'unknown field "{p}"' for p in walker.unknown]
    if unknown and mode.lower() == "strict":
        raise bad_request(prefix + "strict decoding error: " + ", ".join(unknown))
    return unknown if mode.lower() == "warn" else []


def object_meta_causes(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """The ObjectMeta part of :func:`validate` (create or update), for kinds validated elsewhere."""
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    if old is not None:
        causes += validate_object_meta_update(meta, old.get("metadata") or {})
    name_fn = NAME_VALIDATORS.get((rt.group, rt.kind), is_dns1123_subdomain)
    return causes + validate_object_meta(meta, rt.namespaced, name_fn)


__all__ = ["VALIDATORS", "NAME_VALIDATORS", "check_object_meta", "check_schema", "dedupe", "object_meta_causes",
           "validate"]
