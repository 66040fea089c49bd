import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { actions, cleanEnv, events, runCli, transitions } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

describeEachServer('the init claim against a real server', (kind) => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  /**
   * A claim as the release before claim generations wrote it: `vault-init-claim`, taken over
   * once by adding a version (what that release did), by a pod that no longer exists.
   */
  async function claimedByGhost(claimedAt: Date): Promise<{ server: TestServer; storeDirectory: string }> {
    const server = await TestServer.start({ kind });
    servers.push(server);
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-claim-')), 'store');
    const store = new FileStore(storeDirectory);
    await store.createIfAbsent(
      'vault-init-claim',
      JSON.stringify({
        holder: 'vault-first',
        claimedAt: new Date(claimedAt.getTime() - 60_000).toISOString(),
        clusterHint: server.address,
      }),
    );
    await store.addVersion(
      'vault-init-claim',
      JSON.stringify({ holder: 'vault-ghost', claimedAt: claimedAt.toISOString(), clusterHint: server.address }),
    );
    return { server, storeDirectory };
  }

  const run = (storeDirectory: string, server: TestServer, extra: string[]) =>
    runCli(
      ['run', '--once', '--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address, ...extra],
      cleanEnv({ POD_NAME: 'vault-1' }),
    );

  it("someone else's fresh claim binds: no init while it holds", async () => {
    const { server, storeDirectory } = await claimedByGhost(new Date());
    const result = await run(storeDirectory, server, ['--timeout', '3s']);
    expect(result.code).toBe(4);
    expect(new Set(actions(result.stdout).map((entry) => entry.action))).toEqual(new Set(['join']));
    expect((await serverRequest(server, 'GET', 'sys/health')).status).toBe(501);
  });

  it("an earlier release's claim, stale: taken over by creating generation 2, which the store gives one winner", async () => {
    // Ten minutes old: past the default --claim-stale-after (5m); no value short enough to wait out here is accepted.
    const { server, storeDirectory } = await claimedByGhost(new Date(Date.now() - 10 * 60_000));
    const result = await run(storeDirectory, server, []);
    expect(result.code, result.stdout).toBe(0);
    expect(events(result.stdout, 'claim-won')).toEqual([
      expect.objectContaining({ secret: 'vault-init-claim-g2', generation: 2, takesOver: 'stale' }),
    ]);
    expect(transitions(result.stdout).filter((state) => state === 'initializing')).toHaveLength(1);
    const store = new FileStore(storeDirectory);
    // The earlier release's record is left as it was; the takeover is a record of its own.
    expect((await store.readAllVersions('vault-init-claim')).map((text) => JSON.parse(text).holder)).toEqual([
      'vault-first',
      'vault-ghost',
    ]);
    expect((await store.readAllVersions('vault-init-claim-g2')).map((text) => JSON.parse(text).holder)).toEqual([
      'vault-1',
    ]);
  });
});
