/** Sleeps, ending early (without error) when the signal aborts, so shutdown never waits on a timer. */
export function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, milliseconds);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff with jitter: fast at first (Vault usually appears within seconds), capped. */
export class Backoff {
  readonly #initialMs: number;
  readonly #capMs: number;
  #attempt = 0;

  constructor(initialMs: number, capMs: number) {
    this.#initialMs = initialMs;
    this.#capMs = capMs;
  }

  next(): number {
    const base = Math.min(this.#capMs, this.#initialMs * 2 ** this.#attempt);
    this.#attempt += 1;
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
