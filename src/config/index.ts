import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { closestName } from '../closest.js';
import { CLAIM_STALE_MINIMUM_MS } from '../deadlines.js';
import { ConfigError } from '../errors.js';
import { isLoopback } from '../loopback.js';
import { loadPolicies } from '../policy.js';
import { COMMANDS, OPTIONS, PARSE_ARGS_OPTIONS, type Command, type Flags } from './options.js';
import { helpText } from './help.js';
import { OptionReader, type Environment, type Given } from './read.js';
import { parseSplits } from './seal.js';
import { parseSealKey } from './seal-key.js';
import { parseSelfInit } from './self-init.js';
import type { Config } from './settings.js';
import { parseSnapshots } from './snapshots.js';
import { checkSpoolDirectory } from './spool.js';
import { parseStore } from './store.js';
import { loadTls, parseVaultAddress } from './vault.js';

export type { Config, TlsConfig } from './settings.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const PREFIX = /^[A-Za-z0-9_-]{1,200}$/;

export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

/** parseArgs' first line, or for an unknown option the closest known one; always the way to --help. */
function describeParseError(error: Error & { code?: string }): string {
  const unknown =
    error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-{1,2}[^']+)'/.exec(error.message)?.[1] : undefined;
  if (unknown === undefined) return `${error.message.split('\n')[0]} (vault-bootstrap --help lists every option)`;
  const suggestion = closestName(unknown.replace(/^-+/, '').split('=')[0]!, Object.keys(OPTIONS));
  const hint = suggestion === undefined ? '' : `; did you mean --${suggestion}?`;
  return `unknown option ${unknown}${hint} (vault-bootstrap --help lists every option)`;
}

/** Flags and environment → one frozen, validated Config. Throws ConfigError naming the flag/env. */
export function loadConfig(argv: readonly string[], env: Environment = process.env): Config {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: PARSE_ARGS_OPTIONS,
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    throw new ConfigError(`command line: ${describeParseError(error as Error & { code?: string })}`);
  }
  const flags = parsed.values;
  const [given, ...extra] = parsed.positionals;
  // `--help` alone: everything; `COMMAND --help`: that command's options.
  if (flags.help)
    throw new HelpRequested(helpText(COMMANDS.includes(given as Command) ? (given as Command) : undefined));

  if (!COMMANDS.includes(given as Command)) {
    throw new ConfigError(
      `command line: expected a command, one of ${COMMANDS.join(', ')} (got ${given === undefined ? 'none' : JSON.stringify(given)})`,
    );
  }
  const command = given as Command;
  if (extra.length > 0) throw new ConfigError(`command line: unexpected argument ${JSON.stringify(extra[0])}`);
  if (flags.once && command !== 'run') throw new ConfigError('--once: only valid with the run command');
  if (flags.reason !== undefined && command !== 'seal')
    throw new ConfigError('--reason: only valid with the seal command');
  if (flags.reason !== undefined && !/^[^\u0000-\u001f]{1,500}$/.test(flags.reason))
    throw new ConfigError('--reason: expected 1-500 characters of text on one line');

  const read = new OptionReader(flags, env);
  const vaultAddressSetting = read.text('vault-addr');
  const vaultAddress = parseVaultAddress(vaultAddressSetting);
  const insecureHttp = vaultAddress.protocol === 'http:' && !isLoopback(vaultAddress.hostname);
  if (insecureHttp && !read.boolean('allow-insecure-http')) {
    throw new ConfigError(
      `${vaultAddressSetting.name}: ${vaultAddress.origin} is plain http to another host, so tokens and keys would cross the network in clear; use https (or --allow-insecure-http/VB_ALLOW_INSECURE_HTTP if that is meant)`,
    );
  }
  const auditFileSetting = read.text('audit-file');
  const auditFile = auditFileSetting.value ?? 'stdout';
  if (auditFile !== 'off' && auditFile !== 'stdout' && !auditFile.startsWith('/')) {
    throw new ConfigError(
      `${auditFileSetting.name}: expected stdout, an absolute file path on the server, or off, got ${JSON.stringify(auditFile)}`,
    );
  }
  const store = parseStore(read, env);

  const prefix = read.text('store-prefix');
  const storePrefix = prefix.value ?? 'vault';
  if (!PREFIX.test(storePrefix)) {
    throw new ConfigError(
      `${prefix.name}: expected 1-200 letters, digits, "_" or "-", got ${JSON.stringify(storePrefix)}`,
    );
  }

  const splits = parseSplits(read, command);

  const rootTokenSetting = read.text('root-token');
  const rootToken = rootTokenSetting.value ?? 'store';
  if (rootToken !== 'store' && rootToken !== 'revoke') {
    throw new ConfigError(`${rootTokenSetting.name}: expected "store" or "revoke", got ${JSON.stringify(rootToken)}`);
  }

  const logLevelSetting = read.text('log-level');
  const logLevel = logLevelSetting.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(
      `${logLevelSetting.name}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }

  const once = flags.once === true;
  const revokeAfter = read.boolean('revoke-after');
  if (revokeAfter && command !== 'generate-root')
    throw new ConfigError('--revoke-after/VB_REVOKE_AFTER: only valid with the generate-root command');
  const policiesDirectory = read.text('policies-dir').value;
  const spool = read.text('spool-dir');
  const raftJoin = read.text('raft-join');

  const selfInit = parseSelfInit(read, command);
  const allowReinit = read.boolean('allow-reinit');
  if (selfInit && allowReinit)
    throw new ConfigError(
      '--allow-reinit/VB_ALLOW_REINIT: not valid with --self-init (the server initializes itself; vault-bootstrap never does)',
    );

  const snapshots = parseSnapshots(read, command, env);
  const snapshotId = read.text('snapshot');
  if (snapshotId.value !== undefined && command !== 'restore' && command !== 'restore-drill')
    throw new ConfigError(`${snapshotId.name}: only valid with the restore and restore-drill commands`);
  if (snapshotId.value !== undefined && !/^snapshot-\d{8}T\d{9}Z-[0-9a-f]{6}$/.test(snapshotId.value)) {
    throw new ConfigError(
      `${snapshotId.name}: expected a snapshot id such as snapshot-20261207T183500123Z-a1b2c3 (a .manifest.json object's name without the suffix), got ${JSON.stringify(snapshotId.value)}`,
    );
  }
  const restore = read.boolean('restore');
  if (restore && command !== 'run') throw new ConfigError('--restore/VB_RESTORE: only valid with the run command');
  if (restore && snapshots === undefined)
    throw new ConfigError('--restore/VB_RESTORE: needs --snapshot-to/VB_SNAPSHOT_TO (where the snapshots are)');
  if (restore && selfInit)
    throw new ConfigError(
      '--restore/VB_RESTORE: not valid with --self-init (no keys are stored to unseal a restored snapshot with)',
    );

  const config: Config = {
    command,
    once,
    json: flags.json === true,
    vaultAddress,
    insecureHttp,
    tls: loadTls(env),
    store,
    storePrefix,
    ...splits,
    revokeAfter,
    policies: loadPolicies(policiesDirectory),
    policiesDirectory,
    spoolDirectory: spool.value === undefined ? undefined : checkSpoolDirectory(spool.value, spool.name),
    allowReinit,
    claimStaleAfterMs: read.duration(
      'claim-stale-after',
      CLAIM_STALE_MINIMUM_MS,
      'a live holder may take that long from claiming to storing the keys; a shorter value lets replicas take its claim over and initialize twice',
    ),
    raftJoin: raftJoin.value === undefined ? undefined : parseVaultAddress(raftJoin),
    shutdownTimeoutMs: read.duration('shutdown-timeout', 0),
    rootToken,
    provisionerTtlMs: read.duration('provisioner-ttl', 60_000),
    provisionerOverlapMs:
      read.text('provisioner-overlap').value === undefined || read.text('provisioner-overlap').value === 'expiry'
        ? undefined
        : read.duration('provisioner-overlap', 0),
    auditFile: auditFile === 'off' ? undefined : auditFile,
    intervalMs: read.duration('interval', 100),
    reconcileIntervalMs: read.duration('reconcile-interval', 1000),
    timeoutMs: read.duration('timeout', 1000),
    listen: parseListen(read.text('listen'), once || command !== 'run'),
    logLevel,
    holder: env.POD_NAME || hostname(),
    reason: flags.reason,
    selfInit,
    sealKey: parseSealKey(read, command),
    snapshots,
    snapshotId: snapshotId.value,
    restore,
  };
  return Object.freeze(config);
}

function parseListen({ value, name }: Given, offByDefault: boolean): Config['listen'] {
  const text = value ?? (offByDefault ? 'off' : ':8099');
  if (text === 'off') return undefined;
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535)
    throw new ConfigError(`${name}: expected [host]:port or off, got ${JSON.stringify(text)}`);
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? undefined : host, port };
}
