"""Router rules as Traefik v3.7's Kubernetes Ingress provider writes them, and its HTTP matchers.

Pure functions, cited to the Traefik sources they follow (github.com/traefik/traefik, tag v3.7.x):

- rules: pkg/provider/kubernetes/ingress/kubernetes.go ``loadRouter``/``buildRule``: ``Host("h")`` joined with
  ``&&`` to the path rule; ``Exact`` → ``Path``, ``Prefix`` → ``PathPrefix`` (with ``strictPrefixMatching``:
  ``(Path("/p") || PathPrefix("/p/"))``, i.e. element-wise as the Kubernetes spec says),
  ``ImplementationSpecific`` → the ``router.pathmatcher`` annotation (default ``PathPrefix``, which
  ``strictPrefixMatching`` makes element-wise too: measured against traefik 3.7.15, /api does not match /apix);
  a default backend is ``PathPrefix("/")`` with the lowest priority;
- priority: a router's priority is the length of its rule unless set (pkg/muxer/http/mux.go GetRulePriority);
  routes are tried from the highest priority down and the first match wins;
- ``Host``: case-insensitive, the port dropped, ``*.`` covering exactly one label
  (pkg/muxer/muxer.go DomainMatchHostExpression), a trailing dot ignored on either side;
- paths match the *routing path*: the escaped path with only non-reserved escapes decoded
  (pkg/muxer/http/mux.go withRoutingPath), after the entrypoint cleaned ``.``/``..``/``//`` segments
  (pkg/server/server_entrypoint_tcp.go sanitizePath, on by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVED_ESCAPES = frozenset({"%3A", "%2F", "%3F", "%23", "%5B", "%5D", "%40", "%21", "%24", "%26", "%27", "%28",
                              "%29", "%2A", "%2B", "%2C", "%3B", "%3D", "%25"})
"""RFC 3986 reserved characters (and %): kept encoded in the routing path (mux.go reservedCharacters)."""


def go_quote(text: str) -> str:
    """Go's ``%q`` for a string: double quotes, backslash escapes for quotes, backslashes and controls."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
                        "\v": r"\v"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


@dataclass(frozen=True)
class PathMatcher:
    """One of Traefik's path matchers: ``Path`` (equality), ``PathPrefix`` (string prefix), ``PathRegexp``."""

    kind: str
    value: str

    def text(self) -> str:
        return f"{self.kind}({go_quote(self.value)})"

    def matches(self, routing_path: str) -> bool:
        if self.kind == "Path":
            return routing_path == self.value
        if self.kind == "PathPrefix":
            return routing_path.startswith(self.value)
        return re.search(self.value, routing_path) is not None


@dataclass(frozen=True)
class Rule:
    """A router rule: an optional ``Host`` and the OR of its path matchers (none: every path)."""

    text: str
    host: str | None
    paths: tuple[PathMatcher, ...]

    @property
    def priority(self) -> int:
        """GetRulePriority: the rule's length in bytes."""
        return len(self.text.encode())

    def matches(self, host: str, routing_path: str) -> bool:
        if self.host is not None and not host_matches(host, self.host):
            return False
        return not self.paths or any(p.matches(routing_path) for p in self.paths)

    def domains(self) -> list[str]:
        """The ``Host`` values (ParseDomains), which choose TLS options by SNI."""
        return [self.host] if self.host else []


class RuleError(ValueError):
    """A rule Traefik refuses to build (its error text)."""


def path_rule(path: str, path_type: str | None, matcher: str, strict: bool) -> tuple[str, tuple[PathMatcher, ...]]:
    """The path part of a router rule (buildRule) and its matchers.

    ``matcher`` is the ``router.pathmatcher`` annotation for ImplementationSpecific paths.
    """
    if path_type in (None, "", "ImplementationSpecific"):
        if matcher not in ("Path", "PathPrefix", "PathRegexp"):
            raise RuleError(f"invalid router path matcher {go_quote(matcher)}: must be one of Path, PathPrefix, "
                            "PathRegexp")
        kind = matcher
    elif path_type == "Exact":
        kind = "Path"
    else:
        kind = "PathPrefix"
    if kind in ("Path", "PathPrefix") and not path.startswith("/"):
        raise RuleError(f"error while parsing rule: path {go_quote(path)} does not start with a '/'")
    if kind == "PathRegexp":
        try:
            re.compile(path)
        except re.error as exc:
            raise RuleError(f"compiling PathPrefix matcher: {exc}") from None
    if strict and kind == "PathPrefix":  # Prefix, and ImplementationSpecific's PathPrefix too (Traefik 3.7.15)
        if path == "/":
            return 'PathPrefix("/")', (PathMatcher("PathPrefix", "/"),)
        trimmed = path[:-1] if path.endswith("/") else path
        exact, prefix = PathMatcher("Path", trimmed), PathMatcher("PathPrefix", trimmed + "/")
        return f"({exact.text()} || {prefix.text()})", (exact, prefix)
    one = PathMatcher(kind, path)
    return one.text(), (one,)


def build_rule(host: str | None, path: str | None, path_type: str | None, matcher: str = "PathPrefix",
               strict: bool = True) -> Rule:
    """``Host("h") && <path rule>`` as loadRouter joins them (either part may be absent)."""
    parts: list[str] = []
    if host:
        if not host.isascii():
            raise RuleError(f"invalid value {go_quote(host)} for Host matcher, non-ASCII characters are not allowed")
        parts.append(f"Host({go_quote(host)})")
    paths: tuple[PathMatcher, ...] = ()
    if path:
        text, paths = path_rule(path, path_type, matcher, strict)
        parts.append(text)
    return Rule(" && ".join(parts), host.lower() if host else None, paths)


def default_backend_rule() -> Rule:
    """The default backend's router: ``PathPrefix("/")`` at priority MinInt32."""
    return Rule('PathPrefix("/")', None, (PathMatcher("PathPrefix", "/"),))


# -- request side ---------------------------------------------------------------------------------


def canonical_host(host_header: str) -> str:
    """requestdecorator: the Host header without its port, trimmed and lower-cased."""
    host = host_header.strip()
    if host.startswith("["):
        end = host.find("]")
        host = host[1:end] if end > 0 else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.strip().lower()


def domain_matches(domain: str, expr: str) -> bool:
    """DomainMatchHostExpression: ``*.`` replaces exactly the first label; otherwise case-insensitive equality."""
    if expr.startswith("*"):
        labels = domain.split(".")
        labels[0] = "*"
        return ".".join(labels).lower() == expr.lower()
    return domain.lower() == expr.lower()


def host_matches(request_host: str, expr: str) -> bool:
    """The ``Host`` matcher, with the trailing-dot allowances on either side."""
    if expr == "*":
        return True
    if not request_host:
        return False
    if domain_matches(request_host, expr):
        return True
    if expr.endswith(".") and domain_matches(request_host, expr[:-1]):
        return True
    return request_host.endswith(".") and domain_matches(request_host[:-1], expr)


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: one slash between elements, no ``.``, ``..`` eating the element before it."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or ("/" if rooted else ".")


def sanitize_path(escaped_path: str) -> str:
    """The entrypoint's sanitizePath (``URL.JoinPath()``): cleaned, keeping one trailing slash."""
    if not escaped_path:
        return "/"
    if escaped_path[0] == "/" and "//" not in escaped_path and "/." not in escaped_path:
        return escaped_path  # already clean: no empty, "." or ".." element (the common case)
    rooted = escaped_path.startswith("/")
    cleaned = go_clean(escaped_path if rooted else "/" + escaped_path)
    if not rooted:
        cleaned = cleaned[1:]
    if escaped_path.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def routing_path(escaped_path: str) -> str | None:
    """withRoutingPath: non-reserved escapes decoded, reserved ones kept; None for a broken escape (400)."""
    if "%" not in escaped_path and escaped_path.isascii():
        return escaped_path  # nothing escaped: the routing path is the path
    out = bytearray()
    i = 0
    while i < len(escaped_path):
        ch = escaped_path[i]
        if ch != "%":
            out += ch.encode()
            i += 1
            continue
        if i + 2 >= len(escaped_path):
            return None
        code = escaped_path[i:i + 3].upper()
        if not re.fullmatch(r"%[0-9A-F]{2}", code):
            return None
        out += escaped_path[i:i + 3].encode() if code in RESERVED_ESCAPES else bytes([int(code[1:], 16)])
        i += 3
    return out.decode("utf-8", "surrogateescape")

