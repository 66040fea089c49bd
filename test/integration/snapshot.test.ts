import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedOutput, cleanEnv, events, logLines, runCli, startCli } from '../../harness/cli.js';
import { missingFakeGcs, startFakeGcs, type FakeGcs } from '../../harness/fake-gcs.js';
import { CRASH_HOOK } from '../../harness/keys.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { FileStore } from '../../src/store/file.js';
import { FileObjectStore } from '../../src/snapshots/file.js';
import { readCatalog } from '../../src/snapshots/catalog.js';
import { describeEachServer, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// SPEC §12: snapshots from the active node only, streamed into file://, s3:// (moto) and gs://
// (fake-gcs-server), verified before they count, retention never removing the newest.
let moto: Moto;
let gcs: FakeGcs | undefined;
const gcsMissing = missingFakeGcs();
if (gcsMissing) console.warn(`snapshot [gs://]: skipped: ${gcsMissing}`);

beforeAll(async () => {
  [moto, gcs] = await Promise.all([startMoto(), gcsMissing ? Promise.resolve(undefined) : startFakeGcs()]);
  await fetch(`${moto.endpoint}/vb-snapshots`, { method: 'PUT' });
  await gcs?.createBucket('vb-snapshots');
}, 60_000);

afterAll(async () => {
  await Promise.all([moto?.stop(), gcs?.stop()]);
});

function objectStoreEnv(): Record<string, string> {
  return cleanEnv({ ...moto.env, AWS_ENDPOINT_URL_S3: moto.endpoint, ...(gcs?.env ?? {}) });
}

describeEachServer('snapshot', (kind: ServerKind) => {
  let nodes: TestServer[];
  let store: FileStore;
  let storeDirectory: string;
  let work: string;
  const args = (node: TestServer, command: string, ...extra: string[]) => [
    command,
    ...(command === 'run' ? ['--once'] : []),
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    node.address,
    ...extra,
  ];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-snapshot-'));
    storeDirectory = join(work, 'store');
    store = new FileStore(storeDirectory);
    nodes = await TestServer.createCluster(2, { kind });
    await Promise.all(nodes.map((node) => node.start()));
    for (const node of nodes) {
      const result = await runCli(args(node, 'run'));
      expect(result.code, result.stdout + result.stderr).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  });

  it('a standby is refused by name and nothing becomes visible', async () => {
    const directory = join(work, 'standby');
    const result = await runCli(args(nodes[1]!, 'snapshot', '--snapshot-to', `file://${directory}`));
    expect(result.code).toBe(1);
    expect(logLines(result.stderr).find((line) => line.event === 'failed')).toMatchObject({
      error: { code: 'SNAPSHOT_NOT_ACTIVE' },
    });
    expect((await readCatalog(new FileObjectStore(directory, 'file'))).snapshots).toEqual([]);
  }, 60_000);

  const targets = [
    { scheme: 'file', to: () => `file://${join(work, 'file-target')}` },
    { scheme: 's3', to: () => 's3://vb-snapshots/' + kind + '/daily' },
    ...(gcsMissing ? [] : [{ scheme: 'gs', to: () => 'gs://vb-snapshots/' + kind + '/daily' }]),
  ];
  for (const target of targets) {
    it(`${target.scheme}://: streamed, verified, paired with the keys version, retention keeps the newest`, async () => {
      const taken: Array<Record<string, any>> = [];
      for (let round = 0; round < 3; round += 1) {
        const result = await runCli(
          args(nodes[0]!, 'snapshot', '--snapshot-to', target.to(), '--snapshot-retain', '2'),
          objectStoreEnv(),
        );
        expect(result.code, result.stdout + result.stderr).toBe(0);
        taken.push(JSON.parse(result.stdout));
      }
      const health = (await (await fetch(`${nodes[0]!.address}/v1/sys/health`)).json()) as { cluster_id: string };
      const keysVersion = (await store.readAllVersions('vault-unseal-keys')).length;
      for (const each of taken) expect(each).toMatchObject({ keysVersion, clusterId: health.cluster_id });
      // The third run's retention removed the first; the newest two remain, each whole.
      expect(taken[2]!.removed).toEqual([taken[0]!.id]);
      const listed = await runCli(
        args(nodes[0]!, 'snapshot', '--snapshot-to', target.to(), '--snapshot-retain', '1'),
        objectStoreEnv(),
      );
      expect(listed.code).toBe(0);
      const newest = JSON.parse(listed.stdout);
      expect(newest.removed.sort()).toEqual([taken[1]!.id, taken[2]!.id].sort());
      const events0 = events(listed.stderr, 'snapshot-published');
      expect(events0).toHaveLength(1);
      expectNoSecretIn(capturedOutput, await secretValuesIn(store));
    }, 90_000);
  }

  it('file://: the data object matches its manifest (gzip, size, sha256), and only manifests count', async () => {
    const directory = join(work, 'verify');
    const result = await runCli(args(nodes[0]!, 'snapshot', '--snapshot-to', `file://${directory}`));
    expect(result.code, result.stderr).toBe(0);
    const { id } = JSON.parse(result.stdout);
    const manifest = JSON.parse(await readFile(join(directory, `${id}.manifest.json`), 'utf8'));
    const data = await readFile(join(directory, `${id}.snap`));
    expect([data[0], data[1]]).toEqual([0x1f, 0x8b]);
    const keysVersion = (await store.readAllVersions('vault-unseal-keys')).length;
    expect(manifest).toMatchObject({
      format: 1,
      id,
      object: `${id}.snap`,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      sealType: 'shamir',
      keysVersion,
      server: { kind },
    });
  }, 60_000);

  it('killed after the upload, before the manifest: nothing is visible; the next run publishes its own', async () => {
    const directory = join(work, 'killed');
    const killed = await startCli(
      args(nodes[0]!, 'snapshot', '--snapshot-to', `file://${directory}`),
      cleanEnv({ VB_TEST_CRASH_AT: 'snapshot-uploaded' }),
      ['--import', CRASH_HOOK],
    ).result;
    expect(killed.signal).toBe('SIGKILL');
    const catalog = await readCatalog(new FileObjectStore(directory, 'file'));
    expect(catalog.snapshots).toEqual([]);
    expect(catalog.orphans).toHaveLength(1);
    const again = await runCli(args(nodes[0]!, 'snapshot', '--snapshot-to', `file://${directory}`));
    expect(again.code).toBe(0);
    expect((await readCatalog(new FileObjectStore(directory, 'file'))).snapshots.map((each) => each.id)).toEqual([
      JSON.parse(again.stdout).id,
    ]);
    expect((await readdir(directory)).filter((name) => name.startsWith('.partial-'))).toEqual([]);
  }, 60_000);
});

describe('snapshot: bad input', () => {
  it.each([
    [['--snapshot-to', 'ftp://x/y'], '--snapshot-to'],
    [['--snapshot-to', 's3://A_/x'], '--snapshot-to'],
    [['--snapshot-to', 's3://bucket/p', '--snapshot-retain', '0'], '--snapshot-retain'],
    [['--snapshot-retain', '3'], '--snapshot-retain'],
    [[], '--snapshot-to'],
  ])('%j: one line naming %s, exit 2', async (extra, named) => {
    const result = await runCli(['snapshot', '--store', 'file', '--file-dir', '/nonexistent/vb', ...extra]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(named);
  });

  it('file:// is refused inside Kubernetes', async () => {
    const result = await runCli(
      ['snapshot', '--store', 'aws', '--snapshot-to', 'file:///tmp/x'],
      cleanEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--snapshot-to');
  });
});
