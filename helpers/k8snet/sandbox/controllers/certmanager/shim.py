"""The certificate-shim: ingress-shim and gateway-shim make Certificates for annotated Ingresses and Gateways.

A port of cert-manager v1.21.1 pkg/controller/certificate-shim: sync.go (SyncFnFor, buildCertificates,
certNeedsUpdate, findCertificatesToBeRemoved) with ingresses/controller.go and gateways/controller.go, each a
controller of its own (``cert-manager-ingress-shim``, ``cert-manager-gateway-shim``: field manager and event
source). What cert-manager.io/docs/usage/ingress/ and /docs/usage/gateway/ describe:

* an object is shimmed when it carries ``cert-manager.io/issuer`` or ``cert-manager.io/cluster-issuer`` (an
  Ingress also with ``kubernetes.io/tls-acme: "true"``, the --auto-certificate-annotations default, which then
  needs --default-issuer-name: unset, as upstream's default, so it is a BadConfig warning);
* one Certificate per Ingress TLS entry (named after its ``secretName``, dnsNames and ipAddresses from its
  ``hosts``) or per Secret a Gateway's HTTPS/TLS listener refers to (the listeners' hostnames), with the
  annotations of shimannotations.py, default usages ``digital signature, key encipherment`` and a controller
  ownerReference to the Ingress or Gateway, so it goes when they go (the garbage collector);
* an existing Certificate it controls is updated when what certNeedsUpdate compares differs (hosts, issuer,
  labels, key and duration settings; not ipAddresses or usages, as upstream); one it does not control is left
  alone; one it controls whose Secret no entry names any more is deleted;
* Events on the Ingress or Gateway: ``CreateCertificate`` / ``UpdateCertificate`` / ``DeleteCertificate``, and
  Warnings ``BadConfig``: ``Could not determine issuer for ingress due to bad annotations: ...``, a duplicate
  secretName, ``Skipped a TLS block: ...``, ``Skipped a listener block: ...``.

A certificate annotation upstream cannot parse, or a Certificate the webhook refuses, records no Event upstream
either: the controller logs it and retries with its back-off (5 s doubling to 5 min, DefaultItemBasedRateLimiter);
here it goes to the sandbox's log. gateway-shim runs because the kind backend installs cert-manager with
``--enable-gateway-api`` (k8snet/kind/addons.py), so both backends shim Gateways; the ListenerSet shim (alpha,
off by default upstream) is not emulated.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from ...errors import ApiError, Cause
from ...options import DeleteOptions
from ...store import Event
from ...validation import invalid_value, not_supported, required
from .. import Controller, Key, owner_key
from . import pki
from . import shimannotations as ann
from .objects import CERTIFICATES, GROUP, Obj, component, event, rt
from .webhook import aggregate

if TYPE_CHECKING:
    from ...instance import Sandbox

log = logging.getLogger("k8snet.sandbox.cert-manager")

INGRESSES = "ingresses.networking.k8s.io"
GATEWAYS = "gateways.gateway.networking.k8s.io"
APPLYSET_LABEL = "applyset.kubernetes.io/part-of"
"""Not copied from the owner's labels onto its Certificates (they would be pruned with the applyset)."""
FOREGROUND = "foregroundDeletion"
MIN_RETRY, MAX_RETRY = 5.0, 300.0
"""DefaultItemBasedRateLimiter: an item's retries wait 5 s, doubling up to 5 min."""


@dataclass(frozen=True)
class Kind:
    """What differs between the shims: the owner's resource, kind and controller name."""

    resource: str
    api_version: str
    kind: str
    controller: str


INGRESS = Kind(INGRESSES, "networking.k8s.io/v1", "Ingress", "ingress-shim")
GATEWAY = Kind(GATEWAYS, "gateway.networking.k8s.io/v1", "Gateway", "gateway-shim")


@dataclass(frozen=True)
class ShimOptions:
    """The controller's IngressShimOptions and Gateway API switches, at upstream's defaults
    (internal/apis/config/controller/v1alpha1/defaults.go), except ``gateway_api`` (see the module's text)."""

    default_issuer_name: str = ""
    default_issuer_kind: str = "Issuer"
    default_issuer_group: str = GROUP
    auto_certificate_annotations: tuple[str, ...] = (ann.TLS_ACME,)
    extra_certificate_annotations: tuple[str, ...] = ()
    gateway_api: bool = True
    gateway_api_extra_protocols: frozenset[str] = frozenset()


class RetryLater(Exception):
    """An error upstream's sync returns: logged, and the object looked at again after the back-off."""


# --------------------------------------------------------------------------- the sync


def _labels(owner: Obj) -> dict[str, str] | None:
    labels = dict(owner["metadata"].get("labels") or {})
    labels.pop(APPLYSET_LABEL, None)
    return labels or None


def controlled_by(obj: Obj, owner: Obj) -> bool:
    """metav1.IsControlledBy: the controller reference names the owner's uid."""
    return any(r.get("controller") and r.get("uid") == owner["metadata"].get("uid")
               for r in obj["metadata"].get("ownerReferences") or [])


def _has_controller(obj: Obj) -> bool:
    return any(r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


def has_shim_annotation(annotations: dict[str, str], auto: Iterable[str]) -> bool:
    """hasShimAnnotation."""
    if ann.ISSUER in annotations or ann.CLUSTER_ISSUER in annotations:
        return True
    return any(key in annotations and ann.parse_bool(annotations[key]) for key in auto)


def _duplicate_secret_names(tls: list[Obj]) -> list[Cause]:
    """checkForDuplicateSecretNames."""
    paths: dict[str, list[str]] = {}
    for i, entry in enumerate(tls):
        paths.setdefault(entry.get("secretName") or "", []).append(f"spec.tls[{i}].secretName")
    return [invalid_value(found[0], name, f"this secret name must only appear in a single TLS entry but is also "
                                          f"used in {found[1]}")
            for name, found in paths.items() if len(found) > 1]


def _tls_block(path: str, entry: Obj) -> list[Cause]:
    """validateIngressTLSBlock."""
    out = []
    if not entry.get("hosts"):
        out.append(required(f"{path}.hosts"))
    if not entry.get("secretName"):
        out.append(required(f"{path}.secretName"))
    return out


def _listener_block(path: str, listener: Obj, namespace: str) -> list[Cause]:
    """validateGatewayListenerBlock."""
    out = []
    if not listener.get("hostname"):
        out.append(required(f"{path}.hostname", "the hostname cannot be empty"))
    tls = listener.get("tls")
    if tls is None:
        out.append(required(f"{path}.tls", "the TLS block cannot be empty"))
        return out
    refs = tls.get("certificateRefs") or []
    if not refs:
        out.append(required(f"{path}.tls.certificateRef", "listener has no certificateRefs"))
    for i, ref in enumerate(refs):
        where = f"{path}.tls.certificateRef[{i}]"
        group, kind = ref.get("group") or "", ref.get("kind") or ""
        if group not in ("core", ""):
            out.append(not_supported(f"{where}.group", group, ["core", ""]))
        if kind not in ("Secret", ""):
            out.append(not_supported(f"{where}.kind", kind, ["Secret", ""]))
        if ref.get("namespace") is not None and ref["namespace"] != namespace:
            out.append(invalid_value(f"{where}.namespace", ref["namespace"],
                                     "cross-namespace secret references are not allowed in listeners"))
    mode = tls.get("mode")
    if mode is None:
        out.append(required(f"{path}.tls.mode", "the mode field is required"))
    elif mode != "Terminate":
        out.append(not_supported(f"{path}.tls.mode", mode, ["Terminate"]))
    return out


def _hosts(sb: Sandbox, owner: Obj, kind: Kind, options: ShimOptions) -> dict[str, list[str]]:
    """buildCertificates' tlsHosts: Secret name → hosts, recording a BadConfig event per skipped block."""
    meta = owner["metadata"]
    spec = owner.get("spec") or {}
    out: dict[str, list[str]] = {}
    if kind is INGRESS:
        for i, entry in enumerate(spec.get("tls") or []):
            problems = _tls_block(f"spec.tls[{i}]", entry)
            if problems:
                event(sb, owner, "BadConfig", "Skipped a TLS block: " + aggregate(problems), kind.controller,
                      "Warning")
                continue
            out[entry["secretName"]] = list(entry["hosts"])
        return out
    raw = (meta.get("annotations") or {}).get(ann.IGNORE_TLS_LISTENERS)
    ignored = {n.strip() for n in raw.split(",")} if raw is not None else set()
    for i, listener in enumerate(spec.get("listeners") or []):
        protocol = listener.get("protocol")
        if protocol not in ("HTTPS", "TLS") and protocol not in options.gateway_api_extra_protocols:
            continue
        if ((listener.get("tls") or {}).get("mode")) == "Passthrough":
            continue
        if listener.get("name") in ignored:
            continue
        problems = _listener_block(f"spec.listeners[{i}]", listener, meta["namespace"])
        if problems:
            event(sb, owner, "BadConfig", "Skipped a listener block: " + aggregate(problems), kind.controller,
                  "Warning")
            continue
        for ref in listener["tls"]["certificateRefs"]:
            out.setdefault(ref["name"], []).append(listener["hostname"])
    return out


def _durations_equal(a: object, b: object) -> bool:
    """ptr.Equal of two *metav1.Duration: both unset, or both set to the same length."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return pki.parse_duration(str(a)) == pki.parse_duration(str(b))
    except pki.PKIError:
        return a == b


def needs_update(existing: Obj, wanted: Obj) -> bool:
    """certNeedsUpdate: the fields it compares, and only those."""
    if (existing["metadata"].get("labels") or None) != (wanted["metadata"].get("labels") or None):
        return True
    a, b = existing.get("spec") or {}, wanted.get("spec") or {}
    if (a.get("commonName") or "") != (b.get("commonName") or ""):
        return True
    if list(a.get("dnsNames") or []) != list(b.get("dnsNames") or []):
        return True
    if a.get("secretName") != b.get("secretName"):
        return True
    ra, rb = a.get("issuerRef") or {}, b.get("issuerRef") or {}
    if (ra.get("name") or "") != (rb.get("name") or "") or (ra.get("kind") or "") != (rb.get("kind") or ""):
        return True
    if a.get("revisionHistoryLimit") != b.get("revisionHistoryLimit"):
        return True
    ka, kb = a.get("privateKey") or {}, b.get("privateKey") or {}
    for field in ("algorithm", "encoding", "rotationPolicy"):
        if (ka.get(field) or "") != (kb.get(field) or ""):
            return True
    if (ka.get("algorithm") or "") != "Ed25519" and (ka.get("size") or 0) != (kb.get("size") or 0):
        return True
    return not (_durations_equal(a.get("duration"), b.get("duration"))
                and _durations_equal(a.get("renewBefore"), b.get("renewBefore")))


def _wanted(owner: Obj, kind: Kind, secret: str, hosts: list[str], issuer: tuple[str, str, str],
            extra: dict[str, str] | None) -> Obj:
    """The Certificate buildCertificates makes for one Secret (RetryLater: a bad certificate annotation)."""
    meta = owner["metadata"]
    dns, ips = ann.split_hosts(hosts)
    name, issuer_kind, group = issuer
    ref = {"name": name}
    if issuer_kind:
        ref["kind"] = issuer_kind
    if group:
        ref["group"] = group
    spec: Obj = {"secretName": secret, "issuerRef": ref, "usages": list(pki.DEFAULT_USAGES)}
    if dns:
        spec["dnsNames"] = dns
    if ips:
        spec["ipAddresses"] = ips
    annotations = dict(extra or {})
    annotations.update(ann.issuer_specific(meta.get("annotations") or {}, kind.kind, meta["name"]))
    cert_meta: Obj = {"name": secret, "namespace": meta["namespace"],
                      "ownerReferences": [{"apiVersion": kind.api_version, "kind": kind.kind, "name": meta["name"],
                                           "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]}
    labels = _labels(owner)
    if labels:
        cert_meta["labels"] = labels
    if annotations:
        cert_meta["annotations"] = annotations
    try:
        ann.translate(spec, meta.get("annotations") or {})
    except ann.BadAnnotation as exc:
        raise RetryLater(str(exc)) from None
    return {"apiVersion": f"{GROUP}/v1", "kind": "Certificate", "metadata": cert_meta, "spec": spec}


def _secret_used(owner: Obj, kind: Kind, secret: str) -> bool:
    """secretNameUsedIn."""
    spec = owner.get("spec") or {}
    if kind is INGRESS:
        return any(entry.get("secretName") == secret for entry in spec.get("tls") or [])
    return any(ref.get("name") == secret for listener in spec.get("listeners") or []
               for ref in (listener.get("tls") or {}).get("certificateRefs") or [])


def sync(sb: Sandbox, owner: Obj, kind: Kind, options: ShimOptions) -> None:
    """SyncFnFor's function for one Ingress or Gateway.

    Raises:
        RetryLater: what upstream's sync returns as an error (retried with back-off).
        ApiError: a conflict with another writer (looked at again at once).
    """
    meta = owner["metadata"]
    annotations = meta.get("annotations") or {}
    auto = options.auto_certificate_annotations if kind is INGRESS else ()
    if not has_shim_annotation(annotations, auto):
        return
    if meta.get("deletionTimestamp") or FOREGROUND in (meta.get("finalizers") or []):
        return
    controller = kind.controller
    try:
        issuer = ann.issuer_for(annotations, options.default_issuer_name, options.default_issuer_kind,
                                options.default_issuer_group)
    except ann.BadIssuer as exc:
        event(sb, owner, "BadConfig", f"Could not determine issuer for ingress due to bad annotations: {exc}",
              controller, "Warning")
        return
    if kind is INGRESS:
        duplicates = _duplicate_secret_names((owner.get("spec") or {}).get("tls") or [])
        if duplicates:
            event(sb, owner, "BadConfig", aggregate(duplicates), controller, "Warning")
            return
    extra = {k: annotations[k] for k in options.extra_certificate_annotations if k in annotations} or None
    ns = meta["namespace"]
    creates, updates = [], []
    for secret, hosts in _hosts(sb, owner, kind, options).items():
        wanted = _wanted(owner, kind, secret, hosts, issuer, extra)
        existing = sb.store.get(CERTIFICATES, ns, secret)
        if existing is None:
            creates.append(wanted)
            continue
        if not _has_controller(existing) or not controlled_by(existing, owner):
            log.info("%s %s/%s: Certificate %s is not owned by this object: refusing to update it", controller, ns,
                     meta["name"], secret)
            continue
        if not needs_update(existing, wanted):
            continue
        updated = copy.deepcopy(existing)
        updated["spec"] = wanted["spec"]
        if wanted["metadata"].get("labels"):
            updated["metadata"]["labels"] = wanted["metadata"]["labels"]
        else:
            updated["metadata"].pop("labels", None)
        if extra:
            updated["metadata"]["annotations"] = {**(updated["metadata"].get("annotations") or {}), **extra}
        updates.append(updated)
    certificates = rt(sb, "certificates")
    writer = WriteOptions(field_manager=component(controller))
    for crt in creates:
        try:
            sb.api.create(certificates, ns, crt, writer)
        except ApiError as exc:
            if exc.code == 409:
                raise
            raise RetryLater(exc.message) from None
        event(sb, owner, "CreateCertificate", f'Successfully created Certificate "{crt["metadata"]["name"]}"',
              controller)
    for crt in updates:
        try:
            sb.api.update(certificates, ns, crt["metadata"]["name"], crt, writer)
        except ApiError as exc:
            if exc.code == 409:
                raise
            raise RetryLater(exc.message) from None
        event(sb, owner, "UpdateCertificate", f'Successfully updated Certificate "{crt["metadata"]["name"]}"',
              controller)
    for crt in sb.store.list(CERTIFICATES, ns):
        name = crt["metadata"]["name"]
        if not controlled_by(crt, owner) or _secret_used(owner, kind, (crt.get("spec") or {}).get("secretName")):
            continue
        try:
            sb.api.delete(certificates, ns, name, DeleteOptions())
        except ApiError as exc:
            if exc.code == 404:
                continue
            raise RetryLater(exc.message) from None
        event(sb, owner, "DeleteCertificate", f'Successfully deleted unrequired Certificate "{name}"', controller)


# --------------------------------------------------------------------------- the controllers


def _reconcile(sb: Sandbox, key: Key, kind: Kind, options: ShimOptions, failures: dict[Key, int]) -> float | None:
    """ProcessItem: nothing for an object gone or being deleted; an error is logged and retried with back-off."""
    owner = sb.store.get(kind.resource, *key)
    if owner is None or owner["metadata"].get("deletionTimestamp"):
        failures.pop(key, None)
        return None
    try:
        sync(sb, owner, kind, options)
    except RetryLater as exc:
        tries = failures.get(key, 0)
        failures[key] = tries + 1
        delay = min(MIN_RETRY * 2 ** tries, MAX_RETRY)
        log.warning("%s: re-queuing item due to error processing %s/%s: %s", component(kind.controller), *key, exc)
        return delay
    failures.pop(key, None)
    return None


def _same(sb: Sandbox, ev: Event) -> Iterable[Key]:
    meta = ev.obj["metadata"]
    return [(meta.get("namespace", ""), meta["name"])]


def _controller(kind: Kind, options: ShimOptions) -> Controller:
    failures: dict[Key, int] = {}
    return Controller(kind.controller, lambda s, k: _reconcile(s, k, kind, options, failures),
                      {kind.resource: _same, CERTIFICATES: owner_key(kind.kind)})


def controllers(sb: Sandbox, options: ShimOptions | None = None) -> list[Controller]:
    """ingress-shim, and gateway-shim when Gateway API support is on."""
    options = options or ShimOptions()
    out = [_controller(INGRESS, options)]
    if options.gateway_api:
        out.append(_controller(GATEWAY, options))
    return out
