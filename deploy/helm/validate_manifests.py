"""Validate rendered manifests strictly against the Kubernetes schemas bundled by kubernetes-validate."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml
from kubernetes_validate import utils

# Custom resources have no schema in the bundle; they are skipped by name, never silently.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("keda.sh/v1alpha1", "ScaledObject"),
}


def validate_file(path: Path, version: str) -> tuple[int, Counter[str], list[str]]:
    """Validate every document in one file; return (validated count, skipped kinds, errors)."""
    checked, skipped, errors = 0, Counter[str](), []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        kind, api = doc.get("kind"), doc.get("apiVersion")
        name = f"{kind}/{doc.get('metadata', {}).get('name')}"
        if (api, kind) in CUSTOM_KINDS:
            skipped[f"{api} {kind}"] += 1
            continue
        try:
            utils.validate(doc, version, strict=True)
            checked += 1
        except utils.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            errors.append(f"{path}: {name}: {where}: {exc.message}")
        except utils.SchemaNotFoundError as exc:
            # An unknown built-in kind or apiVersion is a mistake, not something to skip.
            errors.append(f"{path}: {name}: {exc.message}")
    return checked, skipped, errors


def main() -> int:
    """Validate the files named on the command line; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", "--kubernetes-version", required=True)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    rc = 0
    for path in args.files:
        checked, skipped, errors = validate_file(path, args.kubernetes_version)
        for error in errors:
            print(f"ERROR {error}", file=sys.stderr)
        rc |= bool(errors) or checked == 0
        skip = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())) or "none"
        print(
            f"{path.name}: {checked} resources valid against Kubernetes {args.kubernetes_version} (strict); "
            f"{len(errors)} errors; CRDs skipped by kind: {skip}"
        )
    return rc


if __name__ == "__main__":
    sys.exit(main())
