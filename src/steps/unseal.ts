import { BootstrapError } from '../errors.js';
import type { UnsealKeys } from '../store/records.js';
import type { StepContext } from './context.js';

/**
 * Submits stored key shares until the server reports unsealed. Only for Shamir seals:
 * the caller reports an auto-unseal node that stays sealed instead of calling this.
 *
 * The given keys are the active version. If the server rejects them and the store holds
 * a rotation's pending version after it, the rotation's verification completed before its
 * run could mark the keys active: the pending keys are tried, and once they unseal the
 * server they are stored as the active version.
 */
export async function unseal(context: StepContext, unsealKeys: UnsealKeys): Promise<boolean> {
  if (unsealKeys.type !== 'shamir') {
    throw new BootstrapError('STORE_CORRUPT', `${context.records.names.unsealKeys}: holds recovery keys, but the server has a Shamir seal`);
  }
  let rejection: BootstrapError | undefined;
  const unsealed = await submitShares(context, unsealKeys).catch((error: unknown) => {
    if (!(error instanceof BootstrapError) || error.statusCode !== 400) throw error;
    rejection = error;
    return false;
  });
  if (unsealed) return true;
  const { pending } = await context.records.readUnsealKeyVersions();
  if (pending.length === 0) {
    if (rejection) throw rejection;
    return false;
  }
  // Every active share is in and the server still wants more: the split changed with a rotation.
  if (rejection === undefined) await resetUnseal(context);
  context.log.warn({ pending: pending.length }, 'the server does not take the active keys; trying the pending version(s) of an unfinished rotation');
  for (const candidate of pending) {
    const opened = await submitShares(context, candidate.record).catch(async (error: unknown) => {
      if (!(error instanceof BootstrapError) || error.statusCode !== 400) throw error;
      return undefined;
    });
    if (opened === false) await resetUnseal(context);
    if (!opened) continue;
    await context.records.writeUnsealKeys({ ...candidate.record, status: 'active' });
    context.log.info({ version: candidate.version }, 'the pending keys of a verified rotation unsealed the server; stored them as the active version');
    return true;
  }
  throw rejection ?? new BootstrapError('KEYS_REJECTED', `${context.records.names.unsealKeys}: no stored version unseals the server`);
}

async function resetUnseal(context: StepContext): Promise<void> {
  await context.vault.client.call('PUT', 'sys/unseal', { body: { reset: true }, signal: context.signal });
}

async function submitShares(context: StepContext, unsealKeys: UnsealKeys): Promise<boolean> {
  const { vault, log, metrics, signal } = context;
  for (const [index, key] of unsealKeys.keys.entries()) {
    const answer = await vault.unseal(key, { signal });
    metrics.unsealSubmitted();
    log.debug({ share: index + 1, progress: answer.progress }, 'unseal share submitted');
    if (!answer.sealed) return true;
  }
  return false;
}
