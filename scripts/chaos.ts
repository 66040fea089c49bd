// npm run chaos: the fault-injection suite against real OpenBao and moto, printing the table.
// CHAOS_RUNS (default 20) sets the repetitions of scenario 1 and of the random kills; every
// step boundary gets CHAOS_BOUNDARY_RUNS (default 2) kills; scenarios 3–6 run CHAOS_SMALL_RUNS (default 3).
import { execFileSync } from 'node:child_process';
import { ChaosStore } from '../test/chaos/harness.js';
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
} from '../test/chaos/scenarios.js';

const runs = Number(process.env.CHAOS_RUNS ?? 20);
const boundaryRuns = Number(process.env.CHAOS_BOUNDARY_RUNS ?? 2);
const smallRuns = Number(process.env.CHAOS_SMALL_RUNS ?? 3);

execFileSync('bash', ['scripts/install-tools.sh'], { stdio: 'inherit' });
execFileSync('npm', ['run', 'build'], { stdio: 'inherit' });

const store = await ChaosStore.start();
const results: ScenarioResult[] = [];
const started = Date.now();
try {
  for (const scenario of [
    () => threeNodesStartedTogether(store, runs),
    () => killAtEveryBoundary(store, boundaryRuns),
    () => killAtRandomInstants(store, runs),
    () => storeOutageThenSigterm(store, smallRuns),
    () => activeRestartsWhileConfiguring(store, smallRuns),
    () => redeployOnOldData(store, smallRuns),
    () => wipedServerWithKeys(store, smallRuns),
  ]) {
    const result = await scenario();
    results.push(result);
    console.log(`done: ${result.scenario}: ${result.converged}/${result.runs} converged, ${result.doubleInits} double inits, ${result.keysLost} keys lost`);
  }
} finally {
  await store.stop();
}
console.log(`\n${formatTable(results)}\n\ntotal ${((Date.now() - started) / 60_000).toFixed(1)} min`);
process.exit(results.every((result) => result.doubleInits === 0 && result.keysLost === 0) ? 0 : 1);
