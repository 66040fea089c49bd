/**
 * `npm run bench`: how long vault-bootstrap takes against a real local OpenBao, and how much
 * memory, each beside a floor: the same Vault calls made by a bare `node` script with plain
 * fetch (scripts/lib/floor.mjs). sys/init on raft takes seconds and dominates a fresh start,
 * so the absolute time says little; the ratio to the floor says what the program adds.
 * Then the sidecar loop (`run` without --once) beside a server that restarts, and what it costs
 * at rest, with bank-vaults, the Go tool it replaces, as a column when BENCH_PEER=1
 * (scripts/install-peer.sh builds it). One markdown table at the end, ready for README.
 *
 *   BENCH_RUNS        samples of (a)–(d) and of start-up, medians reported (default 5)
 *   BENCH_RESTARTS    server restarts for (e)/(f), per contender (default 10)
 *   BENCH_IDLE_SECONDS  how long (g) watches a converged sidecar (default 60; one 10 ms
 *                     tick of /proc's CPU time is 0.017 % of 60 s), 20 s after it converged
 *   BENCH_QUIET_SECONDS how long the quiet rows count a converged sidecar's requests (default 120)
 *   BENCH_RECONCILE_SECONDS  its --reconcile-interval there, so the window holds reconciles (default 30)
 *   BENCH_NODE_FLAGS  node/V8 flags for vault-bootstrap (default: those of the Dockerfile's ENTRYPOINT)
 *   BENCH_NODE        the node binary for vault-bootstrap (default: the one running this script)
 *   BENCH_PEER=1      add the bank-vaults column
 *   BENCH_ONLY        some of the sections, comma-separated: floor ((a)–(d)), start (start → first
 *                     request), loop (the file-store sidecar loop: (e)–(g), its RSS), rss (the
 *                     other stores' RSS), quiet (the quiet rows); default all
 * Nothing here asserts on time.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runScript, temporaryDirectory } from './lib/cleanup.js';
import { readableLogLine } from './lib/log-lines.js';
import { CLI, ROOT, runNodeMeasuringRss } from './lib/processes.js';
import { perDay, PRICE_PER_10K, quietSection, type QuietResults } from './lib/quiet-section.js';
import { sidecarSection, type SidecarResults } from './lib/sidecar-section.js';
import { ThrowawayOpenBao } from './lib/throwaway-openbao.js';

const FLOOR = fileURLToPath(new URL('./lib/floor.mjs', import.meta.url));

/** One fresh server taken through the three scenarios by one contender. */
interface Sample {
  serverStartMs: number;
  freshMs: number;
  sealedRestartMs: number;
  noopMs: number;
  /** Peak RSS of the fresh run, the one that does the most. */
  maxRssKiB: number;
  /** How long sys/init alone took within the fresh run: from the CLI's log timestamps, or the floor's own report. */
  initMs: number;
}

type Scenario = 'fresh' | 'sealed' | 'noop';

/** How a contender runs one scenario against a server, as a child `node` process. */
type Contender = (scenario: Scenario, address: string, workDirectory: string) => string[];

const PEER_VERSION = 'v1.33.1';
const PEER_BINARY = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'vault-bootstrap',
  `bank-vaults-${PEER_VERSION}`,
  'bin',
  'bank-vaults',
);

const NODE = process.env.BENCH_NODE ?? process.execPath;
const NODE_FLAGS =
  process.env.BENCH_NODE_FLAGS === undefined
    ? await imageNodeFlags()
    : process.env.BENCH_NODE_FLAGS.split(/\s+/).filter(Boolean);

const vaultBootstrap: Contender = (_scenario, address, workDirectory) => [
  ...NODE_FLAGS,
  CLI,
  'run',
  '--once',
  '--store',
  'file',
  '--file-dir',
  join(workDirectory, 'store'),
  '--vault-addr',
  address,
  '--timeout',
  '2m',
];
const floor: Contender = (scenario, address, workDirectory) => [FLOOR, scenario, address, workDirectory];

type Section = 'floor' | 'start' | 'loop' | 'rss' | 'quiet';
const SECTIONS: readonly Section[] = ['floor', 'start', 'loop', 'rss', 'quiet'];

await runScript(async () => {
  const ONLY = parseSections(process.env.BENCH_ONLY);
  const RUNS = parseCount('BENCH_RUNS', process.env.BENCH_RUNS ?? '5', 1);
  const RESTARTS = parseCount('BENCH_RESTARTS', process.env.BENCH_RESTARTS ?? '10', 1);
  const IDLE_SECONDS = parseCount('BENCH_IDLE_SECONDS', process.env.BENCH_IDLE_SECONDS ?? '60', 0);
  const QUIET_SECONDS = parseCount('BENCH_QUIET_SECONDS', process.env.BENCH_QUIET_SECONDS ?? '120', 10);
  const RECONCILE_SECONDS = parseCount('BENCH_RECONCILE_SECONDS', process.env.BENCH_RECONCILE_SECONDS ?? '30', 1);
  const peerBinary = process.env.BENCH_PEER === '1' ? PEER_BINARY : undefined;
  if (peerBinary && !existsSync(peerBinary))
    throw new Error(`BENCH_PEER=1: ${peerBinary} is missing: run bash scripts/install-peer.sh`);
  const benchDirectory = await temporaryDirectory('vb-bench-');
  const nodeVersion = await versionOf(NODE, benchDirectory);
  console.log(
    `load average (1/5/15 min) at the start: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' / ')} on ${availableParallelism()} cores`,
  );
  console.log(
    `vault-bootstrap bench on node ${nodeVersion}, flags: ${NODE_FLAGS.join(' ') || '(none)'}${process.env.BENCH_NODE_FLAGS === undefined ? ' (from the Dockerfile ENTRYPOINT)' : ''}`,
  );
  console.log(
    `${RUNS} run(s) each of vault-bootstrap and the floor, alternating, each against its own fresh OpenBao (Shamir, raft, loopback)\n`,
  );
  const ours: Sample[] = [];
  const floors: Sample[] = [];
  for (let run = 1; run <= (ONLY.has('floor') ? RUNS : 0); run += 1) {
    ours.push(await sample(vaultBootstrap, join(benchDirectory, `ours-${run}`)));
    floors.push(await sample(floor, join(benchDirectory, `floor-${run}`)));
    console.log(
      `  run ${run}/${RUNS}  ours: ${describeSample(ours.at(-1)!)}\n           floor: ${describeSample(floors.at(-1)!)}`,
    );
  }
  console.log(
    `\nThe sidecar loop: ${RESTARTS} server restarts each, ${IDLE_SECONDS} s at rest${peerBinary ? `, beside bank-vaults ${PEER_VERSION}` : ''}`,
  );
  const sidecar = await sidecarSection(
    {
      benchDirectory,
      runs: RUNS,
      restarts: RESTARTS,
      idleSeconds: IDLE_SECONDS,
      node: NODE,
      nodeFlags: NODE_FLAGS,
      peerBinary,
      only: ONLY as ReadonlySet<'start' | 'loop' | 'rss'>,
    },
    (line) => console.log(`  ${line}`),
  );
  let quiet: QuietResults | undefined;
  if (ONLY.has('quiet')) {
    console.log(
      `\nQuiet when converged: ${QUIET_SECONDS} s, requests counted by recording proxies in front of moto and OpenBao`,
    );
    quiet = await quietSection(
      {
        benchDirectory,
        windowSeconds: QUIET_SECONDS,
        reconcileSeconds: RECONCILE_SECONDS,
        node: NODE,
        nodeFlags: NODE_FLAGS,
        peerBinary,
      },
      (line) => console.log(`  ${line}`),
    );
  }
  console.log(
    `\nload average (1/5/15 min) at the end: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' / ')} on ${availableParallelism()} cores`,
  );
  printTable(ours, floors, sidecar, quiet);
  printMethod(ours, floors, sidecar, quiet, await emptyNodeMaxRssKiB(benchDirectory));
});

function parseSections(text: string | undefined): ReadonlySet<Section> {
  if (text === undefined || text.trim() === '') return new Set(SECTIONS);
  const named = text.split(',').map((word) => word.trim());
  const unknown = named.filter((word) => !(SECTIONS as readonly string[]).includes(word));
  if (unknown.length > 0)
    throw new Error(
      `BENCH_ONLY: expected a comma-separated list of ${SECTIONS.join(', ')}, got ${JSON.stringify(text)}`,
    );
  return new Set(named as Section[]);
}

/** The node flags the image runs with: what sits between the node binary and cli.js in the Dockerfile's ENTRYPOINT. */
async function imageNodeFlags(): Promise<string[]> {
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile);
  if (entrypoint === null)
    throw new Error('Dockerfile: no exec-form ENTRYPOINT to take the node flags from; set BENCH_NODE_FLAGS');
  const words = JSON.parse(entrypoint[1]!) as string[];
  const cli = words.findIndex((word) => word.endsWith('/cli.js'));
  return words.slice(1, cli);
}

async function versionOf(node: string, workDirectory: string): Promise<string> {
  let version = '';
  await runNodeMeasuringRss(['-p', 'process.version'], workDirectory, { node, onLine: (line) => (version ||= line) });
  return version;
}

/**
 * (a) fresh server → ready, then restart → (b) sealed → ready, then (d) a no-op run. Each time
 * is spawn → exit 0 of the contender's process, spawned the moment OpenBao answers HTTP.
 */
async function sample(contender: Contender, workDirectory: string): Promise<Sample> {
  await mkdir(workDirectory, { mode: 0o700 });
  const serverStarted = performance.now();
  const openBao = await ThrowawayOpenBao.start({ seal: 'shamir' });
  const serverStartMs = performance.now() - serverStarted;
  try {
    const fresh = await runScenario(contender, 'fresh', openBao, workDirectory);
    await openBao.restart();
    const sealed = await runScenario(contender, 'sealed', openBao, workDirectory);
    const noop = await runScenario(contender, 'noop', openBao, workDirectory);
    return {
      serverStartMs,
      freshMs: fresh.elapsedMs,
      sealedRestartMs: sealed.elapsedMs,
      noopMs: noop.elapsedMs,
      maxRssKiB: fresh.maxRssKiB,
      initMs: contender === floor ? floorInitMs(fresh.lines) : ourInitMs(fresh.lines),
    };
  } finally {
    // Now, not at the end: N servers at once would compete for the same disk and CPU.
    await openBao.dispose();
  }
}

async function runScenario(contender: Contender, scenario: Scenario, openBao: ThrowawayOpenBao, workDirectory: string) {
  const lines: string[] = [];
  const finished = await runNodeMeasuringRss(contender(scenario, openBao.address, workDirectory), workDirectory, {
    node: NODE,
    onLine: (line) => lines.push(line),
  });
  if (finished.code !== 0) {
    const output = lines.map((line) => `    ${readableLogLine(line)}`).join('\n');
    throw new Error(
      `${scenario}: ${contender === floor ? 'the floor' : 'vault-bootstrap'} exited with ${finished.signal ?? `code ${finished.code}`}:\n${output}`,
    );
  }
  return { ...finished, lines };
}

/** The floor prints one JSON line of step timings (no values). */
function floorInitMs(lines: string[]): number {
  const report = lines.find((line) => line.startsWith('{"stepTimings"'));
  return report === undefined
    ? Number.NaN
    : Number((JSON.parse(report) as { stepTimings: { init?: number } }).stepTimings.init);
}

/** From entering `initializing` to entering `storing` (the init answer), by the log lines' timestamps. */
function ourInitMs(lines: string[]): number {
  const enteredAt = (state: string): number => {
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { event?: unknown; to?: unknown; time?: unknown };
      if (entry.event === 'state' && entry.to === state) return Date.parse(String(entry.time));
    }
    return Number.NaN;
  };
  return enteredAt('storing') - enteredAt('initializing');
}

/** For scale: what node itself costs before any code runs. */
async function emptyNodeMaxRssKiB(workDirectory: string): Promise<number> {
  return (await runNodeMeasuringRss(['-e', ''], workDirectory, { node: NODE })).maxRssKiB;
}

type Row = [
  metric: string,
  ours: string,
  floor: string,
  floorRatio: string,
  peer: string,
  peerRatio: string,
  samples: string,
];

/** One markdown table, (a)–(g) and the rest, ready to paste into README. */
function printTable(ours: Sample[], floors: Sample[], sidecar: SidecarResults, quiet: QuietResults | undefined): void {
  const floorRows: Array<[string, (sample: Sample) => number, (value: number) => string]> = [
    ['(a) fresh server listening → ready (`run --once`)', (s) => s.freshMs, seconds],
    // sys/init varies by seconds from run to run; without it, what the program itself adds shows.
    ['    the same, less sys/init', (s) => s.freshMs - s.initMs, seconds],
    ['(b) sealed restart → unsealed, ready (`run --once`)', (s) => s.sealedRestartMs, seconds],
    ['(c) peak RSS of the process, fresh run (`run --once`)', (s) => s.maxRssKiB, mebibytes],
    ['(d) no-op run (configured, unsealed)', (s) => s.noopMs, seconds],
  ];
  const rows: Row[] = (ours.length === 0 ? [] : floorRows).map(([metric, value, format]) => {
    const ourMedian = median(ours.map(value));
    const floorMedian = median(floors.map(value));
    return [metric, format(ourMedian), format(floorMedian), ratio(ourMedian, floorMedian), '', '', String(ours.length)];
  });

  const { ours: our, peer } = sidecar;
  const versus = (
    metric: string,
    ourValue: number,
    peerValue: number | undefined,
    format: (value: number) => string,
    samples: string,
  ): Row => [
    metric,
    format(ourValue),
    '',
    '',
    peerValue === undefined ? '' : format(peerValue),
    peerValue === undefined ? '' : ratio(ourValue, peerValue),
    samples,
  ];
  if (our.loop) {
    const ourLoop = our.loop;
    const restarts = (figures: NonNullable<typeof our.loop>) =>
      figures.restarts.map((restart) => restart.listeningToUnsealedMs);
    const ourSeen = ourLoop.restarts.reduce((sum, restart) => sum + restart.readyWhileNotUnsealed, 0);
    const ourProbes = ourLoop.restarts.reduce((sum, restart) => sum + restart.probes, 0);
    rows.push(
      versus(
        '(e) sidecar loop: server listening again → unsealed, p50',
        percentile(restarts(ourLoop), 50),
        peer?.loop && percentile(restarts(peer.loop), 50),
        seconds,
        String(ourLoop.restarts.length),
      ),
      versus(
        '    the same, p95',
        percentile(restarts(ourLoop), 95),
        peer?.loop && percentile(restarts(peer.loop), 95),
        seconds,
        String(ourLoop.restarts.length),
      ),
      [
        '(f) `/readyz` 200 answers while the server was down or sealed',
        `${ourSeen} of ${ourProbes}`,
        '',
        '',
        peer ? 'no /readyz' : '',
        '',
        String(ourLoop.restarts.length),
      ],
      versus(
        `(g) idle CPU, converged sidecar, ${process.env.BENCH_IDLE_SECONDS ?? '60'} s`,
        ourLoop.idleCpuPercent ?? Number.NaN,
        peer?.loop?.idleCpuPercent,
        percent,
        '1',
      ),
      versus('peak RSS, sidecar loop, file store', ourLoop.peakRssKiB, peer?.loop?.peakRssKiB, mebibytes, '1'),
    );
  }
  if (our.awsPeakRssKiB !== undefined && our.gcpPeakRssKiB !== undefined) {
    rows.push(
      ...(our.withoutFlagsPeakRssKiB === undefined
        ? []
        : [
            versus(
              "    the same, node without the image's flags",
              our.withoutFlagsPeakRssKiB,
              undefined,
              mebibytes,
              '1',
            ),
          ]),
      versus('peak RSS, sidecar loop, aws store (moto)', our.awsPeakRssKiB, undefined, mebibytes, '1'),
      versus('peak RSS, gcp store, start-up only (no emulator)', our.gcpPeakRssKiB, undefined, mebibytes, '1'),
    );
  }
  if (our.startToFirstRequestMs.length > 0) {
    rows.push(
      versus(
        'process start → first request to Vault',
        median(our.startToFirstRequestMs),
        peer && median(peer.startToFirstRequestMs),
        seconds,
        String(our.startToFirstRequestMs.length),
      ),
      versus(
        '    CPU time used by then',
        median(our.startCpuMs),
        peer && median(peer.startCpuMs),
        seconds,
        String(our.startCpuMs.length),
      ),
    );
  }
  if (our.loop) {
    rows.push(
      versus(
        'fresh server listening → unsealed, sidecar loop',
        our.loop.freshToUnsealedMs,
        peer?.loop?.freshToUnsealedMs,
        seconds,
        '1',
      ),
      versus(
        'fresh server listening → `/readyz` 200, sidecar loop',
        our.loop.freshToReadyMs ?? Number.NaN,
        undefined,
        seconds,
        '1',
      ),
    );
  }
  if (quiet) rows.push(...quietRows(quiet, versus));

  const header: Row = [
    'metric',
    'vault-bootstrap',
    'floor',
    'ratio',
    peer ? `bank-vaults ${PEER_VERSION}` : 'peer (BENCH_PEER=1)',
    'ratio',
    'N',
  ];
  console.log('');
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map((_, column) => (column === 0 ? '---|' : '---:|')).join('')}`);
  for (const row of rows) console.log(`| ${row.map((cell) => cell || '').join(' | ')} |`);
}

/** The quiet rows: what a converged sidecar sends, per pod-day or pod-hour at the default --reconcile-interval, and what the store calls cost. */
function quietRows(
  quiet: QuietResults,
  versus: (
    metric: string,
    ourValue: number,
    peerValue: number | undefined,
    format: (value: number) => string,
    samples: string,
  ) => Row,
): Row[] {
  const ours = perDay(quiet.ours, true);
  const peer = quiet.peer === undefined ? undefined : perDay(quiet.peer, false);
  const window = `${quiet.ours.windowSeconds} s`;
  const storeRow = (metric: string, value: (perDay: number) => number, format: (value: number) => string): Row => {
    const row = versus(metric, value(ours.storeCallsPerDay ?? Number.NaN), undefined, format, window);
    if (quiet.peer) row[4] = 'not counted (file mode)';
    return row;
  };
  return [
    storeRow('store calls per pod-day, converged (AWS store, default --reconcile-interval)', (calls) => calls, count),
    versus(
      'audited (token-bearing) Vault requests per pod-hour, converged',
      ours.tokenRequestsPerHour,
      peer?.tokenRequestsPerHour,
      count,
      window,
    ),
    versus(
      '    all Vault requests per pod-hour (health and seal status included)',
      ours.requestsPerHour,
      peer?.requestsPerHour,
      count,
      window,
    ),
    versus(`Vault writes while converged, ${window}`, quiet.ours.vaultWrites, quiet.peer?.vaultWrites, count, window),
    versus(
      `idle CPU, converged, ${window} (reconcile every ${quiet.ours.reconcileSeconds} s)`,
      quiet.ours.cpuPercent,
      quiet.peer?.cpuPercent,
      percent,
      '1',
    ),
    storeRow(
      'store calls per pod-month at AWS list price ($0.05 / 10 000)',
      (calls) => (calls * 30 * PRICE_PER_10K.aws) / 10_000,
      dollars,
    ),
    storeRow(
      '    at GCP list price ($0.03 / 10 000 accesses)',
      (calls) => (calls * 30 * PRICE_PER_10K.gcp) / 10_000,
      dollars,
    ),
  ];
}

function printMethod(
  ours: Sample[],
  floors: Sample[],
  sidecar: SidecarResults,
  quiet: QuietResults | undefined,
  emptyNodeKiB: number,
): void {
  if (ours.length === 0 || quiet === undefined) {
    console.log(
      `\nBENCH_ONLY: the method notes print with a full run. For scale: an empty \`node -e ''\` peaks at ${mebibytes(emptyNodeKiB)}.`,
    );
    return;
  }
  const serverStartMs = median([...ours, ...floors].map((s) => s.serverStartMs));
  console.log(`
What is measured
  Times: wall clock from spawning the process (node dist/cli.js run --once, or node scripts/lib/floor.mjs) to its exit 0.
    It is spawned as soon as OpenBao answers HTTP, so OpenBao's own start-up is not counted (median ${seconds(serverStartMs)}).
    (a) includes sys/init, which alone took a median ${seconds(median(ours.map((s) => s.initMs)))} in our runs (log timestamps),
        ${seconds(median(floors.map((s) => s.initMs)))} in the floor's.
  Peak RSS: the process's own getrusage high-water mark (maxRSS), written at exit by a hook preloaded with
    node --import (scripts/lib/report-max-rss.mjs) into both contenders alike. For scale: an empty \`node -e ''\` peaks at ${mebibytes(emptyNodeKiB)}.
  The floor, a bare node script with plain fetch, the same calls and nothing else:
    (a) health, init (5/3), keys + root token to a 0600 file, unseal ×3, wait for active*, 2 policies, token role, create token
    (b) health, unseal ×3 (keys from its file)
    (c) the peak RSS of the floor's (a) process
    (d) health, read 2 policies, read the token role, lookup-self with the provisioner token
  * A single raft node answers "standby" for a moment after unsealing and writes need the active node; the floor
    polls health every 20 ms until active. vault-bootstrap must get there too before it issues the token.
  vault-bootstrap also does what the floor skips: claim, read-back of stored keys, diffs before writing, token lookups.
  The sidecar loop: \`node dist/cli.js run --store file --listen …\` (default settings otherwise)${sidecar.peer ? ' and `bank-vaults unseal --init --mode file --file-path DIR` (VAULT_ADDR)' : ''},
    each beside its own fresh OpenBao, from spawn to converged (/readyz 200; for bank-vaults, the server active), one /metrics scrape.
    (e) the server is stopped (SIGTERM) and started on its data, so it comes back sealed; from its port accepting TCP again
        (polled every 5 ms) to sys/seal-status saying unsealed (plain fetch every 10 ms). p50/p95 over the restarts.
    (f) /readyz polled every 20 ms from the stop on; a 200 counts when it arrived before a seal-status poll that still
        found the server down or sealed.
    (g) user+system CPU time of the process (/proc/PID/stat) over the idle window, 2 s after converging, no probes.
    Peak RSS: VmHWM from /proc/PID/status just before SIGTERM: the high-water mark over fresh start, idle and restarts.
      aws: the same loop against moto (2 restarts). gcp: no Secret Manager emulator installs here, so only the start-up:
      the SDK loaded and its start-up probe refused by a closed loopback port until --once --timeout 5s ends the run (exit 4).
    Process start → first request: a stand-in HTTP server on loopback notes the first request of any kind (${sidecar.ours.startToFirstRequestMs.length} spawns each).
  Quiet rows: a converged sidecar left alone ${quiet.ours.windowSeconds} s (from 20 s after /readyz 200), recording proxies in front of moto and OpenBao.
    vault-bootstrap: --store aws, defaults except --reconcile-interval ${quiet.ours.reconcileSeconds}s; in the window ${quiet.ours.storeCalls} store calls,
      ${quiet.ours.vaultRequests} Vault requests (${quiet.ours.tokenRequests} with a token), ${quiet.ours.reconciles} full reconciles. Per day at the default 10m:
      one measured reconcile's calls × 144, plus the cheap passes as measured (no store call, no token).
    bank-vaults: unseal --init --mode file (its defaults); its Vault requests as measured in the window, scaled; its store is files, not counted.`);
}

function describeSample(sample: Sample): string {
  return `(a) ${seconds(sample.freshMs)} [init ${seconds(sample.initMs)}]  (b) ${seconds(sample.sealedRestartMs)}  (c) ${mebibytes(sample.maxRssKiB)}  (d) ${seconds(sample.noopMs)}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function seconds(milliseconds: number): string {
  return milliseconds < 1000 ? `${Math.round(milliseconds)} ms` : `${(milliseconds / 1000).toFixed(2)} s`;
}

function mebibytes(kibibytes: number): string {
  return `${(kibibytes / 1024).toFixed(1)} MiB`;
}

function percentile(values: number[], rank: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((rank / 100) * sorted.length) - 1)]!;
}

function ratio(value: number, reference: number): string {
  return Number.isFinite(value) && Number.isFinite(reference) && reference > 0
    ? `${(value / reference).toFixed(2)}×`
    : '';
}

function count(value: number): string {
  return Number.isNaN(value) ? '' : Math.round(value).toLocaleString('en-US');
}

function dollars(value: number): string {
  return Number.isNaN(value) ? '' : `$${value < 1 ? value.toFixed(3) : value.toFixed(2)}`;
}

function percent(value: number): string {
  return Number.isNaN(value) ? '' : `${value.toFixed(value < 0.1 ? 3 : 2)} %`;
}

function parseCount(name: string, text: string, minimum: number): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < minimum)
    throw new Error(`${name}: expected a whole number ≥ ${minimum}, got ${JSON.stringify(text)}`);
  return count;
}
