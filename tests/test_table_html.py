"""Tables in a notebook: the routing table fits a notebook's width and never breaks a pod name across lines.

Browsers break lines after a hyphen, so in a seven-column table ~830 px wide ``storefront-7f8f99947f-jktpl ×2``
spread over four lines. Pure functions: rows are built by hand.
"""

from __future__ import annotations

import re

from k8snet.ingress.routing import RouteRow, RoutingTable
from k8snet.table import Table

SHOP = RouteRow("http://shop.example.test/", "shop/shop", 'Host("shop.example.test") && PathPrefix("/")',
                "shop/storefront:80", {"storefront-7f8f99947f-jktpl": 2, "storefront-7f8f99947f-k7hzt": 2}, {200: 4},
                backend="sandbox")
UNKNOWN = RouteRow("http://unknown.example.test/", None, None, None, {"Traefik": 4}, {404: 4},
                   "no router matches this host and path", "sandbox")


def cells(html: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", html)]


def breakable_words(html: str) -> list[str]:
    """Words with a hyphen that the browser may break: those outside a nowrap span."""
    outside = re.sub(r"<span style='white-space:nowrap'>.*?</span>", "", html)
    return [w for w in re.split(r"\s|<br>", re.sub(r"<(?!br>)[^>]+>", " ", outside)) if "-" in w]


def test_routing_table_html_has_four_columns_with_one_pod_per_line() -> None:
    html = RoutingTable([SHOP], "sandbox")._repr_html_()
    header, row = cells(html)
    assert header == ["URL", "Ingress and rule", "Service:port and the pods that answered", "status"]  # no empty note
    assert row[1].split("<br>")[0] == "shop/shop"
    assert [re.sub(r"<[^>]+>", "", line) for line in row[2].split("<br>")] == [
        "shop/storefront:80", "storefront-7f8f99947f-jktpl\u00a0×2", "storefront-7f8f99947f-k7hzt\u00a0×2"]
    assert breakable_words(html) == []


def test_a_note_gets_its_column_when_a_row_has_one() -> None:
    html = RoutingTable([SHOP, UNKNOWN], "sandbox")._repr_html_()
    header, _, unknown = cells(html)
    assert header[-1] == "note" and unknown[-1] == "no router matches this host and path"
    assert unknown[1] == "—<br>no rule matches"


def test_text_view_keeps_one_line_per_url() -> None:
    text = repr(RoutingTable([SHOP, UNKNOWN], "sandbox"))
    lines = text.splitlines()
    assert lines[0] == "2 URLs, 8 requests through the ingress edge (sandbox)"
    assert lines[1].split() == ["URL", "Ingress", "rule", "Service:port", "answered", "by", "status", "note"]
    assert "storefront-7f8f99947f-jktpl ×2, storefront-7f8f99947f-k7hzt ×2" in lines[2]


def test_any_table_keeps_hyphenated_words_whole_and_escapes_text() -> None:
    table = Table(["request", "pay.example.test"], [["security headers", "Strict-Transport-Security, X-Frame-Options"],
                                                    ["<script>", "a & b"]])
    html = table._repr_html_()
    assert breakable_words(html) == [] and "&lt;script&gt;" in html and "a &amp; b" in html
    empty = Table(["a", "note"], [["x", ""], ["y", ""]])
    assert cells(empty._repr_html_())[0] == ["a"] and repr(empty).splitlines() == ["a", "x", "y"]
