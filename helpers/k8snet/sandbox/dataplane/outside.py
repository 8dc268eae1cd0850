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
- they are found as the node's resolver would find them (CoreDNS's ``forward . /etc/resolv.conf``, :mod:`.dns`);
- they answer HTTP on 80 (and HTTPS on 443 where listed, with a certificate from an emulated public CA that the
  images' CA bundles trust, :func:`tls_context`); the body says which host answered and which client address it
  saw (the kind host's, :data:`PUBLIC_IP`, after both NATs); other ports and UDP are dropped by the host's
  firewall (a TIMEOUT, as most internet hosts answer an unlisted port).

An outside address that is none of these stays unrouted: the connection times out, as before.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import HttpRequest, HttpResponse, Program, http_date

if TYPE_CHECKING:
    from ..instance import Sandbox

PUBLIC_IP = "192.0.2.1"
"""The kind host's address on the internet, as outside servers see every pod's traffic (RFC 5737 TEST-NET-1:
the learner's real public address is not known, and not the sandbox's to show)."""
TTL = 60
"""The TTL of the hosts' A records (forwarded unchanged by CoreDNS)."""
SERVER = "k8snet-outside"
"""The Server header of the emulated hosts (they are no real product)."""
UID_PREFIX = "outside:"


@dataclass(frozen=True)
class Host:
    """One host on the emulated internet."""

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


HOSTS: tuple[Host, ...] = (
    Host("api.payments.example", "203.0.113.10", True, True, "a payments API"),
    Host("api.github.example", "203.0.113.20", True, True, "a code-hosting API"),
    Host("example.com", "198.51.100.10", True, False, "IANA's example domain"),
    Host("downloads.example", "198.51.100.20", False, False, "a download mirror (HTTP only)"),
)
_BY_IP = {h.ip: h for h in HOSTS}
_BY_NAME = {h.name: h for h in HOSTS}


def at(ip: str) -> Host | None:
    """The host with this address (None: an outside address nothing answers)."""
    return _BY_IP.get(ip)


def named(fqdn: str) -> Host | None:
    """The host with this name (fully qualified, with or without the trailing dot, any case)."""
    return _BY_NAME.get(fqdn.rstrip(".").lower())


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


def serve(host: Host, req: HttpRequest, client: str, now: dt.datetime) -> HttpResponse:
    """One request: an API answers JSON (which host, the request line, the client address it saw); a page
    answers a line of text saying the same."""
    path = req.path or "/"
    headers = {"Date": http_date(now), "Server": SERVER}
    if host.api:
        body = (json.dumps({"host": host.name, "method": req.method, "path": path, "scheme": req.scheme,
                            "client": client}, indent=2) + "\n").encode()
        headers["Content-Type"] = "application/json"
    else:
        body = f"{host.name}: {req.method} {path} over {req.scheme.upper()} from {client}\n".encode()
        headers["Content-Type"] = "text/plain; charset=utf-8"
    headers["Content-Length"] = str(len(body))
    return HttpResponse(200, headers, b"" if req.method == "HEAD" else body, served_by=host.name)


# -- TLS: an emulated public CA --------------------------------------------------------------------------------

CA_NAME = "k8snet Emulated Public Root CA"


def _pki(sb: Sandbox) -> dict[str, Any]:
    """The emulated public CA and its leaf certificates, made once per sandbox process on its clock (kept in
    memory only: a restart makes new ones, which the images' bundles trust alike)."""
    found = sb.program_state.get("outside-pki")
    if found is None:
        from ..pki import make_ca, pem_cert

        now = sb.clock.now().replace(tzinfo=dt.UTC)
        key, cert = make_ca(CA_NAME, now - dt.timedelta(days=30))
        found = sb.program_state["outside-pki"] = {"ca": (key, cert), "ca_pem": pem_cert(cert), "leaves": {},
                                                   "now": now}
    return found


def roots_pem(sb: Sandbox) -> bytes:
    """The CA bundle of the images (``/etc/ssl/certs/ca-certificates.crt``), as far as the sandbox's servers go:
    the emulated public root."""
    return _pki(sb)["ca_pem"]


def tls_context(sb: Sandbox, host: Host) -> Any:
    """The server context a host presents on 443: a certificate for its name, signed by the public CA."""
    from ..pki import make_serving, pem_cert, pem_key
    from .tls import server_context

    pki = _pki(sb)
    if host.name not in pki["leaves"]:
        key, cert = make_serving(*pki["ca"], host.name, [host.name], pki["now"] - dt.timedelta(days=1))
        pki["leaves"][host.name] = server_context(pem_cert(cert), pem_key(key))  # the leaf alone, as a server
        # whose certificate a root signs directly sends it
    return pki["leaves"][host.name]
