import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsStore } from '../../src/store/aws.js';
import { freePort } from '../../harness/child-server.js';
import { capturedOutput, cleanEnv, logLines, runCli, startCli, transitions } from '../../harness/cli.js';
import { startMoto, type Moto } from '../../harness/moto.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const NAMES = ['vault-init-claim', 'vault-unseal-keys', 'vault-root-token', 'vault-provisioner-token'];

describe('--store aws against real OpenBao and moto', () => {
  let moto: Moto;
  let server: OpenBao;
  let awsEnv: Record<string, string>;
  const store = () => new AwsStore({ region: 'us-east-1' });
  const secretsSeen: string[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    awsEnv = cleanEnv({ ...moto.env, HOME: await mkdtemp(join(tmpdir(), 'vb-home-')) });
    // The test process's own SDK calls (assertions) go to moto too.
    Object.assign(process.env, moto.env);
    server = await OpenBao.start();
  });

  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
  });

  it('run --once brings a fresh server to ready; moto holds the four secrets with SPEC shapes and tags', async () => {
    const result = await runCli(['run', '--once', '--store', 'aws', '--vault-addr', server.address], awsEnv);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect((await baoRequest(server, 'GET', 'sys/health')).status).toBe(200);

    const aws = store();
    expect(JSON.parse(await aws.readLatest('vault-init-claim'))).toMatchObject({
      holder: expect.any(String),
      claimedAt: expect.any(String),
      clusterHint: server.address,
    });
    expect(JSON.parse(await aws.readLatest('vault-unseal-keys'))).toMatchObject({
      type: 'shamir',
      shares: 5,
      threshold: 3,
      keysBase64: expect.any(Array),
      initializedAt: expect.any(String),
    });
    expect(JSON.parse(await aws.readLatest('vault-root-token'))).toMatchObject({
      token: expect.stringMatching(/^s\./),
      createdAt: expect.any(String),
    });
    expect(JSON.parse(await aws.readLatest('vault-provisioner-token'))).toMatchObject({
      token: expect.any(String),
      accessor: expect.any(String),
      policies: expect.arrayContaining(['provisioner']),
      expiresAt: expect.any(String),
    });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    for (const name of NAMES) {
      const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
      expect(described.Tags, name).toContainEqual({ Key: 'managed-by', Value: 'vault-bootstrap' });
    }
    client.destroy();
    secretsSeen.push(...(await secretValuesIn(aws)));
  });

  it('after a sealed restart, the next run unseals from the cloud store', async () => {
    await server.restart();
    const result = await runCli(['run', '--once', '--store', 'aws', '--vault-addr', server.address], awsEnv);
    expect(result.code, result.stdout).toBe(0);
    expect(transitions(result.stdout)).toContain('sealed');
    expect(transitions(result.stdout)).not.toContain('initializing');
    expect((await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed).toBe(false);
  });

  it('missing credentials or region: exit 2 with one line, Vault untouched', async () => {
    const fresh = await OpenBao.start();
    try {
      const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _key, ...withoutKeys } = awsEnv;
      const noCredentials = await runCli(
        ['run', '--once', '--store', 'aws', '--vault-addr', fresh.address],
        withoutKeys,
      );
      expect(noCredentials.code, noCredentials.stderr).toBe(2);
      expect(noCredentials.stderr.trim().split('\n')).toHaveLength(1);
      expect(noCredentials.stderr).toContain('credentials');

      const { AWS_REGION: _region, ...withoutRegion } = awsEnv;
      const noRegion = await runCli(['run', '--once', '--store', 'aws', '--vault-addr', fresh.address], withoutRegion);
      expect(noRegion.code, noRegion.stderr).toBe(2);
      expect(noRegion.stderr).toContain('--aws-region');

      const badRegion = await runCli(
        ['run', '--once', '--store', 'aws', '--aws-region', 'mars', '--vault-addr', fresh.address],
        awsEnv,
      );
      expect(badRegion.code).toBe(2);
      expect(badRegion.stderr).toContain('--aws-region');

      expect((await baoRequest(fresh, 'GET', 'sys/health')).status).toBe(501);
    } finally {
      await fresh.stop();
    }
  });

  it('moto stopped in the middle of storing: the run keeps retrying, stays not ready, completes when it is back', async () => {
    const fresh = await OpenBao.start();
    const port = Number(new URL(moto.endpoint).port);
    try {
      const metricsPort = await freePort();
      const cli = startCli(
        [
          'run',
          '--store',
          'aws',
          '--store-prefix',
          'outage',
          '--vault-addr',
          fresh.address,
          '--listen',
          `127.0.0.1:${metricsPort}`,
        ],
        awsEnv,
      );
      await cli.waitFor('"to":"initializing"');
      await moto.stop();
      await cli.waitFor('"event":"store-retry"', 60_000);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(503);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/vault_bootstrap_store_errors_total\{op="store-init-secrets"\} [1-9]/);

      moto = await startMoto(port);
      await cli.waitFor('"to":"ready"', 90_000);
      cli.child.kill('SIGTERM');
      const result = await cli.result;
      expect(result.code).toBe(0);
      expect(transitions(result.stdout).filter((state) => state === 'initializing')).toHaveLength(1);
      const keys = JSON.parse(await store().readLatest('outage-unseal-keys'));
      expect(keys.keysBase64).toHaveLength(5);
      expect(logLines(result.stdout).some((line) => line.event === 'init-secrets-stored')).toBe(true);
      // The stored keys are the ones that open this server: seal it and unseal with them.
      const root = JSON.parse(await store().readLatest('outage-root-token')).token;
      expect((await baoRequest(fresh, 'PUT', 'sys/seal', root)).status).toBe(204);
      let sealed = true;
      for (const key of keys.keysBase64.slice(0, 3))
        sealed = (await baoRequest(fresh, 'PUT', 'sys/unseal', undefined, { key })).body.sealed;
      expect(sealed).toBe(false);
      secretsSeen.push(...(await secretValuesIn(store(), 'outage')));
    } finally {
      await fresh.stop();
    }
  });

  it('no secret value appears in any output', () => {
    expectNoSecretIn(capturedOutput, secretsSeen);
  });
});

describe('--store gcp start-up checks (no emulator installs here: see GCP_EMULATOR.md)', () => {
  it('no project from flags or the environment: exit 2 naming --gcp-project, before any Vault call', async () => {
    const closedPort = await freePort();
    const result = await runCli(
      [
        'run',
        '--once',
        '--store',
        'gcp',
        '--gcp-endpoint',
        `127.0.0.1:${closedPort}`,
        '--vault-addr',
        `http://127.0.0.1:${closedPort}`,
      ],
      cleanEnv({ METADATA_SERVER_DETECTION: 'none', HOME: await mkdtemp(join(tmpdir(), 'vb-home-')) }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--gcp-project');
  });
});
