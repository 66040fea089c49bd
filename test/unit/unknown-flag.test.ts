import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/closest.js';
import { loadConfig } from '../../src/config/index.js';

function configErrorOf(argv: string[]): { code: string; message: string } {
  try {
    loadConfig(argv, {});
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('a mistyped flag', () => {
  it('names the closest known flag and --help, in one line', () => {
    const error = configErrorOf(['run', '--store', 'file', '--vault-adr', 'https://127.0.0.1:8200']);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('--vault-adr');
    expect(error.message).toContain('did you mean --vault-addr?');
    expect(error.message).toContain('--help');
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('positional argument');
  });

  it('with a value attached, and in short forms of a long flag', () => {
    expect(configErrorOf(['run', '--store', 'file', '--secret-treshold=2']).message).toContain(
      'did you mean --secret-threshold?',
    );
    expect(configErrorOf(['run', '--store', 'file', '--provisioner']).message).toContain(
      'did you mean --provisioner-ttl?',
    );
  });

  it('suggests nothing when no flag is close, and still points to --help', () => {
    const error = configErrorOf(['run', '--store', 'file', '--frobnicate']);
    expect(error.message).not.toContain('did you mean');
    expect(error.message).toContain('--help');
  });
});

describe('closestName', () => {
  it('prefers the only name that extends the typed one, else the nearest within reach', () => {
    expect(closestName('interv', ['interval', 'timeout'])).toBe('interval');
    expect(closestName('timeuot', ['interval', 'timeout'])).toBe('timeout');
    expect(closestName('zzzzzz', ['interval', 'timeout'])).toBeUndefined();
  });
});
