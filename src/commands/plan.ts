import {
  decide,
  decideFailure,
  decideSettings,
  describeAction,
  EMPTY_MEMORY,
  remember,
  type Action,
  type Decision,
  type Observation,
  type VaultSeen,
} from '../machine/decide.js';
import { observe } from '../machine/observe.js';
import type { State } from '../states.js';
import { describeError, isAborted } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import { findStaleOperations, type StaleCheck } from './stale.js';

export interface PlanReport {
  address: string;
  /** null: the look at the server and the store failed (the reason says why). */
  vault: VaultSeen | null;
  state: State;
  reason: string;
  action: Action;
  /** The action in words. */
  next: string;
  /** Key operations in progress that no record of ours owns: reported, left alone (cancel-stale). */
  staleOperations: StaleCheck;
}

/**
 * What `run` would do now: the same observe() and decide() as the loop, changing nothing.
 * The memory is a fresh process's, as for a `run` started now. `status` hands over the
 * observation it made, so one look serves both.
 */
export async function plan(context: StepContext, observed?: Observation): Promise<PlanReport> {
  let seen: Observation;
  let decision: Decision;
  try {
    seen = observed ?? (await observe(context, context.config.policies));
    decision = decide(seen, remember(EMPTY_MEMORY, seen), decideSettings(context.config, context.records.names));
  } catch (error) {
    if (isAborted(error)) throw error;
    // The pass failed: what run does then (decideFailure), so plan shows every blocker run can reach.
    const failed = decideFailure(error);
    return {
      address: context.vault.address.origin,
      vault: null,
      ...failed,
      next: describeAction(failed.action, context.records.names),
      staleOperations: { operations: [], unchecked: ['not looked at: the pass failed'] },
    };
  }
  const { operations, unchecked } = await findStaleOperations(context, seen.vault).catch((error: unknown) => ({
    operations: [],
    unchecked: [describeError(error).message],
  }));
  const staleOperations = { operations, unchecked };
  return {
    address: context.vault.address.origin,
    vault: seen.vault,
    ...decision,
    next: describeAction(decision.action, context.records.names),
    staleOperations,
  };
}

export function formatPlan(report: PlanReport): string {
  const stale = report.staleOperations.operations.map(
    (op) =>
      `also   a ${op.operation} at ${op.path} is in progress that no record of ours owns: vault-bootstrap cancel-stale`,
  );
  return [
    `vault ${report.address}: ${report.vault?.health ?? 'not observed'}`,
    `state  ${report.state}: ${report.reason}`,
    `next   ${report.next}`,
    ...stale,
  ].join('\n');
}
