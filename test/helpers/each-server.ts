import { describe } from 'vitest';
import { missingServer, SERVER_KINDS, type ServerKind } from './servers.js';

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
