# syntax=docker/dockerfile:1
#
# vault-bootstrap image: compiled JS + production dependencies on distroless Node 24 (the active
# LTS; the suite runs on it and on the engines floor, Node 20: see README).
#   docker build -t vault-bootstrap:0.1.0 .
#
# Both bases are pinned by tag here; a release pipeline should pin them by digest too
# (FROM image:tag@sha256:...), so a rebuild of the same commit gives the same bytes.
# The build and runtime Node majors must match (24 and 24): node_modules is copied across.

FROM node:24-bookworm-slim AS build
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
# A fresh production-only install from the lockfile (not a prune of the dev tree), exactly what
# test/integration/package-install.test.ts installs and runs.
RUN rm -rf node_modules && npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Runtime: no shell, no npm, no package manager, no compiler. The :nonroot variant's user is
# 65532:65532; it is repeated numerically below so Kubernetes' runAsNonRoot can verify it.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=build --chown=0:0 /build/package.json ./package.json
COPY --from=build --chown=0:0 /build/node_modules ./node_modules
COPY --from=build --chown=0:0 /build/dist ./dist
COPY --from=build --chown=0:0 /build/policies ./policies
# Files are owned by root, readable but not writable by the runtime user: the program cannot
# change itself. It writes nothing to the image's filesystem (logs go to stdout, keys to the cloud
# store, the spool to a mounted memory-backed emptyDir), so it runs with a read-only root
# filesystem; HOME points at a directory that exists and is never written.
ENV NODE_ENV=production HOME=/home/nonroot
USER 65532:65532
EXPOSE 8099
# node runs as PID 1 without an init (tini / docker --init). That is safe here because:
#  - the kernel drops signals to PID 1 that have no handler, and the program installs its
#    own SIGTERM/SIGINT handlers (SPEC §7: finish storing keys, then exit 0; a second
#    signal exits at once), so `docker stop` and pod termination reach it;
#  - it starts no child processes, so there are no zombies to reap.
# Exec form, so no shell sits between the container runtime and node.
# No optimizing compilers and a small young generation: ~4-5 MiB less peak RSS for a process
# whose work is a few HTTP calls every few seconds (README, Benchmarks: measured with and without).
ENTRYPOINT ["/nodejs/bin/node", "--no-turbofan", "--no-maglev", "--max-semi-space-size=1", "/app/dist/cli.js"]
CMD ["--help"]
