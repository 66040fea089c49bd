import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 2_000;

/**
 * Ports for test servers come from below the kernel's ephemeral range, from a block that this
 * process holds alone. A port taken from the ephemeral range (bind to :0) can be handed a moment
 * later to any outgoing connection as its local port, and the server then fails to bind: that
 * happened in CI. Below the range only these helpers hand out ports. A process holds its block by
 * listening on the block's first port, so parallel test files, and a second test run on the same
 * machine, never share a block, and the kernel frees it when the process ends, however it ends.
 */
const PORT_FLOOR = 10_000;
const PORT_BLOCK = 500;
let nextInBlock = -1;

interface PortBlock {
  start: number;
  size: number;
}

function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > PORT_FLOOR + PORT_BLOCK) return low;
  } catch {
    // Not Linux: assume the common default.
  }
  return 32_768;
}

async function holdBlock(): Promise<PortBlock> {
  const blocks = Math.floor((ephemeralRangeStart() - PORT_FLOOR) / PORT_BLOCK);
  for (let offset = 0; offset < blocks; offset += 1) {
    const start = PORT_FLOOR + ((process.pid + offset) % blocks) * PORT_BLOCK;
    const lock = createServer();
    if (!(await listensOn(lock, start))) continue;
    lock.unref();
    return { start, size: PORT_BLOCK };
  }
  throw new Error(`every block of test ports from ${PORT_FLOOR} is held by another process`);
}

/** The block, held once per process: vitest may load this module afresh for each test file. */
function portBlock(): Promise<PortBlock> {
  const registry = globalThis as { vaultBootstrapPortBlock?: Promise<PortBlock> };
  registry.vaultBootstrapPortBlock ??= holdBlock();
  return registry.vaultBootstrapPortBlock;
}

function listensOn(server: Server, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await listensOn(server, port);
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}

/**
 * A port nobody listens on now, from this process's block (see above). Steps by two: `vault server
 * -dev` also binds the port one above its listener (for its cluster), so that one is never handed out.
 */
export async function freePort(): Promise<number> {
  const { start, size } = await portBlock();
  if (nextInBlock < 0) nextInBlock = 2 * Math.floor((Math.random() * size) / 2);
  for (let tried = 0; tried < size; tried += 2) {
    const port = start + nextInBlock;
    nextInBlock = (nextInBlock + 2) % size;
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${start}-${start + size - 1}`);
}

export interface ChildServer {
  /** Sends SIGTERM, then SIGKILL after a grace period; resolves when the process has exited. */
  stop(): Promise<void>;
}

/** A server process started without waiting for it to serve (one expected to exit or hang at start). */
export interface LaunchedServer extends ChildServer {
  /** The process's exit code, or null while it runs (or when a signal ended it). */
  exitCode(): number | null;
  running(): boolean;
  /** The last characters it printed. */
  output(): string;
}

export function launchChildServer(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): LaunchedServer {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    stop: () => stopChild(child, exited),
    exitCode: () => child.exitCode,
    running: () => child.exitCode === null && child.signalCode === null,
    output: () => output,
  };
}

/**
 * Starts a server process and resolves once `readyUrl` answers any HTTP status. Fails with the
 * tail of the server's output if it exits or stays silent.
 */
export async function startChildServer(
  command: string,
  args: string[],
  readyUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LaunchedServer> {
  const server = launchChildServer(command, args, env);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!server.running()) {
      throw new Error(`${command} exited before it was ready:\n${server.output()}`);
    }
    try {
      await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      return server;
    } catch {
      await sleep(100);
    }
  }
  await server.stop();
  throw new Error(`${command} was not ready at ${readyUrl} within ${READY_TIMEOUT_MS} ms:\n${server.output()}`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(killTimer);
}
