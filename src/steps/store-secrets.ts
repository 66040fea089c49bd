import { checkpoint } from '../checkpoints.js';
import { describeError } from '../errors.js';
import { Backoff, sleep } from '../wait.js';
import type { StepContext } from './context.js';
import type { PendingSecrets } from './spool.js';

/**
 * Stores the keys and root token from sys/init, retrying until the store has them and
 * they read back equal. Nothing else happens meanwhile: the loop does not move on while
 * the only copy is in memory (and in the spool, when one is configured). Shutdown does
 * not cut this short; the CLI bounds it by --shutdown-timeout.
 */
export async function storeInitSecrets(context: StepContext, pending: PendingSecrets): Promise<void> {
  const { records, spool, log } = context;
  if (spool !== undefined) {
    await spool
      .write(pending)
      .catch((error: unknown) =>
        log.error(
          { event: 'spool-write-failed', error: describeError(error) },
          'could not write the spool; keys are only in memory until stored',
        ),
      );
  }
  checkpoint('init-spooled');
  await retryUntilStored(
    context,
    'store-init-secrets',
    'storing the keys failed; retrying (keys are held until stored)',
    async () => {
      // A crash after storing but before removing the spool leaves the same keys in both.
      if (await records.holdsInitSecrets(pending.unsealKeys, pending.rootToken)) return;
      await records.writeUnsealKeys(pending.unsealKeys);
      checkpoint('unseal-keys-stored');
      await records.writeRootToken(pending.rootToken);
    },
  );
  log.info(
    {
      event: 'init-secrets-stored',
      secrets: [records.names.unsealKeys, records.names.rootToken],
      store: records.store.kind,
    },
    'keys and root token stored and verified',
  );
  checkpoint('secrets-stored');
  if (spool !== undefined) await spool.remove();
}

/**
 * Runs a store write of secrets held only in memory until it succeeds, with capped backoff.
 * Never gives up and ignores the shutdown signal: the CLI bounds it by --shutdown-timeout.
 */
export async function retryUntilStored(
  context: StepContext,
  operation: string,
  failureMessage: string,
  write: () => Promise<void>,
): Promise<void> {
  const backoff = new Backoff(200, 10_000);
  for (let attempt = 1; ; attempt += 1) {
    try {
      await write();
      return;
    } catch (error) {
      context.metrics.storeError(operation);
      context.log.warn({ event: 'store-retry', operation, attempt, error: describeError(error) }, failureMessage);
      await sleep(backoff.next());
    }
  }
}
