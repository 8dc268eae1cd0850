"""A Bundle's targets: the ConfigMap named after the Bundle in each namespace, applied and cleaned up.

A port of github.com/cert-manager/trust-manager v0.24.0 pkg/bundle/internal/target/target.go:

* a target is written with server-side apply as field manager ``trust-manager``, forcing: the label
  ``trust.cert-manager.io/bundle: <bundle>``, the template's labels and annotations, the annotation
  ``trust.cert-manager.io/hash`` (:func:`bundle_hash`), a controller ownerReference to the Bundle
  (``blockOwnerDeletion: true``), ``data[<key>]`` = the PEM bundle and, for ``additionalFormats``,
  ``binaryData``;
* it is rewritten only when it needs to be (needsUpdate): not controlled by the Bundle, a different label or hash,
  or trust-manager's managed ``data``/``binaryData`` keys differ from the ones it should write;
* a target that is no longer wanted (its namespace stopped matching) is applied again with only the label and the
  ownerReference, which drops trust-manager's keys; a ConfigMap left without data is deleted.

``additionalFormats``: PKCS#12 is written with the ``cryptography`` package (``serialize_java_truststore``: the
certificates as trusted-certificate bags, Java's trust attribute, friendly names ``<8 hex of SHA-256>|<subject>``),
with the profile's algorithms -- except ``LegacyRC2`` (the default once a password is set), which needs RC2
encryption that ``cryptography`` does not offer: that target fails with a message saying so. JKS, deprecated
upstream ("Writing JKS is subject for removal. Please migrate to PKCS12"), is not emulated: that target fails too.
Either failure is upstream's target failure (reason ``SyncConfigMapTargetFailed``), its message naming the gap.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from ...apiserver import DeleteOptions, WriteOptions
from ...apply import fields_from_json
from ...errors import ApiError
from .certpool import CertPool
from .options import API_VERSION, BUNDLE_LABEL, FIELD_MANAGER, HASH_ANNOTATION, KIND

if TYPE_CHECKING:
    from ...instance import Sandbox

Obj = dict[str, Any]


class TargetError(Exception):
    """A target could not be written (its message is what upstream wraps in "Failed to sync bundle ...")."""


def bundle_hash(pem: str, formats: Obj | None, template: Obj) -> str:
    """TrustBundleHash: SHA-256 of the PEM, the keystore passwords, and the template's annotations and labels
    (each ``key+value``, in key order)."""
    h = hashlib.sha256(pem.encode())
    formats = formats or {}
    if formats.get("jks") is not None and formats["jks"].get("password"):
        h.update(formats["jks"]["password"].encode())
    if formats.get("pkcs12") is not None and formats["pkcs12"].get("password") is not None:
        h.update(formats["pkcs12"]["password"].encode())
    metadata = template.get("metadata") or {}
    for group in ("annotations", "labels"):
        values = metadata.get(group) or {}
        for k in sorted(values):
            h.update((k + values[k]).encode())
    return h.hexdigest()


def is_controlled_by(obj: Obj, bundle: Obj) -> bool:
    """metav1.IsControlledBy: the object's controller reference has the Bundle's uid."""
    return any(ref.get("controller") and ref.get("uid") == bundle["metadata"].get("uid")
               for ref in obj["metadata"].get("ownerReferences") or [])


def managed_keys(obj: Obj, *field_names: str) -> set[str]:
    """listManagedProperties: the keys under ``field_names`` that trust-manager's managedFields entries own."""
    out: set[str] = set()
    for entry in obj["metadata"].get("managedFields") or []:
        if entry.get("manager") != FIELD_MANAGER or not entry.get("fieldsV1"):
            continue
        for path in fields_from_json(entry["fieldsV1"]):
            if path and path[0] in {("f", n) for n in field_names}:
                out.add(str(path[1][1]) if len(path) > 1 else "")
    return out


def _expected_keys(bundle: Obj) -> set[str]:
    target = bundle["spec"].get("target") or {}
    formats = target.get("additionalFormats") or {}
    keys = {target["configMap"]["key"]}
    keys |= {formats[f]["key"] for f in ("jks", "pkcs12") if formats.get(f) is not None}
    return keys


def needs_update(obj: Obj, bundle: Obj, digest: str) -> bool:
    meta = obj["metadata"]
    return (not is_controlled_by(obj, bundle)
            or (meta.get("labels") or {}).get(BUNDLE_LABEL) != bundle["metadata"]["name"]
            or (meta.get("annotations") or {}).get(HASH_ANNOTATION) != digest
            or managed_keys(obj, "data", "binaryData") != _expected_keys(bundle))


def _skeleton(bundle: Obj, namespace: str, name: str) -> Obj:
    """prepareTargetPatch: the label and the controller reference every apply of a target carries."""
    meta = bundle["metadata"]
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {BUNDLE_LABEL: meta["name"]},
                         "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": meta["name"],
                                              "uid": meta.get("uid"), "controller": True,
                                              "blockOwnerDeletion": True}]}}


def _apply(sb: Sandbox, namespace: str, body: Obj) -> Obj:
    rt = sb.registry.lookup("", "v1", "configmaps")
    assert rt is not None
    return sb.api.patch(rt, namespace, body["metadata"]["name"], "apply", body,
                        WriteOptions(field_manager=FIELD_MANAGER, force=True))


def apply_target(sb: Sandbox, namespace: str, bundle: Obj, pool: CertPool) -> bool:
    """ApplyTarget for a ConfigMap: returns whether it was written."""
    target = bundle["spec"]["target"]
    template = target.get("configMap")
    if template is None:
        raise TargetError("target not defined")
    pem = pool.pem()
    formats = target.get("additionalFormats")
    digest = bundle_hash(pem, formats, template)
    existing = sb.store.get("configmaps", namespace, bundle["metadata"]["name"])
    if existing is not None and not needs_update(existing, bundle, digest):
        return False
    body = _skeleton(bundle, namespace, bundle["metadata"]["name"])
    metadata = template.get("metadata") or {}
    body["metadata"]["annotations"] = {**(metadata.get("annotations") or {}), HASH_ANNOTATION: digest}
    body["metadata"]["labels"].update(metadata.get("labels") or {})
    body["data"] = {template["key"]: pem}
    binary = binary_data(pool, formats)
    if binary:
        body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    try:
        _apply(sb, namespace, body)
    except ApiError as exc:
        raise TargetError(f"failed to patch ConfigMap {namespace}/{bundle['metadata']['name']}: {exc.message}") \
            from None
    return True


def cleanup_target(sb: Sandbox, namespace: str, name: str, bundle: Obj) -> None:
    """CleanupTarget for a ConfigMap: drop trust-manager's keys; delete the ConfigMap if nothing is left."""
    cm = _apply(sb, namespace, _skeleton(bundle, namespace, name))
    if not cm.get("data") and not cm.get("binaryData"):
        rt = sb.registry.lookup("", "v1", "configmaps")
        assert rt is not None
        try:
            sb.api.delete(rt, namespace, name, DeleteOptions())
        except ApiError as exc:
            if exc.code != 404:
                raise


# --------------------------------------------------------------------------- additional formats


PKCS12_ROUNDS = 2048
"""software.sslmate.com/src/go-pkcs12 (v0.7): every password-protected encoder iterates its KDF 2048 times."""


def binary_data(pool: CertPool, formats: Obj | None) -> dict[str, bytes]:
    """binaryData: the keystores ``additionalFormats`` asks for (PKCS#12 only; see the module docstring)."""
    out: dict[str, bytes] = {}
    if not formats:
        return out
    if formats.get("jks") is not None:
        raise TargetError("failed to encode JKS: the sandbox does not write JKS trust stores (deprecated in "
                          "trust-manager: use additionalFormats.pkcs12)")
    if formats.get("pkcs12") is not None:
        spec = formats["pkcs12"]
        try:
            out[spec["key"]] = pkcs12_truststore(pool, spec.get("password") or "", spec.get("profile") or "")
        except ValueError as exc:
            raise TargetError(f"failed to encode PKCS12: {exc}") from None
    return out


def pkcs12_truststore(pool: CertPool, password: str, profile: str) -> bytes:
    """truststore.pkcs12Encoder.Encode: a Java-compatible PKCS#12 trust store of the pool's certificates.

    go-pkcs12's encoders (pkcs12_enc.go): ``Passwordless`` for an empty password (certificates in the clear, no
    MAC), ``LegacyDES`` (PBE-SHA1-3DES, HMAC-SHA-1 MAC), ``Modern2023`` (PBES2 with PBKDF2-HMAC-SHA-256 and
    AES-256-CBC, HMAC-SHA-256 MAC), all with 2048 KDF iterations; and the default ``LegacyRC2`` (PBE-SHA1-RC2-40),
    which cannot be written here. Two differences remain, both invisible to a reader of the store: ``cryptography``
    adds a MAC under the empty password to a passwordless store (Java skips the check without a password; OpenSSL
    checks it), and it iterates the MAC's KDF as often as the encryption's (go-pkcs12's LegacyDES does it once).

    Raises:
        ValueError: the profile needs an algorithm the ``cryptography`` package does not offer.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    serialize = getattr(pkcs12, "serialize_java_truststore", None)
    if serialize is None:
        raise ValueError("this version of the cryptography package cannot write Java trust stores "
                         "(no pkcs12.serialize_java_truststore)")
    if not password:
        encryption: Any = serialization.NoEncryption()
    elif profile in ("", "LegacyRC2"):
        raise ValueError("the sandbox cannot write the LegacyRC2 profile (RC2 encryption is not available in the "
                         "cryptography package); set additionalFormats.pkcs12.profile to LegacyDES or Modern2023, "
                         "or leave the password empty")
    else:
        algorithm = (pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC if profile == "LegacyDES"
                     else pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        mac = hashes.SHA1() if profile == "LegacyDES" else hashes.SHA256()
        encryption = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(PKCS12_ROUNDS)
                      .key_cert_algorithm(algorithm).hmac_hash(mac).build(password.encode()))
    entries = []
    for cert in pool.ordered():
        der = cert.public_bytes(serialization.Encoding.DER)
        alias = hashlib.sha256(der).hexdigest()[:8] + "|" + go_subject(cert)
        entries.append(pkcs12.PKCS12Certificate(cert, alias.encode()))
    return serialize(entries, encryption)


def go_subject(cert: Any) -> str:
    """pkix.Name.String(): the subject as Go prints it (RFC 2253, most specific first), which the alias carries."""
    return cert.subject.rfc4514_string()
