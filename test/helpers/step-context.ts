// A StepContext for unit tests of the loop (runner, act): a real file store in a temporary
// directory, a logger whose lines the test reads, and a fake Vault API at the interface level
// (VaultApi's methods, each answered by the test). Integration tests use real servers instead.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { Deadlines } from '../../src/deadlines.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { SecretsInFlight, type StepContext } from '../../src/steps/context.js';
import { FileStore } from '../../src/store/file.js';
import { PrefixedStore } from '../../src/store/names.js';
import { Records } from '../../src/store/records.js';
import type { VaultApi } from '../../src/vault/api.js';

/** The methods of VaultApi a test answers; any other call fails the test, naming the method. */
export type FakeVault = Partial<{ [K in keyof VaultApi]: VaultApi[K] }>;

export interface TestContext {
  readonly context: StepContext;
  /** Every log line so far, parsed. */
  readonly lines: Array<Record<string, unknown>>;
  /** Every VaultApi method called, in order. */
  readonly calls: string[];
  readonly store: FileStore;
  readonly controller: AbortController;
  cleanup(): Promise<void>;
}

/** Unexpected calls throw this (a BootstrapError would be taken for a fault of the world). */
export class UnexpectedCall extends Error {
  override readonly name = 'UnexpectedCall';
}

export async function testContext(vault: FakeVault, argv: readonly string[] = []): Promise<TestContext> {
  const directory = await mkdtemp(join(tmpdir(), 'vb-step-context-'));
  const config = loadConfig(['run', '--store', 'file', '--file-dir', join(directory, 'store'), ...argv], {});
  const lines: Array<Record<string, unknown>> = [];
  const calls: string[] = [];
  const log = createLogger('debug', {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  const controller = new AbortController();
  const secretsInFlight = new SecretsInFlight();
  const deadlines = new Deadlines({ signal: controller.signal, secretsInFlight: () => secretsInFlight.active, log });
  if (config.once) deadlines.endRunAt(Date.now() + config.timeoutMs, config.shutdownTimeoutMs);
  const defaults: FakeVault = {
    onConnectionClosed: () => () => undefined,
    close: () => undefined,
  };
  const answers: Record<string, unknown> = { ...defaults, ...vault };
  const api = new Proxy(answers, {
    get(target, key) {
      if (key === 'closedConnections') return 0;
      if (typeof key !== 'string' || key === 'then') return undefined;
      const answer = target[key];
      if (answer === undefined)
        return () => {
          throw new UnexpectedCall(`fake Vault API: ${key} was not expected`);
        };
      if (typeof answer !== 'function') return answer;
      return (...args: unknown[]) => {
        calls.push(key);
        return (answer as (...values: unknown[]) => unknown)(...args);
      };
    },
  }) as unknown as VaultApi;
  const store = new FileStore(join(directory, 'store'));
  const context: StepContext = {
    config,
    vault: api,
    records: new Records(new PrefixedStore(store, config.storePrefix), config.storePrefix),
    spool: undefined,
    log,
    metrics: new Metrics(),
    signal: controller.signal,
    secretsInFlight,
    deadlines,
    login: undefined,
  };
  return {
    context,
    lines,
    calls,
    store,
    controller,
    cleanup: () => rm(directory, { recursive: true, force: true }),
  };
}
