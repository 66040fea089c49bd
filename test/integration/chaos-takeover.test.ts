import { describe, expect, it } from 'vitest';
import { takeoverRace, unsafeStaleAfterRace } from '../../harness/chaos/takeover.js';
import { useChaosStore } from '../chaos/suite.js';
import { missingServer, SERVER_KINDS } from '../helpers/servers.js';

// CI's shortened form of `npm run chaos` scenario 9: replicas racing to take over the init claim.
const ROUNDS = 2;

describe('fault injection (shortened), takeovers: three replicas race, one sys/init per round', () => {
  const { store, expectHeld } = useChaosStore();

  for (const kind of SERVER_KINDS) {
    const missing = missingServer(kind);
    if (missing) console.warn(`chaos scenario 9 [${kind}]: skipped: ${missing}`);
    for (const takeover of ['stale', 'allow-reinit'] as const) {
      it.skipIf(missing !== undefined)(
        `9: a ${takeover} takeover raced by three replicas, ${ROUNDS} rounds [${kind}]`,
        async () => {
          const result = await takeoverRace(store(), ROUNDS, takeover, kind);
          console.log(
            `takeover ${takeover} [${kind}]: sys/init calls per round ${result.initsPerRound.join(', ')}; replicas that raced to create the claim ${result.creatorsPerRound.join(', ')}`,
          );
          expectHeld(result);
          expect(result.initsPerRound).toEqual(Array(ROUNDS).fill(1));
        },
        300_000,
      );
    }
    it.skipIf(missing !== undefined)(
      `9c: --claim-stale-after shorter than an init, three replicas on separate servers: refused, no claim, no init [${kind}]`,
      async () => {
        const result = await unsafeStaleAfterRace(store(), kind);
        expect(result.codes).toEqual([2, 2, 2]);
        for (const stderr of result.stderr) {
          expect(stderr.trim().split('\n')).toHaveLength(1);
          expect(stderr).toContain('--claim-stale-after: must be at least 2m30s');
        }
        expect(result.claims).toBe(0);
        expect(result.inits).toBe(0);
      },
      120_000,
    );
  }
});
