import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';
import type { State } from './machine/states.js';

export interface Probe {
  readonly state: State;
  readonly lastBeat: number;
}

/**
 * /healthz: the process is alive and its loop is not stuck (a pass started recently).
 * /readyz: the ready state is reached and holding. /metrics: Prometheus text.
 */
export async function startServer(listen: { host: string | undefined; port: number }, probe: Probe, metrics: Metrics, stuckAfterMs: number): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'method not allowed\n');
    switch (path) {
      case '/healthz': {
        const sinceMs = Date.now() - probe.lastBeat;
        return sinceMs < stuckAfterMs ? reply(200, 'ok\n') : reply(503, `loop stuck for ${Math.round(sinceMs / 1000)}s\n`);
      }
      case '/readyz':
        return probe.state === 'ready' ? reply(200, 'ready\n') : reply(503, `${probe.state}\n`);
      case '/metrics':
        metrics.text().then(
          (text) => reply(200, text, metrics.registry.contentType),
          () => reply(500, 'metrics unavailable\n'),
        );
        return;
      default:
        return reply(404, 'not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.unref();
  return { server, port: (server.address() as AddressInfo).port };
}
