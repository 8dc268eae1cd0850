"""The emulated outside world: a few hosts beyond the cluster, with names, public-looking addresses and servers.

On kind, a pod reaches the internet through its node: the CNI plugin masquerades traffic that leaves the pod
CIDR to the node's address (kindnet's ``KIND-MASQ-AGENT`` chain, ``MASQUERADE`` for every destination outside
10.244.0.0/16, after ip-masq-agent; Cilium's ``enable-ipv4-masquerade: "true"`` in cilium-config, iptables
masquerading as kube-proxy-replacement is off; Calico's IPPool ``natOutgoing: true``), then Docker masquerades the
node's address (the kind network's ``POSTROUTING -s 172.18.0.0/16 ! -o br-… -j MASQUERADE``) to the address the
kind host goes out with. So a server on the internet never sees a pod address, nor a node address: it sees the
host's. The sandbox has no internet; these hosts stand in for it:

- each has a name under a TLD reserved for examples (RFC 2606 ``.example``; ``example.com`` is IANA's reserved
  domain) and an address from the documentation ranges (RFC 5737: 203.0.113.0/24, 198.51.100.0/24), so nothing
  here pretends to be a real company or a routable address;
- they are found as the node's resolver would find them (CoreDNS's ``forward . /etc/resolv.conf``, :mod:`.dns`;
  on kind a server block k8snet adds to the Corefile answers the same way, :mod:`k8snet.kind.outside`);
- they are served by nginx reading :func:`k8snet.outside.nginx_conf`, the file the kind backend's real nginx
  reads too (:mod:`k8snet.kind.outside`): the sandbox's nginx emulation (:mod:`.nginx`) answers from it, one
  server per host address and port, HTTP on 80 (and HTTPS on 443 where listed, with a certificate from an
  emulated public CA that the images' CA bundles trust, :func:`tls_context`); the body says which host answered
  and which client address it saw (the kind host's, :data:`PUBLIC_IP`, after both NATs); other ports and UDP
  are dropped by the host's firewall (a TIMEOUT, as most internet hosts answer an unlisted port).

An outside address that is none of these stays unrouted: the connection times out, as before.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ...outside import CA_NAME, HOSTS, IMAGE, PUBLIC_IP, TTL, Host, at, certificate_files, named, nginx_conf
from .model import HttpRequest, HttpResponse, Program, http_date

if TYPE_CHECKING:
    from ..instance import Sandbox

__all__ = ["CA_NAME", "HOSTS", "PUBLIC_IP", "TTL", "Host", "at", "host_of", "named", "pod", "program", "roots_pem",
           "serve", "tls_context"]

UID_PREFIX = "outside:"


def pod(host: Host) -> dict[str, Any]:
    """The host as the data plane's destination (not an API object: like kube-apiserver's static pod, it lets
    the emulated programs' code answer for it)."""
    return {"metadata": {"name": host.name, "namespace": "", "uid": UID_PREFIX + host.name, "labels": {}},
            "spec": {"containers": [{"name": "server"}]}, "status": {"phase": "Running", "podIP": host.ip}}


def host_of(obj: dict[str, Any] | None) -> Host | None:
    """The outside host a destination object stands for (None: a pod)."""
    uid = ((obj or {}).get("metadata") or {}).get("uid") or ""
    return named(uid[len(UID_PREFIX):]) if uid.startswith(UID_PREFIX) else None


def program(host: Host) -> Program:
    return Program("outside", None, host.ports, {"host": host})


# -- nginx, from the file both backends read ---------------------------------------------------------------------

def _nginx(sb: Sandbox) -> Any:
    """The outside world's nginx configuration, read once per sandbox process from the shared file and the
    certificates of the emulated public CA (:func:`_pki`), as nginx reads them at start."""
    found = sb.program_state.get("outside-nginx")
    if found is None:
        from . import nginx
        from .files import FileSystem

        files = {"/etc/nginx/nginx.conf": nginx_conf().encode(), **_pki(sb)["files"]}
        fs = FileSystem(files, set())
        config = nginx.load(fs, lambda name: None, _version())
        if config.not_emulated:  # the shared file uses only what the emulation plays: a change must keep it so
            raise RuntimeError(f"k8snet.outside.nginx_conf uses directives the sandbox does not emulate: "
                               f"{', '.join(config.not_emulated)}")
        found = sb.program_state["outside-nginx"] = (config, fs)
    return found


def _version() -> str:
    from .nginx import image_tag, nginx_version

    return nginx_version(image_tag(IMAGE))


def serve(sb: Sandbox, host: Host, port: int, req: HttpRequest, client: str, now: dt.datetime) -> HttpResponse:
    """One request to a host, answered by nginx from the shared configuration: the server of the host's address
    and port (an API answers JSON, a page a line of text, both saying which host, the request and the client)."""
    from . import nginx

    config, fs = _nginx(sb)
    ex = nginx.Exchange(fs=fs, version=_version(), method=req.method, uri=req.path or "/",
                        headers=req.headers, body=req.body, client=client, port=port, scheme=req.scheme,
                        date=http_date(now), mtime=lambda path: now, error_log=lambda *a, **k: None,
                        upstream=lambda *a: ("refused", ""), tls=req.tls, address=host.ip)
    a = nginx.answer(config, ex, tls=req.scheme == "https")
    return HttpResponse(a.status, a.headers, a.body, served_by=host.name)


# -- TLS: an emulated public CA --------------------------------------------------------------------------------

def _pki(sb: Sandbox) -> dict[str, Any]:
    """The emulated public CA and the hosts' certificate files, made once per sandbox process on its clock (kept
    in memory only: a restart makes new ones, which the images' bundles trust alike)."""
    found = sb.program_state.get("outside-pki")
    if found is None:
        from ..pki import make_ca, pem_cert

        now = sb.clock.now().replace(tzinfo=dt.UTC)
        key, cert = make_ca(CA_NAME, now - dt.timedelta(days=30))
        found = sb.program_state["outside-pki"] = {
            "ca_pem": pem_cert(cert), "files": certificate_files(key, cert, now - dt.timedelta(days=1))}
    return found


def roots_pem(sb: Sandbox) -> bytes:
    """The CA bundle of the images (``/etc/ssl/certs/ca-certificates.crt``), as far as the sandbox's servers go:
    the emulated public root."""
    return _pki(sb)["ca_pem"]


def tls_context(sb: Sandbox, host: Host, port: int = 443, sni: str = "") -> Any:
    """The server context nginx presents on a host's HTTPS port: its server's certificate (the host's name,
    signed by the public CA), chosen by the address as nginx chooses it, whatever the SNI."""
    from .nginx import choose_server

    server = choose_server(_nginx(sb)[0], port, sni, host.ip)
    return server.tls if server is not None else None
