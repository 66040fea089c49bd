import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../harness/child-server.js';
import { startMoto } from '../../harness/moto.js';
import { startToFirstRequest, type LongRunningCommand } from './long-running.js';
import { CLI, cleanEnv, runNodeMeasuringRss } from './processes.js';
import { sidecarRun, type SidecarContender, type SidecarFigures } from './sidecar-run.js';

/**
 * The sidecar half of the bench: vault-bootstrap's `run` loop (and the peer's `unseal --init`)
 * as long-running processes beside a real OpenBao that restarts, at rest, and starting up.
 */

export interface SidecarOptions {
  benchDirectory: string;
  runs: number;
  restarts: number;
  idleSeconds: number;
  /** The node binary and its flags for vault-bootstrap. */
  node: string;
  nodeFlags: string[];
  /** bank-vaults, when the peer column is asked for. */
  peerBinary: string | undefined;
  /** Which parts run (BENCH_ONLY): start → first request, the file-store loop, the other stores' RSS. */
  only: ReadonlySet<'start' | 'loop' | 'rss'>;
}

interface ContenderResults {
  /** Empty when start-up was not measured (BENCH_ONLY). */
  startToFirstRequestMs: number[];
  /** CPU time used by the first request, per start. */
  startCpuMs: number[];
  loop: SidecarFigures | undefined;
}

export interface SidecarResults {
  ours: ContenderResults & {
    awsPeakRssKiB: number | undefined;
    gcpPeakRssKiB: number | undefined;
    /** The file-store loop's peak without the flags, when there are flags (their effect). */
    withoutFlagsPeakRssKiB: number | undefined;
  };
  peer: ContenderResults | undefined;
}

type Store = { kind: 'file' } | { kind: 'aws'; env: Record<string, string> };

function ours(options: SidecarOptions, store: Store, nodeFlags = options.nodeFlags): SidecarContender {
  return {
    name: 'vault-bootstrap',
    command: (vaultAddress, workDirectory, listenPort): LongRunningCommand => ({
      command: options.node,
      args: [
        ...nodeFlags,
        CLI,
        'run',
        '--store',
        store.kind,
        ...(store.kind === 'file' ? ['--file-dir', join(workDirectory, 'store')] : []),
        '--vault-addr',
        vaultAddress,
        '--listen',
        `127.0.0.1:${listenPort}`,
      ],
      env: cleanEnv(store.kind === 'aws' ? store.env : {}),
    }),
    probes: {
      readyz: (listenPort) => `http://127.0.0.1:${listenPort}/readyz`,
      metrics: (listenPort) => `http://127.0.0.1:${listenPort}/metrics`,
    },
  };
}

/** `bank-vaults unseal --init --mode file`, its defaults otherwise: what a bank-vaults sidecar runs. */
function peer(binary: string): SidecarContender {
  return {
    name: 'bank-vaults',
    command: (vaultAddress, workDirectory): LongRunningCommand => ({
      command: binary,
      args: ['unseal', '--init', '--mode', 'file', '--file-path', workDirectory],
      env: cleanEnv({ VAULT_ADDR: vaultAddress }),
    }),
  };
}

export async function sidecarSection(
  options: SidecarOptions,
  progress: (line: string) => void,
): Promise<SidecarResults> {
  const { benchDirectory, runs, restarts, idleSeconds } = options;
  const plan = { restarts, idleSeconds };
  const contenders = [ours(options, { kind: 'file' }), ...(options.peerBinary ? [peer(options.peerBinary)] : [])];

  const startMs = new Map<string, number[]>(contenders.map((contender) => [contender.name, []]));
  const startCpuMs = new Map<string, number[]>(contenders.map((contender) => [contender.name, []]));
  for (let run = 1; run <= (options.only.has('start') ? runs : 0); run += 1) {
    for (const contender of contenders) {
      const directory = join(benchDirectory, `start-${contender.name}-${run}`);
      await mkdir(directory, { mode: 0o700 });
      const port = await freePort();
      const { wallMs, cpuMs } = await startToFirstRequest(
        (address) => contender.command(address, directory, port),
        directory,
      );
      startMs.get(contender.name)!.push(wallMs);
      startCpuMs.get(contender.name)!.push(cpuMs);
    }
  }
  if (options.only.has('start'))
    progress(
      `start → first request: ${[...startMs].map(([name, values]) => `${name} ${values.map(Math.round).join(', ')} ms (CPU ${startCpuMs.get(name)!.join(', ')} ms)`).join('; ')}`,
    );

  const loops = new Map<string, SidecarFigures>();
  for (const contender of options.only.has('loop') ? contenders : []) {
    const figures = await sidecarRun(contender, join(benchDirectory, `loop-${contender.name}`), plan);
    loops.set(contender.name, figures);
    progress(
      `${contender.name} loop: fresh → unsealed ${Math.round(figures.freshToUnsealedMs)} ms; restarts → unsealed ${figures.restarts.map((r) => Math.round(r.listeningToUnsealedMs)).join(', ')} ms; peak RSS ${(figures.peakRssKiB / 1024).toFixed(1)} MiB`,
    );
  }

  const results = (name: string): ContenderResults => ({
    startToFirstRequestMs: startMs.get(name)!,
    startCpuMs: startCpuMs.get(name)!,
    loop: loops.get(name),
  });
  const peerResults = options.peerBinary ? results('bank-vaults') : undefined;
  if (!options.only.has('rss'))
    return {
      ours: {
        ...results('vault-bootstrap'),
        awsPeakRssKiB: undefined,
        gcpPeakRssKiB: undefined,
        withoutFlagsPeakRssKiB: undefined,
      },
      peer: peerResults,
    };

  const short = { restarts: 2, idleSeconds: 0 };
  const moto = await startMoto();
  let awsPeakRssKiB: number;
  try {
    awsPeakRssKiB = (
      await sidecarRun(ours(options, { kind: 'aws', env: moto.env }), join(benchDirectory, 'loop-aws'), short)
    ).peakRssKiB;
  } finally {
    await moto.stop();
  }
  const gcpPeakRssKiB = await gcpStartupPeakRssKiB(options);
  const withoutFlagsPeakRssKiB =
    options.nodeFlags.length > 0
      ? (await sidecarRun(ours(options, { kind: 'file' }, []), join(benchDirectory, 'loop-no-flags'), short)).peakRssKiB
      : undefined;
  progress(
    `peak RSS: aws ${(awsPeakRssKiB / 1024).toFixed(1)} MiB, gcp ${(gcpPeakRssKiB / 1024).toFixed(1)} MiB${withoutFlagsPeakRssKiB ? `, file without flags ${(withoutFlagsPeakRssKiB / 1024).toFixed(1)} MiB` : ''}`,
  );

  return {
    ours: { ...results('vault-bootstrap'), awsPeakRssKiB, gcpPeakRssKiB, withoutFlagsPeakRssKiB },
    peer: peerResults,
  };
}

/**
 * No GCP Secret Manager emulator installs here (test/integration/GCP_EMULATOR.md), so the GCP
 * figure is the start-up only: the SDK loaded and its start-up probe sent to a closed loopback
 * port until --once --timeout ends the run (exit 4; the sidecar itself would wait for the store,
 * not ready). A floor for the GCP sidecar, not its steady state.
 */
async function gcpStartupPeakRssKiB(options: SidecarOptions): Promise<number> {
  const directory = join(options.benchDirectory, 'gcp');
  await mkdir(directory, { mode: 0o700 });
  const closedPort = await freePort();
  const finished = await runNodeMeasuringRss(
    [
      ...options.nodeFlags,
      CLI,
      'run',
      '--once',
      '--timeout',
      '5s',
      '--store',
      'gcp',
      '--gcp-project',
      'vb-bench',
      '--gcp-endpoint',
      `127.0.0.1:${closedPort}`,
      '--vault-addr',
      `http://127.0.0.1:${closedPort}`,
      '--listen',
      `127.0.0.1:${await freePort()}`,
    ],
    directory,
    // No metadata-server probe for credentials: the GCP client stays on loopback.
    { node: options.node, env: cleanEnv({ METADATA_SERVER_DETECTION: 'none' }) },
  );
  if (finished.code === 0 || Number.isNaN(finished.maxRssKiB))
    throw new Error(`gcp start-up: expected a start-up failure with a peak RSS, got code ${finished.code}`);
  return finished.maxRssKiB;
}
