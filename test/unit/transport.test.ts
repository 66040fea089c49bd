import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Transport } from '../../src/vault/transport.js';

const NO_TLS = {
  caCertificates: [],
  clientCertificate: undefined,
  clientKey: undefined,
  serverName: undefined,
  skipVerify: false,
};

/** Polls until `check` holds (no fixed sleep as the signal). */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not within 5 s: ${what}`);
}

/**
 * A closed connection wakes the sidecar's loop as a restart of the server (runner.ts): only the
 * server's closes may count. Requests sent together open several connections; the ones left
 * idle afterwards are closed by the transport itself and are no news.
 */
describe('Transport: connections closed by the server, not by us', () => {
  let server: Server;
  let transport: Transport;
  let uri: string;
  const held: ServerResponse[] = [];
  let heldUntil = 0;
  let connections = 0;
  const open = new Set<Socket>();

  beforeEach(async () => {
    connections = 0;
    server = createServer((_request, response) => {
      // Answers only once `heldUntil` requests are in, so they are surely in flight together.
      held.push(response);
      if (held.length < heldUntil) return;
      for (const each of held.splice(0)) each.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    server.on('connection', (socket: Socket) => {
      connections += 1;
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/sys/health`;
    transport = new Transport(new URL(uri), NO_TLS);
  });

  afterEach(async () => {
    transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('eight requests at once, then quiet: the extra connections the agent closes are not counted; one request after reuses the watched one', async () => {
    heldUntil = 4;
    const answers = await Promise.all(Array.from({ length: 8 }, () => transport.send({ method: 'GET', uri })));
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array.from({ length: 8 }, () => 200));
    expect(connections).toBeGreaterThan(1);
    await until('the extra connections closed', () => open.size <= 2);
    const opened = connections;
    heldUntil = 1;
    await transport.send({ method: 'GET', uri });
    expect(connections).toBe(opened);
    expect(transport.closedConnections).toBe(0);
  });

  it('the server closing its idle connections: the watched one counts, once, and is heard at once', async () => {
    heldUntil = 2;
    await Promise.all([1, 2].map(() => transport.send({ method: 'GET', uri })));
    let heard = 0;
    transport.onConnectionClosed(() => {
      heard += 1;
    });
    server.closeIdleConnections();
    await until('the close heard', () => heard === 1);
    await until('every connection closed', () => open.size === 0);
    expect(transport.closedConnections).toBe(1);
  });
});
