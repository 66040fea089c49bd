import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, events, runCli, startCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { describeEachServer } from '../helpers/servers.js';
import { expectNoSecretIn } from '../helpers/secrets.js';

const CRASH_HOOK = fileURLToPath(new URL('../../harness/chaos/crash-hook.mjs', import.meta.url));

/** OpenBao initializing itself at first start: one stanza mounting a secrets engine, as the operator tried. */
const SELF_INIT = [
  'initialize "mounts" {',
  '  request "mount-kv" {',
  '    operation = "update"',
  '    path = "sys/mounts/kv"',
  '    data = { type = "kv", options = { version = "2" } }',
  '  }',
  '}',
].join('\n');

/**
 * An initialized server with no keys in the store is either our lost init or somebody else's;
 * only ours is `orphaned` (exit 3, wipe advice behind a check), the other is
 * `initialized-elsewhere` and nothing is advised to be wiped. Told apart by the init claim.
 */
describeEachServer("an initialized server without stored keys: our orphan or someone else's init", (kind) => {
  const servers: OpenBao[] = [];
  /** What the inits made elsewhere returned: never to appear in our output. */
  const handedOut: string[] = [];

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  async function server(options: Parameters<typeof OpenBao.start>[0] = {}): Promise<OpenBao> {
    const started = await OpenBao.start({ kind, ...options });
    servers.push(started);
    return started;
  }

  async function emptyStore(): Promise<string> {
    return join(await mkdtemp(join(tmpdir(), 'vb-elsewhere-')), 'store');
  }

  /** run --once and status --json against it: the blocker each names, and what run logged. */
  async function verdict(address: string, storeDirectory: string) {
    const store = ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', address];
    const once = await runCli(['run', '--once', '--timeout', '1m', ...store]);
    const status = await runCli(['status', '--json', ...store]);
    const plan = await runCli(['plan', '--json', ...store]);
    return {
      code: once.code,
      blocked: events(once.stdout, 'blocked').map((line) => line.blocker),
      status: JSON.parse(status.stdout).decision,
      plan: JSON.parse(plan.stdout),
      stdout: once.stdout,
    };
  }

  it('our orphan: killed after the server answered sys/init, before storing: orphaned (exit 3), the wipe advice names the check', async () => {
    // OpenBao takes its audit device from the config, so the advice's check can be made here.
    const node = await server({ audit: kind === 'openbao' });
    const storeDirectory = await emptyStore();
    const killed = startCli(
      ['run', '--once', '--store', 'file', '--file-dir', storeDirectory, '--vault-addr', node.address],
      cleanEnv({ VB_TEST_CRASH_AT: 'init-spooled' }),
      ['--import', CRASH_HOOK],
    );
    expect((await killed.result).signal).toBe('SIGKILL');
    expect((await baoRequest(node, 'GET', 'sys/health')).status).toBe(503);
    expect(await new FileStore(storeDirectory).readLatest('vault-init-claim')).toContain('holder');

    const seen = await verdict(node.address, storeDirectory);
    expect(seen.code, seen.stdout).toBe(3);
    expect(seen.blocked).toEqual(['orphaned']);
    expect(seen.status).toMatchObject({ state: 'orphaned', blocker: 'orphaned' });
    expect(seen.status.reason).toMatch(/audit log/);
    expect(seen.plan.action.kind).toBe('hold');
    if (kind === 'openbao') {
      // The check the advice names holds: since the claim, no request carried a token.
      const entries = (await readFile(node.auditLog, 'utf8'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      expect(entries.filter((entry) => entry.type === 'request' && entry.auth?.client_token)).toEqual([]);
    }
  });

  it('a person initialized it (Shamir, keys in their hands): initialized-elsewhere (exit 1), never orphaned, nothing written', async () => {
    const node = await server();
    const storeDirectory = await emptyStore();
    const init = await baoRequest(node, 'PUT', 'sys/init', undefined, { secret_shares: 1, secret_threshold: 1 });
    expect(init.status).toBe(200);
    handedOut.push(...init.body.keys_base64, init.body.root_token);

    const seen = await verdict(node.address, storeDirectory);
    expect(seen.code, seen.stdout).toBe(1);
    expect(seen.blocked).toEqual(['initialized-elsewhere']);
    expect(seen.status).toMatchObject({ state: 'blocked', blocker: 'initialized-elsewhere' });
    expect(seen.status.reason).not.toMatch(/wipe the server storage and run again/);
    await expect(new FileStore(storeDirectory).readLatest('vault-init-claim')).rejects.toMatchObject({
      code: 'STORE_NOT_FOUND',
    });
    expect((await baoRequest(node, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
  });

  it('an auto-unseal node that initialized itself (OpenBao initialize stanzas) or was initialized with recovery shares elsewhere: initialized-elsewhere', async () => {
    const node =
      kind === 'openbao' ? await server({ seal: 'auto', initialize: SELF_INIT }) : await server({ seal: 'auto' });
    if (kind !== 'openbao')
      expect(
        (await baoRequest(node, 'PUT', 'sys/init', undefined, { recovery_shares: 1, recovery_threshold: 1 })).status,
      ).toBe(200);
    await expect
      .poll(async () => (await baoRequest(node, 'GET', 'sys/health')).status, { timeout: 30_000, interval: 100 })
      .toBe(200);
    const storeDirectory = await emptyStore();

    const seen = await verdict(node.address, storeDirectory);
    expect(seen.code, seen.stdout).toBe(1);
    expect(seen.blocked).toEqual(['initialized-elsewhere']);
    expect(seen.status).toMatchObject({ state: 'blocked', blocker: 'initialized-elsewhere' });
    expect(seen.status.reason).toMatch(/unsealed it without us/);
  });

  it('no key or token value appears in any output', async () => {
    expectNoSecretIn(capturedOutput, handedOut);
  });
});
