"""kube-controller-manager's ``csrsigning`` controller: approved requests for the ``kubernetes.io`` signers get a
certificate from the cluster CA.

Follows pkg/controller/certificates/certificate_controller.go (a request that has a certificate is done) and
pkg/controller/certificates/signer/signer.go ``handle``: a request that is not approved (or is denied), or has
a true ``Failed`` condition, is left alone, and so is one for a signer kind's controller-manager does not run
(a custom ``example.com/…`` signer: it stays Approved, never Issued, as on a real cluster). The signer's own
check of the request (certificates/signers.py) either refuses it, with a ``Failed`` condition of reason
``SignerValidationFailure`` and the signer's message, or the request is signed (certificates/authority.py) and
``status.certificate`` set, both through ``/status`` as kube-controller-manager writes them. Times come from the
sandbox clock. The CA is the cluster's (the state directory's ca.crt and ca.key, kind's
``--cluster-signing-cert-file``/``--cluster-signing-key-file``); a sandbox without one signs nothing.
"""

from __future__ import annotations

import base64
import copy
import logging
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from .. import pki
from ..apiserver import WriteOptions
from ..certificates import authority, signers
from ..certificates import csr as csrs
from . import Controller, Key, same_key

if TYPE_CHECKING:
    from ..instance import Sandbox

MANAGER = "kube-controller-manager"
log = logging.getLogger("k8snet.sandbox.controllers.csrsigning")


def _write_status(sb: Sandbox, csr: dict) -> None:
    rt = sb.registry.lookup(csrs.GROUP, "v1", csrs.PLURAL)
    assert rt is not None
    sb.api.update(rt, "", csr["metadata"]["name"], csr, WriteOptions(field_manager=MANAGER), subresource="status")


def reconcile(sb: Sandbox, key: Key) -> float | None:
    csr = sb.store.get(csrs.RESOURCE, "", key[1])
    if csr is None or csrs.is_issued(csr):
        return None
    if not csrs.is_approved(csr) or csrs.has_true_condition(csr, csrs.FAILED):
        return None
    spec = csr.get("spec") or {}
    signer = spec.get("signerName") or ""
    if signer not in signers.SIGNERS:
        return None
    ca = pki.load_ca(sb.state_dir)
    if ca is None:
        log.warning("no cluster CA key to sign %s with", key[1])
        return None
    try:
        request = csrs.parse_request(csrs.request_bytes(csr))
    except csrs.RequestError as exc:  # validation let it in, so this is a changed rule: say so, as upstream logs
        log.warning("unable to parse csr %r: %s", key[1], exc)
        return None
    usages = [str(u) for u in spec.get("usages") or []]
    csr = copy.deepcopy(csr)
    status = csr.setdefault("status", {})
    problem = signers.check(signer, csrs.subject_of(request), usages)
    if problem is not None:
        status.setdefault("conditions", []).append({
            "type": csrs.FAILED, "status": "True", "reason": "SignerValidationFailure", "message": problem,
            "lastUpdateTime": sb.api.now()})
        _write_status(sb, csr)
        return None
    serial = sb.random.stream(f"csr-serials:{sb.store.epoch}").getrandbits(128) or 1
    try:
        cert = authority.sign(request, usages, authority.duration(spec.get("expirationSeconds")), *ca,
                              now=sb.clock.now(), serial=serial)
    except authority.SigningError as exc:
        log.warning("error auto signing csr %r: %s", key[1], exc)
        return None
    status["certificate"] = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
    _write_status(sb, csr)
    return None


def controller(sb: Sandbox) -> Controller:
    return Controller("csrsigning", reconcile, {csrs.RESOURCE: same_key})
