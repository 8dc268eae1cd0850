"""A container whose ``env``/``envFrom`` names a ConfigMap, a Secret or a key that does not exist is not created, as
on kind: pkg/kubelet/kubelet_pods.go ``makeEnvironmentVariables`` fails ``generateContainerConfig``
(pkg/kubelet/kuberuntime/kuberuntime_container.go ``startContainer``), the kubelet records a Warning ``Failed``
event ``Error: MESSAGE`` and the container waits with reason ``CreateContainerConfigError``; the pod worker
syncs again after its back-off (pkg/kubelet/pod_workers.go: 10 s plus up to half of it, on the sandbox clock
here, so the tests advance the clock), and the first sync after the object exists starts the container.
``optional: true`` skips a missing object or key."""

from __future__ import annotations

import json

from kubernetes import client
from tests.conftest import wait_for

from k8snet.sandbox import process

BUSYBOX = "busybox:1.36"
BACKOFF = 16  # pod_workers.go: wait.Jitter(backOffPeriod 10s, 0.5) is at most 15 s


def pod(name: str, env: list | None = None, env_from: list | None = None, init: bool = False) -> dict:
    refs = {k: v for k, v in (("env", env), ("envFrom", env_from)) if v}
    main = {"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}
    spec: dict = {"containers": [main], "terminationGracePeriodSeconds": 0}
    if init:  # the init container holds the references and leaves what it saw for the app container
        spec["volumes"] = [{"name": "shared", "emptyDir": {}}]
        spec["initContainers"] = [{"name": "setup", "image": BUSYBOX, "command": ["sh", "-c", "env > /out/env"],
                                   "volumeMounts": [{"name": "shared", "mountPath": "/out"}], **refs}]
        main["volumeMounts"] = [{"name": "shared", "mountPath": "/out"}]
    else:
        main.update(refs)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def apply(sandbox, ns: str, body: dict) -> None:
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(body))


def waiting(sandbox, ns: str, name: str, init: bool = False) -> dict:
    """The container's waiting state, once the kubelet has given up creating it."""
    key = "initContainerStatuses" if init else "containerStatuses"

    def state() -> dict | None:
        statuses = (sandbox.kubectl_json("-n", ns, "get", "pod", name).get("status") or {}).get(key) or []
        found = (statuses[0].get("state") or {}).get("waiting") if statuses else None
        return found if (found or {}).get("reason") == "CreateContainerConfigError" else None

    return wait_for(state, what=f"{name} waiting with CreateContainerConfigError")


def failed_events(sandbox, ns: str, name: str) -> list[dict]:
    return sandbox.kubectl_json("-n", ns, "get", "events", "--field-selector",
                                f"involvedObject.name={name},reason=Failed")["items"]


def advance(sandbox, seconds: float = BACKOFF) -> None:
    process.admin(sandbox.running, "clock", {"advance": seconds})


def test_a_missing_secret_waits_and_the_sync_after_it_exists_starts_the_container(sandbox, ns):
    apply(sandbox, ns, pod("app", env=[
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]))
    assert waiting(sandbox, ns, "app") == {"reason": "CreateContainerConfigError",
                                           "message": 'secret "db" not found'}
    row = sandbox.kubectl("-n", ns, "get", "pod", "app", "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "CreateContainerConfigError"]
    status = sandbox.kubectl_json("-n", ns, "get", "pod", "app")["status"]
    assert status["phase"] == "Pending" and status["podIP"]  # the pod's sandbox exists; the container does not
    [event] = failed_events(sandbox, ns, "app")
    assert (event["type"], event["message"], event["source"]["component"], event["involvedObject"]["fieldPath"]) \
        == ("Warning", 'Error: secret "db" not found', "kubelet", "spec.containers{main}")

    advance(sandbox)  # the pod worker's next sync fails again: the same event, counted
    wait_for(lambda: failed_events(sandbox, ns, "app")[0]["count"] >= 2, what="the Failed event counted twice")
    events = sandbox.kubectl("-n", ns, "describe", "pod", "app").stdout.split("Events:")[1]
    failed = next(line.split() for line in events.splitlines() if " Failed " in line)
    assert failed[:2] == ["Warning", "Failed"] and failed[3].startswith("(x") and failed[6:] == \
        ["kubelet", "Error:", "secret", '"db"', "not", "found"]
    assert any(line.split()[:2] == ["Normal", "Pulled"] for line in events.splitlines())
    assert "Started" not in events

    sandbox.kubectl("-n", ns, "create", "secret", "generic", "db", "--from-literal=password=s3cret")
    advance(sandbox)
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/app", "--timeout=20s")
    env = sandbox.kubectl("-n", ns, "exec", "app", "--", "env").stdout.splitlines()
    assert "DB_PASSWORD=s3cret" in env


def test_missing_keys_and_configmaps_have_the_kubelets_words(sandbox, ns):
    """kubelet_pods.go: ``couldn't find key K in Secret NS/N``, ``configmap "N" not found`` (the watch-based
    manager's NotFound, singular), ``couldn't find key K in ConfigMap NS/N``; envFrom is resolved before env."""
    core = client.CoreV1Api(sandbox.api_client())
    core.create_namespaced_secret(ns, {"metadata": {"name": "db"}, "stringData": {"user": "shop"}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "flags"}, "data": {"beta": "on"}})
    cases = {
        "nokey": ([{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}], None,
                  f"couldn't find key password in Secret {ns}/db"),
        "nocm": ([{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}], None,
                 'configmap "settings" not found'),
        "nocmkey": ([{"name": "G", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "gamma"}}}], None,
                    f"couldn't find key gamma in ConfigMap {ns}/flags"),
        "nofrom": ([{"name": "G", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "gamma"}}}],
                   [{"secretRef": {"name": "tls"}}], 'secret "tls" not found'),
    }
    for name, (env, env_from, _) in cases.items():
        core.create_namespaced_pod(ns, pod(name, env, env_from))
    for name, (_, _, message) in cases.items():
        assert waiting(sandbox, ns, name)["message"] == message
        assert core.read_namespaced_pod(name, ns).status.phase == "Pending"
    assert {e["message"] for e in failed_events(sandbox, ns, "nofrom")} == {'Error: secret "tls" not found'}


def test_optional_references_start_the_pod_without_the_variables(sandbox, ns):
    """``optional: true``: a missing object or key sets nothing, an envFrom of a missing object adds nothing. Since
    1.30 an envFrom key that is no C identifier is passed as it is (kubernetes/kubernetes#123385); fieldRef and
    resourceFieldRef resolve as podFieldSelectorRuntimeValue and ExtractContainerResourceValue do."""
    sandbox.kubectl("-n", ns, "create", "configmap", "flags", "--from-literal=beta=on",
                    "--from-literal=app.mode=fast")
    body = pod("opt", env=[
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}},
        {"name": "G", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "gamma", "optional": True}}},
        {"name": "GREETING", "value": "beta is $(FLAG_beta), $(NOPE) and $$(FLAG_beta)"},
        {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
        {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
    ], env_from=[{"configMapRef": {"name": "flags"}, "prefix": "FLAG_"},
                 {"secretRef": {"name": "nowhere", "optional": True}}])
    body["metadata"]["labels"] = {"tier": "web"}
    body["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "250m"}, "limits": {"memory": "64Mi"}}
    apply(sandbox, ns, body)
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/opt", "--timeout=20s")
    env = sandbox.kubectl("-n", ns, "exec", "opt", "--", "env").stdout.splitlines()
    assert {"FLAG_beta=on", "FLAG_app.mode=fast", "GREETING=beta is on, $(NOPE) and $(FLAG_beta)", "TIER=web",
            "MEM_MI=64", "CPU=250"} <= set(env)
    assert not [line for line in env if line.startswith(("P=", "G="))]
    assert failed_events(sandbox, ns, "opt") == []


def test_an_init_container_with_a_missing_envfrom_secret_holds_the_pod_back(sandbox, ns):
    apply(sandbox, ns, pod("init", env_from=[{"secretRef": {"name": "identity"}}], init=True))
    assert waiting(sandbox, ns, "init", init=True)["message"] == 'secret "identity" not found'
    assert sandbox.kubectl("-n", ns, "get", "pod", "init", "--no-headers").stdout.split()[2] == \
        "Init:CreateContainerConfigError"
    main = sandbox.kubectl_json("-n", ns, "get", "pod", "init")["status"]["containerStatuses"][0]
    assert main["state"] == {"waiting": {"reason": "PodInitializing"}}
    [event] = failed_events(sandbox, ns, "init")
    assert event["involvedObject"]["fieldPath"] == "spec.initContainers{setup}"

    sandbox.kubectl("-n", ns, "create", "secret", "generic", "identity", "--from-literal=ID=checkout")
    advance(sandbox)
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/init", "--timeout=20s")
    assert "ID=checkout" in sandbox.kubectl("-n", ns, "exec", "init", "--", "cat", "/out/env").stdout.splitlines()


def test_an_ephemeral_container_with_a_missing_secret_waits_too(sandbox, ns):
    """pods/ephemeralcontainers through the kubernetes client: the ephemeral container goes through the same
    startContainer, so it waits with CreateContainerConfigError until a sync finds its Secret."""
    core = client.CoreV1Api(sandbox.api_client())
    core.create_namespaced_pod(ns, pod("target"))
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/target", "--timeout=20s")
    debugger = {"name": "debugger", "image": BUSYBOX, "command": ["sleep", "3600"],
                "envFrom": [{"secretRef": {"name": "debug-token"}}]}
    core.patch_namespaced_pod_ephemeralcontainers("target", ns, {"spec": {"ephemeralContainers": [debugger]}})

    def ephemeral() -> dict:
        statuses = core.read_namespaced_pod("target", ns).status.ephemeral_container_statuses or []
        return statuses[0].state.to_dict() if statuses else {}

    state = wait_for(lambda: (ephemeral().get("waiting") or {}).get("message"), what="the debugger waiting")
    assert state == 'secret "debug-token" not found'
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "debug-token", "--from-literal=TOKEN=t0k")
    advance(sandbox)
    wait_for(lambda: ephemeral().get("running"), what="the debugger running")
    assert "TOKEN=t0k" in sandbox.kubectl("-n", ns, "exec", "target", "-c", "debugger", "--", "env").stdout


def test_a_restart_after_the_secret_was_deleted_waits_with_its_last_state_kept(sandbox, ns):
    """A restart goes through startContainer again: the container that exited keeps its lastState and restart
    count, and waits for the Secret like a first start."""
    sandbox.kubectl("-n", ns, "create", "secret", "generic", "db", "--from-literal=password=s3cret")
    body = pod("crashy", env=[{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])
    body["spec"]["containers"][0]["command"] = ["sh", "-c", "sleep 2; exit 3"]
    apply(sandbox, ns, body)
    sandbox.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/crashy", "--timeout=20s")
    sandbox.kubectl("-n", ns, "delete", "secret", "db")
    assert waiting(sandbox, ns, "crashy")["message"] == 'secret "db" not found'
    cs = sandbox.kubectl_json("-n", ns, "get", "pod", "crashy")["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 0

    sandbox.kubectl("-n", ns, "create", "secret", "generic", "db", "--from-literal=password=again")
    advance(sandbox)

    def restarted() -> dict | None:
        cs = sandbox.kubectl_json("-n", ns, "get", "pod", "crashy")["status"]["containerStatuses"][0]
        return cs if cs["restartCount"] == 1 else None

    cs = wait_for(restarted, what="the container restarted once")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
