import type { GetSecretValueCommandOutput, ListSecretVersionIdsCommandOutput } from '@aws-sdk/client-secrets-manager';
import { describe, expect, test, vi } from 'vitest';
import { BootstrapError, ConfigError } from '../../src/errors.js';
import { AwsStore, type SecretsManagerApi } from '../../src/store/aws.js';

const FAKE_REQUEST_ID = 'req-7f3e-fake-request-id';
const FAKE_SECRET_VALUE = 'hvs.fake-secret-value-never-printed';

/** An error shaped like the SDK's service exceptions, carrying things we must never repeat. */
function sdkError(name: string, httpStatusCode: number | undefined, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(`${name}: request ${FAKE_REQUEST_ID} failed for value ${FAKE_SECRET_VALUE}`), {
    name,
    $fault: fault,
    $metadata: { httpStatusCode, requestId: FAKE_REQUEST_ID, extendedRequestId: FAKE_REQUEST_ID },
    SecretString: FAKE_SECRET_VALUE,
  });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1 while sending ${FAKE_SECRET_VALUE}`), { code });
}

/** A fake whose every call fails until a test says otherwise. */
function fakeApi(overrides: Partial<SecretsManagerApi> = {}): SecretsManagerApi {
  const unexpected = () => Promise.reject(new Error('unexpected call'));
  return {
    createSecret: vi.fn(unexpected),
    putSecretValue: vi.fn(unexpected),
    getSecretValue: vi.fn(unexpected),
    listSecretVersionIds: vi.fn(unexpected),
    destroy: vi.fn(),
    ...overrides,
  };
}

function expectClean(error: unknown): void {
  expect(error).toBeInstanceOf(BootstrapError);
  const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).message}`;
  expect(text).not.toContain(FAKE_REQUEST_ID);
  expect(text).not.toContain(FAKE_SECRET_VALUE);
  expect((error as Error).cause).toBeUndefined();
}

async function failure(promise: Promise<unknown>): Promise<BootstrapError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expectClean(error);
  return error as BootstrapError;
}

describe('AwsStore error translation', () => {
  test.each([
    ['ThrottlingException', 400],
    ['InternalServiceError', 500],
    ['ServiceUnavailable', 503],
  ])('%s (HTTP %i) is STORE_UNAVAILABLE without payload or request id', async (name, status) => {
    const store = new AwsStore(
      {},
      fakeApi({ getSecretValue: () => Promise.reject(sdkError(name, status, status >= 500 ? 'server' : 'client')) }),
    );
    const error = await failure(store.readLatest('vault-root-token'));
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toBe(`aws readLatest vault-root-token: ${name} (HTTP ${status})`);
    expect(error.statusCode).toBe(status);
  });

  test('a refused connection is STORE_UNAVAILABLE naming the errno only', async () => {
    const store = new AwsStore({}, fakeApi({ putSecretValue: () => Promise.reject(networkError('ECONNREFUSED')) }));
    const error = await failure(store.addVersion('vault-unseal-keys', FAKE_SECRET_VALUE));
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.message).toBe('aws addVersion vault-unseal-keys: ECONNREFUSED');
  });

  test('access denied during work is STORE_DENIED', async () => {
    const store = new AwsStore(
      {},
      fakeApi({ getSecretValue: () => Promise.reject(sdkError('AccessDeniedException', 400)) }),
    );
    const error = await failure(store.readLatest('vault-root-token'));
    expect(error.code).toBe('STORE_DENIED');
  });

  test('a service-chosen error name that does not look like one is not repeated', async () => {
    const store = new AwsStore(
      {},
      fakeApi({ getSecretValue: () => Promise.reject(sdkError(`Bad ${FAKE_SECRET_VALUE}`, 400)) }),
    );
    const error = await failure(store.readLatest('vault-root-token'));
    expect(error.message).toBe('aws readLatest vault-root-token: unknown error (HTTP 400)');
  });
});

describe('AwsStore.verifyAccess', () => {
  test('a missing probe secret means access works', async () => {
    const getSecretValue = vi.fn(() => Promise.reject(sdkError('ResourceNotFoundException', 400)));
    await new AwsStore({}, fakeApi({ getSecretValue })).verifyAccess('vault-init-claim');
    expect(getSecretValue).toHaveBeenCalledWith({ SecretId: 'vault-init-claim' });
  });

  test.each([
    ['AccessDeniedException', sdkError('AccessDeniedException', 400), /secretsmanager:GetSecretValue/],
    [
      'CredentialsProviderError',
      Object.assign(new Error(`no creds ${FAKE_SECRET_VALUE}`), { name: 'CredentialsProviderError' }),
      /AWS credentials not found/,
    ],
    [
      'UnrecognizedClientException',
      sdkError('UnrecognizedClientException', 400),
      /credentials were rejected \(UnrecognizedClientException/,
    ],
    ['missing region', new Error('Region is missing'), /--aws-region\/VB_AWS_REGION/],
  ])('%s is a ConfigError naming what to fix', async (_label, thrown, message) => {
    const store = new AwsStore({}, fakeApi({ getSecretValue: () => Promise.reject(thrown) }));
    const error = await failure(store.verifyAccess('vault-init-claim'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(message);
  });

  test('a throttled probe stays STORE_UNAVAILABLE, not a configuration error', async () => {
    const store = new AwsStore(
      {},
      fakeApi({ getSecretValue: () => Promise.reject(sdkError('ThrottlingException', 400)) }),
    );
    expect((await failure(store.verifyAccess('vault-init-claim'))).code).toBe('STORE_UNAVAILABLE');
  });
});

describe('AwsStore writes', () => {
  test('create-if-absent tags the secret and passes the KMS key', async () => {
    const createSecret = vi.fn(() => Promise.resolve({ $metadata: {} }));
    await new AwsStore({ kmsKey: 'alias/vault' }, fakeApi({ createSecret })).createIfAbsent('vault-init-claim', '{}');
    expect(createSecret).toHaveBeenCalledWith({
      Name: 'vault-init-claim',
      SecretString: '{}',
      Tags: [{ Key: 'managed-by', Value: 'vault-bootstrap' }],
      KmsKeyId: 'alias/vault',
    });
  });

  test('create-if-absent loses with STORE_ALREADY_EXISTS on ResourceExistsException', async () => {
    const store = new AwsStore(
      {},
      fakeApi({ createSecret: () => Promise.reject(sdkError('ResourceExistsException', 400)) }),
    );
    expect((await failure(store.createIfAbsent('vault-init-claim', '{}'))).code).toBe('STORE_ALREADY_EXISTS');
  });

  test('a key or token is never put into a secret that exists without a version (someone else created it): refused, named', async () => {
    const notFound = () => Promise.reject(sdkError('ResourceNotFoundException', 400));
    const putSecretValue = vi.fn(() => Promise.resolve({ $metadata: {} }));
    const store = new AwsStore(
      {},
      fakeApi({
        getSecretValue: notFound,
        createSecret: () => Promise.reject(sdkError('ResourceExistsException', 400)),
        listSecretVersionIds: async () => ({ Versions: [], $metadata: {} }),
        putSecretValue,
      }),
    );
    const error = await failure(store.addVersion('vault-unseal-keys', FAKE_SECRET_VALUE, { holdsSecret: true }));
    expect(error.code).toBe('STORE_DENIED');
    expect(error.message).toMatch(
      /^aws addVersion vault-unseal-keys: the secret exists but holds no version: someone else created it/,
    );
    expect(putSecretValue).not.toHaveBeenCalled();
  });

  test('a key or token: an absent secret is created with its first value in one call', async () => {
    const createSecret = vi.fn(() => Promise.resolve({ $metadata: {} }));
    await new AwsStore(
      {},
      fakeApi({ getSecretValue: () => Promise.reject(sdkError('ResourceNotFoundException', 400)), createSecret }),
    ).addVersion('vault-root-token', 'value', { holdsSecret: true });
    expect(createSecret).toHaveBeenCalledWith(
      expect.objectContaining({
        Name: 'vault-root-token',
        SecretString: 'value',
        Tags: [{ Key: 'managed-by', Value: 'vault-bootstrap' }],
      }),
    );
  });

  test('add version on a secret another writer creates meanwhile lands on top of theirs', async () => {
    const putSecretValue = vi
      .fn<SecretsManagerApi['putSecretValue']>()
      .mockRejectedValueOnce(sdkError('ResourceNotFoundException', 400))
      .mockResolvedValueOnce({ $metadata: {} });
    const createSecret = vi.fn(() => Promise.reject(sdkError('ResourceExistsException', 400)));
    await new AwsStore({}, fakeApi({ putSecretValue, createSecret })).addVersion('vault-root-token', 'value');
    expect(createSecret).toHaveBeenCalledOnce();
    expect(putSecretValue).toHaveBeenCalledTimes(2);
  });
});

describe('AwsStore reads', () => {
  test('a missing secret reads as STORE_NOT_FOUND and has no history', async () => {
    const notFound = () => Promise.reject(sdkError('ResourceNotFoundException', 400));
    const store = new AwsStore({}, fakeApi({ getSecretValue: notFound, listSecretVersionIds: notFound }));
    expect((await failure(store.readLatest('vault-root-token'))).code).toBe('STORE_NOT_FOUND');
    await expect(store.readAllVersions('vault-root-token')).resolves.toEqual([]);
  });

  test('history is oldest first across pages; ties go by staging label; a version removed meanwhile is skipped', async () => {
    const second = new Date('2026-01-01T00:00:01Z');
    const pages: Record<string, ListSecretVersionIdsCommandOutput> = {
      first: {
        $metadata: {},
        Versions: [{ VersionId: 'current', VersionStages: ['AWSCURRENT'] }, { VersionId: 'gone' }],
        NextToken: 'page-2',
      },
      'page-2': {
        $metadata: {},
        Versions: [{ VersionId: 'previous', VersionStages: ['AWSPREVIOUS'] }, { VersionId: 'oldest' }],
      },
    };
    const values: Record<string, GetSecretValueCommandOutput> = {
      current: { $metadata: {}, SecretString: 'v3', CreatedDate: second },
      previous: { $metadata: {}, SecretString: 'v2', CreatedDate: second },
      oldest: { $metadata: {}, SecretString: 'v1', CreatedDate: new Date('2026-01-01T00:00:00Z') },
    };
    const listSecretVersionIds = vi.fn<SecretsManagerApi['listSecretVersionIds']>(
      async (input) => pages[input.NextToken ?? 'first'] as ListSecretVersionIdsCommandOutput,
    );
    const getSecretValue = vi.fn<SecretsManagerApi['getSecretValue']>(async (input) => {
      const value = values[input.VersionId ?? ''];
      if (value === undefined) throw sdkError('ResourceNotFoundException', 400);
      return value;
    });
    const store = new AwsStore({}, fakeApi({ listSecretVersionIds, getSecretValue }));
    await expect(store.readAllVersions('vault-provisioner-token')).resolves.toEqual(['v1', 'v2', 'v3']);
    expect(listSecretVersionIds).toHaveBeenCalledWith(expect.objectContaining({ IncludeDeprecated: true }));
  });

  test('a version without text is STORE_CORRUPT', async () => {
    const store = new AwsStore(
      {},
      fakeApi({ getSecretValue: async () => ({ $metadata: {}, SecretBinary: new Uint8Array([1]) }) }),
    );
    expect((await failure(store.readLatest('vault-root-token'))).code).toBe('STORE_CORRUPT');
  });
});
