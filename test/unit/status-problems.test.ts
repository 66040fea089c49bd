import { describe, expect, it } from 'vitest';
import { formatStatus, problemsOf, type StatusReport } from '../../src/commands/status.js';

/** A converged cluster's report; each case changes one thing. */
function converged(): StatusReport {
  return {
    vault: {
      address: 'https://127.0.0.1:8200',
      health: 'active',
      status: 200,
      version: '2.7.2',
      seal: { type: 'shamir', initialized: true, sealed: false, threshold: 3, shares: 5 },
      error: null,
    },
    store: { kind: 'file', secrets: [{ name: 'vault-unseal-keys', versions: 1 }] },
    selfInit: null,
    rootToken: 'revoked',
    invalidRecords: [],
    keys: {
      type: 'shamir',
      activeVersion: 1,
      versions: 1,
      pendingRotation: false,
      lastRotatedAt: null,
      initializedAt: '2026-11-30T00:00:00.000Z',
      encrypted: false,
    },
    provisionerToken: {
      state: 'valid',
      expiresAt: '2026-12-30T00:00:00.000Z',
      ttlSeconds: 2_000_000,
      policies: ['provisioner'],
    },
    sealIntent: null,
    decision: { state: 'ready', reason: 'converged', blocker: null },
    staleOperations: {
      operations: [],
      unchecked: ['generate-root: the server serves no unauthenticated generate-root endpoints (a default OpenBao)'],
    },
    privilegedAuthRoles: [],
  };
}

describe('status separates problems from information', () => {
  it('a converged cluster has none, and a check that could not run is a note, not a problem', () => {
    expect(problemsOf(converged())).toEqual([]);
    const text = formatStatus(converged());
    expect(text.split('\n')[0]).toBe('problems   none');
    expect(text).toMatch(/^note {7}not checked: generate-root/m);
  });

  it.each([
    ['a sealed server', (report: StatusReport) => void (report.vault.health = 'sealed')],
    [
      'a blocker',
      (report: StatusReport) =>
        void (report.decision = { state: 'blocked', reason: 'keys refused', blocker: 'keys-rejected' }),
    ],
    [
      'an active seal intent',
      (report: StatusReport) =>
        void (report.sealIntent = { active: true, by: 'ops', at: '2026-11-30T00:00:00.000Z', reason: 'incident' }),
    ],
    ['a pending rotation', (report: StatusReport) => void (report.keys.pendingRotation = true)],
    [
      'a record that is not valid',
      (report: StatusReport) =>
        void report.invalidRecords.push('vault-root-token: the latest version (2) is not a valid record: not JSON'),
    ],
    ['an invalid provisioner token', (report: StatusReport) => void (report.provisionerToken.state = 'invalid')],
    [
      'an auth role handing out admin',
      (report: StatusReport) =>
        void (report.privilegedAuthRoles = [{ path: 'auth/approle/role/ci-made', policies: ['admin'] }]),
    ],
    [
      'a stale operation',
      (report: StatusReport) =>
        void report.staleOperations.operations.push({
          operation: 'rotation',
          path: 'sys/rotate/root',
          nonce: 'n',
          progress: 1,
          required: 3,
        }),
    ],
  ])('%s is one problem, listed first', (_, change) => {
    const report = converged();
    change(report);
    expect(problemsOf(report)).toHaveLength(1);
    const lines = formatStatus(report).split('\n');
    expect(lines[0]).toBe('problems   1');
    expect(lines[1]).toMatch(/^ {2}! /);
  });
});
