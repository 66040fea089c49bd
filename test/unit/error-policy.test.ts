// The error policy (issue 29): an error that is not ours is a bug — not retried as transient,
// logged with its stack (never its message), `--once` ends with exit 1 naming it — and one
// mapping from an error to the exit code for every command (SPEC §2).
import { afterEach, describe, expect, it } from 'vitest';
import { BootstrapError, ConfigError, describeError, isTransientError, type ErrorCode } from '../../src/errors.js';
import { Runner } from '../../src/machine/runner.js';
import { blockerOf, EXIT_CODES, exitCodeOf } from '../../src/states.js';
import { testContext, type TestContext } from '../helpers/step-context.js';

const SECRET = 's.thisLooksLikeATokenInAForeignMessage';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.cleanup();
});

describe('exitCodeOf: one mapping for every command, at start-up and later', () => {
  it.each<[string, unknown, number]>([
    ['bad input', new ConfigError('--store: expected gcp, aws or file'), 2],
    ['the store denies (credentials or permissions), whenever found', new BootstrapError('STORE_DENIED', 'denied'), 2],
    ['a policy file the server rejects', new BootstrapError('POLICY_REJECTED', 'bad policy'), 2],
    ['a bad stored record', new BootstrapError('STORE_CORRUPT', 'not JSON'), 1],
    ['a record with no version', new BootstrapError('STORE_NOT_FOUND', 'no version'), 1],
    ['keys the server refuses', new BootstrapError('KEYS_REJECTED', 'refused'), 1],
    ['the seal (KMS) failing', new BootstrapError('SEAL_FAILING', 'kms down'), 1],
    ['a server not initialized', new BootstrapError('VAULT_NOT_INITIALIZED', 'not initialized'), 1],
    ['a transient fault that outlived the command', new BootstrapError('STORE_UNAVAILABLE', 'down'), 1],
    ['a bug: an error that is not ours', new TypeError('x is undefined'), 1],
    ['a bug: a thrown non-error', 'a string', 1],
  ])('%s', (_, error, code) => {
    expect(exitCodeOf(error)).toBe(code);
  });

  it('a bug is its own blocker, never taken for a refusal of the server or a fault of the world', () => {
    expect(blockerOf(new TypeError('x'))).toBe('internal-error');
    expect(blockerOf(new BootstrapError('INTERNAL', 'decide: missing record'))).toBe('internal-error');
    expect(isTransientError(new TypeError('x'))).toBe(false);
    expect(isTransientError(new RangeError('x'))).toBe(false);
    expect(isTransientError(new BootstrapError('VAULT_UNREACHABLE', 'refused'))).toBe(true);
  });

  it('every code the program has maps to an exit code of SPEC §2', () => {
    const codes: ErrorCode[] = ['VAULT_SEALED', 'ROTATION_FAILED', 'GENERATE_ROOT_FAILED', 'RESTORE_REFUSED'];
    for (const code of codes) expect([1, 2]).toContain(exitCodeOf(new BootstrapError(code, 'x')));
  });
});

describe('describeError on an error that is not ours', () => {
  it('names its class and keeps its stack frames, never its message', () => {
    const described = describeError(new TypeError(`Cannot read properties of undefined (reading '${SECRET}')`));
    expect(described.code).toBe('INTERNAL');
    expect(described.message).toMatch(/^internal error: TypeError/);
    expect(described.stack).toMatch(/^at .*error-policy\.test\.ts/);
    expect(JSON.stringify(described)).not.toContain(SECRET);
  });

  it('a message spanning lines leaves nothing of itself in the frames', () => {
    const error = new Error(`first line\n    at ${SECRET} (looks like a frame)`);
    expect(JSON.stringify(describeError(error))).not.toContain(SECRET);
  });
});

describe('the loop meets a bug', () => {
  it('run --once: not retried, blocked internal-error with the stack in the log, ends needs-person (exit 1)', async () => {
    let healthCalls = 0;
    const test = await testContext(
      {
        health: () => {
          healthCalls += 1;
          // What a foreign library's bug looks like: its message may quote what it was handed.
          throw new TypeError(`Cannot read properties of undefined (reading '${SECRET}')`);
        },
      },
      ['--once', '--timeout', '60s'],
    );
    contexts.push(test);
    const runner = new Runner(test.context);
    const outcome = await runner.run();
    expect(outcome).toBe('needs-person');
    expect(EXIT_CODES[outcome]).toBe(1);
    expect(healthCalls).toBe(1);
    expect(runner.state).toBe('blocked');
    expect(runner.reason).toMatch(/^internal error: TypeError/);
    expect(test.lines.filter((line) => line.event === 'transient-failure')).toEqual([]);
    const blocked = test.lines.filter((line) => line.event === 'blocked');
    expect(blocked).toHaveLength(1);
    expect(blocked[0]).toMatchObject({
      blocker: 'internal-error',
      error: { code: 'INTERNAL', stack: expect.stringMatching(/^at /) },
    });
    expect(JSON.stringify(test.lines)).not.toContain(SECRET);
  });

  it('run --once: a transient fault of ours is still retried', async () => {
    let healthCalls = 0;
    const test = await testContext(
      {
        health: () => {
          healthCalls += 1;
          if (healthCalls === 1)
            throw new BootstrapError('VAULT_REQUEST_FAILED', 'sys/health: 503', { statusCode: 503 });
          throw new TypeError('second pass');
        },
      },
      ['--once', '--timeout', '60s'],
    );
    contexts.push(test);
    expect(await new Runner(test.context).run()).toBe('needs-person');
    expect(healthCalls).toBe(2);
    expect(test.lines.filter((line) => line.event === 'transient-failure')).toHaveLength(1);
  });
});
