import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  elapsedMs: number;
}

/** Every byte any CLI run printed in this test file, for the no-secret-in-output checks. */
export const capturedOutput: string[] = [];

/** The environment the CLI sees: nothing from the developer's shell that could change its behaviour. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', VB_LOG_LEVEL: 'trace', ...extra };
}

export interface RunningCli {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** Resolves when a line containing the text has been printed. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  output(): string;
}

/**
 * Capabilities that let root ignore file modes. Dropped from the bounding set before the exec,
 * the CLI runs as root but without them, so a store file with mode 000 is refused to it as to
 * any other user, while it can still load itself and Node from wherever they are (a checkout in
 * `mktemp -d` is mode 0700, which rules out running as another user).
 */
const FILE_MODE_OVERRIDES = '-dac_override,-dac_read_search';

/**
 * `nodeOptions` go before the script, e.g. `--import` of the fault-injection hook.
 * `honourFileModes` runs it without root's power to ignore file modes (a denied store), `withoutChown`
 * without its power to give files away;
 * `script` runs another build of the CLI (the previous release, for the upgrade test).
 */
export function startCli(
  args: string[],
  env: Record<string, string> = cleanEnv(),
  nodeOptions: string[] = [],
  options: { honourFileModes?: boolean; withoutChown?: boolean; script?: string } = {},
): RunningCli {
  const started = Date.now();
  const command = [process.execPath, ...nodeOptions, options.script ?? CLI, ...args];
  // Root without CAP_CHOWN: as an init container that was not granted it.
  const dropped = [
    ...(options.honourFileModes === true ? [FILE_MODE_OVERRIDES] : []),
    ...(options.withoutChown === true ? ['-chown'] : []),
  ];
  if (dropped.length > 0 && process.getuid?.() === 0)
    command.unshift('setpriv', `--bounding-set=${dropped.join(',')}`, '--');
  const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const result = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => {
      capturedOutput.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
  return {
    child,
    result,
    output: () => stdout + stderr,
    waitFor: (text, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (stdout.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no output line with ${JSON.stringify(text)} within ${timeoutMs}ms:\n${stdout}\n${stderr}`),
            ),
          timeoutMs,
        );
        listeners.push(check);
        check();
        // A process that ended without the line will never print it.
        void result.then(({ code, signal }) => {
          check();
          clearTimeout(timer);
          reject(
            new Error(
              `the CLI ended (code ${code}, signal ${signal}) without a line with ${JSON.stringify(text)}:\n${stdout}\n${stderr}`,
            ),
          );
        });
      }),
  };
}

export function runCli(args: string[], env: Record<string, string> = cleanEnv()): Promise<CliResult> {
  return startCli(args, env).result;
}

/** The pino lines of a run, parsed. */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The lines of a run that carry the stable `event` field, optionally only those of one event. */
export function events(output: string, event?: string): Array<Record<string, unknown> & { event: string }> {
  return logLines(output).filter(
    (line): line is Record<string, unknown> & { event: string } =>
      typeof line.event === 'string' && (event === undefined || line.event === event),
  );
}

/** The `act` events of a run: what it did, in order. */
export function actions(output: string): Array<{ action: string; detail: string }> {
  return events(output, 'act').map((line) => ({ action: String(line.action), detail: String(line.detail) }));
}

/** The `to` of every state transition (`state` events), in order. */
export function transitions(output: string): string[] {
  return events(output, 'state').map((line) => String(line.to));
}
