import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/secret.js';
import { VaultClient } from '../../src/vault/client.js';

const NO_TLS = {
  caCertificates: [],
  clientCertificate: undefined,
  clientKey: undefined,
  serverName: undefined,
  skipVerify: false,
};

/**
 * What we rely on in node-vault, pinned so an upgrade cannot change it silently: the URI it
 * builds from our path and query, nothing taken from the environment (token, namespace, path
 * prefix), and every HTTP status handed back to us, never thrown (a 400 on unseal thrown as a
 * transport error would read as "unreachable" and be retried forever).
 */
describe('VaultClient over node-vault', () => {
  let server: Server;
  let address: URL;
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
  const environment = { VAULT_TOKEN: 'env-token', VAULT_NAMESPACE: 'env-namespace', VAULT_PREFIX: '/env-prefix' };
  const before = Object.fromEntries(Object.keys(environment).map((name) => [name, process.env[name]]));

  beforeAll(async () => {
    Object.assign(process.env, environment);
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const status = Number(new URL(request.url ?? '/', 'http://x').searchParams.get('answer') ?? 200);
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(status < 300 ? { ok: true } : { errors: [`status ${status}`] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await new Promise((resolve) => server.close(resolve));
  });

  it('builds /v1/<path>?<query>, sends the body as JSON, and takes no token, namespace or prefix from the environment', async () => {
    const client = new VaultClient(address, NO_TLS);
    try {
      seen.length = 0;
      expect(await client.call('PUT', 'sys/unseal', { body: { reset: true }, query: { a: '1', b: 'x y' } })).toEqual({
        status: 200,
        body: { ok: true },
      });
      expect(seen).toHaveLength(1);
      const [request] = seen;
      expect(request).toMatchObject({ method: 'PUT', url: '/v1/sys/unseal?a=1&b=x+y' });
      expect(JSON.parse(request!.body)).toEqual({ reset: true });
      expect(request!.headers['x-vault-token']).toBeUndefined();
      expect(request!.headers['x-vault-namespace']).toBeUndefined();

      await client.call('GET', 'auth/token/lookup-self', { token: new Secret('our-token') });
      expect(seen[1]!.headers['x-vault-token']).toBe('our-token');
    } finally {
      client.close();
    }
  });

  it.each([400, 403, 404, 429, 500, 503])(
    'returns HTTP %i as a status with its body, never throws it',
    async (status) => {
      const client = new VaultClient(address, NO_TLS);
      try {
        expect(await client.call('PUT', 'sys/unseal', { query: { answer: String(status) } })).toEqual({
          status,
          body: { errors: [`status ${status}`] },
        });
      } finally {
        client.close();
      }
    },
  );

  it('throws only when nothing answers: VAULT_UNREACHABLE naming method and path, no request detail', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new VaultClient(new URL(`http://127.0.0.1:${port}`), NO_TLS);
    try {
      const failure = await client
        .call('PUT', 'sys/unseal', { body: { key: 'c2VjcmV0' }, token: new Secret('our-token') })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({
        code: 'VAULT_UNREACHABLE',
        message: expect.stringMatching(/^PUT \/v1\/sys\/unseal: /),
      });
      expect(JSON.stringify(failure) + String(failure)).not.toMatch(/c2VjcmV0|our-token/);
    } finally {
      client.close();
    }
  });
});
