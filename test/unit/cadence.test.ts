import { describe, expect, it } from 'vitest';
import {
  afterDecision,
  afterFailure,
  awayPauseMs,
  AWAY_FAST_FOR_MS,
  AWAY_FAST_MS,
  AWAY_SLOW_MS,
  reconcileDue,
  type Converged,
} from '../../src/machine/cadence.js';
import { decide, EMPTY_MEMORY, type Memory, type Observation, type VaultSeen } from '../../src/machine/decide.js';
import { SETTINGS } from './decide-settings.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const RECONCILE_MS = 600_000;
const POLICIES = new Map([
  ['admin', 'h-admin'],
  ['provisioner', 'h-provisioner'],
]);

const ACTIVE: VaultSeen = {
  health: 'active',
  status: 200,
  detail: '',
  clusterId: 'cluster-a',
  sealType: 'shamir',
  migration: false,
  unsealProgress: { progress: 0, nonce: '' },
  connectionsClosed: 3,
};

/** What the last full reconcile saw: the same active node, a minute ago. */
const CONVERGED: Converged = {
  at: NOW - 60_000,
  health: 'active',
  clusterId: 'cluster-a',
  connectionsClosed: 3,
  policies: 'admin:h-admin,provisioner:h-provisioner',
  rotateAt: NOW + 3600_000,
  sealStatus: { sealType: 'shamir', migration: false },
};

describe('reconcileDue: a cheap pass only while nothing happened', () => {
  const rows: Array<[string, VaultSeen, Converged | undefined, number, ReadonlyMap<string, string>, boolean]> = [
    ['converged, nothing changed', ACTIVE, CONVERGED, NOW, POLICIES, false],
    ['start (nothing converged yet)', ACTIVE, undefined, NOW, POLICIES, true],
    ['sealed', { ...ACTIVE, health: 'sealed', status: 503 }, CONVERGED, NOW, POLICIES, true],
    ['unreachable', { ...ACTIVE, health: 'unreachable', status: undefined }, CONVERGED, NOW, POLICIES, true],
    [
      'active → standby (leadership changed)',
      { ...ACTIVE, health: 'standby', status: 429 },
      CONVERGED,
      NOW,
      POLICIES,
      true,
    ],
    ['another cluster id', { ...ACTIVE, clusterId: 'cluster-b' }, CONVERGED, NOW, POLICIES, true],
    [
      'a connection closed (a restart, or the server dropped it)',
      { ...ACTIVE, connectionsClosed: 4 },
      CONVERGED,
      NOW,
      POLICIES,
      true,
    ],
    ['a policy file changed', ACTIVE, CONVERGED, NOW, new Map([...POLICIES, ['admin', 'h-admin-2']]), true],
    ['a policy file added', ACTIVE, CONVERGED, NOW, new Map([...POLICIES, ['extra', 'h-extra']]), true],
    ['the provisioner token reached its rotation time', ACTIVE, CONVERGED, CONVERGED.rotateAt!, POLICIES, true],
    ['--reconcile-interval elapsed', ACTIVE, CONVERGED, CONVERGED.at + RECONCILE_MS, POLICIES, true],
    ['just before --reconcile-interval', ACTIVE, CONVERGED, CONVERGED.at + RECONCILE_MS - 1, POLICIES, false],
    [
      'a token that never expires has no rotation time',
      ACTIVE,
      { ...CONVERGED, rotateAt: undefined },
      NOW,
      POLICIES,
      false,
    ],
  ];
  it.each(rows)('%s', (_name, vault, converged, at, policies, due) => {
    expect(reconcileDue(vault, policies, at, converged, RECONCILE_MS) !== undefined).toBe(due);
  });
});

describe('afterDecision: which full reconcile the cheap passes rest on', () => {
  const full: Observation = {
    at: NOW,
    vault: ACTIVE,
    reconcile: 'start',
    spool: undefined,
    policyHashes: POLICIES,
    server: {
      managementToken: 'management',
      ownManagementToken: 'valid',
      policiesDiffering: [],
      roleDiffers: false,
      auditDiffers: false,
      provisionerToken: 'valid',
      rootTokenLive: true,
      provisionerRotateAt: NOW + 7200_000,
    },
  };
  const done = { state: 'ready' as const, reason: '', action: { kind: 'done' as const } };

  it('a full reconcile that found nothing to do becomes the reference, with the token rotation time', () => {
    const memory = afterDecision(EMPTY_MEMORY, full, done);
    expect(memory.converged).toEqual({
      at: NOW,
      health: 'active',
      clusterId: 'cluster-a',
      connectionsClosed: 3,
      policies: CONVERGED.policies,
      rotateAt: NOW + 7200_000,
      sealStatus: { sealType: 'shamir', migration: false },
    });
    expect(memory.convergedOnce).toBe(true);
    expect(reconcileDue(ACTIVE, POLICIES, NOW + 5000, memory.converged, RECONCILE_MS)).toBeUndefined();
  });

  it('a standby ready with a token already due (its active node rotates it) does not reconcile every pass', () => {
    const due = {
      ...full,
      vault: { ...ACTIVE, health: 'standby' as const, status: 429 },
      server: { ...full.server!, provisionerToken: 'rotate' as const, provisionerRotateAt: NOW - 1000 },
    };
    const memory = afterDecision(EMPTY_MEMORY, due, done);
    expect(memory.converged?.rotateAt).toBeUndefined();
    expect(reconcileDue(due.vault, POLICIES, NOW + 5000, memory.converged, RECONCILE_MS)).toBeUndefined();
  });

  it('the management token renewing before the provisioner token rotates sets the time of the next reconcile', () => {
    const sooner = { ...full, server: { ...full.server!, managementRenewAt: NOW + 600_000 } };
    expect(afterDecision(EMPTY_MEMORY, sooner, done).converged?.rotateAt).toBe(NOW + 600_000);
  });

  it('a cheap pass leaves it standing, so the interval counts from the last full reconcile', () => {
    const memory: Memory = { ...EMPTY_MEMORY, converged: CONVERGED };
    expect(afterDecision(memory, { ...full, reconcile: undefined }, done).converged).toBe(CONVERGED);
  });

  it('any action, hold or wait drops it, and so does a failed call: the next pass reconciles in full', () => {
    const memory: Memory = { ...EMPTY_MEMORY, converged: CONVERGED };
    expect(
      afterDecision(memory, full, { state: 'uninitialized', reason: '', action: { kind: 'join' } }).converged,
    ).toBeUndefined();
    expect(
      afterDecision(memory, full, { state: 'issuing', reason: '', action: { kind: 'wait', pace: 'join' } }).converged,
    ).toBeUndefined();
    expect(afterFailure(memory).converged).toBeUndefined();
  });

  it('decide: a cheap pass over a converged node is ready, with no store record read', () => {
    const cheap: Observation = {
      at: NOW,
      vault: ACTIVE,
      reconcile: undefined,
      spool: undefined,
      policyHashes: POLICIES,
    };
    expect(decide(cheap, { ...EMPTY_MEMORY, converged: CONVERGED }, SETTINGS)).toMatchObject({
      state: 'ready',
      action: { kind: 'done' },
    });
  });
});

describe('awayPauseMs: fast while a restart is likely, a few a second after', () => {
  it('25 ms for the first 10 s away, then 200–400 ms', () => {
    expect(awayPauseMs(0)).toBe(AWAY_FAST_MS);
    expect(awayPauseMs(AWAY_FAST_FOR_MS - 1)).toBe(AWAY_FAST_MS);
    expect(awayPauseMs(AWAY_FAST_FOR_MS, () => 0)).toBe(AWAY_SLOW_MS / 2);
    expect(awayPauseMs(3600_000, () => 1)).toBe(AWAY_SLOW_MS);
  });
});
