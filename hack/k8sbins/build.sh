#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, etcd and kubectl from the pinned Go modules into a per-version
# cache folder, and prints that folder. Builds only the binaries that are not there yet.
# Usage: hack/k8sbins/build.sh [OUT_DIR]   (default: ${XDG_CACHE_HOME:-$HOME/.cache}/acr-access-operator/k8sbins/<version>)
# K8SBINS="kubectl" limits the binaries looked for and built to those named.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$here/go.mod")
[ -n "$version" ] || { echo "build.sh: no k8s.io/kubernetes version in go.mod" >&2; exit 1; }
out=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/acr-access-operator/k8sbins/$version}
read -r -a bins <<<"${K8SBINS:-kube-apiserver kube-controller-manager etcd kubectl}"
missing=()
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing+=("$b"); done
if [ "${#missing[@]}" = 0 ]; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the test control plane" >&2; exit 1; }
mkdir -p "$out"
cd "$here"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
tmp=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "build.sh: building ${missing[*]} $version into $out (a cold build takes several minutes)" >&2
for b in "${missing[@]}"; do
  case $b in
    etcd) go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 >&2 ;;
    *) go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b" >&2 ;;
  esac
done
# Move into place only once all built, so an interrupted build is never mistaken for a cached one.
for b in "${missing[@]}"; do mv "$tmp/$b" "$out/$b"; done
echo "$out"
