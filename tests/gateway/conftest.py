"""The harness of the Gateway API conformance cases: the upstream suite's helpers, re-expressed over the edge.

kubernetes-sigs/gateway-api v1.5.1 ``conformance/utils`` checks each case the same few ways; this file holds
those checks, named after the Go helpers they follow, and ``manifests/`` holds the upstream YAML verbatim:

- ``Conformance.applied`` — ``suite.Applier.MustApplyWithCleanup``: a case's manifests, adapted (:func:`adapt`),
  deleted when the case ends;
- ``gateway_and_routes_must_be_accepted`` — ``kubernetes.GatewayAndHTTPRoutesMustBeAccepted``: the Gateway has
  an address and conditions of its generation, each route a parent for it (``Accepted=True``, reason
  ``Accepted``) and every listener ``Accepted``, ``ResolvedRefs`` and ``Programmed``;
- ``route_must_have_condition`` — ``kubernetes.HTTPRouteMustHaveCondition`` (``ResolvedRefs`` true:
  ``HTTPRouteMustHaveResolvedRefsConditionsTrue``);
- ``expect`` — ``http.MakeRequestAndExpectEventuallyConsistentResponse`` (and the TLS variant): the request
  until it meets ``http.CompareRoundTrip`` three times in a row (``RequiredConsecutiveSuccesses``) within 30 s
  (``MaxTimeToConsistency``), retried after 0.1 s where upstream waits 1 s — everything here is local.

Requests go to the sandbox's edge (Traefik's ``web`` and ``websecure`` entrypoints) as the Go round tripper
sends them: the Host header exactly as the case gives it (or the Gateway's address when it gives none), SNI the
case's host, and the server certificate trusted as the only root.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from tests.conftest import SandboxEnv, wait_for
from tests.ingress import conftest as ingress
from tests.ingress.conftest import Edge, Resp

MANIFESTS = Path(__file__).parent / "manifests"
GATEWAY_CLASS = "traefik"
CONTROLLER = "traefik.io/gateway-controller"
ENTRYPOINT_PORTS = {80: 8000, 443: 8443}
"""Upstream listener ports → the Traefik entrypoints' (``web``, ``websecure``): Traefik's Gateway provider
accepts a listener only on an entrypoint's port, as on kind."""
INFRA = "gateway-conformance-infra"
WEB_BACKEND = "gateway-conformance-web-backend"
GROUP = "gateway.networking.k8s.io"
REQUIRED_CONSECUTIVE_SUCCESSES = 3
MAX_TIME_TO_CONSISTENCY = 30.0
"""conformance/utils/config/timeout.go DefaultTimeoutConfig."""

sandbox, edge = ingress.sandbox, ingress.edge
"""The module's own sandbox with the real Traefik, and its edge (the ingress tests' fixtures)."""


def adapt(doc: dict) -> dict:
    """A manifest as the suite would apply it to Traefik here: ``{GATEWAY_CLASS_NAME}`` is ``traefik`` (the
    suite's ``--gateway-class``) and each listener port is the matching Traefik entrypoint's. Nothing else
    changes: the echo-basic backends are the image the sandbox emulates."""
    if doc.get("kind") == "Gateway":
        doc["spec"]["gatewayClassName"] = GATEWAY_CLASS
        for listener in doc["spec"]["listeners"]:
            listener["port"] = ENTRYPOINT_PORTS.get(listener["port"], listener["port"])
    return doc


def load(name: str) -> list[dict]:
    """``manifests/<name>.yaml``, adapted."""
    return [adapt(d) for d in yaml.safe_load_all((MANIFESTS / f"{name}.yaml").read_text()) if d]


@dataclass
class Expected:
    """``http.ExpectedResponse``: the request to make and what must come back.

    ``host`` None sends the Gateway's address as the Host (upstream's URL host); ``backend`` is the prefix of
    the pod that must answer a 2xx, ``namespace`` its namespace; ``redirect_host`` is ``RedirectRequest.Host``.
    """

    path: str = "/"
    host: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    status: int = 200
    backend: str = ""
    namespace: str = ""
    redirect_host: str | None = None

    def __str__(self) -> str:  # GetTestCaseName
        what = f"should go to {self.backend}" if self.backend else f"should receive {self.status}"
        return f"request to '{self.host or ''}{self.path}'{' with headers' if self.headers else ''} {what}"


@dataclass
class RoundTrip:
    """``roundtripper.CaptureRoundTrip``: the response and, from echo-basic's JSON, the request it received."""

    response: Resp
    captured: dict
    scheme: str = "http"

    @property
    def status(self) -> int:
        return self.response.status


def compare(expected: Expected, trip: RoundTrip) -> str:
    """``http.CompareRoundTrip`` for what these cases set; the mismatch, or "" when the round trip meets it."""
    got, req = trip.status, trip.captured
    if got != expected.status:
        return f"expected status code to be {expected.status}, got {got}"
    if got in (200, 204):
        if expected.host and req.get("host") != expected.host:
            return f"expected host to be {expected.host}, got {req.get('host')}"
        if req.get("path") != expected.path:
            return f"expected path to be {expected.path}, got {req.get('path')}"
        if req.get("method") != expected.method:
            return f"expected method to be {expected.method}, got {req.get('method')}"
        if req.get("namespace", "") != expected.namespace:
            return f"expected namespace to be {expected.namespace}, got {req.get('namespace')}"
        received = {k.lower(): ",".join(v) for k, v in (req.get("headers") or {}).items()}
        for name, value in expected.headers.items():
            if received.get(name.lower()) != value:
                return f"expected {name} header to be set to {value}, got {received.get(name.lower())}"
        if not str(req.get("pod", "")).startswith(expected.backend):
            return f"expected pod name to start with {expected.backend}, got {req.get('pod')}"
    elif got in (300, 301, 302, 303, 304, 305, 307, 308) and expected.redirect_host is not None:
        location = urlsplit(trip.response.headers.get("location", ""))
        if (location.hostname or "") != expected.redirect_host:
            return f"expected redirected hostname to be {expected.redirect_host!r}, got {location.hostname!r}"
        if location.scheme.lower() == "http" and location.port not in (None, 80):
            return f"for http scheme, expected redirected port to be 80 or not set, got {location.port}"
        if location.scheme.lower() == "https" and location.port not in (None, 443):
            return f"for https scheme, expected redirected port to be 443 or not set, got {location.port}"
        if location.scheme != trip.scheme:  # the request's scheme: RedirectRequest.Scheme's default
            return f"expected redirected scheme to be {trip.scheme!r}, got {location.scheme!r}"
        if location.path != expected.path:
            return f"expected redirected path to be {expected.path!r}, got {location.path!r}"
    return ""


def go_hostname_match(host: str, sans: list[str]) -> bool:
    """crypto/x509 ``Certificate.VerifyHostname`` for DNS names: a ``*.`` wildcard stands for one whole
    label (Go accepts ``*.org``, which OpenSSL's hostname check refuses)."""
    host = host.rstrip(".").lower()
    for pattern in (s.lower() for s in sans):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


class Conformance:
    """The suite's view of the sandbox: the API (the Python client) and the edge."""

    def __init__(self, env: SandboxEnv, edge: Edge, server_cert: Path):
        from kubernetes import client

        self.env = env
        self.edge = edge
        self.server_cert = server_cert
        self.custom = client.CustomObjectsApi(env.api_client())

    # -- objects ----------------------------------------------------------------------------------------

    @contextmanager
    def applied(self, name: str) -> Iterator[list[dict]]:
        """MustApplyWithCleanup: the case's manifests exist for the ``with`` block."""
        docs = load(name)
        text = yaml.safe_dump_all(docs)
        self.env.kubectl("apply", "-f", "-", input=text)
        try:
            yield docs
        finally:
            self.env.kubectl("delete", "--ignore-not-found", "-f", "-", input=text)

    def gateway(self, ns: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, "v1", ns, "gateways", name)

    def route(self, ns: str, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, "v1", ns, "httproutes", name)

    def patch_route(self, ns: str, name: str, patch: dict) -> dict:
        return self.custom.patch_namespaced_custom_object(GROUP, "v1", ns, "httproutes", name, patch)

    # -- status -----------------------------------------------------------------------------------------

    @staticmethod
    def latest(obj: dict, conditions: list[dict]) -> bool:
        """ConditionsHaveLatestObservedGeneration."""
        return all(c.get("observedGeneration") == obj["metadata"]["generation"] for c in conditions)

    @staticmethod
    def has_condition(conditions: list[dict], type_: str, status: str, reason: str = "") -> bool:
        """findConditionInList (an empty reason matches any)."""
        return any(c["type"] == type_ and c["status"] == status and (not reason or c.get("reason") == reason)
                   for c in conditions)

    def gateway_address(self, ns: str, name: str, listener: str | None = None) -> str:
        """WaitForGatewayAddress: ``address:port`` of the (named, else first) listener, once the Gateway's
        conditions are of its generation and an address with a type is in its status."""
        def ready():
            gw = self.gateway(ns, name)
            status = gw.get("status") or {}
            if not self.latest(gw, status.get("conditions") or []):
                return None
            listeners = gw["spec"]["listeners"]
            port = next((x["port"] for x in listeners if x["name"] == listener), listeners[0]["port"])
            typed = [a["value"] for a in status.get("addresses") or [] if a.get("type")]
            return f"{typed[0]}:{port}" if typed else None
        return wait_for(ready, what=f"Gateway {ns}/{name} to have an address")

    def gateway_and_routes_must_be_accepted(self, ns: str, gw: str, *routes: tuple[str, str],
                                            listeners: tuple[str, ...] = ()) -> str:
        """GatewayAndHTTPRoutesMustBeAccepted; the Gateway's address (``ip:port``)."""
        address = self.gateway_address(ns, gw, listeners[0] if listeners else None)
        for route_ns, route in routes:
            self.route_must_have_parents(route_ns, route, [
                {"ref": {"group": GROUP, "kind": "Gateway", "name": gw, "namespace": ns},
                 "conditions": [("Accepted", "True", "Accepted")]}
                for _ in (listeners or ("",))], namespace_required=route_ns != ns)
        self.gateway_listeners_must_have_conditions(ns, gw, [("ResolvedRefs", "True", ""), ("Accepted", "True", ""),
                                                             ("Programmed", "True", "")])
        return address

    def route_must_have_parents(self, ns: str, name: str, expected: list[dict], namespace_required: bool) -> None:
        """RouteMustHaveParents / parentsForRouteMatch: each expected parent (controller, group, kind, name,
        namespace, conditions) is among the route's, whose conditions are of its generation."""
        def matched() -> bool:
            route = self.route(ns, name)
            parents = (route.get("status") or {}).get("parents") or []
            if not all(self.latest(route, p.get("conditions") or []) for p in parents):
                return False
            for want in expected:
                ref = want["ref"]
                if not any(p.get("controllerName") == CONTROLLER
                           and p["parentRef"].get("group") == ref["group"] and p["parentRef"].get("kind") == ref["kind"]
                           and p["parentRef"]["name"] == ref["name"]
                           and (p["parentRef"].get("namespace") == ref["namespace"]
                                or (not namespace_required and "namespace" not in p["parentRef"]))
                           and all(self.has_condition(p.get("conditions") or [], *c) for c in want["conditions"])
                           for p in parents):
                    return False
            return True
        wait_for(matched, what=f"HTTPRoute {ns}/{name} to have parents {expected}")

    def gateway_listeners_must_have_conditions(self, ns: str, name: str, conditions: list[tuple[str, str, str]],
                                               ) -> None:
        """GatewayListenersMustHaveConditions: every listener in status has every condition."""
        def matched() -> bool:
            listeners = (self.gateway(ns, name).get("status") or {}).get("listeners") or []
            return all(self.has_condition(x.get("conditions") or [], *c) for c in conditions for x in listeners)
        wait_for(matched, what=f"Gateway {ns}/{name}'s listeners to have {conditions}")

    def gateway_status_must_have_listeners(self, ns: str, name: str, expected: list[dict]) -> None:
        """GatewayStatusMustHaveListeners / gatewayListenersMatch: as many listeners, each with its supported
        kinds, attached routes and conditions."""
        def matched() -> bool:
            gw = self.gateway(ns, name)
            status = gw.get("status") or {}
            if not self.latest(gw, status.get("conditions") or []):
                return False
            actual = {x["name"]: x for x in status.get("listeners") or []}
            if len(actual) != len(expected):
                return False
            for want in expected:
                got = actual.get(want["name"])
                if got is None or got.get("attachedRoutes") != want["attachedRoutes"]:
                    return False
                kinds = {(k.get("group", GROUP), k["kind"]) for k in got.get("supportedKinds") or []}
                if not {(GROUP, k) for k in want["supportedKinds"]} <= kinds:
                    return False
                if not all(self.has_condition(got.get("conditions") or [], *c) for c in want["conditions"]):
                    return False
            return True
        wait_for(matched, what=f"Gateway {ns}/{name}'s listeners to be {expected}")

    def route_must_have_condition(self, ns: str, name: str, gw: tuple[str, str], type_: str, status: str,
                                  reason: str = "") -> None:
        """HTTPRouteMustHaveCondition: the route's parent for the Gateway has the condition (all conditions of
        the route's generation)."""
        def found() -> bool:
            route = self.route(ns, name)
            parents = (route.get("status") or {}).get("parents") or []
            if not all(self.latest(route, p.get("conditions") or []) for p in parents):
                return False
            return any(p["parentRef"]["name"] == gw[1] and p["parentRef"].get("namespace") in (None, gw[0])
                       and self.has_condition(p.get("conditions") or [], type_, status, reason) for p in parents)
        wait_for(found, what=f"HTTPRoute {ns}/{name} to have {type_}={status} ({reason or 'any reason'})")

    def resolved_refs_true(self, ns: str, name: str, gw: tuple[str, str]) -> None:
        """HTTPRouteMustHaveResolvedRefsConditionsTrue."""
        self.route_must_have_condition(ns, name, gw, "ResolvedRefs", "True", "ResolvedRefs")

    # -- traffic ----------------------------------------------------------------------------------------

    def round_trip(self, address: str, expected: Expected, https: bool = False) -> RoundTrip:
        """One request as the Go round tripper makes it: a fresh connection, Host as given (the Gateway's address
        when none: ``http.CalculateHost``), and for HTTPS the server certificate as the only root, SNI the host."""
        gw_host, _, gw_port = address.rpartition(":")
        default_port = 443 if https else 80
        authority = expected.host or (gw_host if int(gw_port) == ENTRYPOINT_PORTS[default_port] else address)
        context = None
        if https:
            context = ssl.create_default_context(cafile=str(self.server_cert))
            context.check_hostname = False  # verified below as crypto/x509 does (Go accepts *.org)
        answer = self.edge.request(expected.host or gw_host, expected.path, https=https, method=expected.method,
                                   headers=expected.headers, authority=authority, context=context)
        if https:
            sans = [v for k, v in answer.peer.get("subjectAltName", ()) if k == "DNS"]
            if not go_hostname_match(expected.host or gw_host, sans):
                raise ssl.CertificateError(f"x509: certificate is valid for {', '.join(sans)}, not "
                                           f"{expected.host or gw_host}")
        captured = answer.json() if answer.headers.get("content-type") == "application/json" else {}
        return RoundTrip(answer, captured, "https" if https else "http")

    def expect(self, address: str, expected: Expected, https: bool = False) -> RoundTrip:
        """MakeRequestAndExpectEventuallyConsistentResponse (AwaitConvergence): ``expected`` met by
        REQUIRED_CONSECUTIVE_SUCCESSES round trips in a row, within MAX_TIME_TO_CONSISTENCY."""
        deadline, successes, last = time.monotonic() + MAX_TIME_TO_CONSISTENCY, 0, "no request made"
        while time.monotonic() < deadline:
            try:
                trip = self.round_trip(address, expected, https)
                last = compare(expected, trip)
            except (OSError, ssl.SSLError, ValueError) as exc:
                trip, last = None, f"request failed: {exc!r}"
            if not last:
                successes += 1
                if successes >= REQUIRED_CONSECUTIVE_SUCCESSES:
                    return trip
                continue
            successes = 0
            time.sleep(0.1)
        raise AssertionError(f"{expected}: not met within {MAX_TIME_TO_CONSISTENCY:g}s: {last}")


def self_signed_secret(namespace: str, name: str, hosts: list[str]) -> tuple[dict, bytes]:
    """kubernetes.MustCreateSelfSignedCertSecret (conformance/utils/kubernetes/certificate.go): an RSA-2048
    self-signed server certificate, CN ``default``, O ``Acme Co``, valid a year; each host a DNS name when it is a
    (wildcard) DNS-1123 subdomain, else a URI (``*``). Returns the Secret and the certificate's PEM."""
    import base64
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    names: list[x509.GeneralName] = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
            continue
        except ValueError:
            pass
        if re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", h.removeprefix("*.")):
            names.append(x509.DNSName(h))
        else:
            names.append(x509.UniformResourceIdentifier(h))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "default")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": name, "namespace": namespace},
              "data": {"tls.crt": base64.b64encode(pem).decode(), "tls.key": base64.b64encode(key_pem).decode()}}
    return secret, pem


@pytest.fixture(scope="module")
def suite(sandbox: SandboxEnv, edge: Edge, tmp_path_factory: pytest.TempPathFactory) -> Conformance:
    """ConformanceTestSuite.Setup: the base manifests (namespaces, Gateways, echo-basic backends) and the
    suite's Secret ``tls-validity-checks-certificate``, then NamespacesMustBeReady."""
    secret, pem = self_signed_secret(INFRA, "tls-validity-checks-certificate", ["*", "*.org", "*.wildcard.org"])
    cert = tmp_path_factory.mktemp("gateway") / "tls-validity-checks-certificate.crt"
    cert.write_bytes(pem)
    sandbox.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(load("base")))
    sandbox.kubectl("apply", "-f", "-", input=json.dumps(secret))
    for ns, deploy in ((INFRA, "infra-backend-v1"), (INFRA, "infra-backend-v2"), (INFRA, "infra-backend-v3"),
                       (WEB_BACKEND, "web-backend")):
        sandbox.kubectl("rollout", "status", f"deployment/{deploy}", "-n", ns, "--timeout=60s")
    out = Conformance(sandbox, edge, cert)
    namespaces_must_be_ready(out, [INFRA, WEB_BACKEND])
    return out


def namespaces_must_be_ready(suite: Conformance, namespaces: list[str]) -> None:
    """NamespacesMustBeReady: every Gateway in them Accepted and Programmed (conditions of its generation), every
    pod Ready."""
    def ready() -> bool:
        for ns in namespaces:
            for gw in suite.custom.list_namespaced_custom_object(GROUP, "v1", ns, "gateways")["items"]:
                conditions = (gw.get("status") or {}).get("conditions") or []
                if not (suite.latest(gw, conditions) and suite.has_condition(conditions, "Accepted", "True")
                        and suite.has_condition(conditions, "Programmed", "True")):
                    return False
            for pod in suite.env.kubectl_json("get", "pods", "-n", ns)["items"]:
                ready_ = any(c["type"] == "Ready" and c["status"] == "True"
                             for c in pod["status"].get("conditions") or [])
                if not ready_ and pod["status"].get("phase") != "Succeeded":
                    return False
        return True
    wait_for(ready, timeout=60, what=f"namespaces {namespaces} to be ready")
