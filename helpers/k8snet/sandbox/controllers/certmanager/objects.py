"""What cert-manager's controllers share: its resource names and annotation keys, conditions, status writes and
events.

* names and keys: pkg/apis/certmanager/v1/types.go (annotation and label keys), the controllers' names
  (``cert-manager-<controller>`` is each one's field manager and event source: pkg/controller/context.go
  Build, pkg/util/useragent.go PrefixFromUserAgent);
* conditions: pkg/api/util/conditions.go (SetCertificateCondition, SetIssuerCondition,
  SetCertificateRequestCondition: lastTransitionTime moves only when the status does; Certificate and Issuer
  conditions carry the object's generation as observedGeneration);
* events: client-go's recorder with its EventCorrelator, which folds a repeated event (same object, source,
  type, reason, message) into one Event whose ``count`` grows.

Every write goes through the sandbox's API (status through the ``/status`` subresource, as UpdateStatus does),
so admission, the cert-manager webhook and watches see them as they would see cert-manager's.
"""

from __future__ import annotations

import base64
import copy
from typing import TYPE_CHECKING, Any

from ...apiserver import WriteOptions
from ...errors import ApiError
from ..events import record

if TYPE_CHECKING:
    from ...instance import Sandbox
    from ...registry import ResourceType

Obj = dict[str, Any]

GROUP = "cert-manager.io"
CERTIFICATES = "certificates.cert-manager.io"
REQUESTS = "certificaterequests.cert-manager.io"
ISSUERS = "issuers.cert-manager.io"
CLUSTER_ISSUERS = "clusterissuers.cert-manager.io"
SECRETS = "secrets"
CLUSTER_RESOURCE_NAMESPACE = "cert-manager"
"""The controller's --cluster-resource-namespace default: where a ClusterIssuer's Secrets are read from (the
namespace cert-manager is installed in)."""

CERTIFICATE_NAME = "cert-manager.io/certificate-name"
REVISION = "cert-manager.io/certificate-revision"
PRIVATE_KEY_SECRET = "cert-manager.io/private-key-secret-name"
ISSUER_NAME = "cert-manager.io/issuer-name"
ISSUER_KIND = "cert-manager.io/issuer-kind"
ISSUER_GROUP = "cert-manager.io/issuer-group"
NEXT_PRIVATE_KEY = "cert-manager.io/next-private-key"
FAO = "controller.cert-manager.io/fao"
"""PartOfCertManagerControllerLabelKey: every Secret cert-manager writes carries it, set to "true"."""

SERVICE_ACCOUNT = "system:serviceaccount:cert-manager:cert-manager"
SERVICE_ACCOUNT_GROUPS = ["system:serviceaccounts", "system:serviceaccounts:cert-manager", "system:authenticated"]
"""Who cert-manager's controller is (its ServiceAccount in the release manifest), as the webhook records it on
the CertificateRequests the controller creates."""


def component(controller: str) -> str:
    """The field manager and event source of one cert-manager controller (``cert-manager-certificates-trigger``)."""
    return f"cert-manager-{controller}"


def rt(sb: Sandbox, plural: str, group: str = GROUP) -> ResourceType:
    found = sb.registry.lookup(group, "v1", plural)
    if found is None:
        raise ApiError(f"the server could not find the requested resource ({plural}.{group})", 404, "NotFound")
    return found


def secret_rt(sb: Sandbox) -> ResourceType:
    found = sb.registry.lookup("", "v1", "secrets")
    assert found is not None
    return found


def data(secret: Obj | None, key: str) -> bytes:
    """A Secret's data value, decoded (empty when absent or not base64)."""
    value = ((secret or {}).get("data") or {}).get(key)
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def condition(obj: Obj | None, ctype: str) -> Obj | None:
    for c in ((obj or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def has_condition(obj: Obj | None, ctype: str, status: str, reason: str = "") -> bool:
    c = condition(obj, ctype)
    return c is not None and c.get("status") == status and (not reason or c.get("reason") == reason)


def set_condition(sb: Sandbox, obj: Obj, ctype: str, status: str, reason: str, message: str,
                  generation: bool = True) -> None:
    """SetCertificateCondition / SetIssuerCondition (``generation``: observedGeneration) and
    SetCertificateRequestCondition."""
    new: Obj = {"type": ctype, "status": status, "lastTransitionTime": sb.api.now(), "reason": reason}
    if message:
        new["message"] = message
    if generation:
        new["observedGeneration"] = obj["metadata"].get("generation", 0)
    conditions = obj.setdefault("status", {}).setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == ctype:
            if c.get("status") == status and c.get("lastTransitionTime"):
                new["lastTransitionTime"] = c["lastTransitionTime"]
            conditions[i] = new
            return
    conditions.append(new)


def remove_condition(obj: Obj, ctype: str) -> None:
    status = obj.setdefault("status", {})
    kept = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def write_status(sb: Sandbox, resource_type: ResourceType, obj: Obj, controller: str) -> Obj:
    """UpdateStatus as the controller (its field manager), with the resourceVersion it read (409 on a race)."""
    meta = obj["metadata"]
    return sb.api.update(resource_type, meta.get("namespace", ""), meta["name"], obj,
                         WriteOptions(field_manager=component(controller)), "status")


def event(sb: Sandbox, obj: Obj, reason: str, message: str, controller: str, type_: str = "Normal") -> None:
    """Record an Event about ``obj`` as ``cert-manager-<controller>``; a repeat of the latest identical one only
    raises its count (client-go's EventCorrelator)."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    source = component(controller)
    events_rt = sb.registry.lookup("", "v1", "events")
    assert events_rt is not None
    for ev in sb.store.list("events", ns):
        involved = ev.get("involvedObject") or {}
        if involved.get("uid") == meta.get("uid") and ev.get("reason") == reason and \
                ev.get("message") == message and ev.get("type") == type_ and \
                (ev.get("source") or {}).get("component") == source:
            updated = copy.deepcopy(ev)
            updated["count"] = int(ev.get("count") or 1) + 1
            updated["lastTimestamp"] = sb.api.now()
            try:
                sb.api.update(events_rt, ns, ev["metadata"]["name"], updated, WriteOptions(field_manager=source))
            except ApiError:
                pass
            return
    record(sb, obj, reason, message, source, type_)


def owned_by(obj: Obj, owner: Obj) -> bool:
    """predicate.ResourceOwnedBy: a controller owner reference to ``owner``'s uid."""
    uid = owner["metadata"].get("uid")
    return any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


def controller_ref(owner: Obj, kind: str) -> Obj:
    """metav1.NewControllerRef."""
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def revision_of(cr: Obj) -> int | None:
    text = ((cr["metadata"].get("annotations") or {}).get(REVISION)) or ""
    try:
        return int(text)
    except ValueError:
        return None


def requests_of(sb: Sandbox, crt: Obj, revision: int | None = None) -> list[Obj]:
    """The CertificateRequests a Certificate owns (of one revision, when given)."""
    out = []
    for cr in sb.store.list(REQUESTS, crt["metadata"]["namespace"]):
        if owned_by(cr, crt) and (revision is None or revision_of(cr) == revision):
            out.append(cr)
    return out


def issuer_of(sb: Sandbox, ref: Obj, namespace: str) -> tuple[Obj | None, str]:
    """pkg/issuer/helper.go GetGenericIssuer: the Issuer (in ``namespace``) or ClusterIssuer an issuerRef names,
    or None and the lister's error text."""
    kind = ref.get("kind") or "Issuer"
    name = ref.get("name") or ""
    if kind == "Issuer":
        found = sb.store.get(ISSUERS, namespace, name)
        return (found, "") if found else (None, f'issuer.cert-manager.io "{name}" not found')
    if kind == "ClusterIssuer":
        found = sb.store.get(CLUSTER_ISSUERS, "", name)
        return (found, "") if found else (None, f'clusterissuer.cert-manager.io "{name}" not found')
    return None, f'invalid value "{kind}" for issuerRef.kind. Must be empty, "Issuer" or "ClusterIssuer"'


ISSUER_TYPES = ("acme", "ca", "vault", "selfSigned", "venafi")
"""pkg/api/util/issuers.go NameForIssuer, in its order."""


def issuer_type(issuer: Obj) -> str:
    spec = issuer.get("spec") or {}
    return next((t for t in ISSUER_TYPES if spec.get(t) is not None), "")


def resource_namespace(issuer: Obj) -> str:
    """issuerOptions.ResourceNamespace: an Issuer's own namespace, the cluster resource namespace for a
    ClusterIssuer."""
    return issuer["metadata"].get("namespace") or CLUSTER_RESOURCE_NAMESPACE
