"""nginx as the sandbox runs it: the configuration read from the container's files, and requests answered from it.

Sources (nginx 1.29, src/core/ngx_conf_file.c, src/http/ngx_http_core_module.c and the module docs at
nginx.org/en/docs/http/):

- the files: ``-g``'s text, then ``/etc/nginx/nginx.conf`` and what it includes (globs sorted, as ``glob()``
  returns them), read with nginx's tokenizer (``#`` comments, quotes and backslash escapes, ``;``/``{``/``}``)
  and checked as ngx_conf_handler checks each directive in turn against the directives the image's binary
  knows (:mod:`.nginx_directives`, generated from nginx's source for the release the image tag names): a
  syntax error, an unknown directive, one in a block that does not take it, a wrong number of arguments, a
  flag other than on/off, a missing include or certificate stops nginx at start with its ``[emerg]`` message,
  so the container exits 1 as it does on kind;
- which server answers: the ``listen`` port, then the ``Host`` header against ``server_name`` (exact,
  ``*.`` and ``.*`` wildcards), else the port's ``default_server``, else its first server; with ``ssl``
  the server whose ``server_name`` matches the SNI presents its ``ssl_certificate``;
- which location: ``=`` exact, the longest prefix (kept if ``^~``), else the first matching regex
  (``~``, ``~*``), else the longest prefix;
- client certificates (src/http/modules/ngx_http_ssl_module.c, src/http/ngx_http_request.c
  ``ngx_http_process_request``): with ``ssl_verify_client on|optional|optional_no_ca`` nginx asks for one, lets
  the handshake complete whatever comes, and judges it per request against ``ssl_client_certificate`` /
  ``ssl_trusted_certificate`` (``ssl_verify_depth`` intermediates, validity on the sandbox clock): a failed
  verification is 400 "The SSL certificate error" (495), a missing certificate with ``on`` 400 "No required SSL
  certificate was sent" (496), both logged at ``info``; ``$ssl_client_verify``, ``$ssl_client_s_dn``,
  ``$ssl_client_i_dn``, ``$ssl_client_serial``, ``$ssl_client_fingerprint``, ``$ssl_protocol`` and
  ``$ssl_cipher`` in ``return``, ``add_header`` and ``log_format``; a missing or empty CA file stops nginx;
- what it does: ``return``, ``proxy_pass`` (to a name resolved at start, or an ``upstream`` block's servers
  in turn), or static files from ``root``/``alias`` with ``try_files`` and ``index`` (a directory without its
  slash is redirected with 301); ``add_header`` on the statuses nginx adds it to; ``error_page``;
- its logs: one access-log line per ``access_log`` in its ``log_format`` (the image's ``main``, ``combined``
  when none is named, ``off``), and error-log lines at or above the ``error_log`` level of the server (else
  http's, else the main context's ``notice``), all on the container's output as the image links its log files
  to /dev/stdout and /dev/stderr.

Directives that do not change an answer here (``sendfile``, ``gzip``, ``worker_*``, timeouts, TLS protocol
tuning…) are accepted. Any other directive nginx knows is reported as not emulated (a Warning event names it)
and has no effect, so nothing is silently assumed; one nginx does not know stops it, as it stops nginx.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .files import FileSystem
from .model import http_date

NGINX_LATEST = "1.29.1"
NGINX_MINORS = {"1.25": "1.25.5", "1.26": "1.26.3", "1.27": "1.27.5", "1.28": "1.28.0", "1.29": NGINX_LATEST}
"""The patch release a two-part nginx tag (``nginx:1.27``) pulled last."""


def image_tag(image: str) -> str:
    """An image reference's tag (``latest`` when it names none)."""
    last = image.split("@")[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def nginx_version(tag: str) -> str:
    """The nginx release an ``nginx:<tag>`` image runs (``latest``, ``mainline``… → the newest)."""
    m = re.match(r"(\d+\.\d+)(\.\d+)?", tag)
    if not m:
        return NGINX_LATEST
    return m.group(0) if m.group(2) else NGINX_MINORS.get(m.group(1), m.group(1) + ".0")

MAIN_CONF = "/etc/nginx/nginx.conf"
PREFIX = "/etc/nginx"

NGINX_CONF = b"""
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
"""[1:]
"""The image's /etc/nginx/nginx.conf (nginxinc/docker-nginx: the nginx.org Debian package's file)."""

DEFAULT_CONF = b"""server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    #access_log  /var/log/nginx/host.access.log  main;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    #error_page  404              /404.html;

    # redirect server error pages to the static page /50x.html
    #
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""
"""/etc/nginx/conf.d/default.conf after the entrypoint's 10-listen-on-ipv6-by-default.sh (comments trimmed)."""

NGINXHTTPS_CONF = b"""server {
        listen 80 default_server;
        listen [::]:80 default_server ipv6only=on;

        listen 443 ssl;

        root /usr/share/nginx/html;
        index index.html;

        server_name localhost;
        ssl_certificate /etc/nginx/ssl/tls.crt;
        ssl_certificate_key /etc/nginx/ssl/tls.key;

        location / {
                try_files $uri $uri/ =404;
        }
}
"""
"""kubernetes/examples staging/https-nginx/default.conf, which the bprashanth/nginxhttps image carries."""

MIME_TYPES = {".html": "text/html", ".htm": "text/html", ".css": "text/css", ".js": "application/javascript",
              ".json": "application/json", ".txt": "text/plain", ".xml": "text/xml", ".png": "image/png",
              ".jpg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml", ".ico": "image/x-icon"}
"""The common entries of /etc/nginx/mime.types."""

EMULATED = frozenset({
    "events", "http", "include", "server", "upstream", "listen", "server_name", "location", "root", "alias",
    "index", "try_files", "return", "add_header", "error_page", "proxy_pass", "server_tokens", "ssl_certificate",
    "ssl_certificate_key", "ssl_client_certificate", "ssl_trusted_certificate", "ssl_verify_client",
    "ssl_verify_depth", "error_log", "access_log", "log_format", "default_type", "types",
})
"""The directives whose effect the sandbox plays (in the http, server, location and upstream blocks)."""
INERT = frozenset({
    # they tune performance, logging or protocol details the sandbox's answers do not depend on
    "user", "worker_processes", "pid", "worker_connections", "multi_accept", "use",
    "worker_rlimit_nofile", "daemon", "master_process", "sendfile", "tcp_nopush",
    "tcp_nodelay", "keepalive_timeout", "keepalive_requests", "gzip", "gzip_types", "gzip_vary", "gzip_proxied",
    "gzip_comp_level", "gzip_min_length", "gzip_disable", "gzip_http_version", "gzip_buffers",
    "client_max_body_size", "client_body_timeout", "client_header_timeout", "send_timeout", "charset",
    "types_hash_max_size", "server_names_hash_bucket_size", "ssl_protocols", "ssl_ciphers",
    "ssl_prefer_server_ciphers", "ssl_session_cache", "ssl_session_timeout", "ssl_session_tickets",
    "ssl_dhparam", "ssl_ecdh_curve", "proxy_http_version", "proxy_set_header", "proxy_connect_timeout",
    "proxy_read_timeout", "proxy_send_timeout", "proxy_buffering", "proxy_buffers", "proxy_buffer_size",
    "resolver_timeout", "open_file_cache", "autoindex_localtime", "http2", "expires", "etag",
    "port_in_redirect", "absolute_redirect", "server_name_in_redirect", "keepalive",
})
"""Directives nginx knows that change nothing the sandbox shows: accepted without a word. Any other directive
nginx knows is reported as not emulated (a Warning event names it) and has no effect; one nginx does not know
stops it, as it stops nginx (:data:`.nginx_directives.DIRECTIVES`, read from nginx's source)."""
VERIFY_CLIENT = ("off", "on", "optional", "optional_no_ca")
"""ngx_http_ssl_module.c ngx_http_ssl_verify: the values of ``ssl_verify_client``, in the order of their numbers."""
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")
"""src/core/ngx_log.c err_levels: ``error_log``'s levels, most severe first (the default is ``error``)."""
COMBINED = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
            '"$http_user_agent"')
"""ngx_http_log_module.c: the predefined ``combined`` format, the one ``access_log`` uses when it names none."""


class ConfigError(Exception):
    """What stops nginx at start or at ``nginx -t``: the text after ``[emerg]``."""


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    block: list[Directive] | None = None
    error: str = ""  # a syntax error or an include that fails here: nginx stops when it reads this far

    @property
    def where(self) -> str:
        return _where(self.file, self.line)


# -- reading the files ------------------------------------------------------------------------------------


def parse(text: str, path: str) -> list[Directive]:
    """ngx_conf_read_token and ngx_conf_parse: the directives of one file (blocks nested). nginx acts on each
    directive as its ``;`` or ``{`` is read, so a syntax error stops it only once what comes before it was
    taken: the error is kept in place (a directive with ``error`` set) for :func:`_check` to meet in order.
    A directive's line is the one of its ``;`` or ``{``, the line nginx names in what it reports about it.
    ``path`` "command line" reads ``-g``'s text (ngx_conf_param), where a block is refused."""
    stack: list[list[Directive]] = [[]]
    opened: list[Directive] = []
    words: list[str] = []
    line, i, n = 1, 0, len(text)
    param, unterminated = path == "command line", False

    def fail(message: str) -> list[Directive]:
        stack[-1].append(Directive("", [], path, line, error=f"{message} in {_where(path, line)}"))
        return stack[0]

    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        if ch in " \t\r\n":
            i += 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch in ";{}":
            if ch == "}":
                if words or not opened:  # ngx_conf_parse: a "}" outside a block of this file
                    return fail('unexpected "}"')
                opened.pop()
                stack.pop()
            else:
                if not words:
                    return fail(f'unexpected "{ch}"')
                if ch == "{" and param:
                    return fail("block directives are not supported in -g option")
                d = Directive(words[0], words[1:], path, line, [] if ch == "{" else None)
                stack[-1].append(d)
                if d.block is not None:
                    opened.append(d)
                    stack.append(d.block)
                words = []
            i += 1
            continue
        if ch in "\"'":
            quote, i, buf = ch, i + 1, []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    buf.append(_unescape(text[i + 1]))
                    i += 2
                    continue
                if text[i] == "\n":
                    line += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                unterminated = True
                break
            i += 1
            if i < n and text[i] not in " \t\r\n;{)":
                return fail(f'unexpected "{text[i]}"')
            words.append("".join(buf))
            continue
        buf = []
        while i < n and text[i] not in " \t\r\n;{" or (i < n and text[i] == "{" and buf and buf[-1] == "$"):
            if text[i] == "\\" and i + 1 < n:  # a word ends at a space, ";" or "{" ("${" stays: a variable)
                buf.append(_unescape(text[i + 1]))
                i += 2
                continue
            buf.append(text[i])
            i += 1
        words.append("".join(buf))
    if words or unterminated:
        return fail("unexpected end of parameter, expecting \";\"" if param else
                    'unexpected end of file, expecting ";" or "}"')
    if opened:
        return fail('unexpected end of file, expecting "}"')
    return stack[0]


def _where(path: str, line: int) -> str:
    """ngx_conf_log_error's place: ``file:line``, or "command line" for ``-g``'s text."""
    return "command line" if path == "command line" else f"{path}:{line}"


def _unescape(ch: str) -> str:
    """ngx_conf_read_token's copy: ``\\"`` ``\\'`` ``\\\\`` lose the backslash, ``\\t`` ``\\r`` ``\\n`` become
    control characters, any other pair (``\\d`` in a regex) stays as written."""
    return {"t": "\t", "r": "\r", "n": "\n"}.get(ch, ch if ch in "\"'\\" else "\\" + ch)


def _expand_includes(fs: FileSystem, directives: list[Directive], depth: int = 0) -> list[Directive]:
    """ngx_conf_include: each file's directives in place of the ``include`` (a failure kept in place, as
    :func:`parse` keeps a syntax error)."""
    out: list[Directive] = []
    for d in directives:
        if d.name == "include" and d.block is None and len(d.args) == 1:
            pattern = d.args[0] if d.args[0].startswith("/") else posixpath.join(PREFIX, d.args[0])
            if depth > 16:
                out.append(replace(d, error=f"too many levels of includes in {d.where}"))
                continue
            if any(c in pattern for c in "*?["):
                folder, glob = posixpath.split(pattern)
                names = sorted(x for x in (fs.listdir(folder) if fs.is_dir(folder) else [])
                               if fnmatch.fnmatch(x, glob) and not fs.is_dir(posixpath.join(folder, x)))
                paths = [posixpath.join(folder, x) for x in names]
            else:
                if fs.read(pattern) is None:
                    out.append(replace(d, error=f'open() "{pattern}" failed (2: No such file or directory) in '
                                                f'{d.where}'))
                    continue
                paths = [pattern]
            for p in paths:
                if p.endswith("mime.types"):
                    continue  # the types block: the sandbox keeps its own table (MIME_TYPES)
                text = (fs.read(p) or b"").decode(errors="replace")
                out.extend(_expand_includes(fs, parse(text, p), depth + 1))
            continue
        if d.block is not None:
            d.block = _expand_includes(fs, d.block, depth)
        out.append(d)
    return out


# -- the configuration model ---------------------------------------------------------------------------


@dataclass
class Listen:
    port: int
    ssl: bool = False
    default: bool = False
    address: str = ""  # an IP literal the server listens on; "" for every address (``80``, ``*:80``, ``[::]:80``)


@dataclass
class Location:
    modifier: str  # "", "=", "^~", "~", "~*"
    uri: str
    directives: dict[str, list[Directive]]
    parent: Location | Server


@dataclass
class Server:
    listens: list[Listen]
    names: list[str]
    directives: dict[str, list[Directive]]
    locations: list[Location]
    http: dict[str, list[Directive]]
    where: str
    tls: Any = None  # the ssl.SSLContext of its certificate, when it listens with ssl
    verify_client: str = "off"  # ssl_verify_client, as merged from the server and http levels


@dataclass
class Config:
    servers: list[Server] = field(default_factory=list)
    upstreams: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # proxy host names -> the address found at start
    not_emulated: list[str] = field(default_factory=list)  # "name (file:line)"
    turn: dict[str, int] = field(default_factory=dict)  # round robin over each upstream's servers
    main: dict[str, list[Directive]] = field(default_factory=dict)  # the main context's directives (error_log)
    log_formats: dict[str, str] = field(default_factory=lambda: {"combined": COMBINED})

    def ports(self) -> dict[tuple[int, str], str]:
        """(port, "TCP") -> "https" when any server listens there with ssl, else "http"."""
        out: dict[tuple[int, str], str] = {}
        for s in self.servers:
            for ls in s.listens:
                if ls.ssl or (ls.port, "TCP") not in out:
                    out[(ls.port, "TCP")] = "https" if ls.ssl else "http"
        return out


def load(fs: FileSystem, resolve: Callable[[str], str | None], version: str = "", params: str = "") -> Config:
    """Read nginx.conf and its includes as nginx ``version`` does at start (the newest release the table
    holds when empty); raises ConfigError with nginx's message. ``params`` is ``-g``'s text, read first in
    the main context (src/core/nginx.c: ngx_conf_param before the file), so ``daemon off;`` on the command
    line and in the file is a duplicate. ``resolve`` turns a proxy host name into an address (None: not
    found), as nginx does once at start."""
    tree = parse(params, "command line") if params else []
    text = fs.read(MAIN_CONF)
    if text is None:
        tree.append(Directive("", [], MAIN_CONF, 0, error=f'open() "{MAIN_CONF}" failed (2: No such file or '
                                                          'directory)'))
    else:
        tree += _expand_includes(fs, parse(text.decode(errors="replace"), MAIN_CONF))
    config = Config()
    _check(tree, "main", config, known(version), resolve)
    config.main = _index(tree)
    for d in tree:
        if d.name == "http" and d.block is not None:
            _load_http(fs, d.block, config, resolve)
    if not any(d.name == "events" for d in tree):  # src/event/ngx_event.c ngx_event_init_conf, once all is read
        raise ConfigError('no "events" section in configuration')
    return config


@dataclass(frozen=True)
class Known:
    """One of a directive's entries in nginx's modules (:mod:`.nginx_directives`)."""

    contexts: frozenset[str]
    block: bool
    args: str  # the counts NGX_CONF_TAKEn allows ("0".."7"), "1+", "2+", "any" or "flag"
    on_off: bool  # read by ngx_conf_set_flag_slot
    once: bool  # its handler refuses a second one in the same block ("is duplicate")


@functools.cache
def known(version: str = "") -> dict[str, tuple[Known, ...]]:
    """The directives nginx ``version`` knows, each with its entries in module order (a release older than
    the oldest the table reads is taken as that one; empty: the newest)."""
    from .nginx_directives import DIRECTIVES, OLDEST_RELEASE

    def number(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split(".")) if re.fullmatch(r"\d+(\.\d+)*", text) else (1 << 30,)

    at = max(number(version or "x"), number(OLDEST_RELEASE))
    out: dict[str, tuple[Known, ...]] = {}
    for name, entries in DIRECTIVES.items():
        kept = []
        for contexts, args, *releases in entries:
            since, _, until = (releases[0] if releases else "-").partition("-")
            if (since and at < number(since)) or (until and at >= number(until)):
                continue
            rest = args.removeprefix("block ").split()
            kept.append(Known(frozenset(contexts.split()), args.startswith("block "), rest[0], "on|off" in rest,
                              "once" in rest))
        if kept:
            out[name] = tuple(kept)
    return out


def _check(block: list[Directive], context: str, config: Config, table: dict[str, tuple[Known, ...]],
           resolve: Callable[[str], str | None], quiet: bool = False) -> None:
    """ngx_conf_handler, directive by directive in the order nginx reads them: the name among the modules'
    directives (``unknown directive``), the first entry whose context matches (``is not allowed here``), its
    block or ``;``, its argument count, then what its handler checks as it reads it; the body of a block in the
    context the block opens. Directives nginx knows and the sandbox does not play are listed as not emulated
    (not those inside a block that is itself not emulated: naming the block says it)."""
    from .nginx_directives import BODIES

    seen: set[str] = set()  # the directives set in this block whose handler takes one only
    for d in block:
        if d.error:
            raise ConfigError(d.error)
        entries = table.get(d.name)
        if entries is None:
            raise ConfigError(f'unknown directive "{d.name}" in {d.where}')
        entry = next((e for e in entries if context in e.contexts), None)
        if entry is None:
            raise ConfigError(f'"{d.name}" directive is not allowed here in {d.where}')
        if not entry.block and d.block is not None:
            raise ConfigError(f'directive "{d.name}" is not terminated by ";" in {d.where}')
        if entry.block and d.block is None:
            raise ConfigError(f'directive "{d.name}" has no opening "{{" in {d.where}')
        n = len(d.args)
        if not (entry.args == "any" or (entry.args == "flag" and n == 1) or (entry.args == "1+" and n >= 1)
                or (entry.args == "2+" and n >= 2) or (entry.args[0].isdigit() and n <= 7 and str(n) in entry.args)):
            raise ConfigError(f'invalid number of arguments in "{d.name}" directive in {d.where}')
        if entry.once:  # ngx_conf_set_*_slot, the main blocks: what the handler says first
            if d.name in seen:
                raise ConfigError(f'"{d.name}" directive is duplicate in {d.where}')
            seen.add(d.name)
        if entry.on_off and d.args[0].lower() not in ("on", "off"):  # ngx_conf_set_flag_slot
            raise ConfigError(f'invalid value "{d.args[0]}" in "{d.name}" directive, it must be "on" or "off" in '
                              f"{d.where}")
        _set(d, context, config, resolve)
        emulated = d.name in EMULATED or d.name in INERT
        if not emulated and not quiet:
            config.not_emulated.append(f"{d.name} ({d.where})")
        if d.block is not None:
            inner = BODIES.get((context, d.name), "")
            if inner:
                _check(d.block, inner, config, table, resolve, quiet or not emulated)
            else:
                _read_by_handler(d.block)


def _read_by_handler(block: list[Directive]) -> None:
    """A block its directive's handler reads (``types``, ``map``…: cf->handler in ngx_conf_parse): lines, not
    directives, and no block among them."""
    for d in block:
        if d.error:
            raise ConfigError(d.error)
        if d.block is not None:
            raise ConfigError(f'unexpected "{{" in {d.where}')


def _set(d: Directive, context: str, config: Config, resolve: Callable[[str], str | None]) -> None:
    """What the handlers of the directives the sandbox plays check as nginx reads them, before it reads on
    (ngx_http_core_listen, ngx_http_core_location, ngx_http_upstream_server, ngx_http_proxy_pass, the slots)."""
    if d.name in ("ssl_verify_client", "ssl_verify_depth", "error_log"):
        _check_value(d)
    elif d.name == "listen" and context == "server":
        _listen(d)
    elif d.name == "location":
        modifier, uri = (d.args[0], d.args[1]) if len(d.args) == 2 else ("", d.args[0])
        if modifier not in ("", "=", "^~", "~", "~*"):
            raise ConfigError(f'invalid location modifier "{modifier}" in {d.where}')
        if modifier in ("~", "~*"):
            try:
                re.compile(uri)
            except re.error as exc:
                raise ConfigError(f'pcre2_compile() failed: {exc} in "{uri}" in {d.where}') from None
    elif d.name == "server" and context == "upstream" and d.args:
        host, _ = _host_port(d.args[0], 80)
        if not _is_ip(host) and resolve(host) is None:
            raise ConfigError(f'host not found in upstream "{d.args[0]}" in {d.where}')
    elif d.name == "proxy_pass" and context in ("location", "if-location", "limit_except"):
        if not re.match(r"https?://", d.args[0]):
            raise ConfigError(f"invalid URL prefix in {d.where}")


def _check_value(d: Directive) -> None:
    """The slot functions' own checks (ngx_conf_set_enum_slot, ngx_conf_set_num_slot, ngx_log_set_levels)."""
    if d.name == "ssl_verify_client" and d.args[0] not in VERIFY_CLIENT:
        raise ConfigError(f'invalid value "{d.args[0]}" in {d.where}')
    if d.name == "ssl_verify_depth" and not d.args[0].isdigit():
        raise ConfigError(f'"ssl_verify_depth" directive invalid number in {d.where}')
    if d.name == "error_log":
        for level in d.args[1:]:
            if level not in LOG_LEVELS and not level.startswith("debug_"):
                raise ConfigError(f'invalid log level "{level}" in {d.where}')


def _index(block: list[Directive]) -> dict[str, list[Directive]]:
    out: dict[str, list[Directive]] = {}
    for d in block:
        if d.name not in ("server", "location", "upstream"):
            out.setdefault(d.name, []).append(d)
    return out


def _load_http(fs: FileSystem, block: list[Directive], config: Config, resolve: Callable[[str], str | None]) -> None:
    http = _index(block)
    for d in http.get("log_format", []):
        args = d.args[2:] if d.args[1].startswith("escape=") else d.args[1:]
        config.log_formats[d.args[0]] = "".join(args)
    for d in block:
        if d.name == "upstream" and d.block is not None:
            servers = []
            for s in d.block:
                if s.name == "server" and s.args:  # its name was resolved as nginx read it (_set)
                    servers.append(_host_port(s.args[0], 80))
            config.upstreams[d.args[0]] = servers
    for d in block:
        if d.name == "server" and d.block is not None:
            config.servers.append(_load_server(fs, d, http, config, resolve))


def _load_server(fs: FileSystem, d: Directive, http: dict[str, list[Directive]], config: Config,
                 resolve: Callable[[str], str | None]) -> Server:
    assert d.block is not None
    own = _index(d.block)
    listens = [listen for ls in own.get("listen", []) if (listen := _listen(ls)) is not None]
    if not own.get("listen"):
        listens.append(Listen(80))  # listen *:80 is the default (*:8000 when nginx runs without root)
    names = [n.lower() for sn in own.get("server_name", []) for n in sn.args] or [""]
    server = Server(listens, names, own, [], http, d.where)
    for block in d.block:
        if block.name == "location" and block.block is not None:
            _load_location(block, server, server.locations, config, resolve)
    if any(ls.ssl for ls in listens):
        server.tls = _server_tls(fs, own, http, d.where)
        verify = (own.get("ssl_verify_client") or http.get("ssl_verify_client") or [None])[-1]
        server.verify_client = verify.args[0] if verify is not None else "off"
    return server


def _listen(d: Directive) -> Listen | None:
    """ngx_http_core_listen's address and flags (None for a unix: socket, which nothing reaches here): ``80``,
    ``*:80``, ``IP:80``, ``[IPv6]:80``, or an address alone (port 80, ngx_parse_inet_url's default)."""
    address = d.args[0]
    if address.startswith("unix:"):
        return None
    host, port_text = (address.rsplit(":", 1) if ":" in address and not address.endswith("]")
                       else (("", address) if address.isdigit() else (address, "80")))
    host = host.strip("[]")
    if not port_text.isdigit():
        raise ConfigError(f'invalid port in "{address}" of the "listen" directive in {d.where}')
    if host and host != "*" and not _is_ip(host) and not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ConfigError(f'host not found in "{address}" of the "listen" directive in {d.where}')
    port = int(port_text)
    if not 0 < port < 65536:
        raise ConfigError(f'invalid port in "{address}" of the "listen" directive in {d.where}')
    specific = host if _is_ip(host) and host not in ("0.0.0.0", "::") else ""  # a name: as every address
    return Listen(port, "ssl" in d.args[1:], "default_server" in d.args[1:] or "default" in d.args[1:], specific)


def _load_location(d: Directive, parent: Location | Server, into: list[Location], config: Config,
                   resolve: Callable[[str], str | None]) -> None:
    assert d.block is not None
    modifier, uri = (d.args[0], d.args[1]) if len(d.args) == 2 else ("", d.args[0])
    loc = Location(modifier, uri, _index(d.block), parent)
    for p in loc.directives.get("proxy_pass", []):
        target = p.args[0]  # its form was checked as nginx read it (_set); its name is resolved now, at init
        host, _ = _host_port(re.sub(r"^https?://", "", target).split("/", 1)[0], 80)
        if "$" not in host and host not in config.upstreams and not _is_ip(host):
            address = resolve(host)
            if address is None:
                raise ConfigError(f'host not found in upstream "{host}" in {p.where}')
            config.resolved[host] = address
    into.append(loc)
    for inner in d.block:
        if inner.name == "location" and inner.block is not None:
            _load_location(inner, loc, into, config, resolve)


def _server_tls(fs: FileSystem, own: dict[str, list[Directive]], http: dict[str, list[Directive]],
                where: str) -> Any:
    from .tls import TlsLoadError, server_context

    cert_d = (own.get("ssl_certificate") or http.get("ssl_certificate") or [None])[-1]
    key_d = (own.get("ssl_certificate_key") or http.get("ssl_certificate_key") or [None])[-1]
    if cert_d is None:
        raise ConfigError(f'no "ssl_certificate" is defined for the "listen ... ssl" directive in {where}')
    if key_d is None:
        raise ConfigError(f'no "ssl_certificate_key" is defined for certificate "{cert_d.args[0]}"')
    cert_path = _conf_path(cert_d.args[0])
    key_path = _conf_path(key_d.args[0])
    cert, key = fs.read(cert_path), fs.read(key_path)
    if cert is None:
        raise ConfigError(_no_file(cert_path))
    if key is None:
        raise ConfigError(f'cannot load certificate key "{key_path}": BIO_new_file() failed (SSL: '
                          f'error:80000002:system library::No such file or directory:calling fopen({key_path}, r) '
                          'error:10000080:BIO routines::no such file)')
    try:
        context = server_context(cert, key)
    except TlsLoadError as exc:
        if exc.what == "key":
            raise ConfigError(f'cannot load certificate key "{key_path}": PEM_read_bio_PrivateKey() failed '
                              f'(SSL: {exc.openssl})') from None
        if exc.what == "mismatch":
            raise ConfigError(f'SSL_CTX_use_PrivateKey("{key_path}") failed (SSL: {exc.openssl})') from None
        raise ConfigError(f'cannot load certificate "{cert_path}": PEM_read_bio_X509_AUX() failed '
                          f'(SSL: {exc.openssl}:Expecting: TRUSTED CERTIFICATE)') from None
    return _client_verification(fs, own, http, context, cert, key)


def _client_verification(fs: FileSystem, own: dict[str, list[Directive]], http: dict[str, list[Directive]],
                         context: Any, cert: bytes, key: bytes) -> Any:
    """ngx_http_ssl_merge_srv_conf: with ``ssl_verify_client`` other than off, the CAs of
    ``ssl_client_certificate`` and ``ssl_trusted_certificate`` are loaded (their files must exist and hold
    certificates) and the server asks for a client certificate it judges per request (:mod:`.tls`)."""
    from .tls import pem_certificates, server_context

    def last(name: str) -> Directive | None:
        return (own.get(name) or http.get(name) or [None])[-1]

    verify = last("ssl_verify_client")
    mode = verify.args[0] if verify is not None else "off"
    depth = last("ssl_verify_depth")
    client_ca, trusted = last("ssl_client_certificate"), last("ssl_trusted_certificate")
    if mode not in ("off", "optional_no_ca") and client_ca is None and trusted is None:
        raise ConfigError("no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client")
    pems = []
    for d in ([client_ca] if mode != "off" else []) + [trusted]:
        if d is None:
            continue
        path = _conf_path(d.args[0])
        data = fs.read(path)
        if data is None:
            raise ConfigError(_no_file(path))
        if not pem_certificates(data):  # ngx_ssl_cache_ca_create: PEM_read_bio_X509_AUX finds nothing
            raise ConfigError(f'cannot load certificate "{path}": PEM_read_bio_X509_AUX() failed (SSL: '
                              'error:0480006C:PEM routines::no start line:Expecting: TRUSTED CERTIFICATE)')
        pems.append(data)
    if mode == "off":
        return context
    return server_context(cert, key, request_client=(b"\n".join(pems), int(depth.args[0]) if depth else 1))


def _no_file(path: str) -> str:
    """ngx_ssl_cache_create_bio's failure as the [emerg] line shows it (BIO_new_file and OpenSSL's queue)."""
    return (f'cannot load certificate "{path}": BIO_new_file() failed (SSL: error:80000002:system library::No such '
            f'file or directory:calling fopen({path}, r) error:10000080:BIO routines::no such file)')


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def _conf_path(path: str) -> str:
    return path if path.startswith("/") else posixpath.join(PREFIX, path)


def _host_port(text: str, default: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text and not text.endswith("]") else (text, "", "")
    return (host.strip("[]") or text), (int(port) if port.isdigit() else default)


# -- choosing the server and the location -------------------------------------------------------------


def _name_matches(name: str, pattern: str) -> bool:
    if pattern.startswith("~"):
        return re.search(pattern[1:], name) is not None
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    if pattern.startswith("."):
        return name == pattern[1:] or name.endswith(pattern)
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _on(listen: Listen, port: int, address: str) -> bool:
    return listen.port == port and listen.address == address


def choose_server(config: Config, port: int, host: str, address: str = "") -> Server | None:
    """ngx_http_find_virtual_server: exact names, then leading and trailing wildcards, then regexes,
    else the default server of the address and port (the first one listed when none says default_server).

    The candidates are the servers of the address the connection came to (``address``): where some server
    listens on that IP and port, only those (ngx_http_init_connection finds the port's addr_conf by the local
    sockaddr; ngx_http_add_addresses keeps the servers per address), else those listening on every address.
    A host name in ``listen`` (which nginx resolves at start) counts as every address here."""
    specific = [s for s in config.servers if address and any(_on(ls, port, address) for ls in s.listens)]
    where = address if specific else ""
    on_port = specific or [s for s in config.servers if any(_on(ls, port, "") for ls in s.listens)]
    if not on_port:
        return None
    name = host.rsplit(":", 1)[0].strip("[]").rstrip(".").lower() if host else ""
    for test in (lambda p: not p.startswith(("~", "*", ".")) and not p.endswith(".*") and p == name,
                 lambda p: p.startswith(("*.", ".")) and _name_matches(name, p),
                 lambda p: p.endswith(".*") and _name_matches(name, p),
                 lambda p: p.startswith("~") and _name_matches(name, p)):
        for s in on_port:
            if name and any(test(p) for p in s.names):
                return s
    defaults = [s for s in on_port if any(_on(ls, port, where) and ls.default for ls in s.listens)]
    return (defaults or on_port)[0]


def choose_location(server: Server, uri: str) -> Location | None:
    """ngx_http_core_find_location: exact, longest prefix (final with ^~), regexes in order, longest prefix."""
    prefixes = [loc for loc in server.locations if loc.modifier in ("", "^~", "=")]
    for loc in prefixes:
        if loc.modifier == "=" and loc.uri == uri:
            return loc
    best = max((loc for loc in prefixes if loc.modifier != "=" and uri.startswith(loc.uri)),
               key=lambda loc: len(loc.uri), default=None)
    if best is not None and best.modifier == "^~":
        return best
    for loc in server.locations:
        if loc.modifier in ("~", "~*") and re.search(loc.uri, uri, re.IGNORECASE if loc.modifier == "~*" else 0):
            return loc
    return best


def setting(loc: Location | Server | None, server: Server, name: str) -> Directive | None:
    """A directive's value as nginx merges it: the location's, its parents', the server's, then http's."""
    node: Any = loc
    while isinstance(node, Location):
        if name in node.directives:
            return node.directives[name][-1]
        node = node.parent
    for scope in (server.directives, server.http):
        if name in scope:
            return scope[name][-1]
    return None


def settings(loc: Location | Server | None, server: Server, name: str) -> list[Directive]:
    """All of a list directive's entries at the innermost level that has any (add_header, error_page)."""
    node: Any = loc
    while isinstance(node, Location):
        if name in node.directives:
            return node.directives[name]
        node = node.parent
    for scope in (server.directives, server.http):
        if name in scope:
            return scope[name]
    return []


# -- answering a request ------------------------------------------------------------------------------------

ADD_HEADER_STATUSES = {200, 201, 204, 206, 301, 302, 303, 304, 307, 308}
"""ngx_http_headers_filter: add_header applies to these unless ``always`` is given."""
REDIRECTS = {301, 302, 303, 307, 308}


@dataclass
class Exchange:
    """One request as nginx sees it, and what the sandbox hands it to answer (files, logs, upstreams)."""

    fs: FileSystem
    version: str
    method: str
    uri: str  # the request line's target, with its query
    headers: dict[str, str]
    body: bytes
    client: str  # "ip:port"
    port: int
    scheme: str
    date: str  # the Date header
    mtime: Callable[[str], Any]  # a file's Last-Modified time
    error_log: Callable[..., None]  # (text, level="error"): a line for the error log at that level
    upstream: Callable[[str, int, str, dict[str, str], bytes], Any]  # (host, port, uri, headers, body)
    tls: Any = None  # the session the request came on (tls.Handshake): protocol, cipher, client certificate
    address: str = ""  # the local address the connection came to (which ``listen IP:port`` servers answer)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def error_page(code: int, reason: str, server: str, detail: str = "") -> bytes:
    """ngx_http_special_response.c: the built-in error pages."""
    title = f"{code} {reason}" if not detail else f"{code} {detail}"
    extra = f"<center>{detail}</center>\r\n" if detail else ""
    head = "400 Bad Request" if detail else title
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{head}</h1></center>\r\n"
            f"{extra}<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n").encode()


REASONS = {301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
           308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Not Allowed", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily "
           "Unavailable", 504: "Gateway Time-out"}


def answer(config: Config, ex: Exchange, tls: bool) -> Answer:
    """The response nginx sends to one request (status, headers, body), writing its error log."""
    server = choose_server(config, ex.port, ex.header("Host"), ex.address)
    if server is None:  # nothing listens there: the caller refuses the connection before this
        return Answer(400)
    ex = _leveled(config, server, ex)
    tokens = setting(None, server, "server_tokens")
    software = "nginx" if tokens is not None and tokens.args[0] == "off" else f"nginx/{ex.version}"
    https_port = any(ls.port == ex.port and ls.ssl for ls in server.listens)
    if https_port and not tls:
        ex.error_log("client sent plain HTTP request to HTTPS port while reading client request headers"
                     + _context(ex, server), "info")
        return _special(497, "The plain HTTP request was sent to HTTPS port", software, server, ex)
    if tls and server.verify_client != "off":
        refused = _verify_client(server, ex, software)
        if refused is not None:
            return refused
    path = ex.uri.split("?", 1)[0] or "/"
    result = _handle(config, server, ex, path, software, depth=0)
    return _finish(result[0], software, result[1], server, ex)


OPTIONAL_NO_CA = {18, 19, 20, 21, 27}
"""ngx_event_openssl.h ngx_ssl_verify_error_optional: the errors ``optional_no_ca`` lets through (self-signed,
unable to get the issuer, untrusted, unable to verify the leaf)."""


def _verify_client(server: Server, ex: Exchange, software: str) -> Answer | None:
    """ngx_http_process_request: the client certificate is judged once the headers are read. A failed
    verification is 495 and a missing certificate (``on`` only) 496, both sent as 400 with their own page and
    logged at ``info`` (so the image's ``error_log ... notice`` does not show them)."""
    code, text = ex.tls.client_verify if ex.tls is not None else (0, "ok")
    if code and (server.verify_client != "optional_no_ca" or code not in OPTIONAL_NO_CA):
        ex.error_log(f"client SSL certificate verify error: ({code}:{text}) while reading client request headers"
                     + _context(ex, server), "info")
        return _special(495, "The SSL certificate error", software, server, ex)
    if server.verify_client == "on" and (ex.tls is None or not ex.tls.client_cert):
        ex.error_log("client sent no required SSL certificate while reading client request headers"
                     + _context(ex, server), "info")
        return _special(496, "No required SSL certificate was sent", software, server, ex)
    return None


def _special(code: int, detail: str, software: str, server: Server, ex: Exchange) -> Answer:
    """ngx_http_special_response_handler for nginx's own 49x codes: an ``error_page`` for the code answers if
    one is set at the server, else the built-in page; the status sent is 400 and the connection closes."""
    for d in settings(None, server, "error_page"):
        if str(code) in d.args[:-1] and d.args[-1].startswith("/"):
            path = d.args[-1].split("?", 1)[0]
            file = _file_path(choose_location(server, path), server, path)
            if ex.fs.read(file) is not None:
                page = _static(ex, file)
                return _finish(Answer(400, {"Content-Type": page.headers["Content-Type"], "Connection": "close"},
                                      page.body), software, None, server, ex)
    body = error_page(400, "Bad Request", software, detail)
    return _finish(Answer(400, {"Content-Type": "text/html", "Connection": "close"}, body), software, None, server, ex)


def _context(ex: Exchange, server: Server) -> str:
    """ngx_http_log_error_handler's tail: client, server, request line and Host."""
    host = f', host: "{ex.header("Host")}"' if ex.header("Host") else ""
    return (f', client: {ex.client.rsplit(":", 1)[0]}, server: {server.names[0]}, '
            f'request: "{ex.method} {ex.uri} HTTP/1.1"{host}')


def _leveled(config: Config, server: Server, ex: Exchange) -> Exchange:
    """The exchange with an error log that keeps only what the server's ``error_log`` level lets through (the
    server's, else http's, else the main context's; ``error`` when none is set; ``/dev/null`` drops all)."""
    logs = server.directives.get("error_log") or server.http.get("error_log") or config.main.get("error_log") or []
    kept = [d for d in logs if d.args[0] != "/dev/null"]
    if logs and not kept:
        return replace(ex, error_log=lambda text, level="error": None)
    threshold = max((LOG_LEVELS.index(_level(d)) for d in kept), default=LOG_LEVELS.index("error"))
    write = ex.error_log

    def error_log(text: str, level: str = "error") -> None:
        if LOG_LEVELS.index(level) <= threshold:
            write(text, level)

    return replace(ex, error_log=error_log)


def _level(d: Directive) -> str:
    levels = [a for a in d.args[1:] if a in LOG_LEVELS]
    return levels[0] if levels else ("debug" if any(a.startswith("debug_") for a in d.args[1:]) else "error")


def access_lines(config: Config, ex: Exchange, a: Answer, now: Any) -> list[str]:
    """The access log lines of one request (ngx_http_log_module), one per ``access_log`` of the innermost level
    that has any (location, server, http): its format (``combined`` when it names none), the variables, ``-`` for
    a missing one, bytes outside printable ASCII, ``"`` and ``\\`` escaped as ``\\xHH``; none with ``off``.
    Every log goes to the container's output (the image links its files to /dev/stdout)."""
    server = choose_server(config, ex.port, ex.header("Host"), ex.address)
    if server is None:
        return []
    path = ex.uri.split("?", 1)[0] or "/"
    loc = choose_location(server, path)
    logs = settings(loc, server, "access_log")
    if any(d.args[0] == "off" for d in logs):  # "off cancels all access_log directives on the current level"
        return []
    values = _vars(ex, server)
    values.update({"status": str(a.status), "body_bytes_sent": str(len(a.body)),
                   "bytes_sent": str(len(a.body) + sum(len(k) + len(v) + 4 for k, v in a.headers.items()) + 19),
                   "time_local": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "time_iso8601": now.strftime(
                       "%Y-%m-%dT%H:%M:%S+00:00"), "msec": f"{now.timestamp():.3f}", "request_time": "0.000",
                   "request": f"{ex.method} {ex.uri} HTTP/1.1", "server_protocol": "HTTP/1.1"})

    def variable(m: re.Match[str]) -> str:
        value = values.get(m.group(1).lower())
        if value is None:
            return "-"
        return "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else
                       "".join(f"\\x{b:02X}" for b in c.encode()) for c in value)

    return [re.sub(r"\$\{?([A-Za-z0-9_]+)\}?", variable, config.log_formats.get(d.args[1] if len(d.args) > 1 else
                                                                               "combined", COMBINED)) for d in logs]


def _finish(a: Answer, software: str, loc: Location | None, server: Server, ex: Exchange) -> Answer:
    head = {"Server": software, "Date": ex.date}
    adds = {}
    for d in settings(loc, server, "add_header"):
        if a.status in ADD_HEADER_STATUSES or (len(d.args) == 3 and d.args[2] == "always"):
            adds[d.args[0]] = expand(d.args[1], _vars(ex, server))
    content_type = a.headers.pop("Content-Type", "text/html")
    ordered = {**head, "Content-Type": content_type, "Content-Length": str(len(a.body))}
    if "Last-Modified" in a.headers:
        ordered["Last-Modified"] = a.headers.pop("Last-Modified")
    ordered["Connection"] = "keep-alive"
    ordered.update(a.headers)
    ordered.update(adds)
    return Answer(a.status, ordered, b"" if ex.method == "HEAD" else a.body)


def _handle(config: Config, server: Server, ex: Exchange, path: str, software: str,
            depth: int) -> tuple[Answer, Location | None]:
    loc = choose_location(server, path)
    if depth > 10:
        return _error(500, software, server, loc, ex, depth), loc
    ret = setting(loc, server, "return") if loc is None or "return" in loc.directives or \
        "return" in server.directives else None
    if ret is not None:
        return _return(ret, server, ex, software), loc
    if loc is not None and "proxy_pass" in loc.directives:
        return _proxy(config, loc, server, ex, path, software), loc
    if ex.method not in ("GET", "HEAD", "POST"):  # ngx_http_static_handler; POST is refused once a file is found
        return _error(405, software, server, loc, ex, depth), loc
    try_files = setting(loc, server, "try_files")
    if try_files is not None:
        for candidate in try_files.args[:-1]:
            uri = expand(candidate, _vars(ex, server, path))
            target = _file_path(loc, server, uri)
            if uri.endswith("/") and ex.fs.is_dir(target):
                return _directory(config, server, ex, loc, uri, target, software, depth), loc
            if not uri.endswith("/") and ex.fs.read(target) is not None and not ex.fs.is_dir(target):
                return _file(ex, target, software, server, loc, depth), loc
        last = try_files.args[-1]
        if last.startswith("="):
            return _error(int(last[1:]) if last[1:].isdigit() else 404, software, server, loc, ex, depth), loc
        return _handle(config, server, ex, expand(last, _vars(ex, server, path)), software, depth + 1)
    target = _file_path(loc, server, path)
    if path.endswith("/"):
        return _directory(config, server, ex, loc, path, target, software, depth), loc
    if ex.fs.is_dir(target):
        host = ex.header("Host").rsplit(":", 1)[0] or (server.names[0] or "localhost")
        port = "" if ex.port == (443 if ex.scheme == "https" else 80) else f":{ex.port}"
        return _redirect(301, f"{ex.scheme}://{host}{port}{path}/", software), loc
    if ex.fs.read(target) is None:
        ex.error_log(f'open() "{target}" failed (2: No such file or directory), client: '
                     f'{ex.client.rsplit(":", 1)[0]}, server: {server.names[0]}, request: '
                     f'"{ex.method} {ex.uri} HTTP/1.1", host: "{ex.header("Host")}"')
        return _error(404, software, server, loc, ex, depth), loc
    return _file(ex, target, software, server, loc, depth), loc


def _directory(config: Config, server: Server, ex: Exchange, loc: Location | None, uri: str, target: str,
               software: str, depth: int) -> Answer:
    index = setting(loc, server, "index")
    for name in (index.args if index else ["index.html"]):
        candidate = posixpath.join(target, expand(name, _vars(ex, server, uri)))
        if ex.fs.read(candidate) is not None and not ex.fs.is_dir(candidate):
            return _handle(config, server, ex, uri + name, software, depth + 1)[0]
    if not ex.fs.is_dir(target):
        ex.error_log(f'"{target}{(index.args if index else ["index.html"])[0]}" is not found (2: No such file or '
                     f'directory), client: {ex.client.rsplit(":", 1)[0]}, server: {server.names[0]}, request: '
                     f'"{ex.method} {ex.uri} HTTP/1.1", host: "{ex.header("Host")}"')
        return _error(404, software, server, loc, ex, depth)
    ex.error_log(f'directory index of "{target.rstrip("/")}/" is forbidden, client: {ex.client.rsplit(":", 1)[0]}, '
                 f'server: {server.names[0]}, request: "{ex.method} {ex.uri} HTTP/1.1", host: "{ex.header("Host")}"')
    return _error(403, software, server, loc, ex, depth)


def _file_path(loc: Location | None, server: Server, uri: str) -> str:
    alias = loc.directives.get("alias") if loc is not None else None
    if alias and loc is not None:
        return posixpath.normpath(alias[-1].args[0] + uri[len(loc.uri):]) + ("/" if uri.endswith("/") else "")
    root = setting(loc, server, "root")
    base = _conf_path(root.args[0]) if root else posixpath.join(PREFIX, "html")
    return base.rstrip("/") + uri


def _file(ex: Exchange, target: str, software: str, server: Server, loc: Location | None, depth: int) -> Answer:
    if ex.method == "POST":
        return _error(405, software, server, loc, ex, depth)
    return _static(ex, target)


def _static(ex: Exchange, target: str) -> Answer:
    body = ex.fs.read(target) or b""
    mtime = ex.mtime(target)
    ext = posixpath.splitext(target)[1].lower()
    return Answer(200, {"Content-Type": MIME_TYPES.get(ext, "application/octet-stream"),
                        "Last-Modified": http_date(mtime),
                        "ETag": f'"{int(mtime.timestamp()):x}-{len(body):x}"', "Accept-Ranges": "bytes"}, body)


def _error(code: int, software: str, server: Server, loc: Location | None, ex: Exchange, depth: int) -> Answer:
    for d in settings(loc, server, "error_page"):
        codes, target = d.args[:-1], d.args[-1]
        if str(code) in codes and target.startswith("/") and depth < 5:
            path = target.split("?", 1)[0]
            page_loc = choose_location(server, path)
            file = _file_path(page_loc, server, path)
            if ex.fs.read(file) is not None:
                page = _static(ex, file)
                return Answer(code, {"Content-Type": page.headers["Content-Type"]}, page.body)
    return Answer(code, {"Content-Type": "text/html"}, error_page(code, REASONS.get(code, ""), software))


def _redirect(code: int, location: str, software: str) -> Answer:
    return Answer(code, {"Content-Type": "text/html", "Location": location},
                  error_page(code, REASONS.get(code, ""), software))


def _return(d: Directive, server: Server, ex: Exchange, software: str) -> Answer:
    """ngx_http_rewrite_module ``return code [text]``, ``return code URL``, ``return URL``."""
    values = _vars(ex, server)
    if not d.args[0].isdigit():
        return _redirect(302, expand(d.args[0], values), software)
    code = int(d.args[0])
    text = expand(d.args[1], values) if len(d.args) > 1 else None
    if code in REDIRECTS and text is not None:
        return _redirect(code, text, software)
    if text is not None:
        default = setting(None, server, "default_type")
        return Answer(code, {"Content-Type": default.args[0] if default else "text/plain"}, text.encode())
    if code >= 400 or code in REDIRECTS:
        return Answer(code, {"Content-Type": "text/html"}, error_page(code, REASONS.get(code, ""), software))
    return Answer(code, {"Content-Type": "text/plain"}, b"")


def _proxy(config: Config, loc: Location, server: Server, ex: Exchange, path: str, software: str) -> Answer:
    """ngx_http_proxy_module: the request goes on to the upstream with Host $proxy_host and Connection close."""
    target = loc.directives["proxy_pass"][-1].args[0]
    rest = re.sub(r"^https?://", "", target)
    hostport, slash, prefix = rest.partition("/")
    name, port = _host_port(hostport, 80)
    if name in config.upstreams and config.upstreams[name]:
        servers = config.upstreams[name]
        turn = config.turn.get(name, 0)
        config.turn[name] = turn + 1
        host, port = servers[turn % len(servers)]
    else:
        host = name
    uri = ex.uri
    if slash and loc.modifier in ("", "^~"):  # a URI part replaces the location's prefix
        uri = "/" + prefix + ex.uri[len(loc.uri):]
    headers = {k: v for k, v in ex.headers.items() if k.lower() not in ("host", "connection")}
    headers = {"Host": hostport, "Connection": "close", **headers}
    request = f'"{ex.method} {ex.uri} HTTP/1.1"'
    result = ex.upstream(host, port, uri, headers, ex.body)
    if isinstance(result, Answer):
        return result
    kind, address = result  # an error: ("refused" | "timeout", "ip:port")
    client = ex.client.rsplit(":", 1)[0]
    if kind == "timeout":
        ex.error_log(f"upstream timed out (110: Connection timed out) while connecting to upstream, client: "
                     f'{client}, server: {server.names[0]}, request: {request}, upstream: "http://{address}{uri}", '
                     f'host: "{ex.header("Host")}"')
        return Answer(504, {"Content-Type": "text/html"}, error_page(504, REASONS[504], software))
    ex.error_log(f"connect() failed (111: Connection refused) while connecting to upstream, client: {client}, "
                 f'server: {server.names[0]}, request: {request}, upstream: "http://{address}{uri}", '
                 f'host: "{ex.header("Host")}"')
    return Answer(502, {"Content-Type": "text/html"}, error_page(502, REASONS[502], software))


def _vars(ex: Exchange, server: Server, uri: str | None = None) -> dict[str, str]:
    path = uri if uri is not None else (ex.uri.split("?", 1)[0] or "/")
    host = ex.header("Host").rsplit(":", 1)[0] if ex.header("Host") else server.names[0]
    values = {"host": host.lower(), "request_uri": ex.uri, "uri": path, "document_uri": path,
              "scheme": ex.scheme, "server_name": server.names[0], "server_port": str(ex.port),
              "remote_addr": ex.client.rsplit(":", 1)[0], "remote_port": ex.client.rsplit(":", 1)[-1],
              "args": ex.uri.split("?", 1)[1] if "?" in ex.uri else "", "request_method": ex.method,
              "https": "on" if ex.scheme == "https" else "", "nginx_version": ex.version}
    values["query_string"] = values["args"]
    if ex.scheme == "https":
        values.update(_ssl_vars(ex.tls))
    for k, v in ex.headers.items():
        values["http_" + k.lower().replace("-", "_")] = v
    return values


def _ssl_vars(session: Any) -> dict[str, str]:
    """ngx_http_ssl_module's variables (src/event/ngx_event_openssl.c ngx_ssl_get_*): the protocol and cipher
    as OpenSSL names them, and the client certificate's: ``$ssl_client_verify`` NONE / SUCCESS / FAILED:reason,
    the subject and issuer in RFC 2253 form, the serial in upper-case hex, the SHA-1 fingerprint in lower case
    (empty without a certificate)."""
    if session is None:
        return {}
    values = {"ssl_protocol": session.version, "ssl_cipher": session.cipher, "ssl_client_verify": "NONE",
              "ssl_client_s_dn": "", "ssl_client_i_dn": "", "ssl_client_serial": "", "ssl_client_fingerprint": ""}
    if not session.client_cert:
        return values
    import hashlib

    from cryptography import x509

    cert = x509.load_der_x509_certificate(session.client_cert)
    code, text = session.client_verify
    serial = f"{cert.serial_number:X}"
    values.update({"ssl_client_verify": "SUCCESS" if code == 0 else f"FAILED:{text}",
                   "ssl_client_s_dn": cert.subject.rfc4514_string(), "ssl_client_i_dn": cert.issuer.rfc4514_string(),
                   "ssl_client_serial": ("0" if len(serial) % 2 else "") + serial,
                   "ssl_client_fingerprint": hashlib.sha1(session.client_cert).hexdigest()})  # noqa: S324
    return values


def expand(text: str, values: dict[str, str]) -> str:
    """nginx variables in a directive's value: ``$name`` and ``${name}`` (an unknown one is empty)."""
    return re.sub(r"\$\{?([A-Za-z0-9_]+)\}?", lambda m: values.get(m.group(1).lower(), ""), text)
