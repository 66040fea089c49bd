import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { cleanEnv, runCli, transitions } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

describeEachServer('the init claim against a real server', (kind) => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  async function claimedByGhost(): Promise<{ server: TestServer; storeDirectory: string }> {
    const server = await TestServer.start({ kind });
    servers.push(server);
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-claim-')), 'store');
    const ghostClaim = { holder: 'vault-ghost', claimedAt: new Date().toISOString(), clusterHint: server.address };
    await new FileStore(storeDirectory).createIfAbsent('vault-init-claim', JSON.stringify(ghostClaim));
    return { server, storeDirectory };
  }

  it("someone else's fresh claim binds: no init while it holds", async () => {
    const { server, storeDirectory } = await claimedByGhost();
    const result = await runCli(['run', '--once', '--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address, '--timeout', '3s'], cleanEnv({ POD_NAME: 'vault-1' }));
    expect(result.code).toBe(4);
    expect(result.stdout).toContain('initialization is claimed by vault-ghost');
    expect((await serverRequest(server, 'GET', 'sys/health')).status).toBe(501);
  });

  it('a claim never followed by keys goes stale after --claim-stale-after and is taken over', async () => {
    const { server, storeDirectory } = await claimedByGhost();
    const result = await runCli(
      ['run', '--once', '--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address, '--claim-stale-after', '2s'],
      cleanEnv({ POD_NAME: 'vault-1' }),
    );
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain('taking over the init claim');
    expect(transitions(result.stdout).filter((state) => state === 'initializing')).toHaveLength(1);
    const claims = (await new FileStore(storeDirectory).readAllVersions('vault-init-claim')).map((text) => JSON.parse(text).holder);
    expect(claims).toEqual(['vault-ghost', 'vault-1']);
  });
});
