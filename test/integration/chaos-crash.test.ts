import { describe, it } from 'vitest';
import { killAtEveryBoundary, killAtRandomInstants, storeOutageThenSigterm } from '../../harness/chaos/scenarios.js';
import { useChaosStore } from '../chaos/suite.js';

// CI's shortened form of `npm run chaos`, crash scenarios (chaos-cluster.test.ts has the others).
describe('fault injection (shortened), crashes: one init per cluster, no key lost', () => {
  const { store, expectHeld } = useChaosStore();

  it('2a: SIGKILL at every step boundary, then a restart', async () => {
    expectHeld(await killAtEveryBoundary(store(), 1));
  }, 400_000);

  it('2b: SIGKILL at random instants, then a restart', async () => {
    const result = await killAtRandomInstants(store(), 2);
    // A kill while sys/init is in flight orphans the server (exit 3): the one window no client can close (README).
    expectHeld(result, result.runs - result.orphanedInFlight);
  }, 300_000);

  it('3: store outage while storing, SIGTERM during the outage', async () => {
    expectHeld(await storeOutageThenSigterm(store(), 1));
  }, 300_000);
});
