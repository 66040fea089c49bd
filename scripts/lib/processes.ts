import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deferCleanup, stopIfInterrupted } from './cleanup.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_RSS_HOOK = fileURLToPath(new URL('./report-max-rss.mjs', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From spawn to the process's exit, in milliseconds. */
  elapsedMs: number;
}

export interface RunOptions {
  /** Every line the process prints, as it prints it. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  env?: Record<string, string>;
  /** The node binary (default: the one running the script), e.g. another major's for comparison. */
  node?: string;
}

/** The environment a run sees: nothing from the operator's shell (VAULT_ADDR, VB_*) that could change what it does. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...extra };
}

/** Runs a program to completion from the repository root; one still running at cleanup gets SIGTERM. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  const started = performance.now();
  const child = spawn(command, args, { cwd: ROOT, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<Finished>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, elapsedMs: performance.now() - started }));
  });
  const forget = deferCleanup(() => stopChild(child.pid, exited));
  try {
    const linesRead = [
      readLines(child.stdout, 'stdout', options.onLine),
      readLines(child.stderr, 'stderr', options.onLine),
    ];
    const finished = await exited;
    await Promise.all(linesRead);
    await stopIfInterrupted();
    return finished;
  } finally {
    forget();
  }
}

/** `run` that throws, naming the command, unless it exits 0. */
export async function runOrFail(command: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  const finished = await run(command, args, options);
  if (finished.code !== 0)
    throw new Error(`${[command, ...args].join(' ')} exited with ${finished.signal ?? `code ${finished.code}`}`);
  return finished;
}

let reports = 0;

/**
 * `node <args>` with its peak resident set size (KiB): the preloaded hook writes the process's
 * own getrusage high-water mark at exit into a file in `reportDirectory`.
 */
export async function runNodeMeasuringRss(
  args: string[],
  reportDirectory: string,
  options: RunOptions = {},
): Promise<Finished & { maxRssKiB: number }> {
  const reportFile = join(reportDirectory, `max-rss-${(reports += 1)}`);
  const env = { ...(options.env ?? cleanEnv()), BENCH_MAX_RSS_FILE: reportFile };
  const finished = await run(options.node ?? process.execPath, ['--import', MAX_RSS_HOOK, ...args], {
    ...options,
    env,
  });
  // Also on a non-zero exit, when the hook got to write (a run expected to fail at start-up is measured too).
  const maxRssKiB = await readFile(reportFile, 'utf8').then(Number, () => Number.NaN);
  return { ...finished, maxRssKiB };
}

function readLines(
  stream: NodeJS.ReadableStream,
  name: 'stdout' | 'stderr',
  onLine: RunOptions['onLine'],
): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  if (onLine) lines.on('line', (line) => onLine(line, name));
  return new Promise((resolve) => lines.once('close', resolve));
}

async function stopChild(pid: number | undefined, exited: Promise<unknown>): Promise<void> {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  await exited.catch(() => undefined);
}
