import { isUnsealed } from './health.js';
import type { Converged, Memory } from './memory.js';
import type { Decision, Observation, VaultSeen } from './model.js';

export type { Converged } from './memory.js';

/**
 * Which kind of pass the loop runs, and how soon it looks again while the server is away: pure
 * rules, no I/O and no clock of their own.
 *
 * A cheap pass reads what tells us the server changed: the unauthenticated sys/health and
 * sys/seal-status, and the count of closed connections. No store read, no token-bearing
 * request, so nothing in the audit log and nothing on the cloud bill. A full reconcile reads the
 * store records, looks the tokens up and compares policies and the token role; it runs on every
 * event below and otherwise every --reconcile-interval, so drift is repaired within that interval.
 */

/**
 * Why this pass must be a full reconcile, or undefined when a cheap pass suffices. Every event
 * that can mean the server or our desired configuration changed is one line here.
 */
export function reconcileDue(
  vault: VaultSeen,
  policyHashes: ReadonlyMap<string, string>,
  at: number,
  converged: Converged | undefined,
  reconcileIntervalMs: number,
): string | undefined {
  if (converged === undefined) return 'not converged since start, a change or a failed call';
  if (!isUnsealed(vault.health)) return `health ${vault.health}`;
  if (vault.health !== converged.health) return `${converged.health} → ${vault.health} (leadership changed)`;
  if (vault.clusterId !== converged.clusterId) return 'the cluster id changed';
  if (vault.connectionsClosed !== converged.connectionsClosed) return 'a connection to the server closed';
  if (policiesDigest(policyHashes) !== converged.policies) return 'the policy files changed';
  if (converged.rotateAt !== undefined && at >= converged.rotateAt)
    return 'a token (provisioner or management) reached its rotation time';
  if (at - converged.at >= reconcileIntervalMs) return '--reconcile-interval elapsed';
  return undefined;
}

/**
 * The memory after a decision: a full reconcile that found nothing to do is the new reference
 * for cheap passes; a cheap pass leaves it standing; anything else (an action, a hold, a wait)
 * drops it, so the next pass reconciles in full.
 */
export function afterDecision(memory: Memory, seen: Observation, decision: Decision): Memory {
  // A scheduled snapshot is taken by a node that is otherwise done: converged all the same.
  if (decision.action.kind !== 'done' && decision.action.kind !== 'take-snapshot')
    return memory.converged === undefined ? memory : { ...memory, converged: undefined };
  if (seen.reconcile === undefined) return memory;
  const { vault } = seen;
  const converged: Converged = {
    at: seen.at,
    health: vault.health,
    clusterId: vault.clusterId,
    connectionsClosed: vault.connectionsClosed,
    policies: policiesDigest(seen.policyHashes),
    sealStatus: {
      sealType: vault.sealType,
      migration: vault.migration,
      ...(vault.seal === undefined ? {} : { seal: vault.seal }),
    },
    // Times already due at a reconcile that still ends ready (a standby, whose active node's sidecar rotates the token) are left to the interval.
    rotateAt: earliest(
      ...[seen.server?.provisionerRotateAt, seen.server?.managementRenewAt, previousRevokeAt(seen)].filter(
        (time) => time !== undefined && time > seen.at,
      ),
    ),
  };
  return { ...memory, convergedOnce: true, converged };
}

/** When the rotated-out provisioner token's overlap ends (--provisioner-overlap): a full reconcile is due then to revoke it. */
function previousRevokeAt(seen: Observation): number | undefined {
  const previous = seen.provisionerToken?.kind === 'valid' ? seen.provisionerToken.value.previous : undefined;
  return previous === undefined ? undefined : Date.parse(previous.revokeAt);
}

function earliest(...times: Array<number | undefined>): number | undefined {
  const known = times.filter((time): time is number => time !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

/** A failed call: whatever it was about, the next pass reconciles in full. */
export function afterFailure(memory: Memory): Memory {
  return memory.converged === undefined ? memory : { ...memory, converged: undefined };
}

/** While the server is away, this fast for this long: a restart is usually back within seconds. */
export const AWAY_FAST_MS = 25;
export const AWAY_FAST_FOR_MS = 10_000;
/** Then a few requests a second for as long as it stays away. */
export const AWAY_SLOW_MS = 400;

/**
 * The pause before looking again at a server that did not answer, `awayForMs` after it was
 * last seen. A refused connection on loopback costs microseconds, so the first seconds are
 * polled every 25 ms (a restarted server is unsealed within tens of milliseconds of listening);
 * after that, every 200–400 ms (jittered, so sidecars of one cluster do not march in step).
 */
export function awayPauseMs(awayForMs: number, random: () => number = Math.random): number {
  if (awayForMs < AWAY_FAST_FOR_MS) return AWAY_FAST_MS;
  return Math.round(AWAY_SLOW_MS / 2 + (random() * AWAY_SLOW_MS) / 2);
}

function policiesDigest(policyHashes: ReadonlyMap<string, string>): string {
  return [...policyHashes]
    .map(([name, hash]) => `${name}:${hash}`)
    .sort()
    .join(',');
}
