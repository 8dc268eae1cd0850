"""The Gateway API conformance suite's core HTTPRoute cases, re-expressed as our own tests through the edge.

Each test is one case of kubernetes-sigs/gateway-api v1.5.1 ``conformance/tests`` (the test's name is the case's
``ShortName`` in snake case; its docstring cites the Go file), run against the real Traefik 3.7.15 the sandbox
runs as its Gateway API controller. The manifests are the upstream ones (``manifests/``, verbatim), adapted only
as the suite's flags would adapt them: GatewayClass ``traefik``, and listener ports on Traefik's entrypoints —
80 → ``web`` (8000), 443 → ``websecure`` (8443) — which the sandbox's edge reaches. The expectations are the
upstream ones: status codes, which backend answered (the pod name's prefix), the path, method, headers and
namespace the backend received, redirect targets, and the route and Gateway status conditions with their
reasons. conftest.py holds the suite's helpers, named after the Go functions they follow.

The backends are the suite's own image, ``gcr.io/k8s-staging-gateway-api/echo-basic``, which the sandbox emulates
(``k8snet.sandbox.dataplane.echobasic``): it answers every path with the request it received as JSON, and its
``pod`` and ``namespace`` from the downward API, as the real one does — what ``http.CompareRoundTrip`` reads.

Traefik's own conformance report for v3.7 (traefik/traefik
``integration/gateway-api-conformance-reports/v1.5.1/experimental-v3.7-default-report.yaml``) passes every core
GATEWAY-HTTP test, these included, so none is expected to fail here.
"""

from __future__ import annotations

import collections
import random
import time
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import wait_for
from tests.gateway.conftest import INFRA, WEB_BACKEND, Conformance, Expected, compare, namespaces_must_be_ready

GW = (INFRA, "same-namespace")


def expect_all(suite: Conformance, address: str, cases: list[Expected], https: bool = False) -> None:
    """Every case of a table, each eventually consistent (upstream runs them as parallel subtests)."""
    for case in cases:
        suite.expect(address, case, https)


def test_httproute_simple_same_namespace(suite: Conformance):
    """HTTPRouteSimpleSameNamespace (conformance/tests/httproute-simple-same-namespace.go): a route in the
    Gateway's namespace attaches and reaches infra-backend-v1."""
    with suite.applied("httproute-simple-same-namespace"):
        route = (INFRA, "gateway-conformance-infra-test")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        suite.expect(address, Expected("/", backend="infra-backend-v1", namespace=INFRA))


def test_httproute_cross_namespace(suite: Conformance):
    """HTTPRouteCrossNamespace (conformance/tests/httproute-cross-namespace.go): a route in
    gateway-conformance-web-backend attaches to Gateway backend-namespaces (allowedRoutes by namespace label)."""
    with suite.applied("httproute-cross-namespace"):
        route, gw = (WEB_BACKEND, "cross-namespace"), (INFRA, "backend-namespaces")
        address = suite.gateway_and_routes_must_be_accepted(*gw, route)
        suite.resolved_refs_true(*route, gw)
        suite.expect(address, Expected("/", backend="web-backend", namespace=WEB_BACKEND))


def test_httproute_exact_path_matching(suite: Conformance):
    """HTTPRouteExactPathMatching (conformance/tests/httproute-exact-path-matching.go)."""
    with suite.applied("httproute-exact-path-matching"):
        route = (INFRA, "exact-matching")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        expect_all(suite, address, [
            Expected("/one", backend="infra-backend-v1", namespace=INFRA),
            Expected("/two", backend="infra-backend-v2", namespace=INFRA),
            Expected("/", status=404),
            Expected("/one/example", status=404),
            Expected("/two/", status=404),
            Expected("/Two", status=404),
        ])


def test_httproute_header_matching(suite: Conformance):
    """HTTPRouteHeaderMatching (conformance/tests/httproute-header-matching.go): ANDed headers in a match,
    ORed matches in a rule, and precedence between rules."""
    with suite.applied("httproute-header-matching"):
        route = (INFRA, "header-matching")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        v1, v2 = {"backend": "infra-backend-v1", "namespace": INFRA}, {"backend": "infra-backend-v2", "namespace": INFRA}
        expect_all(suite, address, [
            Expected("/", headers={"Version": "one"}, **v1),
            Expected("/", headers={"Version": "two"}, **v2),
            Expected("/", headers={"Version": "two", "Color": "orange"}, **v1),
            Expected("/", headers={"Version": "two", "Color": "blue"}, **v2),
            Expected("/", headers={"Color": "orange"}, status=404),
            Expected("/", headers={"Some-Other-Header": "one"}, status=404),
            Expected("/", headers={"Color": "blue"}, **v1),
            Expected("/", headers={"Color": "green"}, **v1),
            Expected("/", headers={"Color": "red"}, **v2),
            Expected("/", headers={"Color": "yellow"}, **v2),
            Expected("/", headers={"Color": "purple"}, status=404),
        ])


def test_httproute_matching_across_routes(suite: Conformance):
    """HTTPRouteMatchingAcrossRoutes (conformance/tests/httproute-matching-across-routes.go): matches of two
    routes on one Gateway are merged and ordered together."""
    with suite.applied("httproute-matching-across-routes"):
        routes = [(INFRA, "matching-part1"), (INFRA, "matching-part2")]
        address = suite.gateway_and_routes_must_be_accepted(*GW, *routes)
        for route in routes:
            suite.resolved_refs_true(*route, GW)
        v1, v2 = {"backend": "infra-backend-v1", "namespace": INFRA}, {"backend": "infra-backend-v2", "namespace": INFRA}
        expect_all(suite, address, [
            Expected("/", host="example.com", **v1),
            Expected("/example", host="example.com", **v1),
            Expected("/example", host="example.net", **v1),
            Expected("/example", host="example.com", headers={"Version": "one"}, **v1),
            Expected("/v2", host="example.com", **v2),
            Expected("/v2", host="example.net", **v1),  # v2 matches are limited to example.com
            Expected("/v2/example", host="example.com", **v2),
            Expected("/", host="example.com", headers={"Version": "two"}, **v2),
        ])


def test_httproute_path_match_order(suite: Conformance):
    """HTTPRoutePathMatchOrder (conformance/tests/httproute-path-match-order.go): Exact before PathPrefix, the
    longest prefix first, whatever the rules' order."""
    with suite.applied("httproute-path-match-order"):
        route = (INFRA, "path-matching-order")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        expect_all(suite, address, [
            Expected("/match/exact/one", backend="infra-backend-v3", namespace=INFRA),
            Expected("/match/exact", backend="infra-backend-v2", namespace=INFRA),
            Expected("/match", backend="infra-backend-v1", namespace=INFRA),
            Expected("/match/prefix/one/any", backend="infra-backend-v2", namespace=INFRA),
            Expected("/match/prefix/any", backend="infra-backend-v1", namespace=INFRA),
            Expected("/match/any", backend="infra-backend-v3", namespace=INFRA),
        ])


def test_httproute_hostname_intersection(suite: Conformance):
    """HTTPRouteHostnameIntersection (conformance/tests/httproute-hostname-intersection.go): routes attach to
    listeners only where hostnames intersect, serve only the intersection, a route intersecting none is
    ``Accepted=False`` (``NoMatchingListenerHostname``) and not counted in ``attachedRoutes``."""
    with suite.applied("httproute-hostname-intersection"):
        gw = (INFRA, "httproute-hostname-intersection")
        namespaces_must_be_ready(suite, [INFRA])
        # HTTPRoutes that do intersect with listener hostnames
        routes = [(INFRA, n) for n in ("specific-host-matches-listener-specific-host",
                                       "specific-host-matches-listener-wildcard-host",
                                       "wildcard-host-matches-listener-specific-host",
                                       "wildcard-host-matches-listener-wildcard-host")]
        address = suite.gateway_and_routes_must_be_accepted(*gw, *routes)
        for route in routes:
            suite.resolved_refs_true(*route, gw)
        v1, v2, v3 = ({"backend": f"infra-backend-v{i}", "namespace": INFRA} for i in (1, 2, 3))
        expect_all(suite, address, [
            # specific-host-matches-listener-specific-host
            Expected("/s1", host="very.specific.com", **v1),
            Expected("/s1", host="very.specific.com:1234", **v1),  # the Host's port is not matched
            Expected("/s1", host="non.matching.com", status=404),
            Expected("/s1", host="foo.nonmatchingwildcard.io", status=404),
            Expected("/s1", host="foo.wildcard.io", status=404),
            Expected("/non-matching-prefix", host="very.specific.com", status=404),
            # specific-host-matches-listener-wildcard-host
            Expected("/s2", host="foo.wildcard.io", **v2),
            Expected("/s2", host="bar.wildcard.io", **v2),
            Expected("/s2", host="foo.bar.wildcard.io", **v2),
            Expected("/s2", host="non.matching.com", status=404),
            Expected("/s2", host="wildcard.io", status=404),
            Expected("/s2", host="very.specific.com", status=404),
            Expected("/non-matching-prefix", host="foo.wildcard.io", status=404),
            # wildcard-host-matches-listener-specific-host
            Expected("/s3", host="very.specific.com", **v3),
            Expected("/s3", host="non.matching.com", status=404),
            Expected("/s3", host="foo.specific.com", status=404),
            Expected("/s3", host="foo.wildcard.io", status=404),
            Expected("/non-matching-prefix", host="very.specific.com", status=404),
            # wildcard-host-matches-listener-wildcard-host
            Expected("/s4", host="foo.anotherwildcard.io", **v1),
            Expected("/s4", host="bar.anotherwildcard.io", **v1),
            Expected("/s4", host="foo.bar.anotherwildcard.io", **v1),
            Expected("/s4", host="anotherwildcard.io", status=404),
            Expected("/s4", host="foo.wildcard.io", status=404),
            Expected("/s4", host="very.specific.com", status=404),
            Expected("/non-matching-prefix", host="foo.anotherwildcard.io", status=404),
        ])

        # HTTPRoutes that do not intersect with listener hostnames
        address = suite.gateway_and_routes_must_be_accepted(*gw)
        suite.route_must_have_parents(INFRA, "no-intersecting-hosts", [
            {"ref": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw[1], "namespace": INFRA},
             "conditions": [("Accepted", "False", "NoMatchingListenerHostname")]}], namespace_required=True)
        expect_all(suite, address, [Expected("/s5", host="specific.but.wrong.com", status=404),
                                    Expected("/s5", host="wildcard.io", status=404)])

        # HTTPRoutes have to be counted in AttachedRoutes only if they are Accepted
        conditions = [("Accepted", "True", ""), ("ResolvedRefs", "True", "")]
        suite.gateway_status_must_have_listeners(*gw, [
            {"name": "listener-1", "supportedKinds": ["HTTPRoute"], "conditions": conditions, "attachedRoutes": 2},
            {"name": "listener-2", "supportedKinds": ["HTTPRoute"], "conditions": conditions, "attachedRoutes": 1},
            {"name": "listener-3", "supportedKinds": ["HTTPRoute"], "conditions": conditions, "attachedRoutes": 1},
        ])

        # HTTPRoutes intersects with an unspecified hostname listener
        gw_all = (INFRA, "httproute-hostname-intersection-all")
        route = (INFRA, "httproute-hostname-intersection-all")
        address = suite.gateway_and_routes_must_be_accepted(*gw_all, route)
        suite.resolved_refs_true(*route, gw_all)
        expect_all(suite, address, [
            Expected("/", host="first.com", **v2),
            Expected("/", host="sub.first.com", **v2),
            Expected("/", host="second.com", **v2),
            Expected("/", host="sub.second.com", **v2),
            Expected("/", host="third.com", namespace=INFRA, status=404),  # not among the route's hostnames
            Expected("/", host="sub.third.com", namespace=INFRA, status=404),
        ])


def test_httproute_listener_hostname_matching(suite: Conformance):
    """HTTPRouteListenerHostnameMatching (conformance/tests/httproute-listener-hostname-matching.go): listeners
    of one port told apart by hostname, each with its route (sectionName), the most specific first."""
    with suite.applied("httproute-listener-hostname-matching"):
        namespaces_must_be_ready(suite, [INFRA])
        gw = (INFRA, "httproute-listener-hostname-matching")
        for route, listeners in (("backend-v1", ("listener-1",)), ("backend-v2", ("listener-2",)),
                                 ("backend-v3", ("listener-3", "listener-4"))):
            address = suite.gateway_and_routes_must_be_accepted(*gw, (INFRA, route), listeners=listeners)
            suite.resolved_refs_true(INFRA, route, gw)
        v1, v2, v3 = ({"backend": f"infra-backend-v{i}", "namespace": INFRA} for i in (1, 2, 3))
        expect_all(suite, address, [
            Expected("/", host="bar.com", **v1),
            Expected("/", host="foo.bar.com", **v2),
            Expected("/", host="baz.bar.com", **v3),
            Expected("/", host="boo.bar.com", **v3),
            Expected("/", host="multiple.prefixes.bar.com", **v3),
            Expected("/", host="multiple.prefixes.foo.com", **v3),
            Expected("/", host="foo.com", status=404),
            Expected("/", host="no.matching.host", status=404),
        ])


def test_httproute_https_listener(suite: Conformance):
    """HTTPRouteHTTPSListener (conformance/tests/httproute-https-listener.go): routes on the HTTPS listeners of
    Gateway same-namespace-with-https-listener, the suite's self-signed certificate (``*``, ``*.org``,
    ``*.wildcard.org``) trusted as the only root and SNI the request's host."""
    with suite.applied("httproute-https-listener"):
        gw = (INFRA, "same-namespace-with-https-listener")
        routes = [(INFRA, "httproute-https-test"), (INFRA, "httproute-https-test-no-hostname")]
        address = suite.gateway_and_routes_must_be_accepted(*gw, *routes)
        for route in routes:
            suite.resolved_refs_true(*route, gw)
        expect_all(suite, address, [
            Expected("/", host="example.org", backend="infra-backend-v1", namespace=INFRA),
            Expected("/", host="unknown-example.org", status=404, namespace=INFRA),
            Expected("/", host="second-example.org", backend="infra-backend-v2", namespace=INFRA),
        ], https=True)


def test_httproute_invalid_nonexistent_backendref(suite: Conformance):
    """HTTPRouteInvalidNonExistentBackendRef (conformance/tests/httproute-invalid-nonexistent-backendref.go):
    ``ResolvedRefs=False`` with reason ``BackendNotFound``, and requests answered 500."""
    with suite.applied("httproute-invalid-nonexistent-backendref"):
        route = (INFRA, "invalid-nonexistent-backend-ref")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.route_must_have_condition(*route, GW, "ResolvedRefs", "False", "BackendNotFound")
        suite.expect(address, Expected("/", status=500))


def test_httproute_invalid_cross_namespace_parent_ref(suite: Conformance):
    """HTTPRouteInvalidCrossNamespaceParentRef (conformance/tests/httproute-invalid-cross-namespace-parent-ref.go):
    a route whose namespace the listener does not allow is ``Accepted=False`` (``NotAllowedByListeners``), has no
    accepted parent, and the Gateway counts no route."""
    with suite.applied("httproute-invalid-cross-namespace-parent-ref"):
        route = (WEB_BACKEND, "invalid-cross-namespace-parent-ref")
        suite.resolved_refs_true(*route, GW)
        suite.route_must_have_condition(*route, GW, "Accepted", "False", "NotAllowedByListeners")

        def no_accepted_parents() -> bool:  # HTTPRouteMustHaveNoAcceptedParents: none, or one not accepted
            obj = suite.route(*route)
            parents = (obj.get("status") or {}).get("parents") or []
            return len(parents) <= 1 and all(suite.latest(obj, p["conditions"]) and
                                             suite.has_condition(p["conditions"], "Accepted", "False")
                                             for p in parents)

        def zero_routes() -> bool:  # GatewayMustHaveZeroRoutes: no listener in status, or one with no route
            gw = suite.gateway(*GW)
            status = gw.get("status") or {}
            listeners = status.get("listeners") or []
            return suite.latest(gw, status.get("conditions") or []) and \
                (listeners == [] or (len(listeners) == 1 and listeners[0]["attachedRoutes"] == 0))

        wait_for(no_accepted_parents, what="the route to have no accepted parent")
        wait_for(zero_routes, what="Gateway same-namespace to have no attached route")


def test_httproute_redirect_host_and_status(suite: Conformance):
    """HTTPRouteRedirectHostAndStatus (conformance/tests/httproute-redirect-host-and-status.go): RequestRedirect
    with a hostname (302 by default) and with statusCode 301; the scheme and path stay the request's."""
    with suite.applied("httproute-redirect-host-and-status"):
        route = (INFRA, "redirect-host-and-status")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        expect_all(suite, address, [
            Expected("/hostname-redirect", status=302, redirect_host="example.org", namespace=INFRA),
            Expected("/host-and-status", status=301, redirect_host="example.org", namespace=INFRA),
        ])


def test_httproute_weight(suite: Conformance):
    """HTTPRouteWeight (conformance/tests/httproute-weight.go, conformance/utils/weight/weight.go): backends
    weighted 70/30/0; 500 requests, 10 at a time, each backend's share within ±5% of its weight (up to
    ``MaxTestRetries`` = 10 attempts). Each request carries weight.AddRandomEntropy's random ``X-Jitter`` header;
    its random delay (up to 1 s) is 0–10 ms here, so the 500 requests stay fast."""
    with suite.applied("httproute-weight"):
        route = (INFRA, "weighted-backends")
        address = suite.gateway_and_routes_must_be_accepted(*GW, route)
        suite.resolved_refs_true(*route, GW)
        expected = Expected("/", namespace=INFRA)
        suite.expect(address, expected)  # the request succeeds before the distribution is measured
        weights = {"infra-backend-v1": 0.7, "infra-backend-v2": 0.3, "infra-backend-v3": 0.0}
        rng = random.Random(0)

        def send(_: int) -> str:
            jitter = rng.randrange(3)
            if jitter in (0, 2):
                time.sleep(rng.random() / 100)
            case = Expected("/", namespace=INFRA,
                            headers={"X-Jitter": str(rng.randrange(10000))} if jitter in (1, 2) else {})
            trip = suite.round_trip(address, case)
            problem = compare(case, trip)
            if problem:
                raise ValueError(f"response expectation failed for request: {problem}")
            return "-".join(trip.captured["pod"].split("-")[:-2])  # extractBackendName

        def distribution_error() -> list[str]:  # weight.TestWeightedDistribution
            try:
                with ThreadPoolExecutor(10) as pool:
                    seen = collections.Counter(pool.map(send, range(500)))
            except (OSError, ValueError) as exc:
                return [f"error while sending requests: {exc}"]
            unexpected = set(seen) - set(weights)
            if unexpected:
                return [f"request was handled by an unexpected backend {sorted(unexpected)}"]
            errors = [f"expected 2 backends to receive traffic, but got {len(seen)}"] if len(seen) != 2 else []
            return errors + [f"backend {b!r} weighted traffic of {seen[b] / 500} not within tolerance {w} (+/-0.05)"
                             for b, w in weights.items() if abs(seen[b] / 500 - w) > 0.05]

        failures: list[list[str]] = []
        for _ in range(10):  # weight.MaxTestRetries
            failures.append(distribution_error())
            if not failures[-1]:
                break
        assert not failures[-1], failures


def test_httproute_observed_generation_bump(suite: Conformance):
    """HTTPRouteObservedGenerationBump (conformance/tests/httproute-observed-generation-bump.go): after a change
    to the spec, every condition of the route's parents carries the new generation."""
    with suite.applied("httproute-observed-generation-bump"):
        route = (INFRA, "observed-generation-bump")
        namespaces_must_be_ready(suite, [INFRA])

        def latest() -> bool:  # HTTPRouteMustHaveLatestConditions
            obj = suite.route(*route)
            parents = (obj.get("status") or {}).get("parents") or []
            return bool(parents) and all(suite.latest(obj, p["conditions"]) for p in parents)

        wait_for(latest, what="the route's conditions to be of its generation")
        original = suite.route(*route)
        rules = original["spec"]["rules"]
        rules[0]["backendRefs"][0]["name"] = "infra-backend-v2"
        suite.patch_route(*route, {"spec": {"rules": rules}})  # a merge patch, as client.MergeFrom makes
        suite.route_must_have_condition(*route, GW, "Accepted", "True")
        suite.resolved_refs_true(*route, GW)
        wait_for(latest, what="the route's conditions to be of its new generation")
        assert suite.route(*route)["metadata"]["generation"] != original["metadata"]["generation"]
