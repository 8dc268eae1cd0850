"""Fixtures of the sandbox tests that need a sandbox of their own (to kill it, restart it, or start another)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from k8snet.sandbox import process


@pytest.fixture
def own_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sandbox of this test's own (its kubeconfig and state under ``tmp_path``), stopped afterwards."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    monkeypatch.setenv("K8SNET_HOME", str(tmp_path / "home"))
    process.up(seed=0, edge_http_port=0, edge_https_port=0)
    yield tmp_path
    process.down()


def core_api(tmp_path: Path) -> client.CoreV1Api:
    """The kubernetes client on an own sandbox's kubeconfig."""
    return client.CoreV1Api(config.new_client_from_config(config_file=str(tmp_path / "kubeconfig"),
                                                          context=process.CONTEXT))
