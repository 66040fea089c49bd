import { BootstrapError } from '../errors.js';
import type { SealKey, SealKeyRollout, SealKeyVersion } from '../store/seal-key.js';

/** What `seal-key` writes: the current key, and the previous one while the cluster may still need it. */
export interface SealKeyChoice {
  current: { version: number; record: SealKey };
  previous: { version: number; record: SealKey } | undefined;
  /** Why the previous key is (not) written: for the log, ids only. */
  reason: string;
}

/**
 * Whether every node is on the newest key: the active node re-wrapped the stored keys with it
 * (the sidecar saw its node active on it), and every node that ever started under seal-key last
 * started with it as current. Only then may the previous key leave the files.
 */
export function rolloutComplete(
  newestKeyId: string,
  rollout: SealKeyRollout,
): { complete: boolean; waitingFor: string[] } {
  const waitingFor = Object.entries(rollout.nodes)
    .filter(([, entry]) => entry.keyId !== newestKeyId)
    .map(([node]) => node)
    .sort();
  if (rollout.rewrapped?.keyId !== newestKeyId) waitingFor.unshift('the re-wrap by the active node');
  return { complete: waitingFor.length === 0, waitingFor };
}

/**
 * Pure: the keys to write from the stored versions and the rollout record. Current is the newest
 * version. Previous is the key the stored keys were last known to be wrapped with (the rollout's
 * `rewrapped`, or else the version before the newest) until the rollout is complete. A record
 * the choice needs that is not a valid 32-byte key is refused, naming its version.
 */
export function chooseSealKeys(
  name: string,
  versions: readonly SealKeyVersion[],
  rollout: SealKeyRollout,
): SealKeyChoice {
  const newest = versions.at(-1);
  if (newest === undefined) throw new BootstrapError('STORE_NOT_FOUND', `${name}: no version stored`);
  if (newest.record === undefined)
    throw new BootstrapError(
      'STORE_CORRUPT',
      `${name}: the latest version (${newest.version}) is not a valid seal key record: ${newest.problem}`,
    );
  const current = { version: newest.version, record: newest.record };
  if (versions.length === 1) return { current, previous: undefined, reason: 'one key version' };
  const { complete, waitingFor } = rolloutComplete(current.record.keyId, rollout);
  if (complete) return { current, previous: undefined, reason: 'every node is on the newest key' };
  const wrappedWith = rollout.rewrapped?.keyId;
  const previous =
    wrappedWith !== undefined && wrappedWith !== current.record.keyId
      ? versions.findLast((each) => each.record?.keyId === wrappedWith)
      : versions.at(-2);
  if (previous === undefined)
    throw new BootstrapError(
      'STORE_CORRUPT',
      `${name}: no stored version holds key ${wrappedWith}, which ${name}-rollout says the stored keys are wrapped with`,
    );
  if (previous.record === undefined)
    throw new BootstrapError(
      'STORE_CORRUPT',
      `${name}: version ${previous.version}, the previous key, is not a valid seal key record: ${previous.problem}`,
    );
  if (previous.record.keyId === current.record.keyId)
    return { current, previous: undefined, reason: 'the previous version holds the same key' };
  return {
    current,
    previous: { version: previous.version, record: previous.record },
    reason: `waiting for ${waitingFor.join(', ')}`,
  };
}
