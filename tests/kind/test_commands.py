"""Host commands: what k8snet runs (exact argv) and what it says when docker or kind is missing or too old.

The programs on PATH are fakes (tests/kind/conftest.py) that record their argv
and answer as the real tools do; no Docker is needed.
"""

from __future__ import annotations

import socket

import pytest
import yaml
from tests.kind.conftest import NO_ENGINE, docker_json, free_port

from k8snet import kubeconfig
from k8snet.kind import commands, lifecycle, versions

KIND_OK = (["kind", "version"], "kind v0.32.0 go1.26.3 linux/amd64\n", "", 0)


# -- missing, unreachable, too old -----------------------------------------------------------------


def test_missing_docker_says_how_to_install_it(fake):
    info = commands.docker_info()
    assert not info.ok and info.path is None
    with pytest.raises(commands.ToolMissing) as err:
        commands.require(info)
    assert "docker: command not found" in str(err.value)
    assert "https://docs.docker.com/engine/install/" in err.value.fix


def test_running_a_missing_program_raises_tool_missing_like_a_shell(fake):
    with pytest.raises(commands.ToolMissing, match="kind: command not found") as err:
        commands.run(["kind", "get", "clusters"])
    assert f"kind@{versions.KIND_VERSION}" in err.value.fix


def test_docker_without_an_engine_names_the_reason_and_the_fix(fake):
    fake.add("docker", [(["docker", "version"], docker_json(server=None), NO_ENGINE, 1)])
    info = commands.docker_info()
    assert info.version == "27.3.1" and info.server_version is None
    with pytest.raises(commands.DaemonUnreachable) as err:
        commands.require(info)
    assert "cannot reach a docker engine: Cannot connect to the Docker daemon" in err.value.message
    assert "docker info` must work without sudo" in err.value.fix


def test_an_old_docker_engine_is_refused_with_the_minimum(fake):
    fake.add("docker", [(["docker", "version"], docker_json("19.03.15", "19.03.15"), "", 0)])
    with pytest.raises(commands.ToolTooOld, match=r"docker engine 19\.03\.15 is too old: kind needs 20\.10\.0"):
        commands.require(commands.docker_info())


def test_a_current_docker_is_fine(fake):
    fake.add("docker", [(["docker", "version"], docker_json("28.2.2", "28.1.1"), "", 0)])
    info = commands.require(commands.docker_info())
    assert (info.version, info.server_version) == ("28.2.2", "28.1.1")
    assert fake.calls() == [["docker", "version", "--format", "{{json .}}"]]


def test_missing_kind_names_the_pinned_release(fake):
    with pytest.raises(commands.ToolMissing) as err:
        commands.require(commands.kind_info())
    assert "kind: command not found" in err.value.message
    assert "https://kind.sigs.k8s.io/dl/v0.32.0/" in err.value.fix


@pytest.mark.parametrize("printed", ["kind v0.23.0 go1.22.4 linux/amd64", "kind v0.29.0 go1.24.2 darwin/arm64"])
def test_an_old_kind_is_refused_with_the_reason(fake, printed):
    fake.add("kind", [(["kind", "version"], printed + "\n", "", 0)])
    with pytest.raises(commands.ToolTooOld) as err:
        commands.require(commands.kind_info())
    assert "too old: k8snet needs kind v0.32.0 or newer" in err.value.message
    assert "NetworkPolicy enforcement arrived in v0.24.0" in err.value.message
    assert "go install sigs.k8s.io/kind@v0.32.0" in err.value.fix


@pytest.mark.parametrize("printed,version", [("kind v0.32.0 go1.26.3 linux/amd64", "v0.32.0"),
                                             ("kind v0.33.0-alpha+fed26882 go1.26.7 linux/amd64", "v0.33.0")])
def test_current_and_prerelease_kind_are_fine(fake, printed, version):
    fake.add("kind", [(["kind", "version"], printed + "\n", "", 0)])
    assert commands.require(commands.kind_info()).version == version


def test_unreadable_kind_version_is_a_problem_not_a_crash(fake):
    fake.add("kind", [(["kind", "version"], "", "Segmentation fault\n", 139)])
    info = commands.kind_info()
    assert not info.ok and "could not read kind's version" in info.problem


def test_kubectl_is_optional_and_skew_is_reported(fake):
    assert "optional" in commands.kubectl_info().problem
    fake.add("kubectl", [(["kubectl", "version"], '{"clientVersion": {"gitVersion": "v1.29.0"}}', "", 0)])
    info = commands.kubectl_info()
    assert info.version == "v1.29.0" and "outside the supported skew" in info.problem
    fake.add("kubectl", [(["kubectl", "version"], '{"clientVersion": {"gitVersion": "v1.33.2"}}', "", 0)])
    assert commands.kubectl_info().ok


def test_up_stops_at_preflight_and_says_which_step_failed(fake):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0)])
    said: list[str] = []
    with pytest.raises(commands.ToolMissing, match="kind: command not found"):
        lifecycle.up(say=said.append)
    assert said == ["• check docker and kind …", "✗ check docker and kind"]
    assert [c[0] for c in fake.calls()] == ["docker"]  # nothing was created


# -- running commands -----------------------------------------------------------------------------


def test_a_failing_command_reports_argv_exit_code_and_output(fake):
    fake.add("kind", [(["kind", "create"], "", "ERROR: failed to create cluster: node(s) already exist\n", 1)])
    with pytest.raises(commands.CommandFailed) as err:
        commands.run(["kind", "create", "cluster", "--name", "k8snet"])
    assert err.value.returncode == 1
    assert str(err.value).startswith("`kind create cluster --name k8snet` failed (exit 1):")
    assert "node(s) already exist" in str(err.value)


def test_echo_passes_each_line_on(fake):
    fake.add("kind", [(["kind", "load"], "Image: a\nImage: b\n", "", 0)])
    lines: list[str] = []
    done = commands.run(["kind", "load", "docker-image", "a", "b"], echo=lines.append)
    assert lines == ["Image: a", "Image: b"] and done.returncode == 0


@pytest.mark.parametrize("echo", [None, print])
def test_a_hanging_command_times_out_with_its_name(fake, echo):
    slow = fake.bin / "slow"
    slow.write_text("#!/bin/sh\nexec /bin/sleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(TimeoutError, match=r"`slow x` did not finish within 0.5s"):
        commands.run(["slow", "x"], timeout=0.5, echo=echo)


def test_argv_builders():
    from pathlib import Path

    assert commands.kind_create_argv(Path("/h/kind-config.yaml")) == [
        "kind", "create", "cluster", "--name", "k8snet", "--config", "/h/kind-config.yaml", "--wait", "0s"]
    assert commands.kind_delete_argv() == ["kind", "delete", "cluster", "--name", "k8snet"]
    assert commands.kind_load_argv(["a:1", "b:2"]) == ["kind", "load", "docker-image", "a:1", "b:2", "--name", "k8snet"]
    assert commands.kind_export_kubeconfig_argv() == ["kind", "export", "kubeconfig", "--name", "k8snet"]
    assert commands.docker_pull_argv("nginx:1.29.1") == ["docker", "pull", "nginx:1.29.1"]
    assert commands.docker_stop_argv("c") == ["docker", "stop", "--time", "30", "c"]
    assert commands.docker_ps_label_argv("io.x-k8s.cloud-provider-kind.cluster", "k8snet") == [
        "docker", "ps", "--all", "--quiet", "--filter", "label=io.x-k8s.cloud-provider-kind.cluster=k8snet"]


# -- lifecycle steps, through the fakes ----------------------------------------------------------------


def test_a_new_cluster_is_created_from_the_generated_config(fake, tmp_path):
    fake.add("kind", [(["kind", "get", "clusters"], "", "No kind clusters found.\n", 0),
                      (["kind", "create"], "", "Creating cluster \"k8snet\" ...\n ✓ Ensuring node image\n", 0)])
    http_port, https_port = free_port(), free_port()
    said: list[str] = []
    run = lifecycle._Run(lifecycle.Options(http_port=http_port, https_port=https_port), said.append)
    lifecycle.ensure_cluster(run)
    path = tmp_path / "home" / "kind" / "kind-config.yaml"
    assert fake.calls() == [["kind", "get", "clusters"],
                            ["kind", "create", "cluster", "--name", "k8snet", "--config", str(path), "--wait", "0s"]]
    written = yaml.safe_load(path.read_text())
    assert [m["hostPort"] for m in written["nodes"][0]["extraPortMappings"]] == [http_port, https_port]
    assert "   ✓ Ensuring node image" in said and run.report.created


def test_an_existing_cluster_is_reused_and_its_context_restored(fake):
    fake.add("kind", [(["kind", "get", "clusters"], "other\nk8snet\n", "", 0),
                      (["kind", "export", "kubeconfig"], "", "Set kubectl context to \"kind-k8snet\"\n", 0)])
    fake.add("docker", [(["docker", "port"], "32080/tcp -> 127.0.0.1:8080\n32443/tcp -> 127.0.0.1:8443\n", "", 0)])
    said: list[str] = []
    run = lifecycle._Run(lifecycle.Options(http_port=8080, https_port=8443), said.append)
    lifecycle.ensure_cluster(run)
    # the published ports first: a Karmada host's context kind-NAME is its karmada-apiserver, never exported over
    assert fake.calls() == [["kind", "get", "clusters"], ["docker", "port", "k8snet-control-plane"],
                            ["kind", "export", "kubeconfig", "--name", "k8snet"]]
    assert not run.report.created and said == []


def test_an_existing_cluster_on_other_ports_gets_a_note(fake):
    fake.add("kind", [(["kind", "get", "clusters"], "k8snet\n", "", 0)])
    fake.add("docker", [(["docker", "port"], "32080/tcp -> 127.0.0.1:9080\n32443/tcp -> 127.0.0.1:8443\n", "", 0)])
    kubeconfig.add_context("kind-k8snet", "https://127.0.0.1:1", "t")
    said: list[str] = []
    lifecycle.ensure_cluster(lifecycle._Run(lifecycle.Options(http_port=8080, https_port=8443), said.append))
    assert len(said) == 1 and "does not publish edge port 8080 (mapped: 127.0.0.1:9080)" in said[0]


def test_busy_edge_ports_stop_creation_before_kind_runs(fake):
    fake.add("kind", [(["kind", "get", "clusters"], "", "", 0)])
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        busy = held.getsockname()[1]
        run = lifecycle._Run(lifecycle.Options(http_port=busy, https_port=free_port()), print)
        with pytest.raises(commands.ToolError, match=rf"127\.0\.0\.1:{busy} is already in use") as err:
            lifecycle.ensure_cluster(run)
    assert "K8SNET_EDGE_HTTP_PORT" in err.value.fix
    assert fake.calls() == [["kind", "get", "clusters"]]


def test_preload_pulls_only_missing_images_then_loads_all(fake):
    agnhost, echo, nginx, netshoot = versions.LESSON_IMAGES
    fake.add("docker", [(["docker", "image", "inspect", "--format", "{{.Id}}", agnhost], "sha256:aa\n", "", 0),
                        (["docker", "image", "inspect"], "", "Error: No such image\n", 1),
                        (["docker", "pull"], "done\n", "", 0)])
    fake.add("kind", [(["kind", "load"], "", "", 0)])
    said: list[str] = []
    lifecycle.preload_images(lifecycle._Run(lifecycle.Options(), said.append))
    calls = fake.calls()
    assert [c for c in calls if c[1] == "pull"] == [["docker", "pull", echo], ["docker", "pull", nginx],
                                                     ["docker", "pull", netshoot]]
    assert calls[-1] == ["kind", "load", "docker-image", agnhost, echo, nginx, netshoot, "--name", "k8snet"]


@pytest.mark.parametrize("state,expected,done", [
    ("", ["docker", "run", "--detach"], "started"),
    ("exited\n", ["docker", "start", "k8snet-cloud-provider-kind"], "restarted"),
    ("running\n", None, "running"),
])
def test_cloud_provider_is_started_once_and_restarted_when_stopped(fake, state, expected, done):
    fake.add("docker", [(["docker", "container", "inspect"], state, "" if state else "Error: No such container\n",
                         0 if state else 1), (["docker", "run"], "abc123\n", "", 0), (["docker", "start"], "", "", 0)])
    assert lifecycle.start_cloud_provider() == done
    calls = fake.calls()
    assert calls[0] == ["docker", "container", "inspect", "--format", "{{.State.Status}}", "k8snet-cloud-provider-kind"]
    if expected is None:
        assert len(calls) == 1
    else:
        assert calls[1][:len(expected)] == expected and len(calls) == 2


def test_down_stops_cloud_provider_removes_its_load_balancers_and_deletes_the_cluster(fake):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0),
                        (["docker", "container", "inspect"], "running\n", "", 0),
                        (["docker", "stop"], "", "", 0), (["docker", "rm"], "", "", 0),
                        (["docker", "ps"], "lb1\nlb2\n", "", 0)])
    fake.add("kind", [(["kind", "get", "clusters"], "k8snet\n", "", 0),
                      (["kind", "delete"], "", "Deleting cluster \"k8snet\" ...\n", 0)])
    kubeconfig.add_context("kind-k8snet", "https://127.0.0.1:1", "t")
    said: list[str] = []
    assert lifecycle.down(say=said.append) is True
    assert fake.calls() == [
        ["docker", "version", "--format", "{{json .}}"],
        ["docker", "container", "inspect", "--format", "{{.State.Status}}", "k8snet-cloud-provider-kind"],
        ["kind", "get", "clusters"],  # no other kind cluster needs cloud-provider-kind
        ["docker", "stop", "--time", "30", "k8snet-cloud-provider-kind"],
        ["docker", "rm", "--force", "k8snet-cloud-provider-kind"],
        ["docker", "ps", "--all", "--quiet", "--filter", "label=io.x-k8s.cloud-provider-kind.cluster=k8snet"],
        ["docker", "rm", "--force", "lb1", "lb2"],
        ["docker", "container", "inspect", "--format", "{{.State.Status}}", "k8snet-outside"],
        ["kind", "get", "clusters"],  # the outside world's hosts serve every kind cluster too: the last one goes
        ["docker", "rm", "--force", "k8snet-outside"],
        ["kind", "get", "clusters"],
        ["kind", "delete", "cluster", "--name", "k8snet"],
    ]
    assert "• removing k8snet-outside" in said
    assert kubeconfig.context("kind-k8snet") is None
    assert said[-1] == "kind cluster k8snet deleted."


def test_down_of_one_member_keeps_cloud_provider_for_the_others_and_removes_only_its_load_balancers(fake):
    """cloud-provider-kind serves every kind cluster on the host: deleting east leaves west's load balancers."""
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0),
                        (["docker", "container", "inspect"], "running\n", "", 0),
                        (["docker", "rm"], "", "", 0), (["docker", "ps"], "lb-east\n", "", 0)])
    fake.add("kind", [(["kind", "get", "clusters"], "east\nwest\n", "", 0),
                      (["kind", "delete"], "", "Deleting cluster \"east\" ...\n", 0)])
    kubeconfig.add_context("kind-east", "https://127.0.0.1:1", "t")
    kubeconfig.add_context("kind-west", "https://127.0.0.1:2", "t")
    said: list[str] = []
    assert lifecycle.down("east", say=said.append) is True
    calls = fake.calls()
    assert ["docker", "stop", "--time", "30", "k8snet-cloud-provider-kind"] not in calls
    assert ["docker", "ps", "--all", "--quiet", "--filter", "label=io.x-k8s.cloud-provider-kind.cluster=east"] in calls
    assert ["docker", "rm", "--force", "lb-east"] in calls
    assert calls[-1] == ["kind", "delete", "cluster", "--name", "east"]
    assert any("keeping k8snet-cloud-provider-kind" in line and "west" in line for line in said)
    assert ["docker", "rm", "--force", "k8snet-outside"] not in calls
    assert any("keeping k8snet-outside" in line and "west" in line for line in said)
    assert kubeconfig.context("kind-east") is None and kubeconfig.context("kind-west") is not None


def test_down_without_docker_or_kind_has_nothing_to_do(fake):
    said: list[str] = []
    assert lifecycle.down(say=said.append) is False
    assert "Neither docker nor kind is installed" in said[0]


def test_status_without_a_cluster_says_to_create_it(fake):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0)])
    fake.add("kind", [KIND_OK, (["kind", "get", "clusters"], "", "No kind clusters found.\n", 0)])
    st = lifecycle.status()
    assert not st.exists and not st.ready
    assert [(p.key, p.what, p.fix) for p in st.problems] == [
        ("cluster", "no kind cluster named k8snet", "create it with `k8snet kind up`")]


def test_status_with_a_cluster_but_no_context_says_how_to_restore_it(fake):
    fake.add("docker", [(["docker", "version"], docker_json(), "", 0)])
    fake.add("kind", [KIND_OK, (["kind", "get", "clusters"], "k8snet\n", "", 0)])
    st = lifecycle.status()
    assert st.exists and not st.context
    assert st.problems[0].key == "context" and "kind export kubeconfig --name k8snet" in st.problems[0].fix


def test_connect_kind_creates_the_cluster_or_says_why_it_cannot(fake):
    import k8snet

    with pytest.raises(k8snet.ConnectError, match="create it with `k8snet kind up`"):
        k8snet.connect("kind", start=False)
    with pytest.raises(k8snet.ConnectError, match="cannot create the kind cluster: docker: command not found") as err:
        k8snet.connect("kind")
    assert "fix: install Docker Engine" in str(err.value)


def test_an_api_server_that_does_not_answer_says_how_to_bring_it_back(fake):
    import socket

    with socket.socket() as held:  # bound, never listening: connections are refused, and no other test takes it
        held.bind(("127.0.0.1", 0))
        kubeconfig.add_context("kind-k8snet", f"https://127.0.0.1:{held.getsockname()[1]}", "t")
        run = lifecycle._Run(lifecycle.Options(), print)
        with pytest.raises(commands.ToolError, match="the API server of kind-k8snet does not answer") as err:
            lifecycle.connect(run)
    assert "docker start k8snet-control-plane k8snet-worker k8snet-worker2" in err.value.fix


def test_a_member_of_the_set_is_created_with_its_own_name_networks_and_edge_ports(fake, tmp_path, monkeypatch):
    """`k8snet kind up --name east`: `kind create cluster --name east` from east's config (context kind-east)."""
    monkeypatch.delenv("K8SNET_EDGE_HTTP_PORT", raising=False)
    monkeypatch.delenv("K8SNET_EDGE_HTTPS_PORT", raising=False)
    fake.add("kind", [(["kind", "get", "clusters"], "k8snet\n", "", 0),
                      (["kind", "create"], "", "Creating cluster \"east\" ...\n", 0)])
    opts = lifecycle.Options(name="east")
    assert (opts.http_port, opts.https_port) == (8180, 8543)  # east's own pair (k8snet.clusterset.edge_ports)
    http_port, https_port = free_port(), free_port()  # 8180/8543 may be taken on this machine
    lifecycle.ensure_cluster(lifecycle._Run(lifecycle.Options(name="east", http_port=http_port,
                                                              https_port=https_port), lambda line: None))
    path = tmp_path / "home" / "kind" / "kind-config-east.yaml"
    assert fake.calls()[-1] == ["kind", "create", "cluster", "--name", "east", "--config", str(path), "--wait", "0s"]
    written = yaml.safe_load(path.read_text())
    assert written["name"] == "east"
    assert (written["networking"]["podSubnet"], written["networking"]["serviceSubnet"]) == ("10.1.0.0/16",
                                                                                            "172.20.1.0/24")
