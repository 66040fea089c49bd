import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { BootstrapError } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './types.js';

/** Each part is held in memory while it uploads: queue 1 × 8 MiB is the whole of the upload's memory, whatever the snapshot's size. */
const PART_SIZE = 8 * 1024 * 1024;
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Snapshots in S3 (`s3://bucket/prefix`). The SDK resolves credentials, region and the endpoint
 * override (AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL) itself; with an override the requests are
 * path-style (emulators and S3-compatible stores seldom serve bucket subdomains). A multipart
 * upload stays invisible until completed; a failed one is aborted, a killed one is left to the
 * bucket's AbortIncompleteMultipartUpload lifecycle rule (README: Disaster recovery).
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #kmsKey: string | undefined;

  constructor(
    options: { bucket: string; prefix: string; location: string; kmsKey: string | undefined },
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    this.location = options.location;
    this.#bucket = options.bucket;
    this.#prefix = options.prefix;
    this.#kmsKey = options.kmsKey;
    const endpointOverride = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
    this.#client = new S3Client({
      forcePathStyle: endpointOverride,
      requestHandler: {
        connectionTimeout: CONNECTION_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
      },
    });
  }

  async put(
    name: string,
    body: Readable,
    options: { contentType: string; signal?: AbortSignal },
  ): Promise<{ size: number }> {
    const key = this.#key(name);
    const upload = new Upload({
      client: this.#client,
      queueSize: 1,
      partSize: PART_SIZE,
      leavePartsOnError: false,
      params: {
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        ...(this.#kmsKey === undefined ? {} : { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.#kmsKey }),
      },
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      // The body's own error (an empty or unverified snapshot) is ours: pass it on as it is.
      if (error instanceof BootstrapError) throw error;
      const cause = (body as { errored?: unknown }).errored;
      if (cause instanceof BootstrapError) throw cause;
      throw this.#failure(`upload ${name}`, error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      throw this.#failure(`check ${name}`, error);
    }
  }

  async list(): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    let token: string | undefined;
    const prefix = this.#prefix === '' ? '' : `${this.#prefix}/`;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw this.#failure('list', error);
      }
      for (const entry of page.Contents ?? []) {
        const name = (entry.Key ?? '').slice(prefix.length);
        if (name === '' || name.includes('/')) continue;
        objects.push({ name, size: entry.Size ?? 0, createdAt: entry.LastModified?.toISOString() });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return objects.sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<Readable> {
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
      return output.Body as Readable;
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || statusOf(error) === 404)
        throw new BootstrapError('SNAPSHOT_NOT_FOUND', `${this.location}: ${name} does not exist`);
      throw this.#failure(`read ${name}`, error);
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw this.#failure(`delete ${name}`, error);
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  #key(name: string): string {
    return this.#prefix === '' ? name : `${this.#prefix}/${name}`;
  }

  /** Only the error's name and status leave this file: SDK messages may carry request details. */
  #failure(what: string, error: unknown): BootstrapError {
    const status = statusOf(error);
    const denied =
      status === 403 ||
      status === 401 ||
      errorName(error) === 'AccessDenied' ||
      errorName(error) === 'NoSuchBucket' ||
      errorName(error) === 'CredentialsProviderError';
    const reason = `${errorName(error) ?? 'request failed'}${status === undefined ? '' : ` (HTTP ${status})`}`;
    return new BootstrapError(
      denied ? 'SNAPSHOT_STORE_DENIED' : 'SNAPSHOT_STORE_UNAVAILABLE',
      `${this.location}: cannot ${what}: ${reason}`,
    );
  }
}

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return typeof name === 'string' && name !== 'Error' ? name : typeof code === 'string' ? code : undefined;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
