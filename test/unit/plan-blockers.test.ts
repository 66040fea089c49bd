// Issue 29: `plan` shows every blocker `run` can reach. run reaches a blocker in two ways: a hold
// decide() returns (plan prints decide's answer on the same observation), or a pass that fails
// (observe, decide or act throws). The second is decideFailure(), which run enters and plan
// prints: here every error the program has, and a bug, meet both on the same (fake) server.
import { afterEach, describe, expect, it } from 'vitest';
import { plan } from '../../src/commands/plan.js';
import { AbortedError, BootstrapError, ERROR_CODES } from '../../src/errors.js';
import { Runner } from '../../src/machine/runner.js';
import { BLOCKERS } from '../../src/states.js';
import { testContext, type TestContext } from '../helpers/step-context.js';

const contexts: TestContext[] = [];
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.cleanup();
});

const address = new URL('https://127.0.0.1:8200');

/** Stops the run after the pass under test: a bug is a blocker of its own (internal-error) that --once ends on. */
class SecondPass extends Error {}

const failures: Array<[string, unknown]> = [
  ...ERROR_CODES.filter((code) => code !== 'ABORTED').map((code): [string, unknown] => [
    code,
    new BootstrapError(code, `${code} met on the first pass`),
  ]),
  ['VAULT_REQUEST_FAILED 503', new BootstrapError('VAULT_REQUEST_FAILED', 'sys/health: 503', { statusCode: 503 })],
  // A standby's redirect to the active node (it cannot forward yet): retried, never a blocker.
  [
    'VAULT_REQUEST_FAILED 307',
    new BootstrapError('VAULT_REQUEST_FAILED', 'auth/token/lookup-self: 307', { statusCode: 307 }),
  ],
  ['VAULT_REQUEST_FAILED 403', new BootstrapError('VAULT_REQUEST_FAILED', 'sys/health: 403', { statusCode: 403 })],
  ['a TypeError (a bug)', new TypeError('first pass')],
];

describe('plan shows every blocker run can reach through a failed pass', () => {
  it("a standby's 307 (it cannot forward to the active node yet) is transient; a 4xx is not", () => {
    const answer = (statusCode: number) => new BootstrapError('VAULT_REQUEST_FAILED', 'x', { statusCode }).transient;
    expect([307, 429, 503, 403, 400, 302].map(answer)).toEqual([true, true, true, false, false, false]);
  });

  const reached = new Set<string>();

  it.each(failures)('%s', async (_, error) => {
    let passes = 0;
    const run = await testContext(
      {
        address,
        health: () => {
          passes += 1;
          throw passes === 1 ? error : new SecondPass('second pass');
        },
      },
      ['--once', '--timeout', '60s'],
    );
    const look = await testContext({ address, health: () => Promise.reject(error) });
    contexts.push(run, look);

    await new Runner(run.context).run();
    const report = await plan(look.context);

    const blocked = run.lines.filter((line) => line.event === 'blocked');
    if (error instanceof BootstrapError && error.code === 'VAULT_UNREACHABLE') {
      // No answer from sys/health is an observation (the server is unreachable), not a failed pass.
      // run waits (its first state) and looks again: only the second pass's bug blocks it.
      expect(passes).toBe(2);
      expect(blocked.map((line) => line.blocker)).toEqual(['internal-error']);
      expect(report).toMatchObject({ state: 'waiting', action: { kind: 'wait' } });
      return;
    }
    if (run.lines.some((line) => line.event === 'transient-failure')) {
      // Retried by run (its state unchanged, no blocker); plan says it waits.
      expect(passes).toBe(2);
      expect(blocked.map((line) => line.blocker)).toEqual(['internal-error']);
      expect(report).toMatchObject({ state: 'waiting', action: { kind: 'wait' } });
      return;
    }
    expect(passes).toBe(1);
    expect(blocked).toHaveLength(1);
    const { blocker, reason } = blocked[0] as { blocker: string; reason: string };
    expect(report).toMatchObject({ state: 'blocked', reason, vault: null, action: { kind: 'hold', blocker } });
    reached.add(blocker);
  });

  it('the blockers so reached are blockers of SPEC’s list, each with a word in plan', () => {
    expect(reached.size).toBeGreaterThan(5);
    for (const blocker of reached) expect(BLOCKERS).toContain(blocker);
  });

  it('a shutdown is no failure: run stops, plan does not make one up', async () => {
    const look = await testContext({ address, health: () => Promise.reject(new AbortedError()) });
    contexts.push(look);
    await expect(plan(look.context)).rejects.toBeInstanceOf(AbortedError);
  });
});
