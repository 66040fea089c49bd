import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, logLines, runCli, startCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { describeEachServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/** A server initialized by hand, not by us: its own keys, its own cluster. */
async function initializedOnItsOwn(
  server: OpenBao,
  autoUnseal = false,
): Promise<{ keys: string[]; rootToken: string }> {
  const request = autoUnseal
    ? { recovery_shares: 1, recovery_threshold: 1 }
    : { secret_shares: 1, secret_threshold: 1 };
  const answer = (await baoRequest(server, 'PUT', 'sys/init', undefined, request)).body;
  return { keys: autoUnseal ? answer.recovery_keys_base64 : answer.keys_base64, rootToken: answer.root_token };
}

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describeEachServer('guards: a node our keys do not belong to is never acted on', (kind) => {
  const servers: OpenBao[] = [];
  let storeDirectory: string;
  const storeArgs = () => ['--store', 'file', '--file-dir', storeDirectory];

  beforeAll(async () => {
    const home = await OpenBao.start({ kind });
    servers.push(home);
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-guards-')), 'store');
    const result = await runCli(['run', '--once', ...storeArgs(), '--vault-addr', home.address]);
    expect(result.code, result.stdout).toBe(0);
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  /**
   * run --once, status --json and a sidecar's /metrics all name the same blocker. Keys the server
   * refuses are learned only by trying them: status (a fresh look) then predicts the unseal attempt.
   */
  async function expectGuard(server: OpenBao, blocker: string, statusSays: string | null = blocker): Promise<void> {
    const once = await runCli(['run', '--once', ...storeArgs(), '--vault-addr', server.address]);
    expect(once.code, once.stdout).toBe(1);
    expect(
      logLines(once.stdout)
        .filter((line) => line.event === 'blocked')
        .map((line) => line.blocker),
    ).toEqual([blocker]);
    const status = await runCli(['status', '--json', ...storeArgs(), '--vault-addr', server.address]);
    expect(JSON.parse(status.stdout).decision.blocker).toBe(statusSays);
    const port = await freePort();
    const sidecar = startCli([
      'run',
      ...storeArgs(),
      '--vault-addr',
      server.address,
      '--listen',
      `127.0.0.1:${port}`,
      '--interval',
      '1s',
    ]);
    await sidecar.waitFor('"event":"listening"');
    await expect
      .poll(() => metric(port, `vault_bootstrap_blocked{reason="${blocker}"}`), { timeout: 20_000, interval: 100 })
      .toBe(1);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    sidecar.child.kill('SIGTERM');
    expect((await sidecar.result).code).toBe(0);
  }

  it('records the cluster id with the keys once the cluster is first unsealed', async () => {
    const keys = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-unseal-keys'));
    const health = await baoRequest(servers[0]!, 'GET', 'sys/health');
    expect(keys.clusterId).toBe(health.body.cluster_id);
  });

  it('split brain: a node that initialized its own cluster is cluster-mismatch, never configured', async () => {
    const stray = await OpenBao.start({ kind });
    servers.push(stray);
    const own = await initializedOnItsOwn(stray);
    expect((await baoRequest(stray, 'PUT', 'sys/unseal', undefined, { key: own.keys[0] })).body.sealed).toBe(false);
    await expectGuard(stray, 'cluster-mismatch');
    expect((await baoRequest(stray, 'GET', 'sys/policies/acl/provisioner', own.rootToken)).status).toBe(404);
    expect((await baoRequest(stray, 'GET', 'auth/token/roles/provisioner', own.rootToken)).status).toBe(404);
  });

  it('stored keys that do not open a sealed node: keys-rejected, and never an init', async () => {
    const stranger = await OpenBao.start({ kind });
    servers.push(stranger);
    await initializedOnItsOwn(stranger);
    await expectGuard(stranger, 'keys-rejected', null);
    expect((await baoRequest(stranger, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
  });

  it('an auto-unseal node (static or transit seal) facing a Shamir keys record: seal-mismatch, no key submitted', async () => {
    const autoUnsealed = await OpenBao.start({ kind, seal: 'auto' });
    servers.push(autoUnsealed);
    const own = await initializedOnItsOwn(autoUnsealed, true);
    await expect
      .poll(async () => (await baoRequest(autoUnsealed, 'GET', 'sys/health')).status, { timeout: 20_000 })
      .toBe(200);
    await expectGuard(autoUnsealed, 'seal-mismatch');
    expect((await baoRequest(autoUnsealed, 'GET', 'sys/policies/acl/provisioner', own.rootToken)).status).toBe(404);
  });

  it('no key or token value appears in any output', async () => {
    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  });
});
