#!/usr/bin/env bash
# Builds the packaging tools the tests run for real — helm (from helm.sh/helm/v4), kstatus and argolua (the tiny
# programs beside this script) — from the pinned Go modules into a cache folder keyed by the helm version and a
# hash of this module, and prints that folder. Skips the build when every binary is already there.
# Usage: hack/tools/build.sh [OUT_DIR]   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/acr-access-operator/tools/<key>)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
helm_version=$(awk '$1 == "helm.sh/helm/v4" { print $2; exit }' "$here/go.mod")
[ -n "$helm_version" ] || { echo "build.sh: no helm.sh/helm/v4 version in go.mod" >&2; exit 1; }
# The key changes with any pinned version or either program's source, so an edit never reuses a stale binary.
hash=$(cd "$here" && cat go.mod go.sum kstatus/main.go argolua/main.go | sha256sum | cut -c1-12)
out=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/acr-access-operator/tools/$helm_version-$hash}
bins=(helm kstatus argolua)
missing=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
if [ "$missing" = 0 ]; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go is required to build helm, kstatus and argolua" >&2; exit 1; }
mkdir -p "$out"
cd "$here"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build.sh: building helm $helm_version, kstatus and argolua into $out" >&2
# helm's Makefile sets the version this way; its Kubernetes version comes from the client-go it was built with.
go build -trimpath -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version \
  -X helm.sh/helm/v4/internal/version.gitTreeState=clean" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm >&2
go build -trimpath -ldflags "-s -w" -o "$tmp/kstatus" ./kstatus >&2
go build -trimpath -ldflags "-s -w" -o "$tmp/argolua" ./argolua >&2
# Move into place only once all three built, so an interrupted build is never mistaken for a cached one.
for b in "${bins[@]}"; do mv "$tmp/$b" "$out/$b"; done
echo "$out"
