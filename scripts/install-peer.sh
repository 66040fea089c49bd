#!/usr/bin/env bash
# Builds the benchmark's peer, bank-vaults v1.33.1 (the Go tool vault-bootstrap replaces), from the
# Go module proxy into a cache outside the clone:
#   ~/.cache/vault-bootstrap/bank-vaults-v1.33.1/bin/bank-vaults
# Only `BENCH_PEER=1 npm run bench` uses it; nothing in `npm test` does. Idempotent: a second run
# with the binary in place does nothing. About 4 minutes on 2 cores.
# One of its dependencies, github.com/ramizpolic/multiparser v1.0.1, is missing from the Go
# checksum database, hence GONOSUMDB for that path only (every other module is still checked).
set -euo pipefail

BANK_VAULTS_VERSION=v1.33.1

cache="${XDG_CACHE_HOME:-$HOME/.cache}/vault-bootstrap/bank-vaults-$BANK_VAULTS_VERSION"
binary="$cache/bin/bank-vaults"
if [[ -x $binary ]]; then
  echo "install-peer: $binary"
  exit 0
fi

mkdir -p "$cache/bin"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
# A scratch module that requires the release, then `go build` of its command: `go install
# module/cmd@version` would be shorter, but it first asks the proxy for the module's version list
# (to look for a deprecation notice), and the proxy reachable here answers that with 403.
go mod init scratch/bank-vaults-peer >/dev/null 2>&1
echo "require github.com/bank-vaults/bank-vaults $BANK_VAULTS_VERSION" >>go.mod
log="$cache/install.log"
if ! GOTOOLCHAIN=local GOFLAGS='-mod=mod -buildvcs=false' GONOSUMDB=github.com/ramizpolic \
  go build -o "$binary.partial" github.com/bank-vaults/bank-vaults/cmd/bank-vaults >"$log" 2>&1; then
  echo "install-peer: go build failed; the last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
mv "$binary.partial" "$binary"
echo "install-peer: $binary"
