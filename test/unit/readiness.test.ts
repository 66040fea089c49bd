import { describe, expect, it } from 'vitest';
import { servesClients } from '../../src/readiness.js';
import type { Blocker, State } from '../../src/states.js';

describe('readiness gates serving, not configuration (src/readiness.ts)', () => {
  const rows: Array<[string, State, Blocker | undefined, boolean, boolean]> = [
    ['ready', 'ready', undefined, false, true],
    ['before the first ready: configuring', 'configuring', undefined, false, false],
    ['before the first ready: any blocker', 'blocked', 'store-denied', false, false],
    ['configured once, repairing drift', 'configuring', undefined, true, true],
    ['configured once, issuing a CI token', 'issuing', undefined, true, true],
    ['configured once, the store denies (IAM changed)', 'blocked', 'store-denied', true, true],
    ['configured once, a policy file rejected', 'blocked', 'policy-rejected', true, true],
    ['configured once, the vault-bootstrap policy edited', 'blocked', 'vault-request-rejected', true, true],
    ['configured once, no management token', 'blocked', 'no-management-token', true, true],
    ['configured once, a bad store record', 'blocked', 'store-record-invalid', true, true],
    ['configured once, split brain', 'blocked', 'cluster-mismatch', true, false],
    ['configured once, an older release over newer data', 'blocked', 'server-downgrade', true, false],
    ['configured once, removed from raft', 'blocked', 'node-removed', true, false],
    ['configured once, held sealed', 'sealed', 'seal-intent', true, false],
    ['configured once, sealed until a restart', 'sealed', 'sealed-until-restart', true, false],
    ['configured once, orphaned (SPEC: not ready)', 'orphaned', 'orphaned', true, false],
    ['configured once, sealed', 'sealed', undefined, true, false],
    ['configured once, unreachable', 'waiting', undefined, true, false],
  ];
  it.each(rows)('%s', (_name, state, blocker, configuredOnce, expected) => {
    expect(servesClients(state, blocker, configuredOnce)).toBe(expected);
  });
});
