"""What trust-manager's validating webhook refuses, as a pure function of a Bundle.

A port of github.com/cert-manager/trust-manager v0.24.0 pkg/webhook/validation.go (validator.validate), served
on kind as the ValidatingWebhookConfiguration ``trust-manager`` (webhook ``trust.cert-manager.io``, CREATE and
UPDATE of bundles, failurePolicy Fail). Beyond the CRD's own rules it refuses: a configMap/secret source without
``key`` and without ``includeAllKeys`` (or with both), ``useDefaultCAs`` asked twice, a source that is the target
itself, an additional format whose key collides with another output key, reserved ``trust.cert-manager.io/`` and
``trust-manager.io/`` keys in a target's labels or annotations, and invalid label selectors.

The sandbox's API server calls it where kube-apiserver calls the webhook (:func:`webhook`, registered with the
add-ons' webhooks in sandbox/admission.py): on CREATE and UPDATE of bundles, not of their ``status`` (the rule names
``bundles`` only). controller-runtime answers a validator's error with ``admission.Denied`` (403 Forbidden), and
kube-apiserver words it ``admission webhook "trust.cert-manager.io" denied the request: <the field errors>``
(:func:`denial`).
"""

from __future__ import annotations

from typing import Any

from ...admission import Request, Verdict, Webhook
from ...errors import Cause
from ...validation import (
    forbidden,
    invalid_value,
    validate_annotations,
    validate_label_selector,
    validate_labels,
)

Obj = dict[str, Any]
WEBHOOK = "trust.cert-manager.io"
RESERVED_PREFIXES = ("trust.cert-manager.io/", "trust-manager.io/")


def webhook() -> Webhook:
    """The ValidatingWebhookConfiguration ``trust-manager``'s one webhook, as the sandbox's API server calls it."""
    return Webhook(WEBHOOK, frozenset({"trust.cert-manager.io"}), validate=review)


def review(request: Request) -> Verdict:
    """The webhook's answer to an AdmissionReview of a Bundle (its rule: ``bundles``, CREATE and UPDATE)."""
    if request.rt.plural != "bundles" or request.subresource:
        return Verdict()
    causes = validate(request.obj)
    return Verdict(message(causes)) if causes else Verdict()


def validate(bundle: Obj) -> list[Cause]:
    """validator.validate: the field errors of a Bundle (empty when the webhook allows it)."""
    spec = bundle.get("spec") or {}
    out: list[Cause] = []
    source_count = default_cas = 0
    for i, source in enumerate(spec.get("sources") or []):
        path = f"spec.sources[{i}]"
        union = 0
        for field, word in (("configMap", "configMap"), ("secret", "secret")):
            ref = source.get(field)
            if ref is None:
                continue
            source_count += 1
            union += 1
            out += _ref_errors(ref, f"{path}.{field}", word)
        if source.get("inLine"):
            source_count += 1
            union += 1
        if source.get("useDefaultCAs") is not None:
            default_cas += 1
            union += 1
            if source["useDefaultCAs"]:
                source_count += 1
        if union != 1:
            out.append(forbidden(path, f"must define exactly one source type for each item but found {union} "
                                       "defined types"))
    if source_count == 0:
        out.append(forbidden("spec.sources", "must define at least one source"))
    if default_cas > 1:
        out.append(forbidden("spec.sources", f"must request default CAs either once or not at all but got "
                                             f"{default_cas} requests"))
    target = spec.get("target") or {}
    name = (bundle.get("metadata") or {}).get("name")
    for field in ("configMap", "secret"):
        template = target.get(field)
        if template is None:
            continue
        for i, source in enumerate(spec.get("sources") or []):
            ref = source.get(field)
            if ref is not None and ref.get("name") == name and (ref.get("key") or "") == template.get("key"):
                out.append(forbidden(f"spec.sources[{i}].{field}.{ref.get('name')}.{ref.get('key') or ''}",
                                     "cannot define the same source as target"))
    formats = target.get("additionalFormats")
    if formats is not None:
        keys = {target[f]["key"] for f in ("configMap", "secret") if target.get(f) is not None}
        for fmt in ("jks", "pkcs12"):
            if formats.get(fmt) is None:
                continue
            key = formats[fmt].get("key")
            if key in keys:
                out.append(invalid_value(f"spec.target.additionalFormats.{fmt}.key", key,
                                         "key must be unique across all target output keys"))
            keys.add(key)
    for field in ("configMap", "secret"):
        if target.get(field) is not None:
            out += _metadata_errors(target[field].get("metadata") or {}, f"spec.target.{field}.metadata")
    out += validate_label_selector(target.get("namespaceSelector"), "spec.target.namespaceSelector")
    return out


def _ref_errors(ref: Obj, path: str, word: str) -> list[Cause]:
    out: list[Cause] = []
    name, selector, key, all_keys = ref.get("name") or "", ref.get("selector"), ref.get("key") or "", \
        bool(ref.get("includeAllKeys"))
    if not name and selector is None:
        out.append(invalid_value(path, "name: ' ', selector: nil",
                                 "must validate one and only one schema (oneOf): [name, selector]. Found none valid"))
    if name and selector is not None:
        out.append(invalid_value(path, f"name: {name}, selector: {{}}",
                                 "must validate one and only one schema (oneOf): [name, selector]. Found both set"))
    if not key and not all_keys:
        out.append(invalid_value(path, f"key: ' ', includeAllKeys: {str(all_keys).lower()}",
                                 f"source {word} key must be defined when includeAllKeys is false"))
    if key and all_keys:
        out.append(invalid_value(path, f"key: {key}, includeAllKeys: true",
                                 f"source {word} key cannot be defined when includeAllKeys is true"))
    return out + validate_label_selector(selector, f"{path}.selector")


def _metadata_errors(metadata: Obj, path: str) -> list[Cause]:
    out: list[Cause] = []
    for group, noun in (("annotations", "annotations"), ("labels", "labels")):
        values = metadata.get(group) or {}
        for key in values:
            for prefix in RESERVED_PREFIXES:
                if key.startswith(prefix):
                    out.append(invalid_value(f"{path}.{group}", key, f"{prefix}* {noun} are not allowed"))
        out += (validate_annotations if group == "annotations" else validate_labels)(values, f"{path}.{group}")
    return out


def message(causes: list[Cause]) -> str:
    """field.ErrorList.ToAggregate().Error(): one error as is, several in brackets, repeats once."""
    texts = list(dict.fromkeys(f"{c.field}: {c.message}" for c in causes))
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def denial(causes: list[Cause]) -> str:
    """The API server's whole message for the webhook's denial."""
    return f'admission webhook "{WEBHOOK}" denied the request: {message(causes)}'
