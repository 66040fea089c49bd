import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, events, logLines, runCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { MotoKms } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { until } from '../../harness/poll.js';
import { missingServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const missing = missingServer('openbao-2.6') ?? missingServer('openbao');

/**
 * The downgrade guard on real releases: OpenBao 2.6.2 → 2.7.2 over the same raft storage is an
 * upgrade (recorded in the keys record), 2.7.2 → 2.6.2 a downgrade, refused by the loop (sealed
 * or unsealed) and by the one-shot commands that change storage with the keys, with nothing changed.
 */
describe.skipIf(missing !== undefined)('downgrade guard: OpenBao 2.7.2 data is not opened by 2.6.2', () => {
  let server: OpenBao;
  let store: FileStore;
  let storeDirectory: string;
  let moto: Moto | undefined;
  let kms: MotoKms | undefined;
  const storeArgs = () => ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];
  const keysRecord = async () => JSON.parse(await store.readLatest('vault-unseal-keys'));
  const keyVersions = async () => (await store.readAllVersions('vault-unseal-keys')).length;

  beforeAll(async () => {
    server = await OpenBao.start({ build: 'openbao-2.6' });
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-downgrade-')), 'store');
    store = new FileStore(storeDirectory);
  });

  afterAll(async () => {
    await server?.stop();
    await kms?.faults.stop();
    await moto?.stop();
    const secrets = await secretValuesIn(store);
    expectNoSecretIn(capturedOutput, secrets);
  });

  it('records the release a fresh cluster first ran, with its cluster id', async () => {
    const result = await runCli(['run', '--once', ...storeArgs()]);
    expect(result.code, result.stdout).toBe(0);
    const health = await baoRequest(server, 'GET', 'sys/health');
    expect(await keysRecord()).toMatchObject({
      clusterId: health.body.cluster_id,
      highestServer: { kind: 'openbao', version: '2.6.2' },
    });
  });

  it('an upgrade to 2.7.2 unseals as usual and raises the record', async () => {
    await server.stop();
    server.useBuild('openbao');
    await server.start();
    const unsealed = await runCli(['run', '--once', ...storeArgs()]);
    expect(unsealed.code, unsealed.stdout).toBe(0);
    // Only the active node records (it writes the storage): --once may end while the node is still a standby.
    await until('the node becomes active', async () =>
      (await baoRequest(server, 'GET', 'sys/health')).status === 200 ? true : undefined,
    );
    const result = await runCli(['run', '--once', ...storeArgs()]);
    expect(result.code, result.stdout).toBe(0);
    expect(events(`${unsealed.stdout}${result.stdout}`, 'server-version-recorded')).toMatchObject([
      { server: 'openbao', version: '2.7.2' },
    ]);
    expect((await keysRecord()).highestServer).toMatchObject({ kind: 'openbao', version: '2.7.2' });
  });

  it('2.6.2 over that storage: run --once exits 2 with the blocker, the node stays sealed, nothing is written', async () => {
    await server.stop();
    server.useBuild('openbao-2.6');
    await server.start();
    const before = await keyVersions();
    const result = await runCli(['run', '--once', ...storeArgs()]);
    expect(result.code, result.stdout).toBe(2);
    expect(
      logLines(result.stdout)
        .filter((line) => line.event === 'blocked')
        .map((line) => line.blocker),
    ).toEqual(['server-downgrade']);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
    expect(await keyVersions()).toBe(before);
    const plan = await runCli(['plan', '--json', ...storeArgs()]);
    expect(JSON.parse(plan.stdout)).toMatchObject({ action: { kind: 'hold', blocker: 'server-downgrade' } });
  });

  it('unsealed by hand: the loop does not configure it, rotate-keys and generate-root exit 2 with one line', async () => {
    const { keysBase64 } = await keysRecord();
    for (const key of keysBase64 as string[]) {
      const answer = await baoRequest(server, 'PUT', 'sys/unseal', undefined, { key });
      if (answer.body.sealed === false) break;
    }
    const before = await keyVersions();
    const rootBefore = await store.readLatest('vault-root-token');
    const once = await runCli(['run', '--once', ...storeArgs()]);
    expect(once.code, once.stdout).toBe(2);
    expect(events(once.stdout, 'blocked').map((line) => line.blocker)).toEqual(['server-downgrade']);
    for (const command of ['rotate-keys', 'generate-root']) {
      const result = await runCli([command, ...storeArgs()]);
      expect(result.code, `${command}: ${result.stdout}${result.stderr}`).toBe(2);
      const refusal = `${result.stdout}${result.stderr}`;
      expect(refusal).toContain(`${command}: this server runs OpenBao 2.6.2, older than 2.7.2`);
    }
    expect(await keyVersions()).toBe(before);
    expect(await store.readLatest('vault-root-token')).toBe(rootBefore);
  });

  it("the KMS overlays' 2.6.2 with an awskms stanza over that storage: the sidecar holds, migrate-seal exits 2, nothing moves", async () => {
    await server.stop();
    moto = await startMoto();
    kms = await MotoKms.start(moto);
    await server.changeSeal(await kms.seal());
    await server.start();
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({ sealed: true, migration: true });
    const before = await keyVersions();
    const once = await runCli(['run', '--once', ...storeArgs()]);
    expect(once.code, once.stdout).toBe(2);
    expect(events(once.stdout, 'blocked').map((line) => line.blocker)).toEqual(['server-downgrade']);
    const migrate = await runCli(['migrate-seal', ...storeArgs()]);
    expect(migrate.code, `${migrate.stdout}${migrate.stderr}`).toBe(2);
    expect(`${migrate.stdout}${migrate.stderr}`).toContain(
      'migrate-seal: this server runs OpenBao 2.6.2, older than 2.7.2',
    );
    expect(await keyVersions()).toBe(before);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({ sealed: true, migration: true });
  });
});
