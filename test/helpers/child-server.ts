import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 2_000;

/** A port nobody listens on now: bind 127.0.0.1:0, read the port, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address for the port probe');
  return address.port;
}

export interface ChildServer {
  /** Sends SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a server process and resolves once `readyUrl` answers any HTTP status. Fails with the
 * tail of the server's output if it exits or stays silent.
 */
export async function startChildServer(command: string, args: string[], readyUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildServer> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: ChildServer = { stop: () => stopChild(child, exited) };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${command} exited before it was ready:\n${output}`);
    }
    try {
      await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      return server;
    } catch {
      await sleep(100);
    }
  }
  await server.stop();
  throw new Error(`${command} was not ready at ${readyUrl} within ${READY_TIMEOUT_MS} ms:\n${output}`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(killTimer);
}
