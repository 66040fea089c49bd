import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/**
 * The CLI for a run as another user: a copy of the bundle and the built-in policies in a
 * directory anyone can read. The checkout itself may sit in a directory only its owner can enter
 * (a clone into `mktemp -d` does), and then that user could not load `dist/cli.js`. The copy has
 * the layout the bundle expects (`dist/` next to `policies/`); the cloud SDKs it imports on demand
 * are not there, so such runs use the file store. It is named by the bundle's hash, so every run
 * of the same build shares one copy (test processes end by SIGTERM, without exit handlers).
 */
function readableCli(): string {
  const bundle = fileURLToPath(new URL('../../dist/', import.meta.url));
  const hash = createHash('sha256').update(readFileSync(CLI)).digest('hex').slice(0, 16);
  const root = join(tmpdir(), `vault-bootstrap-cli-${hash}`);
  if (!existsSync(root)) {
    const staging = mkdtempSync(join(tmpdir(), 'vault-bootstrap-cli-staging-'));
    cpSync(bundle, join(staging, 'dist'), { recursive: true });
    cpSync(fileURLToPath(new URL('../../policies/', import.meta.url)), join(staging, 'policies'), { recursive: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, root);
    } catch {
      // Another test process put the same copy there first.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return join(root, 'dist', 'cli.js');
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
}

/** Every byte any CLI run printed in this test file, for the no-secret-in-output checks. */
export const capturedOutput: string[] = [];

/** The environment the CLI sees: nothing from the developer's shell that could change its behaviour. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VB_LOG_LEVEL: 'trace', ...extra };
}

export interface RunningCli {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** Resolves when a line containing the text has been printed. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  output(): string;
}

/**
 * `nodeOptions` go before the script, e.g. `--import` of the fault-injection hook. `uid` runs it
 * as that user (tests run as root, which file modes do not stop: a denied store needs another user).
 */
export function startCli(args: string[], env: Record<string, string> = cleanEnv(), nodeOptions: string[] = [], uid?: number): RunningCli {
  const started = Date.now();
  const script = uid === undefined ? CLI : readableCli();
  const child = spawn(process.execPath, [...nodeOptions, script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], ...(uid === undefined ? {} : { uid, gid: uid }) });
  let stdout = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const result = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      capturedOutput.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
  return {
    child,
    result,
    output: () => stdout + stderr,
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`no output line with ${JSON.stringify(text)} within ${timeoutMs}ms:\n${stdout}\n${stderr}`)), timeoutMs);
        listeners.push(check);
        check();
        // A process that ended without the line will never print it.
        void result.then(({ code, signal }) => {
          check();
          clearTimeout(timer);
          reject(new Error(`the CLI ended (code ${code}, signal ${signal}) without a line with ${JSON.stringify(text)}:\n${stdout}\n${stderr}`));
        });
      }),
  };
}

export function runCli(args: string[], env: Record<string, string> = cleanEnv()): Promise<CliResult> {
  return startCli(args, env).result;
}

/** The pino lines of a run, parsed. */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The structured `act` events of a run: what it did, in order. */
export function actions(output: string): Array<{ action: string; detail: string }> {
  return logLines(output)
    .filter((line) => line.msg === 'act')
    .map((line) => ({ action: String(line.action), detail: String(line.detail) }));
}

/** The `to` of every state transition, in order. */
export function transitions(output: string): string[] {
  return logLines(output)
    .filter((line) => line.msg === 'state')
    .map((line) => String(line.to));
}
