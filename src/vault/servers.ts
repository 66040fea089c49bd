/**
 * What differs between HashiCorp Vault and OpenBao, in one place (SPEC §10). Everything not
 * named here is the same API on both: sys/health (with explicit codes), sys/seal-status,
 * sys/init, sys/unseal, sys/policies/acl, auth/token/*, sys/storage/raft/join.
 *
 * Tested against Vault 1.19.0 and OpenBao 2.7.2, and the cloud KMS seal on Vault 1.19.0 and
 * OpenBao 2.6.2 (docs/compatibility.md).
 */
export type ServerKind = 'vault' | 'openbao';

export interface KeyRotationPaths {
  /** POST starts a rotation (new shares/threshold), GET reads its progress, DELETE cancels it. */
  init: string;
  /** POST one current key share with the rotation's nonce. */
  update: string;
  /** POST one new key share with the verification nonce (when verification was asked for). */
  verify: string;
  /** Whether the rotation endpoints need a token (OpenBao ≥ 2.4: yes; Vault's rekey: no). */
  authenticated: boolean;
}

export interface ServerTraits {
  /** The product name as operators know it, for log lines. */
  name: string;
  /** sys/health codes this server answers with (a code not listed is `unknown` there). */
  healthCodes: readonly number[];
  /** Seal types (sys/seal-status `type`) that unseal by themselves: init asks for recovery shares. */
  autoUnsealSeals: readonly string[];
  /** The seal the test suite uses for auto-unseal: OpenBao's `static` key; Vault has none, so `transit`. */
  testAutoUnsealSeal: 'static' | 'transit';
  /** Rotation of the Shamir unseal keys and of the recovery keys. */
  rotation: { unseal: KeyRotationPaths; recovery: KeyRotationPaths };
  /** Prefixes of service, batch and recovery tokens. */
  tokenPrefixes: { service: string; batch: string; recovery: string };
  /**
   * Whether audit devices are enabled through the API (Vault: the only way, so the sidecar
   * ensures one); OpenBao refuses that by default and takes them from its config file.
   */
  auditThroughApi: boolean;
}

const VAULT: ServerTraits = Object.freeze({
  name: 'HashiCorp Vault',
  healthCodes: Object.freeze([200, 429, 472, 473, 474, 501, 503, 530]),
  autoUnsealSeals: Object.freeze(['transit', 'awskms', 'gcpckms', 'azurekeyvault', 'ocikms', 'alicloudkms', 'pkcs11', 'kmip']),
  testAutoUnsealSeal: 'transit',
  rotation: {
    unseal: { init: 'sys/rekey/init', update: 'sys/rekey/update', verify: 'sys/rekey/verify', authenticated: false },
    recovery: { init: 'sys/rekey-recovery-key/init', update: 'sys/rekey-recovery-key/update', verify: 'sys/rekey-recovery-key/verify', authenticated: false },
  },
  tokenPrefixes: { service: 'hvs.', batch: 'hvb.', recovery: 'hvr.' },
  auditThroughApi: true,
});

/**
 * The cloud KMS seals (awskms, gcpckms, azurekeyvault, ocikms, alicloudkms) are built into OpenBao up
 * to 2.6.x; from 2.7 they are external KMS plugins (`plugin "kms" "awskms" {…}` next to the seal
 * stanza), and 2.7 without the plugin refuses to start. The program is the same either way: it
 * reads the seal type from sys/seal-status. docs/compatibility.md has the table.
 */
const OPENBAO: ServerTraits = Object.freeze({
  name: 'OpenBao',
  healthCodes: Object.freeze([200, 429, 501, 503]),
  autoUnsealSeals: Object.freeze(['static', 'transit', 'awskms', 'gcpckms', 'azurekeyvault', 'ocikms', 'alicloudkms', 'pkcs11', 'kmip']),
  testAutoUnsealSeal: 'static',
  rotation: {
    unseal: { init: 'sys/rotate/root/init', update: 'sys/rotate/root/update', verify: 'sys/rotate/root/verify', authenticated: true },
    recovery: { init: 'sys/rotate/recovery/init', update: 'sys/rotate/recovery/update', verify: 'sys/rotate/recovery/verify', authenticated: true },
  },
  tokenPrefixes: { service: 's.', batch: 'b.', recovery: 'r.' },
  auditThroughApi: false,
});

export const SERVER_TRAITS: Readonly<Record<ServerKind, ServerTraits>> = Object.freeze({ vault: VAULT, openbao: OPENBAO });

/**
 * Which server answered, from a sys/health body: Vault reports `enterprise` (true or false) there,
 * OpenBao never does. A body without it is taken for OpenBao, whose API is the narrower of the two.
 */
export function serverKindOf(healthBody: Record<string, unknown>): ServerKind {
  return 'enterprise' in healthBody ? 'vault' : 'openbao';
}
