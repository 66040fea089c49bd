import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { capturedOutput, events, runCli, startCli, transitions } from '../../harness/cli.js';
import { KubeApiServer, missingKubeApiServer } from '../../harness/kube-apiserver.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import {
  appRoleStanzas,
  kubernetesStanzas,
  serviceAccounts,
  SIDECAR_POLICY_FILE,
  writeSecretFile,
} from '../../harness/self-init.js';
import { missingServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const missingBao = missingServer('openbao');
if (missingBao) console.warn(`self-init: skipped: ${missingBao}`);
const missingKube = missingKubeApiServer();
if (missingKube) console.warn(`self-init with Kubernetes auth: skipped: ${missingKube}`);

/** What must never appear in any output: the login secrets and every token the store held. */
const loginSecrets: string[] = [];

async function expectAbsent(store: FileStore, name: string): Promise<void> {
  await expect(store.readLatest(name)).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
}

/**
 * OpenBao initializes itself from `initialize` stanzas (static seal, so no keys exist at all)
 * and declares an auth method for the sidecar; the sidecar logs in through it and converges:
 * policies, token role, CI token. No root token exists anywhere: the server revoked its own,
 * and the store never holds one.
 */
describe.skipIf(missingBao !== undefined)(
  'self-init: OpenBao initializes itself, the sidecar logs in (AppRole), no root token anywhere',
  () => {
    let server: OpenBao;
    let storeDirectory: string;
    let secretIdFile: string;
    let store: FileStore;
    const flags = () => [
      '--store',
      'file',
      '--file-dir',
      storeDirectory,
      '--vault-addr',
      server.address,
      '--self-init',
      '--login-method',
      'approle',
      '--login-secret-file',
      secretIdFile,
    ];
    let startedAt: number;

    beforeAll(async () => {
      const directory = await mkdtemp(join(tmpdir(), 'vb-selfinit-'));
      storeDirectory = join(directory, 'store');
      store = new FileStore(storeDirectory);
      const secretId = randomBytes(16).toString('hex');
      loginSecrets.push(secretId);
      secretIdFile = await writeSecretFile(directory, 'secret-id', secretId);
      startedAt = Date.now();
      server = await OpenBao.start({
        kind: 'openbao',
        seal: 'auto',
        initialize: appRoleStanzas(SIDECAR_POLICY_FILE, secretIdFile),
      });
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('converges to ready from a self-initialized server: logs in, writes policies, role and CI token; stores no keys and no root token', async () => {
      const once = await runCli(['run', '--once', '--timeout', '2m', ...flags()]);
      const readyAfterMs = Date.now() - startedAt;
      expect(once.code, once.stdout).toBe(0);
      console.info(
        `self-init: ready ${readyAfterMs} ms after the server process started (run --once ${once.elapsedMs} ms), no root token anywhere`,
      );

      expect(events(once.stdout, 'logged-in').map((line) => line.method)).toEqual(['approle']);
      expect(transitions(once.stdout)).not.toContain('initializing');
      expect(events(once.stdout, 'cluster-id-recorded')).toHaveLength(1);
      const health = await baoRequest(server, 'GET', 'sys/health');
      expect(JSON.parse(await store.readLatest('vault-self-init-cluster'))).toMatchObject({
        clusterId: health.body.cluster_id,
        sealType: 'static',
      });
      await expectAbsent(store, 'vault-unseal-keys');
      await expectAbsent(store, 'vault-root-token');
      await expectAbsent(store, 'vault-init-claim');

      const ci = JSON.parse(await store.readLatest('vault-provisioner-token'));
      const lookup = await baoRequest(server, 'GET', 'auth/token/lookup-self', ci.token);
      expect(lookup.body.data.policies).toContain('provisioner');
      expect(lookup.body.data.orphan).toBe(true);
      const login = await baoRequest(server, 'PUT', 'auth/approle/login', undefined, {
        role_id: 'vault-bootstrap',
        secret_id: loginSecrets[0],
      });
      expect(
        (await baoRequest(server, 'GET', 'sys/policies/acl/provisioner', login.body.auth.client_token)).status,
      ).toBe(200);
      expect(
        (await baoRequest(server, 'GET', 'auth/token/roles/provisioner', login.body.auth.client_token)).status,
      ).toBe(200);
    });

    it('status and plan describe the mode: ready, nothing to do', async () => {
      const status = await runCli(['status', '--json', ...flags()]);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).decision).toMatchObject({ state: 'ready', blocker: null });
      expect(JSON.parse(status.stdout).selfInit).toEqual({
        method: 'approle',
        mount: 'approle',
        role: 'vault-bootstrap',
      });
      const text = await runCli(['status', ...flags()]);
      expect(text.stdout).toMatch(/^mode {7}self-init/m);
      const plan = await runCli(['plan', '--json', ...flags()]);
      expect(plan.code, plan.stderr).toBe(0);
      expect(JSON.parse(plan.stdout).action.kind).toBe('done');
    });

    it('the sidecar repairs drift, replaces a revoked CI token and rotates it in its last third, all with its login', async () => {
      const sidecar = startCli([
        'run',
        ...flags(),
        '--listen',
        'off',
        '--interval',
        '1s',
        '--reconcile-interval',
        '1s',
        '--provisioner-ttl',
        '1m',
        '--provisioner-overlap',
        '0s',
      ]);
      try {
        const admin = (
          await baoRequest(server, 'PUT', 'auth/approle/login', undefined, {
            role_id: 'vault-bootstrap',
            secret_id: loginSecrets[0],
          })
        ).body.auth.client_token;
        const original = (await baoRequest(server, 'GET', 'sys/policies/acl/provisioner', admin)).body.data.policy;
        expect(
          (
            await baoRequest(server, 'PUT', 'sys/policies/acl/provisioner', admin, {
              policy: 'path "sys/*" { capabilities = ["read"] }',
            })
          ).status,
        ).toBe(204);
        await expect
          .poll(async () => (await baoRequest(server, 'GET', 'sys/policies/acl/provisioner', admin)).body.data.policy, {
            timeout: 20_000,
            interval: 200,
          })
          .toBe(original);

        const before = JSON.parse(await store.readLatest('vault-provisioner-token'));
        expect(
          (await baoRequest(server, 'PUT', 'auth/token/revoke-accessor', admin, { accessor: before.accessor })).status,
        ).toBe(204);
        await expect
          .poll(async () => JSON.parse(await store.readLatest('vault-provisioner-token')).accessor, {
            timeout: 20_000,
            interval: 200,
          })
          .not.toBe(before.accessor);
        const replaced = JSON.parse(await store.readLatest('vault-provisioner-token'));
        expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', replaced.token)).status).toBe(200);

        // Issued with a one-minute TTL: rotated once a third of it is left, the old one revoked (overlap 0s).
        await expect
          .poll(async () => JSON.parse(await store.readLatest('vault-provisioner-token')).accessor, {
            timeout: 60_000,
            interval: 500,
          })
          .not.toBe(replaced.accessor);
        await expect
          .poll(async () => (await baoRequest(server, 'GET', 'auth/token/lookup-self', replaced.token)).status, {
            timeout: 10_000,
            interval: 200,
          })
          .toBe(403);
      } finally {
        sidecar.child.kill('SIGTERM');
        expect((await sidecar.result).code).toBe(0);
      }
    }, 120_000);

    it('guards: a refused login is login-rejected; a node whose cluster id differs from the one recorded is cluster-mismatch', async () => {
      const directory = await mkdtemp(join(tmpdir(), 'vb-selfinit-wrong-'));
      const wrongSecret = await writeSecretFile(directory, 'secret-id', 'not-the-secret-id');
      const refused = await runCli(['run', '--once', ...flags().slice(0, -1), wrongSecret]);
      expect(refused.code, refused.stdout).toBe(1);
      expect(events(refused.stdout, 'blocked').map((line) => line.blocker)).toEqual(['login-rejected']);

      const recorded = await store.readLatest('vault-self-init-cluster');
      await store.addVersion(
        'vault-self-init-cluster',
        JSON.stringify({ ...JSON.parse(recorded), clusterId: 'another-cluster' }),
      );
      try {
        const mismatch = await runCli(['run', '--once', ...flags()]);
        expect(mismatch.code, mismatch.stdout).toBe(1);
        expect(events(mismatch.stdout, 'blocked').map((line) => line.blocker)).toEqual(['cluster-mismatch']);
      } finally {
        await store.addVersion('vault-self-init-cluster', recorded);
      }
    });

    it('seal intent: seal seals the node with the login, the decision holds it sealed; after resume and a restart it converges again', async () => {
      const sealed = await runCli(['seal', '--reason', 'self-init test', ...flags()]);
      expect(sealed.code, sealed.stderr).toBe(0);
      await expect
        .poll(async () => (await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe(true);
      const status = await runCli(['status', '--json', ...flags()]);
      expect(JSON.parse(status.stdout).decision.blocker).toBe('seal-intent');

      // resume, then a restart: the auto-unseal node opens itself at start, and the sidecar converges again.
      expect((await runCli(['resume', ...flags()])).code).toBe(0);
      await server.restart();
      await expect
        .poll(async () => (await baoRequest(server, 'GET', 'sys/health')).status, { timeout: 30_000, interval: 100 })
        .toBe(200);
      const again = await runCli(['run', '--once', '--timeout', '1m', ...flags()]);
      expect(again.code, again.stdout).toBe(0);
    });

    it('no key, token or login secret appears in any output', async () => {
      expectNoSecretIn(capturedOutput, [...loginSecrets, ...(await secretValuesIn(store))]);
    });
  },
);

/**
 * The same with Kubernetes auth against a real kube-apiserver: the sidecar's service account
 * token comes from TokenRequest, and OpenBao checks it with TokenReview (its own service account
 * bound to system:auth-delegator).
 */
describe.skipIf(missingBao !== undefined || missingKube !== undefined)(
  'self-init with Kubernetes auth against a real kube-apiserver',
  () => {
    let kube: KubeApiServer;
    let server: OpenBao;
    let storeDirectory: string;
    let tokenFile: string;
    let reviewerToken: string;

    beforeAll(async () => {
      kube = await KubeApiServer.start();
      const directory = await mkdtemp(join(tmpdir(), 'vb-selfinit-kube-'));
      storeDirectory = join(directory, 'store');
      const tokens = await serviceAccounts(kube);
      const { sidecarToken } = tokens;
      reviewerToken = tokens.reviewerToken;
      loginSecrets.push(sidecarToken, reviewerToken);
      tokenFile = await writeSecretFile(directory, 'token', sidecarToken);
      server = await OpenBao.start({
        kind: 'openbao',
        seal: 'auto',
        initialize: kubernetesStanzas(SIDECAR_POLICY_FILE),
        environment: {
          TEST_KUBERNETES_HOST: kube.url,
          TEST_KUBERNETES_CA: kube.caCertificate,
          TEST_TOKEN_REVIEWER_JWT: reviewerToken,
        },
      });
    }, 180_000);

    afterAll(async () => {
      await server?.stop();
      await kube?.stop();
    });

    it('logs in with its service account token (TokenReview by OpenBao) and converges without any root token', async () => {
      const flags = [
        '--store',
        'file',
        '--file-dir',
        storeDirectory,
        '--vault-addr',
        server.address,
        '--self-init',
        '--login-mount',
        'vault-bootstrap',
        '--login-secret-file',
        tokenFile,
      ];
      const once = await runCli(['run', '--once', '--timeout', '2m', ...flags]);
      expect(once.code, once.stdout).toBe(0);
      expect(events(once.stdout, 'logged-in').map((line) => line.method)).toEqual(['kubernetes']);
      const store = new FileStore(storeDirectory);
      await expectAbsent(store, 'vault-root-token');
      const ci = JSON.parse(await store.readLatest('vault-provisioner-token'));
      expect((await baoRequest(server, 'GET', 'auth/token/lookup-self', ci.token)).body.data.policies).toContain(
        'provisioner',
      );

      const otherRole = await runCli(['run', '--once', ...flags, '--login-role', 'someone-else']);
      expect(otherRole.code, otherRole.stdout).toBe(1);
      expect(events(otherRole.stdout, 'blocked').map((line) => line.blocker)).toEqual(['login-rejected']);

      // The same service account's token for the API server (what the OpenBao container holds) does not log in: the role wants the audience vault-bootstrap.
      const apiToken = await writeSecretFile(await mkdtemp(join(tmpdir(), 'vb-selfinit-api-')), 'token', reviewerToken);
      const wrongAudience = await runCli(['run', '--once', ...flags.slice(0, -1), apiToken]);
      expect(wrongAudience.code, wrongAudience.stdout).toBe(1);
      expect(events(wrongAudience.stdout, 'blocked').map((line) => line.blocker)).toEqual(['login-rejected']);
    });
  },
);
