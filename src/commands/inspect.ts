import type { VaultSeen } from '../machine/decide.js';
import type { HealthKind } from '../machine/health.js';
import type { SealStatus } from '../vault/api.js';

export interface VaultView {
  address: string;
  health: HealthKind;
  status: number | null;
  version: string | null;
  seal: Pick<SealStatus, 'type' | 'initialized' | 'sealed' | 'threshold' | 'shares'> | null;
  error: string | null;
}

/** The server as `status` shows it, from what one observation saw. */
export function viewOf(address: string, seen: VaultSeen): VaultView {
  if (seen.health === 'unreachable' && seen.status === undefined)
    return { address, health: 'unreachable', status: null, version: null, seal: null, error: seen.detail };
  return {
    address,
    health: seen.health,
    status: seen.status ?? null,
    version: seen.version ?? null,
    seal: seen.seal === undefined || seen.sealType === undefined ? null : { type: seen.sealType, ...seen.seal },
    error: seen.health === 'unreachable' ? seen.detail : null,
  };
}
