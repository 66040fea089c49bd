#!/usr/bin/env bash
# `npm run image`: builds the Dockerfile with podman on a machine that reaches no container
# registry, from the stand-in bases of scripts/image-bases.sh (Debian packages + the official
# Node binary, under their own names), passed as the Dockerfile's BUILD_IMAGE / RUNTIME_IMAGE.
# Prints the image's id on stdout (progress goes to stderr). Needs podman, runc and mmdebstrap
# (`npm run tools` installs them) and root.
#
# A second build of the same inputs takes seconds: podman keys each COPY layer by the content
# copied and each RUN layer by its parent and command, so an unchanged build context reuses
# every layer, and the bases are cached by scripts/image-bases.sh.
#   VB_IMAGE_TAG   the tag to give the image (default localhost/vault-bootstrap:dev)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF="$root/scripts/podman-containers.conf"
tag=${VB_IMAGE_TAG:-localhost/vault-bootstrap:dev}

bases=$(bash "$root/scripts/image-bases.sh")
build_args=()
while IFS= read -r line; do build_args+=(--build-arg "$line"); done <<<"$bases"

# --network=host: npm ci in the build stage reaches the npm registry as the host does.
podman build --pull=never --network=host --layers "${build_args[@]}" --tag "$tag" --file "$root/Dockerfile" "$root" >&2
# Each build of a changed tree leaves the previous image and build stage untagged (they carry the
# stand-ins' label); those older than a day go, so the store does not grow without bound while
# today's stay to be reused.
podman image prune --force --filter label=vault-bootstrap.stand-in-key --filter until=24h >/dev/null
podman image inspect --format '{{.Id}}' "$tag"
