"""The Bundle controller: trust-manager's reconcile loop and what wakes it.

A port of github.com/cert-manager/trust-manager v0.24.0 pkg/bundle/bundle.go (Reconcile, reconcileBundle) and
pkg/bundle/controller.go (the watches), run as trust-manager runs with its default flags (options.py):

1. build the bundle from the sources (sources.py); a failure sets ``Synced`` False with reason ``SourceNotFound``
   ("Bundle source was not found: ...") or ``SourceBuildError`` ("Failed to build bundle sources: ..."), and
   records a Warning Event (action ``SyncFailed``) with the same text;
2. a Bundle with a ``secret`` target fails with ``SecretTargetsDisabled`` (Secret targets are off unless
   trust-manager starts with ``--secret-targets-enabled``, which the chart leaves off);
3. the wanted targets are a ConfigMap named after the Bundle in every namespace the ``namespaceSelector`` picks
   (every namespace without one), except those being deleted; existing targets the Bundle controls that are no
   longer wanted are cleaned up (targets.py); every wanted target is applied, the first failure ending the round
   with ``Sync<Kind>TargetFailed``;
4. ``Synced`` True, reason ``Synced``, "Successfully synced Bundle to all namespaces" (or "... to namespaces that
   match this label selector: <selector>"), and a Normal Event ``Synced`` -- written only when a target changed or
   the condition did.

The status is server-side applied to ``/status`` as ``trust-manager``, forcing (ssa_client.GenerateBundleStatusPatch),
with the condition's lastTransitionTime kept while its status stays (setBundleCondition). Upstream retries a
failed build with backoff; here nothing changes between two looks but the objects themselves, and a change to any
of them (the Bundle, a namespace, a source in the trust namespace, a target) wakes the Bundle again, as upstream's
watches do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...apiserver import WriteOptions
from ...errors import ApiError
from ...store import Event
from ...validation import selector_matches
from ..events import record_new_api
from . import sources, targets
from .options import (
    API_VERSION,
    BUNDLE_LABEL,
    BUNDLES,
    DEFAULTS,
    EVENT_CONTROLLER,
    EVENT_INSTANCE,
    FIELD_MANAGER,
    GROUP,
    KIND,
    VERSION,
    Options,
)

if TYPE_CHECKING:
    from ...instance import Sandbox
    from .. import Key

Obj = dict[str, Any]
SYNCED = "Synced"


class SelectorError(ValueError):
    """metav1.LabelSelectorAsSelector refused the selector."""


def selector_text(selector: Obj | None) -> str:
    """labels.Selector.String() of LabelSelectorAsSelector(selector): requirements sorted by key, ``k=v``,
    ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``.

    Raises:
        SelectorError: an operator it does not know, or values where they must (not) be.
    """
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator"), sorted(expr.get("values") or [])
        if op in ("In", "NotIn"):
            if not values:
                raise SelectorError(f"values: Invalid value: {values}: for 'in', 'notin' operators, values set "
                                    "can't be empty")
            reqs.append((key, f"{key} {op.lower()} ({','.join(values)})"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                raise SelectorError(f"values: Invalid value: {values}: values set must be empty for exists and "
                                    "does not exist")
            reqs.append((key, key if op == "Exists" else f"!{key}"))
        else:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
    return ",".join(text for _, text in sorted(reqs, key=lambda r: r[0]))


def namespace_selector(bundle: Obj) -> Obj | None:
    """bundleTargetNamespaceSelector: None (every namespace) when the target has none."""
    return ((bundle.get("spec") or {}).get("target") or {}).get("namespaceSelector")


def selects_namespace(bundle: Obj, namespace: Obj) -> bool:
    selector = namespace_selector(bundle)
    if selector is None:
        return True
    try:
        selector_text(selector)
    except SelectorError:
        return False
    return bool(selector_matches(selector, namespace["metadata"].get("labels") or {}))


# --------------------------------------------------------------------------- reconcile


def reconcile(sb: Sandbox, key: Key, options: Options = DEFAULTS) -> float | None:
    bundle = sb.store.get(BUNDLES, "", key[1])
    if bundle is None:
        return None
    status = bundle.get("status") or {}
    patch: Obj = {"conditions": []}
    if status.get("defaultCAVersion"):
        patch["defaultCAVersion"] = status["defaultCAVersion"]
    spec = bundle.get("spec") or {}
    target = spec.get("target") or {}
    try:
        pool = sources.build_bundle(sb.store, spec.get("sources") or [], options)
    except sources.SourceError as exc:
        not_found = isinstance(exc, sources.NotFoundError)
        reason = "SourceNotFound" if not_found else "SourceBuildError"
        message = "bundle source was not found" if not_found else "failed to build bundle sources"
        text = f"{message[0].upper()}{message[1:]}: {exc}"
        _set_condition(sb, bundle, patch, "False", reason, text)
        _event(sb, bundle, "Warning", reason, text)
        _apply_status(sb, bundle, patch)
        return None

    if not options.secret_targets_enabled and target.get("secret") is not None:
        text = "Bundle has Secret targets but the feature is disabled"
        _event(sb, bundle, "Warning", "SecretTargetsDisabled", text)
        _set_condition(sb, bundle, patch, "False", "SecretTargetsDisabled", text)
        _apply_status(sb, bundle, patch)
        return None

    selector = namespace_selector(bundle)
    try:
        selector_string = selector_text(selector)
    except SelectorError as exc:
        _event(sb, bundle, "Warning", "NamespaceSelectorError",
               f"Failed to build namespace match labels selector: {exc}")
        return None

    wanted: set[str] = set()
    for ns in sb.store.list("namespaces"):
        if (ns.get("status") or {}).get("phase") == "Terminating":
            continue  # don't reconcile targets in namespaces being deleted
        if selector is None or selector_matches(selector, ns["metadata"].get("labels") or {}):
            if target.get("configMap") is not None:
                wanted.add(ns["metadata"]["name"])

    name = bundle["metadata"]["name"]
    for cm in sb.store.list("configmaps"):
        meta = cm["metadata"]
        if (meta.get("labels") or {}).get(BUNDLE_LABEL) != name:
            continue
        still_wanted = meta["name"] == name and meta["namespace"] in wanted
        if still_wanted or meta.get("deletionTimestamp") or not targets.is_controlled_by(cm, bundle):
            continue
        try:
            targets.cleanup_target(sb, meta["namespace"], meta["name"], bundle)
        except ApiError:
            pass  # failing target cleanup is not critical (logged upstream)

    changed = False
    for namespace in sorted(wanted):
        try:
            changed |= targets.apply_target(sb, namespace, bundle, pool)
        except targets.TargetError as exc:
            _event(sb, bundle, "Warning", "SyncConfigMapTargetFailed",
                   f'Failed to sync target ConfigMap in Namespace "{namespace}": {exc}')
            _set_condition(sb, bundle, patch, "False", "SyncConfigMapTargetFailed",
                           f'Failed to sync bundle ConfigMap to namespace "{namespace}": {exc}')
            _apply_status(sb, bundle, patch)
            return None

    if patch.pop("defaultCAVersion", None):  # setBundleStatusDefaultCAVersion: no default package, no version
        changed = True
    message = "Successfully synced Bundle to all namespaces"
    if selector_string:
        message = f"Successfully synced Bundle to namespaces that match this label selector: {selector_string}"
    current = _condition(bundle)
    if not changed and current is not None and (current.get("status"), current.get("reason"), current.get(
            "message"), current.get("observedGeneration")) == ("True", SYNCED, message, _generation(bundle)):
        return None
    _set_condition(sb, bundle, patch, "True", SYNCED, message)
    _event(sb, bundle, "Normal", SYNCED, message)
    _apply_status(sb, bundle, patch)
    return None


def _generation(bundle: Obj) -> int:
    return int(bundle["metadata"].get("generation") or 0)


def _condition(bundle: Obj) -> Obj | None:
    return next((c for c in (bundle.get("status") or {}).get("conditions") or [] if c.get("type") == SYNCED), None)


def _set_condition(sb: Sandbox, bundle: Obj, patch: Obj, status: str, reason: str, message: str) -> None:
    """setBundleCondition: the Synced condition, its lastTransitionTime kept while its status does not change."""
    now = sb.api.now()
    current = _condition(bundle)
    if current is not None and current.get("status") == status:
        now = current.get("lastTransitionTime") or now
    condition = {"type": SYNCED, "status": status, "observedGeneration": _generation(bundle),
                 "lastTransitionTime": now, "reason": reason, "message": message}
    patch["conditions"] = [c for c in patch["conditions"] if c["type"] != SYNCED] + [condition]


def _apply_status(sb: Sandbox, bundle: Obj, status: Obj) -> None:
    rt = sb.registry.lookup(GROUP, VERSION, "bundles")
    if rt is None:
        return
    body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": bundle["metadata"]["name"]},
            "status": {k: v for k, v in status.items() if v}}
    sb.api.patch(rt, "", bundle["metadata"]["name"], "apply", body,
                 WriteOptions(field_manager=FIELD_MANAGER, force=True), "status")


def _event(sb: Sandbox, bundle: Obj, type_: str, reason: str, note: str) -> None:
    action = "Synced" if type_ == "Normal" else "SyncFailed"
    record_new_api(sb, {"apiVersion": API_VERSION, "kind": KIND, **bundle}, type_, reason, action, note,
                   EVENT_CONTROLLER, EVENT_INSTANCE)


# --------------------------------------------------------------------------- watches


def _bundles(sb: Sandbox) -> list[Obj]:
    return sb.store.list(BUNDLES)


def on_namespace(sb: Sandbox, event: Event) -> Iterable[Key]:
    """Every Bundle whose namespaceSelector picks the namespace, before or after the change."""
    objs = [o for o in (event.old, event.obj) if o is not None]
    return [("", b["metadata"]["name"]) for b in _bundles(sb) if any(selects_namespace(b, o) for o in objs)]


def on_source(kind: str, options: Options) -> Any:
    """A ConfigMap or Secret in the trust namespace: every Bundle with a source that names or selects it.
    A ConfigMap anywhere that a Bundle controls (its target): that Bundle (EnqueueRequestForOwner)."""
    field = "configMap" if kind == "ConfigMap" else "secret"

    def mapper(sb: Sandbox, event: Event) -> Iterable[Key]:
        objs = [o for o in (event.old, event.obj) if o is not None]
        keys: list[Key] = []
        if objs and objs[-1]["metadata"].get("namespace") == options.namespace:
            for b in _bundles(sb):
                if any(sources.selects(s.get(field), o) for s in (b.get("spec") or {}).get("sources") or []
                       for o in objs):
                    keys.append(("", b["metadata"]["name"]))
        if kind == "ConfigMap":
            for o in objs:
                if BUNDLE_LABEL not in (o["metadata"].get("labels") or {}):
                    continue  # the target cache holds only labelled ConfigMaps
                for ref in o["metadata"].get("ownerReferences") or []:
                    if ref.get("controller") and ref.get("kind") == KIND and \
                            str(ref.get("apiVersion", "")).split("/")[0] == GROUP:
                        keys.append(("", ref["name"]))
        return keys

    return mapper


def on_bundle(sb: Sandbox, event: Event) -> Iterable[Key]:
    return [("", event.obj["metadata"]["name"])]
