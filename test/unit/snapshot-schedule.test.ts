import { describe, expect, it } from 'vitest';
import { decide, EMPTY_MEMORY, remember, type Memory, type Observation } from '../../src/machine/decide.js';
import { afterDecision } from '../../src/machine/cadence.js';
import { learnSnapshot, retryPauseMs, snapshotLookDue, SNAPSHOT_RETRY_MS } from '../../src/machine/snapshots.js';
import { Secret } from '../../src/secret.js';
import { SETTINGS } from './decide-settings.js';

// The sidecar loop's snapshot rule (SPEC §12, --snapshot-interval): pure, from what was observed.
const NOW = Date.parse('2026-12-07T22:00:00Z');
const HOUR = 3_600_000;
const WITH_INTERVAL = { ...SETTINGS, snapshotIntervalMs: HOUR };

/** An active node that is converged (a cheap pass: decide says done), with a look at --snapshot-to. */
function seenWith(snapshots: Observation['snapshots'], health: 'active' | 'standby' = 'active'): Observation {
  return {
    at: NOW,
    vault: {
      health,
      status: health === 'active' ? 200 : 429,
      detail: '',
      clusterId: 'cluster-a',
      sealType: 'shamir',
      migration: false,
      unsealProgress: { progress: 0, nonce: '' },
      connectionsClosed: 0,
    },
    reconcile: undefined,
    spool: undefined,
    policyHashes: new Map(),
    ...(snapshots === undefined ? {} : { snapshots }),
  };
}

const newestAgo = (ms: number) => ({ newest: { id: 'snapshot-x', takenAt: NOW - ms, size: 1000 } });

describe('decide: the snapshot rule', () => {
  it('an active, converged node with no snapshot yet takes one; still ready', () => {
    const decision = decide(seenWith({ newest: undefined }), EMPTY_MEMORY, WITH_INTERVAL);
    expect(decision).toMatchObject({ state: 'ready', action: { kind: 'take-snapshot', newest: undefined } });
  });

  it('takes one when the newest is the interval old, not before', () => {
    expect(decide(seenWith(newestAgo(HOUR)), EMPTY_MEMORY, WITH_INTERVAL).action).toEqual({
      kind: 'take-snapshot',
      newest: 'snapshot-x',
    });
    expect(decide(seenWith(newestAgo(HOUR - 1)), EMPTY_MEMORY, WITH_INTERVAL).action).toEqual({ kind: 'done' });
  });

  it('a standby never takes one (it would answer an empty 200), whatever it saw', () => {
    expect(decide(seenWith({ newest: undefined }, 'standby'), EMPTY_MEMORY, WITH_INTERVAL).action.kind).toBe('done');
  });

  it('none without --snapshot-interval, without a look, or when the destination did not answer', () => {
    expect(decide(seenWith({ newest: undefined }), EMPTY_MEMORY, SETTINGS).action.kind).toBe('done');
    expect(decide(seenWith(undefined), EMPTY_MEMORY, WITH_INTERVAL).action.kind).toBe('done');
    const problem = { newest: undefined, problem: { code: 'SNAPSHOT_STORE_UNAVAILABLE', message: 'down' } };
    expect(decide(seenWith(problem), EMPTY_MEMORY, WITH_INTERVAL).action.kind).toBe('done');
  });

  it('never before the loop is otherwise done: a differing policy is written first', () => {
    const seen: Observation = {
      ...seenWith({ newest: undefined }),
      reconcile: 'start',
      keys: {
        kind: 'valid',
        value: {
          type: 'shamir',
          keys: [new Secret('a2V5MQ==')],
          threshold: 1,
          shares: 1,
          initializedAt: '2026-11-01T00:00:00Z',
          clusterId: 'cluster-a',
        },
      },
      managementToken: {
        kind: 'valid',
        value: {
          token: new Secret('m'),
          accessor: 'm',
          policies: ['vault-bootstrap'],
          expiresAt: '2027-01-01T00:00:00Z',
        },
      },
      server: {
        managementToken: 'management',
        ownManagementToken: 'valid',
        policiesDiffering: ['admin'],
        roleDiffers: false,
        auditDiffers: false,
        provisionerToken: 'valid',
        rootTokenLive: false,
      },
    };
    expect(decide(seen, EMPTY_MEMORY, WITH_INTERVAL).action).toMatchObject({ kind: 'configure', policies: ['admin'] });
  });

  it('a pass that takes a snapshot still counts as converged (cheap passes go on)', () => {
    const seen = { ...seenWith({ newest: undefined }), reconcile: 'start' };
    const memory = afterDecision(EMPTY_MEMORY, seen, {
      state: 'ready',
      reason: '',
      action: { kind: 'take-snapshot', newest: undefined },
    });
    expect(memory.convergedOnce).toBe(true);
    expect(memory.converged?.at).toBe(NOW);
  });
});

describe('the snapshot schedule: when to look at --snapshot-to', () => {
  const look = (memory: Memory, at: number, health: 'active' | 'standby' = 'active') =>
    snapshotLookDue(HOUR, memory, health, at);

  it('at first, on the active node only, and only with --snapshot-interval', () => {
    expect(look(EMPTY_MEMORY, NOW)).toBe(true);
    expect(look(EMPTY_MEMORY, NOW, 'standby')).toBe(false);
    expect(snapshotLookDue(undefined, EMPTY_MEMORY, 'active', NOW)).toBe(false);
  });

  it('after a fresh snapshot was seen: when it is due, not on every pass', () => {
    const memory = remember(EMPTY_MEMORY, seenWith(newestAgo(10 * 60_000)));
    expect(memory.snapshots).toEqual({ lookedAt: NOW, newestAt: NOW - 10 * 60_000, failures: 0 });
    expect(look(memory, NOW + 49 * 60_000)).toBe(false);
    expect(look(memory, NOW + 50 * 60_000)).toBe(true);
  });

  it('after a published snapshot: one interval later', () => {
    const memory = learnSnapshot(EMPTY_MEMORY, NOW, NOW);
    expect(look(memory, NOW + HOUR - 1)).toBe(false);
    expect(look(memory, NOW + HOUR)).toBe(true);
  });

  it('a due snapshot the loop did not take (it was converging) is looked at again 10 s later', () => {
    const memory = remember(EMPTY_MEMORY, seenWith(newestAgo(2 * HOUR)));
    expect(look(memory, NOW + 9_999)).toBe(false);
    expect(look(memory, NOW + 10_000)).toBe(true);
  });

  it('failures back off (15 s, doubling, at most the interval); a newer snapshot seen clears them', () => {
    let memory = learnSnapshot(EMPTY_MEMORY, NOW, undefined);
    expect(look(memory, NOW + SNAPSHOT_RETRY_MS - 1)).toBe(false);
    expect(look(memory, NOW + SNAPSHOT_RETRY_MS)).toBe(true);
    memory = remember(memory, seenWith({ newest: undefined, problem: { code: 'X', message: 'down' } }));
    expect(memory.snapshots?.failures).toBe(2);
    expect(look(memory, NOW + 2 * SNAPSHOT_RETRY_MS - 1)).toBe(false);
    // A look that succeeds but finds nothing newer keeps the count: the take that follows may fail again.
    memory = remember(memory, seenWith({ newest: undefined }));
    expect(memory.snapshots?.failures).toBe(2);
    memory = remember(memory, seenWith(newestAgo(1000)));
    expect(memory.snapshots?.failures).toBe(0);
    expect(retryPauseMs(20, HOUR)).toBe(HOUR);
    expect(retryPauseMs(1, 1000)).toBe(1000);
  });

  it('is dropped with everything else when the cluster id changes', () => {
    const memory = { ...learnSnapshot(EMPTY_MEMORY, NOW, NOW), clusterId: 'cluster-a' };
    const other = seenWith(undefined);
    other.vault = { ...other.vault, clusterId: 'cluster-b' };
    expect(remember(memory, other).snapshots).toBeUndefined();
  });
});
