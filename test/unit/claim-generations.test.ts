import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { claimName, Records } from '../../src/store/records.js';

const claim = (holder: string) => ({
  holder,
  claimedAt: '2026-11-30T00:00:00.000Z',
  clusterHint: 'http://127.0.0.1:8200',
});

async function records(): Promise<{ records: Records; store: FileStore }> {
  const store = new FileStore(join(await mkdtemp(join(tmpdir(), 'vb-claims-')), 'store'));
  return { records: new Records(store, 'vault'), store };
}

describe('init claim generations', () => {
  it('are named {prefix}-init-claim (generation 1, the name earlier releases wrote), then -g2, -g3, …', () => {
    expect([1, 2, 10].map((generation) => claimName('vault-init-claim', generation))).toEqual([
      'vault-init-claim',
      'vault-init-claim-g2',
      'vault-init-claim-g10',
    ]);
    for (const generation of [1, 2, 999])
      expect(claimName('vault-init-claim', generation)).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
  });

  it("reads none as generation 0, and an earlier release's claim (its takeovers added versions) as generation 1 with its latest version", async () => {
    const { records: claims, store } = await records();
    expect(await claims.inspectClaims()).toEqual({ generation: 0, record: { kind: 'absent' } });
    await store.createIfAbsent('vault-init-claim', JSON.stringify(claim('vault-0')));
    await store.addVersion('vault-init-claim', JSON.stringify(claim('vault-1')));
    expect(await claims.inspectClaims()).toEqual({ generation: 1, record: { kind: 'valid', value: claim('vault-1') } });
  });

  it('reads the newest generation, past one generation that reads empty', async () => {
    const { records: claims } = await records();
    await claims.createClaim(1, claim('vault-0'));
    await claims.createClaim(2, claim('vault-1'));
    expect(await claims.inspectClaims()).toMatchObject({ generation: 2, record: { value: { holder: 'vault-1' } } });
    // Generation 3 was never readable (its writer died between GCP's two calls); 4 took it over.
    await claims.createClaim(4, claim('vault-2'));
    expect(await claims.inspectClaims()).toMatchObject({ generation: 4, record: { value: { holder: 'vault-2' } } });
  });

  it('gives each generation one creator: the second create of the same generation loses', async () => {
    const { records: claims } = await records();
    const racers = await Promise.allSettled(
      ['vault-0', 'vault-1', 'vault-2'].map((holder) => claims.createClaim(2, claim(holder))),
    );
    expect(racers.filter((racer) => racer.status === 'fulfilled')).toHaveLength(1);
    expect(
      racers
        .filter((racer) => racer.status === 'rejected')
        .map((racer) => (racer as PromiseRejectedResult).reason.code),
    ).toEqual(['STORE_ALREADY_EXISTS', 'STORE_ALREADY_EXISTS']);
  });
});
