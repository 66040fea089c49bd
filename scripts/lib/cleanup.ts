import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Cleanup = () => Promise<void> | void;

/** Undo actions, run last-registered first: child processes die before their server, servers stop before their directories go. */
const cleanups: Cleanup[] = [];

let interrupted = false;

const DUPLICATE_SIGNAL_WINDOW_MS = 1_000;

/** Registers an undo action; the returned function drops it once the thing is gone on its own. */
export function deferCleanup(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  return () => {
    const index = cleanups.lastIndexOf(cleanup);
    if (index >= 0) cleanups.splice(index, 1);
  };
}

async function cleanUp(): Promise<void> {
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`cleanup: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/**
 * Once Ctrl-C has started the cleanup, the script's body must not start its next step (the
 * child it waited for was just stopped, and that looks like an ordinary exit). It parks here
 * until the cleanup ends the process.
 */
export async function stopIfInterrupted(): Promise<void> {
  if (interrupted) await new Promise<never>(() => undefined);
}

/**
 * Runs a script's body so that servers, child processes and temp dirs are removed on success,
 * failure and Ctrl-C alike. A second Ctrl-C during cleanup exits at once.
 */
export async function runScript(body: () => Promise<void>): Promise<never> {
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals, number: number) => {
    if (interrupted) {
      // Ctrl-C may reach this process twice: from the terminal, and from tsx, which relays
      // it when it has not heard within 30 ms that this process got it.
      // Only a signal well after the first is the operator's second Ctrl-C.
      if (Date.now() - firstSignalAt > DUPLICATE_SIGNAL_WINDOW_MS) process.exit(128 + number);
      return;
    }
    interrupted = true;
    firstSignalAt = Date.now();
    console.error(`\n${signal}: stopping and cleaning up (again to exit at once)`);
    void cleanUp().finally(() => process.exit(128 + number));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 2));
  process.on('SIGTERM', () => onSignal('SIGTERM', 15));
  let exitCode = 0;
  try {
    await body();
  } catch (error) {
    await stopIfInterrupted();
    console.error(`\nFAILED: ${error instanceof Error ? error.message : String(error)}`);
    exitCode = 1;
  }
  await stopIfInterrupted();
  await cleanUp();
  process.exit(exitCode);
}

export async function temporaryDirectory(prefix: string): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  deferCleanup(() => rm(directory, { recursive: true, force: true }));
  return directory;
}
