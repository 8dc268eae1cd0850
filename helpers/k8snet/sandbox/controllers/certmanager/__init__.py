"""cert-manager v1.21 in the sandbox: its controllers and its webhook, emulated over its real CRDs.

cert-manager ships no wheel, so its controllers run here as ports of upstream's
(github.com/cert-manager/cert-manager, tag v1.21.1), each a plain reconcile function on the sandbox's
controller manager, reading and writing through the API like any client:

* issuers.py: the issuers and clusterissuers controllers (pkg/controller/issuers, pkg/issuer/{selfsigned,ca});
* requests.py: the certificaterequests approver and issuer-type signers (pkg/controller/certificaterequests);
* certificates.py: trigger, key manager, request manager, issuing, readiness and revision manager
  (pkg/controller/certificates), with policies.py (internal/controller/certificates/policies);
* pki.py: keys, CSRs, signing, chains, renewal time (pkg/util/pki), with real X.509 from ``cryptography``;
* shim.py: ingress-shim and gateway-shim, Certificates for annotated Ingresses and Gateways
  (pkg/controller/certificate-shim), with shimannotations.py (its helper.go: the annotations);
* webhook.py: the validating and mutating webhook ``webhook.cert-manager.io``
  (internal/apis/certmanager/validation, internal/webhook/admission/certificaterequest/identity).

The CRDs are upstream's (sandbox/crds/cert-manager.io.yaml). The sandbox has no ACME server, Vault or Venafi:
issuers of those types are Ready False with a message saying so. What else is left out is named where it
would apply (the webhook's warnings): keystores, renewal windows, name constraints and other names. The
ListenerSet shim (alpha, off by default upstream) is not emulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...apiserver import WriteOptions
from .. import Controller
from . import certificates, issuers, requests, shim, webhook
from .objects import CLUSTER_RESOURCE_NAMESPACE

if TYPE_CHECKING:
    from ...instance import Sandbox


__all__ = ["controllers", "install", "webhook"]


def controllers(sb: Sandbox) -> list[Controller]:
    """cert-manager's controllers, in the order a new object meets them."""
    return [*issuers.controllers(sb), *requests.controllers(sb), *certificates.controllers(sb),
            *shim.controllers(sb)]


def install(sb: Sandbox) -> None:
    """The ``cert-manager`` namespace the release manifest creates (a ClusterIssuer's Secrets live there), when the
    store lacks it."""
    if sb.store.get("namespaces", "", CLUSTER_RESOURCE_NAMESPACE) is None:
        namespaces = sb.registry.lookup("", "v1", "namespaces")
        assert namespaces is not None
        sb.api.create(namespaces, "", {"metadata": {"name": CLUSTER_RESOURCE_NAMESPACE}},
                      WriteOptions(field_manager="kubectl-client-side-apply"))
