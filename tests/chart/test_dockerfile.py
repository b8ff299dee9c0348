"""The image the chart runs: pinned base, non-root user matching the chart, `nudge` entrypoint."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.chart.conftest import CHART, ROOT

DOCKERFILE = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()


def test_base_image_is_pinned_by_tag():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert base and re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*(@sha256:[0-9a-f]{64})?", base.group(1))
    assert DOCKERFILE.count("FROM ${PYTHON_IMAGE}") == 2, "multi-stage build on the pinned base"


def test_runs_nudge_as_the_non_root_user_the_chart_expects():
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE, re.M)
    assert user and user.group(1) != "0"
    security = yaml.safe_load((CHART / "values.yaml").read_text())["podSecurityContext"]
    assert (int(user.group(1)), int(user.group(2))) == (security["runAsUser"], security["runAsGroup"])
    assert 'ENTRYPOINT ["nudge"]' in DOCKERFILE
    assert '".[rocksdb]"' in DOCKERFILE


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".local"} <= set(ignored)


@pytest.mark.parametrize("var", ["NUDGE_TRIGGERS_FILE", "NUDGE_DECISIONS_FILE"])
def test_bundled_config_paths_point_into_the_installed_package(var):
    path = re.search(rf"{var}=(\S+)", DOCKERFILE)
    assert path and path.group(1).startswith("/opt/nudge/lib/python3.11/site-packages/")
    packaged = path.group(1).split("site-packages/", 1)[1]
    assert (ROOT / packaged).is_file(), f"{packaged} is not in the source tree"
