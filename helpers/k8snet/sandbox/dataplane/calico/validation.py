"""What Calico's API server does to projectcalico.org/v3 policies and tiers before it stores them.

On kind, ``k8snet kind up --cni calico`` runs Calico's aggregated API server (calico-apiserver, manifests/
apiserver.yaml at v3.32.1), which stores through libcalico-go's client: the policy's tier must exist
(clientv3/networkpolicy.go Create), the object is defaulted (api/pkg/defaults: ``types`` from the rules present,
the ``projectcalico.org/tier`` label; apiserver storage/calico/policy_storage.go: ``spec.tier`` ``default``;
lib/resources/tier.go DefaultTierFields: a tier's ``order`` 1,000,000 and ``defaultAction`` Deny) and validated
(lib/validator/v3/validator.go). A validation failure is a 422 whose causes are the validator's fields
(storage/calico/resource.go validationError): ``<Field>: Invalid value: <value>: <reason>``, the reason of a
field-level check being ``Reason: failed to validate Field: <Field> because of Tag: <tag> ``.

Since v3.30 (projectcalico/calico#11232) a tiered policy's name needs no ``<tier>.`` prefix; a name may still
carry one dot (validator.go networkPolicyNameRegex, globalNetworkPolicyNameRegex).

The sandbox serves these kinds as CRDs (``crds/projectcalico.org.yaml``) and does this here, as an admission step
(:class:`..admission.Webhook`) whose refusals are the API server's own errors, not a webhook's.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ... import admission, errors
from . import selector as sel

Obj = dict[str, Any]
GROUP = "projectcalico.org"
TIER_LABEL = "projectcalico.org/tier"
BUILTIN_TIERS = {"kube-admin": (1_000.0, "Pass"), "default": (1_000_000.0, "Deny"),
                 "kube-baseline": (10_000_000.0, "Pass")}
"""clientv3/client.go EnsureInitialized: the tiers Calico creates, with their order and defaultAction
(api/pkg/apis/projectcalico/v3/tier.go KubeAdminTierOrder, DefaultTierOrder, KubeBaselineTierOrder)."""

LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN_FMT = LABEL_FMT + r"(\." + LABEL_FMT + ")*"
NP_NAME = re.compile(f"^(({LABEL_FMT})(\\.{LABEL_FMT})?|((?:knp|ossg)\\.default\\.({SUBDOMAIN_FMT})))$")
GNP_NAME = re.compile(f"^({LABEL_FMT}\\.)?{LABEL_FMT}$")
TIER_NAME = re.compile(f"^{LABEL_FMT}$")
ACTIONS = ("Allow", "Deny", "Log", "Pass")
PROTOCOLS = re.compile("^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$")
PORTS_NEED_PROTOCOL = "rules with numeric port or port range must set protocol to TCP or UDP or SCTP"
PORTS_PROTOCOL = "rules that specify ports must set protocol to TCP or UDP or SCTP"
GLOBAL_ONLY_IN_ENTITY = "global() can only be used in an EntityRule namespaceSelector"
KINDS = {"networkpolicies": "NetworkPolicy", "globalnetworkpolicies": "GlobalNetworkPolicy", "tiers": "Tier",
         "networksets": "NetworkSet", "globalnetworksets": "GlobalNetworkSet"}


def webhook() -> admission.Webhook:
    return admission.Webhook("calico-apiserver", frozenset({GROUP}), validate=validate, mutate=mutate)


# -- defaulting ---------------------------------------------------------------------------------------------


def mutate(request: admission.Request) -> None:
    """The API server's defaulting (see the module's docstring)."""
    if request.subresource or request.rt.plural not in KINDS:
        return
    obj = request.obj
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if request.rt.plural == "tiers":
        spec.setdefault("order", 1_000_000)
        spec.setdefault("defaultAction", "Deny")
        return
    if request.rt.plural not in ("networkpolicies", "globalnetworkpolicies"):
        return
    if not spec.get("tier"):
        spec["tier"] = "default"
    if not spec.get("types"):
        spec["types"] = ["Ingress"] if not spec.get("egress") else ["Egress"] if not spec.get("ingress") else \
            ["Ingress", "Egress"]
    obj.setdefault("metadata", {}).setdefault("labels", {})
    if isinstance(obj["metadata"]["labels"], dict):
        obj["metadata"]["labels"][TIER_LABEL] = spec["tier"]


# -- validation ---------------------------------------------------------------------------------------------


def _tag(field: str, tag: str) -> str:
    """extractReason's wording for a field-level validator without a reason of its own."""
    return f"Reason: failed to validate Field: {field} because of Tag: {tag} "


class _Errors:
    def __init__(self) -> None:
        self.causes: list[errors.Cause] = []

    def add(self, field: str, value: Any, reason: str) -> None:
        self.causes.append(errors.field_error("", reason, field, value))

    def selector(self, field: str, value: Any) -> None:
        if isinstance(value, str) and value and sel.validate(value) is not None:
            self.add(field, value, _tag(field, "selector"))


def validate(request: admission.Request) -> admission.Verdict:
    """Refuse what Calico's validator refuses, with its 422 (raised directly: the API server's own error)."""
    plural = request.rt.plural
    if request.subresource or plural not in KINDS:
        return admission.Verdict()
    obj, name = request.obj, request.obj.get("metadata", {}).get("name", "")
    spec = obj.get("spec") or {}
    errs = _Errors()
    if plural == "tiers":
        _tier(errs, name, spec)
    elif plural in ("networkpolicies", "globalnetworkpolicies"):
        _policy(errs, plural, name, spec)
    elif plural in ("networksets", "globalnetworksets"):
        if "projectcalico.org/namespace" in (obj.get("metadata", {}).get("labels") or {}):
            errs.add("Metadata.Labels (label)", "projectcalico.org/namespace",
                     "Reason: projectcalico.org/namespace is not a valid label name")
        for net in spec.get("nets") or []:
            if not _net(net):
                errs.add("Nets", net, _tag("Nets", "net"))
    if errs.causes:
        raise errors.invalid(KINDS[plural], GROUP, name, errs.causes)
    if plural in ("networkpolicies", "globalnetworkpolicies") and request.operation == "CREATE":
        tier = spec.get("tier") or "default"
        if request.api.store.get(f"tiers.{GROUP}", "", tier) is None:
            # Calico's API server fails here deep in its storage (clientv3 Create: Get(tier) →
            # ErrorResourceDoesNotExist), which reaches the client as an unconverted storage error; the sandbox
            # answers what that means instead, as a NotFound naming the missing tier (never a 500)
            raise errors.not_found("tiers", GROUP, tier)
    return admission.Verdict()


def _tier(errs: _Errors, name: str, spec: Obj) -> None:
    if len(name) > 63:
        errs.add("Metadata.Name", name, f"Reason: name is too long by {len(name) - 63} bytes")
    if not TIER_NAME.match(name):
        errs.add("Metadata.Name", name,
                 f"Reason: name must consist of lower case alphanumeric characters or '-' (regex: {LABEL_FMT})")
    action = spec.get("defaultAction")
    if action is not None and action not in ("Deny", "Pass"):
        errs.add("DefaultAction", action, _tag("DefaultAction", "oneof"))
    if name in BUILTIN_TIERS:
        order = BUILTIN_TIERS[name][0]
        if spec.get("order") is None or float(spec["order"]) != order:
            errs.add("TierSpec.Order", spec.get("order"), f"Reason: {name} tier order must be {int(order)}")


def _policy(errs: _Errors, plural: str, name: str, spec: Obj) -> None:
    glob = plural == "globalnetworkpolicies"
    kind_spec = "GlobalNetworkPolicySpec" if glob else "NetworkPolicySpec"
    if len(name) > 253:
        errs.add("Metadata.Name", name, f"Reason: name is too long by {len(name) - 253} bytes")
    if not (GNP_NAME if glob else NP_NAME).match(name):
        errs.add("Metadata.Name", name,
                 f"Reason: name must consist of lower case alphanumeric characters or '-' (regex: {LABEL_FMT})")
    for key in ("selector", "serviceAccountSelector") + (("namespaceSelector",) if glob else ()):
        field = key[0].upper() + key[1:]
        errs.selector(field, spec.get(key))
        if "global()" in str(spec.get(key) or ""):
            errs.add(f"{kind_spec}.{field}", spec.get(key), f"Reason: {GLOBAL_ONLY_IN_ENTITY}")
    for i, t in enumerate(spec.get("types") or []):
        if t not in ("Ingress", "Egress"):
            errs.add(f"Types[{i}]", t, _tag(f"Types[{i}]", "policyType"))
    if len(set(spec.get("types") or [])) != len(spec.get("types") or []):
        dup = next(t for t in spec["types"] if spec["types"].count(t) > 1)
        errs.add(f"{kind_spec}.Types", spec["types"], f"Reason: '{dup}' type specified more than once")
    for key in ("ingress", "egress"):
        for rule in spec.get(key) or []:
            if isinstance(rule, dict):
                _rule(errs, rule)
    if glob:
        if spec.get("doNotTrack") and spec.get("preDNAT"):
            errs.add("PolicySpec.PreDNAT", True,
                     "Reason: PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec")
        if spec.get("preDNAT") and spec.get("egress"):
            errs.add("PolicySpec.Egress", spec["egress"], "Reason: PreDNAT PolicySpec cannot have any Egress rules")
        if not spec.get("applyOnForward") and (spec.get("doNotTrack") or spec.get("preDNAT")):
            errs.add("PolicySpec.ApplyOnForward", False, "Reason: ApplyOnForward must be true if either PreDNAT or "
                                                         "DoNotTrack is true, for a given PolicySpec")


def _rule(errs: _Errors, rule: Obj) -> None:
    action = rule.get("action")
    if action not in ACTIONS:
        errs.add("Action", action if action is not None else "", _tag("Action", "action"))
    for key in ("protocol", "notProtocol"):
        value = rule.get(key)
        if value is None:
            continue
        if isinstance(value, int) or str(value).isdigit():
            if int(value) == 0:
                errs.add("Protocol", int(value), "Reason: protocol number invalid")
        elif not PROTOCOLS.match(str(value)):
            errs.add("Protocol", value, "Reason: protocol name invalid")
    protocol = rule.get("protocol")
    with_ports = protocol is not None and str(protocol).upper() in ("TCP", "UDP", "SCTP", "6", "17", "132", "UDPLITE")
    for side in ("source", "destination"):
        entity = rule.get(side) or {}
        side_name = side.capitalize()
        for key in ("selector", "notSelector", "namespaceSelector"):
            errs.selector(key[0].upper() + key[1:], entity.get(key))
        errs.selector("Selector", (entity.get("serviceAccounts") or {}).get("selector"))
        if "global()" in str(entity.get("selector") or ""):
            errs.add("Selector field", entity["selector"], f"Reason: {GLOBAL_ONLY_IN_ENTITY}")
        for key in ("nets", "notNets"):
            for net in entity.get(key) or []:
                if not _net(net):
                    errs.add(f"{side_name}.{key[0].upper() + key[1:]}", net, "Reason: invalid CIDR")
        for key in ("ports", "notPorts"):
            ports = entity.get(key) or []
            for p in ports:
                if _port_error(p):
                    errs.add("Port", p, f"Reason: {_port_error(p)}")
            field = f"{side_name}.{key[0].upper() + key[1:]}"
            if protocol is None and not all(_named(p) for p in ports):
                errs.add(field, ports, f"Reason: {PORTS_NEED_PROTOCOL}")
            elif protocol is not None and ports and not with_ports:
                errs.add(field, ports, f"Reason: {PORTS_PROTOCOL}")


def _net(value: Any) -> bool:
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True


def _named(port: Any) -> bool:
    text = str(port)
    return not isinstance(port, int) and not text.replace(":", "").isdigit()


def _port_error(port: Any) -> str:
    """numorstring.Port's checks: a range in order, numbers 1-65535."""
    if isinstance(port, int):
        return "" if 1 <= port <= 65535 else "port range invalid, port number must be between 1 and 65535"
    low, sep, high = str(port).partition(":")
    if low.isdigit() and (not sep or high.isdigit()):
        lo, hi = int(low), int(high if sep else low)
        if lo > hi:
            return "port range invalid"
        if lo < 1 or hi > 65535:
            return "port range invalid, port number must be between 1 and 65535"
    return ""
