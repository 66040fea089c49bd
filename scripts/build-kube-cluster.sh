#!/usr/bin/env bash
# Builds the rest of a single-node cluster (scripts/local-cluster.sh) into OUT_DIR: kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy and kubectl from our wrapper module
# scripts/kube-cluster (the k8s.io/kubernetes release and staging modules of scripts/kube, whose
# kube-apiserver and etcd the cluster runs), and CoreDNS from scripts/coredns (only the plugins
# the cluster uses). Stamps the Kubernetes version as build-kube.sh does.
#   usage: build-kube-cluster.sh OUT_DIR
set -euo pipefail
out=$1
scripts=$(cd "$(dirname "$0")" && pwd)
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
mkdir -p "$out"
cd "$scripts/kube-cluster"
kubernetes=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
[[ $kubernetes =~ ^v([0-9]+)\.([0-9]+)\. ]] || { echo "build-kube-cluster: unexpected k8s.io/kubernetes version $kubernetes" >&2; exit 1; }
version_flags="-X k8s.io/component-base/version.gitVersion=$kubernetes -X k8s.io/component-base/version.gitMajor=${BASH_REMATCH[1]} -X k8s.io/component-base/version.gitMinor=${BASH_REMATCH[2]} -X k8s.io/component-base/version.gitTreeState=clean"
binaries=(kubectl kubelet kube-controller-manager kube-scheduler kube-proxy)
for binary in "${binaries[@]}"; do
  [[ -x $out/$binary.partial ]] && continue # built by an interrupted run
  echo "build-kube-cluster: $binary ($(date -u +%T))"
  go build -trimpath -ldflags "-s -w $version_flags" -o "$out/$binary.partial" "./$binary"
done
cd "$scripts/coredns"
if [[ ! -x $out/coredns.partial ]]; then
  echo "build-kube-cluster: coredns $(go list -m -f '{{.Version}}' github.com/coredns/coredns) ($(date -u +%T))"
  go build -trimpath -ldflags "-s -w" -o "$out/coredns.partial" .
fi
for binary in "${binaries[@]}" coredns; do mv "$out/$binary.partial" "$out/$binary"; done
echo "build-kube-cluster: done ($(date -u +%T))"
