import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../helpers/child-server.js';
import { capturedOutput, logLines, startCli } from '../helpers/cli.js';
import { baoRequest, OpenBao } from '../helpers/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

describe('shutdown (SPEC §7)', () => {
  const servers: OpenBao[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  const storeArgs = async () => ['--store', 'file', '--file-dir', join(await mkdtemp(join(tmpdir(), 'vb-shutdown-')), 'store'), '--listen', 'off'];

  it('SIGTERM while waiting for an unreachable server exits 0 within a second', async () => {
    const port = await freePort();
    const cli = startCli(['run', ...(await storeArgs()), '--vault-addr', `http://127.0.0.1:${port}`]);
    await cli.waitFor('"to":"waiting"', 10_000).catch(() => undefined);
    // Let it settle into a backoff sleep first.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const signalledAt = Date.now();
    cli.child.kill('SIGTERM');
    const result = await cli.result;
    expect(result.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(1000);
    expect(logLines(result.stdout).at(-1)?.msg).toBe('stopped cleanly');
  });

  it('SIGTERM during sys/init lets the step finish storing the keys, then exits 0', async () => {
    const server = await OpenBao.start();
    servers.push(server);
    const args = await storeArgs();
    const cli = startCli(['run', ...args, '--vault-addr', server.address]);
    await cli.waitFor('"to":"initializing"');
    cli.child.kill('SIGTERM');
    const result = await cli.result;
    expect(result.code, result.stdout).toBe(0);

    const messages = logLines(result.stdout).map((line) => String(line.msg));
    const signalled = messages.indexOf('shutting down once the secrets in flight are stored');
    const stored = messages.indexOf('keys and root token stored and verified');
    expect(signalled).toBeGreaterThanOrEqual(0);
    expect(stored).toBeGreaterThan(signalled);
    expect(messages.at(-1)).toBe('stopped cleanly');
    // Stopped after storing: no step started after the signal.
    expect(messages.slice(stored).filter((message) => message.startsWith('policy '))).toEqual([]);

    const store = new FileStore(args[3]!);
    expect(JSON.parse(await store.readLatest('vault-unseal-keys')).keysBase64).toHaveLength(5);
    expect((await baoRequest(server, 'GET', 'sys/health')).status).toBe(503);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('a second signal exits at once, even while secrets are in flight', async () => {
    const server = await OpenBao.start();
    servers.push(server);
    const cli = startCli(['run', ...(await storeArgs()), '--vault-addr', server.address]);
    await cli.waitFor('"to":"initializing"');
    cli.child.kill('SIGINT');
    await cli.waitFor('shutting down once the secrets in flight are stored');
    const secondAt = Date.now();
    cli.child.kill('SIGTERM');
    const result = await cli.result;
    expect(Date.now() - secondAt).toBeLessThan(1000);
    expect(result.code).toBe(1);
    expect(logLines(result.stdout).at(-1)?.msg).toBe('second signal: exiting now');
  });
});
