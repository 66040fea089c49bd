import type { Config } from '../config/index.js';
import type { PgpPublicKey } from '../pgp.js';
import type { SecretNames } from '../store/types.js';

/** The settings decide() reads: a slice of Config, so tests build one in a line. */
export interface DecideSettings {
  holder: string;
  allowReinit: boolean;
  claimStaleAfterMs: number;
  rootToken: 'store' | 'revoke';
  unsealKeysName: string;
  /** The name of claim generation 1 (`{prefix}-init-claim`). */
  initClaimName: string;
  shamir: { shares: number; threshold: number };
  recovery: { shares: number; threshold: number };
  /** --recovery-pgp-keys: one custodian per recovery share; undefined without PGP custody. */
  custodians: readonly PgpPublicKey[] | undefined;
  /** --raft-join: the leader's API address a node joins through; undefined: raft retry_join does it. */
  raftJoin: string | undefined;
  /** The server's address, written in a claim (its cluster hint). */
  vaultAddress: string;
  /** --self-init: the server initializes itself; the sidecar logs in and never calls sys/init. */
  selfInit: boolean;
  selfInitClusterName: string;
  sealKeyRolloutName: string;
  /** --snapshot-interval (run): the active node takes a snapshot when the newest is this old; undefined: none in the loop. */
  snapshotIntervalMs: number | undefined;
}

export function decideSettings(config: Config, names: SecretNames): DecideSettings {
  return {
    holder: config.holder,
    allowReinit: config.allowReinit,
    claimStaleAfterMs: config.claimStaleAfterMs,
    rootToken: config.rootToken,
    unsealKeysName: names.unsealKeys,
    initClaimName: names.initClaim,
    shamir: { shares: config.secretShares, threshold: config.secretThreshold },
    recovery: { shares: config.recoveryShares, threshold: config.recoveryThreshold },
    custodians: config.recoveryPgpKeys,
    raftJoin: config.raftJoin?.origin,
    vaultAddress: config.vaultAddress.origin,
    selfInit: config.selfInit !== undefined,
    selfInitClusterName: names.selfInitCluster,
    sealKeyRolloutName: names.sealKeyRollout,
    snapshotIntervalMs: config.snapshots?.intervalMs,
  };
}

/** Keys refused by the server, or a policy it rejected, are tried again this long after. */
export const RECHECK_AFTER_MS = 60_000;

/**
 * An auto-unseal server that has not answered this long is reported as a failing seal: a KMS
 * that refuses connections at start makes it exit at once, one that never answers makes it hang
 * before it listens. A healthy server listens within a few seconds of starting.
 */
export const SEAL_SILENT_AFTER_MS = 15_000;
