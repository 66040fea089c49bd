import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  directory: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
}

function openssl(directory: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: directory, stdio: 'ignore' });
}

/**
 * A CA made for one test, a server certificate valid only for the DNS name `serverName`
 * (no IP SAN, so connecting to 127.0.0.1 needs VAULT_TLS_SERVER_NAME), and a client certificate.
 */
export async function createTestPki(serverName: string): Promise<TestPki> {
  const directory = await mkdtemp(join(tmpdir(), 'vb-pki-'));
  openssl(
    directory,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=vault-bootstrap test CA',
  );
  for (const [name, extension] of [
    ['server', `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth`],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await writeFile(join(directory, `${name}.ext`), `${extension}\n`);
    openssl(
      directory,
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name === 'server' ? serverName : 'vault-bootstrap'}`,
    );
    openssl(
      directory,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  }
  return {
    directory,
    caFile: join(directory, 'ca.pem'),
    serverCertFile: join(directory, 'server.pem'),
    serverKeyFile: join(directory, 'server.key'),
    clientCertFile: join(directory, 'client.pem'),
    clientKeyFile: join(directory, 'client.key'),
  };
}
