import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { State } from './states.js';

export interface Probe {
  readonly state: State;
  /** The node should take client traffic (readiness.ts): ready, or configured once and blocked by nothing that concerns serving. */
  readonly serving: boolean;
  /** Why the loop is in its state: the body of a 503 from /readyz. */
  readonly reason: string;
  readonly lastBeat: number;
  /** Look again now. */
  wake(): void;
}

/** Asks the server itself, now: undefined when it serves requests, else what it is instead (sealed, unreachable, …). */
export type LiveCheck = () => Promise<string | undefined>;

/** A live answer is reused this long, so a burst of probes costs one health call. */
const LIVE_CACHE_MS = 250;

/**
 * /healthz: the process is alive and its loop is not stuck (a pass started recently).
 * /readyz: the node serves (readiness.ts: ready, or configured once and blocked by nothing that
 * concerns serving) AND the server, asked now, still serves requests: it never answers 200 for a
 * server that went sealed or away since the last pass. /metrics: Prometheus text.
 */
export async function startServer(
  listen: { host: string | undefined; port: number },
  probe: Probe,
  liveCheck: LiveCheck,
  metrics: Metrics,
  stuckAfterMs: number,
): Promise<{ server: Server; port: number }> {
  let cached: { at: number; answer: Promise<string | undefined> } | undefined;
  const checkLive = (): Promise<string | undefined> => {
    if (cached === undefined || Date.now() - cached.at > LIVE_CACHE_MS) {
      cached = { at: Date.now(), answer: liveCheck().catch(() => 'unreachable') };
    }
    return cached.answer;
  };
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
        return sinceMs < stuckAfterMs
          ? reply(200, 'ok\n')
          : reply(503, `loop stuck for ${Math.round(sinceMs / 1000)}s\n`);
      }
      case '/readyz':
        if (!probe.serving) return reply(503, `${probe.state}: ${probe.reason}\n`);
        void checkLive().then((problem) => {
          if (problem === undefined && probe.serving)
            return reply(200, probe.state === 'ready' ? 'ready\n' : `serving; ${probe.state}: ${probe.reason}\n`);
          probe.wake();
          reply(503, `${problem ?? probe.state}: the server changed since the last pass\n`);
        });
        return;
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
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new ConfigError(
          `--listen/VB_LISTEN: cannot listen on ${listen.host ?? '*'}:${listen.port} (${error.code ?? 'listen failed'}); choose a free port, or off`,
        ),
      );
    });
    server.listen(listen.port, listen.host, () => resolve());
  });
  server.unref();
  return { server, port: (server.address() as AddressInfo).port };
}
