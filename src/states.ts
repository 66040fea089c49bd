import { BootstrapError, isTransientError } from './errors.js';

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

/**
 * The blocker an error stands for when it stops the loop (runner.ts) and so, through
 * ONCE_OUTCOME, the exit code of every command. Transient errors are retried, not mapped here.
 * An error that is not ours is `internal-error`: a bug, never retried as a fault of the world.
 */
export function blockerOf(error: unknown): Blocker {
  if (!(error instanceof BootstrapError)) return 'internal-error';
  switch (error.code) {
    case 'STORE_DENIED':
      return 'store-denied';
    case 'STORE_CORRUPT':
    case 'STORE_NOT_FOUND':
      // A record the step needs is not valid, or has no version to read: a person looks at its history.
      return 'store-record-invalid';
    case 'KEYS_REJECTED':
      return 'keys-rejected';
    case 'POLICY_REJECTED':
      return 'policy-rejected';
    case 'NO_MANAGEMENT_TOKEN':
      return 'no-management-token';
    case 'SEAL_FAILING':
      return 'seal-failing';
    case 'INTERNAL':
      return 'internal-error';
    case 'CONFIG_INVALID':
      // A configuration the server's answer shows to be unusable, found while acting.
      return 'config-rejected';
    default:
      return 'vault-request-rejected';
  }
}

/**
 * The one mapping from an error to the process's exit code (SPEC §2), for every command, at
 * start-up and later alike: 2 for bad input (a flag, a policy file the server rejects, store
 * credentials or permissions the store denies), 1 for any other failure, a bug included.
 */
export function exitCodeOf(error: unknown): number {
  if (isTransientError(error)) return EXIT_CODES['needs-person'];
  return EXIT_CODES[ONCE_OUTCOME[blockerOf(error)] ?? 'needs-person'];
}
