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

/** A sleep that anyone may end early: a closed connection to the server, a probe that saw a change. */
export class Waker {
  #wake: (() => void) | undefined;
  #pending = false;

  /** Sleeps up to `milliseconds`; returns at once if wake() was called since the last sleep. */
  async sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || milliseconds <= 0) {
      this.#pending = false;
      return;
    }
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    await sleep(milliseconds, AbortSignal.any([signal, woken.signal]));
    this.#wake = undefined;
    this.#pending = false;
  }

  wake(): void {
    if (this.#wake === undefined) this.#pending = true;
    else this.#wake();
  }
}

/**
 * Independent requests sent at once (reads, or writes whose order does not matter): waits for
 * every one of them, so none is still in flight when this returns or throws, then throws the
 * first failure in the order given. Plain values stand for requests not needed.
 */
export async function together<T extends readonly unknown[]>(
  work: readonly [...T],
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
