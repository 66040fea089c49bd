import { BootstrapError } from '../errors.js';
import type { UnsealKeys } from '../store/records.js';
import type { StepContext } from './context.js';

/**
 * How one submission of a key set ended: `unsealed`; `refused` (the server refused a share or
 * the combination, counting from zero progress); `still-sealed` (every share taken, more
 * wanted: a node joining raft, or a split a rotation changed); `interfered` (the server's
 * progress was not the count of our shares: someone submitted shares meanwhile, so a refusal
 * would say nothing about our keys).
 */
export type UnsealOutcome = 'unsealed' | 'refused' | 'still-sealed' | 'interfered';

/**
 * Submits one stored key set, share by share, from zero progress, until the server reports
 * unsealed. Only for Shamir seals: decide() reports an auto-unseal node that stays sealed
 * instead. Progress left by anyone is reset before the first share when `resetFirst`, and
 * after a refusal or an interference, so the next try starts from zero too.
 */
export async function submitUnsealKeys(
  context: StepContext,
  unsealKeys: UnsealKeys,
  resetFirst: boolean,
): Promise<UnsealOutcome> {
  const { vault, log, metrics, signal } = context;
  if (unsealKeys.type !== 'shamir') {
    throw new BootstrapError(
      'INTERNAL',
      `${context.records.names.unsealKeys}: unseal was decided with recovery keys (a bug: please report it)`,
    );
  }
  if (resetFirst) await resetUnsealProgress(context);
  for (const [index, key] of unsealKeys.keys.entries()) {
    let answer: { sealed: boolean; progress: number };
    try {
      answer = await vault.unseal(key, { signal });
    } catch (error) {
      if (!(error instanceof BootstrapError) || error.code !== 'KEYS_REJECTED') throw error;
      await resetUnsealProgress(context);
      return 'refused';
    }
    metrics.unsealSubmitted();
    log.debug(
      { event: 'unseal-share-submitted', share: index + 1, progress: answer.progress },
      'unseal share submitted',
    );
    if (!answer.sealed) return 'unsealed';
    // The server counts every share it holds: a count ahead of ours includes someone else's.
    if (answer.progress !== 0 && answer.progress !== index + 1) {
      log.warn(
        { event: 'unseal-interfered', share: index + 1, progress: answer.progress },
        'someone else submitted unseal shares while we did: resetting and starting again from zero',
      );
      await resetUnsealProgress(context);
      return 'interfered';
    }
  }
  return 'still-sealed';
}

/** PUT sys/unseal {"reset": true}: drops the shares the server holds, whoever submitted them. */
async function resetUnsealProgress(context: StepContext): Promise<void> {
  await context.vault.resetUnseal({ signal: context.signal });
}
