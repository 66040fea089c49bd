import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics.js';
import { CountingStore } from '../../src/store/counting.js';
import { FileStore } from '../../src/store/file.js';

describe('what the sidecar costs (SPEC §9)', () => {
  it('counts each store operation by name, and Vault requests with and without a token', async () => {
    const metrics = new Metrics();
    const store = new CountingStore(
      new FileStore(join(await mkdtemp(join(tmpdir(), 'vb-counting-')), 'store')),
      (operation) => metrics.storeCall(operation),
    );
    await store.addVersion('vault-seal-intent', '{}');
    await store.readLatest('vault-seal-intent');
    await store.readLatest('vault-seal-intent');
    await store.listVersions('vault-seal-intent');
    metrics.vaultRequest(false);
    metrics.vaultRequest(true);
    metrics.vaultRequest(true);
    const text = await metrics.text();
    expect(text).toMatch(/^vault_bootstrap_store_calls_total\{op="readLatest"\} 2$/m);
    expect(text).toMatch(/^vault_bootstrap_store_calls_total\{op="addVersion"\} 1$/m);
    expect(text).toMatch(/^vault_bootstrap_store_calls_total\{op="listVersions"\} 1$/m);
    expect(text).toMatch(/^vault_bootstrap_vault_requests_total\{token="true"\} 2$/m);
    expect(text).toMatch(/^vault_bootstrap_vault_requests_total\{token="false"\} 1$/m);
  });
});
