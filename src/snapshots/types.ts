import type { Readable } from 'node:stream';

/**
 * The narrow boundary every snapshot object store implements (file, s3, gcs). Names are flat
 * (no `/`), relative to the target's prefix. A backend maps its SDK's errors to BootstrapError
 * (SNAPSHOT_STORE_UNAVAILABLE, SNAPSHOT_STORE_DENIED, SNAPSHOT_NOT_FOUND) in its own file, and
 * never logs or embeds an object's content.
 */
export interface ObjectStore {
  /** `file`, `s3` or `gcs`. */
  readonly kind: SnapshotTargetKind;
  /** Where objects go, for logs and reports: the target as given (no credential ever is part of it). */
  readonly location: string;

  /**
   * Streams `body` into the object `name`. The object is not visible under `name` until the
   * stream has ended and the backend has committed it whole (S3: multipart completed; GCS:
   * resumable upload finalized; file: written, synced, renamed). A failure or a kill midway
   * leaves nothing under `name` (at most an incomplete upload the bucket's lifecycle removes).
   * Resolves with the size the store holds for the object.
   */
  put(name: string, body: Readable, options: { contentType: string; signal?: AbortSignal }): Promise<{ size: number }>;

  /** Every object under the prefix: name, size and creation time (when the store says). */
  list(): Promise<ObjectInfo[]>;

  /** The object's content as a stream; SNAPSHOT_NOT_FOUND when absent. */
  get(name: string): Promise<Readable>;

  /** Removes the object; absent is fine. */
  delete(name: string): Promise<void>;

  close(): Promise<void>;
}

export interface ObjectInfo {
  name: string;
  size: number;
  createdAt: string | undefined;
}

export type SnapshotTargetKind = 'file' | 's3' | 'gcs';

/** --snapshot-to parsed: `file:///dir`, `s3://bucket/prefix`, `gs://bucket/prefix`. */
export type SnapshotTarget =
  | { kind: 'file'; directory: string; location: string }
  | { kind: 's3'; bucket: string; prefix: string; location: string; kmsKey: string | undefined }
  | { kind: 'gcs'; bucket: string; prefix: string; location: string; kmsKey: string | undefined };
