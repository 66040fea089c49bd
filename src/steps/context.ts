import type { Config } from '../config/index.js';
import type { Deadlines } from '../deadlines.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Records } from '../store/records.js';
import type { VaultApi } from '../vault/api.js';
import type { LoginSession } from './login.js';
import type { Spool } from './spool.js';

/** What every step works with. `signal` is the shutdown signal; steps pass it to every wait that may be cut short. */
export interface StepContext {
  readonly config: Config;
  readonly vault: VaultApi;
  readonly records: Records;
  readonly spool: Spool | undefined;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly signal: AbortSignal;
  readonly secretsInFlight: SecretsInFlight;
  /** Every call's deadline, and when the run must be over (`--once`, shutdown). */
  readonly deadlines: Deadlines;
  /** --self-init: where the management token comes from (a login); undefined otherwise. */
  readonly login: LoginSession | undefined;
}

/**
 * Counts the stretches during which a secret exists only in this process's memory
 * (from sending sys/init or a token creation until the store holds the answer).
 * Shutdown waits for them; nothing else makes it wait.
 */
export class SecretsInFlight {
  #count = 0;
  #waiters: Array<() => void> = [];

  get active(): boolean {
    return this.#count > 0;
  }

  async hold<T>(work: () => Promise<T>): Promise<T> {
    this.#count += 1;
    try {
      return await work();
    } finally {
      this.#count -= 1;
      if (this.#count === 0) for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  /** Resolves once nothing is in flight. */
  settled(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiters.push(resolve));
  }
}
