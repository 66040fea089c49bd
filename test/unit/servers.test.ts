import { describe, expect, it } from 'vitest';
import { classifyHealth } from '../../src/machine/health.js';
import { SERVER_TRAITS, serverKindOf, type ServerKind } from '../../src/vault/servers.js';
import { TEST_SERVER_TRAITS } from '../../harness/server-traits.js';

// sys/health bodies as Vault 1.19.0 and OpenBao 2.7.2 answer them, uninitialized.
const VAULT_HEALTH = {
  initialized: false,
  sealed: true,
  standby: true,
  performance_standby: false,
  replication_performance_mode: 'unknown',
  replication_dr_mode: 'unknown',
  version: '1.19.0',
  enterprise: false,
  removed_from_cluster: false,
};
const OPENBAO_HEALTH = {
  initialized: false,
  sealed: true,
  standby: true,
  replication_performance_mode: 'unknown',
  replication_dr_mode: 'unknown',
  version: '2.7.2',
};

describe('what differs between Vault and OpenBao', () => {
  it('tells the servers apart by their sys/health body', () => {
    expect(serverKindOf(VAULT_HEALTH)).toBe('vault');
    expect(serverKindOf(OPENBAO_HEALTH)).toBe('openbao');
  });

  it('every health code either server answers is named by the state machine', () => {
    for (const kind of Object.keys(SERVER_TRAITS) as ServerKind[]) {
      for (const code of TEST_SERVER_TRAITS[kind].healthCodes)
        expect(classifyHealth(code), `${SERVER_TRAITS[kind].name} ${code}`).not.toBe('unknown');
    }
  });

  it('each test auto-unseal seal is an auto-unseal seal of that server', () => {
    for (const traits of Object.values(TEST_SERVER_TRAITS))
      expect(traits.autoUnsealSeals).toContain(traits.testAutoUnsealSeal);
  });
});
