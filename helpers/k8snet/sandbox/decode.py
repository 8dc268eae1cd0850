"""Request bodies to JSON values, as kube-apiserver decodes them: only what JSON can hold ever gets in.

kube-apiserver reads JSON with sigs.k8s.io/json (Go's encoding/json) and YAML
by converting it to JSON first (sigs.k8s.io/yaml: yaml.v2, then JSON), so a
stored object never holds a date, a set, bytes, NaN or Infinity. Python's
json and PyYAML accept more; this module narrows them to what Go yields:

- a YAML timestamp stays the string it was written as (yaml.v2 decode.go: "for
  backward compatibility reasons we set it as a string" when decoding into
  interface{});
- ``!!binary`` becomes the decoded text, ``!!set`` a mapping to nulls, and
  non-string keys their text, as the YAML-to-JSON conversion writes them;
- NaN and Infinity are refused (encoding/json: ``json: unsupported value: NaN``);
- invalid UTF-8 and lone surrogates become U+FFFD (encoding/json replaces them);
- nesting past 10,000 levels is refused (encoding/json's maxNestingDepth:
  ``invalid character '{' exceeded max depth``); the sandbox's own limit is
  Python's recursion depth, which a real object never reaches;
- duplicate keys are a strict decoding error when ``fieldValidation=Strict``
  (sigs.k8s.io/json UnmarshalStrict: ``duplicate field "x"``), a warning with
  ``Warn``, and the last one wins otherwise.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import errors

MAX_BODY_BYTES = 3 * 1024 * 1024
"""kube-apiserver's --max-request-body-bytes default (3 MiB, apiserver options: MaxRequestBodyBytes)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Decoded:
    """A decoded body and what a strict decoder would say of it."""

    value: Any
    duplicates: list[str] = field(default_factory=list)  # field paths given twice


def too_large() -> errors.ApiError:
    """handlers/rest.go limitedReadBody: ``Request entity too large: limit is 3145728``."""
    return errors.ApiError(f"Request entity too large: limit is {MAX_BODY_BYTES}", 413, "RequestEntityTooLarge")


def decode_json(raw: bytes) -> Decoded:
    """Decode a JSON body into JSON values only (see the module docstring)."""
    text = raw.decode("utf-8", errors="replace")
    dup_maps: list[tuple[dict, list[str]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            dup_maps.append((obj, [k for k, _ in pairs if k in seen or seen.add(k)]))
        return obj

    def refuse_constant(name: str) -> Any:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: invalid character "
                                 f"'{name[0]}' looking for beginning of value")

    try:
        value = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=refuse_constant)
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    if "\\ud" in text.lower() or _SURROGATE.search(text):
        value = _replace_surrogates(value)
    return Decoded(value, _paths(value, dup_maps) if dup_maps else [])


def decode_yaml(raw: bytes) -> Decoded:
    """Decode a YAML body (one document) into JSON values only (see the module docstring)."""
    loader = _JsonYamlLoader(raw.decode("utf-8", errors="replace"))
    try:
        value = loader.get_single_data()
    except RecursionError:
        raise _too_deep("{") from None
    except _Unsupported as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: yaml: {_yaml_problem(exc)}") from None
    finally:
        loader.dispose()
    return Decoded(value, [f"line {line}: key {json.dumps(key)} already set in map"
                           for line, key in loader.duplicates])


def strict_problems(decoded: Decoded, yaml_body: bool) -> list[str]:
    """The strict decoder's complaints about duplicates, worded per format."""
    if yaml_body:
        return ["yaml: unmarshal errors:\n  " + "\n  ".join(decoded.duplicates)] if decoded.duplicates else []
    return [f'duplicate field "{p}"' for p in decoded.duplicates]


# -- JSON details ---------------------------------------------------------------------------


def _too_deep(text: str) -> errors.ApiError:
    opener = "[" if text.lstrip()[:1] == "[" else "{"
    return errors.bad_request(f"couldn't get version/kind; json parse error: invalid character '{opener}' "
                              "exceeded max depth")


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def _paths(value: Any, dup_maps: list[tuple[dict, list[str]]]) -> list[str]:
    """The dotted path of each duplicated key (found by the identity of the map that held it)."""
    wanted = {id(obj): keys for obj, keys in dup_maps}
    out: list[str] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key in wanted.get(id(node), ()):
                out.append(f"{path}.{key}" if path else key)
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, path) for v in node)
    return sorted(out)


# -- YAML details ---------------------------------------------------------------------------


class _Unsupported(ValueError):
    """A YAML value JSON cannot hold (NaN, Infinity)."""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


def _key_text(key: Any) -> str:
    """A mapping key as sigs.k8s.io/yaml writes it into JSON (keys are always strings there)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        if not math.isfinite(key):
            raise _Unsupported(f"json: unsupported value: {_go_float(key)}")
        return repr(key).rstrip("0").rstrip(".") if key != int(key) else str(int(key))
    return str(key)


def _go_float(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


class _JsonYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader narrowed to the values yaml.v2 + sigs.k8s.io/yaml produce for interface{}."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_yaml_timestamp(self, node: yaml.Node) -> str:  # type: ignore[override]
        return str(node.value)

    def construct_yaml_binary(self, node: yaml.Node) -> str:  # type: ignore[override]
        try:
            return base64.b64decode(str(node.value).encode(), validate=False).decode("utf-8", errors="replace")
        except ValueError as exc:
            raise _Unsupported(f"yaml: cannot decode !!binary data: {exc}") from None

    def construct_yaml_float(self, node: yaml.Node) -> float:  # type: ignore[override]
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise _Unsupported(f"json: unsupported value: {_go_float(value)}")
        return value

    def construct_yaml_set(self, node: yaml.Node):  # type: ignore[override]
        data: dict[str, None] = {}
        yield data
        data.update(self.construct_mapping(node))

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[str, Any]:  # type: ignore[override]
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key_text(self.construct_object(key_node, deep=True))
            if key in out:
                self.duplicates.append((key_node.start_mark.line + 1, key))
            out[key] = self.construct_object(value_node, deep=deep)
        return out

    def construct_yaml_map(self, node: yaml.Node):  # type: ignore[override]
        data: dict[str, Any] = {}
        yield data
        data.update(self.construct_mapping(node))

    def construct_undefined(self, node: yaml.Node) -> Any:  # type: ignore[override]
        # yaml.v2 decodes an unknown local tag by the node's kind, ignoring the tag
        if isinstance(node, yaml.MappingNode):
            return self.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return str(node.value)


for _tag, _method in (("tag:yaml.org,2002:timestamp", _JsonYamlLoader.construct_yaml_timestamp),
                      ("tag:yaml.org,2002:binary", _JsonYamlLoader.construct_yaml_binary),
                      ("tag:yaml.org,2002:float", _JsonYamlLoader.construct_yaml_float),
                      ("tag:yaml.org,2002:set", _JsonYamlLoader.construct_yaml_set),
                      ("tag:yaml.org,2002:map", _JsonYamlLoader.construct_yaml_map),
                      ("tag:yaml.org,2002:omap", _JsonYamlLoader.construct_undefined),
                      ("tag:yaml.org,2002:pairs", _JsonYamlLoader.construct_undefined),
                      (None, _JsonYamlLoader.construct_undefined)):
    _JsonYamlLoader.add_constructor(_tag, _method)
