"""Write (or --check) the parameter table of the chart README from the `## @param` lines of values.yaml."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parent / "nudge"
BEGIN, END = "<!-- parameters:begin -->", "<!-- parameters:end -->"
PARAM = re.compile(r"^\s*## @param (\S+) (.+)$")
SECTION = re.compile(r"^\s*## @section (.+)$")


def lookup(values: dict, dotted: str) -> object:
    """The value at a dotted path; KeyError when absent."""
    node: object = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def params(values_file: Path) -> list[tuple[str, str, str]]:
    """(section, name, description) for every `## @param`, in file order."""
    rows, section = [], "Parameters"
    for line in values_file.read_text().splitlines():
        if m := SECTION.match(line):
            section = m.group(1)
        elif m := PARAM.match(line):
            rows.append((section, m.group(1), m.group(2)))
    return rows


def table(values_file: Path) -> str:
    """The Markdown tables, one per section."""
    values = yaml.safe_load(values_file.read_text())
    out, current = [], None
    for section, name, desc in params(values_file):
        if section != current:
            out += ["", f"### {section}", "", "| Name | Description | Default |", "| --- | --- | --- |"]
            current = section
        default = json.dumps(lookup(values, name), separators=(",", ":")).replace("|", r"\|")
        desc = desc.replace("|", r"\|")
        out.append(f"| `{name}` | {desc} | `{default}` |")
    return "\n".join(out[1:]) + "\n"


def render(readme: str, values_file: Path) -> str:
    """The README with its table replaced."""
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table(values_file)}{END}{tail}"


def main() -> int:
    """Rewrite README.md, or with --check exit 1 when it is stale."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    readme_file, values_file = CHART / "README.md", CHART / "values.yaml"
    readme = readme_file.read_text()
    fresh = render(readme, values_file)
    if args.check:
        if fresh != readme:
            print("deploy/helm/nudge/README.md is stale: run deploy/helm/readme_params.py", file=sys.stderr)
            return 1
        return 0
    readme_file.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
