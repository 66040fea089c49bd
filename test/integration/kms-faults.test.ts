import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SEAL_SILENT_AFTER_MS } from '../../src/machine/decide.js';
import { logLines, runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { MotoKms, SEAL_KMS_ACTIONS, type AwsCredentials } from '../../harness/kms.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { describeEachKmsServer, serverRequest, TestServer } from '../helpers/servers.js';

/**
 * The KMS of an awskms seal failing under a running sidecar: refused at server start (the
 * server exits at once), a black hole (the server hangs before it listens), Decrypt denied by
 * IAM (the server stays up sealed, retrying). Each is reported as its own blocker,
 * `seal-failing`, and never answered with a key submission or an init. The chaos table in
 * docs/guarantees.md has a row for each, with the times measured here.
 */
describeEachKmsServer('KMS faults under a sidecar', (build) => {
  let moto: Moto;
  let kms: MotoKms;
  let server: TestServer;
  let proxy: RecordingProxy;
  let sidecar: RunningCli;
  let keyId: string;
  let sealUser: AwsCredentials;

  /** seal-failing reports the sidecar has logged so far (one per episode). */
  const sealFailing = () =>
    logLines(sidecar.output()).filter((line) => line.event === 'blocked' && line.blocker === 'seal-failing');
  const readyCount = () =>
    logLines(sidecar.output()).filter((line) => line.event === 'state' && line.to === 'ready').length;
  const keyCalls = () => proxy.paths('PUT', 'sys/unseal').length + proxy.paths('PUT', 'sys/init').length;

  /** Waits for one more seal-failing report; returns it and how long it took from `since`. */
  async function nextReport(before: number, since: number): Promise<{ reason: string; afterMs: number }> {
    await expect
      .poll(() => sealFailing().length, { timeout: SEAL_SILENT_AFTER_MS + 30_000, interval: 200 })
      .toBeGreaterThan(before);
    return { reason: String(sealFailing()[before]!.reason), afterMs: Date.now() - since };
  }

  async function backToReady(): Promise<void> {
    const before = readyCount();
    await server.start();
    await expect.poll(readyCount, { timeout: 60_000, interval: 200 }).toBeGreaterThan(before);
  }

  beforeAll(async () => {
    moto = await startMoto();
    kms = await MotoKms.start(moto);
    keyId = await kms.createKey();
    sealUser = await kms.userAllowed('seal', [...SEAL_KMS_ACTIONS]);
    server = await TestServer.start({ build, seal: await kms.seal({ keyId, credentials: sealUser }) });
    proxy = await RecordingProxy.start(server.address);
    const storeArgs = [
      '--store',
      'file',
      '--file-dir',
      join(await mkdtemp(join(tmpdir(), 'vb-kms-faults-')), 'store'),
      '--vault-addr',
      proxy.address,
    ];
    const first = await runCli(['run', '--once', ...storeArgs]);
    expect(first.code, first.stdout).toBe(0);
    sidecar = startCli(['run', ...storeArgs, '--interval', '1s', '--listen', 'off']);
    await sidecar.waitFor('"to":"ready"');
  });

  afterAll(async () => {
    sidecar?.child.kill('SIGKILL');
    await proxy?.stop();
    await server?.stop();
    await kms?.faults.stop();
    await moto?.stop();
  });

  it('Decrypt denied: the server stays up sealed; seal-failing, no key submitted, and it unseals once IAM allows Decrypt again', async () => {
    const withoutDecrypt = await kms.userAllowed(
      'seal-no-decrypt',
      SEAL_KMS_ACTIONS.filter((action) => action !== 'kms:Decrypt'),
    );
    await kms.enforceIam();
    try {
      await server.stop();
      await server.changeSeal(await kms.seal({ keyId, credentials: withoutDecrypt }));
      const before = { reports: sealFailing().length, keyCalls: keyCalls() };
      const since = Date.now();
      await server.start();
      const report = await nextReport(before.reports, since);
      console.log(`[${build}] Decrypt denied → seal-failing after ${report.afterMs} ms`);
      expect((await serverRequest(server, 'GET', 'sys/health')).status).toBe(503);
      expect(keyCalls()).toBe(before.keyCalls);

      await server.stop();
      await server.changeSeal(await kms.seal({ keyId, credentials: sealUser }));
      await backToReady();
      expect(keyCalls()).toBe(before.keyCalls);
    } finally {
      await kms.relaxIam();
    }
  }, 120_000);

  it('KMS refusing connections at start: the server exits at once; seal-failing with the connection error, no key submitted', async () => {
    await server.stop();
    await kms.faults.set('refuse');
    const before = { reports: sealFailing().length, keyCalls: keyCalls() };
    const since = Date.now();
    const launched = await server.launch();
    await expect.poll(() => launched.running(), { timeout: 30_000 }).toBe(false);
    expect(launched.exitCode()).not.toBe(0);
    const report = await nextReport(before.reports, since);
    console.log(
      `[${build}] KMS refused at start → server exited, seal-failing after ${report.afterMs} ms: ${report.reason.slice(0, 160)}`,
    );
    expect(keyCalls()).toBe(before.keyCalls);

    await kms.faults.set('none');
    await backToReady();
    expect(keyCalls()).toBe(before.keyCalls);
  }, 120_000);

  it('KMS black hole: the server hangs before it listens; seal-failing, no key submitted', async () => {
    await server.stop();
    await kms.faults.set('black-hole');
    const before = { reports: sealFailing().length, keyCalls: keyCalls() };
    const since = Date.now();
    const launched = await server.launch();
    const report = await nextReport(before.reports, since);
    console.log(
      `[${build}] KMS black hole → server hung (running: ${launched.running()}), seal-failing after ${report.afterMs} ms`,
    );
    expect(launched.running()).toBe(true);
    await expect(serverRequest(server, 'GET', 'sys/health')).rejects.toThrow();
    expect(keyCalls()).toBe(before.keyCalls);

    // It may ignore SIGTERM while it hangs: stop() ends it with SIGKILL after the grace period.
    await server.stop();
    await kms.faults.set('none');
    await backToReady();
    expect(keyCalls()).toBe(before.keyCalls);
  }, 120_000);
});
