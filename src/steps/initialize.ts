import { checkpoint } from '../checkpoints.js';
import type { PgpPublicKey } from '../pgp.js';
import type { KeyType, Split } from '../seal.js';
import type { InitRequest } from '../vault/api.js';
import type { StepContext } from './context.js';
import type { PendingSecrets } from './spool.js';

/** What decide() chose to initialize with: the key type the seal takes, its split, and custodians (recovery keys only). */
export interface InitPlan extends Split {
  keyType: KeyType;
  custodians?: readonly PgpPublicKey[] | undefined;
}

/**
 * PUT sys/init once, with what decide() chose, and hand the answer to storing. The call is not
 * abortable: its answer is the only copy of the keys.
 */
export async function initialize(context: StepContext, plan: InitPlan): Promise<PendingSecrets> {
  const { keyType, shares, threshold, custodians } = plan;
  const request: InitRequest =
    keyType === 'recovery'
      ? {
          recovery_shares: shares,
          recovery_threshold: threshold,
          ...(custodians ? { recovery_pgp_keys: custodians.map((key) => key.keyBase64) } : {}),
        }
      : { secret_shares: shares, secret_threshold: threshold };
  checkpoint('init-sent');
  const result = await context.vault.initialize(request);
  const now = new Date().toISOString();
  return {
    unsealKeys: {
      type: keyType,
      keys: result.keys,
      threshold,
      shares,
      initializedAt: now,
      ...(custodians ? { encrypted: true, fingerprints: custodians.map((key) => key.fingerprint) } : {}),
    },
    rootToken: { token: result.rootToken, createdAt: now },
  };
}
