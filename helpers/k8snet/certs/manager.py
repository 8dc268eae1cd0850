"""cert-manager from the learner's side: what ``cmctl`` does, through the Kubernetes API only.

The same calls work on kind (the real cert-manager) and in the sandbox (its port of cert-manager's controllers).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..cluster import Cluster

RENEW_REASON = "ManuallyTriggered"
RENEW_MESSAGE = "Certificate re-issuance manually triggered"

def renew(cluster: Cluster, name: str, namespace: str = "default", retries: int = 5) -> dict[str, Any]:
    """Ask cert-manager to re-issue a Certificate now, as ``cmctl renew`` does (cert-manager/cmctl
    pkg/renew/renew.go): set its ``Issuing`` condition True with reason ``ManuallyTriggered`` through the status
    subresource (UpdateStatus). The same API calls on kind and in the sandbox. Returns the updated Certificate.

    The condition's lastTransitionTime is the later of this machine's time and the latest time the cluster wrote
    on the Certificate (its managed fields), so it is right on a sandbox whose clock was advanced.

    Example:
        >>> certs.renew(cluster, "web", "shop")
        >>> cluster.get("Certificate", "web", "shop", api_version="cert-manager.io/v1")["status"]["revision"]
    """
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    api = k8s.CustomObjectsApi(cluster.api)
    for attempt in range(retries):
        crt = api.get_namespaced_custom_object("cert-manager.io", "v1", namespace, "certificates", name)
        status = crt.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        now = _cluster_now(crt)
        new = {"type": "Issuing", "status": "True", "lastTransitionTime": now, "reason": RENEW_REASON,
               "message": RENEW_MESSAGE, "observedGeneration": crt["metadata"].get("generation", 0)}
        for i, c in enumerate(conditions):
            if c.get("type") == "Issuing":
                if c.get("status") == "True" and c.get("lastTransitionTime"):  # SetCertificateCondition
                    new["lastTransitionTime"] = c["lastTransitionTime"]
                conditions[i] = new
                break
        else:
            conditions.append(new)
        try:
            return api.replace_namespaced_custom_object_status("cert-manager.io", "v1", namespace, "certificates",
                                                               name, crt)
        except ApiException as exc:
            if exc.status != 409 or attempt == retries - 1:
                raise
    raise AssertionError("unreachable")


def _cluster_now(obj: dict[str, Any]) -> str:
    times = [f.get("time") for f in obj["metadata"].get("managedFields") or [] if f.get("time")]
    local = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return max([local, *times])
