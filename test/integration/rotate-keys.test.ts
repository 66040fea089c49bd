import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { SERVER_TRAITS } from '../../src/vault/servers.js';
import { capturedOutput, cleanEnv, logLines, runCli, startCli } from '../../harness/cli.js';
import { CRASH_HOOK, keyVersions, rotationAccepts, storedRootToken, unsealsWith } from '../../harness/keys.js';
import { describeEachServer, serverRequest, TestServer, type ServerKind } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

interface Setup {
  server: TestServer;
  store: FileStore;
  /** Versions of the keys secret before any rotation (init, then the cluster id recorded). */
  before: number;
  args: (command: string, ...extra: string[]) => string[];
}

const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describeEachServer('rotate-keys', (kind: ServerKind) => {
  async function setUp(seal: 'shamir' | 'auto'): Promise<Setup> {
    const server = await TestServer.start({ kind, seal });
    servers.push(server);
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-rotate-')), 'store');
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
    const first = await runCli(
      args(
        'run',
        '--secret-shares',
        '3',
        '--secret-threshold',
        '2',
        '--recovery-shares',
        '3',
        '--recovery-threshold',
        '2',
      ),
    );
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const store = new FileStore(storeDirectory);
    return { server, store, args, before: (await keyVersions(store)).length };
  }

  /** Statuses of the versions a rotation added. */
  const added = async ({ store, before }: Setup) => (await keyVersions(store)).slice(before);

  /** A rotate-keys run killed by the fault-injection hook at a checkpoint. */
  async function rotateKilledAt(setup: Setup, checkpoint: string, ...extra: string[]): Promise<void> {
    const killed = await startCli(setup.args('rotate-keys', ...extra), cleanEnv({ VB_TEST_CRASH_AT: checkpoint }), [
      '--import',
      CRASH_HOOK,
    ]).result;
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
  }

  const rotationOf = (server: TestServer) => SERVER_TRAITS[server.kind].rotation;

  it('Shamir, new split: pending stored and verified, then active; the old keys no longer unseal; a restarted server unseals with the new ones', async () => {
    const setup = await setUp('shamir');
    const { server, store, args, before } = setup;
    const initial = (await keyVersions(store)).at(-1)!;

    const rotated = await runCli(args('rotate-keys', '--secret-shares', '4', '--secret-threshold', '3'));
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ kind: 'unseal', shares: 4, threshold: 3, resumed: false });
    const [pending, active] = await added(setup);
    expect([pending?.status, active?.status]).toEqual(['pending', 'active']);
    expect(active).toMatchObject({ type: 'shamir', shares: 4, threshold: 3, rotatedAt: expect.any(String) });
    expect(active!.keysBase64).toEqual(pending!.keysBase64);
    expect(active!.keysBase64).not.toEqual(initial.keysBase64);

    const root = await storedRootToken(store);
    expect(await unsealsWith(server, root, initial.keysBase64)).toBe(false);
    // A restart comes back sealed; the sidecar unseals it from the store (the active version).
    await server.restart();
    const again = await runCli(args('run'));
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({ sealed: false, t: 3, n: 4 });

    const status = await runCli(args('status', '--json'));
    expect(JSON.parse(status.stdout).keys).toMatchObject({
      activeVersion: before + 2,
      pendingRotation: false,
      lastRotatedAt: active!.rotatedAt,
    });
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 180_000);

  it('recovery keys (auto-unseal): rotated with verification; only the new ones authorize; a second rotation keeps the split', async () => {
    const setup = await setUp('auto');
    const { server, store, args } = setup;
    const initial = (await keyVersions(store)).at(-1)!;
    expect(initial).toMatchObject({ type: 'recovery', shares: 3 });

    const rotated = await runCli(args('rotate-keys', '--recovery-shares', '5', '--recovery-threshold', '3'));
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const [pending, active] = await added(setup);
    expect([pending?.status, active?.status]).toEqual(['pending', 'active']);
    expect(active).toMatchObject({ type: 'recovery', shares: 5, threshold: 3 });

    const root = await storedRootToken(store);
    expect(await rotationAccepts(server, root, 'recovery', active!.keysBase64)).toBe(true);
    expect(await rotationAccepts(server, root, 'recovery', initial.keysBase64)).toBe(false);
    expect((await runCli(args('rotate-keys'))).code).toBe(0);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ status: 'active', shares: 5, threshold: 3 });
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 180_000);

  it('killed after the new keys came back, before storing: the re-run cancels that rotation (unverified, so the server still takes the old keys) and starts anew', async () => {
    const setup = await setUp('shamir');
    const { server, store, args, before } = setup;
    await rotateKilledAt(setup, 'rotation-keys-received');
    expect(await keyVersions(store)).toHaveLength(before);
    const root = await storedRootToken(store);
    const left = await serverRequest(server, 'GET', rotationOf(server).unseal.init, root);
    expect(left.body.data ?? left.body).toMatchObject({ started: true, verification_required: true });

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(logLines(rerun.stderr).some((line) => line.event === 'rotation-cancelled')).toBe(true);
    const [pending, active] = await added(setup);
    expect([pending?.status, active?.status]).toEqual(['pending', 'active']);
    expect(await unsealsWith(server, root, active!.keysBase64.slice(0, active!.threshold))).toBe(true);
  }, 180_000);

  it('killed with the pending keys stored: the re-run resumes that verification (same nonce)', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-pending-stored');
    const pending = (await keyVersions(store)).at(-1)!;
    expect(pending.status).toBe('pending');

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ resumed: true });
    const [, active] = await added(setup);
    expect(active).toMatchObject({ status: 'active' });
    expect(active!.keysBase64).toEqual(pending.keysBase64);
    expect(await unsealsWith(server, await storedRootToken(store), pending.keysBase64)).toBe(true);
  }, 180_000);

  it('killed after verification, before marking active: a restarted server is unsealed with the pending version, which becomes active', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-verified');
    const pending = (await keyVersions(store)).at(-1)!;
    expect(pending.status).toBe('pending');

    await server.restart();
    const sidecar = await runCli(args('run'));
    expect(sidecar.code, sidecar.stdout + sidecar.stderr).toBe(0);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ status: 'active', keysBase64: pending.keysBase64 });
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
  }, 180_000);

  it('killed after verification, the server never restarted: the re-run finds the server takes the pending keys, marks them active, and rotates again', async () => {
    const setup = await setUp('auto');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-verified');
    const pending = (await keyVersions(store)).at(-1)!;

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const versions = await added(setup);
    expect(versions.map((version) => version.status)).toEqual(['pending', 'active', 'pending', 'active']);
    expect(versions[1]!.keysBase64).toEqual(pending.keysBase64);
    expect(await rotationAccepts(server, await storedRootToken(store), 'recovery', versions[3]!.keysBase64)).toBe(true);
  }, 180_000);

  it('a sealed server: exit 1 with code VAULT_SEALED, nothing stored', async () => {
    const { server, store, args, before } = await setUp('shamir');
    await server.restart();
    const sealed = await runCli(args('rotate-keys'));
    expect(sealed.code).toBe(1);
    expect(logLines(sealed.stderr).find((line) => line.level === 'error')).toMatchObject({
      error: { code: 'VAULT_SEALED' },
    });
    expect(await keyVersions(store)).toHaveLength(before);
  }, 180_000);
});
