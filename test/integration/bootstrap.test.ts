import { readFile, mkdtemp, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { serverKindOf } from '../../src/vault/servers.js';
import { TEST_SERVER_TRAITS } from '../../harness/server-traits.js';
import { capturedOutput, logLines, runCli, transitions } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, expectNoSecretInFiles, filesUnder, secretValuesIn } from '../helpers/secrets.js';

const SHIPPED = (name: string) => readFileSync(new URL(`../../policies/${name}.hcl`, import.meta.url), 'utf8');

/** Audit entries (requests) written after a given line count. */
async function auditRequestsAfter(
  server: TestServer,
  lineCount: number,
): Promise<Array<{ path: string; operation: string }>> {
  const lines = (await readFile(server.auditLog, 'utf8')).split('\n').filter(Boolean);
  return lines
    .slice(lineCount)
    .map((line) => JSON.parse(line) as { type: string; request: { path: string; operation: string } })
    .filter((entry) => entry.type === 'request')
    .map((entry) => ({ path: entry.request.path, operation: entry.request.operation }));
}

async function auditLineCount(server: TestServer): Promise<number> {
  return (await readFile(server.auditLog, 'utf8')).split('\n').filter(Boolean).length;
}

describeEachServer('a fresh Shamir server, end to end', (kind) => {
  let server: TestServer;
  let workDirectory: string;
  let storeDirectory: string;
  let store: FileStore;
  const args = () => ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];

  beforeAll(async () => {
    server = await TestServer.start({ kind, audit: true });
    workDirectory = await mkdtemp(join(tmpdir(), 'vb-work-'));
    storeDirectory = join(workDirectory, 'store');
    store = new FileStore(storeDirectory);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('one scenario: run --once initializes, stores, unseals, configures and issues; a restart is unsealed without an init; a third run writes nothing; status and plan show names, never values', async () => {
    const result = await runCli(['run', '--once', ...args()]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(transitions(result.stdout)).toEqual(
      expect.arrayContaining(['uninitialized', 'initializing', 'storing', 'sealed', 'configuring', 'issuing', 'ready']),
    );

    const health = await serverRequest(server, 'GET', 'sys/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ initialized: true, sealed: false, standby: false });
    expect(serverKindOf(health.body)).toBe(kind);

    const keys = JSON.parse(await store.readLatest('vault-unseal-keys'));
    expect(keys).toMatchObject({ type: 'shamir', shares: 5, threshold: 3 });
    expect(keys.keysBase64).toHaveLength(5);
    expect(typeof keys.initializedAt).toBe('string');
    const root = JSON.parse(await store.readLatest('vault-root-token'));
    expect(root.token.startsWith(TEST_SERVER_TRAITS[kind].tokenPrefixes.service)).toBe(true);
    await server.enableAudit(root.token);
    expect(JSON.parse(await store.readLatest('vault-init-claim'))).toMatchObject({
      holder: expect.any(String),
      clusterHint: server.address,
    });

    for (const name of ['admin', 'provisioner']) {
      const policy = await serverRequest(server, 'GET', `sys/policies/acl/${name}`, root.token);
      expect(policy.body.data.policy).toBe(SHIPPED(name));
    }

    const provisioner = JSON.parse(await store.readLatest('vault-provisioner-token'));
    expect(provisioner.policies).toContain('provisioner');
    const lookup = await serverRequest(server, 'GET', 'auth/token/lookup-self', provisioner.token);
    expect(lookup.status).toBe(200);
    expect(lookup.body.data.orphan).toBe(true);
    expect(lookup.body.data.policies).toContain('provisioner');
    expect(lookup.body.data.accessor).toBe(provisioner.accessor);
    expect(Date.parse(provisioner.expiresAt)).toBeGreaterThan(Date.now() + 700 * 3600_000);
    // The token works for what the provisioner persona does, and not for seal operations or the shipped policies
    // (test/integration/escalation.test.ts tries every escalation).
    expect((await serverRequest(server, 'GET', 'sys/policies/acl?list=true', provisioner.token)).status).toBe(200);
    expect((await serverRequest(server, 'GET', 'sys/policies/acl/admin', provisioner.token)).status).toBe(403);
    expect((await serverRequest(server, 'PUT', 'sys/seal', provisioner.token)).status).toBe(403);

    // After a restart (sealed), run --once unseals with the stored keys and initializes nothing.
    const keysBefore = await store.readAllVersions('vault-unseal-keys');
    await server.restart();
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);

    const restarted = await runCli(['run', '--once', ...args()]);
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0);
    expect(transitions(restarted.stdout)).not.toContain('initializing');
    expect(transitions(restarted.stdout)).toContain('sealed');
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
    expect(await store.readAllVersions('vault-unseal-keys')).toEqual(keysBefore);

    // A third run changes nothing on the server (shown by the audit log).
    // Let the unsealed node settle as the active node first.
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'sys/health')).status, { timeout: 20_000 })
      .toBe(200);
    const before = await auditLineCount(server);
    const tokensBefore = await store.readAllVersions('vault-provisioner-token');

    const third = await runCli(['run', '--once', ...args()]);
    expect(third.code, third.stdout + third.stderr).toBe(0);

    const requests = await auditRequestsAfter(server, before);
    expect(requests.length).toBeGreaterThan(0);
    const writes = requests.filter((request) => request.operation !== 'read' && request.operation !== 'list');
    expect(writes).toEqual([]);
    expect(requests.filter((request) => request.path.startsWith('auth/token/create'))).toEqual([]);
    expect(await store.readAllVersions('vault-provisioner-token')).toEqual(tokensBefore);

    // status and plan show names and state, never values.
    const statusResult = await runCli(['status', '--json', ...args()]);
    expect(statusResult.code, statusResult.stderr).toBe(0);
    const report = JSON.parse(statusResult.stdout);
    expect(report.vault.health).toBe('active');
    expect(report.store.secrets.map((secret: { name: string }) => secret.name)).toEqual([
      'vault-init-claim',
      'vault-unseal-keys',
      'vault-root-token',
      'vault-provisioner-token',
      'vault-management-token',
      'vault-seal-intent',
      'vault-self-init-cluster',
      'vault-seal-key',
      'vault-seal-key-rollout',
    ]);
    expect(report.provisionerToken.state).toBe('valid');
    expect(report.rootToken).toBe('stored');
    // A converged cluster has no problem, even where a check cannot run (a default OpenBao serves no generate-root endpoints).
    expect(report.problems).toEqual([]);

    const text = await runCli(['status', ...args()]);
    expect(text.stdout).toContain('vault-unseal-keys');
    expect(text.stdout.split('\n')[0]).toBe('problems   none');

    const planResult = await runCli(['plan', '--json', ...args()]);
    expect(planResult.code, planResult.stderr).toBe(0);
    expect(JSON.parse(planResult.stdout)).toMatchObject({ state: 'ready', action: { kind: 'done' } });

    // No key or token value appears in any output; the store directory is 0700 with 0600 files.
    const secrets = await secretValuesIn(store);
    expect(secrets.length).toBeGreaterThanOrEqual(5 * 2 + 2);
    expectNoSecretIn(capturedOutput, secrets);
    expect(logLines(capturedOutput.join('\n')).some((line) => line.level === 'trace' || line.level === 'debug')).toBe(
      true,
    );
    // No file outside the store holds a secret.
    await expectNoSecretInFiles(await filesUnder(workDirectory, [storeDirectory]), secrets);
    expect((await stat(storeDirectory)).mode & 0o777).toBe(0o700);
    for (const file of await filesUnder(storeDirectory)) expect((await stat(file)).mode & 0o777).toBe(0o600);
  }, 180_000);

  it('plan against a fresh server lists the init without doing it', async () => {
    const fresh = await TestServer.start({ kind });
    try {
      const freshStore = join(workDirectory, 'fresh-store');
      const result = await runCli(['plan', '--store', 'file', '--file-dir', freshStore, '--vault-addr', fresh.address]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('initialize (5 shares, threshold 3)');
      expect((await serverRequest(fresh, 'GET', 'sys/health')).status).toBe(501);
      expect(await new FileStore(freshStore).readAllVersions('vault-init-claim')).toEqual([]);
    } finally {
      await fresh.stop();
    }
  });
});
