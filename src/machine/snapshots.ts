import { formatDuration } from '../duration.js';
import type { HealthKind } from './health.js';
import type { Memory, SnapshotSchedule } from './memory.js';
import type { Decision, Observation } from './model.js';

/**
 * Snapshots in the sidecar loop (--snapshot-interval, SPEC §12): pure rules, no I/O, no clock.
 * Only the active node takes one (a standby answers an empty 200), only when the loop has
 * nothing else to do, and only when the newest verified snapshot in --snapshot-to, as observed,
 * is at least the interval old. Every replica's sidecar runs the same rule over the same
 * destination, so a new active node goes on from the newest snapshot its predecessor took.
 */

/** A destination that did not answer, or a snapshot that failed, is tried again after this (doubling, at most the interval). */
export const SNAPSHOT_RETRY_MS = 15_000;
/**
 * A due snapshot the loop could not take yet (it was still converging, or holds for a person) is
 * looked at again this soon: the first snapshot follows convergence closely, and a node that
 * holds costs one listing per pass at most (a hold's passes are 30 s apart).
 */
const RELOOK_MS = 10_000;

/** Whether this pass reads --snapshot-to: an active node, with --snapshot-interval, once the schedule says so. */
export function snapshotLookDue(
  intervalMs: number | undefined,
  memory: Memory,
  health: HealthKind,
  at: number,
): boolean {
  if (intervalMs === undefined || health !== 'active') return false;
  const schedule = memory.snapshots;
  return schedule === undefined || at >= nextLookAt(schedule, intervalMs);
}

function nextLookAt(schedule: SnapshotSchedule, intervalMs: number): number {
  if (schedule.failures > 0) return schedule.lookedAt + retryPauseMs(schedule.failures, intervalMs);
  const due = schedule.newestAt === undefined ? Number.NEGATIVE_INFINITY : schedule.newestAt + intervalMs;
  return Math.max(schedule.lookedAt + Math.min(intervalMs, RELOOK_MS), due);
}

/** 15 s, 30 s, 1 min, … after each failure in a row, never longer than the interval. */
export function retryPauseMs(failures: number, intervalMs: number): number {
  return Math.min(intervalMs, SNAPSHOT_RETRY_MS * 2 ** Math.min(Math.max(failures - 1, 0), 8));
}

/**
 * The decision with the snapshot rule applied: a node that is otherwise done (ready) and active,
 * whose look found the newest snapshot missing or at least --snapshot-interval old, takes one.
 * A destination that could not be read takes none (its problem is logged by the look).
 */
export function decideSnapshot(seen: Observation, intervalMs: number | undefined, decision: Decision): Decision {
  if (decision.action.kind !== 'done' || intervalMs === undefined || seen.vault.health !== 'active') return decision;
  const look = seen.snapshots;
  if (look === undefined || look.problem !== undefined) return decision;
  const { newest } = look;
  if (newest !== undefined && seen.at - newest.takenAt < intervalMs) return decision;
  const why =
    newest === undefined
      ? 'no verified snapshot in --snapshot-to yet'
      : `the newest snapshot (${newest.id}) is ${formatDuration(seen.at - newest.takenAt)} old, --snapshot-interval ${formatDuration(intervalMs)}`;
  return {
    state: decision.state,
    reason: `${decision.reason}; ${why}: taking one`,
    action: { kind: 'take-snapshot', newest: newest?.id },
  };
}

/** What a look at --snapshot-to teaches the schedule: a newer snapshot (any node's) clears the failures. */
export function rememberSnapshots(memory: Memory, seen: Observation): Memory {
  const look = seen.snapshots;
  if (look === undefined) return memory;
  const previous = memory.snapshots;
  if (look.problem !== undefined)
    return {
      ...memory,
      snapshots: { lookedAt: seen.at, newestAt: previous?.newestAt, failures: (previous?.failures ?? 0) + 1 },
    };
  const newestAt = look.newest?.takenAt;
  const newer = newestAt !== undefined && (previous?.newestAt === undefined || newestAt > previous.newestAt);
  return {
    ...memory,
    snapshots: { lookedAt: seen.at, newestAt, failures: newer ? 0 : (previous?.failures ?? 0) },
  };
}

/** The outcome of a take: published (when it was taken), or failed. */
export function learnSnapshot(memory: Memory, at: number, takenAt: number | undefined): Memory {
  const previous = memory.snapshots;
  return {
    ...memory,
    snapshots:
      takenAt === undefined
        ? { lookedAt: at, newestAt: previous?.newestAt, failures: (previous?.failures ?? 0) + 1 }
        : { lookedAt: at, newestAt: takenAt, failures: 0 },
  };
}
