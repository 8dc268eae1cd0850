"""Fixtures for the kind backend's tests: fake host programs on PATH, and a real kind cluster when one can exist.

The fakes are real executables in a temp dir that PATH points to: the code under
test starts them through subprocess exactly as it would start docker and kind,
and they record their argv. Nothing of the Kubernetes API is faked.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = """#!{python}
import json, sys
argv = [{name!r}] + sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(argv) + "\\n")
for prefix, out, err, code in json.loads({rules!r}):
    if argv[:len(prefix)] == prefix:
        sys.stdout.write(out)
        sys.stderr.write(err)
        sys.exit(code)
sys.stderr.write("fake {name}: no rule for " + " ".join(argv) + "\\n")
sys.exit(97)
"""


class FakeTools:
    """A directory of fake programs; each answers by the first rule whose argv prefix matches."""

    def __init__(self, root: Path):
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.jsonl"
        self.log.touch()

    def add(self, name: str, rules: list[tuple[list[str], str, str, int]]) -> None:
        """``rules``: (argv prefix including the program name, stdout, stderr, exit code)."""
        path = self.bin / name
        path.write_text(SCRIPT.format(python=sys.executable, name=name, log=str(self.log),
                                      rules=json.dumps([list(r) for r in rules])))
        path.chmod(0o755)

    def calls(self, program: str | None = None) -> list[list[str]]:
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [c for c in lines if program is None or c[0] == program]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    """PATH holds only the fakes (add them with ``fake.add``); K8SNET_HOME, KUBECONFIG and edge ports are private."""
    tools = FakeTools(tmp_path)
    monkeypatch.setenv("PATH", str(tools.bin))
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    for name in ("K8SNET_EDGE_HTTP_PORT", "K8SNET_EDGE_HTTPS_PORT"):  # never a developer's 8080/8443
        monkeypatch.setenv(name, str(free_port()))
    return tools


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker_json(client: str = "27.3.1", server: str | None = "27.3.1") -> str:
    """What ``docker version --format {{json .}}`` prints (Server null when no engine answers)."""
    return json.dumps({"Client": {"Version": client}, "Server": {"Version": server} if server else None}) + "\n"


NO_ENGINE = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"


# -- a real kind cluster (marked tests) ------------------------------------------------------------


def docker_and_kind_missing() -> str | None:
    """Why a real kind cluster cannot be created here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        return "no docker engine answers (`docker info` fails)"
    if shutil.which("kind") is None:
        return "kind is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real-cluster tests run only when asked for (``-m kind``: ``make test-kind``), never inside ``make test``."""
    if "kind" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="needs a real kind cluster: run `make test-kind` (pytest -m kind)")
    for item in items:
        if item.get_closest_marker("kind"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[object]:
    """The real cluster k8snet, created by ``k8snet kind up`` (kept afterwards unless K8SNET_KIND_DOWN=1)."""
    reason = docker_and_kind_missing()
    if reason:
        pytest.skip(f"kind tests need Docker and kind: {reason}")
    from k8snet import connect
    from k8snet.kind import lifecycle

    report = lifecycle.up()
    cluster = connect("kind", start=False)
    cluster.up_report = report  # type: ignore[attr-defined]
    yield cluster
    if os.environ.get("K8SNET_KIND_DOWN") == "1":
        lifecycle.down()


def assert_strict(obj: dict) -> None:
    """No unknown field and no wrong type against Kubernetes 1.33's schema: what `kubectl apply --validate=strict`
    would refuse."""
    from k8snet.sandbox import schema, validation
    from k8snet.sandbox.errors import ApiError

    schemas = schema.upstream("1.33")
    group, _, version = obj["apiVersion"].rpartition("/")
    node = schemas.for_kind(group, version, obj["kind"])
    assert node is not None, f"{obj['apiVersion']} {obj['kind']} is not in Kubernetes 1.33"
    try:
        warnings = validation.check_schema(obj, schemas, node, kind=obj["kind"], name=obj["metadata"]["name"],
                                           group=group, mode="Strict", prune=False)
    except ApiError as exc:
        pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc}")
    assert warnings == [], (obj["kind"], warnings)

