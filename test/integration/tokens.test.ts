import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { actions, capturedOutput, cleanEnv, events, runCli, startCli } from '../../harness/cli.js';
import { CRASH_HOOK } from '../../harness/keys.js';
import { describeEachServer, serverRequest, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

async function setUp(
  kind: ServerKind,
): Promise<{ server: TestServer; work: string; store: FileStore; args: (...extra: string[]) => string[] }> {
  const server = await TestServer.start({ kind });
  const work = await mkdtemp(join(tmpdir(), 'vb-tokens-'));
  const storeDirectory = join(work, 'store');
  return {
    server,
    work,
    store: new FileStore(storeDirectory),
    args: (...extra) => [
      'run',
      '--once',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
      ...extra,
    ],
  };
}

const latest = async (store: FileStore, name: string) => JSON.parse(await store.readLatest(name));

describeEachServer('the provisioner token and the root token', (kind) => {
  const servers: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it('--root-token revoke: root revoked after configuring, kept in history; later runs work with the management token, never the provisioner token', async () => {
    const { server, work, store, args } = await setUp(kind);
    servers.push(server);
    const first = await runCli(args('--root-token', 'revoke'));
    expect(first.code, first.stdout).toBe(0);

    const rootVersions = (await store.readAllVersions('vault-root-token')).map((text) => JSON.parse(text));
    expect(rootVersions).toHaveLength(2);
    expect(rootVersions[1]).toMatchObject({ token: null, revokedAt: expect.any(String) });
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', rootVersions[0].token)).status).toBe(403);

    // Sealed restart, and a new policy to write: all done with the sidecar's management token.
    await server.restart();
    const policies = join(work, 'policies');
    await mkdir(policies);
    await writeFile(
      join(policies, 'tenant-a.hcl'),
      'path "secret/data/tenant-a/*" {\n  capabilities = ["read", "list"]\n}\n',
    );
    const second = await runCli(args('--root-token', 'revoke', '--policies-dir', policies));
    expect(second.code, second.stdout).toBe(0);
    expect(second.stdout).toContain('"policy":"tenant-a"');
    const provisioner = await latest(store, 'vault-provisioner-token');
    const written = await serverRequest(server, 'GET', 'sys/policies/acl/tenant-a', provisioner.token);
    expect(written.body.data.policy).toContain('tenant-a');
    const management = await latest(store, 'vault-management-token');
    expect(
      (await serverRequest(server, 'GET', 'auth/token/lookup-self', management.token)).body.data.policies,
    ).toContain('vault-bootstrap');
    expect(await store.readAllVersions('vault-root-token')).toHaveLength(2);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('kept while valid, rotated in the last third of its life (with --provisioner-overlap 0s the old one is revoked after the new one is stored), reissued when invalid', async () => {
    const { server, store, args } = await setUp(kind);
    servers.push(server);
    expect((await runCli(args('--provisioner-ttl', '1m'))).code).toBe(0);
    const first = await latest(store, 'vault-provisioner-token');
    const management = await latest(store, 'vault-management-token');

    expect((await runCli(args('--provisioner-ttl', '1m'))).code).toBe(0);
    expect((await latest(store, 'vault-provisioner-token')).accessor).toBe(first.accessor);

    // Wait until less than a third of the 60s is left.
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).body.data?.ttl, {
        timeout: 50_000,
        interval: 1000,
      })
      .toBeLessThan(19);
    const rotation = await runCli(args('--provisioner-ttl', '1m', '--provisioner-overlap', '0s'));
    expect(rotation.code, rotation.stdout).toBe(0);
    const second = await latest(store, 'vault-provisioner-token');
    expect(second.accessor).not.toBe(first.accessor);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', second.token)).status).toBe(200);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).status).toBe(403);
    const messages = rotation.stdout.split('\n');
    const storedAt = messages.findIndex((line) => line.includes('provisioner token issued and stored'));
    const revokedAt = messages.findIndex((line) => line.includes('previous provisioner token revoked'));
    expect(storedAt).toBeGreaterThan(-1);
    expect(revokedAt).toBeGreaterThan(storedAt);
    // The management token (its life is --provisioner-ttl too) reached the last third: a successor
    // through the role, stored, then the old one revoked.
    expect(actions(rotation.stdout).map((entry) => entry.action)).toContain('reissue-management-token');
    const successor = await latest(store, 'vault-management-token');
    expect(successor.accessor).not.toBe(management.accessor);
    const successorInfo = (await serverRequest(server, 'GET', 'auth/token/lookup-self', successor.token)).body.data;
    expect(successorInfo).toMatchObject({
      policies: ['default', 'vault-bootstrap'],
      renewable: false,
      path: 'auth/token/create/vault-bootstrap-management',
    });
    expect(successorInfo.ttl).toBeGreaterThan(40);
    // A copy of the old one (a thief's, an old version of the record) is refused from now on.
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', management.token)).status).toBe(403);
    expect((await serverRequest(server, 'GET', 'sys/policies/acl/admin', management.token)).status).toBe(403);
    expect((await serverRequest(server, 'PUT', 'sys/seal', management.token)).status).toBe(403);
    const issuedAt = messages.findIndex((line) => line.includes('"event":"management-token-issued"'));
    const oldRevokedAt = messages.findIndex((line) => line.includes('"event":"management-token-revoked"'));
    expect(issuedAt).toBeGreaterThan(-1);
    expect(oldRevokedAt).toBeGreaterThan(issuedAt);

    // A stored token the server no longer accepts is replaced.
    const root = (await latest(store, 'vault-root-token')).token;
    await serverRequest(server, 'POST', 'auth/token/revoke-accessor', root, { accessor: second.accessor });
    expect((await runCli(args('--provisioner-ttl', '1m'))).code).toBe(0);
    const third = await latest(store, 'vault-provisioner-token');
    expect(third.accessor).not.toBe(second.accessor);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', third.token)).status).toBe(200);
    expect(await store.readAllVersions('vault-provisioner-token')).toHaveLength(3);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('upgrade: a management token of an earlier release (periodic, not through the role, its policy without the role) is replaced through the role in its last third with no person, the root token revoked; a kill between storing the successor and revoking the old one loses nothing', async () => {
    const { server, store, args } = await setUp(kind);
    servers.push(server);
    expect((await runCli(args())).code).toBe(0);
    const root = (await latest(store, 'vault-root-token')).token as string;
    // What an earlier release left: its policy text, no management role, a periodic token made with the root token.
    const current = await readFile(new URL('../../policies/vault-bootstrap.hcl', import.meta.url), 'utf8');
    const earlier = current.replace(
      /\n# Its own successor[\s\S]*?path "auth\/token\/create\/vault-bootstrap-management" \{[^}]*\}\n/,
      '',
    );
    expect(earlier).not.toMatch(/path "auth\/token\/[a-z]+\/vault-bootstrap-management"/);
    expect(
      (await serverRequest(server, 'PUT', 'sys/policies/acl/vault-bootstrap', root, { policy: earlier })).status,
    ).toBe(204);
    expect((await serverRequest(server, 'DELETE', 'auth/token/roles/vault-bootstrap-management', root)).status).toBe(
      204,
    );
    const created = await serverRequest(server, 'POST', 'auth/token/create', root, {
      policies: ['vault-bootstrap'],
      period: '30s',
      no_parent: true,
      renewable: true,
      display_name: 'vault-bootstrap-management',
    });
    const earlierToken = created.body.auth.client_token as string;
    await store.addVersion(
      'vault-management-token',
      JSON.stringify({
        token: earlierToken,
        accessor: created.body.auth.accessor,
        policies: created.body.auth.policies,
        expiresAt: new Date(Date.now() + 30_000).toISOString(),
      }),
    );
    expect(
      (await serverRequest(server, 'GET', 'auth/token/roles/vault-bootstrap-management', earlierToken)).status,
    ).toBe(403);
    // Its period (30 s here) in its last third: this release must rewrite the policy, write the
    // role and issue the successor through it, with that token alone.
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'auth/token/lookup-self', earlierToken)).body.data?.ttl, {
        timeout: 30_000,
        interval: 500,
      })
      .toBeLessThan(10);
    // And killed (fault injection) once the successor is stored, before the old token revokes itself.
    const killed = await startCli(
      args('--root-token', 'revoke'),
      cleanEnv({ VB_TEST_CRASH_AT: 'management-token-stored' }),
      ['--import', CRASH_HOOK],
    ).result;
    expect(killed.signal).toBe('SIGKILL');
    expect(actions(killed.stdout).map((entry) => entry.action)).toContain('reissue-management-token');
    const successor = (await latest(store, 'vault-management-token')).token as string;
    expect(successor).not.toBe(earlierToken);
    // The rerun keeps the stored successor and converges, with no person.
    const upgraded = await runCli(args('--root-token', 'revoke'));
    expect(upgraded.code, upgraded.stdout).toBe(0);
    expect(events(upgraded.stdout, 'blocked')).toEqual([]);
    expect(actions(upgraded.stdout).map((entry) => entry.action)).not.toContain('reissue-management-token');
    expect((await latest(store, 'vault-management-token')).token).toBe(successor);
    // The old token, never revoked after the kill, expires by itself: nothing renews it any more.
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'auth/token/lookup-self', earlierToken)).status, {
        timeout: 20_000,
        interval: 500,
      })
      .toBe(403);
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', successor)).body.data).toMatchObject({
      path: 'auth/token/create/vault-bootstrap-management',
      renewable: false,
    });
    expect((await serverRequest(server, 'GET', 'sys/policies/acl/vault-bootstrap', successor)).body.data.policy).toBe(
      current,
    );
    const role = await serverRequest(server, 'GET', 'auth/token/roles/vault-bootstrap-management', successor);
    expect(role.body.data).toMatchObject({ allowed_policies: ['vault-bootstrap'], orphan: true, renewable: false });
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', root)).status).toBe(403);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('CI grace: a rotated-out token stays valid for its --provisioner-overlap, then the sidecar revokes it', async () => {
    const { server, store, args } = await setUp(kind);
    servers.push(server);
    expect((await runCli(args('--provisioner-ttl', '1m'))).code).toBe(0);
    const first = await latest(store, 'vault-provisioner-token');
    await expect
      .poll(async () => (await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).body.data?.ttl, {
        timeout: 50_000,
        interval: 1000,
      })
      .toBeLessThan(19);
    const rotation = await runCli(args('--provisioner-ttl', '1m', '--provisioner-overlap', '3s'));
    expect(rotation.code, rotation.stdout).toBe(0);
    const second = await latest(store, 'vault-provisioner-token');
    expect(second.accessor).not.toBe(first.accessor);
    expect(second.previous).toEqual({ accessor: first.accessor, revokeAt: expect.any(String) });
    // A CI job that read the old token before the rotation still works.
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).status).toBe(200);
    const early = await runCli(args('--provisioner-ttl', '1m', '--provisioner-overlap', '3s'));
    expect(actions(early.stdout).map((entry) => entry.action)).not.toContain('revoke-previous-token');
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).status).toBe(200);

    // Once the overlap has ended: revoked, and the record forgets it.
    await expect
      .poll(() => Date.now(), { timeout: 10_000, interval: 200 })
      .toBeGreaterThan(Date.parse(second.previous.revokeAt));
    const late = await runCli(args('--provisioner-ttl', '1m', '--provisioner-overlap', '3s'));
    expect(late.code, late.stdout).toBe(0);
    expect(actions(late.stdout).map((entry) => entry.action)).toContain('revoke-previous-token');
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', first.token)).status).toBe(403);
    const third = await latest(store, 'vault-provisioner-token');
    expect(third).toEqual({
      token: second.token,
      accessor: second.accessor,
      policies: second.policies,
      expiresAt: second.expiresAt,
    });
    expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', second.token)).status).toBe(200);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });
});
