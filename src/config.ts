import { readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closestName } from './closest.js';
import { parseDuration } from './duration.js';
import { ConfigError } from './errors.js';
import { readPgpPublicKeys, type PgpPublicKey } from './pgp.js';
import { checkPolicy } from './policy.js';
import { parseSnapshotOptions, type SnapshotConfig } from './snapshots/options.js';
import type { StoreConfig } from './store/index.js';

export type Command = 'run' | 'status' | 'plan' | 'seal' | 'resume' | 'rotate-keys' | 'generate-root' | 'cancel-stale' | 'migrate-seal' | 'snapshot';
const COMMANDS: readonly Command[] = ['run', 'status', 'plan', 'seal', 'resume', 'rotate-keys', 'generate-root', 'cancel-stale', 'migrate-seal', 'snapshot'];
export type RootTokenMode = 'store' | 'revoke';

export interface TlsConfig {
  /** PEM text of every trusted CA (VAULT_CACERT file plus each file of VAULT_CAPATH). */
  readonly caCertificates: readonly string[];
  readonly clientCertificate: string | undefined;
  readonly clientKey: string | undefined;
  readonly serverName: string | undefined;
  readonly skipVerify: boolean;
}

export interface Config {
  readonly command: Command;
  readonly once: boolean;
  readonly json: boolean;
  readonly vaultAddress: URL;
  /** The address is plain http to another host, which --allow-insecure-http says is meant (warned about loudly). */
  readonly insecureHttp: boolean;
  readonly tls: TlsConfig;
  readonly store: StoreConfig;
  readonly storePrefix: string;
  readonly secretShares: number;
  readonly secretThreshold: number;
  readonly recoveryShares: number;
  readonly recoveryThreshold: number;
  /** Whether the split was given (flag or env): rotate-keys keeps the current one otherwise. */
  readonly splitGiven: { readonly secret: boolean; readonly recovery: boolean };
  /** PGP custody: one public key per recovery share (auto-unseal only). */
  readonly recoveryPgpKeys: readonly PgpPublicKey[] | undefined;
  /** generate-root: revoke the generated root token once configuring is done. */
  readonly revokeAfter: boolean;
  /** Policy name → HCL text: the shipped ones, overridden or extended by --policies-dir. */
  readonly policies: ReadonlyMap<string, string>;
  readonly policiesDirectory: string | undefined;
  readonly spoolDirectory: string | undefined;
  readonly allowReinit: boolean;
  /** How long a claim whose holder never stored keys binds the others. */
  readonly claimStaleAfterMs: number;
  /** A leader's API address this node joins through sys/storage/raft/join, for servers without retry_join. */
  readonly raftJoin: URL | undefined;
  readonly shutdownTimeoutMs: number;
  readonly rootToken: RootTokenMode;
  readonly provisionerTtlMs: number;
  /** File path of the audit device the sidecar ensures on HashiCorp Vault (`stdout` by default); undefined: off. */
  readonly auditFile: string | undefined;
  readonly intervalMs: number;
  /** A full reconcile (store records, policies, token role, token look-ups) at least this often when nothing happened. */
  readonly reconcileIntervalMs: number;
  readonly timeoutMs: number;
  /** host undefined: every address, IPv6 and IPv4 alike. */
  readonly listen: { host: string | undefined; port: number } | undefined;
  readonly logLevel: string;
  /** Who claims initialization: the pod name (downward API) or the host name. */
  readonly holder: string;
  /** `seal --reason`: why, recorded with the seal intent. */
  readonly reason: string | undefined;
  /**
   * --self-init: the server initializes itself from its own `initialize` stanzas (OpenBao ≥ 2.4);
   * the sidecar never calls sys/init, keeps no keys, and logs in through the declared auth method.
   */
  readonly selfInit: SelfInitLogin | undefined;
  /** --snapshot-to and its companions (SPEC §12); undefined: no snapshots. */
  readonly snapshots: SnapshotConfig | undefined;
}

export type LoginMethod = 'kubernetes' | 'approle';

/** The login the server's initialize stanzas declare for the sidecar. */
export interface SelfInitLogin {
  readonly method: LoginMethod;
  /** Mount path of the auth method (`auth/{mount}/login`). */
  readonly mount: string;
  /** kubernetes: the role; approle: the role ID (the stanzas set it). */
  readonly role: string;
  /** The login's secret, read again at every login: the service account token (the kubelet rotates it), or the AppRole secret ID. */
  readonly secretFile: string;
}

/** Where the kubelet mounts the pod's service account token. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const BUILT_IN_POLICIES_DIRECTORY = fileURLToPath(new URL('../policies/', import.meta.url));

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const STORE_KINDS = ['gcp', 'aws', 'file'];
const PREFIX = /^[A-Za-z0-9_-]{1,200}$/;
const POLICY_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

const OPTIONS = {
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'vault-addr': { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  'audit-file': { type: 'string' },
  store: { type: 'string' },
  'store-prefix': { type: 'string' },
  'gcp-project': { type: 'string' },
  'aws-region': { type: 'string' },
  'kms-key': { type: 'string' },
  'gcp-endpoint': { type: 'string' },
  'file-dir': { type: 'string' },
  'allow-file-store': { type: 'boolean' },
  'secret-shares': { type: 'string' },
  'secret-threshold': { type: 'string' },
  'recovery-shares': { type: 'string' },
  'recovery-threshold': { type: 'string' },
  'recovery-pgp-keys': { type: 'string' },
  'revoke-after': { type: 'boolean' },
  'policies-dir': { type: 'string' },
  'spool-dir': { type: 'string' },
  'allow-reinit': { type: 'boolean' },
  'claim-stale-after': { type: 'string' },
  'raft-join': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  'root-token': { type: 'string' },
  'provisioner-ttl': { type: 'string' },
  interval: { type: 'string' },
  'reconcile-interval': { type: 'string' },
  timeout: { type: 'string' },
  listen: { type: 'string' },
  'log-level': { type: 'string' },
  reason: { type: 'string' },
  'self-init': { type: 'boolean' },
  'login-method': { type: 'string' },
  'login-mount': { type: 'string' },
  'login-role': { type: 'string' },
  'login-secret-file': { type: 'string' },
  'snapshot-to': { type: 'string' },
  'snapshot-interval': { type: 'string' },
  'snapshot-retain': { type: 'string' },
  'snapshot-max-age': { type: 'string' },
  'snapshot-kms-key': { type: 'string' },
} as const;

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const USAGE = `usage: vault-bootstrap <run|status|plan|seal|resume> [options]
       vault-bootstrap <rotate-keys|generate-root|cancel-stale|migrate-seal> [options]
       vault-bootstrap snapshot [options]

  run      [--once]   bring Vault to initialized, unsealed, configured; --once exits when ready
  status   [--json]   Vault health, store contents by name (never values), token validity
  plan     [--json]   what run would do now, changing nothing
  seal     [--reason TEXT]  emergency brake: record a seal intent, seal this node; every sidecar keeps its node sealed
  resume              end the seal intent: the sidecars unseal as usual
  rotate-keys         crash-safe rotation of the unseal or recovery keys (new split: --secret-*/--recovery-*)
  generate-root [--revoke-after]  a new root token from the stored keys, stored first
  cancel-stale        cancel a rotation or root generation in progress that no record of ours owns
  migrate-seal        Shamir → auto-unseal (KMS) seal migration with the stored keys, crash-safe; they become the recovery keys
  snapshot            a raft snapshot from the active node into --snapshot-to, verified, paired with its keys version

Every option also reads an environment variable; see README.md for the full reference.`;

export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
}

/** parseArgs' first line, or for an unknown option the closest known one; always the way to --help. */
function describeParseError(error: Error & { code?: string }): string {
  const unknown = error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-{1,2}[^']+)'/.exec(error.message)?.[1] : undefined;
  if (unknown === undefined) return `${error.message.split('\n')[0]} (vault-bootstrap --help lists every option)`;
  const suggestion = closestName(unknown.replace(/^-+/, '').split('=')[0]!, Object.keys(OPTIONS));
  const hint = suggestion === undefined ? '' : `; did you mean --${suggestion}?`;
  return `unknown option ${unknown}${hint} (vault-bootstrap --help lists every option)`;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Flags and environment → one frozen, validated Config. Throws ConfigError naming the flag/env. */
export function loadConfig(argv: readonly string[], env: Environment = process.env): Config {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new ConfigError(`command line: ${describeParseError(error as Error & { code?: string })}`);
  }
  const flags = parsed.values;
  if (flags.help) throw new HelpRequested(USAGE);

  const [command, ...extra] = parsed.positionals;
  if (!COMMANDS.includes(command as Command)) {
    throw new ConfigError(`command line: expected a command, one of ${COMMANDS.join(', ')} (got ${command === undefined ? 'none' : JSON.stringify(command)})`);
  }
  if (extra.length > 0) throw new ConfigError(`command line: unexpected argument ${JSON.stringify(extra[0])}`);
  if (flags.once && command !== 'run') throw new ConfigError('--once: only valid with the run command');
  if (flags.reason !== undefined && command !== 'seal') throw new ConfigError('--reason: only valid with the seal command');
  if (flags.reason !== undefined && !/^[^\u0000-\u001f]{1,500}$/.test(flags.reason)) throw new ConfigError('--reason: expected 1-500 characters of text on one line');

  const setting = (flag: keyof typeof OPTIONS, ...envNames: string[]): { value: string | undefined; name: string } => {
    const fromFlag = flags[flag];
    if (typeof fromFlag === 'string') return { value: fromFlag, name: `--${flag}` };
    for (const envName of envNames) {
      const fromEnv = env[envName];
      if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, name: envName };
    }
    return { value: undefined, name: `--${flag}/${envNames.join('/')}` };
  };
  const boolean = (flag: keyof typeof OPTIONS, envName: string): boolean => {
    if (flags[flag] === true) return true;
    const text = env[envName];
    return text === undefined || text === '' ? false : parseBoolean(text, envName);
  };
  const integer = (flag: keyof typeof OPTIONS, envName: string, fallback: number, min: number, max: number): number => {
    const { value, name } = setting(flag, envName);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new ConfigError(`${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
  const duration = (flag: keyof typeof OPTIONS, envName: string, fallback: string, minimumMs: number): number => {
    const { value, name } = setting(flag, envName);
    const milliseconds = parseDuration(value ?? fallback);
    if (milliseconds === undefined) {
      throw new ConfigError(`${name}: expected a duration such as 90s, 5m or 720h, got ${JSON.stringify(value)}`);
    }
    if (milliseconds < minimumMs) throw new ConfigError(`${name}: must be at least ${minimumMs}ms, got ${JSON.stringify(value)}`);
    return milliseconds;
  };

  const vaultAddressSetting = setting('vault-addr', 'VAULT_ADDR', 'BAO_ADDR');
  const vaultAddress = parseVaultAddress(vaultAddressSetting);
  const insecureHttp = vaultAddress.protocol === 'http:' && !isLoopback(vaultAddress.hostname);
  if (insecureHttp && !boolean('allow-insecure-http', 'VB_ALLOW_INSECURE_HTTP')) {
    throw new ConfigError(
      `${vaultAddressSetting.name}: ${vaultAddress.origin} is plain http to another host, so tokens and keys would cross the network in clear; use https (or --allow-insecure-http/VB_ALLOW_INSECURE_HTTP if that is meant)`,
    );
  }
  const auditFileSetting = setting('audit-file', 'VB_AUDIT_FILE');
  const auditFile = auditFileSetting.value ?? 'stdout';
  if (auditFile !== 'off' && auditFile !== 'stdout' && !auditFile.startsWith('/')) {
    throw new ConfigError(`${auditFileSetting.name}: expected stdout, an absolute file path on the server, or off, got ${JSON.stringify(auditFile)}`);
  }
  const store = parseStore(setting, boolean('allow-file-store', 'VB_ALLOW_FILE_STORE'), env);

  const prefix = setting('store-prefix', 'VB_STORE_PREFIX');
  const storePrefix = prefix.value ?? 'vault';
  if (!PREFIX.test(storePrefix)) {
    throw new ConfigError(`${prefix.name}: expected 1-200 letters, digits, "_" or "-", got ${JSON.stringify(storePrefix)}`);
  }

  const secretShares = integer('secret-shares', 'VB_SECRET_SHARES', 5, 1, 255);
  const secretThreshold = integer('secret-threshold', 'VB_SECRET_THRESHOLD', 3, 1, 255);
  checkSplit('--secret-shares/VB_SECRET_SHARES', secretShares, '--secret-threshold/VB_SECRET_THRESHOLD', secretThreshold);
  const pgpSetting = setting('recovery-pgp-keys', 'VB_RECOVERY_PGP_KEYS');
  const recoveryPgpKeys = pgpSetting.value === undefined ? undefined : parsePgpKeys(pgpSetting.value, pgpSetting.name, command as Command);
  const splitGiven = {
    secret: setting('secret-shares', 'VB_SECRET_SHARES').value !== undefined || setting('secret-threshold', 'VB_SECRET_THRESHOLD').value !== undefined,
    recovery: setting('recovery-shares', 'VB_RECOVERY_SHARES').value !== undefined || setting('recovery-threshold', 'VB_RECOVERY_THRESHOLD').value !== undefined,
  };
  // With custodians, one share per public key unless told otherwise.
  const custodians = recoveryPgpKeys?.length;
  const recoveryShares = integer('recovery-shares', 'VB_RECOVERY_SHARES', custodians ?? 5, 1, 255);
  const recoveryThreshold = integer('recovery-threshold', 'VB_RECOVERY_THRESHOLD', Math.min(3, custodians ?? 5), 1, 255);
  if (custodians !== undefined && recoveryShares !== custodians) {
    throw new ConfigError(`${pgpSetting.name}: ${custodians} public key(s) for ${recoveryShares} recovery shares (--recovery-shares/VB_RECOVERY_SHARES); give one key per share`);
  }
  checkSplit('--recovery-shares/VB_RECOVERY_SHARES', recoveryShares, '--recovery-threshold/VB_RECOVERY_THRESHOLD', recoveryThreshold);

  const rootTokenSetting = setting('root-token', 'VB_ROOT_TOKEN');
  const rootToken = rootTokenSetting.value ?? 'store';
  if (rootToken !== 'store' && rootToken !== 'revoke') {
    throw new ConfigError(`${rootTokenSetting.name}: expected "store" or "revoke", got ${JSON.stringify(rootToken)}`);
  }

  const logLevelSetting = setting('log-level', 'VB_LOG_LEVEL');
  const logLevel = logLevelSetting.value ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`${logLevelSetting.name}: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }

  const once = flags.once === true;
  const revokeAfter = boolean('revoke-after', 'VB_REVOKE_AFTER');
  if (revokeAfter && command !== 'generate-root') throw new ConfigError('--revoke-after/VB_REVOKE_AFTER: only valid with the generate-root command');
  const policiesDirectory = setting('policies-dir', 'VB_POLICIES_DIR').value;
  const spool = setting('spool-dir', 'VB_SPOOL_DIR');
  const raftJoin = setting('raft-join', 'VB_RAFT_JOIN');

  const selfInit = parseSelfInit(setting, boolean('self-init', 'VB_SELF_INIT'), command as Command);
  const allowReinit = boolean('allow-reinit', 'VB_ALLOW_REINIT');
  if (selfInit && allowReinit) throw new ConfigError('--allow-reinit/VB_ALLOW_REINIT: not valid with --self-init (the server initializes itself; vault-bootstrap never does)');

  const snapshots = parseSnapshotOptions(
    {
      to: setting('snapshot-to', 'VB_SNAPSHOT_TO'),
      interval: setting('snapshot-interval', 'VB_SNAPSHOT_INTERVAL'),
      retain: setting('snapshot-retain', 'VB_SNAPSHOT_RETAIN'),
      maxAge: setting('snapshot-max-age', 'VB_SNAPSHOT_MAX_AGE'),
      kmsKey: setting('snapshot-kms-key', 'VB_SNAPSHOT_KMS_KEY'),
    },
    { command: command as string, insideKubernetes: Boolean(env.KUBERNETES_SERVICE_HOST), allowFile: boolean('allow-file-store', 'VB_ALLOW_FILE_STORE') },
  );

  const config: Config = {
    command: command as Command,
    once,
    json: flags.json === true,
    vaultAddress,
    insecureHttp,
    tls: loadTls(env),
    store,
    storePrefix,
    secretShares,
    secretThreshold,
    recoveryShares,
    recoveryThreshold,
    splitGiven,
    recoveryPgpKeys,
    revokeAfter,
    policies: loadPolicies(policiesDirectory),
    policiesDirectory,
    spoolDirectory: spool.value === undefined ? undefined : checkSpoolDirectory(spool.value, spool.name),
    allowReinit,
    claimStaleAfterMs: duration('claim-stale-after', 'VB_CLAIM_STALE_AFTER', '5m', 1000),
    raftJoin: raftJoin.value === undefined ? undefined : parseVaultAddress(raftJoin),
    shutdownTimeoutMs: duration('shutdown-timeout', 'VB_SHUTDOWN_TIMEOUT', '25s', 0),
    rootToken,
    provisionerTtlMs: duration('provisioner-ttl', 'VB_PROVISIONER_TTL', '720h', 60_000),
    auditFile: auditFile === 'off' ? undefined : auditFile,
    intervalMs: duration('interval', 'VB_INTERVAL', '5s', 100),
    reconcileIntervalMs: duration('reconcile-interval', 'VB_RECONCILE_INTERVAL', '10m', 1000),
    timeoutMs: duration('timeout', 'VB_TIMEOUT', '10m', 1000),
    listen: parseListen(setting('listen', 'VB_LISTEN'), once || command !== 'run'),
    logLevel,
    holder: env.POD_NAME || hostname(),
    reason: flags.reason,
    selfInit,
    snapshots,
  };
  return Object.freeze(config);
}

type Setting = (flag: keyof typeof OPTIONS, ...envNames: string[]) => { value: string | undefined; name: string };

// Segments never `.` or `..`: the mount is part of a request path.
const MOUNT_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;
const ROLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** --self-init and its login: checked now, the token file included (the command would fail at its first login otherwise). */
function parseSelfInit(setting: Setting, enabled: boolean, command: Command): SelfInitLogin | undefined {
  const methodSetting = setting('login-method', 'VB_LOGIN_METHOD');
  const mount = setting('login-mount', 'VB_LOGIN_MOUNT');
  const role = setting('login-role', 'VB_LOGIN_ROLE');
  const secretFile = setting('login-secret-file', 'VB_LOGIN_SECRET_FILE');
  if (!enabled) {
    const stray = [methodSetting, mount, role, secretFile].find((each) => each.value !== undefined);
    if (stray) throw new ConfigError(`${stray.name}: only valid with --self-init/VB_SELF_INIT`);
    return undefined;
  }
  if (!['run', 'status', 'plan', 'seal', 'resume'].includes(command)) {
    throw new ConfigError(`--self-init/VB_SELF_INIT: not valid with ${command} (a self-initialized server returned no keys and no root token to work with)`);
  }
  const method = methodSetting.value ?? 'kubernetes';
  if (method !== 'kubernetes' && method !== 'approle') throw new ConfigError(`${methodSetting.name}: expected "kubernetes" or "approle", got ${JSON.stringify(method)}`);
  if (method === 'approle' && secretFile.value === undefined) throw new ConfigError(`${secretFile.name}: required with --login-method approle (the file holding the AppRole secret ID)`);
  const login: SelfInitLogin = { method, mount: mount.value ?? method, role: role.value ?? 'vault-bootstrap', secretFile: secretFile.value ?? SERVICE_ACCOUNT_TOKEN_FILE };
  if (!MOUNT_PATH.test(login.mount)) throw new ConfigError(`${mount.name}: expected an auth mount path such as kubernetes, got ${JSON.stringify(login.mount)}`);
  if (!ROLE_NAME.test(login.role)) throw new ConfigError(`${role.name}: expected a role name (letters, digits, "_", "-", "."), got ${JSON.stringify(login.role)}`);
  try {
    readFileSync(login.secretFile);
  } catch (error) {
    throw new ConfigError(`${secretFile.name}: cannot read the login's secret file ${JSON.stringify(login.secretFile)} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return Object.freeze(login);
}

/** A comma-separated list of public key files, each checked now (not at init time). */
function parsePgpKeys(text: string, name: string, command: Command): PgpPublicKey[] {
  if (command !== 'run' && command !== 'rotate-keys') throw new ConfigError(`${name}: only valid with the run and rotate-keys commands`);
  const paths = text.split(',').map((path) => path.trim());
  if (paths.some((path) => path === '')) throw new ConfigError(`${name}: expected FILE,FILE,… of OpenPGP public keys, got an empty entry`);
  return readPgpPublicKeys(paths, name);
}

/** Accepts what Go's strconv.ParseBool accepts, as Vault's own variables do. */
function parseBoolean(text: string, name: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(text)) return false;
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(text)}`);
}

function parseVaultAddress({ value, name }: { value: string | undefined; name: string }): URL {
  const text = value ?? 'https://127.0.0.1:8200';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name}: expected an address such as https://127.0.0.1:8200, got ${JSON.stringify(text)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`${name}: expected http(s)://host:port with no credentials or query, got ${JSON.stringify(text)}`);
  }
  return url;
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the host. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function parseStore(
  setting: (flag: keyof typeof OPTIONS, ...envNames: string[]) => { value: string | undefined; name: string },
  allowFileStore: boolean,
  env: Environment,
): StoreConfig {
  const { value: kind, name } = setting('store', 'VB_STORE');
  if (kind === undefined) throw new ConfigError(`${name}: required, one of ${STORE_KINDS.join(', ')}`);
  const kmsKey = setting('kms-key', 'VB_KMS_KEY').value;
  switch (kind) {
    case 'file': {
      if (env.KUBERNETES_SERVICE_HOST && !allowFileStore) {
        throw new ConfigError(`${name}: the file store is for local development and is refused inside Kubernetes; use gcp or aws (or --allow-file-store)`);
      }
      return { kind, directory: setting('file-dir', 'VB_FILE_DIR').value ?? './.vault-bootstrap' };
    }
    case 'gcp': {
      const endpoint = setting('gcp-endpoint', 'VB_GCP_ENDPOINT');
      if (endpoint.value !== undefined && !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(endpoint.value)) {
        throw new ConfigError(`${endpoint.name}: expected host:port, got ${JSON.stringify(endpoint.value)}`);
      }
      return { kind, project: setting('gcp-project', 'VB_GCP_PROJECT').value, endpoint: endpoint.value, kmsKey };
    }
    case 'aws': {
      const region = setting('aws-region', 'VB_AWS_REGION', 'AWS_REGION');
      if (region.value !== undefined && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region.value)) {
        throw new ConfigError(`${region.name}: expected an AWS region such as eu-west-1, got ${JSON.stringify(region.value)}`);
      }
      return { kind, region: region.value, kmsKey };
    }
    default:
      throw new ConfigError(`${name}: expected one of ${STORE_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
}

function checkSplit(sharesName: string, shares: number, thresholdName: string, threshold: number): void {
  if (threshold > shares) throw new ConfigError(`${thresholdName}: ${threshold} is above ${sharesName} ${shares}`);
  if (shares > 1 && threshold < 2) throw new ConfigError(`${thresholdName}: must be at least 2 when ${sharesName} is above 1`);
}

function parseListen({ value, name }: { value: string | undefined; name: string }, offByDefault: boolean): Config['listen'] {
  const text = value ?? (offByDefault ? 'off' : ':8099');
  if (text === 'off') return undefined;
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) throw new ConfigError(`${name}: expected [host]:port or off, got ${JSON.stringify(text)}`);
  const host = match[1]!.replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? undefined : host, port };
}

function loadTls(env: Environment): TlsConfig {
  const readPem = (path: string, name: string): string => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!text.includes('-----BEGIN')) throw new ConfigError(`${name}: ${path} is not a PEM file`);
    return text;
  };
  const caCertificates: string[] = [];
  if (env.VAULT_CACERT) caCertificates.push(readPem(env.VAULT_CACERT, 'VAULT_CACERT'));
  if (env.VAULT_CAPATH) {
    let entries: string[];
    try {
      entries = readdirSync(env.VAULT_CAPATH).sort();
    } catch (error) {
      throw new ConfigError(`VAULT_CAPATH: cannot read directory ${env.VAULT_CAPATH} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    for (const entry of entries) {
      const path = join(env.VAULT_CAPATH, entry);
      if (statSync(path).isFile()) caCertificates.push(readPem(path, 'VAULT_CAPATH'));
    }
    if (caCertificates.length === 0) throw new ConfigError(`VAULT_CAPATH: ${env.VAULT_CAPATH} holds no certificate`);
  }
  if (Boolean(env.VAULT_CLIENT_CERT) !== Boolean(env.VAULT_CLIENT_KEY)) {
    throw new ConfigError('VAULT_CLIENT_CERT/VAULT_CLIENT_KEY: set both or neither');
  }
  return {
    caCertificates,
    clientCertificate: env.VAULT_CLIENT_CERT ? readPem(env.VAULT_CLIENT_CERT, 'VAULT_CLIENT_CERT') : undefined,
    clientKey: env.VAULT_CLIENT_KEY ? readPem(env.VAULT_CLIENT_KEY, 'VAULT_CLIENT_KEY') : undefined,
    serverName: env.VAULT_TLS_SERVER_NAME || undefined,
    skipVerify: env.VAULT_SKIP_VERIFY ? parseBoolean(env.VAULT_SKIP_VERIFY, 'VAULT_SKIP_VERIFY') : false,
  };
}

/** Reads and checks every policy: the shipped ones, then *.hcl of --policies-dir (same name overrides). */
export function loadPolicies(policiesDirectory: string | undefined): Map<string, string> {
  const policies = readPolicyDirectory(BUILT_IN_POLICIES_DIRECTORY, 'built-in policies');
  if (policiesDirectory !== undefined) {
    for (const [name, text] of readPolicyDirectory(policiesDirectory, '--policies-dir/VB_POLICIES_DIR')) policies.set(name, text);
  }
  return policies;
}

function readPolicyDirectory(directory: string, name: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(directory).filter((entry) => entry.endsWith('.hcl')).sort();
  } catch (error) {
    throw new ConfigError(`${name}: cannot read directory ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const policies = new Map<string, string>();
  for (const entry of entries) {
    const path = join(directory, entry);
    const policyName = entry.slice(0, -'.hcl'.length);
    if (!POLICY_NAME.test(policyName) || policyName === 'root' || policyName === 'default') {
      throw new ConfigError(`${name}: ${path}: policy name must be letters, digits, "_" or "-" and not root or default`);
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    checkPolicy(`${name}: ${path}`, text);
    policies.set(policyName, text);
  }
  return policies;
}

/** Keys may wait in the spool only on memory: a disk-backed path would outlive the pod. */
function checkSpoolDirectory(directory: string, name: string): string {
  let type: number;
  try {
    if (!statSync(directory).isDirectory()) throw new ConfigError(`${name}: ${directory} is not a directory`);
    type = statfsSync(directory).type;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`${name}: cannot use ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (type !== TMPFS_MAGIC && type !== RAMFS_MAGIC) {
    throw new ConfigError(`${name}: ${directory} is not memory-backed (tmpfs); use an emptyDir with medium: Memory`);
  }
  return directory;
}
