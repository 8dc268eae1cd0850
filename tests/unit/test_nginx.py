"""nginx's configuration as nginx reads it (ngx_conf_file.c: tokens, blocks, contexts, arguments, includes) and
the answers it gives from it (server by port and Host, location by =, ^~, regex and longest prefix, static
files with try_files and index, return, add_header, error_page, proxy_pass), without a sandbox."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from k8snet.sandbox.dataplane import nginx
from k8snet.sandbox.dataplane.files import FileSystem

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def files(conf: str, extra: dict[str, bytes] | None = None) -> FileSystem:
    return FileSystem({"/etc/nginx/nginx.conf": nginx.NGINX_CONF, "/etc/nginx/mime.types": b"types {}\n",
                       "/etc/nginx/conf.d/default.conf": conf.encode(),
                       "/usr/share/nginx/html/index.html": b"<h1>Welcome to nginx!</h1>",
                       "/usr/share/nginx/html/50x.html": b"sorry", "/srv/app/a.txt": b"alpha",
                       **(extra or {})},
                      {"/etc", "/etc/nginx", "/etc/nginx/conf.d", "/usr/share/nginx/html", "/srv/app", "/srv/app/d"})


def load(conf: str, extra: dict[str, bytes] | None = None, known: dict[str, str] | None = None) -> nginx.Config:
    return nginx.load(files(conf, extra), lambda name: (known or {}).get(name))


def emerg(conf: str, extra: dict[str, bytes] | None = None) -> str:
    with pytest.raises(nginx.ConfigError) as err:
        load(conf, extra)
    return str(err.value)


def ask(config: nginx.Config, fs: FileSystem, uri: str, method: str = "GET", host: str = "localhost",
        port: int = 80, tls: bool = False, upstream=None) -> tuple[nginx.Answer, list[str]]:
    logged: list[str] = []
    ex = nginx.Exchange(fs=fs, version="1.29.1", method=method, uri=uri, headers={"Host": host}, body=b"",
                        client="10.244.1.7:40000", port=port, scheme="https" if tls else "http", date="-",
                        mtime=lambda path: NOW, error_log=lambda text, level="error": logged.append(text),
                        upstream=upstream or (lambda *a: ("refused", "10.96.0.9:80")))
    return nginx.answer(config, ex, tls), logged


def test_the_image_default_site_loads_and_listens_on_80():
    config = load(nginx.DEFAULT_CONF.decode())
    assert config.ports() == {(80, "TCP"): "http"} and config.not_emulated == []
    a, _ = ask(config, files(nginx.DEFAULT_CONF.decode()), "/")
    assert a.status == 200 and a.body == b"<h1>Welcome to nginx!</h1>"
    assert a.headers["Server"] == "nginx/1.29.1" and a.headers["Content-Type"] == "text/html"


@pytest.mark.parametrize(("conf", "message"), [
    ("server {\n  listen 80;\n}\n}\n", 'unexpected "}" in /etc/nginx/conf.d/default.conf:4'),
    # ngx_conf_parse: the file ends inside a block; ngx_conf_read_token: it ends inside a directive
    ("server {\n  listen 80;\n", 'unexpected end of file, expecting "}" in /etc/nginx/conf.d/default.conf:3'),
    ("server {\n  listen 80", 'unexpected end of file, expecting ";" or "}" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  listen 80\n}\n", 'unexpected "}" in /etc/nginx/conf.d/default.conf:3'),
    ("listen 80;\n", '"listen" directive is not allowed here in /etc/nginx/conf.d/default.conf:1'),
    ("server {\n  root;\n}\n", 'invalid number of arguments in "root" directive in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  location / ;\n}\n", 'directive "location" has no opening "{" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  include /etc/nginx/missing.conf;\n}\n",
     'open() "/etc/nginx/missing.conf" failed (2: No such file or directory) in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  listen 443 ssl;\n}\n",
     'no "ssl_certificate" is defined for the "listen ... ssl" directive in /etc/nginx/conf.d/default.conf:1'),
    ("server {\n  listen 443 ssl;\n  ssl_certificate /etc/nginx/ssl/tls.crt;\n"
     "  ssl_certificate_key /etc/nginx/ssl/tls.key;\n}\n",
     'cannot load certificate "/etc/nginx/ssl/tls.crt": BIO_new_file() failed (SSL: error:80000002:system library::'
     'No such file or directory:calling fopen(/etc/nginx/ssl/tls.crt, r) error:10000080:BIO routines::no such file)'),
    ("upstream backend {\n  server hello;\n}\nserver {\n  location / { proxy_pass http://backend; }\n}\n",
     'host not found in upstream "hello" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  location / { proxy_pass http://nowhere:8080; }\n}\n",
     'host not found in upstream "nowhere" in /etc/nginx/conf.d/default.conf:2'),
])
def test_what_stops_nginx_at_start_in_its_own_words(conf, message):
    assert emerg(conf) == message


def test_a_config_file_mounted_as_nginx_conf_is_read_in_the_main_context():
    # the classic mistake: a server block mounted over /etc/nginx/nginx.conf
    fs = files("", {"/etc/nginx/nginx.conf": b"server {\n    listen 80;\n}\n"})
    with pytest.raises(nginx.ConfigError, match='"server" directive is not allowed here in /etc/nginx/nginx.conf:1'):
        nginx.load(fs, lambda name: None)


def test_quotes_comments_and_unknown_directives():
    config = load('server {  # the site\n  listen 8080;\n  server_name "a b.example";\n  gzip on;\n'
                  "  limit_req zone=one burst=5;\n  location / { return 200 'it\\'s ok'; }\n}\n")
    assert config.ports() == {(8080, "TCP"): "http"}
    assert config.servers[0].names == ["a b.example"]
    assert config.not_emulated == ["limit_req (/etc/nginx/conf.d/default.conf:5)"]
    a, _ = ask(config, files(""), "/", port=8080)
    assert (a.status, a.body, a.headers["Content-Type"]) == (200, b"it's ok", "application/octet-stream")


def contexts(name: str, version: str = "") -> list[set[str]]:
    return [set(e.contexts) for e in nginx.known(version)[name]]


def test_the_table_holds_what_the_image_binary_knows_where_nginx_takes_it():
    # read from nginx's ngx_command_t arrays (tools/nginx_directives.py): each entry's contexts, block, arguments
    assert contexts("proxy_pass") == [{"location", "if-location", "limit_except"}, {"stream-server"}]
    assert "server" not in contexts("proxy_pass")[0]
    assert contexts("ssl_verify_client")[0] == {"http", "server"}
    stream = nginx.known()["stream"]
    assert [(set(e.contexts), e.block, e.args) for e in stream] == [({"main"}, True, "0")]
    assert [(e.block, e.args) for e in nginx.known()["server"]] == [(True, "0"), (False, "1+"), (True, "0"),
                                                                   (True, "0"), (False, "1+")]
    sendfile = nginx.known()["sendfile"][0]
    assert (sendfile.args, sendfile.on_off, sendfile.once) == ("flag", True, True)
    assert [e.once for e in nginx.known()["proxy_redirect"]] == [False]  # "is duplicate" only after "off"
    assert len(contexts("include")[0]) == 14  # NGX_ANY_CONF: every context, events and mail included
    # the image's dynamic modules (njs, geoip, image_filter, xslt, perl) need load_module: not in the table
    assert not {"js_content", "geoip_country", "image_filter", "xslt_stylesheet", "perl"} & set(nginx.known())
    # what the sandbox plays or accepts is a directive nginx knows
    assert (nginx.EMULATED | nginx.INERT) - set(nginx.known()) == set()


def test_the_table_follows_the_release_the_image_tag_names():
    from k8snet.sandbox.dataplane import nginx_directives

    assert nginx_directives.NGINX_RELEASE == nginx.NGINX_LATEST  # regenerate the table with a new pin
    assert "early_hints" in nginx.known("1.29.1") and "early_hints" not in nginx.known("1.27.5")
    assert "ssl" in nginx.known("1.25.0") and "ssl" not in nginx.known("1.25.1")
    assert "http2" not in nginx.known("1.24.0")  # older than the table reads: as its oldest release
    assert contexts("resolver", "1.27.2") == [{"http", "server", "location"}, {"mail", "mail-server"},
                                              {"stream", "stream-server"}]
    assert {"upstream"} in contexts("resolver", "1.27.3")


@pytest.mark.parametrize(("conf", "message"), [
    ("server {\n  listen 80;\n  ssl_verfy_client on;\n}\n",
     'unknown directive "ssl_verfy_client" in /etc/nginx/conf.d/default.conf:3'),
    ("server {\n  listen 80;\n  proxy_pass http://hello;\n}\n",
     '"proxy_pass" directive is not allowed here in /etc/nginx/conf.d/default.conf:3'),
    ("server {\n  stream {\n  }\n}\n", '"stream" directive is not allowed here in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  if ($host) {\n    if ($uri) { return 404; }\n  }\n}\n",
     '"if" directive is not allowed here in /etc/nginx/conf.d/default.conf:3'),
    ("server {\n  sendfile yes;\n}\n",
     'invalid value "yes" in "sendfile" directive, it must be "on" or "off" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  sendfile on;\n  sendfile off;\n}\n",
     '"sendfile" directive is duplicate in /etc/nginx/conf.d/default.conf:3'),
    ("server {\n  sendfile on off;\n}\n",
     'invalid number of arguments in "sendfile" directive in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  gzip on {\n  }\n}\n",
     'directive "gzip" is not terminated by ";" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  limit_req zone=one burst=5 nodelay extra;\n}\n",
     'invalid number of arguments in "limit_req" directive in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  types {\n    text/html { html; }\n  }\n}\n", 'unexpected "{" in /etc/nginx/conf.d/default.conf:3'),
    # the error is the one nginx meets first as it reads: a name before a later syntax error or missing file
    ("server {\n  bogus;\n  listen 80\n}\n", 'unknown directive "bogus" in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  include /etc/nginx/none.conf;\n  bogus;\n}\n",
     'open() "/etc/nginx/none.conf" failed (2: No such file or directory) in /etc/nginx/conf.d/default.conf:2'),
    ("server {\n  location / { bogus on; }\n  location / { proxy_pass http://nowhere; }\n}\n",
     'unknown directive "bogus" in /etc/nginx/conf.d/default.conf:2'),
    ("upstream u {\n  server nowhere;\n}\nserver {\n  bogus;\n}\n",
     'host not found in upstream "nowhere" in /etc/nginx/conf.d/default.conf:2'),
    # a directive's place is the line of its ";" or "{", where nginx's reader stands when it reports it
    ("server {\n  listen 80;\n  log_format\n    main '$x';\n}\n",
     '"log_format" directive is not allowed here in /etc/nginx/conf.d/default.conf:4'),
])
def test_what_nginx_does_not_know_or_does_not_take_there_stops_it(conf, message):
    assert emerg(conf) == message


def test_a_directive_nginx_knows_outside_what_the_sandbox_plays_is_named_once():
    config = load("map $uri $page { default 0; /a 1; }\nserver {\n  listen 80;\n  location / {\n"
                  "    if ($page) { return 403; limit_rate 1k; }\n    sendfile on;\n    return 200 ${page};\n"
                  "  }\n}\n")
    # inside "if" nothing is played: the if is named, not what it holds; a map's body is the map's own
    assert config.not_emulated == ["map (/etc/nginx/conf.d/default.conf:1)", "if (/etc/nginx/conf.d/default.conf:5)"]
    loc = config.servers[0].locations[0]
    assert loc.directives["return"][0].args == ["200", "${page}"]  # "${" stays in the word


def test_an_included_file_adds_to_the_block_it_is_included_in():
    message = emerg("server {\n  default_type text/plain;\n  include /etc/nginx/more.conf;\n}\n",
                    {"/etc/nginx/more.conf": b"default_type text/html;\n"})  # ngx_conf_set_str_slot
    assert message == '"default_type" directive is duplicate in /etc/nginx/more.conf:1'


def test_the_main_context_has_one_events_and_one_http():
    with pytest.raises(nginx.ConfigError, match='^"http" directive is duplicate in /etc/nginx/nginx.conf:32$'):
        nginx.load(files("", {"/etc/nginx/nginx.conf": nginx.NGINX_CONF + b"http {\n}\n"}), lambda name: None)
    without_events = nginx.NGINX_CONF.replace(b"events {\n    worker_connections  1024;\n}\n", b"")
    with pytest.raises(nginx.ConfigError, match='^no "events" section in configuration$'):
        nginx.load(files("", {"/etc/nginx/nginx.conf": without_events}), lambda name: None)


def test_the_command_line_is_read_first_in_the_main_context():
    # the image's CMD is nginx -g "daemon off;": the same directive in nginx.conf is a duplicate
    main = nginx.NGINX_CONF.replace(b"pid ", b"daemon off;\npid ")
    fs = files("", {"/etc/nginx/nginx.conf": main})
    with pytest.raises(nginx.ConfigError, match='^"daemon" directive is duplicate in /etc/nginx/nginx.conf:5$'):
        nginx.load(fs, lambda name: None, params="daemon off;")
    assert nginx.load(fs, lambda name: None).servers == []  # nginx -t reads no -g
    for params, message in (("daemon off", 'unexpected end of parameter, expecting ";" in command line'),
                            ("deamon off;", 'unknown directive "deamon" in command line'),
                            ("events { }", "block directives are not supported in -g option in command line")):
        with pytest.raises(nginx.ConfigError) as err:
            nginx.load(files(""), lambda name: None, params=params)
        assert str(err.value) == message


def test_a_release_reads_the_directives_it_has():
    conf = "server {\n  listen 80;\n  early_hints $http2;\n}\n"
    assert load(conf).not_emulated == ["early_hints (/etc/nginx/conf.d/default.conf:3)"]
    with pytest.raises(nginx.ConfigError, match='unknown directive "early_hints"'):
        nginx.load(files(conf), lambda name: None, "1.27.5")


def test_includes_are_globbed_in_order():
    config = load("include /etc/nginx/sites/*.conf;", {"/etc/nginx/sites/b.conf": b"server { listen 82; }",
                                                       "/etc/nginx/sites/a.conf": b"server { listen 81; }"})
    assert [s.listens[0].port for s in config.servers] == [81, 82]


def test_the_server_is_chosen_by_host_then_default_server():
    conf = ("server { listen 80; server_name a.example; return 200 a; }\n"
            "server { listen 80 default_server; server_name b.example; return 200 b; }\n"
            "server { listen 80; server_name *.c.example; return 200 c; }\n"
            "server { listen 80; server_name ~^api\\d+\\.example$; return 200 api; }\n")
    config, fs = load(conf), files(conf)
    assert [ask(config, fs, "/", host=h)[0].body for h in
            ("a.example", "b.example:80", "x.c.example", "api7.example", "other", "")] == \
        [b"a", b"b", b"c", b"api", b"b", b"b"]


def test_locations_exact_prefix_caret_and_regex():
    conf = ("server { listen 80;\n location = /exact { return 200 exact; }\n location / { return 200 root; }\n"
            " location /images/ { return 200 prefix; }\n location ^~ /static/ { return 200 caret; }\n"
            " location ~* \\.(png|jpg)$ { return 200 regex; }\n}\n")
    config, fs = load(conf), files(conf)
    assert [ask(config, fs, u)[0].body for u in ("/exact", "/exact/more", "/images/a.png", "/images/a.txt",
                                                 "/static/a.PNG", "/x.JPG")] == \
        [b"exact", b"root", b"regex", b"prefix", b"caret", b"regex"]


def test_static_files_try_files_index_and_their_errors():
    conf = ("server { listen 80; root /srv/app; index index.html;\n"
            " location / { try_files $uri $uri/ =404; }\n location /spa/ { try_files $uri /a.txt; }\n}\n")
    config, fs = load(conf), files(conf)
    a, _ = ask(config, fs, "/a.txt")
    assert (a.status, a.body, a.headers["Content-Type"]) == (200, b"alpha", "text/plain")
    assert a.headers["ETag"] == f'"{int(NOW.timestamp()):x}-5"' and a.headers["Accept-Ranges"] == "bytes"
    missing, _ = ask(config, fs, "/nope")
    assert missing.status == 404 and b"<center>nginx/1.29.1</center>" in missing.body
    spa, _ = ask(config, fs, "/spa/route")
    assert (spa.status, spa.body) == (200, b"alpha")
    forbidden, log = ask(config, fs, "/d/")
    assert forbidden.status == 403 and 'directory index of "/srv/app/d/" is forbidden' in log[0]
    assert ask(config, fs, "/a.txt", method="POST")[0].status == 405
    assert ask(config, fs, "/a.txt", method="DELETE")[0].status == 405


def test_a_directory_without_its_slash_is_redirected():
    conf = "server { listen 8080; root /srv/app; }"
    a, _ = ask(load(conf), files(conf), "/d", host="web:8080", port=8080)
    assert (a.status, a.headers["Location"]) == (301, "http://web:8080/d/")


def test_missing_files_are_logged_as_nginx_logs_them():
    config = load(nginx.DEFAULT_CONF.decode())
    a, log = ask(config, files(nginx.DEFAULT_CONF.decode()), "/missing.html", host="web")
    assert a.status == 404
    assert log == ['open() "/usr/share/nginx/html/missing.html" failed (2: No such file or directory), client: '
                   '10.244.1.7, server: localhost, request: "GET /missing.html HTTP/1.1", host: "web"']


def test_return_redirects_with_variables_and_add_header():
    conf = ("server { listen 80; server_name web;\n add_header X-Served-By $hostname;\n"
            " add_header X-Frame-Options DENY;\n"
            " location /old { return 301 https://$host$request_uri; }\n"
            " location /teapot { add_header X-Always yes always; return 418; }\n}\n")
    config, fs = load(conf), files(conf)
    moved, _ = ask(config, fs, "/old?x=1", host="web.example")
    assert moved.status == 301 and moved.headers["Location"] == "https://web.example/old?x=1"
    assert moved.headers["X-Frame-Options"] == "DENY"
    teapot, _ = ask(config, fs, "/teapot")
    assert teapot.status == 418 and teapot.headers["X-Always"] == "yes" and "X-Frame-Options" not in teapot.headers


def test_error_page_serves_the_configured_file_with_the_original_status():
    conf = ("server { listen 80; root /usr/share/nginx/html; error_page 404 /50x.html;\n"
            " location / { try_files $uri =404; }\n}\n")
    a, _ = ask(load(conf), files(conf), "/none")
    assert (a.status, a.body) == (404, b"sorry")


def test_proxy_pass_to_an_upstream_in_turn_and_its_failures():
    conf = ("upstream hello { server hello; server 10.96.0.20:8080; }\n"
            "server { listen 80; location / { proxy_pass http://hello; }\n"
            " location /api/ { proxy_pass http://backend:5678/v1/; }\n}\n")
    config = load(conf, known={"hello": "10.96.0.9", "backend": "10.96.0.30"})
    seen = []

    def upstream(host, port, uri, headers, body):
        seen.append((host, port, uri, headers["Host"]))
        return nginx.Answer(200, {"Content-Type": "text/plain"}, b"hi") if port != 5678 else ("refused", "x")

    fs = files(conf)
    assert ask(config, fs, "/a", upstream=upstream)[0].body == b"hi"
    assert ask(config, fs, "/b", upstream=upstream)[0].body == b"hi"
    bad, log = ask(config, fs, "/api/users", upstream=upstream)
    assert seen == [("hello", 80, "/a", "hello"), ("10.96.0.20", 8080, "/b", "hello"),
                    ("backend", 5678, "/v1/users", "backend:5678")]
    assert bad.status == 502 and b"502 Bad Gateway" in bad.body
    assert log[0].startswith("connect() failed (111: Connection refused) while connecting to upstream")


@pytest.fixture(scope="module")
def pems(tmp_path_factory) -> tuple[bytes, bytes]:
    tmp: Path = tmp_path_factory.mktemp("pem")
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-newkey", "rsa:2048", "-keyout",
                    str(tmp / "k"), "-out", str(tmp / "c"), "-subj", "/CN=web"], check=True, capture_output=True)
    return (tmp / "c").read_bytes(), (tmp / "k").read_bytes()


def test_tls_servers_and_plain_http_on_their_port(pems):
    cert, key = pems
    conf = ("server { listen 80; listen 443 ssl; ssl_certificate /etc/nginx/ssl/tls.crt;\n"
            " ssl_certificate_key /etc/nginx/ssl/tls.key; root /usr/share/nginx/html; }\n")
    extra = {"/etc/nginx/ssl/tls.crt": cert, "/etc/nginx/ssl/tls.key": key}
    config = load(conf, extra)
    assert config.ports() == {(80, "TCP"): "http", (443, "TCP"): "https"}
    assert config.servers[0].tls is not None
    plain, _ = ask(config, files(conf, extra), "/", port=443)
    assert plain.status == 400 and b"The plain HTTP request was sent to HTTPS port" in plain.body
    assert ask(config, files(conf, extra), "/", port=443, tls=True)[0].status == 200


def test_a_key_that_is_not_the_certificates(pems, tmp_path):
    cert, _ = pems
    subprocess.run(["openssl", "genrsa", "-out", str(tmp_path / "other"), "2048"], check=True, capture_output=True)
    conf = ("server { listen 443 ssl; ssl_certificate /etc/nginx/ssl/tls.crt;\n"
            " ssl_certificate_key /etc/nginx/ssl/tls.key; }\n")
    message = emerg(conf, {"/etc/nginx/ssl/tls.crt": cert, "/etc/nginx/ssl/tls.key": (tmp_path / "other").read_bytes()})
    assert message == ('SSL_CTX_use_PrivateKey("/etc/nginx/ssl/tls.key") failed (SSL: error:05800074:x509 '
                       'certificate routines::key values mismatch)')


def test_listen_on_an_address_keeps_its_servers_apart_from_every_address_ones():
    """ngx_http_add_addresses / ngx_http_init_connection: a connection to an address some server listens on
    (``listen IP:port``) is answered by those servers only, chosen by name among them and else their default;
    a connection to any other address by the servers of ``listen port``. An address alone means port 80."""
    conf = ("server {\n  listen 80;\n  server_name any;\n  return 200 'every address';\n}\n"
            "server {\n  listen 203.0.113.10:80;\n  server_name a.example;\n  return 200 'a on $request_uri';\n}\n"
            "server {\n  listen 203.0.113.10;\n  server_name b.example;\n  return 200 'b';\n}\n")
    config = load(conf)
    fs = files(conf)
    assert [[(ls.address, ls.port) for ls in s.listens] for s in config.servers] == [
        [("", 80)], [("203.0.113.10", 80)], [("203.0.113.10", 80)]]

    def body(address: str, host: str) -> bytes:
        ex = nginx.Exchange(fs=fs, version="1.29.1", method="GET", uri="/x", headers={"Host": host}, body=b"",
                            client="192.0.2.1:40000", port=80, scheme="http", date="-", mtime=lambda path: NOW,
                            error_log=lambda *a, **k: None, upstream=lambda *a: ("refused", ""), address=address)
        return nginx.answer(config, ex, tls=False).body

    assert body("203.0.113.10", "b.example") == b"b"
    assert body("203.0.113.10", "any") == b"a on /x"  # "any" is not a server of this address: its first one
    assert body("10.244.1.7", "a.example") != b"a on /x"  # another address: the servers of listen 80
    assert nginx.choose_server(config, 80, "any", "10.244.1.7").names == ["any"]
