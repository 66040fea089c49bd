import { describe, expect, it } from 'vitest';
import { previousTokenPlan } from '../../src/steps/tokens.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const expiresIn = (ms: number) => new Date(NOW + ms).toISOString();

describe('--provisioner-overlap: what becomes of the token a rotation replaces (steps/tokens.ts)', () => {
  it.each([
    [
      'a token the server no longer takes: revoked at once, whatever the overlap',
      'invalid',
      undefined,
      expiresIn(3_600_000),
      { kind: 'revoke-now' },
    ],
    [
      'expiry (the default): left to expire by itself',
      'expiring',
      undefined,
      expiresIn(3_600_000),
      { kind: 'expires' },
    ],
    [
      '0s: revoked as soon as the new one is stored (the behaviour before the overlap)',
      'expiring',
      0,
      expiresIn(3_600_000),
      { kind: 'revoke-now' },
    ],
    [
      'an overlap shorter than its remaining life: revoked when the overlap ends',
      'expiring',
      600_000,
      expiresIn(3_600_000),
      { kind: 'revoke-at', at: NOW + 600_000 },
    ],
    [
      'an overlap past its expiry: it expires first, nothing to revoke',
      'expiring',
      7_200_000,
      expiresIn(3_600_000),
      { kind: 'expires' },
    ],
  ] as const)('%s', (_name, replaces, overlapMs, expiresAt, expected) => {
    expect(previousTokenPlan(replaces, overlapMs, expiresAt, NOW)).toEqual(expected);
  });
});
