import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { cleanEnv, runCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';

interface BadInput {
  case: string;
  args?: string[];
  env?: Record<string, string>;
  /** The flag, variable or file the one line must name. */
  names: string;
}

const BROKEN_SYNTAX = 'path "secret/*" {\n  capabilities = ["read"\n}\n';
const UNKNOWN_CAPABILITY = 'path "secret/*" {\n  capabilities = ["read", "fly"]\n}\n';

describe('bad input: exit 2, one line naming what and where, nothing changed', () => {
  let server: OpenBao;
  let fresh: OpenBao;
  let work: string;
  let storeDirectory: string;
  let rootToken: string;
  let busy: Server | undefined;
  const cases: BadInput[] = [
    {
      case: 'threshold above shares',
      args: ['--secret-shares', '3', '--secret-threshold', '4'],
      names: '--secret-threshold',
    },
    { case: 'zero shares', args: ['--secret-shares', '0'], names: '--secret-shares' },
    {
      case: 'threshold 1 of several shares',
      env: { VB_RECOVERY_SHARES: '5', VB_RECOVERY_THRESHOLD: '1' },
      names: 'VB_RECOVERY_THRESHOLD',
    },
    { case: 'unknown store', args: ['--store', 's3'], names: '--store' },
    { case: 'missing store', args: ['--store', ''], names: '--store' },
    { case: 'malformed address', args: ['--vault-addr', 'not a url'], names: '--vault-addr' },
    { case: 'address with another scheme', env: { VAULT_ADDR: 'ftp://127.0.0.1:8200' }, names: 'VAULT_ADDR' },
    {
      case: 'plain http to another host (no --allow-insecure-http)',
      args: ['--vault-addr', 'http://vault.example.com:8200'],
      names: '--vault-addr',
    },
    { case: 'audit file not an absolute path', env: { VB_AUDIT_FILE: 'audit.log' }, names: 'VB_AUDIT_FILE' },
    { case: 'malformed duration', args: ['--interval', '5 minutes'], names: '--interval' },
    { case: 'bare number duration', env: { VB_TIMEOUT: '10' }, names: 'VB_TIMEOUT' },
    { case: 'provisioner ttl too short', args: ['--provisioner-ttl', '10s'], names: '--provisioner-ttl' },
    {
      case: 'claim stale-after shorter than an init can take',
      args: ['--claim-stale-after', '1s'],
      names: '--claim-stale-after',
    },
    { case: 'unknown root-token mode', args: ['--root-token', 'forever'], names: '--root-token' },
    { case: 'unknown log level', env: { VB_LOG_LEVEL: 'loud' }, names: 'VB_LOG_LEVEL' },
    { case: 'malformed listen address', args: ['--listen', 'everywhere'], names: '--listen' },
    { case: 'unknown flag', args: ['--shares', '5'], names: '--shares' },
    { case: 'bad prefix', args: ['--store-prefix', 'my vault!'], names: '--store-prefix' },
    { case: 'unreadable policies dir', args: ['--policies-dir', '/nonexistent/policies'], names: '--policies-dir' },
    { case: 'missing CA file', env: { VAULT_CACERT: '/nonexistent/ca.pem' }, names: 'VAULT_CACERT' },
    { case: 'client cert without key', env: { VAULT_CLIENT_CERT: '/nonexistent/cert.pem' }, names: 'VAULT_CLIENT_KEY' },
    { case: 'VAULT_SKIP_VERIFY not a boolean', env: { VAULT_SKIP_VERIFY: 'maybe' }, names: 'VAULT_SKIP_VERIFY' },
    {
      case: 'file store inside Kubernetes',
      env: { KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc' },
      names: '--store',
    },
    { case: 'spool dir on disk', args: ['--spool-dir', tmpdir()], names: '--spool-dir' },
    { case: '--once with status', args: ['--once'], names: '--once' },
  ];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'vb-bad-'));
    storeDirectory = join(work, 'store');
    [server, fresh] = await Promise.all([OpenBao.start({ audit: true }), OpenBao.start()]);
    const first = await runCli([
      'run',
      '--once',
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
    ]);
    expect(first.code, first.stdout).toBe(0);
    rootToken = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-root-token')).token;
    await mkdir(join(work, 'broken'));
    await writeFile(join(work, 'broken', 'tenant.hcl'), BROKEN_SYNTAX);
    await mkdir(join(work, 'capability'));
    await writeFile(join(work, 'capability', 'tenant.hcl'), UNKNOWN_CAPABILITY);
    // A port someone else holds: found when the probe server starts, still before Vault or the store is used.
    busy = createServer();
    await new Promise<void>((resolve) => busy!.listen(0, '127.0.0.1', resolve));
    cases.push(
      {
        case: '--listen port in use',
        args: ['--listen', `127.0.0.1:${(busy.address() as AddressInfo).port}`],
        names: '--listen',
      },
      { case: 'policy with broken syntax', args: ['--policies-dir', join(work, 'broken')], names: 'tenant.hcl' },
      {
        case: 'policy with an unknown capability',
        args: ['--policies-dir', join(work, 'capability')],
        names: 'tenant.hcl',
      },
    );
  });

  afterAll(async () => {
    busy?.close();
    await Promise.all([server?.stop(), fresh?.stop()]);
  });

  it('OpenBao itself rejects both bad policy files (so the pre-flight check is no stricter than the server)', async () => {
    for (const text of [BROKEN_SYNTAX, UNKNOWN_CAPABILITY]) {
      const answer = await baoRequest(server, 'PUT', 'sys/policies/acl/probe', rootToken, { policy: text });
      expect(answer.status).toBe(400);
    }
  });

  it('each bad input exits 2 with one line, before any request to Vault or the store', async () => {
    const storeBefore = await snapshot(storeDirectory);
    const auditBefore = await readFile(server.auditLog, 'utf8');
    const freshStore = join(work, 'fresh-store');
    for (const input of cases) {
      for (const vault of [server, fresh]) {
        const directory = vault === server ? storeDirectory : freshStore;
        const command = input.case === '--once with status' ? 'status' : 'run';
        const args = [
          command,
          ...(command === 'run' ? ['--once'] : []),
          '--store',
          'file',
          '--file-dir',
          directory,
          ...(input.env?.VAULT_ADDR ? [] : ['--vault-addr', vault.address]),
          ...(input.args ?? []),
        ];
        const result = await runCli(args, cleanEnv(input.env));
        expect(result.code, `${input.case}: ${result.stdout}${result.stderr}`).toBe(2);
        const lines = result.stderr.trim().split('\n');
        expect(lines, input.case).toHaveLength(1);
        expect(lines[0], input.case).toContain(input.names);
        expect(result.stdout, input.case).toBe('');
      }
    }
    // Nothing reached the initialized server (its audit log is unchanged) or the store.
    expect(await readFile(server.auditLog, 'utf8')).toBe(auditBefore);
    expect(await snapshot(storeDirectory)).toEqual(storeBefore);
    // The fresh server is still uninitialized and no store was created for it.
    expect((await baoRequest(fresh, 'GET', 'sys/health')).status).toBe(501);
    expect(await new FileStore(freshStore).readAllVersions('vault-init-claim')).toEqual([]);
  });
});

async function snapshot(storeDirectory: string): Promise<Record<string, string[]>> {
  const store = new FileStore(storeDirectory);
  const names = ['vault-init-claim', 'vault-unseal-keys', 'vault-root-token', 'vault-provisioner-token'];
  return Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await store.readAllVersions(name)] as const)),
  );
}
