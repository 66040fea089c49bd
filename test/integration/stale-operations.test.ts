import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, runCli } from '../../harness/cli.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

describeEachServer('stale key operations: reported by status and plan, cancelled by cancel-stale', (kind) => {
  let server: TestServer;
  let storeDirectory: string;
  const args = (command: string, ...extra: string[]) => [
    command,
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    ...extra,
  ];
  const rotationPath = kind === 'openbao' ? 'sys/rotate/root/init' : 'sys/rekey/init';

  beforeAll(async () => {
    server = await TestServer.create({ kind });
    if (kind === 'openbao') {
      // OpenBao ≥ 2.5.3 switches the unauthenticated generate-root endpoints off by default.
      const config = join(server.directory, 'server.hcl');
      await writeFile(
        config,
        (await readFile(config, 'utf8')).replace(
          'listener "tcp" {',
          'listener "tcp" {\n  disable_unauthed_generate_root_endpoints = false',
        ),
      );
    }
    await server.start();
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-stale-')), 'store');
    const converged = await runCli(['run', '--once', ...args('').slice(1)]);
    expect(converged.code, converged.stdout).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a rotation and a root generation started by someone else are reported, then cancelled', async () => {
    const root = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-root-token')).token as string;
    const method = kind === 'openbao' ? 'POST' : 'PUT';
    expect(
      (await serverRequest(server, method, rotationPath, root, { secret_shares: 3, secret_threshold: 2 })).status,
    ).toBe(200);
    expect((await serverRequest(server, 'PUT', 'sys/generate-root/attempt', undefined, {})).status).toBe(200);

    const status = await runCli(args('status', '--json'));
    expect(status.code, status.stderr).toBe(0);
    const reported = JSON.parse(status.stdout)
      .staleOperations.operations.map((operation: { operation: string }) => operation.operation)
      .sort();
    expect(reported).toEqual(['generate-root', 'rotation']);
    const plan = await runCli(args('plan'));
    expect(plan.stdout).toContain('vault-bootstrap cancel-stale');

    const cancelled = await runCli(args('cancel-stale', '--json'));
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout).cancelled).toHaveLength(2);
    const rotation = (await serverRequest(server, 'GET', rotationPath, root)).body;
    expect((rotation.data ?? rotation).started).toBe(false); // OpenBao wraps the answer in `data`
    expect((await serverRequest(server, 'GET', 'sys/generate-root/attempt')).body.started).toBe(false);
    expect(JSON.parse((await runCli(args('status', '--json'))).stdout).staleOperations.operations).toEqual([]);
    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  });
});
