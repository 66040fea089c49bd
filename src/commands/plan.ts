import type { StepContext } from '../steps/context.js';
import { planConfiguration } from '../steps/configure.js';
import { inspectProvisionerToken, managementToken } from '../steps/tokens.js';
import { inspectVault, type VaultView } from './inspect.js';
import { isUnsealed } from '../machine/health.js';

export interface PlanReport {
  vault: VaultView;
  actions: string[];
}

/** What `run` would do now, from the same reads it makes, changing nothing. */
export async function plan(context: StepContext): Promise<PlanReport> {
  const { records, config } = context;
  const vault = await inspectVault(context);
  const actions: string[] = [];
  const unsealKeys = await records.readUnsealKeys();
  const pending = await context.spool?.read();
  const autoUnseal = vault.seal !== null && vault.seal.type !== 'shamir';

  if (vault.health === 'unreachable' || vault.health === 'unknown' || vault.health === 'removed') {
    actions.push(`wait: Vault is ${vault.health}`);
  } else if (vault.health === 'uninitialized') {
    if (unsealKeys !== undefined && !config.allowReinit) {
      actions.push(`wait for this node to join the cluster: keys exist in ${records.names.unsealKeys} (restore, don't init)`);
    } else if (pending !== undefined) {
      actions.push('store the keys waiting in the spool');
    } else {
      const claim = await records.readClaim();
      if (claim !== undefined && claim.holder !== config.holder && !config.allowReinit) {
        actions.push(`wait: initialization is claimed by ${claim.holder}`);
      } else {
        const split = autoUnseal ? `${config.recoveryShares} recovery shares, threshold ${config.recoveryThreshold}` : `${config.secretShares} shares, threshold ${config.secretThreshold}`;
        actions.push(`claim ${records.names.initClaim}`, `initialize (${split})`, `store ${records.names.unsealKeys} and ${records.names.rootToken}`);
        actions.push('then unseal, configure and issue the provisioner token');
      }
    }
  } else if (unsealKeys === undefined) {
    actions.push(pending !== undefined ? 'store the keys waiting in the spool' : 'orphaned: Vault is initialized but no keys are in the store (exit 3 with --once)');
  } else if (vault.health === 'sealed') {
    actions.push(autoUnseal ? `report: the ${vault.seal?.type} seal has not unsealed this node` : `unseal with up to ${unsealKeys.threshold} stored shares`);
    actions.push('then configure and issue the provisioner token as needed');
  } else if (isUnsealed(vault.health)) {
    const { token } = await managementToken(context);
    const changes = await planConfiguration(context, config.policies, token);
    for (const name of changes.policiesWritten) actions.push(`write policy ${name}`);
    if (changes.roleWritten) actions.push('write token role provisioner');
    if (vault.health === 'active') {
      const inspected = await inspectProvisionerToken(context);
      if (inspected.kind === 'missing') actions.push('issue a provisioner token');
      if (inspected.kind === 'invalid') actions.push('issue a provisioner token (the stored one is invalid), then revoke the old one');
      if (inspected.kind === 'rotate') actions.push('rotate the provisioner token (in the last third of its life)');
      const root = await records.readRootToken();
      if (config.rootToken === 'revoke' && root?.token) actions.push('revoke the root token');
    }
  }
  return { vault, actions: actions.length > 0 ? actions : ['nothing to change'] };
}

export function formatPlan(report: PlanReport): string {
  return [`vault ${report.vault.address}: ${report.vault.health}`, ...report.actions.map((action) => `  - ${action}`)].join('\n');
}
