// The server helper as the test files use it: everything in server-process.ts (which scripts
// import too, so it must not load vitest) plus the per-server describe.
import { describe } from 'vitest';
import { missingServer, SERVER_KINDS, type ServerKind } from '../../harness/server-process.js';

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
