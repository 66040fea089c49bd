import { describe, it } from 'vitest';
import {
  activeRestartsWhileConfiguring,
  redeployOnOldData,
  threeNodesStartedTogether,
  wipedServerWithKeys,
} from '../../harness/chaos/scenarios.js';
import { useChaosStore } from '../chaos/suite.js';
import { missingServer, SERVER_KINDS } from '../helpers/servers.js';

// CI's shortened form of `npm run chaos`, cluster scenarios (chaos-crash.test.ts has the others).
describe('fault injection (shortened), clusters: one init per cluster, no key lost', () => {
  const { store, expectHeld } = useChaosStore();

  for (const kind of SERVER_KINDS) {
    const missing = missingServer(kind);
    if (missing) console.warn(`chaos scenario 1 [${kind}]: skipped: ${missing}`);
    it.skipIf(missing !== undefined)(
      `1: three sidecars on a 3-node raft cluster started together, twice [${kind}]`,
      async () => {
        expectHeld(await threeNodesStartedTogether(store(), 2, kind));
      },
      300_000,
    );
  }

  it('4: the active node restarts sealed while configuring', async () => {
    expectHeld(await activeRestartsWhileConfiguring(store(), 1));
  }, 300_000);

  it('5: a new pod on old data unseals from the store', async () => {
    expectHeld(await redeployOnOldData(store(), 1));
  }, 300_000);

  it('6: keys present, data wiped: refused, then --allow-reinit keeps the old keys as an earlier version', async () => {
    expectHeld(await wipedServerWithKeys(store(), 1));
  }, 300_000);
});
