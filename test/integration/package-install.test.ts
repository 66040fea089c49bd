import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { baoRequest, OpenBao } from '../../harness/openbao.js';

/**
 * What a production install of the package holds, run without the repository: `npm pack` of the
 * built project (what `files` ships), plus the lockfile, then `npm ci --omit=dev --ignore-scripts`
 * in a clean folder. `--help` and a real `run --once` against OpenBao come from that folder.
 * The image starts from the same install and keeps less of it (the packages the bundle already
 * holds go): test/integration/image.test.ts runs the image itself.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL_TIMEOUT_MS = 300_000;

let workDirectory: string;
let appDirectory: string;
let packedFiles: string[];

/** The program as the image runs it: node, the installed cli.js, an environment with nothing from the developer's shell. */
function runInstalled(args: string[], extraEnv: Record<string, string> = {}) {
  return run(process.execPath, [join(appDirectory, 'dist', 'cli.js'), ...args], {
    cwd: appDirectory,
    // HOME does not exist: the image's HOME is never written, so nothing may need it.
    env: { PATH: process.env.PATH ?? '', HOME: join(workDirectory, 'no-home'), NODE_ENV: 'production', ...extraEnv },
    timeout: 120_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? -1,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }),
  );
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first');
  workDirectory = await mkdtemp(join(tmpdir(), 'vb-package-'));
  const npmEnv = {
    ...process.env,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };

  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', workDirectory], {
    cwd: ROOT,
    env: npmEnv,
  });
  const [pack] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  packedFiles = pack!.files.map((file) => file.path);

  appDirectory = join(workDirectory, 'app');
  await mkdir(appDirectory);
  await run('tar', ['-xzf', join(workDirectory, pack!.filename), '-C', appDirectory, '--strip-components=1']);
  // The Dockerfile installs from the lockfile, which npm pack leaves out.
  await copyFile(join(ROOT, 'package-lock.json'), join(appDirectory, 'package-lock.json'));
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts'], {
    cwd: appDirectory,
    env: npmEnv,
    timeout: INSTALL_TIMEOUT_MS,
  });
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  if (workDirectory) await rm(workDirectory, { recursive: true, force: true });
});

describe('the production install (npm pack + npm ci --omit=dev)', () => {
  it('ships compiled JS, the built-in policies and package.json; no sources, tests or tools', () => {
    const topLevel = new Set(packedFiles.map((path) => path.split('/')[0]));
    expect(
      [...topLevel].filter((entry) => !['dist', 'policies', 'package.json', 'README.md', 'LICENSE'].includes(entry!)),
    ).toEqual([]);
    expect(packedFiles).toContain('dist/cli.js');
    expect(packedFiles).toContain('policies/admin.hcl');
    expect(packedFiles).toContain('policies/provisioner.hcl');
    expect(packedFiles.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('holds production dependencies only (nothing the lockfile marks dev)', async () => {
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.dev === true)
      .map(([path]) => path);
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((path) => existsSync(join(appDirectory, path)))).toEqual([]);
    const installed = await readdir(join(appDirectory, 'node_modules'));
    for (const dependency of ['node-vault', 'pino', 'prom-client', '@aws-sdk', '@google-cloud', 'google-gax'])
      expect(installed).toContain(dependency);
  });

  it('--help exits 0 with the usage text', async () => {
    const result = await runInstalled(['--help']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^usage: vault-bootstrap COMMAND \[options\]\n/);
    expect(result.stdout).toMatch(/^ {2}--store VALUE\n {6}env VB_STORE; default required$/m);
  });

  it('a bad flag exits 2 with one line naming it', async () => {
    const result = await runInstalled(['run', '--store', 'nowhere']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--store');
  });

  describe('against a real OpenBao', () => {
    let server: OpenBao;

    beforeAll(async () => {
      server = await OpenBao.start();
    });

    afterAll(async () => {
      await server?.stop();
    });

    it('run --once initializes, unseals and configures the server, then exits 0', async () => {
      const storeDirectory = join(workDirectory, 'store');
      const result = await runInstalled([
        'run',
        '--once',
        '--store',
        'file',
        '--file-dir',
        storeDirectory,
        '--vault-addr',
        server.address,
      ]);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);

      const health = await baoRequest(server, 'GET', 'sys/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ initialized: true, sealed: false });
      expect(result.stdout).toContain('"event":"state"');
      expect((await readdir(storeDirectory)).length).toBeGreaterThan(0);
      // The built-in policies were read from the installed package's policies/ folder.
      const rootToken = (
        JSON.parse(await new FileStore(storeDirectory).readLatest('vault-root-token')) as { token: string }
      ).token;
      for (const name of ['admin', 'provisioner']) {
        const policy = await baoRequest(server, 'GET', `sys/policies/acl/${name}`, rootToken);
        expect(policy.body.data.policy).toBe(await readFile(join(appDirectory, 'policies', `${name}.hcl`), 'utf8'));
      }
    });
  });
});
