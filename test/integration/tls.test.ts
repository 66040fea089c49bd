import { mkdir, mkdtemp, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanEnv, logLines, runCli } from '../../harness/cli.js';
import { createTestPki, type TestPki } from '../../harness/certificates.js';
import { describeEachServer, TestServer } from '../helpers/servers.js';

const SERVER_NAME = 'vault.bootstrap.test';

describeEachServer('TLS: verification on by default, Vault variables honoured', (kind) => {
  let pki: TestPki;
  let server: TestServer;
  let storeDirectory: string;
  const run = (env: Record<string, string>, extra: string[] = []) =>
    runCli(
      [
        'run',
        '--once',
        '--store',
        'file',
        '--file-dir',
        storeDirectory,
        '--vault-addr',
        server.address,
        '--timeout',
        '3s',
        ...extra,
      ],
      cleanEnv(env),
    );
  const clientEnv = () => ({ VAULT_CLIENT_CERT: pki.clientCertFile, VAULT_CLIENT_KEY: pki.clientKeyFile });

  beforeAll(async () => {
    pki = await createTestPki(SERVER_NAME);
    server = await TestServer.start({
      kind,
      tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, clientCaFile: pki.caFile },
    });
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-tls-')), 'store');
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('refuses an unverified server: no CA given → never past waiting, exit 4, the TLS error named', async () => {
    const result = await run({ ...clientEnv(), VAULT_TLS_SERVER_NAME: SERVER_NAME });
    expect(result.code).toBe(4);
    const reasons = logLines(result.stdout)
      .filter((line) => line.event === 'vault-unreachable')
      .map((line) => String(line.reason));
    expect(reasons.join(' ')).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
  });

  it('VAULT_SKIP_VERIFY=false keeps verification on (node-vault alone would treat any value as skip)', async () => {
    const result = await run({ ...clientEnv(), VAULT_TLS_SERVER_NAME: SERVER_NAME, VAULT_SKIP_VERIFY: 'false' });
    expect(result.code).toBe(4);
  });

  it('a CA but the wrong name (127.0.0.1 is not in the certificate) → refused', async () => {
    const result = await run({ ...clientEnv(), VAULT_CACERT: pki.caFile });
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('without the client certificate the server refuses the connection', async () => {
    const result = await run({ VAULT_CACERT: pki.caFile, VAULT_TLS_SERVER_NAME: SERVER_NAME });
    expect(result.code).toBe(4);
  });

  it('VAULT_CACERT + VAULT_TLS_SERVER_NAME + client certificate → bootstraps over TLS', async () => {
    const result = await run({ ...clientEnv(), VAULT_CACERT: pki.caFile, VAULT_TLS_SERVER_NAME: SERVER_NAME }, [
      '--timeout',
      '2m',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('VAULT_CAPATH works as well as VAULT_CACERT', async () => {
    const caDirectory = join(pki.directory, 'ca-path');
    await mkdir(caDirectory);
    await copyFile(pki.caFile, join(caDirectory, 'ca.pem'));
    const result = await run({ ...clientEnv(), VAULT_CAPATH: caDirectory, VAULT_TLS_SERVER_NAME: SERVER_NAME }, [
      '--timeout',
      '1m',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('VAULT_SKIP_VERIFY=true connects, with a loud warning', async () => {
    const result = await run({ ...clientEnv(), VAULT_SKIP_VERIFY: 'true' }, ['--timeout', '1m']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const warning = logLines(result.stdout).find((line) => line.event === 'tls-verification-off');
    expect(warning?.level).toBe('warn');
  });
});
