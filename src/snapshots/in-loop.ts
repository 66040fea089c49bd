import { AbortedError, describeError, isAborted } from '../errors.js';
import type { SnapshotsSeen } from '../machine/model.js';
import type { StepContext } from '../steps/context.js';
import { newestSnapshot, readVerifiedRestore } from './catalog.js';
import { takeSnapshot } from './take.js';
import { withObjectStore } from './target.js';

/**
 * The sidecar loop's look at --snapshot-to (observe): its newest verified snapshot, and when the
 * last restore drill passed (the metric the drill's alert reads: a CronJob is not scraped). A destination
 * that does not answer or refuses is reported in the observation, not thrown: a bucket outage
 * must not stop the loop that keeps the server unsealed (nor make the pod unready).
 */
export async function observeSnapshots(context: StepContext): Promise<SnapshotsSeen> {
  try {
    const [newest, verified] = await withObjectStore(context, (objects) =>
      Promise.all([newestSnapshot(objects), readVerifiedRestore(objects)]),
    );
    return {
      newest:
        newest === undefined ? undefined : { id: newest.id, takenAt: Date.parse(newest.takenAt), size: newest.size },
      ...(verified === undefined ? {} : { verifiedRestoreAt: Date.parse(verified.verifiedAt) }),
    };
  } catch (error) {
    if (isAborted(error)) throw error;
    if (context.signal.aborted) throw new AbortedError();
    const problem = describeError(error);
    context.metrics.snapshotFailed('look');
    context.log.error(
      { event: 'snapshot-look-failed', target: context.config.snapshots?.target.location, error: problem },
      'cannot read --snapshot-to; no snapshot is taken until it answers',
    );
    return { newest: undefined, problem };
  }
}

/**
 * act's take-snapshot: one snapshot (take.ts: active node checked again, streamed, verified,
 * published, retention); returns when it was taken, or undefined when it failed (learn() puts
 * either into the schedule). A failure is reported (event `snapshot-failed`, the metric) and
 * retried later; it never fails the pass.
 */
export async function takeScheduledSnapshot(context: StepContext): Promise<number | undefined> {
  try {
    const result = await withObjectStore(context, (objects) =>
      takeSnapshot(context, objects, context.config.snapshots!),
    );
    return Date.parse(result.takenAt);
  } catch (error) {
    if (isAborted(error)) throw error;
    if (context.signal.aborted) throw new AbortedError();
    context.metrics.snapshotFailed('take');
    context.log.error(
      { event: 'snapshot-failed', target: context.config.snapshots?.target.location, error: describeError(error) },
      'the scheduled snapshot failed; nothing was published, it is tried again later',
    );
    return undefined;
  }
}
