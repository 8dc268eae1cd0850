"""``k8snet doctor``: works without Docker and says so; names each problem with its fix."""

from __future__ import annotations

import socket

import pytest
from tests.kind.conftest import NO_ENGINE, docker_json

from k8snet import cli, doctor


def by_name(findings, area, name):
    return next(f for f in findings if f.area == area and f.name == name)


def test_without_docker_the_sandbox_is_fine_and_doctor_says_so(fake, monkeypatch, capsys):
    monkeypatch.delenv("K8SNET_BACKEND", raising=False)
    findings = doctor.diagnose(canary=False)
    docker = by_name(findings, "tools", "docker")
    assert docker.state == doctor.WARN
    assert docker.detail == "docker: command not found — only the kind backend needs it; the sandbox works without Docker"
    assert "docs.docker.com" in docker.fix
    assert by_name(findings, "tools", "kind").state == doctor.WARN
    assert by_name(findings, "tools", "kubectl").state == doctor.INFO  # optional
    assert by_name(findings, "backend", "active").detail.startswith("sandbox (the default")
    assert by_name(findings, "kind", "cluster").detail.startswith("not checked: the kind backend needs")
    assert not [f for f in findings if f.state == doctor.FAIL]
    assert cli.main(["doctor", "--no-canary"]) == 0
    out = capsys.readouterr().out
    assert "! docker" in out and "fix: install Docker Engine" in out and out.rstrip().endswith("2 warning(s)")


def test_with_the_kind_backend_chosen_missing_tools_are_failures(fake, monkeypatch, capsys):
    monkeypatch.setenv("K8SNET_BACKEND", "kind")
    findings = doctor.diagnose(canary=False)
    assert by_name(findings, "tools", "docker").state == doctor.FAIL
    assert by_name(findings, "tools", "kind").state == doctor.FAIL
    assert by_name(findings, "kind", "cluster").state == doctor.FAIL
    assert cli.main(["doctor", "--no-canary"]) == 1
    assert "✗ docker" in capsys.readouterr().out


def test_docker_without_engine_and_an_old_kind_are_reported_with_versions(fake, monkeypatch):
    monkeypatch.delenv("K8SNET_BACKEND", raising=False)
    fake.add("docker", [(["docker", "version"], docker_json("28.2.2", None), NO_ENGINE, 1)])
    fake.add("kind", [(["kind", "version"], "kind v0.20.0 go1.20.4 linux/amd64\n", "", 0)])
    fake.add("kubectl", [(["kubectl", "version"], '{"clientVersion": {"gitVersion": "v1.33.1"}}', "", 0)])
    findings = doctor.diagnose(canary=False)
    docker = by_name(findings, "tools", "docker")
    assert "cannot reach a docker engine: Cannot connect to the Docker daemon" in docker.detail
    kind = by_name(findings, "tools", "kind")
    assert kind.state == doctor.WARN and "kind v0.20.0 is too old" in kind.detail
    kubectl = by_name(findings, "tools", "kubectl")
    assert kubectl.state == doctor.OK and kubectl.detail.startswith("v1.33.1 (")


def test_a_working_docker_and_kind_without_a_cluster(fake, monkeypatch):
    monkeypatch.setenv("K8SNET_BACKEND", "kind")
    fake.add("docker", [(["docker", "version"], docker_json("28.2.2", "28.1.1"), "", 0)])
    fake.add("kind", [(["kind", "version"], "kind v0.32.0 go1.26.3 linux/amd64\n", "", 0),
                      (["kind", "get", "clusters"], "", "No kind clusters found.\n", 0)])
    findings = doctor.diagnose(canary=True)
    assert by_name(findings, "tools", "docker").detail.startswith("client 28.2.2, engine 28.1.1 (")
    cluster = by_name(findings, "kind", "cluster")
    assert (cluster.state, cluster.detail, cluster.fix) == (doctor.FAIL, "no kind cluster named k8snet",
                                                            "`k8snet kind up`")
    assert by_name(findings, "policy", "NetworkPolicy").detail == "not checked: no reachable kind cluster"


def test_a_busy_edge_port_is_named_with_the_way_out(fake, monkeypatch):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", str(port))
        finding = by_name(doctor.diagnose(canary=False), "ports", f"127.0.0.1:{port}")
    assert finding.state == doctor.WARN and "in use by another program" in finding.detail
    assert "K8SNET_EDGE_HTTP_PORT" in finding.fix


def test_an_unknown_backend_is_a_failure(fake, monkeypatch):
    monkeypatch.setenv("K8SNET_BACKEND", "minikube")
    active = by_name(doctor.diagnose(), "backend", "active")
    assert active.state == doctor.FAIL and "set K8SNET_BACKEND to sandbox or kind" in active.fix


def test_doctor_runs_the_policy_canary_on_a_running_sandbox(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no kind: the sandbox alone
    monkeypatch.delenv("K8SNET_BACKEND", raising=False)
    findings = doctor.diagnose(canary=True)
    assert by_name(findings, "sandbox", "process").detail.startswith(f"running at {sandbox.running.server}")
    policy = by_name(findings, "policy", "NetworkPolicy")
    assert policy.state in (doctor.OK, doctor.FAIL)
    assert policy.detail.split(":")[0] in ("enforced", "NOT enforced")


@pytest.mark.parametrize("argv", [["kind", "up"], ["kind", "status"]])
def test_kind_commands_without_docker_print_the_fix_and_fail(fake, capsys, argv):
    assert cli.main(argv) == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert "docker: command not found" in text and "fix: install Docker Engine" in text


@pytest.mark.parametrize("argv", [["doctor", "--no-canary"], ["kind", "up"]])
def test_a_bad_edge_port_setting_is_an_error_message(fake, monkeypatch, capsys, argv):
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", "https")
    assert cli.main(argv) == 2
    assert "error: $K8SNET_EDGE_HTTPS_PORT='https' is not a port number (1-65535)" in capsys.readouterr().err


def test_the_sandboxs_own_edge_is_recognised(sandbox, tmp_path, monkeypatch):
    from k8snet.sandbox import process

    running = process.status()
    if running is None or running.edge_http_port is None:
        pytest.skip("this sandbox has no ingress edge")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("K8SNET_EDGE_HTTP_PORT", str(running.edge_http_port))
    monkeypatch.setenv("K8SNET_EDGE_HTTPS_PORT", str(running.edge_https_port))
    findings = doctor.diagnose(canary=False)
    for port in (running.edge_http_port, running.edge_https_port):
        finding = by_name(findings, "ports", f"127.0.0.1:{port}")
        assert finding.state == doctor.OK and "the sandbox's ingress edge" in finding.detail
