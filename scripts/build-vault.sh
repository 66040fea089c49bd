#!/usr/bin/env bash
# Builds HashiCorp Vault from its Go module (the module proxy is the only source reachable here)
# into OUT_DIR (a per-version cache directory outside any clone). Vault's go.mod replaces its own
# submodules (`api`, `api/auth/{approle,kubernetes,userpass}`, `sdk`) with local paths that the
# published module does not contain, so `go install` refuses it; without those replace lines the
# published versions it requires build cleanly (true for v1.19.0; v1.21.x needs unpublished sdk
# versions).
#   usage: build-vault.sh VERSION OUT_DIR      → OUT_DIR/vault
set -euo pipefail
version=$1
out=$2
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
work=$(mktemp -d "${TMPDIR:-/tmp}/vault-src.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# -json reports a failure as an "Error" field on stdout, with a non-zero exit.
download=$(go mod download -json "github.com/hashicorp/vault@$version" 2>&1) || true
module_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$download")
if [[ ! -d $module_dir ]]; then
  echo "build-vault: go mod download github.com/hashicorp/vault@$version failed: $(sed -n 's/^[[:space:]]*"Error": "\(.*\)"[,]*$/\1/p' <<<"$download" | head -n 1)" >&2
  exit 1
fi
cp -R "$module_dir/." "$work/"
chmod -R u+w "$work"
sed -i -E '/^replace[[:space:]]+github\.com\/hashicorp\/vault\/[^[:space:]]+[[:space:]]+=>[[:space:]]+\.\//d' "$work/go.mod"
if grep -qE '^replace[[:space:]].*=>[[:space:]]+\./' "$work/go.mod"; then
  echo "build-vault: local replace directives left in go.mod: $(grep -E '^replace[[:space:]].*=>[[:space:]]+\./' "$work/go.mod" | tr '\n' ' ')" >&2
  exit 1
fi
mkdir -p "$out"
(cd "$work" && go build -trimpath -ldflags "-s -w" -o "$out/vault.partial" .)
mv "$out/vault.partial" "$out/vault"
