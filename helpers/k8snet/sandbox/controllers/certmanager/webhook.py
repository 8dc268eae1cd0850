"""cert-manager's webhook (``webhook.cert-manager.io``): what it refuses, and the identity it records.

Its ValidatingWebhookConfiguration sends every CREATE and UPDATE of cert-manager.io and acme.cert-manager.io
objects (``*/*``: status too) to ``/validate``, except in namespaces labelled
``cert-manager.io/disable-validation: "true"``; the MutatingWebhookConfiguration sends CertificateRequest
CREATEs to ``/mutate`` (deploy/charts/cert-manager/templates/webhook-*-webhook.yaml).

* decoding: a metav1.Duration that time.ParseDuration refuses fails the decoding (admission.Errored, 400);
* validation (internal/webhook/admission/resourcevalidation): the object is defaulted first (issuerRef kind
  ``Issuer``, group ``cert-manager.io``: internal/apis/certmanager/v1/defaults.go), then
  internal/apis/certmanager/validation: certificate.go ValidateCertificateSpec, certificaterequest.go
  (spec immutable, cert-manager annotations immutable, approval conditions), issuer.go ValidateIssuerConfig;
* identity (internal/webhook/admission/certificaterequest/identity): a new CertificateRequest's
  spec.username/uid/groups/extra are the requester's, and never change afterwards.

The errors of all plugins form one aggregate (``[a, b]`` when there are several, utilerrors.NewAggregate), which
controller-runtime's admission.Denied returns as a 403.
"""

from __future__ import annotations

import re
from typing import Any

from ... import validation
from ...admission import Request, Verdict, Webhook
from ...errors import Cause
from ...validation import GoRaw, forbidden, invalid_value, not_supported, required, too_long
from . import pki
from .objects import GROUP, SERVICE_ACCOUNT, SERVICE_ACCOUNT_GROUPS

Obj = dict[str, Any]

NAME = "webhook.cert-manager.io"
DISABLE_VALIDATION = "cert-manager.io/disable-validation"
ACME_GROUP = "acme.cert-manager.io"
SIGNATURE_ALGORITHMS = {"RSA": ["SHA256WithRSA", "SHA384WithRSA", "SHA512WithRSA"],
                        "ECDSA": ["ECDSAWithSHA256", "ECDSAWithSHA384", "ECDSAWithSHA512"],
                        "Ed25519": ["PureEd25519"]}
NOT_EMULATED = {"keystores": "spec.keystores (JKS and PKCS#12 keystores)",
                "nameConstraints": "spec.nameConstraints", "otherNames": "spec.otherNames"}


def webhook() -> Webhook:
    return Webhook(NAME, frozenset({GROUP, ACME_GROUP}), validate=validate, mutate=mutate,
                   exempt_label=DISABLE_VALIDATION)


def _text(c: Cause) -> str:
    return f"{c.field}: {c.message}" if c.field else c.message


def aggregate(causes: list[Cause]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message, or ``[a, b]`` (repeats dropped)."""
    seen: list[str] = []
    for c in causes:
        if _text(c) not in seen:
            seen.append(_text(c))
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


# --------------------------------------------------------------------------- mutation


def _identity(request: Request) -> tuple[str, str, list[str], dict[str, list[str]]]:
    user = request.user
    if user is None:  # the sandbox's own cert-manager controllers
        return SERVICE_ACCOUNT, "", list(SERVICE_ACCOUNT_GROUPS), {}
    return user.name, user.uid, list(user.groups), {k: list(v) for k, v in user.extra}


def mutate(request: Request) -> None:
    """certificaterequest_identity.go Mutate."""
    if request.rt.plural != "certificaterequests" or request.operation != "CREATE" or request.subresource:
        return
    name, uid, groups, extra = _identity(request)
    spec = request.obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec["uid"], spec["username"], spec["groups"] = uid, name, groups
    spec.pop("extra", None)
    if extra:
        spec["extra"] = extra


# --------------------------------------------------------------------------- validation


def validate(request: Request) -> Verdict:
    spec = (request.obj.get("spec") or {}) if isinstance(request.obj.get("spec"), dict) else {}
    for name in ("duration", "renewBefore"):
        text = spec.get(name)
        if isinstance(text, str):
            try:
                pki.parse_duration(text)
            except pki.PKIError as exc:
                return Verdict(str(exc), 400, "")
    plural = request.rt.plural
    causes: list[Cause] = []
    warnings: list[str] = []
    if plural == "certificates":
        causes = certificate_spec(spec, "spec")
        warnings = [f"the k8snet sandbox does not emulate {what}; cert-manager on kind does"
                    for key, what in NOT_EMULATED.items() if spec.get(key)]
        if (spec.get("renewal") or {}).get("windows"):
            warnings.append("the k8snet sandbox does not emulate spec.renewal.windows (it renews at the renewal time "
                            "as if no window were set); cert-manager on kind does")
    elif plural == "certificaterequests":
        causes = certificate_request(request)
    elif plural in ("issuers", "clusterissuers"):
        causes = issuer_config(spec, "spec")
    if causes:
        return Verdict(aggregate(causes), warnings=warnings)
    return Verdict(warnings=warnings)


def _issuer_ref(ref: Obj, path: str) -> list[Cause]:
    """validateIssuerRef, on the defaulted reference (kind Issuer, group cert-manager.io when empty)."""
    out = []
    if not ref.get("name"):
        out.append(required(f"{path}.issuerRef.name", "must be specified"))
    group = ref.get("group") or GROUP
    kind = ref.get("kind") or "Issuer"
    if group == GROUP and kind not in ("Issuer", "ClusterIssuer"):
        out.append(invalid_value(f"{path}.issuerRef.kind", kind, "must be one of Issuer or ClusterIssuer"))
    return out


def _email_error(value: str) -> str:
    """net/mail.ParseAddress, for the shapes an email SAN takes: ``mail: ...`` or "" when it parses."""
    if "@" not in value:
        return "mail: missing '@' or angle-addr"
    local, _, domain = value.rpartition("@")
    if not local:
        return "mail: no address"
    if not domain or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+", domain):
        return "mail: missing @ in addr-spec" if not domain else "mail: no angle-addr"
    return ""


def certificate_spec(spec: Obj, path: str) -> list[Cause]:
    """certificate.go ValidateCertificateSpec."""
    out: list[Cause] = []
    secret = spec.get("secretName") or ""
    if not secret:
        out.append(required(f"{path}.secretName", "must be specified"))
    else:
        out += [invalid_value(f"{path}.secretName", secret, m) for m in validation.is_dns1123_subdomain(secret)]
    out += _issuer_ref(spec.get("issuerRef") or {}, path)
    common = spec.get("commonName") or ""
    literal = spec.get("literalSubject") or ""
    if literal:
        if common:
            out.append(invalid_value(f"{path}.commonName", common,
                                     "When providing a `LiteralSubject` no `commonName` may be provided."))
        try:
            common = pki.common_name(pki.literal_subject(literal))
        except pki.PKIError as exc:
            out.append(invalid_value(f"{path}.literalSubject", literal, str(exc)))
    if not common and not any(spec.get(k) for k in ("dnsNames", "uris", "emailAddresses", "ipAddresses",
                                                     "otherNames")):
        out.append(invalid_value(path, "", "at least one of commonName (from the commonName field or from a "
                                           "literalSubject), dnsNames, emailSANs, ipAddresses, otherNames, or "
                                           "uriSANs must be set"))
    if len(common.encode()) > 64:
        out.append(too_long(f"{path}.commonName", 64))
    for i, ip in enumerate(spec.get("ipAddresses") or []):
        try:
            import ipaddress

            ipaddress.ip_address(ip)
        except ValueError:
            out.append(invalid_value(f"{path}.ipAddresses[{i}]", ip, "invalid IP address"))
    for i, email in enumerate(spec.get("emailAddresses") or []):
        problem = _email_error(email)
        if problem:
            out.append(invalid_value(f"{path}.emailAddresses[{i}]", email, f"invalid email address: {problem}"))
    pk = spec.get("privateKey")
    if isinstance(pk, dict):
        algorithm, size = pk.get("algorithm") or "", pk.get("size") or 0
        if algorithm in ("", "RSA"):
            if size > 0 and not pki.MIN_RSA_KEY_SIZE <= size <= pki.MAX_RSA_KEY_SIZE:
                out.append(invalid_value(f"{path}.privateKey.size", size,
                                         "must be between 2048 and 8192 for rsa keyAlgorithm"))
        elif algorithm == "ECDSA":
            if size > 0 and size not in (256, 384, 521):
                out.append(not_supported(f"{path}.privateKey.size", size, ["256", "384", "521"]))
        elif algorithm != "Ed25519":
            out.append(invalid_value(f"{path}.privateKey.algorithm", algorithm,
                                     "must be either empty or one of rsa, ecdsa or ed25519"))
    signature = spec.get("signatureAlgorithm") or ""
    if signature:
        key_alg = ((pk or {}).get("algorithm") if isinstance(pk, dict) else "") or "RSA"
        allowed = SIGNATURE_ALGORITHMS.get(key_alg)
        if allowed is not None and signature not in allowed:
            out.append(invalid_value(f"{path}.signatureAlgorithm", signature, f"for key algorithm {key_alg} the "
                                     f"allowed signature algorithms are [{' '.join(allowed)}]"))
    if spec.get("duration") is not None or spec.get("renewBefore") is not None:
        out += durations(spec, path)
    for i, usage in enumerate(spec.get("usages") or []):
        if usage not in pki.KEY_USAGES and usage not in pki.EXT_KEY_USAGES:
            out.append(invalid_value(f"{path}.usages[{i}]", usage, "unknown keyusage"))
    limit = spec.get("revisionHistoryLimit")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit < 1:
        out.append(invalid_value(f"{path}.revisionHistoryLimit", limit, "must not be less than 1"))
    template = spec.get("secretTemplate") or {}
    if template.get("labels"):
        out += validation.validate_labels(template["labels"], f"{path}.secretTemplate.labels")
    if template.get("annotations"):
        for a in template["annotations"]:
            if a.startswith("cert-manager.io/") and a != "cert-manager.io/allow-direct-injection":
                out.append(invalid_value(f"{path}.secretTemplate.annotations", a,
                                         "cert-manager.io/* annotations are not allowed"))
        out += validation.validate_annotations(template["annotations"], f"{path}.secretTemplate.annotations")
    if spec.get("nameConstraints") is not None:
        nc = spec["nameConstraints"] or {}
        if not spec.get("isCA"):
            out.append(invalid_value(f"{path}.nameConstraints", GoRaw(_go_struct(nc)),
                                     "isCa should be true when nameConstraints is set"))
        if nc.get("permitted") is None and nc.get("excluded") is None:
            out.append(invalid_value(f"{path}.nameConstraints", GoRaw(_go_struct(nc)),
                                     "either permitted or excluded must be set"))
    seen = set()
    for f in spec.get("additionalOutputFormats") or []:
        kind = (f or {}).get("type")
        if kind in seen:
            out.append(validation.duplicate(f"{path}.additionalOutputFormats[type]", kind))
        seen.add(kind)
    renewal = spec.get("renewal")
    if isinstance(renewal, dict):
        policy = renewal.get("policy") or ""
        if policy == "Disabled" and renewal.get("windows"):
            out.append(forbidden(f"{path}.renewal.windows",
                                 "windows cannot be set when `renewal.policy` is set to Disabled"))
        elif policy not in ("Disabled", "RenewBefore"):
            out.append(not_supported(f"{path}.renewal.policy", policy, ["Disabled", "RenewBefore"]))
    return out


def _go_struct(value: Any) -> str:
    """``%#v`` of a pointer the ErrorBody dereferences: enough to name the type."""
    return f"certmanager.NameConstraints{{{value!r}}}"


def durations(spec: Obj, path: str) -> list[Cause]:
    """certificate.go ValidateDuration (Go durations print as ``2160h0m0s``)."""
    out: list[Cause] = []
    duration = pki.certificate_duration(spec)
    before = pki.spec_duration(spec, "renewBefore")
    pct = spec.get("renewBeforePercentage")
    if duration < pki.MINIMUM_DURATION:
        out.append(invalid_value(f"{path}.duration", GoRaw(pki.format_duration(duration)),
                                 "certificate duration must be greater than 1h0m0s"))
    if before is not None and pct is not None:
        out.append(invalid_value(f"{path}.renewBefore", GoRaw(pki.format_duration(before)),
                                 "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"))
        out.append(invalid_value(f"{path}.renewBeforePercentage", pct,
                                 "renewBefore and renewBeforePercentage are mutually exclusive and cannot both be set"))
    if before is not None and before < pki.MINIMUM_RENEW_BEFORE:
        out.append(invalid_value(f"{path}.renewBefore", GoRaw(pki.format_duration(before)),
                                 "certificate renewBefore must be greater than 5m0s"))
    if before is not None and before >= duration:
        out.append(invalid_value(f"{path}.renewBefore", GoRaw(pki.format_duration(before)),
                                 f"certificate duration {pki.format_duration(duration)} must be greater than "
                                 f"renewBefore {pki.format_duration(before)}"))
    if isinstance(pct, int) and not isinstance(pct, bool):
        renew_before = duration * (100 - pct) / 100
        if renew_before < pki.MINIMUM_RENEW_BEFORE:
            out.append(invalid_value(f"{path}.renewBeforePercentage", pct, "certificate renewBeforePercentage must "
                                     "result in a renewBefore greater than 5m0s"))
        if renew_before >= duration:
            out.append(invalid_value(f"{path}.renewBeforePercentage", pct, "certificate renewBeforePercentage must "
                                     "result in a renewBefore less than duration"))
    return out


def certificate_request(request: Request) -> list[Cause]:
    """certificaterequest.go ValidateCertificateRequest / ValidateUpdateCertificateRequest, then the identity
    plugin's checks."""
    obj, old = request.obj, request.old
    spec = obj.get("spec") or {}
    conditions = (obj.get("status") or {}).get("conditions") or []
    out: list[Cause] = []
    if old is None:
        out += _issuer_ref(spec.get("issuerRef") or {}, "spec")
        out += _request_field(spec)
        out += approval_conditions(conditions)
        name, uid, groups, extra = _identity(request)
        if (spec.get("uid") or "") != uid:
            out.append(forbidden("spec.uid", "uid identity must be that of the requester"))
        if (spec.get("username") or "") != name:
            out.append(forbidden("spec.username", "username identity must be that of the requester"))
        if sorted(spec.get("groups") or []) != sorted(groups):
            out.append(forbidden("spec.groups", "groups identity must be that of the requester"))
        if (spec.get("extra") or {}) != extra:
            out.append(forbidden("spec.extra", "extra identity must be that of the requester"))
        return out
    old_annotations = old["metadata"].get("annotations") or {}
    new_annotations = obj["metadata"].get("annotations") or {}
    for a, b in ((old_annotations, new_annotations), (new_annotations, old_annotations)):
        for k, v in a.items():
            if (k.startswith(GROUP) or k.startswith(ACME_GROUP)) and b.get(k) != v:
                out.append(forbidden(f"metadata.annotations.{k}", "cannot change cert-manager annotation after "
                                                                  "creation"))
    old_conditions = (old.get("status") or {}).get("conditions") or []
    for ctype in ("Approved", "Denied"):
        before = next((c for c in old_conditions if c.get("type") == ctype), None)
        after = next((c for c in conditions if c.get("type") == ctype), None)
        if before is not None and before != after:
            out.append(forbidden("status.conditions", f"'{ctype}' condition may not be modified once set"))
    out += approval_conditions(conditions)
    old_spec = old.get("spec") or {}
    if spec != old_spec:
        out.append(forbidden("spec", "cannot change spec after creation"))
    for key, what in (("uid", "uid"), ("username", "username"), ("groups", "groups"), ("extra", "extra")):
        a, b = old_spec.get(key), spec.get(key)
        if key == "groups":
            a, b = sorted(a or []), sorted(b or [])
        if (a or None) != (b or None):
            out.append(forbidden(f"spec.{key}", f"{what} identity cannot be changed once set"))
    return out


def _request_field(spec: Obj) -> list[Cause]:
    """validateCertificateRequestSpecRequest."""
    raw = spec.get("request") or ""
    if not raw:
        return [required("spec.request", "must be specified")]
    try:
        pki.key_usages(spec.get("usages"), bool(spec.get("isCA")))
    except pki.PKIError as exc:
        return [invalid_value("spec.usages", GoRaw("[" + " ".join(spec.get("usages") or []) + "]"), str(exc))]
    try:
        request = pki.data_from_b64(raw)
        import datetime as dt

        pki.template_from_request(request, spec, dt.datetime.now(dt.UTC))
    except pki.PKIError as exc:
        text = pki.data_from_b64(raw).decode(errors="replace") if _b64_ok(raw) else raw
        shown = text if len(text) <= 100 else text[:97] + "..."
        return [invalid_value("spec.request", shown, str(exc))]
    return []


def _b64_ok(raw: str) -> bool:
    try:
        pki.data_from_b64(raw)
        return True
    except pki.PKIError:
        return False


def approval_conditions(conditions: list[Obj]) -> list[Cause]:
    """ValidateCertificateRequestApprovalCondition."""
    out: list[Cause] = []
    found = {t: [c for c in conditions if c.get("type") == t] for t in ("Approved", "Denied")}
    for ctype, items in found.items():
        if not items:
            continue
        if len(items) > 1:
            out.append(forbidden("status.conditions", f'multiple "{ctype}" conditions present'))
            continue
        if items[0].get("status") != "True":
            out.append(invalid_value(f"status.conditions.{ctype}", GoRaw(str(items[0].get("status"))),
                                     f'"{ctype}" condition may only be set to True'))
    if found["Approved"] and found["Denied"]:
        out.append(forbidden("status.conditions", "both 'Denied' and 'Approved' conditions cannot coexist"))
    return out


def issuer_config(spec: Obj, path: str) -> list[Cause]:
    """issuer.go ValidateIssuerConfig: exactly one issuer type, and each type's own checks."""
    out: list[Cause] = []
    count = 0
    for kind in ("acme", "ca", "selfSigned", "vault", "venafi"):
        if spec.get(kind) is None:
            continue
        if count:
            out.append(forbidden(f"{path}.{kind}", "may not specify more than one issuer type"))
            continue
        count += 1
        config = spec[kind] or {}
        sub = f"{path}.{kind}"
        if kind == "acme":
            if config.get("caBundle") and config.get("skipTLSVerify"):
                out.append(invalid_value(f"{sub}.caBundle", "", "caBundle and skipTLSVerify are mutually exclusive "
                                                                "and cannot both be set"))
                out.append(invalid_value(f"{sub}.skipTLSVerify", True, "caBundle and skipTLSVerify are mutually "
                                                                       "exclusive and cannot both be set"))
            if not (config.get("privateKeySecretRef") or {}).get("name"):
                out.append(required(f"{sub}.privateKeySecretRef.name", "private key secret name is a required "
                                                                       "field"))
            if not config.get("server"):
                out.append(required(f"{sub}.server", "acme server URL is a required field"))
        elif kind == "ca":
            if not config.get("secretName"):
                out.append(required(f"{sub}.secretName"))
            for i, url in enumerate(config.get("ocspServers") or []):
                if url == "":
                    out.append(invalid_value(f"{sub}.ocspServer[{i}]", url,
                                             "must be a valid URL, e.g., http://ocsp.int-x3.letsencrypt.org"))
            for i, url in enumerate(config.get("issuingCertificateURLs") or []):
                if url == "":
                    out.append(invalid_value(f"{sub}.issuingCertificateURLs[{i}]", url, "must be a valid URL"))
        elif kind == "vault":
            if not config.get("server"):
                out.append(required(f"{sub}.server"))
            if not config.get("path"):
                out.append(required(f"{sub}.path"))
            elif any(seg == ".." for seg in str(config["path"]).split("/")):
                out.append(invalid_value(f"{sub}.path", config["path"], "must not contain '..' path segments"))
        elif kind == "venafi":
            if not config.get("zone"):
                out.append(required(f"{sub}.zone"))
            union = sum(1 for k in ("tpp", "cloud", "ngts") if config.get(k) is not None)
            if union == 0:
                out.append(required(sub, "please supply one of: tpp, cloud, ngts"))
            elif union > 1:
                out.append(forbidden(sub, "please supply one of: tpp, cloud, ngts"))
    if count == 0:
        out.append(required(path, "at least one issuer must be configured"))
    return out
