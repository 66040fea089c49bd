import { AbortedError, BootstrapError } from './errors.js';
import type { Logger } from './log.js';

/** What the program calls over the network (or the file system), each with its own deadline. */
export type Dependency = 'vault' | 'store' | 'snapshots';

/**
 * Every call's own deadline, in one table (README's error policy quotes it). A call that reaches it fails
 * as transient (the dependency is unavailable), so the loop retries it with backoff; nothing
 * waits on an answer that may never come.
 */
export const CALL_DEADLINE_MS = Object.freeze({
  /** A Vault API call. */
  vault: 10_000,
  /** sys/health: the loop's first look each pass; an unreachable server is noticed fast. */
  vaultHealth: 5_000,
  /** Calls whose answer is a new secret (sys/init, a rotation step): abandoning one too early orphans it. */
  vaultKeyGeneration: 60_000,
  /** /readyz's live look at the server: half a second, so a probe answers well within one whatever the server does. */
  vaultProbe: 500,
  /** One store operation (a read, a create, a new version, a listing), retries of the SDK included. */
  store: 10_000,
  /** One call to the snapshot object store (a listing, opening an object, a delete). */
  snapshotStore: 30_000,
  /**
   * A whole snapshot transfer, from the server into the object store or back. The bytes must also
   * keep flowing: a connection silent for a minute ends it sooner (vault/api.ts).
   */
  snapshotTransfer: 60 * 60_000,
});

/**
 * The shortest --claim-stale-after that is safe: the longest a live holder can take from creating
 * its claim to storing the keys, each call at its deadline (the claim's create, the seal-status
 * look, sys/init, then the keys and root token written and read back), plus a margin for a
 * loaded machine. A shorter value would let racing replicas take a live holder's claim over and
 * initialize their own servers: refused at start-up.
 */
export const CLAIM_STALE_MINIMUM_MS =
  CALL_DEADLINE_MS.store +
  CALL_DEADLINE_MS.vault +
  CALL_DEADLINE_MS.vaultKeyGeneration +
  4 * CALL_DEADLINE_MS.store +
  30_000;

const DEADLINE_CODES = Object.freeze({
  vault: 'VAULT_UNREACHABLE',
  store: 'STORE_UNAVAILABLE',
  snapshots: 'SNAPSHOT_STORE_UNAVAILABLE',
} as const);

/** A call that got no answer in time: transient, and logged once with the dependency, operation and elapsed time. */
export class DeadlineExceededError extends BootstrapError {
  override readonly name = 'DeadlineExceededError';
  readonly dependency: string;
  readonly operation: string;
  readonly elapsedMs: number;

  constructor(
    dependency: Dependency,
    dependencyName: string,
    operation: string,
    elapsedMs: number,
    deadlineMs: number,
  ) {
    const why =
      deadlineMs > 0
        ? `no answer within its ${deadlineMs} ms deadline`
        : 'not sent: the run has no time left (--timeout or shutdown)';
    super(DEADLINE_CODES[dependency], `${dependencyName} ${operation}: ${why}`);
    this.dependency = dependencyName;
    this.operation = operation;
    this.elapsedMs = elapsedMs;
  }
}

export interface DeadlinesOptions {
  /** The shutdown signal: a call that holds no unstored secret is abandoned when it aborts. */
  signal?: AbortSignal;
  /** Whether a secret exists only in memory now: such a stretch's calls outlive the signal, within the shutdown budget. */
  secretsInFlight?: () => boolean;
  log?: Logger;
}

/**
 * The one place every call's deadline comes from: its own deadline (CALL_DEADLINE_MS), cut
 * short by what is left of the run. The run ends at `--timeout` with `--once`, and at a
 * shutdown signal; a stretch holding secrets not yet stored (sys/init and storing its answer)
 * may go on past either for the shutdown budget (--shutdown-timeout), never further.
 */
export class Deadlines {
  readonly #signal: AbortSignal | undefined;
  readonly #secretsInFlight: () => boolean;
  readonly #log: Logger | undefined;
  #runEnd = Number.POSITIVE_INFINITY;
  #secretsEnd = Number.POSITIVE_INFINITY;

  constructor(options: DeadlinesOptions = {}) {
    this.#signal = options.signal;
    this.#secretsInFlight = options.secretsInFlight ?? (() => false);
    this.#log = options.log;
  }

  /** When ordinary calls must be over (`--once`: start + --timeout; a signal: now). Infinity for a sidecar. */
  get runEnd(): number {
    return this.#runEnd;
  }

  /** The run must be over at `runEnd`; a stretch holding secrets gets `shutdownBudgetMs` more. */
  endRunAt(runEnd: number, shutdownBudgetMs: number): void {
    this.#runEnd = Math.min(this.#runEnd, runEnd);
    this.#secretsEnd = Math.min(this.#secretsEnd, runEnd + shutdownBudgetMs);
  }

  /** Milliseconds a call may take if it starts now: its own deadline, or less when the run ends sooner. */
  allowedMs(ownMs: number): number {
    const end = this.#secretsInFlight() ? this.#secretsEnd : this.#runEnd;
    return Math.max(0, Math.min(ownMs, Math.floor(end - Date.now())));
  }

  /**
   * Runs one call within its deadline. `work` gets the milliseconds it has (to hand to its
   * client, so the request itself ends too) and a signal aborted when they are up; the call
   * fails with DeadlineExceededError then, whether or not the client listened.
   */
  async call<T>(
    dependency: Dependency,
    dependencyName: string,
    operation: string,
    ownMs: number,
    work: (budget: { ms: number; signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const ms = this.allowedMs(ownMs);
    if (ms === 0) throw new DeadlineExceededError(dependency, dependencyName, operation, 0, 0);
    const holdsSecrets = this.#secretsInFlight();
    if (!holdsSecrets && this.#signal?.aborted) throw new AbortedError();
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let onShutdown: (() => void) | undefined;
    const cutShort = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const elapsedMs = Math.round(performance.now() - started);
        this.#log?.warn(
          { event: 'call-timed-out', dependency: dependencyName, operation, elapsedMs, deadlineMs: ms },
          `${dependencyName} ${operation}: no answer within ${ms} ms`,
        );
        // Rejected before the abort, so this error (not the client's reaction to the abort) is the answer.
        reject(new DeadlineExceededError(dependency, dependencyName, operation, elapsedMs, ms));
        controller.abort();
      }, ms);
      if (!holdsSecrets && this.#signal !== undefined) {
        onShutdown = () => {
          reject(new AbortedError());
          controller.abort();
        };
        this.#signal.addEventListener('abort', onShutdown, { once: true });
      }
    });
    try {
      return await Promise.race([work({ ms, signal: controller.signal }), cutShort]);
    } finally {
      clearTimeout(timer);
      if (onShutdown !== undefined) this.#signal?.removeEventListener('abort', onShutdown);
    }
  }
}
