"""The outside world of both backends: a few hosts beyond the cluster, their addresses, names and one nginx
configuration that answers for all of them.

One truth for two backends. The hosts are served by nginx (the lesson image, :data:`IMAGE`) reading
:func:`nginx_conf`: on kind it is a real nginx in a container beside the nodes (:mod:`k8snet.kind.outside`), in
the sandbox the sandbox's nginx emulation reads the very same text (:mod:`k8snet.sandbox.dataplane.outside`).
Each host is one ``server`` per port, listening on the host's own address (nginx picks the server by the
address the connection came to, then by name), and answers every request with ``return 200``:

- an API (``api.payments.example``, ``api.github.example``) a small JSON object: which host answered, the
  request's method and target, the scheme, and the client address it saw;
- a page (``example.com``, ``downloads.example``) one line of text saying the same.

The names sit under TLDs reserved for examples (RFC 2606 ``.example``; ``example.com`` is IANA's reserved
domain) and the addresses in the documentation ranges (RFC 5737), so nothing here pretends to be a real
company or a routable address. The client every host sees is :data:`PUBLIC_IP`, the kind host's address on the
internet after the node's masquerade and Docker's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IMAGE = "nginx:1.29.1"
"""The program behind every host: the nginx lesson image (:data:`k8snet.kind.versions.NGINX_IMAGE`, which
``kind up`` preloads; tests/kind checks they agree), run for real on kind and emulated by that release's rules in
the sandbox."""

PUBLIC_IP = "192.0.2.1"
"""The kind host's address on the internet, as outside servers see every pod's traffic (RFC 5737 TEST-NET-1:
the learner's real public address is not known, and not k8snet's to show)."""

TTL = 60
"""The TTL of the hosts' A records."""

CIDRS = ("203.0.113.0/24", "198.51.100.0/24")
"""The documentation ranges the hosts live in (RFC 5737 TEST-NET-3 and TEST-NET-2); every other address in them
answers nothing."""

CONF = "/etc/nginx/nginx.conf"
CERT_DIR = "/etc/nginx/outside"
"""Where the hosts' certificates and keys are, in nginx's file system on both backends."""

CA_NAME = "k8snet Emulated Public Root CA"


@dataclass(frozen=True)
class Host:
    """One host on the outside world."""

    name: str
    ip: str
    https: bool
    api: bool  # an API answering JSON, else a plain-text page
    about: str

    @property
    def ports(self) -> dict[tuple[int, str], str]:
        ports = {(80, "TCP"): "http"}
        if self.https:
            ports[(443, "TCP")] = "https"
        return ports

    @property
    def cert(self) -> str:
        return f"{CERT_DIR}/{self.name}.crt"

    @property
    def key(self) -> str:
        return f"{CERT_DIR}/{self.name}.key"


HOSTS: tuple[Host, ...] = (
    Host("api.payments.example", "203.0.113.10", True, True, "a payments API"),
    Host("api.github.example", "203.0.113.20", True, True, "a code-hosting API"),
    Host("example.com", "198.51.100.10", True, False, "IANA's example domain"),
    Host("downloads.example", "198.51.100.20", False, False, "a download mirror (HTTP only)"),
)
_BY_IP = {h.ip: h for h in HOSTS}
_BY_NAME = {h.name: h for h in HOSTS}
assert all(any(ipaddress.ip_address(h.ip) in ipaddress.ip_network(c) for c in CIDRS) for h in HOSTS)


def at(ip: str) -> Host | None:
    """The host with this address (None: an outside address nothing answers)."""
    return _BY_IP.get(ip)


def named(fqdn: str) -> Host | None:
    """The host with this name (fully qualified, with or without the trailing dot, any case)."""
    return _BY_NAME.get(fqdn.rstrip(".").lower())


# -- the nginx configuration -------------------------------------------------------------------------------------

def _body(host: Host, scheme: str) -> str:
    """The ``return 200`` text of one host on one scheme, as an nginx single-quoted string (``\\n`` is a newline
    in nginx's quoted strings, ngx_conf_read_token). Values are nginx variables, not escaped: a request target
    holding a ``"`` gives JSON no parser reads, on both backends alike."""
    if host.api:
        fields = [("host", host.name), ("method", "$request_method"), ("path", "$request_uri"),
                  ("scheme", scheme), ("client", "$remote_addr:$remote_port")]
        inner = ",\\n".join(f'  "{k}": "{v}"' for k, v in fields)
        return "'{\\n" + inner + "\\n}\\n'"
    return f"'{host.name}: $request_method $request_uri over {scheme.upper()} from $remote_addr:$remote_port\\n'"


def nginx_conf() -> str:
    """``/etc/nginx/nginx.conf`` of the outside world: one server per host and port on the host's address.

    ``types {}`` empties the extension table so every answer has the server's ``default_type`` whatever the
    path ends in (ngx_http_set_content_type); ``server_tokens`` stays on (``Server: nginx/1.29.1``)."""
    lines = ["# The outside world's hosts (k8snet.outside): the same file configures nginx on kind (container",
             "# k8snet-outside, beside the nodes) and the sandbox's emulated hosts.",
             "worker_processes 1;", "", "events {", "    worker_connections 1024;", "}", "",
             "http {", "    types {}", "    access_log /dev/stdout combined;", ""]
    for host in HOSTS:
        for (port, _), scheme in host.ports.items():
            ctype = "application/json" if host.api else '"text/plain; charset=utf-8"'
            lines += [f"    server {{  # {host.name}, {host.about}, over {scheme.upper()}",
                      f"        listen {host.ip}:{port}{' ssl' if scheme == 'https' else ''};",
                      f"        server_name {host.name};"]
            if scheme == "https":
                lines += [f"        ssl_certificate {host.cert};", f"        ssl_certificate_key {host.key};"]
            lines += [f"        default_type {ctype};", f"        return 200 {_body(host, scheme)};", "    }"]
    lines += ["}", ""]
    return "\n".join(lines)


def certificate_files(ca_key: object, ca_cert: object, now: object = None) -> dict[str, bytes]:
    """Each HTTPS host's certificate (its name, signed by the CA) and key, by their path in nginx's files."""
    from .sandbox.pki import make_serving, pem_cert, pem_key

    out: dict[str, bytes] = {}
    for host in HOSTS:
        if host.https:
            key, cert = make_serving(ca_key, ca_cert, host.name, [host.name], now)  # type: ignore[arg-type]
            out[host.cert] = pem_cert(cert)  # the leaf alone, as a server whose certificate a root signs sends it
            out[host.key] = pem_key(key)
    return out
