// npm run chaos: the fault-injection suite against real OpenBao and moto, printing the table.
// CHAOS_RUNS (default 20) sets the repetitions of scenario 1 and of the random kills; every
// step boundary gets CHAOS_BOUNDARY_RUNS (default 2) kills; scenarios 3–6 run CHAOS_SMALL_RUNS (default 3).
// CHAOS_SCENARIOS (e.g. "1,4") runs only those. 7a/7b are the key-rotation rows (rotate-keys killed,
// re-run, with and without a node restart; the stored active keys must unseal a restarted node).
// 8 is the network-fault matrix (harness/chaos/network.ts): every fault of the fault proxy, at every
// phase, between the sidecar and Vault and between the sidecar and the store; its cells print apart.
// 9a/9b are the takeover races (three replicas take over a stale claim, or an old cluster's with
// --allow-reinit), CHAOS_TAKEOVER_ROUNDS (default 10) rounds on each server kind installed.
import { execFileSync } from 'node:child_process';
import { ChaosStore } from '../harness/chaos/harness.js';
import { allCells, formatCells, runCell, summarize, type CellResult } from '../harness/chaos/network.js';
import { rotationKillAtEveryBoundary, rotationKillAtRandomInstants } from '../harness/chaos/rotation.js';
import { takeoverRace } from '../harness/chaos/takeover.js';
import { missingServer, SERVER_KINDS } from '../harness/server-process.js';
import {
  activeRestartsWhileConfiguring,
  formatTable,
  killAtEveryBoundary,
  killAtRandomInstants,
  redeployOnOldData,
  storeOutageThenSigterm,
  threeNodesStartedTogether,
  wipedServerWithKeys,
  type ScenarioResult,
} from '../harness/chaos/scenarios.js';

const runs = Number(process.env.CHAOS_RUNS ?? 20);
const boundaryRuns = Number(process.env.CHAOS_BOUNDARY_RUNS ?? 2);
const smallRuns = Number(process.env.CHAOS_SMALL_RUNS ?? 3);
const takeoverRounds = Number(process.env.CHAOS_TAKEOVER_ROUNDS ?? 10);
const only = process.env.CHAOS_SCENARIOS?.split(',').map((name) => name.trim());

// Only the servers the scenarios start (Vault, for 9a/9b, comes from the per-machine build cache).
execFileSync('bash', ['scripts/install-tools.sh', 'openbao', 'moto', 'vault'], { stdio: 'inherit' });
execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });

/** The takeover rows' per-round figures, printed as they come. */
async function reportRounds(running: ReturnType<typeof takeoverRace>): Promise<ScenarioResult> {
  const result = await running;
  console.log(
    `${result.scenario}: sys/init calls per round ${result.initsPerRound.join(',')}; replicas racing to create the claim ${result.creatorsPerRound.join(',')}`,
  );
  return result;
}

const store = await ChaosStore.start();
const results: ScenarioResult[] = [];
const cells: CellResult[] = [];
const started = Date.now();
try {
  const scenarios: Array<[string, () => Promise<ScenarioResult>]> = [
    ['1', () => threeNodesStartedTogether(store, runs)],
    ['2a', () => killAtEveryBoundary(store, boundaryRuns)],
    ['2b', () => killAtRandomInstants(store, runs)],
    ['3', () => storeOutageThenSigterm(store, smallRuns)],
    ['4', () => activeRestartsWhileConfiguring(store, smallRuns)],
    ['5', () => redeployOnOldData(store, smallRuns)],
    ['6', () => wipedServerWithKeys(store, smallRuns)],
    ['7a', () => rotationKillAtEveryBoundary(store, boundaryRuns)],
    ['7b', () => rotationKillAtRandomInstants(store, runs)],
    [
      '8',
      async () => {
        for (const cell of allCells()) {
          const result = await runCell(store, cell);
          cells.push(result);
          console.log(
            `cell ${cells.length}: ${cell.dependency}/${cell.phase}/${cell.fault}: ${result.converged ? 'converged' : 'NOT converged'}, probes ${result.probeMaxMs} ms, SIGTERM ${result.sigtermMs} ms, --once ${result.onceMs} ms${result.notes.length ? `; ${result.notes.join('; ')}` : ''}`,
          );
        }
        return summarize(cells);
      },
    ],
    ...SERVER_KINDS.filter((kind) => missingServer(kind) === undefined).flatMap(
      (kind): Array<[string, () => Promise<ScenarioResult>]> => [
        ['9a', () => reportRounds(takeoverRace(store, takeoverRounds, 'stale', kind))],
        ['9b', () => reportRounds(takeoverRace(store, takeoverRounds, 'allow-reinit', kind))],
      ],
    ),
  ];
  for (const [name, scenario] of scenarios) {
    if (only !== undefined && !only.includes(name)) continue;
    const result = await scenario();
    results.push(result);
    console.log(
      `done: ${result.scenario}: ${result.converged}/${result.runs} converged, ${result.doubleInits} double inits, ${result.keysLost} keys lost`,
    );
  }
} finally {
  await store.stop();
}
console.log(
  `\n${formatTable(results)}${cells.length ? `\n\n${formatCells(cells)}` : ''}\n\ntotal ${((Date.now() - started) / 60_000).toFixed(1)} min`,
);
process.exit(results.every((result) => result.doubleInits === 0 && result.keysLost === 0) ? 0 : 1);
