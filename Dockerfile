# syntax=docker/dockerfile:1
#
# vault-bootstrap image: the bundled program and the cloud SDKs it loads on demand, on distroless
# Node 24 (the active LTS; the suite runs on it and on the engines floor, Node 20: see README).
#   docker build -t vault-bootstrap:0.1.0 .
# `npm run image` builds it with podman from stand-in bases (scripts/image.sh says why and how).
#
# Both bases are pinned by digest, so a rebuild of the same commit starts from the same bytes.
# Each is a build argument whose default is the pinned reference (a build can name another base,
# as the image test does with its stand-ins). The build and runtime Node majors must match (24
# and 24): node_modules is copied across. No registry is reachable where these were chosen, so
# neither was pulled: BUILD_IMAGE is the index digest docker-library/repo-info records for
# node:24-bookworm-slim (Node 24.19.0, built 2026-08-25); RUNTIME_IMAGE is the digest public
# repositories pin for gcr.io/distroless/nodejs24-debian12:nonroot (the most widely pinned one
# found by code search). How to verify and bump them: README, "The image".
ARG BUILD_IMAGE=node:24-bookworm-slim@sha256:a9f5f7c91a432850b2a8a7797adf5eadb6c733ceed61167806cee7ea7fbc29df
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot@sha256:14d42e2511532589a7c7e01a753667a74fcc96266e137e8125006b87b0c32d0a

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Dependencies first, so a source change reuses the cached install layer.
# --ignore-scripts: no dependency needs an install script to work (protobufjs's postinstall
# only checks its optional CLI), and none should run code at build time.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY scripts/bundle ./scripts/bundle
COPY src ./src
COPY policies ./policies
RUN npm run build

# /app as it ships: only what the program loads at run time.
#  - dist/*.js without source maps (the entrypoint does not enable them; they are in the npm
#    package for `node --enable-source-maps`).
#  - node_modules: a fresh production install from the lockfile (not a prune of the dev tree),
#    less the packages scripts/build.mjs bundles into dist/cli.js (node-vault, pino, prom-client
#    and what only they need), leaving the cloud SDKs, which the store chunks import on demand.
#    Type declarations, source maps and markdown go too: Node never reads them. Licence files stay.
#  - package.json reduced to what Node reads: "type": "module" makes dist/*.js ES modules.
WORKDIR /app
RUN cp /build/package.json /build/package-lock.json ./ \
  && npm ci --omit=dev --ignore-scripts \
  && npm pkg delete dependencies.node-vault dependencies.pino dependencies.prom-client \
  && npm prune --omit=dev --ignore-scripts \
  && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.ts' \) \
       ! -iname 'licen[cs]e*' ! -iname 'notice*' -delete \
  && find node_modules -type d -empty -delete \
  && rm -f node_modules/.package-lock.json package-lock.json \
  && node -e 'const { name, version, type } = require("./package.json"); require("node:fs").writeFileSync("package.json", JSON.stringify({ name, version, type }) + "\n")' \
  && mkdir dist && cp /build/dist/*.js dist/ \
  && cp -r /build/policies ./policies \
  && chmod -R a+rX,go-w . \
  && npm cache clean --force

# Runtime: no shell, no npm, no package manager, no compiler. The :nonroot variant's user is
# 65532:65532; it is repeated numerically below so Kubernetes' runAsNonRoot can verify it.
FROM ${RUNTIME_IMAGE}
# One layer, owned by root, readable but not writable by the runtime user: the program cannot
# change itself. It writes nothing to the image's filesystem (logs go to stdout, keys to the cloud
# store, the spool to a mounted memory-backed emptyDir), so it runs with a read-only root
# filesystem; HOME points at a directory that exists and is never written (Node 24's compile
# cache would go under it, src/cli.ts: on the read-only root it cannot be made, and the program
# runs without it).
COPY --from=build --chown=0:0 /app /app
WORKDIR /app
ENV NODE_ENV=production HOME=/home/nonroot
USER 65532:65532
EXPOSE 8099
# node runs as PID 1 without an init (tini / docker --init). That is safe here because:
#  - the kernel drops signals to PID 1 that have no handler, and the program installs its
#    own SIGTERM/SIGINT handlers (SPEC §7: finish storing keys, then exit 0; a second
#    signal exits at once), so `docker stop` and pod termination reach it;
#  - it starts no child processes, so there are no zombies to reap.
# Exec form, so no shell sits between the container runtime and node.
# No optimizing or baseline compilers (the interpreter only) and a small young generation: ~5-6
# MiB less peak RSS for a process whose work is a few HTTP calls every few seconds
# (docs/benchmarks.md: measured with and without).
ENTRYPOINT ["/nodejs/bin/node", "--no-turbofan", "--no-maglev", "--no-sparkplug", "--max-semi-space-size=1", "/app/dist/cli.js"]
CMD ["--help"]
