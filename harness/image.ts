// The container image as the tests and scripts use it: built by scripts/image.sh with podman,
// run with the flags the deployment uses (read-only root, user 65532, host network for loopback).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** podman's settings (runc, rlimits within this machine's hard limits), for every podman call. */
const PODMAN_ENV = { ...process.env, CONTAINERS_CONF: join(ROOT, 'scripts/podman-containers.conf') };

/** The runtime user of the image (distroless's nonroot). */
export const IMAGE_USER = '65532:65532';

/** The deployment's container settings in podman's flags: read-only root (podman's --read-only alone leaves /tmp, /run and /var/tmp writable), the image's user, loopback reachable. */
export const RUN_FLAGS = [
  '--pull=never',
  '--network=host',
  '--read-only',
  '--read-only-tmpfs=false',
  `--user=${IMAGE_USER}`,
];

/** Why the image cannot be built here (install-tools wrote the error), or undefined when it can. */
export function missingImageTools(): string | undefined {
  const path = (process.env.PATH ?? '').split(':');
  const missing = ['podman', 'runc', 'mmdebstrap'].filter(
    (tool) => !path.some((directory) => existsSync(join(directory, tool))),
  );
  if (missing.length === 0) return process.getuid?.() === 0 ? undefined : 'podman runs rootful here: run as root';
  const errorFile = join(ROOT, '.tools/image-tools-error');
  const error = existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools';
  return `${missing.join(', ')} not installed: ${error}`;
}

/** Builds the image (stand-in bases; cached layers make an unchanged rebuild take seconds) and returns its id. */
export async function buildImage(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/image.sh')], {
    env: PODMAN_ENV,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60_000,
  });
  return stdout.trim().split('\n').at(-1)!;
}

export async function podman(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  return run('podman', args, { env: PODMAN_ENV, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
}

export interface ContainerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `podman run --rm` in the foreground (flags: RUN_FLAGS and more, usually); resolves when the container has ended. */
export function runContainer(image: string, flags: string[], args: string[]): Promise<ContainerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', ['run', '--rm', ...flags, image, ...args], {
      env: PODMAN_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Sizes from podman's image metadata: the whole image, and the layer the Dockerfile's runtime stage adds (/app). */
export async function imageSizes(image: string): Promise<{ imageBytes: number; appLayerBytes: number }> {
  const { stdout: size } = await podman(['image', 'inspect', '--format', '{{.Size}}', image]);
  const { stdout: history } = await podman(['history', '--no-trunc', '--format', '{{.Size}}\t{{.CreatedBy}}', image]);
  // The runtime stage's one COPY, of the build stage's /app: "COPY dir:HASH in /app".
  const appLayer = history.split('\n').find((line) => / COPY \S+ in \/app\s*$/.test(line));
  if (!appLayer) throw new Error(`no COPY into /app in the image's history:\n${history}`);
  return { imageBytes: Number(size.trim()), appLayerBytes: parseSize(appLayer.split('\t')[0]!) };
}

/** podman history's human sizes ("23.4 MB", "512 kB", "0 B"): decimal units, as podman prints them. */
function parseSize(text: string): number {
  const match = /^([\d.]+)\s*([kMG]?B)$/.exec(text.trim());
  if (!match) throw new Error(`cannot read a layer size from ${JSON.stringify(text)}`);
  return Number(match[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[match[2] as 'B' | 'kB' | 'MB' | 'GB'];
}

/**
 * Run inside the image by its own node (no shell there): lists every path under the given root
 * that the calling user may write, by access(2), which also answers EROFS on a read-only mount.
 * /proc, /sys and /dev are the kernel's and the runtime's, not the image's: not entered.
 */
export const WRITABLE_PATHS_SCRIPT = `
const { accessSync, constants, lstatSync, readdirSync } = require('node:fs');
const { join } = require('node:path');
const writable = [];
const walk = (path) => {
  let info;
  try { info = lstatSync(path); } catch { return; }
  if (info.isSymbolicLink()) return;
  try { accessSync(path, constants.W_OK); writable.push(path); } catch {}
  if (!info.isDirectory() || ['/proc', '/sys', '/dev'].includes(path)) return;
  let entries = [];
  try { entries = readdirSync(path); } catch {}
  for (const entry of entries) walk(join(path, entry));
};
walk(process.argv[1]);
console.log(JSON.stringify(writable));
`;
