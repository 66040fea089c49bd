/**
 * `npm run bench`: how long vault-bootstrap takes against a real local OpenBao, and how much
 * memory, each beside a floor: the same Vault calls made by a bare `node` script with plain
 * fetch (scripts/lib/floor.mjs). sys/init on raft takes seconds and dominates a fresh start,
 * so the absolute time says little; the ratio to the floor says what the program adds.
 * BENCH_RUNS (default 5) samples, medians reported. Nothing here asserts on time.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runScript, temporaryDirectory } from './lib/cleanup.js';
import { readableLogLine } from './lib/log-lines.js';
import { CLI, runNodeMeasuringRss } from './lib/processes.js';
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

const vaultBootstrap: Contender = (_scenario, address, workDirectory) => [
  CLI, 'run', '--once', '--store', 'file', '--file-dir', join(workDirectory, 'store'), '--vault-addr', address, '--timeout', '2m',
];
const floor: Contender = (scenario, address, workDirectory) => [FLOOR, scenario, address, workDirectory];

await runScript(async () => {
  const RUNS = parseRuns(process.env.BENCH_RUNS ?? '5');
  const benchDirectory = await temporaryDirectory('vb-bench-');
  console.log(`vault-bootstrap bench: ${RUNS} run(s) each of vault-bootstrap and the floor, alternating, each against its own fresh OpenBao (Shamir, raft, loopback)\n`);
  const ours: Sample[] = [];
  const floors: Sample[] = [];
  for (let run = 1; run <= RUNS; run += 1) {
    ours.push(await sample(vaultBootstrap, join(benchDirectory, `ours-${run}`)));
    floors.push(await sample(floor, join(benchDirectory, `floor-${run}`)));
    console.log(`  run ${run}/${RUNS}  ours: ${describeSample(ours.at(-1)!)}\n           floor: ${describeSample(floors.at(-1)!)}`);
  }
  printTable(ours, floors);
  printMethod(ours, floors, await emptyNodeMaxRssKiB(benchDirectory));
});

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
    onLine: (line) => lines.push(line),
  });
  if (finished.code !== 0) {
    const output = lines.map((line) => `    ${readableLogLine(line)}`).join('\n');
    throw new Error(`${scenario}: ${contender === floor ? 'the floor' : 'vault-bootstrap'} exited with ${finished.signal ?? `code ${finished.code}`}:\n${output}`);
  }
  return { ...finished, lines };
}

/** The floor prints one JSON line of step timings (no values). */
function floorInitMs(lines: string[]): number {
  const report = lines.find((line) => line.startsWith('{"stepTimings"'));
  return report === undefined ? Number.NaN : Number((JSON.parse(report) as { stepTimings: { init?: number } }).stepTimings.init);
}

/** From entering `initializing` to entering `storing` (the init answer), by the log lines' timestamps. */
function ourInitMs(lines: string[]): number {
  const enteredAt = (state: string): number => {
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { msg?: unknown; to?: unknown; time?: unknown };
      if (entry.msg === 'state' && entry.to === state) return Date.parse(String(entry.time));
    }
    return Number.NaN;
  };
  return enteredAt('storing') - enteredAt('initializing');
}

/** For scale: what node itself costs before any code runs. */
async function emptyNodeMaxRssKiB(workDirectory: string): Promise<number> {
  return (await runNodeMeasuringRss(['-e', ''], workDirectory)).maxRssKiB;
}

function printTable(ours: Sample[], floors: Sample[]): void {
  const rows: Array<[string, (sample: Sample) => number, (value: number) => string]> = [
    ['(a) fresh server listening → ready', (s) => s.freshMs, seconds],
    // sys/init varies by seconds from run to run; without it, what the program itself adds shows.
    ['    the same, less sys/init', (s) => s.freshMs - s.initMs, seconds],
    ['(b) sealed restart → unsealed, ready', (s) => s.sealedRestartMs, seconds],
    ['(c) peak RSS of the process, fresh run', (s) => s.maxRssKiB, mebibytes],
    ['(d) no-op run (configured, unsealed)', (s) => s.noopMs, seconds],
  ];
  const table = [
    ['metric', 'ours (median)', 'floor (median)', 'ratio', 'N'],
    ...rows.map(([metric, value, format]) => {
      const ourMedian = median(ours.map(value));
      const floorMedian = median(floors.map(value));
      return [metric, format(ourMedian), format(floorMedian), `${(ourMedian / floorMedian).toFixed(2)}×`, String(ours.length)];
    }),
  ];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  console.log('');
  for (const [index, row] of table.entries()) {
    console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}

function printMethod(ours: Sample[], floors: Sample[], emptyNodeKiB: number): void {
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
  vault-bootstrap also does what the floor skips: claim, read-back of stored keys, diffs before writing, token lookups.`);
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

function parseRuns(text: string): number {
  const runs = Number(text);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`BENCH_RUNS: expected a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return runs;
}
