"""The waypoint's HTTPRoute matching and filters (Gateway API HTTPRoute spec: match precedence, HTTPHeaderFilter,
HTTPURLRewriteFilter) and the learner side's reading of the proxies' metrics (Prometheus histogram_quantile)."""

from __future__ import annotations

from k8snet.mesh import metrics
from k8snet.sandbox.dataplane.mesh import telemetry
from k8snet.sandbox.dataplane.mesh.waypoint import _duration, _match, _modify, _request_host, _rewrite
from k8snet.sandbox.dataplane.model import HttpRequest


def req(path: str = "/", method: str = "GET", **headers: str) -> HttpRequest:
    return HttpRequest(method, path, {"Host": "reviews", **headers}, host="reviews")


def test_path_prefix_matches_whole_segments_only():
    m = {"path": {"type": "PathPrefix", "value": "/api"}}
    assert _match(m, req("/api")) and _match(m, req("/api/v1")) and _match(m, req("/api?x=1"))
    assert _match(m, req("/apix")) is None


def test_precedence_exact_then_longest_prefix_then_method_then_headers():
    exact = _match({"path": {"type": "Exact", "value": "/api/v1"}}, req("/api/v1"))
    longer = _match({"path": {"type": "PathPrefix", "value": "/api/v1"}}, req("/api/v1"))
    shorter = _match({"path": {"type": "PathPrefix", "value": "/api"}}, req("/api/v1"))
    with_method = _match({"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET"}, req("/api/v1"))
    with_header = _match({"path": {"type": "PathPrefix", "value": "/api"},
                          "headers": [{"name": "x-canary", "value": "yes"}]}, req("/api/v1", **{"X-Canary": "yes"}))
    assert exact < longer < with_method < shorter
    assert with_header < shorter
    assert _match({"headers": [{"name": "x-canary", "value": "yes"}]}, req("/")) is None


def test_query_and_regular_expression_matches():
    assert _match({"queryParams": [{"name": "v", "value": "2"}]}, req("/?v=2"))
    assert _match({"queryParams": [{"name": "v", "value": "2"}]}, req("/?v=1")) is None
    assert _match({"path": {"type": "RegularExpression", "value": "/u/[0-9]+"}}, req("/u/42"))


def test_header_modifier_set_add_remove_case_insensitively():
    headers = {"Host": "a", "X-Env": "old", "X-Drop": "1"}
    _modify(headers, {"set": [{"name": "x-env", "value": "canary"}], "add": [{"name": "X-Env", "value": "two"}],
                      "remove": ["x-drop"]})
    assert headers == {"Host": "a", "x-env": "canary,two"}


def test_url_rewrite_replaces_the_matched_prefix():
    r = req("/v1/items?id=3")
    _rewrite(r, {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/api"}}, "/v1")
    assert r.path == "/api/items?id=3"
    r = req("/old")
    _rewrite(r, {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}, "hostname": "b"}, None)
    assert (r.path, r.headers["Host"]) == ("/new", "b")


def test_query_matches_read_the_first_value_percent_decoded():
    # Envoy: QueryParamsMulti::parseAndDecodeQueryString, then getFirstValue
    m = {"queryParams": [{"name": "animal", "value": "blue whale"}]}
    assert _match(m, req("/?animal=blue%20whale&animal=dolphin"))
    assert _match(m, req("/?animal=dolphin&animal=blue%20whale")) is None


def test_header_modifier_removes_first_and_keeps_the_first_of_equivalent_names():
    # route.go TranslateHeadersOperations (Envoy removes before it adds); conversion.go headerListToMap
    headers = {"X-Tag": "old"}
    _modify(headers, {"remove": ["x-tag"], "add": [{"name": "X-Tag", "value": "new"}],
                      "set": [{"name": "X-One", "value": "first"}, {"name": "x-one", "value": "second"}]})
    assert headers == {"x-tag": "new", "x-one": "first"}
    _modify(headers, {"set": [{"name": "Host", "value": "elsewhere"}], "remove": ["host"]})
    assert headers["Host"] == "elsewhere"  # host is Envoy's authority: set rewrites it, remove cannot drop it


def test_prefix_rewrite_as_istio_writes_it_for_envoy():
    # a replacement of "/" strips the prefix and keeps a leading slash (route.go: the gateway-semantics regex)
    for path, want in (("/strip/three?x=1", "/three?x=1"), ("/strip", "/"), ("/strip/", "/")):
        r = req(path)
        _rewrite(r, {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}, "/strip")
        assert r.path == want
    r = req("/prefix/two")  # one trailing slash of the replacement goes (createRewriteFilter's TrimSuffix)
    _rewrite(r, {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/one/"}}, "/prefix")
    assert r.path == "/one/two"
    r = req("/items")  # PathPrefix "/" stays a plain prefix: Envoy's prefix_rewrite replaces just that "/"
    _rewrite(r, {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/api"}}, "/")
    assert r.path == "/apiitems"


def test_a_redirect_keeps_the_request_host_less_a_port_it_replaces():
    # Envoy's processRequestHost: the port goes when a port is written, or when http on :80 becomes https
    assert _request_host(req(Host="echo:8080"), "http", 8083) == "echo"
    assert _request_host(req(Host="echo:8080"), "http", None) == "echo:8080"
    assert _request_host(req(Host="echo:80"), "https", None) == "echo"
    assert _request_host(req(Host="echo:8080"), "https", None) == "echo:8080"
    assert _request_host(req(Host="[fd00::1]:8080"), "http", 8083) == "[fd00::1]"


def test_gateway_api_durations():
    assert _duration("500ms") == 0.5 and _duration("1m30s") == 90 and _duration("0s") is None


def test_quantile_interpolates_inside_the_bucket_like_histogram_quantile():
    # 10 requests ≤ 5 ms, 10 more ≤ 10 ms: the median sits at the top of the first bucket, p75 halfway
    points = [(5.0, 10.0), (10.0, 20.0), (float("inf"), 20.0)]
    assert metrics.quantile(0.5, points) == 5.0
    assert metrics.quantile(0.75, points) == 7.5
    assert metrics.quantile(0.5, []) is None


def test_golden_signals_from_two_scrapes_of_the_waypoints_text():
    tel = telemetry.Telemetry()
    proxy = {"metadata": {"uid": "wp"}}
    labels = {"reporter": "waypoint", "destination_workload": "reviews-v2", "response_code": "200"}
    before = metrics.Scrape(metrics.parse(tel.envoy_text(proxy)), at=0.0)
    for _ in range(3):
        tel.request(proxy, labels, 12.0, 80, 200)
    tel.request(proxy, {**labels, "response_code": "503"}, 30.0, 80, 100)
    after = metrics.Scrape(metrics.parse(tel.envoy_text(proxy)), at=2.0)
    (g,) = metrics.golden(before, after)
    assert (g.workload, g.requests, g.success_rate, g.rps) == ("reviews-v2", 4, 0.75, 2.0)
    assert g.codes == {"200": 3, "503": 1}
    assert 10 < g.p50 <= 25 and 25 < g.p99 <= 50


def test_ztunnel_text_is_openmetrics_with_the_istio_prefix():
    tel = telemetry.Telemetry()
    proxy = {"metadata": {"uid": "zt"}}
    tel.tcp(proxy, {"reporter": "destination", "connection_security_policy": "mutual_tls"}, 10, 20)
    text = tel.ztunnel_text(proxy)
    assert "# TYPE istio_tcp_connections_opened counter" in text and text.endswith("# EOF\n")
    (opened,) = [s for s in metrics.parse(text) if s.name == "istio_tcp_connections_opened_total"]
    assert opened.value == 1 and opened.label("source_workload") == "unknown"


def test_edges_count_the_connections_a_policy_denied():
    tel = telemetry.Telemetry()
    proxy = {"metadata": {"uid": "zt"}}
    base = {"reporter": "destination", "connection_security_policy": "mutual_tls", "source_workload_namespace": "shop",
            "destination_workload": "payments", "destination_workload_namespace": "shop"}
    before = metrics.Scrape(metrics.parse(tel.ztunnel_text(proxy)), at=0.0)
    for _ in range(2):
        tel.tcp(proxy, {**base, "source_workload": "intruder", "response_flags": "DENY"}, 0, 0)
    tel.tcp(proxy, {**base, "source_workload": "cart", "response_flags": "-"}, 80, 142)
    after = metrics.Scrape(metrics.parse(tel.ztunnel_text(proxy)), at=1.0)
    found = {e.source: (e.destination, e.connections, e.denied) for e in metrics.edges(before, after)}
    assert found == {"shop/intruder": ("shop/payments", 2, 2), "shop/cart": ("shop/payments", 1, 0)}
    assert "DENIED" in repr(metrics.identity_table(metrics.edges(before, after)))
