#!/usr/bin/env bash
# Lint, render and validate the Helm chart, then run the render tests (tests/chart).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
CHART=deploy/helm/nudge
KUBE_VERSION="${KUBE_VERSION:-1.30.0}"
OUT="${CHART_OUT:-.local/chart}"
export HELM_CACHE_HOME="$ROOT/.local/helm/cache" HELM_CONFIG_HOME="$ROOT/.local/helm/config" \
  HELM_DATA_HOME="$ROOT/.local/helm/data"

deploy/helm/install-helm.sh
HELM="$ROOT/.local/bin/helm"
"$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null || "$VENV/bin/pip" install -q 'kubernetes-validate==1.37.0'

# Custom resources are checked with the KEDA / prometheus-operator models from npm when node is there.
CRD_DIR=.local/crd-validate
crd_args=()
if command -v node >/dev/null && command -v npm >/dev/null; then
  mkdir -p "$CRD_DIR"
  if ! cmp -s deploy/helm/crd-validate/package-lock.json "$CRD_DIR/package-lock.json" || [[ ! -d "$CRD_DIR/node_modules" ]]; then
    cp deploy/helm/crd-validate/package.json deploy/helm/crd-validate/package-lock.json "$CRD_DIR/"
    (cd "$CRD_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  fi
  cp deploy/helm/crd-validate/validate.mjs "$CRD_DIR/"
  crd_args=(--crd-validator "$CRD_DIR/validate.mjs")
else
  echo "WARNING: node/npm not found: ServiceMonitor and ScaledObject are NOT validated (skipped by kind)" >&2
fi

mkdir -p "$OUT"
declare -A SETS=(
  [default]=""
  [all-features]="-f $CHART/ci/all-features-values.yaml"
  # The HPA and KEDA exclude each other, so the HPA gets its own render.
  [all-features-hpa]="-f $CHART/ci/all-features-values.yaml --set delivery.autoscaling.keda.enabled=false --set delivery.autoscaling.hpa.enabled=true"
)
files=()
for name in default all-features all-features-hpa; do
  # shellcheck disable=SC2086
  "$HELM" lint --strict --kube-version "$KUBE_VERSION" $CHART ${SETS[$name]} >"$OUT/$name.lint" \
    || { cat "$OUT/$name.lint"; echo "helm lint failed for $name values" >&2; exit 1; }
  # shellcheck disable=SC2086
  "$HELM" template nudge $CHART --namespace nudge --kube-version "$KUBE_VERSION" ${SETS[$name]} >"$OUT/$name.yaml"
  echo "$name: lint ok, $(grep -c '^kind:' "$OUT/$name.yaml") resources rendered"
  files+=("$OUT/$name.yaml")
done
"$VENV/bin/python" deploy/helm/validate_manifests.py -k "$KUBE_VERSION" "${crd_args[@]}" "${files[@]}"
NUDGE_REQUIRE_HELM=1 NUDGE_HELM="$HELM" "$VENV/bin/pytest" tests/chart -q -p no:cacheprovider
