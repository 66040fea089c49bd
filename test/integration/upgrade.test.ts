import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, cleanEnv, events, startCli, transitions, type CliResult } from '../../harness/cli.js';
import { missingPreviousRelease, PREVIOUS_RELEASE_CLI } from '../../harness/previous-release.js';
import { describeEachServer, serverRequest, TestServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

/**
 * An upgrade of the sidecar over a live cluster: the last landed release (built from this
 * repository's history by `install-tools.sh previous-release`) initializes a server and leaves
 * every record it writes (claim, keys, root and provisioner tokens, a seal intent it ended);
 * then this release, over the same server and store, must take it from there with no person:
 * no second init, the keys unseal, the CI token is kept, its own management token is created.
 */
const missing = missingPreviousRelease();
if (missing) console.warn(`upgrade: skipped: ${missing}`);

function run(script: string | undefined, args: string[]): Promise<CliResult> {
  return startCli(args, cleanEnv(), [], script === undefined ? {} : { script }).result;
}

describe.skipIf(missing !== undefined)('upgrading the sidecar over a live cluster', () => {
  describeEachServer('previous release → this release', (kind) => {
    const servers: TestServer[] = [];
    afterAll(async () => {
      for (const server of servers) await server.stop();
    });

    it('this release reads every record the previous one wrote and converges without an init or a person', async () => {
      const server = await TestServer.start({ kind });
      servers.push(server);
      const storeDirectory = join(await mkdtemp(join(tmpdir(), 'vb-upgrade-')), 'store');
      const args = ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', server.address];
      const store = new FileStore(storeDirectory);

      // The previous release brings the cluster up and leaves an ended seal intent behind.
      const before = await run(PREVIOUS_RELEASE_CLI, ['run', '--once', ...args]);
      expect(before.code, before.stdout + before.stderr).toBe(0);
      expect((await run(PREVIOUS_RELEASE_CLI, ['seal', '--reason', 'before the upgrade', ...args])).code).toBe(0);
      expect((await run(PREVIOUS_RELEASE_CLI, ['resume', ...args])).code).toBe(0);
      const provisionerBefore = JSON.parse(await store.readLatest('vault-provisioner-token'));
      const keyVersionsBefore = (await store.listVersions('vault-unseal-keys')).length;

      // The pod restarts on the new image: the server comes back sealed.
      await server.restart();
      const after = await run(undefined, ['run', '--once', ...args]);
      expect(after.code, after.stdout + after.stderr).toBe(0);
      expect(transitions(after.stdout)).not.toContain('initializing');
      expect(events(after.stdout, 'blocked')).toEqual([]);

      const health = await serverRequest(server, 'GET', 'sys/health');
      expect(health.body).toMatchObject({ initialized: true, sealed: false });
      // The CI token the previous release issued is still the one in the store, and still valid.
      const provisionerAfter = JSON.parse(await store.readLatest('vault-provisioner-token'));
      expect(provisionerAfter.accessor).toBe(provisionerBefore.accessor);
      expect((await serverRequest(server, 'GET', 'auth/token/lookup-self', provisionerAfter.token)).status).toBe(200);
      // The keys were read, not replaced; the sidecar's own management token now exists.
      expect(JSON.parse(await store.readLatest('vault-unseal-keys'))).toMatchObject({ type: 'shamir' });
      expect((await store.listVersions('vault-unseal-keys')).length).toBeGreaterThanOrEqual(keyVersionsBefore);
      expect(JSON.parse(await store.readLatest('vault-management-token')).token).toEqual(expect.any(String));

      // status, written for this release, reads the old records without a problem.
      const status = await run(undefined, ['status', '--json', ...args]);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        problems: [],
        sealIntent: { active: false },
        provisionerToken: { state: 'valid' },
      });

      expectNoSecretIn(capturedOutput, await secretValuesIn(store));
    });
  });
});
