import type { TokenInfo } from '../vault/api.js';

/**
 * A token's stage, judged from one look-up on the server (SPEC §6: a token is replaced, or a
 * periodic one renewed, once a third of its life is left). The rule is written here only: the
 * provisioner token, the sidecar's own management token and a --self-init login all follow it.
 * `invalid`: the server does not take it, or it lacks the policy it must carry.
 */
export type TokenStage = 'invalid' | 'renew' | 'valid';

export function tokenStage(info: TokenInfo | undefined, requiredPolicy?: string): TokenStage {
  if (info === undefined) return 'invalid';
  if (requiredPolicy !== undefined && !info.policies.includes(requiredPolicy)) return 'invalid';
  return inLastThird(info) ? 'renew' : 'valid';
}

/** When a token looked up at `at` enters the last third of its life; undefined for one that never expires. */
export function renewalTime(info: TokenInfo, at: number): number | undefined {
  if (info.creationTtlSeconds <= 0) return undefined;
  return at + (info.ttlSeconds - info.creationTtlSeconds / 3) * 1000;
}

function inLastThird(info: TokenInfo): boolean {
  return info.creationTtlSeconds > 0 && info.ttlSeconds * 3 < info.creationTtlSeconds;
}
