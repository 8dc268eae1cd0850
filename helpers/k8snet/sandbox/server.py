"""The HTTP API: routing, authentication, content negotiation and watch streams.

Stateless translation only (as in moto's server mode): each request becomes a
call on :class:`~.apiserver.Api`; state and errors live below this layer.
Admin endpoints (reset, seed, clock) live under ``/k8snet/admin/``, apart from
the Kubernetes API.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from . import customresources, decode, discovery, errors, openapi, options, protobuf, reviews, tables
from .apiserver import DeleteOptions, WriteOptions
from .auth.clientcerts import CertificateRejected
from .auth.clientcerts import authenticate as authenticate_certificate
from .auth.impersonation import EXTRA_PREFIX, GROUP_HEADER, ImpersonationError, impersonate
from .auth.tokens import InvalidToken
from .auth.users import ADMIN, ANONYMOUS_USER, Attributes, UserInfo, forbidden, request_attributes
from .registry import ResourceType
from .store import TooOld

if TYPE_CHECKING:
    from .instance import Sandbox

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}
PUBLIC_INFO = ("clusterrolebindings.rbac.authorization.k8s.io", "system:public-info-viewer")
"""The binding that lets anyone read /version (kube-apiserver's bootstrap policy, auth/bootstrap-policy.yaml)."""
API_SERVER: web.AppKey[ApiServer] = web.AppKey("api_server")
"""The :class:`ApiServer` of an aiohttp application (its handlers find the server that is stopping)."""
BEFORE_READY = ("/version", "/api", "/api/v1")
"""Paths whose answers no step of the sandbox's start changes (:meth:`ApiServer._answers_before_ready`)."""
RETURNS_DELETED = {"Pod", "Service", "Namespace", "CustomResourceDefinition"}
"""Kinds whose registry returns the deleted object rather than a Status (ReturnDeletedObject)."""

log = logging.getLogger("k8snet.sandbox.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER: Any = web.RequestKey("user", UserInfo) if hasattr(web, "RequestKey") else "user"  # aiohttp 3.12+ has keys
"""Where a request keeps who it acts as (authenticated, then impersonated)."""


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_body(obj: Any) -> bytes:
    """A response body as kube-apiserver's JSON serializer writes it: compact, then a newline (Go's
    ``json.NewEncoder(w).Encode``, apimachinery runtime/serializer/json)."""
    return dumps(obj) + b"\n"


def warning_header(text: str) -> str:
    """A Warning header value as client-go's NewWarningHeader writes it: code, agent, then the text as an HTTP
    quoted-string (``"`` and ``\\`` escaped), which is what kubectl parses back."""
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_response(obj: Any, status: int = 200, warnings: list[str] | None = None,
                  content_type: str = "application/json") -> web.Response:
    resp = web.Response(body=json_body(obj), status=status, content_type=content_type.split(";")[0])
    if ";" in content_type:
        resp.headers["Content-Type"] = content_type
    for w in warnings or []:
        resp.headers.add("Warning", warning_header(w))
    return resp


def raw_response(status: int, body: bytes, headers: dict[str, str]) -> web.Response:
    """Send a body built elsewhere (discovery, OpenAPI) with its own headers."""
    return web.Response(body=body, status=status, headers=headers)


def success_status(rt: ResourceType, obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    details = {"name": meta.get("name", ""), "kind": rt.plural, "uid": meta.get("uid", "")}
    if rt.group:
        details["group"] = rt.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class ApiServer:
    """The aiohttp application serving one sandbox."""

    def __init__(self, sandbox: Sandbox, token: str, ready: asyncio.Event | None = None):
        self.sandbox = sandbox
        self.token = token
        self.ready = ready
        """Set once the sandbox has started (:meth:`ready_mw`); None: it had started before this server was made."""
        self.held = 0
        """Requests waiting for :attr:`ready` now."""
        self.last_request = 0.0
        """When the latest request came (the event loop's clock), for :meth:`quiet`."""
        # Go's net/http accepts request lines and headers up to 1 MiB (DefaultMaxHeaderBytes); so do we.
        self.app = web.Application(middlewares=[self.ready_mw, self.errors_mw, self.auth_mw],
                                   client_max_size=decode.MAX_BODY_BYTES,
                                   handler_args={"max_line_size": 1 << 20, "max_field_size": 1 << 20})
        self.app.router.add_route("*", "/{path:.*}", self.dispatch)
        self.stopping = asyncio.Event()
        self.app[API_SERVER] = self

    # -- middlewares -------------------------------------------------------------------

    @web.middleware
    async def ready_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Hold each request until the sandbox has started: the process listens as soon as it can (so
        ``k8snet sandbox up`` returns and kubectl connects while it starts), but a request is answered only once
        the bootstrap objects, the add-ons' CRDs and the RBAC policy are in the store, so nothing is missing
        from an answer that would be there a moment later. kube-apiserver's /readyz likewise fails until its
        post-start hooks (the bootstrap roles, the CRD informers) have run; here the client waits instead of
        being refused. ``GET /version`` is answered at once (:meth:`_answers_before_ready`)."""
        self.last_request = asyncio.get_running_loop().time()
        if self.ready is not None and not self.ready.is_set() and not self._answers_before_ready(request):
            self.held += 1
            try:
                await self.ready.wait()
            finally:
                self.held -= 1
        return await handler(request)

    @web.middleware
    async def errors_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.ApiError as exc:
            return json_response(exc.status(), exc.code)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug answers like kube-apiserver's panic recovery, and is logged
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            return json_response(errors.ApiError(f"Internal error occurred: {type(exc).__name__}: {exc}").status(),
                                 500)

    @web.middleware
    async def auth_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Authentication, then authorization, as kube-apiserver's filters run them.

        A verified client certificate first (the x509 authenticator), then bearer tokens as kube-apiserver reads
        them (authentication/request/bearertoken: the scheme is case-insensitive); a request with no credentials
        is anonymous (system:anonymous, group system:unauthenticated), and RBAC lets anonymous users read only the
        health and version endpoints (the system:public-info-viewer ClusterRole): anything else is a 403, as on
        kind; a token or certificate that fails is a 401. ``Impersonate-*`` headers then
        change who the request acts as, if the user may (auth/impersonation.py). Every request is then authorized
        by RBAC (filters/authorization.go), the admin's too: a denial is the 403 of
        responsewriters.Forbidden.
        """
        rejected = False
        try:
            user = self.client_certificate(request)
        except CertificateRejected:
            user, rejected = None, True
        if rejected:
            raise errors.unauthorized()  # a rejected certificate fails the union (union.NewFailOnError)
        if user is None:
            scheme, _, rest = request.headers.get("Authorization", "").strip().partition(" ")
            supplied = rest.split(" ", 1)[0] if scheme.lower() == "bearer" else ""
            if supplied:  # a token that fails is an error, never anonymous (union.NewFailOnError)
                user = self.authenticate(supplied)
                if user is None:
                    raise errors.unauthorized()
        if user is None:  # no credentials (or none an authenticator reads: Basic, an empty Bearer)
            user = ANONYMOUS_USER
        if any(k.lower().startswith("impersonate-") for k in request.headers):
            extras = [(k[len(EXTRA_PREFIX):], v) for k, v in request.headers.items()
                      if k.lower().startswith(EXTRA_PREFIX.lower())]
            try:
                user = impersonate(self.sandbox.authorizer, user, request.headers,
                                   request.headers.getall(GROUP_HEADER, []), extras)
            except ImpersonationError as exc:  # responsewriters.InternalError: plain text, sanitized
                text = f'Internal Server Error: "{request.path_qs}": {exc}'
                return web.Response(status=500, text=text.replace("&", "&amp;").replace("<", "&lt;")
                                    .replace(">", "&gt;") + "\n", headers={"X-Content-Type-Options": "nosniff"})
        request[USER] = user
        self.authorize(request_attributes(user, request.method, request.path, request.query,
                                          request.headers.get("Upgrade", "").lower() == "websocket"))
        return await handler(request)

    def client_certificate(self, request: web.Request) -> UserInfo | None:
        """The user of the client certificate the TLS handshake verified, if one was sent (auth/clientcerts.py);
        it comes before bearer tokens, as kube-apiserver's x509 authenticator does.

        Raises:
            CertificateRejected: the certificate is outside its validity on the sandbox clock.
        """
        transport = request.transport
        tls = transport.get_extra_info("ssl_object") if transport is not None else None
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        return authenticate_certificate(der, self.sandbox.clock.now())

    def authenticate(self, token: str) -> UserInfo | None:
        """The user a bearer token names: the kubeconfig's token is kind's admin, a ServiceAccount token its
        account (auth/tokens.py); anything else, an expired token or one whose account is gone, is nobody."""
        if hmac.compare_digest(token.encode(), self.token.encode()):
            return ADMIN
        if token.count(".") == 2:
            try:
                return self.sandbox.tokens.authenticate(token)[0]
            except InvalidToken:
                return None
        return None

    def authorize(self, attrs: Attributes) -> None:
        """Raise the 403 of a request the authorizer does not allow (every verb it needs)."""
        for verb in (attrs.verb, *attrs.also):
            checked = replace(attrs, verb=verb, also=()) if attrs.also else attrs
            allowed, reason = self.sandbox.authorizer.authorize(checked)
            if not allowed:
                raise forbidden(checked, reason)

    def _answers_before_ready(self, request: web.Request) -> bool:
        """``GET /version``, which kube-apiserver answers as soon as it listens (only /readyz and what it guards wait
        for its post-start hooks), and the core group's discovery (``/api``, ``/api/v1``), which no CRD can add to:
        each is fixed, so it is the same answer a moment later, once the RBAC policy that lets clients read it is
        in the store (a new store's first preparation step). kubectl's first command asks for ``/api`` while the
        add-ons' CRDs go in, and only its ``/apis`` waits for them."""
        return request.path.rstrip("/") in BEFORE_READY and request.method == "GET" and \
            self.sandbox.store.get(PUBLIC_INFO[0], "", PUBLIC_INFO[1]) is not None

    async def quiet(self, period: float, timeout: float) -> bool:
        """Wait until a request has come and then none for ``period`` seconds: a client's first burst is over
        (False when ``timeout`` seconds passed first). The sandbox process starts what can wait (Traefik) then."""
        loop = asyncio.get_running_loop()
        since, deadline = loop.time(), loop.time() + timeout
        while self.last_request < since or loop.time() < self.last_request + period:
            now = loop.time()
            if now >= deadline:
                return False
            wake = deadline if self.last_request < since else min(self.last_request + period, deadline)
            await asyncio.sleep(min(wake - now, period))
        return True

    # -- routing -----------------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"].strip("/")
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        sb = self.sandbox
        if path == "/version":
            return json_response(sb.version_info())
        if parts[:1] in (["healthz"], ["livez"], ["readyz"]):
            return health(parts, "verbose" in request.query)
        if parts[:2] == ["k8snet", "admin"]:
            return await self.admin(request, parts[2:])
        if parts[:1] == ["openapi"]:
            return self.openapi(request, parts[1:])
        found = discovery.respond(sb.registry, path, request.headers.get("Accept"),
                                  request.headers.get("If-None-Match"))
        if found is not None:
            return raw_response(found.status, found.body, found.headers)
        if parts and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif parts and parts[0] == "apis" and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.ApiError("the server could not find the requested resource", 404, "NotFound",
                                  {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
        return await self.resource(request, group, version, rest)

    def openapi(self, request: web.Request, rest: list[str]) -> web.Response:
        sb = self.sandbox
        if rest[:1] == ["v3"]:
            found = openapi.respond_v3(sb.registry, sb.schemas, "/".join(rest[1:]), request.query.get("hash"),
                                       request.headers.get("Accept"), request.headers.get("If-None-Match"),
                                       sb.clock.now())
            return raw_response(found.status, found.body, found.headers)
        if rest == ["v2"]:
            return raw_response(200, openapi.OPENAPI_V2_STUB, {"Content-Type": openapi.OPENAPI_V2_CONTENT_TYPE})
        found = openapi.openapi_v2_status()
        return raw_response(found.status, found.body, found.headers)

    # -- resources ---------------------------------------------------------------------

    def _locate(self, group: str, version: str, rest: list[str]) -> tuple[ResourceType, str | None, str, str]:
        """Split a resource path into (type, namespace, name, subresource)."""
        registry = self.sandbox.registry
        ns: str | None = None
        namespaces = registry.lookup("", "v1", "namespaces")
        if rest[0] == "namespaces" and len(rest) >= 3 and (group or rest[2] not in namespaces.subresources):
            ns, rest = rest[1], rest[2:]  # a resource inside a namespace (not a namespace's own subresource)
        rt = registry.lookup(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if rt is None or (ns is not None and not rt.namespaced) or (len(rest) > 3 and sub != "proxy") or \
                (sub and sub not in rt.subresources):
            # an unserved resource or subresource is kube-apiserver's generic 404; NotFound naming an object is
            # only for an object that is missing
            raise errors.ApiError("the server could not find the requested resource", 404, "NotFound",
                                  {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
        return rt, ns, name, sub

    async def resource(self, request: web.Request, group: str, version: str, rest: list[str]) -> web.StreamResponse:
        rt, ns, name, sub = self._locate(group, version, rest)
        if sub == "proxy":
            from . import proxysub

            path = "/".join(rest[5:] if ns is not None else rest[3:])
            return await proxysub.handle(self.sandbox, request, rt, ns or "", name, path)
        resp = await self._resource(request, rt, ns, name, sub)
        sv = self.sandbox.api.custom(rt)
        if sv is not None and not resp.prepared:  # a deprecated CRD version warns on every request
            for warning in sv.warnings:
                resp.headers.add("Warning", warning_header(warning))
        if rt.group == "" and rt.plural == "endpoints" and not resp.prepared:
            # kube-apiserver 1.33 warns on every v1 Endpoints request (KEP-4974)
            resp.headers.add("Warning", '299 - "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 '
                                        'EndpointSlice"')
        return resp

    async def _resource(self, request: web.Request, rt: ResourceType, ns: str | None, name: str,
                        sub: str) -> web.StreamResponse:
        method = request.method
        q = request.query
        api = self.sandbox.api
        key_ns = ns or ""
        if rt.namespaced and name and ns is None:
            raise errors.not_found(rt.plural, rt.group, name)
        if sub in ("exec", "attach", "portforward", "log", "binding", "eviction"):
            return await self.sandbox.subresource(request, rt, key_ns, name, sub)
        if sub == "scale":
            return await self.scale(request, rt, key_ns, name)
        if reviews.is_review(rt.group, rt.plural) and method == "POST" and not name:
            return json_response(reviews.answer(self.sandbox.authorizer, request[USER], rt.group, rt.plural,
                                                key_ns, await self.body(request), self.sandbox.tokens.review), 201)
        if sub == "token":  # serviceaccounts/token: the TokenRequest API, answered and never stored
            if method != "POST":
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            return json_response(self.sandbox.tokens.request(key_ns, name, await self.body(request)), 201)
        verb = request_verb(method, name, q)
        sv = api.custom(rt)
        if sv is not None and sv.terminating and verb == "create":  # customresource_handler.go serveResource
            raise errors.ApiError("create not allowed while custom resource definition is terminating", 405,
                                  "MethodNotAllowed", {"group": rt.group, "kind": rt.plural})
        # a terminating CRD's discovery drops update and patch, but its handler serves them (finalizers must go)
        terminating_write = sv is not None and sv.terminating and verb in ("update", "patch")
        if verb not in rt.verbs and not terminating_write:  # served read-only (its controller is not emulated)
            raise errors.ApiError("the server does not allow this method on the requested resource", 405,
                                  "MethodNotAllowed", {"kind": rt.plural, **({"group": rt.group} if rt.group else {}),
                                                       "causes": [{"reason": "UnexpectedServerResponse", "message":
                                                                   f"k8snet sandbox: {rt.group_resource} are served "
                                                                   "read-only; their controller is not emulated"}]})
        if method == "GET":
            watching = options.boolean(q, "watch")
            if not name:
                if watching:
                    return await self.watch(request, rt, ns)
                limit = options.int64(q, "limit") or 0
                items, list_meta = api.list(rt, ns, q.get("labelSelector"), q.get("fieldSelector"),
                                            max(limit, 0), q.get("continue"))  # a negative limit: no limit
                return self.respond_list(request, rt, items, list_meta)
            if watching:
                return await self.watch(request, rt, ns, name)
            return self.respond_object(request, rt, api.get(rt, key_ns, name))
        if method == "DELETE":
            delete = await self.delete_options(request)
            if not name:
                deleted = api.delete_collection(rt, ns, q.get("labelSelector"), q.get("fieldSelector"), delete)
                return self.respond_list(request, rt, deleted, {"resourceVersion": str(api.store.rv)})
            obj, gone = api.delete(rt, key_ns, name, delete)
            if gone and rt.kind not in RETURNS_DELETED:
                return json_response(success_status(rt, obj))
            return self.respond_object(request, rt, obj, 200 if gone else 202)
        opts = self.write_options(request)
        if method == "POST" and not name:
            options.validate_write("CreateOptions", q, opts.field_manager)
            body = await self.body(request, rt=rt, opts=opts)
            obj = api.create(rt, key_ns, body, opts)
            return self.respond_object(request, rt, obj, 201, opts.warnings)
        if method == "PUT" and name:
            options.validate_write("UpdateOptions", q, opts.field_manager)
            body = await self.body(request, rt=rt, opts=opts)
            obj = api.update(rt, key_ns, name, body, opts, sub if sub != "finalize" else "finalize")
            return self.respond_object(request, rt, obj, 200, opts.warnings)
        if method == "PATCH" and name:
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            patch_type = PATCH_TYPES.get(ctype)
            if patch_type is None or patch_type == "apply-cbor":
                raise errors.unsupported_media_type(ctype)
            if patch_type == "apply":
                opts.field_manager = q.get("fieldManager", "")  # apply requires an explicit manager
            options.validate_write("PatchOptions", q, opts.field_manager, patch_type)
            body = await self.body(request, yaml_ok=patch_type == "apply", rt=rt, opts=opts)
            obj = api.patch(rt, key_ns, name, patch_type, body, opts, sub)
            return self.respond_object(request, rt, obj, 200, opts.warnings)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    async def body(self, request: web.Request, yaml_ok: bool = False, rt: ResourceType | None = None,
                   opts: WriteOptions | None = None) -> Any:
        """The request body as JSON values (decode.py); duplicate fields answer as ``opts.field_validation``
        says (a strict decoding error, a warning, or the last one wins)."""
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise decode.too_large() from None
        ctype = request.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":  # kubectl 1.32+ typed clients (create subcommands)
            return protobuf.decode(raw) if raw else None
        if ctype == "application/cbor":
            raise errors.ApiError('the body of the request was in an unknown format - accepted media types '
                                  'include: application/json, application/yaml, application/vnd.kubernetes.protobuf',
                                  415, "UnsupportedMediaType")
        if not raw:
            return None
        as_yaml = yaml_ok or ctype in ("application/yaml", "application/x-yaml")
        decoded = decode.decode_yaml(raw) if as_yaml else decode.decode_json(raw)
        problems = decode.strict_problems(decoded, as_yaml)
        if problems and opts is not None and rt is not None:
            if opts.field_validation == "Strict":
                raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                                         "strict decoding error: " + ", ".join(problems))
            if opts.field_validation == "Warn":
                opts.warnings += problems
        return decoded.value

    @staticmethod
    def write_options(request: web.Request) -> WriteOptions:
        """dryRun, fieldManager, fieldValidation and force of a write (validated per verb by options.py)."""
        q = request.query
        # Without fieldManager the apiserver names the manager after the user agent's first word ("kubectl").
        agent = request.headers.get("User-Agent", "").split("/")[0].strip() or "unknown"
        return WriteOptions(dry_run=bool(options.dry_run(q)), field_manager=q.get("fieldManager") or agent,
                            field_validation=q.get("fieldValidation") or "Strict",
                            force=bool(options.boolean(q, "force")), user=request.get(USER))

    async def delete_options(self, request: web.Request) -> DeleteOptions:
        """The DeleteOptions of the query and the body (the query wins, as the apiserver merges them)."""
        q = request.query
        body = (await self.body(request)) if request.can_read_body else None
        if body is not None and not isinstance(body, dict):
            raise errors.bad_request("the body of the request was not a DeleteOptions object: json: cannot "
                                     f"unmarshal {_json_type(body)} into Go value of type v1.DeleteOptions")
        body = body or {}
        grace = options.int64(q, "gracePeriodSeconds")
        if grace is None:
            grace = _body_int(body, "gracePeriodSeconds")
        propagation = q.get("propagationPolicy", body.get("propagationPolicy"))
        orphan = options.boolean(q, "orphanDependents")
        if orphan is None and body.get("orphanDependents") is not None:
            orphan = bool(body["orphanDependents"])
        dry_run = options.dry_run(q) or list(body.get("dryRun") or [])
        options.validate_delete(propagation, orphan, dry_run)
        preconditions = body.get("preconditions") or {}
        if not isinstance(preconditions, dict):
            raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.preconditions of "
                                     "type v1.Preconditions")
        return DeleteOptions(propagation=propagation or ("Orphan" if orphan else None), grace_period=grace,
                             preconditions=preconditions, dry_run=bool(dry_run))

    # -- responses ---------------------------------------------------------------------

    def wants_table(self, request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def columns(self, rt: ResourceType) -> list[dict] | None:
        """A custom resource's additionalPrinterColumns (its CRD's), else None (the kind's own printer)."""
        sv = self.sandbox.api.custom(rt)
        return sv.columns if sv is not None else None

    def respond_object(self, request: web.Request, rt: ResourceType, obj: dict, status: int = 200,
                       warnings: list[str] | None = None) -> web.Response:
        if self.wants_table(request):
            table = tables.to_table(rt, [obj], self.sandbox.clock.now(),
                                    include_object=request.query.get("includeObject", "Metadata"),
                                    list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                    columns=self.columns(rt))
            return json_response(table, status, warnings)
        return json_response(obj, status, warnings)

    def respond_list(self, request: web.Request, rt: ResourceType, items: list[dict], list_meta: dict) -> web.Response:
        if self.wants_table(request):
            return json_response(tables.to_table(rt, items, self.sandbox.clock.now(),
                                                 include_object=request.query.get("includeObject", "Metadata"),
                                                 list_meta=list_meta, columns=self.columns(rt)))
        strip = ("apiVersion", "kind")
        body = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta,
                "items": [{k: v for k, v in o.items() if k not in strip} for o in items]}
        return json_response(body)

    # -- watch -------------------------------------------------------------------------

    async def watch(self, request: web.Request, rt: ResourceType, ns: str | None,
                    name: str | None = None) -> web.StreamResponse:
        """Stream watch events as newline-delimited JSON, as the apiserver does."""
        q = request.query
        api = self.sandbox.api
        labels_field = q.get("fieldSelector") or ""
        if name:
            labels_field = ",".join(x for x in (labels_field, f"metadata.name={name}") if x)
        from .selectors import parse_fields, parse_labels
        label_match = parse_labels(q.get("labelSelector"))
        field_match = parse_fields(labels_field, rt.selectable_fields, rt.kind, rt.api_version)
        rv_text = q.get("resourceVersion") or ""
        initial = rv_text in ("", "0") or q.get("sendInitialEvents") == "true"
        table = self.wants_table(request)
        include = q.get("includeObject", "Metadata")

        def matches(obj: dict) -> bool:
            return label_match(obj["metadata"].get("labels") or {}) and field_match(obj)

        timeout = options.int64(q, "timeoutSeconds") or 1800  # parsed before the watch exists: nothing leaks
        bookmarks = bool(options.boolean(q, "allowWatchBookmarks"))
        since = api.store.rv
        if not initial:
            try:
                since = int(rv_text)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv_text}") from None
        try:
            watcher = api.store.watch(rt.group_resource, ns, since)
        except TooOld:
            raise errors.gone(f"too old resource version: {rv_text} ({api.store.compacted_rv + 1})") from None
        resp = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        sv = api.custom(rt)
        for warning in sv.warnings if sv is not None else []:
            resp.headers.add("Warning", warning_header(warning))
        columns = self.columns(rt)

        def frame(kind: str, obj: dict) -> bytes:
            if kind != "BOOKMARK":
                obj = api.view(rt, obj)
            if table and kind != "BOOKMARK":
                obj = tables.to_table(rt, [obj], self.sandbox.clock.now(), include_object=include,
                                      list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                      columns=columns)
            return dumps({"type": kind, "object": obj}) + b"\n"

        def bookmark(rv: int, initial_end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return frame("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta})

        try:
            await resp.prepare(request)
            if initial:
                for obj in api.store.list(rt.group_resource, ns):
                    if matches(obj):
                        await resp.write(frame("ADDED", obj))
                if q.get("sendInitialEvents") == "true" and bookmarks:
                    await resp.write(bookmark(since, initial_end=True))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            last_rv = since
            while not self.stopping.is_set():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(remaining, 30.0))
                except TimeoutError:
                    if bookmarks:
                        await resp.write(bookmark(max(last_rv, api.store.rv)))
                    continue
                if event is None:
                    break
                last_rv = event.rv
                now_in = matches(event.obj)
                was_in = event.old is not None and matches(event.old) and event.type != "ADDED"
                if event.type == "DELETED":
                    if now_in or was_in:
                        await resp.write(frame("DELETED", event.obj))
                elif now_in:
                    await resp.write(frame("MODIFIED" if was_in else "ADDED", event.obj))
                elif was_in:  # left the selection: watchers see a DELETED (watch cache semantics)
                    await resp.write(frame("DELETED", event.obj))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.close()
        try:
            await resp.write_eof()
        except ConnectionResetError:
            pass
        return resp

    # -- scale -------------------------------------------------------------------------

    async def scale(self, request: web.Request, rt: ResourceType, ns: str, name: str) -> web.Response:
        """The autoscaling/v1 Scale subresource of Deployments and ReplicaSets, and of custom resources whose CRD
        declares one (its specReplicasPath, statusReplicasPath and labelSelectorPath)."""
        api = self.sandbox.api
        sv = api.custom(rt)
        obj = api.get(rt, ns, name)

        def scale_view(o: dict) -> dict:
            return customresources.scale_of(sv, o) if sv is not None else scale_of(o)

        if request.method in ("PUT", "PATCH"):
            opts = self.write_options(request)
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            options.validate_write("UpdateOptions" if request.method == "PUT" else "PatchOptions", request.query,
                                   opts.field_manager, None if request.method == "PUT" else PATCH_TYPES.get(ctype))
            current = scale_view(obj)
            if request.method == "PUT":
                body = await self.body(request)
            else:
                from . import patch as patching
                raw = await self.body(request, yaml_ok=ctype == "application/apply-patch+yaml")
                if ctype == "application/json-patch+json":
                    body = patching.json_patch(current, raw)
                else:
                    body = patching.merge_patch(current, raw)
            spec = body.get("spec") if isinstance(body, dict) else None
            replicas = spec.get("replicas") if isinstance(spec, dict) else None
            if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", name, [errors.field_error(
                    "Scale", "must be greater than or equal to 0", "spec.replicas", replicas)])
            if sv is not None:
                updated = customresources.set_replicas(sv, obj, replicas)
                rv = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion")
                if rv:  # the client's precondition
                    updated["metadata"]["resourceVersion"] = rv
                obj = api.update(rt, ns, name, updated, opts)
            else:
                obj = api.patch(rt, ns, name, "merge", {"spec": {"replicas": replicas}}, opts)
        return json_response(scale_view(obj))

    # -- admin -------------------------------------------------------------------------

    async def admin(self, request: web.Request, rest: list[str]) -> web.Response:
        sb = self.sandbox
        action = rest[0] if rest else "status"
        if action == "status" and request.method == "GET":
            return json_response(sb.status())
        if action == "clustermesh":
            return await self.clustermesh(request, rest[1:])
        if request.method != "POST":
            raise errors.method_not_allowed("admin actions are POST requests")
        body = (await self.body(request)) if request.can_read_body else None
        body = body if isinstance(body, dict) else {}
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise errors.bad_request(f"seed must be an integer, not {seed!r}")
        if action == "reset":
            cni = body.get("cni")
            if cni is not None and not isinstance(cni, str):
                raise errors.bad_request(f"cni must be a string, not {cni!r}")
            try:
                await sb.reset(seed=seed, cni=cni)
            except ValueError as exc:
                raise errors.bad_request(str(exc)) from None
            return json_response(sb.status())
        if action == "seed":
            if seed is None:
                raise errors.bad_request("seed is required")
            sb.reseed(seed)
            return json_response(sb.status())
        if action == "clock":
            advance = body.get("advance", 0)
            if isinstance(advance, bool) or not isinstance(advance, int | float):
                raise errors.bad_request(f"advance must be a number of seconds, not {advance!r}")
            try:
                sb.advance_clock(float(advance))
            except (ValueError, OverflowError) as exc:
                raise errors.bad_request(str(exc)) from None
            return json_response(sb.status())
        if action == "trace":
            return json_response(trace_request(sb, body))
        raise errors.not_found("", "", f"admin/{action}")


    async def clustermesh(self, request: web.Request, rest: list[str]) -> web.Response:
        """What the other members of a Cluster Mesh ask of this one (sandbox/clustermesh): its exported state (a
        long poll: ``?wait=<etag>`` answers when it differs), a connection's arrival, a request on it."""
        mesh = self.sandbox.clustermesh
        action = rest[0] if rest else ""
        if action == "state" and request.method == "GET":
            etag, data = await mesh.wait_exported(request.query.get("wait", ""))
            return json_response({"etag": etag, "state": data})
        if action == "status" and request.method == "GET":
            return json_response({"clusters": mesh.status()})
        if action in ("connect", "http") and request.method == "POST":
            body = await self.body(request)
            if not isinstance(body, dict) or not isinstance(body.get("src"), dict) or \
                    not isinstance(body.get("dst"), str) or isinstance(body.get("port"), bool) or \
                    not isinstance(body.get("port"), int):
                raise errors.bad_request("a crossing needs src (an object), dst (an address) and port (a number)")
            if action == "connect":
                return json_response(mesh.inbound_connect(body))
            request_ = body.get("request")
            headers = request_.get("headers") if isinstance(request_, dict) else None
            if not isinstance(request_, dict) or not isinstance(headers, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in headers.items()) or not all(
                    isinstance(request_.get(k, ""), str) for k in ("method", "path", "host", "scheme", "body")):
                raise errors.bad_request("request must be an object: method, path, host, scheme and body (base64) "
                                         "strings, headers an object of strings")
            try:
                base64.b64decode(request_.get("body") or "", validate=True)
            except ValueError:
                raise errors.bad_request("request.body must be base64") from None
            return json_response(await mesh.inbound_http(body))
        raise errors.not_found("", "", f"admin/clustermesh/{action}")


def request_verb(method: str, name: str, query: Any) -> str:
    """The Kubernetes verb of a request (apiserver RequestInfoFactory: GET with watch → watch, etc.)."""
    if method == "GET":
        return "watch" if options.boolean(query, "watch") else "get" if name else "list"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


HEALTH_CHECKS = ("ping", "log", "etcd")
"""The checks each health endpoint reports; the sandbox's store stands where kube-apiserver checks etcd."""


def health(parts: list[str], verbose: bool) -> web.Response:
    """``/readyz``, ``/readyz/ping``, ``/readyz?verbose`` as k8s.io/apiserver/pkg/server/healthz words them."""
    endpoint = parts[0]
    if len(parts) > 1:
        if len(parts) == 2 and parts[1] in HEALTH_CHECKS:
            return web.Response(text="ok")
        return web.Response(status=404, text="404 page not found\n")
    if not verbose:
        return web.Response(text="ok")
    lines = [f"[+]{check} ok" for check in HEALTH_CHECKS]
    return web.Response(text="\n".join(lines) + f"\n{endpoint} check passed\n")


def scale_of(obj: dict) -> dict:
    meta = obj["metadata"]
    from .selectors import selector_string
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": selector_string((obj.get("spec") or {}).get("selector"))},
    }


def trace_request(sb: Sandbox, body: dict) -> dict:
    """One request from a pod, with every decision the data plane made on its way (``k8snet.trace``)."""
    from urllib.parse import urlsplit

    from .dataplane.model import RESET, Hop, HttpRequest, NetError

    pod = sb.store.get("pods", str(body.get("namespace", "")), str(body.get("pod", "")))
    if pod is None:
        raise errors.not_found("pods", "", str(body.get("pod", "")))
    url = urlsplit(str(body.get("url", "")))
    if url.scheme not in ("http", "") or not url.hostname:
        raise errors.bad_request("trace needs an http:// URL with a host, e.g. http://web/hostname")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    request = HttpRequest("GET", path, {"Host": url.netloc, "User-Agent": "k8snet-trace", "Accept": "*/*"},
                          host=url.hostname)
    try:
        response = sb.dataplane.http(pod, url.hostname, url.port or 80, request)
    except NetError as exc:
        hops = exc.hops + [Hop("error", f"{exc.code}: {exc.message}")]
        return {"hops": [h.to_dict() for h in hops], "status": None, "answeredBy": None,
                "error": f"{exc.code}: {exc.message}"}
    if response.status == RESET:
        return {"hops": [h.to_dict() for h in response.hops], "status": None, "answeredBy": None,
                "error": "RESET: connection reset by peer"}
    return {"hops": [h.to_dict() for h in response.hops], "status": response.status,
            "answeredBy": response.served_by or None, "error": None}



def _json_type(value: Any) -> str:
    """encoding/json's name for a JSON value's type in unmarshal errors."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "object"


def _body_int(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.bad_request(f"json: cannot unmarshal {_json_type(value)} into Go struct field "
                                 f"DeleteOptions.{key} of type int64")
    return value
