import { checkpoint } from '../checkpoints.js';
import { ConfigError } from '../errors.js';
import type { InitRequest } from '../vault/api.js';
import type { StepContext } from './context.js';
import type { PendingSecrets } from './spool.js';

/**
 * PUT sys/init once, with Shamir or recovery shares by the seal type, and hand the answer
 * to storing. The call is not abortable: its answer is the only copy of the keys.
 */
export async function initialize(context: StepContext, autoUnseal: boolean): Promise<PendingSecrets> {
  const { config } = context;
  const custodians = config.recoveryPgpKeys;
  if (custodians && !autoUnseal) {
    throw new ConfigError('--recovery-pgp-keys/VB_RECOVERY_PGP_KEYS: the server has a Shamir seal; the sidecar needs plaintext unseal keys, so PGP custody is for auto-unseal (recovery keys) only');
  }
  const request: InitRequest = autoUnseal
    ? { recovery_shares: config.recoveryShares, recovery_threshold: config.recoveryThreshold, ...(custodians ? { recovery_pgp_keys: custodians.map((key) => key.keyBase64) } : {}) }
    : { secret_shares: config.secretShares, secret_threshold: config.secretThreshold };
  checkpoint('init-sent');
  const result = await context.vault.initialize(request);
  const now = new Date().toISOString();
  return {
    unsealKeys: {
      type: autoUnseal ? 'recovery' : 'shamir',
      keys: result.keys,
      threshold: autoUnseal ? config.recoveryThreshold : config.secretThreshold,
      shares: autoUnseal ? config.recoveryShares : config.secretShares,
      initializedAt: now,
      ...(custodians ? { encrypted: true, fingerprints: custodians.map((key) => key.fingerprint) } : {}),
    },
    rootToken: { token: result.rootToken, createdAt: now },
  };
}
