"""The options the sandbox runs trust-manager with: its flags' defaults, as the Helm chart sets them.

cmd/trust-manager/app/options/options.go (v0.24.0) ``addBundleFlags`` and deploy/charts/trust-manager/values.yaml,
with one change the sandbox cannot avoid: the chart installs the default CA package (``defaultPackage.enabled:
true``, an init container copying Debian's CA certificates), and the sandbox has no such package. The kind backend
installs the chart with ``defaultPackage.enabled=false`` (k8snet/kind/manifests/trust-manager.yaml), so a Bundle
asking for ``useDefaultCAs`` fails alike on both, with trust-manager's own message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """controller.Options (pkg/bundle/controller/options.go)."""

    namespace: str = "cert-manager"
    """``--trust-namespace``: the only namespace sources are read from (the chart's ``app.trust.namespace``)."""
    default_package: bool = False
    """``--default-package-location`` given: the sandbox has no default CA package."""
    secret_targets_enabled: bool = False
    """``--secret-targets-enabled`` (the chart's ``secretTargets.enabled: false``)."""
    filter_expired_certs: bool = False
    """``--filter-expired-certificates`` (the chart's ``filterExpiredCertificates.enabled: false``)."""
    filter_non_ca_certs: bool = False
    """``--filter-non-ca-certs`` (the chart's ``filterNonCACerts.enabled: false``)."""


DEFAULTS = Options()

FIELD_MANAGER = "trust-manager"
"""pkg/bundle/internal/ssa_client/patch.go: the field manager of every apply trust-manager makes."""

GROUP = "trust.cert-manager.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Bundle"
BUNDLES = f"bundles.{GROUP}"
"""The store's resource name for Bundles."""

BUNDLE_LABEL = "trust.cert-manager.io/bundle"
HASH_ANNOTATION = "trust.cert-manager.io/hash"
"""pkg/apis/trust/v1alpha1/types_bundle.go BundleLabelKey and BundleHashAnnotationKey: what every target carries."""

EVENT_CONTROLLER = "bundles"
"""The events' reportingController: controller-runtime's ``mgr.GetEventRecorder("bundles")``
(pkg/bundle/controller.go)."""
EVENT_INSTANCE = "bundles-trust-manager"
"""client-go's events recorder reports ``<controller>-<hostname>``; the sandbox runs no trust-manager pod, so the
hostname is the Deployment's name."""
