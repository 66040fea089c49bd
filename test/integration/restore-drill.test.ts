import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, logLines, runCli, startCli } from '../../harness/cli.js';
import { until } from '../../harness/poll.js';
import { FileStore } from '../../src/store/file.js';
import { describeEachServer, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// SPEC §12, restore-drill: the newest snapshot restored into an empty throwaway server, unsealed
// with the keys version it names (the keys were rotated since), checked, recorded as passed; the
// store only read; a live server and a corrupted object refused; the active node's sidecar
// publishes vault_bootstrap_last_verified_restore_timestamp_seconds from the record.
const failure = (stderr: string) =>
  logLines(stderr).find((line) => line.event === 'failed') as { error?: { code?: string } } | undefined;

/** Every file of the store, name → sha256: the drill must leave it as it found it. */
async function storeFingerprint(directory: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  for (const name of (await readdir(directory, { recursive: true })).sort()) {
    const path = join(directory, name);
    if ((await stat(path)).isFile())
      entries[name] = createHash('sha256')
        .update(await readFile(path))
        .digest('hex');
  }
  return entries;
}

describeEachServer('restore-drill', (kind: ServerKind) => {
  let work: string;
  let store: FileStore;
  let storeDirectory: string;
  let source: TestServer;
  let snapshots: string;
  let taken: { id: string; keysVersion: number; clusterId: string };
  const throwaways: TestServer[] = [];
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

  async function throwaway(): Promise<TestServer> {
    const server = await TestServer.create({ kind });
    await server.start();
    throwaways.push(server);
    return server;
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-drill-'));
    storeDirectory = join(work, 'store');
    store = new FileStore(storeDirectory);
    snapshots = join(work, 'snapshots');
    source = await TestServer.create({ kind });
    await source.start();
    expect((await runCli(args(source, 'run'))).code).toBe(0);
    const result = await runCli(args(source, 'snapshot', '--snapshot-to', `file://${snapshots}`));
    expect(result.code, result.stderr).toBe(0);
    taken = JSON.parse(result.stdout);
    // Rotated after the snapshot: the drill must unseal with the version the snapshot names.
    const rotated = await runCli(args(source, 'rotate-keys'));
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await store.readAllVersions('vault-unseal-keys')).length).toBeGreaterThan(taken.keysVersion);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([source, ...throwaways].map((server) => server?.stop()));
  });

  it('waits for its throwaway server, restores the newest snapshot into it while empty, unseals it with its keys version, checks it; the store is only read', async () => {
    const before = await storeFingerprint(storeDirectory);
    // Started before its server, as in its CronJob's pod: the drill waits for it to answer.
    const server = await TestServer.create({ kind });
    throwaways.push(server);
    const drill = startCli(args(server, 'restore-drill', '--snapshot-to', `file://${snapshots}`));
    await server.start();
    const result = await drill.result;
    expect(result.code, result.stderr).toBe(0);
    const verified = JSON.parse(result.stdout);
    expect(verified).toMatchObject({
      snapshot: taken.id,
      clusterId: taken.clusterId,
      keysVersion: taken.keysVersion,
      checks: [
        'sha256',
        `unsealed-with-keys-version-${taken.keysVersion}`,
        'cluster-id',
        'management-token-accepted',
        'policies',
        'token-role',
      ],
    });
    const health = (await (await fetch(`${server.address}/v1/sys/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ initialized: true, sealed: false, cluster_id: taken.clusterId });
    expect(JSON.parse(await readFile(join(snapshots, 'verified-restore.json'), 'utf8'))).toEqual(verified);
    expect(await storeFingerprint(storeDirectory)).toEqual(before);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 120_000);

  it('the active sidecar publishes the last verified restore from the record', async () => {
    const port = await freePort();
    const sidecar = startCli([
      ...args(source, 'run').filter((arg) => arg !== '--once'),
      '--listen',
      `127.0.0.1:${port}`,
      '--snapshot-to',
      `file://${snapshots}`,
      '--snapshot-interval',
      '24h',
    ]);
    try {
      const verifiedAt = JSON.parse(await readFile(join(snapshots, 'verified-restore.json'), 'utf8')).verifiedAt;
      const published = await until('the verified restore on /metrics', async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const line = text
          .split('\n')
          .find((each) => each.startsWith('vault_bootstrap_last_verified_restore_timestamp_seconds '));
        const value = Number(line?.split(' ')[1]);
        return value > 0 ? value : undefined;
      });
      expect(published).toBe(Date.parse(verifiedAt) / 1000);
    } finally {
      sidecar.child.kill('SIGTERM');
      await sidecar.result;
    }
  }, 60_000);

  it('refuses a live server (never restores over data), changing nothing', async () => {
    const result = await runCli(args(source, 'restore-drill', '--snapshot-to', `file://${snapshots}`));
    expect(result.code).not.toBe(0);
    expect(failure(result.stderr)?.error?.code).toBe('RESTORE_REFUSED');
    const health = (await (await fetch(`${source.address}/v1/sys/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ sealed: false, cluster_id: taken.clusterId });
  }, 60_000);

  it('a corrupted snapshot object fails the drill by name before the server is touched; nothing is recorded', async () => {
    const corrupted = join(work, 'corrupted');
    await cp(snapshots, corrupted, { recursive: true });
    await rm(join(corrupted, 'verified-restore.json'));
    const data = join(corrupted, `${taken.id}.snap`);
    const bytes = await readFile(data);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(data, bytes);
    const server = await throwaway();
    const result = await runCli(args(server, 'restore-drill', '--snapshot-to', `file://${corrupted}`));
    expect(result.code).not.toBe(0);
    expect(failure(result.stderr)?.error?.code).toBe('SNAPSHOT_INVALID');
    const health = (await (await fetch(`${server.address}/v1/sys/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ initialized: false });
    await expect(readFile(join(corrupted, 'verified-restore.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  }, 60_000);
});
