import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../harness/child-server.js';
import { LongRunning, type LongRunningCommand } from './long-running.js';
import { cpuTimeMs, peakRssKiB, SETTLE_BEFORE_IDLE_MS } from './proc.js';
import { ThrowawayOpenBao } from './throwaway-openbao.js';
import { answers, Prober, SealWatch, until, whenListening } from './watchers.js';

/** A contender run as a long-lived process beside one OpenBao: vault-bootstrap's sidecar loop, or the peer. */
export interface SidecarContender {
  name: string;
  command(vaultAddress: string, workDirectory: string, listenPort: number): LongRunningCommand;
  /** Where it answers readiness and metrics (vault-bootstrap only). */
  probes?: { readyz(listenPort: number): string; metrics(listenPort: number): string };
}

interface RestartFigures {
  /** (e) the restarted server's port accepts connections → seal-status says unsealed. */
  listeningToUnsealedMs: number;
  /** (f) /readyz 200 answers received while the server was down or sealed, of `probes` answers in that window. */
  readyWhileNotUnsealed: number;
  probes: number;
}

export interface SidecarFigures {
  /** Spawn, beside a fresh server that already listens, → seal-status unsealed. */
  freshToUnsealedMs: number;
  /** Spawn → /readyz 200 (vault-bootstrap only). */
  freshToReadyMs: number | undefined;
  restarts: RestartFigures[];
  /** (g) CPU used while converged and left alone, % of one core. */
  idleCpuPercent: number | undefined;
  /** Peak RSS (VmHWM) over the whole run: fresh start, restarts, idle. */
  peakRssKiB: number;
}

export interface SidecarPlan {
  restarts: number;
  idleSeconds: number;
}

/**
 * One fresh OpenBao, one contender beside it: fresh → unsealed (→ ready), then idle CPU, then
 * `restarts` times the server stopped and started on its data (it comes back sealed, as a
 * restarted Vault container does) and the contender left to unseal it. The contender's peak RSS
 * is read last, then it gets SIGTERM.
 */
export async function sidecarRun(
  contender: SidecarContender,
  workDirectory: string,
  plan: SidecarPlan,
): Promise<SidecarFigures> {
  await mkdir(workDirectory, { recursive: true, mode: 0o700 });
  const openBao = await ThrowawayOpenBao.start({ seal: 'shamir' });
  const listenPort = await freePort();
  const sidecar = new LongRunning(contender.command(openBao.address, workDirectory, listenPort), workDirectory);
  const alive = () => sidecar.assertRunning(contender.name);
  try {
    const fresh = new SealWatch(openBao.address, alive);
    const freshToUnsealedMs = (await fresh.unsealedAt) - sidecar.spawnedAt;
    const converged = () => waitConverged(contender, openBao.address, listenPort, alive);
    const readyAt = await converged();
    const freshToReadyMs = contender.probes ? readyAt - sidecar.spawnedAt : undefined;
    if (contender.probes) await answers(contender.probes.metrics(listenPort), 200); // one scrape, as Prometheus would

    let idleCpuPercent: number | undefined;
    if (plan.idleSeconds > 0) {
      await sleep(SETTLE_BEFORE_IDLE_MS); // the last pass's work and start-up's heap compaction done
      const before = await cpuTimeMs(sidecar.pid);
      await sleep(plan.idleSeconds * 1000);
      idleCpuPercent = ((await cpuTimeMs(sidecar.pid)) - before) / (plan.idleSeconds * 10);
      alive();
    }

    const restarts: RestartFigures[] = [];
    for (let restart = 0; restart < plan.restarts; restart += 1) {
      restarts.push(await restartOnce(contender, openBao, listenPort, alive));
      await converged();
      await sleep(500); // a steady state before the next restart
    }

    const peak = await peakRssKiB(sidecar.pid);
    const exit = await sidecar.stop('SIGTERM');
    if (contender.probes && exit.code !== 0)
      throw new Error(
        `${contender.name} exited with ${exit.signal ?? `code ${exit.code}`} on SIGTERM:\n${sidecar.outputTail}`,
      );
    return { freshToUnsealedMs, freshToReadyMs, restarts, idleCpuPercent, peakRssKiB: peak };
  } finally {
    await sidecar.stop('SIGKILL');
    await openBao.dispose();
  }
}

async function restartOnce(
  contender: SidecarContender,
  openBao: ThrowawayOpenBao,
  listenPort: number,
  alive: () => void,
): Promise<RestartFigures> {
  await openBao.server.stop();
  const stoppedAt = performance.now();
  const prober = contender.probes ? new Prober(contender.probes.readyz(listenPort)) : undefined;
  const seal = new SealWatch(openBao.address, alive);
  const starting = openBao.restart();
  try {
    const listeningAt = await whenListening(openBao.server.port);
    const unsealedAt = await seal.unsealedAt;
    await starting;
    const window =
      (await prober?.stop())?.filter(
        (answer) => answer.sentAt >= stoppedAt && answer.receivedAt <= seal.lastNotUnsealedSentAt,
      ) ?? [];
    return {
      listeningToUnsealedMs: unsealedAt - listeningAt,
      readyWhileNotUnsealed: window.filter((answer) => answer.status === 200).length,
      probes: window.length,
    };
  } finally {
    seal.stop();
    await prober?.stop();
    await starting.catch(() => undefined);
  }
}

/** vault-bootstrap: /readyz 200. The peer, which has no readiness endpoint: the server's own health says active. */
function waitConverged(
  contender: SidecarContender,
  vaultAddress: string,
  listenPort: number,
  alive: () => void,
): Promise<number> {
  if (contender.probes) {
    const readyz = contender.probes.readyz(listenPort);
    return until(`${contender.name} /readyz 200`, () => answers(readyz, 200), alive);
  }
  return until(`${contender.name}: server active`, () => answers(`${vaultAddress}/v1/sys/health`, 200), alive);
}
