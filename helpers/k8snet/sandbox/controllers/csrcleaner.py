"""kube-controller-manager's ``csrcleaner``: old CertificateSigningRequests are deleted.

Ported from pkg/controller/certificates/cleaner/cleaner.go. Once an hour (of the sandbox clock, so advancing it
runs the poll) every request is looked at and deleted when it is

- approved and issued, its Approved condition's ``lastUpdateTime`` more than 1 hour ago;
- denied, or failed, that condition's ``lastUpdateTime`` more than 1 hour ago;
- pending (no condition at all), created more than 24 hours ago;
- approved and issued with a certificate whose NotAfter has passed.

An approved request no signer issues (an unknown signer) stays, as upstream. ``lastUpdateTime`` is what the
writer put there: ``kubectl certificate approve`` writes its own (real) time, which is earlier than the
sandbox's once the sandbox clock has been advanced.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ..apiserver import DeleteOptions
from ..certificates import csr as csrs
from ..clock import parse_time
from ..errors import ApiError
from . import Controller, Key

if TYPE_CHECKING:
    from ..instance import Sandbox

POLLING_INTERVAL = 3600.0
APPROVED_EXPIRATION = dt.timedelta(hours=1)
DENIED_EXPIRATION = dt.timedelta(hours=1)
PENDING_EXPIRATION = dt.timedelta(hours=24)


def _older_than(timestamp: str | None, age: dt.timedelta, now: dt.datetime) -> bool:
    """isOlderThan: a set time more than ``age`` before now."""
    if not timestamp:
        return False
    try:
        return now - parse_time(timestamp) > age
    except ValueError:
        return False


def _expired(csr: dict[str, Any], now: dt.datetime) -> bool:
    """isExpired: the first PEM block of the certificate is a certificate whose NotAfter has passed."""
    block = csrs.first_pem_block(csrs.certificate_bytes(csr))
    if block is None:
        return False
    try:
        return now > x509.load_der_x509_certificate(block.data).not_valid_after_utc
    except ValueError:
        return False


def should_delete(csr: dict[str, Any], now: dt.datetime) -> bool:
    """isIssuedPastDeadline, isDeniedPastDeadline, isFailedPastDeadline, isPendingPastDeadline, isIssuedExpired."""
    conditions = csrs.conditions(csr)
    issued = csrs.is_issued(csr)
    for c in conditions:
        ctype, updated = c.get("type"), c.get("lastUpdateTime")
        if ctype == csrs.APPROVED and issued and (_older_than(updated, APPROVED_EXPIRATION, now) or _expired(csr, now)):
            return True
        if ctype in (csrs.DENIED, csrs.FAILED) and _older_than(updated, DENIED_EXPIRATION, now):
            return True
    return not conditions and _older_than(csr["metadata"].get("creationTimestamp"), PENDING_EXPIRATION, now)


def reconcile(sb: Sandbox, key: Key) -> float | None:
    """The worker: list every request, delete those past their deadline."""
    rt = sb.registry.lookup(csrs.GROUP, "v1", csrs.PLURAL)
    assert rt is not None
    now = sb.clock.now()
    for csr in sb.store.list(csrs.RESOURCE):
        if should_delete(csr, now):
            try:
                sb.api.delete(rt, "", csr["metadata"]["name"], DeleteOptions())
            except ApiError as exc:
                if exc.code != 404:
                    raise
    return None


def controller(sb: Sandbox) -> Controller:
    return Controller("csrcleaner", reconcile, {}, every=POLLING_INTERVAL)
