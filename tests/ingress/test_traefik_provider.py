"""The pure parts of the Traefik provider port the helpers use: durations, annotations, router keys.

Each test names the Traefik (v3.7) or library source whose behaviour it checks.
"""

from __future__ import annotations

import pytest

from k8snet.ingress.traefik import annotation
from k8snet.ingress.traefik.durations import parse_period
from k8snet.ingress.traefik.routes import hashed_key, router_key

# -- durations: paerser types.Duration, Go's time.ParseDuration -----------------------------------------

def test_period_reads_as_go_durations_do():
    assert parse_period(60) == 60 and parse_period("1m") == 60 and parse_period("1m30s") == 90
    assert parse_period("500ms") == 0.5
    with pytest.raises(ValueError, match='time: invalid duration "soon"'):
        parse_period("soon")


# -- annotations: pkg/provider/kubernetes/ingress/annotations.go ------------------------------------------

def test_router_annotations_decode_case_insensitively_into_lists_and_values():
    cfg = annotation.parse_router({
        "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
        "traefik.ingress.kubernetes.io/router.middlewares": "ns-a@kubernetescrd, ns-b@kubernetescrd",
        "traefik.ingress.kubernetes.io/router.tls": "true",
        "traefik.ingress.kubernetes.io/router.tls.options": "ns-mtls@kubernetescrd",
        "traefik.ingress.kubernetes.io/router.priority": "42",
        "traefik.ingress.kubernetes.io/router.pathMatcher": "Path",
        "kubernetes.io/ingress.class": "traefik"})
    assert cfg.entrypoints == ["websecure"] and cfg.middlewares == ["ns-a@kubernetescrd", "ns-b@kubernetescrd"]
    assert cfg.tls and cfg.tls_options == "ns-mtls@kubernetescrd" and cfg.priority == 42
    assert cfg.path_matcher == "Path" and cfg.notes == []


@pytest.mark.parametrize("key,value,message", [
    ("router.entrypoint", "web", "field not found, node: entrypoint"),
    ("router.tls", "yes", 'strconv.ParseBool: parsing "yes": invalid syntax'),
    ("router.priority", "high", 'strconv.ParseInt: parsing "high": invalid syntax'),
])
def test_an_annotation_traefik_cannot_decode_is_an_error(key, value, message):
    with pytest.raises(annotation.AnnotationError, match=message):
        annotation.parse_router({f"traefik.ingress.kubernetes.io/{key}": value})


def test_annotations_traefik_ignores_or_the_sandbox_does_not_emulate_are_reported():
    notes = annotation.foreign_notes({"nginx.ingress.kubernetes.io/rewrite-target": "/",
                                      "traefik.ingress.kubernetes.io/service.passhostheader": "false",
                                      "traefik.ingress.kubernetes.io/frontend-entry-points": "http"})
    assert len(notes) == 3 and "kubernetesIngressNginx" in notes[0]
    cfg = annotation.parse_router({"traefik.ingress.kubernetes.io/router.tls.certresolver": "le"})
    assert cfg.tls and "certificate resolvers (ACME) are not emulated" in cfg.notes[0]
    svc = annotation.parse_service({"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"})
    assert "sticky sessions are not emulated" in svc.notes[0]


def test_router_keys_and_their_conflict_hashes():
    assert router_key("default", "shop", "shop.example.test", "/cart") == "default-shop-shop-example-test-cart"
    assert router_key("default", "shop", "", "") == "default-shop"
    assert hashed_key("k", 'Path("/a")').startswith("k-") and len(hashed_key("k", 'Path("/a")')) == 2 + 20
