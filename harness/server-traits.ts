import type { ServerKind } from '../src/vault/servers.js';

/**
 * What the tests know of each server that the program itself never reads (src/vault/servers.ts
 * keeps only what production code uses): the health codes it answers, its auto-unseal seals and
 * the one the suite starts, and its token prefixes.
 */
export interface TestServerTraits {
  /** sys/health codes this server answers with. */
  healthCodes: readonly number[];
  /** Seal types (sys/seal-status `type`) that unseal by themselves. */
  autoUnsealSeals: readonly string[];
  /** The seal the suite uses for auto-unseal: OpenBao's `static` key; Vault has none, so `transit`. */
  testAutoUnsealSeal: 'static' | 'transit';
  /** Prefixes of service, batch and recovery tokens. */
  tokenPrefixes: { service: string; batch: string; recovery: string };
}

export const TEST_SERVER_TRAITS: Readonly<Record<ServerKind, TestServerTraits>> = Object.freeze({
  vault: {
    healthCodes: [200, 429, 472, 473, 474, 501, 503, 530],
    autoUnsealSeals: ['transit', 'awskms', 'gcpckms', 'azurekeyvault', 'ocikms', 'alicloudkms', 'pkcs11', 'kmip'],
    testAutoUnsealSeal: 'transit',
    tokenPrefixes: { service: 'hvs.', batch: 'hvb.', recovery: 'hvr.' },
  },
  openbao: {
    healthCodes: [200, 429, 501, 503],
    autoUnsealSeals: [
      'static',
      'transit',
      'awskms',
      'gcpckms',
      'azurekeyvault',
      'ocikms',
      'alicloudkms',
      'pkcs11',
      'kmip',
    ],
    testAutoUnsealSeal: 'static',
    tokenPrefixes: { service: 's.', batch: 'b.', recovery: 'r.' },
  },
});
