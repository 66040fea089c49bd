import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, cleanEnv, logLines, startCli, type RunningCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

async function probe(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

async function metric(port: number, series: string): Promise<number> {
  const text = (await probe(port, '/metrics')).text;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function storedToken(store: FileStore, name: string): Promise<string> {
  return JSON.parse(await store.readLatest(name)).token as string;
}

/** A sidecar on its own store directory and probe port, run the whole time of a test; drift shows at a reconcile, every 2 s here. */
async function startSidecar(
  server: OpenBao,
  extraArgs: string[],
  options: { honourFileModes?: boolean; policiesDirectory?: string } = {},
) {
  const directory = await mkdtemp(join(tmpdir(), 'vb-reconcile-'));
  const storeDirectory = join(directory, 'store');
  const port = await freePort();
  const args = [
    'run',
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    '--listen',
    `127.0.0.1:${port}`,
    '--interval',
    '1s',
    '--reconcile-interval',
    '2s',
    ...extraArgs,
  ];
  if (options.policiesDirectory) args.push('--policies-dir', options.policiesDirectory);
  const cli = startCli(args, cleanEnv({ HOME: directory }), [], { honourFileModes: options.honourFileModes });
  await cli.waitFor('"event":"listening"');
  return { cli, port, store: new FileStore(storeDirectory), storeDirectory, directory };
}

/** What each test started, stopped after the file whatever happened. */
const running: Array<{ cli?: RunningCli; server?: OpenBao }> = [];

afterAll(async () => {
  for (const { cli, server } of running) {
    cli?.child.kill('SIGTERM');
    await cli?.result;
    await server?.stop();
  }
});

describe('the sidecar reconciles: drift is repaired and nothing is trusted from memory', () => {
  it('puts back a deleted policy, replaces a revoked provisioner token, and after a wipe (--allow-reinit) says ready only once the new server is configured', async () => {
    const server = await OpenBao.start();
    const sidecar = await startSidecar(server, ['--allow-reinit']);
    running.push({ server, cli: sidecar.cli });
    const { cli, port, store } = sidecar;
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 60_000, interval: 50 }).toBe(200);
    const root = await storedToken(store, 'vault-root-token');

    // Someone deletes the provisioner policy: written again, counted as a drift repair.
    expect((await baoRequest(server, 'DELETE', 'sys/policies/acl/provisioner', root)).status).toBe(204);
    await expect
      .poll(async () => (await baoRequest(server, 'GET', 'sys/policies/acl/provisioner', root)).status, {
        timeout: 10_000,
        interval: 50,
      })
      .toBe(200);
    await expect
      .poll(() => metric(port, 'vault_bootstrap_drift_repairs_total{kind="policy"}'), { timeout: 5_000 })
      .toBe(1);

    // Someone revokes the provisioner token: a new one is issued and stored.
    const revoked = await storedToken(store, 'vault-provisioner-token');
    expect((await baoRequest(server, 'POST', 'auth/token/revoke-self', revoked)).status).toBe(204);
    await expect
      .poll(() => storedToken(store, 'vault-provisioner-token'), { timeout: 10_000, interval: 50 })
      .not.toBe(revoked);
    expect(
      (await baoRequest(server, 'GET', 'auth/token/lookup-self', await storedToken(store, 'vault-provisioner-token')))
        .status,
    ).toBe(200);
    expect(await metric(port, 'vault_bootstrap_drift_repairs_total{kind="provisioner-token"}')).toBe(1);
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 10_000, interval: 50 }).toBe(200);

    // The volume is lost: the server comes back empty. Not ready until the new server is configured.
    await server.stop();
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 10_000, interval: 20 }).toBe(503);
    await rm(server.dataDirectory, { recursive: true, force: true });
    await server.start();
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 60_000, interval: 20 }).toBe(200);
    const newRoot = await storedToken(store, 'vault-root-token');
    expect(newRoot).not.toBe(root);
    for (const policy of ['admin', 'provisioner'])
      expect((await baoRequest(server, 'GET', `sys/policies/acl/${policy}`, newRoot)).status).toBe(200);
    expect(
      (await baoRequest(server, 'GET', 'auth/token/lookup-self', await storedToken(store, 'vault-provisioner-token')))
        .status,
    ).toBe(200);
    // Both clusters' keys stay (each init, then the version recording its cluster id); the latest names the new cluster.
    const keyVersions = (await store.readAllVersions('vault-unseal-keys')).map((text) => JSON.parse(text));
    expect(keyVersions).toHaveLength(4);
    expect(keyVersions[3].clusterId).toBe((await baoRequest(server, 'GET', 'sys/health')).body.cluster_id);
    expect(keyVersions[1].clusterId).not.toBe(keyVersions[3].clusterId);
    // A new cluster is set up, not repaired: the drift counters did not move.
    expect(await metric(port, 'vault_bootstrap_drift_repairs_total{kind="policy"}')).toBe(1);

    cli.child.kill('SIGTERM');
    expect((await cli.result).code).toBe(0);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });
});

describe('what needs a person keeps the sidecar alive and not ready, and says why', () => {
  it('a policy the server rejects: the others are written, not ready naming the file; fixed file → ready; then a denied store: alive, blocked, and still serving (ready)', async () => {
    const server = await OpenBao.start();
    running.push({ server });
    const policiesDirectory = await mkdtemp(join(tmpdir(), 'vb-policies-'));
    const brokenFile = join(policiesDirectory, 'broken.hcl');
    // Passes our local check; the server refuses the duration.
    await writeFile(
      brokenFile,
      'path "secret/*" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "not-a-duration"\n}\n',
    );
    const sidecar = await startSidecar(server, [], { honourFileModes: true, policiesDirectory });
    running.push({ cli: sidecar.cli });
    const { cli, port, store } = sidecar;

    await expect
      .poll(() => metric(port, 'vault_bootstrap_blocked{reason="policy-rejected"}'), { timeout: 60_000, interval: 100 })
      .toBe(1);
    const readyz = await probe(port, '/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.text).toContain(brokenFile);
    expect((await probe(port, '/healthz')).status).toBe(200);
    const root = await storedToken(store, 'vault-root-token');
    for (const policy of ['admin', 'provisioner'])
      expect((await baoRequest(server, 'GET', `sys/policies/acl/${policy}`, root)).status).toBe(200);
    expect((await baoRequest(server, 'GET', 'sys/policies/acl/broken', root)).status).toBe(404);
    expect(logLines(cli.output()).filter((line) => line.blocker === 'policy-rejected')).toHaveLength(1);

    await writeFile(brokenFile, 'path "secret/*" {\n  capabilities = ["read"]\n  min_wrapping_ttl = "1m"\n}\n');
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 15_000, interval: 100 }).toBe(200);
    expect(await metric(port, 'vault_bootstrap_blocked{reason="policy-rejected"}')).toBe(0);

    // The store starts denying (as a revoked IAM grant would): alive, blocked, one log line; the
    // unsealed, configured node stays in the Services (readiness gates serving, not the store).
    await chmod(join(sidecar.storeDirectory, 'vault-unseal-keys'), 0o000);
    await expect
      .poll(() => metric(port, 'vault_bootstrap_blocked{reason="store-denied"}'), { timeout: 15_000, interval: 100 })
      .toBe(1);
    expect(await probe(port, '/readyz')).toMatchObject({
      status: 200,
      text: expect.stringMatching(/^serving; blocked: .*EACCES/),
    });
    expect((await probe(port, '/healthz')).status).toBe(200);
    expect(cli.child.exitCode).toBeNull();
    expect(logLines(cli.output()).filter((line) => line.blocker === 'store-denied')).toHaveLength(1);
    await chmod(join(sidecar.storeDirectory, 'vault-unseal-keys'), 0o700);

    cli.child.kill('SIGTERM');
    expect((await cli.result).code).toBe(0);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });
});
