"""Namespaces in the ambient mesh, and their waypoints, as ``kubectl label`` and ``istioctl waypoint apply`` do it.

- :func:`enroll`: ``kubectl label namespace NS istio.io/dataplane-mode=ambient``. The istio-cni node agents then
  capture the namespace's pods, running and new (no restart), and mark each one ``ambient.istio.io/redirection:
  enabled``.
- :func:`waypoint`: ``istioctl waypoint apply -n NS [--name N] [--enroll-namespace] --wait`` of Istio 1.31
  (istioctl/pkg/waypoint/waypoint.go): a Gateway of class ``istio-waypoint`` with one listener ``mesh``, port 15008,
  protocol HBONE, server-side applied as ``istioctl``; no ``istio.io/waypoint-for`` label unless asked for (``--for``:
  istiod then takes it as ``service``); a wait for ``Programmed``; then, with enrolment, the namespace label
  ``istio.io/use-waypoint: <name>``. Its messages are istioctl's, warnings included: a namespace not labelled
  ambient, and one that already uses a waypoint (then nothing is applied unless ``overwrite``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

if TYPE_CHECKING:
    from ..cluster import Cluster

Say = Callable[[str], None]
DATAPLANE_MODE = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
WAYPOINT_FOR = "istio.io/waypoint-for"
REV = "istio.io/rev"
TRAFFIC_TYPES = ("all", "none", "service", "workload")
"""istioctl's validTrafficTypes (pkg/config/constants: AllTraffic, NoTraffic, ServiceTraffic, WorkloadTraffic)."""
WAIT_TIMEOUT = 90.0
"""istioctl's --waypoint-timeout default (waitTimeout)."""
FIELD_MANAGER = "istioctl"


def enroll(cluster: Cluster, namespace: str, *, wait: bool = True, timeout: float = WAIT_TIMEOUT) -> dict[str, Any]:
    """Put a namespace in the ambient mesh: ``kubectl label namespace NS istio.io/dataplane-mode=ambient
    --overwrite`` (a merge patch of its labels). With ``wait``, return only once the istio-cni agents have
    captured every running pod of the namespace that is not opted out (``ambient.istio.io/redirection:
    enabled``): the label alone changes nothing until they have, so traffic sent at once may still be plaintext.
    Returns the namespace.

    Example:
        >>> k8snet.mesh.enroll(cluster, "shop")
    """
    ns = cluster.core.patch_namespace(namespace, {"metadata": {"labels": {DATAPLANE_MODE: "ambient"}}})
    deadline = time.monotonic() + timeout
    while wait:
        pods = [p for p in cluster.core.list_namespaced_pod(namespace).items if p.status.phase == "Running"
                and not p.spec.host_network and (p.metadata.labels or {}).get(DATAPLANE_MODE) != "none"]
        waiting = [p.metadata.name for p in pods
                   if (p.metadata.annotations or {}).get("ambient.istio.io/redirection") != "enabled"]
        if not waiting:
            break
        if time.monotonic() >= deadline:
            raise TimeoutError(f"pods of {namespace} not captured by the mesh within {timeout:.0f}s: "
                               f"{', '.join(waiting)} (is istio-cni running on their nodes?)")
        time.sleep(0.1)
    return ns.to_dict()


def gateway(namespace: str, name: str = "waypoint", for_traffic: str | None = None,
            revision: str | None = None) -> dict[str, Any]:
    """The Gateway ``istioctl waypoint apply`` writes (makeGateway)."""
    if not name:
        name = "waypoint"
    if name == "none":
        raise ValueError("invalid name provided for waypoint, 'none' is a reserved value")
    labels: dict[str, str] = {}
    if for_traffic:
        if for_traffic not in TRAFFIC_TYPES:
            raise ValueError(f"invalid traffic type: {for_traffic}. Valid options are: [{' '.join(TRAFFIC_TYPES)}]")
        labels[WAYPOINT_FOR] = for_traffic
    if revision:
        labels[REV] = revision
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": meta,
            "spec": {"gatewayClassName": "istio-waypoint",
                     "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}}


def programmed(gw: dict[str, Any] | None) -> bool:
    """The Gateway's ``Programmed`` condition is True (what ``--wait`` polls for)."""
    return any(c.get("type") == "Programmed" and c.get("status") == "True"
               for c in ((gw or {}).get("status") or {}).get("conditions") or [])


def waypoint(cluster: Cluster, namespace: str, name: str = "waypoint", enroll_namespace: bool = True, *,
             for_traffic: str | None = None, overwrite: bool = False, timeout: float = WAIT_TIMEOUT,
             say: Say = print) -> dict[str, Any] | None:
    """Deploy a waypoint in ``namespace`` and wait until it is Programmed; with ``enroll_namespace``, make the
    namespace's services use it. Returns the Gateway, or None when the namespace already uses a waypoint and
    ``overwrite`` is not set (istioctl then only warns).

    Raises:
        LookupError: the namespace does not exist.
        ValueError: a reserved name or an unknown traffic type.
        TimeoutError: not Programmed within ``timeout`` seconds (with the Gateway's conditions).

    Example:
        >>> k8snet.mesh.waypoint(cluster, "shop")
        ✅ waypoint shop/waypoint applied
    """
    try:
        ns = cluster.core.read_namespace(namespace)
    except ApiException as exc:
        if exc.status == 404:
            raise LookupError(f'namespaces "{namespace}" not found') from exc
        raise
    labels = ns.metadata.labels or {}
    if enroll_namespace:
        if not overwrite and labels.get(USE_WAYPOINT):
            say(f"⚠️ Warning: namespace ({namespace}) already has an enrolled Waypoint. Consider adding the "
                "`--overwrite` flag to your apply command.")
            return None
        if labels.get(DATAPLANE_MODE) != "ambient":
            say("⚠️ Warning: namespace is not enrolled in ambient. Consider running\t"
                f"`kubectl label namespace {namespace} istio.io/dataplane-mode=ambient`")
    body = gateway(namespace, name, for_traffic)
    res = cluster.dynamic.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    res.server_side_apply(body=body, name=body["metadata"]["name"], namespace=namespace,
                          field_manager=FIELD_MANAGER, force_conflicts=False)
    name = body["metadata"]["name"]
    say(f"✅ waypoint {namespace}/{name} applied")
    deadline = time.monotonic() + timeout
    gw: dict[str, Any] | None = None
    while True:
        gw = res.get(name=name, namespace=namespace).to_dict()
        if programmed(gw):
            break
        if time.monotonic() >= deadline:
            seen = "; ".join(f"{c.get('type')}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
                             for c in (gw.get("status") or {}).get("conditions") or []) or "no status yet"
            raise TimeoutError(f"timed out while waiting for waypoint {namespace}/{name}: {seen}")
        time.sleep(0.1)
    say(f"✅ waypoint {namespace}/{name} is ready!")
    # Programmed says the Gateway has its address, not that its proxy runs (istiod's conversion.go); traffic the
    # namespace sends it before a pod is Ready finds no healthy upstream, so wait for one (istioctl does not)
    _wait_available(cluster, namespace, gw, deadline)
    if enroll_namespace:
        ns = cluster.core.read_namespace(namespace)  # labelNamespaceWithWaypoint: get, set the label, update
        ns.metadata.labels = {**(ns.metadata.labels or {}), USE_WAYPOINT: name}
        cluster.core.replace_namespace(namespace, ns)
        say(f'✅ namespace {namespace} labeled with "{USE_WAYPOINT}: {name}"')
    return gw


def _wait_available(cluster: Cluster, namespace: str, gw: dict[str, Any], deadline: float) -> None:
    """Until a pod of the waypoint's Deployment (labelled with the Gateway's name) is Ready."""
    selector = f"gateway.networking.k8s.io/gateway-name={gw['metadata']['name']}"
    while True:
        pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
        if any(c.type == "Ready" and c.status == "True" for p in pods for c in (p.status.conditions or [])):
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out while waiting for a ready pod of waypoint {namespace}/"
                               f"{gw['metadata']['name']}")
        time.sleep(0.1)
