import { fileURLToPath } from 'node:url';
import { BootstrapError, ConfigError } from '../errors.js';
import type { StepContext } from '../steps/context.js';
import type { Deadlines } from '../deadlines.js';
import { DeadlineObjectStore } from './deadline.js';
import type { ObjectStore, SnapshotTarget } from './types.js';

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const PREFIX = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * --snapshot-to: `s3://bucket/prefix`, `gs://bucket/prefix` or `file:///dir` (local development:
 * refused inside Kubernetes unless --allow-file-store, the file store's rule). Throws ConfigError
 * naming the setting.
 */
export function parseSnapshotTarget(
  text: string,
  name: string,
  options: { insideKubernetes: boolean; allowFile: boolean; kmsKey: string | undefined },
): SnapshotTarget {
  const expected = 'expected s3://bucket/prefix, gs://bucket/prefix or file:///absolute/dir';
  const scheme = /^([a-z0-9]+):\/\//.exec(text)?.[1];
  if (scheme === 'file') {
    if (options.insideKubernetes && !options.allowFile) {
      throw new ConfigError(
        `${name}: file:// snapshots are for local development and are refused inside Kubernetes; use s3:// or gs:// (or --allow-file-store)`,
      );
    }
    if (options.kmsKey !== undefined)
      throw new ConfigError(`--snapshot-kms-key/VB_SNAPSHOT_KMS_KEY: only valid with an s3:// or gs:// --snapshot-to`);
    let directory: string;
    try {
      directory = fileURLToPath(text);
    } catch {
      throw new ConfigError(`${name}: ${expected}, got ${JSON.stringify(text)}`);
    }
    return { kind: 'file', directory: directory.replace(/\/+$/, '') || '/', location: text };
  }
  if (scheme !== 's3' && scheme !== 'gs') throw new ConfigError(`${name}: ${expected}, got ${JSON.stringify(text)}`);
  const rest = text.slice(`${scheme}://`.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (!BUCKET.test(bucket))
    throw new ConfigError(
      `${name}: ${JSON.stringify(bucket)} is not a bucket name (3-63 lower-case letters, digits, ".", "-", "_"); ${expected}`,
    );
  if (prefix !== '' && (!PREFIX.test(prefix) || prefix.split('/').some((segment) => /^\.+$/.test(segment))))
    throw new ConfigError(
      `${name}: ${JSON.stringify(prefix)} is not an object prefix (letters, digits, ".", "_", "-" between "/"); ${expected}`,
    );
  return { kind: scheme === 's3' ? 's3' : 'gcs', bucket, prefix, location: text, kmsKey: options.kmsKey };
}

/**
 * Builds the object store of a target, every call of it within its deadline (deadline.ts). The
 * SDKs are imported here, on demand: a sidecar with no --snapshot-to (or a file:// one) never
 * loads @aws-sdk/client-s3 or @google-cloud/storage.
 */
export async function createObjectStore(target: SnapshotTarget, deadlines: Deadlines): Promise<ObjectStore> {
  return new DeadlineObjectStore(await createBackend(target), deadlines);
}

async function createBackend(target: SnapshotTarget): Promise<ObjectStore> {
  switch (target.kind) {
    case 'file': {
      const { FileObjectStore } = await import('./file.js');
      return new FileObjectStore(target.directory, target.location);
    }
    case 's3': {
      const { S3ObjectStore } = await import('./s3.js');
      return new S3ObjectStore(target);
    }
    case 'gcs': {
      const { GcsObjectStore } = await import('./gcs.js');
      return new GcsObjectStore(target);
    }
  }
}

/** Opens --snapshot-to for the length of `work` (the SDK of its kind is loaded only now). */
export async function withObjectStore<T>(context: StepContext, work: (objects: ObjectStore) => Promise<T>): Promise<T> {
  const settings = context.config.snapshots;
  if (settings === undefined) throw new BootstrapError('CONFIG_INVALID', '--snapshot-to/VB_SNAPSHOT_TO: required');
  const objects = await createObjectStore(settings.target, context.deadlines);
  try {
    return await work(objects);
  } finally {
    await objects.close().catch(() => undefined);
  }
}
