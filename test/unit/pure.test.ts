import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { BootstrapError, ConfigError, describeError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { classifyHealth, isUnsealed } from '../../src/machine/health.js';
import { checkPolicy } from '../../src/policy.js';
import { Secret } from '../../src/secret.js';

describe('parseDuration (Go-style, as Vault)', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['720h', 2_592_000_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['0', 0],
  ])('%s → %d ms', (text, milliseconds) => expect(parseDuration(text)).toBe(milliseconds));
  it.each(['', '10', '5 minutes', 's', '1d', '-5s', '5s ', 'h1'])('rejects %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
  it('formats back', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(2_592_000_000)).toBe('720h');
  });
});

describe('classifyHealth names every documented status', () => {
  it.each([
    [200, 'active'],
    [429, 'standby'],
    [472, 'dr-secondary'],
    [473, 'performance-standby'],
    [474, 'standby-no-active'],
    [501, 'uninitialized'],
    [503, 'sealed'],
    [530, 'removed'],
    [undefined, 'unreachable'],
    [500, 'unreachable'],
    [502, 'unreachable'],
    [404, 'unknown'],
    [418, 'unknown'],
  ])('%s → %s', (status, kind) => expect(classifyHealth(status)).toBe(kind));
  it('only serving states count as unsealed', () => {
    expect(isUnsealed('active')).toBe(true);
    expect(isUnsealed('standby')).toBe(true);
    expect(isUnsealed('sealed')).toBe(false);
    expect(isUnsealed('unknown')).toBe(false);
  });
});

describe('checkPolicy', () => {
  it('accepts the grammar policies use', () => {
    expect(() =>
      checkPolicy(
        'p',
        '# c\n// c\n/* c\n */ path "a/*" {\n capabilities = ["read", "list",]\n allowed_parameters = { "x" = [] }\n min_wrapping_ttl = "1s"\n}\n',
      ),
    ).not.toThrow();
  });
  it.each([
    ['unterminated block', 'path "a" {\n capabilities = ["read"]\n'],
    ['unterminated list', 'path "a" {\n capabilities = ["read"\n}'],
    ['unknown capability', 'path "a" { capabilities = ["fly"] }'],
    ['capabilities not a list', 'path "a" { capabilities = "read" }'],
    ['path without label', 'path { capabilities = ["read"] }'],
    ['no path block', '# nothing\n'],
    ['stray character', 'path "a" { capabilities = ["read"] } ;'],
    ['unterminated string', 'path "a { }'],
  ])('rejects %s with a ConfigError naming the source', (_case, text) => {
    let error: unknown;
    try {
      checkPolicy('tenant.hcl', text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
    expect((error as ConfigError).message).toContain('tenant.hcl');
  });
});

describe('Secret and logging never print a value', () => {
  const value = 's.ThisIsAVerySecretTokenValue';
  it('Secret prints as [REDACTED] every way', () => {
    const secret = new Secret(value);
    expect(String(secret)).toBe('[REDACTED]');
    expect(`${secret}`).toBe('[REDACTED]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[REDACTED]"}');
    expect(inspect({ secret })).not.toContain(value);
    expect(secret.reveal()).toBe(value);
  });
  it('pino redacts Secret values and raw secret-named fields at trace level', () => {
    let output = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        output += String(chunk);
        done();
      },
    });
    const log = createLogger('trace', sink);
    log.trace({ secret: new Secret(value) }, 'one');
    log.trace(
      { token: value, keys: [value], nested: { root_token: value, headers: { 'x-vault-token': value } } },
      'two',
    );
    log.error(
      { error: describeError(Object.assign(new Error(value), { config: { headers: { 'X-Vault-Token': value } } })) },
      'three',
    );
    expect(output.split('\n').filter(Boolean)).toHaveLength(3);
    expect(output).not.toContain(value);
  });
  it('describeError keeps our messages and hides foreign ones', () => {
    expect(describeError(new BootstrapError('STORE_UNAVAILABLE', 'store down'))).toEqual({
      code: 'STORE_UNAVAILABLE',
      message: 'store down',
    });
    expect(describeError(new TypeError(value)).message).not.toContain(value);
  });
});
