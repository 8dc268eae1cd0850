"""Recording core/v1 Events as the controllers and kubelet of a real cluster do."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from ..apiserver import WriteOptions
from ..errors import ApiError

if TYPE_CHECKING:
    from ..instance import Sandbox


_last_nanos = 0


def _unique_nanos() -> int:
    """Event names end in the hex of UnixNano as client-go's recorder does; kept strictly increasing."""
    global _last_nanos
    _last_nanos = max(time.time_ns(), _last_nanos + 1)
    return _last_nanos


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The Event's ``involvedObject``: a reference to ``obj`` as client-go's recorders build it (GetReference)."""
    meta = obj["metadata"]
    return {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta["name"],
            "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion")}


def record(sb: Sandbox, obj: dict[str, Any], reason: str, message: str, component: str,
           type_: str = "Normal", host: str = "", field_path: str = "") -> None:
    """Create an Event about ``obj``, named ``<object>.<hex nanoseconds>`` like client-go's recorder."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    now = sb.api.now()
    involved = involved_object(obj)
    if field_path:
        involved["fieldPath"] = field_path
    source = {"component": component}
    if host:
        source["host"] = host
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{_unique_nanos():x}", "namespace": ns},
        "involvedObject": {k: v for k, v in involved.items() if v is not None},
        "reason": reason, "message": message, "source": source, "type": type_,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1, "eventTime": None,
        "reportingComponent": component if component != "kubelet" else "kubelet",
        "reportingInstance": host,
    }
    rt = sb.registry.lookup("", "v1", "events")
    assert rt is not None
    try:
        sb.api.create(rt, ns, event, WriteOptions(field_manager=component))
    except ApiError:  # events are best effort, as client-go's recorder drops what the server refuses
        pass


def record_aggregated(sb: Sandbox, obj: dict[str, Any], reason: str, message: str, component: str,
                      type_: str = "Normal", host: str = "", field_path: str = "") -> None:
    """:func:`record`, or, when an Event with the same source, involved object, type, reason and message exists, a
    count one higher and a new ``lastTimestamp`` on it (client-go's EventCorrelator: tools/record/events_cache.go
    ``getEventKey`` and eventLogger ``eventObserve``), as ``kubectl describe`` shows ``3s (x4 over 10s)``."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    for ev in sb.store.list("events", ns):
        involved, source = ev.get("involvedObject") or {}, ev.get("source") or {}
        if (involved.get("uid") == meta.get("uid") and involved.get("name") == meta["name"]
                and involved.get("kind") == obj.get("kind") and involved.get("fieldPath", "") == field_path
                and source.get("component") == component and source.get("host", "") == host
                and ev.get("type") == type_ and ev.get("reason") == reason and ev.get("message") == message):
            updated = copy.deepcopy(ev)
            updated["count"] = int(ev.get("count") or 1) + 1
            updated["lastTimestamp"] = sb.api.now()
            rt = sb.registry.lookup("", "v1", "events")
            assert rt is not None
            try:
                sb.api.update(rt, ns, ev["metadata"]["name"], updated, WriteOptions(field_manager=component))
            except ApiError:
                pass
            return
    record(sb, obj, reason, message, component, type_, host, field_path)


def record_new_api(sb: Sandbox, obj: dict[str, Any], type_: str, reason: str, action: str, note: str,
                   controller: str, instance: str) -> None:
    """An Event as client-go's events.k8s.io/v1 recorder (k8s.io/client-go/tools/events, what controller-runtime's
    ``GetEventRecorder`` gives) writes it, seen through core/v1: ``eventTime`` instead of first/lastTimestamp and a
    count, ``action``, ``reportingComponent``/``reportingInstance`` for the reporting controller, and an empty
    ``source``. A cluster-scoped object's Events go to ``default`` (recorder.go makeEvent)."""
    meta = obj["metadata"]
    ns = meta.get("namespace") or "default"
    now = sb.clock.now()
    involved = involved_object(obj)
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{_unique_nanos():x}", "namespace": ns},
        "involvedObject": {k: v for k, v in involved.items() if v is not None},
        "reason": reason, "message": note, "source": {}, "type": type_,
        "firstTimestamp": None, "lastTimestamp": None,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "action": action,
        "reportingComponent": controller, "reportingInstance": instance,
    }
    rt = sb.registry.lookup("", "v1", "events")
    assert rt is not None
    try:
        sb.api.create(rt, ns, event, WriteOptions(field_manager=controller))
    except ApiError:
        pass


def warn_not_emulated(sb: Sandbox, obj: dict[str, Any], messages: list[str], component: str) -> None:
    """A Warning event ``NotEmulated`` for each field of ``obj`` the sandbox stores but does not enforce, once per
    object generation and message (a CNI plugin's policy kinds: what its agent would act on and the sandbox
    does not)."""
    seen = sb.program_state.setdefault("not-emulated-warnings", set())
    generation = obj["metadata"].get("generation", 1)
    for message in messages:
        mark = (obj["metadata"].get("uid"), generation, message)
        if mark not in seen:
            seen.add(mark)
            record(sb, obj, "NotEmulated", f"k8snet sandbox: {message}", component, "Warning")
