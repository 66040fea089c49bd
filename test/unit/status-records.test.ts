// status (issue 29): reads each record once, in the inspecting style, so a record that is not
// valid is reported (and is the decision's blocker, as in plan) instead of failing status; and
// it lists every claim generation a takeover made (-g2, -g3, …). A fake Vault API answers for a
// server that is not initialized; the store is a real file store.
import { afterEach, describe, expect, it } from 'vitest';
import { formatStatus, problemsOf, status } from '../../src/commands/status.js';
import { testContext, type TestContext } from '../helpers/step-context.js';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.cleanup();
});

const claim = (holder: string) => ({ holder, claimedAt: '2026-12-07T00:00:00.000Z', clusterHint: 'x' });

async function uninitialized(): Promise<TestContext> {
  const test = await testContext({
    address: new URL('https://127.0.0.1:8200'),
    health: async () => ({ status: 501, body: { initialized: false, sealed: true } }) as never,
    sealStatus: async () =>
      ({
        type: 'shamir',
        initialized: false,
        sealed: true,
        threshold: 0,
        shares: 0,
        progress: 0,
        nonce: '',
        migration: false,
      }) as never,
  });
  contexts.push(test);
  return test;
}

describe('status with a record that is not valid', () => {
  it('reports it, shows the blocker plan shows, and does not fail', async () => {
    const test = await uninitialized();
    await test.store.createIfAbsent('vault-unseal-keys', 'not a keys record');
    await test.store.createIfAbsent('vault-root-token', '{"token": 42}');
    const report = await status(test.context);
    expect(report.invalidRecords).toEqual([
      expect.stringMatching(/^vault-root-token: the latest version \(1\) is not a valid record/),
      expect.stringMatching(/^vault-unseal-keys: the latest version \(1\) is not a valid record/),
    ]);
    expect(report.rootToken).toBe('invalid');
    expect(report.keys).toMatchObject({ versions: 1, activeVersion: null });
    expect(report.decision).toMatchObject({ state: 'blocked', blocker: 'store-record-invalid' });
    expect(problemsOf(report)).toContainEqual(expect.stringMatching(/^record not valid: vault-unseal-keys/));
    expect(formatStatus(report)).toMatch(/^root token invalid$/m);
  });
});

describe('status lists every claim generation', () => {
  it('the first claim and the takeovers after it', async () => {
    const test = await uninitialized();
    await test.context.records.createClaim(1, claim('vault-0'));
    await test.context.records.createClaim(2, claim('vault-1'));
    await test.context.records.createClaim(3, claim('vault-2'));
    const report = await status(test.context);
    const claims = report.store.secrets.filter((secret) => secret.name.startsWith('vault-init-claim'));
    expect(claims).toEqual([
      { name: 'vault-init-claim', versions: 1 },
      { name: 'vault-init-claim-g2', versions: 1 },
      { name: 'vault-init-claim-g3', versions: 1 },
    ]);
    expect(formatStatus(report)).toMatch(/^ {2}vault-init-claim-g3 +1 version\(s\)$/m);
  });
});
