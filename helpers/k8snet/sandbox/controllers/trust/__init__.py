"""trust-manager v0.24.0 in the sandbox: the Bundle controller, emulated over its real CRD.

trust-manager (github.com/cert-manager/trust-manager) ships as an image and a Helm chart, no wheel, so its Bundle
controller runs here as a port of upstream's, a plain reconcile function on the sandbox's controller manager that
reads and writes through the API like any client. It answers "how do clients learn my private CA?": a Bundle
gathers CA certificates from Secrets and ConfigMaps in the trust namespace (``cert-manager``) and from inline PEM,
and writes the deduplicated PEM bundle into a ConfigMap named after it in every namespace (or those its
``namespaceSelector`` picks), which pods mount and hand to their clients (``curl --cacert``).

* options.py: the flags it runs with (the chart's defaults, without the default CA package);
* certpool.py: strict PEM parsing, deduplication, the bundle's text (pkg/util/cert_pool.go);
* sources.py: the sources (pkg/bundle/internal/source);
* targets.py: the target ConfigMaps, their hash and keystores (pkg/bundle/internal/target, truststore);
* bundles.py: the reconcile loop, status and Events, and the watches (pkg/bundle/bundle.go, controller.go);
* webhook.py: trust-manager's validating webhook, called by the sandbox's API server (pkg/webhook/validation.go).

The CRD is upstream's (sandbox/crds/trust.cert-manager.io.yaml). The sandbox runs no trust-manager pod: the
controller is part of the sandbox process, and its Events name it as ``bundles`` (its reporting controller).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from .. import Controller, Key
from . import bundles, webhook
from .options import BUNDLES, DEFAULTS

if TYPE_CHECKING:
    from ...instance import Sandbox

__all__ = ["controller", "install", "webhook"]


def controller(sb: Sandbox) -> Controller:
    """The Bundle controller, fed by Bundles, namespaces, and ConfigMaps and Secrets (sources and targets)."""

    def reconcile(sb: Sandbox, key: Key) -> float | None:
        return bundles.reconcile(sb, key, DEFAULTS)

    return Controller("trust-manager-bundles", reconcile, {
        BUNDLES: bundles.on_bundle,
        "namespaces": bundles.on_namespace,
        "configmaps": bundles.on_source("ConfigMap", DEFAULTS),
        "secrets": bundles.on_source("Secret", DEFAULTS),
    })


def install(sb: Sandbox) -> None:
    """The trust namespace, when the store lacks it. trust-manager neither creates it nor needs it to start (a
    missing namespace only leaves its sources not found), and its chart creates none: it is installed into the
    ``cert-manager`` namespace that cert-manager's release manifest creates, as the trust-manager installation
    guide does (``helm upgrade trust-manager ... --namespace cert-manager``)."""
    if sb.store.get("namespaces", "", DEFAULTS.namespace) is None:
        namespaces = sb.registry.lookup("", "v1", "namespaces")
        assert namespaces is not None
        sb.api.create(namespaces, "", {"metadata": {"name": DEFAULTS.namespace}},
                      WriteOptions(field_manager="kubectl-client-side-apply"))
