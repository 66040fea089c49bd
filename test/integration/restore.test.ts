import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { capturedOutput, cleanEnv, logLines, runCli, startCli } from '../../harness/cli.js';
import { CRASH_HOOK, storedRootToken } from '../../harness/keys.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { FileStore } from '../../src/store/file.js';
import { describeEachServer, serverRequest, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// SPEC §12: an empty server brought back from a verified snapshot and the keys version it names;
// a kill at every step resumes; a corrupted object is refused before anything changes.
let moto: Moto;
const servers: TestServer[] = [];

beforeAll(async () => {
  moto = await startMoto();
  await fetch(`${moto.endpoint}/vb-restore`, { method: 'PUT' });
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function started(kind: ServerKind): Promise<TestServer> {
  const server = await TestServer.create({ kind });
  await server.start();
  servers.push(server);
  return server;
}

const failure = (stderr: string) =>
  logLines(stderr).find((line) => line.event === 'failed') as { error?: { code?: string } } | undefined;

describeEachServer('restore', (kind: ServerKind) => {
  let work: string;
  let store: FileStore;
  let storeDirectory: string;
  let original: {
    clusterId: string;
    keysVersion: number;
    latestKeysVersion: number;
    snapshotTo: string;
    fileTarget: string;
    drTarget: string;
  };
  const args = (server: TestServer, command: string, ...extra: string[]) => [
    command,
    ...(command === 'run' ? ['--once'] : []),
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    ...extra,
  ];
  const env = () => cleanEnv({ ...moto.env, AWS_ENDPOINT_URL_S3: moto.endpoint });

  // The lost cluster: initialized, data written, a snapshot taken (S3 and file), then its keys rotated.
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-restore-'));
    storeDirectory = join(work, 'store');
    store = new FileStore(storeDirectory);
    const lost = await TestServer.create({ kind });
    await lost.start();
    try {
      expect((await runCli(args(lost, 'run'))).code).toBe(0);
      const root = await storedRootToken(store);
      expect((await serverRequest(lost, 'POST', 'sys/mounts/secret', root, { type: 'kv' })).status).toBeLessThan(300);
      expect((await serverRequest(lost, 'PUT', 'secret/dr', root, { value: 'back' })).status).toBeLessThan(300);
      const snapshotTo = `s3://vb-restore/${kind}`;
      const fileTarget = `file://${join(work, 'snapshots')}`;
      const taken = await runCli(args(lost, 'snapshot', '--snapshot-to', snapshotTo), env());
      expect(taken.code, taken.stderr).toBe(0);
      expect((await runCli(args(lost, 'snapshot', '--snapshot-to', fileTarget))).code).toBe(0);
      // The 3-node DR restores a snapshot of its own (a snapshot's restore record is per snapshot).
      const drTarget = `file://${join(work, 'dr-snapshots')}`;
      expect((await runCli(args(lost, 'snapshot', '--snapshot-to', drTarget))).code).toBe(0);
      // rotate-keys with --snapshot-to takes one first, paired with the keys version before the rotation.
      const beforeRotation = join(work, 'before-rotation');
      const rotated = await runCli(args(lost, 'rotate-keys', '--snapshot-to', `file://${beforeRotation}`));
      expect(rotated.code, rotated.stderr).toBe(0);
      const first = logLines(rotated.stderr).find((line) => line.event === 'snapshot-before-change');
      expect(first).toMatchObject({ keysVersion: JSON.parse(taken.stdout).keysVersion });
      expect((await readdir(beforeRotation)).filter((name) => name.endsWith('.manifest.json'))).toEqual([
        `${first!.id as string}.manifest.json`,
      ]);
      original = {
        clusterId: JSON.parse(taken.stdout).clusterId,
        keysVersion: JSON.parse(taken.stdout).keysVersion,
        latestKeysVersion: (await store.readAllVersions('vault-unseal-keys')).length,
        snapshotTo,
        fileTarget,
        drTarget,
      };
      expect(original.latestKeysVersion).toBeGreaterThan(original.keysVersion);
    } finally {
      await lost.stop();
      await rm(lost.directory, { recursive: true, force: true });
    }
  }, 180_000);

  it("from S3 into an empty server, after the keys were rotated: the snapshot's keys version unseals it; data, cluster id and CI token are back; run converges", async () => {
    const server = await started(kind);
    const result = await runCli(args(server, 'restore', '--snapshot-to', original.snapshotTo), env());
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      keysVersion: original.keysVersion,
      clusterId: original.clusterId,
      resumed: false,
    });
    const health = await serverRequest(server, 'GET', 'sys/health');
    expect(health.body).toMatchObject({ initialized: true, sealed: false, cluster_id: original.clusterId });
    const root = await storedRootToken(store);
    expect((await serverRequest(server, 'GET', 'secret/dr', root)).body.data).toEqual({ value: 'back' });
    const ci = JSON.parse(await store.readLatest('vault-provisioner-token')).token as string;
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', ci)).status).toBe(200);
    const converged = await runCli(args(server, 'run'));
    expect(converged.code, converged.stderr).toBe(0);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 120_000);

  it('a corrupted object is refused by name before anything changes', async () => {
    const directory = join(work, 'corrupt');
    const source = join(work, 'snapshots');
    await rm(directory, { recursive: true, force: true });
    await import('node:fs/promises').then(({ cp }) => cp(source, directory, { recursive: true }));
    const data = (await readdir(directory)).find((name) => name.endsWith('.snap'))!;
    const bytes = await readFile(join(directory, data));
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    await writeFile(join(directory, data), bytes);
    const server = await started(kind);
    const result = await runCli(args(server, 'restore', '--snapshot-to', `file://${directory}`));
    expect(result.code).toBe(1);
    expect(failure(result.stderr)?.error?.code).toBe('SNAPSHOT_INVALID');
    expect((await serverRequest(server, 'GET', 'sys/health')).body.initialized).toBe(false);
  }, 60_000);

  // Every step on OpenBao; on Vault the two where it differs (its silence after a force-restore), to keep the suite short.
  const steps =
    kind === 'openbao'
      ? ['restore-recorded', 'restore-throwaway-initialized', 'restore-snapshot-restored', 'restore-unsealed']
      : ['restore-snapshot-restored', 'restore-unsealed'];
  for (const step of steps) {
    it(`killed at ${step} (spool on tmpfs): the next run resumes and finishes, one cluster, the original one`, async () => {
      const server = await started(kind);
      const spool = await mkdtemp('/dev/shm/vb-restore-spool-');
      try {
        const restoreArgs = args(server, 'restore', '--snapshot-to', original.fileTarget, '--spool-dir', spool);
        const killed = await startCli(restoreArgs, cleanEnv({ VB_TEST_CRASH_AT: step }), ['--import', CRASH_HOOK])
          .result;
        expect(killed.signal).toBe('SIGKILL');
        const again = await runCli(restoreArgs);
        expect(again.code, again.stderr).toBe(0);
        expect(JSON.parse(again.stdout)).toMatchObject({
          clusterId: original.clusterId,
          keysVersion: original.keysVersion,
        });
        expect((await serverRequest(server, 'GET', 'sys/health')).body).toMatchObject({
          sealed: false,
          cluster_id: original.clusterId,
        });
        expect(await readdir(spool)).toEqual([]);
      } finally {
        await rm(spool, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it('killed after the throwaway init without a spool: RESTORE_INTERRUPTED, named, with the way out', async () => {
    const server = await started(kind);
    const restoreArgs = args(server, 'restore', '--snapshot-to', original.fileTarget);
    const killed = await startCli(restoreArgs, cleanEnv({ VB_TEST_CRASH_AT: 'restore-throwaway-initialized' }), [
      '--import',
      CRASH_HOOK,
    ]).result;
    expect(killed.signal).toBe('SIGKILL');
    const again = await runCli(restoreArgs);
    expect(again.code).toBe(1);
    expect(failure(again.stderr)?.error?.code).toBe('RESTORE_INTERRUPTED');
  }, 60_000);

  it('DR from nothing, 3 nodes, run --restore on every replica: one restores, the others join; data, the original cluster id and the CI token are back', async () => {
    const nodes = await TestServer.createCluster(3, { kind });
    servers.push(...nodes);
    await Promise.all(nodes.map((node) => node.start()));
    const runs = await Promise.all(
      nodes.map((node, index) =>
        runCli(
          args(node, 'run', '--restore', '--snapshot-to', original.drTarget, '--timeout', '3m'),
          cleanEnv({ POD_NAME: `openbao-${index}` }),
        ),
      ),
    );
    for (const run of runs)
      expect(
        run.code,
        run.stdout
          .split('\n')
          .filter((line) => /"event":"(restore-[a-z-]+|failed|state|blocked)"/.test(line))
          .map((line) => line.slice(0, 400))
          .join('\n'),
      ).toBe(0);
    expect(runs.filter((run) => logLines(run.stdout).some((line) => line.event === 'restore-done'))).toHaveLength(1);
    const root = await storedRootToken(store);
    const ci = JSON.parse(await store.readLatest('vault-provisioner-token')).token as string;
    for (const node of nodes) {
      expect((await serverRequest(node, 'GET', 'sys/health')).body).toMatchObject({
        sealed: false,
        cluster_id: original.clusterId,
      });
      expect((await serverRequest(node, 'GET', 'secret/dr', root)).body.data).toEqual({ value: 'back' });
      expect((await serverRequest(node, 'GET', 'auth/token/lookup-self', ci)).status).toBe(200);
    }
  }, 240_000);
});
