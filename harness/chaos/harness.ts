import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AwsStore } from '../../src/store/aws.js';
import { cleanEnv, startCli, type RunningCli } from '../cli.js';
import { startMoto, type Moto } from '../moto.js';
import { baoRequest, type OpenBao } from '../openbao.js';
import { RecordingProxy } from '../recording-proxy.js';

const CRASH_HOOK = fileURLToPath(new URL('./crash-hook.mjs', import.meta.url));

/** The store every scenario uses: a real moto server; each run gets its own secret prefix. */
export class ChaosStore {
  moto: Moto;
  readonly home: string;
  /** The values process.env had before start() pointed the SDK at moto; stop() puts them back. */
  readonly #envBefore: Record<string, string | undefined>;

  private constructor(moto: Moto, home: string, envBefore: Record<string, string | undefined>) {
    this.moto = moto;
    this.home = home;
    this.#envBefore = envBefore;
  }

  static async start(): Promise<ChaosStore> {
    const moto = await startMoto();
    // The harness's own reads of the store go to moto too, never elsewhere.
    const overrides: Record<string, string> = { ...moto.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const envBefore = Object.fromEntries(Object.keys(overrides).map((name) => [name, process.env[name]]));
    Object.assign(process.env, overrides);
    return new ChaosStore(moto, await mkdtemp(join(tmpdir(), 'vb-chaos-home-')), envBefore);
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return cleanEnv({ ...this.moto.env, HOME: this.home, VB_LOG_LEVEL: 'info', ...extra });
  }

  client(): AwsStore {
    return new AwsStore({ region: 'us-east-1' });
  }

  async versions(prefix: string, secret: string): Promise<string[]> {
    return this.client().readAllVersions(`${prefix}-${secret}`);
  }

  /** The store goes away (moto keeps nothing, so it comes back empty). */
  async outage(): Promise<void> {
    await this.moto.stop();
  }

  /** The store comes back on the same port, where every client still points. */
  async recover(): Promise<void> {
    this.moto = await startMoto(Number(new URL(this.moto.endpoint).port));
  }

  async stop(): Promise<void> {
    await this.moto.stop();
    for (const [name, value] of Object.entries(this.#envBefore)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

export interface SidecarOptions {
  prefix: string;
  podName: string;
  once?: boolean;
  /** Checkpoint at which the crash hook SIGKILLs the process. */
  crashAt?: string;
  spoolDirectory?: string;
  /** Flags after the defaults: a repeated flag overrides the default (--listen, --timeout). */
  extraArgs?: string[];
  /** Environment on top of the store's (an endpoint through a fault proxy). */
  env?: Record<string, string>;
}

export interface Sidecar {
  cli: RunningCli;
  traceFile: string;
  /** Checkpoints passed, in order (from the crash hook's trace). */
  checkpoints(): string[];
}

let traceCounter = 0;

/** Starts vault-bootstrap with the crash hook preloaded, against the given Vault address. */
export function startSidecar(store: ChaosStore, vaultAddress: string, options: SidecarOptions): Sidecar {
  const traceFile = join(store.home, `trace-${process.pid}-${(traceCounter += 1)}.txt`);
  const args = [
    'run',
    ...(options.once ? ['--once', '--timeout', '2m'] : ['--interval', '1s', '--listen', 'off']),
    '--store',
    'aws',
    '--store-prefix',
    options.prefix,
    '--vault-addr',
    vaultAddress,
    '--shutdown-timeout',
    '3s',
    ...(options.spoolDirectory ? ['--spool-dir', options.spoolDirectory] : []),
    ...(options.extraArgs ?? []),
  ];
  const env = store.env({
    POD_NAME: options.podName,
    VB_TEST_TRACE_FILE: traceFile,
    ...(options.crashAt ? { VB_TEST_CRASH_AT: options.crashAt } : {}),
    ...options.env,
  });
  const cli = startCli(args, env, ['--import', CRASH_HOOK]);
  return {
    cli,
    traceFile,
    checkpoints: () => (existsSync(traceFile) ? readFileSync(traceFile, 'utf8').split('\n').filter(Boolean) : []),
  };
}

/** A memory-backed spool directory, as the manifests mount it (emptyDir, medium: Memory). */
export async function memorySpool(): Promise<{ directory: string; remove(): Promise<void> }> {
  const directory = await mkdtemp('/dev/shm/vb-spool-');
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) };
}

/** Proxies that count the sys/init requests reaching each node: the independent count of inits. */
export async function initCounters(
  nodes: OpenBao[],
): Promise<{ proxies: RecordingProxy[]; initRequests(): number; stop(): Promise<void> }> {
  const proxies = await Promise.all(nodes.map((node) => RecordingProxy.start(node.address)));
  return {
    proxies,
    initRequests: () => proxies.reduce((total, proxy) => total + proxy.paths('PUT', 'sys/init').length, 0),
    stop: async () => {
      await Promise.all(proxies.map((proxy) => proxy.stop()));
    },
  };
}

/**
 * Whether the stored keys really open this server: seal it with the stored root token,
 * unseal it with the stored key shares, directly over HTTP. Leaves it unsealed.
 */
/**
 * Every stored version of the keys holds the same key set: one init. (Recording the cluster id
 * adds a version with the same keys; a second init would add different ones.)
 */
export async function oneKeySetStored(store: ChaosStore, prefix: string): Promise<boolean> {
  const sets = (await store.versions(prefix, 'unseal-keys')).map((text) =>
    JSON.stringify((JSON.parse(text) as { keysBase64: string[] }).keysBase64),
  );
  return sets.length > 0 && sets.every((set) => set === sets[0]);
}

export async function storedKeysUnseal(store: ChaosStore, prefix: string, node: OpenBao): Promise<boolean> {
  const [keysText] = (await store.versions(prefix, 'unseal-keys')).slice(-1);
  const rootVersions = (await store.versions(prefix, 'root-token')).map(
    (text) => JSON.parse(text) as { token: string | null },
  );
  const rootToken = rootVersions
    .map((version) => version.token)
    .filter((token): token is string => token !== null)
    .at(-1);
  if (keysText === undefined || rootToken === undefined) return false;
  const keys = JSON.parse(keysText) as { keysBase64: string[]; threshold: number };
  if ((await baoRequest(node, 'PUT', 'sys/seal', rootToken)).status !== 204) return false;
  let sealed = true;
  for (const key of keys.keysBase64.slice(0, keys.threshold))
    sealed = (await baoRequest(node, 'PUT', 'sys/unseal', undefined, { key })).body.sealed;
  return !sealed;
}

export async function healthOf(node: OpenBao): Promise<{ status: number; clusterId: string | undefined }> {
  try {
    const answer = await baoRequest(node, 'GET', 'sys/health');
    return { status: answer.status, clusterId: answer.body.cluster_id };
  } catch {
    return { status: 0, clusterId: undefined };
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
