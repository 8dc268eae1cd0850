"""The issuers and clusterissuers controllers: each issuer's Setup writes its Ready condition.

pkg/controller/issuers/sync.go and pkg/controller/clusterissuers/sync.go run the Setup of the issuer's type and
write the status when it changed; a failing Setup records ``ErrInitIssuer`` "Error initializing issuer: ...".
checks.go requeues the issuers that name a Secret when that Secret changes, so a CA issuer whose Secret is
created later becomes Ready then. A ClusterIssuer reads its Secrets from the cluster resource namespace
(``cert-manager``).

* selfSigned (pkg/issuer/selfsigned/setup.go): Ready True, reason ``IsReady``;
* ca (pkg/issuer/ca/setup.go): the Secret's ``tls.crt`` and ``tls.key`` must parse and the certificate be a CA:
  Ready True ``KeyPairVerified`` "Signing CA verified", else Ready False ``ErrGetKeyPair`` /
  ``ErrInvalidKeyPair`` "Error getting keypair for CA issuer: ...". As upstream, Setup does not compare the key
  with the certificate: a CA Secret whose key belongs to another certificate fails at signing time;
* acme, vault, venafi: the sandbox has no ACME server, Vault or Venafi to reach, so their Setup fails as
  upstream's does when it cannot reach the server (``ErrRegisterACMEAccount``, ``VaultError``, ``ErrorSetup``)
  with a message that says so; they are never silently Ready.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...store import Event
from .. import Controller, Key
from . import pki
from .objects import (
    CLUSTER_ISSUERS,
    CLUSTER_RESOURCE_NAMESPACE,
    ISSUERS,
    SECRETS,
    Obj,
    data,
    event,
    issuer_type,
    resource_namespace,
    rt,
    set_condition,
    write_status,
)

if TYPE_CHECKING:
    from ...instance import Sandbox

NO_SERVER = ("the k8snet sandbox has no {what} to reach (it emulates cert-manager's selfSigned and ca issuers "
             "only); use a selfSigned or ca issuer here, or this issuer on the kind backend")


def setup(sb: Sandbox, issuer: Obj, controller: str) -> str:
    """The issuer type's Setup on a copy's status; returns the error text for ``ErrInitIssuer`` ("" when none)."""
    kind = issuer_type(issuer)
    spec = issuer.get("spec") or {}
    if kind == "selfSigned":
        set_condition(sb, issuer, "Ready", "True", "IsReady", "")
        return ""
    if kind == "ca":
        return _setup_ca(sb, issuer, spec["ca"] or {}, controller)
    if kind == "acme":
        server = (spec["acme"] or {}).get("server") or ""
        message = "Failed to register ACME account: " + NO_SERVER.format(what=f"ACME server ({server})")
        set_condition(sb, issuer, "Ready", "False", "ErrRegisterACMEAccount", message)
        event(sb, issuer, "ErrRegisterACMEAccount", message, controller, "Warning")
        return message
    if kind == "vault":
        server = (spec["vault"] or {}).get("server") or ""
        message = "Failed to initialize Vault client: " + NO_SERVER.format(what=f"Vault server ({server})")
        set_condition(sb, issuer, "Ready", "False", "VaultError", message)
        return message
    if kind == "venafi":
        message = "Failed to setup Certificate Manager issuer: " + NO_SERVER.format(what="Venafi service")
        set_condition(sb, issuer, "Ready", "False", "ErrorSetup", message)
        return message
    return f"could not get issuer type: no issuer specified for Issuer '{issuer['metadata'].get('namespace', '')}/" \
           f"{issuer['metadata']['name']}'"


def _setup_ca(sb: Sandbox, issuer: Obj, ca: Obj, controller: str) -> str:
    ns = resource_namespace(issuer)
    name = ca.get("secretName") or ""
    secret = sb.store.get(SECRETS, ns, name)

    def fail(reason: str, why: str) -> str:
        message = "Error getting keypair for CA issuer: " + why
        event(sb, issuer, reason, message, controller, "Warning")
        set_condition(sb, issuer, "Ready", "False", reason, message)
        return why

    if secret is None:  # kube.SecretTLSCert, then SecretTLSKey (pkg/util/kube/pki.go)
        return fail("ErrGetKeyPair", f'secrets "{name}" not found')
    if "tls.crt" not in (secret.get("data") or {}):
        return fail("ErrGetKeyPair", f"no data for \"tls.crt\" in secret '{ns}/{name}'")
    try:
        cert = pki.decode_chain(data(secret, "tls.crt"))[0]
    except pki.PKIError as exc:
        return fail("ErrGetKeyPair", str(exc))
    if "tls.key" not in (secret.get("data") or {}):
        return fail("ErrGetKeyPair", f"no data for \"tls.key\" in secret '{ns}/{name}'")
    try:
        pki.decode_key(data(secret, "tls.key"))
    except pki.PKIError as exc:
        return fail("ErrGetKeyPair", str(exc))
    if not pki.is_ca(cert):
        fail("ErrInvalidKeyPair", "certificate is not a CA")
        return ""
    event(sb, issuer, "KeyPairVerified", "Signing CA verified", controller)
    set_condition(sb, issuer, "Ready", "True", "KeyPairVerified", "Signing CA verified")
    return ""


def _reconcile(sb: Sandbox, resource: str, plural: str, controller: str, key: Key) -> float | None:
    issuer = sb.store.get(resource, key[0], key[1])
    if issuer is None or issuer["metadata"].get("deletionTimestamp"):
        return None
    updated = copy.deepcopy(issuer)
    error = setup(sb, updated, controller)
    if error:
        event(sb, updated, "ErrInitIssuer", "Error initializing issuer: " + error, controller, "Warning")
    if updated.get("status") != issuer.get("status"):
        write_status(sb, rt(sb, plural), updated, controller)
    return None


def _secret_refs(issuer: Obj) -> set[str]:
    """checks.go issuersForSecret: the Secrets an issuer's Setup reads."""
    spec = issuer.get("spec") or {}
    names = set()
    if spec.get("ca"):
        names.add((spec["ca"] or {}).get("secretName") or "")
    if spec.get("acme"):
        names.add(((spec["acme"] or {}).get("privateKeySecretRef") or {}).get("name") or "")
    names.discard("")
    return names


def _issuers_for_secret(sb: Sandbox, event_: Event) -> Iterable[Key]:
    meta = event_.obj["metadata"]
    ns, name = meta.get("namespace", ""), meta["name"]
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in sb.store.list(ISSUERS, ns)
            if name in _secret_refs(i)]


def _cluster_issuers_for_secret(sb: Sandbox, event_: Event) -> Iterable[Key]:
    meta = event_.obj["metadata"]
    if meta.get("namespace") != CLUSTER_RESOURCE_NAMESPACE:
        return []
    return [("", i["metadata"]["name"]) for i in sb.store.list(CLUSTER_ISSUERS)
            if meta["name"] in _secret_refs(i)]


def _spec_changed(sb: Sandbox, event_: Event) -> Iterable[Key]:
    """The issuer itself, except for writes of its own status (its generation did not move)."""
    if event_.old is not None and event_.type == "MODIFIED" and \
            (event_.old.get("spec") == event_.obj.get("spec")):
        return []
    meta = event_.obj["metadata"]
    return [(meta.get("namespace", ""), meta["name"])]


def controllers(sb: Sandbox) -> list[Controller]:
    return [Controller("issuers", lambda s, k: _reconcile(s, ISSUERS, "issuers", "issuers", k),
                       {ISSUERS: _spec_changed, SECRETS: _issuers_for_secret}),
            Controller("clusterissuers",
                       lambda s, k: _reconcile(s, CLUSTER_ISSUERS, "clusterissuers", "clusterissuers", k),
                       {CLUSTER_ISSUERS: _spec_changed, SECRETS: _cluster_issuers_for_secret})]
