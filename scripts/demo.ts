/**
 * `npm run demo`: vault-bootstrap against a throwaway local OpenBao, step by step.
 * Initializes, stores the keys in a temp file store, unseals, configures, issues the provisioner
 * token; restarts OpenBao (it comes back sealed, as a pod does) and unseals it again from the store.
 * Prints the CLI's log messages only, never a value from the store.
 */
import { join } from 'node:path';
import { runScript, temporaryDirectory } from './lib/cleanup.js';
import { ThrowawayOpenBao } from './lib/throwaway-openbao.js';
import { readableLogLine } from './lib/log-lines.js';
import { CLI, cleanEnv, run, runOrFail } from './lib/processes.js';

await runScript(async () => {
  header('tools');
  await runOrFail('bash', ['scripts/install-tools.sh', 'openbao'], { onLine: printIndented, env: cleanEnv() });

  header('build');
  // The bundle only: `npm run build` also typechecks, which the demo does not need (npm test does it).
  const build = await runOrFail(process.execPath, ['scripts/build.mjs'], {
    onLine: printIndented,
    env: process.env as Record<string, string>,
  });
  print(`dist/ bundled in ${seconds(build.elapsedMs)}`);

  header('OpenBao');
  const openBao = await ThrowawayOpenBao.start({ seal: 'shamir' });
  const storeDirectory = join(await temporaryDirectory('vb-demo-'), 'store');
  print(`${openBao.address}: Shamir seal, raft storage in ${openBao.directory}`);
  await printSealStatus(openBao);

  header('first run: initialize, store the keys, unseal, configure, issue the provisioner token');
  await runBootstrapOnce(openBao, storeDirectory);

  header('status');
  await showStatus(openBao, storeDirectory);

  header('restart OpenBao (it comes back sealed, like a restarted pod)');
  await openBao.restart();
  await expectSealed(openBao, true);

  header('second run: unseal with the stored keys; policies and token already in place');
  await runBootstrapOnce(openBao, storeDirectory);
  await expectSealed(openBao, false);

  header('status');
  await showStatus(openBao, storeDirectory);

  header('done');
  print('every step passed; stopping OpenBao and removing the temp directories');
});

function cliArguments(openBao: ThrowawayOpenBao, storeDirectory: string): string[] {
  return ['--store', 'file', '--file-dir', storeDirectory, '--vault-addr', openBao.address];
}

async function runBootstrapOnce(openBao: ThrowawayOpenBao, storeDirectory: string): Promise<void> {
  const args = ['run', '--once', ...cliArguments(openBao, storeDirectory)];
  print(`$ vault-bootstrap ${args.join(' ')}`);
  const { elapsedMs } = await runOrFail(process.execPath, [CLI, ...args], { onLine: printLogLine });
  print(`ready: exit 0 after ${seconds(elapsedMs)}`);
}

/** `status` prints its report on stdout and logs on stderr; both are secret-free by contract, and logs are shown the same way as run's. */
async function showStatus(openBao: ThrowawayOpenBao, storeDirectory: string): Promise<void> {
  const finished = await run(process.execPath, [CLI, 'status', ...cliArguments(openBao, storeDirectory)], {
    onLine: (line, stream) => (stream === 'stdout' ? printIndented(line) : printLogLine(line)),
  });
  if (finished.code !== 0) throw new Error(`vault-bootstrap status exited with code ${finished.code}`);
}

async function readSealStatus(
  openBao: ThrowawayOpenBao,
): Promise<{ initialized: boolean; sealed: boolean; type: string }> {
  const response = await fetch(`${openBao.address}/v1/sys/seal-status`);
  if (!response.ok) throw new Error(`sys/seal-status answered HTTP ${response.status}`);
  return (await response.json()) as { initialized: boolean; sealed: boolean; type: string };
}

async function printSealStatus(openBao: ThrowawayOpenBao): Promise<void> {
  const seal = await readSealStatus(openBao);
  print(`sys/seal-status → type: ${seal.type}, initialized: ${seal.initialized}, sealed: ${seal.sealed}`);
}

/** Asked of the server directly, so the demo does not take the CLI's word for it. */
async function expectSealed(openBao: ThrowawayOpenBao, sealed: boolean): Promise<void> {
  const seal = await readSealStatus(openBao);
  print(`sys/seal-status → sealed: ${seal.sealed}`);
  if (seal.sealed !== sealed) throw new Error(`expected OpenBao to be ${sealed ? 'sealed' : 'unsealed'}`);
}

function header(title: string): void {
  console.log(`\n== ${title}`);
}

function print(text: string): void {
  console.log(`  ${text}`);
}

function printLogLine(line: string): void {
  printIndented(readableLogLine(line));
}

function printIndented(line: string): void {
  console.log(`    ${line}`);
}

function seconds(milliseconds: number): string {
  return `${(milliseconds / 1000).toFixed(1)} s`;
}
