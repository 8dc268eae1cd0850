"""Jobs (batch/v1) through kubectl as tutorials use them: create, wait for completion, read the logs; a
failing Job ends Failed at its backoffLimit. Conditions and events as the 1.33 job controller writes them
(SuccessCriteriaMet then Complete, reason CompletionsReached; FailureTarget then Failed, BackoffLimitExceeded).
"""

from __future__ import annotations

from tests.conftest import wait_for


def test_kubectl_create_job_runs_to_completion(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "job", "hello", "--image=busybox:1.36", "--", "sh", "-c",
                    "echo hello from $(hostname)")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=complete", "job/hello", "--timeout=30s")
    assert sandbox.kubectl("-n", ns, "logs", "job/hello").stdout.startswith("hello from hello-")
    job = sandbox.kubectl_json("-n", ns, "get", "job", "hello")
    assert [(c["type"], c["reason"]) for c in job["status"]["conditions"]] == [
        ("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert job["status"]["succeeded"] == 1 and job["status"]["uncountedTerminatedPods"] == {}
    assert job["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}
    row = sandbox.kubectl("-n", ns, "get", "job", "hello", "--no-headers").stdout.split()
    assert row[:3] == ["hello", "Complete", "1/1"]
    pods = sandbox.kubectl("-n", ns, "get", "pods", "-l", "job-name=hello", "--no-headers").stdout
    assert " Completed " in pods


def test_completions_and_parallelism(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: batch, namespace: {ns}}}
spec:
  completions: 4
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: "busybox:1.36", command: [sh, -c, "sleep 0.3; echo done"]}}]
""")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=complete", "job/batch", "--timeout=60s")
    assert sandbox.kubectl_json("-n", ns, "get", "job", "batch")["status"]["succeeded"] == 4
    assert len(sandbox.kubectl_json("-n", ns, "get", "pods", "-l", "job-name=batch")["items"]) == 4


def test_a_job_that_keeps_failing_ends_failed_at_its_backoff_limit(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: broken, namespace: {ns}}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: "busybox:1.36", command: [sh, -c, "echo cannot; exit 1"]}}]
""")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=failed", "job/broken", "--timeout=30s")
    job = sandbox.kubectl_json("-n", ns, "get", "job", "broken")
    assert [(c["type"], c["reason"]) for c in job["status"]["conditions"]] == [
        ("FailureTarget", "BackoffLimitExceeded"), ("Failed", "BackoffLimitExceeded")]
    events = sandbox.kubectl("-n", ns, "get", "events", "--field-selector", "involvedObject.name=broken").stdout
    assert "Job has reached the specified backoff limit" in events


def test_a_job_needs_a_restart_policy_that_ends(sandbox, ns):
    proc = sandbox.kubectl("-n", ns, "apply", "-f", "-", check=False, input=f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: forever, namespace: {ns}}}
spec:
  template:
    spec:
      restartPolicy: Always
      containers: [{{name: work, image: "busybox:1.36"}}]
""")
    assert proc.returncode == 1
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"' \
        in proc.stderr


def test_ttl_after_finished_deletes_the_job(sandbox, ns):
    sandbox.kubectl("-n", ns, "apply", "-f", "-", input=f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: brief, namespace: {ns}}}
spec:
  ttlSecondsAfterFinished: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: "busybox:1.36", command: [echo, ok]}}]
""")
    wait_for(lambda: sandbox.kubectl("-n", ns, "get", "job", "brief", check=False).returncode == 1, timeout=30,
             what="the finished Job to be deleted")


def test_a_cronjob_is_stored_and_a_job_can_be_made_from_it(sandbox, ns):
    sandbox.kubectl("-n", ns, "create", "cronjob", "nightly", "--image=busybox:1.36", "--schedule=0 3 * * *",
                    "--", "echo", "from the cronjob")
    row = sandbox.kubectl("-n", ns, "get", "cronjob", "nightly", "--no-headers").stdout.split()
    assert row[:7] == ["nightly", "0", "3", "*", "*", "*", "<none>"]  # the schedule's five fields, no time zone
    events = wait_for(lambda: "NotEmulated" in (out := sandbox.kubectl("-n", ns, "get", "events").stdout) and out,
                      what="the CronJob's warning")
    assert "CronJob schedules do not run in the sandbox" in events
    sandbox.kubectl("-n", ns, "create", "job", "now", "--from=cronjob/nightly")
    sandbox.kubectl("-n", ns, "wait", "--for=condition=complete", "job/now", "--timeout=30s")
    assert sandbox.kubectl("-n", ns, "logs", "job/now").stdout == "from the cronjob\n"
    bad = sandbox.kubectl("-n", ns, "create", "cronjob", "bad", "--image=busybox:1.36", "--schedule=every day",
                          check=False)
    assert bad.returncode == 1 and "spec.schedule: Invalid value" in bad.stderr
