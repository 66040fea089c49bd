import { freePort } from '../child-server.js';
import { FaultProxy, FAULTS, type Fault } from '../fault-proxy.js';
import { rotationAccepts } from '../keys.js';
import { MotoKms } from '../kms.js';
import { baoRequest, OpenBao } from '../openbao.js';
import { missingServer } from '../server-process.js';
import {
  ChaosStore,
  initCounters,
  median,
  memorySpool,
  storedKeysUnseal,
  startSidecar,
  type Sidecar,
} from './harness.js';
import type { ScenarioResult } from './scenarios.js';

/**
 * Where the fault sits: between the sidecar and Vault, between the sidecar and the store (moto),
 * or between the server and its KMS (OpenBao 2.6's awskms seal on a key in the same moto).
 */
type FaultedDependency = 'vault' | 'store' | 'kms';
type Phase = 'start-up' | 'init-in-flight' | 'storing' | 'unsealing' | 'ready';
const PHASES: readonly Phase[] = ['start-up', 'init-in-flight', 'storing', 'unsealing', 'ready'];
const FAULTED_DEPENDENCIES: readonly FaultedDependency[] = ['vault', 'store', 'kms'];

export interface Cell {
  dependency: FaultedDependency;
  phase: Phase;
  fault: Exclude<Fault, 'none'>;
}

export interface CellResult extends Cell {
  /** The fault was switched on at its phase (a phase the run never reached leaves the cell unproven). */
  faulted: boolean;
  converged: boolean;
  doubleInit: boolean;
  keysLost: boolean;
  /** sys/init reached the server, which initialized, and its keys never reached the sidecar: the window no client can close. */
  orphanedInFlight: boolean;
  /** The slowest answer of /healthz or /readyz while the fault was on. */
  probeMaxMs: number;
  /** Probe answers that were not true (a 200 from /readyz for a node not unsealed, a stuck /healthz, no answer). */
  probeLies: string[];
  /** From SIGTERM to exit, while the fault was on. */
  sigtermMs: number;
  sigtermCode: number | null;
  /** A `--once` run started with the fault still on: its duration, its exit code, and the bound it must keep. */
  onceMs: number;
  onceCode: number | null;
  onceBoundMs: number;
  /** From lifting the fault to a converged `--once` run's exit. */
  convergeMs: number | undefined;
  notes: string[];
}

/** Short, so a cell is quick; a cell can be run with the production default (25 s) instead. */
const SHUTDOWN_TIMEOUT_MS = 4_000;
const ONCE_TIMEOUT_MS = 6_000;
/** How long the fault stays on while the sidecar runs, probed throughout. */
const HOLD_MS = 6_000;
/** The longest one call of the sidecar may take (a store operation's deadline): the bound is --timeout plus that. */
const ONE_CALL_MS = 10_000;
const PROBE_EVERY_MS = 200;
const PROBE_LIMIT_MS = 1_000;
/** Process start and scheduling on a loaded 2-core machine. */
const SLACK_MS = 1_500;

let prefixCounter = 0;

/** Every cell of the matrix: each faulted dependency, each phase, each fault (KMS cells only where its server is installed). */
export function allCells(): Cell[] {
  const dependencies = FAULTED_DEPENDENCIES.filter(
    (dependency) => dependency !== 'kms' || missingServer('openbao-2.6') === undefined,
  );
  return dependencies.flatMap((dependency) =>
    PHASES.flatMap((phase) => FAULTS.map((fault) => ({ dependency, phase, fault }))),
  );
}

/**
 * One cell: a fresh OpenBao node behind a recording proxy (the independent count of inits),
 * a fault proxy in front of it and one in front of moto. A sidecar (probes on) runs until the
 * fault switches on at its phase; the fault stays on while the probes are asked every 200 ms;
 * SIGTERM; a `--once` run with the fault still on; the fault lifted; a `--once` run must
 * converge. Same pod name and memory spool throughout, as container restarts in one pod.
 *
 * KMS cells run OpenBao 2.6 with the awskms seal, its KMS behind the fault proxy. The sidecar
 * never calls the KMS; the server does, at init and whenever it starts sealed. So the KMS's
 * `unsealing` phase is the node restarting (it unseals itself through the KMS) with the fault on.
 */
export async function runCell(
  store: ChaosStore,
  cell: Cell,
  shutdownTimeoutMs = SHUTDOWN_TIMEOUT_MS,
): Promise<CellResult> {
  const result: CellResult = {
    ...cell,
    faulted: false,
    converged: false,
    doubleInit: false,
    keysLost: false,
    orphanedInFlight: false,
    probeMaxMs: 0,
    probeLies: [],
    sigtermMs: 0,
    sigtermCode: null,
    onceMs: 0,
    onceCode: null,
    onceBoundMs: ONCE_TIMEOUT_MS + Math.max(ONE_CALL_MS, shutdownTimeoutMs) + SLACK_MS,
    convergeMs: undefined,
    notes: [],
  };
  const kms = cell.dependency === 'kms' ? await MotoKms.start(store.moto) : undefined;
  const node =
    kms === undefined ? await OpenBao.create() : await OpenBao.create({ build: 'openbao-2.6', seal: await kms.seal() });
  // A KMS faulted before the server starts may keep it from listening: launched, not awaited.
  if (cell.dependency === 'kms' && cell.phase === 'start-up') {
    await kms!.faults.set(cell.fault);
    await node.launch();
  } else {
    await node.start();
  }
  const counters = await initCounters([node]);
  const vaultProxy = await FaultProxy.start(counters.proxies[0]!.address);
  const storeProxy = await FaultProxy.start(store.moto.endpoint);
  const spool = await memorySpool();
  const faulted = cell.dependency === 'vault' ? vaultProxy : cell.dependency === 'store' ? storeProxy : kms!.faults;
  const prefix = `net-${process.pid}-${(prefixCounter += 1)}`;
  const sidecars: Sidecar[] = [];
  const start = (extraArgs: string[]) => {
    const sidecar = startSidecar(store, vaultProxy.address, {
      prefix,
      podName: 'vault-0',
      spoolDirectory: spool.directory,
      extraArgs: ['--shutdown-timeout', `${shutdownTimeoutMs / 1000}s`, ...extraArgs],
      env: { AWS_ENDPOINT_URL_SECRETS_MANAGER: storeProxy.address },
    });
    sidecars.push(sidecar);
    return sidecar;
  };
  try {
    const switchOn = () => void faulted.set(cell.fault);
    switch (cell.phase) {
      case 'start-up':
        await faulted.set(cell.fault);
        break;
      case 'init-in-flight':
        vaultProxy.when(/PUT \/v1\/sys\/init/, switchOn);
        break;
      case 'storing':
        // A write of the unseal keys: the only store requests that carry both.
        storeProxy.when(/unseal-keys[\s\S]*SecretString|SecretString[\s\S]*unseal-keys/, switchOn);
        break;
      case 'unsealing':
        // An auto-unseal node is never sent shares: its unsealing is its own restart (below).
        if (cell.dependency !== 'kms') vaultProxy.when(/PUT \/v1\/sys\/unseal/, switchOn);
        break;
      case 'ready':
        break;
    }
    const listenPort = await freePort();
    const sidecar = start(['--listen', `127.0.0.1:${listenPort}`]);
    if (cell.phase === 'ready' || (cell.phase === 'unsealing' && cell.dependency === 'kms')) {
      const ready = await sidecar.cli.waitFor('"to":"ready"', 60_000).then(
        () => true,
        () => false,
      );
      if (ready) await faulted.set(cell.fault);
      if (ready && cell.phase === 'unsealing') {
        await node.stop();
        await node.launch();
      }
    }
    result.faulted = await waitUntil(async () => faulted.fault !== 'none', 60_000);
    if (!result.faulted) {
      result.notes.push(`the fault never switched on: phase ${cell.phase} not reached`);
      return result;
    }

    await sidecar.cli.waitFor('"event":"listening"', 10_000);
    await probeWhileFaulted(node, listenPort, cell, result);

    const signalledAt = Date.now();
    sidecar.cli.child.kill('SIGTERM');
    const stopped = await sidecar.cli.result;
    result.sigtermMs = Date.now() - signalledAt;
    result.sigtermCode = stopped.code;
    if (result.sigtermMs > shutdownTimeoutMs + SLACK_MS) result.notes.push(`SIGTERM took ${result.sigtermMs} ms`);

    const once = await start(['--once', '--timeout', `${ONCE_TIMEOUT_MS / 1000}s`]).cli.result;
    result.onceMs = once.elapsedMs;
    result.onceCode = once.code;
    if (result.onceMs > result.onceBoundMs) result.notes.push(`--once under the fault took ${result.onceMs} ms`);

    await faulted.set('none');
    const liftedAt = Date.now();
    let converging = await start(['--once', '--timeout', cell.dependency === 'kms' ? '30s' : '90s']).cli.result;
    if (converging.code !== 0 && cell.dependency === 'kms' && (await healthNow(node)) === 0) {
      // A server whose KMS call met the fault can stay unanswering (sys/health included) after the path
      // is back: its own client waits on a dead connection, or its start gave up. Its liveness probe would restart it.
      result.notes.push(
        'the server did not answer after the KMS came back (its start or its init waited on the dead KMS connection); converged after a server restart',
      );
      await node.stop();
      await node.start();
      converging = await start(['--once', '--timeout', '60s']).cli.result;
    }
    const unsealed = [200, 429].includes(await healthNow(node));
    if (converging.code === 0 && unsealed) {
      result.converged = true;
      result.convergeMs = Date.now() - liftedAt;
    } else {
      result.notes.push(`not converged once lifted: exit ${converging.code}, health ${await healthNow(node)}`);
    }

    const inits = counters.initRequests();
    if (inits > 1) result.doubleInit = true;
    const answerReachedUs = sidecars.some((each) => each.checkpoints().includes('init-spooled'));
    if (inits === 1 && !answerReachedUs && converging.code === 3) {
      result.orphanedInFlight = true;
      result.notes.push(
        'orphaned: sys/init reached the server, which initialized, and its keys never reached the sidecar (exit 3)',
      );
    } else if (inits === 1 && (await healthNow(node)) === 0) {
      result.notes.push('keys not checked: the server does not answer');
    } else if (inits === 1 && !(await storedKeysOpen(store, prefix, node))) {
      result.keysLost = true;
      result.notes.push(`keys lost (the answer ${answerReachedUs ? 'reached' : 'never reached'} the sidecar)`);
    }
    return result;
  } finally {
    for (const sidecar of sidecars) sidecar.cli.child.kill('SIGKILL');
    await Promise.all(sidecars.map((sidecar) => sidecar.cli.result));
    await vaultProxy.stop();
    await storeProxy.stop();
    await counters.stop();
    await node.stop();
    await kms?.faults.stop();
    await spool.remove();
  }
}

/**
 * Whether the stored keys are this server's: Shamir keys unseal it; recovery keys (the KMS
 * cells) authorize a rotation, which is what a person uses them for.
 */
async function storedKeysOpen(store: ChaosStore, prefix: string, node: OpenBao): Promise<boolean> {
  if (node.options.seal === undefined || node.options.seal === 'shamir') return storedKeysUnseal(store, prefix, node);
  const keys = JSON.parse((await store.versions(prefix, 'unseal-keys')).at(-1) ?? '{}') as {
    keysBase64?: string[];
    threshold?: number;
  };
  const root = (JSON.parse((await store.versions(prefix, 'root-token')).at(-1) ?? '{}') as { token?: string }).token;
  if (keys.keysBase64 === undefined || root === undefined) return false;
  if ((await baoRequest(node, 'GET', 'sys/seal-status')).body.sealed !== false) return false;
  return rotationAccepts(node, root, 'recovery', keys.keysBase64.slice(0, keys.threshold));
}

/**
 * Asks /healthz and /readyz every 200 ms while the fault is on. Each must answer within a second,
 * /healthz 200 (the loop runs), and /readyz 200 only for a node that is unsealed now; at start-up
 * with the store faulted, /readyz says it waits for the store.
 */
async function probeWhileFaulted(node: OpenBao, port: number, cell: Cell, result: CellResult): Promise<void> {
  const until = Date.now() + HOLD_MS;
  let saidWaitingForStore = false;
  while (Date.now() < until) {
    for (const path of ['/healthz', '/readyz'] as const) {
      const started = Date.now();
      let status = 0;
      let body = '';
      try {
        const answer = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
        status = answer.status;
        body = await answer.text();
      } catch {
        // No answer at all: counted below.
      }
      const ms = Date.now() - started;
      result.probeMaxMs = Math.max(result.probeMaxMs, ms);
      if (status === 0) result.probeLies.push(`${path}: no answer`);
      else if (ms > PROBE_LIMIT_MS) result.probeLies.push(`${path}: answered in ${ms} ms`);
      if (path === '/healthz' && status !== 200 && status !== 0)
        result.probeLies.push(`/healthz ${status}: ${body.trim()}`);
      if (path === '/readyz' && status === 200 && ![200, 429].includes(await healthNow(node)))
        result.probeLies.push('/readyz 200 for a node that is not unsealed');
      if (path === '/readyz' && body.includes('waiting for the aws store')) saidWaitingForStore = true;
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
  }
  if (cell.phase === 'start-up' && cell.dependency === 'store' && cell.fault !== 'latency' && !saidWaitingForStore) {
    result.probeLies.push('/readyz never said it waits for the store');
  }
}

/** The node's health status now; 0 when it does not answer within 2 s (a server waiting on its KMS accepts and never answers). */
async function healthNow(node: OpenBao): Promise<number> {
  try {
    const answer = await fetch(`${node.address}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
    await answer.body?.cancel();
    return answer.status;
  } catch {
    return 0;
  }
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** The matrix as one row of the chaos table. */
export function summarize(cells: CellResult[]): ScenarioResult {
  const failures = cells.filter(
    (cell) =>
      !cell.converged ||
      cell.probeLies.length > 0 ||
      cell.onceMs > cell.onceBoundMs ||
      cell.sigtermMs > SHUTDOWN_TIMEOUT_MS + SLACK_MS,
  );
  return {
    scenario: `8 network faults (${FAULTS.length} faults × ${PHASES.length} phases × ${[...new Set(cells.map((cell) => cell.dependency))].join(', ')})`,
    runs: cells.length,
    converged: cells.filter((cell) => cell.converged).length,
    doubleInits: cells.filter((cell) => cell.doubleInit).length,
    keysLost: cells.filter((cell) => cell.keysLost).length,
    orphanedInFlight: cells.filter((cell) => cell.orphanedInFlight).length,
    convergeMs: cells.flatMap((cell) => (cell.convergeMs === undefined ? [] : [cell.convergeMs])),
    notes: failures.flatMap((cell) =>
      [...cell.notes, ...cell.probeLies].map((note) => `${cell.dependency}/${cell.phase}/${cell.fault}: ${note}`),
    ),
  };
}

/** One line per cell, and the figures the guarantees table quotes. */
export function formatCells(cells: CellResult[]): string {
  const header = [
    'dependency',
    'phase',
    'fault',
    'converged',
    'double init',
    'keys lost',
    'probe max',
    'SIGTERM exit',
    '--once (bound)',
    'converge',
  ];
  const rows = cells.map((cell) => [
    cell.dependency,
    cell.phase,
    cell.fault,
    cell.converged ? 'yes' : cell.orphanedInFlight ? 'orphaned' : 'NO',
    cell.doubleInit ? 'YES' : '0',
    cell.keysLost ? 'YES' : '0',
    `${cell.probeMaxMs} ms${cell.probeLies.length ? ' !' : ''}`,
    `${(cell.sigtermMs / 1000).toFixed(1)} s (${cell.sigtermCode})`,
    `${(cell.onceMs / 1000).toFixed(1)} s (${cell.onceCode})`,
    cell.convergeMs === undefined ? '-' : `${(cell.convergeMs / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  const max = (values: number[]) => (values.length ? Math.max(...values) : 0);
  const summary = [
    `cells ${cells.length}, converged ${cells.filter((cell) => cell.converged).length}, double inits ${cells.filter((cell) => cell.doubleInit).length}, keys lost ${cells.filter((cell) => cell.keysLost).length}, orphaned (sys/init answered to nobody) ${cells.filter((cell) => cell.orphanedInFlight).length}`,
    `probes: slowest answer ${max(cells.map((cell) => cell.probeMaxMs))} ms (median of cells ${median(cells.map((cell) => cell.probeMaxMs))} ms), untrue answers ${cells.reduce((total, cell) => total + cell.probeLies.length, 0)}`,
    `SIGTERM under the fault: slowest exit ${(max(cells.map((cell) => cell.sigtermMs)) / 1000).toFixed(1)} s`,
    `--once --timeout ${ONCE_TIMEOUT_MS / 1000}s under the fault: slowest exit ${(max(cells.map((cell) => cell.onceMs)) / 1000).toFixed(1)} s (bound ${(cells[0]?.onceBoundMs ?? 0) / 1000} s)`,
    `converged once lifted: median ${(median(cells.flatMap((cell) => (cell.convergeMs === undefined ? [] : [cell.convergeMs]))) / 1000).toFixed(1)} s`,
  ];
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line), '', ...summary].join('\n');
}
