"""The certificates admission plugins kube-apiserver enables by default, run after validation as validating
admission runs (so a 422 comes before a 403).

- CertificateApproval (plugin/pkg/admission/certificates/approval): an update of ``/approval`` needs the
  ``approve`` verb on the ``signers`` resource of ``certificates.k8s.io`` for the old object's signerName;
- CertificateSigning (…/signing): an update of ``/status`` that changes the certificate or the conditions needs
  ``sign`` on the signer;
- CertificateSubjectRestriction (…/subjectrestriction): a request for ``kubernetes.io/kube-apiserver-client``
  may not ask for the ``system:masters`` group.

The signer check is IsAuthorizedForSignerName (plugin/pkg/admission/certificates/util.go): the signerName
itself, then ``<domain>/*``. A refusal is admission.NewForbidden: ``certificatesigningrequests.certificates.k8s.io
"jane" is forbidden: user not permitted to approve requests with signerName "…"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors
from ..auth.users import SYSTEM_MASTERS, Attributes, UserInfo
from ..gofmt import quote
from . import csr as csrs

if TYPE_CHECKING:
    from ..auth.rbac import Authorizer

Obj = dict[str, Any]


def forbidden(name: str, why: str) -> errors.ApiError:
    """admission.NewForbidden → apierrors.NewForbidden of the CSR's group-resource and name."""
    return errors.ApiError(f"{csrs.RESOURCE} {quote(name)} is forbidden: {why}", 403, "Forbidden",
                           {k: v for k, v in (("name", name), ("group", csrs.GROUP), ("kind", csrs.PLURAL)) if v})


def authorized_for_signer(authorizer: Authorizer, user: UserInfo, verb: str, signer: str) -> bool:
    """IsAuthorizedForSignerName: ``verb`` on ``signers/<signerName>``, else on ``signers/<domain>/*``."""
    for name in (signer, signer.split("/")[0] + "/*"):
        attrs = Attributes(user, verb, True, api_group=csrs.GROUP, api_version="*", resource="signers", name=name)
        if authorizer.authorize(attrs)[0]:
            return True
    return False


def admit(authorizer: Authorizer, user: UserInfo, obj: Obj, old: Obj | None, subresource: str) -> None:
    """Run the three plugins on a create (``old`` None) or an update of ``subresource``.

    Raises:
        ApiError: 403 from the first plugin that refuses.
    """
    name = obj["metadata"].get("name") or ""
    if old is None:
        if subresource == "" and (obj.get("spec") or {}).get("signerName") == csrs.KUBE_APISERVER_CLIENT:
            restrict_subject(obj, name)
        return
    signer = (old.get("spec") or {}).get("signerName") or ""
    if subresource == "approval" and not authorized_for_signer(authorizer, user, "approve", signer):
        raise forbidden(name, f"user not permitted to approve requests with signerName {quote(signer)}")
    if subresource == "status":
        changed = (csrs.certificate_bytes(obj) != csrs.certificate_bytes(old)
                   or csrs.conditions(obj) != csrs.conditions(old))
        if changed and not authorized_for_signer(authorizer, user, "sign", signer):
            raise forbidden(name, f"user not permitted to sign requests with signerName {quote(signer)}")


def restrict_subject(obj: Obj, name: str) -> None:
    """CertificateSubjectRestriction: no ``system:masters`` organization through the kube-apiserver-client signer."""
    try:
        request = csrs.parse_request(csrs.request_bytes(obj))
    except csrs.RequestError as exc:
        raise forbidden(name, f"failed to parse CSR: {exc}") from None
    if SYSTEM_MASTERS in csrs.subject_of(request).organization:
        raise forbidden(name, f"use of {csrs.KUBE_APISERVER_CLIENT} signer with {SYSTEM_MASTERS} group is not "
                              "allowed")
