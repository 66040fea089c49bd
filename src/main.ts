import { HelpRequested, loadConfig, type Config } from './config/index.js';
import { CALL_DEADLINE_MS, Deadlines } from './deadlines.js';
import { formatDuration } from './duration.js';
import { ConfigError, describeError } from './errors.js';
import { podIdentity } from './kube/detect.js';
import { createLogger, type Logger } from './log.js';
import { classifyHealth, isUnsealed } from './machine/health.js';
import { Runner } from './machine/runner.js';
import { EXIT_CODES, exitCodeOf } from './states.js';
import { Metrics } from './metrics.js';
import { startServer, type Probe } from './server.js';
import { SecretsInFlight, type StepContext } from './steps/context.js';
import { Spool } from './steps/spool.js';
import { CountingStore } from './store/counting.js';
import { createStore } from './store/index.js';
import { PrefixedStore } from './store/names.js';
import { Records } from './store/records.js';
import { secretNames, type SecretStore } from './store/types.js';
import { LoginSession } from './steps/login.js';
import { VaultApi } from './vault/api.js';
import { VaultClient } from './vault/client.js';
import { WaitForStore } from './wait-for-store.js';
import pino from 'pino';

/**
 * The logger; on Kubernetes (a pod with its service-account token mounted) also the recorder
 * that turns some of its records into Events on the pod. src/kube/events.ts is loaded only then.
 */
async function createLogging(
  level: string,
  destination: pino.DestinationStream,
): Promise<{ log: Logger; events?: { recorder: { flush(timeoutMs: number): Promise<void> } } }> {
  const pod = podIdentity();
  if (pod === undefined) return { log: createLogger(level, destination) };
  let onRecord: ((fields: Readonly<Record<string, unknown>>) => void) | undefined;
  const log = createLogger(level, destination, (fields) => onRecord?.(fields));
  const { startEvents } = await import('./kube/events.js');
  const events = startEvents(pod, (message) =>
    log.debug({ event: 'kube-event-failed', error: { message } }, 'a Kubernetes Event was not posted'),
  );
  onRecord = events.onRecord;
  return { log, events };
}

function flushEvents(events: { recorder: { flush(timeoutMs: number): Promise<void> } } | undefined): Promise<void> {
  return events === undefined ? Promise.resolve() : events.recorder.flush(2_000);
}

/** Stopped with work unfinished (a second signal, secrets left unstored, a command interrupted). */
const EXIT_FAILURE = EXIT_CODES['needs-person'];

/**
 * argv → command → exit code (SPEC §2). Errors map to codes in one place (exitCodeOf); nothing here prints a secret.
 * `run` is what a sidecar and a Job run, so its modules load with this one; every other command
 * imports its own module when chosen (bundled as a chunk of its own).
 */
export async function main(argv: readonly string[]): Promise<number> {
  // --once's --timeout counts from here: the start-up probe of the store is part of the run.
  const startedAt = Date.now();
  let config: Config;
  try {
    config = loadConfig(argv);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${error.message}\n`);
      return 0;
    }
    return reportStartupError(error);
  }
  // Reports go to stdout; the logs of every command but run go to stderr.
  const { log, events } = await createLogging(
    config.logLevel,
    pino.destination({ fd: config.command === 'run' ? 1 : 2, sync: true }),
  );
  // Node prints process warnings (the AWS SDK's Node-version notice among them) as
  // multi-line stderr text; keep them one JSON log line each instead.
  process.removeAllListeners('warning');
  process.on('warning', (warning) =>
    log.warn({ event: 'node-warning', warning: warning.name }, warning.message.split('\n')[0]),
  );
  if (config.tls.skipVerify) {
    log.warn(
      { event: 'tls-verification-off' },
      'VAULT_SKIP_VERIFY is set: the Vault server certificate is NOT verified; anyone on the network path can read the unseal keys',
    );
  }
  if (config.insecureHttp) {
    log.warn(
      { event: 'insecure-http', vaultAddr: config.vaultAddress.origin },
      '--allow-insecure-http: the Vault address is plain http to another host: tokens and unseal keys cross the network in clear',
    );
  }
  const controller = new AbortController();
  const secretsInFlight = new SecretsInFlight();
  const deadlines = new Deadlines({ signal: controller.signal, secretsInFlight: () => secretsInFlight.active, log });
  if (config.once) deadlines.endRunAt(startedAt + config.timeoutMs, config.shutdownTimeoutMs);
  let store: SecretStore;
  try {
    store = await createStore(config.store, deadlines);
    // run probes the store once its /healthz and /readyz answer (WaitForStore); the others now.
    if (config.command !== 'run') await store.verifyAccess(secretNames(config.storePrefix).initClaim);
  } catch (error) {
    return reportStartupError(error);
  }
  // What the sidecar costs (SPEC §9): every store operation and every Vault request, counted where it is made.
  const metrics = new Metrics();
  const vaultClient = new VaultClient(config.vaultAddress, config.tls, deadlines);
  vaultClient.onRequest((withToken) => metrics.vaultRequest(withToken));
  const context: StepContext = {
    config,
    vault: new VaultApi(vaultClient),
    records: new Records(
      new PrefixedStore(new CountingStore(store, (operation) => metrics.storeCall(operation)), config.storePrefix),
      config.storePrefix,
    ),
    spool: config.spoolDirectory === undefined ? undefined : new Spool(config.spoolDirectory),
    log,
    metrics,
    signal: controller.signal,
    secretsInFlight,
    deadlines,
    login: config.selfInit === undefined ? undefined : new LoginSession(),
  };
  try {
    switch (config.command) {
      case 'run':
        return await runCommand(context, controller);
      case 'status': {
        const { formatStatus, problemsOf, status } = await import('./commands/status.js');
        const report = await status(context);
        process.stdout.write(
          `${config.json ? JSON.stringify({ ...report, problems: problemsOf(report) }, null, 2) : formatStatus(report)}\n`,
        );
        return 0;
      }
      case 'plan': {
        const { formatPlan, plan } = await import('./commands/plan.js');
        const report = await plan(context);
        process.stdout.write(`${config.json ? JSON.stringify(report, null, 2) : formatPlan(report)}\n`);
        return 0;
      }
      case 'rotate-keys':
      case 'generate-root':
      case 'migrate-seal': {
        installSignalHandlers(log, controller, context.secretsInFlight, config, deadlines);
        stopAtSafePoint(context);
        if (config.command !== 'generate-root' && config.snapshots !== undefined)
          await (await import('./commands/snapshot.js')).snapshotFirst(context);
        const result =
          config.command === 'rotate-keys'
            ? await (await import('./commands/rotate-keys.js')).rotateKeys(context)
            : config.command === 'generate-root'
              ? await (await import('./commands/generate-root.js')).generateRoot(context)
              : await (await import('./steps/seal-migration.js')).migrateSeal(context);
        log.info({ event: 'command-done', command: config.command, ...result }, `${config.command} done`);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      case 'seal-key':
      case 'rotate-seal-key': {
        const { rotateSealKey, sealKey } = await import('./commands/seal-key.js');
        const result = config.command === 'seal-key' ? await sealKey(context) : await rotateSealKey(context);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      case 'seal':
      case 'resume': {
        const by = process.env.USER || config.holder;
        const { formatSealReport, resumeCluster, sealCluster } = await import('./commands/seal.js');
        const report = config.command === 'seal' ? await sealCluster(context, by) : await resumeCluster(context, by);
        process.stdout.write(`${config.json ? JSON.stringify(report, null, 2) : formatSealReport(report)}\n`);
        return 0;
      }
      case 'snapshot':
      case 'restore':
      case 'restore-drill': {
        installSignalHandlers(log, controller, context.secretsInFlight, config, deadlines);
        stopAtSafePoint(context);
        const { restore, restoreDrill, snapshot } = await import('./commands/snapshot.js');
        const result =
          config.command === 'snapshot'
            ? await snapshot(context)
            : config.command === 'restore'
              ? await restore(context)
              : await restoreDrill(context);
        log.info({ event: 'command-done', command: config.command, ...result }, `${config.command} done`);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return 0;
      }
      case 'cancel-stale': {
        const { cancelStaleOperations, formatStale } = await import('./commands/stale.js');
        const report = await cancelStaleOperations(context);
        process.stdout.write(`${config.json ? JSON.stringify(report, null, 2) : formatStale(report)}\n`);
        return 0;
      }
    }
  } catch (error) {
    // Bad input found after start-up (a --listen port in use, PGP keys for a Shamir seal): the same one line as at start-up.
    if (error instanceof ConfigError) return reportStartupError(error);
    const described = describeError(error);
    log.error({ event: 'failed', error: described }, described.message);
    return exitCodeOf(error);
  } finally {
    await store.close().catch(() => undefined);
    // The last Events (a command's result, the sidecar's shutdown) get a moment, never more.
    await flushEvents(events);
  }
}

async function runCommand(context: StepContext, controller: AbortController): Promise<number> {
  const { config, log, metrics, secretsInFlight, deadlines } = context;
  const runner = new Runner(context);
  const waitForStore = new WaitForStore(context);
  let loopStarted = false;
  installSignalHandlers(log, controller, secretsInFlight, config, deadlines);
  if (config.once)
    exitIfSecretsStayUnstored(
      log,
      secretsInFlight,
      config,
      deadlines.runEnd + config.shutdownTimeoutMs - Date.now(),
      '--timeout (and then --shutdown-timeout)',
    );
  if (config.listen !== undefined) {
    const stuckAfterMs = Math.max(60_000, config.intervalMs * 6);
    // Served before the store is probed: a sidecar waiting on a dependency says so instead of looking dead.
    const probe: Probe = {
      get state() {
        return loopStarted ? runner.state : waitForStore.state;
      },
      get serving() {
        return loopStarted && runner.serving;
      },
      get reason() {
        return loopStarted ? runner.reason : waitForStore.reason;
      },
      get lastBeat() {
        return loopStarted ? runner.lastBeat : waitForStore.lastBeat;
      },
      wake: () => runner.wake(),
    };
    const { port } = await startServer(config.listen, probe, () => serverProblem(context), metrics, stuckAfterMs);
    log.info({ event: 'listening', host: config.listen.host, port }, 'serving /healthz, /readyz and /metrics');
  }
  log.info(
    {
      event: 'starting',
      vault: config.vaultAddress.origin,
      store: config.store.kind,
      prefix: config.storePrefix,
      once: config.once,
      holder: config.holder,
    },
    'starting',
  );
  let reached: Awaited<ReturnType<WaitForStore['wait']>>;
  try {
    reached = await waitForStore.wait();
  } catch (error) {
    return reportStartupError(error);
  }
  if (reached === 'answered' && config.restore) {
    // run --restore (the DR layout): an empty server is brought back from the newest snapshot before the loop converges it.
    try {
      await (await import('./commands/snapshot.js')).restoreIfEmpty(context);
    } catch (error) {
      const described = describeError(error);
      log.error({ event: 'failed', error: described }, described.message);
      return exitCodeOf(error);
    }
  }
  loopStarted = true;
  const outcome = reached === 'answered' ? await runner.run() : reached;
  log.info(
    { event: 'finished', outcome, state: runner.state },
    outcome === 'stopped' ? 'stopped cleanly' : `finished: ${outcome}`,
  );
  // --once ended without reaching ready: the one line a person reads, as for bad input at start-up.
  if (outcome !== 'ready' && outcome !== 'stopped' && reached === 'answered')
    process.stderr.write(`vault-bootstrap: ${outcome}: ${runner.reason}\n`);
  context.vault.close();
  return EXIT_CODES[outcome];
}

/** For /readyz: undefined while the server serves requests, else what it is instead. */
async function serverProblem(context: StepContext): Promise<string | undefined> {
  const kind = classifyHealth((await context.vault.health({ timeoutMs: CALL_DEADLINE_MS.vaultProbe })).status);
  return isUnsealed(kind) ? undefined : kind;
}

/**
 * First SIGTERM/SIGINT: stop starting steps (the shutdown signal ends every wait), let a
 * step holding unstored secrets finish, bounded by --shutdown-timeout. Second: exit now.
 */
function installSignalHandlers(
  log: Logger,
  controller: AbortController,
  secretsInFlight: SecretsInFlight,
  config: Config,
  deadlines: Deadlines,
): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received > 1) {
      log.warn(
        { event: 'second-signal', signal, secretsInFlight: secretsInFlight.active },
        'second signal: exiting now',
      );
      process.exit(secretsInFlight.active ? EXIT_FAILURE : 0);
    }
    log.info(
      { event: 'shutting-down', signal, secretsInFlight: secretsInFlight.active },
      secretsInFlight.active ? 'shutting down once the secrets in flight are stored' : 'shutting down',
    );
    deadlines.endRunAt(Date.now(), config.shutdownTimeoutMs);
    controller.abort();
    exitIfSecretsStayUnstored(log, secretsInFlight, config, config.shutdownTimeoutMs, '--shutdown-timeout');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * The end of the shutdown budget (after a signal, or after --timeout with --once): secrets
 * still not stored then are left to the spool, and the process exits 1 saying so.
 */
function exitIfSecretsStayUnstored(
  log: Logger,
  secretsInFlight: SecretsInFlight,
  config: Config,
  afterMs: number,
  reached: string,
): void {
  setTimeout(() => {
    if (!secretsInFlight.active) return;
    const where = config.spoolDirectory
      ? `they wait in the spool ${config.spoolDirectory} for the next start`
      : 'they are LOST unless the store caught up';
    log.error(
      { event: 'secrets-unstored-at-exit', timeout: formatDuration(config.shutdownTimeoutMs) },
      `${reached} reached with secrets not yet stored: ${where}`,
    );
    process.exit(EXIT_FAILURE);
  }, afterMs).unref();
}

/**
 * rotate-keys and generate-root on a signal: stop as soon as no secret is held only in memory
 * (each is safe to stop at any other instant, and resumes when run again); exit 1, not done.
 */
function stopAtSafePoint(context: StepContext): void {
  context.signal.addEventListener(
    'abort',
    () => {
      void context.secretsInFlight.settled().then(() => {
        context.log.warn(
          { event: 'command-interrupted', command: context.config.command },
          'stopped by a signal before finishing; run the command again to resume',
        );
        process.exit(EXIT_FAILURE);
      });
    },
    { once: true },
  );
}

/**
 * Before the logger exists (or for bad input found later): one line on stderr naming what is
 * wrong, and an internal error's stack frames after it; the exit code from exitCodeOf.
 */
function reportStartupError(error: unknown): number {
  const { message, stack } = describeError(error);
  process.stderr.write(`vault-bootstrap: ${message}\n${stack === undefined ? '' : `${stack}\n`}`);
  return exitCodeOf(error);
}

/** The process's end: main's exit code, or the line (and code) for what escaped it. */
export function exitWith(outcome: Promise<number>): void {
  outcome.then(
    (code) => process.exit(code),
    (error: unknown) => process.exit(reportStartupError(error)),
  );
}
