"""The DefaultIngressClass admission plugin: a new Ingress without a class gets the default IngressClass.

kubernetes/kubernetes plugin/pkg/admission/network/defaultingressclass/admission.go (on by default in
kube-apiserver): on create only, when neither ``spec.ingressClassName`` nor the ``kubernetes.io/ingress.class``
annotation is set, the IngressClass annotated ``ingressclass.kubernetes.io/is-default-class: "true"``
is filled in; with several, the newest (creation time, then name) wins.
"""

from __future__ import annotations

from typing import Any

DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def default_ingress_class(store: Any, ingress: dict[str, Any]) -> None:
    """Admit a created Ingress: set ``spec.ingressClassName`` to the default class if it has none."""
    spec = ingress.setdefault("spec", {})
    if spec.get("ingressClassName") is not None:
        return
    if CLASS_ANNOTATION in (ingress.get("metadata", {}).get("annotations") or {}):
        return
    defaults = [ic for ic in store.list("ingressclasses.networking.k8s.io")
                if (ic["metadata"].get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"]
    if not defaults:
        return
    by_name = sorted(defaults, key=lambda ic: ic["metadata"]["name"])
    newest = sorted(by_name, key=lambda ic: ic["metadata"].get("creationTimestamp", ""), reverse=True)[0]
    spec["ingressClassName"] = newest["metadata"]["name"]
