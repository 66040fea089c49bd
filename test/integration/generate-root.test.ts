import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, logLines, runCli, startCli } from '../../harness/cli.js';
import { CRASH_HOOK, storedOneTimePads } from '../../harness/keys.js';
import {
  describeEachServer,
  serverRequest as baoRequest,
  TestServer as OpenBao,
  type ServerKind,
} from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const servers: OpenBao[] = [];

/** A server whose listener re-enables the unauthenticated generate-root endpoints (off by default from OpenBao 2.5.3). */
async function startServer(kind: ServerKind, generateRootEnabled: boolean, seal: 'shamir' | 'auto'): Promise<OpenBao> {
  const server = await OpenBao.create({ kind, seal });
  // Vault serves them by default; OpenBao from 2.5.3 only with this listener setting.
  if (generateRootEnabled && kind === 'openbao') {
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
  servers.push(server);
  return server;
}

async function setUp(kind: ServerKind, generateRootEnabled: boolean, seal: 'shamir' | 'auto' = 'shamir') {
  const server = await startServer(kind, generateRootEnabled, seal);
  const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-genroot-')), 'store');
  const store = new FileStore(storeDirectory);
  const args = (command: string, ...extra: string[]) => [
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
  // Day one with --root-token revoke, then the provisioner token lapses: nobody holds a working token.
  const first = await runCli(args('run', '--root-token', 'revoke'));
  expect(first.code, first.stdout + first.stderr).toBe(0);
  const provisioner = JSON.parse(await store.readLatest('vault-provisioner-token')).token as string;
  expect((await baoRequest(server, 'POST', 'auth/token/revoke-self', provisioner)).status).toBe(204);
  return { server, store, args };
}

const rootVersions = async (store: FileStore) =>
  (await store.readAllVersions('vault-root-token')).map((text) => JSON.parse(text));
const outputSecrets = async (store: FileStore) => [
  ...(await secretValuesIn(store)),
  ...(await storedOneTimePads(store)),
];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describeEachServer('generate-root', (kind) => {
  it('--revoke-after: one-time pad stored first, root token stored, configuring done and a provisioner token issued, then the root token revoked', async () => {
    const { server, store, args } = await setUp(kind, true);
    const before = await rootVersions(store);
    expect(before.at(-1)).toMatchObject({ token: null });

    const result = await runCli(args('generate-root', '--revoke-after'));
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(logLines(result.stderr).find((line) => line.event === 'command-done')).toMatchObject({
      revoked: true,
      provisionerTokenIssued: true,
    });

    const after = (await rootVersions(store)).slice(before.length);
    expect(after.map((version) => [version.token === null, Boolean(version.generation)])).toEqual([
      [true, true], // the attempt's nonce and one-time pad, before any key share went in
      [false, false], // the generated token
      [true, false], // revoked after configuring
    ]);
    expect(after[2].revokedAt).toEqual(expect.any(String));
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', after[1].token)).status).toBe(403);
    const provisioner = JSON.parse(await store.readLatest('vault-provisioner-token')).token as string;
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', provisioner)).status).toBe(200);
    expect((await baoRequest(server, 'GET', 'sys/generate-root/attempt')).body.started).toBe(false);
    expectNoSecretIn(capturedOutput, await outputSecrets(store));
  }, 120_000);

  it("without --revoke-after, under the sidecar's VB_ROOT_TOKEN=revoke: the token stays usable until keepUntil, and the sidecar revokes it after", async () => {
    const { server, store, args } = await setUp(kind, true);
    const result = await runCli(args('generate-root'), cleanEnv({ VB_ROOT_TOKEN: 'revoke' }));
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(logLines(result.stderr).find((line) => line.event === 'command-done')).toMatchObject({ revoked: false });
    const generated = (await rootVersions(store)).at(-1);
    expect(Date.parse(generated.keepUntil) - Date.parse(generated.createdAt)).toBe(60 * 60 * 1000);
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', generated.token)).body.data.policies).toEqual([
      'root',
    ]);

    // A sidecar pass with --root-token revoke leaves the kept token alone.
    const kept = await runCli(args('run', '--root-token', 'revoke'));
    expect(kept.code, kept.stdout).toBe(0);
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', generated.token)).status).toBe(200);
    expect((await rootVersions(store)).at(-1).token).toBe(generated.token);

    // Past keepUntil (the record moved back an hour), the next pass revokes it as --root-token revoke says.
    await store.addVersion(
      'vault-root-token',
      JSON.stringify({ ...generated, keepUntil: new Date(Date.now() - 1000).toISOString() }),
    );
    const revoked = await runCli(args('run', '--root-token', 'revoke'));
    expect(revoked.code, revoked.stdout).toBe(0);
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', generated.token)).status).toBe(403);
    expect((await rootVersions(store)).at(-1)).toMatchObject({ token: null, revokedAt: expect.any(String) });
    expectNoSecretIn(capturedOutput, await outputSecrets(store));
  }, 120_000);

  it('killed with the one-time pad stored: the re-run resumes the same attempt; killed before storing it: the re-run cancels and starts anew', async () => {
    const { server, store, args } = await setUp(kind, true);
    const killedAfterStore = await startCli(
      args('generate-root'),
      cleanEnv({ VB_TEST_CRASH_AT: 'root-generation-stored' }),
      ['--import', CRASH_HOOK],
    ).result;
    expect(killedAfterStore.signal).toBe('SIGKILL');
    const resumed = await runCli(args('generate-root'));
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(logLines(resumed.stderr).find((line) => line.event === 'command-done')).toMatchObject({ resumed: true });
    const token = (await rootVersions(store)).at(-1).token as string;
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', token)).body.data.policies).toEqual(['root']);

    const killedBeforeStore = await startCli(
      args('generate-root'),
      cleanEnv({ VB_TEST_CRASH_AT: 'root-generation-started' }),
      ['--import', CRASH_HOOK],
    ).result;
    expect(killedBeforeStore.signal).toBe('SIGKILL');
    expect((await baoRequest(server, 'GET', 'sys/generate-root/attempt')).body.started).toBe(true);
    const restarted = await runCli(args('generate-root'));
    expect(restarted.code, restarted.stdout + restarted.stderr).toBe(0);
    expect(logLines(restarted.stderr).some((line) => line.event === 'root-generation-cancelled')).toBe(true);
    const latest = (await rootVersions(store)).at(-1).token as string;
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', latest)).status).toBe(200);
    expectNoSecretIn(capturedOutput, await outputSecrets(store));
  }, 120_000);

  it('auto-unseal: the stored recovery keys generate the root token', async () => {
    const { server, store, args } = await setUp(kind, true, 'auto');
    const result = await runCli(args('generate-root'));
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const token = (await rootVersions(store)).at(-1).token as string;
    expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', token)).body.data.policies).toEqual(['root']);
    expectNoSecretIn(capturedOutput, await outputSecrets(store));
  }, 120_000);

  it.skipIf(kind !== 'openbao')(
    'endpoints off (the OpenBao default): the authenticated sys/generate-root-token route with the stored management token; the listener untouched',
    async () => {
      const { server, store, args } = await setUp(kind, false);
      const result = await runCli(args('generate-root', '--revoke-after'));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(logLines(result.stderr).find((line) => line.event === 'generate-root-route')).toMatchObject({
        path: 'sys/generate-root-token',
      });
      expect(logLines(result.stderr).find((line) => line.event === 'command-done')).toMatchObject({
        revoked: true,
        provisionerTokenIssued: true,
      });
      // The unauthenticated endpoints stayed off throughout.
      expect((await baoRequest(server, 'GET', 'sys/generate-root/attempt')).status).toBe(405);
      const provisioner = JSON.parse(await store.readLatest('vault-provisioner-token')).token as string;
      expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', provisioner)).status).toBe(200);
      expectNoSecretIn(capturedOutput, await outputSecrets(store));
    },
    120_000,
  );

  it.skipIf(kind !== 'openbao')(
    'endpoints off and no valid management token either: exit 2 naming the listener setting as the break-glass, nothing stored',
    async () => {
      const { server, store, args } = await setUp(kind, false);
      const management = JSON.parse(await store.readLatest('vault-management-token')).token as string;
      expect((await baoRequest(server, 'POST', 'auth/token/revoke-self', management)).status).toBe(204);
      const before = await store.readAllVersions('vault-root-token');
      const result = await runCli(args('generate-root'));
      expect(result.code).toBe(2);
      // Bad input: the one `vault-bootstrap: …` line on stderr, as for any flag, naming the listener setting.
      const [line, ...more] = result.stderr.split('\n').filter((text) => text.startsWith('vault-bootstrap: '));
      expect(more).toEqual([]);
      expect(line).toContain('disable_unauthed_generate_root_endpoints = false');
      expect(await store.readAllVersions('vault-root-token')).toEqual(before);
    },
    120_000,
  );
});
