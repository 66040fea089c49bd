import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../harness/child-server.js';
import { startMoto } from '../../harness/moto.js';
import { RecordingProxy } from '../../harness/recording-proxy.js';
import { LongRunning, type LongRunningCommand } from './long-running.js';
import { cpuTimeMs, SETTLE_BEFORE_IDLE_MS } from './proc.js';
import { CLI, cleanEnv } from './processes.js';
import { ThrowawayOpenBao } from './throwaway-openbao.js';
import { answers, until } from './watchers.js';

/**
 * What a converged sidecar costs while nothing happens: every request it sends, counted where it
 * arrives by recording proxies in front of moto (the AWS store) and of OpenBao, and its CPU time
 * over the same window. vault-bootstrap runs with its defaults except a shorter
 * --reconcile-interval, so the window holds several scheduled reconciles; the per-day and
 * per-hour figures at the default interval are the measured cost of one reconcile times the
 * reconciles the default makes, plus the measured cheap passes.
 */

export interface QuietOptions {
  benchDirectory: string;
  windowSeconds: number;
  reconcileSeconds: number;
  node: string;
  nodeFlags: string[];
  peerBinary: string | undefined;
}

export interface QuietCounts {
  windowSeconds: number;
  /** Store API calls (moto) in the window; undefined when the contender's store is not behind a proxy. */
  storeCalls: number | undefined;
  vaultRequests: number;
  /** Requests carrying X-Vault-Token: each is two audit-log entries (request and response). */
  tokenRequests: number;
  vaultWrites: number;
  /** sys/seal-status requests: vault-bootstrap asks it at a full reconcile only (a cheap pass asks sys/health alone). */
  sealStatusRequests: number;
  /** Full reconciles in the window (each reads the token role once). */
  reconciles: number;
  cpuPercent: number;
}

export interface QuietResults {
  ours: QuietCounts & { reconcileSeconds: number };
  peer: QuietCounts | undefined;
}

export async function quietSection(options: QuietOptions, progress: (line: string) => void): Promise<QuietResults> {
  const ours = await oursQuiet(options);
  progress(
    `vault-bootstrap, ${options.windowSeconds} s converged (--reconcile-interval ${options.reconcileSeconds}s): ${describe(ours)}`,
  );
  let peer: QuietCounts | undefined;
  if (options.peerBinary) {
    peer = await peerQuiet(options, options.peerBinary);
    progress(`bank-vaults, ${options.windowSeconds} s converged: ${describe(peer)}`);
  }
  return { ours: { ...ours, reconcileSeconds: options.reconcileSeconds }, peer };
}

async function oursQuiet(options: QuietOptions): Promise<QuietCounts> {
  const directory = join(options.benchDirectory, 'quiet-ours');
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const moto = await startMoto();
  const storeProxy = await RecordingProxy.start(moto.endpoint);
  const openBao = await ThrowawayOpenBao.start({ seal: 'shamir' });
  const vaultProxy = await RecordingProxy.start(openBao.address);
  const listenPort = await freePort();
  const command: LongRunningCommand = {
    command: options.node,
    args: [
      ...options.nodeFlags,
      CLI,
      'run',
      '--store',
      'aws',
      '--vault-addr',
      vaultProxy.address,
      '--listen',
      `127.0.0.1:${listenPort}`,
      '--reconcile-interval',
      `${options.reconcileSeconds}s`,
    ],
    env: cleanEnv({
      ...moto.env,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: storeProxy.address,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    }),
  };
  const sidecar = new LongRunning(command, directory);
  try {
    const alive = () => sidecar.assertRunning('vault-bootstrap');
    await until('vault-bootstrap /readyz 200', () => answers(`http://127.0.0.1:${listenPort}/readyz`, 200), alive);
    return await countWindow(options.windowSeconds, sidecar, vaultProxy, storeProxy);
  } finally {
    await sidecar.stop('SIGTERM');
    await vaultProxy.stop();
    await openBao.dispose();
    await storeProxy.stop();
    await moto.stop();
  }
}

/** `bank-vaults unseal --init --mode file`: its store is files, so only its Vault requests are counted. */
async function peerQuiet(options: QuietOptions, binary: string): Promise<QuietCounts> {
  const directory = join(options.benchDirectory, 'quiet-peer');
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const openBao = await ThrowawayOpenBao.start({ seal: 'shamir' });
  const vaultProxy = await RecordingProxy.start(openBao.address);
  const peer = new LongRunning(
    {
      command: binary,
      args: ['unseal', '--init', '--mode', 'file', '--file-path', directory],
      env: cleanEnv({ VAULT_ADDR: vaultProxy.address }),
    },
    directory,
  );
  try {
    const alive = () => peer.assertRunning('bank-vaults');
    await until('bank-vaults: server active', () => answers(`${openBao.address}/v1/sys/health`, 200), alive);
    return await countWindow(options.windowSeconds, peer, vaultProxy, undefined);
  } finally {
    await peer.stop('SIGTERM');
    await vaultProxy.stop();
    await openBao.dispose();
  }
}

async function countWindow(
  windowSeconds: number,
  contender: LongRunning,
  vaultProxy: RecordingProxy,
  storeProxy: RecordingProxy | undefined,
): Promise<QuietCounts> {
  await sleep(SETTLE_BEFORE_IDLE_MS); // the pass that made it ready and start-up's heap compaction done
  const vaultFrom = vaultProxy.requests.length;
  const storeFrom = storeProxy?.requests.length ?? 0;
  const cpuFrom = await cpuTimeMs(contender.pid);
  await sleep(windowSeconds * 1000);
  const cpuMs = (await cpuTimeMs(contender.pid)) - cpuFrom;
  contender.assertRunning('quiet window');
  const vault = vaultProxy.requests.slice(vaultFrom);
  return {
    windowSeconds,
    storeCalls: storeProxy === undefined ? undefined : storeProxy.requests.length - storeFrom,
    vaultRequests: vault.length,
    tokenRequests: vault.filter((request) => request.token).length,
    vaultWrites: vault.filter(
      (request) => request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'LIST',
    ).length,
    sealStatusRequests: vault.filter((request) => request.path === '/v1/sys/seal-status').length,
    reconciles: vault.filter(
      (request) => request.method === 'GET' && request.path === '/v1/auth/token/roles/provisioner',
    ).length,
    cpuPercent: cpuMs / (windowSeconds * 10),
  };
}

function describe(counts: QuietCounts): string {
  return `${counts.storeCalls ?? '—'} store calls, ${counts.vaultRequests} Vault requests (${counts.tokenRequests} with a token, ${counts.vaultWrites} writes), ${counts.reconciles} reconciles, CPU ${counts.cpuPercent.toFixed(3)} %`;
}

/** List prices of the stores' read calls, USD per 10 000 (AWS Secrets Manager API calls; GCP Secret Manager access operations). */
export const PRICE_PER_10K = { aws: 0.05, gcp: 0.03 } as const;

/** The default --reconcile-interval, seconds (src/config/options.ts). */
const DEFAULT_RECONCILE_SECONDS = 600;

/**
 * Per pod-day and per pod-hour at the defaults: the cheap passes as measured (per second of the
 * window, less the reconciles' share), plus one measured reconcile times the reconciles a day at
 * the default interval. For the peer, the window scaled as measured.
 */
export function perDay(
  counts: QuietCounts,
  atDefaults: boolean,
): { storeCallsPerDay: number | undefined; tokenRequestsPerHour: number; requestsPerHour: number } {
  const scale = (count: number, perSeconds: number) => (count / counts.windowSeconds) * perSeconds;
  if (!atDefaults || counts.reconciles === 0) {
    return {
      storeCallsPerDay: counts.storeCalls === undefined ? undefined : scale(counts.storeCalls, 86_400),
      tokenRequestsPerHour: scale(counts.tokenRequests, 3600),
      requestsPerHour: scale(counts.vaultRequests, 3600),
    };
  }
  const reconcilesPerDay = 86_400 / DEFAULT_RECONCILE_SECONDS;
  const perReconcile = (count: number) => count / counts.reconciles;
  // sys/health once a pass (a reconcile's included) as measured; what only reconciles send (token-bearing requests, sys/seal-status) at the default rate.
  const cheapRequests = counts.vaultRequests - counts.tokenRequests - counts.sealStatusRequests;
  return {
    storeCallsPerDay: counts.storeCalls === undefined ? undefined : perReconcile(counts.storeCalls) * reconcilesPerDay,
    tokenRequestsPerHour: (perReconcile(counts.tokenRequests) * reconcilesPerDay) / 24,
    requestsPerHour:
      scale(cheapRequests, 3600) +
      (perReconcile(counts.tokenRequests + counts.sealStatusRequests) * reconcilesPerDay) / 24,
  };
}
