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
  /** Rotation of the Shamir unseal keys and of the recovery keys. */
  rotation: { unseal: KeyRotationPaths; recovery: KeyRotationPaths };
  /**
   * Whether audit devices are enabled through the API (Vault: the only way, so the sidecar
   * ensures one); OpenBao refuses that by default and takes them from its config file.
   */
  auditThroughApi: boolean;
}

const VAULT: ServerTraits = Object.freeze({
  name: 'HashiCorp Vault',
  rotation: {
    unseal: { init: 'sys/rekey/init', update: 'sys/rekey/update', verify: 'sys/rekey/verify', authenticated: false },
    recovery: {
      init: 'sys/rekey-recovery-key/init',
      update: 'sys/rekey-recovery-key/update',
      verify: 'sys/rekey-recovery-key/verify',
      authenticated: false,
    },
  },
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
  rotation: {
    unseal: {
      init: 'sys/rotate/root/init',
      update: 'sys/rotate/root/update',
      verify: 'sys/rotate/root/verify',
      authenticated: true,
    },
    recovery: {
      init: 'sys/rotate/recovery/init',
      update: 'sys/rotate/recovery/update',
      verify: 'sys/rotate/recovery/verify',
      authenticated: true,
    },
  },
  auditThroughApi: false,
});

export const SERVER_TRAITS: Readonly<Record<ServerKind, ServerTraits>> = Object.freeze({
  vault: VAULT,
  openbao: OPENBAO,
});

/**
 * Which server answered, from a sys/health body: Vault reports `enterprise` (true or false) there,
 * OpenBao never does. A body without it is taken for OpenBao, whose API is the narrower of the two.
 */
export function serverKindOf(healthBody: Record<string, unknown>): ServerKind {
  return 'enterprise' in healthBody ? 'vault' : 'openbao';
}
