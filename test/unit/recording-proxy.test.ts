import { Agent, createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { RecordingProxy } from '../../harness/recording-proxy.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The chaos scenarios read a restart the way the sidecar does: its connection closes. The proxy must not hide that. */
test('a server that drops its connections behind the proxy closes the client connection through the proxy', async () => {
  const upstream = createServer((_incoming, outgoing) => outgoing.end('{}'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  const proxy = await RecordingProxy.start(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  cleanups.push(() => proxy.stop());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => agent.destroy());

  const socket = await new Promise<Socket>((resolve, reject) => {
    const call = request(`${proxy.address}/v1/sys/health`, { agent }, (answer) => {
      answer.resume();
      answer.once('end', () => resolve(call.socket!));
    });
    call.once('error', reject);
    call.end();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  expect(socket.destroyed).toBe(false);

  upstream.closeAllConnections();
  await closed;
  expect(socket.destroyed).toBe(true);
});
