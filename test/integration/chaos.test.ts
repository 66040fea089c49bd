import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChaosStore } from '../chaos/harness.js';
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
} from '../chaos/scenarios.js';

// CI's shortened form of `npm run chaos`: every scenario, fewer repetitions.
describe('fault injection (shortened): one init per cluster, no key lost', () => {
  let store: ChaosStore;
  const results: ScenarioResult[] = [];

  beforeAll(async () => {
    store = await ChaosStore.start();
  });

  afterAll(async () => {
    await store?.stop();
    console.log(formatTable(results));
  });

  const expectHeld = (result: ScenarioResult, expectedConverged = result.runs) => {
    results.push(result);
    expect(result.doubleInits, result.notes.join('; ')).toBe(0);
    expect(result.keysLost, result.notes.join('; ')).toBe(0);
    expect(result.converged, result.notes.join('; ')).toBe(expectedConverged);
  };

  it('1: three sidecars on a 3-node raft cluster started together, twice', async () => {
    expectHeld(await threeNodesStartedTogether(store, 2));
  }, 300_000);

  it('2a: SIGKILL at every step boundary, then a restart', async () => {
    expectHeld(await killAtEveryBoundary(store, 1));
  }, 400_000);

  it('2b: SIGKILL at random instants, then a restart', async () => {
    const result = await killAtRandomInstants(store, 2);
    const inFlight = result.notes.filter((note) => note.startsWith('orphaned by a kill while sys/init was in flight')).length;
    expectHeld(result, result.runs - inFlight);
  }, 300_000);

  it('3: store outage while storing, SIGTERM during the outage', async () => {
    expectHeld(await storeOutageThenSigterm(store, 1));
  }, 300_000);

  it('4: the active node restarts sealed while configuring', async () => {
    expectHeld(await activeRestartsWhileConfiguring(store, 1));
  }, 300_000);

  it('5: a new pod on old data unseals from the store', async () => {
    expectHeld(await redeployOnOldData(store, 1));
  }, 300_000);

  it('6: keys present, data wiped: refused, then --allow-reinit keeps the old keys as an earlier version', async () => {
    expectHeld(await wipedServerWithKeys(store, 1));
  }, 300_000);
});
