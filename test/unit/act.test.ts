// act() executes the action decide() chose and reports what happened (an ActOutcome); learn()
// records it for the next decide(). Unit tests with a fake Vault API (its methods answered by
// each test) and a real file store; the same paths run against real servers in test/integration.
import { afterEach, describe, expect, it } from 'vitest';
import { BootstrapError } from '../../src/errors.js';
import { act } from '../../src/machine/act.js';
import { EMPTY_MEMORY, learn, type Action, type Memory } from '../../src/machine/decide.js';
import { Secret } from '../../src/secret.js';
import type { UnsealKeys } from '../../src/store/records.js';
import { testContext, type FakeVault, type TestContext } from '../helpers/step-context.js';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.cleanup();
});

async function fake(vault: FakeVault): Promise<TestContext> {
  const context = await testContext(vault);
  contexts.push(context);
  return context;
}

const seen = { at: 1_000, policyHashes: new Map([['tenant', 'hash-of-tenant']]) };
const noEnter = () => undefined;

const claimAndInit: Extract<Action, { kind: 'claim-and-init' }> = {
  kind: 'claim-and-init',
  claim: {
    kind: 'create',
    generation: 1,
    takesOver: 'nothing',
    record: { holder: 'vault-0', claimedAt: '2026-12-07T00:00:00.000Z', clusterHint: 'https://127.0.0.1:8200' },
  },
  keyType: 'shamir',
  shares: 3,
  threshold: 2,
};

const keys: UnsealKeys = {
  type: 'shamir',
  keys: [new Secret('a2V5LW9uZQ=='), new Secret('a2V5LXR3bw=='), new Secret('a2V5LXRocmVl')],
  threshold: 2,
  shares: 3,
  initializedAt: '2026-12-07T00:00:00.000Z',
};

const unseal = (overrides: Partial<Extract<Action, { kind: 'unseal' }>> = {}): Action => ({
  kind: 'unseal',
  keys,
  version: 1,
  pending: false,
  resetProgress: false,
  laterVersions: 0,
  stillSealed: 'joining',
  ...overrides,
});

describe('act: claim-and-init', () => {
  it('initializes with the split and key type the action carries (no configuration read), stores the keys, reports initialized', async () => {
    const requests: unknown[] = [];
    const test = await fake({
      sealStatus: async () => ({ initialized: false }) as never,
      initialize: async (request) => {
        requests.push(request);
        return { keys: keys.keys, rootToken: new Secret('s.root-token-of-the-fake') };
      },
    });
    const result = await act(test.context, claimAndInit, seen, new Map(), noEnter);
    expect(result.outcome).toEqual({ kind: 'initialized' });
    // --secret-shares is 5 by default: the 3 of 2 came from the action.
    expect(requests).toEqual([{ secret_shares: 3, secret_threshold: 2 }]);
    expect(test.calls).toEqual(['sealStatus', 'initialize']);
    expect(await test.context.records.readUnsealKeys()).toMatchObject({ type: 'shamir', shares: 3, threshold: 2 });
    expect(await test.context.records.inspectClaims()).toMatchObject({ generation: 1 });
  });

  it('a claim another replica created first: claim-lost, nothing sent to the server', async () => {
    const test = await fake({});
    await test.context.records.createClaim(1, { ...claimAndInit.claim, holder: 'vault-1' } as never);
    const result = await act(test.context, claimAndInit, seen, new Map(), noEnter);
    expect(result).toEqual({ outcome: { kind: 'claim-lost', generation: 1 }, pace: 'join' });
    expect(test.calls).toEqual([]);
  });

  it('a node that joined its cluster while the claim was made: init-skipped, never initialized', async () => {
    const test = await fake({ sealStatus: async () => ({ initialized: true }) as never });
    const result = await act(test.context, claimAndInit, seen, new Map(), noEnter);
    expect(result.outcome).toEqual({ kind: 'init-skipped' });
    expect(test.calls).toEqual(['sealStatus']);
  });
});

describe('act: unseal', () => {
  it('unsealed at the threshold: the remaining share is not sent', async () => {
    let progress = 0;
    const test = await fake({
      unseal: async () => {
        progress += 1;
        return { sealed: progress < 2, progress: progress < 2 ? progress : 0 } as never;
      },
    });
    expect((await act(test.context, unseal(), seen, new Map(), noEnter)).outcome).toEqual({ kind: 'unsealed' });
    expect(test.calls).toEqual(['unseal', 'unseal']);
  });

  it('refused by the server: keys-refused for that version, progress reset', async () => {
    const test = await fake({
      unseal: async () => {
        throw new BootstrapError('KEYS_REJECTED', 'sys/unseal: invalid key');
      },
      resetUnseal: async () => undefined,
    });
    const result = await act(test.context, unseal({ version: 2 }), seen, new Map(), noEnter);
    expect(result.outcome).toEqual({ kind: 'keys-refused', version: 2 });
    expect(test.calls).toEqual(['unseal', 'resetUnseal']);
  });

  it('every share in and still sealed: a joining node is looked at again soon; with later versions stored, this one counts as refused', async () => {
    let progress = 0;
    const vault: FakeVault = {
      unseal: async () => ({ sealed: true, progress: (progress = (progress % 3) + 1) }) as never,
      resetUnseal: async () => {
        progress = 0;
      },
    };
    const joining = await fake(vault);
    expect(await act(joining.context, unseal(), seen, new Map(), noEnter)).toEqual({
      outcome: { kind: 'unseal-pending' },
      pace: 'join',
    });
    const rotated = await fake(vault);
    const result = await act(
      rotated.context,
      unseal({ stillSealed: 'next-version', laterVersions: 1 }),
      seen,
      new Map(),
      noEnter,
    );
    expect(result.outcome).toEqual({ kind: 'keys-refused', version: 1 });
    expect(rotated.calls.at(-1)).toBe('resetUnseal');
  });
});

describe('act: configure', () => {
  it('writes every policy it names; one the server refuses is reported with its text hash, the others written', async () => {
    const written: string[] = [];
    const test = await fake({
      writePolicy: async (name) => {
        if (name === 'tenant') throw new BootstrapError('POLICY_REJECTED', 'policy tenant: syntax error');
        written.push(name);
      },
    });
    const action: Action = {
      kind: 'configure',
      policies: ['tenant', 'admin'],
      role: false,
      audit: false,
      management: { source: 'root', token: new Secret('s.root') },
      repair: false,
    };
    const policies = new Map([
      ['tenant', 'path "x" {'],
      ['admin', 'path "*" { capabilities = ["read"] }'],
    ]);
    const { outcome } = await act(test.context, action, seen, policies, noEnter);
    expect(written).toEqual(['admin']);
    expect(outcome).toEqual({
      kind: 'configured',
      written: ['admin'],
      rejected: new Map([
        [
          'tenant',
          { textHash: 'hash-of-tenant', message: expect.stringContaining('policy tenant: syntax error'), at: 1_000 },
        ],
      ]),
    });
  });

  it('any other refusal is not swallowed: it reaches the loop (decideFailure)', async () => {
    const test = await fake({
      writePolicy: async () => {
        throw new BootstrapError('VAULT_REQUEST_FAILED', 'sys/policies/acl/admin: 403', { statusCode: 403 });
      },
    });
    const action: Action = {
      kind: 'configure',
      policies: ['admin'],
      role: false,
      audit: false,
      management: { source: 'management', token: new Secret('s.m') },
      repair: true,
    };
    await expect(act(test.context, action, seen, new Map([['admin', 'x']]), noEnter)).rejects.toMatchObject({
      code: 'VAULT_REQUEST_FAILED',
    });
  });
});

describe('learn: an outcome becomes memory, and nothing else does', () => {
  const at = 5_000;
  it('claim-lost: since when the generation reads empty, kept while the same generation is lost again', () => {
    const once = learn(EMPTY_MEMORY, { kind: 'claim-lost', generation: 2 }, at);
    expect(once.unreadableClaim).toEqual({ generation: 2, since: at });
    expect(learn(once, { kind: 'claim-lost', generation: 2 }, at + 9_000).unreadableClaim).toEqual({
      generation: 2,
      since: at,
    });
    expect(learn(once, { kind: 'claim-lost', generation: 3 }, at + 9_000).unreadableClaim).toEqual({
      generation: 3,
      since: at + 9_000,
    });
  });

  it('keys: refusals add up per version; unsealed forgets them and marks the node ours', () => {
    let memory: Memory = learn(EMPTY_MEMORY, { kind: 'keys-refused', version: 1 }, at);
    memory = learn(memory, { kind: 'keys-refused', version: 2 }, at + 1);
    expect([...memory.refusedKeys]).toEqual([
      [1, at],
      [2, at + 1],
    ]);
    memory = learn(memory, { kind: 'unsealed' }, at + 2);
    expect(memory.refusedKeys.size).toBe(0);
    expect(memory.opened).toBe(true);
    expect(learn(EMPTY_MEMORY, { kind: 'initialized' }, at).opened).toBe(true);
  });

  it('configured: a written policy is no longer refused; a refused one is remembered with its text hash', () => {
    const before = learn(
      EMPTY_MEMORY,
      {
        kind: 'configured',
        written: [],
        rejected: new Map([['tenant', { textHash: 'h1', message: 'bad', at }]]),
      },
      at,
    );
    expect(before.rejectedPolicies.get('tenant')).toEqual({ textHash: 'h1', message: 'bad', at });
    const after = learn(before, { kind: 'configured', written: ['tenant'], rejected: new Map() }, at + 1);
    expect(after.rejectedPolicies.size).toBe(0);
  });

  it('migrated keys: refused is remembered with its time, adopted forgets it, busy changes nothing', () => {
    const refused = learn(EMPTY_MEMORY, { kind: 'migrated-keys', result: 'refused' }, at);
    expect(refused.migratedKeysRefusedAt).toBe(at);
    expect(learn(refused, { kind: 'migrated-keys', result: 'busy' }, at + 1)).toBe(refused);
    expect(learn(refused, { kind: 'migrated-keys', result: 'adopted' }, at + 1).migratedKeysRefusedAt).toBeUndefined();
  });

  it('outcomes the next observe sees for itself leave the memory as it was', () => {
    for (const kind of ['acted', 'init-skipped', 'unseal-pending'] as const)
      expect(learn(EMPTY_MEMORY, { kind }, at)).toBe(EMPTY_MEMORY);
  });
});
