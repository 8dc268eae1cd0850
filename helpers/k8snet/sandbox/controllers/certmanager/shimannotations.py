"""The certificate-shim's annotations: which an Ingress or Gateway carries, and how they shape its Certificates.

A port of cert-manager v1.21.1 pkg/controller/certificate-shim/helper.go (translateAnnotations) with the keys of
pkg/apis/certmanager/v1/types.go and pkg/apis/acme/v1/types.go, as cert-manager.io/docs/usage/ingress/ lists
them ("Supported Annotations"):

* the issuer: ``cert-manager.io/issuer``, ``cluster-issuer``, ``issuer-kind``, ``issuer-group``
  (sync.go issuerForIngressLike reads them; :func:`issuer_for` here);
* the Certificate's spec: ``common-name``, ``alt-names``, ``ip-sans``, ``email-sans``, the ``subject-*``
  fields (comma-separated, CSV-quoted: pkg/util SplitWithEscapeCSV), ``duration``, ``renew-before``,
  ``renew-before-percentage``, ``usages``, ``revision-history-limit``, ``private-key-algorithm``,
  ``private-key-encoding``, ``private-key-size``, ``private-key-rotation-policy``, ``secret-template`` (JSON).
  ``cert-manager.io/uri-sans`` is declared upstream but translateAnnotations does not read it, so it does nothing
  here either.

A value upstream cannot parse fails the whole object with ``invalid ingress annotation "<key>": <Go error>``
(:class:`BadAnnotation`); upstream records no Event for it, only its log and a retry.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from ...gofmt import quote
from . import pki
from .objects import GROUP

Obj = dict[str, Any]

ISSUER = "cert-manager.io/issuer"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
ISSUER_KIND = "cert-manager.io/issuer-kind"
ISSUER_GROUP = "cert-manager.io/issuer-group"
COMMON_NAME = "cert-manager.io/common-name"
ALT_NAMES = "cert-manager.io/alt-names"
IP_SANS = "cert-manager.io/ip-sans"
EMAIL_SANS = "cert-manager.io/email-sans"
DURATION = "cert-manager.io/duration"
RENEW_BEFORE = "cert-manager.io/renew-before"
RENEW_BEFORE_PERCENTAGE = "cert-manager.io/renew-before-percentage"
USAGES = "cert-manager.io/usages"
REVISION_HISTORY_LIMIT = "cert-manager.io/revision-history-limit"
PRIVATE_KEY_ALGORITHM = "cert-manager.io/private-key-algorithm"
PRIVATE_KEY_ENCODING = "cert-manager.io/private-key-encoding"
PRIVATE_KEY_SIZE = "cert-manager.io/private-key-size"
PRIVATE_KEY_ROTATION_POLICY = "cert-manager.io/private-key-rotation-policy"
SECRET_TEMPLATE = "cert-manager.io/secret-template"
IGNORE_TLS_LISTENERS = "cert-manager.io/ignore-tls-listeners"
TLS_ACME = "kubernetes.io/tls-acme"
"""The controller's --auto-certificate-annotations default: an Ingress annotated ``"true"`` is shimmed too."""
SUBJECT_FIELDS = (("cert-manager.io/subject-organizations", "organizations", "cert-manager.io/subject-organizations"),
                  ("cert-manager.io/subject-organizationalunits", "organizationalUnits",
                   "cert-manager.io/subject-organizations"),
                  ("cert-manager.io/subject-countries", "countries", "cert-manager.io/subject-countries"),
                  ("cert-manager.io/subject-provinces", "provinces", "cert-manager.io/subject-provinces"),
                  ("cert-manager.io/subject-localities", "localities", "cert-manager.io/subject-localities"),
                  ("cert-manager.io/subject-postalcodes", "postalCodes", "cert-manager.io/subject-postalcodes"),
                  ("cert-manager.io/subject-streetaddresses", "streetAddresses",
                   "cert-manager.io/subject-streetaddresses"))
"""(annotation, X509Subject field, the key its error names): upstream names the organizations key in an
organizational-units error too, and so does this port."""
SUBJECT_SERIAL_NUMBER = "cert-manager.io/subject-serialnumber"

EDIT_IN_PLACE = "acme.cert-manager.io/http01-edit-in-place"
HTTP01_INGRESS_CLASS = "acme.cert-manager.io/http01-ingress-class"
HTTP01_INGRESS_CLASS_NAME = "acme.cert-manager.io/http01-ingress-ingressclassname"
OVERRIDE_INGRESS_NAME = "acme.cert-manager.io/http01-override-ingress-name"
OVERRIDE_INGRESS_CLASS = "acme.cert-manager.io/http01-override-ingress-class"
OVERRIDE_INGRESS_CLASS_NAME = "acme.cert-manager.io/http01-override-ingress-ingressclassname"
PARENT_REF_KIND = "acme.cert-manager.io/http01-parentrefkind"
PARENT_REF_NAME = "acme.cert-manager.io/http01-parentrefname"
ISSUE_TEMPORARY_CERTIFICATE = "cert-manager.io/issue-temporary-certificate"


class BadAnnotation(ValueError):
    """errInvalidIngressAnnotation, wrapped as upstream wraps it: ``invalid ingress annotation "<key>": ...``."""

    def __init__(self, key: str, why: str):
        super().__init__(f"invalid ingress annotation {quote(key)}: {why}")


class BadIssuer(ValueError):
    """issuerForIngressLike's error: its reasons joined by ``, ``."""


# --------------------------------------------------------------------------- Go's parsers


def parse_bool(text: str) -> bool | None:
    """strconv.ParseBool (None where Go returns an error)."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


_INT = re.compile(r"[+-]?[0-9]+")


def parse_int(text: str, bits: int, func: str = "ParseInt") -> int:
    """strconv.ParseInt(text, 10, bits) (``Atoi``: bits 64, named so in the error), ValueError with Go's text."""
    if not _INT.fullmatch(text):
        raise ValueError(f"strconv.{func}: parsing {quote(text)}: invalid syntax")
    value = int(text)
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise ValueError(f"strconv.{func}: parsing {quote(text)}: value out of range")
    return value


def _csv_records(text: str) -> list[list[str]]:
    """encoding/csv Reader.ReadAll with its defaults (comma ``,``, no lazy quotes, blank lines skipped, every
    record as wide as the first), ValueError with Go's ParseError text."""
    records: list[list[str]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines):
        line_no, line = i + 1, lines[i]
        i += 1
        if line == "":
            continue
        fields: list[str] = []
        pos = 0
        while True:
            if line[pos:pos + 1] != '"':
                end = line.find(",", pos)
                field = line[pos:] if end < 0 else line[pos:end]
                if '"' in field:
                    column = pos + field.index('"') + 1
                    raise ValueError(f'parse error on line {line_no}, column {column}: bare " in non-quoted-field')
                fields.append(field)
                if end < 0:
                    break
                pos = end + 1
                continue
            start_line, value, pos = line_no, [], pos + 1
            while True:
                quote_at = line.find('"', pos)
                if quote_at < 0:  # the field goes on over the next line
                    value.append(line[pos:] + "\n")
                    if i >= len(lines):  # the end of the input inside quotes (the column after the line's end)
                        prefix = f"record on line {start_line}; " if start_line != line_no else ""
                        raise ValueError(f'{prefix}parse error on line {line_no}, column {len(line) + 2}: '
                                         'extraneous or missing " in quoted-field')
                    line_no, line, pos = i + 1, lines[i], 0
                    i += 1
                    continue
                value.append(line[pos:quote_at])
                after = line[quote_at + 1:quote_at + 2]
                if after == '"':
                    value.append('"')
                    pos = quote_at + 2
                    continue
                if after in (",", ""):
                    break
                prefix = f"record on line {start_line}; " if start_line != line_no else ""
                raise ValueError(f'{prefix}parse error on line {line_no}, column {quote_at + 2}: extraneous or '
                                 'missing " in quoted-field')
            fields.append("".join(value))
            if after == "":
                break
            pos = quote_at + 2
        if records and len(fields) != len(records[0]):
            raise ValueError(f"record on line {line_no}: wrong number of fields")
        records.append(fields)
    return records


def split_with_escape_csv(text: str) -> list[str]:
    """pkg/util SplitWithEscapeCSV: one line of CSV (``"Acme, Inc",Example`` is two values)."""
    try:
        records = _csv_records(text)
    except ValueError as exc:
        raise ValueError(f"failed to parse {quote(text)} as CSV: {exc}") from None
    if not records:
        raise ValueError(f"no values found after parsing {quote(text)}")
    if len(records) > 1:
        raise ValueError(f"refusing to use {quote(text)} as input as it parses as multiple lines of CSV")
    return records[0]


def _secret_template(text: str) -> Obj:
    """json.Decoder with DisallowUnknownFields into a CertificateSecretTemplate (field names match case-insensitively,
    as encoding/json matches them)."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text.lstrip(" \t\r\n"))
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc):
            raise ValueError("unexpected EOF") from None
        raise ValueError(f"invalid character {_go_char(exc.doc[exc.pos])} looking for beginning of value") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go value of type v1.CertificateSecretTemplate")
    out: Obj = {}
    for key, item in value.items():
        name = key.lower()
        if name not in ("annotations", "labels"):
            raise ValueError(f"json: unknown field {quote(key)}")
        if item is None:
            continue
        if not isinstance(item, dict):
            raise ValueError(f"json: cannot unmarshal {_json_kind(item)} into Go struct field "
                             f"CertificateSecretTemplate.{name} of type map[string]string")
        for v in item.values():
            if not isinstance(v, str):
                raise ValueError(f"json: cannot unmarshal {_json_kind(v)} into Go struct field "
                                 f"CertificateSecretTemplate.{name} of type string")
        out[name] = dict(item)
    return out


def _go_char(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# --------------------------------------------------------------------------- the issuer


def issuer_for(annotations: dict[str, str], default_name: str = "", default_kind: str = "Issuer",
               default_group: str = GROUP) -> tuple[str, str, str]:
    """sync.go issuerForIngressLike: (name, kind, group) from the annotations over the controller's defaults
    (--default-issuer-name, -kind, -group: "", ``Issuer``, ``cert-manager.io`` unless configured).

    Raises:
        BadIssuer: upstream's reasons, joined by ``, ``.
    """
    name, kind, group = default_name, default_kind, default_group
    has_issuer, has_cluster = ISSUER in annotations, CLUSTER_ISSUER in annotations
    has_kind, has_group = ISSUER_KIND in annotations, ISSUER_GROUP in annotations
    if has_issuer:
        name, kind = annotations[ISSUER], "Issuer"
    if has_cluster:
        name, kind = annotations[CLUSTER_ISSUER], "ClusterIssuer"
    if has_kind:
        kind = annotations[ISSUER_KIND]
    if has_group:
        group = annotations[ISSUER_GROUP]
    errors = []
    if not name:
        errors.append("failed to determine issuer name to be used for ingress resource")
    if has_issuer and has_cluster:
        errors.append(f"both {quote(ISSUER)} and {quote(CLUSTER_ISSUER)} may not be set")
    if has_cluster and has_group:
        errors.append(f"both {quote(CLUSTER_ISSUER)} and {quote(ISSUER_GROUP)} may not be set")
    if has_cluster and has_kind:
        errors.append(f"both {quote(CLUSTER_ISSUER)} and {quote(ISSUER_KIND)} may not be set")
    if errors:
        raise BadIssuer(", ".join(errors))
    return name, kind, group


# --------------------------------------------------------------------------- the Certificate's spec


def _private_key(spec: Obj) -> Obj:
    return spec.setdefault("privateKey", {})


def translate(spec: Obj, annotations: dict[str, str]) -> None:
    """helper.go translateAnnotations: set ``spec`` (a Certificate's, in its JSON form) from the annotations.

    Raises:
        BadAnnotation: the first annotation upstream cannot parse, with upstream's message.
    """
    a = annotations
    if COMMON_NAME in a:
        spec["commonName"] = a[COMMON_NAME]
    if a.get(ALT_NAMES):
        spec["dnsNames"] = list(spec.get("dnsNames") or []) + a[ALT_NAMES].split(",")
    if a.get(IP_SANS):
        spec["ipAddresses"] = list(spec.get("ipAddresses") or []) + a[IP_SANS].split(",")
    if EMAIL_SANS in a:
        spec["emailAddresses"] = a[EMAIL_SANS].split(",")
    subject: Obj = {}
    for key, field, named in SUBJECT_FIELDS:
        if key in a:
            try:
                subject[field] = split_with_escape_csv(a[key])
            except ValueError as exc:
                raise BadAnnotation(named, str(exc)) from None
    if SUBJECT_SERIAL_NUMBER in a and a[SUBJECT_SERIAL_NUMBER]:
        subject["serialNumber"] = a[SUBJECT_SERIAL_NUMBER]
    if any(subject.values()):
        spec["subject"] = {k: v for k, v in subject.items() if v}
    for key, field in ((DURATION, "duration"), (RENEW_BEFORE, "renewBefore")):
        if key in a:
            try:
                spec[field] = pki.format_duration(pki.parse_duration(a[key]))  # metav1.Duration prints so
            except pki.PKIError as exc:
                raise BadAnnotation(key, str(exc)) from None
    if RENEW_BEFORE_PERCENTAGE in a:
        try:
            spec["renewBeforePercentage"] = parse_int(a[RENEW_BEFORE_PERCENTAGE], 32)
        except ValueError as exc:
            raise BadAnnotation(RENEW_BEFORE_PERCENTAGE, str(exc)) from None
    if USAGES in a:
        usages = []
        for raw in a[USAGES].split(","):
            usage = raw.strip(" ")
            if usage not in pki.KEY_USAGES and usage not in pki.EXT_KEY_USAGES:
                raise BadAnnotation(USAGES, f"invalid key usage name {quote(raw)}")
            usages.append(usage)
        spec["usages"] = usages
    if REVISION_HISTORY_LIMIT in a:
        text = a[REVISION_HISTORY_LIMIT]
        try:
            limit = parse_int(text, 32)
        except ValueError as exc:
            raise BadAnnotation(REVISION_HISTORY_LIMIT, str(exc)) from None
        if limit < 1:
            raise BadAnnotation(REVISION_HISTORY_LIMIT, f"revision history limit must be a positive number "
                                                        f"{quote(text)}")
        spec["revisionHistoryLimit"] = limit
    if PRIVATE_KEY_ALGORITHM in a:
        algorithm = a[PRIVATE_KEY_ALGORITHM]
        if algorithm not in ("RSA", "ECDSA", "Ed25519"):
            raise BadAnnotation(PRIVATE_KEY_ALGORITHM, f"invalid private key algorithm {quote(algorithm)}")
        _private_key(spec)["algorithm"] = algorithm
    if PRIVATE_KEY_ENCODING in a:
        encoding = a[PRIVATE_KEY_ENCODING]
        if encoding not in ("PKCS1", "PKCS8"):
            raise BadAnnotation(PRIVATE_KEY_ENCODING, f"invalid private key encoding {quote(encoding)}")
        _private_key(spec)["encoding"] = encoding
    if PRIVATE_KEY_SIZE in a:
        text = a[PRIVATE_KEY_SIZE]
        try:
            size = parse_int(text, 64, "Atoi")
        except ValueError as exc:
            raise BadAnnotation(PRIVATE_KEY_SIZE, str(exc)) from None
        algorithm = (spec.get("privateKey") or {}).get("algorithm") or "RSA"
        if algorithm == "RSA" and not pki.MIN_RSA_KEY_SIZE <= size <= pki.MAX_RSA_KEY_SIZE:
            raise BadAnnotation(PRIVATE_KEY_SIZE, f"invalid private key size for RSA algorithm {quote(text)}")
        if algorithm == "ECDSA" and size not in (256, 384, 521):
            raise BadAnnotation(PRIVATE_KEY_SIZE, f"invalid private key size for ECDSA algorithm {quote(text)}")
        _private_key(spec)["size"] = size
    if PRIVATE_KEY_ROTATION_POLICY in a:
        policy = a[PRIVATE_KEY_ROTATION_POLICY]
        if policy not in ("Never", "Always"):
            raise BadAnnotation(PRIVATE_KEY_ROTATION_POLICY, f"invalid private key rotation policy {quote(policy)}")
        _private_key(spec)["rotationPolicy"] = policy
    if SECRET_TEMPLATE in a:
        try:
            template = _secret_template(a[SECRET_TEMPLATE])
        except ValueError as exc:
            raise BadAnnotation(SECRET_TEMPLATE, f"error parsing secret template JSON: {exc}") from None
        for key in sorted(template.get("annotations") or {}):
            if key.startswith("cert-manager.io/"):
                raise BadAnnotation(SECRET_TEMPLATE, f"secretTemplate must not have cert-manager.io/ annotations: "
                                                     f"{quote(key)}")
        if template.get("annotations") or template.get("labels"):
            spec["secretTemplate"] = {k: v for k, v in template.items() if v}


def issuer_specific(annotations: dict[str, str], owner_kind: str, owner_name: str) -> dict[str, str]:
    """sync.go setIssuerSpecificConfig: the annotations a Certificate gets for ACME's HTTP-01 solver (edit in
    place, the ingress class overrides) and, for a Gateway, its parentRef (http01-parentrefkind/-name)."""
    out: dict[str, str] = {}
    if annotations.get(EDIT_IN_PLACE) == "true":
        out[OVERRIDE_INGRESS_NAME] = owner_name
        out[ISSUE_TEMPORARY_CERTIFICATE] = "true"
    if annotations.get(HTTP01_INGRESS_CLASS):
        out[OVERRIDE_INGRESS_CLASS] = annotations[HTTP01_INGRESS_CLASS]
    if annotations.get(HTTP01_INGRESS_CLASS_NAME):
        out[OVERRIDE_INGRESS_CLASS_NAME] = annotations[HTTP01_INGRESS_CLASS_NAME]
    if owner_kind == "Gateway":
        out[PARENT_REF_KIND] = "Gateway"
        out[PARENT_REF_NAME] = owner_name
    return out


def split_hosts(hosts: list[str]) -> tuple[list[str], list[str]]:
    """buildCertificates: (dnsNames, ipAddresses) from a TLS entry's hosts (net.ParseIP picks the addresses)."""
    dns, ips = [], []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            ips.append(h)
        except ValueError:
            dns.append(h)
    return dns, ips
