// SPEC §6's "rotated when a third of it is left", written once (src/machine/token-stage.ts) and
// followed by the provisioner token, the management token and a --self-init login.
import { describe, expect, it } from 'vitest';
import { renewalTime, tokenStage } from '../../src/machine/token-stage.js';

const info = (ttlSeconds: number, creationTtlSeconds: number, policies = ['provisioner']) => ({
  accessor: 'a',
  policies,
  ttlSeconds,
  creationTtlSeconds,
});

describe('tokenStage', () => {
  it.each([
    ['not taken by the server', undefined, 'invalid'],
    ['without the policy it must carry', info(900, 900, ['default']), 'invalid'],
    ['fresh', info(900, 900), 'valid'],
    ['at exactly a third left', info(300, 900), 'valid'],
    ['in the last third', info(299, 900), 'renew'],
    ['never expiring (root)', info(0, 0), 'valid'],
  ] as const)('%s: %s', (_, looked, stage) => {
    expect(tokenStage(looked, 'provisioner')).toBe(stage);
  });

  it('a login needs no particular policy', () => {
    expect(tokenStage(info(900, 900, []))).toBe('valid');
  });

  it('renewalTime: when the last third starts, none for a token that never expires', () => {
    expect(renewalTime(info(900, 900), 1_000)).toBe(1_000 + 600_000);
    expect(renewalTime(info(299, 900), 0)).toBeLessThan(0);
    expect(renewalTime(info(0, 0), 0)).toBeUndefined();
  });
});
