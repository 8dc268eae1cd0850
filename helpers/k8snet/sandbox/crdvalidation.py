"""CustomResourceDefinition validation, as kube-apiserver runs it on every CRD create and update.

A port of k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation
(ValidateCustomResourceDefinition and ...Update) on the v1 JSON, after the v1 →
internal conversion's one visible effect: when every version has the same schema
(subresources, printer columns), it moves to the top level, so a single-version
CRD's schema errors name ``spec.validation.openAPIV3Schema...``, exactly as the
apiserver reports them.

Go ``%#v`` renderings of internal structs (``[]apiextensions.CustomResourceDefinitionVersion{...}``,
``apiextensions.ValidationRule{...}``) are reproduced with non-nil pointers
shown as ``(0xc000000000)``: the real addresses vary per request anyway.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from . import gofmt, openapivalidation, structural, validation
from .errors import Cause
from .jsoncopy import clone
from .structural import child, forbidden, invalid, key, required

Obj = dict[str, Any]
Schema = dict[str, Any]

OPENAPI_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
COLUMN_FORMATS = ["byte", "date", "date-time", "double", "float", "int32", "int64", "password"]
SUPPORTED_REASONS = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"]
ALLOWED_AT_ROOT_WITH_STATUS = ["Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum", "Minimum",
                               "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern", "MaxItems", "MinItems",
                               "UniqueItems", "MultipleOf", "Required", "Items", "Properties", "ExternalDocs",
                               "Example", "XPreserveUnknownFields", "XValidations"]
_ROOT_KEYS_WITH_STATUS = {"description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum",
                          "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
                          "uniqueItems", "multipleOf", "required", "items", "properties", "externalDocs", "example",
                          "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations", "$schema"}
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
ADDRESS = "0xc000000000"


# --------------------------------------------------------------------------- Go renderings


def _ptr(type_name: str, value: Any) -> str:
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})({ADDRESS})"


def go_rule(rule: dict[str, Any]) -> validation.GoRaw:
    """``%#v`` of an apiextensions.ValidationRule."""
    return validation.GoRaw(
        f"apiextensions.ValidationRule{{Rule:{gofmt.quote(str(rule.get('rule', '')))}, "
        f"Message:{gofmt.quote(str(rule.get('message', '')))}, "
        f"MessageExpression:{gofmt.quote(str(rule.get('messageExpression', '')))}, "
        f"Reason:{_ptr('apiextensions.FieldValueErrorReason', rule.get('reason'))}, "
        f"FieldPath:{gofmt.quote(str(rule.get('fieldPath', '')))}, "
        f"OptionalOldSelf:{_ptr('bool', rule.get('optionalOldSelf'))}}}")


def go_versions(versions: list[Obj], promoted: set[str]) -> validation.GoRaw:
    """``%#v`` of []apiextensions.CustomResourceDefinitionVersion (promoted fields are nil per version)."""
    def one(v: Obj) -> str:
        cols = v.get("additionalPrinterColumns") if "additionalPrinterColumns" not in promoted else None
        return (f"apiextensions.CustomResourceDefinitionVersion{{Name:{gofmt.quote(str(v.get('name', '')))}, "
                f"Served:{'true' if v.get('served') else 'false'}, Storage:{'true' if v.get('storage') else 'false'}, "
                f"Deprecated:{'true' if v.get('deprecated') else 'false'}, "
                f"DeprecationWarning:{_ptr('string', v.get('deprecationWarning'))}, "
                f"Schema:{_ptr('apiextensions.CustomResourceValidation', None if 'schema' in promoted else v.get('schema'))}, "
                f"Subresources:{_ptr('apiextensions.CustomResourceSubresources', None if 'subresources' in promoted else v.get('subresources'))}, "
                f"AdditionalPrinterColumns:[]apiextensions.CustomResourceColumnDefinition"
                f"{'(nil)' if not cols else '{...}'}, SelectableFields:[]apiextensions.SelectableField(nil)}}")
    return validation.GoRaw("[]apiextensions.CustomResourceDefinitionVersion{" +
                            ", ".join(one(v) for v in versions) + "}")


def _bad(path: str, value: Any, detail: str) -> Cause:
    """field.Invalid with the bad value rendered as field errors do (GoRaw passes through)."""
    if isinstance(value, validation.GoRaw):
        return Cause("FieldValueInvalid", f"Invalid value: {value}: {detail}", path)
    return invalid(path, value, detail)


def _not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    return Cause("FieldValueNotSupported", f"Unsupported value: {gofmt.bad_value(value)}: supported values: " +
                 ", ".join(gofmt.quote(s) for s in supported), path)


# --------------------------------------------------------------------------- the internal form


def promoted_fields(spec: Obj) -> dict[str, Any]:
    """Convert_v1_CustomResourceDefinitionSpec_To_apiextensions: per-version fields identical in every version
    (schema, subresources, additionalPrinterColumns) are reported at the top level."""
    versions = spec.get("versions") or []
    out: dict[str, Any] = {}
    if not versions:
        return out
    for name in ("schema", "subresources", "additionalPrinterColumns"):
        first = versions[0].get(name)
        if all(v.get(name) == first for v in versions):
            out[name] = first
    return out


def schema_of(crd: Obj, version: str) -> Schema | None:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version:
            return ((v.get("schema") or {}).get("openAPIV3Schema")) or None
    return None


# --------------------------------------------------------------------------- entry points


def validate(crd: Obj, old: Obj | None, established: bool, compile_rules: bool = True) -> tuple[list[Cause], list[str]]:
    """ValidateCustomResourceDefinition (``old`` None) or ...Update: the field errors, and warnings. Without
    ``compile_rules`` the CEL rules are not compiled here (they are when the first object is validated)."""
    v = _Validation(crd, old, established, compile_rules)
    v.run()
    return v.causes, v.warnings


class _Validation:
    """One CRD's validation: causes in upstream's order, plus the sandbox's warnings."""

    def __init__(self, crd: Obj, old: Obj | None, established: bool, compile_rules: bool = True):
        self.crd = crd
        self.compile_rules = compile_rules
        self.old = old
        self.established = established
        self.spec: Obj = crd.get("spec") or {}
        self.causes: list[Cause] = []
        self.warnings: list[str] = []
        old_spec = (old or {}).get("spec") or {}
        old_versions = old_spec.get("versions") or []
        # don't tighten validation on existing persisted data (requireOpenAPISchema on update)
        self.require_schema = old is None or all((v.get("schema") or {}).get("openAPIV3Schema") for v in old_versions)

    def run(self) -> None:
        meta = self.crd.get("metadata") or {}
        spec = self.spec
        names = spec.get("names") or {}
        required_name = f"{names.get('plural', '')}.{spec.get('group', '')}"

        def name_fn(name: str) -> list[str]:
            errs = validation.is_dns1123_subdomain(name)
            if name != required_name:
                errs.append('must be spec.names.plural+"."+spec.group')
            return errs

        if self.old is not None:
            self.causes += validation.validate_object_meta_update(meta, self.old.get("metadata") or {})
        self.causes += [c for c in validation.validate_object_meta(meta, False, name_fn)
                        if "neither a standard finalizer name" not in c.message]
        self.validate_spec()
        self.validate_approval()
        if spec.get("preserveUnknownFields") is True and not ((self.old or {}).get("spec") or {}).get(
                "preserveUnknownFields"):
            self.causes.append(_bad("spec.preserveUnknownFields", True, "cannot set to true, set "
                                    "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
        if self.old is not None:
            self.validate_update()

    # -- spec -----------------------------------------------------------------------

    def validate_spec(self) -> None:
        spec = self.spec
        group = spec.get("group") or ""
        if not group:
            self.causes.append(required("spec.group"))
        elif validation.is_dns1123_subdomain(group):
            self.causes.append(invalid("spec.group", group, ",".join(validation.is_dns1123_subdomain(group))))
        elif len(group.split(".")) < 2:
            self.causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
        scope = spec.get("scope") or ""
        if not scope:
            self.causes.append(required("spec.scope"))
        elif scope not in ("Cluster", "Namespaced"):
            self.causes.append(_not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
        versions = spec.get("versions") or []
        top = promoted_fields(spec)
        has_top_schema = bool(((top.get("schema") or {}) or {}).get("openAPIV3Schema"))
        if self.require_schema and not has_top_schema:
            for i, v in enumerate(versions):
                if not (v.get("schema") or {}).get("openAPIV3Schema"):
                    self.causes.append(required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
        any_status = any((v.get("subresources") or {}).get("status") is not None for v in versions)
        storage, seen, unique = 0, set(), True
        for i, v in enumerate(versions):
            path = f"spec.versions[{i}]"
            storage += bool(v.get("storage"))
            if v.get("name") in seen:
                unique = False
            seen.add(v.get("name"))
            name = str(v.get("name") or "")
            errs = validation.is_dns1035_label(name)
            if errs:
                self.causes.append(invalid(child(path, "name"), name, ",".join(errs)))
            self.validate_version(v, path, top, (v.get("subresources") or {}).get("status") is not None)
        if not unique:
            self.causes.append(_bad("spec.versions", go_versions(versions, set(top)), "must contain unique version "
                                                                                     "names"))
        if storage != 1:
            self.causes.append(_bad("spec.versions", go_versions(versions, set(top)),
                                    "must have exactly one version marked as storage version"))
        names = spec.get("names") or {}
        for field_name in ("plural", "singular", "kind", "listKind"):
            if not names.get(field_name):
                self.causes.append(required(f"spec.names.{field_name}"))
        self.causes += names_errors(names, "spec.names")
        if "schema" in top and top["schema"] is not None:
            self.validate_schema(top["schema"], any_status, "spec.validation")
        if "subresources" in top:
            self.causes += subresources_errors(top["subresources"], "spec.subresources")
        for j, col in enumerate(top.get("additionalPrinterColumns") or []):
            self.causes += column_errors(col, f"spec.additionalPrinterColumns[{j}]")
        conversion = spec.get("conversion") or {}
        strategy = conversion.get("strategy") or ""
        if not strategy:
            self.causes.append(required("spec.conversion.strategy"))
        elif strategy not in ("None", "Webhook"):
            self.causes.append(_not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
        elif strategy == "Webhook":
            self.validate_webhook(conversion)
        elif conversion.get("webhook") is not None:
            self.causes.append(forbidden("spec.conversion.webhookClientConfig",
                                         "should not be set when strategy is not set to Webhook"))

    def validate_webhook(self, conversion: Obj) -> None:
        webhook = conversion.get("webhook") or {}
        config = webhook.get("clientConfig")
        if config is None:
            self.causes.append(required("spec.conversion.webhookClientConfig", "required when strategy is set to "
                                                                              "Webhook"))
        elif (config.get("url") is None) == (config.get("service") is None):
            self.causes.append(required("spec.conversion.webhookClientConfig", "exactly one of url or service is "
                                                                              "required"))
        reviews = webhook.get("conversionReviewVersions") or []
        if not reviews:
            self.causes.append(required("spec.conversion.conversionReviewVersions"))
        elif not any(r in ("v1", "v1beta1") for r in reviews):
            self.causes.append(_bad("spec.conversion.conversionReviewVersions",
                                    validation.GoRaw("[]string{" + ", ".join(gofmt.quote(str(r)) for r in reviews) +
                                                     "}"), "must include at least one of v1, v1beta1"))
        self.warnings.append("k8snet sandbox: conversion webhooks are not called; objects are converted between "
                             "versions by rewriting apiVersion, as with strategy None")

    def validate_version(self, v: Obj, path: str, top: dict[str, Any], status_enabled: bool) -> None:
        """validateCustomResourceDefinitionVersion (fields not promoted to the top level)."""
        warning = v.get("deprecationWarning")
        if warning is not None:
            for detail in deprecation_errors(bool(v.get("deprecated")), str(warning)):
                self.causes.append(invalid(child(path, "deprecationWarning"), warning, detail))
        if "schema" not in top and v.get("schema") is not None:
            self.validate_schema(v["schema"], status_enabled, child(path, "schema"))
        if "subresources" not in top:
            self.causes += subresources_errors(v.get("subresources"), child(path, "subresources"))
        if "additionalPrinterColumns" not in top:
            for j, col in enumerate(v.get("additionalPrinterColumns") or []):
                self.causes += column_errors(col, f"{path}.additionalPrinterColumns[{j}]")

    def validate_schema(self, container: Obj, status_enabled: bool, path: str) -> None:
        """validateCustomResourceDefinitionValidation."""
        schema = container.get("openAPIV3Schema")
        if not isinstance(schema, dict):
            return
        spath = child(path, "openAPIV3Schema")
        if status_enabled:
            if schema.get("type") not in (None, "", "object"):
                self.causes.append(invalid(child(path, "openAPIV3Schema.type"), schema.get("type"),
                                           'only "object" is allowed as the type at the root of the schema if the '
                                           "status subresource is enabled"))
            elif any(k not in _ROOT_KEYS_WITH_STATUS for k in schema):
                self.causes.append(_bad(spath, validation.GoRaw("apiextensions.JSONSchemaProps{...}"),
                                        f"only [{' '.join(ALLOWED_AT_ROOT_WITH_STATUS)}] fields are allowed at the "
                                        "root of the schema if the status subresource is enabled"))
        if schema.get("nullable"):
            self.causes.append(forbidden(child(path, "openAPIV3Schema.nullable"), "nullable cannot be true at the root"))
        before = len(self.causes)
        structural_errs = structural.structural_errors(clone(schema), spath)
        self.causes += structural_errs
        structural_ok = not structural_errs
        if structural_ok:
            self.causes += default_errors(schema, spath)
        schema_errs, cel_errs = _OpenAPISchema(self.require_schema).check(
            schema, spath, self.compile_rules and structural_ok and len(self.causes) == before)
        self.causes += schema_errs + cel_errs
        if self.compile_rules and structural_ok and not schema_errs:
            from . import celrules  # imported where a rule is compiled, not at the sandbox's start

            for rule, name in celrules.RuleSet(schema).missing():
                self.warnings.append(f"k8snet sandbox: x-kubernetes-validations rule {gofmt.quote(rule)} uses "
                                     f"{name}, which the sandbox's CEL engine lacks: the rule is not enforced")

    # -- approval and updates -------------------------------------------------------------

    def validate_approval(self) -> None:
        """validateAPIApproval: protected groups (*.k8s.io, *.kubernetes.io) carry the approval annotation."""
        group = self.spec.get("group") or ""
        if not (group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))):
            return
        state, reason = approval_state((self.crd.get("metadata") or {}).get("annotations") or {})
        if self.old is not None:
            old_state, _ = approval_state((self.old.get("metadata") or {}).get("annotations") or {})
            if old_state == state:
                return
        path = f"metadata.annotations[{APPROVAL_ANNOTATION}]"
        if state == "missing":
            self.causes.append(required(path, reason))
        elif state == "invalid":
            value = ((self.crd.get("metadata") or {}).get("annotations") or {}).get(APPROVAL_ANNOTATION, "")
            self.causes.append(invalid(path, value, reason))

    def validate_update(self) -> None:
        """validateCustomResourceDefinitionSpecUpdate: what names the storage never changes."""
        old_spec = (self.old or {}).get("spec") or {}
        spec = self.spec
        if self.established:
            if spec.get("scope") != old_spec.get("scope"):
                self.causes.append(validation.immutable("spec.scope", spec.get("scope") or ""))
            if (spec.get("names") or {}).get("kind") != (old_spec.get("names") or {}).get("kind"):
                self.causes.append(validation.immutable("spec.names.kind", (spec.get("names") or {}).get("kind", "")))
        if spec.get("group") != old_spec.get("group"):
            self.causes.append(validation.immutable("spec.group", spec.get("group") or ""))
        if (spec.get("names") or {}).get("plural") != (old_spec.get("names") or {}).get("plural"):
            self.causes.append(validation.immutable("spec.names.plural", (spec.get("names") or {}).get("plural", "")))
        stored = ((self.crd.get("status") or {}).get("storedVersions")) or []
        names = {v.get("name") for v in spec.get("versions") or []}
        for i, version in enumerate(stored):
            if version not in names:
                self.causes.append(invalid(f"status.storedVersions[{i}]", version,
                                           f"missing from spec.versions; {version} was previously a storage version, "
                                           f"and must remain in spec.versions until a storage migration ensures no "
                                           f"data remains persisted in {version} and removes {version} from "
                                           "status.storedVersions"))


# --------------------------------------------------------------------------- pieces


def approval_state(annotations: dict[str, Any]) -> tuple[str, str]:
    """apihelpers.GetAPIApprovalState."""
    value = str(annotations.get(APPROVAL_ANNOTATION) or "")
    if not value:
        return "missing", (f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}", see '
                           "https://github.com/kubernetes/enhancements/pull/1111")
    if value.startswith("unapproved"):
        return "bypassed", f"not approved: {gofmt.quote(value)}"
    parts = urlsplit(value)
    if parts.scheme and parts.netloc:
        return "approved", f"approved in {value}"
    return "invalid", (f'protected groups must have approval annotation "{APPROVAL_ANNOTATION}" with either a URL or '
                       'a reason starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111')


def deprecation_errors(deprecated: bool, warning: str) -> list[str]:
    """validateDeprecationWarning."""
    if not deprecated:
        return ["can only be set for deprecated versions"]
    errs = []
    if len(warning) > 256:
        errs.append("must be <= 256 characters long")
    if not warning:
        errs.append("must not be an empty string")
    for i, ch in enumerate(warning):
        if not ch.isprintable():
            errs.append(f"must only contain printable UTF-8 characters; non-printable character found at index {i}")
            break
    return errs


def names_errors(names: Obj, path: str) -> list[Cause]:
    """ValidateCustomResourceDefinitionNames."""
    errs: list[Cause] = []
    for field_name in ("plural", "singular"):
        value = str(names.get(field_name) or "")
        problems = validation.is_dns1035_label(value)
        if value and problems:
            errs.append(invalid(child(path, field_name), value, ",".join(problems)))
    for field_name in ("kind", "listKind"):
        value = str(names.get(field_name) or "")
        problems = validation.is_dns1035_label(value.lower())
        if value and problems:
            errs.append(invalid(child(path, field_name), value, "may have mixed case, but should otherwise match: " +
                                ",".join(problems)))
    for i, short in enumerate(names.get("shortNames") or []):
        problems = validation.is_dns1035_label(str(short))
        if problems:
            errs.append(invalid(f"{path}.shortNames[{i}]", short, ",".join(problems)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(invalid(child(path, "listKind"), names["listKind"], "kind and listKind may not be the same"))
    for i, category in enumerate(names.get("categories") or []):
        problems = validation.is_dns1035_label(str(category))
        if problems:
            errs.append(invalid(f"{path}.categories[{i}]", category, ",".join(problems)))
    return errs


def _simple_json_path(value: str, path: str) -> list[Cause]:
    if not value:
        return [invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [invalid(path, value, "must be a simple json path starting with .")]
    return []


def column_errors(col: Obj, path: str) -> list[Cause]:
    """ValidateCustomResourceColumnDefinition (the internal type names the path ``JSONPath``)."""
    errs: list[Cause] = []
    if not col.get("name"):
        errs.append(required(child(path, "name")))
    ctype = col.get("type") or ""
    if not ctype:
        errs.append(required(child(path, "type"), f"must be one of {','.join(COLUMN_TYPES)}"))
    elif ctype not in COLUMN_TYPES:
        errs.append(invalid(child(path, "type"), ctype, f"must be one of {','.join(COLUMN_TYPES)}"))
    fmt = col.get("format") or ""
    if fmt and fmt not in COLUMN_FORMATS:
        errs.append(invalid(child(path, "format"), fmt, f"must be one of {','.join(COLUMN_FORMATS)}"))
    json_path = col.get("jsonPath") or ""
    if not json_path:
        errs.append(required(child(path, "JSONPath")))
    else:
        errs += _simple_json_path(json_path, child(path, "JSONPath"))
    return errs


def subresources_errors(sub: Obj | None, path: str) -> list[Cause]:
    """ValidateCustomResourceDefinitionSubresources: scale paths are simple JSON paths under .spec / .status."""
    scale = (sub or {}).get("scale")
    if scale is None:
        return []
    errs: list[Cause] = []
    for name, prefix, what in (("specReplicasPath", (".spec.",), ".spec"),
                               ("statusReplicasPath", (".status.",), ".status")):
        value = scale.get(name) or ""
        where = child(path, f"scale.{name}")
        if not value:
            errs.append(required(where))
        elif _simple_json_path(value, where):
            errs += _simple_json_path(value, where)
        elif not value.startswith(prefix):
            errs.append(invalid(where, value, f"should be a json path under {what}"))
    selector = scale.get("labelSelectorPath")
    if selector:
        where = child(path, "scale.labelSelectorPath")
        if _simple_json_path(selector, where):
            errs += _simple_json_path(selector, where)
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(invalid(where, selector, "should be a json path under either .spec or .status"))
    return errs


def default_errors(schema: Schema, path: str) -> list[Cause]:
    """defaulting/validation.go ValidateDefaults: each default is pruned, and valid against its own node."""
    errs: list[Cause] = []

    def walk(s: Any, p: str, inside_meta: bool, embedded_root: bool) -> None:
        if not isinstance(s, dict):
            return
        if s.get("x-kubernetes-embedded-resource"):
            inside_meta, embedded_root = False, True
        if "default" in s and s["default"] is not None and not inside_meta:
            value = s["default"]
            pruned = clone(value)
            structural.prune(pruned, s, root=bool(s.get("x-kubernetes-embedded-resource")))
            if pruned != value:
                errs.append(invalid(child(p, "default"), value, "must not have unknown fields"))
            errs.extend(openapivalidation.validate(value, s, child(p, "default")))
        if isinstance(s.get("items"), dict):
            walk(s["items"], child(p, "items"), inside_meta, False)
        for name, prop in (s.get("properties") or {}).items():
            meta = inside_meta or (embedded_root and name in structural.META_FIELDS)
            walk(prop, key(child(p, "properties"), name), meta, False)

    walk(schema, path, False, True)
    return errs


class _OpenAPISchema:
    """ValidateCustomResourceDefinitionOpenAPISchema: what a CRD schema may say, node by node."""

    def __init__(self, require_valid_types: bool):
        self.require_valid_types = require_valid_types

    def check(self, schema: Schema, path: str, compile_rules: bool) -> tuple[list[Cause], list[Cause]]:
        schema_errs: list[Cause] = []
        cel_errs: list[Cause] = []
        self._node(schema, path, True, None, None, schema_errs, cel_errs, compile_rules, True)
        return schema_errs, cel_errs

    def _node(self, s: Any, path: str, root: bool, no_defaults: str | None, uncorrelatable: str | None,
              schema_errs: list[Cause], cel_errs: list[Cause], compile_rules: bool, is_root_resource: bool,
              inside_meta: bool = False) -> None:
        if not isinstance(s, dict):
            return
        start = len(schema_errs)
        t = s.get("type")
        if self.require_valid_types and t and t not in OPENAPI_TYPES:
            schema_errs.append(_not_supported(child(path, "type"), t, OPENAPI_TYPES))
        if "default" in s and no_defaults is not None:
            schema_errs.append(forbidden(child(path, "default"), f"must not be set {no_defaults}".rstrip()))
        for name, what in (("id", "id is not supported"), ("additionalItems", "additionalItems is not supported"),
                           ("patternProperties", "patternProperties is not supported"),
                           ("definitions", "definitions is not supported"),
                           ("dependencies", "dependencies is not supported"), ("$ref", "$ref is not supported")):
            if s.get(name):
                schema_errs.append(forbidden(child(path, name), what))
        if t == "null":
            schema_errs.append(forbidden(child(path, "type"), "type cannot be set to null, use nullable as an "
                                                              "alternative"))
        if isinstance(s.get("items"), list):
            schema_errs.append(forbidden(child(path, "items"), "items must be a schema object and not an array"))
        if inside_meta and s.get("x-kubernetes-embedded-resource"):
            schema_errs.append(forbidden(child(path, "x-kubernetes-embedded-resource"),
                                         "must not be used inside of resource meta"))
        if s.get("uniqueItems"):
            schema_errs.append(forbidden(child(path, "uniqueItems"), "uniqueItems cannot be set to true since the "
                                                                     "runtime complexity becomes quadratic"))
        extra = s.get("additionalProperties")
        props = s.get("properties") or {}
        if extra is not None:
            if props and (extra is False or isinstance(extra, dict)):
                schema_errs.append(forbidden(child(path, "additionalProperties"),
                                             "additionalProperties and properties are mutual exclusive"))
            sub_no_defaults = no_defaults
            if inside_meta:
                sub_no_defaults = "inside additionalProperties applying to object metadata"
            self._node(extra, child(path, "additionalProperties"), False, sub_no_defaults, uncorrelatable,
                       schema_errs, cel_errs, compile_rules, False, inside_meta)
        for name, prop in props.items():
            sub_uncorrelatable = uncorrelatable
            if s.get("x-kubernetes-map-type") == "atomic" and sub_uncorrelatable is None:
                sub_uncorrelatable = path
            sub_meta = inside_meta
            sub_no_defaults = no_defaults
            if (root or s.get("x-kubernetes-embedded-resource")) and name in structural.META_FIELDS:
                sub_meta = True
                if root:
                    sub_no_defaults = f"in top-level {name}"
            self._node(prop, key(child(path, "properties"), name), False, sub_no_defaults, sub_uncorrelatable,
                       schema_errs, cel_errs, compile_rules, False, sub_meta)
        for name in ("allOf", "oneOf", "anyOf"):
            for i, alt in enumerate(s.get(name) or []):
                self._node(alt, f"{child(path, name)}[{i}]", False, no_defaults, uncorrelatable, schema_errs, [],
                           False, False, inside_meta)
        if isinstance(s.get("not"), dict):
            self._node(s["not"], child(path, "not"), False, no_defaults, uncorrelatable, schema_errs, [], False,
                       False, inside_meta)
        if isinstance(s.get("items"), dict):
            sub_uncorrelatable = uncorrelatable
            if s.get("x-kubernetes-list-type") != "map" and sub_uncorrelatable is None:
                sub_uncorrelatable = path
            self._node(s["items"], child(path, "items"), False, no_defaults, sub_uncorrelatable, schema_errs,
                       cel_errs, compile_rules, False, inside_meta)
        self._extensions(s, path, schema_errs)
        self._rules(s, path, root, uncorrelatable, schema_errs, cel_errs, compile_rules and len(schema_errs) == start)

    @staticmethod
    def _extensions(s: Schema, path: str, errs: list[Cause]) -> None:
        t = s.get("type") or ""
        if s.get("x-kubernetes-preserve-unknown-fields") is False:
            errs.append(invalid(child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"))
        map_type = s.get("x-kubernetes-map-type")
        if map_type is not None and t != "object":
            if not t:
                errs.append(required(child(path, "type"), "must be object if x-kubernetes-map-type is specified"))
            else:
                errs.append(invalid(child(path, "type"), t, "must be object if x-kubernetes-map-type is specified"))
        if map_type is not None and map_type not in ("atomic", "granular"):
            errs.append(_not_supported(child(path, "x-kubernetes-map-type"), map_type, ["atomic", "granular"]))
        list_type = s.get("x-kubernetes-list-type")
        items = s.get("items") if isinstance(s.get("items"), dict) else None
        if list_type is not None and t != "array":
            if not t:
                errs.append(required(child(path, "type"), "must be array if x-kubernetes-list-type is specified"))
            else:
                errs.append(invalid(child(path, "type"), t, "must be array if x-kubernetes-list-type is specified"))
        elif list_type == "set" and items is not None:
            if items.get("type") == "array" and items.get("x-kubernetes-list-type") not in (None, "atomic"):
                errs.append(invalid(child(path, "items.x-kubernetes-list-type"), items.get("x-kubernetes-list-type"),
                                    "must be atomic as item of a list with x-kubernetes-list-type=set"))
            if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
                errs.append(invalid(child(path, "items.x-kubernetes-map-type"), list_type,
                                    "must be atomic as item of a list with x-kubernetes-list-type=set"))
        if list_type is not None and list_type not in ("atomic", "set", "map"):
            errs.append(_not_supported(child(path, "x-kubernetes-list-type"), list_type, ["atomic", "set", "map"]))
        map_keys = list(s.get("x-kubernetes-list-map-keys") or [])
        go_keys = validation.GoRaw("[]string{" + ", ".join(gofmt.quote(str(k)) for k in map_keys) + "}")
        if map_keys:
            if list_type is None:
                errs.append(required(child(path, "x-kubernetes-list-type"),
                                     "must be map if x-kubernetes-list-map-keys is non-empty"))
            elif list_type != "map":
                errs.append(invalid(child(path, "x-kubernetes-list-type"), list_type,
                                    "must be map if x-kubernetes-list-map-keys is non-empty"))
        if list_type == "map":
            if not map_keys:
                errs.append(required(child(path, "x-kubernetes-list-map-keys"),
                                     "must not be empty if x-kubernetes-list-type is map"))
            if s.get("items") is None:
                errs.append(required(child(path, "items"), "must have a schema if x-kubernetes-list-type is map"))
            if items is not None and items.get("type") != "object":
                errs.append(invalid(child(path, "items.type"), items.get("type") or "",
                                    "must be object if parent array's x-kubernetes-list-type is map"))
            if items is not None and items.get("type") == "object":
                seen: set[str] = set()
                item_props = items.get("properties") or {}
                for k in map_keys:
                    if k in item_props:
                        if item_props[k].get("type") in ("array", "object"):
                            errs.append(invalid(child(key(child(path, "items.properties"), k), "type"),
                                                items.get("type"), "must be a scalar type if parent array's "
                                                                   "x-kubernetes-list-type is map"))
                    else:
                        errs.append(_bad(child(path, "x-kubernetes-list-map-keys"), go_keys,
                                         "entries must all be names of item properties"))
                    if k in seen:
                        errs.append(_bad(child(path, "x-kubernetes-list-map-keys"), go_keys,
                                         "must not contain duplicate entries"))
                    seen.add(k)
        if list_type in ("set", "map") and items is not None:  # validateMapListKeysMapSet
            if items.get("nullable"):
                errs.append(forbidden(child(path, "items.nullable"), f"cannot be nullable when x-kubernetes-list-type "
                                                                     f"is {list_type}"))
            if list_type == "map":
                reqs = set(items.get("required") or [])
                for k in map_keys:
                    prop = (items.get("properties") or {}).get(k)
                    if prop is None:
                        continue
                    if k not in reqs and prop.get("default") is None:
                        errs.append(required(child(key(child(path, "items.properties"), k), "default"),
                                             "this property is in x-kubernetes-list-map-keys, so it must have a "
                                             "default or be a required property"))
                    if prop.get("nullable"):
                        errs.append(forbidden(child(key(child(path, "items.properties"), k), "nullable"),
                                              "this property is in x-kubernetes-list-map-keys, so it cannot be "
                                              "nullable"))

    def _rules(self, s: Schema, path: str, root: bool, uncorrelatable: str | None, schema_errs: list[Cause],
               cel_errs: list[Cause], compile_rules: bool) -> None:
        rules = s.get("x-kubernetes-validations") or []
        base = child(path, "x-kubernetes-validations")
        for i, rule in enumerate(rules):
            where = f"{base}[{i}]"
            text = str(rule.get("rule") or "").strip()
            message = str(rule.get("message") or "")
            if not text:
                schema_errs.append(required(child(where, "rule"), "rule is not specified"))
            elif message and not message.strip():
                schema_errs.append(invalid(child(where, "message"), message, "message must be non-empty if specified"))
            elif re.search(r"[\n\r]", message.strip()):
                schema_errs.append(invalid(child(where, "message"), message, "message must not contain line breaks"))
            elif re.search(r"[\n\r]", text) and not message.strip():
                schema_errs.append(required(child(where, "message"), "message must be specified if rule contains line "
                                                                     "breaks"))
            expression = rule.get("messageExpression")
            if expression is not None and expression != "" and not str(expression).strip():
                schema_errs.append(required(child(where, "messageExpression"), "messageExpression must be non-empty "
                                                                               "if specified"))
            reason = rule.get("reason")
            if reason is not None and reason not in SUPPORTED_REASONS:
                schema_errs.append(_not_supported(child(where, "reason"), reason, SUPPORTED_REASONS))
            field_path = rule.get("fieldPath")
            if field_path is not None and field_path != "" and not str(field_path).strip():
                schema_errs.append(invalid(child(where, "fieldPath"), field_path, "fieldPath must be non-empty if "
                                                                                 "specified"))
        if not compile_rules or not rules:
            return
        from . import celrules  # imported where a rule is compiled, not at the sandbox's start

        for i, rule in enumerate(rules):
            where = f"{base}[{i}]"
            if not str(rule.get("rule") or "").strip():
                continue
            try:
                compiled = celrules.compile_rule(rule, s, root)
            except celrules.RuleError as exc:
                text = str(exc)
                field_name = "messageExpression" if text.startswith("messageExpression") else "rule"
                cel_errs.append(_bad(child(where, field_name), go_rule(rule), text))
                continue
            if compiled.uses_old_self and uncorrelatable is not None:
                cel_errs.append(invalid(child(where, "rule"), rule.get("rule"),
                                        f"oldSelf cannot be used on the uncorrelatable portion of the schema within "
                                        f"{uncorrelatable}"))
            elif not compiled.uses_old_self and rule.get("optionalOldSelf") is not None:
                cel_errs.append(invalid(child(where, "optionalOldSelf"), rule["optionalOldSelf"],
                                        "may not be set if oldSelf is not used in rule"))
