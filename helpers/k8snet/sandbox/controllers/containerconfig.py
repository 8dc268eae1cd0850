"""The kubelet's container config, for what stops a container before it is created: ``CreateContainerConfigError``.

pkg/kubelet/kuberuntime/kuberuntime_container.go ``startContainer``, for each container the pod sync starts (init
containers one after the other, then the app containers, a restart too):

1. Step 1, the image: ``EnsureImageExists`` records ``Pulled`` "Container image "IMAGE" already present on
   machine" (the sandbox's images are always present);
2. Step 2, ``generateContainerConfig``, whose environment is
   :func:`k8snet.sandbox.dataplane.environment.make_environment`: a ConfigMap or Secret (or one of its keys)
   that an ``env``/``envFrom`` reference needs and that does not exist fails it. The kubelet records a Warning
   ``Failed`` event on the container (``fieldPath spec.containers{NAME}``) with ``Error: MESSAGE`` and
   returns ``ErrCreateContainerConfig``: the container is not created.

The sync result's reason becomes the container's waiting state (the kubelet's reasonCache, read by
kubelet_pods.go ``convertToAPIContainerStatuses``): ``waiting: {reason: CreateContainerConfigError, message:
MESSAGE}``. The pod stays ``Pending`` (getPhase: a waiting container), ``kubectl get pod`` shows
``CreateContainerConfigError`` (``Init:CreateContainerConfigError`` for an init container, which holds back the
ones after it and the app containers). The other app containers of the pod start. The failed sync is retried on
the pod worker's back-off (:mod:`.podworkers`), each try recording the two events again, which client-go's
correlator counts on the first ones (``(x3 over 25s)``). The kubelet's status shows the waiting reason from the
sync after the failing one (SyncPod generates the status before it starts containers, and fills the reason cache
after); the sandbox writes it with the failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..dataplane.environment import make_environment
from .events import record_aggregated

if TYPE_CHECKING:
    from ..instance import Sandbox

Pod = dict[str, Any]

REASON = "CreateContainerConfigError"
"""kuberuntime_container.go ErrCreateContainerConfig."""


def pulled(sb: Sandbox, pod: Pod, c: dict[str, Any], kind: str) -> None:
    """EnsureImageExists's event for an image already on the node, counted on the earlier one when repeated."""
    record_aggregated(sb, pod, "Pulled", f'Container image "{c["image"]}" already present on machine', "kubelet",
                      host=pod["spec"].get("nodeName", ""), field_path=f"spec.{kind}{{{c['name']}}}")


def config_error(sb: Sandbox, pod: Pod, c: dict[str, Any], kind: str) -> str:
    """Why the runtime cannot create container ``c`` (of ``kind``: containers, initContainers), '' when it can.
    A failure records the kubelet's ``Pulled`` and ``Failed`` events (a success records nothing here: the
    container's start does)."""
    _, error = make_environment(sb, pod, c)
    if error:
        pulled(sb, pod, c, kind)
        record_aggregated(sb, pod, "Failed", f"Error: {error}", "kubelet", "Warning",
                          host=pod["spec"].get("nodeName", ""), field_path=f"spec.{kind}{{{c['name']}}}")
    return error


def waiting(message: str) -> dict[str, Any]:
    """The container's state after the failure."""
    return {"waiting": {"reason": REASON, "message": message}}


def failed(cs: dict[str, Any]) -> bool:
    """Whether a container status is one the kubelet could not create (its next sync tries again)."""
    return ((cs.get("state") or {}).get("waiting") or {}).get("reason") == REASON
