"""Generate helpers/k8snet/sandbox/dataplane/nginx_directives.py: every directive the official ``nginx`` Docker
image's binary knows, with the contexts and argument counts nginx accepts it in, read from nginx's own source.

Usage (``NGINX_GIT`` a clone of https://github.com/nginx/nginx, bare or not)::

    PYTHONPATH=helpers python tools/nginx_directives.py NGINX_GIT > helpers/k8snet/sandbox/dataplane/nginx_directives.py

What the image's binary holds: the nginx.org Debian package (nginxinc/docker-nginx installs ``nginx`` from
nginx.org/packages), built by nginx/pkg-oss debian/Makefile with ``BASE_CONFIGURE_ARGS`` (``--with-compat
--with-file-aio --with-threads --with-http_addition_module`` … ``--with-stream_ssl_preread_module``, listed in
``CONFIGURE`` below) plus nginx's default modules. The image's other packages (njs, geoip, image-filter, xslt;
perl in the ``-perl`` variant) are dynamic modules: their directives exist only after ``load_module``, which
the table leaves out. ``MODULES`` is ``ngx_modules[]`` in the objs/ngx_modules.c that ``auto/configure
$CONFIGURE`` writes for nginx 1.29.1 on Debian bookworm (the image's base); earlier releases lack only modules
whose source they lack (ngx_openssl_cache_module before 1.27), so a module is taken where its source defines it.

For each module, its ``ngx_command_t`` array gives each directive's name, its context flags (src/core/
ngx_conf_file.h ``NGX_MAIN_CONF``, src/event/ngx_event.h ``NGX_EVENT_CONF``, src/http/ngx_http_config.h
``NGX_HTTP_*_CONF``, src/mail/ngx_mail.h, src/stream/ngx_stream.h), whether it opens a block
(``NGX_CONF_BLOCK``), its argument count (``NGX_CONF_NOARGS``, ``TAKE1``…``TAKE7``, ``FLAG``, ``1MORE``,
``2MORE``, ``ANY``), whether its handler is ``ngx_conf_set_flag_slot`` (``on``/``off``) and whether it refuses
to be set twice in one block (``is duplicate``). ``#if`` lines inside the arrays are decided by ``DEFINED``:
what that configure run defines. A check of the result: ``gcc -E`` of each module's source in trees configured
that way for 1.25.5, 1.26.3, 1.27.5, 1.28.0 and 1.29.1 yields the same names, contexts and arguments.

Every release from ``FIRST`` to the newest the sandbox pins (k8snet.sandbox.dataplane.workloads), and those of
the stable branch made before it, is read, so a directive added or removed in between carries the release it
appeared in or was gone by.
"""

from __future__ import annotations

import re
import subprocess
import sys

FIRST = (1, 25, 0)
"""The oldest release read: the oldest minor the sandbox pins is 1.25 (workloads.NGINX_MINORS)."""

CONFIGURE = ("--with-compat --with-file-aio --with-threads --with-http_addition_module --with-http_auth_request_module "
             "--with-http_dav_module --with-http_flv_module --with-http_gunzip_module --with-http_gzip_static_module "
             "--with-http_mp4_module --with-http_random_index_module --with-http_realip_module "
             "--with-http_secure_link_module --with-http_slice_module --with-http_ssl_module "
             "--with-http_stub_status_module --with-http_sub_module --with-http_v2_module --with-http_v3_module "
             "--with-mail --with-mail_ssl_module --with-stream --with-stream_realip_module --with-stream_ssl_module "
             "--with-stream_ssl_preread_module")
"""nginx/pkg-oss debian/Makefile (tag 1.29.1-1) BASE_CONFIGURE_ARGS without the paths, user and group."""

MODULES = """
ngx_core_module ngx_errlog_module ngx_conf_module ngx_openssl_module ngx_openssl_cache_module ngx_quic_module
ngx_quic_bpf_module ngx_regex_module ngx_events_module ngx_event_core_module ngx_epoll_module ngx_thread_pool_module
ngx_http_module ngx_http_core_module ngx_http_log_module ngx_http_upstream_module ngx_http_v2_module
ngx_http_v3_module ngx_http_static_module ngx_http_gzip_static_module ngx_http_dav_module ngx_http_autoindex_module
ngx_http_index_module ngx_http_random_index_module ngx_http_mirror_module ngx_http_try_files_module
ngx_http_auth_request_module ngx_http_auth_basic_module ngx_http_access_module ngx_http_limit_conn_module
ngx_http_limit_req_module ngx_http_realip_module ngx_http_geo_module ngx_http_map_module
ngx_http_split_clients_module ngx_http_referer_module ngx_http_rewrite_module ngx_http_ssl_module
ngx_http_proxy_module ngx_http_fastcgi_module ngx_http_uwsgi_module ngx_http_scgi_module ngx_http_grpc_module
ngx_http_memcached_module ngx_http_empty_gif_module ngx_http_browser_module ngx_http_secure_link_module
ngx_http_flv_module ngx_http_mp4_module ngx_http_upstream_hash_module ngx_http_upstream_ip_hash_module
ngx_http_upstream_least_conn_module ngx_http_upstream_random_module ngx_http_upstream_keepalive_module
ngx_http_upstream_zone_module ngx_http_stub_status_module ngx_http_write_filter_module ngx_http_header_filter_module
ngx_http_chunked_filter_module ngx_http_v2_filter_module ngx_http_v3_filter_module
ngx_http_range_header_filter_module ngx_http_gzip_filter_module ngx_http_postpone_filter_module
ngx_http_ssi_filter_module ngx_http_charset_filter_module ngx_http_sub_filter_module ngx_http_addition_filter_module
ngx_http_gunzip_filter_module ngx_http_userid_filter_module ngx_http_headers_filter_module
ngx_http_copy_filter_module ngx_http_range_body_filter_module ngx_http_not_modified_filter_module
ngx_http_slice_filter_module ngx_mail_module ngx_mail_core_module ngx_mail_ssl_module ngx_mail_pop3_module
ngx_mail_imap_module ngx_mail_smtp_module ngx_mail_auth_http_module ngx_mail_proxy_module ngx_mail_realip_module
ngx_stream_module ngx_stream_core_module ngx_stream_log_module ngx_stream_proxy_module ngx_stream_upstream_module
ngx_stream_write_filter_module ngx_stream_ssl_module ngx_stream_realip_module ngx_stream_limit_conn_module
ngx_stream_access_module ngx_stream_geo_module ngx_stream_map_module ngx_stream_split_clients_module
ngx_stream_return_module ngx_stream_pass_module ngx_stream_set_module ngx_stream_upstream_hash_module
ngx_stream_upstream_least_conn_module ngx_stream_upstream_random_module ngx_stream_upstream_zone_module
ngx_stream_ssl_preread_module
""".split()
"""objs/ngx_modules.c ngx_modules[] of ``auto/configure $CONFIGURE`` (nginx 1.29.1, Debian bookworm), in order:
nginx tries a directive's modules in this order (ngx_conf_handler)."""

DEFINED = {"NGX_HAVE_OPENAT": True, "NGX_HTTP_CACHE": True, "NGX_HTTP_GZIP": True, "NGX_HTTP_SSL": True,
           "NGX_HTTP_UPSTREAM_ZONE": True, "NGX_STREAM_SSL": True, "NGX_STREAM_UPSTREAM_ZONE": True,
           "NGX_HTTP_V2": True, "NGX_HTTP_V3": True, "NGX_QUIC": True, "NGX_QUIC_BPF": True, "NGX_THREADS": True,
           "NGX_HAVE_FILE_AIO": True, "NGX_PCRE": True, "NGX_LINUX": True, "NGX_COMPAT": True}
"""What objs/ngx_auto_config.h and ngx_auto_headers.h of that configure run define (a macro not listed here stops
the generator: decide it from a configure run first)."""

TYPES = {"NGX_CORE_MODULE": "core", "NGX_CONF_MODULE": "conf", "NGX_EVENT_MODULE": "event",
         "NGX_HTTP_MODULE": "http", "NGX_MAIL_MODULE": "mail", "NGX_STREAM_MODULE": "stream"}
CONTEXTS = {
    "core": {"NGX_MAIN_CONF": "main"},
    "event": {"NGX_EVENT_CONF": "events"},
    "http": {"NGX_HTTP_MAIN_CONF": "http", "NGX_HTTP_SRV_CONF": "server", "NGX_HTTP_LOC_CONF": "location",
             "NGX_HTTP_UPS_CONF": "upstream", "NGX_HTTP_SIF_CONF": "if-server", "NGX_HTTP_LIF_CONF": "if-location",
             "NGX_HTTP_LMT_CONF": "limit_except"},
    "mail": {"NGX_MAIL_MAIN_CONF": "mail", "NGX_MAIL_SRV_CONF": "mail-server"},
    "stream": {"NGX_STREAM_MAIN_CONF": "stream", "NGX_STREAM_SRV_CONF": "stream-server",
               "NGX_STREAM_UPS_CONF": "stream-upstream"},
}
"""Each module type's context flags (the values overlap between types: nginx matches the module type first)."""
ALL_CONTEXTS = [c for flags in CONTEXTS.values() for c in flags.values()]
ARGS = {"NGX_CONF_NOARGS": "0", "NGX_CONF_TAKE1": "1", "NGX_CONF_TAKE2": "2", "NGX_CONF_TAKE3": "3",
        "NGX_CONF_TAKE4": "4", "NGX_CONF_TAKE5": "5", "NGX_CONF_TAKE6": "6", "NGX_CONF_TAKE7": "7",
        "NGX_CONF_TAKE12": "12", "NGX_CONF_TAKE13": "13", "NGX_CONF_TAKE23": "23", "NGX_CONF_TAKE123": "123",
        "NGX_CONF_TAKE1234": "1234"}
OTHER_FLAGS = {"NGX_CONF_BLOCK", "NGX_CONF_FLAG", "NGX_CONF_ANY", "NGX_CONF_1MORE", "NGX_CONF_2MORE",
               "NGX_DIRECT_CONF", "NGX_ANY_CONF"}

BODIES = {
    ("main", "events"): "events",  # src/event/ngx_event.c ngx_events_block: NGX_EVENT_MODULE, NGX_EVENT_CONF
    ("main", "http"): "http",  # src/http/ngx_http.c ngx_http_block: NGX_HTTP_MODULE, NGX_HTTP_MAIN_CONF
    ("main", "mail"): "mail",  # src/mail/ngx_mail.c ngx_mail_block
    ("main", "stream"): "stream",  # src/stream/ngx_stream.c ngx_stream_block
    ("http", "server"): "server",  # ngx_http_core_module.c ngx_http_core_server: NGX_HTTP_SRV_CONF
    ("server", "location"): "location",  # ngx_http_core_location: NGX_HTTP_LOC_CONF
    ("location", "location"): "location",
    ("location", "limit_except"): "limit_except",  # ngx_http_core_limit_except: NGX_HTTP_LMT_CONF
    ("http", "upstream"): "upstream",  # ngx_http_upstream.c ngx_http_upstream: NGX_HTTP_UPS_CONF
    ("server", "if"): "if-server",  # ngx_http_rewrite_module.c ngx_http_rewrite_if: the server's own level
    ("location", "if"): "if-location",  # … NGX_HTTP_LIF_CONF in a location
    ("mail", "server"): "mail-server",  # ngx_mail_core_module.c ngx_mail_core_server: NGX_MAIL_SRV_CONF
    ("stream", "server"): "stream-server",  # ngx_stream_core_module.c ngx_stream_core_server
    ("stream", "upstream"): "stream-upstream",  # ngx_stream_upstream.c ngx_stream_upstream
    # blocks read by a handler of their own (cf->handler), not as directives: ngx_http_core_types,
    # ngx_http_map_block, ngx_http_geo_block, ngx_http_split_clients_block, ngx_http_charset_map_block and
    # their stream twins
    ("http", "types"): "", ("server", "types"): "", ("location", "types"): "",
    ("http", "map"): "", ("http", "geo"): "", ("http", "split_clients"): "", ("http", "charset_map"): "",
    ("stream", "map"): "", ("stream", "geo"): "", ("stream", "split_clients"): "",
}
"""What a block's body is read as: the context its directives are checked in ("" for a block its directive's
handler reads itself). The generator stops on a block directive missing here."""


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def releases(repo: str, newest: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The releases from FIRST to ``newest`` and those of other branches made before it (a stable release
    made later may backport what the newer mainline does not have yet)."""
    found, dates = [], {}
    for line in git(repo, "for-each-ref", "--format=%(refname:short) %(creatordate:unix)", "refs/tags/release-*")\
            .splitlines():
        tag, date = line.split()
        dates[tuple(int(x) for x in tag.removeprefix("release-").split("."))] = int(date)
    for version, date in dates.items():
        if FIRST <= version <= newest and date <= dates[newest]:
            found.append(version)
    return sorted(found)


def sources(repo: str, tag: str) -> dict[str, str]:
    """The release's C files under src/ (without comments)."""
    names = [n for n in git(repo, "ls-tree", "-r", "--name-only", tag, "src").split() if n.endswith(".c")]
    wanted = "".join(f"{tag}:{n}\n" for n in names).encode()
    batch = subprocess.run(["git", "-C", repo, "cat-file", "--batch"], input=wanted, check=True,
                           capture_output=True).stdout
    out, pos = {}, 0
    for name in names:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        text = batch[header_end + 1: header_end + 1 + size].decode("latin-1")
        pos = header_end + 1 + size + 1
        out[name] = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return out


def condition(line: str) -> bool:
    """An ``#if`` line's value in the image's build (DEFINED)."""
    expr = line.split(None, 1)[1]
    names = re.findall(r"[A-Z_][A-Z0-9_]*", expr)
    unknown = [n for n in names if n not in DEFINED]
    if unknown:
        raise SystemExit(f"decide {unknown} in DEFINED (from a configure run): {line}")
    py = re.sub(r"[A-Z_][A-Z0-9_]*", lambda m: str(DEFINED[m.group(0)]), expr)
    py = py.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    if not re.fullmatch(r"[ ()a-zTFrueals]*", py):
        raise SystemExit(f"cannot read {line}")
    return bool(eval(py, {"__builtins__": {}}))  # only True, False, and, or, not and parentheses are left


def commands(body: str) -> list[tuple[str, list[str], str]]:
    """The entries of one ngx_command_t array: (name, flags, set handler), ``#if`` decided."""
    kept, stack = [], []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("#if"):
            stack.append(condition(stripped) if stripped.startswith("#if ") else
                         condition("#if " + stripped.split()[1]) == stripped.startswith("#ifdef"))
            continue
        if stripped.startswith("#else"):
            stack[-1] = not stack[-1]
            continue
        if stripped.startswith("#endif"):
            stack.pop()
            continue
        if stripped.startswith("#"):
            raise SystemExit(f"cannot read {stripped} in an ngx_command_t array")
        if all(stack):
            kept.append(line)
    out = []
    for m in re.finditer(r'\{\s*ngx_string\("([^"]+)"\)\s*,\s*([^,]+?)\s*,\s*(\w+)\s*,', "\n".join(kept)):
        out.append((m.group(1), [f.strip() for f in m.group(2).split("|")], m.group(3)))
    return out


def entry(module_type: str, flags: list[str], handler: str, once: set[str]) -> tuple[str, str]:
    if module_type == "conf":
        contexts = ALL_CONTEXTS if "NGX_ANY_CONF" in flags else []
    else:
        contexts = [name for f, name in CONTEXTS[module_type].items() if f in flags]
    for f in flags:
        if f not in CONTEXTS.get(module_type, {}) and f not in ARGS and f not in OTHER_FLAGS:
            raise SystemExit(f"unknown flag {f} of a {module_type} module directive")
    if "NGX_CONF_ANY" in flags:
        arity = "any"
    elif "NGX_CONF_FLAG" in flags:
        arity = "flag" + (" on|off" if handler == "ngx_conf_set_flag_slot" else "")
    elif "NGX_CONF_1MORE" in flags:
        arity = "1+"
    elif "NGX_CONF_2MORE" in flags:
        arity = "2+"
    else:
        arity = "".join(sorted(set("".join(ARGS[f] for f in flags if f in ARGS))))
    return " ".join(contexts), ("block " if "NGX_CONF_BLOCK" in flags else "") + arity + (
        " once" if handler in once else "")


MAIN_BLOCKS = {"ngx_events_block", "ngx_http_block", "ngx_mail_block", "ngx_stream_block"}
"""The main context's blocks: each may appear once (their handlers begin with ``return "is duplicate"`` once
their context exists)."""


def refusing_a_second(files: dict[str, str]) -> set[str]:
    """The handlers that refuse a directive set twice in one block whatever else was set: the generic slots
    (``ngx_conf_set_str_slot``, ``_num_``, ``_flag_``…, ``ngx_http_set_complex_value_slot``) and MAIN_BLOCKS,
    whose first ``return`` is ``"is duplicate"``. Other handlers that say "is duplicate" do so only after some
    other directive or value (``proxy_redirect`` after ``off``), which the table leaves out."""
    found = set()
    for text in files.values():
        for m in re.finditer(r"^(\w+)\(ngx_conf_t \*cf, ngx_command_t \*cmd, void \*conf\)\n\{(.*?)\n\}", text,
                             re.M | re.S):
            first = re.search(r"\breturn\b([^;]*);", m.group(2))
            if first and first.group(1).strip() == '"is duplicate"':
                found.add(m.group(1))
    if not MAIN_BLOCKS <= found:
        raise SystemExit(f"the main blocks' handlers changed: {MAIN_BLOCKS - found}")
    return {h for h in found if h.endswith("_slot")} | MAIN_BLOCKS


def table(files: dict[str, str]) -> dict[str, list[tuple[int, str, str]]]:
    """name -> its entries in ngx_modules[] order: (module's place, contexts, "[block ]arguments")."""
    defined: dict[str, tuple[str, str, str]] = {}
    for path, text in files.items():
        for m in re.finditer(r"^ngx_module_t\s+(ngx_\w+)\s*=\s*\{\s*NGX_MODULE_V1\s*,\s*&?\w+\s*,\s*(\w+)\s*,\s*(\w+)",
                             text, re.M):
            defined[m.group(1)] = (path, m.group(2), m.group(3))
    once = refusing_a_second(files)
    out: dict[str, list[tuple[int, str, str]]] = {}
    for place, module in enumerate(MODULES):
        if module not in defined:
            continue  # a module this release does not have
        path, array, module_type = defined[module]
        if array == "NULL":
            continue
        m = re.search(r"ngx_command_t\s+" + array + r"\[\]\s*=\s*\{(.*?)\n\s*ngx_null_command", files[path], re.S)
        if m is None:
            raise SystemExit(f"no {array} in {path}")
        for name, flags, handler in commands(m.group(1)):
            out.setdefault(name, []).append((place, *entry(TYPES[module_type], flags, handler, once)))
    return out


def main(repo: str) -> None:
    from k8snet.sandbox.dataplane.workloads import NGINX_LATEST, NGINX_MINORS

    newest = max(tuple(int(x) for x in v.split(".")) for v in [NGINX_LATEST, *NGINX_MINORS.values()])
    versions = releases(repo, newest)
    tables = {v: table(sources(repo, "release-" + ".".join(map(str, v)))) for v in versions}
    latest = tables[versions[-1]]
    names = sorted({n for t in tables.values() for n in t})
    lines = []
    for name in names:
        entries = sorted({e for v in versions for e in tables[v].get(name, [])}, key=lambda e: (
            e[0], min(i for i, v in enumerate(versions) if e in tables[v].get(name, []))))
        for e in entries:
            present = [e in tables[v].get(name, []) for v in versions]
            first = present.index(True)
            last = len(present) - 1 - present[::-1].index(True)
            if not all(present[first:last + 1]):
                raise SystemExit(f"{name} {e}: comes and goes between releases")
            span = ()
            if first > 0 or last < len(versions) - 1:
                since = ".".join(map(str, versions[first])) if first > 0 else ""
                until = ".".join(map(str, versions[last + 1])) if last < len(versions) - 1 else ""
                span = (f"{since}-{until}",)
            lines.append((name, (*e[1:], *span)))
    for (parent, name), _ in BODIES.items():
        if not any(parent in e[1].split() and e[2].startswith("block") for e in latest.get(name, [])):
            raise SystemExit(f"BODIES names {name} in {parent}, which nginx does not open there")
    for name, entries in latest.items():
        for _, contexts, args in entries:
            for parent in contexts.split():
                if args.startswith("block") and (parent, name) not in BODIES:
                    raise SystemExit(f"add the block {name} in {parent} to BODIES")
    write(versions, lines)


def write(versions: list[tuple[int, ...]], lines: list[tuple[str, tuple[str, ...]]]) -> None:
    newest = ".".join(map(str, versions[-1]))
    out = sys.stdout
    out.write(f'''"""The directives the official ``nginx`` image's binary knows: GENERATED by tools/nginx_directives.py
from the nginx source (github.com/nginx/nginx, tag release-{newest}, and the releases from \
release-{".".join(map(str, versions[0]))} to it); do
not edit: ``PYTHONPATH=helpers python tools/nginx_directives.py NGINX_GIT > this file`` writes it again.

``DIRECTIVES``: name -> its entries, in the order nginx tries its modules (src/core/ngx_conf_file.c
ngx_conf_handler): (contexts, arguments[, releases]). Contexts name where nginx accepts it: main, events, http,
server, location, upstream, if-server (``if`` in a server), if-location, limit_except, mail, mail-server, stream,
stream-server, stream-upstream. Arguments: ``block`` when it opens one, then ``0``…``7`` (the counts its
NGX_CONF_TAKEn flags allow, ``0`` for NGX_CONF_NOARGS), ``1+``, ``2+``, ``any``, or ``flag`` (one argument;
``on|off`` when ngx_conf_set_flag_slot reads it). Releases: ``A-B``, the entry exists from release A (empty: the
oldest read) until release B (empty: still). Dynamic modules (njs, geoip, image_filter, xslt, perl) are absent:
the image loads none of them unless ``load_module`` says so.

``BODIES``: (context, block directive) -> the context its body is read in; "" when the directive's own handler
reads the body (``types``, ``map``, ``geo``, ``split_clients``, ``charset_map``).
"""

NGINX_RELEASE = "{newest}"
OLDEST_RELEASE = "{".".join(map(str, versions[0]))}"

DIRECTIVES: dict[str, tuple[tuple[str, ...], ...]] = {{
''')
    grouped: dict[str, list[tuple[str, ...]]] = {}
    for name, e in lines:
        grouped.setdefault(name, []).append(e)
    for name, entries in grouped.items():
        out.write(f"    {name!r}: ({', '.join(repr(e) for e in entries)},),\n".replace("'", '"'))
    out.write("}\n\nBODIES: dict[tuple[str, str], str] = {\n")
    for (parent, name), body in BODIES.items():
        out.write(f'    ("{parent}", "{name}"): "{body}",\n')
    out.write("}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
