import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { deferCleanup } from './cleanup.js';
import { cpuTimeMs } from './proc.js';

const OUTPUT_TAIL_CHARS = 4_000;
const STOP_GRACE_MS = 30_000;

/** How to start one contender as a long-running process (a sidecar), against a Vault address. */
export interface LongRunningCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * A long-running child (the sidecar, or the peer) whose output is kept (a tail, for error
 * messages) and which is stopped at cleanup if the script ends first.
 */
export class LongRunning {
  readonly #child: ChildProcess;
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #forgetCleanup: () => void;
  readonly spawnedAt: number;
  #output = '';

  constructor({ command, args, env }: LongRunningCommand, cwd: string) {
    this.spawnedAt = performance.now();
    this.#child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keepTail = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    this.#child.stdout!.on('data', keepTail);
    this.#child.stderr!.on('data', keepTail);
    this.#exited = new Promise((resolve, reject) => {
      this.#child.once('error', reject);
      this.#child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.#forgetCleanup = deferCleanup(() => this.stop('SIGKILL').then(() => undefined));
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error('the process did not start');
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last lines it printed, for a failure message (logs only: neither contender prints a secret there). */
  get outputTail(): string {
    return this.#output;
  }

  /** Throws with the output tail if the process has ended. */
  assertRunning(what: string): void {
    if (!this.running)
      throw new Error(
        `${what}: the process exited (${this.#child.exitCode ?? this.#child.signalCode}):\n${this.#output}`,
      );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.#forgetCleanup();
    if (this.running) this.#child.kill(signal);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      return await this.#exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when it has exited on its own. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.#exited;
  }
}

/**
 * Process start → first request to Vault: a stand-in HTTP server on loopback notes when the
 * first request of any kind arrives, and the process is killed right after. Wall-clock
 * milliseconds, and the CPU time the process had used by then (which a busy machine inflates
 * much less than the wall clock).
 */
export async function startToFirstRequest(
  command: (address: string) => LongRunningCommand,
  cwd: string,
): Promise<{ wallMs: number; cpuMs: number }> {
  let firstRequestAt: number | undefined;
  let cpuMs: Promise<number> | undefined;
  let resolveFirst: () => void = () => undefined;
  const firstRequest = new Promise<void>((resolve) => (resolveFirst = resolve));
  let child: LongRunning | undefined;
  const server = createServer((request, response) => {
    if (firstRequestAt === undefined) {
      firstRequestAt = performance.now();
      cpuMs = cpuTimeMs(child!.pid);
    }
    resolveFirst();
    // 503 sealed: an answer both contenders understand and on which they act no further.
    response.writeHead(503, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ initialized: true, sealed: true, standby: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    child = new LongRunning(command(address), cwd);
    const deadline = sleep(30_000).then(() => 'timeout' as const);
    const outcome = await Promise.race([
      firstRequest.then(() => 'request' as const),
      child.exited().then(() => 'exited' as const),
      deadline,
    ]);
    const used = await cpuMs?.catch(() => Number.NaN);
    await child.stop('SIGKILL');
    if (outcome !== 'request' || firstRequestAt === undefined || used === undefined)
      throw new Error(`no request to Vault (${outcome}):\n${child.outputTail}`);
    return { wallMs: firstRequestAt - child.spawnedAt, cpuMs: used };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
