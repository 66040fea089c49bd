import { BootstrapError } from '../errors.js';
import { classifyHealth } from '../machine/health.js';
import { sleep } from '../wait.js';
import type { StepContext } from '../steps/context.js';
import { restoreFromSnapshot, type RestoreResult } from '../snapshots/restore.js';
import { takeSnapshot, type SnapshotResult } from '../snapshots/take.js';
import { withObjectStore } from '../snapshots/target.js';
import type { VerifiedRestore } from '../snapshots/catalog.js';

/** vault-bootstrap snapshot: one verified snapshot from the active node (a CronJob, or the step before an upgrade). */
export function snapshot(context: StepContext): Promise<SnapshotResult> {
  return withObjectStore(context, (objects) => takeSnapshot(context, objects, context.config.snapshots!));
}

/** vault-bootstrap restore: an empty server brought back from a verified snapshot and the keys version it names. */
export async function restore(context: StepContext): Promise<RestoreResult> {
  const result = await withObjectStore(context, (objects) =>
    restoreFromSnapshot(context, objects, { snapshotId: context.config.snapshotId, automatic: false }),
  );
  if (result === undefined) throw new BootstrapError('INTERNAL', 'restore: nothing restored (a bug: please report it)');
  return result;
}

/** vault-bootstrap restore-drill: the newest snapshot restored into an empty throwaway server and checked; the store is only read. */
export async function restoreDrill(context: StepContext): Promise<VerifiedRestore> {
  const { restoreDrill: drill } = await import('../snapshots/drill.js');
  return withObjectStore(context, (objects) => drill(context, objects, context.config.snapshotId));
}

/**
 * run --restore: waits for the server to answer; when it is empty and the store holds keys, the
 * newest verified snapshot is restored (by the one replica whose restore record is created first;
 * the others go on and join as usual). Anything else (data present, no keys) is left to the loop.
 */
export async function restoreIfEmpty(context: StepContext): Promise<void> {
  const { vault, records, log, signal } = context;
  let kind = 'unreachable';
  for (let attempt = 0; kind === 'unreachable' || kind === 'unknown'; attempt += 1) {
    try {
      kind = classifyHealth((await vault.health({ signal })).status);
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
    }
    if (kind === 'unreachable' || kind === 'unknown') await sleep(Math.min(5_000, 250 * 2 ** attempt), signal);
  }
  const keys = await records.readUnsealKeyVersions();
  const inProgress = kind !== 'uninitialized';
  if (!inProgress && keys.count === 0) {
    log.info(
      { event: 'restore-skipped', health: kind },
      '--restore: no keys in the store: nothing to restore, the loop initializes',
    );
    return;
  }
  const result = await withObjectStore(context, (objects) =>
    restoreFromSnapshot(context, objects, { snapshotId: undefined, automatic: true }),
  );
  if (result === undefined)
    log.info(
      { event: 'restore-skipped', health: kind },
      "--restore: not this replica's to restore (done, held by another replica, or the server holds data): the loop goes on as usual",
    );
}

/**
 * rotate-keys and migrate-seal with --snapshot-to: a snapshot first, paired with the keys version
 * in force before the change (SPEC §12). rotate-keys needs the active node for it (a standby is
 * refused, SNAPSHOT_NOT_ACTIVE). migrate-seal runs on nodes already sealed under the new seal
 * stanza, where no snapshot can be read: it says so and goes on (take one before the seal change).
 */
export async function snapshotFirst(context: StepContext): Promise<void> {
  const { vault, log, config, signal } = context;
  if (config.command === 'migrate-seal' && classifyHealth((await vault.health({ signal })).status) !== 'active') {
    log.warn(
      { event: 'snapshot-skipped', command: config.command },
      'migrate-seal: the server is not active (sealed for the migration), so no snapshot can be taken now; take one with vault-bootstrap snapshot before changing the seal stanza',
    );
    return;
  }
  const result = await snapshot(context);
  log.info(
    { event: 'snapshot-before-change', command: config.command, id: result.id, keysVersion: result.keysVersion },
    `${config.command}: snapshot taken first`,
  );
}
