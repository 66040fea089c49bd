import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanEnv, events, runCli, transitions } from '../../harness/cli.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';

describeEachServer('--raft-join: a follower whose server has no retry_join', (kind) => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
  });

  it('asks its node to join the leader, then unseals it with the stored keys; one cluster, one init', async () => {
    const [leader, follower] = await Promise.all([
      TestServer.start({ kind, nodeId: 'leader' }),
      TestServer.start({ kind, nodeId: 'follower' }),
    ]);
    servers.push(leader!, follower!);
    const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-join-')), 'store');
    const store = ['--store', 'file', '--file-dir', storeDirectory];

    const first = await runCli(
      ['run', '--once', ...store, '--vault-addr', leader!.address],
      cleanEnv({ POD_NAME: 'vault-0' }),
    );
    expect(first.code, first.stdout).toBe(0);

    const second = await runCli(
      ['run', '--once', ...store, '--vault-addr', follower!.address, '--raft-join', leader!.address],
      cleanEnv({ POD_NAME: 'vault-1' }),
    );
    expect(second.code, second.stdout).toBe(0);
    expect(events(second.stdout, 'raft-joined')).toHaveLength(1);
    expect(transitions(second.stdout)).not.toContain('initializing');

    const [leaderHealth, followerHealth] = await Promise.all([
      serverRequest(leader!, 'GET', 'sys/health'),
      serverRequest(follower!, 'GET', 'sys/health'),
    ]);
    expect(followerHealth.body.sealed).toBe(false);
    expect(followerHealth.body.cluster_id).toBe(leaderHealth.body.cluster_id);
  });
});
