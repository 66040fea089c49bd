import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleError, Status } from 'google-gax';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { newSealKey, sealKey } from '../../src/commands/seal-key.js';
import type { StepContext } from '../../src/steps/context.js';
import { BootstrapError, StoreNotFoundError } from '../../src/errors.js';
import type { SecretStore } from '../../src/store/types.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError, StoreAlreadyExistsError } from '../../src/errors.js';
import { decide, EMPTY_MEMORY, type Observation } from '../../src/machine/decide.js';
import { Secret } from '../../src/secret.js';
import { chooseSealKeys, rolloutComplete } from '../../src/seal-key/choose.js';
import { sealStanza, writeSealKeyFiles } from '../../src/seal-key/files.js';
import { FileStore } from '../../src/store/file.js';
import { GcpStore, type SecretManagerApi } from '../../src/store/gcp.js';
import {
  decodeSealKey,
  encodeSealKey,
  keyIdOf,
  SealKeyRecords,
  type SealKey,
  type SealKeyRollout,
  type SealKeyVersion,
} from '../../src/store/seal-key.js';
import { SETTINGS } from './decide-settings.js';

const NAME = 'vault-seal-key';
const key = (seed: number): SealKey => {
  const bytes = createHash('sha256').update(`key ${seed}`).digest();
  return { keyId: keyIdOf(bytes), key: new Secret(bytes.toString('base64')), createdAt: `2026-12-0${seed}T00:00:00Z` };
};
const [K1, K2, K3] = [key(1), key(2), key(3)];
const versionsOf = (...records: SealKey[]): SealKeyVersion[] =>
  records.map((record, index) => ({ version: index + 1, record }));
const NONE: SealKeyRollout = { nodes: {} };

describe('the seal key record', () => {
  it('derives the id from the key: the first 16 hex digits of its SHA-256', () => {
    const bytes = randomBytes(32);
    expect(keyIdOf(bytes)).toBe(createHash('sha256').update(bytes).digest('hex').slice(0, 16));
    const fresh = newSealKey(new Date());
    expect(Buffer.from(fresh.key.reveal(), 'base64')).toHaveLength(32);
    expect(fresh.keyId).toBe(keyIdOf(Buffer.from(fresh.key.reveal(), 'base64')));
    expect(JSON.stringify(fresh)).not.toContain(fresh.key.reveal());
  });

  it('round-trips, and refuses, naming the problem, a key that is not 32 bytes or an id that does not match it', () => {
    expect(decodeSealKey(encodeSealKey(K1))).toMatchObject({ keyId: K1.keyId, createdAt: K1.createdAt });
    const short = randomBytes(16).toString('base64');
    expect(() =>
      decodeSealKey(JSON.stringify({ keyId: keyIdOf(Buffer.from(short, 'base64')), keyBase64: short })),
    ).toThrow(/keyBase64 must decode to 32 bytes .*not 16/);
    expect(() => decodeSealKey(JSON.stringify({ keyId: K2.keyId, keyBase64: K1.key.reveal() }))).toThrow(
      /keyId does not match the key/,
    );
    expect(() => decodeSealKey(JSON.stringify({ keyId: 'x', keyBase64: 'not base64!' }))).toThrow(/base64/);
    try {
      decodeSealKey(JSON.stringify({ keyId: K2.keyId, keyBase64: K1.key.reveal() }));
    } catch (error) {
      expect(String(error)).not.toContain(K1.key.reveal());
    }
  });

  it('is refused named by seal-key when the latest version is not a valid key', () => {
    const versions: SealKeyVersion[] = [
      { version: 1, record: K1 },
      { version: 2, problem: 'keyBase64 must decode to 32 bytes (an AES-256 key), not 16' },
    ];
    expect(() => chooseSealKeys(NAME, versions, NONE)).toThrow(
      expect.objectContaining({
        code: 'STORE_CORRUPT',
        message: expect.stringMatching(
          /vault-seal-key: the latest version \(2\) is not a valid seal key record: keyBase64 must decode to 32 bytes/,
        ),
      }),
    );
  });
});

describe('which keys seal-key writes', () => {
  const complete = (keyId: string): SealKeyRollout => ({
    nodes: { a: { keyId, at: '' }, b: { keyId, at: '' } },
    rewrapped: { keyId, at: '', by: 'a' },
  });

  it('one version: that key alone', () => {
    expect(chooseSealKeys(NAME, versionsOf(K1), NONE)).toMatchObject({
      current: { version: 1, record: { keyId: K1.keyId } },
      previous: undefined,
    });
  });

  it('after a rotation: the new key as current and the old one as previous until every node is on the new one and the active node re-wrapped', () => {
    const rows: Array<[SealKeyRollout, string | undefined]> = [
      [complete(K1.keyId), K1.keyId],
      [{ ...complete(K2.keyId), rewrapped: { keyId: K1.keyId, at: '', by: 'a' } }, K1.keyId],
      [{ ...complete(K2.keyId), nodes: { a: { keyId: K2.keyId, at: '' }, b: { keyId: K1.keyId, at: '' } } }, K1.keyId],
      [complete(K2.keyId), undefined],
      [NONE, K1.keyId],
    ];
    for (const [rollout, previous] of rows)
      expect(chooseSealKeys(NAME, versionsOf(K1, K2), rollout).previous?.record.keyId).toBe(previous);
  });

  it('the previous key is the one the stored keys were last wrapped with, not merely the version before (rotations that raced)', () => {
    const choice = chooseSealKeys(NAME, versionsOf(K1, K2, K3), { ...complete(K1.keyId), nodes: {} });
    expect(choice.current.record.keyId).toBe(K3.keyId);
    expect(choice.previous?.record.keyId).toBe(K1.keyId);
  });

  it('says what the rollout waits for', () => {
    expect(
      rolloutComplete(K2.keyId, { nodes: { a: { keyId: K2.keyId, at: '' }, b: { keyId: K1.keyId, at: '' } } }),
    ).toEqual({ complete: false, waitingFor: ['the re-wrap by the active node', 'b'] });
    expect(rolloutComplete(K2.keyId, complete(K2.keyId))).toEqual({ complete: true, waitingFor: [] });
  });
});

describe('the files', () => {
  const directories: string[] = [];
  afterAll(async () => {
    for (const directory of directories) await rm(directory, { recursive: true, force: true });
  });

  it('are 0400, base64 (44 characters, as OpenBao reads a key file), and the stanza names ids and paths only', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-seal-files-'));
    directories.push(directory);
    await writeSealKeyFiles(directory, K2, K1, undefined);
    expect((await readdir(directory)).sort()).toEqual(['current.key', 'previous.key', 'seal.hcl']);
    for (const file of ['current.key', 'previous.key', 'seal.hcl'])
      expect((await stat(join(directory, file))).mode & 0o777).toBe(0o400);
    expect(await readFile(join(directory, 'current.key'), 'utf8')).toHaveLength(44);
    const stanza = await readFile(join(directory, 'seal.hcl'), 'utf8');
    expect(stanza).toBe(sealStanza(directory, K2, K1));
    expect(stanza).not.toContain(K1.key.reveal());
    expect(stanza).toContain(`previous_key_id = "${K1.keyId}"`);
    // Written again without the previous key: its file goes.
    await writeSealKeyFiles(directory, K2, undefined, undefined);
    expect((await readdir(directory)).sort()).toEqual(['current.key', 'seal.hcl']);
  });
});

describe('seal-key options', () => {
  const env = { VB_STORE: 'file' };
  it('needs a memory-backed --seal-key-dir, and is refused elsewhere', () => {
    expect(() => loadConfig(['seal-key'], env)).toThrow(/--seal-key-dir\/VB_SEAL_KEY_DIR: required by seal-key/);
    expect(() => loadConfig(['seal-key', '--seal-key-dir', tmpdir()], env)).toThrow(ConfigError);
    expect(() => loadConfig(['seal-key', '--seal-key-dir', tmpdir()], env)).toThrow(/is not memory-backed/);
    expect(() => loadConfig(['run', '--seal-key-dir', '/dev/shm'], env)).toThrow(
      /--seal-key-dir: only valid with the seal-key command/,
    );
    expect(() => loadConfig(['seal-key', '--seal-key-dir', '/dev/shm', '--seal-key-uid', 'openbao'], env)).toThrow(
      /--seal-key-uid: expected a numeric user id/,
    );
    expect(loadConfig(['seal-key', '--seal-key-dir', '/dev/shm', '--seal-key-uid', '100'], env).sealKey).toEqual({
      directory: '/dev/shm',
      uid: 100,
    });
  });
});

describe('the sidecar records the re-wrap (decide)', () => {
  const activeStatic = (
    rollout: Observation['sealKeyRollout'],
    health: 'active' | 'standby' = 'active',
  ): Observation => ({
    at: Date.parse('2026-12-07T12:00:00Z'),
    vault: {
      health,
      status: health === 'active' ? 200 : 429,
      detail: '',
      clusterId: 'c',
      sealType: 'static',
      migration: false,
      unsealProgress: { progress: 0, nonce: '' },
      connectionsClosed: 0,
    },
    reconcile: 'start',
    spool: undefined,
    keys: {
      kind: 'valid',
      value: {
        type: 'recovery',
        keys: [new Secret('a2V5')],
        threshold: 1,
        shares: 1,
        initializedAt: '2026-12-01T00:00:00Z',
        clusterId: 'c',
      },
    },
    rootToken: { kind: 'valid', value: { token: new Secret('root'), createdAt: '' } },
    provisionerToken: { kind: 'valid', value: { token: new Secret('p'), accessor: 'a', policies: [], expiresAt: '' } },
    managementToken: { kind: 'valid', value: { token: new Secret('m'), accessor: 'm', policies: [], expiresAt: '' } },
    server: {
      managementToken: 'management',
      ownManagementToken: 'valid',
      policiesDiffering: [],
      roleDiffers: false,
      auditDiffers: false,
      provisionerToken: 'valid',
      rootTokenLive: true,
    },
    policyHashes: new Map(),
    sealKeyRollout: rollout,
  });
  const rows: Array<[Observation, string]> = [
    [activeStatic({ newestKeyId: 'k2', ownKeyId: 'k2', rewrappedKeyId: 'k1' }), 'record-seal-rewrap'],
    [activeStatic({ newestKeyId: 'k2', ownKeyId: 'k2', rewrappedKeyId: undefined }), 'record-seal-rewrap'],
    [activeStatic({ newestKeyId: 'k2', ownKeyId: 'k2', rewrappedKeyId: 'k2' }), 'done'],
    // This pod's server started before the rotation: its becoming active re-wrapped nothing with the new key.
    [activeStatic({ newestKeyId: 'k2', ownKeyId: 'k1', rewrappedKeyId: 'k1' }), 'done'],
    [activeStatic({ newestKeyId: 'k2', ownKeyId: 'k2', rewrappedKeyId: 'k1' }, 'standby'), 'done'],
    [activeStatic(undefined), 'done'],
    [activeStatic({ newestKeyId: undefined, ownKeyId: undefined, rewrappedKeyId: undefined }), 'done'],
  ];
  it.each(rows.map(([seen, kind], index) => [index, kind, seen] as const))('row %i → %s', (_index, kind, seen) => {
    const decision = decide(seen, EMPTY_MEMORY, SETTINGS);
    expect(decision.action.kind).toBe(kind);
    if (kind === 'record-seal-rewrap') expect(decision.action).toEqual({ kind, keyId: 'k2' });
  });

  it("never on a self-initialized server: it has no recovery key, where OpenBao's key upgrade stops (openbao/openbao#3996)", () => {
    const seen = activeStatic({ newestKeyId: 'k2', ownKeyId: 'k2', rewrappedKeyId: 'k1' });
    const selfInit = {
      ...seen,
      keys: { kind: 'absent' } as const,
      selfInitCluster: { kind: 'valid', value: { clusterId: 'c', firstSeenAt: '', sealType: 'static' } } as const,
      server: { ...seen.server!, managementToken: 'login' as const, loginToken: new Secret('l') },
    };
    expect(decide(selfInit, EMPTY_MEMORY, { ...SETTINGS, selfInit: true }).action.kind).toBe('done');
  });
});

describe('the records at the store boundary', () => {
  it('file store: the first version is create-if-absent (one winner), later versions add', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-seal-records-'));
    try {
      const records = new SealKeyRecords(new FileStore(join(directory, 'store')), 'vault');
      expect(await records.readVersions()).toEqual([]);
      await records.createFirst(K1);
      await expect(records.createFirst(K2)).rejects.toBeInstanceOf(StoreAlreadyExistsError);
      await records.addVersion(K2);
      expect((await records.readVersions()).map((each) => each.record?.keyId)).toEqual([K1.keyId, K2.keyId]);
      await records.updateRollout((seen) =>
        seen.nodes.a?.keyId === K2.keyId
          ? undefined
          : { ...seen, nodes: { ...seen.nodes, a: { keyId: K2.keyId, at: '' } } },
      );
      expect(await records.readRollout()).toEqual({ nodes: { a: { keyId: K2.keyId, at: '' } } });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('GCP (SDK boundary): the first version is a created secret, labelled, and its first version; a second creator loses; absent reads as no version', async () => {
    const unexpected = () => Promise.reject(new Error('unexpected call'));
    const notFound = () => Promise.reject(Object.assign(new GoogleError('NOT_FOUND'), { code: Status.NOT_FOUND }));
    const api: SecretManagerApi = {
      getProjectId: vi.fn(unexpected),
      createSecret: vi.fn(() => Promise.resolve([{}])),
      addSecretVersion: vi.fn(() => Promise.resolve([{}])),
      accessSecretVersion: vi.fn(notFound),
      listSecretVersions: vi.fn(unexpected),
      close: vi.fn(() => Promise.resolve()),
    };
    const records = new SealKeyRecords(new GcpStore({ project: 'p' }, api), 'vault');
    expect(await records.readVersions()).toEqual([]);
    await records.createFirst(K1);
    expect(api.createSecret).toHaveBeenCalledWith(
      expect.objectContaining({
        parent: 'projects/p',
        secretId: 'vault-seal-key',
        secret: expect.objectContaining({ labels: { 'managed-by': 'vault-bootstrap' } }),
      }),
      expect.anything(),
    );
    const added = vi.mocked(api.addSecretVersion).mock.calls[0]![0];
    expect(added.parent).toBe('projects/p/secrets/vault-seal-key');
    expect(decodeSealKey(Buffer.from(added.payload!.data as Uint8Array).toString('utf8')).keyId).toBe(K1.keyId);
    vi.mocked(api.createSecret).mockImplementation(() =>
      Promise.reject(Object.assign(new GoogleError('ALREADY_EXISTS'), { code: Status.ALREADY_EXISTS })),
    );
    await expect(records.createFirst(K2)).rejects.toBeInstanceOf(StoreAlreadyExistsError);
  });
});

describe('seal-key when another pod created the secret but never stored its first version (GCP: two calls)', () => {
  it('waits for it within --timeout, then fails naming the empty secret and what to do, writing no file', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-seal-empty-'));
    const store: SecretStore = {
      kind: 'gcp',
      verifyAccess: async () => undefined,
      readLatest: async (name) => Promise.reject(new StoreNotFoundError(name)),
      createIfAbsent: async (name) => Promise.reject(new StoreAlreadyExistsError(name)),
      addVersion: async () => Promise.reject(new Error('unexpected')),
      readAllVersions: async () => [],
      listVersions: async () => [],
      close: async () => undefined,
    };
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const context = {
      config: { sealKey: { directory, uid: undefined }, storePrefix: 'vault', holder: 'openbao-1', timeoutMs: 300 },
      records: { store },
      log,
      signal: new AbortController().signal,
    } as unknown as StepContext;
    try {
      await expect(sealKey(context)).rejects.toMatchObject({
        code: 'STORE_NOT_FOUND',
        message: expect.stringMatching(/vault-seal-key exists with no version: .*deleting the empty secret is safe/),
      });
      expect(await readdir(directory)).toEqual([]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('seal-key when the rollout record cannot be written', () => {
  it('still writes the key files and succeeds: a missing entry only delays dropping a previous key', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-seal-ack-'));
    const file = new FileStore(join(directory, 'store'));
    await new SealKeyRecords(file, 'vault').createFirst(K1);
    const store: SecretStore = {
      kind: 'file',
      verifyAccess: (name) => file.verifyAccess(name),
      readLatest: (name) => file.readLatest(name),
      createIfAbsent: (name, value) => file.createIfAbsent(name, value),
      addVersion: async () =>
        Promise.reject(new BootstrapError('STORE_UNAVAILABLE', 'gcp addVersion vault-seal-key-rollout: UNAVAILABLE')),
      readAllVersions: (name) => file.readAllVersions(name),
      listVersions: (name) => file.listVersions(name),
      close: async () => undefined,
    };
    const log = { info: vi.fn(), debug: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const keys = join(directory, 'keys');
    await mkdir(keys);
    const context = {
      config: {
        sealKey: { directory: keys, uid: undefined },
        storePrefix: 'vault',
        holder: 'openbao-0',
        timeoutMs: 1000,
      },
      records: { store },
      log,
      signal: new AbortController().signal,
    } as unknown as StepContext;
    try {
      expect(await sealKey(context)).toMatchObject({ keyId: K1.keyId, version: 1, generated: false });
      expect((await readdir(keys)).sort()).toEqual(['current.key', 'seal.hcl']);
      expect(log.warn.mock.calls.map(([fields]) => (fields as { event: string }).event)).toEqual([
        'seal-key-rollout-not-recorded',
      ]);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
