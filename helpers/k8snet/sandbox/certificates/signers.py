"""What each of kube-controller-manager's ``csrsigning`` signers accepts, ported from
pkg/controller/certificates/signer/signer.go (getCSRVerificationFuncForSignerName) and
pkg/apis/certificates/helpers.go (ValidateKubeletServingCSR, ValidateKubeletClientCSR).

:func:`check` answers None for a request the signer will sign, or the error text the signer puts in the
``Failed`` condition (reason ``SignerValidationFailure``); :data:`SIGNERS` lists the signer names it handles (any
other signer's requests are left alone, as on a real cluster).
"""

from __future__ import annotations

from collections.abc import Callable

from . import csr as csrs
from .csr import Subject

KUBELET_SERVING_USAGES = sorted(["digital signature", "key encipherment", "server auth"])
KUBELET_SERVING_USAGES_NO_RSA = sorted(["digital signature", "server auth"])
KUBELET_CLIENT_USAGES = sorted(["digital signature", "key encipherment", "client auth"])
KUBELET_CLIENT_USAGES_NO_RSA = sorted(["digital signature", "client auth"])
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def _go_list(values: list[str]) -> str:
    """``%v`` of a []string."""
    return "[" + " ".join(values) + "]"


def kubelet_serving(subject: Subject, usages: list[str]) -> str | None:
    """ValidateKubeletServingCSR: organization exactly system:nodes, a DNS or IP SAN, no email or URI SAN, the
    serving usages, a ``system:node:`` common name."""
    if list(subject.organization) != [NODES_GROUP]:
        return "subject organization is not system:nodes"
    if not subject.dns_names and not subject.ips:
        return "DNS or IP subjectAltName is required"
    if subject.emails:
        return "Email subjectAltNames are not allowed"
    if subject.uris:
        return "URI subjectAltNames are not allowed"
    if sorted(set(usages)) not in (KUBELET_SERVING_USAGES, KUBELET_SERVING_USAGES_NO_RSA):
        return f"usages did not match {_go_list(KUBELET_SERVING_USAGES)}"
    if not subject.common_name.startswith(NODE_PREFIX):
        return "subject common name does not begin with system:node:"
    return None


def kubelet_client(subject: Subject, usages: list[str]) -> str | None:
    """ValidateKubeletClientCSR: organization exactly system:nodes, no SAN at all, a ``system:node:`` common
    name, the client usages."""
    if list(subject.organization) != [NODES_GROUP]:
        return "subject organization is not system:nodes"
    for values, kind in ((subject.dns_names, "DNS"), (subject.emails, "Email"), (subject.ips, "IP"),
                         (subject.uris, "URI")):
        if values:
            return f"{kind} subjectAltNames are not allowed"
    if not subject.common_name.startswith(NODE_PREFIX):
        return "subject common name does not begin with system:node:"
    if sorted(set(usages)) not in (KUBELET_CLIENT_USAGES, KUBELET_CLIENT_USAGES_NO_RSA):
        return f"usages did not match {_go_list(KUBELET_CLIENT_USAGES)}"
    return None


def apiserver_client(subject: Subject, usages: list[str]) -> str | None:
    """validAPIServerClientUsages: client auth required, digital signature and key encipherment allowed."""
    for usage in usages:
        if usage not in ("digital signature", "key encipherment", "client auth"):
            return f"invalid usage for client certificate: {usage}"
    if "client auth" not in usages:
        return "missing required usage for client certificate: client auth"
    return None


def legacy_unknown(subject: Subject, usages: list[str]) -> str | None:
    """isLegacyUnknown: no restrictions, for compatibility."""
    return None


SIGNERS: dict[str, Callable[[Subject, list[str]], str | None]] = {
    csrs.KUBELET_SERVING: kubelet_serving,
    csrs.KUBE_APISERVER_CLIENT_KUBELET: kubelet_client,
    csrs.KUBE_APISERVER_CLIENT: apiserver_client,
    csrs.LEGACY_UNKNOWN: legacy_unknown,
}
"""The signers kind's kube-controller-manager runs (``--cluster-signing-cert-file`` and ``-key-file`` set, so all
four sign with the cluster CA)."""


def check(signer: str, subject: Subject, usages: list[str]) -> str | None:
    """None when ``signer`` signs the request, else why it refuses."""
    return SIGNERS[signer](subject, usages)
