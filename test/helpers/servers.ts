// The server helper as the test files use it: everything in server-process.ts (which scripts
// import too, so it must not load vitest) plus the per-server describe.
import { describe } from 'vitest';
import {
  KMS_SERVER_BUILDS,
  kindOfBuild,
  missingServer,
  SERVER_KINDS,
  type ServerBuild,
  type ServerKind,
} from '../../harness/server-process.js';

export * from '../../harness/server-process.js';

/**
 * `describe` once per server kind, named `title [kind]`; a kind whose binary is missing is
 * skipped with the install error in the log, never silently.
 */
export function describeEachServer(title: string, body: (kind: ServerKind) => void): void {
  for (const kind of SERVER_KINDS) {
    const missing = missingServer(kind);
    if (missing) console.warn(`${title} [${kind}]: skipped: ${missing}`);
    describe.skipIf(missing !== undefined)(`${title} [${kind}]`, () => body(kind));
  }
}

/**
 * `describe` once per server with the awskms seal built in (Vault 1.19, OpenBao 2.6.x), named
 * `title [build]`; skipped, with the reason in the log, when its binary is missing.
 */
export function describeEachKmsServer(title: string, body: (build: ServerBuild, kind: ServerKind) => void): void {
  for (const build of KMS_SERVER_BUILDS) {
    const missing = missingServer(build);
    if (missing) console.warn(`${title} [${build}]: skipped: ${missing}`);
    describe.skipIf(missing !== undefined)(`${title} [${build}]`, () => body(build, kindOfBuild(build)));
  }
}
