import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Observers the bench runs from outside the contenders, with plain Node (no code under test):
 * when a port accepts connections, when the server says it is unsealed, what /readyz answered.
 */

const WAIT_LIMIT_MS = 120_000;
const CONNECT_POLL_MS = 5;
const SEAL_POLL_MS = 10;
const READYZ_POLL_MS = 20;

/** performance.now() when 127.0.0.1:port first accepts a TCP connection, polled every 5 ms. */
export async function whenListening(port: number): Promise<number> {
  const deadline = performance.now() + WAIT_LIMIT_MS;
  while (performance.now() < deadline) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return performance.now();
    await sleep(CONNECT_POLL_MS);
  }
  throw new Error(`127.0.0.1:${port} did not accept connections within ${WAIT_LIMIT_MS} ms`);
}

/**
 * Polls `sys/seal-status` every 10 ms until the server is initialized and unsealed. Records the
 * send time of the last poll that proved it was not yet unsealed (refused, or sealed), so an
 * answer seen elsewhere before that moment is known to have come while the server was down or sealed.
 */
export class SealWatch {
  lastNotUnsealedSentAt = Number.NEGATIVE_INFINITY;
  readonly unsealedAt: Promise<number>;
  #stopped = false;

  constructor(address: string, isAlive: () => void = () => undefined) {
    this.unsealedAt = this.#poll(`${address}/v1/sys/seal-status`, isAlive);
  }

  stop(): void {
    this.#stopped = true;
  }

  async #poll(url: string, isAlive: () => void): Promise<number> {
    const deadline = performance.now() + WAIT_LIMIT_MS;
    while (!this.#stopped && performance.now() < deadline) {
      isAlive();
      const sentAt = performance.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = (await response.json()) as { initialized?: boolean; sealed?: boolean };
        if (response.status === 200 && body.initialized === true && body.sealed === false) return performance.now();
      } catch {
        // refused or reset: the server is down, so not unsealed either
      }
      this.lastNotUnsealedSentAt = sentAt;
      await sleep(SEAL_POLL_MS);
    }
    throw new Error(this.#stopped ? 'seal watch stopped' : `${url} did not say unsealed within ${WAIT_LIMIT_MS} ms`);
  }
}

export interface ProbeAnswer {
  sentAt: number;
  receivedAt: number;
  status: number;
}

/** Polls a URL (the sidecar's /readyz) every 20 ms, as an impatient kubelet would, and keeps every answer. */
export class Prober {
  readonly answers: ProbeAnswer[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(url: string) {
    this.#done = this.#poll(url);
  }

  async stop(): Promise<ProbeAnswer[]> {
    this.#stopped = true;
    await this.#done;
    return this.answers;
  }

  async #poll(url: string): Promise<void> {
    while (!this.#stopped) {
      const sentAt = performance.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await response.arrayBuffer();
        this.answers.push({ sentAt, receivedAt: performance.now(), status: response.status });
      } catch {
        this.answers.push({ sentAt, receivedAt: performance.now(), status: 0 });
      }
      await sleep(READYZ_POLL_MS);
    }
  }
}

/** Polls until `check` resolves true (every 20 ms); `isAlive` throws if the contender died meanwhile. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  isAlive: () => void = () => undefined,
): Promise<number> {
  const deadline = performance.now() + WAIT_LIMIT_MS;
  while (performance.now() < deadline) {
    isAlive();
    if (await check().catch(() => false)) return performance.now();
    await sleep(READYZ_POLL_MS);
  }
  throw new Error(`${what}: not within ${WAIT_LIMIT_MS} ms`);
}

export async function answers(url: string, status: number): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.arrayBuffer();
  return response.status === status;
}
