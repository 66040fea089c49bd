/**
 * The seal vocabulary, in one place: which keys a seal takes (Shamir unseal keys, or recovery
 * keys for every auto-unseal seal), which split of the configuration applies to them, and where
 * PGP custody is possible. decide(), init, rotation and seal migration all ask here.
 */
import type { PgpPublicKey } from './pgp.js';

export type KeyType = 'shamir' | 'recovery';

/** The key type a seal calls for; an unknown seal (not reported) is Shamir, as the server's default. */
export function keyTypeFor(sealType: string | undefined): KeyType {
  return sealType === undefined || sealType === 'shamir' ? 'shamir' : 'recovery';
}

/** The seal unseals the node by itself (a KMS, transit, static): the keys are recovery keys. */
export function isAutoUnseal(sealType: string | undefined): boolean {
  return keyTypeFor(sealType) === 'recovery';
}

export interface Split {
  shares: number;
  threshold: number;
}

/** The configured split for each key type (--secret-* for Shamir, --recovery-* for recovery keys). */
export interface Splits {
  shamir: Split;
  recovery: Split;
}

export function splitFor(keyType: KeyType, splits: Splits): Split {
  return keyType === 'shamir' ? splits.shamir : splits.recovery;
}

/** The flag whose value cannot serve a Shamir seal, named as every message names it. */
const PGP_KEYS_FLAG = '--recovery-pgp-keys/VB_RECOVERY_PGP_KEYS';

/**
 * Why these custodians cannot hold shares of this key type, or undefined: the sidecar submits
 * Shamir keys itself, so it needs them in plaintext; only recovery keys can be encrypted.
 */
export function custodyProblem(keyType: KeyType, custodians: readonly PgpPublicKey[] | undefined): string | undefined {
  if (custodians === undefined || keyType === 'recovery') return undefined;
  return `${PGP_KEYS_FLAG}: the server has a Shamir seal; the sidecar needs plaintext unseal keys, so PGP custody is for auto-unseal (recovery keys) only`;
}
