"""Who gets through to a TLS server, and why not: real handshakes from client pods, read back as verdicts.

Each handshake is one ``curl`` in a client pod (the probe contract: ``--cacert``, ``--cert``, ``--key``, ``-w``), so
the same call measures a real nginx on kind and the sandbox's emulated one. What decides the verdict is what curl
reports (its exit code and message, curl.se/libcurl/libcurl-errors.html) and what the server answers: nginx asks
for a client certificate during the handshake but judges it only when the request arrives, so a missing or refused
certificate is an HTTP 400 with nginx's own page ("No required SSL certificate was sent", "The SSL certificate
error"; src/http/ngx_http_request.c), while a server that requires one in the handshake itself (Traefik's
``RequireAndVerifyClientCert``, Go's crypto/tls) ends it with a TLS alert that curl reports as exit 56.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..matrix import Matrix
from ..traffic import PodRef, exec_many

if TYPE_CHECKING:

    from ..cluster import Cluster

MARK = "@@k8snet-status"


@dataclass(frozen=True)
class Client:
    """A client pod and the files it presents: the CA it trusts, and its own certificate and key (if any)."""

    pod: PodRef
    cacert: str  # path in the pod
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Handshake:
    """One request over TLS from a client pod, and what came of it."""

    client: str
    server: str
    exit_code: int
    status: int | None
    body: str
    error: str  # curl's message, when it failed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.status is not None and self.status < 400

    @property
    def reason(self) -> str:
        """Why it went the way it did, in a few words a learner can act on."""
        if self.ok:
            return f"{self.status}: {self.body.strip().splitlines()[0] if self.body.strip() else 'answered'}"
        if self.exit_code == 0:
            if "No required SSL certificate was sent" in self.body:
                return f"{self.status}: no client certificate sent"
            if "The SSL certificate error" in self.body:
                return f"{self.status}: client certificate refused"
            return f"HTTP {self.status}"
        text = self.error.lower()
        for needle, words in (("alert certificate required", "TLS alert: certificate required"),
                              ("alert unknown ca", "TLS alert: unknown CA"),
                              ("alert bad certificate", "TLS alert: bad certificate"),
                              ("certificate has expired", "server certificate expired"),
                              ("no alternative certificate subject name", "server certificate: wrong name"),
                              ("subject name does not match", "server certificate: wrong name"),
                              ("unable to get local issuer", "server certificate: unknown issuer"),
                              ("self-signed certificate", "server certificate: self-signed, not trusted")):
            if needle in text:
                return words
        return {6: "name does not resolve", 7: "connection refused", 28: "timed out",
                58: "client certificate or key unusable", 60: "server certificate not trusted",
                77: "CA file unreadable"}.get(self.exit_code, f"curl exit {self.exit_code}")


    def __str__(self) -> str:
        return f"{self.client} → {self.server}: {'✓' if self.ok else '✗'} {self.reason}"

    def __repr__(self) -> str:
        detail = f"\n  curl: {self.error.splitlines()[0]}" if self.error and not self.ok else ""
        return str(self) + detail


class HandshakeMatrix(Matrix):
    """Every client against every server: a table and a picture."""


def command(url: str, client: Client) -> list[str]:
    """The curl a client runs: its CA, its certificate if it has one, the body and then the status on a line of
    its own (``-w``), errors on stderr (``-sS``), two seconds at most."""
    cmd = ["curl", "-sS", "-m", "2", "--cacert", client.cacert]
    if client.cert:
        cmd += ["--cert", client.cert]
    if client.key:
        cmd += ["--key", client.key]
    return [*cmd, "-w", f"\\n{MARK} %{{http_code}}\\n", url]


def parse(client: str, server: str, stdout: str, stderr: str, exit_code: int) -> Handshake:
    body, _, tail = stdout.rpartition(f"\n{MARK} ")
    if not _:
        body, tail = stdout, ""
    code = tail.strip()
    status = int(code) if code.isdigit() and code != "000" else None
    return Handshake(client, server, exit_code, status, body, stderr.strip())


def matrix(cluster: Cluster, clients: dict[str, Client], servers: dict[str, str]) -> HandshakeMatrix:
    """Run every client against every server (``{name: "https://host:port/path"}``), in parallel.

    Example:
        >>> m = certs.handshakes.matrix(cluster, {"alice": alice, "nobody": nobody}, {"payments": PAYMENTS})
        >>> m.plot()
    """
    jobs = [(c, s, clients[c].pod, command(servers[s], clients[c])) for c in clients for s in servers]
    outputs = exec_many(cluster, [(pod, cmd) for _, _, pod, cmd in jobs])
    result = HandshakeMatrix(list(clients), list(servers), backend=cluster.backend,
                             title="Which client gets through to which TLS server", caption="TLS handshakes")
    for (c, s, _, _), out in zip(jobs, outputs, strict=True):
        result.cells[(c, s)] = parse(c, s, out.stdout, out.stderr, out.exit_code)
    return result


def one(cluster: Cluster, client: Client, url: str) -> Handshake:
    """A single handshake (``matrix`` with one client and one server)."""
    return matrix(cluster, {str(client.pod): client}, {url: url}).cells[(str(client.pod), url)]


def shell(url: str, client: Client) -> str:
    """The command as a learner would type it in the client pod."""
    return shlex.join(command(url, client))
