import { setTimeout as sleep } from 'node:timers/promises';
import { isLoopback } from '../loopback.js';
import type { protos } from '@google-cloud/secret-manager';
// The client's own module, not the package index: the index also loads v1beta2 and the 770 KB
// static protos.js (~2-4 MiB of RSS) that only the types above come from.
import { SecretManagerServiceClient } from '@google-cloud/secret-manager/build/src/v1/secret_manager_service_client.js';
import { grpc, Status } from 'google-gax';
import { CALL_DEADLINE_MS } from '../deadlines.js';
import { foreignSecretError, storeError, type SdkFailure } from './errors.js';
import { BootstrapError, ConfigError, StoreAlreadyExistsError, StoreNotFoundError } from '../errors.js';
import { MANAGED_LABELS, type AddVersionOptions, type SecretStore, type VersionInfo } from './types.js';

type Replication = protos.google.cloud.secretmanager.v1.IReplication;
type SecretVersion = protos.google.cloud.secretmanager.v1.ISecretVersion;

/** The slice of the Secret Manager client this store calls, so tests can hand in a fake. */
export interface SecretManagerApi {
  getProjectId(): Promise<string>;
  createSecret(
    request: protos.google.cloud.secretmanager.v1.ICreateSecretRequest,
    options?: CallTimeout,
  ): Promise<unknown>;
  addSecretVersion(
    request: protos.google.cloud.secretmanager.v1.IAddSecretVersionRequest,
    options?: CallTimeout,
  ): Promise<unknown>;
  accessSecretVersion(
    request: protos.google.cloud.secretmanager.v1.IAccessSecretVersionRequest,
    options?: CallTimeout,
  ): Promise<[protos.google.cloud.secretmanager.v1.IAccessSecretVersionResponse, ...unknown[]]>;
  listSecretVersions(
    request: protos.google.cloud.secretmanager.v1.IListSecretVersionsRequest,
    options?: CallTimeout,
  ): Promise<[SecretVersion[], ...unknown[]]>;
  close(): Promise<void>;
}

export interface GcpStoreOptions {
  /** Project of the secrets; from Application Default Credentials when absent. */
  project?: string;
  /** `host:port` of a Secret Manager endpoint; plaintext gRPC only when the host is loopback. */
  endpoint?: string;
  /** Cloud KMS key name (`projects/…/locations/…/keyRings/…/cryptoKeys/…`) for CMEK. */
  kmsKey?: string;
}

/** gax's per-call timeout (its retries included): the client gives up on its own, as the store wrapper does. */
interface CallTimeout {
  timeout: number;
}
/** A fresh object each call: gax writes into the options it is given. */
const callTimeout = (): CallTimeout => ({ timeout: CALL_DEADLINE_MS.store });
const FIRST_VERSION_ATTEMPTS = 3;
const FIRST_VERSION_RETRY_MS = 250;

/**
 * GCP Secret Manager. One secret per name; every value is a new version.
 *
 * Creating a secret and adding its first version are two calls. Creating the secret is the
 * claim (SPEC §4): whoever gets ALREADY_EXISTS has lost, even if the winner crashed before its
 * first version. Such a secret reads as absent (readLatest throws StoreNotFoundError) and
 * createIfAbsent on it still loses; addVersion fills it in.
 */
export class GcpStore implements SecretStore {
  readonly kind = 'gcp';
  readonly #api: SecretManagerApi;
  readonly #replication: Replication;
  readonly #configuredProject: string | undefined;
  #project: Promise<string> | undefined;

  constructor(options: GcpStoreOptions = {}, api?: SecretManagerApi) {
    this.#replication = replicationFor(options.kmsKey);
    this.#configuredProject = options.project;
    this.#api = api ?? sdkApi(options.endpoint);
  }

  async verifyAccess(probeName: string): Promise<void> {
    const project = await this.#projectId();
    try {
      await this.#api.accessSecretVersion(
        { name: `projects/${project}/secrets/${probeName}/versions/latest` },
        callTimeout(),
      );
    } catch (error) {
      if (statusOf(error) === Status.NOT_FOUND) return;
      throw startupProblem(error, project) ?? translate(error, 'verifyAccess', probeName);
    }
  }

  async readLatest(name: string): Promise<string> {
    const secret = await this.#secretPath(name);
    const value = await this.#access(`${secret}/versions/latest`, 'readLatest', name);
    if (value === undefined) throw new StoreNotFoundError(name);
    return value;
  }

  async createIfAbsent(name: string, value: string): Promise<void> {
    await this.#createSecret(name);
    // We hold the claim now; a failed first version would leave it empty until it goes stale,
    // so retry briefly. A duplicate first version (an answer lost after success) is harmless.
    for (let attempt = 1; ; attempt += 1) {
      try {
        if (await this.#addSecretVersion(name, value)) return;
        throw new StoreNotFoundError(name);
      } catch (error) {
        const retryable = error instanceof BootstrapError && error.code === 'STORE_UNAVAILABLE';
        if (!retryable || attempt >= FIRST_VERSION_ATTEMPTS) throw error;
        await sleep(FIRST_VERSION_RETRY_MS * attempt);
      }
    }
  }

  async addVersion(name: string, value: string, options: AddVersionOptions = {}): Promise<void> {
    if (
      options.holdsSecret &&
      (await this.#access(`${await this.#secretPath(name)}/versions/latest`, 'addVersion', name)) === undefined
    ) {
      // Absent, or there without a version: create it ourselves; one that already exists
      // without any version is someone else's (or, rarely, ours after a crash between the two
      // calls that create one: README, "Store layout").
      try {
        await this.#createSecret(name);
      } catch (error) {
        if (!(error instanceof StoreAlreadyExistsError)) throw error;
        if ((await this.#enabledVersions(name, 'addVersion')).length === 0) throw foreignSecretError(this.kind, name);
      }
    }
    if (await this.#addSecretVersion(name, value)) return;
    try {
      await this.#createSecret(name);
    } catch (error) {
      // Another writer created it between our calls: add on top.
      if (!(error instanceof StoreAlreadyExistsError)) throw error;
    }
    if (!(await this.#addSecretVersion(name, value))) throw new StoreNotFoundError(name);
  }

  async readAllVersions(name: string): Promise<string[]> {
    const enabled = await this.#enabledVersions(name, 'readAllVersions');
    const values = await Promise.all(
      enabled.map((version) => this.#access(String(version.name), 'readAllVersions', name)),
    );
    return values.filter((value) => value !== undefined);
  }

  async listVersions(name: string): Promise<VersionInfo[]> {
    return (await this.#enabledVersions(name, 'listVersions')).map((version) => ({
      createdAt: timestampOf(version.createTime),
    }));
  }

  /** The secret's enabled versions, oldest first: version ids are sequential integers, a total order; create times can tie. */
  async #enabledVersions(name: string, operation: string): Promise<SecretVersion[]> {
    const secret = await this.#secretPath(name);
    let versions: SecretVersion[];
    try {
      [versions] = await this.#api.listSecretVersions({ parent: secret }, callTimeout());
    } catch (error) {
      if (statusOf(error) === Status.NOT_FOUND) return [];
      throw translate(error, operation, name);
    }
    return versions
      .filter((version) => isEnabled(version) && version.name)
      .sort((a, b) => versionNumberOf(a) - versionNumberOf(b));
  }

  async close(): Promise<void> {
    await this.#api.close();
  }

  /** The project, resolved once; a failure names the flag that fixes it. */
  #projectId(): Promise<string> {
    this.#project ??= this.#resolveProject();
    return this.#project;
  }

  async #resolveProject(): Promise<string> {
    if (this.#configuredProject !== undefined) return this.#configuredProject;
    try {
      return await this.#api.getProjectId();
    } catch {
      this.#project = undefined;
      throw new ConfigError('GCP project not found in the environment: use --gcp-project/VB_GCP_PROJECT');
    }
  }

  async #secretPath(name: string): Promise<string> {
    return `projects/${await this.#projectId()}/secrets/${name}`;
  }

  async #createSecret(name: string): Promise<void> {
    const project = await this.#projectId();
    try {
      await this.#api.createSecret(
        {
          parent: `projects/${project}`,
          secretId: name,
          secret: { replication: this.#replication, labels: { ...MANAGED_LABELS } },
        },
        callTimeout(),
      );
    } catch (error) {
      if (statusOf(error) === Status.ALREADY_EXISTS) throw new StoreAlreadyExistsError(name);
      throw translate(error, 'createSecret', name);
    }
  }

  /** addSecretVersion; false when the secret does not exist. */
  async #addSecretVersion(name: string, value: string): Promise<boolean> {
    const secret = await this.#secretPath(name);
    try {
      await this.#api.addSecretVersion(
        { parent: secret, payload: { data: Buffer.from(value, 'utf8') } },
        callTimeout(),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === Status.NOT_FOUND) return false;
      throw translate(error, 'addVersion', name);
    }
  }

  /** One version's text; undefined when it (or the secret) does not exist or was destroyed. */
  async #access(versionName: string, operation: string, name: string): Promise<string | undefined> {
    let response: protos.google.cloud.secretmanager.v1.IAccessSecretVersionResponse;
    try {
      [response] = await this.#api.accessSecretVersion({ name: versionName }, callTimeout());
    } catch (error) {
      const status = statusOf(error);
      // FAILED_PRECONDITION: the version was disabled or destroyed after we listed it.
      if (status === Status.NOT_FOUND || (operation === 'readAllVersions' && status === Status.FAILED_PRECONDITION))
        return undefined;
      throw translate(error, operation, name);
    }
    return decodePayload(response.payload?.data, name);
  }
}

function sdkApi(endpoint: string | undefined): SecretManagerApi {
  if (endpoint === undefined) return new SecretManagerServiceClient();
  const { host, port } = parseEndpoint(endpoint);
  return new SecretManagerServiceClient({
    apiEndpoint: host,
    port,
    // Emulators speak plaintext and want no Google credentials; anything off this machine gets
    // TLS and the credentials chain, so a mistyped endpoint never receives a token in the clear.
    ...(isLoopback(host) ? { sslCreds: grpc.credentials.createInsecure() } : {}),
  });
}

/** `host:port`, `[v6]:port`; the host as gRPC wants it (IPv6 in brackets). */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(endpoint);
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port >= 1 && port <= 65535)) {
    throw new ConfigError(
      `--gcp-endpoint/VB_GCP_ENDPOINT: expected host:port (e.g. 127.0.0.1:8085), got ${JSON.stringify(endpoint)}`,
    );
  }
  return { host: match[1], port };
}

/**
 * Without a key: automatic replication, Google-managed encryption. With one: automatic
 * replication accepts only a `global` key, so a regional key pins the secret to a single
 * user-managed replica in the key's region; the secret lives where its key lives.
 */
function replicationFor(kmsKey: string | undefined): Replication {
  if (kmsKey === undefined) return { automatic: {} };
  const location = /^projects\/[^/]+\/locations\/([^/]+)\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/.exec(kmsKey)?.[1];
  if (location === undefined) {
    throw new ConfigError(
      '--kms-key/VB_KMS_KEY: expected projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY for the gcp store',
    );
  }
  const customerManagedEncryption = { kmsKeyName: kmsKey };
  return location === 'global'
    ? { automatic: { customerManagedEncryption } }
    : { userManaged: { replicas: [{ location, customerManagedEncryption }] } };
}

/** google.cloud.secretmanager.v1.SecretVersion.State.ENABLED (protos.json). */
const SECRET_VERSION_ENABLED = 1;

function isEnabled(version: SecretVersion): boolean {
  // gRPC decodes enums as names; a client built with numeric enums would give the number.
  return version.state === 'ENABLED' || version.state === SECRET_VERSION_ENABLED;
}

function versionNumberOf(version: SecretVersion): number {
  return Number(/\/versions\/(\d+)$/.exec(version.name ?? '')?.[1] ?? Number.MAX_SAFE_INTEGER);
}

function decodePayload(data: Uint8Array | string | null | undefined, name: string): string {
  if (data === null || data === undefined)
    throw new BootstrapError('STORE_CORRUPT', `gcp secret ${name} has a version without payload`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'base64') : data;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BootstrapError('STORE_CORRUPT', `gcp secret ${name} is not UTF-8 text`);
  }
}

const TRANSIENT_STATUSES = new Set<number>([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.INTERNAL,
  Status.ABORTED,
  Status.UNKNOWN,
  Status.CANCELLED,
]);

/**
 * A client error as our error: the operation, the secret name and the gRPC status name (or
 * errno), never the message, metadata or cause (they can carry request details).
 */
function translate(error: unknown, operation: string, name: string): BootstrapError {
  return storeError('gcp', operation, name, error, classify);
}

function classify(error: unknown): SdkFailure {
  const status = statusOf(error);
  const transient =
    status === undefined
      ? !isMissingCredentials(error)
      : TRANSIENT_STATUSES.has(status) && !isMissingCredentials(error);
  return { transient, reason: reasonOf(error) };
}

/** Start-up failures an operator fixes in configuration: one line naming what is missing. */
function startupProblem(error: unknown, project: string): ConfigError | undefined {
  const status = statusOf(error);
  if (isMissingCredentials(error) || status === Status.UNAUTHENTICATED) {
    return new ConfigError(
      'GCP credentials not found or rejected: use Workload Identity or GOOGLE_APPLICATION_CREDENTIALS',
    );
  }
  if (status === Status.PERMISSION_DENIED) {
    return new ConfigError(
      `GCP project ${project}: permission secretmanager.versions.access denied (or the project does not exist or has the Secret Manager API disabled); check --gcp-project/VB_GCP_PROJECT and the service account's roles`,
    );
  }
  if (status === Status.INVALID_ARGUMENT)
    return new ConfigError(
      `GCP project ${project} was rejected (INVALID_ARGUMENT): check --gcp-project/VB_GCP_PROJECT`,
    );
  return undefined;
}

function timestampOf(time: SecretVersion['createTime']): string | null {
  const seconds = Number(time?.seconds ?? 0);
  return seconds > 0 ? new Date(seconds * 1000).toISOString() : null;
}

/** google-auth-library's failure to find any credentials; gRPC reports it as UNAVAILABLE. */
function isMissingCredentials(error: unknown): boolean {
  return error instanceof Error && error.message.includes('Could not load the default credentials');
}

/** The gRPC status code (0–16) of a client error; anything else is not one. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Number.isInteger(code) && code >= Status.OK && code <= Status.UNAUTHENTICATED
    ? code
    : undefined;
}

function reasonOf(error: unknown): string {
  if (isMissingCredentials(error)) return 'credentials not found';
  const status = statusOf(error);
  if (status !== undefined) return Status[status] ?? `status ${status}`;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  const name = error instanceof Error ? error.name : '';
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(name) ? name : 'unknown error';
}
