"""API schemas for the Traefik custom resources the sandbox serves: Middleware and TLSOption (traefik.io/v1alpha1).

Written for k8snet from the Go types of Traefik v3.7 (pkg/provider/kubernetes/crd/traefikio/v1alpha1
middleware.go and tlsoption.go, pkg/config/dynamic/middlewares.go), not copied from Traefik's CRD manifests.
Structural like a CRD's: every middleware type is a known field, so a misspelt one is pruned with the API
server's ``unknown field`` warning, as on a real cluster. The types the sandbox emulates have their fields
typed; the others keep whatever they are given (the ingress controller reports them as not emulated).
"""

from __future__ import annotations

from typing import Any

from .middlewares import EMULATED, TYPES

Node = dict[str, Any]
META = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
GROUP, VERSION = "traefik.io", "v1alpha1"


def _s(description: str = "") -> Node:
    return {"type": "string", **({"description": description} if description else {})}


def _i(description: str = "") -> Node:
    return {"type": "integer", "format": "int64", **({"description": description} if description else {})}


def _b(description: str = "") -> Node:
    return {"type": "boolean", **({"description": description} if description else {})}


def _list(item: Node, description: str = "") -> Node:
    return {"type": "array", "items": item, **({"description": description} if description else {})}


def _obj(properties: Node, description: str = "", required: list[str] | None = None) -> Node:
    node: Node = {"type": "object", "properties": properties}
    if description:
        node["description"] = description
    if required:
        node["required"] = required
    return node


def _map(description: str = "") -> Node:
    return {"type": "object", "additionalProperties": {"type": "string"},
            **({"description": description} if description else {})}


IP_STRATEGY = _obj({"depth": {"type": "integer", "minimum": 0, "description": "Use the X-Forwarded-For IP at this "
                              "depth, counted from the right."},
                    "excludedIPs": _list(_s(), "Take the first X-Forwarded-For IP not in this list."),
                    "ipv6Subnet": {"type": "integer"}},
                   "How Traefik determines the client IP.")

EMULATED_SPECS: dict[str, Node] = {
    "redirectScheme": _obj({"scheme": _s("The scheme of the new URL."), "port": _s("The port of the new URL."),
                            "permanent": _b("301/308 instead of 302/307."), "forcePermanentRedirect": _b()},
                           "Redirect the client to another scheme (HTTP → HTTPS)."),
    "rateLimit": _obj({"average": {"type": "integer", "format": "int64", "minimum": 0,
                                   "description": "Requests allowed per period (0: no limit)."},
                       "period": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                                  "description": "The period of the rate: seconds, or a Go duration (default 1s)."},
                       "burst": {"type": "integer", "format": "int64", "minimum": 0,
                                 "description": "The most requests allowed at once (the bucket size, default 1)."},
                       "sourceCriterion": _obj({"ipStrategy": IP_STRATEGY, "requestHeaderName": _s(),
                                                "requestHost": _b()}, "What groups requests into one bucket."),
                       "redis": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                      "Limit the request rate per source (token bucket); 429 beyond it."),
    "ipAllowList": _obj({"sourceRange": _list(_s(), "Allowed IPs or CIDRs."), "ipStrategy": IP_STRATEGY,
                         "rejectStatusCode": {"type": "integer", "description": "Status for refused clients (403)."}},
                        "Accept requests only from the given source ranges."),
    "ipWhiteList": _obj({"sourceRange": _list(_s()), "ipStrategy": IP_STRATEGY},
                        "Deprecated: use ipAllowList."),
    "headers": _obj({
        "customRequestHeaders": _map("Headers set on the request (empty value: removed)."),
        "customResponseHeaders": _map("Headers set on the response (empty value: removed)."),
        "accessControlAllowCredentials": _b(), "accessControlAllowHeaders": _list(_s()),
        "accessControlAllowMethods": _list(_s()), "accessControlAllowOriginList": _list(_s()),
        "accessControlAllowOriginListRegex": _list(_s()), "accessControlExposeHeaders": _list(_s()),
        "accessControlMaxAge": _i(), "addVaryHeader": _b(), "allowedHosts": _list(_s()),
        "hostsProxyHeaders": _list(_s()), "sslProxyHeaders": _map(),
        "stsSeconds": {"type": "integer", "format": "int64", "minimum": 0,
                       "description": "max-age of Strict-Transport-Security (0: none)."},
        "stsIncludeSubdomains": _b(), "stsPreload": _b(), "forceSTSHeader": _b(),
        "frameDeny": _b("X-Frame-Options: DENY."), "customFrameOptionsValue": _s(),
        "contentTypeNosniff": _b("X-Content-Type-Options: nosniff."), "browserXssFilter": _b(),
        "customBrowserXSSValue": _s(), "contentSecurityPolicy": _s(), "contentSecurityPolicyReportOnly": _s(),
        "publicKey": _s(), "referrerPolicy": _s(), "permissionsPolicy": _s(), "isDevelopment": _b(),
        "featurePolicy": _s(), "sslRedirect": _b(), "sslTemporaryRedirect": _b(), "sslHost": _s(),
        "sslForceHost": _b()}, "Custom and security headers, and CORS."),
    "buffering": _obj({"maxRequestBodyBytes": _i("Larger request bodies get 413."), "memRequestBodyBytes": _i(),
                       "maxResponseBodyBytes": _i(), "memResponseBodyBytes": _i(), "retryExpression": _s()},
                      "Buffer request and response bodies, with size limits."),
    "stripPrefix": _obj({"prefixes": _list(_s(), "Prefixes to remove from the path."), "forceSlash": _b()},
                        "Remove a path prefix before forwarding."),
    "basicAuth": _obj({"secret": _s("A Secret with htpasswd lines, or of type kubernetes.io/basic-auth."),
                       "realm": _s(), "removeHeader": _b(), "headerField": _s()}, "HTTP Basic authentication."),
    "chain": _obj({"middlewares": _list(_obj({"name": _s(), "namespace": _s()}, required=["name"]))},
                  "Apply other Middlewares in order."),
}


def _middleware_spec() -> Node:
    properties: Node = {}
    for kind in TYPES:
        if kind in EMULATED_SPECS:
            properties[kind] = EMULATED_SPECS[kind]
        elif kind == "plugin":
            properties[kind] = {"type": "object", "additionalProperties": {"x-kubernetes-preserve-unknown-fields":
                                                                           True}}
        else:
            properties[kind] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                "description": f"The {kind} middleware (not emulated by the k8snet sandbox)."}
    assert set(EMULATED) <= set(properties)
    return _obj(properties, "MiddlewareSpec defines the desired state of a Middleware: exactly one middleware type.")


def _root(kind: str, description: str, spec: Node) -> Node:
    return {
        "description": description,
        "type": "object",
        "required": ["metadata", "spec"],
        "properties": {
            "apiVersion": _s("APIVersion defines the versioned schema of this representation of an object."),
            "kind": _s("Kind is a string value representing the REST resource this object represents."),
            "metadata": {"$ref": META},
            "spec": spec,
        },
        "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION, "kind": kind}],
    }


TLS_OPTION_SPEC = _obj({
    "minVersion": _s("Minimum TLS version (VersionTLS12, VersionTLS13, ...)."),
    "maxVersion": _s("Maximum TLS version."),
    "cipherSuites": _list(_s()), "curvePreferences": _list(_s()),
    "clientAuth": _obj({"secretNames": _list(_s(), "Secrets whose tls.ca or ca.crt are the client CAs."),
                        "clientAuthType": {"type": "string", "enum": ["NoClientCert", "RequestClientCert",
                                                                      "RequireAnyClientCert", "VerifyClientCertIfGiven",
                                                                      "RequireAndVerifyClientCert"],
                                           "description": "How client certificates are requested and verified."}},
                       "Client certificate authentication (mTLS)."),
    "sniStrict": _b("Refuse handshakes whose SNI matches no certificate."),
    "alpnProtocols": _list(_s()), "disableSessionTickets": _b(), "preferServerCipherSuites": _b(),
}, "TLSOptionSpec defines the parameters of the TLS connection.")


def definitions() -> dict[str, Node]:
    """The schema definitions to add to the sandbox's SchemaSet."""
    return {
        "io.traefik.v1alpha1.Middleware": _root("Middleware", "Middleware is the CRD implementation of a Traefik "
                                                "Middleware.", _middleware_spec()),
        "io.traefik.v1alpha1.TLSOption": _root("TLSOption", "TLSOption is the CRD implementation of a Traefik TLS "
                                               "Option.", TLS_OPTION_SPEC),
    }
