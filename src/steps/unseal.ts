import { BootstrapError } from '../errors.js';
import type { UnsealKeys } from '../store/records.js';
import type { StepContext } from './context.js';

/**
 * Submits stored key shares until the server reports unsealed. Only for Shamir seals:
 * the caller reports an auto-unseal node that stays sealed instead of calling this.
 */
export async function unseal(context: StepContext, unsealKeys: UnsealKeys): Promise<boolean> {
  const { vault, log, metrics, signal } = context;
  if (unsealKeys.type !== 'shamir') {
    throw new BootstrapError('STORE_CORRUPT', `${context.records.names.unsealKeys}: holds recovery keys, but the server has a Shamir seal`);
  }
  for (const [index, key] of unsealKeys.keys.entries()) {
    const answer = await vault.unseal(key, { signal });
    metrics.unsealSubmitted();
    log.debug({ share: index + 1, progress: answer.progress }, 'unseal share submitted');
    if (!answer.sealed) return true;
  }
  return false;
}
