#!/usr/bin/env bash
# Install a pinned helm from its Go module into .local/bin (skipped when already there).
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
# The Kubernetes modules helm v3.19.5 builds against (k8s.io/client-go v0.34.x): its default kube version.
HELM_K8S_MINOR="${HELM_K8S_MINOR:-34}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${HELM_BIN_DIR:-$ROOT/.local/bin}"
HELM="$BIN/helm"
STAMP="$BIN/.helm-build"
WANT="$HELM_VERSION kube-1.$HELM_K8S_MINOR"

if [[ -x "$HELM" && "$(cat "$STAMP" 2>/dev/null)" == "$WANT" ]] \
  && "$HELM" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
  exit 0
fi
command -v go >/dev/null || { echo "go is needed to build helm $HELM_VERSION (or put helm $HELM_VERSION at $HELM)" >&2; exit 1; }
mkdir -p "$BIN"
echo "building helm $HELM_VERSION from helm.sh/helm/v3 into $BIN (first time only)" >&2
start=$SECONDS
# `go install` skips helm's Makefile, so stamp the version and default Kubernetes version as it does
# (unstamped, helm assumes Kubernetes 1.20 and refuses charts that need newer).
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  LDFLAGS+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$HELM_K8S_MINOR"
done
GOBIN="$BIN" CGO_ENABLED=0 go install -ldflags "$LDFLAGS" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$WANT" >"$STAMP"
echo "helm $HELM_VERSION built in $((SECONDS - start))s" >&2
"$HELM" version --short
