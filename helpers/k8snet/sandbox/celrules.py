"""``x-kubernetes-validations``: a CRD's CEL rules, compiled when the CRD is written and run on every write.

The engine is cel-python (``celpy``); the behaviour around it follows
k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel (compilation.go,
validation.go) and the CRD validation in pkg/apis/apiextensions/validation:

* rules see ``self`` (and ``oldSelf`` on updates, for transition rules, only where
  the old value correlates: same property, same map key, same ``list-type: map`` item);
  at the root ``self`` holds apiVersion, kind and metadata.name/generateName only;
  property names are escaped as upstream (``foo-bar`` is ``self.foo__dash__bar``);
* a failed rule is ``<path>: Invalid value: "object": failed rule: <rule>``, or its
  ``message`` / evaluated ``messageExpression``; ``reason`` picks Forbidden, Required or
  Duplicate; ``fieldPath`` moves the error to a child field;
* a rule that does not parse, or calls a function or names a field that does not
  exist, is refused when the CRD is written (``compilation failed: ERROR: <input>:1:9:
  ...``), as cel-go's type checker refuses it;
* a rule calling a Kubernetes CEL library function this engine lacks is accepted, as
  upstream accepts it, but never silently: the CRD write and every object write answer
  with a Warning naming the function, and the rule is not enforced.

Evaluation costs are not estimated or limited (upstream's cost budget).
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import celpy
from celpy import celparser, celtypes
from celpy.celparser import CELParser
from lark import Lark, Token, Tree

from . import gofmt
from .errors import Cause
from .warmup import GRAMMAR_ENV

Schema = dict[str, Any]

MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})

STANDARD_FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string", "bytes", "bool",
    "duration", "timestamp", "dyn", "type", "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate",
    "getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
})
"""cel-go's standard library (and what celpy has built in)."""

KUBERNETES_FUNCTIONS = frozenset({
    # cel-go ext.Strings (k8s.io/apiserver/pkg/cel/environment/base.go)
    "charAt", "indexOf", "lastIndexOf", "lowerAscii", "upperAscii", "replace", "split", "substring", "trim",
    "join", "quote", "format", "reverse",
    # ext.Sets, ext.Lists, ext.TwoVarComprehensions, optional types, math
    "sets.contains", "sets.equivalent", "sets.intersects", "slice", "flatten", "distinct", "sort", "sortBy",
    "first", "last", "lists.range", "transformList", "transformMap", "transformMapEntry", "existsOne",
    "optional.of", "optional.none", "optional.ofNonZeroValue", "hasValue", "value", "orValue", "or", "optMap",
    "optFlatMap", "math.greatest", "math.least",
    # k8s.io/apiserver/pkg/cel/library: lists, regex, urls, ip, cidr, quantity, format, semver
    "isSorted", "sum", "min", "max", "find", "findAll", "url", "isURL", "getScheme", "getHost", "getHostname",
    "getPort", "getEscapedPath", "getQuery", "ip", "isIP", "ip.isCanonical", "family", "isUnspecified",
    "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast", "cidr", "isCIDR",
    "containsIP", "containsCIDR", "masked", "prefixLength", "quantity", "isQuantity", "sign", "isInteger",
    "asInteger", "asApproximateFloat", "add", "sub", "compareTo", "isLessThan", "isGreaterThan",
    "format.named", "validate", "semver", "isSemver", "major", "minor", "patch",
})
"""Functions the 1.33 CRD rule environment declares beyond the standard library."""

RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function",
                      "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"})
TYPE_NAMES = frozenset({"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type",
                        "duration", "timestamp", "dyn"})


# --------------------------------------------------------------------------- the functions celpy lacks


def _s(value: Any) -> celtypes.StringType:
    return celtypes.StringType(value)


def _list(values: Any) -> celtypes.ListType:
    return celtypes.ListType(list(values))


def _index_of(target: Any, needle: Any, start: Any = None) -> celtypes.IntType:
    if isinstance(target, list):
        return celtypes.IntType(next((i for i, v in enumerate(target) if v == needle), -1))
    return celtypes.IntType(str(target).find(str(needle), int(start or 0)))


def _last_index_of(target: Any, needle: Any, end: Any = None) -> celtypes.IntType:
    if isinstance(target, list):
        return celtypes.IntType(next((i for i in range(len(target) - 1, -1, -1) if target[i] == needle), -1))
    return celtypes.IntType(str(target).rfind(str(needle), 0, None if end is None else int(end) + len(str(needle))))


def _split(s: Any, sep: Any, limit: Any = None) -> celtypes.ListType:
    parts = str(s).split(str(sep)) if limit is None or int(limit) < 0 else str(s).split(str(sep), max(int(limit) - 1, 0))
    return _list(_s(p) for p in parts) if limit is None or int(limit) != 0 else _list([])


def _substring(s: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = str(s)
    if int(start) > len(text) or (end is not None and (int(end) > len(text) or int(end) < int(start))):
        raise IndexError(f"index out of range: {end if end is not None else start}")
    return _s(text[int(start):None if end is None else int(end)])


def _join(values: Any, sep: Any = "") -> celtypes.StringType:
    return _s(str(sep).join(str(v) for v in values))


@dataclass(frozen=True, order=True)
class Quantity:
    """A Kubernetes resource.Quantity's value (library/quantity.go), compared exactly."""

    value: Decimal


_SUFFIXES = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10**3, "M": 10**6,
             "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "Pi": 2**50, "Ei": 2**60}


def _parse_quantity(text: str) -> Quantity | None:
    m = re.fullmatch(r"([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)", text.strip())
    if m is None or (m.group(2) and m.group(2)[0] not in "eE" and m.group(2) not in _SUFFIXES):
        return None
    try:
        number = Decimal(m.group(1) + (m.group(2) if m.group(2)[:1] in ("e", "E") else ""))
    except InvalidOperation:
        return None
    suffix = "" if m.group(2)[:1] in ("e", "E") else m.group(2)
    return Quantity(number * Decimal(_SUFFIXES[suffix]))


def _quantity(text: Any) -> Quantity:
    q = _parse_quantity(str(text))
    if q is None:
        raise ValueError("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    return q


def _compare(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _url(text: Any) -> Any:
    parts = urlsplit(str(text))
    if not parts.scheme and not str(text).startswith("/"):
        raise ValueError(f"URL is invalid: {text}")
    return parts


def _ip(text: Any) -> Any:
    return ipaddress.ip_address(str(text))


def _cidr(text: Any) -> Any:
    return ipaddress.ip_interface(str(text))


def _bool(value: Any) -> celtypes.BoolType:
    return celtypes.BoolType(bool(value))


def _valid(parse: Any, value: Any) -> celtypes.BoolType:
    try:
        parse(value)
        return celtypes.BoolType(True)
    except ValueError:
        return celtypes.BoolType(False)


IMPLEMENTED: dict[str, Any] = {
    "charAt": lambda s, i: _s(str(s)[int(i)] if int(i) < len(str(s)) else ""),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: _s("".join(c.lower() if c.isascii() else c for c in str(s))),
    "upperAscii": lambda s: _s("".join(c.upper() if c.isascii() else c for c in str(s))),
    "replace": lambda s, old, new, n=None: _s(str(s).replace(str(old), str(new), -1 if n is None else int(n))),
    "split": _split,
    "substring": _substring,
    "trim": lambda s: _s(str(s).strip()),
    "join": _join,
    "reverse": lambda s: _s(str(s)[::-1]) if isinstance(s, str) else _list(reversed(s)),
    "isSorted": lambda xs: _bool(all(xs[i] <= xs[i + 1] for i in range(len(xs) - 1))),
    "sum": lambda xs: sum(xs[1:], xs[0]) if xs else celtypes.IntType(0),
    "min": lambda xs: min(xs),
    "max": lambda xs: max(xs),
    "find": lambda s, rx: _s((re.search(str(rx), str(s)) or [""])[0]),
    "findAll": lambda s, rx, n=None: _list(_s(m) for m in re.findall(str(rx), str(s))[:None if n is None or int(n) < 0
                                                                                          else int(n)]),
    "url": _url,
    "isURL": lambda s: _valid(_url, s),
    "getScheme": lambda u: _s(u.scheme),
    "getHost": lambda u: _s(u.netloc.rsplit("@", 1)[-1]),
    "getHostname": lambda u: _s(u.hostname or ""),
    "getPort": lambda u: _s(str(u.port) if u.port else ""),
    "getEscapedPath": lambda u: _s(u.path),
    "getQuery": lambda u: celtypes.MapType({_s(k): _list([_s(v)]) for k, v in
                                            (p.split("=", 1) if "=" in p else (p, "") for p in u.query.split("&") if p)}),
    "ip": _ip,
    "isIP": lambda s: _valid(_ip, s),
    "family": lambda a: celtypes.IntType(a.version),
    "isUnspecified": lambda a: _bool(a.is_unspecified),
    "isLoopback": lambda a: _bool(a.is_loopback),
    "isLinkLocalMulticast": lambda a: _bool(a.is_multicast and a.is_link_local),
    "isLinkLocalUnicast": lambda a: _bool(a.is_link_local and not a.is_multicast),
    "isGlobalUnicast": lambda a: _bool(a.is_global and not a.is_multicast),
    "cidr": _cidr,
    "isCIDR": lambda s: _valid(_cidr, s),
    "containsIP": lambda c, a: _bool((a if not isinstance(a, str) else _ip(a)) in c.network),
    "containsCIDR": lambda c, o: _bool((o if not isinstance(o, str) else _cidr(o)).network.subnet_of(c.network)),
    "prefixLength": lambda c: celtypes.IntType(c.network.prefixlen),
    "masked": lambda c: _cidr(str(c.network)),
    "quantity": _quantity,
    "isQuantity": lambda s: _bool(_parse_quantity(str(s)) is not None),
    "sign": lambda q: celtypes.IntType(_compare(q.value, 0)),
    "isInteger": lambda q: _bool(q.value == q.value.to_integral_value()),
    "asInteger": lambda q: celtypes.IntType(int(q.value)),
    "asApproximateFloat": lambda q: celtypes.DoubleType(float(q.value)),
    "add": lambda q, o: Quantity(q.value + (o.value if isinstance(o, Quantity) else Decimal(int(o)))),
    "sub": lambda q, o: Quantity(q.value - (o.value if isinstance(o, Quantity) else Decimal(int(o)))),
    "compareTo": lambda q, o: celtypes.IntType(_compare(q.value, o.value)),
    "isLessThan": lambda q, o: _bool(q.value < o.value),
    "isGreaterThan": lambda q, o: _bool(q.value > o.value),
}
"""Kubernetes CEL library functions implemented here (approximations of the Go library)."""


# --------------------------------------------------------------------------- compiling


class RuleError(Exception):
    """A rule cel-go's compiler would refuse: the text is the ``compilation failed: ...`` detail."""


GRAMMAR_CACHE: Path | None = None
"""Where the CEL grammar's parser tables are kept between runs (the sandbox's private state directory): building
them takes a quarter of a second, reading them back a hundredth (lark's ``cache``, LALR only). None: the path in
``$K8SNET_CEL_GRAMMAR_CACHE``, where set (the sandbox process sets it, so it need not import this module to
start: :mod:`.warmup`)."""


def grammar_cache() -> Path | None:
    """:data:`GRAMMAR_CACHE`, else ``$K8SNET_CEL_GRAMMAR_CACHE``, else None (no cache)."""
    if GRAMMAR_CACHE is not None:
        return GRAMMAR_CACHE
    env = os.environ.get(GRAMMAR_ENV)
    return Path(env) if env else None


def build_parser() -> None:
    """Build cel-python's parser now (or read it back from :func:`grammar_cache`), not at the first rule."""
    _environment()


_BUILDING = threading.Lock()
"""One build of the parser at a time: the sandbox process builds it in a worker thread while its loop may need it
(and lark writes its cache file in place)."""


@lru_cache(maxsize=1)
def _environment() -> celpy.Environment:
    cache = grammar_cache()
    with _BUILDING:
        if cache is not None and CELParser.CEL_PARSER is None:
            # celpy.celparser.CELParser.__init__'s parser (cel-python 0.5.0), with lark's cache of its tables
            CELParser.CEL_PARSER = Lark(
                (Path(celparser.__file__).parent / "cel.lark").read_text(), parser="lalr", start="expr", debug=True,
                g_regex_flags=re.M, lexer_callbacks={"IDENT": CELParser.ambiguous_literals}, propagate_positions=True,
                maybe_placeholders=False, priority="invert", tree_class=Tree, cache=str(cache))
        return celpy.Environment()


def escape(name: str) -> str | None:
    """k8s.io/apiserver/pkg/cel escaping: a property name as rules spell it, or None when it cannot be."""
    if name in RESERVED:
        return f"__{name}__"
    if not re.fullmatch(r"[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*", name):
        return None
    return (name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__")
            .replace("/", "__slash__"))


def _display(source: str, line: int, column: int, message: str) -> str:
    """cel-go Error.ToDisplayString: the message, the source line and a caret under the column (1-based)."""
    lines = source.split("\n")
    snippet = lines[line - 1].replace("\t", " ") if 0 < line <= len(lines) else ""
    return f"ERROR: <input>:{line}:{column}: {message}\n | {snippet}\n | {'.' * (column - 1)}^"


@lru_cache(maxsize=4096)
def _parse(source: str) -> Tree:
    """The rule's parse tree (shared: nothing changes a tree, and CRD versions repeat their rules)."""
    return _parse_uncached(source)


def _parse_uncached(source: str) -> Tree:
    try:
        return _environment().compile(source)
    except celpy.CELParseError as exc:
        line = getattr(exc, "line", None) or 1
        column = getattr(exc, "column", None) or 1
        problem = str(exc.args[0]).split("\n")[0] if exc.args else "syntax error"
        raise RuleError("compilation failed: " + _display(source, line, column, f"Syntax error: {problem}")) from None


@dataclass
class Compiled:
    """One rule, ready to run: its program, what it uses, and what makes it unenforceable here."""

    rule: dict[str, Any]
    program: Any = None
    message_program: Any = None
    uses_old_self: bool = False
    missing: tuple[str, ...] = ()  # Kubernetes library functions the engine lacks
    error: str = ""  # why the rule does not compile (a CRD stored before a stricter check)

    @property
    def text(self) -> str:
        return str(self.rule.get("rule", "")).strip()


@dataclass
class _Walk:
    """What a parse tree calls and references."""

    calls: list[tuple[str, Token]] = field(default_factory=list)
    idents: list[Token] = field(default_factory=list)
    macro_vars: set[str] = field(default_factory=set)
    fields: list[tuple[list[str], list[Token]]] = field(default_factory=list)  # self.a.b chains


def _dotted(node: Tree) -> tuple[list[str], list[Token]] | None:
    """``self.a.b`` as (["self", "a", "b"], their tokens), or None for any other member."""
    if node.data == "member_dot":
        inner = _dotted(node.children[0])
        if inner is None:
            return None
        names, tokens = inner
        tok = node.children[1]
        return names + [str(tok)], tokens + [tok]
    if node.data in ("member", "primary") and len(node.children) == 1 and isinstance(node.children[0], Tree):
        return _dotted(node.children[0])
    if node.data == "ident" and node.children:
        return [str(node.children[0])], [node.children[0]]
    return None


def _walk(tree: Tree) -> _Walk:
    out = _Walk()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg":
            name = node.children[1]
            target = _dotted(node.children[0])
            if target is not None and len(target[0]) == 1 and target[0][0] in ("sets", "optional", "math", "lists",
                                                                               "format", "strings"):
                out.calls.append((f"{target[0][0]}.{name}", name))
            else:
                out.calls.append((str(name), name))
            if str(name) in ("all", "exists", "exists_one", "map", "filter", "existsOne", "transformList",
                             "transformMap") and len(node.children) > 2 and node.children[2] is not None:
                for arg in node.children[2].children[:2]:
                    chain = _dotted(_first_member(arg)) if _first_member(arg) is not None else None
                    if chain and len(chain[0]) == 1:
                        out.macro_vars.add(chain[0][0])
        elif node.data == "ident_arg":
            out.calls.append((str(node.children[0]), node.children[0]))
        elif node.data == "dot_ident_arg":
            out.calls.append((str(node.children[0]), node.children[0]))
        elif node.data == "ident":
            out.idents.append(node.children[0])
        elif node.data == "member_dot":
            chain = _dotted(node)
            if chain is not None and chain[0][0] in ("self", "oldSelf"):
                out.fields.append((chain[0], chain[1]))
    return out


def _first_member(expr: Tree) -> Tree | None:
    """The member node an argument expression consists of (``x`` in ``all(x, ...)``)."""
    node = expr
    while isinstance(node, Tree) and len(node.children) == 1 and node.data != "member":
        node = node.children[0]
    return node if isinstance(node, Tree) and node.data == "member" else None


def _field_schema(schema: Schema | None, name: str) -> tuple[bool, Schema | None]:
    """(known, schema) of property ``name`` (escaped) of an object schema; unknowable where anything goes."""
    if schema is None or schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string"):
        return True, None
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) or extra is True:
        return True, extra if isinstance(extra, dict) else None
    for prop, sub in (schema.get("properties") or {}).items():
        if escape(prop) == name:
            return True, sub
    if schema.get("type") == "object" or schema.get("properties"):
        return False, None
    return True, None


def compile_rule(rule: dict[str, Any], schema: Schema, root: bool) -> Compiled:
    """Parse and check one rule against the schema node it sits on; RuleError when cel-go would refuse it."""
    source = str(rule.get("rule", ""))
    tree = _parse(source)
    walk = _walk(tree)
    missing: list[str] = []
    for name, tok in walk.calls:
        if name in MACROS or name in STANDARD_FUNCTIONS or name in IMPLEMENTED:
            continue
        if name in KUBERNETES_FUNCTIONS:
            if name not in missing:
                missing.append(name)
            continue
        # cel-go places a call at its opening parenthesis
        raise RuleError("compilation failed: " + _display(source, tok.line, tok.column + len(str(tok)),
                                                          f"undeclared reference to '{name}' (in container '')"))
    known = {"self", "oldSelf"} | walk.macro_vars | TYPE_NAMES | {"sets", "optional", "math", "lists", "format",
                                                                  "strings"}
    for tok in walk.idents:
        if str(tok) not in known:
            raise RuleError("compilation failed: " + _display(source, tok.line, tok.column,
                                                              f"undeclared reference to '{tok}' (in container '')"))
    view = _root_view(schema) if root else schema
    for names, tokens in walk.fields:
        node: Schema | None = view
        for name, tok in zip(names[1:], tokens[1:], strict=True):
            ok, node = _field_schema(node, name)
            if not ok:
                # cel-go places a selection at its dot
                raise RuleError("compilation failed: " + _display(source, tok.line, max(tok.column - 1, 1),
                                                                  f"undefined field '{name}'"))
            if node is None:
                break
    compiled = Compiled(rule, uses_old_self=any(str(t) == "oldSelf" for t in walk.idents), missing=tuple(missing))
    functions = dict(IMPLEMENTED)
    compiled.program = _environment().program(tree, functions=functions)
    if rule.get("messageExpression"):
        try:
            compiled.message_program = _environment().program(_parse(str(rule["messageExpression"])),
                                                              functions=functions)
        except RuleError as exc:
            raise RuleError("messageExpression " + str(exc)) from None
    return compiled


def _root_view(schema: Schema) -> Schema:
    """model.WithTypeAndObjectMeta: at a resource's root, rules see apiVersion, kind and metadata.name/generateName."""
    props = dict(schema.get("properties") or {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = {"type": "object", "properties": {"name": {"type": "string"},
                                                          "generateName": {"type": "string"}}}
    return {**schema, "properties": props}


# --------------------------------------------------------------------------- values


def to_cel(value: Any, schema: Schema | None) -> Any:
    """A decoded JSON value as the rule sees it: typed by the schema, object property names escaped."""
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        if schema is not None and schema.get("type") == "number":
            return celtypes.DoubleType(float(value))
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        fmt = (schema or {}).get("format")
        if fmt == "date-time":
            try:
                return celtypes.TimestampType(value)
            except (ValueError, TypeError):
                return celtypes.StringType(value)
        if fmt == "duration":
            try:
                return celtypes.DurationType(value)
            except (ValueError, TypeError):
                return celtypes.StringType(value)
        return celtypes.StringType(value)
    if isinstance(value, list):
        items = (schema or {}).get("items")
        return celtypes.ListType([to_cel(v, items if isinstance(items, dict) else None) for v in value])
    props = (schema or {}).get("properties") or {}
    extra = (schema or {}).get("additionalProperties")
    out = {}
    for k, v in value.items():
        if k in props:
            name = escape(k)
            if name is not None:
                out[celtypes.StringType(name)] = to_cel(v, props[k])
        else:
            out[celtypes.StringType(k)] = to_cel(v, extra if isinstance(extra, dict) else None)
    return celtypes.MapType(out)


def _root_value(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out = {k: v for k, v in obj.items() if k != "metadata"}
    out["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return out


# --------------------------------------------------------------------------- running


def _evaluate(program: Any, activation: dict[str, Any]) -> Any:
    result = program.evaluate(activation)
    if isinstance(result, celpy.CELEvalError):
        raise result
    return result


def _go_error(exc: Exception) -> str:
    """A celpy evaluation error in cel-go's words where they differ (``no such key: x``)."""
    text = str(exc.args[0]) if exc.args else str(exc)
    m = re.search(r"no such member in mapping: '([^']*)'", text)
    if m:
        return f"no such key: {m.group(1)}"
    if "divide by zero" in text:
        return "division by zero"
    if "no matching overload" in text:
        return "no such overload"
    return text


def _rule_text(rule: dict[str, Any]) -> str:
    """ruleErrorString: the message when there is one, else the rule."""
    message = str(rule.get("message") or "").strip()
    return message or str(rule.get("rule", "")).strip()


def _field_error(path: str, schema_type: str, detail: str, reason: str | None) -> Cause:
    """fieldErrorForReason: the error a failed rule reports (the bad value is the schema's type)."""
    value = gofmt.quote(schema_type)
    if reason == "FieldValueForbidden":
        return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)
    if reason == "FieldValueRequired":
        return Cause("FieldValueRequired", f"Required value: {detail}", path)
    if reason == "FieldValueDuplicate":
        return Cause("FieldValueDuplicate", f"Duplicate value: {value}", path)
    return Cause("FieldValueInvalid", f"Invalid value: {value}: {detail}", path)


def _normalized_field_path(path: str) -> str:
    """The rule's fieldPath as a path segment: ``.spec.x`` and ``.x['y']`` become ``spec.x`` and ``x[y]``."""
    text = path.strip()
    text = re.sub(r"\[\s*'([^']*)'\s*\]", r"[\1]", text)
    return text[1:] if text.startswith(".") else text


@dataclass
class Outcome:
    """What running the rules of one object gave: field errors, and warnings (rules not enforced here)."""

    causes: list[Cause] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class RuleSet:
    """Every compiled rule of one schema, by the schema node it sits on (compiled once per CRD version)."""

    def __init__(self, schema: Schema | None):
        self.schema = schema or {}
        self.compiled: dict[int, list[Compiled]] = {}
        self.errors: list[tuple[str, int, str]] = []  # (schema path, index, detail) of rules that do not compile
        self._compile(self.schema, True, "")

    def _compile(self, s: Any, root: bool, path: str) -> None:
        if not isinstance(s, dict):
            return
        rules = s.get("x-kubernetes-validations") or []
        if rules:
            out = []
            for i, rule in enumerate(rules):
                try:
                    out.append(compile_rule(rule, s, root))
                except RuleError as exc:
                    self.errors.append((path, i, str(exc)))
                    out.append(Compiled(rule, error=str(exc)))
            self.compiled[id(s)] = out
        for name, prop in (s.get("properties") or {}).items():
            self._compile(prop, False, f"{path}.properties[{name}]")
        if isinstance(s.get("items"), dict):
            self._compile(s["items"], False, f"{path}.items")
        if isinstance(s.get("additionalProperties"), dict):
            self._compile(s["additionalProperties"], False, f"{path}.additionalProperties")

    def missing(self) -> list[tuple[str, str]]:
        """(rule, function) for every rule that calls a library function this engine lacks."""
        out = []
        for rules in self.compiled.values():
            for c in rules:
                out += [(c.text, name) for name in c.missing]
        return out

    def validate(self, obj: Any, old: Any) -> Outcome:
        """Run every rule on ``obj`` (``old`` for transition rules on updates, else None)."""
        outcome = Outcome()
        self._validate(obj, old, self.schema, "", True, outcome)
        return outcome

    def _validate(self, value: Any, old: Any, s: Any, path: str, root: bool, outcome: Outcome) -> None:
        if not isinstance(s, dict) or value is None:
            return
        for c in self.compiled.get(id(s), []):
            self._run(c, value, old, s, path, root, outcome)
        if isinstance(value, dict):
            props = s.get("properties") or {}
            extra = s.get("additionalProperties")
            old_map = old if isinstance(old, dict) else {}
            for k, v in value.items():
                if k in props:
                    self._validate(v, old_map.get(k), props[k], f"{path}.{k}" if path else k, False, outcome)
                elif isinstance(extra, dict):
                    self._validate(v, old_map.get(k), extra, f"{path}[{k}]", False, outcome)
        elif isinstance(value, list) and isinstance(s.get("items"), dict):
            keys = s.get("x-kubernetes-list-map-keys") if s.get("x-kubernetes-list-type") == "map" else None
            for i, item in enumerate(value):
                self._validate(item, _correlate(item, old, keys), s["items"], f"{path}[{i}]", False, outcome)

    def _run(self, c: Compiled, value: Any, old: Any, s: Schema, path: str, root: bool, outcome: Outcome) -> None:
        where = path or "<nil>"
        if c.error:  # validation.go: "rule compile error: ..." on every object, as upstream reports it
            outcome.causes.append(Cause("FieldValueInvalid", f"Invalid value: {gofmt.quote(s.get('type') or '')}: "
                                                             f"rule compile error: {c.error}", where))
            return
        if c.missing:
            outcome.warnings.append(f"{where}: x-kubernetes-validations rule {gofmt.quote(c.text)} was not checked: "
                                    f"the k8snet sandbox's CEL engine lacks {', '.join(c.missing)}")
            return
        if c.uses_old_self and old is None and not c.rule.get("optionalOldSelf"):
            return  # a transition rule runs only when there is a correlated old value
        view = _root_view(s) if root else s
        activation = {"self": to_cel(_root_value(value) if root else value, view)}
        if old is not None:
            activation["oldSelf"] = to_cel(_root_value(old) if root else old, view)
        schema_type = s.get("type") or ""
        try:
            result = _evaluate(c.program, activation)
        except Exception as exc:  # noqa: BLE001 -- any evaluation failure is the rule's error, never a 500
            outcome.causes.append(Cause("FieldValueInvalid", f"Invalid value: {gofmt.quote(schema_type)}: "
                                                             f"{_go_error(exc)} evaluating rule: {_rule_text(c.rule)}",
                                        where))
            return
        if result is True or (isinstance(result, celtypes.BoolType) and bool(result)):
            return
        target = path
        if c.rule.get("fieldPath"):
            target = f"{path}.{_normalized_field_path(str(c.rule['fieldPath']))}" if path else \
                _normalized_field_path(str(c.rule["fieldPath"]))
        target = target or "<nil>"
        detail = str(c.rule.get("message") or "").strip() or f"failed rule: {_rule_text(c.rule)}"
        if c.message_program is not None:
            try:
                message = _evaluate(c.message_program, activation)
                if isinstance(message, str) and message.strip() and "\n" not in message.strip():
                    detail = str(message).strip()
            except Exception:  # noqa: BLE001 -- upstream falls back to the message (and logs)
                pass
        outcome.causes.append(_field_error(target, schema_type, detail, c.rule.get("reason")))


def _correlate(item: Any, old: Any, keys: list[str] | None) -> Any:
    """The old list item with the same map keys (list-type map), else None: other lists do not correlate."""
    if not keys or not isinstance(item, dict) or not isinstance(old, list):
        return None
    want = [item.get(k) for k in keys]
    for candidate in old:
        if isinstance(candidate, dict) and [candidate.get(k) for k in keys] == want:
            return candidate
    return None


def uses_old_self(rule: dict[str, Any]) -> bool:
    """Whether a rule is a transition rule (refers to ``oldSelf``); False when it does not parse."""
    try:
        tree = _parse(str(rule.get("rule", "")))
    except RuleError:
        return False
    return any(str(t) == "oldSelf" for t in _walk(tree).idents)
