import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { StoreAlreadyExistsError, StoreNotFoundError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { claimCluster, type ClaimWatch } from '../../src/steps/initialize.js';
import type { StepContext } from '../../src/steps/context.js';
import { Records } from '../../src/store/records.js';
import type { SecretStore } from '../../src/store/types.js';
import { Writable } from 'node:stream';

/** A store holding one claim secret that exists but has no readable version yet (GCP between its two calls). */
function storeWithEmptyClaim(): SecretStore & { versions: string[] } {
  const versions: string[] = [];
  return {
    kind: 'fake',
    versions,
    verifyAccess: async () => undefined,
    listVersions: async () => versions.map(() => ({ createdAt: null })),
    readLatest: async (name) => {
      const latest = versions.at(-1);
      if (latest === undefined) throw new StoreNotFoundError(name);
      return latest;
    },
    createIfAbsent: async (name) => {
      throw new StoreAlreadyExistsError(name);
    },
    addVersion: async (_name, value) => {
      versions.push(value);
    },
    readAllVersions: async () => [...versions],
    close: async () => undefined,
  };
}

function contextWith(store: SecretStore, holder: string): StepContext {
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const config = loadConfig(['run', '--store', 'file', '--claim-stale-after', '1m'], { POD_NAME: holder });
  return {
    config,
    records: new Records(store, 'vault'),
    log: createLogger('silent', silent),
    vault: { address: new URL('http://127.0.0.1:8200') },
  } as unknown as StepContext;
}

describe('claimCluster', () => {
  it('losing the create loses even when the claim reads empty, until it has stayed empty past --claim-stale-after', async () => {
    const store = storeWithEmptyClaim();
    const context = contextWith(store, 'vault-1');
    const watch: ClaimWatch = { emptySince: undefined };
    const start = new Date('2026-01-01T00:00:00Z');
    expect(await claimCluster(context, watch, start)).toEqual({ won: false, holder: '(claim being written)' });
    expect(await claimCluster(context, watch, new Date(start.getTime() + 59_000))).toMatchObject({ won: false });
    expect(store.versions).toEqual([]);
    expect(await claimCluster(context, watch, new Date(start.getTime() + 60_000))).toEqual({ won: true });
    expect(JSON.parse(store.versions[0]!)).toMatchObject({ holder: 'vault-1' });
  });

  it("another holder's fresh claim binds; its stale claim is taken over; our own is ours again", async () => {
    const store = storeWithEmptyClaim();
    const start = new Date('2026-01-01T00:00:00Z');
    store.versions.push(JSON.stringify({ holder: 'vault-0', claimedAt: start.toISOString(), clusterHint: 'x' }));
    const watch: ClaimWatch = { emptySince: undefined };
    expect(await claimCluster(contextWith(store, 'vault-1'), watch, new Date(start.getTime() + 30_000))).toEqual({ won: false, holder: 'vault-0' });
    expect(await claimCluster(contextWith(store, 'vault-0'), watch, new Date(start.getTime() + 30_000))).toEqual({ won: true });
    expect(await claimCluster(contextWith(store, 'vault-1'), watch, new Date(start.getTime() + 61_000))).toEqual({ won: true });
    expect(store.versions).toHaveLength(2);
  });
});
