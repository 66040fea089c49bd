/**
 * The narrow boundary every secret store implements. Values are opaque UTF-8 text
 * (JSON records built in records.ts); a backend never logs or embeds them in errors.
 *
 * Each backend translates its SDK's "not found" into StoreNotFoundError and its
 * "already exists" into StoreAlreadyExistsError, in its own file. Transient failures
 * become BootstrapError code STORE_UNAVAILABLE (retried by callers), permission or
 * configuration failures STORE_DENIED.
 */
export interface SecretStore {
  /** `file`, `gcp` or `aws`: shown by status and logs. */
  readonly kind: string;

  /**
   * Checks credentials and access once at start-up by reading `probeName` (absent is fine);
   * throws ConfigError naming what is missing.
   */
  verifyAccess(probeName: string): Promise<void>;

  /** The latest version's value. Throws StoreNotFoundError when the secret or every version is absent. */
  readLatest(name: string): Promise<string>;

  /** Creates the secret with its first version, atomically. Throws StoreAlreadyExistsError if it exists. */
  createIfAbsent(name: string, value: string): Promise<void>;

  /**
   * Adds a new latest version, creating the secret if needed. Earlier versions stay readable.
   * With `holdsSecret` (a key or a token): a secret that exists but holds no version was created
   * by someone else, under their access policy or encryption key, and is never written into:
   * throws STORE_DENIED naming it.
   */
  addVersion(name: string, value: string, options?: AddVersionOptions): Promise<void>;

  /** Every version's value, oldest first; empty when the secret is absent. */
  readAllVersions(name: string): Promise<string[]>;

  /** Each version's metadata, oldest first, never its value (status lists secrets with it); empty when absent. */
  listVersions(name: string): Promise<VersionInfo[]>;

  /** Releases clients and connections. */
  close(): Promise<void>;
}

export interface AddVersionOptions {
  /** The value is a key or a token: refuse a secret that exists without any version (see addVersion). */
  holdsSecret?: boolean;
}

export interface VersionInfo {
  /** ISO time the version was created, when the store says. */
  createdAt: string | null;
}

/** Labels (GCP) or tags (AWS) put on every secret the program creates. */
export const MANAGED_LABELS: Readonly<Record<string, string>> = Object.freeze({ 'managed-by': 'vault-bootstrap' });

/** The secret names of SPEC §3, plus the seal intent (an operator's emergency seal). */
export interface SecretNames {
  initClaim: string;
  unsealKeys: string;
  rootToken: string;
  provisionerToken: string;
  /** The sidecar's own token (configuring, sealing, drift repair): never handed to CI. */
  managementToken: string;
  sealIntent: string;
  /** --self-init: the cluster id of the self-initialized server, recorded on first sight (no keys record holds it). */
  selfInitCluster: string;
  /** OpenBao's static seal key (SPEC §13): one version per key, written by seal-key and rotate-seal-key. */
  sealKey: string;
  /** Which key each node last started with as current, and the newest key the stored keys are known to be re-wrapped with. */
  sealKeyRollout: string;
}

export function secretNames(prefix: string): SecretNames {
  return {
    initClaim: `${prefix}-init-claim`,
    unsealKeys: `${prefix}-unseal-keys`,
    rootToken: `${prefix}-root-token`,
    provisionerToken: `${prefix}-provisioner-token`,
    managementToken: `${prefix}-management-token`,
    sealIntent: `${prefix}-seal-intent`,
    selfInitCluster: `${prefix}-self-init-cluster`,
    sealKey: `${prefix}-seal-key`,
    sealKeyRollout: `${prefix}-seal-key-rollout`,
  };
}
