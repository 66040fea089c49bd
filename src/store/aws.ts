import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  type CreateSecretCommandInput,
  type CreateSecretCommandOutput,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
  type ListSecretVersionIdsCommandInput,
  type ListSecretVersionIdsCommandOutput,
  type PutSecretValueCommandInput,
  type PutSecretValueCommandOutput,
  type SecretVersionsListEntry,
} from '@aws-sdk/client-secrets-manager';
import { CALL_DEADLINE_MS } from '../deadlines.js';
import { foreignSecretError, storeError, type SdkFailure } from './errors.js';
import { BootstrapError, ConfigError, StoreAlreadyExistsError, StoreNotFoundError } from '../errors.js';
import { MANAGED_LABELS, type AddVersionOptions, type SecretStore, type VersionInfo } from './types.js';

/** The slice of Secrets Manager this store calls, so tests can hand in a fake. */
export interface SecretsManagerApi {
  createSecret(input: CreateSecretCommandInput): Promise<CreateSecretCommandOutput>;
  putSecretValue(input: PutSecretValueCommandInput): Promise<PutSecretValueCommandOutput>;
  getSecretValue(input: GetSecretValueCommandInput): Promise<GetSecretValueCommandOutput>;
  listSecretVersionIds(input: ListSecretVersionIdsCommandInput): Promise<ListSecretVersionIdsCommandOutput>;
  destroy(): void;
}

export interface AwsStoreOptions {
  /** Falls back to the SDK's own resolution (AWS_REGION, shared config) when absent. */
  region?: string;
  /** KMS key id, ARN or alias for new secrets; the account's default key when absent. */
  kmsKey?: string;
}

const CONNECTION_TIMEOUT_MS = 5_000;

/**
 * AWS Secrets Manager. One secret per name; every value is a new version. The SDK reads
 * the endpoint override (AWS_ENDPOINT_URL_SECRETS_MANAGER, then AWS_ENDPOINT_URL) and the
 * credentials chain itself, as SPEC §2 promises operators.
 *
 * AWS keeps about 100 versions of a secret and removes the oldest ones that carry no staging
 * label (never one younger than a day). That is harmless here: a version is added only at
 * initialization, re-initialization, a root-token change or a provisioner-token rotation
 * (weeks apart), so 100 versions take years; correctness rests on AWSCURRENT (and AWSPREVIOUS),
 * which are never removed. readAllVersions is history, and skips a version removed while it reads.
 */
export class AwsStore implements SecretStore {
  readonly kind = 'aws';
  readonly #api: SecretsManagerApi;
  readonly #kmsKey: string | undefined;

  constructor(options: AwsStoreOptions = {}, api?: SecretsManagerApi) {
    this.#kmsKey = options.kmsKey;
    this.#api = api ?? sdkApi(options.region);
  }

  async verifyAccess(probeName: string): Promise<void> {
    try {
      await this.#api.getSecretValue({ SecretId: probeName });
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return;
      throw startupProblem(error, probeName) ?? translate(error, 'verifyAccess', probeName);
    }
  }

  async readLatest(name: string): Promise<string> {
    let output: GetSecretValueCommandOutput;
    try {
      output = await this.#api.getSecretValue({ SecretId: name, VersionStage: 'AWSCURRENT' });
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') throw new StoreNotFoundError(name);
      throw translate(error, 'readLatest', name);
    }
    return secretStringOf(output, name);
  }

  async createIfAbsent(name: string, value: string): Promise<void> {
    // CreateSecret with its first value is one atomic call: the claim of SPEC §4. The SDK fills
    // ClientRequestToken once per call, so its own retries cannot turn our win into a loss.
    try {
      await this.#api.createSecret({
        Name: name,
        SecretString: value,
        Tags: Object.entries(MANAGED_LABELS).map(([Key, Value]) => ({ Key, Value })),
        ...(this.#kmsKey === undefined ? {} : { KmsKeyId: this.#kmsKey }),
      });
    } catch (error) {
      if (errorName(error) === 'ResourceExistsException') throw new StoreAlreadyExistsError(name);
      throw translate(error, 'createIfAbsent', name);
    }
  }

  async addVersion(name: string, value: string, options: AddVersionOptions = {}): Promise<void> {
    if (options.holdsSecret && !(await this.#holdsAVersion(name))) {
      // Absent, or there without a version. CreateSecret writes its first version in the same
      // call, so a secret of ours always holds one: an empty one is someone else's.
      try {
        await this.createIfAbsent(name, value);
        return;
      } catch (error) {
        if (!(error instanceof StoreAlreadyExistsError)) throw error;
        if ((await this.#listVersions(name)).length === 0) throw foreignSecretError(this.kind, name);
      }
    }
    if (await this.#putValue(name, value)) return;
    try {
      await this.createIfAbsent(name, value);
      return;
    } catch (error) {
      // Another writer created the secret between our two calls: add on top of theirs.
      if (!(error instanceof StoreAlreadyExistsError)) throw error;
    }
    if (!(await this.#putValue(name, value))) throw new StoreNotFoundError(name);
  }

  async readAllVersions(name: string): Promise<string[]> {
    const listed = await this.#listVersions(name);
    const versions = await Promise.all(listed.map((entry) => this.#readVersion(name, entry)));
    return versions
      .filter((version) => version !== undefined)
      .sort((a, b) => a.createdAt - b.createdAt || a.stageRank - b.stageRank)
      .map((version) => version.value);
  }

  async listVersions(name: string): Promise<VersionInfo[]> {
    return (await this.#listVersions(name))
      .map((entry) => entry.CreatedDate?.getTime() ?? 0)
      .sort((a, b) => a - b)
      .map((createdAt) => ({ createdAt: createdAt === 0 ? null : new Date(createdAt).toISOString() }));
  }

  async close(): Promise<void> {
    this.#api.destroy();
  }

  /** Whether the secret has a current version (GetSecretValue: moto answers ListSecretVersionIds on a missing secret with HTTP 500). */
  async #holdsAVersion(name: string): Promise<boolean> {
    try {
      await this.#api.getSecretValue({ SecretId: name, VersionStage: 'AWSCURRENT' });
      return true;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return false;
      throw translate(error, 'addVersion', name);
    }
  }

  /** PutSecretValue; false when the secret does not exist. */
  async #putValue(name: string, value: string): Promise<boolean> {
    try {
      await this.#api.putSecretValue({ SecretId: name, SecretString: value });
      return true;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return false;
      throw translate(error, 'addVersion', name);
    }
  }

  async #listVersions(name: string): Promise<SecretVersionsListEntry[]> {
    const entries: SecretVersionsListEntry[] = [];
    let nextToken: string | undefined;
    do {
      let page: ListSecretVersionIdsCommandOutput;
      try {
        page = await this.#api.listSecretVersionIds({ SecretId: name, IncludeDeprecated: true, NextToken: nextToken });
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return [];
        throw translate(error, 'readAllVersions', name);
      }
      entries.push(...(page.Versions ?? []));
      nextToken = page.NextToken || undefined;
    } while (nextToken !== undefined);
    return entries;
  }

  /**
   * One version's value with what orders it: its creation time, then its staging label, so that
   * AWSCURRENT comes last even when two versions share a timestamp (moto stores whole seconds).
   */
  async #readVersion(
    name: string,
    entry: SecretVersionsListEntry,
  ): Promise<{ value: string; createdAt: number; stageRank: number } | undefined> {
    if (entry.VersionId === undefined) return undefined;
    let output: GetSecretValueCommandOutput;
    try {
      output = await this.#api.getSecretValue({ SecretId: name, VersionId: entry.VersionId });
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw translate(error, 'readAllVersions', name);
    }
    const stages = entry.VersionStages ?? output.VersionStages ?? [];
    return {
      value: secretStringOf(output, name),
      createdAt: (output.CreatedDate ?? entry.CreatedDate)?.getTime() ?? 0,
      stageRank: stages.includes('AWSCURRENT') ? 2 : stages.includes('AWSPREVIOUS') ? 1 : 0,
    };
  }
}

function sdkApi(region: string | undefined): SecretsManagerApi {
  const client = new SecretsManagerClient({
    ...(region === undefined ? {} : { region }),
    // Without throwOnRequestTimeout the handler only logs a warning and keeps waiting: an endpoint
    // that accepts and never answers would hold the call for ever. The store wrapper bounds the
    // whole operation (SDK retries included); this ends each abandoned request as well.
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: CALL_DEADLINE_MS.store,
      throwOnRequestTimeout: true,
    },
  });
  return {
    createSecret: (input) => client.send(new CreateSecretCommand(input)),
    putSecretValue: (input) => client.send(new PutSecretValueCommand(input)),
    getSecretValue: (input) => client.send(new GetSecretValueCommand(input)),
    listSecretVersionIds: (input) => client.send(new ListSecretVersionIdsCommand(input)),
    destroy: () => client.destroy(),
  };
}

function secretStringOf(output: GetSecretValueCommandOutput, name: string): string {
  // The program writes SecretString only; a binary-only version was written by someone else.
  if (output.SecretString === undefined)
    throw new BootstrapError('STORE_CORRUPT', `aws secret ${name} has no text value`);
  return output.SecretString;
}

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServiceError',
  'InternalFailure',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const REJECTED_CREDENTIAL_NAMES = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
]);

/**
 * An SDK error as our error: the operation, the secret name and the error's name or errno,
 * never its message, request id or cause (they can carry request details).
 */
function translate(error: unknown, operation: string, name: string): BootstrapError {
  return storeError('aws', operation, name, error, classify);
}

function classify(error: unknown): SdkFailure {
  const statusCode = httpStatusOf(error);
  return {
    transient: isTransient(error, statusCode),
    reason: reasonOf(error),
    ...(statusCode === undefined ? {} : { statusCode }),
  };
}

function isTransient(error: unknown, statusCode: number | undefined): boolean {
  if (errnoOf(error) !== undefined) return true;
  if (TRANSIENT_NAMES.has(errorName(error))) return true;
  if (statusCode !== undefined) return statusCode >= 500 || statusCode === 429;
  // Neither a service answer nor a known configuration failure: let the caller retry.
  return !isRegionMissing(error) && errorName(error) !== 'CredentialsProviderError';
}

/** Start-up failures an operator fixes in configuration: one line naming what is missing. */
function startupProblem(error: unknown, probeName: string): ConfigError | undefined {
  const name = errorName(error);
  if (isRegionMissing(error))
    return new ConfigError('AWS region is not set: use --aws-region/VB_AWS_REGION (or AWS_REGION)');
  if (name === 'CredentialsProviderError') {
    return new ConfigError(
      'AWS credentials not found: use an IAM role for the service account (IRSA or EKS Pod Identity) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
  }
  if (REJECTED_CREDENTIAL_NAMES.has(name))
    return new ConfigError(
      `AWS credentials were rejected (${reasonOf(error)}): check the role or keys and --aws-region/VB_AWS_REGION`,
    );
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return new ConfigError(
      `AWS credentials lack secretsmanager:GetSecretValue on secret ${probeName} (the start-up probe); grant it with the other secretsmanager permissions`,
    );
  }
  return undefined;
}

function isRegionMissing(error: unknown): boolean {
  return error instanceof Error && error.message === 'Region is missing';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function httpStatusOf(error: unknown): number | undefined {
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata;
  return typeof metadata?.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** A name or errno only, and only if it looks like one: service-chosen text never reaches a log. */
function reasonOf(error: unknown): string {
  if (isRegionMissing(error)) return 'region not set';
  const reason = errnoOf(error) ?? errorName(error);
  const safe = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(reason) ? reason : 'unknown error';
  const statusCode = httpStatusOf(error);
  return statusCode === undefined ? safe : `${safe} (HTTP ${statusCode})`;
}
