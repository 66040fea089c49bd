import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from '../../src/checkpoints.js';
import { baoRequest, OpenBao } from '../openbao.js';
import type { ServerKind } from '../server-process.js';
import {
  ChaosStore,
  healthOf,
  initCounters,
  median,
  memorySpool,
  oneKeySetStored,
  startSidecar,
  storedKeysUnseal,
  type Sidecar,
} from './harness.js';

export interface ScenarioResult {
  scenario: string;
  runs: number;
  converged: number;
  doubleInits: number;
  keysLost: number;
  /** Runs killed while sys/init was in flight that then ended orphaned with exit 3: no client can close that window. */
  orphanedInFlight: number;
  /** Milliseconds from the (re)start that must converge to ready, one per converged run. */
  convergeMs: number[];
  notes: string[];
}

export function newResult(scenario: string): ScenarioResult {
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

export function recordConverged(result: ScenarioResult, startedAt: number): void {
  result.converged += 1;
  result.convergeMs.push(Date.now() - startedAt);
}

let prefixCounter = 0;
export const uniquePrefix = (name: string) => `${name}-${process.pid}-${(prefixCounter += 1)}`;

export async function readyAll(sidecars: Sidecar[], timeoutMs: number): Promise<boolean> {
  return Promise.all(sidecars.map((sidecar) => sidecar.cli.waitFor('"to":"ready"', timeoutMs))).then(
    () => true,
    () => false,
  );
}

async function stopAll(sidecars: Sidecar[]): Promise<void> {
  for (const sidecar of sidecars) sidecar.cli.child.kill('SIGTERM');
  await Promise.all(sidecars.map((sidecar) => sidecar.cli.result));
}

/** 1. A 3-node raft cluster, three sidecars started together: exactly one init, all unsealed. */
export async function threeNodesStartedTogether(
  store: ChaosStore,
  runs: number,
  kind: ServerKind = 'openbao',
): Promise<ScenarioResult> {
  const result = newResult(`1 three sidecars start together (3-node raft, ${kind})`);
  for (let run = 0; run < runs; run += 1) {
    result.runs += 1;
    const nodes = await OpenBao.createCluster(3, { kind });
    await Promise.all(nodes.map((node) => node.start()));
    const counters = await initCounters(nodes);
    const prefix = uniquePrefix('s1');
    const started = Date.now();
    const sidecars = counters.proxies.map((proxy, index) =>
      startSidecar(store, proxy.address, { prefix, podName: `vault-${index}` }),
    );
    try {
      const ready = await readyAll(sidecars, 120_000);
      const health = await Promise.all(nodes.map(healthOf));
      const unsealed = health.every((node) => node.status === 200 || node.status === 429);
      const clusters = new Set(health.map((node) => node.clusterId));
      if (ready && unsealed && clusters.size === 1) {
        recordConverged(result, started);
      }
      if (counters.initRequests() > 1 || clusters.size > 1) result.doubleInits += 1;
      if (!(await oneKeySetStored(store, prefix))) result.keysLost += 1;
    } finally {
      await stopAll(sidecars);
      await counters.stop();
      await Promise.all(nodes.map((node) => node.stop()));
    }
  }
  return result;
}

const STEP_BOUNDARIES: Checkpoint[] = [
  'claimed',
  'init-sent',
  'init-spooled',
  'unseal-keys-stored',
  'secrets-stored',
  'unsealed',
  'configured',
  'management-token-created',
  'token-created',
  'token-stored',
  'ready',
];

/**
 * One crash-and-restart run on a fresh node: the first process dies (at a checkpoint, or by
 * a SIGKILL after `killAfterMs`), a second one in the same pod (same name, same spool) must
 * converge with one init and keys that open the server.
 */
async function crashThenRestart(
  store: ChaosStore,
  result: ScenarioResult,
  crash: { at?: Checkpoint; killAfterMs?: number },
): Promise<void> {
  result.runs += 1;
  const node = await OpenBao.start();
  const counters = await initCounters([node]);
  const spool = await memorySpool();
  const prefix = uniquePrefix('s2');
  const address = counters.proxies[0]!.address;
  try {
    const first = startSidecar(store, address, {
      prefix,
      podName: 'vault-0',
      spoolDirectory: spool.directory,
      ...(crash.at ? { crashAt: crash.at } : {}),
    });
    if (crash.killAfterMs !== undefined) setTimeout(() => first.cli.child.kill('SIGKILL'), crash.killAfterMs);
    const ended = await Promise.race([
      first.cli.result,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 90_000)),
    ]);
    if (ended === undefined) first.cli.child.kill('SIGKILL');
    const passed = first.checkpoints();
    const initsByFirst = counters.initRequests();
    const started = Date.now();
    const second = startSidecar(store, address, {
      prefix,
      podName: 'vault-0',
      spoolDirectory: spool.directory,
      once: true,
    });
    const outcome = await second.cli.result;
    const initRequests = counters.initRequests();
    if (initRequests > 1) result.doubleInits += 1;
    if (outcome.code === 0) {
      recordConverged(result, started);
    }
    // Killed between sending sys/init and the answer reaching the spool: the keys never left
    // OpenBao's answer, so no client could have kept them. Reported apart from "lost".
    const diedWithInitInFlight = initsByFirst === 1 && !passed.includes('init-spooled');
    if (diedWithInitInFlight) {
      if (outcome.code === 3) result.orphanedInFlight += 1;
      result.notes.push(`orphaned by a kill while sys/init was in flight (exit ${outcome.code})`);
    } else if (initRequests === 1 && !(await storedKeysUnseal(store, prefix, node))) {
      result.keysLost += 1;
      result.notes.push(
        `keys lost after a kill at ${crash.at ?? `${crash.killAfterMs}ms`} (last checkpoint ${passed.at(-1) ?? 'none'})`,
      );
    }
  } finally {
    await counters.stop();
    await node.stop();
    await spool.remove();
  }
}

/** 2a. SIGKILL at every step boundary, then a restart. */
export async function killAtEveryBoundary(
  store: ChaosStore,
  runsPerBoundary: number,
  boundaries: Checkpoint[] = STEP_BOUNDARIES,
): Promise<ScenarioResult> {
  const result = newResult(`2a SIGKILL at each of ${boundaries.length} step boundaries, restart`);
  for (const boundary of boundaries) {
    for (let run = 0; run < runsPerBoundary; run += 1) await crashThenRestart(store, result, { at: boundary });
  }
  return result;
}

/** 2b. SIGKILL at a random instant of a fresh run (uniform over its first `spanMs`), then a restart. */
export async function killAtRandomInstants(store: ChaosStore, runs: number, spanMs = 10_000): Promise<ScenarioResult> {
  const result = newResult('2b SIGKILL at a random instant, restart');
  for (let run = 0; run < runs; run += 1)
    await crashThenRestart(store, result, { killAfterMs: Math.round(Math.random() * spanMs) });
  return result;
}

/**
 * 3. The store goes away while the keys are being stored; SIGTERM arrives during the outage.
 * The process waits --shutdown-timeout, leaves the keys in the spool and exits; the store
 * comes back (empty: moto keeps nothing); the restarted container stores them and converges.
 */
export async function storeOutageThenSigterm(store: ChaosStore, runs: number): Promise<ScenarioResult> {
  const result = newResult('3 store outage while storing + SIGTERM');
  for (let run = 0; run < runs; run += 1) {
    result.runs += 1;
    const node = await OpenBao.start();
    const counters = await initCounters([node]);
    const spool = await memorySpool();
    const prefix = uniquePrefix('s3');
    const address = counters.proxies[0]!.address;
    try {
      const first = startSidecar(store, address, { prefix, podName: 'vault-0', spoolDirectory: spool.directory });
      await first.cli.waitFor('"to":"initializing"');
      await store.outage();
      await first.cli.waitFor('"event":"store-retry"', 60_000);
      first.cli.child.kill('SIGTERM');
      const stopped = await first.cli.result;
      if (stopped.code !== 1 || !stopped.stdout.includes('they wait in the spool'))
        result.notes.push(`first process ended ${stopped.code} without naming the spool`);
      await store.recover();
      const started = Date.now();
      const second = startSidecar(store, address, {
        prefix,
        podName: 'vault-0',
        spoolDirectory: spool.directory,
        once: true,
      });
      const outcome = await second.cli.result;
      if (outcome.code === 0) {
        recordConverged(result, started);
      }
      if (counters.initRequests() > 1) result.doubleInits += 1;
      if (!(await storedKeysUnseal(store, prefix, node))) result.keysLost += 1;
    } finally {
      await counters.stop();
      await node.stop();
      await spool.remove();
    }
  }
  return result;
}

/**
 * 4. A converged 3-node cluster; a policy change starts configuring and the active node is
 * restarted at the same moment (it comes back sealed; another node becomes active). All
 * nodes end unsealed, the new policy is in place, and nothing is initialized again.
 */
export async function activeRestartsWhileConfiguring(store: ChaosStore, runs: number): Promise<ScenarioResult> {
  const result = newResult('4 active node restarts (sealed) during configuring');
  for (let run = 0; run < runs; run += 1) {
    result.runs += 1;
    const nodes = await OpenBao.createCluster(3);
    await Promise.all(nodes.map((node) => node.start()));
    const counters = await initCounters(nodes);
    const prefix = uniquePrefix('s4');
    const policies = await mkdtemp(join(tmpdir(), 'vb-chaos-policies-'));
    const sidecars = counters.proxies.map((proxy, index) =>
      startSidecar(store, proxy.address, {
        prefix,
        podName: `vault-${index}`,
        extraArgs: ['--policies-dir', policies],
      }),
    );
    try {
      if (!(await readyAll(sidecars, 120_000))) {
        result.notes.push('the cluster did not converge before the fault');
        continue;
      }
      // Joined nodes start as non-voters (raft autopilot promotes them after a stabilization
      // time); until then the cluster has no quorum without its leader and leadership cannot move.
      const root = JSON.parse((await store.versions(prefix, 'root-token')).at(-1)!).token as string;
      const allVoters = await waitUntil(async () => {
        const configuration = await baoRequest(nodes[0]!, 'GET', 'sys/storage/raft/configuration', root);
        const servers = (configuration.body.data?.config?.servers ?? []) as Array<{ voter: boolean }>;
        return servers.length === nodes.length && servers.every((server) => server.voter);
      }, 60_000);
      if (!allVoters) result.notes.push('not every node became a raft voter within 60s');
      const health = await Promise.all(nodes.map(healthOf));
      const active = nodes[health.findIndex((node) => node.status === 200)]!;
      const marker = `tenant-${run}`;
      await writeFile(
        join(policies, `${marker}.hcl`),
        `path "secret/data/${marker}/*" {\n  capabilities = ["read"]\n}\n`,
      );
      const started = Date.now();
      await active.restart();
      const converged = await waitUntil(async () => {
        const after = await Promise.all(nodes.map(healthOf));
        if (!after.every((node) => node.status === 200 || node.status === 429)) return false;
        const activeNow = nodes[after.findIndex((node) => node.status === 200)];
        if (activeNow === undefined) return false;
        return (await baoRequest(activeNow, 'GET', `sys/policies/acl/${marker}`, root)).status === 200;
      }, 90_000);
      const healthAfter = await Promise.all(nodes.map(healthOf));
      const activeAfter = nodes[healthAfter.findIndex((node) => node.status === 200)];
      if (!converged) {
        // A restart read as a seal made in place would record an intent and seal every node.
        const intent = (await store.versions(prefix, 'seal-intent')).at(-1);
        result.notes.push(
          `not converged within 90s: health ${healthAfter.map((node) => node.status).join('/')}; seal intent ${intent ?? 'none'}`,
        );
      }
      if (converged && activeAfter !== active) {
        recordConverged(result, started);
      }
      if (activeAfter === active) result.notes.push('the active node did not move');
      if (counters.initRequests() > 1) result.doubleInits += 1;
      if (!(await oneKeySetStored(store, prefix))) result.keysLost += 1;
    } finally {
      await stopAll(sidecars);
      await counters.stop();
      await Promise.all(nodes.map((node) => node.stop()));
      await rm(policies, { recursive: true, force: true });
    }
  }
  return result;
}

/** 5. Disaster-recovery redeploy: the server's data is kept, the sidecar is a new pod → unsealed from the store, no init. */
export async function redeployOnOldData(store: ChaosStore, runs: number): Promise<ScenarioResult> {
  const result = newResult('5 new pod on old data (DR redeploy)');
  for (let run = 0; run < runs; run += 1) {
    result.runs += 1;
    const node = await OpenBao.start();
    const prefix = uniquePrefix('s5');
    try {
      const first = startSidecar(store, node.address, { prefix, podName: 'vault-0', once: true });
      if ((await first.cli.result).code !== 0) {
        result.notes.push('the first deploy did not converge');
        continue;
      }
      await node.restart();
      const counters = await initCounters([node]);
      const started = Date.now();
      const redeployed = startSidecar(store, counters.proxies[0]!.address, {
        prefix,
        podName: 'vault-0-redeployed',
        once: true,
      });
      const outcome = await redeployed.cli.result;
      if (outcome.code === 0 && (await healthOf(node)).status === 200) {
        recordConverged(result, started);
      }
      if (counters.initRequests() > 0) result.doubleInits += 1;
      if (!(await oneKeySetStored(store, prefix)) || !(await storedKeysUnseal(store, prefix, node)))
        result.keysLost += 1;
      await counters.stop();
    } finally {
      await node.stop();
    }
  }
  return result;
}

/** 6. Keys in the store, server data wiped: refuses to init; with --allow-reinit inits, the old keys stay as an earlier version. */
export async function wipedServerWithKeys(store: ChaosStore, runs: number): Promise<ScenarioResult> {
  const result = newResult('6 keys present, server data wiped');
  for (let run = 0; run < runs; run += 1) {
    result.runs += 1;
    const node = await OpenBao.start();
    const prefix = uniquePrefix('s6');
    try {
      if ((await startSidecar(store, node.address, { prefix, podName: 'vault-0', once: true }).cli.result).code !== 0) {
        result.notes.push('the first deploy did not converge');
        continue;
      }
      const oldKeys = await store.versions(prefix, 'unseal-keys');
      await node.stop();
      await rm(node.dataDirectory, { recursive: true, force: true });
      await node.start();
      const counters = await initCounters([node]);
      const refused = await startSidecar(store, counters.proxies[0]!.address, {
        prefix,
        podName: 'vault-0',
        once: true,
        extraArgs: ['--timeout', '5s'],
      }).cli.result;
      const refusedCleanly =
        refused.code === 4 && counters.initRequests() === 0 && (await healthOf(node)).status === 501;
      if (!refusedCleanly) {
        result.doubleInits += counters.initRequests() > 0 ? 1 : 0;
        result.notes.push(`without --allow-reinit: exit ${refused.code}, ${counters.initRequests()} init request(s)`);
      }
      const started = Date.now();
      const reinit = await startSidecar(store, counters.proxies[0]!.address, {
        prefix,
        podName: 'vault-0',
        once: true,
        extraArgs: ['--allow-reinit'],
      }).cli.result;
      const versions = await store.versions(prefix, 'unseal-keys');
      if (refusedCleanly && reinit.code === 0 && counters.initRequests() === 1) {
        recordConverged(result, started);
      }
      // Every earlier version stays as it was; the latest opens the new server.
      const historyKept = versions.length > oldKeys.length && oldKeys.every((text, index) => versions[index] === text);
      if (!historyKept || !(await storedKeysUnseal(store, prefix, node))) {
        result.keysLost += 1;
        result.notes.push(
          historyKept
            ? 'the latest stored keys do not unseal the new server'
            : 'an earlier keys version changed or vanished',
        );
      }
      await counters.stop();
    } finally {
      await node.stop();
    }
  }
  return result;
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

export function formatTable(results: ScenarioResult[]): string {
  const header = ['scenario', 'runs', 'converged', 'double inits', 'keys lost', 'time to converge (median)'];
  const rows = results.map((row) => [
    row.scenario,
    String(row.runs),
    `${row.converged}/${row.runs}`,
    String(row.doubleInits),
    String(row.keysLost),
    row.convergeMs.length ? `${(median(row.convergeMs) / 1000).toFixed(2)} s` : '-',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  const notes = results.flatMap((row) => summarizeNotes(row));
  return [
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

function summarizeNotes(row: ScenarioResult): string[] {
  const counts = new Map<string, number>();
  for (const note of row.notes) counts.set(note, (counts.get(note) ?? 0) + 1);
  return [...counts].map(([note, count]) => `  ${row.scenario.split(' ')[0]}: ${count}× ${note}`);
}
