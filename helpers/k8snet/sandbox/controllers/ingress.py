"""What the emulated Traefik writes to the API: Ingress status, and Warning events for what goes wrong.

Status follows Traefik's Kubernetes Ingress provider (pkg/provider/kubernetes/ingress ``updateIngressStatus``
with ``ingressEndpoint.publishedService=traefik/traefik``): every Ingress Traefik processes gets the
load-balancer ingress of the ``traefik`` Service (the address cloud-provider-kind gives it on kind), written
through the status subresource only when its IPs/hostnames differ. Traefik itself reports problems only in its
log; the sandbox writes those lines to the Traefik pod's log too, and additionally records each one once as a
Warning event on the Ingress (``kubectl describe ingress`` shows it), including everything the sandbox does
not emulate, so nothing is silently ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..store import Event
from . import Controller, Key, same_key
from .events import record

if TYPE_CHECKING:
    from ..instance import Sandbox

INGRESSES = "ingresses.networking.k8s.io"
COMPONENT = "traefik"


def all_ingresses(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in sb.store.list(INGRESSES)]


def namespace_ingresses(sb: Sandbox, event: Event) -> Iterable[Key]:
    """A Service or Secret changed: the Ingresses of its namespace (and all of them for Traefik's own Service)."""
    from ..dataplane.ingress.config import NAME, NAMESPACE

    meta = event.obj["metadata"]
    if event.resource == "services" and (meta.get("namespace"), meta["name"]) == (NAMESPACE, NAME):
        return all_ingresses(sb, event)
    ns = meta.get("namespace", "")
    return [(ns, i["metadata"]["name"]) for i in sb.store.list(INGRESSES, ns)]


def lb_equal(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """isLoadBalancerIngressEquals: the same hostname+IP entries (ports are not compared)."""
    return len(a) == len(b) and {x.get("hostname", "") + x.get("ip", "") for x in a} == \
        {x.get("hostname", "") + x.get("ip", "") for x in b}


def controller(sb: Sandbox) -> Controller:
    """One reconcile per Ingress: status when Traefik owns it, and one Warning event per new problem."""
    reported: dict[str, set[tuple[str, str]]] = {}  # Ingress uid -> (reason, message) already recorded

    def reconcile(sb: Sandbox, key: Key) -> float | None:
        ns, name = key
        ingress = sb.store.get(INGRESSES, ns, name)
        if ingress is None or "traefik" in sb.real_servers:  # the real Traefik writes its own status
            return None
        uid = ingress["metadata"].get("uid", "")
        front = sb.dataplane.ingress
        if key not in front.configuration().processed:
            reported.pop(uid, None)
            return None
        status = front.published_status()
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if status is not None and not lb_equal(current, status):
            rt = sb.registry.lookup("networking.k8s.io", "v1", "ingresses")
            assert rt is not None
            new = copy.deepcopy(ingress)
            new["status"] = {"loadBalancer": {"ingress": status}}
            ingress = sb.api.update(rt, ns, name, new, WriteOptions(field_manager=COMPONENT), "status")
            front.log("INF", "Updated ingress status", ingress=name, namespace=ns)
        problems = {(p.reason, p.message): p for p in front.problems() if p.ingress == key}
        seen = reported.setdefault(uid, set())
        for (reason, message), problem in problems.items():
            if (reason, message) in seen:
                continue
            record(sb, ingress, reason, message, COMPONENT, "Warning")
            front.log(problem.level, message, ingress=name, namespace=ns, providerName="kubernetes")
        reported[uid] = set(problems)
        return None

    return Controller("ingress", reconcile, {
        INGRESSES: same_key, "ingressclasses.networking.k8s.io": all_ingresses,
        "middlewares.traefik.io": all_ingresses, "tlsoptions.traefik.io": all_ingresses,
        "services": namespace_ingresses, "secrets": namespace_ingresses})
