"""Validate rendered manifests strictly against the Kubernetes schemas bundled by kubernetes-validate."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from kubernetes_validate import utils

# Custom resources have no schema in the bundle: checked by --crd-validator, else skipped by name.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("keda.sh/v1alpha1", "ScaledObject"),
}


def validate_file(path: Path, version: str) -> tuple[int, list[dict], list[str]]:
    """Validate every built-in document in one file; return (validated count, custom resources, errors)."""
    checked, custom, errors = 0, [], []
    for doc in yaml.safe_load_all(path.read_text()):
        if not doc:
            continue
        kind, api = doc.get("kind"), doc.get("apiVersion")
        name = f"{kind}/{doc.get('metadata', {}).get('name')}"
        if (api, kind) in CUSTOM_KINDS:
            custom.append(doc)
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
    return checked, custom, errors


def validate_custom(path: Path, docs: list[dict], validator: Path) -> list[str]:
    """Run the node validator over the custom resources; return its errors."""
    proc = subprocess.run(
        ["node", str(validator)], input=json.dumps(docs), capture_output=True, text=True, timeout=60, check=False
    )
    errors = [f"{path}: {line[6:]}" for line in proc.stdout.splitlines() if line.startswith("ERROR ")]
    if proc.returncode and not errors:
        errors.append(f"{path}: custom resource validator failed: {proc.stderr.strip()}")
    return errors


def main() -> int:
    """Validate the files named on the command line; exit 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-k", "--kubernetes-version", required=True)
    parser.add_argument("--crd-validator", type=Path, help="validate.mjs that checks ServiceMonitor/ScaledObject")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    rc = 0
    for path in args.files:
        checked, custom, errors = validate_file(path, args.kubernetes_version)
        kinds = sorted({d["kind"] for d in custom})
        if custom and args.crd_validator:
            errors += validate_custom(path, custom, args.crd_validator)
            crd = f"{len(custom)} custom resources ({', '.join(kinds)}) checked against their API types"
        elif custom:
            crd = f"{len(custom)} custom resources SKIPPED by kind ({', '.join(kinds)})"
        else:
            crd = "no custom resources"
        for error in errors:
            print(f"ERROR {error}", file=sys.stderr)
        rc |= bool(errors) or checked == 0
        print(
            f"{path.name}: {checked} resources valid against Kubernetes {args.kubernetes_version} (strict); "
            f"{crd}; {len(errors)} errors"
        )
    return rc


if __name__ == "__main__":
    sys.exit(main())
