import { describe, it } from 'vitest';
import { rotationKillAtEveryBoundary, rotationKillAtRandomInstants } from '../../harness/chaos/rotation.js';
import { useChaosStore } from '../chaos/suite.js';

// CI's shortened form of `npm run chaos`, rotation scenarios: the stored active keys always unseal.
describe('fault injection (shortened), key rotation: no key lost', () => {
  const { store, expectHeld } = useChaosStore();

  it('7a: SIGKILL at every rotation boundary, re-run, with and without a node restart', async () => {
    expectHeld(await rotationKillAtEveryBoundary(store(), 1));
  }, 500_000);

  it('7b: SIGKILL at random instants of a rotation', async () => {
    expectHeld(await rotationKillAtRandomInstants(store(), 2));
  }, 300_000);
});
