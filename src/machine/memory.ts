import type { HealthKind } from './health.js';
import type { ActOutcome, Observation, PolicyRejection, VaultSeen } from './model.js';
import type { SealIntent } from '../store/records.js';
import { learnSnapshot, rememberSnapshots } from './snapshots.js';

/** What the last full reconcile that found everything in place saw; a cheap pass compares the server with it. */
export interface Converged {
  /** When that reconcile ran (the pass's clock). */
  at: number;
  health: HealthKind;
  clusterId: string | undefined;
  connectionsClosed: number;
  /** Our policy texts then, as one digest: a changed --policies-dir calls for a reconcile. */
  policies: string;
  /** When the stored provisioner token enters the last third of its life, or the management token of its period, whichever is first, as looked up then. */
  rotateAt: number | undefined;
  /**
   * What sys/seal-status said then. A cheap pass (health, cluster id and closed connections as
   * then) reuses it instead of asking again: the seal type changes only with a restart, a
   * migration shows only while sealed, and the split is read afresh at every reconcile.
   */
  sealStatus: Pick<VaultSeen, 'sealType' | 'migration' | 'seal'>;
}

/**
 * The little that cannot be observed. Everything about a server is kept under the cluster id
 * it was learned on and dropped when the id changes (a wipe, a re-init, a DR redeploy).
 */
export interface Memory {
  clusterId: string | undefined;
  /**
   * A claim generation we lost the create of but cannot read yet, and since when: GCP writes a
   * secret and its first version apart, and a writer that died between the two leaves it empty.
   */
  unreadableClaim: { generation: number; since: number } | undefined;
  /**
   * The stored keys this process found first (their initializedAt): the old cluster that
   * --allow-reinit replaces. Keys stored later are a racing replica's new cluster.
   */
  keysFoundFirst: string | undefined;
  rejectedPolicies: ReadonlyMap<string, PolicyRejection>;
  /** Key versions (1-based) the server refused, from zero progress, and when. */
  refusedKeys: ReadonlyMap<number, number>;
  /** This cluster was ready once in this process: a later write is a drift repair, not setup. */
  convergedOnce: boolean;
  /** This process initialized this node, or unsealed it with the stored keys: they are its keys. */
  opened: boolean;
  /** connectionsClosed when the node was last seen unsealed; dropped once it was unreachable or sealed on purpose. */
  unsealedAtCloses: number | undefined;
  /**
   * connectionsClosed when the node was seen sealed under an active seal intent: while it stays
   * the same after a resume, the server process never restarted, and an auto-unseal server
   * sealed through the API unseals only at its start.
   */
  sealedOnPurposeAtCloses: number | undefined;
  /** What the last full reconcile that found nothing to do saw; cheap passes compare with it (cadence.ts). */
  converged: Converged | undefined;
  /** The seal type the node last reported: while it does not answer, whether a KMS may be why. */
  sealType: string | undefined;
  /** Since when the server has not answered (a pass's `at`); undefined while it answers. */
  unreachableSince: number | undefined;
  /** When the server last refused the stored Shamir keys as its recovery keys after a seal migration. */
  migratedKeysRefusedAt: number | undefined;
  /** --snapshot-interval: when to look at --snapshot-to next, and the failures in a row since the last snapshot (snapshots.ts). */
  snapshots: SnapshotSchedule | undefined;
}

export interface SnapshotSchedule {
  /** When --snapshot-to was last looked at, or a snapshot last taken or failed. */
  lookedAt: number;
  /** When the newest verified snapshot seen was taken. */
  newestAt: number | undefined;
  /** Failed looks and takes in a row since the last snapshot: the retry pause doubles with each. */
  failures: number;
}

export const EMPTY_MEMORY: Memory = Object.freeze({
  clusterId: undefined,
  unreadableClaim: undefined,
  keysFoundFirst: undefined,
  rejectedPolicies: new Map(),
  refusedKeys: new Map(),
  convergedOnce: false,
  opened: false,
  unsealedAtCloses: undefined,
  sealedOnPurposeAtCloses: undefined,
  converged: undefined,
  sealType: undefined,
  unreachableSince: undefined,
  migratedKeysRefusedAt: undefined,
  snapshots: undefined,
});

/**
 * The memory to decide with after seeing `seen`: what was learned about another cluster is
 * dropped, and the seal watch follows what the node is now.
 */
export function remember(memory: Memory, seen: Observation): Memory {
  let next = memory;
  const clusterId = seen.vault.clusterId;
  // What outlives a change of cluster: it is about the store's claim and keys, not the server.
  const carried = { unreadableClaim: memory.unreadableClaim, keysFoundFirst: memory.keysFoundFirst };
  if (seen.vault.health === 'uninitialized' && memory.clusterId !== undefined) {
    // Wiped: whatever comes next is another cluster, and this process may be the one to make it.
    next = { ...EMPTY_MEMORY, ...carried };
  } else if (clusterId !== undefined && clusterId !== memory.clusterId) {
    // The first id seen is the node this process set up or opened; a different one later is another cluster.
    next = memory.clusterId === undefined ? { ...memory, clusterId } : { ...EMPTY_MEMORY, clusterId, ...carried };
  }
  if (seen.keys?.kind === 'valid' && next.keysFoundFirst === undefined)
    next = { ...next, keysFoundFirst: seen.keys.value.initializedAt };
  if (
    seen.claim !== undefined &&
    next.unreadableClaim !== undefined &&
    seen.claim.generation >= next.unreadableClaim.generation
  ) {
    next = { ...next, unreadableClaim: undefined };
  }
  const { health, connectionsClosed, sealType } = seen.vault;
  let unsealedAtCloses = next.unsealedAtCloses;
  if (health === 'unreachable' || intentActive(seen)) unsealedAtCloses = undefined;
  else if (health !== 'sealed' && health !== 'uninitialized' && health !== 'unknown' && health !== 'removed')
    unsealedAtCloses = connectionsClosed;
  if (unsealedAtCloses !== next.unsealedAtCloses) next = { ...next, unsealedAtCloses };
  let sealedOnPurposeAtCloses = next.sealedOnPurposeAtCloses;
  if (health === 'sealed' && intentActive(seen)) sealedOnPurposeAtCloses = connectionsClosed;
  else if (health !== 'sealed') sealedOnPurposeAtCloses = undefined;
  if (sealedOnPurposeAtCloses !== next.sealedOnPurposeAtCloses) next = { ...next, sealedOnPurposeAtCloses };
  if (sealType !== undefined && sealType !== next.sealType) next = { ...next, sealType };
  const unreachableSince = health === 'unreachable' ? (next.unreachableSince ?? seen.at) : undefined;
  if (unreachableSince !== next.unreachableSince) next = { ...next, unreachableSince };
  return rememberSnapshots(next, seen);
}

export function intentActive(seen: Observation): SealIntent | undefined {
  return seen.sealIntent?.kind === 'valid' && seen.sealIntent.value.active ? seen.sealIntent.value : undefined;
}

/**
 * The memory after an action reported `outcome` at `at` (the pass's clock): the one place an
 * action's result becomes something the next decide() reads. Pure.
 */
export function learn(memory: Memory, outcome: ActOutcome, at: number): Memory {
  switch (outcome.kind) {
    case 'acted':
    case 'init-skipped':
    case 'unseal-pending':
      return memory;
    case 'claim-lost': {
      // Since when this generation reads empty: kept across passes that lose the same generation again.
      const since = memory.unreadableClaim?.generation === outcome.generation ? memory.unreadableClaim.since : at;
      return { ...memory, unreadableClaim: { generation: outcome.generation, since } };
    }
    case 'initialized':
      return { ...memory, opened: true };
    case 'unsealed':
      return { ...memory, refusedKeys: new Map(), opened: true };
    case 'keys-refused':
      return { ...memory, refusedKeys: new Map([...memory.refusedKeys, [outcome.version, at]]) };
    case 'configured': {
      const rejectedPolicies = new Map(memory.rejectedPolicies);
      for (const name of outcome.written) rejectedPolicies.delete(name);
      for (const [name, rejection] of outcome.rejected) rejectedPolicies.set(name, rejection);
      return { ...memory, rejectedPolicies };
    }
    case 'migrated-keys':
      if (outcome.result === 'busy') return memory;
      return { ...memory, migratedKeysRefusedAt: outcome.result === 'refused' ? at : undefined };
    case 'snapshot':
      return learnSnapshot(memory, at, outcome.takenAt);
  }
}
