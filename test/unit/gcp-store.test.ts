import { GoogleError, Status } from 'google-gax';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { CALL_DEADLINE_MS } from '../../src/deadlines.js';
import { BootstrapError, ConfigError } from '../../src/errors.js';
import { GcpStore, parseEndpoint, type SecretManagerApi } from '../../src/store/gcp.js';
import { isLoopback } from '../../src/loopback.js';
import { freePort } from '../../harness/child-server.js';

const PROJECT = 'vault-bootstrap-test';
const FAKE_REQUEST_ID = 'req-51b2-fake-request-id';
const FAKE_SECRET_VALUE = 'hvs.fake-secret-value-never-printed';
/** Every client call carries gax's timeout: the store's call deadline. */
const CALL_TIMEOUT = { timeout: CALL_DEADLINE_MS.store };

/** An error shaped like the client's, carrying things we must never repeat. */
function clientError(
  code: Status,
  message = `${Status[code]}: request ${FAKE_REQUEST_ID} failed for ${FAKE_SECRET_VALUE}`,
): GoogleError {
  return Object.assign(new GoogleError(message), {
    code,
    details: `payload ${FAKE_SECRET_VALUE}`,
    metadata: { 'x-request-id': FAKE_REQUEST_ID },
  });
}

function payload(value: string): [{ payload: { data: Buffer } }] {
  return [{ payload: { data: Buffer.from(value, 'utf8') } }];
}

/** A fake whose every call fails until a test says otherwise. */
function fakeApi(overrides: Partial<SecretManagerApi> = {}): SecretManagerApi {
  const unexpected = () => Promise.reject(new Error('unexpected call'));
  return {
    getProjectId: vi.fn(unexpected),
    createSecret: vi.fn(unexpected),
    addSecretVersion: vi.fn(unexpected),
    accessSecretVersion: vi.fn(unexpected),
    listSecretVersions: vi.fn(unexpected),
    close: vi.fn(() => Promise.resolve()),
    ...overrides,
  };
}

function storeWith(overrides: Partial<SecretManagerApi>, options: { kmsKey?: string } = {}): GcpStore {
  return new GcpStore({ project: PROJECT, ...options }, fakeApi(overrides));
}

async function failure(promise: Promise<unknown>): Promise<BootstrapError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BootstrapError);
  const text = `${String(error)} ${JSON.stringify(error)}`;
  expect(text).not.toContain(FAKE_REQUEST_ID);
  expect(text).not.toContain(FAKE_SECRET_VALUE);
  expect((error as Error).cause).toBeUndefined();
  return error as BootstrapError;
}

describe('GcpStore error translation', () => {
  test.each([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED, Status.RESOURCE_EXHAUSTED, Status.INTERNAL])(
    'status %i is STORE_UNAVAILABLE without payload or request id',
    async (code) => {
      const store = storeWith({ accessSecretVersion: () => Promise.reject(clientError(code)) });
      const error = await failure(store.readLatest('vault-root-token'));
      expect(error.code).toBe('STORE_UNAVAILABLE');
      expect(error.message).toBe(`gcp readLatest vault-root-token: ${Status[code]}`);
    },
  );

  test.each([Status.PERMISSION_DENIED, Status.UNAUTHENTICATED, Status.INVALID_ARGUMENT])(
    'status %i during work is STORE_DENIED',
    async (code) => {
      const store = storeWith({ addSecretVersion: () => Promise.reject(clientError(code)) });
      expect((await failure(store.addVersion('vault-unseal-keys', FAKE_SECRET_VALUE))).code).toBe('STORE_DENIED');
    },
  );

  test('credentials that cannot be found are STORE_DENIED even though gRPC calls it UNAVAILABLE', async () => {
    const thrown = clientError(
      Status.UNAVAILABLE,
      'Getting metadata from plugin failed with error: Could not load the default credentials.',
    );
    const store = storeWith({ accessSecretVersion: () => Promise.reject(thrown) });
    const error = await failure(store.readLatest('vault-root-token'));
    expect(error.code).toBe('STORE_DENIED');
    expect(error.message).toBe('gcp readLatest vault-root-token: credentials not found');
  });
});

describe('GcpStore.verifyAccess', () => {
  test('a missing probe secret means access works', async () => {
    const accessSecretVersion = vi.fn(() => Promise.reject(clientError(Status.NOT_FOUND)));
    await storeWith({ accessSecretVersion }).verifyAccess('vault-init-claim');
    expect(accessSecretVersion).toHaveBeenCalledWith(
      { name: `projects/${PROJECT}/secrets/vault-init-claim/versions/latest` },
      CALL_TIMEOUT,
    );
  });

  test.each([
    [
      'PERMISSION_DENIED',
      clientError(Status.PERMISSION_DENIED),
      /secretmanager\.versions\.access.*--gcp-project\/VB_GCP_PROJECT/,
    ],
    ['UNAUTHENTICATED', clientError(Status.UNAUTHENTICATED), /GCP credentials not found or rejected/],
    [
      'missing credentials',
      clientError(Status.UNAVAILABLE, 'Could not load the default credentials.'),
      /GCP credentials not found/,
    ],
  ])('%s is a ConfigError naming what to fix', async (_label, thrown, message) => {
    const error = await failure(
      storeWith({ accessSecretVersion: () => Promise.reject(thrown) }).verifyAccess('vault-init-claim'),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
  });

  test('a project that cannot be found is a ConfigError naming the flag', async () => {
    const getProjectId = vi.fn(() => Promise.reject(new Error(`Unable to detect a Project Id ${FAKE_SECRET_VALUE}`)));
    const store = new GcpStore({}, fakeApi({ getProjectId }));
    const error = await failure(store.verifyAccess('vault-init-claim'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/--gcp-project\/VB_GCP_PROJECT/);
  });

  test('the project comes from the credentials when not configured', async () => {
    const accessSecretVersion = vi.fn(() => Promise.reject(clientError(Status.NOT_FOUND)));
    await new GcpStore({}, fakeApi({ getProjectId: async () => 'from-adc', accessSecretVersion })).verifyAccess(
      'vault-init-claim',
    );
    expect(accessSecretVersion).toHaveBeenCalledWith(
      { name: `projects/from-adc/secrets/vault-init-claim/versions/latest` },
      CALL_TIMEOUT,
    );
  });

  test('an unavailable service stays STORE_UNAVAILABLE, not a configuration error', async () => {
    const error = await failure(
      storeWith({ accessSecretVersion: () => Promise.reject(clientError(Status.UNAVAILABLE)) }).verifyAccess(
        'vault-init-claim',
      ),
    );
    expect(error.code).toBe('STORE_UNAVAILABLE');
  });
});

describe('GcpStore writes', () => {
  test('create-if-absent creates a labelled, automatically replicated secret, then its first version', async () => {
    const createSecret = vi.fn(() => Promise.resolve([{}]));
    const addSecretVersion = vi.fn(() => Promise.resolve([{}]));
    await storeWith({ createSecret, addSecretVersion }).createIfAbsent('vault-init-claim', '{"holder":"a"}');
    expect(createSecret).toHaveBeenCalledWith(
      {
        parent: `projects/${PROJECT}`,
        secretId: 'vault-init-claim',
        secret: { replication: { automatic: {} }, labels: { 'managed-by': 'vault-bootstrap' } },
      },
      CALL_TIMEOUT,
    );
    expect(addSecretVersion).toHaveBeenCalledWith(
      {
        parent: `projects/${PROJECT}/secrets/vault-init-claim`,
        payload: { data: Buffer.from('{"holder":"a"}', 'utf8') },
      },
      CALL_TIMEOUT,
    );
  });

  test('create-if-absent loses with STORE_ALREADY_EXISTS on ALREADY_EXISTS and adds nothing', async () => {
    const addSecretVersion = vi.fn();
    const store = storeWith({
      createSecret: () => Promise.reject(clientError(Status.ALREADY_EXISTS)),
      addSecretVersion,
    });
    expect((await failure(store.createIfAbsent('vault-init-claim', '{}'))).code).toBe('STORE_ALREADY_EXISTS');
    expect(addSecretVersion).not.toHaveBeenCalled();
  });

  test('the winner retries a first version that failed transiently', async () => {
    const addSecretVersion = vi
      .fn<SecretManagerApi['addSecretVersion']>()
      .mockRejectedValueOnce(clientError(Status.UNAVAILABLE))
      .mockResolvedValueOnce([{}]);
    await storeWith({ createSecret: () => Promise.resolve([{}]), addSecretVersion }).createIfAbsent(
      'vault-init-claim',
      '{}',
    );
    expect(addSecretVersion).toHaveBeenCalledTimes(2);
  });

  test('a secret left without a version (crash between the two calls) stays claimed, reads as absent, and can be filled', async () => {
    const addSecretVersion = vi.fn(() => Promise.resolve([{}]));
    const store = storeWith({
      createSecret: () => Promise.reject(clientError(Status.ALREADY_EXISTS)),
      accessSecretVersion: () => Promise.reject(clientError(Status.NOT_FOUND)),
      listSecretVersions: async () => [[]],
      addSecretVersion,
    });
    expect((await failure(store.readLatest('vault-init-claim'))).code).toBe('STORE_NOT_FOUND');
    await expect(store.readAllVersions('vault-init-claim')).resolves.toEqual([]);
    expect((await failure(store.createIfAbsent('vault-init-claim', '{}'))).code).toBe('STORE_ALREADY_EXISTS');
    await store.addVersion('vault-init-claim', '{}');
    expect(addSecretVersion).toHaveBeenCalledOnce();
  });

  test('a key or token is never added to a secret that exists without a version (someone else created it): refused, named', async () => {
    const addSecretVersion = vi.fn(() => Promise.resolve([{}]));
    const store = storeWith({
      accessSecretVersion: () => Promise.reject(clientError(Status.NOT_FOUND)),
      createSecret: () => Promise.reject(clientError(Status.ALREADY_EXISTS)),
      listSecretVersions: async () => [[]],
      addSecretVersion,
    });
    const error = await failure(store.addVersion('vault-unseal-keys', FAKE_SECRET_VALUE, { holdsSecret: true }));
    expect(error.code).toBe('STORE_DENIED');
    expect(error.message).toMatch(
      /^gcp addVersion vault-unseal-keys: the secret exists but holds no version: someone else created it/,
    );
    expect(addSecretVersion).not.toHaveBeenCalled();
  });

  test('a key or token: an absent secret is created with labels, then filled; one holding a version gets a new one', async () => {
    const addSecretVersion = vi.fn(() => Promise.resolve([{}]));
    const createSecret = vi.fn(() => Promise.resolve([{}]));
    await storeWith({
      accessSecretVersion: () => Promise.reject(clientError(Status.NOT_FOUND)),
      createSecret,
      addSecretVersion,
    }).addVersion('vault-root-token', 'value', { holdsSecret: true });
    expect(createSecret).toHaveBeenCalledOnce();
    expect(addSecretVersion).toHaveBeenCalledOnce();
    const existing = storeWith({ accessSecretVersion: async () => payload('older'), addSecretVersion });
    await existing.addVersion('vault-root-token', 'value', { holdsSecret: true });
    expect(addSecretVersion).toHaveBeenCalledTimes(2);
  });

  test('add version on a secret another writer creates meanwhile lands on top of theirs', async () => {
    const addSecretVersion = vi
      .fn<SecretManagerApi['addSecretVersion']>()
      .mockRejectedValueOnce(clientError(Status.NOT_FOUND))
      .mockResolvedValueOnce([{}]);
    const createSecret = vi.fn(() => Promise.reject(clientError(Status.ALREADY_EXISTS)));
    await storeWith({ addSecretVersion, createSecret }).addVersion('vault-root-token', 'value');
    expect(createSecret).toHaveBeenCalledOnce();
    expect(addSecretVersion).toHaveBeenCalledTimes(2);
  });

  test.each([
    [
      'a global key: automatic replication with CMEK',
      'projects/p/locations/global/keyRings/r/cryptoKeys/k',
      {
        automatic: { customerManagedEncryption: { kmsKeyName: 'projects/p/locations/global/keyRings/r/cryptoKeys/k' } },
      },
    ],
    [
      'a regional key: one user-managed replica in its region',
      'projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k',
      {
        userManaged: {
          replicas: [
            {
              location: 'europe-west1',
              customerManagedEncryption: { kmsKeyName: 'projects/p/locations/europe-west1/keyRings/r/cryptoKeys/k' },
            },
          ],
        },
      },
    ],
  ])('%s', async (_label, kmsKey, replication) => {
    const createSecret = vi.fn(() => Promise.resolve([{}]));
    await storeWith({ createSecret, addSecretVersion: () => Promise.resolve([{}]) }, { kmsKey }).createIfAbsent(
      'vault-init-claim',
      '{}',
    );
    expect(createSecret).toHaveBeenCalledWith(
      expect.objectContaining({ secret: expect.objectContaining({ replication }) }),
      CALL_TIMEOUT,
    );
  });

  test('a KMS key that is not a Cloud KMS key name is a ConfigError naming the flag', () => {
    expect(() => new GcpStore({ project: PROJECT, kmsKey: 'alias/vault' }, fakeApi())).toThrow(/--kms-key\/VB_KMS_KEY/);
  });
});

describe('GcpStore reads', () => {
  test('latest reads the latest alias as UTF-8', async () => {
    const accessSecretVersion = vi.fn(async () => payload('ÄÖÜ-🔑\n'));
    await expect(storeWith({ accessSecretVersion }).readLatest('vault-root-token')).resolves.toBe('ÄÖÜ-🔑\n');
    expect(accessSecretVersion).toHaveBeenCalledWith(
      { name: `projects/${PROJECT}/secrets/vault-root-token/versions/latest` },
      CALL_TIMEOUT,
    );
  });

  test('a missing secret has no history', async () => {
    const store = storeWith({ listSecretVersions: () => Promise.reject(clientError(Status.NOT_FOUND)) });
    await expect(store.readAllVersions('vault-root-token')).resolves.toEqual([]);
  });

  test('history holds the enabled versions in version order, skipping one destroyed meanwhile', async () => {
    const secret = `projects/${PROJECT}/secrets/vault-provisioner-token`;
    // The API lists newest first; version 10 must sort after 9, not after 1.
    const listed = [
      { name: `${secret}/versions/10`, state: 'ENABLED' as const },
      { name: `${secret}/versions/9`, state: 'ENABLED' as const },
      { name: `${secret}/versions/3`, state: 'ENABLED' as const },
      { name: `${secret}/versions/2`, state: 'DESTROYED' as const },
      { name: `${secret}/versions/1`, state: 'ENABLED' as const },
    ];
    const values: Record<string, string> = { '10': 'v10', '9': 'v9', '1': 'v1' };
    const accessSecretVersion = vi.fn<SecretManagerApi['accessSecretVersion']>(async (request) => {
      const value = values[String(request.name).split('/').at(-1) ?? ''];
      if (value === undefined) throw clientError(Status.FAILED_PRECONDITION);
      return payload(value);
    });
    const store = storeWith({ listSecretVersions: async () => [listed], accessSecretVersion });
    await expect(store.readAllVersions('vault-provisioner-token')).resolves.toEqual(['v1', 'v9', 'v10']);
    expect(accessSecretVersion).not.toHaveBeenCalledWith({ name: `${secret}/versions/2` }, CALL_TIMEOUT);
  });

  test('a payload that is not UTF-8 is STORE_CORRUPT', async () => {
    const store = storeWith({ accessSecretVersion: async () => [{ payload: { data: Buffer.from([0xff, 0xfe]) } }] });
    expect((await failure(store.readLatest('vault-root-token'))).code).toBe('STORE_CORRUPT');
  });
});

describe('GcpStore endpoint', () => {
  // The one real client here gets an explicit project and a loopback endpoint, so it never looks
  // for credentials; this keeps the auth library from probing for a metadata server regardless.
  beforeAll(() => {
    vi.stubEnv('METADATA_SERVER_DETECTION', 'none');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  test.each([
    ['127.0.0.1:8085', { host: '127.0.0.1', port: 8085 }],
    ['localhost:9090', { host: 'localhost', port: 9090 }],
    ['[::1]:8085', { host: '[::1]', port: 8085 }],
    ['secretmanager.example.internal:443', { host: 'secretmanager.example.internal', port: 443 }],
  ])('%s parses', (endpoint, expected) => {
    expect(parseEndpoint(endpoint)).toEqual(expected);
  });

  test.each(['127.0.0.1', 'http://127.0.0.1:8085', '127.0.0.1:0', '127.0.0.1:70000', ':8085'])(
    '%s is a ConfigError naming the flag',
    (endpoint) => {
      expect(() => parseEndpoint(endpoint)).toThrow(/--gcp-endpoint\/VB_GCP_ENDPOINT/);
    },
  );

  test.each([
    ['127.0.0.1', true],
    ['127.45.6.7', true],
    ['localhost', true],
    ['[::1]', true],
    ['[0:0:0:0:0:0:0:1]', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['[::2]', false],
    ['localhost.example.com', false],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  test('the real client on a loopback endpoint speaks plaintext gRPC and reports a refused connection as STORE_UNAVAILABLE', async () => {
    const port = await freePort();
    const store = new GcpStore({ project: PROJECT, endpoint: `127.0.0.1:${port}` });
    try {
      const error = await failure(store.createIfAbsent('vault-init-claim', FAKE_SECRET_VALUE));
      expect(error.code).toBe('STORE_UNAVAILABLE');
      expect(error.message).toBe('gcp createSecret vault-init-claim: UNAVAILABLE');
    } finally {
      await store.close();
    }
  });
});
