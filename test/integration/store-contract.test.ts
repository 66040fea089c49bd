import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Deadlines } from '../../src/deadlines.js';
import { createStore } from '../../src/store/index.js';
import { MANAGED_LABELS, secretNames, type SecretStore } from '../../src/store/types.js';
import { startMoto } from '../../harness/moto.js';

/** One backend under test, on its own server. */
interface Backend {
  /** A new store on a new client: two of them are two independent writers. */
  openStore(): Promise<SecretStore>;
  /** The labels (GCP) or tags (AWS) on a secret, read around the store. */
  labelsOf(name: string): Promise<Record<string, string>>;
  /** Spacing between versions for backends that time-stamp in whole seconds (moto). */
  versionSpacingMs: number;
  /**
   * Set where the server itself breaks the contract: moto 5.2.5 answers ListSecretVersionIds on
   * a missing secret with HTTP 500 (a KeyError) where AWS answers ResourceNotFoundException.
   * The unit tests cover the real answer.
   */
  historyOfMissingSecretBroken?: true;
  stop(): Promise<void>;
}

const VALID_NAME = /^[A-Za-z0-9_-]{1,255}$/;

const unicodeValue = JSON.stringify({
  token: 'hvs.ÄÖÜ-日本語-🔑',
  note: 'line one\nline two\r\n\ttabbed "quoted" \\ backslash',
});
const multilineValue = '\n  leading blank line and spaces\nlast line without newline at the end';
/** About 60 KiB, multi-byte included: under both clouds' 64 KiB limit. */
const largeValue = (() => {
  const pattern = 'abcdefghij0123456789-é-€-𝄞-\n';
  let value = '';
  while (Buffer.byteLength(value + pattern, 'utf8') < 60_000) value += pattern;
  return value;
})();

function uniqueName(label: string): string {
  return `t${randomBytes(4).toString('hex')}-${label}`;
}

function storeContract(start: () => Promise<Backend>): void {
  let backend: Backend;
  let store: SecretStore;
  const opened: SecretStore[] = [];

  async function openStore(): Promise<SecretStore> {
    const opening = await backend.openStore();
    opened.push(opening);
    return opening;
  }

  beforeAll(async () => {
    backend = await start();
    store = await openStore();
  });

  afterAll(async () => {
    await Promise.all(opened.map((opening) => opening.close()));
    await backend?.stop();
  });

  test('verifies access against the server', async () => {
    await expect(store.verifyAccess('vault-init-claim')).resolves.toBeUndefined();
  });

  test('a missing secret reads as STORE_NOT_FOUND and has no versions', async () => {
    const name = uniqueName('missing');
    await expect(store.readLatest(name)).rejects.toMatchObject({ code: 'STORE_NOT_FOUND' });
    if (!backend.historyOfMissingSecretBroken) await expect(store.readAllVersions(name)).resolves.toEqual([]);
  });

  test('of two racing create-if-absent writers exactly one wins, five times over', async () => {
    const writers = [await openStore(), await openStore()];
    for (let round = 0; round < 5; round += 1) {
      const name = uniqueName(`claim${round}`);
      const values = ['{"holder":"writer-a"}', '{"holder":"writer-b"}'];
      const results = await Promise.allSettled(
        writers.map((writer, index) => writer.createIfAbsent(name, values[index] as string)),
      );
      const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [values[index]] : []));
      const losers = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
      expect(winners).toHaveLength(1);
      expect(losers).toEqual([expect.objectContaining({ code: 'STORE_ALREADY_EXISTS' })]);
      await expect(store.readLatest(name)).resolves.toBe(winners[0]);
    }
  });

  test('create-if-absent on an existing secret loses and leaves the value alone', async () => {
    const name = uniqueName('taken');
    await store.createIfAbsent(name, 'first');
    await expect(store.createIfAbsent(name, 'second')).rejects.toMatchObject({ code: 'STORE_ALREADY_EXISTS' });
    await expect(store.readLatest(name)).resolves.toBe('first');
    await expect(store.readAllVersions(name)).resolves.toEqual(['first']);
  });

  test('add version creates the secret, reads back latest, and keeps every version oldest first', async () => {
    const name = uniqueName('versions');
    const values = ['v1', 'v2', 'v3', 'v4'];
    for (const [index, value] of values.entries()) {
      if (index > 0) await sleep(backend.versionSpacingMs);
      await store.addVersion(name, value);
      await expect(store.readLatest(name)).resolves.toBe(value);
    }
    await expect(store.readAllVersions(name)).resolves.toEqual(values);
    // The listing status uses: one entry per version, oldest first, metadata only.
    const listed = await store.listVersions(name);
    expect(listed).toHaveLength(values.length);
    const times = listed.map((version) => Date.parse(version.createdAt ?? ''));
    expect(times.every((time, index) => !Number.isNaN(time) && (index === 0 || time >= times[index - 1]!))).toBe(true);
    if (!backend.historyOfMissingSecretBroken)
      await expect(store.listVersions(uniqueName('absent'))).resolves.toEqual([]);
  });

  test('add version on top of a created secret keeps the first value as history', async () => {
    const name = uniqueName('history');
    await store.createIfAbsent(name, 'claimed');
    await sleep(backend.versionSpacingMs);
    await store.addVersion(name, 'stored');
    await expect(store.readLatest(name)).resolves.toBe('stored');
    await expect(store.readAllVersions(name)).resolves.toEqual(['claimed', 'stored']);
  });

  test('two writers racing add version on a missing secret both land', async () => {
    const name = uniqueName('addrace');
    const writers = [await openStore(), await openStore()];
    await Promise.all([writers[0]?.addVersion(name, 'from-a'), writers[1]?.addVersion(name, 'from-b')]);
    const versions = await store.readAllVersions(name);
    expect([...versions].sort()).toEqual(['from-a', 'from-b']);
  });

  test('every secret it creates is labelled managed-by=vault-bootstrap', async () => {
    const created = uniqueName('labelled-create');
    const added = uniqueName('labelled-add');
    await store.createIfAbsent(created, 'x');
    await store.addVersion(added, 'y');
    for (const name of [created, added]) {
      expect(await backend.labelsOf(name)).toMatchObject(MANAGED_LABELS);
    }
  });

  test.each([
    ['unicode and escapes', unicodeValue],
    ['newlines and spaces', multilineValue],
    ['about 60 KiB', largeValue],
  ])('values round-trip byte for byte: %s', async (_label, value) => {
    const name = uniqueName('bytes');
    await store.createIfAbsent(name, value);
    await store.addVersion(name, value);
    const latest = await store.readLatest(name);
    expect(Buffer.from(latest, 'utf8').equals(Buffer.from(value, 'utf8'))).toBe(true);
    for (const version of await store.readAllVersions(name)) {
      expect(Buffer.from(version, 'utf8').equals(Buffer.from(value, 'utf8'))).toBe(true);
    }
  });

  test('the secret names of SPEC §3 are accepted', async () => {
    const names = Object.values(secretNames('vault'));
    for (const name of names) {
      expect(name).toMatch(VALID_NAME);
      await store.createIfAbsent(name, JSON.stringify({ name }));
      await expect(store.readLatest(name)).resolves.toBe(JSON.stringify({ name }));
    }
  });
}

/** Sets environment variables; the returned function puts the previous values back. */
function setEnv(variables: Record<string, string>): () => void {
  const previous = Object.entries(variables).map(([key]) => [key, process.env[key]] as const);
  Object.assign(process.env, variables);
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

describe('file store', () => {
  storeContract(async () => {
    const directory = await mkdtemp(join(tmpdir(), 'vb-store-'));
    return {
      openStore: () => createStore({ kind: 'file', directory }, new Deadlines()),
      labelsOf: async (name) =>
        JSON.parse(await readFile(join(directory, name, 'labels.json'), 'utf8')) as Record<string, string>,
      versionSpacingMs: 0,
      stop: () => rm(directory, { recursive: true, force: true }),
    };
  });
});

describe('aws store against moto', () => {
  storeContract(async () => {
    const server = await startMoto();
    const restoreEnv = setEnv(server.env);
    // The store is built with no endpoint: it reaches moto only because the SDK itself reads
    // AWS_ENDPOINT_URL_SECRETS_MANAGER, which is what SPEC §2 promises operators.
    const sdk = new SecretsManagerClient({});
    return {
      openStore: () => createStore({ kind: 'aws', region: undefined, kmsKey: undefined }, new Deadlines()),
      labelsOf: async (name) => {
        const described = await sdk.send(new DescribeSecretCommand({ SecretId: name }));
        return Object.fromEntries((described.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
      },
      versionSpacingMs: 1_100,
      historyOfMissingSecretBroken: true,
      stop: async () => {
        sdk.destroy();
        await server.stop();
        restoreEnv();
      },
    };
  });

  test('new secrets use the configured KMS key', async () => {
    const store = await createStore(
      { kind: 'aws', region: 'us-east-1', kmsKey: 'alias/vault-bootstrap-test' },
      new Deadlines(),
    );
    const sdk = new SecretsManagerClient({});
    try {
      const name = uniqueName('kms');
      await store.createIfAbsent(name, 'x');
      const described = await sdk.send(new DescribeSecretCommand({ SecretId: name }));
      expect(described.KmsKeyId).toBe('alias/vault-bootstrap-test');
    } finally {
      sdk.destroy();
      await store.close();
    }
  });
});

/**
 * No GCP Secret Manager emulator installs here from a reachable registry and works with the
 * official client; test/integration/GCP_EMULATOR.md records what was tried and why each failed.
 * The GCP store is covered by test/unit/gcp-store.test.ts at the SDK boundary until one does.
 */
describe.skip('gcp store (skipped: no GCP Secret Manager emulator installs here; see test/integration/GCP_EMULATOR.md)', () => {
  test('runs the store contract against a GCP Secret Manager emulator', () => undefined);
});
