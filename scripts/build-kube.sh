#!/usr/bin/env bash
# Builds kube-apiserver and etcd from our wrapper module scripts/kube (versions pinned in its
# go.mod) into OUT_DIR, stamping the Kubernetes version the way its release build does (a plain
# `go build` reports v0.0.0-master).
#   usage: build-kube.sh OUT_DIR      → OUT_DIR/kube-apiserver, OUT_DIR/etcd
set -euo pipefail
out=$1
cd "$(dirname "$0")/kube"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
kubernetes=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
[[ $kubernetes =~ ^v([0-9]+)\.([0-9]+)\. ]] || { echo "build-kube: unexpected k8s.io/kubernetes version $kubernetes" >&2; exit 1; }
version_flags="-X k8s.io/component-base/version.gitVersion=$kubernetes -X k8s.io/component-base/version.gitMajor=${BASH_REMATCH[1]} -X k8s.io/component-base/version.gitMinor=${BASH_REMATCH[2]} -X k8s.io/component-base/version.gitTreeState=clean"
mkdir -p "$out"
go build -trimpath -ldflags "-s -w $version_flags" -o "$out/kube-apiserver.partial" ./kube-apiserver
go build -trimpath -ldflags "-s -w" -o "$out/etcd.partial" ./etcd
mv "$out/kube-apiserver.partial" "$out/kube-apiserver"
mv "$out/etcd.partial" "$out/etcd"
