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
  const args = () => ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address, '--spool-dir', spool];

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

  it('fresh server: plan says claim and init; a run killed right after spooling the keys did exactly that first', async () => {
    const plan = await planned();
    expect(plan.action).toBe('claim-and-init');
    const killed = startCli(['run', '--once', ...args()], cleanEnv({ VB_TEST_CRASH_AT: 'init-spooled' }), ['--import', CRASH_HOOK]);
    const result = await killed.result;
    expect(result.signal).toBe('SIGKILL');
    expect(actions(result.stdout)[0]).toEqual(plan);
  });

  it('keys in the spool: plan says store them first; run --once does that first and converges', async () => {
    const plan = await planned();
    expect(plan.action).toBe('store-spooled');
    const result = await runCli(['run', '--once', ...args()]);
    expect(result.code, result.stdout).toBe(0);
    expect(actions(result.stdout)[0]).toEqual(plan);
  });

  it('restarted sealed: plan says unseal; so does the run', async () => {
    await server.restart();
    const plan = await planned();
    expect(plan.action).toBe('unseal');
    const result = await runCli(['run', '--once', ...args()]);
    expect(result.code, result.stdout).toBe(0);
    expect(actions(result.stdout)[0]).toEqual(plan);
  });

  it('drift: plan names the deleted policy; the run writes exactly that', async () => {
    const root = JSON.parse(await new FileStore(storeDirectory).readLatest('vault-root-token')).token;
    // Ready includes a node that is still taking over as active; a write needs the active one.
    await until('the node is active', async () => ((await baoRequest(server, 'GET', 'sys/health')).status === 200 ? true : undefined));
    expect((await baoRequest(server, 'DELETE', 'sys/policies/acl/provisioner', root)).status).toBe(204);
    const plan = await planned();
    expect(plan).toEqual({ action: 'configure', detail: 'write policy provisioner (with the management token)' });
    const result = await runCli(['run', '--once', ...args()]);
    expect(result.code, result.stdout).toBe(0);
    expect(actions(result.stdout)[0]).toEqual(plan);
  });

  it('converged: plan says nothing to change; the run acts on nothing', async () => {
    expect(await planned()).toEqual({ action: 'done', detail: 'nothing to change' });
    const result = await runCli(['run', '--once', ...args()]);
    expect(result.code).toBe(0);
    expect(actions(result.stdout)).toEqual([]);
    expectNoSecretIn(capturedOutput, await secretValuesIn(new FileStore(storeDirectory)));
  });
});
