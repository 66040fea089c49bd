import { checkpoint } from '../checkpoints.js';
import { ConfigError, StoreAlreadyExistsError } from '../errors.js';
import type { InitRequest } from '../vault/api.js';
import type { StepContext } from './context.js';
import type { PendingSecrets } from './spool.js';

export type ClaimResult = { won: true } | { won: false; holder: string };

/**
 * Takes the cluster-wide initialization mutex (SPEC §4): create-if-absent of the claim
 * secret. A claim we hold from before a restart is ours again; a claim nobody followed
 * with keys goes stale after --claim-stale-after and may be taken over; --allow-reinit
 * takes it over on purpose.
 */
export async function claimCluster(context: StepContext, watch: ClaimWatch, now: Date = new Date()): Promise<ClaimResult> {
  const { records, config, log } = context;
  const claim = { holder: config.holder, claimedAt: now.toISOString(), clusterHint: context.vault.address.origin };
  try {
    await records.createClaim(claim);
    return { won: true };
  } catch (error) {
    if (!(error instanceof StoreAlreadyExistsError)) throw error;
  }
  // Losing the create always means losing, even when the claim reads empty: GCP creates the
  // secret and its first version in two calls, and the winner may be between them.
  const existing = await records.readClaim();
  if (existing?.holder === config.holder) return { won: true };
  let ageMs: number;
  if (existing === undefined) {
    watch.emptySince ??= now.getTime();
    ageMs = now.getTime() - watch.emptySince;
  } else {
    watch.emptySince = undefined;
    ageMs = now.getTime() - Date.parse(existing.claimedAt);
  }
  const stale = !(ageMs < config.claimStaleAfterMs);
  if (!config.allowReinit && !stale) return { won: false, holder: existing?.holder ?? '(claim being written)' };
  log.warn({ previousHolder: existing?.holder ?? null, claimedAt: existing?.claimedAt ?? null, reason: config.allowReinit ? '--allow-reinit' : 'stale' }, 'taking over the init claim');
  await records.replaceClaim(claim);
  const latest = await records.readClaim();
  return latest?.holder === config.holder ? { won: true } : { won: false, holder: latest?.holder ?? 'unknown' };
}

/** Remembers since when a lost claim has read empty, across passes of the loop. */
export interface ClaimWatch {
  emptySince: number | undefined;
}

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
