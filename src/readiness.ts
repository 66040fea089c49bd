import type { Blocker, State } from './states.js';

/**
 * Blockers under which a node must not take client traffic, whatever its server answers: a node
 * of another cluster (split brain), an older release over data a newer one wrote, one removed from raft, one kept sealed, one whose keys were
 * lost before it was ever set up (SPEC §1: orphaned stays not ready).
 */
const STOPS_SERVING: ReadonlySet<Blocker> = new Set<Blocker>([
  'cluster-mismatch',
  'server-downgrade',
  'node-removed',
  'seal-intent',
  'sealed-until-restart',
  'seal-failing',
  'keys-rejected',
  'initialized-elsewhere',
  'orphaned',
]);

/**
 * What /readyz gates: serving, not configuration. A node is ready once the loop has brought this
 * cluster to `ready` (configured, CI token valid) and, after that, for as long as its server
 * serves (the live check in server.ts), also while the sidecar repairs drift or is blocked by
 * something unrelated to serving (the store denies, a record or a policy file is bad, no
 * management token): those raise the blocker metric and its alert, and do not take a healthy,
 * unsealed node out of the Services. Before the first `ready`, nothing but `ready` is ready.
 */
export function servesClients(state: State, blocker: Blocker | undefined, configuredOnce: boolean): boolean {
  if (state === 'ready') return true;
  if (!configuredOnce) return false;
  if (blocker !== undefined) return !STOPS_SERVING.has(blocker);
  return state === 'configuring' || state === 'issuing';
}
