import { describe, expect, test } from 'vitest';
import { CALL_DEADLINE_MS, DeadlineExceededError, Deadlines } from '../../src/deadlines.js';
import { isAborted, isTransientError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { DeadlineStore } from '../../src/store/deadline.js';
import type { SecretStore } from '../../src/store/types.js';

/** A logger whose lines a test can read. */
function recordingLog(): { log: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('info', {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { log, lines };
}

const never = () => new Promise<never>(() => undefined);

describe('Deadlines', () => {
  test('a call that never answers fails at its deadline: transient, naming the dependency and operation, logged once with the elapsed time', async () => {
    const { log, lines } = recordingLog();
    const deadlines = new Deadlines({ log });
    let aborted = false;
    const started = Date.now();
    const error = await deadlines
      .call('store', 'aws secrets manager', 'readLatest vault-unseal-keys', 150, ({ signal }) => {
        signal.addEventListener('abort', () => (aborted = true));
        return never();
      })
      .catch((caught: unknown) => caught);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).code).toBe('STORE_UNAVAILABLE');
    expect(isTransientError(error)).toBe(true);
    expect(aborted).toBe(true);
    const timedOut = lines.filter((line) => line.event === 'call-timed-out');
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]).toMatchObject({
      dependency: 'aws secrets manager',
      operation: 'readLatest vault-unseal-keys',
      deadlineMs: 150,
    });
    expect(timedOut[0]!.elapsedMs).toBeGreaterThanOrEqual(140);
  });

  test('a Vault call that times out reads as an unreachable server', async () => {
    const error = await new Deadlines()
      .call('vault', 'vault', 'GET /v1/sys/health', 20, never)
      .catch((caught: unknown) => caught);
    expect((error as DeadlineExceededError).code).toBe('VAULT_UNREACHABLE');
  });

  test('the client gets the milliseconds it has, cut short by the end of the run', async () => {
    const deadlines = new Deadlines();
    expect(deadlines.allowedMs(CALL_DEADLINE_MS.store)).toBe(CALL_DEADLINE_MS.store);
    deadlines.endRunAt(Date.now() + 2_000, 5_000);
    expect(deadlines.allowedMs(CALL_DEADLINE_MS.store)).toBeLessThanOrEqual(2_000);
    expect(deadlines.allowedMs(CALL_DEADLINE_MS.store)).toBeGreaterThan(1_900);
    let given = 0;
    await deadlines.call('store', 'file store', 'readLatest x', CALL_DEADLINE_MS.store, async ({ ms }) => (given = ms));
    expect(given).toBeLessThanOrEqual(2_000);
  });

  test('once the run is over, an ordinary call is not sent; a stretch holding secrets gets the shutdown budget', async () => {
    let holdingSecrets = false;
    const deadlines = new Deadlines({ secretsInFlight: () => holdingSecrets });
    deadlines.endRunAt(Date.now() - 1, 3_000);
    let sent = false;
    const error = await deadlines
      .call('store', 'file store', 'readLatest x', 1_000, async () => (sent = true))
      .catch((caught: unknown) => caught);
    expect(sent).toBe(false);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    holdingSecrets = true;
    expect(deadlines.allowedMs(CALL_DEADLINE_MS.store)).toBeGreaterThan(2_900);
    expect(deadlines.allowedMs(CALL_DEADLINE_MS.store)).toBeLessThanOrEqual(3_000);
  });

  test('a shutdown abandons an ordinary call at once, but not one made while secrets are in flight', async () => {
    const shutdown = new AbortController();
    let holdingSecrets = false;
    const deadlines = new Deadlines({ signal: shutdown.signal, secretsInFlight: () => holdingSecrets });
    const ordinary = deadlines
      .call('vault', 'vault', 'GET /v1/sys/health', 10_000, never)
      .catch((caught: unknown) => caught);
    holdingSecrets = true;
    let finish!: (value: string) => void;
    const holding = deadlines.call(
      'store',
      'file store',
      'addVersion keys',
      10_000,
      () => new Promise<string>((resolve) => (finish = resolve)),
    );
    shutdown.abort();
    expect(isAborted(await ordinary)).toBe(true);
    finish('stored');
    await expect(holding).resolves.toBe('stored');
  });
});

describe('DeadlineStore', () => {
  test('every store operation is bounded and named by the store and the secret', async () => {
    const hung: SecretStore = {
      kind: 'aws',
      verifyAccess: never,
      readLatest: never,
      createIfAbsent: never,
      addVersion: never,
      readAllVersions: never,
      listVersions: never,
      close: async () => undefined,
    };
    const deadlines = new Deadlines();
    deadlines.endRunAt(Date.now() + 100, 0);
    const store = new DeadlineStore(hung, deadlines);
    for (const operation of [
      () => store.readLatest('vault-keys'),
      () => store.addVersion('vault-keys', 'v'),
      () => store.listVersions('vault-keys'),
    ]) {
      const error = await operation().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(DeadlineExceededError);
      expect((error as DeadlineExceededError).code).toBe('STORE_UNAVAILABLE');
      expect((error as DeadlineExceededError).dependency).toBe('aws secrets manager');
      expect((error as DeadlineExceededError).operation).toMatch(/^(readLatest|addVersion|listVersions) vault-keys$/);
    }
  });
});
