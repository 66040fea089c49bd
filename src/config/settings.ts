import type { SnapshotConfig } from './snapshots.js';
import type { StoreConfig } from '../store/index.js';
import type { PgpPublicKey } from '../pgp.js';
import type { Command } from './options.js';

type RootTokenMode = 'store' | 'revoke';

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
  /** How long a rotated-out provisioner token stays valid beside its successor; undefined: until it expires by itself. */
  readonly provisionerOverlapMs: number | undefined;
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
  /** seal-key: where the static seal key files go (SPEC §13); undefined for every other command. */
  readonly sealKey: SealKeyOptions | undefined;
  /** --snapshot-to and its companions (SPEC §12); undefined: no snapshots. */
  readonly snapshots: SnapshotConfig | undefined;
  /** restore: the snapshot to bring back (`--snapshot ID`); undefined: the newest verified one. */
  readonly snapshotId: string | undefined;
  /** run --restore (the DR layout): an empty server with keys in the store is restored from the newest snapshot instead of left waiting. */
  readonly restore: boolean;
}

/** seal-key's options: where the key files go, and whose they are. */
export interface SealKeyOptions {
  /** Memory-backed directory shared with the server container (checked at start-up). */
  readonly directory: string;
  /** Owner of the files (the server's uid); undefined: this process's uid, which the manifests make the server's. */
  readonly uid: number | undefined;
}

type LoginMethod = 'kubernetes' | 'approle';

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
