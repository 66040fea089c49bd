import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, logLines, startCli, transitions } from '../helpers/cli.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';
import { describeEachServer } from '../helpers/each-server.js';
import { serverRequest, TestServer } from '../helpers/servers.js';

const storeArgs = async () => ['--store', 'file', '--file-dir', join(await mkdtemp(join(tmpdir(), 'vb-shutdown-')), 'store'), '--listen', 'off'];

/** A port that accepts each connection and resets it at once: "unreachable", with every attempt seen. */
async function resettingPort(): Promise<{ address: string; attempts: number[]; close(): Promise<void> }> {
  const attempts: number[] = [];
  const server: Server = createServer((socket) => {
    attempts.push(Date.now());
    socket.resetAndDestroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { address: `http://127.0.0.1:${port}`, attempts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('shutdown (SPEC §7), no server needed', () => {
  it('SIGTERM while backing off from an unreachable server ends the sleep and exits 0', async () => {
    const unreachable = await resettingPort();
    try {
      const cli = startCli(['run', ...(await storeArgs()), '--vault-addr', unreachable.address]);
      // The backoff doubles from fast retries; once two attempts are 2.5 s apart, the sleep that
      // follows the latest attempt is at least half as long (jittered: base/2..base, base not
      // shrinking), which leaves the exit a wide margin on a busy machine.
      await expect
        .poll(() => {
          const [previous, latest] = unreachable.attempts.slice(-2);
          return previous !== undefined && latest! - previous >= 2500;
        }, { timeout: 60_000, interval: 20 })
        .toBe(true);
      const [previous, latest] = unreachable.attempts.slice(-2) as [number, number];
      const attemptsBefore = unreachable.attempts.length;
      cli.child.kill('SIGTERM');
      const result = await cli.result;
      const exitedAt = Date.now();
      expect(result.code, result.stdout).toBe(0);
      expect(transitions(result.stdout)).not.toContain('uninitialized');
      expect(logLines(result.stdout).at(-1)?.msg).toBe('stopped cleanly');
      // No attempt after the signal, and the exit came before the sleep could have run out.
      expect(unreachable.attempts).toHaveLength(attemptsBefore);
      expect(exitedAt - latest).toBeLessThan((latest - previous) / 2);
    } finally {
      await unreachable.close();
    }
  });
});

describeEachServer('shutdown (SPEC §7)', (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  /** A fresh server behind a proxy that holds sys/init's answer: the keys are in flight until released. */
  async function serverWithInitHeld() {
    const server = await TestServer.start({ kind });
    const proxy = await RecordingProxy.start(server.address);
    cleanups.push(async () => {
      await proxy.stop();
      await server.stop();
    });
    return { server, proxy, init: proxy.holdAnswer('PUT', 'sys/init') };
  }

  it('SIGTERM while sys/init is in flight lets the step finish storing the keys, then exits 0', async () => {
    const { server, proxy, init } = await serverWithInitHeld();
    const args = await storeArgs();
    const cli = startCli(['run', ...args, '--vault-addr', proxy.address]);
    await init.answered;
    cli.child.kill('SIGTERM');
    await cli.waitFor('shutting down once the secrets in flight are stored');
    init.release();
    const result = await cli.result;
    expect(result.code, result.stdout).toBe(0);

    const messages = logLines(result.stdout).map((line) => String(line.msg));
    const signalled = messages.indexOf('shutting down once the secrets in flight are stored');
    const stored = messages.indexOf('keys and root token stored and verified');
    expect(signalled).toBeGreaterThanOrEqual(0);
    expect(stored).toBeGreaterThan(signalled);
    expect(messages.at(-1)).toBe('stopped cleanly');
    // Stopped after storing: no step started after the signal.
    expect(transitions(result.stdout)).not.toContain('configuring');
    expect(proxy.paths('PUT', 'sys/unseal')).toEqual([]);

    const store = new FileStore(args[3]!);
    expect(JSON.parse(await store.readLatest('vault-unseal-keys')).keysBase64).toHaveLength(5);
    expect((await serverRequest(server, 'GET', 'sys/health')).status).toBe(503);
    expectNoSecretIn(capturedOutput, await secretValuesIn(store));
  });

  it('a second signal exits at once, even while secrets are in flight', async () => {
    const { proxy, init } = await serverWithInitHeld();
    const args = await storeArgs();
    const cli = startCli(['run', ...args, '--vault-addr', proxy.address]);
    await init.answered;
    cli.child.kill('SIGINT');
    await cli.waitFor('shutting down once the secrets in flight are stored');
    cli.child.kill('SIGTERM');
    // The answer is still held: the process cannot have waited for the keys.
    const result = await cli.result;
    init.release();
    expect(result.code).toBe(1);
    expect(logLines(result.stdout).at(-1)?.msg).toBe('second signal: exiting now');
    expect(await new FileStore(args[3]!).readAllVersions('vault-unseal-keys')).toEqual([]);
  });
});
