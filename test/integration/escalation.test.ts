import { copyFile, mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, logLines, runCli } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const ANY_POWER = 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n';
const SCOPED_PROVISIONER = fileURLToPath(new URL('../../policies/scoped/provisioner.hcl', import.meta.url));

interface Setup {
  server: TestServer;
  store: FileStore;
  storeDirectory: string;
  args: (...extra: string[]) => string[];
}

/** A server configured by a real run; on Vault the sidecar's audit device writes to the harness's audit log. */
async function setUp(kind: ServerKind, servers: TestServer[], ...extra: string[]): Promise<Setup> {
  const server = await TestServer.start({ kind, audit: true });
  servers.push(server);
  const work = await mkdtemp(join(tmpdir(), 'vb-escalation-'));
  const storeDirectory = join(work, 'store');
  const args = (...more: string[]) => [
    'run',
    '--once',
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    '--audit-file',
    server.auditLog,
    ...more,
  ];
  const result = await runCli(args(...extra));
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return { server, store: new FileStore(storeDirectory), storeDirectory, args };
}

const latest = async (store: FileStore, name: string) => JSON.parse(await store.readLatest(name));

/**
 * Every way the CI token could widen its own power, as [what, method, path, body]. Each must
 * answer 403 with the real stored token.
 */
function escalations(managementAccessor: string): Array<[string, string, string, unknown]> {
  return [
    ['rewrite the admin policy', 'PUT', 'sys/policies/acl/admin', { policy: ANY_POWER }],
    // Vault lowercases and trims a policy name before writing it, after checking the ACL on the path as sent.
    ['rewrite the admin policy, capitalised', 'PUT', 'sys/policies/acl/Admin', { policy: ANY_POWER }],
    ['rewrite the admin policy, a capital inside', 'PUT', 'sys/policies/acl/aDmin', { policy: ANY_POWER }],
    ['rewrite the admin policy, trailing space', 'PUT', 'sys/policies/acl/admin%20', { policy: ANY_POWER }],
    ['rewrite the admin policy, leading space', 'PUT', 'sys/policies/acl/%20admin', { policy: ANY_POWER }],
    ['rewrite its own provisioner policy', 'PUT', 'sys/policies/acl/provisioner', { policy: ANY_POWER }],
    ['rewrite its own provisioner policy, capitalised', 'PUT', 'sys/policies/acl/PROVISIONER', { policy: ANY_POWER }],
    ['rewrite the default policy (every token has it)', 'PUT', 'sys/policies/acl/default', { policy: ANY_POWER }],
    ['rewrite the default policy, trailing space', 'PUT', 'sys/policies/acl/default%20', { policy: ANY_POWER }],
    ["rewrite the sidecar's management policy", 'PUT', 'sys/policies/acl/vault-bootstrap', { policy: ANY_POWER }],
    [
      "rewrite the sidecar's management policy, a capital inside",
      'PUT',
      'sys/policies/acl/vault-Bootstrap',
      { policy: ANY_POWER },
    ],
    ['create a token role that grants admin', 'POST', 'auth/token/roles/escalate', { allowed_policies: ['admin'] }],
    [
      'widen its own token role',
      'POST',
      'auth/token/roles/provisioner',
      { allowed_policies: ['provisioner', 'admin'] },
    ],
    ['create a token with the admin policy', 'POST', 'auth/token/create', { policies: ['admin'] }],
    ['create an orphan token with the admin policy', 'POST', 'auth/token/create-orphan', { policies: ['admin'] }],
    ['create a token through the provisioner role', 'POST', 'auth/token/create/provisioner', {}],
    [
      "create a token through the sidecar's management role",
      'POST',
      'auth/token/create/vault-bootstrap-management',
      {},
    ],
    [
      "rewrite the sidecar's management role",
      'POST',
      'auth/token/roles/vault-bootstrap-management',
      { allowed_policies: ['admin'] },
    ],
    ['tune the token auth method', 'POST', 'sys/auth/token/tune', { max_lease_ttl: '87600h' }],
    ["revoke the sidecar's management token", 'POST', 'auth/token/revoke-accessor', { accessor: managementAccessor }],
    ['disable an audit device', 'DELETE', 'sys/audit/vault-bootstrap', undefined],
    ['seal the server', 'PUT', 'sys/seal', undefined],
  ];
}

/** The audit entries of the log file that name a request to `path` made by a token with `policy`. */
async function auditEntries(server: TestServer, path: string, policy: string): Promise<unknown[]> {
  const lines = (await readFile(server.auditLog, 'utf8')).split('\n').filter(Boolean);
  return lines
    .map((line) => JSON.parse(line) as { type?: string; auth?: { policies?: string[] }; request?: { path?: string } })
    .filter(
      (entry) =>
        entry.type === 'request' && entry.request?.path === path && (entry.auth?.policies ?? []).includes(policy),
    );
}

describeEachServer('the CI token cannot widen its own power', (kind) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it('every escalation answers 403 with the stored provisioner token; tenant work still answers 2xx; each request is audited', async () => {
    const { server, store } = await setUp(kind, servers);
    const provisioner = await latest(store, 'vault-provisioner-token');
    const management = await latest(store, 'vault-management-token');
    const results: string[] = [];
    for (const [what, method, path, body] of escalations(management.accessor)) {
      const answer = await serverRequest(server, method, path, provisioner.token, body);
      results.push(`${answer.status} ${method} ${path} (${what})`);
      expect(answer.status, `${what}: ${method} ${path}`).toBe(403);
    }
    console.log(`[${kind}] the CI token's escalation attempts:\n  ${results.join('\n  ')}`);
    // Nothing changed: the shipped policies are intact and the token role still grants provisioner alone.
    const root = await latest(store, 'vault-root-token');
    expect((await serverRequest(server, 'GET', 'sys/policies/acl/admin', root.token)).body.data.policy).not.toContain(
      'path "*"',
    );
    expect(
      (await serverRequest(server, 'GET', 'auth/token/roles/provisioner', root.token)).body.data.allowed_policies,
    ).toEqual(['provisioner']);
    expect((await serverRequest(server, 'GET', 'auth/token/roles/escalate', root.token)).status).toBe(404);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', management.token)).status).toBe(200);

    // What the provisioner persona is for still works.
    expect(
      (
        await serverRequest(server, 'PUT', 'sys/policies/acl/tenant-a', provisioner.token, {
          policy: 'path "secret/data/tenant-a/*" {\n  capabilities = ["read"]\n}\n',
        })
      ).status,
    ).toBe(204);
    expect(
      (await serverRequest(server, 'POST', 'sys/auth/tenant-a-approle', provisioner.token, { type: 'approle' })).status,
    ).toBe(204);
    expect(
      (
        await serverRequest(server, 'POST', 'auth/tenant-a-approle/role/app', provisioner.token, {
          token_policies: ['tenant-a'],
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await serverRequest(server, 'POST', 'sys/mounts/tenant-a-kv', provisioner.token, {
          type: 'kv',
          options: { version: '2' },
        })
      ).status,
    ).toBe(204);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', provisioner.token)).status).toBe(200);
    // Not unmounting one: the engine's data would go with it, another team's as well (issue 25, finding 5).
    expect((await serverRequest(server, 'DELETE', 'sys/mounts/tenant-a-kv', provisioner.token)).status).toBe(403);
    expect((await serverRequest(server, 'GET', 'sys/mounts', root.token)).body.data['tenant-a-kv/']).toBeDefined();

    // The audit device (OpenBao: its config file; Vault: ensured by the sidecar) recorded the CI token's refused request.
    expect(await auditEntries(server, 'sys/policies/acl/admin', 'provisioner')).not.toEqual([]);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('drift the CI token could not make is repaired all the same', async () => {
    const { server, store, args } = await setUp(kind, servers);
    const root = await latest(store, 'vault-root-token');
    await serverRequest(server, 'PUT', 'sys/policies/acl/provisioner', root.token, { policy: ANY_POWER });
    await serverRequest(server, 'POST', 'auth/token/roles/provisioner', root.token, {
      allowed_policies: ['provisioner', 'admin'],
      orphan: true,
    });
    const repair = await runCli(args());
    expect(repair.code, repair.stdout + repair.stderr).toBe(0);
    expect(
      (await serverRequest(server, 'GET', 'sys/policies/acl/provisioner', root.token)).body.data.policy,
    ).not.toContain('path "*"');
    expect(
      (await serverRequest(server, 'GET', 'auth/token/roles/provisioner', root.token)).body.data.allowed_policies,
    ).toEqual(['provisioner']);
  });

  it('with the root token revoked, the management token configures, repairs drift, keeps the audit device, rotates keys and seals; the CI token is never used', async () => {
    const { server, store, storeDirectory, args } = await setUp(kind, servers, '--root-token', 'revoke');
    const rootVersions = (await store.readAllVersions('vault-root-token')).map((text) => JSON.parse(text));
    expect(rootVersions.at(-1)).toMatchObject({ token: null, revokedAt: expect.any(String) });
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', rootVersions[0].token)).status).toBe(403);
    const management = await latest(store, 'vault-management-token');
    const lookup = await serverRequest(server, 'GET', 'auth/token/lookup-self', management.token);
    expect(lookup.body.data).toMatchObject({
      orphan: true,
      policies: expect.arrayContaining(['vault-bootstrap']),
      renewable: false,
      path: 'auth/token/create/vault-bootstrap-management',
    });

    // Drift, made by someone holding the management token (an admin would do the same).
    await serverRequest(server, 'PUT', 'sys/policies/acl/admin', management.token, { policy: ANY_POWER });
    if (kind === 'vault') await serverRequest(server, 'DELETE', 'sys/audit/vault-bootstrap', management.token);
    // And a provisioner token the CI lost (revoked): reissued through the role.
    const provisioner = await latest(store, 'vault-provisioner-token');
    await serverRequest(server, 'POST', 'auth/token/revoke-accessor', management.token, {
      accessor: provisioner.accessor,
    });

    const repair = await runCli(args('--root-token', 'revoke'));
    expect(repair.code, repair.stdout + repair.stderr).toBe(0);
    expect(
      (await serverRequest(server, 'GET', 'sys/policies/acl/admin', management.token)).body.data.policy,
    ).not.toContain('path "*"');
    const reissued = await latest(store, 'vault-provisioner-token');
    expect(reissued.accessor).not.toBe(provisioner.accessor);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', reissued.token)).status).toBe(200);
    if (kind === 'vault') {
      const devices = await serverRequest(server, 'GET', 'sys/audit', management.token);
      expect(devices.body.data['vault-bootstrap/']).toMatchObject({
        type: 'file',
        options: { file_path: server.auditLog },
      });
    }
    const acts = logLines(repair.stdout)
      .filter((line) => line.msg === 'act')
      .map((line) => String(line.action));
    expect(acts).toEqual(expect.arrayContaining(['configure', 'issue-token']));

    const rotation = await runCli([
      'rotate-keys',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(rotation.code, rotation.stdout + rotation.stderr).toBe(0);

    const sealed = await runCli([
      'seal',
      '--reason',
      'drill',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(sealed.code, sealed.stdout + sealed.stderr).toBe(0);
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('the prefix-scoped provisioner (policies/scoped) touches only tenant- policies and auth mounts', async () => {
    const policies = join(await mkdtemp(join(tmpdir(), 'vb-scoped-')), 'policies');
    await mkdir(policies);
    await copyFile(SCOPED_PROVISIONER, join(policies, 'provisioner.hcl'));
    const { server, store } = await setUp(kind, servers, '--policies-dir', policies);
    const token = (await latest(store, 'vault-provisioner-token')).token;
    const tenantPolicy = { policy: 'path "secret/data/tenant-a/*" {\n  capabilities = ["read"]\n}\n' };
    expect((await serverRequest(server, 'PUT', 'sys/policies/acl/tenant-a', token, tenantPolicy)).status).toBe(204);
    expect((await serverRequest(server, 'PUT', 'sys/policies/acl/other-team', token, tenantPolicy)).status).toBe(403);
    expect((await serverRequest(server, 'PUT', 'sys/policies/acl/Other-Team', token, tenantPolicy)).status).toBe(403);
    expect((await serverRequest(server, 'POST', 'sys/auth/tenant-approle', token, { type: 'approle' })).status).toBe(
      204,
    );
    expect(
      (await serverRequest(server, 'POST', 'auth/tenant-approle/role/app', token, { token_policies: ['tenant-a'] }))
        .status,
    ).toBe(204);
    expect((await serverRequest(server, 'POST', 'sys/auth/approle', token, { type: 'approle' })).status).toBe(403);
    expect((await serverRequest(server, 'POST', 'sys/mounts/tenant-kv', token, { type: 'kv' })).status).toBe(204);
    expect((await serverRequest(server, 'POST', 'sys/mounts/kv', token, { type: 'kv' })).status).toBe(403);
    for (const [what, method, path, body] of escalations('unknown')) {
      if (path === 'sys/audit/vault-bootstrap' || path === 'sys/seal') continue;
      expect((await serverRequest(server, method, path, token, body)).status, what).toBe(403);
    }
  });
});
