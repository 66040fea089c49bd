import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { decodeManifest, planRetention, VerifyingStream, type SnapshotManifest } from '../../src/snapshots/catalog.js';
import { parseSnapshotTarget } from '../../src/snapshots/target.js';
import { DeadlineObjectStore } from '../../src/snapshots/deadline.js';
import type { ObjectStore } from '../../src/snapshots/types.js';
import { Deadlines } from '../../src/deadlines.js';

const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() });
const verify = async (chunks: Buffer[]) => {
  const verifier = new VerifyingStream('test');
  await pipeline(Readable.from(chunks), verifier, sink());
  return verifier;
};

describe('VerifyingStream', () => {
  it('counts and hashes a gzip stream split anywhere, the magic across chunks included', async () => {
    const verifier = await verify([Buffer.from([0x1f]), Buffer.from([0x8b, 1, 2]), Buffer.from([3])]);
    expect(verifier.size).toBe(5);
    expect(verifier.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['empty (the empty 200 a standby answers)', []],
    ['not gzip', [Buffer.from('{"errors":[]}')]],
    ['one byte', [Buffer.from([0x1f])]],
  ])('%s: SNAPSHOT_INVALID', async (_name, chunks) => {
    await expect(verify(chunks as Buffer[])).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID' });
  });
});

const manifest = (id: string, takenAt: string): SnapshotManifest => ({
  format: 1,
  id,
  object: `${id}.snap`,
  clusterId: 'c',
  server: { kind: 'openbao', version: '2.7.2' },
  sealType: 'shamir',
  keysVersion: 1,
  takenAt,
  size: 10,
  sha256: 'a'.repeat(64),
});

describe('planRetention', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const newestFirst = [
    manifest('snapshot-3', '2026-12-07T11:00:00Z'),
    manifest('snapshot-2', '2026-12-06T11:00:00Z'),
    manifest('snapshot-1', '2026-11-01T11:00:00Z'),
  ];

  it('keeps the count given, newest first', () => {
    expect(planRetention(newestFirst, { retain: 2, maxAgeMs: undefined }, now).map((each) => each.id)).toEqual([
      'snapshot-1',
    ]);
  });

  it('an age limit removes older ones but never the newest, even when every one is older', () => {
    expect(planRetention(newestFirst, { retain: 10, maxAgeMs: 3_600_000 * 48 }, now).map((each) => each.id)).toEqual([
      'snapshot-1',
    ]);
    expect(planRetention(newestFirst, { retain: 1, maxAgeMs: 1 }, now + 1e10).map((each) => each.id)).toEqual([
      'snapshot-2',
      'snapshot-1',
    ]);
    expect(planRetention(newestFirst.slice(0, 1), { retain: 1, maxAgeMs: 1 }, now + 1e10)).toEqual([]);
  });
});

describe('decodeManifest', () => {
  it('takes a valid manifest and names every bad field', () => {
    const good = manifest('snapshot-20261207T110000000Z-abcdef', '2026-12-07T11:00:00Z');
    expect(decodeManifest(JSON.stringify(good))).toEqual(good);
    expect(() => decodeManifest(JSON.stringify({ ...good, size: 0, sha256: 'x' }))).toThrow(/size, sha256/);
  });
});

describe('--snapshot-to', () => {
  const outside = { insideKubernetes: false, allowFile: false, kmsKey: undefined };
  it('parses the three schemes', () => {
    expect(parseSnapshotTarget('s3://my-bucket/vault/prod/', '--snapshot-to', outside)).toMatchObject({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'vault/prod',
    });
    expect(parseSnapshotTarget('gs://my-bucket', '--snapshot-to', outside)).toMatchObject({
      kind: 'gcs',
      bucket: 'my-bucket',
      prefix: '',
    });
    expect(parseSnapshotTarget('file:///var/backups/vault', '--snapshot-to', outside)).toMatchObject({
      kind: 'file',
      directory: '/var/backups/vault',
    });
  });

  it.each(['http://x/y', 's3://', 's3://UPPER/x', 'gs://ok-bucket/../x', 's3://ok-bucket//x'])(
    '%s: CONFIG_INVALID naming the setting',
    (text) => {
      expect(() => parseSnapshotTarget(text, '--snapshot-to', outside)).toThrow(/^--snapshot-to: /);
    },
  );

  it('file:// is refused inside Kubernetes unless --allow-file-store', () => {
    expect(() => parseSnapshotTarget('file:///x', 'VB_SNAPSHOT_TO', { ...outside, insideKubernetes: true })).toThrow(
      /refused inside Kubernetes/,
    );
    expect(
      parseSnapshotTarget('file:///x', 'VB_SNAPSHOT_TO', { ...outside, insideKubernetes: true, allowFile: true }).kind,
    ).toBe('file');
  });

  it('env names and defaults', () => {
    const config = loadConfig(['snapshot', '--store', 'file'], {
      VB_SNAPSHOT_TO: 's3://b-1/p',
      VB_SNAPSHOT_MAX_AGE: '720h',
      VB_SNAPSHOT_KMS_KEY: 'alias/vault',
    });
    expect(config.snapshots).toMatchObject({
      retain: 30,
      maxAgeMs: 720 * 3_600_000,
      target: { kind: 's3', kmsKey: 'alias/vault' },
    });
    expect(loadConfig(['run', '--store', 'file'], {}).snapshots).toBeUndefined();
    expect(() =>
      loadConfig(['snapshot', '--store', 'file', '--snapshot-to', 'file:///x', '--snapshot-kms-key', 'k'], {}),
    ).toThrow(/^--snapshot-kms-key/);
  });
});

describe('--snapshot-interval', () => {
  it('run only, with --snapshot-to, at least 1s; env VB_SNAPSHOT_INTERVAL', () => {
    const run = (extra: string[], env: Record<string, string> = {}) =>
      loadConfig(['run', '--store', 'file', '--snapshot-to', 'file:///x', ...extra], env);
    expect(run([], { VB_SNAPSHOT_INTERVAL: '6h' }).snapshots?.intervalMs).toBe(6 * 3_600_000);
    expect(run([]).snapshots?.intervalMs).toBeUndefined();
    expect(() => run(['--snapshot-interval', '500ms'])).toThrow(/^--snapshot-interval: must be at least 1s/);
    expect(() => run(['--snapshot-interval', 'daily'])).toThrow(/^--snapshot-interval: expected a duration/);
    expect(() => loadConfig(['run', '--store', 'file', '--snapshot-interval', '1h'], {})).toThrow(
      /^--snapshot-interval: only valid with --snapshot-to/,
    );
  });
});

describe('every object store call has a deadline', () => {
  /** A destination that never answers: every call hangs until its signal says stop. */
  const hung: ObjectStore = {
    kind: 's3',
    location: 's3://hung/p',
    put: (_name, _body, options) =>
      new Promise((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('aborted')))),
    list: () => new Promise(() => undefined),
    get: () => new Promise(() => undefined),
    delete: () => new Promise(() => undefined),
    close: async () => undefined,
  };

  it('a listing, a read, a delete and an upload each end, named, as SNAPSHOT_STORE_UNAVAILABLE (transient)', async () => {
    const body = Readable.from([Buffer.from([0x1f, 0x8b])]);
    for (const call of [
      (objects: ObjectStore) => objects.list(),
      (objects: ObjectStore) => objects.get('a.manifest.json'),
      (objects: ObjectStore) => objects.delete('a.snap'),
      (objects: ObjectStore) => objects.put('a.snap', body, { contentType: 'application/gzip' }),
    ]) {
      const deadlines = new Deadlines();
      // The run's end cuts each call's own deadline short: the same path a call's own deadline takes.
      deadlines.endRunAt(Date.now() + 100, 0);
      const error = await call(new DeadlineObjectStore(hung, deadlines)).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'SNAPSHOT_STORE_UNAVAILABLE', transient: true });
      expect((error as Error).message).toMatch(
        /^s3:\/\/hung\/p (list|read a\.manifest\.json|delete a\.snap|upload a\.snap): no answer within its \d+ ms deadline$/,
      );
    }
    // The upload's body was ended with it: the server's stream is not left open.
    expect(body.destroyed).toBe(true);
  });
});
