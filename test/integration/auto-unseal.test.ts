import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { TEST_SERVER_TRAITS } from '../../harness/server-traits.js';
import { capturedOutput, runCli, transitions } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

// OpenBao: its static seal (a key file). Vault has none: its transit seal, whose key service is a
// second Vault in dev mode (harness/server-process.ts).
describeEachServer('auto-unseal', (kind) => {
  let server: TestServer;
  let proxy: RecordingProxy;
  let storeDirectory: string;
  const args = () => [
    'run',
    '--once',
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    proxy.address,
    '--recovery-shares',
    '4',
    '--recovery-threshold',
    '2',
  ];

  beforeAll(async () => {
    server = await TestServer.start({ kind, seal: 'auto' });
    proxy = await RecordingProxy.start(server.address);
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-auto-')), 'store');
  });

  afterAll(async () => {
    await proxy?.stop();
    await server?.stop();
  });

  it('initializes with recovery shares, stores them as type recovery, and never calls unseal', async () => {
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.type).toBe(
      TEST_SERVER_TRAITS[kind].testAutoUnsealSeal,
    );
    const result = await runCli(args());
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(transitions(result.stdout)).toContain('initializing');

    const keys = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-unseal-keys'));
    expect(keys).toMatchObject({ type: 'recovery', shares: 4, threshold: 2 });
    expect(keys.keysBase64).toHaveLength(4);

    // The server restarts unsealed by itself; a second run unseals nothing either.
    await server.restart();
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 20_000 })
      .toBe(200);
    const again = await runCli(args());
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(transitions(again.stdout)).not.toContain('initializing');

    expect(proxy.paths('PUT', 'sys/unseal')).toEqual([]);
    const init = proxy.paths('PUT', 'sys/init');
    expect(init).toHaveLength(1);
    expect(init[0]!.bodyFields).toEqual(['recovery_shares', 'recovery_threshold']);

    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  });
});
