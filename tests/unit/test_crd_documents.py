"""The CRD documents the sandbox installs at start pass kube-apiserver's CRD validation, CEL rules compiled.

``install_crds`` creates them without compiling their CEL rules (a quarter to half a second of every fresh start;
the rules are compiled when the first object of a kind is validated), and without running the request decoder's
strict schema check or the CRD validation at all (``WriteOptions.checked``: most of a new sandbox's start), so these
tests are what guarantee that every document decodes and validates and every rule compiles, as ``kubectl apply`` of
the same documents to kube-apiserver would.
"""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
import yaml

from k8snet.sandbox import celrules, crds, crdvalidation, defaults, validation
from k8snet.sandbox.errors import ApiError
from k8snet.sandbox.instance import CNI_CRD_DOCUMENTS, CRD_DOCUMENTS
from k8snet.sandbox.schema import upstream


def documents() -> list[dict]:
    out = []
    for name in (*CRD_DOCUMENTS, *(n for names in CNI_CRD_DOCUMENTS.values() for n in names)):
        text = (files("k8snet.sandbox") / "crds" / name).read_text()
        out += [json.loads(json.dumps(d)) for d in yaml.safe_load_all(text) if d]
    return out


@pytest.mark.parametrize("crd", documents(), ids=lambda d: d["metadata"]["name"])
def test_every_shipped_crd_decodes_strictly(crd):
    """The request decoder's check (fieldValidation=Strict: no unknown field, every value of its Go type)."""
    schemas = upstream()
    node = schemas.for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    assert node is not None
    assert validation.check_schema(crd, schemas, node, kind="CustomResourceDefinition", name=crd["metadata"]["name"],
                                   group="apiextensions.k8s.io", mode="Strict") == []


@pytest.mark.parametrize("crd", documents(), ids=lambda d: d["metadata"]["name"])
def test_every_shipped_crd_validates_with_its_cel_rules_compiled(crd):
    defaults.default_custom_resource_definition(crd)  # what create does before validating (defaults.go)
    crds.prepare_create(crd)
    causes, warnings = crdvalidation.validate(crd, None, False, compile_rules=True)
    assert causes == []
    assert not [w for w in warnings if "not enforced" not in w], warnings


def test_the_grammar_cache_gives_the_same_parser(tmp_path, monkeypatch):
    """celrules builds cel-python's parser with lark's cache of its tables; both parse a rule alike."""
    from celpy.celparser import CELParser

    rule = "self.all(x, x.name != '') && size(self) <= 64"
    plain = celrules._parse_uncached(rule)
    monkeypatch.setattr(celrules, "GRAMMAR_CACHE", tmp_path / "cel.cache")
    monkeypatch.setattr(CELParser, "CEL_PARSER", None)
    celrules._environment.cache_clear()
    try:
        assert celrules._parse_uncached(rule) == plain and (tmp_path / "cel.cache").exists()
    finally:
        celrules._environment.cache_clear()


def test_the_check_above_would_see_a_rule_that_does_not_compile():
    crd = next(d for d in documents() if d["metadata"]["name"] == "httproutes.gateway.networking.k8s.io")
    defaults.default_custom_resource_definition(crd)
    crds.prepare_create(crd)
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec.setdefault("x-kubernetes-validations", []).append({"rule": "self.nosuchfield == 1", "message": "x"})
    causes, _ = crdvalidation.validate(crd, None, False, compile_rules=True)
    assert any("undefined field 'nosuchfield'" in c.message for c in causes)


def test_the_decode_check_above_would_see_an_unknown_field():
    crd = next(d for d in documents() if d["metadata"]["name"] == "httproutes.gateway.networking.k8s.io")
    crd["spec"]["versions"][0]["servedd"] = True
    schemas = upstream()
    node = schemas.for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    with pytest.raises(ApiError, match='strict decoding error: unknown field "spec.versions\\[0\\].servedd"'):
        validation.check_schema(crd, schemas, node, kind="CustomResourceDefinition", name=crd["metadata"]["name"],
                                group="apiextensions.k8s.io", mode="Strict")
