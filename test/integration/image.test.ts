// The image as operators get it, built from the Dockerfile with podman (stand-in bases: see
// scripts/image-bases.sh) and run as the deployment runs it: read-only root, user 65532, against a
// real OpenBao on loopback. Proves the Dockerfile, .dockerignore, entrypoint flags, user, read-only
// root and the CLI in the image; not distroless's own bytes.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { freePort } from '../../harness/child-server.js';
import { logLines } from '../../harness/cli.js';
import {
  buildImage,
  IMAGE_USER,
  imageSizes,
  missingImageTools,
  podman,
  RUN_FLAGS,
  runContainer,
  WRITABLE_PATHS_SCRIPT,
  type ContainerResult,
} from '../../harness/image.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';
import { missingServer } from '../helpers/servers.js';
import { expectNoSecretIn, secretValuesIn } from '../helpers/secrets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const missing = missingImageTools() ?? missingServer('openbao');
if (missing) console.warn(`the image: skipped: ${missing}`);

/** Licence and notice files, which the image keeps whatever their extension. */
const LICENCE_FILE = /^(licen[cs]e|copying|notice)/i;

/**
 * Run by the image's node: imports every chunk beside cli.js (each store's chunk imports its SDK),
 * then makes a call with each SDK's client that stays on the machine: the GCP client's project id,
 * an AWS request to a closed loopback port.
 */
const CLOUD_SDKS_SCRIPT = `
const { readdirSync } = require('node:fs');
(async () => {
  const chunks = readdirSync('/app/dist').filter((file) => file !== 'cli.js');
  for (const chunk of chunks) await import('/app/dist/' + chunk);
  const { SecretManagerServiceClient } = require('/app/node_modules/@google-cloud/secret-manager');
  const { SecretsManagerClient, ListSecretsCommand } = require('/app/node_modules/@aws-sdk/client-secrets-manager');
  const gcpProject = await new SecretManagerServiceClient({ projectId: 'p', credentials: { client_email: 'a@example.com', private_key: 'k' } }).getProjectId();
  const aws = new SecretsManagerClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  const awsError = await aws.send(new ListSecretsCommand({})).then(() => 'none', (error) => error.code);
  console.log(JSON.stringify({ chunks, gcpProject, awsError }));
})();
`;

/** Run by the image's node: each package under /app/node_modules, its version and its licence files. */
const PACKAGES_SCRIPT = `
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join, relative } = require('node:path');
const packages = [];
const walk = (directory) => {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(directory, entry.name);
    if (entry.name.startsWith('@')) { walk(path); continue; }
    if (!existsSync(join(path, 'package.json'))) continue;
    const { version } = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
    packages.push({ path: relative('/app', path), version, licences: readdirSync(path).filter((file) => LICENCE.test(file)).sort() });
    if (existsSync(join(path, 'node_modules'))) walk(join(path, 'node_modules'));
  }
};
const LICENCE = ${LICENCE_FILE.toString()};
walk('/app/node_modules');
console.log(JSON.stringify(packages));
`;

/** Kubernetes' default terminationGracePeriodSeconds, given to `podman stop`. */
const GRACE_SECONDS = 30;

describe.skipIf(missing !== undefined)('the image (podman, read-only root, user 65532, real OpenBao)', () => {
  let image: string;
  let server: OpenBao;
  /** Host directory on tmpfs (/dev/shm), mounted at /store: the file store outlives each container. */
  let storeMount: string;
  const containers: string[] = [];
  const outputs: string[] = [];
  const storeFlags = () => ['--volume', `${storeMount}:/store`];
  const cliFlags = () => ['--store', 'file', '--file-dir', '/store/keys', '--vault-addr', server.address];

  async function inImage(args: string[], flags: string[] = []): Promise<ContainerResult> {
    const result = await runContainer(image, [...RUN_FLAGS, ...storeFlags(), ...flags], args);
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  beforeAll(async () => {
    [image, server] = await Promise.all([buildImage(), OpenBao.start()]);
    storeMount = await mkdtemp('/dev/shm/vb-image-store-');
    await chown(storeMount, 65532, 65532);
  }, 20 * 60_000);

  afterAll(async () => {
    for (const name of containers) await podman(['rm', '--force', '--ignore', name]).catch(() => undefined);
    await server?.stop();
    if (storeMount) await rm(storeMount, { recursive: true, force: true });
  });

  it('is lean: one app layer of at most 25 MB on the runtime base', async () => {
    const { imageBytes, appLayerBytes } = await imageSizes(image);
    console.log(JSON.stringify({ event: 'image-size', imageBytes, appLayerBytes }));
    expect(appLayerBytes).toBeGreaterThan(1e6);
    expect(appLayerBytes).toBeLessThanOrEqual(25e6);
  });

  it('has nothing the runtime user can write: not /app in the image, not anything under the deployment flags', async () => {
    const inspect = (flags: string[], root: string) =>
      runContainer(image, [...flags, '--entrypoint', '/nodejs/bin/node'], ['-e', WRITABLE_PATHS_SCRIPT, root]).then(
        (result) => {
          expect(result.code, result.stderr).toBe(0);
          return JSON.parse(result.stdout) as string[];
        },
      );
    // Even where a runtime leaves the root filesystem writable, the program's own files are root's.
    expect(await inspect(['--pull=never', '--network=none', `--user=${IMAGE_USER}`], '/app')).toEqual([]);
    // With the deployment's flags, the only writable place is the mounted store.
    expect(await inspect([...RUN_FLAGS, ...storeFlags()], '/')).toEqual(['/store']);
  });

  it('loads each store chunk and builds both cloud SDK clients from the pruned node_modules', async () => {
    const result = await runContainer(
      image,
      [
        ...RUN_FLAGS,
        '--network=none',
        '--env',
        'METADATA_SERVER_DETECTION=none',
        '--env',
        'AWS_EC2_METADATA_DISABLED=true',
        '--entrypoint',
        '/nodejs/bin/node',
      ].filter((flag) => flag !== '--network=host'),
      ['-e', CLOUD_SDKS_SCRIPT],
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      chunks: expect.arrayContaining([expect.stringMatching(/^aws-/), expect.stringMatching(/^gcp-/)]),
      gcpProject: 'p',
      awsError: 'ECONNREFUSED',
    });
  });

  it('keeps every licence file its packages ship (compared with the same packages installed here)', async () => {
    const result = await runContainer(
      image,
      ['--pull=never', '--network=none', '--entrypoint', '/nodejs/bin/node'],
      ['-e', PACKAGES_SCRIPT],
    );
    expect(result.code, result.stderr).toBe(0);
    const packages = JSON.parse(result.stdout) as Array<{ path: string; version: string; licences: string[] }>;
    expect(packages.map((entry) => entry.path)).toEqual(
      expect.arrayContaining([
        'node_modules/@aws-sdk/client-secrets-manager',
        'node_modules/@google-cloud/secret-manager',
        'node_modules/google-gax',
      ]),
    );
    // The bundled packages are not there.
    expect(
      packages
        .map((entry) => entry.path)
        .filter((path) => /node_modules\/(node-vault|pino|prom-client|axios)$/.test(path)),
    ).toEqual([]);
    const compared = packages.flatMap((entry) => {
      const here = join(ROOT, entry.path);
      if (
        !existsSync(join(here, 'package.json')) ||
        JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).version !== entry.version
      )
        return [];
      return [
        {
          path: entry.path,
          inImage: entry.licences,
          shipped: readdirSync(here)
            .filter((file) => LICENCE_FILE.test(file))
            .sort(),
        },
      ];
    });
    expect(compared.length).toBeGreaterThan(packages.length / 2);
    expect(compared.filter((entry) => entry.inImage.join() !== entry.shipped.join())).toEqual([]);
  });

  it('run --once initializes and unseals a fresh server to ready, keys in the mounted store; plan and status read it', async () => {
    const once = await inImage(['run', '--once', ...cliFlags()]);
    expect(once.code, once.stderr).toBe(0);
    expect(
      logLines(once.stdout)
        .filter((line) => line.event === 'state')
        .map((line) => line.to),
    ).toContain('ready');
    expect((await baoRequest(server, 'GET', 'sys/health')).status).toBe(200);

    const store = new FileStore(join(storeMount, 'keys'));
    expect(JSON.parse(await store.readLatest('vault-unseal-keys')).keysBase64.length).toBeGreaterThan(0);

    const plan = await inImage(['plan', '--json', ...cliFlags()]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ state: 'ready' });

    const status = await inImage(['status', '--json', ...cliFlags()]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ decision: { state: 'ready' } });
  });

  it('the sidecar loop: /healthz and /readyz, unseals a restarted server, and stops with exit 0 within the grace period', async () => {
    const port = await freePort();
    const name = `vb-image-test-${randomUUID().slice(0, 8)}`;
    containers.push(name);
    await podman([
      'run',
      '--detach',
      '--name',
      name,
      ...RUN_FLAGS,
      ...storeFlags(),
      image,
      'run',
      ...cliFlags(),
      '--listen',
      `127.0.0.1:${port}`,
      '--interval',
      '1s',
    ]);
    const probe = async (path: string) =>
      (await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined))?.status;
    await expect.poll(() => probe('/healthz'), { timeout: 30_000, interval: 100 }).toBe(200);
    await expect.poll(() => probe('/readyz'), { timeout: 30_000, interval: 100 }).toBe(200);

    // A restarted server comes back sealed: the sidecar in the container opens it with the stored keys.
    await server.restart();
    await expect
      .poll(async () => (await baoRequest(server, 'GET', 'sys/seal-status')).body.sealed, {
        timeout: 30_000,
        interval: 100,
      })
      .toBe(false);
    await expect.poll(() => probe('/readyz'), { timeout: 30_000, interval: 100 }).toBe(200);

    const stopping = Date.now();
    await podman(['stop', '--time', String(GRACE_SECONDS), name], (GRACE_SECONDS + 30) * 1000);
    const stoppedAfterMs = Date.now() - stopping;
    const { stdout: exitCode } = await podman(['inspect', '--format', '{{.State.ExitCode}}', name]);
    expect(Number(exitCode.trim())).toBe(0);
    expect(stoppedAfterMs).toBeLessThan(GRACE_SECONDS * 1000);
    const { stdout, stderr } = await podman(['logs', name]);
    outputs.push(stdout, stderr);
    // The signal reached node, PID 1 with no init: its handler logged it.
    expect(logLines(stdout).some((line) => line.signal === 'SIGTERM')).toBe(true);
    expect(
      JSON.parse(await new FileStore(join(storeMount, 'keys')).readLatest('vault-unseal-keys')).keysBase64.length,
    ).toBeGreaterThan(0);
  });

  it(
    "the day-2 recipes: status, seal, resume, rotate-keys and generate-root exec'd in the running sidecar container, with its own environment (kubectl exec)",
    async () => {
      // The shipped sidecar's settings come from its environment (the ConfigMap), VB_ROOT_TOKEN=revoke among them.
      const day2Server = await OpenBao.create();
      const config = join(day2Server.directory, 'server.hcl');
      await writeFile(
        config,
        (await readFile(config, 'utf8')).replace(
          'listener "tcp" {',
          'listener "tcp" {\n  disable_unauthed_generate_root_endpoints = false',
        ),
      );
      await day2Server.start();
      try {
        const port = await freePort();
        const name = `vb-image-day2-${randomUUID().slice(0, 8)}`;
        containers.push(name);
        const environment = {
          VB_STORE: 'file',
          VB_FILE_DIR: '/store/day2',
          VAULT_ADDR: day2Server.address,
          VB_ROOT_TOKEN: 'revoke',
          VB_LISTEN: `127.0.0.1:${port}`,
          VB_INTERVAL: '1s',
        };
        const envFlags = Object.entries(environment).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
        await podman(['run', '--detach', '--name', name, ...RUN_FLAGS, ...storeFlags(), ...envFlags, image, 'run']);
        const probe = async (path: string) =>
          (await fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined))?.status;
        await expect.poll(() => probe('/readyz'), { timeout: 60_000, interval: 200 }).toBe(200);
        const store = new FileStore(join(storeMount, 'day2'));
        await expect
          .poll(async () => JSON.parse(await store.readLatest('vault-root-token')).token, {
            timeout: 30_000,
            interval: 200,
          })
          .toBeNull();

        /** k8s/README.md's recipe: kubectl -n vault exec openbao-0 -c vault-bootstrap -- /nodejs/bin/node /app/dist/cli.js COMMAND. */
        const exec = async (...args: string[]): Promise<ContainerResult> => {
          const result = await podman(['exec', name, '/nodejs/bin/node', '/app/dist/cli.js', ...args], 180_000).then(
            ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
            (error: { code?: number; stdout?: string; stderr?: string }) => ({
              code: typeof error.code === 'number' ? error.code : null,
              stdout: error.stdout ?? '',
              stderr: error.stderr ?? '',
            }),
          );
          outputs.push(result.stdout, result.stderr);
          return result;
        };
        const sealed = async () => (await baoRequest(day2Server, 'GET', 'sys/seal-status')).body.sealed as boolean;

        const status = await exec('status', '--json');
        expect(status.code, status.stderr).toBe(0);
        expect(JSON.parse(status.stdout)).toMatchObject({ decision: { state: 'ready' } });

        const seal = await exec('seal', '--reason', 'drill');
        expect(seal.code, seal.stderr).toBe(0);
        expect(await sealed()).toBe(true);
        const resume = await exec('resume');
        expect(resume.code, resume.stderr).toBe(0);
        await expect.poll(sealed, { timeout: 60_000, interval: 200 }).toBe(false);
        await expect.poll(() => probe('/readyz'), { timeout: 60_000, interval: 200 }).toBe(200);

        const rotate = await exec('rotate-keys');
        expect(rotate.code, rotate.stderr).toBe(0);

        const generate = await exec('generate-root');
        expect(generate.code, generate.stderr).toBe(0);
        const root = JSON.parse(await store.readLatest('vault-root-token')).token as string;
        expect((await baoRequest(day2Server, 'GET', 'auth/token/lookup-self', root)).status).toBe(200);

        await podman(['stop', '--time', String(GRACE_SECONDS), name], (GRACE_SECONDS + 30) * 1000);
        const { stdout, stderr } = await podman(['logs', name]);
        outputs.push(stdout, stderr);
        expectNoSecretIn(outputs, await secretValuesIn(store));
      } finally {
        await day2Server.stop();
      }
    },
    6 * 60_000,
  );

  it('prints no secret value: every container output and podman logs', async () => {
    expect(outputs.length).toBeGreaterThan(0);
    expectNoSecretIn(outputs, await secretValuesIn(new FileStore(join(storeMount, 'keys'))));
  });

  it('container start → first request to Vault (reported, not asserted)', async () => {
    const samples: number[] = [];
    for (let sample = 0; sample < 3; sample += 1) {
      let firstRequestAt = 0;
      const standIn = createServer((request, response) => {
        firstRequestAt ||= Date.now();
        response.writeHead(503).end();
      });
      await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
      const address = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
      const name = `vb-image-start-${randomUUID().slice(0, 8)}`;
      containers.push(name);
      const started = Date.now();
      const container = runContainer(
        image,
        ['--name', name, ...RUN_FLAGS, ...storeFlags()],
        ['run', '--once', '--store', 'file', '--file-dir', '/store/start', '--vault-addr', address],
      );
      await expect.poll(() => firstRequestAt, { timeout: 30_000, interval: 5 }).toBeGreaterThan(0);
      samples.push(firstRequestAt - started);
      await podman(['rm', '--force', '--time', '0', name]);
      await container;
      standIn.close();
    }
    console.log(JSON.stringify({ event: 'image-start-to-first-request', milliseconds: samples }));
    expect(samples).toHaveLength(3);
  });
});
