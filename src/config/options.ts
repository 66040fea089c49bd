/**
 * Every option in one table: its flag, the environment variables that also set it (the flag
 * wins; the first variable set wins among them), the default as shown to a person, what it
 * does, and the commands it matters to. The parser (index.ts), `--help` and README's reference
 * are all read from here.
 */

export type Command =
  | 'run'
  | 'status'
  | 'plan'
  | 'seal'
  | 'resume'
  | 'rotate-keys'
  | 'generate-root'
  | 'cancel-stale'
  | 'migrate-seal'
  | 'seal-key'
  | 'rotate-seal-key'
  | 'snapshot'
  | 'restore'
  | 'restore-drill';
export const COMMANDS: readonly Command[] = [
  'run',
  'status',
  'plan',
  'seal',
  'resume',
  'rotate-keys',
  'generate-root',
  'cancel-stale',
  'migrate-seal',
  'seal-key',
  'rotate-seal-key',
  'snapshot',
  'restore',
  'restore-drill',
];

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Environment variables that set it too, in order of precedence; empty: flag only. */
  readonly env: readonly string[];
  /** The default, in words (what --help and README show; Markdown, see plainText). Durations are parsed from it. */
  readonly default: string;
  /** What it does (Markdown: `code` and [links](#anchors), shown plain by --help). */
  readonly help: string;
  /** The commands it matters to; `all` for every command. */
  readonly commands: readonly Command[] | 'all';
}

/** The commands that talk to a self-initialized server (--self-init). */
export const SELF_INIT_COMMANDS: readonly Command[] = ['run', 'status', 'plan', 'seal', 'resume'];
const WRITES_KEYS: readonly Command[] = ['run', 'rotate-keys', 'generate-root', 'migrate-seal'];

export const OPTIONS = {
  help: {
    type: 'boolean',
    short: 'h',
    env: [],
    default: '',
    help: "print this help (with a command: that command's options) and exit",
    commands: 'all',
  },
  once: {
    type: 'boolean',
    env: [],
    default: 'false',
    help: 'exit once the server is ready (0), or on a blocker (3), a bad config (2) or --timeout (4)',
    commands: ['run'],
  },
  json: {
    type: 'boolean',
    env: [],
    default: 'false',
    help: 'print one JSON document instead of text',
    commands: ['status', 'plan'],
  },
  'vault-addr': {
    type: 'string',
    env: ['VAULT_ADDR', 'BAO_ADDR'],
    default: '`https://127.0.0.1:8200`',
    help: 'the colocated server',
    commands: 'all',
  },
  store: {
    type: 'string',
    env: ['VB_STORE'],
    default: 'required',
    help: '`gcp`, `aws` or `file` (`file` is refused when `KUBERNETES_SERVICE_HOST` is set, unless `--allow-file-store` / `VB_ALLOW_FILE_STORE`)',
    commands: 'all',
  },
  'store-prefix': {
    type: 'string',
    env: ['VB_STORE_PREFIX'],
    default: '`vault`',
    help: 'prefix of every secret name',
    commands: 'all',
  },
  'gcp-project': {
    type: 'string',
    env: ['VB_GCP_PROJECT'],
    default: 'from ADC',
    help: 'GCP project of the secrets',
    commands: 'all',
  },
  'gcp-endpoint': {
    type: 'string',
    env: ['VB_GCP_ENDPOINT'],
    default: "Google's",
    help: '`host:port` of a Secret Manager endpoint; plaintext gRPC only on loopback',
    commands: 'all',
  },
  'aws-region': {
    type: 'string',
    env: ['VB_AWS_REGION', 'AWS_REGION'],
    default: 'SDK default',
    help: 'region of the secrets',
    commands: 'all',
  },
  'kms-key': {
    type: 'string',
    env: ['VB_KMS_KEY'],
    default: 'none',
    help: 'CMEK (GCP) or KMS key id (AWS) for the secrets',
    commands: 'all',
  },
  'file-dir': {
    type: 'string',
    env: ['VB_FILE_DIR'],
    default: '`./.vault-bootstrap`',
    help: 'file store directory (0700 directory, 0600 files)',
    commands: 'all',
  },
  'allow-file-store': {
    type: 'boolean',
    env: ['VB_ALLOW_FILE_STORE'],
    default: 'false',
    help: 'accept --store file inside Kubernetes (local development only)',
    commands: 'all',
  },
  'secret-shares': {
    type: 'string',
    env: ['VB_SECRET_SHARES'],
    default: '5',
    help: 'Shamir split: key shares (1-255)',
    commands: ['run', 'rotate-keys'],
  },
  'secret-threshold': {
    type: 'string',
    env: ['VB_SECRET_THRESHOLD'],
    default: '3',
    help: 'Shamir split: shares needed to unseal (≤ shares, ≥ 2 when shares > 1)',
    commands: ['run', 'rotate-keys'],
  },
  'recovery-shares': {
    type: 'string',
    env: ['VB_RECOVERY_SHARES'],
    default: '5',
    help: 'auto-unseal (recovery key) split: shares (1-255); rotate-keys keeps the current split unless given',
    commands: ['run', 'rotate-keys'],
  },
  'recovery-threshold': {
    type: 'string',
    env: ['VB_RECOVERY_THRESHOLD'],
    default: '3',
    help: 'auto-unseal (recovery key) split: threshold',
    commands: ['run', 'rotate-keys'],
  },
  'recovery-pgp-keys': {
    type: 'string',
    env: ['VB_RECOVERY_PGP_KEYS'],
    default: 'none',
    help: '`FILE,…` OpenPGP public keys (armored or binary), one per recovery share: `run` (init) and `rotate-keys` encrypt each share to one custodian (`plan` takes it too). Auto-unseal only (exit 2 for a Shamir seal); without `--recovery-shares` the share count is the number of keys',
    commands: ['run', 'plan', 'rotate-keys'],
  },
  'revoke-after': {
    type: 'boolean',
    env: ['VB_REVOKE_AFTER'],
    default: 'false',
    help: '`generate-root`: revoke the generated root token once configuring is done',
    commands: ['generate-root'],
  },
  'policies-dir': {
    type: 'string',
    env: ['VB_POLICIES_DIR'],
    default: 'none',
    help: 'extra or overriding `*.hcl` policies; name = file name; re-read every `--interval` in the sidecar (a changed file starts a full reconcile)',
    commands: ['run', 'plan', 'status'],
  },
  'spool-dir': {
    type: 'string',
    env: ['VB_SPOOL_DIR'],
    default: 'none',
    help: 'memory-backed directory (tmpfs, checked) where keys wait if the process must stop before they are stored',
    commands: WRITES_KEYS,
  },
  'allow-reinit': {
    type: 'boolean',
    env: ['VB_ALLOW_REINIT'],
    default: 'false',
    help: 'initialize even though keys exist in the store (old keys stay as an earlier version). Safe on every replica at once: it takes over only the claim of the keys each process found when it started, so one replica initializes and the others join. Remove it once the new cluster is up: a replica started later would take the new keys for the old cluster',
    commands: ['run', 'plan'],
  },
  'claim-stale-after': {
    type: 'string',
    env: ['VB_CLAIM_STALE_AFTER'],
    default: '`5m`',
    help: 'a claim whose holder never stored keys may be taken over after this; at least `2m30s` (the longest a live holder may take from claiming to storing the keys, every call at its deadline), a shorter value exits 2',
    commands: ['run', 'plan'],
  },
  'raft-join': {
    type: 'string',
    env: ['VB_RAFT_JOIN'],
    default: 'none',
    help: 'leader API address to join through `sys/storage/raft/join`, for servers without `retry_join`',
    commands: ['run'],
  },
  'shutdown-timeout': {
    type: 'string',
    env: ['VB_SHUTDOWN_TIMEOUT'],
    default: '`25s`',
    help: 'how long a signal waits for unstored secrets to be stored',
    commands: ['run'],
  },
  'root-token': {
    type: 'string',
    env: ['VB_ROOT_TOKEN'],
    default: '`store`',
    help: '`store`, or `revoke` once configured and the management token is stored (later runs use the management token; the shipped manifests and Helm values set `revoke`)',
    commands: ['run', 'plan'],
  },
  'provisioner-ttl': {
    type: 'string',
    env: ['VB_PROVISIONER_TTL'],
    default: '`720h`',
    help: "provisioner token lifetime (≥ 1m); rotated when a third is left. Also the management token's lifetime (not renewable, its role's explicit max TTL), re-issued when a third is left",
    commands: ['run', 'plan'],
  },
  'provisioner-overlap': {
    type: 'string',
    env: ['VB_PROVISIONER_OVERLAP'],
    default: '`expiry`',
    help: 'how long a rotated-out CI token stays valid beside its successor: `expiry` (until it expires by itself, at most a third of `--provisioner-ttl`: 240 h by default) or a duration (`10m`; `0s` revokes it as soon as the new one is stored). See "For CI owners"',
    commands: ['run', 'plan'],
  },
  'audit-file': {
    type: 'string',
    env: ['VB_AUDIT_FILE'],
    default: '`stdout`',
    help: 'HashiCorp Vault: the file audit device the sidecar ensures at `vault-bootstrap/` (`stdout`, an absolute path on the server, or `off`); OpenBao takes audit devices from its config file only',
    commands: ['run', 'plan'],
  },
  'allow-insecure-http': {
    type: 'boolean',
    env: ['VB_ALLOW_INSECURE_HTTP'],
    default: 'false',
    help: 'accept a plain `http://` `--vault-addr` to a host other than loopback (a loud warning on every start); without it that address exits 2',
    commands: 'all',
  },
  interval: {
    type: 'string',
    env: ['VB_INTERVAL'],
    default: '`5s`',
    help: 'health re-check period in `ready`: a cheap pass (`sys/health`, `sys/seal-status`, no token, no store call)',
    commands: ['run'],
  },
  'reconcile-interval': {
    type: 'string',
    env: ['VB_RECONCILE_INTERVAL'],
    default: '`10m`',
    help: 'a full reconcile (5 store reads, 6–7 token-bearing requests, no write when nothing drifted) at least this often; drift is repaired within it. Shorter costs more: see [the state machine](#the-state-machine)',
    commands: ['run'],
  },
  timeout: {
    type: 'string',
    env: ['VB_TIMEOUT'],
    default: '`10m`',
    help: "`--once` gives up after this (exit 4), counted from the process's start (the store's start-up check included)",
    commands: ['run'],
  },
  listen: {
    type: 'string',
    env: ['VB_LISTEN'],
    default: '`:8099` (sidecar), off with `--once`, `status`, `plan`',
    help: '`/healthz`, `/readyz`, `/metrics`; `off` to disable',
    commands: ['run'],
  },
  'log-level': {
    type: 'string',
    env: ['VB_LOG_LEVEL'],
    default: '`info`',
    help: 'pino level: trace, debug, info, warn, error, fatal, silent',
    commands: 'all',
  },
  reason: {
    type: 'string',
    env: [],
    default: 'none',
    help: '`seal` only: why, recorded with the seal intent (one line, ≤ 500 characters)',
    commands: ['seal'],
  },
  'self-init': {
    type: 'boolean',
    env: ['VB_SELF_INIT'],
    default: 'false',
    help: 'the server initializes itself from its `initialize` stanzas: never `sys/init`, no keys stored, the management token from a login ([Self-initialized OpenBao](#self-initialized-openbao)); `run`, `status`, `plan`, `seal`, `resume` only',
    commands: SELF_INIT_COMMANDS,
  },
  'login-method': {
    type: 'string',
    env: ['VB_LOGIN_METHOD'],
    default: '`kubernetes`',
    help: '`--self-init`: `kubernetes` or `approle`',
    commands: SELF_INIT_COMMANDS,
  },
  'login-mount': {
    type: 'string',
    env: ['VB_LOGIN_MOUNT'],
    default: "the method's name",
    help: '`--self-init`: the auth mount (`auth/{mount}/login`)',
    commands: SELF_INIT_COMMANDS,
  },
  'login-role': {
    type: 'string',
    env: ['VB_LOGIN_ROLE'],
    default: '`vault-bootstrap`',
    help: '`--self-init`: the Kubernetes auth role, or the AppRole role ID',
    commands: SELF_INIT_COMMANDS,
  },
  'login-secret-file': {
    type: 'string',
    env: ['VB_LOGIN_SECRET_FILE'],
    default: '`/var/run/secrets/kubernetes.io/serviceaccount/token`',
    help: '`--self-init`: the service account token (kubernetes), or the AppRole secret ID (approle, required); read at every login',
    commands: SELF_INIT_COMMANDS,
  },
  'snapshot-to': {
    type: 'string',
    env: ['VB_SNAPSHOT_TO'],
    default: 'none',
    help: "where raft snapshots go: `s3://bucket/prefix`, `gs://bucket/prefix`, or `file:///dir` (refused inside Kubernetes unless `--allow-file-store`). Emulators and S3-compatible stores through the SDKs' own variables (`AWS_ENDPOINT_URL_S3`, then path-style requests; `STORAGE_EMULATOR_HOST`). [Disaster recovery](#disaster-recovery)",
    commands: ['snapshot', 'restore', 'restore-drill', 'rotate-keys', 'migrate-seal', 'run'],
  },
  'snapshot-interval': {
    type: 'string',
    env: ['VB_SNAPSHOT_INTERVAL'],
    default: 'none',
    help: '`run`: the sidecar on the **active** node takes a snapshot whenever the newest verified one in `--snapshot-to` is this old (≥ `1s`; standbys take none); your RPO. [Disaster recovery](#disaster-recovery)',
    commands: ['run'],
  },
  snapshot: {
    type: 'string',
    env: ['VB_SNAPSHOT_ID'],
    default: 'the newest verified',
    help: '`restore`, `restore-drill`: the snapshot to bring back (its id, the name of its `.manifest.json` object without the suffix)',
    commands: ['restore', 'restore-drill'],
  },
  restore: {
    type: 'boolean',
    env: ['VB_RESTORE'],
    default: 'false',
    help: '`run` (the DR layout): an empty server, keys in the store and a verified snapshot in `--snapshot-to` → restore it (one replica; the others join) instead of waiting',
    commands: ['run'],
  },
  'snapshot-retain': {
    type: 'string',
    env: ['VB_SNAPSHOT_RETAIN'],
    default: '`30`',
    help: 'snapshots kept after each successful one (the newest is never removed)',
    commands: ['snapshot', 'restore', 'rotate-keys', 'migrate-seal', 'run'],
  },
  'snapshot-max-age': {
    type: 'string',
    env: ['VB_SNAPSHOT_MAX_AGE'],
    default: 'none',
    help: 'retention also removes snapshots older than this (≥ 1m; never the newest)',
    commands: ['snapshot', 'restore', 'rotate-keys', 'migrate-seal', 'run'],
  },
  'snapshot-kms-key': {
    type: 'string',
    env: ['VB_SNAPSHOT_KMS_KEY'],
    default: 'none',
    help: 'server-side encryption of the snapshot objects with this key: a KMS key id, ARN or alias (S3, SSE-KMS) or a Cloud KMS key name (GCS, CMEK)',
    commands: ['snapshot', 'restore', 'restore-drill', 'rotate-keys', 'migrate-seal', 'run'],
  },
  'seal-key-dir': {
    type: 'string',
    env: ['VB_SEAL_KEY_DIR'],
    default: 'required by `seal-key`',
    help: '`seal-key`: memory-backed directory (tmpfs, checked; an `emptyDir` with `medium: Memory`) shared with the server, where `current.key`, `previous.key` (during a rotation) and `seal.hcl` go',
    commands: ['seal-key'],
  },
  'seal-key-uid': {
    type: 'string',
    env: ['VB_SEAL_KEY_UID'],
    default: "this process's uid",
    help: "`seal-key`: owner of the 0400 key files (chown needs the capability; the overlays instead run the init container as the server's uid)",
    commands: ['seal-key'],
  },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** The option table in the shape node:util parseArgs takes. */
export const PARSE_ARGS_OPTIONS = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]: [string, OptionSpec]) => [
    name,
    spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short },
  ]),
) as { [K in OptionName]: { type: (typeof OPTIONS)[K]['type'] } };

/** The parsed flags: a string or boolean per option given on the command line. */
export type Flags = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Settings read from the environment only, not options: README's reference and --help list them too. */
export const ENVIRONMENT_ONLY: ReadonlyArray<Pick<OptionSpec, 'env' | 'default' | 'help'>> = [
  {
    env: ['AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ENDPOINT_URL'],
    default: "AWS's",
    help: "endpoint override (the AWS SDK's own variables)",
  },
  {
    env: ['POD_NAME'],
    default: 'host name',
    help: "identity written in the init claim and, for `seal-key`, this node's entry in `{prefix}-seal-key-rollout` (set it from the downward API)",
  },
];

/** A table text as a terminal shows it: Markdown `code` and [links](#anchors) as plain words. */
export function plainText(markdown: string): string {
  return markdown
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*\*/g, '');
}
