import { decide, decideSettings, describeAction, EMPTY_MEMORY, type Action, type VaultSeen } from '../machine/decide.js';
import { observe } from '../machine/observe.js';
import type { State } from '../machine/states.js';
import type { StepContext } from '../steps/context.js';

export interface PlanReport {
  address: string;
  vault: VaultSeen;
  state: State;
  reason: string;
  action: Action;
  /** The action in words. */
  next: string;
}

/**
 * What `run` would do now: the same observe() and decide() as the loop, changing nothing.
 * The memory is a fresh process's, as for a `run` started now.
 */
export async function plan(context: StepContext): Promise<PlanReport> {
  const seen = await observe(context, context.config.policies);
  const decision = decide(seen, EMPTY_MEMORY, decideSettings(context.config, context.records.names.unsealKeys));
  return { address: context.vault.address.origin, vault: seen.vault, ...decision, next: describeAction(decision.action, context.records.names) };
}

export function formatPlan(report: PlanReport): string {
  return [`vault ${report.address}: ${report.vault.health}`, `state  ${report.state}: ${report.reason}`, `next   ${report.next}`].join('\n');
}
