"""Lab 06 — Gateway API: attach a route to its Gateway, reach a Service in another namespace, split traffic
by weight.

1. **attach** — a route the Gateway does not take: read its status and make its host reachable;
2. **grant** — a route to another team's Service: that team's namespace must allow it (ReferenceGrant);
3. **canary** — a quarter of the requests to the new version, with the route's weights alone.

Every check sends real requests from outside the cluster through the ingress edge (:func:`k8snet.ingress.send`,
the same URLs on the sandbox and on kind) and grades who answered; when something is off, the hint quotes the
status Traefik wrote on the route. Semantics: Gateway API v1.5.1 (gateway-api.sigs.k8s.io/reference/spec:
``Accepted``/``NoMatchingListenerHostname``, ``ResolvedRefs``/``RefNotPermitted``, ``backendRefs[].weight``) and its
conformance tests (tests/httproute-weight.go: ±5 % over 500 requests; this lab sends 200).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from . import Exercise, Hint, labs_folder

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..ingress.result import EdgeResult

LAB = "lab-06-gateway-api"
GATEWAY_API = "gateway.networking.k8s.io/v1"
CATALOG = "lab06-catalog"
"""The catalog team's namespace, which exercise 2's route refers to."""
TOLERANCE = 0.05
"""How far a measured share may be from its weight (the conformance suite's HTTPRouteWeight tolerance)."""


def start_manifest(exercise_id: str) -> Path:
    """A starting-state manifest the learner can read: ``labs/lab-06-gateway-api/start/<id>.yaml``."""
    return labs_folder() / LAB / "start" / f"{exercise_id}.yaml"


def _start(cluster: Cluster, exercise_id: str, ns: str) -> None:
    """Apply the exercise's starting manifest and wait for its Deployments."""
    applied = cluster.apply(start_manifest(exercise_id), namespace=ns)
    for obj in applied:
        if obj["kind"] == "Deployment":
            cluster.wait_ready(obj["metadata"]["name"], obj["metadata"]["namespace"])


def _send(cluster: Cluster, url: str, n: int) -> EdgeResult:
    from .. import ingress

    return ingress.send(cluster, url, n=n)


def _route(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    try:
        return cluster.get("HTTPRoute", name, ns, api_version=GATEWAY_API)
    except ApiException as exc:
        if exc.status == 404:
            raise Hint(f'HTTPRoute "{name}" is gone from namespace {ns}: write it again, or run lab.setup() to '
                       "start over.") from None
        raise


def _conditions(route: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The route's conditions for its first parent, by type ({} when no controller has written any)."""
    parents = (route.get("status") or {}).get("parents") or []
    return {c["type"]: c for c in (parents[0].get("conditions") or [])} if parents else {}


def _status_words(route: dict[str, Any], kind: str) -> str:
    """``Accepted=False (NoMatchingListenerHostname): …`` for one condition, or what is missing."""
    cond = _conditions(route).get(kind)
    if cond is None:
        return f"no {kind} condition: no Gateway controller has written status for this route (does its parentRef " \
               "name a Gateway that exists, in the right namespace?)"
    message = f": {cond['message']}" if cond.get("message") else ""
    return f"{kind}={cond['status']} ({cond.get('reason')}){message}"


def _outcome(result: EdgeResult) -> str:
    """``404 ×5`` or ``200 ×4, 500 ×1``, with the first answer's body."""
    counts = ", ".join(f"{k} ×{v}" for k, v in result.counts().items())
    first = result[0]
    said = (first.body.strip().splitlines() or [""])[0] if first.status is not None else first.error or ""
    return f"{counts} (the first said {said!r})" if said else counts


# -- 1: attach -------------------------------------------------------------------------------------------


def setup_attach(cluster: Cluster, ns: str) -> None:
    _start(cluster, "attach", ns)


def check_attach(cluster: Cluster, ns: str) -> str:
    url = "http://shop.lab06.test/"
    result = _send(cluster, url, 5)
    if [r.body.strip() for r in result] == ["shop"] * 5:
        return f"5 of 5 requests to {url} were answered by the shop ({result[0].ingress})."
    route = _route(cluster, ns, "shop")
    raise Hint(f"{url} answered {_outcome(result)}. HTTPRoute shop says {_status_words(route, 'Accepted')}. "
               f"Its hostnames are {route['spec'].get('hostnames')}; compare them with the hostname of Gateway "
               f"edge's listener (kubectl get gateway edge -n {ns} -o yaml).")


# -- 2: grant ---------------------------------------------------------------------------------------------


def setup_grant(cluster: Cluster, ns: str) -> None:
    cluster.recreate_namespace(CATALOG)  # the grant of an earlier attempt lives there
    _start(cluster, "grant", ns)


def check_grant(cluster: Cluster, ns: str) -> str:
    url = "http://catalog.lab06.test/"
    result = _send(cluster, url, 5)
    want = f"{CATALOG}/catalog:80"
    if all(r.status == 200 and r.service == want for r in result):
        return f"5 of 5 requests to {url} were answered by {want}, in the catalog team's namespace."
    route = _route(cluster, ns, "catalog")
    refs = [f"{r.get('namespace') or ns}/{r.get('name')}" for rule in route["spec"].get("rules") or []
            for r in rule.get("backendRefs") or []]
    if refs and all(ref.startswith(f"{ns}/") for ref in refs):
        raise Hint(f"the route now sends to {', '.join(refs)}: keep the backendRef on the catalog team's Service "
                   f"{CATALOG}/catalog, which stays where it is.")
    raise Hint(f"{url} answered {_outcome(result)}. HTTPRoute catalog says "
               f"{_status_words(route, 'ResolvedRefs')}. Which namespace has to allow the reference, and with "
               "which kind of object?")


# -- 3: canary by weight -------------------------------------------------------------------------------------


def setup_canary(cluster: Cluster, ns: str) -> None:
    _start(cluster, "canary", ns)


def check_canary(cluster: Cluster, ns: str) -> str:
    replicas = {name: cluster.apps.read_namespaced_deployment(name, ns).spec.replicas
                for name in ("checkout-v1", "checkout-v2")}
    if replicas != {"checkout-v1": 1, "checkout-v2": 3}:
        raise Hint(f"the Deployments now have {replicas} replicas: put them back to 1 (v1) and 3 (v2). Through a "
                   "Gateway, the route's weights decide the split between Services, whatever their pod counts.")
    url, n = "http://checkout.lab06.test/", 200
    result = _send(cluster, url, n)
    shares = result.services()
    v2 = shares.get(f"{ns}/checkout-v2:80", 0)
    failed = n - sum(shares.values())
    if failed or abs(v2 / n - 0.25) > TOLERANCE:
        raise Hint(f"{v2} of {n} requests ({v2 / n:.0%}) reached checkout-v2"
                   f"{f' and {failed} were not answered by either version' if failed else ''}; the goal is 25% "
                   f"± {TOLERANCE:.0%}. The route's rule sends to {_backends(_route(cluster, ns, 'checkout'))}.")
    return f"{v2} of {n} requests ({v2 / n:.0%}) reached checkout-v2, the rest checkout-v1."


def _backends(route: dict[str, Any]) -> str:
    refs = [f"{r.get('name')} (weight {r.get('weight', 1)})" for rule in route["spec"].get("rules") or []
            for r in rule.get("backendRefs") or []]
    return ", ".join(refs) or "no backend"


def exercises() -> list[Exercise]:
    return [
        Exercise("attach", "A route its Gateway does not take", "lab06-attach", setup_attach, check_attach,
                 "attach.yaml",
                 ["Symptom: http://shop.lab06.test/ answers 404 page not found, from Traefik itself, although the "
                  "HTTPRoute shop exists.",
                  "Read the route's status (kubectl describe httproute shop -n lab06-attach): the Accepted "
                  "condition's reason says why the Gateway did not take it. Then compare the route's hostnames "
                  "with the listener's hostname.",
                  "The route's hostnames must intersect the listener's *.lab06.test: set them to "
                  "[shop.lab06.test]."]),
        Exercise("grant", "A Service in another team's namespace", "lab06-grant", setup_grant, check_grant,
                 "grant.yaml",
                 ["Symptom: http://catalog.lab06.test/ answers 500 Internal Server Error, from Traefik itself.",
                  "The route's ResolvedRefs condition is False with the reason RefNotPermitted: a backendRef to "
                  "another namespace needs that namespace's permission.",
                  f"Create a ReferenceGrant in {CATALOG} (gateway.networking.k8s.io/v1beta1) whose from is "
                  "HTTPRoutes in lab06-grant and whose to is the Service catalog."],
                 shared_namespaces=(CATALOG,)),
        Exercise("canary", "A quarter of the requests to the new version", "lab06-canary", setup_canary,
                 check_canary, "canary.yaml",
                 ["Symptom: every request to http://checkout.lab06.test/ reaches checkout-v1.",
                  "A rule's backendRefs can list several Services, each with a weight; a request goes to one of "
                  "them in proportion to the weights.",
                  "List checkout-v1 with weight 3 and checkout-v2 with weight 1 in the route's rule."]),
    ]
