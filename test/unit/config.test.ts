import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const base = ['run', '--store', 'file'];

describe('loadConfig', () => {
  it('has the SPEC defaults', () => {
    const config = loadConfig(base, {});
    expect(config.vaultAddress.href).toBe('https://127.0.0.1:8200/');
    expect(config).toMatchObject({
      storePrefix: 'vault',
      secretShares: 5,
      secretThreshold: 3,
      recoveryShares: 5,
      recoveryThreshold: 3,
      rootToken: 'store',
      logLevel: 'info',
    });
    expect(config).toMatchObject({
      shutdownTimeoutMs: 25_000,
      provisionerTtlMs: 720 * 3600_000,
      intervalMs: 5000,
      reconcileIntervalMs: 600_000,
      timeoutMs: 600_000,
      allowReinit: false,
    });
    expect(config.listen).toEqual({ host: undefined, port: 8099 });
    expect(config.store).toEqual({ kind: 'file', directory: './.vault-bootstrap' });
    expect(config.tls.skipVerify).toBe(false);
    expect([...config.policies.keys()].sort()).toEqual(['admin', 'provisioner', 'vault-bootstrap']);
    expect(config.auditFile).toBe('stdout');
    expect(config.insecureHttp).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('--claim-stale-after: refused below what a live holder may take from claiming to storing the keys', () => {
    expect(loadConfig(base, {}).claimStaleAfterMs).toBe(300_000);
    expect(loadConfig([...base, '--claim-stale-after', '150s'], {}).claimStaleAfterMs).toBe(150_000);
    for (const value of ['1s', '1m', '149s']) {
      expect(() => loadConfig([...base, '--claim-stale-after', value], {})).toThrow(
        /^--claim-stale-after: must be at least 2m30s \(a live holder/,
      );
    }
    expect(() => loadConfig(base, { VB_CLAIM_STALE_AFTER: '30s' })).toThrow(
      /^VB_CLAIM_STALE_AFTER: must be at least 2m30s/,
    );
  });

  it('refuses plain http to another host unless --allow-insecure-http says it is meant; loopback is fine', () => {
    for (const address of ['http://vault.example.com:8200', 'http://10.0.0.7:8200', 'http://[fd00::1]:8200']) {
      expect(() => loadConfig(base, { VAULT_ADDR: address })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('VAULT_ADDR') }),
      );
      expect(loadConfig([...base, '--allow-insecure-http'], { VAULT_ADDR: address }).insecureHttp).toBe(true);
      expect(loadConfig(base, { VAULT_ADDR: address, VB_ALLOW_INSECURE_HTTP: 'true' }).insecureHttp).toBe(true);
    }
    for (const address of [
      'http://127.0.0.1:8200',
      'http://127.3.4.5:8200',
      'http://localhost:8200',
      'http://[::1]:8200',
      'https://vault.example.com:8200',
    ]) {
      expect(loadConfig(base, { VAULT_ADDR: address }).insecureHttp).toBe(false);
    }
  });

  it('--audit-file: stdout, an absolute path on the server, or off', () => {
    expect(loadConfig([...base, '--audit-file', '/var/log/vault/audit.log'], {}).auditFile).toBe(
      '/var/log/vault/audit.log',
    );
    expect(loadConfig(base, { VB_AUDIT_FILE: 'off' }).auditFile).toBeUndefined();
    expect(() => loadConfig([...base, '--audit-file', 'audit.log'], {})).toThrow(
      expect.objectContaining({ message: expect.stringContaining('--audit-file') }),
    );
  });

  it('--once turns the listener off unless asked for', () => {
    expect(loadConfig([...base, '--once'], {}).listen).toBeUndefined();
    expect(loadConfig([...base, '--once', '--listen', '127.0.0.1:9000'], {}).listen).toEqual({
      host: '127.0.0.1',
      port: 9000,
    });
  });

  it('the flag wins over the environment; VAULT_ADDR before BAO_ADDR', () => {
    expect(loadConfig([...base, '--secret-shares', '7'], { VB_SECRET_SHARES: '9' }).secretShares).toBe(7);
    expect(loadConfig(base, { VB_SECRET_SHARES: '9' }).secretShares).toBe(9);
    expect(loadConfig(base, { BAO_ADDR: 'http://127.0.0.1:1' }).vaultAddress.port).toBe('1');
    expect(
      loadConfig(base, { VAULT_ADDR: 'http://127.0.0.1:2', BAO_ADDR: 'http://127.0.0.1:1' }).vaultAddress.port,
    ).toBe('2');
    expect(loadConfig(['run'], { VB_STORE: 'aws', AWS_REGION: 'eu-west-1' }).store).toEqual({
      kind: 'aws',
      region: 'eu-west-1',
      kmsKey: undefined,
    });
  });

  it('boolean variables read as Go does; the holder is the pod name', () => {
    expect(loadConfig(base, { VB_ALLOW_REINIT: 'true' }).allowReinit).toBe(true);
    expect(loadConfig(base, { VB_ALLOW_REINIT: '0' }).allowReinit).toBe(false);
    expect(loadConfig(base, { VAULT_SKIP_VERIFY: 'false' }).tls.skipVerify).toBe(false);
    expect(loadConfig(base, { POD_NAME: 'vault-1' }).holder).toBe('vault-1');
  });

  it('--self-init: Kubernetes auth by default; AppRole needs its secret file; every mistake names its flag', () => {
    const readable = new URL(import.meta.url).pathname;
    expect(loadConfig(base, {}).selfInit).toBeUndefined();
    expect(loadConfig([...base, '--self-init', '--login-secret-file', readable], {}).selfInit).toEqual({
      method: 'kubernetes',
      mount: 'kubernetes',
      role: 'vault-bootstrap',
      secretFile: readable,
    });
    expect(
      loadConfig(base, { VB_SELF_INIT: 'true', VB_LOGIN_METHOD: 'approle', VB_LOGIN_SECRET_FILE: readable }).selfInit,
    ).toMatchObject({ method: 'approle', mount: 'approle' });
    const refused = (argv: string[], env: Record<string, string>, named: string) =>
      expect(() => loadConfig(argv, env)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(named) }),
      );
    refused([...base, '--login-role', 'x'], {}, '--login-role');
    refused(
      [...base, '--self-init', '--login-method', 'userpass', '--login-secret-file', readable],
      {},
      '--login-method',
    );
    refused([...base, '--self-init', '--login-method', 'approle'], {}, '--login-secret-file');
    refused([...base, '--self-init', '--login-secret-file', '/nonexistent/token'], {}, '--login-secret-file');
    refused([...base, '--self-init', '--login-secret-file', readable, '--login-mount', '../x'], {}, '--login-mount');
    refused([...base, '--self-init', '--login-secret-file', readable, '--allow-reinit'], {}, '--allow-reinit');
    refused(['rotate-keys', '--store', 'file', '--self-init', '--login-secret-file', readable], {}, '--self-init');
  });

  it('bad input is a ConfigError with the stable code', () => {
    expect(() => loadConfig(['run'], {})).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => loadConfig(['deploy', '--store', 'file'], {})).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
