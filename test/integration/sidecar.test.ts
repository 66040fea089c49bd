import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, runCli, startCli, transitions, type RunningCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { describeEachServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

async function probe(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describeEachServer('the sidecar loop (run without --once)', (kind) => {
  let server: OpenBao | undefined;
  let cli: RunningCli | undefined;

  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.result;
    await server?.stop();
  });

  it('is not ready before unseal, ready after; unseals a restarted server, but keeps a node sealed in place (API or seal command) until resume', async () => {
    server = await OpenBao.create({ kind });
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-sidecar-')), 'store');
    const port = await freePort();
    cli = startCli([
      'run',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
      '--listen',
      `127.0.0.1:${port}`,
      '--interval',
      '1s',
    ]);
    await cli.waitFor('"event":"listening"');

    // No server yet: alive, not ready, vault down.
    expect((await probe(port, '/healthz')).status).toBe(200);
    expect(await probe(port, '/readyz')).toMatchObject({ status: 503, text: expect.stringMatching(/^waiting: /) });
    expect(metricValue((await probe(port, '/metrics')).text, 'vault_bootstrap_vault_up')).toBe(0);

    await server.start();
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 60_000, interval: 100 }).toBe(200);
    let metrics = (await probe(port, '/metrics')).text;
    expect(metricValue(metrics, 'vault_bootstrap_state{state="ready"}')).toBe(1);
    expect(metricValue(metrics, 'vault_bootstrap_vault_up')).toBe(1);
    expect(metricValue(metrics, 'vault_bootstrap_unseal_total')).toBeGreaterThanOrEqual(3);
    const unsealsBefore = metricValue(metrics, 'vault_bootstrap_unseal_total');

    // The server goes down: the sidecar is not ready while it waits.
    await server.stop();
    await expect
      .poll(async () => (await probe(port, '/readyz')).text.split(':')[0], { timeout: 30_000, interval: 50 })
      .toBe('waiting');
    expect(metricValue((await probe(port, '/metrics')).text, 'vault_bootstrap_vault_up')).toBe(0);

    // It comes back sealed: the sidecar unseals it and is ready again.
    await server.start();
    await expect
      .poll(async () => (await baoRequest(server!, 'GET', 'sys/seal-status')).body.sealed, {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(false);
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 30_000, interval: 100 }).toBe(200);
    metrics = (await probe(port, '/metrics')).text;
    expect(metricValue(metrics, 'vault_bootstrap_unseal_total')).toBeGreaterThan(unsealsBefore);
    expect(metricValue(metrics, 'vault_bootstrap_transitions_total{from="ready",to="waiting"}')).toBe(1);
    expect(
      metricValue(metrics, 'vault_bootstrap_transitions_total{from="waiting",to="sealed"}'),
    ).toBeGreaterThanOrEqual(1);

    // Sealed in place with the API (no restart): the sidecar records a seal intent and keeps it sealed.
    const store = new FileStore(storeDirectory);
    const root = JSON.parse(await store.readLatest('vault-root-token')).token;
    await expect
      .poll(async () => (await baoRequest(server!, 'GET', 'sys/health')).status, { timeout: 20_000 })
      .toBe(200);
    expect((await baoRequest(server, 'PUT', 'sys/seal', root)).status).toBe(204);
    await expect
      .poll(async () => metricValue((await probe(port, '/metrics')).text, 'vault_bootstrap_seal_intent'), {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(1);
    expect(JSON.parse(await store.readLatest('vault-seal-intent'))).toMatchObject({
      active: true,
      reason: expect.stringContaining('sealed while running'),
    });
    expect((await probe(port, '/readyz')).status).toBe(503);
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
    const statusReport = await runCli([
      'status',
      '--json',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(JSON.parse(statusReport.stdout)).toMatchObject({
      sealIntent: { active: true },
      decision: { state: 'sealed', blocker: 'seal-intent' },
    });

    // resume: unsealed again within two intervals.
    const cliArgs = ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];
    expect((await runCli(['resume', ...cliArgs])).code).toBe(0);
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 30_000, interval: 100 }).toBe(200);
    expect(metricValue((await probe(port, '/metrics')).text, 'vault_bootstrap_seal_intent')).toBe(0);

    // The seal command: sealed, and still sealed 15 s (fifteen passes) later.
    const sealed = await runCli(['seal', '--reason', 'incident 42', ...cliArgs]);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(JSON.parse(await store.readLatest('vault-seal-intent'))).toMatchObject({
      active: true,
      reason: 'incident 42',
    });
    const watchUntil = Date.now() + 15_000;
    while (Date.now() < watchUntil) {
      expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(true);
      expect((await probe(port, '/readyz')).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect((await runCli(['resume', ...cliArgs])).code).toBe(0);
    await expect.poll(async () => (await probe(port, '/readyz')).status, { timeout: 30_000, interval: 100 }).toBe(200);

    metrics = (await probe(port, '/metrics')).text;
    expect(metrics).toContain('vault_bootstrap_store_errors_total');
    expect(transitions(cli.output()).filter((state) => state === 'initializing')).toHaveLength(1);

    cli.child.kill('SIGTERM');
    const result = await cli.result;
    expect(result.code).toBe(0);
    expectNoSecretIn([...capturedOutput, metrics], await secretValuesIn(new FileStore(storeDirectory)));
  });
});
