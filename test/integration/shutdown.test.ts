import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, events, startCli, transitions } from '../../harness/cli.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

const storeArgs = async () => [
  '--store',
  'file',
  '--file-dir',
  join(await mkdtemp(join(tmpdir(), 'vb-shutdown-')), 'store'),
  '--listen',
  'off',
];

describe('shutdown (SPEC §7): a signal ends the pause at once', () => {
  it('SIGTERM during a 10-minute --interval pause of a ready sidecar exits 0 without another pass', async () => {
    const server = await TestServer.start();
    const proxy = await RecordingProxy.start(server.address);
    try {
      const cli = startCli(['run', ...(await storeArgs()), '--vault-addr', proxy.address, '--interval', '10m']);
      await cli.waitFor('"to":"ready"');
      const requestsBefore = proxy.requests.length;
      const signalledAt = Date.now();
      cli.child.kill('SIGTERM');
      const result = await cli.result;
      expect(result.code, result.stdout).toBe(0);
      expect(events(result.stdout).at(-1)).toMatchObject({ event: 'finished', outcome: 'stopped' });
      // No pass after the signal, and the exit came long before the pause could have run out.
      expect(proxy.requests.length).toBe(requestsBefore);
      expect(Date.now() - signalledAt).toBeLessThan(5 * 60_000);
    } finally {
      await proxy.stop();
      await server.stop();
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
    await cli.waitFor('"event":"shutting-down"');
    init.release();
    const result = await cli.result;
    expect(result.code, result.stdout).toBe(0);

    const said = events(result.stdout);
    const signalled = said.findIndex((line) => line.event === 'shutting-down' && line.secretsInFlight === true);
    const stored = said.findIndex((line) => line.event === 'init-secrets-stored');
    expect(signalled).toBeGreaterThanOrEqual(0);
    expect(stored).toBeGreaterThan(signalled);
    expect(said.at(-1)).toMatchObject({ event: 'finished', outcome: 'stopped' });
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
    await cli.waitFor('"event":"shutting-down"');
    expect(events(cli.output(), 'shutting-down')).toEqual([expect.objectContaining({ secretsInFlight: true })]);
    cli.child.kill('SIGTERM');
    // The answer is still held: the process cannot have waited for the keys.
    const result = await cli.result;
    init.release();
    expect(result.code).toBe(1);
    expect(events(result.stdout).at(-1)).toMatchObject({ event: 'second-signal', secretsInFlight: true });
    expect(await new FileStore(args[3]!).readAllVersions('vault-unseal-keys')).toEqual([]);
  });
});
