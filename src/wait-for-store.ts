import { formatDuration } from './duration.js';
import { describeError, isAborted, isTransientError } from './errors.js';
import { Backoff, sleep } from './wait.js';
import type { State } from './states.js';
import type { StepContext } from './steps/context.js';

/** Start-up checks a store every second or so while it does not answer: it is the one thing to wait for. */
const FIRST_RETRY_MS = 250;
const RETRY_CAP_MS = 5_000;

/**
 * The start-up probe of the store, for `run`: read one secret to prove credentials and access.
 * Denied or misconfigured is bad input (thrown, exit 2). Unreachable or too slow is a dependency
 * to wait for: the sidecar stays up, not ready, saying so on /readyz (it serves its probes
 * before this starts), and tries again with backoff; `--once` gives up at --timeout (exit 4).
 * While it waits, it is what the probes read.
 */
export class WaitForStore {
  readonly state: State = 'waiting';
  #reason: string;
  #lastBeat = Date.now();
  readonly #context: StepContext;

  constructor(context: StepContext) {
    this.#context = context;
    this.#reason = `waiting for the ${context.records.store.kind} store (start-up check)`;
  }

  get reason(): string {
    return this.#reason;
  }

  get lastBeat(): number {
    return this.#lastBeat;
  }

  /** Resolves once the store answered, or with how the run ends (signal, --once timeout). */
  async wait(): Promise<'answered' | 'stopped' | 'timed-out'> {
    const { records, signal, log, deadlines, config } = this.#context;
    const backoff = new Backoff(FIRST_RETRY_MS, RETRY_CAP_MS);
    let said = '';
    for (;;) {
      this.#lastBeat = Date.now();
      if (signal.aborted) return 'stopped';
      if (Date.now() >= deadlines.runEnd) {
        log.error(
          { event: 'timed-out', state: this.state, reason: this.#reason, timeout: formatDuration(config.timeoutMs) },
          '--once gave up: not ready within --timeout',
        );
        return 'timed-out';
      }
      try {
        await records.store.verifyAccess(records.names.initClaim);
        return 'answered';
      } catch (error) {
        if (isAborted(error)) return 'stopped';
        if (!isTransientError(error)) throw error;
        const { message } = describeError(error);
        this.#reason = `waiting for the ${records.store.kind} store: ${message}`;
        if (message !== said)
          log.warn(
            { event: 'store-unavailable-at-start', store: records.store.kind, error: describeError(error) },
            'the store does not answer yet; retrying (not ready)',
          );
        said = message;
      }
      await sleep(Math.min(backoff.next(), deadlines.runEnd - Date.now()), signal);
    }
  }
}
