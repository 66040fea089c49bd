import { BootstrapError } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { takeSnapshot, type SnapshotResult } from '../snapshots/take.js';
import { createObjectStore } from '../snapshots/target.js';
import type { ObjectStore } from '../snapshots/types.js';

/** Opens --snapshot-to for the length of `work` (the SDK of its kind is loaded only now). */
export async function withObjectStore<T>(context: StepContext, work: (objects: ObjectStore) => Promise<T>): Promise<T> {
  const settings = context.config.snapshots;
  if (settings === undefined) throw new BootstrapError('CONFIG_INVALID', '--snapshot-to/VB_SNAPSHOT_TO: required');
  const objects = await createObjectStore(settings.target);
  try {
    return await work(objects);
  } finally {
    await objects.close().catch(() => undefined);
  }
}

/** vault-bootstrap snapshot: one verified snapshot from the active node (a CronJob, or the step before an upgrade). */
export function snapshot(context: StepContext): Promise<SnapshotResult> {
  return withObjectStore(context, (objects) => takeSnapshot(context, objects, context.config.snapshots!));
}
