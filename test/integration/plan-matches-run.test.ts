import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { actions, capturedOutput, cleanEnv, runCli, startCli } from '../../harness/cli.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { until } from '../../harness/poll.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const CRASH_HOOK = fileURLToPath(new URL('../../harness/chaos/crash-hook.mjs', import.meta.url));

describe('plan prints what the following run does (the same decide())', () => {
  let server: OpenBao;
  let spool: string;
  let storeDirectory: string;
  const args = () => [
    '--store',
    'file',
    '--file-dir',
    storeDirectory,
    '--vault-addr',
    server.address,
    '--spool-dir',
    spool,
  ];

  beforeAll(async () => {
    server = await OpenBao.start();
    spool = await mkdtemp('/dev/shm/vb-plan-spool-');
    storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-plan-')), 'store');
  });

  afterAll(async () => {
    await server?.stop();
    await rm(spool, { recursive: true, force: true });
  });

  async function planned(): Promise<{ action: string; detail: string }> {
    const result = await runCli(['plan', '--json', ...args()]);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    return { action: report.action.kind, detail: report.next };
  }

  it('one scenario, step by step, plan prints what the following run does: claim and init (the run killed after spooling), store the spool, unseal, repair drift, nothing', async () => {
    const freshPlan = await planned();
    expect(freshPlan.action).toBe('claim-and-init');
    const killed = startCli(['run', '--once', ...args()], cleanEnv({ VB_TEST_CRASH_AT: 'init-spooled' }), [
      '--import',
      CRASH_HOOK,
    ]);
    const killedRun = await killed.result;
    expect(killedRun.signal).toBe('SIGKILL');
    expect(actions(killedRun.stdout)[0]).toEqual(freshPlan);

    // Keys in the spool: plan says store them first; run --once does that first and converges.
    const spoolPlan = await planned();
    expect(spoolPlan.action).toBe('store-spooled');
    const spoolRun = await runCli(['run', '--once', ...args()]);
    expect(spoolRun.code, spoolRun.stdout).toBe(0);
    expect(actions(spoolRun.stdout)[0]).toEqual(spoolPlan);

    // Restarted sealed: plan says unseal; so does the run.
    await server.restart();
    const sealedPlan = await planned();
    expect(sealedPlan.action).toBe('unseal');
    const sealedRun = await runCli(['run', '--once', ...args()]);
    expect(sealedRun.code, sealedRun.stdout).toBe(0);
    expect(actions(sealedRun.stdout)[0]).toEqual(sealedPlan);

    // Drift: plan names the deleted policy; the run writes exactly that.
    const root = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-root-token')).token;
    // Ready includes a node that is still taking over as active; a write needs the active one.
    await until('the node is active', async () =>
      (await baoRequest(server, 'GET', 'sys/health')).status === 200 ? true : undefined,
    );
    expect((await baoRequest(server, 'DELETE', 'sys/policies/acl/provisioner', root)).status).toBe(204);
    const driftPlan = await planned();
    expect(driftPlan).toEqual({ action: 'configure', detail: 'write policy provisioner (with the management token)' });
    const driftRun = await runCli(['run', '--once', ...args()]);
    expect(driftRun.code, driftRun.stdout).toBe(0);
    expect(actions(driftRun.stdout)[0]).toEqual(driftPlan);

    // Converged: plan says nothing to change; the run acts on nothing.
    expect(await planned()).toEqual({ action: 'done', detail: 'nothing to change' });
    const convergedRun = await runCli(['run', '--once', ...args()]);
    expect(convergedRun.code).toBe(0);
    expect(actions(convergedRun.stdout)).toEqual([]);
    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  }, 180_000);
});
