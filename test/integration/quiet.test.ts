import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsStore } from '../../src/store/aws.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, cleanEnv, logLines, startCli, type RunningCli } from '../../harness/cli.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { RecordingProxy, type RecordedRequest } from '../../harness/recording-proxy.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/** What one full reconcile of a converged node reads (observe.ts): seal intent, keys, provisioner, root and management tokens. */
const STORE_READS_PER_RECONCILE = 5;
/** Its token-bearing requests on OpenBao, root token stored: three token look-ups, the three built-in policies, the token role. */
const TOKEN_REQUESTS_PER_RECONCILE = 7;
const RECONCILE_INTERVAL_MS = 3000;

/**
 * A converged sidecar with recording proxies in front of moto (the store) and of OpenBao: every
 * store call and every token-bearing Vault request (an audit-log entry) is counted where it
 * arrives, not where the program says it sent it.
 */
describe('quiet when converged: cheap passes, full reconciles on events and every --reconcile-interval', () => {
  let moto: Moto;
  let storeProxy: RecordingProxy;
  let server: OpenBao;
  let vaultProxy: RecordingProxy;
  let cli: RunningCli | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    storeProxy = await RecordingProxy.start(moto.endpoint);
    Object.assign(process.env, moto.env, { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    server = await OpenBao.start();
    vaultProxy = await RecordingProxy.start(server.address);
  });

  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.result;
    await vaultProxy?.stop();
    await server?.stop();
    await storeProxy?.stop();
    await moto?.stop();
  });

  it('between reconciles: no store call, no token-bearing request, no write; a deleted policy is back within the interval', async () => {
    const port = await freePort();
    const env = cleanEnv({
      ...moto.env,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: storeProxy.address,
      HOME: await mkdtemp(join(tmpdir(), 'vb-quiet-')),
    });
    cli = startCli(
      [
        'run',
        '--store',
        'aws',
        '--vault-addr',
        vaultProxy.address,
        '--listen',
        `127.0.0.1:${port}`,
        '--interval',
        '250ms',
        '--reconcile-interval',
        `${RECONCILE_INTERVAL_MS}ms`,
      ],
      env,
    );
    await expect
      .poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status, { timeout: 60_000, interval: 50 })
      .toBe(200);

    // A window of whole passes: it opens and closes on a pass's log line (the pause after one is 250 ms).
    const window = await passWindow(cli, () => [vaultProxy.requests.length, storeProxy.requests.length], 3);
    const vaultRequests = vaultProxy.requests.slice(window.from[0], window.to[0]);
    const storeCalls = storeProxy.requests.slice(window.from[1], window.to[1]);
    expect(window.cheap).toBeGreaterThanOrEqual(5);
    expect(window.full).toBe(3);
    expect(storeCalls.map((call) => call.operation)).toEqual(
      Array(window.full * STORE_READS_PER_RECONCILE).fill('secretsmanager.GetSecretValue'),
    );
    expect(vaultRequests.filter((request) => request.token)).toHaveLength(window.full * TOKEN_REQUESTS_PER_RECONCILE);
    expect(vaultRequests.filter((request) => request.method !== 'GET')).toEqual([]);
    // A cheap pass asks sys/health alone; a full reconcile adds sys/seal-status (a cheap pass reuses what it said).
    const unauthenticated = vaultRequests.filter((request) => !request.token).map(requestLine);
    expect(new Set(unauthenticated)).toEqual(new Set(['GET /v1/sys/health', 'GET /v1/sys/seal-status']));
    expect(unauthenticated.filter((line) => line === 'GET /v1/sys/health')).toHaveLength(window.cheap + window.full);
    expect(unauthenticated.filter((line) => line === 'GET /v1/sys/seal-status')).toHaveLength(window.full);

    // The sidecar's own cost metrics agree with what arrived (the counts are still between reconciles).
    await expect
      .poll(async () => metric(port, 'vault_bootstrap_vault_requests_total{token="true"}'), {
        timeout: 5_000,
        interval: 20,
      })
      .toBe(vaultProxy.requests.filter((request) => request.token).length);
    expect(await metric(port, 'vault_bootstrap_store_calls_total{op="readLatest"}')).toBeGreaterThanOrEqual(
      window.full * STORE_READS_PER_RECONCILE,
    );

    // Drift: someone deletes a policy. Cheap passes cannot see it; the next reconcile puts it back.
    const root = JSON.parse(await new AwsStore({ region: 'us-east-1' }).readLatest('vault-root-token')).token as string;
    const configurePasses = () => passes(cli!).filter((line) => line.action === 'configure').length;
    const configuredBefore = configurePasses();
    expect((await baoRequest(server, 'DELETE', 'sys/policies/acl/provisioner', root)).status).toBe(204);
    const deletedAt = Date.now();
    await expect
      .poll(async () => (await baoRequest(server, 'GET', 'sys/policies/acl/provisioner', root)).status, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(200);
    // Within the interval, plus one pass of slack for the pass that sees it due.
    expect(Date.now() - deletedAt).toBeLessThan(RECONCILE_INTERVAL_MS + 1500);
    await expect.poll(configurePasses, { timeout: 5_000, interval: 20 }).toBe(configuredBefore + 1);

    cli.child.kill('SIGTERM');
    expect((await cli.result).code).toBe(0);
    expectNoSecretIn(capturedOutput, await secretValuesIn(new AwsStore({ region: 'us-east-1' })));
  });
});

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

function requestLine(request: RecordedRequest): string {
  return `${request.method} ${request.path}`;
}

/**
 * Waits for the next pass to end, notes `counts()`, then waits until `fullPasses` more full
 * reconciles have ended and notes them again. Returns both notes and the passes in between.
 */
async function passWindow(
  cli: RunningCli,
  counts: () => number[],
  fullPasses: number,
): Promise<{ from: number[]; to: number[]; cheap: number; full: number }> {
  const atStart = passes(cli).length;
  await until(() => passes(cli).length > atStart);
  const from = counts();
  const opened = passes(cli).length;
  await until(
    () =>
      passes(cli)
        .slice(opened)
        .filter((line) => line.reconcile !== null).length >= fullPasses,
  );
  const to = counts();
  const inWindow = passes(cli).slice(opened);
  return {
    from,
    to,
    cheap: inWindow.filter((line) => line.reconcile === null).length,
    full: inWindow.filter((line) => line.reconcile !== null).length,
  };
}

/** The `pass` log lines printed so far (whole lines only: the last one may still be arriving). */
function passes(cli: RunningCli): Array<Record<string, unknown>> {
  const output = cli.output();
  return logLines(output.slice(0, output.lastIndexOf('\n') + 1)).filter((line) => line.event === 'pass');
}

/** Polls every 2 ms (well inside the 250 ms pause after a pass), up to 60 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('no such pass within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
