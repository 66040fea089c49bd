import { checkpoint } from '../checkpoints.js';
import type { SealKeyRolloutSeen } from '../machine/model.js';
import type { StepContext } from '../steps/context.js';
import { SealKeyRecords } from '../store/seal-key.js';

/**
 * The sidecar's read for the rewrap rule (decide.ts), on an active static-seal node: key ids
 * only (two store reads). No `{prefix}-seal-key` (a static seal not from seal-key): all undefined.
 */
export async function observeSealKeyRollout(context: StepContext): Promise<SealKeyRolloutSeen> {
  const records = new SealKeyRecords(context.records.store, context.config.storePrefix);
  const versions = await records.readVersions();
  const newest = versions.at(-1)?.record;
  if (newest === undefined) return { newestKeyId: undefined, ownKeyId: undefined, rewrappedKeyId: undefined };
  const rollout = await records.readRollout();
  return {
    newestKeyId: newest.keyId,
    ownKeyId: rollout.nodes[context.config.holder]?.keyId,
    rewrappedKeyId: rollout.rewrapped?.keyId,
  };
}

/** Records that the stored keys are re-wrapped with `keyId` (what decide() concluded). */
export async function recordSealRewrap(context: StepContext, keyId: string): Promise<void> {
  const records = new SealKeyRecords(context.records.store, context.config.storePrefix);
  const by = context.config.holder;
  await records.updateRollout((seen) =>
    seen.rewrapped?.keyId === keyId ? undefined : { ...seen, rewrapped: { keyId, at: new Date().toISOString(), by } },
  );
  checkpoint('seal-key-rewrap-recorded');
  context.log.info(
    { event: 'seal-key-rewrap-recorded', keyId, secret: records.rolloutName },
    `recorded the re-wrap of the stored keys with static seal key ${keyId}`,
  );
}
