"""Render the Helm chart with a real helm binary; skip loudly only when helm is absent and not required."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "nudge"
ALL_FEATURES = CHART / "ci" / "all-features-values.yaml"
KUBE_VERSION = "1.30.0"

Manifests = list[dict]


def find_helm() -> str | None:
    """NUDGE_HELM, then the Makefile's .local/bin/helm, then PATH."""
    for candidate in (os.environ.get("NUDGE_HELM"), str(ROOT / ".local" / "bin" / "helm"), shutil.which("helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def helm() -> str:
    found = find_helm()
    if found:
        return found
    message = "helm not found (run `make chart-test`, which installs it into .local/bin)"
    if os.environ.get("NUDGE_REQUIRE_HELM"):
        pytest.fail(message)
    pytest.skip(f"SKIPPED LOUDLY: {message}")


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(ROOT / ".local/helm/cache"),
        "HELM_CONFIG_HOME": str(ROOT / ".local/helm/config"),
        "HELM_DATA_HOME": str(ROOT / ".local/helm/data"),
    }
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.fixture(scope="session")
def render(helm: str) -> Callable[..., Manifests]:
    """render(*helm_args) -> the rendered documents; cached per argument list."""
    cache: dict[tuple[str, ...], Manifests] = {}

    def _render(*args: str) -> Manifests:
        if args not in cache:
            proc = run_helm(
                helm, "template", "nudge", str(CHART), "--namespace", "nudge", "--kube-version", KUBE_VERSION, *args
            )
            assert proc.returncode == 0, proc.stderr
            cache[args] = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return cache[args]

    return _render


@pytest.fixture(scope="session")
def render_fails(helm: str) -> Callable[..., str]:
    """render_fails(*helm_args) -> helm's error output; asserts that rendering failed."""

    def _fails(*args: str) -> str:
        proc = run_helm(helm, "template", "nudge", str(CHART), "--kube-version", KUBE_VERSION, *args)
        assert proc.returncode != 0, f"helm rendered {args} but should have refused it"
        return proc.stderr

    return _fails


@pytest.fixture(scope="session")
def default(render) -> Manifests:
    return render()


@pytest.fixture(scope="session")
def full(render) -> Manifests:
    return render("-f", str(ALL_FEATURES))


def find(docs: Manifests, kind: str, component: str | None = None) -> list[dict]:
    """Documents of one kind (and component label)."""
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (component is None or d["metadata"]["labels"].get("app.kubernetes.io/component") == component)
    ]


def one(docs: Manifests, kind: str, component: str | None = None) -> dict:
    found = find(docs, kind, component)
    assert len(found) == 1, f"expected one {kind} {component or ''}, got {len(found)}"
    return found[0]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env(workload: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container(workload)["env"]}
