import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { FaultProxy } from '../../harness/fault-proxy.js';

const ANSWER = JSON.stringify({ filler: 'x'.repeat(200) });
let upstream: Server;
let proxy: FaultProxy;

beforeEach(async () => {
  upstream = createServer((_incoming, outgoing) => {
    outgoing.writeHead(200, { 'content-type': 'application/json' });
    outgoing.end(ANSWER);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await FaultProxy.start(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, {
    latencyMs: 300,
    trickleBytes: 8,
    trickleEveryMs: 50,
  });
});

afterEach(async () => {
  await proxy.stop();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** One request through the proxy: the answer's text or the error's code, and how long it took. */
async function ask(timeoutMs = 2_000): Promise<{ outcome: string; ms: number }> {
  const started = Date.now();
  try {
    const answer = await fetch(`${proxy.address}/v1/sys/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await answer.text();
    return { outcome: text === ANSWER ? 'answer' : 'garbled', ms: Date.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { outcome: cause?.code ?? (error as Error).name, ms: Date.now() - started };
  }
}

test('without a fault it forwards; each fault does what it says; lifted, it forwards again on the same port', async () => {
  expect((await ask()).outcome).toBe('answer');

  await proxy.set('refuse');
  expect((await ask()).outcome).toBe('ECONNREFUSED');

  await proxy.set('black-hole');
  const holed = await ask(600);
  expect(holed.outcome).toBe('TimeoutError');

  await proxy.set('latency');
  const slow = await ask();
  expect(slow.outcome).toBe('answer');
  expect(slow.ms).toBeGreaterThanOrEqual(550);

  await proxy.set('reset');
  expect(['ECONNRESET', 'UND_ERR_SOCKET', 'TypeError']).toContain((await ask()).outcome);

  await proxy.set('trickle');
  const trickled = await ask(5_000);
  expect(trickled.outcome).toBe('answer');
  expect(trickled.ms).toBeGreaterThanOrEqual(1_000);

  await proxy.set('none');
  expect((await ask()).outcome).toBe('answer');
});

test('a trigger switches the fault before the matching request is forwarded', async () => {
  let seen = 0;
  upstream.on('request', () => (seen += 1));
  proxy.when(/GET \/v1\/sys\/health/, () => void proxy.set('black-hole'));
  expect((await ask(500)).outcome).toBe('TimeoutError');
  expect(seen).toBe(0);
});
