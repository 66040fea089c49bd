import { BootstrapError } from '../errors.js';
import { classifyHealth, type HealthKind } from '../machine/health.js';
import type { StepContext } from '../steps/context.js';
import type { SealStatus } from '../vault/api.js';

export interface VaultView {
  address: string;
  health: HealthKind;
  status: number | null;
  version: string | null;
  seal: Pick<SealStatus, 'type' | 'initialized' | 'sealed' | 'threshold' | 'shares'> | null;
  error: string | null;
}

/** Health and seal status, read-only; an unreachable server is a view, not an error. */
export async function inspectVault(context: StepContext): Promise<VaultView> {
  const { vault, signal } = context;
  const address = vault.address.origin;
  try {
    const health = await vault.health({ signal });
    const kind = classifyHealth(health.status);
    const seal = kind === 'unreachable' ? null : await vault.sealStatus({ signal });
    return {
      address,
      health: kind,
      status: health.status,
      version: typeof health.body.version === 'string' ? health.body.version : null,
      seal: seal && { type: seal.type, initialized: seal.initialized, sealed: seal.sealed, threshold: seal.threshold, shares: seal.shares },
      error: null,
    };
  } catch (error) {
    if (!(error instanceof BootstrapError) || error.code !== 'VAULT_UNREACHABLE') throw error;
    return { address, health: 'unreachable', status: null, version: null, seal: null, error: error.message };
  }
}
