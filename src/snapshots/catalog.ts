import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BootstrapError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './types.js';

/**
 * What makes a snapshot count: its manifest, written beside the data object only after the
 * data was uploaded whole and verified. A data object without a manifest is not a snapshot
 * (an upload that died, or one in flight); retention removes such leftovers once they are old.
 */
export interface SnapshotManifest {
  format: 1;
  id: string;
  /** The data object's name beside this manifest. */
  object: string;
  clusterId: string;
  server: { kind: 'vault' | 'openbao'; version: string };
  sealType: string;
  /** The 1-based store version of the keys record ({prefix}-unseal-keys) that unseals this data; null: no keys record (--self-init). */
  keysVersion: number | null;
  takenAt: string;
  size: number;
  sha256: string;
}

export const MANIFEST_SUFFIX = '.manifest.json';
export const DATA_SUFFIX = '.snap';
const GZIP_MAGIC = [0x1f, 0x8b];
/** A data object without a manifest this old is a dead upload, never one in flight. */
export const ORPHAN_AFTER_MS = 24 * 60 * 60 * 1000;

/** A sortable id: the time it was taken (UTC, to the millisecond) and a random tail against collisions. */
export function newSnapshotId(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `snapshot-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Counts, hashes and checks the bytes passing through: the first two must be gzip's magic
 * (a raft snapshot is a gzip archive), and at the end there must have been some. Fails the
 * stream (SNAPSHOT_INVALID) otherwise, which fails the upload before anything is published.
 */
export class VerifyingStream extends Transform {
  size = 0;
  readonly #hash: Hash = createHash('sha256');
  readonly #what: string;
  #head: number[] = [];
  #digest: string | undefined;

  constructor(what: string) {
    super();
    this.#what = what;
  }

  get sha256(): string {
    if (this.#digest === undefined) throw new Error('VerifyingStream: not finished');
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#head.length < GZIP_MAGIC.length) {
      this.#head.push(...chunk.subarray(0, GZIP_MAGIC.length - this.#head.length));
      if (this.#head.length === GZIP_MAGIC.length && this.#head.some((byte, index) => byte !== GZIP_MAGIC[index])) {
        callback(new BootstrapError('SNAPSHOT_INVALID', `${this.#what}: not a gzip archive (a raft snapshot is one)`));
        return;
      }
    }
    this.size += chunk.length;
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size === 0) {
      callback(
        new BootstrapError(
          'SNAPSHOT_INVALID',
          `${this.#what}: empty (a standby answers an empty 200; snapshots come from the active node)`,
        ),
      );
      return;
    }
    if (this.size < GZIP_MAGIC.length) {
      callback(new BootstrapError('SNAPSHOT_INVALID', `${this.#what}: ${this.size} byte(s), not a gzip archive`));
      return;
    }
    this.#digest = this.#hash.digest('hex');
    callback();
  }
}

/** A manifest's text → the manifest, or a problem (the snapshot is then listed as invalid, never used). */
export function decodeManifest(text: string): SnapshotManifest {
  const value = JSON.parse(text) as Partial<SnapshotManifest>;
  const problems: string[] = [];
  if (value.format !== 1) problems.push('format');
  if (typeof value.id !== 'string' || !value.id.startsWith('snapshot-')) problems.push('id');
  if (typeof value.object !== 'string' || value.object !== `${value.id}${DATA_SUFFIX}`) problems.push('object');
  if (typeof value.clusterId !== 'string') problems.push('clusterId');
  if (typeof value.server?.kind !== 'string' || typeof value.server.version !== 'string') problems.push('server');
  if (typeof value.sealType !== 'string') problems.push('sealType');
  if (value.keysVersion !== null && !(Number.isInteger(value.keysVersion) && value.keysVersion! >= 1))
    problems.push('keysVersion');
  if (typeof value.takenAt !== 'string' || Number.isNaN(Date.parse(value.takenAt))) problems.push('takenAt');
  if (!(Number.isInteger(value.size) && value.size! > 0)) problems.push('size');
  if (typeof value.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(value.sha256)) problems.push('sha256');
  if (problems.length > 0)
    throw new BootstrapError('SNAPSHOT_INVALID', `manifest: invalid field(s) ${problems.join(', ')}`);
  return value as SnapshotManifest;
}

export interface Catalog {
  /** Snapshots with a valid manifest and a data object of the recorded size, newest first. */
  snapshots: SnapshotManifest[];
  /** Manifests that are unreadable or whose data object is missing or of another size: never restored from. */
  invalid: Array<{ name: string; problem: string }>;
  /** Data objects without a manifest (uploads that died or are in flight). */
  orphans: ObjectInfo[];
}

/** Reads every manifest under the target and pairs it with its data object. */
export async function readCatalog(store: ObjectStore): Promise<Catalog> {
  const objects = await store.list();
  const byName = new Map(objects.map((object) => [object.name, object]));
  const snapshots: SnapshotManifest[] = [];
  const invalid: Catalog['invalid'] = [];
  const described = new Set<string>();
  for (const object of objects.filter((each) => each.name.endsWith(MANIFEST_SUFFIX))) {
    let manifest: SnapshotManifest;
    try {
      manifest = decodeManifest(await readSmall(store, object.name));
    } catch (error) {
      if (error instanceof BootstrapError && error.code !== 'SNAPSHOT_INVALID') throw error;
      invalid.push({ name: object.name, problem: error instanceof BootstrapError ? error.message : 'not JSON' });
      continue;
    }
    described.add(manifest.object);
    const data = byName.get(manifest.object);
    if (data === undefined)
      invalid.push({ name: object.name, problem: `its data object ${manifest.object} is missing` });
    else if (data.size !== manifest.size)
      invalid.push({
        name: object.name,
        problem: `its data object holds ${data.size} bytes, the manifest says ${manifest.size}`,
      });
    else snapshots.push(manifest);
  }
  const orphans = objects.filter((object) => object.name.endsWith(DATA_SUFFIX) && !described.has(object.name));
  snapshots.sort((a, b) =>
    a.takenAt === b.takenAt ? b.id.localeCompare(a.id) : Date.parse(b.takenAt) - Date.parse(a.takenAt),
  );
  return { snapshots, invalid, orphans };
}

/**
 * The newest verified snapshot, read cheaply: one listing, then the manifests newest first (ids
 * sort by time) until one decodes and its data object is there at the recorded size. Usually one
 * small read, where readCatalog reads every manifest. Undefined when none counts.
 */
export async function newestSnapshot(store: ObjectStore): Promise<SnapshotManifest | undefined> {
  const objects = await store.list();
  const byName = new Map(objects.map((object) => [object.name, object]));
  const manifests = objects
    .filter((object) => object.name.startsWith('snapshot-') && object.name.endsWith(MANIFEST_SUFFIX))
    .map((object) => object.name)
    .sort()
    .reverse();
  for (const name of manifests) {
    let manifest: SnapshotManifest;
    try {
      manifest = decodeManifest(await readSmall(store, name));
    } catch (error) {
      if (error instanceof BootstrapError && error.code !== 'SNAPSHOT_INVALID') throw error;
      continue;
    }
    if (byName.get(manifest.object)?.size === manifest.size) return manifest;
  }
  return undefined;
}

async function readSmall(store: ObjectStore, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await store.get(name)) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new BootstrapError('SNAPSHOT_INVALID', `${name}: larger than a manifest can be`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Publishes a snapshot: its manifest, the one small object that makes the data count. */
export async function writeManifest(store: ObjectStore, manifest: SnapshotManifest): Promise<void> {
  await store.put(
    `${manifest.id}${MANIFEST_SUFFIX}`,
    Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]),
    { contentType: 'application/json' },
  );
}

/**
 * Reads the whole data object and checks it against its manifest (size and sha256) before
 * anything is changed with it: a corrupted or truncated object is refused by name.
 */
export async function verifyStoredSnapshot(
  store: ObjectStore,
  manifest: SnapshotManifest,
  signal?: AbortSignal,
): Promise<void> {
  const verifier = new VerifyingStream(`${store.location}/${manifest.object}`);
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipeline(await store.get(manifest.object), verifier, sink, signal ? { signal } : {});
  if (verifier.size !== manifest.size || verifier.sha256 !== manifest.sha256) {
    throw new BootstrapError(
      'SNAPSHOT_INVALID',
      `${store.location}/${manifest.object}: its content does not match its manifest (${verifier.size} bytes with another sha256 than recorded): refusing to restore from it`,
    );
  }
}

export interface RetentionPolicy {
  /** Keep this many (newest first); undefined: keep every one. */
  retain: number | undefined;
  /** Also remove those older than this, past the retained count… never the newest. */
  maxAgeMs: number | undefined;
}

/**
 * Which snapshots retention removes, newest first in, pure. The newest verified snapshot is never
 * removed, whatever the policy says; beyond it, one is removed when it is past the count or
 * (with an age limit) older than the limit.
 */
export function planRetention(
  snapshots: readonly SnapshotManifest[],
  policy: RetentionPolicy,
  now: number,
): SnapshotManifest[] {
  return snapshots.filter((snapshot, index) => {
    if (index === 0) return false;
    if (policy.retain !== undefined && index >= policy.retain) return true;
    return policy.maxAgeMs !== undefined && now - Date.parse(snapshot.takenAt) > policy.maxAgeMs;
  });
}

/** Removes a snapshot: the manifest first (it stops counting at once), then its data. */
export async function deleteSnapshot(store: ObjectStore, manifest: SnapshotManifest): Promise<void> {
  await store.delete(`${manifest.id}${MANIFEST_SUFFIX}`);
  await store.delete(manifest.object);
}

/**
 * The last restore drill that passed (restore-drill), one small object beside the snapshots: the
 * sidecar reads it with its look at --snapshot-to and publishes
 * vault_bootstrap_last_verified_restore_timestamp_seconds from it.
 */
export interface VerifiedRestore {
  format: 1;
  snapshot: string;
  clusterId: string;
  keysVersion: number;
  verifiedAt: string;
  /** What was checked on the restored server, by name. */
  checks: string[];
}

export const VERIFIED_RESTORE_OBJECT = 'verified-restore.json';

export async function writeVerifiedRestore(store: ObjectStore, record: VerifiedRestore): Promise<void> {
  await store.put(VERIFIED_RESTORE_OBJECT, Readable.from([Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]), {
    contentType: 'application/json',
  });
}

/** The last drill that passed, or undefined (none yet, or an unreadable record: no drill counts then). */
export async function readVerifiedRestore(store: ObjectStore): Promise<VerifiedRestore | undefined> {
  let text: string;
  try {
    text = await readSmall(store, VERIFIED_RESTORE_OBJECT);
  } catch (error) {
    if (error instanceof BootstrapError && (error.code === 'SNAPSHOT_NOT_FOUND' || error.code === 'SNAPSHOT_INVALID'))
      return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as Partial<VerifiedRestore>;
    if (value.format !== 1 || typeof value.verifiedAt !== 'string' || Number.isNaN(Date.parse(value.verifiedAt)))
      return undefined;
    return value as VerifiedRestore;
  } catch {
    return undefined;
  }
}
