"""Decode Kubernetes protobuf request bodies into the API's JSON form.

Why this exists: since kubectl 1.32 its typed clientset (``kubectl create
deployment``, ``create namespace``, ``create service``, ``create configmap``/
``secret``, ``create serviceaccount``, ``create ingress``, ``create quota``, …)
sends request bodies as ``application/vnd.kubernetes.protobuf``, and client-go
does not fall back to JSON when the server answers 415. (``kubectl run``,
``apply`` and other commands that use the generic resource helper send JSON.) The sandbox stores and validates
objects as JSON dicts, so this module turns such a body into exactly the dict
the same object would have been sent as in JSON. Responses stay JSON (those
clients accept ``application/json`` too).

Three parts, in this order:

* a small wire-format reader (:func:`read_varint`, :func:`read_fields`),
* one table, :data:`MESSAGES`, written like the Go structs of k8s.io/api: each
  field is ``"<json tag> <Go type>"`` under its protobuf field number, e.g.
  ``3: "port int32"`` or ``4: "targetPort,omitempty intstr.IntOrString"``;
* a recursive decoder (:func:`decode_message`) driven by that table.

The envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf) is the
4-byte magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message
(k8s.io/apimachinery/pkg/runtime/generated.proto)::

    message Unknown {
      optional TypeMeta typeMeta = 1;   // {1: apiVersion, 2: kind}
      optional bytes raw = 2;           // the object's own message
      optional string contentEncoding = 3;
      optional string contentType = 4;
    }

JSON-form rules the decoder reproduces (encoding/json on the Go structs):

* gogo protobuf writes non-pointer scalars even when they are zero, while
  encoding/json drops zero values of ``omitempty`` fields: such zeros are
  dropped here too. Pointer scalars (``*int32``, ``*bool``) keep their zeros:
  ``replicas: 0`` and ``automountServiceAccountToken: false`` mean something.
* fields absent on the wire stay absent (a nil list or map).
* ``metav1.Time`` is RFC 3339 in whole seconds (``2026-01-01T00:00:00Z``); a
  zero Time (an empty message, as ``creationTimestamp`` always is in requests)
  is left out, like the ``null`` JSON clients send. ``MicroTime`` keeps
  microseconds. ``Quantity`` is its string, ``IntOrString`` an int or a
  string by its type, ``[]byte`` base64 text, ``FieldsV1`` the JSON it wraps.
* ``json:",inline"`` structs (``ProbeHandler`` in ``Probe``, ``VolumeSource``
  in ``Volume``, ``LocalObjectReference`` in ``SecretKeySelector``, …) are a
  nested message on the wire but flattened into the parent in JSON.

A field number the table does not know raises a 415 ``ApiError`` naming the
message and the number rather than dropping data silently; the user can send
JSON instead (``kubectl create … --dry-run=client -o json | kubectl apply -f -``).

The table covers every message reachable from :data:`KINDS` in Kubernetes
1.33, with the definition names of the OpenAPI schemas
(``io.k8s.api.core.v1.Service`` …) so it lines up with
:mod:`k8snet.sandbox.schema`; tests/unit/test_protobuf.py checks every table
entry against those schemas, in both directions.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from k8snet.sandbox import errors

MAGIC = b"k8s\x00"
"""The prefix of every Kubernetes protobuf body (serializer/protobuf/protobuf.go)."""

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types (https://protobuf.dev/programming-guides/encoding/). Groups (3, 4)
# never occur in Kubernetes messages and are rejected.
VARINT, I64, LEN, I32 = 0, 1, 2, 5

CORE = "io.k8s.api.core.v1"
META = "io.k8s.apimachinery.pkg.apis.meta.v1"

PACKAGES = {
    "corev1": CORE,
    "metav1": META,
    "resource": "io.k8s.apimachinery.pkg.api.resource",
    "intstr": "io.k8s.apimachinery.pkg.util.intstr",
    "authenticationv1": "io.k8s.api.authentication.v1",
}
"""Go package qualifiers used in :data:`MESSAGES`; unqualified names are the message's own package."""

TIME = f"{META}.Time"
MICRO_TIME = f"{META}.MicroTime"
FIELDS_V1 = f"{META}.FieldsV1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
EXTRA_VALUE = "io.k8s.api.authentication.v1.ExtraValue"
"""``type ExtraValue []string``: a message of one repeated string on the wire, a plain list in JSON."""
SPECIAL = (TIME, MICRO_TIME, FIELDS_V1, QUANTITY, INT_OR_STRING, EXTRA_VALUE)
"""Messages whose JSON form is not an object of their fields (custom Go JSON marshalling)."""

SCALARS = ("string", "bool", "int32", "int64", "[]byte")
NUMERIC = ("bool", "int32", "int64")
"""Scalars sent as varints (and, when repeated, possibly packed)."""

KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): f"{CORE}.Namespace",
    ("v1", "Pod"): f"{CORE}.Pod",
    ("v1", "Service"): f"{CORE}.Service",
    ("v1", "ConfigMap"): f"{CORE}.ConfigMap",
    ("v1", "Secret"): f"{CORE}.Secret",
    ("v1", "ServiceAccount"): f"{CORE}.ServiceAccount",
    ("v1", "Endpoints"): f"{CORE}.Endpoints",
    ("v1", "Event"): f"{CORE}.Event",
    ("v1", "Node"): f"{CORE}.Node",
    ("apps/v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("apps/v1", "ReplicaSet"): "io.k8s.api.apps.v1.ReplicaSet",
    ("batch/v1", "Job"): "io.k8s.api.batch.v1.Job",
    ("batch/v1", "CronJob"): "io.k8s.api.batch.v1.CronJob",
    ("discovery.k8s.io/v1", "EndpointSlice"): "io.k8s.api.discovery.v1.EndpointSlice",
    ("networking.k8s.io/v1", "Ingress"): "io.k8s.api.networking.v1.Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "io.k8s.api.networking.v1.IngressClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): "io.k8s.api.networking.v1.NetworkPolicy",
    ("autoscaling/v1", "Scale"): "io.k8s.api.autoscaling.v1.Scale",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "io.k8s.api.authorization.v1.SelfSubjectRulesReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "io.k8s.api.authentication.v1.SelfSubjectReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "io.k8s.api.authentication.v1.TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "io.k8s.api.authentication.v1.TokenReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "io.k8s.api.authorization.v1.SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "io.k8s.api.authorization.v1.LocalSubjectAccessReview",
    ("rbac.authorization.k8s.io/v1", "Role"): "io.k8s.api.rbac.v1.Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "io.k8s.api.rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "io.k8s.api.rbac.v1.RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "io.k8s.api.rbac.v1.ClusterRoleBinding",
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "io.k8s.api.certificates.v1.CertificateSigningRequest",
}
"""Request-body kinds this module decodes, by (apiVersion, kind).

``DeleteOptions`` is accepted under any apiVersion: metav1.AddToGroupVersion
registers it in every group version, so clients may label it ``v1``,
``meta.k8s.io/v1`` or ``apps/v1``.
"""

DELETE_OPTIONS = f"{META}.DeleteOptions"

# The table. Each message maps protobuf field numbers to "<json tag> <Go type>"
# as in the Go struct (types.go next to each generated.proto), with named string
# and int types (Protocol, UID, ...) written as their underlying type and
# ResourceList as map[string]resource.Quantity. Field numbers and names follow
# the v1.33 release (k8s.io/api and k8s.io/apimachinery, branch release-1.33).
CONTAINER_FIELDS: dict[int, str] = {
    1: "name string",
    2: "image,omitempty string",
    3: "command,omitempty []string",
    4: "args,omitempty []string",
    5: "workingDir,omitempty string",
    6: "ports,omitempty []ContainerPort",
    7: "env,omitempty []EnvVar",
    8: "resources,omitempty ResourceRequirements",
    9: "volumeMounts,omitempty []VolumeMount",
    10: "livenessProbe,omitempty *Probe",
    11: "readinessProbe,omitempty *Probe",
    12: "lifecycle,omitempty *Lifecycle",
    13: "terminationMessagePath,omitempty string",
    14: "imagePullPolicy,omitempty string",
    15: "securityContext,omitempty *SecurityContext",
    16: "stdin,omitempty bool",
    17: "stdinOnce,omitempty bool",
    18: "tty,omitempty bool",
    19: "envFrom,omitempty []EnvFromSource",
    20: "terminationMessagePolicy,omitempty string",
    21: "volumeDevices,omitempty []VolumeDevice",
    22: "startupProbe,omitempty *Probe",
    23: "resizePolicy,omitempty []ContainerResizePolicy",
    24: "restartPolicy,omitempty *string",
}
"""core/v1 Container; EphemeralContainerCommon repeats it field for field (core/v1 generated.proto)."""

MESSAGES: dict[str, dict[int, str]] = {
    # --- k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto -------------------------------
    f"{META}.ObjectMeta": {
        1: "name,omitempty string",
        2: "generateName,omitempty string",
        3: "namespace,omitempty string",
        4: "selfLink,omitempty string",
        5: "uid,omitempty string",
        6: "resourceVersion,omitempty string",
        7: "generation,omitempty int64",
        8: "creationTimestamp,omitempty Time",
        9: "deletionTimestamp,omitempty *Time",
        10: "deletionGracePeriodSeconds,omitempty *int64",
        11: "labels,omitempty map[string]string",
        12: "annotations,omitempty map[string]string",
        13: "ownerReferences,omitempty []OwnerReference",
        14: "finalizers,omitempty []string",
        # 15 was clusterName, removed in 1.25.
        17: "managedFields,omitempty []ManagedFieldsEntry",
    },
    f"{META}.OwnerReference": {
        1: "kind string",
        3: "name string",
        4: "uid string",
        5: "apiVersion string",
        6: "controller,omitempty *bool",
        7: "blockOwnerDeletion,omitempty *bool",
    },
    f"{META}.ManagedFieldsEntry": {
        1: "manager,omitempty string",
        2: "operation,omitempty string",
        3: "apiVersion,omitempty string",
        4: "time,omitempty *Time",
        6: "fieldsType,omitempty string",
        7: "fieldsV1,omitempty *FieldsV1",
        8: "subresource,omitempty string",
    },
    f"{META}.LabelSelector": {
        1: "matchLabels,omitempty map[string]string",
        2: "matchExpressions,omitempty []LabelSelectorRequirement",
    },
    f"{META}.LabelSelectorRequirement": {
        1: "key string",
        2: "operator string",
        3: "values,omitempty []string",
    },
    f"{META}.Condition": {
        1: "type string",
        2: "status string",
        3: "observedGeneration,omitempty int64",
        4: "lastTransitionTime Time",
        5: "reason string",
        6: "message string",
    },
    f"{META}.DeleteOptions": {
        1: "gracePeriodSeconds,omitempty *int64",
        2: "preconditions,omitempty *Preconditions",
        3: "orphanDependents,omitempty *bool",
        4: "propagationPolicy,omitempty *string",
        5: "dryRun,omitempty []string",
        6: "ignoreStoreReadErrorWithClusterBreakingPotential,omitempty *bool",
    },
    f"{META}.Preconditions": {
        1: "uid,omitempty *string",
        2: "resourceVersion,omitempty *string",
    },
    # --- k8s.io/api/core/v1/generated.proto: objects ----------------------------------------
    f"{CORE}.Namespace": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty NamespaceSpec",
        3: "status,omitempty NamespaceStatus",
    },
    f"{CORE}.NamespaceSpec": {
        1: "finalizers,omitempty []string",
    },
    f"{CORE}.NamespaceStatus": {
        1: "phase,omitempty string",
        2: "conditions,omitempty []NamespaceCondition",
    },
    f"{CORE}.NamespaceCondition": {
        1: "type string",
        2: "status string",
        4: "lastTransitionTime,omitempty metav1.Time",
        5: "reason,omitempty string",
        6: "message,omitempty string",
    },
    f"{CORE}.ConfigMap": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "data,omitempty map[string]string",
        3: "binaryData,omitempty map[string][]byte",
        4: "immutable,omitempty *bool",
    },
    f"{CORE}.Secret": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "data,omitempty map[string][]byte",
        3: "type,omitempty string",
        4: "stringData,omitempty map[string]string",
        5: "immutable,omitempty *bool",
    },
    f"{CORE}.ServiceAccount": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "secrets,omitempty []ObjectReference",
        3: "imagePullSecrets,omitempty []LocalObjectReference",
        4: "automountServiceAccountToken,omitempty *bool",
    },
    f"{CORE}.ObjectReference": {
        1: "kind,omitempty string",
        2: "namespace,omitempty string",
        3: "name,omitempty string",
        4: "uid,omitempty string",
        5: "apiVersion,omitempty string",
        6: "resourceVersion,omitempty string",
        7: "fieldPath,omitempty string",
    },
    f"{CORE}.LocalObjectReference": {
        1: "name,omitempty string",
    },
    f"{CORE}.TypedLocalObjectReference": {
        1: "apiGroup *string",
        2: "kind string",
        3: "name string",
    },
    f"{CORE}.TypedObjectReference": {
        1: "apiGroup *string",
        2: "kind string",
        3: "name string",
        4: "namespace,omitempty *string",
    },
    # --- core/v1: Service and Endpoints -----------------------------------------------------
    f"{CORE}.Service": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty ServiceSpec",
        3: "status,omitempty ServiceStatus",
    },
    f"{CORE}.ServiceSpec": {
        1: "ports,omitempty []ServicePort",
        2: "selector,omitempty map[string]string",
        3: "clusterIP,omitempty string",
        4: "type,omitempty string",
        5: "externalIPs,omitempty []string",
        7: "sessionAffinity,omitempty string",
        8: "loadBalancerIP,omitempty string",
        9: "loadBalancerSourceRanges,omitempty []string",
        10: "externalName,omitempty string",
        11: "externalTrafficPolicy,omitempty string",
        12: "healthCheckNodePort,omitempty int32",
        13: "publishNotReadyAddresses,omitempty bool",
        14: "sessionAffinityConfig,omitempty *SessionAffinityConfig",
        17: "ipFamilyPolicy,omitempty *string",
        18: "clusterIPs,omitempty []string",
        19: "ipFamilies,omitempty []string",
        20: "allocateLoadBalancerNodePorts,omitempty *bool",
        21: "loadBalancerClass,omitempty *string",
        22: "internalTrafficPolicy,omitempty *string",
        23: "trafficDistribution,omitempty *string",
    },
    f"{CORE}.ServicePort": {
        1: "name,omitempty string",
        2: "protocol,omitempty string",
        3: "port int32",
        4: "targetPort,omitempty intstr.IntOrString",
        5: "nodePort,omitempty int32",
        6: "appProtocol,omitempty *string",
    },
    f"{CORE}.SessionAffinityConfig": {
        1: "clientIP,omitempty *ClientIPConfig",
    },
    f"{CORE}.ClientIPConfig": {
        1: "timeoutSeconds,omitempty *int32",
    },
    f"{CORE}.ServiceStatus": {
        1: "loadBalancer,omitempty LoadBalancerStatus",
        2: "conditions,omitempty []metav1.Condition",
    },
    f"{CORE}.LoadBalancerStatus": {
        1: "ingress,omitempty []LoadBalancerIngress",
    },
    f"{CORE}.LoadBalancerIngress": {
        1: "ip,omitempty string",
        2: "hostname,omitempty string",
        3: "ipMode,omitempty *string",
        4: "ports,omitempty []PortStatus",
    },
    f"{CORE}.PortStatus": {
        1: "port int32",
        2: "protocol string",
        3: "error,omitempty *string",
    },
    f"{CORE}.Endpoints": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "subsets,omitempty []EndpointSubset",
    },
    f"{CORE}.EndpointSubset": {
        1: "addresses,omitempty []EndpointAddress",
        2: "notReadyAddresses,omitempty []EndpointAddress",
        3: "ports,omitempty []EndpointPort",
    },
    f"{CORE}.EndpointAddress": {
        1: "ip string",
        2: "targetRef,omitempty *ObjectReference",
        3: "hostname,omitempty string",
        4: "nodeName,omitempty *string",
    },
    f"{CORE}.EndpointPort": {
        1: "name,omitempty string",
        2: "port int32",
        3: "protocol,omitempty string",
        4: "appProtocol,omitempty *string",
    },
    # --- core/v1: Event ---------------------------------------------------------------------
    f"{CORE}.Event": {
        1: "metadata metav1.ObjectMeta",
        2: "involvedObject ObjectReference",
        3: "reason,omitempty string",
        4: "message,omitempty string",
        5: "source,omitempty EventSource",
        6: "firstTimestamp,omitempty metav1.Time",
        7: "lastTimestamp,omitempty metav1.Time",
        8: "count,omitempty int32",
        9: "type,omitempty string",
        10: "eventTime,omitempty metav1.MicroTime",
        11: "series,omitempty *EventSeries",
        12: "action,omitempty string",
        13: "related,omitempty *ObjectReference",
        14: "reportingComponent string",
        15: "reportingInstance string",
    },
    f"{CORE}.EventSource": {
        1: "component,omitempty string",
        2: "host,omitempty string",
    },
    f"{CORE}.EventSeries": {
        1: "count,omitempty int32",
        2: "lastObservedTime,omitempty metav1.MicroTime",
    },
    # --- core/v1: Node ----------------------------------------------------------------------
    f"{CORE}.Node": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty NodeSpec",
        3: "status,omitempty NodeStatus",
    },
    f"{CORE}.NodeSpec": {
        1: "podCIDR,omitempty string",
        2: "externalID,omitempty string",
        3: "providerID,omitempty string",
        4: "unschedulable,omitempty bool",
        5: "taints,omitempty []Taint",
        6: "configSource,omitempty *NodeConfigSource",
        7: "podCIDRs,omitempty []string",
    },
    f"{CORE}.Taint": {
        1: "key string",
        2: "value,omitempty string",
        3: "effect string",
        4: "timeAdded,omitempty *metav1.Time",
    },
    f"{CORE}.NodeConfigSource": {
        # 1 was the deprecated configMapRef.
        2: "configMap,omitempty *ConfigMapNodeConfigSource",
    },
    f"{CORE}.ConfigMapNodeConfigSource": {
        1: "namespace string",
        2: "name string",
        3: "uid,omitempty string",
        4: "resourceVersion,omitempty string",
        5: "kubeletConfigKey string",
    },
    f"{CORE}.NodeStatus": {
        1: "capacity,omitempty map[string]resource.Quantity",
        2: "allocatable,omitempty map[string]resource.Quantity",
        3: "phase,omitempty string",
        4: "conditions,omitempty []NodeCondition",
        5: "addresses,omitempty []NodeAddress",
        6: "daemonEndpoints,omitempty NodeDaemonEndpoints",
        7: "nodeInfo,omitempty NodeSystemInfo",
        8: "images,omitempty []ContainerImage",
        9: "volumesInUse,omitempty []string",
        10: "volumesAttached,omitempty []AttachedVolume",
        11: "config,omitempty *NodeConfigStatus",
        12: "runtimeHandlers,omitempty []NodeRuntimeHandler",
        13: "features,omitempty *NodeFeatures",
    },
    f"{CORE}.NodeCondition": {
        1: "type string",
        2: "status string",
        3: "lastHeartbeatTime,omitempty metav1.Time",
        4: "lastTransitionTime,omitempty metav1.Time",
        5: "reason,omitempty string",
        6: "message,omitempty string",
    },
    f"{CORE}.NodeAddress": {
        1: "type string",
        2: "address string",
    },
    f"{CORE}.NodeDaemonEndpoints": {
        1: "kubeletEndpoint,omitempty DaemonEndpoint",
    },
    f"{CORE}.DaemonEndpoint": {
        1: "Port int32",  # sic: capitalised in the json tag for backwards compatibility
    },
    f"{CORE}.NodeSystemInfo": {
        1: "machineID string",
        2: "systemUUID string",
        3: "bootID string",
        4: "kernelVersion string",
        5: "osImage string",
        6: "containerRuntimeVersion string",
        7: "kubeletVersion string",
        8: "kubeProxyVersion string",
        9: "operatingSystem string",
        10: "architecture string",
        11: "swap,omitempty *NodeSwapStatus",
    },
    f"{CORE}.NodeSwapStatus": {
        1: "capacity,omitempty *int64",
    },
    f"{CORE}.ContainerImage": {
        1: "names []string",
        2: "sizeBytes,omitempty int64",
    },
    f"{CORE}.AttachedVolume": {
        1: "name string",
        2: "devicePath string",
    },
    f"{CORE}.NodeConfigStatus": {
        1: "assigned,omitempty *NodeConfigSource",
        2: "active,omitempty *NodeConfigSource",
        3: "lastKnownGood,omitempty *NodeConfigSource",
        4: "error,omitempty string",
    },
    f"{CORE}.NodeRuntimeHandler": {
        1: "name string",
        2: "features,omitempty *NodeRuntimeHandlerFeatures",
    },
    f"{CORE}.NodeRuntimeHandlerFeatures": {
        1: "recursiveReadOnlyMounts,omitempty *bool",
        2: "userNamespaces,omitempty *bool",
    },
    f"{CORE}.NodeFeatures": {
        1: "supplementalGroupsPolicy,omitempty *bool",
    },
    # --- core/v1: Pod -----------------------------------------------------------------------
    f"{CORE}.Pod": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty PodSpec",
        3: "status,omitempty PodStatus",
    },
    f"{CORE}.PodTemplateSpec": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty PodSpec",
    },
    f"{CORE}.PodSpec": {
        1: "volumes,omitempty []Volume",
        2: "containers []Container",
        3: "restartPolicy,omitempty string",
        4: "terminationGracePeriodSeconds,omitempty *int64",
        5: "activeDeadlineSeconds,omitempty *int64",
        6: "dnsPolicy,omitempty string",
        7: "nodeSelector,omitempty map[string]string",
        8: "serviceAccountName,omitempty string",
        9: "serviceAccount,omitempty string",
        10: "nodeName,omitempty string",
        11: "hostNetwork,omitempty bool",
        12: "hostPID,omitempty bool",
        13: "hostIPC,omitempty bool",
        14: "securityContext,omitempty *PodSecurityContext",
        15: "imagePullSecrets,omitempty []LocalObjectReference",
        16: "hostname,omitempty string",
        17: "subdomain,omitempty string",
        18: "affinity,omitempty *Affinity",
        19: "schedulerName,omitempty string",
        20: "initContainers,omitempty []Container",
        21: "automountServiceAccountToken,omitempty *bool",
        22: "tolerations,omitempty []Toleration",
        23: "hostAliases,omitempty []HostAlias",
        24: "priorityClassName,omitempty string",
        25: "priority,omitempty *int32",
        26: "dnsConfig,omitempty *PodDNSConfig",
        27: "shareProcessNamespace,omitempty *bool",
        28: "readinessGates,omitempty []PodReadinessGate",
        29: "runtimeClassName,omitempty *string",
        30: "enableServiceLinks,omitempty *bool",
        31: "preemptionPolicy,omitempty *string",
        32: "overhead,omitempty map[string]resource.Quantity",
        33: "topologySpreadConstraints,omitempty []TopologySpreadConstraint",
        34: "ephemeralContainers,omitempty []EphemeralContainer",
        35: "setHostnameAsFQDN,omitempty *bool",
        36: "os,omitempty *PodOS",
        37: "hostUsers,omitempty *bool",
        38: "schedulingGates,omitempty []PodSchedulingGate",
        39: "resourceClaims,omitempty []PodResourceClaim",
        40: "resources,omitempty *ResourceRequirements",
    },
    f"{CORE}.Container": CONTAINER_FIELDS,
    f"{CORE}.EphemeralContainer": {
        1: ",inline EphemeralContainerCommon",
        2: "targetContainerName,omitempty string",
    },
    # Not an OpenAPI definition: inlined into EphemeralContainer (same fields as Container).
    f"{CORE}.EphemeralContainerCommon": CONTAINER_FIELDS,
    f"{CORE}.ContainerPort": {
        1: "name,omitempty string",
        2: "hostPort,omitempty int32",
        3: "containerPort int32",
        4: "protocol,omitempty string",
        5: "hostIP,omitempty string",
    },
    f"{CORE}.EnvVar": {
        1: "name string",
        2: "value,omitempty string",
        3: "valueFrom,omitempty *EnvVarSource",
    },
    f"{CORE}.EnvVarSource": {
        1: "fieldRef,omitempty *ObjectFieldSelector",
        2: "resourceFieldRef,omitempty *ResourceFieldSelector",
        3: "configMapKeyRef,omitempty *ConfigMapKeySelector",
        4: "secretKeyRef,omitempty *SecretKeySelector",
    },
    f"{CORE}.ObjectFieldSelector": {
        1: "apiVersion,omitempty string",
        2: "fieldPath string",
    },
    f"{CORE}.ResourceFieldSelector": {
        1: "containerName,omitempty string",
        2: "resource string",
        3: "divisor,omitempty resource.Quantity",
    },
    f"{CORE}.ConfigMapKeySelector": {
        1: ",inline LocalObjectReference",
        2: "key string",
        3: "optional,omitempty *bool",
    },
    f"{CORE}.SecretKeySelector": {
        1: ",inline LocalObjectReference",
        2: "key string",
        3: "optional,omitempty *bool",
    },
    f"{CORE}.EnvFromSource": {
        1: "prefix,omitempty string",
        2: "configMapRef,omitempty *ConfigMapEnvSource",
        3: "secretRef,omitempty *SecretEnvSource",
    },
    f"{CORE}.ConfigMapEnvSource": {
        1: ",inline LocalObjectReference",
        2: "optional,omitempty *bool",
    },
    f"{CORE}.SecretEnvSource": {
        1: ",inline LocalObjectReference",
        2: "optional,omitempty *bool",
    },
    f"{CORE}.ResourceRequirements": {
        1: "limits,omitempty map[string]resource.Quantity",
        2: "requests,omitempty map[string]resource.Quantity",
        3: "claims,omitempty []ResourceClaim",
    },
    f"{CORE}.ResourceClaim": {
        1: "name string",
        2: "request,omitempty string",
    },
    f"{CORE}.ContainerResizePolicy": {
        1: "resourceName string",
        2: "restartPolicy string",
    },
    f"{CORE}.VolumeMount": {
        1: "name string",
        2: "readOnly,omitempty bool",
        3: "mountPath string",
        4: "subPath,omitempty string",
        5: "mountPropagation,omitempty *string",
        6: "subPathExpr,omitempty string",
        7: "recursiveReadOnly,omitempty *string",
    },
    f"{CORE}.VolumeDevice": {
        1: "name string",
        2: "devicePath string",
    },
    f"{CORE}.Probe": {
        1: ",inline ProbeHandler",
        2: "initialDelaySeconds,omitempty int32",
        3: "timeoutSeconds,omitempty int32",
        4: "periodSeconds,omitempty int32",
        5: "successThreshold,omitempty int32",
        6: "failureThreshold,omitempty int32",
        7: "terminationGracePeriodSeconds,omitempty *int64",
    },
    # Not an OpenAPI definition: inlined into Probe.
    f"{CORE}.ProbeHandler": {
        1: "exec,omitempty *ExecAction",
        2: "httpGet,omitempty *HTTPGetAction",
        3: "tcpSocket,omitempty *TCPSocketAction",
        4: "grpc,omitempty *GRPCAction",
    },
    f"{CORE}.ExecAction": {
        1: "command,omitempty []string",
    },
    f"{CORE}.HTTPGetAction": {
        1: "path,omitempty string",
        2: "port intstr.IntOrString",
        3: "host,omitempty string",
        4: "scheme,omitempty string",
        5: "httpHeaders,omitempty []HTTPHeader",
    },
    f"{CORE}.HTTPHeader": {
        1: "name string",
        2: "value string",
    },
    f"{CORE}.TCPSocketAction": {
        1: "port intstr.IntOrString",
        2: "host,omitempty string",
    },
    f"{CORE}.GRPCAction": {
        1: "port int32",
        2: "service *string",
    },
    f"{CORE}.Lifecycle": {
        1: "postStart,omitempty *LifecycleHandler",
        2: "preStop,omitempty *LifecycleHandler",
        3: "stopSignal,omitempty *string",
    },
    f"{CORE}.LifecycleHandler": {
        1: "exec,omitempty *ExecAction",
        2: "httpGet,omitempty *HTTPGetAction",
        3: "tcpSocket,omitempty *TCPSocketAction",
        4: "sleep,omitempty *SleepAction",
    },
    f"{CORE}.SleepAction": {
        1: "seconds int64",
    },
    f"{CORE}.SecurityContext": {
        1: "capabilities,omitempty *Capabilities",
        2: "privileged,omitempty *bool",
        3: "seLinuxOptions,omitempty *SELinuxOptions",
        4: "runAsUser,omitempty *int64",
        5: "runAsNonRoot,omitempty *bool",
        6: "readOnlyRootFilesystem,omitempty *bool",
        7: "allowPrivilegeEscalation,omitempty *bool",
        8: "runAsGroup,omitempty *int64",
        9: "procMount,omitempty *string",
        10: "windowsOptions,omitempty *WindowsSecurityContextOptions",
        11: "seccompProfile,omitempty *SeccompProfile",
        12: "appArmorProfile,omitempty *AppArmorProfile",
    },
    f"{CORE}.Capabilities": {
        1: "add,omitempty []string",
        2: "drop,omitempty []string",
    },
    f"{CORE}.SELinuxOptions": {
        1: "user,omitempty string",
        2: "role,omitempty string",
        3: "type,omitempty string",
        4: "level,omitempty string",
    },
    f"{CORE}.WindowsSecurityContextOptions": {
        1: "gmsaCredentialSpecName,omitempty *string",
        2: "gmsaCredentialSpec,omitempty *string",
        3: "runAsUserName,omitempty *string",
        4: "hostProcess,omitempty *bool",
    },
    f"{CORE}.SeccompProfile": {
        1: "type string",
        2: "localhostProfile,omitempty *string",
    },
    f"{CORE}.AppArmorProfile": {
        1: "type string",
        2: "localhostProfile,omitempty *string",
    },
    f"{CORE}.PodSecurityContext": {
        1: "seLinuxOptions,omitempty *SELinuxOptions",
        2: "runAsUser,omitempty *int64",
        3: "runAsNonRoot,omitempty *bool",
        4: "supplementalGroups,omitempty []int64",
        5: "fsGroup,omitempty *int64",
        6: "runAsGroup,omitempty *int64",
        7: "sysctls,omitempty []Sysctl",
        8: "windowsOptions,omitempty *WindowsSecurityContextOptions",
        9: "fsGroupChangePolicy,omitempty *string",
        10: "seccompProfile,omitempty *SeccompProfile",
        11: "appArmorProfile,omitempty *AppArmorProfile",
        12: "supplementalGroupsPolicy,omitempty *string",
        13: "seLinuxChangePolicy,omitempty *string",
    },
    f"{CORE}.Sysctl": {
        1: "name string",
        2: "value string",
    },
    f"{CORE}.Affinity": {
        1: "nodeAffinity,omitempty *NodeAffinity",
        2: "podAffinity,omitempty *PodAffinity",
        3: "podAntiAffinity,omitempty *PodAntiAffinity",
    },
    f"{CORE}.NodeAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution,omitempty *NodeSelector",
        2: "preferredDuringSchedulingIgnoredDuringExecution,omitempty []PreferredSchedulingTerm",
    },
    f"{CORE}.NodeSelector": {
        1: "nodeSelectorTerms []NodeSelectorTerm",
    },
    f"{CORE}.NodeSelectorTerm": {
        1: "matchExpressions,omitempty []NodeSelectorRequirement",
        2: "matchFields,omitempty []NodeSelectorRequirement",
    },
    f"{CORE}.NodeSelectorRequirement": {
        1: "key string",
        2: "operator string",
        3: "values,omitempty []string",
    },
    f"{CORE}.PreferredSchedulingTerm": {
        1: "weight int32",
        2: "preference NodeSelectorTerm",
    },
    f"{CORE}.PodAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution,omitempty []PodAffinityTerm",
        2: "preferredDuringSchedulingIgnoredDuringExecution,omitempty []WeightedPodAffinityTerm",
    },
    f"{CORE}.PodAntiAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution,omitempty []PodAffinityTerm",
        2: "preferredDuringSchedulingIgnoredDuringExecution,omitempty []WeightedPodAffinityTerm",
    },
    f"{CORE}.PodAffinityTerm": {
        1: "labelSelector,omitempty *metav1.LabelSelector",
        2: "namespaces,omitempty []string",
        3: "topologyKey string",
        4: "namespaceSelector,omitempty *metav1.LabelSelector",
        5: "matchLabelKeys,omitempty []string",
        6: "mismatchLabelKeys,omitempty []string",
    },
    f"{CORE}.WeightedPodAffinityTerm": {
        1: "weight int32",
        2: "podAffinityTerm PodAffinityTerm",
    },
    f"{CORE}.Toleration": {
        1: "key,omitempty string",
        2: "operator,omitempty string",
        3: "value,omitempty string",
        4: "effect,omitempty string",
        5: "tolerationSeconds,omitempty *int64",
    },
    f"{CORE}.HostAlias": {
        1: "ip string",
        2: "hostnames,omitempty []string",
    },
    f"{CORE}.PodDNSConfig": {
        1: "nameservers,omitempty []string",
        2: "searches,omitempty []string",
        3: "options,omitempty []PodDNSConfigOption",
    },
    f"{CORE}.PodDNSConfigOption": {
        1: "name,omitempty string",
        2: "value,omitempty *string",
    },
    f"{CORE}.PodReadinessGate": {
        1: "conditionType string",
    },
    f"{CORE}.TopologySpreadConstraint": {
        1: "maxSkew int32",
        2: "topologyKey string",
        3: "whenUnsatisfiable string",
        4: "labelSelector,omitempty *metav1.LabelSelector",
        5: "minDomains,omitempty *int32",
        6: "nodeAffinityPolicy,omitempty *string",
        7: "nodeTaintsPolicy,omitempty *string",
        8: "matchLabelKeys,omitempty []string",
    },
    f"{CORE}.PodOS": {
        1: "name string",
    },
    f"{CORE}.PodSchedulingGate": {
        1: "name string",
    },
    f"{CORE}.PodResourceClaim": {
        1: "name string",
        # 2 was source, removed in 1.31.
        3: "resourceClaimName,omitempty *string",
        4: "resourceClaimTemplateName,omitempty *string",
    },
    f"{CORE}.PodStatus": {
        1: "phase,omitempty string",
        2: "conditions,omitempty []PodCondition",
        3: "message,omitempty string",
        4: "reason,omitempty string",
        5: "hostIP,omitempty string",
        6: "podIP,omitempty string",
        7: "startTime,omitempty *metav1.Time",
        8: "containerStatuses,omitempty []ContainerStatus",
        9: "qosClass,omitempty string",
        10: "initContainerStatuses,omitempty []ContainerStatus",
        11: "nominatedNodeName,omitempty string",
        12: "podIPs,omitempty []PodIP",
        13: "ephemeralContainerStatuses,omitempty []ContainerStatus",
        14: "resize,omitempty string",
        15: "resourceClaimStatuses,omitempty []PodResourceClaimStatus",
        16: "hostIPs,omitempty []HostIP",
        17: "observedGeneration,omitempty int64",
    },
    f"{CORE}.PodCondition": {
        1: "type string",
        2: "status string",
        3: "lastProbeTime,omitempty metav1.Time",
        4: "lastTransitionTime,omitempty metav1.Time",
        5: "reason,omitempty string",
        6: "message,omitempty string",
        7: "observedGeneration,omitempty int64",
    },
    f"{CORE}.PodIP": {
        1: "ip string",
    },
    f"{CORE}.HostIP": {
        1: "ip string",
    },
    f"{CORE}.PodResourceClaimStatus": {
        1: "name string",
        2: "resourceClaimName,omitempty *string",
    },
    f"{CORE}.ContainerStatus": {
        1: "name string",
        2: "state,omitempty ContainerState",
        3: "lastState,omitempty ContainerState",
        4: "ready bool",
        5: "restartCount int32",
        6: "image string",
        7: "imageID string",
        8: "containerID,omitempty string",
        9: "started,omitempty *bool",
        10: "allocatedResources,omitempty map[string]resource.Quantity",
        11: "resources,omitempty *ResourceRequirements",
        12: "volumeMounts,omitempty []VolumeMountStatus",
        13: "user,omitempty *ContainerUser",
        14: "allocatedResourcesStatus,omitempty []ResourceStatus",
        15: "stopSignal,omitempty *string",
    },
    f"{CORE}.ContainerState": {
        1: "waiting,omitempty *ContainerStateWaiting",
        2: "running,omitempty *ContainerStateRunning",
        3: "terminated,omitempty *ContainerStateTerminated",
    },
    f"{CORE}.ContainerStateWaiting": {
        1: "reason,omitempty string",
        2: "message,omitempty string",
    },
    f"{CORE}.ContainerStateRunning": {
        1: "startedAt,omitempty metav1.Time",
    },
    f"{CORE}.ContainerStateTerminated": {
        1: "exitCode int32",
        2: "signal,omitempty int32",
        3: "reason,omitempty string",
        4: "message,omitempty string",
        5: "startedAt,omitempty metav1.Time",
        6: "finishedAt,omitempty metav1.Time",
        7: "containerID,omitempty string",
    },
    f"{CORE}.VolumeMountStatus": {
        1: "name string",
        2: "mountPath string",
        3: "readOnly,omitempty bool",
        4: "recursiveReadOnly,omitempty *string",
    },
    f"{CORE}.ContainerUser": {
        1: "linux,omitempty *LinuxContainerUser",
    },
    f"{CORE}.LinuxContainerUser": {
        1: "uid int64",
        2: "gid int64",
        3: "supplementalGroups,omitempty []int64",
    },
    f"{CORE}.ResourceStatus": {
        1: "name string",
        2: "resources,omitempty []ResourceHealth",
    },
    f"{CORE}.ResourceHealth": {
        1: "resourceID string",
        2: "health,omitempty string",
    },
    # --- core/v1: volumes -------------------------------------------------------------------
    f"{CORE}.Volume": {
        1: "name string",
        2: ",inline VolumeSource",
    },
    # Not an OpenAPI definition: inlined into Volume.
    f"{CORE}.VolumeSource": {
        1: "hostPath,omitempty *HostPathVolumeSource",
        2: "emptyDir,omitempty *EmptyDirVolumeSource",
        3: "gcePersistentDisk,omitempty *GCEPersistentDiskVolumeSource",
        4: "awsElasticBlockStore,omitempty *AWSElasticBlockStoreVolumeSource",
        5: "gitRepo,omitempty *GitRepoVolumeSource",
        6: "secret,omitempty *SecretVolumeSource",
        7: "nfs,omitempty *NFSVolumeSource",
        8: "iscsi,omitempty *ISCSIVolumeSource",
        9: "glusterfs,omitempty *GlusterfsVolumeSource",
        10: "persistentVolumeClaim,omitempty *PersistentVolumeClaimVolumeSource",
        11: "rbd,omitempty *RBDVolumeSource",
        12: "flexVolume,omitempty *FlexVolumeSource",
        13: "cinder,omitempty *CinderVolumeSource",
        14: "cephfs,omitempty *CephFSVolumeSource",
        15: "flocker,omitempty *FlockerVolumeSource",
        16: "downwardAPI,omitempty *DownwardAPIVolumeSource",
        17: "fc,omitempty *FCVolumeSource",
        18: "azureFile,omitempty *AzureFileVolumeSource",
        19: "configMap,omitempty *ConfigMapVolumeSource",
        20: "vsphereVolume,omitempty *VsphereVirtualDiskVolumeSource",
        21: "quobyte,omitempty *QuobyteVolumeSource",
        22: "azureDisk,omitempty *AzureDiskVolumeSource",
        23: "photonPersistentDisk,omitempty *PhotonPersistentDiskVolumeSource",
        24: "portworxVolume,omitempty *PortworxVolumeSource",
        25: "scaleIO,omitempty *ScaleIOVolumeSource",
        26: "projected,omitempty *ProjectedVolumeSource",
        27: "storageos,omitempty *StorageOSVolumeSource",
        28: "csi,omitempty *CSIVolumeSource",
        29: "ephemeral,omitempty *EphemeralVolumeSource",
        30: "image,omitempty *ImageVolumeSource",
    },
    f"{CORE}.HostPathVolumeSource": {
        1: "path string",
        2: "type,omitempty *string",
    },
    f"{CORE}.EmptyDirVolumeSource": {
        1: "medium,omitempty string",
        2: "sizeLimit,omitempty *resource.Quantity",
    },
    f"{CORE}.GCEPersistentDiskVolumeSource": {
        1: "pdName string",
        2: "fsType,omitempty string",
        3: "partition,omitempty int32",
        4: "readOnly,omitempty bool",
    },
    f"{CORE}.AWSElasticBlockStoreVolumeSource": {
        1: "volumeID string",
        2: "fsType,omitempty string",
        3: "partition,omitempty int32",
        4: "readOnly,omitempty bool",
    },
    f"{CORE}.GitRepoVolumeSource": {
        1: "repository string",
        2: "revision,omitempty string",
        3: "directory,omitempty string",
    },
    f"{CORE}.SecretVolumeSource": {
        1: "secretName,omitempty string",
        2: "items,omitempty []KeyToPath",
        3: "defaultMode,omitempty *int32",
        4: "optional,omitempty *bool",
    },
    f"{CORE}.KeyToPath": {
        1: "key string",
        2: "path string",
        3: "mode,omitempty *int32",
    },
    f"{CORE}.NFSVolumeSource": {
        1: "server string",
        2: "path string",
        3: "readOnly,omitempty bool",
    },
    f"{CORE}.ISCSIVolumeSource": {
        1: "targetPortal string",
        2: "iqn string",
        3: "lun int32",
        4: "iscsiInterface,omitempty string",
        5: "fsType,omitempty string",
        6: "readOnly,omitempty bool",
        7: "portals,omitempty []string",
        8: "chapAuthDiscovery,omitempty bool",
        10: "secretRef,omitempty *LocalObjectReference",
        11: "chapAuthSession,omitempty bool",
        12: "initiatorName,omitempty *string",
    },
    f"{CORE}.GlusterfsVolumeSource": {
        1: "endpoints string",
        2: "path string",
        3: "readOnly,omitempty bool",
    },
    f"{CORE}.PersistentVolumeClaimVolumeSource": {
        1: "claimName string",
        2: "readOnly,omitempty bool",
    },
    f"{CORE}.RBDVolumeSource": {
        1: "monitors []string",
        2: "image string",
        3: "fsType,omitempty string",
        4: "pool,omitempty string",
        5: "user,omitempty string",
        6: "keyring,omitempty string",
        7: "secretRef,omitempty *LocalObjectReference",
        8: "readOnly,omitempty bool",
    },
    f"{CORE}.FlexVolumeSource": {
        1: "driver string",
        2: "fsType,omitempty string",
        3: "secretRef,omitempty *LocalObjectReference",
        4: "readOnly,omitempty bool",
        5: "options,omitempty map[string]string",
    },
    f"{CORE}.CinderVolumeSource": {
        1: "volumeID string",
        2: "fsType,omitempty string",
        3: "readOnly,omitempty bool",
        4: "secretRef,omitempty *LocalObjectReference",
    },
    f"{CORE}.CephFSVolumeSource": {
        1: "monitors []string",
        2: "path,omitempty string",
        3: "user,omitempty string",
        4: "secretFile,omitempty string",
        5: "secretRef,omitempty *LocalObjectReference",
        6: "readOnly,omitempty bool",
    },
    f"{CORE}.FlockerVolumeSource": {
        1: "datasetName,omitempty string",
        2: "datasetUUID,omitempty string",
    },
    f"{CORE}.DownwardAPIVolumeSource": {
        1: "items,omitempty []DownwardAPIVolumeFile",
        2: "defaultMode,omitempty *int32",
    },
    f"{CORE}.DownwardAPIVolumeFile": {
        1: "path string",
        2: "fieldRef,omitempty *ObjectFieldSelector",
        3: "resourceFieldRef,omitempty *ResourceFieldSelector",
        4: "mode,omitempty *int32",
    },
    f"{CORE}.FCVolumeSource": {
        1: "targetWWNs,omitempty []string",
        2: "lun,omitempty *int32",
        3: "fsType,omitempty string",
        4: "readOnly,omitempty bool",
        5: "wwids,omitempty []string",
    },
    f"{CORE}.AzureFileVolumeSource": {
        1: "secretName string",
        2: "shareName string",
        3: "readOnly,omitempty bool",
    },
    f"{CORE}.ConfigMapVolumeSource": {
        1: ",inline LocalObjectReference",
        2: "items,omitempty []KeyToPath",
        3: "defaultMode,omitempty *int32",
        4: "optional,omitempty *bool",
    },
    f"{CORE}.VsphereVirtualDiskVolumeSource": {
        1: "volumePath string",
        2: "fsType,omitempty string",
        3: "storagePolicyName,omitempty string",
        4: "storagePolicyID,omitempty string",
    },
    f"{CORE}.QuobyteVolumeSource": {
        1: "registry string",
        2: "volume string",
        3: "readOnly,omitempty bool",
        4: "user,omitempty string",
        5: "group,omitempty string",
        6: "tenant,omitempty string",
    },
    f"{CORE}.AzureDiskVolumeSource": {
        1: "diskName string",
        2: "diskURI string",
        3: "cachingMode,omitempty *string",
        4: "fsType,omitempty *string",
        5: "readOnly,omitempty *bool",
        6: "kind,omitempty *string",
    },
    f"{CORE}.PhotonPersistentDiskVolumeSource": {
        1: "pdID string",
        2: "fsType,omitempty string",
    },
    f"{CORE}.PortworxVolumeSource": {
        1: "volumeID string",
        2: "fsType,omitempty string",
        3: "readOnly,omitempty bool",
    },
    f"{CORE}.ScaleIOVolumeSource": {
        1: "gateway string",
        2: "system string",
        3: "secretRef *LocalObjectReference",
        4: "sslEnabled,omitempty bool",
        5: "protectionDomain,omitempty string",
        6: "storagePool,omitempty string",
        7: "storageMode,omitempty string",
        8: "volumeName,omitempty string",
        9: "fsType,omitempty string",
        10: "readOnly,omitempty bool",
    },
    f"{CORE}.ProjectedVolumeSource": {
        1: "sources []VolumeProjection",
        2: "defaultMode,omitempty *int32",
    },
    f"{CORE}.VolumeProjection": {
        1: "secret,omitempty *SecretProjection",
        2: "downwardAPI,omitempty *DownwardAPIProjection",
        3: "configMap,omitempty *ConfigMapProjection",
        4: "serviceAccountToken,omitempty *ServiceAccountTokenProjection",
        5: "clusterTrustBundle,omitempty *ClusterTrustBundleProjection",
    },
    f"{CORE}.SecretProjection": {
        1: ",inline LocalObjectReference",
        2: "items,omitempty []KeyToPath",
        4: "optional,omitempty *bool",
    },
    f"{CORE}.ConfigMapProjection": {
        1: ",inline LocalObjectReference",
        2: "items,omitempty []KeyToPath",
        4: "optional,omitempty *bool",
    },
    f"{CORE}.DownwardAPIProjection": {
        1: "items,omitempty []DownwardAPIVolumeFile",
    },
    f"{CORE}.ServiceAccountTokenProjection": {
        1: "audience,omitempty string",
        2: "expirationSeconds,omitempty *int64",
        3: "path string",
    },
    f"{CORE}.ClusterTrustBundleProjection": {
        1: "name,omitempty *string",
        2: "signerName,omitempty *string",
        3: "labelSelector,omitempty *metav1.LabelSelector",
        4: "path string",
        5: "optional,omitempty *bool",
    },
    f"{CORE}.StorageOSVolumeSource": {
        1: "volumeName,omitempty string",
        2: "volumeNamespace,omitempty string",
        3: "fsType,omitempty string",
        4: "readOnly,omitempty bool",
        5: "secretRef,omitempty *LocalObjectReference",
    },
    f"{CORE}.CSIVolumeSource": {
        1: "driver string",
        2: "readOnly,omitempty *bool",
        3: "fsType,omitempty *string",
        4: "volumeAttributes,omitempty map[string]string",
        5: "nodePublishSecretRef,omitempty *LocalObjectReference",
    },
    f"{CORE}.EphemeralVolumeSource": {
        1: "volumeClaimTemplate,omitempty *PersistentVolumeClaimTemplate",
    },
    f"{CORE}.PersistentVolumeClaimTemplate": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec PersistentVolumeClaimSpec",
    },
    f"{CORE}.PersistentVolumeClaimSpec": {
        1: "accessModes,omitempty []string",
        2: "resources,omitempty VolumeResourceRequirements",
        3: "volumeName,omitempty string",
        4: "selector,omitempty *metav1.LabelSelector",
        5: "storageClassName,omitempty *string",
        6: "volumeMode,omitempty *string",
        7: "dataSource,omitempty *TypedLocalObjectReference",
        8: "dataSourceRef,omitempty *TypedObjectReference",
        9: "volumeAttributesClassName,omitempty *string",
    },
    f"{CORE}.VolumeResourceRequirements": {
        1: "limits,omitempty map[string]resource.Quantity",
        2: "requests,omitempty map[string]resource.Quantity",
    },
    f"{CORE}.ImageVolumeSource": {
        1: "reference,omitempty string",
        2: "pullPolicy,omitempty string",
    },
    # --- k8s.io/api/apps/v1/generated.proto -------------------------------------------------
    "io.k8s.api.apps.v1.Deployment": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty DeploymentSpec",
        3: "status,omitempty DeploymentStatus",
    },
    "io.k8s.api.apps.v1.DeploymentSpec": {
        1: "replicas,omitempty *int32",
        2: "selector *metav1.LabelSelector",
        3: "template corev1.PodTemplateSpec",
        4: "strategy,omitempty DeploymentStrategy",
        5: "minReadySeconds,omitempty int32",
        6: "revisionHistoryLimit,omitempty *int32",
        7: "paused,omitempty bool",
        # 8 was rollbackTo (extensions/v1beta1 only).
        9: "progressDeadlineSeconds,omitempty *int32",
    },
    "io.k8s.api.apps.v1.DeploymentStrategy": {
        1: "type,omitempty string",
        2: "rollingUpdate,omitempty *RollingUpdateDeployment",
    },
    "io.k8s.api.apps.v1.RollingUpdateDeployment": {
        1: "maxUnavailable,omitempty *intstr.IntOrString",
        2: "maxSurge,omitempty *intstr.IntOrString",
    },
    "io.k8s.api.apps.v1.DeploymentStatus": {
        1: "observedGeneration,omitempty int64",
        2: "replicas,omitempty int32",
        3: "updatedReplicas,omitempty int32",
        4: "availableReplicas,omitempty int32",
        5: "unavailableReplicas,omitempty int32",
        6: "conditions,omitempty []DeploymentCondition",
        7: "readyReplicas,omitempty int32",
        8: "collisionCount,omitempty *int32",
        9: "terminatingReplicas,omitempty *int32",
    },
    "io.k8s.api.apps.v1.DeploymentCondition": {
        1: "type string",
        2: "status string",
        4: "reason,omitempty string",
        5: "message,omitempty string",
        6: "lastUpdateTime,omitempty metav1.Time",
        7: "lastTransitionTime,omitempty metav1.Time",
    },
    "io.k8s.api.apps.v1.ReplicaSet": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty ReplicaSetSpec",
        3: "status,omitempty ReplicaSetStatus",
    },
    "io.k8s.api.apps.v1.ReplicaSetSpec": {
        1: "replicas,omitempty *int32",
        2: "selector *metav1.LabelSelector",
        3: "template,omitempty corev1.PodTemplateSpec",
        4: "minReadySeconds,omitempty int32",
    },
    "io.k8s.api.apps.v1.ReplicaSetStatus": {
        1: "replicas int32",
        2: "fullyLabeledReplicas,omitempty int32",
        3: "observedGeneration,omitempty int64",
        4: "readyReplicas,omitempty int32",
        5: "availableReplicas,omitempty int32",
        6: "conditions,omitempty []ReplicaSetCondition",
        7: "terminatingReplicas,omitempty *int32",
    },
    "io.k8s.api.apps.v1.ReplicaSetCondition": {
        1: "type string",
        2: "status string",
        3: "lastTransitionTime,omitempty metav1.Time",
        4: "reason,omitempty string",
        5: "message,omitempty string",
    },
    # --- k8s.io/api/batch/v1/generated.proto (1.33: JobSpec has no field 17 yet) ---------------
    "io.k8s.api.batch.v1.Job": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty JobSpec",
        3: "status,omitempty JobStatus",
    },
    "io.k8s.api.batch.v1.JobSpec": {
        1: "parallelism,omitempty *int32",
        2: "completions,omitempty *int32",
        3: "activeDeadlineSeconds,omitempty *int64",
        4: "selector,omitempty *metav1.LabelSelector",
        5: "manualSelector,omitempty *bool",
        6: "template corev1.PodTemplateSpec",
        7: "backoffLimit,omitempty *int32",
        8: "ttlSecondsAfterFinished,omitempty *int32",
        9: "completionMode,omitempty *string",
        10: "suspend,omitempty *bool",
        11: "podFailurePolicy,omitempty *PodFailurePolicy",
        12: "backoffLimitPerIndex,omitempty *int32",
        13: "maxFailedIndexes,omitempty *int32",
        14: "podReplacementPolicy,omitempty *string",
        15: "managedBy,omitempty *string",
        16: "successPolicy,omitempty *SuccessPolicy",
    },
    "io.k8s.api.batch.v1.JobStatus": {
        1: "conditions,omitempty []JobCondition",
        2: "startTime,omitempty *metav1.Time",
        3: "completionTime,omitempty *metav1.Time",
        4: "active,omitempty int32",
        5: "succeeded,omitempty int32",
        6: "failed,omitempty int32",
        7: "completedIndexes,omitempty string",
        8: "uncountedTerminatedPods,omitempty *UncountedTerminatedPods",
        9: "ready,omitempty *int32",
        10: "failedIndexes,omitempty *string",
        11: "terminating,omitempty *int32",
    },
    "io.k8s.api.batch.v1.JobCondition": {
        1: "type string",
        2: "status string",
        3: "lastProbeTime,omitempty metav1.Time",
        4: "lastTransitionTime,omitempty metav1.Time",
        5: "reason,omitempty string",
        6: "message,omitempty string",
    },
    "io.k8s.api.batch.v1.UncountedTerminatedPods": {
        1: "succeeded,omitempty []string",
        2: "failed,omitempty []string",
    },
    "io.k8s.api.batch.v1.PodFailurePolicy": {
        1: "rules []PodFailurePolicyRule",
    },
    "io.k8s.api.batch.v1.PodFailurePolicyRule": {
        1: "action string",
        2: "onExitCodes,omitempty *PodFailurePolicyOnExitCodesRequirement",
        3: "onPodConditions,omitempty []PodFailurePolicyOnPodConditionsPattern",
    },
    "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement": {
        1: "containerName,omitempty *string",
        2: "operator string",
        3: "values []int32",
    },
    "io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern": {
        1: "type string",
        2: "status string",
    },
    "io.k8s.api.batch.v1.SuccessPolicy": {
        1: "rules []SuccessPolicyRule",
    },
    "io.k8s.api.batch.v1.SuccessPolicyRule": {
        1: "succeededIndexes,omitempty *string",
        2: "succeededCount,omitempty *int32",
    },
    "io.k8s.api.batch.v1.CronJob": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty CronJobSpec",
        3: "status,omitempty CronJobStatus",
    },
    "io.k8s.api.batch.v1.CronJobSpec": {
        1: "schedule string",
        2: "startingDeadlineSeconds,omitempty *int64",
        3: "concurrencyPolicy,omitempty string",
        4: "suspend,omitempty *bool",
        5: "jobTemplate JobTemplateSpec",
        6: "successfulJobsHistoryLimit,omitempty *int32",
        7: "failedJobsHistoryLimit,omitempty *int32",
        8: "timeZone,omitempty *string",
    },
    "io.k8s.api.batch.v1.CronJobStatus": {
        1: "active,omitempty []corev1.ObjectReference",
        4: "lastScheduleTime,omitempty *metav1.Time",
        5: "lastSuccessfulTime,omitempty *metav1.Time",
    },
    "io.k8s.api.batch.v1.JobTemplateSpec": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty JobSpec",
    },
    # --- k8s.io/api/discovery/v1/generated.proto --------------------------------------------
    "io.k8s.api.discovery.v1.EndpointSlice": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "endpoints []Endpoint",
        3: "ports []EndpointPort",
        4: "addressType string",
    },
    "io.k8s.api.discovery.v1.Endpoint": {
        1: "addresses []string",
        2: "conditions,omitempty EndpointConditions",
        3: "hostname,omitempty *string",
        4: "targetRef,omitempty *corev1.ObjectReference",
        5: "deprecatedTopology,omitempty map[string]string",
        6: "nodeName,omitempty *string",
        7: "zone,omitempty *string",
        8: "hints,omitempty *EndpointHints",
    },
    "io.k8s.api.discovery.v1.EndpointConditions": {
        1: "ready,omitempty *bool",
        2: "serving,omitempty *bool",
        3: "terminating,omitempty *bool",
    },
    "io.k8s.api.discovery.v1.EndpointHints": {
        1: "forZones,omitempty []ForZone",
        2: "forNodes,omitempty []ForNode",
    },
    "io.k8s.api.discovery.v1.ForZone": {
        1: "name string",
    },
    "io.k8s.api.discovery.v1.ForNode": {
        1: "name string",
    },
    "io.k8s.api.discovery.v1.EndpointPort": {
        1: "name,omitempty *string",
        2: "protocol,omitempty *string",
        3: "port,omitempty *int32",
        4: "appProtocol,omitempty *string",
    },
    # --- k8s.io/api/networking/v1/generated.proto -------------------------------------------
    "io.k8s.api.networking.v1.Ingress": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty IngressSpec",
        3: "status,omitempty IngressStatus",
    },
    "io.k8s.api.networking.v1.IngressSpec": {
        1: "defaultBackend,omitempty *IngressBackend",
        2: "tls,omitempty []IngressTLS",
        3: "rules,omitempty []IngressRule",
        4: "ingressClassName,omitempty *string",
    },
    "io.k8s.api.networking.v1.IngressBackend": {
        3: "resource,omitempty *corev1.TypedLocalObjectReference",
        4: "service,omitempty *IngressServiceBackend",
    },
    "io.k8s.api.networking.v1.IngressServiceBackend": {
        1: "name string",
        2: "port,omitempty ServiceBackendPort",
    },
    "io.k8s.api.networking.v1.ServiceBackendPort": {
        1: "name,omitempty string",
        2: "number,omitempty int32",
    },
    "io.k8s.api.networking.v1.IngressTLS": {
        1: "hosts,omitempty []string",
        2: "secretName,omitempty string",
    },
    "io.k8s.api.networking.v1.IngressRule": {
        1: "host,omitempty string",
        2: ",inline IngressRuleValue",
    },
    # Not an OpenAPI definition: inlined into IngressRule.
    "io.k8s.api.networking.v1.IngressRuleValue": {
        1: "http,omitempty *HTTPIngressRuleValue",
    },
    "io.k8s.api.networking.v1.HTTPIngressRuleValue": {
        1: "paths []HTTPIngressPath",
    },
    "io.k8s.api.networking.v1.HTTPIngressPath": {
        1: "path,omitempty string",
        2: "backend IngressBackend",
        3: "pathType *string",
    },
    "io.k8s.api.networking.v1.IngressStatus": {
        1: "loadBalancer,omitempty IngressLoadBalancerStatus",
    },
    "io.k8s.api.networking.v1.IngressLoadBalancerStatus": {
        1: "ingress,omitempty []IngressLoadBalancerIngress",
    },
    "io.k8s.api.networking.v1.IngressLoadBalancerIngress": {
        1: "ip,omitempty string",
        2: "hostname,omitempty string",
        4: "ports,omitempty []IngressPortStatus",
    },
    "io.k8s.api.networking.v1.IngressPortStatus": {
        1: "port int32",
        2: "protocol string",
        3: "error,omitempty *string",
    },
    # --- k8s.io/api/authorization/v1 generated.proto (kubectl auth can-i) ----------------------------------
    f"{META}.FieldSelectorRequirement": {
        1: "key string",
        2: "operator string",
        3: "values,omitempty []string",
    },
    # --- k8s.io/api/authentication/v1/generated.proto ---------------------------------------
    "io.k8s.api.authentication.v1.SelfSubjectReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "status,omitempty SelfSubjectReviewStatus",
    },
    "io.k8s.api.authentication.v1.SelfSubjectReviewStatus": {
        1: "userInfo,omitempty UserInfo",
    },
    "io.k8s.api.authentication.v1.UserInfo": {
        1: "username,omitempty string",
        2: "uid,omitempty string",
        3: "groups,omitempty []string",
        4: "extra,omitempty map[string]ExtraValue",
    },
    "io.k8s.api.authentication.v1.TokenRequest": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec TokenRequestSpec",
        3: "status,omitempty TokenRequestStatus",
    },
    "io.k8s.api.authentication.v1.TokenRequestSpec": {
        1: "audiences []string",
        4: "expirationSeconds,omitempty *int64",
        3: "boundObjectRef,omitempty *BoundObjectReference",
    },
    "io.k8s.api.authentication.v1.BoundObjectReference": {
        1: "kind,omitempty string",
        2: "apiVersion,omitempty string",
        3: "name,omitempty string",
        4: "uid,omitempty string",
    },
    "io.k8s.api.authentication.v1.TokenRequestStatus": {
        1: "token string",
        2: "expirationTimestamp metav1.Time",
    },
    "io.k8s.api.authentication.v1.TokenReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec TokenReviewSpec",
        3: "status,omitempty TokenReviewStatus",
    },
    "io.k8s.api.authentication.v1.TokenReviewSpec": {
        1: "token,omitempty string",
        2: "audiences,omitempty []string",
    },
    "io.k8s.api.authentication.v1.TokenReviewStatus": {
        1: "authenticated,omitempty bool",
        2: "user,omitempty UserInfo",
        4: "audiences,omitempty []string",
        3: "error,omitempty string",
    },
    "io.k8s.api.authorization.v1.SubjectAccessReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec SubjectAccessReviewSpec",
        3: "status,omitempty SubjectAccessReviewStatus",
    },
    "io.k8s.api.authorization.v1.LocalSubjectAccessReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec SubjectAccessReviewSpec",
        3: "status,omitempty SubjectAccessReviewStatus",
    },
    "io.k8s.api.authorization.v1.SubjectAccessReviewSpec": {
        1: "resourceAttributes,omitempty *ResourceAttributes",
        2: "nonResourceAttributes,omitempty *NonResourceAttributes",
        3: "user,omitempty string",
        4: "groups,omitempty []string",
        5: "extra,omitempty map[string]authenticationv1.ExtraValue",  # authorization's ExtraValue: the same wire
        6: "uid,omitempty string",
    },
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec SelfSubjectAccessReviewSpec",
        3: "status,omitempty SubjectAccessReviewStatus",
    },
    "io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec": {
        1: "resourceAttributes,omitempty *ResourceAttributes",
        2: "nonResourceAttributes,omitempty *NonResourceAttributes",
    },
    "io.k8s.api.authorization.v1.ResourceAttributes": {
        1: "namespace,omitempty string",
        2: "verb,omitempty string",
        3: "group,omitempty string",
        4: "version,omitempty string",
        5: "resource,omitempty string",
        6: "subresource,omitempty string",
        7: "name,omitempty string",
        8: "fieldSelector,omitempty *FieldSelectorAttributes",
        9: "labelSelector,omitempty *LabelSelectorAttributes",
    },
    "io.k8s.api.authorization.v1.FieldSelectorAttributes": {
        1: "rawSelector,omitempty string",
        2: "requirements,omitempty []metav1.FieldSelectorRequirement",
    },
    "io.k8s.api.authorization.v1.LabelSelectorAttributes": {
        1: "rawSelector,omitempty string",
        2: "requirements,omitempty []metav1.LabelSelectorRequirement",
    },
    "io.k8s.api.authorization.v1.NonResourceAttributes": {
        1: "path,omitempty string",
        2: "verb,omitempty string",
    },
    "io.k8s.api.authorization.v1.SubjectAccessReviewStatus": {
        1: "allowed bool",
        4: "denied,omitempty bool",
        2: "reason,omitempty string",
        3: "evaluationError,omitempty string",
    },
    "io.k8s.api.authorization.v1.SelfSubjectRulesReview": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec SelfSubjectRulesReviewSpec",
        3: "status,omitempty SubjectRulesReviewStatus",
    },
    "io.k8s.api.authorization.v1.SelfSubjectRulesReviewSpec": {
        1: "namespace,omitempty string",
    },
    "io.k8s.api.authorization.v1.SubjectRulesReviewStatus": {
        1: "resourceRules []ResourceRule",
        2: "nonResourceRules []NonResourceRule",
        3: "incomplete bool",
        4: "evaluationError,omitempty string",
    },
    "io.k8s.api.authorization.v1.ResourceRule": {
        1: "verbs []string",
        2: "apiGroups,omitempty []string",
        3: "resources,omitempty []string",
        4: "resourceNames,omitempty []string",
    },
    "io.k8s.api.authorization.v1.NonResourceRule": {
        1: "verbs []string",
        2: "nonResourceURLs,omitempty []string",
    },

    "io.k8s.api.networking.v1.IngressClass": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty IngressClassSpec",
    },
    "io.k8s.api.networking.v1.IngressClassSpec": {
        1: "controller,omitempty string",
        2: "parameters,omitempty *IngressClassParametersReference",
    },
    "io.k8s.api.networking.v1.IngressClassParametersReference": {
        1: "apiGroup,omitempty *string",
        2: "kind string",
        3: "name string",
        4: "scope *string",
        5: "namespace,omitempty *string",
    },
    "io.k8s.api.networking.v1.NetworkPolicy": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty NetworkPolicySpec",
    },
    "io.k8s.api.networking.v1.NetworkPolicySpec": {
        1: "podSelector metav1.LabelSelector",
        2: "ingress,omitempty []NetworkPolicyIngressRule",
        3: "egress,omitempty []NetworkPolicyEgressRule",
        4: "policyTypes,omitempty []string",
    },
    "io.k8s.api.networking.v1.NetworkPolicyIngressRule": {
        1: "ports,omitempty []NetworkPolicyPort",
        2: "from,omitempty []NetworkPolicyPeer",
    },
    "io.k8s.api.networking.v1.NetworkPolicyEgressRule": {
        1: "ports,omitempty []NetworkPolicyPort",
        2: "to,omitempty []NetworkPolicyPeer",
    },
    "io.k8s.api.networking.v1.NetworkPolicyPort": {
        1: "protocol,omitempty *string",
        2: "port,omitempty *intstr.IntOrString",
        3: "endPort,omitempty *int32",
    },
    "io.k8s.api.networking.v1.NetworkPolicyPeer": {
        1: "podSelector,omitempty *metav1.LabelSelector",
        2: "namespaceSelector,omitempty *metav1.LabelSelector",
        3: "ipBlock,omitempty *IPBlock",
    },
    "io.k8s.api.networking.v1.IPBlock": {
        1: "cidr string",
        2: "except,omitempty []string",
    },
    # --- k8s.io/api/rbac/v1/generated.proto (kubectl create role, clusterrole, rolebinding, clusterrolebinding) --
    "io.k8s.api.rbac.v1.Role": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "rules []PolicyRule",
    },
    "io.k8s.api.rbac.v1.ClusterRole": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "rules []PolicyRule",
        3: "aggregationRule,omitempty *AggregationRule",
    },
    "io.k8s.api.rbac.v1.AggregationRule": {
        1: "clusterRoleSelectors,omitempty []metav1.LabelSelector",
    },
    "io.k8s.api.rbac.v1.PolicyRule": {
        1: "verbs []string",
        2: "apiGroups,omitempty []string",
        3: "resources,omitempty []string",
        4: "resourceNames,omitempty []string",
        5: "nonResourceURLs,omitempty []string",
    },
    "io.k8s.api.rbac.v1.RoleBinding": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "subjects,omitempty []Subject",
        3: "roleRef RoleRef",
    },
    "io.k8s.api.rbac.v1.ClusterRoleBinding": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "subjects,omitempty []Subject",
        3: "roleRef RoleRef",
    },
    "io.k8s.api.rbac.v1.Subject": {
        1: "kind string",
        2: "apiGroup,omitempty string",
        3: "name string",
        4: "namespace,omitempty string",
    },
    "io.k8s.api.rbac.v1.RoleRef": {
        1: "apiGroup string",
        2: "kind string",
        3: "name string",
    },
    # --- k8s.io/api/autoscaling/v1/generated.proto ------------------------------------------
    "io.k8s.api.autoscaling.v1.Scale": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec,omitempty ScaleSpec",
        3: "status,omitempty ScaleStatus",
    },
    "io.k8s.api.autoscaling.v1.ScaleSpec": {
        1: "replicas,omitempty int32",
    },
    "io.k8s.api.autoscaling.v1.ScaleStatus": {
        1: "replicas int32",
        2: "selector,omitempty string",
    },
    # --- k8s.io/api/certificates/v1/generated.proto (kubectl certificate approve|deny) -------------
    "io.k8s.api.certificates.v1.CertificateSigningRequest": {
        1: "metadata,omitempty metav1.ObjectMeta",
        2: "spec CertificateSigningRequestSpec",
        3: "status,omitempty CertificateSigningRequestStatus",
    },
    "io.k8s.api.certificates.v1.CertificateSigningRequestSpec": {
        1: "request []byte",
        7: "signerName string",
        8: "expirationSeconds,omitempty *int32",
        5: "usages,omitempty []string",
        2: "username,omitempty string",
        3: "uid,omitempty string",
        4: "groups,omitempty []string",
        # certificates/v1 ExtraValue: the same wire form (one repeated string) as authentication/v1's
        6: "extra,omitempty map[string]authenticationv1.ExtraValue",
    },
    "io.k8s.api.certificates.v1.CertificateSigningRequestStatus": {
        1: "conditions,omitempty []CertificateSigningRequestCondition",
        2: "certificate,omitempty []byte",
    },
    "io.k8s.api.certificates.v1.CertificateSigningRequestCondition": {
        1: "type string",
        6: "status string",
        2: "reason,omitempty string",
        3: "message,omitempty string",
        4: "lastUpdateTime,omitempty metav1.Time",
        5: "lastTransitionTime,omitempty metav1.Time",
    },
}


# --- the table, parsed --------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One parsed table entry.

    Attributes:
        number: The protobuf field number.
        name: The JSON name ("" for an inline struct).
        kind: A scalar ("string", "bool", "int32", "int64", "[]byte") or a full message name.
        repeated: A Go slice: the field may occur many times (or packed, for numbers).
        map: A Go ``map[string]kind``: entries are {1: key, 2: value} messages.
        drop_zero: A non-pointer scalar with ``omitempty``: its zero value is left out.
        inline: A ``json:",inline"`` struct: its fields are merged into the parent.
    """

    number: int
    name: str
    kind: str
    repeated: bool = False
    map: bool = False
    drop_zero: bool = False
    inline: bool = False


def _resolve(type_name: str, package: str) -> str:
    """The full name of a Go type name written in the table, relative to ``package``."""
    if type_name in SCALARS:
        return type_name
    if "." in type_name:
        qualifier, _, short = type_name.partition(".")
        if qualifier not in PACKAGES:
            raise ValueError(f"unknown package qualifier in {type_name!r}")
        return f"{PACKAGES[qualifier]}.{short}"
    return f"{package}.{type_name}"


def parse_field(number: int, spec: str, message: str) -> Field:
    """Parse ``"<json tag> <Go type>"`` of ``message`` into a :class:`Field`.

    The Go type is one of ``T``, ``*T``, ``[]T``, ``map[string]T`` (with ``[]byte``
    a scalar); the json tag is the struct tag's text (``name,omitempty``, ``,inline``).
    """
    tag, _, go_type = spec.partition(" ")
    name, *options = tag.split(",")
    package = message.rsplit(".", 1)[0]
    repeated = is_map = pointer = False
    if go_type.startswith("map[string]"):
        is_map, go_type = True, go_type[len("map[string]"):]
    elif go_type.startswith("[]") and go_type != "[]byte":
        repeated, go_type = True, go_type[2:]
    elif go_type.startswith("*"):
        pointer, go_type = True, go_type[1:]
    kind = _resolve(go_type, package)
    if kind not in SCALARS and kind not in SPECIAL and kind not in MESSAGES:
        raise ValueError(f"{message} field {number}: no table entry for {kind}")
    plain_scalar = kind in SCALARS and not (pointer or repeated or is_map)
    return Field(number, name, kind, repeated=repeated, map=is_map,
                 drop_zero=plain_scalar and "omitempty" in options, inline="inline" in options)


@functools.cache
def fields_of(message: str) -> dict[int, Field]:
    """The parsed fields of one table message, by field number (cached)."""
    return {number: parse_field(number, spec, message) for number, spec in MESSAGES[message].items()}


# --- wire format --------------------------------------------------------------------------


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``; return (unsigned value, next position).

    Raises:
        errors.ApiError: 400 when the varint is truncated or longer than 10 bytes.
    """
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise _malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7
        if shift >= 70:
            raise _malformed("varint longer than 10 bytes")


def read_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field of one message.

    Varints come as unsigned ints, fixed64/fixed32 as unsigned ints (Kubernetes
    has none, but they are skipped over correctly), length-delimited fields as bytes.
    """
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _malformed("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == LEN:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise _malformed(f"field {number} runs past the end of its message")
            value, pos = buf[pos:pos + length], pos + length
        elif wire in (I64, I32):
            size = 8 if wire == I64 else 4
            if pos + size > len(buf):
                raise _malformed(f"field {number} runs past the end of its message")
            value, pos = int.from_bytes(buf[pos:pos + size], "little"), pos + size
        else:
            raise _malformed(f"field {number} has unsupported wire type {wire}")
        yield number, wire, value


def signed(value: int, bits: int) -> int:
    """Two's-complement reinterpretation: int32/int64 are sign-extended varints, not zigzag."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# --- decoding -----------------------------------------------------------------------------


def decode(body: bytes, api_version: str | None = None, kind: str | None = None) -> dict[str, Any]:
    """Decode a Kubernetes protobuf request body into the object's JSON form.

    Args:
        body: The raw request body: ``k8s\\x00`` + ``runtime.Unknown``.
        api_version: Used when the envelope has no apiVersion (as upstream defaults
            it from the endpoint).
        kind: Likewise for the kind.

    Returns:
        The object as the JSON dict its JSON encoding would give, with ``apiVersion``
        and ``kind`` set.

    Raises:
        errors.ApiError: 415 for kinds or field numbers this table does not know,
            400 for malformed bodies.
    """
    if not body.startswith(MAGIC):
        raise _malformed("the body does not start with the Kubernetes protobuf magic number k8s\\x00")
    envelope: dict[int, Any] = {}
    for number, wire, value in read_fields(body[len(MAGIC):]):
        if number in (1, 2, 3, 4) and wire != LEN:
            raise _malformed(f"runtime.Unknown field {number} has wire type {wire}")
        envelope[number] = value
    type_meta: dict[str, str] = {}
    for number, _wire, value in read_fields(envelope.get(1, b"")):
        if number in (1, 2) and isinstance(value, bytes):
            type_meta["apiVersion" if number == 1 else "kind"] = value.decode("utf-8", "replace")
    api_version = type_meta.get("apiVersion") or api_version or ""
    kind = type_meta.get("kind") or kind or ""
    encoding = envelope.get(3, b"")
    if encoding:
        raise _unsupported(f"protobuf bodies with content encoding {encoding.decode('utf-8', 'replace')!r} "
                           f"are not supported by this sandbox")
    message = DELETE_OPTIONS if kind == "DeleteOptions" else KINDS.get((api_version, kind))
    if message is None:
        raise _unsupported(f"protobuf bodies of kind {kind!r} (apiVersion {api_version!r}) are not "
                           f"supported by this sandbox")
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(decode_message(message, envelope.get(2, b""), kind))
    return obj


def decode_message(message: str, data: bytes, path: str = "") -> dict[str, Any]:
    """Decode one message of the table into its JSON object form.

    Args:
        message: The table name, e.g. ``io.k8s.api.core.v1.PodSpec``.
        data: The message's bytes.
        path: The JSON path so far, for error messages.
    """
    table = fields_of(message)
    out: dict[str, Any] = {}
    for number, wire, value in read_fields(data):
        field = table.get(number)
        if field is None:
            raise _unsupported(f"field number {number} of protobuf message {message} (at {path or '.'}) is "
                               f"not known to this sandbox (Kubernetes 1.33 types)")
        where = f"{path}.{field.name}" if field.name else path
        if field.inline:
            out.update(decode_message(field.kind, _need_bytes(value, message, field), where))
        elif field.map:
            key, item = _decode_entry(field, _need_bytes(value, message, field), message, where)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = out.setdefault(field.name, [])
            if field.kind in NUMERIC and wire == LEN:
                items.extend(_decode_packed(field, _need_bytes(value, message, field)))
            else:
                items.append(_decode_value(field, wire, value, message, f"{where}[{len(items)}]"))
        else:
            item = _decode_value(field, wire, value, message, where)
            if item is None or (field.drop_zero and item in ("", 0)):  # 0 == False
                out.pop(field.name, None)
            else:
                out[field.name] = item
    return out


def _decode_value(field: Field, wire: int, value: int | bytes, message: str, path: str) -> Any:
    """One scalar, special or nested message value (None for a zero Time)."""
    kind = field.kind
    if kind in NUMERIC:
        if wire != VARINT or not isinstance(value, int):
            raise _malformed(f"field {field.number} ({field.name}) of {message} has wire type {wire}, "
                             f"expected a varint")
        if kind == "bool":
            return value != 0
        return signed(value, 32 if kind == "int32" else 64)
    data = _need_bytes(value, message, field)
    if kind == "string":
        return data.decode("utf-8", "replace")
    if kind == "[]byte":
        return base64.b64encode(data).decode("ascii")
    if kind in (TIME, MICRO_TIME):
        return _decode_time(data, micro=kind == MICRO_TIME)
    if kind == QUANTITY:
        return _decode_quantity(data)
    if kind == INT_OR_STRING:
        return _decode_int_or_string(data)
    if kind == FIELDS_V1:
        return _decode_fields_v1(data, path)
    if kind == EXTRA_VALUE:
        return [_need_bytes(v, message, field).decode("utf-8", "replace") for n, _, v in read_fields(data) if n == 1]
    return decode_message(kind, data, path)


def _decode_packed(field: Field, data: bytes) -> list[int | bool]:
    """A packed run of varints (proto3 style; gogo's proto2 output is unpacked, both are valid)."""
    out: list[int | bool] = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        out.append(value != 0 if field.kind == "bool" else signed(value, 32 if field.kind == "int32" else 64))
    return out


def _decode_entry(field: Field, data: bytes, message: str, path: str) -> tuple[str, Any]:
    """One map entry message {1: key, 2: value}; missing parts are zero values."""
    key, item = "", None
    for number, wire, value in read_fields(data):
        if number == 1:
            key = _need_bytes(value, message, field).decode("utf-8", "replace")
        elif number == 2:
            item = _decode_value(field, wire, value, message, f"{path}[{key}]")
        else:
            raise _unsupported(f"field number {number} of a map entry of {message}.{field.name} is not "
                               f"known to this sandbox")
    if item is None:  # no value on the wire: the zero value of its type
        wire, zero = (VARINT, 0) if field.kind in NUMERIC else (LEN, b"")
        item = _decode_value(field, wire, zero, message, path)
    return key, item


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
GO_ZERO_TIME_SECONDS = -62135596800
"""Unix seconds of Go's zero time.Time (0001-01-01T00:00:00Z)."""


def _decode_time(data: bytes, micro: bool) -> str | None:
    """A metav1.Timestamp {1: seconds, 2: nanos} as Time/MicroTime JSON; None when zero.

    Time's JSON has whole seconds only (upstream drops nanos even on the wire);
    MicroTime has microseconds (RFC3339Micro).
    """
    if not data:
        return None
    seconds = nanos = 0
    for number, wire, value in read_fields(data):
        if wire != VARINT or number not in (1, 2) or not isinstance(value, int):
            raise _malformed(f"unexpected field {number} in a Timestamp")
        if number == 1:
            seconds = signed(value, 64)
        else:
            nanos = signed(value, 32)
    if seconds == GO_ZERO_TIME_SECONDS and nanos == 0:
        return None
    try:
        moment = EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000 if micro else 0)
    except OverflowError as exc:
        raise _malformed(f"timestamp {seconds}s is out of range") from exc
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}"
    return f"{text}.{moment.microsecond:06d}Z" if micro else f"{text}Z"


def _decode_quantity(data: bytes) -> str:
    """resource.Quantity is ``message Quantity { optional string string = 1; }`` (its canonical text)."""
    text = "0"
    for number, _wire, value in read_fields(data):
        if number != 1 or not isinstance(value, bytes):
            raise _malformed(f"unexpected field {number} in a Quantity")
        text = value.decode("utf-8", "replace")
    return text


def _decode_int_or_string(data: bytes) -> int | str:
    """intstr.IntOrString is {1: type (0 int, 1 string), 2: intVal, 3: strVal}."""
    type_, int_val, str_val = 0, 0, ""
    for number, _wire, value in read_fields(data):
        if number == 1 and isinstance(value, int):
            type_ = value
        elif number == 2 and isinstance(value, int):
            int_val = signed(value, 32)
        elif number == 3 and isinstance(value, bytes):
            str_val = value.decode("utf-8", "replace")
        else:
            raise _malformed(f"unexpected field {number} in an IntOrString")
    return str_val if type_ == 1 else int_val


def _decode_fields_v1(data: bytes, path: str) -> Any:
    """metav1.FieldsV1 is {1: raw JSON}; its JSON form is that JSON itself."""
    raw = b""
    for number, _wire, value in read_fields(data):
        if number != 1 or not isinstance(value, bytes):
            raise _malformed(f"unexpected field {number} in FieldsV1")
        raw = value
    try:
        return json.loads(raw) if raw else {}
    except ValueError as exc:
        raise _malformed(f"{path}: FieldsV1 does not hold JSON: {exc}") from exc


def _need_bytes(value: int | bytes, message: str, field: Field) -> bytes:
    if not isinstance(value, bytes):
        raise _malformed(f"field {field.number} ({field.name or 'inline'}) of {message} is a number on "
                         f"the wire, expected length-delimited data")
    return value


HINT = ("; send the object as JSON instead, e.g. `kubectl create ... --dry-run=client -o json | "
        "kubectl apply -f -`")


def _unsupported(message: str) -> errors.ApiError:
    return errors.ApiError(message + HINT, 415, "UnsupportedMediaType")


def _malformed(message: str) -> errors.ApiError:
    return errors.ApiError(f"invalid protobuf request body: {message}" + HINT, 400, "BadRequest")
