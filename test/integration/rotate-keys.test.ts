import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, logLines, runCli, startCli } from '../helpers/cli.js';
import { CRASH_HOOK, keyVersions, rotationAccepts, storedRootToken, unsealsWith } from '../helpers/keys.js';
import { baoRequest, OpenBao } from '../helpers/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

interface Setup {
  server: OpenBao;
  store: FileStore;
  args: (command: string, ...extra: string[]) => string[];
}

const servers: OpenBao[] = [];

async function setUp(seal: 'shamir' | 'auto'): Promise<Setup> {
  const server = await OpenBao.start({ seal });
  servers.push(server);
  const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-rotate-')), 'store');
  const args = (command: string, ...extra: string[]) => [command, ...(command === 'run' ? ['--once'] : []), '--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address, ...extra];
  const first = await runCli(args('run', '--secret-shares', '3', '--secret-threshold', '2', '--recovery-shares', '3', '--recovery-threshold', '2'));
  expect(first.code, first.stdout + first.stderr).toBe(0);
  return { server, store: new FileStore(storeDirectory), args };
}

/** A rotate-keys run killed by the fault-injection hook at a checkpoint. */
async function rotateKilledAt(setup: Setup, checkpoint: string, ...extra: string[]): Promise<void> {
  const killed = await startCli(setup.args('rotate-keys', ...extra), cleanEnv({ VB_TEST_CRASH_AT: checkpoint }), ['--import', CRASH_HOOK]).result;
  expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('rotate-keys against real OpenBao', () => {
  it('Shamir, new split: pending stored and verified, then active; the old keys no longer unseal; a restarted server unseals with the new ones', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    const [initial] = await keyVersions(store);

    const rotated = await runCli(args('rotate-keys', '--secret-shares', '4', '--secret-threshold', '3'));
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active']);
    const active = versions[2]!;
    expect(active).toMatchObject({ type: 'shamir', shares: 4, threshold: 3, status: 'active', rotatedAt: expect.any(String) });
    expect(active.keysBase64).toEqual(versions[1]!.keysBase64);
    expect(active.keysBase64).not.toEqual(initial!.keysBase64);

    const root = await storedRootToken(store);
    expect(await unsealsWith(server, root, initial!.keysBase64)).toBe(false);
    // A restart comes back sealed; the sidecar unseals it from the store (the active version).
    await server.restart();
    const again = await runCli(args('run'));
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body).toMatchObject({ sealed: false, t: 3, n: 4 });

    const status = await runCli(args('status', '--json'));
    expect(JSON.parse(status.stdout).keys).toMatchObject({ activeVersion: 3, versions: 3, pendingRotation: false, lastRotatedAt: active.rotatedAt });
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 120_000);

  it('recovery keys (static auto-unseal): rotated with verification; only the new ones authorize', async () => {
    const { server, store, args } = await setUp('auto');
    const [initial] = await keyVersions(store);
    expect(initial).toMatchObject({ type: 'recovery', shares: 3 });

    const rotated = await runCli(args('rotate-keys', '--recovery-shares', '5', '--recovery-threshold', '3'));
    expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active']);
    expect(versions[2]).toMatchObject({ type: 'recovery', shares: 5, threshold: 3 });

    const root = await storedRootToken(store);
    expect(await rotationAccepts(server, root, 'recovery', versions[2]!.keysBase64)).toBe(true);
    expect(await rotationAccepts(server, root, 'recovery', initial!.keysBase64)).toBe(false);
    // A second rotation keeps the split it finds.
    expect((await runCli(args('rotate-keys'))).code).toBe(0);
    expect((await keyVersions(store)).at(-1)).toMatchObject({ status: 'active', shares: 5, threshold: 3 });
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  }, 120_000);

  it('killed after the new keys came back, before storing: the re-run cancels that rotation (unverified, so the server still takes the old keys) and starts anew', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-keys-received');
    expect(await keyVersions(store)).toHaveLength(1);
    const left = await baoRequest(server, 'GET', 'sys/rotate/root/init', await storedRootToken(store));
    expect(left.body.data).toMatchObject({ started: true, verification_required: true, verification_nonce: expect.stringMatching(/./) });

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(logLines(rerun.stdout).some((line) => String(line.msg).startsWith('cancelling the rotation in progress'))).toBe(true);
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active']);
    expect(await unsealsWith(server, await storedRootToken(store), versions[2]!.keysBase64.slice(0, 2))).toBe(true);
  }, 120_000);

  it('killed with the pending keys stored: the re-run resumes that verification (same nonce)', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-pending-stored');
    const pending = (await keyVersions(store)).at(-1)!;
    expect(pending.status).toBe('pending');

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(logLines(rerun.stdout).find((line) => line.msg === 'rotate-keys done')).toMatchObject({ resumed: true });
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active']);
    expect(versions[2]!.keysBase64).toEqual(pending.keysBase64);
    expect(await unsealsWith(server, await storedRootToken(store), pending.keysBase64)).toBe(true);
  }, 120_000);

  it('killed after verification, before marking active: a restarted server is unsealed with the pending version, which becomes active', async () => {
    const setup = await setUp('shamir');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-verified');
    expect((await keyVersions(store)).at(-1)!.status).toBe('pending');

    await server.restart();
    const sidecar = await runCli(args('run'));
    expect(sidecar.code, sidecar.stdout + sidecar.stderr).toBe(0);
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active']);
    expect(versions[2]!.keysBase64).toEqual(versions[1]!.keysBase64);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
  }, 120_000);

  it('killed after verification, the server never restarted: the re-run finds the server takes the pending keys, marks them active, and rotates again', async () => {
    const setup = await setUp('auto');
    const { server, store, args } = setup;
    await rotateKilledAt(setup, 'rotation-verified');
    const pending = (await keyVersions(store)).at(-1)!;

    const rerun = await runCli(args('rotate-keys'));
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    const versions = await keyVersions(store);
    expect(versions.map((version) => version.status)).toEqual([undefined, 'pending', 'active', 'pending', 'active']);
    expect(versions[2]!.keysBase64).toEqual(pending.keysBase64);
    const root = await storedRootToken(store);
    expect(await rotationAccepts(server, root, 'recovery', versions[4]!.keysBase64)).toBe(true);
  }, 120_000);

  it('a sealed server: exit 1 with code VAULT_SEALED, nothing stored', async () => {
    const { server, store, args } = await setUp('shamir');
    await server.restart();
    const sealed = await runCli(args('rotate-keys'));
    expect(sealed.code).toBe(1);
    expect(logLines(sealed.stdout).find((line) => line.level === 'error')).toMatchObject({ error: { code: 'VAULT_SEALED' } });
    expect(await keyVersions(store)).toHaveLength(1);
  }, 120_000);
});
