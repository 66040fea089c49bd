import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../harness/child-server.js';
import { cleanEnv, logLines, startCli, type RunningCli } from '../../harness/cli.js';
import { FaultProxy } from '../../harness/fault-proxy.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { CALL_DEADLINE_MS } from '../../src/deadlines.js';
import { TestServer } from '../helpers/servers.js';

/** Slack for process start and scheduling on a loaded 2-core machine. */
const SLACK_MS = 2_500;

/** Asks a probe; the answer's status, body and how long it took. */
async function probe(
  port: number,
  path: '/healthz' | '/readyz',
): Promise<{ status: number; body: string; ms: number }> {
  const started = Date.now();
  const answer = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: answer.status, body: await answer.text(), ms: Date.now() - started };
}

async function waitForProbe(
  port: number,
  path: '/healthz' | '/readyz',
  expected: (answer: { status: number; body: string }) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await probe(port, path).catch(() => undefined);
    if (answer !== undefined && expected(answer)) return;
    if (Date.now() > deadline) throw new Error(`${path} never answered as expected; last ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function timedOutCalls(cli: RunningCli): Array<Record<string, unknown>> {
  return logLines(cli.output()).filter((line) => line.event === 'call-timed-out');
}

describe('every call has a deadline (real OpenBao, moto, and a fault proxy between them and the sidecar)', () => {
  let moto: Moto;
  let server: TestServer;

  beforeAll(async () => {
    [moto, server] = await Promise.all([startMoto(), TestServer.start()]);
  });

  afterAll(async () => {
    await Promise.all([moto?.stop(), server?.stop()]);
  });

  it('a black-holed AWS endpoint: probes answer at once (not ready, waiting for the store), --once exits 4 at --timeout, the timeouts are named', async () => {
    const store = await FaultProxy.start(moto.endpoint);
    await store.set('black-hole');
    const port = await freePort();
    try {
      const cli = startCli(
        [
          'run',
          '--once',
          '--timeout',
          '8s',
          '--store',
          'aws',
          '--store-prefix',
          'holed',
          '--vault-addr',
          server.address,
          '--listen',
          `127.0.0.1:${port}`,
        ],
        cleanEnv({ ...moto.env, AWS_ENDPOINT_URL_SECRETS_MANAGER: store.address }),
      );
      await waitForProbe(port, '/healthz', (answer) => answer.status === 200, 10_000);
      const ready = await probe(port, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toContain('waiting for the aws store');
      expect(ready.ms).toBeLessThan(1_000);
      expect((await probe(port, '/healthz')).ms).toBeLessThan(1_000);
      const result = await cli.result;
      expect(result.code, result.stdout).toBe(4);
      expect(result.elapsedMs).toBeLessThan(8_000 + SLACK_MS);
      const timedOut = timedOutCalls(cli);
      expect(timedOut.length).toBeGreaterThan(0);
      expect(timedOut[0]).toMatchObject({
        dependency: 'aws secrets manager',
        operation: 'verifyAccess holed-init-claim',
      });
      // Its own deadline, cut short by what was left of --timeout: the run never outlives it.
      expect(Number(timedOut[0]!.deadlineMs)).toBeLessThanOrEqual(CALL_DEADLINE_MS.store);
      expect(Number(timedOut[0]!.elapsedMs)).toBeGreaterThanOrEqual(Number(timedOut[0]!.deadlineMs) - 50);
      expect(logLines(result.stdout).some((line) => line.event === 'timed-out')).toBe(true);
    } finally {
      await store.stop();
    }
  }, 60_000);

  it('a sidecar waiting for a black-holed store exits 0 on SIGTERM at once, and once the fault lifts a new one converges', async () => {
    const store = await FaultProxy.start(moto.endpoint);
    await store.set('black-hole');
    const port = await freePort();
    const env = cleanEnv({ ...moto.env, AWS_ENDPOINT_URL_SECRETS_MANAGER: store.address });
    const args = [
      'run',
      '--store',
      'aws',
      '--store-prefix',
      'lifted',
      '--vault-addr',
      server.address,
      '--interval',
      '1s',
    ];
    try {
      const waiting = startCli([...args, '--listen', `127.0.0.1:${port}`], env);
      await waitForProbe(port, '/readyz', (answer) => answer.body.includes('waiting for the aws store'), 10_000);
      const signalledAt = Date.now();
      waiting.child.kill('SIGTERM');
      const stopped = await waiting.result;
      expect(stopped.code, stopped.stdout).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(SLACK_MS);

      await store.set('none');
      const converging = startCli([...args, '--once', '--timeout', '60s'], env);
      const converged = await converging.result;
      expect(converged.code, converged.stdout).toBe(0);
    } finally {
      await store.stop();
    }
  }, 120_000);

  it('a Vault that trickles its answers: each call is cut at its deadline (the whole exchange, not the idle gap), --once exits 4 at --timeout', async () => {
    const vault = await FaultProxy.start(server.address, { trickleBytes: 1, trickleEveryMs: 100 });
    await vault.set('trickle');
    try {
      const cli = startCli(
        [
          'run',
          '--once',
          '--timeout',
          '9s',
          '--store',
          'aws',
          '--store-prefix',
          'trickled',
          '--vault-addr',
          vault.address,
        ],
        cleanEnv(moto.env),
      );
      const result = await cli.result;
      expect(result.code, result.stdout).toBe(4);
      expect(result.elapsedMs).toBeLessThan(9_000 + SLACK_MS);
      const timedOut = timedOutCalls(cli);
      expect(timedOut[0]).toMatchObject({
        dependency: 'vault',
        operation: 'GET /v1/sys/health',
        deadlineMs: CALL_DEADLINE_MS.vaultHealth,
      });
    } finally {
      await vault.stop();
    }
  }, 60_000);

  it('a black-holed GCP endpoint: --once exits 4 at --timeout, the timeout named', async () => {
    const gcp = await FaultProxy.start(`127.0.0.1:${await freePort()}`);
    await gcp.set('black-hole');
    try {
      const cli = startCli(
        [
          'run',
          '--once',
          '--timeout',
          '6s',
          '--store',
          'gcp',
          '--gcp-project',
          'p',
          '--gcp-endpoint',
          new URL(gcp.address).host,
          '--vault-addr',
          server.address,
        ],
        cleanEnv({ METADATA_SERVER_DETECTION: 'none' }),
      );
      const result = await cli.result;
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(4);
      expect(result.elapsedMs).toBeLessThan(6_000 + SLACK_MS);
      expect(logLines(result.stdout).some((line) => line.event === 'timed-out')).toBe(true);
    } finally {
      await gcp.stop();
    }
  }, 60_000);
});
