import { randomBytes } from 'node:crypto';
import { StoreNotFoundError } from '../../src/errors.js';
import { events } from '../cli.js';
import { OpenBao } from '../openbao.js';
import type { ServerKind } from '../server-process.js';
import { ChaosStore, healthOf, initCounters, startSidecar } from './harness.js';
import { newResult, readyAll, recordConverged, uniquePrefix, type ScenarioResult } from './scenarios.js';

/**
 * What the store holds when three replicas race for a takeover, as the release before claim
 * generations left it (`{prefix}-init-claim`, no generation in its name):
 * - `stale`: a claim by a pod that no longer exists, older than --claim-stale-after, no keys;
 * - `allow-reinit`: an old cluster's keys and its claim, every replica started with --allow-reinit
 *   (as an operator sets it on the StatefulSet) beside a wiped node.
 */
export type TakeoverCase = 'stale' | 'allow-reinit';

/** The shortest value the program accepts (CLAIM_STALE_MINIMUM_MS): the seeded claims are older still. */
const STALE_AFTER = '150s';
const HOUR_MS = 3_600_000;

/**
 * 9. Three sidecars, each beside its own uninitialized node of a 3-node raft cluster, race to
 * take a claim over. Exactly one sys/init per round reaches any node (counted by the recording
 * proxies in front of them), every node ends unsealed in one cluster, and the keys stored
 * after the seeded records are one key set that opens it.
 */
export async function takeoverRace(
  store: ChaosStore,
  rounds: number,
  takeover: TakeoverCase,
  kind: ServerKind = 'openbao',
): Promise<ScenarioResult & { initsPerRound: number[]; creatorsPerRound: number[] }> {
  const result = {
    ...newResult(
      `9${takeover === 'stale' ? 'a' : 'b'} three replicas take over ${takeover === 'stale' ? 'a stale claim' : "an old cluster's claim (--allow-reinit)"} (${kind})`,
    ),
    initsPerRound: [] as number[],
    creatorsPerRound: [] as number[],
  };
  for (let round = 0; round < rounds; round += 1) {
    result.runs += 1;
    const nodes = await OpenBao.createCluster(3, { kind });
    await Promise.all(nodes.map((node) => node.start()));
    const counters = await initCounters(nodes);
    const prefix = uniquePrefix(`s9${takeover === 'stale' ? 'a' : 'b'}`);
    const seededKeyVersions = await seed(store, prefix, takeover);
    const extraArgs = ['--claim-stale-after', STALE_AFTER, ...(takeover === 'allow-reinit' ? ['--allow-reinit'] : [])];
    const started = Date.now();
    const sidecars = counters.proxies.map((proxy, index) =>
      startSidecar(store, proxy.address, { prefix, podName: `vault-${index}`, extraArgs }),
    );
    try {
      const ready = await readyAll(sidecars, 120_000);
      const health = await Promise.all(nodes.map(healthOf));
      const unsealed = health.every((node) => node.status === 200 || node.status === 429);
      const clusters = new Set(health.map((node) => node.clusterId));
      const inits = counters.initRequests();
      result.initsPerRound.push(inits);
      // How many replicas tried to create the same generation (a winner and its losers): 3 is a real race.
      result.creatorsPerRound.push(
        sidecars.filter((sidecar) =>
          events(sidecar.cli.output()).some((line) => line.event === 'claim-won' || line.event === 'claim-lost'),
        ).length,
      );
      if (ready && unsealed && clusters.size === 1 && inits === 1) recordConverged(result, started);
      else
        result.notes.push(
          `round not converged: ready ${ready}, health ${health.map((node) => node.status).join('/')}, ${inits} init request(s)`,
        );
      if (inits > 1 || clusters.size > 1) result.doubleInits += 1;
      const newKeySets = new Set(
        (await store.versions(prefix, 'unseal-keys'))
          .slice(seededKeyVersions)
          .map((text) => JSON.stringify((JSON.parse(text) as { keysBase64: string[] }).keysBase64)),
      );
      if (newKeySets.size !== 1) {
        result.keysLost += 1;
        result.notes.push(`${newKeySets.size} key sets stored after the seeded records`);
      }
    } finally {
      for (const sidecar of sidecars) sidecar.cli.child.kill('SIGTERM');
      await Promise.all(sidecars.map((sidecar) => sidecar.cli.result));
      await counters.stop();
      await Promise.all(nodes.map((node) => node.stop()));
    }
  }
  return result;
}

/**
 * 9c. --claim-stale-after shorter than an init can take (1 s: sys/init alone took 7 s on a loaded
 * machine): three sidecars, each beside its own uninitialized node of a 3-node raft cluster.
 * Such a value would let each replica take a live holder's claim over and initialize its own
 * node, so it is refused at start-up: exit 2 and one line naming the flag, no claim, no sys/init.
 */
export async function unsafeStaleAfterRace(
  store: ChaosStore,
  kind: ServerKind = 'openbao',
): Promise<{ codes: Array<number | null>; stderr: string[]; inits: number; claims: number }> {
  const nodes = await OpenBao.createCluster(3, { kind });
  await Promise.all(nodes.map((node) => node.start()));
  const counters = await initCounters(nodes);
  const prefix = uniquePrefix('s9c');
  const sidecars = counters.proxies.map((proxy, index) =>
    startSidecar(store, proxy.address, { prefix, podName: `vault-${index}`, extraArgs: ['--claim-stale-after', '1s'] }),
  );
  try {
    const results = await Promise.all(sidecars.map((sidecar) => sidecar.cli.result));
    const claims = (
      await Promise.all(['init-claim', 'init-claim-g2'].map((name) => secretExists(store, `${prefix}-${name}`)))
    ).filter(Boolean).length;
    return {
      codes: results.map((result) => result.code),
      stderr: results.map((result) => result.stderr),
      inits: counters.initRequests(),
      claims,
    };
  } finally {
    for (const sidecar of sidecars) sidecar.cli.child.kill('SIGTERM');
    await counters.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

async function secretExists(store: ChaosStore, name: string): Promise<boolean> {
  const client = store.client();
  try {
    await client.readLatest(name);
    return true;
  } catch (error) {
    if (error instanceof StoreNotFoundError) return false;
    throw error;
  } finally {
    await client.close();
  }
}

/** Writes the records an earlier release left; returns how many key versions it wrote. */
async function seed(store: ChaosStore, prefix: string, takeover: TakeoverCase): Promise<number> {
  const client = store.client();
  try {
    const now = Date.now();
    if (takeover === 'stale') {
      await client.createIfAbsent(
        `${prefix}-init-claim`,
        JSON.stringify({
          holder: 'vault-gone',
          claimedAt: new Date(now - 10 * 60_000).toISOString(),
          clusterHint: 'http://127.0.0.1:1',
        }),
      );
      return 0;
    }
    const initializedAt = new Date(now - HOUR_MS).toISOString();
    await client.createIfAbsent(
      `${prefix}-init-claim`,
      JSON.stringify({
        holder: 'vault-old',
        claimedAt: new Date(now - HOUR_MS - 60_000).toISOString(),
        clusterHint: 'http://127.0.0.1:1',
      }),
    );
    const oldKeys = Array.from({ length: 5 }, () => randomBytes(33).toString('base64'));
    await client.addVersion(
      `${prefix}-unseal-keys`,
      JSON.stringify({ type: 'shamir', keysBase64: oldKeys, threshold: 3, shares: 5, initializedAt }),
    );
    return 1;
  } finally {
    await client.close();
  }
}
