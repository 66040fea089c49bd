/**
 * The states of SPEC §1, in the order a fresh server passes through them, plus `blocked`:
 * something only a person can fix (a bad store record, a denied store, a policy the server
 * rejects, keys the server refuses); the sidecar stays alive, not ready, and re-checks slowly.
 */
export const STATES = [
  'waiting',
  'uninitialized',
  'initializing',
  'storing',
  'sealed',
  'configuring',
  'issuing',
  'ready',
  'orphaned',
  'blocked',
] as const;

export type State = (typeof STATES)[number];

/**
 * What needs a person, as a stable label (metric `vault_bootstrap_blocked{reason}`, the
 * `/readyz` body, `plan`). `store-denied` comes from the store's answer, the others from decide().
 */
export const BLOCKERS = [
  'orphaned',
  'initialized-elsewhere',
  'store-record-invalid',
  'store-denied',
  'policy-rejected',
  'keys-rejected',
  'no-management-token',
  'login-rejected',
  'node-removed',
  'seal-failing',
  'sealed-until-restart',
  'vault-request-rejected',
  'seal-intent',
  'cluster-mismatch',
  'seal-mismatch',
  'config-rejected',
  'server-downgrade',
  'internal-error',
] as const;

export type Blocker = (typeof BLOCKERS)[number];

/** How a run ends: reached ready (--once), stopped by a signal, or gave up (--once only). */
export type Outcome = 'ready' | 'stopped' | 'orphaned' | 'timed-out' | 'bad-input' | 'needs-person';

export const EXIT_CODES: Readonly<Record<Outcome, number>> = {
  ready: 0,
  stopped: 0,
  'needs-person': 1,
  'bad-input': 2,
  orphaned: 3,
  'timed-out': 4,
};

/**
 * With --once, the blockers that end the run at once, and how. A sealed auto-unseal node is
 * not among them: its seal service may still come up within --timeout.
 */
export const ONCE_OUTCOME: Readonly<Partial<Record<Blocker, Outcome>>> = {
  orphaned: 'orphaned',
  'initialized-elsewhere': 'needs-person',
  'store-record-invalid': 'needs-person',
  'store-denied': 'bad-input',
  'policy-rejected': 'bad-input',
  'keys-rejected': 'needs-person',
  'no-management-token': 'needs-person',
  'login-rejected': 'needs-person',
  'node-removed': 'needs-person',
  'vault-request-rejected': 'needs-person',
  'seal-intent': 'needs-person',
  'sealed-until-restart': 'needs-person',
  'cluster-mismatch': 'needs-person',
  'seal-mismatch': 'needs-person',
  'config-rejected': 'bad-input',
  'server-downgrade': 'bad-input',
  'internal-error': 'needs-person',
};
