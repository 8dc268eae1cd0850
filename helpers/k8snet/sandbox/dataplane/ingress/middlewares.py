"""Traefik's HTTP middlewares (``traefik.io/v1alpha1`` Middleware), one small class per type.

Each class takes the type's configuration as the CRD holds it, refuses what Traefik refuses (with its error
text, which disables the routers that use the middleware) and handles an :class:`~.exchange.Exchange` as the
Go middleware does. Sources (github.com/traefik/traefik v3.7, pkg/middlewares/…): redirect/redirect_scheme.go,
ratelimiter/, ipallowlist/ (pkg/ip for the strategies), headers/ (github.com/unrolled/secure for the security
headers), buffering/ (github.com/vulcand/oxy buffer), stripprefix/, auth/basic_auth.go, chain/; the CRD
conversion is pkg/provider/kubernetes/crd/kubernetes.go. Documented at
https://doc.traefik.io/traefik/v3.7/reference/routing-configuration/http/middlewares/overview/.

Types the sandbox does not emulate raise :class:`NotEmulated`: Traefik would build them, so the sandbox says
so loudly (a Warning event) and, as Traefik does with a middleware it cannot build, disables the routers
that use them (their requests get 404).
"""

from __future__ import annotations

import base64
import binascii
import http
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import htpasswd
from .exchange import Exchange, Handler, Headers, Reply, http_error, status_only
from .match import sanitize_path
from .ratelimit import Limiter, go_duration, parse_period

PROVIDER = "kubernetescrd"

TYPES = ("addPrefix", "stripPrefix", "stripPrefixRegex", "replacePath", "replacePathRegex", "chain", "ipWhiteList",
         "ipAllowList", "headers", "encodedCharacters", "errors", "rateLimit", "redirectRegex", "redirectScheme",
         "basicAuth", "digestAuth", "forwardAuth", "inFlightReq", "buffering", "circuitBreaker", "compress",
         "passTLSClientCert", "retry", "contentType", "grpcWeb", "plugin")
"""Every field of MiddlewareSpec (crd/traefikio/v1alpha1/middleware.go): one middleware type each."""

EMULATED = ("redirectScheme", "rateLimit", "ipAllowList", "ipWhiteList", "headers", "buffering", "stripPrefix",
            "basicAuth", "chain")


class BuildError(Exception):
    """Traefik cannot build the middleware (its error text); the routers using it are not served."""


class NotEmulated(BuildError):
    """A middleware type or option Traefik supports but the sandbox does not emulate."""


@dataclass
class MiddlewareDef:
    """One Middleware as the CRD provider hands it to the router: its qualified name, type and config."""

    name: str  # "<namespace>-<name>@kubernetescrd"
    namespace: str
    object_name: str
    kind: str | None
    config: dict[str, Any]
    error: str = ""  # the provider could not read it (Traefik logs and drops it)
    fingerprint: str = ""


def qualify(name: str, provider: str) -> str:
    """provider.GetQualifiedName: a name without ``@provider`` belongs to the referring provider."""
    return name if "@" in name else f"{name}@{provider}"


def normalize(name: str) -> str:
    """provider.Normalize: every run of non-alphanumerics becomes one ``-``."""
    return "-".join(p for p in re.split(r"[^0-9A-Za-z\u00c0-\uffff]+", name) if p)


# -- reading Middleware objects (the CRD provider) ----------------------------------------------------


def load(sb: Any) -> dict[str, MiddlewareDef]:
    """Every Middleware in the store, keyed by qualified name, with Secrets resolved as the provider does."""
    out: dict[str, MiddlewareDef] = {}
    for obj in sb.store.list("middlewares.traefik.io"):
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        spec = obj.get("spec") or {}
        kinds = [k for k in TYPES if spec.get(k) is not None]
        qualified = normalize(f"{ns}-{name}") + "@" + PROVIDER
        defn = MiddlewareDef(qualified, ns, name, kinds[0] if len(kinds) == 1 else None,
                             dict(spec.get(kinds[0]) or {}) if len(kinds) == 1 else {},
                             fingerprint=json.dumps([meta.get("uid"), spec], sort_keys=True, default=str))
        if len(kinds) > 1:
            defn.error = ("cannot create middleware: multi-types middleware not supported, consider declaring two "
                          "different pieces of middleware instead")
        elif not kinds:
            defn.error = (f'invalid middleware "{qualified}" configuration: invalid middleware type or middleware '
                          "does not exist")
        elif defn.kind == "basicAuth":
            try:
                defn.config["users"] = basic_auth_users(sb, ns, defn.config)
            except BuildError as exc:
                defn.error = f"Error while reading basic auth middleware: {exc}"
        elif defn.kind == "rateLimit" and defn.config.get("period") is not None:
            try:
                parse_period(defn.config["period"])
            except ValueError as exc:
                defn.error = f"Error while reading rateLimit middleware: {exc}"
        out[qualified] = defn
    return out


def basic_auth_users(sb: Any, ns: str, cfg: dict[str, Any]) -> list[str]:
    """createBasicAuthMiddleware: users from a basic-auth Secret (username/password) or an htpasswd Secret."""
    secret_name = cfg.get("secret") or ""
    if not secret_name:
        raise BuildError("auth secret must be set")
    secret = sb.store.get("secrets", ns, secret_name)
    if secret is None:
        raise BuildError(f"secret '{ns}/{secret_name}' not found")
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    if secret.get("type") == "kubernetes.io/basic-auth":
        if "username" not in data or "password" not in data:
            raise BuildError(f"failed to load basic auth credentials: secret '{ns}/{secret_name}' must contain "
                             "both username and password keys")
        return [f"{data['username'].decode()}:{htpasswd.sha_hash(data['password'])}"]
    if len(data) != 1:
        raise BuildError(f"failed to load basic auth credentials: found {len(data)} elements for secret "
                         f"'{ns}/{secret_name}', must be single element exactly")
    users = [line for line in next(iter(data.values())).decode(errors="replace").splitlines() if line]
    if not users:
        raise BuildError(f"failed to load basic auth credentials: secret '{ns}/{secret_name}' does not contain "
                         "any credentials")
    return users


# -- shared pieces ----------------------------------------------------------------------------------


class IPChecker:
    """pkg/ip Checker: single IPs and CIDRs (host bits allowed, as net.ParseCIDR)."""

    def __init__(self, entries: list[str]):
        if not entries:
            raise BuildError("no trusted IPs provided")
        self.networks = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                raise BuildError(f"parsing CIDR trusted IPs <nil>: invalid CIDR address: {entry}") from None

    def contains(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def ip_strategy(cfg: dict[str, Any] | None) -> Callable[[Exchange], str]:
    """IPStrategy.Get: ``depth`` (from the right of X-Forwarded-For), ``excludedIPs``, else the remote address."""
    cfg = cfg or {}
    depth = int(cfg.get("depth") or 0)
    if cfg.get("ipv6Subnet") is not None:
        raise NotEmulated("ipStrategy.ipv6Subnet is not emulated (the sandbox's networks are IPv4)")
    if depth > 0:
        def by_depth(ex: Exchange) -> str:
            xffs = ex.headers.get("X-Forwarded-For").split(",")
            return xffs[len(xffs) - depth].strip() if len(xffs) >= depth else ""
        return by_depth
    if cfg.get("excludedIPs"):
        checker = IPChecker(list(cfg["excludedIPs"]))

        def by_pool(ex: Exchange) -> str:
            for value in reversed(ex.headers.get("X-Forwarded-For").split(",")):
                if value.strip() and not checker.contains(value.strip()):
                    return value.strip()
            return ""
        return by_pool
    return lambda ex: ex.remote_ip


def moved(location: str, status: int) -> Reply:
    """The redirect middlewares' moveHandler: Location and the status text as the body."""
    reply = status_only(status)
    reply.headers.set("Location", location)
    return reply


# -- the middlewares ----------------------------------------------------------------------------------


class Middleware:
    """Base: a named handler wrapper; ``notes`` lists options accepted but not emulated."""

    type = ""

    def __init__(self, name: str, cfg: dict[str, Any]):
        self.name = name
        self.cfg = cfg
        self.notes: list[str] = []

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:  # pragma: no cover - every type overrides
        raise NotImplementedError


class RedirectScheme(Middleware):
    """redirectScheme: send the client to the same URL with another scheme (and port)."""

    type = "redirectScheme"
    PATTERN = re.compile(r"^(https?://)?(\[[\w:.]+\]|[\w._-]+)?(:\d+)?(.*)$", re.ASCII | re.DOTALL)
    URI = re.compile(r"^(https?)://(\[[\w:.]+\]|[\w._-]+)?(:\d+)?(.*)$", re.ASCII | re.DOTALL)

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        self.scheme = str(cfg.get("scheme") or "")
        if not self.scheme:
            raise BuildError("you must provide a target scheme")
        port = str(cfg.get("port") or "")
        default = (self.scheme == "http" and port == "80") or (self.scheme == "https" and port == "443")
        self.port = f":{port}" if port and not default else ""
        self.permanent = bool(cfg.get("permanent"))
        self.force_permanent = bool(cfg.get("forcePermanentRedirect"))

    def client_url(self, ex: Exchange) -> str:
        scheme, uri = "http", ex.request_uri or ex.uri()
        host, _, port = ex.host.rpartition(":") if ex.host.count(":") == 1 else (ex.host, "", "")
        port = f":{port}" if port else ""
        m = self.URI.match(uri)
        if m:
            scheme, host, port, uri = m.group(1), m.group(2) or host, m.group(3) or port, m.group(4)
        if ex.tls:
            scheme = "https"
        proto = ex.headers.get("X-Forwarded-Proto").lower()
        if proto in ("http", "ws"):
            scheme = "http"
        elif proto in ("https", "wss"):
            scheme = "https"
        if (scheme, port) in (("http", ":80"), ("https", ":443")):
            port = ""
        return f"{scheme}://{host}{port}{uri}"

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        old = self.client_url(ex)
        m = self.PATTERN.match(old)
        new = f"{self.scheme}://{(m.group(2) or '') if m else ''}{self.port}{(m.group(4) or '') if m else ''}"
        if new == old:
            return nxt(ex)
        status = (301 if ex.method == "GET" else 308) if self.permanent else (302 if ex.method == "GET" else 307)
        if self.force_permanent:
            status = 308
        ex.hop(f"redirectScheme {self.name}: {status} to {new}", middleware=self.name, status=status, location=new)
        return moved(new, status)


class RateLimit(Middleware):
    """rateLimit: a token bucket per source (see :mod:`.ratelimit`); 429 when the wait would be too long."""

    type = "rateLimit"

    def __init__(self, name: str, cfg: dict[str, Any], now: Callable[[], float]):
        super().__init__(name, cfg)
        if cfg.get("redis"):
            raise NotEmulated("rateLimit.redis (a shared limiter in Redis) is not emulated")
        period = parse_period(cfg.get("period")) if cfg.get("period") is not None else 0.0
        if period < 0:
            raise BuildError(f"negative value not valid for period: {go_duration(period)}")
        self.limiter = Limiter(int(cfg.get("average") or 0), period, int(cfg.get("burst") or 1))
        self.now = now
        criterion = cfg.get("sourceCriterion") or {}
        chosen = [k for k in ("ipStrategy", "requestHeaderName", "requestHost") if criterion.get(k)]
        if len(chosen) > 1:
            pair = {("ipStrategy", "requestHeaderName"): "iPStrategy and RequestHeaderName",
                    ("ipStrategy", "requestHost"): "iPStrategy and RequestHost",
                    ("requestHeaderName", "requestHost"): "requestHost and RequestHeaderName"}[(chosen[0], chosen[1])]
            raise BuildError(f"getting source extractor: {pair} are mutually exclusive")
        if criterion.get("requestHeaderName"):
            header = str(criterion["requestHeaderName"])
            self.source: Callable[[Exchange], str] = lambda ex: ex.headers.get(header)
        elif criterion.get("requestHost"):
            self.source = lambda ex: ex.host
        else:
            self.source = ip_strategy(criterion.get("ipStrategy"))

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        source = self.source(ex)
        allowed, delay = self.limiter.allow(f"{self.name}:{source}", self.now())
        if not allowed:
            ex.hop(f"rateLimit {self.name}: no token for {source or '(empty source)'} for {go_duration(delay)}: 429",
                   middleware=self.name, source=source, delay=delay, status=429)
            reply = status_only(429)
            reply.headers.set("Retry-After", f"{math.ceil(delay):.0f}")
            reply.headers.set("X-Retry-In", go_duration(delay))
            return reply
        if delay > 0:
            ex.delay += delay
            ex.hop(f"rateLimit {self.name}: {source} waits {go_duration(delay)} for its token", middleware=self.name,
                   source=source, delay=delay)
        return nxt(ex)


class IPAllowList(Middleware):
    """ipAllowList (and the deprecated ipWhiteList): only clients in ``sourceRange``; 403 otherwise."""

    type = "ipAllowList"

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        ranges = list(cfg.get("sourceRange") or [])
        if not ranges:
            raise BuildError("sourceRange is empty, IPAllowLister not created")
        self.status = int(cfg.get("rejectStatusCode") or 403)
        if self.status not in {s.value for s in http.HTTPStatus}:
            raise BuildError(f"invalid HTTP status code {self.status}")
        try:
            self.checker = IPChecker(ranges)
        except BuildError as exc:
            raise BuildError(f"cannot parse CIDRs {ranges}: {exc}") from None
        self.strategy = ip_strategy(cfg.get("ipStrategy"))

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        client = self.strategy(ex)
        if not client or not self.checker.contains(client):
            ex.hop(f"ipAllowList {self.name}: {client or '(no address)'} is not in "
                   f"{', '.join(str(n) for n in self.checker.networks)}: {self.status}",
                   middleware=self.name, client=client, status=self.status, allowed=False)
            return status_only(self.status)
        ex.hop(f"ipAllowList {self.name}: {client} allowed", middleware=self.name, client=client, allowed=True)
        return nxt(ex)


class HeadersMiddleware(Middleware):
    """headers: custom request/response headers, CORS, and the security headers of unrolled/secure."""

    type = "headers"
    SECURE = ("allowedHosts", "hostsProxyHeaders", "sslRedirect", "sslTemporaryRedirect", "sslForceHost", "sslHost",
              "sslProxyHeaders", "stsSeconds", "stsIncludeSubdomains", "stsPreload", "forceSTSHeader", "frameDeny",
              "customFrameOptionsValue", "contentTypeNosniff", "browserXssFilter", "customBrowserXSSValue",
              "contentSecurityPolicy", "contentSecurityPolicyReportOnly", "publicKey", "referrerPolicy",
              "featurePolicy", "permissionsPolicy", "isDevelopment")
    CORS = ("accessControlAllowCredentials", "accessControlAllowHeaders", "accessControlAllowMethods",
            "accessControlAllowOriginList", "accessControlAllowOriginListRegex", "accessControlExposeHeaders",
            "accessControlMaxAge", "addVaryHeader")

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        custom = bool(cfg.get("customRequestHeaders") or cfg.get("customResponseHeaders"))
        secure = any(cfg.get(k) not in (None, "", [], {}, False) or (k == "stsSeconds" and k in cfg)
                     for k in self.SECURE)
        cors = any(cfg.get(k) not in (None, "", [], {}, False) for k in self.CORS)
        if not (custom or secure or cors):
            raise BuildError("headers configuration not valid")
        for key in ("sslRedirect", "sslTemporaryRedirect", "sslForceHost", "sslHost"):
            if cfg.get(key):
                raise NotEmulated(f"headers.{key} (deprecated in Traefik v3) is not emulated; use redirectScheme")
        try:
            self.origin_regexes = [re.compile(r) for r in cfg.get("accessControlAllowOriginListRegex") or []]
        except re.error as exc:
            raise BuildError(f"error occurred during origin parsing: {exc}") from None

    def _secure_headers(self, ex: Exchange) -> dict[str, str]:
        cfg = self.cfg
        ssl = ex.tls is not None or any(ex.headers.get(k) == v for k, v in (cfg.get("sslProxyHeaders") or {}).items())
        out: dict[str, str] = {}
        sts = int(cfg.get("stsSeconds") or 0)
        if sts and (ssl or cfg.get("forceSTSHeader")) and not cfg.get("isDevelopment"):
            out["Strict-Transport-Security"] = (f"max-age={sts}" + ("; includeSubDomains" if cfg.get(
                "stsIncludeSubdomains") else "") + ("; preload" if cfg.get("stsPreload") else ""))
        if cfg.get("customFrameOptionsValue"):
            out["X-Frame-Options"] = cfg["customFrameOptionsValue"]
        elif cfg.get("frameDeny"):
            out["X-Frame-Options"] = "DENY"
        if cfg.get("contentTypeNosniff"):
            out["X-Content-Type-Options"] = "nosniff"
        if cfg.get("customBrowserXSSValue"):
            out["X-Xss-Protection"] = cfg["customBrowserXSSValue"]
        elif cfg.get("browserXssFilter"):
            out["X-Xss-Protection"] = "1; mode=block"
        for key, header in (("contentSecurityPolicy", "Content-Security-Policy"),
                            ("contentSecurityPolicyReportOnly", "Content-Security-Policy-Report-Only"),
                            ("referrerPolicy", "Referrer-Policy"), ("featurePolicy", "Feature-Policy"),
                            ("permissionsPolicy", "Permissions-Policy"), ("publicKey", "Public-Key-Pins")):
            if cfg.get(key):
                out[header] = str(cfg[key])
        return out

    def _match_origin(self, origin: str) -> str | None:
        for item in self.cfg.get("accessControlAllowOriginList") or []:
            if item == origin:
                return item
            if item == "*":
                return origin if self.cfg.get("accessControlAllowCredentials") else item
        return origin if any(r.search(origin) for r in self.origin_regexes) else None

    def _preflight(self, ex: Exchange) -> Reply | None:
        cfg = self.cfg
        method, origin = ex.headers.get("Access-Control-Request-Method"), ex.headers.get("Origin")
        if not (method and origin and ex.method == "OPTIONS" and any(cfg.get(k) for k in self.CORS)):
            return None
        reply = Reply(200, Headers({"Content-Length": "0"}))
        creds = bool(cfg.get("accessControlAllowCredentials"))
        if creds:
            reply.headers.set("Access-Control-Allow-Credentials", "true")
        allow_headers = cfg.get("accessControlAllowHeaders") or []
        if "*" in allow_headers and creds:
            if ex.headers.get("Access-Control-Request-Headers"):
                reply.headers.set("Access-Control-Allow-Headers", ex.headers.get("Access-Control-Request-Headers"))
        elif allow_headers:
            reply.headers.set("Access-Control-Allow-Headers", ",".join(allow_headers))
        methods = cfg.get("accessControlAllowMethods") or []
        if "*" in methods and creds:
            reply.headers.set("Access-Control-Allow-Methods", method)
        elif methods:
            reply.headers.set("Access-Control-Allow-Methods", ",".join(methods))
        match = self._match_origin(origin)
        if match is not None:
            reply.headers.set("Access-Control-Allow-Origin", match)
        if cfg.get("accessControlMaxAge") is not None:
            reply.headers.set("Access-Control-Max-Age", str(int(cfg["accessControlMaxAge"])))
        expose = cfg.get("accessControlExposeHeaders") or []
        if expose and not ("*" in expose and creds):
            reply.headers.set("Access-Control-Expose-Headers", ",".join(expose))
        return reply

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        cfg = self.cfg
        preflight = self._preflight(ex)
        if preflight is not None:
            ex.hop(f"headers {self.name}: CORS preflight answered", middleware=self.name, status=200)
            return preflight
        for key, value in (cfg.get("customRequestHeaders") or {}).items():
            if value == "":
                ex.headers.delete(key)
            elif key.lower() == "host":
                ex.host = value
            else:
                ex.headers.set(key, value)
        allowed = cfg.get("allowedHosts") or []
        if allowed and not cfg.get("isDevelopment"):
            host = ex.host
            for header in cfg.get("hostsProxyHeaders") or []:
                if ex.headers.get(header):
                    host = ex.headers.get(header)
                    break
            if not any(a.lower() == host.lower() for a in allowed):
                ex.hop(f"headers {self.name}: host {host} is not in allowedHosts: 500 Bad Host", middleware=self.name,
                       status=500)
                return http_error(500, "Bad Host")
        secure = self._secure_headers(ex)
        reply = nxt(ex)
        for key, value in secure.items():
            reply.headers.set(key, value)
        for key, value in (cfg.get("customResponseHeaders") or {}).items():
            if value == "":
                reply.headers.delete(key)
            else:
                reply.headers.set(key, value)
        origin = self._match_origin(ex.headers.get("Origin")) if ex.headers.get("Origin") else None
        if origin is not None:
            reply.headers.set("Access-Control-Allow-Origin", origin)
        if cfg.get("accessControlAllowCredentials"):
            reply.headers.set("Access-Control-Allow-Credentials", "true")
        expose = cfg.get("accessControlExposeHeaders") or []
        if expose and not ("*" in expose and cfg.get("accessControlAllowCredentials")):
            reply.headers.set("Access-Control-Expose-Headers", ",".join(expose))
        if cfg.get("addVaryHeader") and reply.headers.get("Vary") != "Origin":
            vary = reply.headers.get("Vary")
            reply.headers.set("Vary", (vary + "," if vary else "") + "Origin")
        added = sorted(set(secure) | {k for k, v in (cfg.get("customResponseHeaders") or {}).items() if v})
        if added:
            ex.hop(f"headers {self.name}: response headers {', '.join(added)}", middleware=self.name, added=added)
        return reply


class Buffering(Middleware):
    """buffering: read the whole body first; a request (or response) body over its maximum gets 413."""

    type = "buffering"

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        self.max_request = int(cfg.get("maxRequestBodyBytes") or 0)
        self.max_response = int(cfg.get("maxResponseBodyBytes") or 0)
        if cfg.get("retryExpression"):
            raise NotEmulated("buffering.retryExpression is not emulated")

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        if self.max_request > 0 and len(ex.body) > self.max_request:
            ex.hop(f"buffering {self.name}: request body of {len(ex.body)} bytes is over maxRequestBodyBytes "
                   f"{self.max_request}: 413", middleware=self.name, status=413, size=len(ex.body))
            return status_only(413)
        reply = nxt(ex)
        if self.max_response > 0 and len(reply.body) > self.max_response:
            ex.hop(f"buffering {self.name}: response body of {len(reply.body)} bytes is over maxResponseBodyBytes "
                   f"{self.max_response}: 413", middleware=self.name, status=413)
            return status_only(413)
        return reply


class StripPrefix(Middleware):
    """stripPrefix: remove the first matching prefix from the path; the backend gets X-Forwarded-Prefix."""

    type = "stripPrefix"

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        self.prefixes = [str(p).strip() for p in cfg.get("prefixes") or []]
        self.force_slash = bool(cfg.get("forceSlash"))

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        decoded = unquote(ex.path)
        for prefix in self.prefixes:
            if not decoded.startswith(prefix):
                continue
            raw = ex.path[_encoded_prefix_len(ex.path, prefix):]
            if self.force_slash:
                stripped = "/" + raw.lstrip("/")
            else:
                stripped = raw if raw.startswith("/") or not raw else "/" + raw
            if stripped and sanitize_path(stripped) != stripped:
                ex.hop(f"stripPrefix {self.name}: {stripped!r} is not a clean path: 400", middleware=self.name,
                       status=400)
                return http_error(400, "Bad Request")
            ex.hop(f"stripPrefix {self.name}: {ex.path} → {stripped or '/'}", middleware=self.name, prefix=prefix)
            ex.path = stripped or "/"
            ex.headers.add("X-Forwarded-Prefix", prefix)
            break
        return nxt(ex)


def _encoded_prefix_len(raw: str, decoded_prefix: str) -> int:
    """How many bytes of the escaped path spell the decoded prefix (%XX counts as one character)."""
    decoded = i = 0
    while i < len(raw) and decoded < len(decoded_prefix):
        i += 3 if raw[i] == "%" and i + 2 < len(raw) else 1
        decoded += 1
    return i


class BasicAuth(Middleware):
    """basicAuth: HTTP Basic credentials checked against htpasswd lines; 401 with WWW-Authenticate otherwise."""

    type = "basicAuth"

    def __init__(self, name: str, cfg: dict[str, Any]):
        super().__init__(name, cfg)
        self.users: dict[str, str] = {}
        for line in cfg.get("users") or []:
            parts = line.split(":")
            if len(parts) != 2:
                raise BuildError(f"error parsing BasicUser: {line}")
            self.users[parts[0]] = parts[1]
        if not self.users:
            raise BuildError("no users found in ")
        self.realm = str(cfg.get("realm") or "traefik")
        bcrypt = sorted(u for u, h in self.users.items() if htpasswd.is_bcrypt(h))
        if bcrypt:
            self.notes.append(f"basicAuth {name}: bcrypt password hashes are not emulated, so "
                              f"{', '.join(bcrypt)} can never log in here (use `htpasswd -m` or a "
                              "kubernetes.io/basic-auth Secret)")

    def __call__(self, ex: Exchange, nxt: Handler) -> Reply:
        user, password = _basic_credentials(ex.headers.get("Authorization"))
        ok = user is not None and user in self.users and htpasswd.check(password or "", self.users[user])
        ex.username = user or ""
        if not ok:
            ex.hop(f"basicAuth {self.name}: " + (f"wrong credentials for {user!r}" if user is not None
                                                 else "no credentials") + ": 401", middleware=self.name, status=401)
            return Reply(401, Headers({"Content-Type": "text/plain",
                                       "Www-Authenticate": f'Basic realm="{self.realm}"'}), b"401 Unauthorized\n")
        ex.hop(f"basicAuth {self.name}: {user} authenticated", middleware=self.name, user=user)
        if self.cfg.get("headerField"):
            ex.headers.delete(self.cfg["headerField"])
            ex.headers.set(self.cfg["headerField"], user or "")
        if self.cfg.get("removeHeader"):
            ex.headers.delete("Authorization")
        return nxt(ex)


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    """net/http Request.BasicAuth: ``Basic base64(user:password)``, scheme case-insensitive."""
    if not header[:6].lower() == "basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)


# -- the chain builder --------------------------------------------------------------------------------


@dataclass
class Builder:
    """BuildMiddlewareChain: each router (or service) builds its own instance of every middleware it uses.

    So two routers using one rateLimit Middleware have separate buckets, as in Traefik (each chain calls the
    constructor). Instances are kept across reloads while the router and the Middleware are unchanged.
    """

    defs: dict[str, MiddlewareDef]
    now: Callable[[], float]
    cache: dict[tuple[str, str], Middleware] = field(default_factory=dict)  # (scope, fingerprint) -> instance
    notes: dict[str, list[str]] = field(default_factory=dict)  # qualified name -> not-emulated options
    scope: str = ""  # the router or service being built
    used: set[tuple[str, str]] = field(default_factory=set)

    def chain(self, names: list[str], provider: str, handler: Handler, seen: tuple[str, ...] = ()) -> Handler:
        """Wrap ``handler`` in the named middlewares (first name outermost); raises BuildError."""
        for name in reversed(names):
            qualified = qualify(name, provider)
            handler = self._wrap(qualified, handler, seen)
        return handler

    def _wrap(self, qualified: str, handler: Handler, seen: tuple[str, ...]) -> Handler:
        defn = self.defs.get(qualified)
        if defn is None or defn.error:
            raise BuildError(f'middleware "{qualified}" does not exist')
        if qualified in seen:
            path = "->".join((*seen, qualified))
            raise BuildError(f"could not instantiate middleware {qualified}: recursion detected in {path}")
        if defn.kind == "chain":
            names = []
            for ref in defn.config.get("middlewares") or []:
                ref_ns = ref.get("namespace") or defn.namespace
                if "@" in (ref.get("name") or ""):
                    names.append(ref["name"])
                elif ref_ns != defn.namespace:
                    raise BuildError(f"invalid reference to middleware {ref.get('name')}: allowCrossNamespace is "
                                     "disabled, cross-namespace are disallowed")
                else:
                    names.append(normalize(f"{ref_ns}-{ref.get('name', '')}"))
            return self.chain(names, PROVIDER, handler, (*seen, qualified))
        middleware = self.instance(defn)
        return lambda ex, m=middleware, nxt=handler: m(ex, nxt)

    def instance(self, defn: MiddlewareDef) -> Middleware:
        """The built middleware for a definition (state, like rate-limit buckets, survives rebuilds)."""
        key = (self.scope, defn.fingerprint)
        self.used.add(key)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        kind, cfg = defn.kind, defn.config
        if kind not in EMULATED:
            raise NotEmulated(f"the {kind} middleware is not emulated by the k8snet sandbox (emulated: "
                              f"{', '.join(EMULATED)})")
        built: Middleware
        if kind == "redirectScheme":
            built = RedirectScheme(defn.name, cfg)
        elif kind == "rateLimit":
            built = RateLimit(defn.name, cfg, self.now)
        elif kind in ("ipAllowList", "ipWhiteList"):
            built = IPAllowList(defn.name, cfg)
        elif kind == "headers":
            built = HeadersMiddleware(defn.name, cfg)
        elif kind == "buffering":
            built = Buffering(defn.name, cfg)
        elif kind == "stripPrefix":
            built = StripPrefix(defn.name, cfg)
        else:
            built = BasicAuth(defn.name, cfg)
        if kind == "ipWhiteList":
            built.notes.append(f"{defn.name}: ipWhiteList is deprecated in Traefik v3; use ipAllowList")
        self.notes[defn.name] = built.notes
        self.cache[key] = built
        return built
