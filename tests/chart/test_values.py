"""values.yaml, values.schema.json and the README table agree, and the schema rejects bad values."""

from __future__ import annotations

import json

import pytest
import yaml

from deploy.helm import values_schema
from deploy.helm.readme_params import BEGIN, END, params, render
from tests.chart.conftest import CHART

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
# Kubernetes objects passed through whole; the rendered manifests are validated against Kubernetes' own schema.
PASSTHROUGH = {"podSecurityContext", "containerSecurityContext", "affinity", "valueFrom", "extraEgress[]"}


def leaves(node: object, prefix: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        return [p for key, value in node.items() for p in leaves(value, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


def documented() -> set[str]:
    return {name for _, name, _ in params(CHART / "values.yaml")}


def test_every_value_has_an_at_param():
    names = documented()
    for leaf in leaves(VALUES):
        parts = leaf.split(".")
        assert any(".".join(parts[:i]) in names for i in range(1, len(parts) + 1)), f"{leaf} has no ## @param"


def test_every_at_param_names_a_value():
    for name in documented():
        node = VALUES
        for part in name.split("."):
            assert isinstance(node, dict) and part in node, f"@param {name} is not in values.yaml"
            node = node[part]


def test_every_at_param_is_in_the_readme_table():
    readme = (CHART / "README.md").read_text()
    table = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    for name in documented():
        assert f"| `{name}` |" in table, f"{name} is missing from the README parameter table"
    assert render(readme, CHART / "values.yaml") == readme, "README table is stale: run deploy/helm/readme_params.py"


def test_schema_file_is_generated_from_values_schema_py():
    assert (CHART / "values.schema.json").read_text() == values_schema.render(), "run deploy/helm/values_schema.py"


def walk(schema: dict, path: str):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, key)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")


def test_schema_closes_every_object():
    for name, node in walk(SCHEMA, ""):
        if node.get("type") == "object" and name not in PASSTHROUGH:
            assert "additionalProperties" in node, f"{name or 'root'} allows unknown keys"
    assert SCHEMA["additionalProperties"] is False


def test_schema_and_values_have_the_same_keys():
    def keys(schema: dict, values: dict, prefix: str = ""):
        # An empty default (e.g. a label selector) may leave optional schema keys unset.
        if values:
            assert set(schema.get("properties", {})) == set(values), prefix or "root"
        for key, value in values.items():
            sub = schema["properties"][key]
            if isinstance(value, dict) and "properties" in sub:
                keys(sub, value, f"{prefix}{key}.")

    keys(SCHEMA, VALUES)


@pytest.mark.parametrize(
    "bad",
    [
        ["--set", "streams.replicaCountt=3"],  # a typo is an unknown key
        ["--set", "kafka.securityProtocol=SASL_TLS"],
        ["--set", "streams.containerPorts.web=70000"],
        ["--set", "redis.url=http://redis:6379"],
        ["--set", "delivery.autoscaling.hpa.targetCPU=fast"],
    ],
)
def test_schema_rejects_bad_values(render_fails, bad):
    assert "values don't meet the specifications of the schema" in render_fails(*bad)
