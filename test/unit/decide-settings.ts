import type { DecideSettings } from '../../src/machine/decide.js';

/** The settings a default sidecar decides with; each test changes what it is about. */
export const SETTINGS: DecideSettings = {
  holder: 'pod-0',
  allowReinit: false,
  claimStaleAfterMs: 300_000,
  rootToken: 'store',
  unsealKeysName: 'vault-unseal-keys',
  initClaimName: 'vault-init-claim',
  shamir: { shares: 5, threshold: 3 },
  recovery: { shares: 5, threshold: 3 },
  custodians: undefined,
  raftJoin: undefined,
  vaultAddress: 'https://127.0.0.1:8200',
  selfInit: false,
  selfInitClusterName: 'vault-self-init-cluster',
  sealKeyRolloutName: 'vault-seal-key-rollout',
  snapshotIntervalMs: undefined,
};
