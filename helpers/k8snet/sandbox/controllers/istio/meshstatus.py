"""istiod's ambient status writers: what it says on AuthorizationPolicies, Services and mesh HTTPRoutes.

Sources (Istio 1.31): pilot/pkg/model/service.go (``ZtunnelAccepted``: "attached to ztunnel", or istiod's
``UnsupportedValue`` message; ``WaypointAccepted`` for policies with ``targetRefs``, flattened from one binding per
target; ``istio.io/WaypointBound`` on a Service: "Successfully attached to waypoint NS/NAME"),
pilot/pkg/serviceregistry/ambient/policies.go ``WaypointPolicyStatusCollection`` (bound to NS/NAME; "Service NS/NAME
is not bound to a waypoint"; "was not found"), pilot/pkg/config/kube/gateway/conversion.go (a route's parent
status: controller ``istio.io/mesh-controller`` for a Service parent, Accepted "Route was valid", ResolvedRefs
"All references resolved"). Istio's conditions carry ``observedGeneration`` as a string (its protobuf JSON).

While istiod runs, it also says what the sandbox's waypoints do not do: a ``VirtualService`` or
``DestinationRule`` gets a Warning event (HTTPRoute is what they route).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...apiserver import WriteOptions
from ...errors import ApiError
from .. import POLL_KEY, Controller, Key
from ..events import record
from . import names, nodes

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]
AUTHORIZATION_POLICIES = "authorizationpolicies.security.istio.io"
HTTPROUTES = "httproutes.gateway.networking.k8s.io"
GATEWAYS = "gateways.gateway.networking.k8s.io"
NOT_EMULATED = ("virtualservices.networking.istio.io", "destinationrules.networking.istio.io")
MESH_CONTROLLER = "istio.io/mesh-controller"


def controller(sb: Sandbox) -> Controller:
    """Recompute every status on any change of what it depends on (a handful of objects in a lesson)."""
    def poll(_sb: Sandbox, _event: Any) -> Iterable[Key]:
        return [POLL_KEY]

    watched = {res: poll for res in (AUTHORIZATION_POLICIES, HTTPROUTES, GATEWAYS, "services", "namespaces",
                                     *NOT_EMULATED)}
    watched["pods"] = lambda sb, event: [POLL_KEY] if any(
        nodes.runs(p, nodes.PILOT) or nodes.runs(p, nodes.PROXYV2) for p in (event.obj, event.old) if p) else []
    return Controller("istiod-status", reconcile, watched)


def reconcile(sb: Sandbox, key: Key) -> float | None:
    if not nodes.istiod_pods(sb):
        return None
    from ...dataplane.mesh import authz
    from ...dataplane.mesh.waypoint import Waypoints

    waypoints = Waypoints(sb, sb.dataplane, None)
    for pol in sb.store.list(AUTHORIZATION_POLICIES):
        _policy(sb, pol, authz, waypoints)
    for svc in sb.store.list("services"):
        _service(sb, svc, waypoints)
    for route in sb.store.list(HTTPROUTES):
        _route(sb, route)
    warned = sb.program_state.setdefault("istiod-not-emulated", set())
    for resource in NOT_EMULATED:
        for obj in sb.store.list(resource):
            if obj["metadata"]["uid"] not in warned:
                warned.add(obj["metadata"]["uid"])
                record(sb, obj, "NotEmulated", f"the k8snet sandbox's waypoints do not apply {obj['kind']} "
                       "(only Gateway API HTTPRoutes attached to a Service)", "pilot-discovery", "Warning")
    return None


def _condition(sb: Sandbox, old: list[Obj], type_: str, status: bool, reason: str, message: str,
               generation: int) -> Obj:
    before = next((c for c in old if c.get("type") == type_), None)
    same = before is not None and before.get("status") == ("True" if status else "False")
    return {"lastTransitionTime": before["lastTransitionTime"] if same and before.get("lastTransitionTime")
            else sb.api.now(), "message": message, "observedGeneration": str(generation), "reason": reason,
            "status": "True" if status else "False", "type": type_}


def _write(sb: Sandbox, resource: tuple[str, str, str], obj: Obj, status: Obj) -> None:
    """Server-side apply of ``status`` (skipped when nothing would change, so no write loops)."""
    current = obj.get("status") or {}
    if all(current.get(k) == v for k, v in status.items()):
        return
    rt = sb.registry.lookup(*resource)
    if rt is None:
        return
    meta = obj["metadata"]
    body = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": meta["name"], "namespace": meta.get("namespace")}, "status": status}
    try:
        sb.api.patch(rt, meta.get("namespace", ""), meta["name"], "apply", body,
                     WriteOptions(field_manager=names.GATEWAY_CONTROLLER_FIELD_MANAGER, force=True),
                     subresource="status")
    except ApiError as exc:
        if exc.code not in (404, 409):
            raise


def _same_but_time(a: list[Obj], b: list[Obj]) -> bool:
    strip = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in a]
    return strip == [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in b]


def _policy(sb: Sandbox, pol: Obj, authz: Any, waypoints: Any) -> None:
    meta, spec = pol["metadata"], pol.get("spec") or {}
    old = (pol.get("status") or {}).get("conditions") or []
    gen = meta.get("generation", 1)
    refs = spec.get("targetRefs") or ([spec["targetRef"]] if spec.get("targetRef") else [])
    if refs:
        bindings = [_binding(sb, meta["namespace"], ref, waypoints) for ref in refs]
        if len(bindings) == 1:
            bound, reason, message = bindings[0]
        else:
            bound = any(b for b, _, _ in bindings)
            unbound = [f"{r.get('kind')}.{r.get('group') or 'core'}:{r.get('namespace') or meta['namespace']}/"
                       f"{r.get('name')}" for (b, _, _), r in zip(bindings, refs, strict=True) if not b]
            reason = "PartiallyInvalid" if bound and unbound else ("Accepted" if bound else "Invalid")
            message = f"Invalid targetRefs: {', '.join(unbound)}" if unbound else ""
        wanted = [_condition(sb, old, "WaypointAccepted", bound, reason, message, gen)]
    else:
        converted, message = authz.convert_authorization_policy(pol)
        wanted = [_condition(sb, old, "ZtunnelAccepted", converted is not None, "UnsupportedValue" if message
                             else "Accepted", message or "attached to ztunnel", gen)]
    if not _same_but_time(old, wanted):
        _write(sb, ("security.istio.io", "v1", "authorizationpolicies"), pol, {"conditions": wanted})


def _binding(sb: Sandbox, namespace: str, ref: Obj, waypoints: Any) -> tuple[bool, str, str]:
    ns = ref.get("namespace") or namespace
    key = f"{ns}/{ref.get('name')}"
    kind = ref.get("kind")
    if kind == "Service":
        svc = sb.store.get("services", ns, ref.get("name", ""))
        if svc is None:
            return False, "TargetNotFound", f"Service {key} was not found"
        gw = waypoints.gateway_of(svc)
        if gw is None:
            return False, "AncestorNotBound", f"Service {key} is not bound to a waypoint"
        return True, "Accepted", f"bound to {gw['metadata']['namespace']}/{gw['metadata']['name']}"
    if kind == "Gateway":
        gw = sb.store.get(GATEWAYS, ns, ref.get("name", ""))
        if gw is None or (gw.get("spec") or {}).get("gatewayClassName") != "istio-waypoint":
            return False, "TargetNotFound", "not bound"
        return True, "Accepted", f"bound to {key}"
    if kind == "GatewayClass":
        if namespace != names.ISTIO_NAMESPACE:
            return False, "Invalid", (f"AuthorizationPolicy must be in the root namespace `{names.ISTIO_NAMESPACE}` "
                                      "when referencing a GatewayClass")
        gc = sb.store.get("gatewayclasses.gateway.networking.k8s.io", "", ref.get("name", ""))
        if gc is None:
            return False, "TargetNotFound", "not bound"
        if (gc.get("spec") or {}).get("controllerName") != MESH_CONTROLLER:
            return False, "Invalid", f"GatewayClass must use controller name `{MESH_CONTROLLER}` for waypoints"
        return True, "Accepted", f"bound to {gc['metadata']['name']}"
    return False, "unknown", "not bound"


def _service(sb: Sandbox, svc: Obj, waypoints: Any) -> None:
    """``istio.io/WaypointBound`` on a Service that names a waypoint (on itself or its namespace)."""
    gw = waypoints.gateway_of(svc)
    old = (svc.get("status") or {}).get("conditions") or []
    others = [c for c in old if c.get("type") != "istio.io/WaypointBound"]
    if gw is None:
        if len(others) != len(old):
            _write(sb, ("", "v1", "services"), svc, {"conditions": others})
        return
    cond = _condition(sb, old, "istio.io/WaypointBound", True, "WaypointAccepted",
                      f"Successfully attached to waypoint {gw['metadata']['namespace']}/{gw['metadata']['name']}",
                      svc["metadata"].get("generation", 1))
    cond["observedGeneration"] = svc["metadata"].get("generation", 1)  # a core condition: an integer
    if not _same_but_time(old, [*others, cond]):
        _write(sb, ("", "v1", "services"), svc, {"conditions": [*others, cond]})


def _route(sb: Sandbox, route: Obj) -> None:
    """The status of each Service parent of an HTTPRoute, as istiod's mesh controller writes it."""
    meta, spec = route["metadata"], route.get("spec") or {}
    parents = [p for p in spec.get("parentRefs") or [] if p.get("kind") == "Service"
               and p.get("group", "") in ("", "core")]
    if not parents:
        return
    current = (route.get("status") or {}).get("parents") or []
    keep = [p for p in current if p.get("controllerName") != MESH_CONTROLLER]
    gen = meta.get("generation", 1)
    written = []
    for ref in parents:
        before = next((p for p in current if p.get("parentRef") == ref and p.get("controllerName") ==
                       MESH_CONTROLLER), {})
        old = before.get("conditions") or []
        missing = [b for rule in spec.get("rules") or [] for b in rule.get("backendRefs") or []
                   if b.get("kind", "Service") == "Service"
                   and sb.store.get("services", b.get("namespace") or meta["namespace"], b.get("name", "")) is None]
        resolved = _gw_condition(sb, old, "ResolvedRefs", not missing, "ResolvedRefs" if not missing
                                 else "BackendNotFound", "All references resolved" if not missing else
                                 f"backend({missing[0].get('name')}.{meta['namespace']}) not found", gen)
        accepted = _gw_condition(sb, old, "Accepted", True, "Accepted", "Route was valid", gen)
        written.append({"conditions": [accepted, resolved], "controllerName": MESH_CONTROLLER, "parentRef": ref})
    if [p for p in current if p.get("controllerName") == MESH_CONTROLLER] != written:
        _write(sb, ("gateway.networking.k8s.io", "v1", "httproutes"), route, {"parents": [*keep, *written]})


def _gw_condition(sb: Sandbox, old: list[Obj], type_: str, status: bool, reason: str, message: str,
                  generation: int) -> Obj:
    """A Gateway API condition (metav1.Condition: an integer observedGeneration)."""
    cond = _condition(sb, old, type_, status, reason, message, generation)
    cond["observedGeneration"] = generation
    return cond
