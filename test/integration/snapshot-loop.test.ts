import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, cleanEnv, events, runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { FaultProxy } from '../../harness/fault-proxy.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { until } from '../../harness/poll.js';
import { readCatalog } from '../../src/snapshots/catalog.js';
import { FileObjectStore } from '../../src/snapshots/file.js';
import { S3ObjectStore } from '../../src/snapshots/s3.js';
import type { ObjectStore } from '../../src/snapshots/types.js';
import { FileStore } from '../../src/store/file.js';
import { describeEachServer, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// SPEC §12, --snapshot-interval: the sidecar on the active node takes snapshots in its loop (a
// rule in decide(), executed by act()); the standby's sidecar, given the same flags, never
// uploads anything; a destination that stops answering costs neither node its readiness, and
// snapshots resume when it is back.
let moto: Moto;
let s3Proxy: FaultProxy;

beforeAll(async () => {
  moto = await startMoto();
  s3Proxy = await FaultProxy.start(moto.endpoint);
  await fetch(`${moto.endpoint}/vb-loop`, { method: 'PUT' });
  // This file's own reads of the bucket (its own process: pool forks) go to moto and nowhere else.
  Object.assign(process.env, moto.env, { AWS_ENDPOINT_URL_S3: moto.endpoint });
}, 60_000);

afterAll(async () => {
  await s3Proxy?.stop();
  await moto?.stop();
});

async function probe(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function s3Env(): Record<string, string> {
  return cleanEnv({ ...moto.env, AWS_ENDPOINT_URL_S3: s3Proxy.address });
}

describeEachServer('snapshots in the sidecar loop', (kind: ServerKind) => {
  let nodes: TestServer[];
  let store: FileStore;
  let storeDirectory: string;
  let work: string;
  const sidecars: RunningCli[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-snapshot-loop-'));
    storeDirectory = join(work, 'store');
    store = new FileStore(storeDirectory);
    nodes = await TestServer.createCluster(2, { kind });
    await Promise.all(nodes.map((node) => node.start()));
    for (const node of nodes) {
      const result = await runCli(['run', '--once', ...storeArgs(node)]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await Promise.all((nodes ?? []).map((node) => node.stop()));
  });

  const storeArgs = (node: TestServer) => [
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    node.address,
  ];

  /** One sidecar per node, the same snapshot flags on each: the active one at index 0. */
  async function startSidecars(
    to: string,
    env: Record<string, string>,
  ): Promise<Array<{ port: number; cli: RunningCli }>> {
    await stopAll();
    const started: Array<{ port: number; cli: RunningCli }> = [];
    for (const node of nodes) {
      const port = await freePort();
      const args = ['run', ...storeArgs(node), '--interval', '1s', '--listen', `127.0.0.1:${port}`];
      const snapshotArgs = ['--snapshot-to', to, '--snapshot-interval', '1s', '--snapshot-retain', '2'];
      const cli = startCli([...args, ...snapshotArgs], env);
      sidecars.push(cli);
      started.push({ port, cli });
    }
    return started;
  }

  async function stopAll(): Promise<void> {
    for (const sidecar of sidecars.splice(0)) sidecar.child.kill('SIGTERM');
    await Promise.all(sidecars.map((sidecar) => sidecar.result));
  }

  async function expectPairedSnapshots(objects: ObjectStore): Promise<void> {
    const catalog = await readCatalog(objects);
    // --snapshot-retain 2 after every publish (the stop may come between a publish and its retention).
    expect(catalog.snapshots.length).toBeGreaterThanOrEqual(1);
    expect(catalog.snapshots.length).toBeLessThanOrEqual(3);
    expect(catalog.invalid).toEqual([]);
    const health = (await (await fetch(`${nodes[0]!.address}/v1/sys/health`)).json()) as { cluster_id: string };
    const keysVersion = (await store.readAllVersions('vault-unseal-keys')).length;
    for (const manifest of catalog.snapshots)
      expect(manifest).toMatchObject({ clusterId: health.cluster_id, keysVersion, server: { kind } });
  }

  const targets = [
    {
      scheme: 'file',
      to: () => `file://${join(work, 'file-target')}`,
      env: () => cleanEnv(),
      objects: () => new FileObjectStore(join(work, 'file-target'), 'file'),
    },
    {
      scheme: 's3',
      to: () => `s3://vb-loop/${kind}/loop`,
      env: s3Env,
      objects: () =>
        new S3ObjectStore({ bucket: 'vb-loop', prefix: `${kind}/loop`, location: 's3', kmsKey: undefined }),
    },
  ];
  for (const target of targets) {
    it(`${target.scheme}://: the active node's sidecar takes them on schedule, the standby's none; retention keeps 2`, async () => {
      const [{ port: activePort, cli: active }, { port: standbyPort, cli: standby }] = (await startSidecars(
        target.to(),
        target.env(),
      )) as [{ port: number; cli: RunningCli }, { port: number; cli: RunningCli }];
      await until(
        'three snapshots published by the active node',
        async () => (events(active.output(), 'snapshot-published').length >= 3 ? true : undefined),
        60_000,
      );
      const activeMetrics = (await probe(activePort, '/metrics')).text;
      const newest = events(active.output(), 'snapshot-published').at(-1)!;
      expect(metricValue(activeMetrics, 'vault_bootstrap_last_snapshot_size_bytes')).toBeGreaterThan(0);
      expect(metricValue(activeMetrics, 'vault_bootstrap_last_snapshot_timestamp_seconds')).toBeGreaterThan(0);
      expect(newest).toMatchObject({ size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      // Taking them never took the node out of ready.
      expect(events(active.output(), 'state').map((line) => line.to)).toEqual(['ready']);
      expect((await probe(activePort, '/readyz')).status).toBe(200);
      // The standby's sidecar is ready too, and never looked, decided or uploaded.
      expect((await probe(standbyPort, '/readyz')).status).toBe(200);
      for (const event of ['snapshot-upload-started', 'snapshot-published', 'snapshot-look-failed', 'snapshot-failed'])
        expect(events(standby.output(), event)).toEqual([]);
      expect(standby.output()).not.toContain('"action":"take-snapshot"');
      // Retention runs after each publish: the third one's removes the first.
      const [first] = events(active.output(), 'snapshot-published');
      await until('retention removing the first snapshot', async () =>
        events(active.output(), 'snapshot-retention')
          .flatMap((line) => line.removed as string[])
          .includes(first!.id as string)
          ? true
          : undefined,
      );
      // Read once the sidecars have stopped: a running one's retention may remove what a listing just named.
      await stopAll();
      const objects = target.objects();
      try {
        await expectPairedSnapshots(objects);
      } finally {
        await objects.close();
      }
    }, 120_000);
  }

  it('s3://: a destination that refuses connections costs no readiness; snapshots resume when it is back', async () => {
    const [{ port: activePort, cli: active }] = (await startSidecars(`s3://vb-loop/${kind}/outage`, s3Env())) as [
      { port: number; cli: RunningCli },
    ];
    await until(
      'a first snapshot',
      async () => (events(active.output(), 'snapshot-published').length >= 1 ? true : undefined),
      60_000,
    );
    await s3Proxy.set('refuse');
    try {
      const failure = await until(
        'a failed look at the refused destination',
        async () => events(active.output(), 'snapshot-look-failed')[0],
        60_000,
      );
      expect(failure).toMatchObject({ error: { code: 'SNAPSHOT_STORE_UNAVAILABLE' } });
      const metrics = (await probe(activePort, '/metrics')).text;
      expect(metricValue(metrics, 'vault_bootstrap_snapshot_failures_total{op="look"}')).toBeGreaterThanOrEqual(1);
      expect((await probe(activePort, '/readyz')).status).toBe(200);
      expect(events(active.output(), 'blocked')).toEqual([]);
    } finally {
      await s3Proxy.set('none');
    }
    const before = events(active.output(), 'snapshot-published').length;
    await until(
      'a snapshot after the destination came back',
      async () => (events(active.output(), 'snapshot-published').length > before ? true : undefined),
      60_000,
    );
    await stopAll();
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 120_000);
});
