import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, events, runCli } from '../../harness/cli.js';
import { keyVersions } from '../../harness/keys.js';
import { MotoKms } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { until } from '../../harness/poll.js';
import { missingServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const missing = missingServer('openbao-2.6');

/**
 * Shamir → awskms on a 3-node raft cluster, in the order README and k8s/README prescribe: each
 * standby restarted with the new seal stanza and `migrate-seal` run in it (it unseals onto the
 * new seal and stays a standby: sys/health 500 while the active node runs Shamir), then
 * `migrate-seal` in the active node (it steps down; a migrated standby takes over and completes
 * the migration), then the old active node restarted with the new stanza (it unseals itself).
 * Measured on OpenBao 2.6.2: restarting the active node instead of stepping it down leaves the
 * migrated standbys at 500 and the restarted node sealed with `migration: true`.
 */
describe.skipIf(missing !== undefined)('seal migration Shamir → awskms on a 3-node cluster (OpenBao 2.6.2)', () => {
  let moto: Moto;
  let kms: MotoKms;
  let nodes: TestServer[] = [];
  let store: FileStore;
  let storeDirectory: string;
  const args = (node: TestServer) => ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', node.address];
  const health = async (node: TestServer) => (await serverRequest(node, 'GET', 'sys/health')).status;

  beforeAll(async () => {
    moto = await startMoto();
    kms = await MotoKms.start(moto);
    nodes = await TestServer.createCluster(3, { build: 'openbao-2.6' });
    await Promise.all(nodes.map((node) => node.start()));
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-migration-cluster-')), 'store');
    store = new FileStore(storeDirectory);
    for (const node of nodes) {
      const result = await runCli(['run', '--once', ...args(node), '--secret-shares', '3', '--secret-threshold', '2']);
      expect(result.code, result.stdout).toBe(0);
    }
  });

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await kms?.faults.stop();
    await moto?.stop();
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('standbys first (each migrate-seal leaves a standby on the new seal), then the active node steps down, then it restarts and unseals itself', async () => {
    const activeIndex = await until('an active node', async () => {
      for (const [index, node] of nodes.entries()) if ((await health(node)) === 200) return index;
      return undefined;
    });
    const active = nodes[activeIndex]!;
    const standbys = nodes.filter((node) => node !== active);
    const seal = await kms.seal();
    const shamirKeys = (await keyVersions(store)).at(-1)!.keysBase64;

    for (const standby of standbys) {
      await standby.stop();
      await standby.changeSeal(seal);
      await standby.start();
      expect((await serverRequest(standby, 'GET', 'sys/seal-status')).body).toMatchObject({
        sealed: true,
        migration: true,
      });
      const migrated = await runCli(['migrate-seal', ...args(standby)]);
      expect(migrated.code, `${migrated.stdout}${migrated.stderr}`).toBe(0);
      expect(events(migrated.stderr, 'migration-standby-unsealed')).toHaveLength(1);
      expect(JSON.parse(migrated.stdout.trim().split('\n').at(-1)!)).toMatchObject({ outcome: 'standby-unsealed' });
      // The active node still serves on Shamir meanwhile.
      expect(await health(active)).toBe(200);
    }
    // The migration is recorded (a pending version of type recovery); the active keys are still the Shamir ones.
    expect((await keyVersions(store)).at(-1)).toMatchObject({ type: 'recovery', status: 'pending' });

    const steppedDown = await runCli(['migrate-seal', ...args(active)]);
    expect(steppedDown.code, `${steppedDown.stdout}${steppedDown.stderr}`).toBe(0);
    expect(events(steppedDown.stderr, 'migration-stepped-down')).toHaveLength(1);
    const newActive = await until('a migrated standby takes over', async () => {
      for (const standby of standbys) if ((await health(standby)) === 200) return standby;
      return undefined;
    });
    expect((await serverRequest(newActive, 'GET', 'sys/seal-status')).body).toMatchObject({
      type: 'awskms',
      sealed: false,
    });

    await active.stop();
    await active.changeSeal(seal);
    await active.start();
    await until('the old active node unseals itself on the new seal', async () => {
      const status = (await serverRequest(active, 'GET', 'sys/seal-status')).body;
      return status.sealed === false && status.type === 'awskms' ? true : undefined;
    });

    // The sidecars converge: the new active node's records the keys as recovery keys; no init, no unseal.
    for (const node of [newActive, ...nodes.filter((node) => node !== newActive)]) {
      const once = await runCli(['run', '--once', ...args(node)]);
      expect(once.code, once.stdout).toBe(0);
    }
    const latest = (await keyVersions(store)).at(-1)!;
    expect(latest).toMatchObject({ type: 'recovery', status: 'active' });
    expect(latest.keysBase64).toEqual(shamirKeys);
    for (const node of nodes)
      expect((await serverRequest(node, 'GET', 'sys/seal-status')).body).toMatchObject({
        type: 'awskms',
        sealed: false,
        migration: false,
      });
    // Every node restarted once more: each unseals itself with the KMS.
    await Promise.all(nodes.map((node) => node.stop()));
    await Promise.all(nodes.map((node) => node.start()));
    await until('every node unseals itself after a restart', async () => {
      const sealed = await Promise.all(
        nodes.map(async (node) => (await serverRequest(node, 'GET', 'sys/seal-status')).body.sealed),
      );
      return sealed.every((value) => value === false) ? true : undefined;
    });
  }, 240_000);
});
