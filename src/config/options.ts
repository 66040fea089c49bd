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
  /** The default, in words (what --help and README show). */
  readonly default: string;
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
    default: 'https://127.0.0.1:8200',
    help: 'the colocated server',
    commands: 'all',
  },
  'allow-insecure-http': {
    type: 'boolean',
    env: ['VB_ALLOW_INSECURE_HTTP'],
    default: 'false',
    help: 'accept a plain http:// --vault-addr to a host other than loopback (a loud warning on every start); without it that address exits 2',
    commands: 'all',
  },
  store: {
    type: 'string',
    env: ['VB_STORE'],
    default: 'required',
    help: 'gcp, aws or file (file is refused when KUBERNETES_SERVICE_HOST is set, unless --allow-file-store)',
    commands: 'all',
  },
  'store-prefix': {
    type: 'string',
    env: ['VB_STORE_PREFIX'],
    default: 'vault',
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
    help: 'host:port of a Secret Manager endpoint; plaintext gRPC only on loopback',
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
    default: './.vault-bootstrap',
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
    help: 'FILE,… OpenPGP public keys, one per recovery share: each share is encrypted to one custodian. Auto-unseal only; without --recovery-shares the share count is the number of keys',
    commands: ['run', 'plan', 'rotate-keys'],
  },
  'revoke-after': {
    type: 'boolean',
    env: ['VB_REVOKE_AFTER'],
    default: 'false',
    help: 'revoke the generated root token once configuring is done',
    commands: ['generate-root'],
  },
  'policies-dir': {
    type: 'string',
    env: ['VB_POLICIES_DIR'],
    default: 'none',
    help: 'extra or overriding *.hcl policies; name = file name; re-read every --interval in the sidecar',
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
    help: 'initialize even though keys exist in the store (old keys stay as an earlier version)',
    commands: ['run', 'plan'],
  },
  'claim-stale-after': {
    type: 'string',
    env: ['VB_CLAIM_STALE_AFTER'],
    default: '5m',
    help: 'a claim whose holder never stored keys may be taken over after this; at least 2m30s (the longest a live holder may take from claiming to storing the keys), a shorter value exits 2',
    commands: ['run', 'plan'],
  },
  'raft-join': {
    type: 'string',
    env: ['VB_RAFT_JOIN'],
    default: 'none',
    help: 'leader API address to join through sys/storage/raft/join, for servers without retry_join',
    commands: ['run'],
  },
  'shutdown-timeout': {
    type: 'string',
    env: ['VB_SHUTDOWN_TIMEOUT'],
    default: '25s',
    help: 'how long a signal waits for unstored secrets to be stored',
    commands: ['run'],
  },
  'root-token': {
    type: 'string',
    env: ['VB_ROOT_TOKEN'],
    default: 'store',
    help: 'store, or revoke once configured and the management token is stored',
    commands: ['run', 'plan'],
  },
  'provisioner-ttl': {
    type: 'string',
    env: ['VB_PROVISIONER_TTL'],
    default: '720h',
    help: "provisioner token lifetime (≥ 1m), rotated when a third is left; also the management token's period",
    commands: ['run', 'plan'],
  },
  'provisioner-overlap': {
    type: 'string',
    env: ['VB_PROVISIONER_OVERLAP'],
    default: 'expiry',
    help: 'how long a rotated-out provisioner (CI) token stays valid beside its successor: expiry (until it expires by itself, at most a third of --provisioner-ttl) or a duration (0s: revoked as soon as the new one is stored)',
    commands: ['run', 'plan'],
  },
  'audit-file': {
    type: 'string',
    env: ['VB_AUDIT_FILE'],
    default: 'stdout',
    help: 'HashiCorp Vault: the file audit device the sidecar ensures (stdout, an absolute path on the server, or off)',
    commands: ['run', 'plan'],
  },
  interval: {
    type: 'string',
    env: ['VB_INTERVAL'],
    default: '5s',
    help: 'health re-check period once ready (a cheap pass: no token, no store call)',
    commands: ['run'],
  },
  'reconcile-interval': {
    type: 'string',
    env: ['VB_RECONCILE_INTERVAL'],
    default: '10m',
    help: 'a full reconcile at least this often; drift is repaired within it',
    commands: ['run'],
  },
  timeout: {
    type: 'string',
    env: ['VB_TIMEOUT'],
    default: '10m',
    help: "--once gives up after this (exit 4), counted from the process's start",
    commands: ['run'],
  },
  listen: {
    type: 'string',
    env: ['VB_LISTEN'],
    default: ':8099 (sidecar), off otherwise',
    help: '/healthz, /readyz, /metrics; off to disable',
    commands: ['run'],
  },
  'log-level': {
    type: 'string',
    env: ['VB_LOG_LEVEL'],
    default: 'info',
    help: 'trace, debug, info, warn, error, fatal or silent',
    commands: 'all',
  },
  reason: {
    type: 'string',
    env: [],
    default: 'none',
    help: 'why, recorded with the seal intent (one line, ≤ 500 characters)',
    commands: ['seal'],
  },
  'self-init': {
    type: 'boolean',
    env: ['VB_SELF_INIT'],
    default: 'false',
    help: 'the server initializes itself from its initialize stanzas: never sys/init, no keys stored, the management token from a login',
    commands: SELF_INIT_COMMANDS,
  },
  'login-method': {
    type: 'string',
    env: ['VB_LOGIN_METHOD'],
    default: 'kubernetes',
    help: '--self-init: kubernetes or approle',
    commands: SELF_INIT_COMMANDS,
  },
  'login-mount': {
    type: 'string',
    env: ['VB_LOGIN_MOUNT'],
    default: "the method's name",
    help: '--self-init: the auth mount (auth/{mount}/login)',
    commands: SELF_INIT_COMMANDS,
  },
  'login-role': {
    type: 'string',
    env: ['VB_LOGIN_ROLE'],
    default: 'vault-bootstrap',
    help: '--self-init: the Kubernetes auth role, or the AppRole role ID',
    commands: SELF_INIT_COMMANDS,
  },
  'login-secret-file': {
    type: 'string',
    env: ['VB_LOGIN_SECRET_FILE'],
    default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    help: '--self-init: the service account token (kubernetes), or the AppRole secret ID (approle, required); read at every login',
    commands: SELF_INIT_COMMANDS,
  },
  'seal-key-dir': {
    type: 'string',
    env: ['VB_SEAL_KEY_DIR'],
    default: 'required by seal-key',
    help: 'seal-key: memory-backed directory (emptyDir, medium: Memory) shared with the server, where the static seal key files and seal.hcl go',
    commands: ['seal-key'],
  },
  'seal-key-uid': {
    type: 'string',
    env: ['VB_SEAL_KEY_UID'],
    default: "this process's uid",
    help: "seal-key: owner of the key files (0400): the server's uid",
    commands: ['seal-key'],
  },
  'snapshot-to': {
    type: 'string',
    env: ['VB_SNAPSHOT_TO'],
    default: 'none',
    help: 'where raft snapshots go: s3://bucket/prefix, gs://bucket/prefix, or file:///dir (refused inside Kubernetes unless --allow-file-store)',
    commands: ['snapshot', 'restore', 'restore-drill', 'rotate-keys', 'migrate-seal', 'run'],
  },
  'snapshot-interval': {
    type: 'string',
    env: ['VB_SNAPSHOT_INTERVAL'],
    default: 'none',
    help: 'run: the sidecar on the active node takes a snapshot when the newest in --snapshot-to is this old (≥ 1s; standbys take none)',
    commands: ['run'],
  },
  'snapshot-retain': {
    type: 'string',
    env: ['VB_SNAPSHOT_RETAIN'],
    default: '30',
    help: 'snapshots kept after each successful one (1-10000; the newest is never removed)',
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
    help: 'server-side encryption of the snapshot objects: a KMS key id, ARN or alias (S3, SSE-KMS) or a Cloud KMS key name (GCS, CMEK)',
    commands: ['snapshot', 'restore', 'restore-drill', 'rotate-keys', 'migrate-seal', 'run'],
  },
  snapshot: {
    type: 'string',
    env: ['VB_SNAPSHOT_ID'],
    default: 'the newest verified',
    help: 'restore, restore-drill: the snapshot to bring back (its id: the name of its .manifest.json object without the suffix)',
    commands: ['restore', 'restore-drill'],
  },
  restore: {
    type: 'boolean',
    env: ['VB_RESTORE'],
    default: 'false',
    help: 'run (the DR layout): an empty server, keys in the store and a verified snapshot in --snapshot-to → restore it (one replica; the others join) instead of waiting',
    commands: ['run'],
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
