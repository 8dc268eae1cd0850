"""Host and path matching of the Traefik provider port, against the Kubernetes documentation's own tables.

Source of the tables: https://kubernetes.io/docs/concepts/services-networking/ingress/ ("Examples" under
"Path types", and "Hostname wildcards"). Traefik v3.7's side: pkg/provider/kubernetes/ingress/kubernetes.go
(rules; ``strictPrefixMatching``, which the sandbox's Traefik runs with) and pkg/muxer (matchers, priority =
rule length).
"""

from __future__ import annotations

import pytest

from k8snet.ingress.traefik.match import (
    build_rule,
    canonical_host,
    default_backend_rule,
    host_matches,
    routing_path,
    sanitize_path,
)

ALL_PATHS = ["/", "/foo", "/foo/", "/bar", "/aaa/bbb", "/aaa/bbb/ccc", "/x/y/z"]

# (path type, path, request path, matches?) — one row per line of the documentation's table
SINGLE = [
    ("Exact", "/foo", "/foo", True),
    ("Exact", "/foo", "/bar", False),
    ("Exact", "/foo", "/foo/", False),
    ("Exact", "/foo/", "/foo", False),
    ("Prefix", "/foo", "/foo", True),
    ("Prefix", "/foo", "/foo/", True),
    ("Prefix", "/foo/", "/foo", True),
    ("Prefix", "/foo/", "/foo/", True),
    ("Prefix", "/aaa/bb", "/aaa/bbb", False),
    ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
    ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),  # "Yes, ignores trailing slash"
    ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),  # "Yes, matches trailing slash"
    ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),  # "Yes, matches subpath"
    ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),  # "No, does not match string prefix"
    ("Prefix", "/aaa", "/ccc", False),  # "No, uses default backend"
]

# (paths of one Ingress, request path, the path that must win)
MULTI = [
    (["/", "/aaa"], "/aaa/ccc", "/aaa"),  # "Yes, matches /aaa prefix"
    (["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),  # "Yes, matches /aaa/bbb prefix"
    (["/", "/aaa", "/aaa/bbb"], "/ccc", "/"),  # "Yes, matches / prefix"
]


def kubernetes_matches(path: str, path_type: str, request_path: str) -> bool:
    """The Ingress spec's own definition (https://kubernetes.io/docs/concepts/services-networking/ingress/#path-types).

    ``Exact``: equality. ``Prefix``: every element of the path (split by ``/``, trailing slash ignored) is the
    same element of the request path.
    """
    if path_type == "Exact":
        return request_path == path
    want = [e for e in path.split("/") if e]
    have = [e for e in request_path.split("/") if e]
    return have[:len(want)] == want


def winner(rules: list[tuple[str, object]], host: str, path: str):
    """The muxer: highest priority (rule length) first, first match wins."""
    for _, rule in sorted(rules, key=lambda r: -r[1].priority):
        if rule.matches(host, path):
            return _
    return None


@pytest.mark.parametrize("request_path", ALL_PATHS)
def test_docs_prefix_slash_matches_all_paths(request_path):
    assert build_rule("h.test", "/", "Prefix").matches("h.test", request_path)


@pytest.mark.parametrize("path_type,path,request_path,expected", SINGLE)
def test_docs_path_types_table(path_type, path, request_path, expected):
    rule = build_rule("h.test", path, path_type)
    assert rule.matches("h.test", request_path) is expected
    assert kubernetes_matches(path, path_type, request_path) is expected  # the spec's own definition agrees


@pytest.mark.parametrize("paths,request_path,expected", MULTI)
def test_docs_longest_prefix_wins(paths, request_path, expected):
    rules = [(p, build_rule("h.test", p, "Prefix")) for p in paths]
    assert winner(rules, "h.test", request_path) == expected


def test_docs_mixed_exact_and_prefix_both_match_but_traefik_prefers_the_longer_rule():
    """The table's last row says "Yes, prefers Exact"; Traefik v3.7 orders routers by rule length, and the
    strict Prefix rule ``(Path("/foo") || PathPrefix("/foo/"))`` is longer than ``Path("/foo")``, so on a real
    Traefik (and here) the Prefix path's backend answers. ``router.priority`` on a separate Ingress restores
    the spec's order (the lesson shows both)."""
    exact, prefix = build_rule("h.test", "/foo", "Exact"), build_rule("h.test", "/foo", "Prefix")
    assert exact.matches("h.test", "/foo") and prefix.matches("h.test", "/foo")
    assert exact.text == 'Host("h.test") && Path("/foo")'
    assert prefix.text == 'Host("h.test") && (Path("/foo") || PathPrefix("/foo/"))'
    assert winner([("Exact", exact), ("Prefix", prefix)], "h.test", "/foo") == "Prefix"


def test_an_exact_path_longer_than_a_prefix_path_still_loses_to_it_in_traefik():
    # The spec: "precedence will be given first to the longest matching path"; Traefik: the longest rule.
    exact, prefix = build_rule("h.test", "/aaa/bbb", "Exact"), build_rule("h.test", "/aaa", "Prefix")
    assert winner([("Exact /aaa/bbb", exact), ("Prefix /aaa", prefix)], "h.test", "/aaa/bbb") == "Prefix /aaa"


def test_implementation_specific_is_traefiks_path_prefix_made_element_wise_by_strict_prefix_matching():
    """Measured against traefik 3.7.15 with strictPrefixMatching: ImplementationSpecific /api does not match /apix."""
    rule = build_rule("h.test", "/aaa/bb", "ImplementationSpecific")
    assert rule.text == 'Host("h.test") && (Path("/aaa/bb") || PathPrefix("/aaa/bb/"))'
    assert rule.matches("h.test", "/aaa/bb/c") and not rule.matches("h.test", "/aaa/bbb")
    loose = build_rule("h.test", "/aaa/bb", "ImplementationSpecific", strict=False)
    assert loose.text == 'Host("h.test") && PathPrefix("/aaa/bb")' and loose.matches("h.test", "/aaa/bbb")
    exact = build_rule("h.test", "/api", "ImplementationSpecific", matcher="Path")  # router.pathmatcher: Path
    assert exact.matches("h.test", "/api") and not exact.matches("h.test", "/api/x")
    regexp = build_rule("h.test", "^/v[0-9]+/", "ImplementationSpecific", matcher="PathRegexp")
    assert regexp.matches("h.test", "/v2/users") and not regexp.matches("h.test", "/vx/users")


def test_without_a_host_every_host_matches_and_without_a_path_every_path():
    assert build_rule(None, "/app", "Prefix").matches("anything.test", "/app/x")
    assert build_rule("h.test", None, None).text == 'Host("h.test")'
    assert build_rule("h.test", None, None).matches("h.test", "/whatever")
    assert default_backend_rule().text == 'PathPrefix("/")'


@pytest.mark.parametrize("rule_host,header,expected", [
    ("*.foo.com", "bar.foo.com", True),  # "Matches based on shared suffix"
    ("*.foo.com", "baz.bar.foo.com", False),  # "No match, wildcard only covers a single DNS label"
    ("*.foo.com", "foo.com", False),  # "No match, wildcard only covers a single DNS label"
    ("foo.bar.com", "foo.bar.com", True),
    ("foo.bar.com", "FOO.Bar.com", True),  # host names are case-insensitive
    ("foo.bar.com", "foo.bar.com.", True),  # a trailing dot on either side is ignored
    ("foo.bar.com", "bar.foo.com", False),
])
def test_docs_hostname_wildcards(rule_host, header, expected):
    assert host_matches(canonical_host(header), rule_host.lower()) is expected


def test_the_host_header_port_is_not_part_of_the_host():
    assert canonical_host("Shop.Example.Test:8443") == "shop.example.test"
    assert canonical_host("[::1]:8080") == "::1"


def test_exact_host_beats_a_wildcard_by_rule_length():
    exact = build_rule("bar.foo.com", "/", "Prefix")
    wildcard = build_rule("*.foo.com", "/", "Prefix")
    assert winner([("exact", exact), ("wildcard", wildcard)], "bar.foo.com", "/") == "exact"


def test_the_entrypoint_cleans_paths_before_routing():
    # sanitizePath (URL.JoinPath): dot segments and doubled slashes go, one trailing slash stays
    assert sanitize_path("/a/./b/../c//d/") == "/a/c/d/"
    assert sanitize_path("/../x") == "/x"
    assert sanitize_path("/") == "/"
    # withRoutingPath: unreserved escapes are decoded for matching, reserved ones (%2F) kept
    assert routing_path("/caf%C3%A9/%7Euser") == "/café/~user"
    assert routing_path("/a%2Fb") == "/a%2Fb"
    assert routing_path("/bad%2") is None
