import { describe, expect, it } from 'vitest';
import {
  decide,
  EMPTY_MEMORY,
  remember,
  RECHECK_AFTER_MS,
  SEAL_SILENT_AFTER_MS,
  type DecideSettings,
  type Memory,
  type Observation,
  type ServerSeen,
} from '../../src/machine/decide.js';
import { classifyHealth } from '../../src/machine/health.js';
import { Secret } from '../../src/secret.js';
import type { StoredRecord, UnsealKeys } from '../../src/store/records.js';
import { SETTINGS } from './decide-settings.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');

const KEYS: Extract<StoredRecord<UnsealKeys>, { kind: 'valid' }> = {
  kind: 'valid',
  value: {
    type: 'shamir',
    keys: [new Secret('a2V5MQ=='), new Secret('a2V5Mg=='), new Secret('a2V5Mw==')],
    threshold: 2,
    shares: 3,
    initializedAt: '2026-11-01T00:00:00Z',
    clusterId: 'cluster-a',
  },
};

const RECOVERY_KEYS: StoredRecord<UnsealKeys> = { kind: 'valid', value: { ...KEYS.value, type: 'recovery' } };

const INTENT: Observation['sealIntent'] = {
  kind: 'valid',
  value: { active: true, by: 'alice', at: '2026-11-26T11:00:00Z', reason: 'incident 42' },
};

function sealedAs(sealType: string, extra: Partial<Observation> = {}): Observation {
  const seen = withHealth(503, extra);
  seen.vault = { ...seen.vault, sealType };
  return seen;
}

const CONVERGED_SERVER: ServerSeen = {
  managementToken: 'management',
  ownManagementToken: 'valid',
  policiesDiffering: [],
  roleDiffers: false,
  auditDiffers: false,
  provisionerToken: 'valid',
  rootTokenLive: true,
};

/** An active, converged node: decide says ready. Each row below changes one thing. */
function converged(): Observation {
  return {
    at: NOW,
    vault: {
      health: 'active',
      status: 200,
      detail: '',
      clusterId: 'cluster-a',
      sealType: 'shamir',
      migration: false,
      unsealProgress: { progress: 0, nonce: '' },
      connectionsClosed: 0,
    },
    reconcile: 'start',
    spool: undefined,
    keys: KEYS,
    rootToken: { kind: 'valid', value: { token: new Secret('root-token'), createdAt: '2026-11-01T00:00:00Z' } },
    provisionerToken: {
      kind: 'valid',
      value: {
        token: new Secret('provisioner-token'),
        accessor: 'a',
        policies: ['provisioner'],
        expiresAt: '2026-12-01T00:00:00Z',
      },
    },
    managementToken: {
      kind: 'valid',
      value: {
        token: new Secret('management-token'),
        accessor: 'm',
        policies: ['default', 'vault-bootstrap'],
        expiresAt: '2026-12-01T00:00:00Z',
      },
    },
    server: { ...CONVERGED_SERVER },
    policyHashes: new Map([
      ['admin', 'h-admin'],
      ['provisioner', 'h-provisioner'],
    ]),
  };
}

function withHealth(status: number | undefined, extra: Partial<Observation> = {}): Observation {
  const seen = converged();
  seen.vault = { ...seen.vault, health: classifyHealth(status), status };
  if (status === 501) seen.claim = { generation: 0, record: { kind: 'absent' } };
  if (status === 503) seen.keyVersions = { active: { record: KEYS.value, version: 1 }, pending: [], count: 1 };
  return { ...seen, ...extra };
}

/** No answer at all: nothing about the seal is seen. */
function silent(): Observation {
  const seen = withHealth(undefined);
  seen.vault = { ...seen.vault, sealType: undefined };
  return seen;
}

const NO_CLAIM: Observation['claim'] = { generation: 0, record: { kind: 'absent' } };
const OUR_OLD_CLAIM: Observation['claim'] = {
  generation: 1,
  record: { kind: 'valid', value: { holder: 'pod-1', claimedAt: '2026-11-01T00:00:00Z', clusterHint: '' } },
};

const LOGIN_SERVER: ServerSeen = {
  ...CONVERGED_SERVER,
  managementToken: 'login',
  ownManagementToken: 'missing',
  loginToken: new Secret('login-token'),
  rootTokenLive: false,
};

/** A self-initialized node, converged: no keys and no root token stored, its cluster id recorded. */
function selfInitialized(extra: Partial<Observation> = {}): Observation {
  const seen = converged();
  return {
    ...seen,
    vault: { ...seen.vault, sealType: 'static' },
    keys: { kind: 'absent' },
    rootToken: { kind: 'absent' },
    selfInitCluster: {
      kind: 'valid',
      value: { clusterId: 'cluster-a', firstSeenAt: '2026-11-01T00:00:00Z', sealType: 'static' },
    },
    server: { ...LOGIN_SERVER },
    ...extra,
  };
}

const INVALID_KEYS: StoredRecord<UnsealKeys> = {
  kind: 'invalid',
  name: 'vault-unseal-keys',
  problem: 'no keys in keysBase64',
  versions: 2,
  earlierValidVersion: 1,
};

describe('decide: one row per rule', () => {
  const rows: Array<
    [string, Observation, Partial<DecideSettings>, Memory, { state: string; action: string; blocker?: string }]
  > = [
    ['converged active node', converged(), {}, EMPTY_MEMORY, { state: 'ready', action: 'done' }],
    ['converged standby node', withHealth(429), {}, EMPTY_MEMORY, { state: 'ready', action: 'done' }],
    ['converged performance standby', withHealth(473), {}, EMPTY_MEMORY, { state: 'ready', action: 'done' }],
    ['converged DR secondary', withHealth(472), {}, EMPTY_MEMORY, { state: 'ready', action: 'done' }],
    ['standby without an active node', withHealth(474), {}, EMPTY_MEMORY, { state: 'ready', action: 'done' }],
    ['no answer at all', withHealth(undefined), {}, EMPTY_MEMORY, { state: 'waiting', action: 'wait' }],
    ['a 502 from a proxy', withHealth(502), {}, EMPTY_MEMORY, { state: 'waiting', action: 'wait' }],
    ['an undocumented status', withHealth(418), {}, EMPTY_MEMORY, { state: 'waiting', action: 'wait' }],
    [
      'removed from raft (530)',
      withHealth(530),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'node-removed' },
    ],
    [
      'uninitialized, no keys, no claim',
      withHealth(501, { keys: { kind: 'absent' } }),
      {},
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'claim-and-init' },
    ],
    [
      'uninitialized, keys stored: restore, do not init',
      withHealth(501),
      {},
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'join' },
    ],
    [
      'uninitialized, invalid keys record: never init because of it',
      withHealth(501, { keys: INVALID_KEYS }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'store-record-invalid' },
    ],
    [
      'uninitialized, fresh claim of another pod',
      withHealth(501, {
        keys: { kind: 'absent' },
        claim: {
          generation: 1,
          record: {
            kind: 'valid',
            value: { holder: 'pod-1', claimedAt: new Date(NOW - 1000).toISOString(), clusterHint: '' },
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'join' },
    ],
    [
      'uninitialized, our own claim (a restart after claiming)',
      withHealth(501, {
        keys: { kind: 'absent' },
        claim: {
          generation: 1,
          record: {
            kind: 'valid',
            value: { holder: 'pod-0', claimedAt: new Date(NOW - 1000).toISOString(), clusterHint: '' },
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'claim-and-init' },
    ],
    [
      'uninitialized, stale claim and still no keys',
      withHealth(501, {
        keys: { kind: 'absent' },
        claim: {
          generation: 1,
          record: {
            kind: 'valid',
            value: { holder: 'pod-1', claimedAt: new Date(NOW - 600_000).toISOString(), clusterHint: '' },
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'claim-and-init' },
    ],
    [
      "--allow-reinit takes over the old cluster's claim",
      withHealth(501, {
        claim: {
          generation: 1,
          record: { kind: 'valid', value: { holder: 'pod-1', claimedAt: '2026-10-31T00:00:00Z', clusterHint: '' } },
        },
      }),
      { allowReinit: true },
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'claim-and-init' },
    ],
    [
      '--allow-reinit respects a claim taken after the keys (another pod re-initializing now)',
      withHealth(501, {
        claim: {
          generation: 1,
          record: {
            kind: 'valid',
            value: { holder: 'pod-1', claimedAt: new Date(NOW - 1000).toISOString(), clusterHint: '' },
          },
        },
      }),
      { allowReinit: true },
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'join' },
    ],
    ['sealed, Shamir keys stored', withHealth(503), {}, EMPTY_MEMORY, { state: 'sealed', action: 'unseal' }],
    [
      'sealed, no keys, our claim: our lost init (orphaned)',
      withHealth(503, { keys: { kind: 'absent' }, claim: OUR_OLD_CLAIM }),
      {},
      EMPTY_MEMORY,
      { state: 'orphaned', action: 'hold', blocker: 'orphaned' },
    ],
    [
      'sealed Shamir node, no keys, no claim ever: initialized by someone else',
      withHealth(503, { keys: { kind: 'absent' }, claim: NO_CLAIM }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'initialized-elsewhere' },
    ],
    [
      'sealed, invalid keys record',
      withHealth(503, { keys: INVALID_KEYS }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'store-record-invalid' },
    ],
    [
      'sealed auto-unseal node: the seal (KMS) is failing, recovery keys never submitted',
      sealedAs('awskms', { keys: RECOVERY_KEYS }),
      {},
      EMPTY_MEMORY,
      { state: 'sealed', action: 'hold', blocker: 'seal-failing' },
    ],
    [
      'an auto-unseal node silent past the bound: the seal (KMS) is failing, looked at fast',
      silent(),
      {},
      { ...EMPTY_MEMORY, sealType: 'awskms', unreachableSince: NOW - SEAL_SILENT_AFTER_MS },
      { state: 'waiting', action: 'hold', blocker: 'seal-failing' },
    ],
    [
      'an auto-unseal node silent for a moment: waiting',
      silent(),
      {},
      { ...EMPTY_MEMORY, sealType: 'awskms', unreachableSince: NOW - 1000 },
      { state: 'waiting', action: 'wait' },
    ],
    [
      'a Shamir node silent for long: waiting (no seal service to blame)',
      silent(),
      {},
      { ...EMPTY_MEMORY, sealType: 'shamir', unreachableSince: NOW - SEAL_SILENT_AFTER_MS },
      { state: 'waiting', action: 'wait' },
    ],
    [
      'after a seal migration: unsealed by awskms, Shamir keys stored: the active node checks and adopts them',
      withHealth(200, { vault: { ...converged().vault, sealType: 'awskms' } }),
      {},
      EMPTY_MEMORY,
      { state: 'configuring', action: 'adopt-migrated-keys' },
    ],
    [
      'after a seal migration, on a standby: waits for the active node',
      withHealth(429, { vault: { ...converged().vault, health: 'standby', status: 429, sealType: 'awskms' } }),
      {},
      EMPTY_MEMORY,
      { state: 'configuring', action: 'wait' },
    ],
    [
      'after a seal migration, the server refused the stored keys: seal-mismatch',
      withHealth(200, { vault: { ...converged().vault, sealType: 'awskms' } }),
      {},
      { ...EMPTY_MEMORY, migratedKeysRefusedAt: NOW - 1000 },
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'after a seal migration, no management or root token to check with: seal-mismatch',
      withHealth(200, {
        vault: { ...converged().vault, sealType: 'awskms' },
        server: { ...CONVERGED_SERVER, managementToken: 'none', rootTokenLive: false },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'encrypted recovery shares never pass for migrated keys',
      withHealth(200, {
        vault: { ...converged().vault, sealType: 'awskms' },
        keys: { kind: 'valid', value: { ...KEYS.value, encrypted: true, fingerprints: ['f'] } },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'sealed on purpose (seal intent)',
      withHealth(503, { sealIntent: INTENT }),
      {},
      EMPTY_MEMORY,
      { state: 'sealed', action: 'hold', blocker: 'seal-intent' },
    ],
    [
      'resumed, an auto-unseal node sealed on purpose and never restarted: restart the pod (not seal-failing)',
      sealedAs('awskms', { keys: RECOVERY_KEYS }),
      {},
      { ...EMPTY_MEMORY, sealedOnPurposeAtCloses: 0 },
      { state: 'sealed', action: 'hold', blocker: 'sealed-until-restart' },
    ],
    [
      'resumed, an auto-unseal node restarted since (its connections closed) and still sealed: the seal is failing',
      sealedAs('awskms', {
        keys: RECOVERY_KEYS,
        vault: { ...converged().vault, health: 'sealed', status: 503, sealType: 'awskms', connectionsClosed: 3 },
      }),
      {},
      { ...EMPTY_MEMORY, sealedOnPurposeAtCloses: 0 },
      { state: 'sealed', action: 'hold', blocker: 'seal-failing' },
    ],
    [
      'resumed, a Shamir node sealed on purpose: unsealed with the keys as usual',
      withHealth(503),
      {},
      { ...EMPTY_MEMORY, sealedOnPurposeAtCloses: 0 },
      { state: 'sealed', action: 'unseal' },
    ],
    [
      'sealed while its process kept running: recorded as an intent',
      withHealth(503),
      {},
      { ...EMPTY_MEMORY, unsealedAtCloses: 0 },
      { state: 'sealed', action: 'record-seal-intent' },
    ],
    [
      'sealed after a restart (its connections closed): unsealed',
      withHealth(503, { vault: { ...converged().vault, health: 'sealed', status: 503, connectionsClosed: 2 } }),
      {},
      { ...EMPTY_MEMORY, unsealedAtCloses: 1 },
      { state: 'sealed', action: 'unseal' },
    ],
    [
      'a Shamir seal but recovery keys stored (seal stanza changed)',
      withHealth(503, { keys: RECOVERY_KEYS }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'a static seal but Shamir keys stored',
      sealedAs('static'),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'a seal migration in progress',
      withHealth(503, { vault: { ...converged().vault, health: 'sealed', status: 503, migration: true } }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'unsealed while a seal intent is active: sealed too',
      withHealth(429, { sealIntent: INTENT }),
      {},
      EMPTY_MEMORY,
      { state: 'sealed', action: 'seal' },
    ],
    [
      'unsealed node of another cluster (split brain)',
      withHealth(200, { vault: { ...converged().vault, clusterId: 'cluster-b' } }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'cluster-mismatch' },
    ],
    [
      'unsealed by Shamir with recovery keys stored (no migration explains it)',
      withHealth(200, { keys: RECOVERY_KEYS }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
    [
      'keys without a cluster id, node opened here: the id is recorded',
      withHealth(200, { keys: { kind: 'valid', value: { ...KEYS.value, clusterId: undefined } } }),
      {},
      { ...EMPTY_MEMORY, opened: true },
      { state: 'configuring', action: 'record-cluster-id' },
    ],
    [
      'keys without a cluster id, node not opened here: not recorded by guess',
      withHealth(200, { keys: { kind: 'valid', value: { ...KEYS.value, clusterId: undefined } } }),
      {},
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      'sealed, keys refused a moment ago',
      withHealth(503),
      {},
      { ...EMPTY_MEMORY, refusedKeys: new Map([[1, NOW - 1000]]) },
      { state: 'blocked', action: 'hold', blocker: 'keys-rejected' },
    ],
    [
      'sealed, keys refused long ago: try again',
      withHealth(503),
      {},
      { ...EMPTY_MEMORY, refusedKeys: new Map([[1, NOW - RECHECK_AFTER_MS]]) },
      { state: 'sealed', action: 'unseal' },
    ],
    [
      'unsealed, no keys, our claim: our lost init (orphaned)',
      withHealth(200, { keys: { kind: 'absent' }, claim: OUR_OLD_CLAIM }),
      {},
      EMPTY_MEMORY,
      { state: 'orphaned', action: 'hold', blocker: 'orphaned' },
    ],
    [
      'unsealed, no keys, an unreadable claim of ours: still our lost init',
      withHealth(200, {
        keys: { kind: 'absent' },
        claim: {
          generation: 2,
          record: {
            kind: 'invalid',
            name: 'vault-init-claim-g2',
            problem: 'not JSON',
            versions: 1,
            earlierValidVersion: undefined,
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'orphaned', action: 'hold', blocker: 'orphaned' },
    ],
    [
      'unsealed Shamir node, no keys, no claim ever: initialized by someone else',
      withHealth(200, { keys: { kind: 'absent' }, claim: NO_CLAIM }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'initialized-elsewhere' },
    ],
    [
      'auto-unsealed by its own seal, no keys, no claim: self-initialized, not orphaned',
      withHealth(200, {
        vault: { ...converged().vault, sealType: 'static' },
        keys: { kind: 'absent' },
        claim: NO_CLAIM,
      }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'initialized-elsewhere' },
    ],
    [
      'auto-unsealed, no keys, but our claim: our orphan all the same (the seal opens both)',
      withHealth(200, {
        vault: { ...converged().vault, sealType: 'static' },
        keys: { kind: 'absent' },
        claim: OUR_OLD_CLAIM,
      }),
      {},
      EMPTY_MEMORY,
      { state: 'orphaned', action: 'hold', blocker: 'orphaned' },
    ],
    [
      'spool holds keys: stored before anything, even while Vault is down',
      withHealth(undefined, {
        spool: { unsealKeys: KEYS.value, rootToken: { token: new Secret('t'), createdAt: '' } },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'storing', action: 'store-spooled' },
    ],
    [
      'a policy differs',
      withHealth(200, { server: { ...CONVERGED_SERVER, policiesDiffering: ['provisioner'] } }),
      {},
      EMPTY_MEMORY,
      { state: 'configuring', action: 'configure' },
    ],
    [
      'the token role differs',
      withHealth(200, { server: { ...CONVERGED_SERVER, roleDiffers: true } }),
      {},
      EMPTY_MEMORY,
      { state: 'configuring', action: 'configure' },
    ],
    [
      'no usable token to configure with',
      withHealth(200, { server: { ...CONVERGED_SERVER, managementToken: 'none' } }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'no-management-token' },
    ],
    [
      'provisioner token missing on the active node',
      withHealth(200, { server: { ...CONVERGED_SERVER, provisionerToken: 'missing' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-token' },
    ],
    [
      'provisioner token revoked',
      withHealth(200, { server: { ...CONVERGED_SERVER, provisionerToken: 'invalid' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-token' },
    ],
    [
      'provisioner token in its last third',
      withHealth(200, { server: { ...CONVERGED_SERVER, provisionerToken: 'rotate' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-token' },
    ],
    [
      'a standby waits for the active node to issue',
      withHealth(429, { server: { ...CONVERGED_SERVER, provisionerToken: 'missing' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'wait' },
    ],
    [
      'a standby leaves rotation to the active node',
      withHealth(429, { server: { ...CONVERGED_SERVER, provisionerToken: 'rotate' } }),
      {},
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      '--root-token revoke with a live root token',
      converged(),
      { rootToken: 'revoke' },
      EMPTY_MEMORY,
      { state: 'issuing', action: 'revoke-root' },
    ],
    [
      '--root-token revoke, a root token generate-root keeps (keepUntil ahead): left usable',
      withHealth(200, {
        rootToken: {
          kind: 'valid',
          value: { token: new Secret('root-token'), createdAt: '', keepUntil: new Date(NOW + 1000).toISOString() },
        },
      }),
      { rootToken: 'revoke' },
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      '--root-token revoke, a kept root token past keepUntil: revoked',
      withHealth(200, {
        rootToken: {
          kind: 'valid',
          value: { token: new Secret('root-token'), createdAt: '', keepUntil: new Date(NOW - 1000).toISOString() },
        },
      }),
      { rootToken: 'revoke' },
      EMPTY_MEMORY,
      { state: 'issuing', action: 'revoke-root' },
    ],
    [
      'a rotated-out CI token whose --provisioner-overlap ended: revoked by the active node',
      withHealth(200, {
        provisionerToken: {
          kind: 'valid',
          value: {
            token: new Secret('provisioner-token'),
            accessor: 'a',
            policies: ['provisioner'],
            expiresAt: '2026-12-01T00:00:00Z',
            previous: { accessor: 'old', revokeAt: new Date(NOW - 1000).toISOString() },
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'revoke-previous-token' },
    ],
    [
      'a rotated-out CI token still in its overlap: left valid',
      withHealth(200, {
        provisionerToken: {
          kind: 'valid',
          value: {
            token: new Secret('provisioner-token'),
            accessor: 'a',
            policies: ['provisioner'],
            expiresAt: '2026-12-01T00:00:00Z',
            previous: { accessor: 'old', revokeAt: new Date(NOW + 1000).toISOString() },
          },
        },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      '--root-token revoke, already revoked',
      withHealth(200, { server: { ...CONVERGED_SERVER, rootTokenLive: false } }),
      { rootToken: 'revoke' },
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      '--root-token revoke waits for the management token',
      withHealth(200, { server: { ...CONVERGED_SERVER, managementToken: 'root', ownManagementToken: 'missing' } }),
      { rootToken: 'revoke' },
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-management-token' },
    ],
    [
      'the audit device differs (HashiCorp Vault)',
      withHealth(200, { server: { ...CONVERGED_SERVER, auditDiffers: true } }),
      {},
      EMPTY_MEMORY,
      { state: 'configuring', action: 'configure' },
    ],
    [
      'no management token yet, root token live: issued with it',
      withHealth(200, { server: { ...CONVERGED_SERVER, managementToken: 'root', ownManagementToken: 'missing' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-management-token' },
    ],
    [
      'management token revoked, root token live: reissued',
      withHealth(200, { server: { ...CONVERGED_SERVER, managementToken: 'root', ownManagementToken: 'invalid' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-management-token' },
    ],
    [
      'a standby configures with the root token and leaves issuing to the active node',
      withHealth(429, { server: { ...CONVERGED_SERVER, managementToken: 'root', ownManagementToken: 'missing' } }),
      {},
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      'management token in the last third of its life: its successor issued (through the role), the old one revoked',
      withHealth(200, { server: { ...CONVERGED_SERVER, ownManagementToken: 'reissue' } }),
      {},
      EMPTY_MEMORY,
      { state: 'issuing', action: 'reissue-management-token' },
    ],
    [
      'management token in the last third of its life on a standby: left to the active node',
      withHealth(429, { server: { ...CONVERGED_SERVER, ownManagementToken: 'reissue' } }),
      {},
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      'no management token and the root token revoked: a person runs generate-root (never the CI token)',
      withHealth(200, {
        server: { ...CONVERGED_SERVER, managementToken: 'none', ownManagementToken: 'invalid', rootTokenLive: false },
      }),
      {},
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'no-management-token' },
    ],
    // --self-init: the server initialized itself; no keys record, a login's token.
    [
      '--self-init, uninitialized: waits for the server to initialize itself, never claims',
      withHealth(501, { keys: { kind: 'absent' } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'uninitialized', action: 'wait' },
    ],
    [
      '--self-init, first sight: the cluster id is recorded',
      selfInitialized({ selfInitCluster: { kind: 'absent' } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'configuring', action: 'record-self-init-cluster' },
    ],
    [
      '--self-init, converged with the login',
      selfInitialized(),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'ready', action: 'done' },
    ],
    [
      '--self-init, a policy differs: written with the login token',
      selfInitialized({ server: { ...LOGIN_SERVER, policiesDiffering: ['admin'] } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'configuring', action: 'configure' },
    ],
    [
      '--self-init, CI token in its last third: rotated with the login token',
      selfInitialized({ server: { ...LOGIN_SERVER, provisionerToken: 'rotate' } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'issuing', action: 'issue-token' },
    ],
    [
      '--self-init, another cluster than the one recorded',
      selfInitialized({
        selfInitCluster: { kind: 'valid', value: { clusterId: 'cluster-b', firstSeenAt: '', sealType: 'static' } },
      }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'cluster-mismatch' },
    ],
    [
      '--self-init, the server refuses the login',
      selfInitialized({
        server: {
          ...LOGIN_SERVER,
          managementToken: 'none',
          loginToken: undefined,
          loginProblem: 'HTTP 400: invalid role',
        },
      }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'login-rejected' },
    ],
    [
      '--self-init, a seal intent: sealed with the login token',
      selfInitialized({ sealIntent: INTENT }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'sealed', action: 'seal' },
    ],
    [
      '--self-init, sealed auto-unseal node: the seal is failing, nothing submitted',
      sealedAs('static', { keys: { kind: 'absent' } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'sealed', action: 'hold', blocker: 'seal-failing' },
    ],
    [
      '--self-init, a Shamir seal cannot self-initialize',
      withHealth(503, { keys: { kind: 'absent' } }),
      { selfInit: true },
      EMPTY_MEMORY,
      { state: 'blocked', action: 'hold', blocker: 'seal-mismatch' },
    ],
  ];

  it.each(rows)('%s', (_name, seen, settings, memory, expected) => {
    const decision = decide(seen, remember(memory, seen), { ...SETTINGS, ...settings });
    expect({
      state: decision.state,
      action: decision.action.kind,
      ...(decision.action.kind === 'hold' ? { blocker: decision.action.blocker } : {}),
    }).toEqual(expected);
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  it('covers every documented health status', () => {
    const covered = new Set(rows.map(([, seen]) => seen.vault.status));
    for (const status of [200, 429, 472, 473, 474, 501, 503, 530]) expect(covered).toContain(status);
  });

  it('uses Shamir shares for a Shamir seal and recovery shares for an auto-unseal seal; the claim it creates is in the action', () => {
    const claim = {
      kind: 'create',
      generation: 1,
      takesOver: 'nothing',
      record: { holder: 'pod-0', claimedAt: new Date(NOW).toISOString(), clusterHint: 'https://127.0.0.1:8200' },
    };
    const shamir = decide(withHealth(501, { keys: { kind: 'absent' } }), EMPTY_MEMORY, {
      ...SETTINGS,
      recovery: { shares: 7, threshold: 4 },
    });
    expect(shamir.action).toEqual({ kind: 'claim-and-init', claim, keyType: 'shamir', shares: 5, threshold: 3 });
    const seen = withHealth(501, { keys: { kind: 'absent' } });
    seen.vault.sealType = 'transit';
    expect(decide(seen, EMPTY_MEMORY, { ...SETTINGS, recovery: { shares: 7, threshold: 4 } }).action).toEqual({
      kind: 'claim-and-init',
      claim,
      keyType: 'recovery',
      shares: 7,
      threshold: 4,
    });
    const custodians = [{ path: 'alice.pub', keyBase64: 'AAAA', fingerprint: 'ab' }];
    expect(
      decide(seen, EMPTY_MEMORY, { ...SETTINGS, custodians, recovery: { shares: 1, threshold: 1 } }).action,
    ).toEqual({ kind: 'claim-and-init', claim, keyType: 'recovery', shares: 1, threshold: 1, custodians });
  });

  it('--recovery-pgp-keys with a Shamir seal: held as config-rejected before any claim, whatever the claim says', () => {
    const custodians = [{ path: 'alice.pub', keyBase64: 'AAAA', fingerprint: 'ab' }];
    for (const claim of [
      undefined,
      {
        generation: 1,
        record: {
          kind: 'valid' as const,
          value: { holder: 'pod-0', claimedAt: new Date(NOW).toISOString(), clusterHint: '' },
        },
      },
    ]) {
      const seen = withHealth(501, { keys: { kind: 'absent' }, ...(claim === undefined ? {} : { claim }) });
      const decision = decide(seen, EMPTY_MEMORY, { ...SETTINGS, custodians });
      expect(decision.action).toEqual({ kind: 'hold', blocker: 'config-rejected', pace: 'slow' });
      expect(decision.reason).toContain('--recovery-pgp-keys/VB_RECOVERY_PGP_KEYS: the server has a Shamir seal');
    }
  });

  it('join carries the --raft-join leader; still-sealed after every share means the next version only when one is stored', () => {
    const seen = withHealth(501, {
      keys: {
        kind: 'valid',
        value: { type: 'shamir', keys: [], threshold: 3, shares: 5, initializedAt: new Date(NOW).toISOString() },
      },
    });
    expect(decide(seen, EMPTY_MEMORY, { ...SETTINGS, raftJoin: 'https://10.0.0.1:8200' }).action).toEqual({
      kind: 'join',
      leader: 'https://10.0.0.1:8200',
    });
    expect(decide(seen, EMPTY_MEMORY, SETTINGS).action).toEqual({ kind: 'join' });
    expect(decide(withHealth(503), EMPTY_MEMORY, SETTINGS).action).toMatchObject({
      kind: 'unseal',
      laterVersions: 0,
      stillSealed: 'joining',
    });
  });

  it('names the bad version and the intact earlier one, never a value', () => {
    const decision = decide(withHealth(503, { keys: INVALID_KEYS }), EMPTY_MEMORY, SETTINGS);
    expect(decision.reason).toContain(
      'vault-unseal-keys: the latest version (2) is not a valid record: no keys in keysBase64',
    );
    expect(decision.reason).toContain('version 1 is a valid record');
  });
});

describe('decide: a rejected policy', () => {
  const rejectedProvisioner = (at: number, textHash = 'h-provisioner'): Memory => ({
    ...EMPTY_MEMORY,
    clusterId: 'cluster-a',
    rejectedPolicies: new Map([['provisioner', { textHash, message: 'policy provisioner: rejected', at }]]),
  });

  it('is not written again while its text is unchanged; the others are, and the node is not ready', () => {
    const seen = withHealth(200, { server: { ...CONVERGED_SERVER, policiesDiffering: ['admin', 'provisioner'] } });
    expect(decide(seen, rejectedProvisioner(NOW - 1000), SETTINGS).action).toMatchObject({
      kind: 'configure',
      policies: ['admin'],
      role: false,
      audit: false,
      management: { source: 'management' },
    });
    const onlyRejected = withHealth(200, { server: { ...CONVERGED_SERVER, policiesDiffering: ['provisioner'] } });
    const decision = decide(onlyRejected, rejectedProvisioner(NOW - 1000), SETTINGS);
    expect(decision).toMatchObject({ state: 'blocked', action: { kind: 'hold', blocker: 'policy-rejected' } });
  });

  it('is tried again once its text changed, or after the re-check period', () => {
    const seen = withHealth(200, { server: { ...CONVERGED_SERVER, policiesDiffering: ['provisioner'] } });
    expect(decide(seen, rejectedProvisioner(NOW - 1000, 'h-old-text'), SETTINGS).action.kind).toBe('configure');
    expect(decide(seen, rejectedProvisioner(NOW - RECHECK_AFTER_MS), SETTINGS).action.kind).toBe('configure');
  });
});

describe('remember', () => {
  it('drops what it knew of a server when the cluster id changes (wipe, re-init, DR redeploy)', () => {
    const memory: Memory = {
      ...EMPTY_MEMORY,
      clusterId: 'cluster-a',
      keysFoundFirst: KEYS.value.initializedAt,
      convergedOnce: true,
      opened: true,
      refusedKeys: new Map([[1, NOW]]),
      unsealedAtCloses: 0,
      sealType: 'shamir',
      rejectedPolicies: new Map([['admin', { textHash: 'h', message: 'm', at: NOW }]]),
    };
    const other = converged();
    other.vault.clusterId = 'cluster-b';
    expect(remember(memory, other)).toEqual({
      ...EMPTY_MEMORY,
      clusterId: 'cluster-b',
      keysFoundFirst: KEYS.value.initializedAt,
      unsealedAtCloses: 0,
      sealType: 'shamir',
    });
    expect(remember(memory, converged())).toBe(memory);
    expect(
      remember(memory, withHealth(503, { vault: { ...converged().vault, health: 'sealed', clusterId: undefined } })),
    ).toBe(memory);
  });

  it('remembers a node sealed under an active seal intent until it is seen unsealed or unreachable (resume on auto-unseal nodes)', () => {
    const sealedOnPurpose = remember(EMPTY_MEMORY, sealedAs('awskms', { keys: RECOVERY_KEYS, sealIntent: INTENT }));
    expect(sealedOnPurpose.sealedOnPurposeAtCloses).toBe(0);
    expect(remember(sealedOnPurpose, sealedAs('awskms', { keys: RECOVERY_KEYS })).sealedOnPurposeAtCloses).toBe(0);
    expect(remember(sealedOnPurpose, converged()).sealedOnPurposeAtCloses).toBeUndefined();
    expect(remember(sealedOnPurpose, withHealth(undefined)).sealedOnPurposeAtCloses).toBeUndefined();
  });

  it('forgets the old cluster as soon as the node is uninitialized (a wipe), so the init that follows is remembered as ours', () => {
    const wiped = remember(
      { ...EMPTY_MEMORY, clusterId: 'cluster-a', convergedOnce: true, opened: true },
      withHealth(501, { vault: { ...converged().vault, health: 'uninitialized', clusterId: undefined } }),
    );
    expect(wiped).toEqual({ ...EMPTY_MEMORY, keysFoundFirst: KEYS.value.initializedAt, sealType: 'shamir' });
    expect(remember({ ...wiped, opened: true }, converged())).toMatchObject({
      clusterId: 'cluster-a',
      opened: true,
      convergedOnce: false,
    });
  });

  it('adopts the first cluster id it sees without forgetting that this process opened the node', () => {
    expect(remember({ ...EMPTY_MEMORY, opened: true }, converged())).toMatchObject({
      clusterId: 'cluster-a',
      opened: true,
    });
  });

  it('keeps the connection count of the last unsealed sighting; an unreachable server or a seal intent clears it', () => {
    const seenUnsealed = converged();
    seenUnsealed.vault.connectionsClosed = 3;
    const watched = remember(EMPTY_MEMORY, seenUnsealed);
    expect(watched.unsealedAtCloses).toBe(3);
    expect(remember(watched, withHealth(503)).unsealedAtCloses).toBe(3);
    expect(remember(watched, withHealth(undefined)).unsealedAtCloses).toBeUndefined();
    expect(remember(watched, withHealth(503, { sealIntent: INTENT })).unsealedAtCloses).toBeUndefined();
  });
});

describe('decide: the init claim is a mutex with generations', () => {
  const claimOf = (holder: string, claimedAt: string, generation = 1): Observation['claim'] => ({
    generation,
    record: { kind: 'valid', value: { holder, claimedAt, clusterHint: '' } },
  });
  const fresh = new Date(NOW - 1000).toISOString();
  const old = '2026-10-31T00:00:00Z';
  const noKeys = (claim: Observation['claim']) => withHealth(501, { keys: { kind: 'absent' }, claim });
  const decideFirst = (seen: Observation, settings: Partial<DecideSettings> = {}, memory: Memory = EMPTY_MEMORY) =>
    decide(seen, remember(memory, seen), { ...SETTINGS, ...settings });

  it('creates generation 1 when there is no claim, and generation N+1 to take over a stale generation N', () => {
    expect(decideFirst(noKeys({ generation: 0, record: { kind: 'absent' } })).action).toMatchObject({
      claim: { kind: 'create', generation: 1, takesOver: 'nothing' },
    });
    expect(decideFirst(noKeys(claimOf('pod-1', new Date(NOW - 600_000).toISOString(), 3))).action).toMatchObject({
      claim: { kind: 'create', generation: 4, takesOver: 'stale' },
    });
  });

  it('goes on with its own claim without creating one; waits on a fresh claim of another', () => {
    expect(decideFirst(noKeys(claimOf('pod-0', fresh, 2))).action).toMatchObject({
      claim: { kind: 'held', generation: 2 },
    });
    expect(decideFirst(noKeys(claimOf('pod-1', fresh, 2))).action.kind).toBe('join');
  });

  it('waits on a generation it lost but cannot read, and skips it once it stayed unreadable past --claim-stale-after', () => {
    const seen = noKeys(claimOf('pod-1', new Date(NOW - 600_000).toISOString(), 1));
    expect(
      decideFirst(seen, {}, { ...EMPTY_MEMORY, unreadableClaim: { generation: 2, since: NOW - 1000 } }).action.kind,
    ).toBe('join');
    expect(
      decideFirst(seen, {}, { ...EMPTY_MEMORY, unreadableClaim: { generation: 2, since: NOW - 600_000 } }).action,
    ).toMatchObject({ claim: { kind: 'create', generation: 3, takesOver: 'unreadable' } });
    // Once the generation reads, the memory of it is dropped and the claim speaks for itself.
    expect(
      remember({ ...EMPTY_MEMORY, unreadableClaim: { generation: 2, since: NOW } }, noKeys(claimOf('pod-1', fresh, 2)))
        .unreadableClaim,
    ).toBeUndefined();
  });

  it("--allow-reinit takes over only the claim of the keys this process found first, never a racing replica's", () => {
    const oldCluster = withHealth(501, { claim: claimOf('pod-1', old, 1) });
    expect(decideFirst(oldCluster, { allowReinit: true }).action).toMatchObject({
      claim: { kind: 'create', generation: 2, takesOver: 'old-cluster' },
    });
    // A replica created generation 2 while this one looked: it binds.
    expect(decideFirst(withHealth(501, { claim: claimOf('pod-2', fresh, 2) }), { allowReinit: true }).action.kind).toBe(
      'join',
    );
    // The winner stored its new keys: claim 2 now predates keys, but they are not the keys this process found.
    const newKeys: Observation['keys'] = {
      kind: 'valid',
      value: { ...KEYS.value, initializedAt: new Date(NOW - 500).toISOString() },
    };
    const afterWinner = withHealth(501, { keys: newKeys, claim: claimOf('pod-2', fresh, 2) });
    expect(
      decide(afterWinner, remember({ ...EMPTY_MEMORY, keysFoundFirst: KEYS.value.initializedAt }, afterWinner), {
        ...SETTINGS,
        allowReinit: true,
      }).action.kind,
    ).toBe('join');
    // Our own claim of the old cluster is taken over like anyone's (a new generation), not reused.
    expect(
      decideFirst(withHealth(501, { claim: claimOf('pod-0', old, 1) }), { allowReinit: true }).action,
    ).toMatchObject({ claim: { kind: 'create', generation: 2 } });
  });
});

describe('decide: unsealing', () => {
  const PENDING: UnsealKeys = {
    ...KEYS.value,
    keys: [new Secret('cGVuZDE='), new Secret('cGVuZDI=')],
    status: 'pending',
  };
  const rotated = () =>
    withHealth(503, {
      keyVersions: { active: { record: KEYS.value, version: 1 }, pending: [{ record: PENDING, version: 3 }], count: 3 },
    });

  it('resets unseal progress someone else left before submitting the stored keys', () => {
    const seen = withHealth(503);
    seen.vault.unsealProgress = { progress: 1, nonce: 'n-1' };
    expect(decide(seen, EMPTY_MEMORY, SETTINGS).action).toMatchObject({
      kind: 'unseal',
      version: 1,
      resetProgress: true,
    });
    expect(decide(withHealth(503), EMPTY_MEMORY, SETTINGS).action).toMatchObject({
      kind: 'unseal',
      version: 1,
      resetProgress: false,
    });
  });

  it("tries a rotation's pending keys once the active ones were refused, and holds once every version was", () => {
    expect(decide(rotated(), EMPTY_MEMORY, SETTINGS).action).toMatchObject({
      kind: 'unseal',
      version: 1,
      pending: false,
      laterVersions: 1,
    });
    expect(
      decide(rotated(), { ...EMPTY_MEMORY, refusedKeys: new Map([[1, NOW - 10]]) }, SETTINGS).action,
    ).toMatchObject({ kind: 'unseal', version: 3, pending: true, laterVersions: 0 });
    const refusedAll = decide(
      rotated(),
      {
        ...EMPTY_MEMORY,
        refusedKeys: new Map([
          [1, NOW - 10],
          [3, NOW - 5],
        ]),
      },
      SETTINGS,
    );
    expect(refusedAll).toMatchObject({ state: 'blocked', action: { kind: 'hold', blocker: 'keys-rejected' } });
    expect(refusedAll.reason).toContain('(1, 3)');
  });

  it('says what the gap is when the observation lacks a record: a non-transient internal error', () => {
    const seen = withHealth(503);
    delete seen.keys;
    expect(() => decide(seen, EMPTY_MEMORY, SETTINGS)).toThrow(
      expect.objectContaining({ code: 'INTERNAL', transient: false }),
    );
  });
});

describe('decide: the downgrade guard (the highest release seen active, recorded with the keys)', () => {
  const HIGHEST = { kind: 'openbao' as const, version: '2.7.2', seenAt: '2026-11-20T00:00:00Z' };
  const keysWith = (highest = HIGHEST): Observation['keys'] => ({
    kind: 'valid',
    value: { ...KEYS.value, highestServer: highest },
  });
  const running = (seen: Observation, version: string, kind: 'openbao' | 'vault' = 'openbao'): Observation => ({
    ...seen,
    vault: { ...seen.vault, version, serverKind: kind },
  });
  const outcome = (seen: Observation, memory: Memory = EMPTY_MEMORY) => {
    const decision = decide(seen, remember(memory, seen), SETTINGS);
    return {
      decision,
      kind: decision.action.kind,
      blocker: decision.action.kind === 'hold' ? decision.action.blocker : undefined,
    };
  };

  it('does not unseal an older server, names both releases and the way back; the same or a newer one is unsealed', () => {
    const older = outcome(running(withHealth(503, { keys: keysWith() }), '2.6.2'));
    expect(older).toMatchObject({ kind: 'hold', blocker: 'server-downgrade' });
    expect(older.decision.state).toBe('blocked');
    expect(older.decision.reason).toContain('2.6.2');
    expect(older.decision.reason).toContain('2.7.2');
    expect(older.decision.reason).toContain('not unsealing');
    expect(outcome(running(withHealth(503, { keys: keysWith() }), '2.7.2')).kind).toBe('unseal');
    expect(outcome(running(withHealth(503, { keys: keysWith() }), '2.8.0')).kind).toBe('unseal');
    // Comes before the seal stanza's mismatch: a KMS overlay on an older release over newer data is a downgrade first.
    const migrating = running(withHealth(503, { keys: keysWith() }), '2.6.2');
    migrating.vault = { ...migrating.vault, sealType: 'awskms', migration: true };
    expect(outcome(migrating).blocker).toBe('server-downgrade');
  });

  it('an older auto-unseal node that unsealed itself is reported, not configured; a seal intent still seals it', () => {
    const unsealed = outcome(running(withHealth(429, { keys: keysWith() }), '2.6.2'));
    expect(unsealed).toMatchObject({ kind: 'hold', blocker: 'server-downgrade' });
    expect(outcome(running(withHealth(200, { keys: keysWith(), sealIntent: INTENT }), '2.6.2')).kind).toBe('seal');
  });

  it('compares releases of the same product only, and lifts nothing it cannot parse', () => {
    expect(outcome(running(withHealth(503, { keys: keysWith() }), '1.19.0', 'vault')).kind).toBe('unseal');
    expect(outcome(running(withHealth(503, { keys: keysWith() }), 'unknown')).kind).toBe('unseal');
    expect(outcome(withHealth(503, { keys: keysWith() })).kind).toBe('unseal');
  });

  it('the active node records a newer release (and the first one), before configuring; a standby never records', () => {
    const newer = outcome(running(converged(), '2.8.0'), EMPTY_MEMORY);
    expect(newer.kind).toBe('record-server-version');
    expect(newer.decision.action).toMatchObject({
      keys: {
        highestServer: { kind: 'openbao', version: '2.8.0', seenAt: new Date(NOW).toISOString() },
        clusterId: 'cluster-a',
      },
    });
    const first = running({ ...converged(), server: { ...CONVERGED_SERVER, policiesDiffering: ['admin'] } }, '2.7.2');
    expect(outcome(first).kind).toBe('record-server-version');
    expect(outcome(running(converged(), '2.7.2')).kind).toBe('record-server-version');
    expect(outcome(running(converged(), '2.7.2'), EMPTY_MEMORY).decision.action).toMatchObject({
      keys: { highestServer: { version: '2.7.2' } },
    });
    expect(outcome(running({ ...converged(), keys: keysWith() }, '2.7.2')).kind).toBe('done');
    expect(outcome(running(withHealth(429, { keys: keysWith() }), '2.8.0')).kind).toBe('done');
    // Another cluster's node never raises this cluster's record.
    const other = running(withHealth(200, { keys: keysWith() }), '2.8.0');
    other.vault = { ...other.vault, clusterId: 'cluster-b' };
    expect(outcome(other).blocker).toBe('cluster-mismatch');
  });

  it('a fresh cluster records its release with the cluster id, in the same write', () => {
    const fresh = running(
      withHealth(200, { keys: { kind: 'valid', value: { ...KEYS.value, clusterId: undefined } } }),
      '2.7.2',
    );
    const decision = decide(fresh, remember({ ...EMPTY_MEMORY, opened: true }, fresh), SETTINGS);
    expect(decision.action).toMatchObject({
      kind: 'record-cluster-id',
      keys: { clusterId: 'cluster-a', highestServer: { kind: 'openbao', version: '2.7.2' } },
    });
  });
});
