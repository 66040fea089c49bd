import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Checkpoint } from '../../src/checkpoints.js';
import { logLines, startCli, type CliResult } from '../cli.js';
import { baoRequest, OpenBao } from '../openbao.js';
import { startSidecar, type ChaosStore } from './harness.js';
import type { ScenarioResult } from './scenarios.js';

const CRASH_HOOK = fileURLToPath(new URL('./crash-hook.mjs', import.meta.url));

/** The step boundaries of a rotation, in the order a run passes them. */
const ROTATION_BOUNDARIES: Checkpoint[] = [
  'rotation-started',
  'rotation-keys-received',
  'rotation-pending-stored',
  'rotation-verified',
  'rotation-active-stored',
];

let prefixCounter = 0;
const uniquePrefix = (name: string) => `${name}-${process.pid}-${(prefixCounter += 1)}`;

function newResult(scenario: string): ScenarioResult {
  return {
    scenario,
    runs: 0,
    converged: 0,
    doubleInits: 0,
    keysLost: 0,
    orphanedInFlight: 0,
    convergeMs: [],
    notes: [],
  };
}

/** One rotate-keys process against the node, with the crash hook preloaded. */
/** Logged once start-up (node, modules, store access) is done and the rotation itself begins. */
const ROTATION_BEGINS = '"event":"rotation-begins"';

/**
 * `killAfterMs` counts from the rotation's beginning (its first log line), so random kills
 * land in the rotation rather than in process start-up; `rotationMs` is that span for a run
 * that was not killed.
 */
async function rotate(
  store: ChaosStore,
  node: OpenBao,
  prefix: string,
  crash: { at?: Checkpoint; killAfterMs?: number } = {},
): Promise<CliResult & { lastCheckpoint: string; rotationMs: number }> {
  const args = [
    'rotate-keys',
    '--store',
    'aws',
    '--store-prefix',
    prefix,
    '--vault-addr',
    node.address,
    '--shutdown-timeout',
    '3s',
  ];
  const traceFile = join(store.home, `rotation-trace-${prefix}-${Date.now()}.txt`);
  const env = store.env({ VB_TEST_TRACE_FILE: traceFile, ...(crash.at ? { VB_TEST_CRASH_AT: crash.at } : {}) });
  const cli = startCli(args, env, ['--import', CRASH_HOOK]);
  // The logs of every command but run go to stderr.
  let begunAt: number | undefined;
  let seen = '';
  cli.child.stderr!.on('data', (chunk: Buffer) => {
    if (begunAt !== undefined) return;
    seen += chunk.toString('utf8');
    if (!seen.includes(ROTATION_BEGINS)) return;
    begunAt = Date.now();
    if (crash.killAfterMs !== undefined) setTimeout(() => cli.child.kill('SIGKILL'), crash.killAfterMs);
  });
  const result = await cli.result;
  const rotationMs = begunAt === undefined ? 0 : Date.now() - begunAt;
  const passed = existsSync(traceFile) ? readFileSync(traceFile, 'utf8').split('\n').filter(Boolean) : [];
  return { ...result, lastCheckpoint: passed.at(-1) ?? 'none', rotationMs };
}

interface KeysRecord {
  keysBase64: string[];
  threshold: number;
  status?: string;
}

/** The version the store calls active: the newest that is not a rotation's pending one. */
async function activeKeys(store: ChaosStore, prefix: string): Promise<KeysRecord | undefined> {
  const versions = (await store.versions(prefix, 'unseal-keys')).map((text) => JSON.parse(text) as KeysRecord);
  return versions.filter((version) => version.status !== 'pending').at(-1);
}

/** Restarts the node (it comes back sealed) and unseals it with the stored active keys over plain HTTP. */
async function activeKeysUnsealRestarted(store: ChaosStore, prefix: string, node: OpenBao): Promise<boolean> {
  const keys = await activeKeys(store, prefix);
  if (keys === undefined) return false;
  await node.restart();
  let sealed = true;
  for (const key of keys.keysBase64.slice(0, keys.threshold)) {
    const answer = await baoRequest(node, 'PUT', 'sys/unseal', undefined, { key });
    if (answer.status !== 200) return false;
    sealed = answer.body.sealed;
  }
  return !sealed;
}

/**
 * One rotation killed (at a checkpoint or after a delay), then:
 *   serverRestarts=false: rotate-keys again; it must finish;
 *   serverRestarts=true: the node restarts at once (dropping any rotation in progress) and the
 *   sidecar must unseal it from the store (the active version, or the pending one the record
 *   names if its verification completed); then rotate-keys again must finish.
 * Either way the stored active keys must then unseal a restarted node: otherwise a key is lost.
 */
async function killedRotation(
  store: ChaosStore,
  result: ScenarioResult,
  crash: { at?: Checkpoint; randomInstant?: boolean },
  serverRestarts: boolean,
): Promise<void> {
  result.runs += 1;
  const node = await OpenBao.start();
  const prefix = uniquePrefix('r');
  let killAfterMs: number | undefined;
  const where = () => crash.at ?? `${killAfterMs}ms`;
  try {
    const day1 = await startSidecar(store, node.address, { prefix, podName: 'vault-0', once: true }).cli.result;
    if (day1.code !== 0) {
      result.notes.push('the first deploy did not converge');
      return;
    }
    if (crash.randomInstant) {
      // A whole rotation first, timed on this node: the kill lands uniformly within the next one.
      const timed = await rotate(store, node, prefix);
      killAfterMs = Math.round(Math.random() * timed.rotationMs);
    }
    const killed = await rotate(store, node, prefix, {
      ...(crash.at ? { at: crash.at } : {}),
      ...(killAfterMs !== undefined ? { killAfterMs } : {}),
    });
    if (killAfterMs !== undefined) {
      result.notes.push(
        killed.code === 0
          ? 'the random kill came after the rotation finished'
          : `killed after checkpoint ${killed.lastCheckpoint}`,
      );
    }
    const started = Date.now();
    if (serverRestarts) {
      await node.restart();
      const sidecar = await startSidecar(store, node.address, { prefix, podName: 'vault-0', once: true }).cli.result;
      if (sidecar.code !== 0) {
        // Why it stopped (its blocker, or last state); a key is lost only if the stored active keys do not open the node.
        const lines = logLines(sidecar.stdout);
        const why = String(
          lines.find((line) => line.event === 'blocked')?.blocker ??
            lines.filter((line) => line.event === 'state').at(-1)?.to ??
            'no log',
        );
        result.notes.push(
          `the sidecar exited ${sidecar.code} (${why}) on the restarted node after a kill at ${where()}`,
        );
        if (!(await activeKeysUnsealRestarted(store, prefix, node))) result.keysLost += 1;
        return;
      }
    }
    const again = await rotate(store, node, prefix);
    if (again.code === 0) {
      result.converged += 1;
      result.convergeMs.push(Date.now() - started);
    } else {
      result.notes.push(`rotate-keys after a kill at ${where()} exited ${again.code}`);
    }
    if (!(await activeKeysUnsealRestarted(store, prefix, node))) {
      result.keysLost += 1;
      result.notes.push(`the stored active keys did not unseal the restarted node after a kill at ${where()}`);
    }
  } finally {
    await node.stop();
  }
}

/** 7a. SIGKILL at every rotation step boundary; half the runs restart the node right after the kill. */
export async function rotationKillAtEveryBoundary(
  store: ChaosStore,
  runsPerBoundary: number,
  boundaries: Checkpoint[] = ROTATION_BOUNDARIES,
): Promise<ScenarioResult> {
  const result = newResult(
    `7a rotate-keys: SIGKILL at each of ${boundaries.length} rotation boundaries, re-run (and node restart)`,
  );
  for (const boundary of boundaries) {
    for (let run = 0; run < runsPerBoundary; run += 1) {
      await killedRotation(store, result, { at: boundary }, false);
      await killedRotation(store, result, { at: boundary }, true);
    }
  }
  return result;
}

/**
 * 7b. SIGKILL of rotate-keys at a random instant, uniform over the time the rotation itself
 * (from its first log line to the exit) took on the same node just before; every other run
 * restarts the node.
 */
export async function rotationKillAtRandomInstants(store: ChaosStore, runs: number): Promise<ScenarioResult> {
  const result = newResult('7b rotate-keys: SIGKILL at a random instant, re-run (and node restart)');
  for (let run = 0; run < runs; run += 1) await killedRotation(store, result, { randomInstant: true }, run % 2 === 1);
  return result;
}
