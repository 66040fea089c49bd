import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../../harness/child-server.js';
import { actions, cleanEnv, events, runCli, startCli, type RunningCli } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

/** An operator typed a share by hand (a wrong or an old one) and walked away: progress 1 that is not ours. */
async function strayShare(server: TestServer): Promise<void> {
  const answer = await serverRequest(server, 'PUT', 'sys/unseal', undefined, {
    key: randomBytes(33).toString('base64'),
  });
  expect(answer.body).toMatchObject({ sealed: true, progress: 1 });
}

describeEachServer('unseal progress someone else started', (kind) => {
  let server: TestServer | undefined;
  let sidecar: RunningCli | undefined;
  afterAll(async () => {
    sidecar?.child.kill('SIGTERM');
    await sidecar?.result;
    await server?.stop();
  });

  it('is reset, logged and counted: --once exits 0, and the sidecar unseals within one pass, never calling the keys rejected', async () => {
    server = await TestServer.start({ kind });
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-stray-')), 'store');
    const args = ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];
    expect((await runCli(['run', '--once', ...args])).code).toBe(0);

    // --once: one reset, one unseal, ready.
    await server.restart();
    await strayShare(server);
    const once = await runCli(['run', '--once', ...args], cleanEnv());
    expect(once.code, once.stdout).toBe(0);
    expect(events(once.stdout, 'unseal-progress-reset')).toHaveLength(1);
    expect(events(once.stdout, 'keys-refused')).toEqual([]);
    expect(actions(once.stdout).filter((entry) => entry.action === 'unseal')).toHaveLength(1);

    // The sidecar: the same within one pass, and the metric counts it.
    await server.restart();
    await strayShare(server);
    const port = await freePort();
    sidecar = startCli(['run', ...args, '--listen', `127.0.0.1:${port}`, '--interval', '1s']);
    await sidecar.waitFor('"event":"unsealed"', 60_000);
    expect(events(sidecar.output(), 'unseal-progress-reset')).toHaveLength(1);
    expect(actions(sidecar.output()).filter((entry) => entry.action === 'unseal')).toHaveLength(1);
    expect((await serverRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^vault_bootstrap_unseal_progress_resets_total 1$/m);
  }, 120_000);
});
