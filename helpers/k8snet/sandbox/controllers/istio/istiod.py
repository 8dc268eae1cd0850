"""istiod's control-plane duties in the cluster's API, done while an istiod pod runs (``docker.io/istio/pilot``
with ``discovery``: :mod:`.nodes`).

As istiod 1.31 does them (github.com/istio/istio, release-1.31):

- **The mesh CA** (:mod:`.ca`): at start, the Secret ``istio-ca-secret`` in istiod's namespace is loaded or, when
  missing, made (security/pkg/pki/ca/ca.go NewSelfSignedIstioCAOptions), with the ``pkica`` log lines istiod prints.
  A Secret deleted while istiod runs is made again at once (upstream only at the next start; the sandbox keeps one
  root in the API for the data path to read).
- **The root in every namespace** (pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go): ConfigMap
  ``istio-ca-root-cert`` with ``root-cert.pem``, and ``istio-ca-crl`` with ``ca-crl.pem`` (empty: the self-signed CA
  has no CRL; PILOT_ENABLE_CA_CRL is on by default), both labelled ``istio.io/config: "true"``, in every namespace
  but kube-public, kube-node-lease and local-path-storage and those being deleted; created when missing and
  updated when their key differs (security/pkg/k8s/configutil.go InsertDataToConfigMap: other keys stay), so a
  deleted or edited one comes back.
- **GatewayClasses** (pilot/pkg/config/kube/gatewaycommon/gatewayclass.go ClassController): ``istio``,
  ``istio-remote`` and ``istio-waypoint`` are created when missing (never updated: an edited class stays edited),
  and every class whose controller is Istio's gets ``Accepted`` True, reason Accepted, "Handled by Istio
  controller" (GetClassStatus, through the status collection).

Writes are made as istiod makes them: creates and updates as ``pilot-discovery`` (client-go's default field manager
for the binary), class status by server-side apply as ``istio.io/gateway-controller``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...jsoncopy import clone
from ...store import Event
from .. import POLL_KEY, Controller, Key
from . import ca, names, nodes

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]
FIELD_MANAGER = "pilot-discovery"
GATEWAY_CLASSES = "gatewayclasses.gateway.networking.k8s.io"
ISTIO_CONTROLLERS = frozenset(controller for controller, _ in names.GATEWAY_CLASSES.values())
"""The controllerNames istiod's status collection knows (gatewaycommon ClassInfos with ambient on)."""


def controller(sb: Sandbox) -> Controller:
    """istiod's CA, namespace and GatewayClass controllers, acting while an istiod pod runs."""
    return Controller("istiod", reconcile, {
        "pods": _on_istiod_pod,
        "namespaces": _on_namespace,
        "configmaps": _on_configmap,
        "secrets": _on_secret,
        GATEWAY_CLASSES: lambda sb, event: [POLL_KEY],
    })


def _on_istiod_pod(sb: Sandbox, event: Event) -> Iterable[Key]:
    pods = [p for p in (event.obj, event.old) if p]
    if any(nodes.repository(c.get("image", "")) == nodes.PILOT for p in pods
           for c in (p.get("spec") or {}).get("containers") or []):
        return [POLL_KEY]
    return []


def _on_namespace(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [(event.obj["metadata"]["name"], "ns")]


def _on_configmap(sb: Sandbox, event: Event) -> Iterable[Key]:
    meta = event.obj["metadata"]
    if meta["name"] in (names.ROOT_CERT_CONFIGMAP, names.CRL_CONFIGMAP):
        return [(meta.get("namespace", ""), "ns")]
    return []


def _on_secret(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [POLL_KEY] if event.obj["metadata"]["name"] == names.CA_SECRET else []


def reconcile(sb: Sandbox, key: Key) -> float | None:
    running = nodes.istiod_pods(sb)
    if not running:
        return None  # no istiod process: nothing in the cluster does its work
    if key == POLL_KEY:
        ensure_ca(sb, running)
        for ns in sb.store.list("namespaces"):
            sync_namespace(sb, ns["metadata"]["name"])
        ensure_gateway_classes(sb)
        return None
    sync_namespace(sb, key[0])
    return None


# -- the CA ------------------------------------------------------------------------------------------------------


def ensure_ca(sb: Sandbox, istiods: list[Obj]) -> ca.MeshCA | None:
    """Load or make ``istio-ca-secret`` (ca.go NewSelfSignedIstioCAOptions), logging as istiod's ``pkica`` scope."""
    existing = sb.store.get("secrets", names.ISTIO_NAMESPACE, names.CA_SECRET)
    if existing is not None:
        return ca.mesh_ca(sb)
    log(sb, istiods, "pkica", f"CASecret {names.CA_SECRET} not found, will create one")
    now = sb.clock.now()
    cert_pem, key_pem = ca.make_root(now, sb.random.stream("istiod-ca").getrandbits(128) or 1)
    rt = sb.registry.lookup("", "v1", "secrets")
    assert rt is not None
    try:
        sb.api.create(rt, names.ISTIO_NAMESPACE, {
            "metadata": {"name": names.CA_SECRET}, "type": names.CA_SECRET_TYPE,
            "data": ca.secret_data(cert_pem, key_pem)}, WriteOptions(field_manager=FIELD_MANAGER))
    except ApiError as exc:
        if exc.code != 409:
            raise
    log(sb, istiods, "pkica", f"Using self-generated public key: {cert_pem}")
    log(sb, istiods, "pkica", f"Set secret name for self-signed CA cert rotator to {names.CA_SECRET}")
    return ca.mesh_ca(sb)


def log(sb: Sandbox, istiods: list[Obj], scope: str, message: str) -> None:
    """A line in each running istiod's log, in Istio's format (pkg/log: time, level, scope, message)."""
    stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    dp = sb.dataplane
    for pod in istiods:
        container = nodes.runs(pod, nodes.PILOT)
        if container:
            dp.logs.append(pod["metadata"]["uid"], container, f"{stamp}\tinfo\t{scope}\t{message}")


def root_pem(sb: Sandbox) -> str | None:
    """The root certificate istiod distributes (its CA bundle: the Secret's root-cert.pem), or None."""
    secret = sb.store.get("secrets", names.ISTIO_NAMESPACE, names.CA_SECRET)
    if secret is None:
        return None
    data = (secret.get("data") or {}).get(names.ROOT_CERT_KEY) or (secret.get("data") or {}).get(names.CA_CERT_KEY)
    return base64.b64decode(data).decode() if data else None


# -- istio-ca-root-cert and istio-ca-crl in every namespace -------------------------------------------------------


def sync_namespace(sb: Sandbox, namespace: str) -> None:
    """namespacecontroller.go reconcileCACertAndCRL for one namespace (skipped: ignored and terminating ones)."""
    if namespace in names.IGNORED_NAMESPACES:
        return
    ns = sb.store.get("namespaces", "", namespace)
    if ns is None or (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
        return
    root = root_pem(sb)
    if root is None:
        return
    _upsert(sb, namespace, names.ROOT_CERT_CONFIGMAP, names.ROOT_CERT_CONFIGMAP_KEY, root)
    _upsert(sb, namespace, names.CRL_CONFIGMAP, names.CRL_CONFIGMAP_KEY, "")


def _upsert(sb: Sandbox, namespace: str, name: str, key: str, value: str) -> None:
    """security/pkg/k8s/configutil.go InsertDataToConfigMap: create, or update when the key's value differs."""
    rt = sb.registry.lookup("", "v1", "configmaps")
    assert rt is not None
    opts = WriteOptions(field_manager=FIELD_MANAGER)
    current = sb.store.get("configmaps", namespace, name)
    try:
        if current is None:
            sb.api.create(rt, namespace, {"metadata": {"name": name, "labels": dict(names.CONFIGMAP_LABELS)},
                                          "data": {key: value}}, opts)
        elif (current.get("data") or {}).get(key) != value or key not in (current.get("data") or {}):
            updated = clone(current)
            updated.setdefault("data", {})[key] = value
            sb.api.update(rt, namespace, name, updated, opts)
    except ApiError as exc:
        if exc.code not in (403, 404, 409):  # a namespace being deleted, a race: the next event looks again
            raise


# -- GatewayClasses -----------------------------------------------------------------------------------------------


def ensure_gateway_classes(sb: Sandbox) -> None:
    """ClassController.Reconcile: create the built-in classes that are missing; then the status collection's
    ``Accepted`` on every class of an Istio controller."""
    rt = sb.registry.lookup("gateway.networking.k8s.io", "v1", "gatewayclasses")
    if rt is None:
        return  # no Gateway API CRDs: istiod runs no gateway controllers
    for name, (controller_name, description) in names.GATEWAY_CLASSES.items():
        if sb.store.get(GATEWAY_CLASSES, "", name) is None:
            try:
                sb.api.create(rt, "", {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                                       "metadata": {"name": name},
                                       "spec": {"controllerName": controller_name, "description": description}},
                              WriteOptions(field_manager=FIELD_MANAGER))
            except ApiError as exc:
                if exc.code != 409:
                    raise
    for gc in sb.store.list(GATEWAY_CLASSES):
        if (gc.get("spec") or {}).get("controllerName") in ISTIO_CONTROLLERS:
            accept_class(sb, rt, gc)


def accept_class(sb: Sandbox, rt: Any, gc: Obj) -> None:
    """GetClassStatus: Accepted True (kstatus.UpdateConditionIfChanged keeps lastTransitionTime while the status
    stays), written when it changes."""
    generation = gc["metadata"].get("generation", 1)
    conditions = (gc.get("status") or {}).get("conditions") or []
    old = next((c for c in conditions if c.get("type") == "Accepted"), None)
    wanted = {"type": "Accepted", "status": "True", "observedGeneration": generation,
              "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == "True"
              else sb.api.now(), "reason": "Accepted", "message": "Handled by Istio controller"}
    if old == wanted:
        return
    others = [c for c in conditions if c.get("type") != "Accepted"]
    body = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
            "metadata": {"name": gc["metadata"]["name"]}, "status": {"conditions": [wanted, *others]}}
    sb.api.patch(rt, "", gc["metadata"]["name"], "apply", body,
                 WriteOptions(field_manager=names.GATEWAY_CONTROLLER_FIELD_MANAGER, force=True), subresource="status")
