import { describe, expect, it } from 'vitest';
import { decodeUnsealKeys, encodeUnsealKeys } from '../../src/store/codec.js';
import { Secret } from '../../src/secret.js';
import { compareVersions, downgradeOf, raisesHighest } from '../../src/vault/server-version.js';

describe('server releases (the downgrade guard)', () => {
  it.each([
    ['2.6.2', '2.7.2', -1],
    ['2.7.2', '2.7.2', 0],
    ['2.10.0', '2.9.9', 1],
    ['v2.7.2', '2.7.2', 0],
    ['1.19.0+ent', '1.19.0', 0],
    ['2.7.0-beta1', '2.7.0', -1],
    ['2.7.0-beta2', '2.7.0-beta1', 1],
    ['1.19.0', '2.0.0', -1],
  ])('%s against %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b)!)).toBe(sign);
  });

  it('does not compare what it cannot parse', () => {
    expect(compareVersions('main', '2.7.2')).toBeUndefined();
    expect(
      downgradeOf({ kind: 'openbao', version: 'dev' }, { kind: 'openbao', version: '2.7.2' }, 'k'),
    ).toBeUndefined();
    expect(raisesHighest({ kind: 'openbao', version: 'dev' }, undefined)).toBe(false);
  });

  it('refuses an older release of the same product only', () => {
    const highest = { kind: 'openbao' as const, version: '2.7.2' };
    expect(downgradeOf({ kind: 'openbao', version: '2.6.2' }, highest, 'vault-unseal-keys')).toMatch(
      /OpenBao 2\.6\.2, older than 2\.7\.2, which vault-unseal-keys records/,
    );
    expect(downgradeOf({ kind: 'openbao', version: '2.7.2' }, highest, 'k')).toBeUndefined();
    expect(downgradeOf({ kind: 'vault', version: '1.19.0' }, highest, 'k')).toBeUndefined();
    expect(downgradeOf({ kind: 'openbao' }, highest, 'k')).toBeUndefined();
    expect(downgradeOf({ kind: 'openbao', version: '2.6.2' }, undefined, 'k')).toBeUndefined();
  });

  it('raises the record for a newer release, a first one, or another product', () => {
    expect(raisesHighest({ kind: 'openbao', version: '2.7.2' }, undefined)).toBe(true);
    expect(raisesHighest({ kind: 'openbao', version: '2.7.2' }, { kind: 'openbao', version: '2.6.2' })).toBe(true);
    expect(raisesHighest({ kind: 'openbao', version: '2.6.2' }, { kind: 'openbao', version: '2.7.2' })).toBe(false);
    expect(raisesHighest({ kind: 'openbao', version: '2.7.2' }, { kind: 'openbao', version: '2.7.2' })).toBe(false);
    expect(raisesHighest({ kind: 'openbao', version: '2.7.2' }, { kind: 'vault', version: '1.19.0' })).toBe(true);
  });

  it('is kept in the keys record; a malformed one is an invalid record, never a lifted guard', () => {
    const keys = {
      type: 'shamir' as const,
      keys: [new Secret('a2V5')],
      threshold: 1,
      shares: 1,
      initializedAt: '2026-11-01T00:00:00Z',
      highestServer: { kind: 'openbao' as const, version: '2.7.2', seenAt: '2026-11-02T00:00:00Z' },
    };
    expect(decodeUnsealKeys(encodeUnsealKeys(keys)).highestServer).toEqual(keys.highestServer);
    const text = JSON.parse(encodeUnsealKeys(keys)) as Record<string, unknown>;
    expect(() => decodeUnsealKeys(JSON.stringify({ ...text, highestServer: { kind: 'openbao' } }))).toThrow(
      /highestServer/,
    );
    expect(() => decodeUnsealKeys(JSON.stringify({ ...text, highestServer: 'x' }))).toThrow(/highestServer/);
    const { highestServer: _, ...without } = text;
    expect(decodeUnsealKeys(JSON.stringify(without)).highestServer).toBeUndefined();
  });
});
