// Kubernetes Events on the sidecar's own pod, for the state changes a person looks for first in
// `kubectl describe pod`: initialized, unsealed, blocked (with the blocker and where the README
// says what to do), seal intent, key rotation. Loaded only on Kubernetes (./detect.ts).
//
// Like the kubelet's event recorder (client-go's EventCorrelator): an identical Event (same type,
// reason and message) is not created again but its count is bumped with a PATCH; a token bucket
// (burst 25, one more every 5 minutes, per pod) drops what exceeds it. Posting never blocks or
// fails the loop: record() only queues (bounded; what does not fit is dropped and counted), one
// worker sends with a deadline per request, and a refusal or time-out is logged once at debug.
// The Event text comes from a fixed set of log fields (event names, versions, blockers, the
// blocker's reason), never from a secret.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { PodIdentity } from './detect.js';

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Events carry at most 1 KiB of message (the API server's limit); ours stay well below. */
const MESSAGE_LIMIT = 1024;

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

/** The Event a log record stands for, or undefined for the many that are not a person's concern. */
export function eventForLog(fields: Readonly<Record<string, unknown>>): EventSpec | undefined {
  switch (fields.event) {
    case 'init-secrets-stored':
      return {
        type: 'Normal',
        reason: 'Initialized',
        message: `initialized the cluster; its unseal keys and root token are stored in the ${text(fields.store) || 'secret'} store`,
      };
    case 'unsealed':
      return {
        type: 'Normal',
        reason: 'Unsealed',
        message: `unsealed this node with version ${text(fields.version)} of the stored keys`,
      };
    case 'pending-keys-activated':
      return {
        type: 'Normal',
        reason: 'KeysRotated',
        message: `the keys of a verified rotation are active now (version ${text(fields.version)})`,
      };
    case 'rotation-complete':
      return {
        type: 'Normal',
        reason: 'KeysRotated',
        message: `key rotation complete: version ${text(fields.version)} of the keys is active`,
      };
    case 'blocked':
      return {
        type: 'Warning',
        reason: 'Blocked',
        message: `needs a person: ${text(fields.blocker)}: ${text(fields.reason)}. What to do: the row "blocked, ${text(fields.blocker)}" (README: Recovery)`,
      };
    case 'seal-intent-recorded':
      return {
        type: 'Warning',
        reason: 'SealIntent',
        message: 'a seal intent is recorded: every sidecar keeps its node sealed until vault-bootstrap resume',
      };
    case 'sealed-for-intent':
      return {
        type: 'Warning',
        reason: 'SealedForIntent',
        message: 'sealed this node: a seal intent is active (vault-bootstrap resume ends it)',
      };
    case 'seal-intent-ended':
      return {
        type: 'Normal',
        reason: 'SealIntentEnded',
        message: 'the seal intent ended: the sidecars unseal as usual',
      };
    default:
      return undefined;
  }
}

/** What the recorder needs from the API server: create an Event, or merge-patch one by name. */
export interface EventsApi {
  create(namespace: string, event: KubeEvent, signal: AbortSignal): Promise<void>;
  /** Rejects with an error whose `status` is 404 when the Event is gone (they expire after an hour). */
  patch(namespace: string, name: string, patch: Partial<KubeEvent>, signal: AbortSignal): Promise<void>;
}

export interface KubeEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  involvedObject: { apiVersion: 'v1'; kind: 'Pod'; namespace: string; name: string; uid?: string; fieldPath?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

export interface RecorderOptions {
  api: EventsApi;
  pod: Pick<PodIdentity, 'namespace' | 'podName' | 'podUid'>;
  /** The container the Events are about (involvedObject.fieldPath). */
  container?: string;
  now?: () => number;
  /** Token bucket: at most `burst` at once, then one per `refillMs` (the kubelet: 25, 5 minutes). */
  burst?: number;
  refillMs?: number;
  /** Records waiting to be sent; more are dropped (and counted). */
  queueLimit?: number;
  /** Per request. */
  deadlineMs?: number;
  /** Distinct Events remembered for the count bump (least recently used go first). */
  cacheSize?: number;
  /** A failed request (once per distinct message until one succeeds). */
  onError?: (message: string) => void;
}

interface Sent {
  name: string;
  count: number;
  firstTimestamp: string;
}

export class EventRecorder {
  readonly #api: EventsApi;
  readonly #pod: RecorderOptions['pod'];
  readonly #container: string | undefined;
  readonly #now: () => number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #queueLimit: number;
  readonly #deadlineMs: number;
  readonly #cacheSize: number;
  readonly #onError: (message: string) => void;
  readonly #queue: EventSpec[] = [];
  /** key (type, reason, message) → the Event created for it; Map order is recency. */
  readonly #sent = new Map<string, Sent>();
  #tokens: number;
  #refilledAt: number;
  #worker: Promise<void> | undefined;
  #lastError: string | undefined;
  #sequence = 0;
  /** Counters, for tests and the closing log line. */
  readonly counts = { created: 0, patched: 0, dropped: 0, rateLimited: 0, failed: 0 };

  constructor(options: RecorderOptions) {
    this.#api = options.api;
    this.#pod = options.pod;
    this.#container = options.container;
    this.#now = options.now ?? Date.now;
    this.#burst = options.burst ?? 25;
    this.#refillMs = options.refillMs ?? 5 * 60_000;
    this.#queueLimit = options.queueLimit ?? 32;
    this.#deadlineMs = options.deadlineMs ?? 5_000;
    this.#cacheSize = options.cacheSize ?? 64;
    this.#onError = options.onError ?? (() => undefined);
    this.#tokens = this.#burst;
    this.#refilledAt = this.#now();
  }

  /** Queues an Event; returns at once, whatever happens to it. */
  record(spec: EventSpec): void {
    if (!this.#take()) {
      this.counts.rateLimited += 1;
      return;
    }
    if (this.#queue.length >= this.#queueLimit) {
      this.counts.dropped += 1;
      return;
    }
    this.#queue.push({ ...spec, message: spec.message.slice(0, MESSAGE_LIMIT) });
    this.#worker ??= this.#drain().finally(() => (this.#worker = undefined));
  }

  /** Waits until the queue is empty or `timeoutMs` passed (a command about to exit). Never rejects. */
  async flush(timeoutMs: number): Promise<void> {
    if (!this.#worker) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#worker.catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** The spam filter: one token per Event, refilled one per refillMs up to the burst. */
  #take(): boolean {
    const now = this.#now();
    const refills = Math.floor((now - this.#refilledAt) / this.#refillMs);
    if (refills > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + refills);
      this.#refilledAt = this.#tokens === this.#burst ? now : this.#refilledAt + refills * this.#refillMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  async #drain(): Promise<void> {
    for (let spec = this.#queue.shift(); spec; spec = this.#queue.shift()) {
      try {
        await this.#send(spec);
        this.#lastError = undefined;
      } catch (error) {
        this.counts.failed += 1;
        const message = `${spec.reason}: ${error instanceof Error ? error.message : String(error)}`;
        if (message !== this.#lastError) this.#onError(message);
        this.#lastError = message;
      }
    }
  }

  async #send(spec: EventSpec): Promise<void> {
    const key = `${spec.type}\u0000${spec.reason}\u0000${spec.message}`;
    const timestamp = new Date(this.#now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const { namespace } = this.#pod;
    const previous = this.#sent.get(key);
    if (previous) {
      this.#sent.delete(key);
      try {
        await this.#api.patch(
          namespace,
          previous.name,
          { count: previous.count + 1, lastTimestamp: timestamp },
          AbortSignal.timeout(this.#deadlineMs),
        );
        this.#remember(key, { ...previous, count: previous.count + 1 });
        this.counts.patched += 1;
        return;
      } catch (error) {
        if ((error as { status?: number }).status !== 404) {
          this.#remember(key, previous);
          throw error;
        }
        // Expired or deleted: a new Event, as the kubelet does.
      }
    }
    const name = `${this.#pod.podName}.${(BigInt(this.#now()) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000)).toString(16)}`;
    const event: KubeEvent = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace,
        name: this.#pod.podName,
        ...(this.#pod.podUid ? { uid: this.#pod.podUid } : {}),
        ...(this.#container ? { fieldPath: `spec.containers{${this.#container}}` } : {}),
      },
      reason: spec.reason,
      message: spec.message,
      type: spec.type,
      source: { component: 'vault-bootstrap' },
      reportingComponent: 'vault-bootstrap',
      reportingInstance: this.#pod.podName,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      count: 1,
    };
    await this.#api.create(namespace, event, AbortSignal.timeout(this.#deadlineMs));
    this.#remember(key, { name, count: 1, firstTimestamp: timestamp });
    this.counts.created += 1;
  }

  #remember(key: string, sent: Sent): void {
    this.#sent.set(key, sent);
    while (this.#sent.size > this.#cacheSize) this.#sent.delete(this.#sent.keys().next().value as string);
  }
}

export class KubeApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * The two calls over HTTPS with the pod's service-account token (read before each request: the
 * kubelet rotates projected tokens) and the cluster CA. No client library.
 */
export function inClusterApi(identity: PodIdentity): EventsApi {
  const ca = readFileSync(join(identity.serviceAccountDirectory, 'ca.crt'));
  const call = (method: string, path: string, body: unknown, contentType: string, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      let token: string;
      try {
        token = readFileSync(join(identity.serviceAccountDirectory, 'token'), 'utf8').trim();
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      const payload = JSON.stringify(body);
      const outgoing = request(
        `${identity.apiServer}${path}`,
        {
          method,
          ca,
          signal,
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': contentType,
            accept: 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (answer) => {
          let received = '';
          answer.setEncoding('utf8');
          answer.on('data', (chunk: string) => (received.length < 4096 ? (received += chunk) : undefined));
          answer.on('end', () => {
            const status = answer.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            let reason = `HTTP ${status}`;
            try {
              const parsed = JSON.parse(received) as { reason?: string; message?: string };
              reason = `HTTP ${status} ${parsed.reason ?? ''}: ${(parsed.message ?? '').slice(0, 200)}`;
            } catch {
              // not a Status object
            }
            reject(new KubeApiError(status, reason));
          });
          answer.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  const events = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`;
  return {
    create: (namespace, event, signal) => call('POST', events(namespace), event, 'application/json', signal),
    patch: (namespace, name, patch, signal) =>
      call('PATCH', `${events(namespace)}/${encodeURIComponent(name)}`, patch, 'application/merge-patch+json', signal),
  };
}

/** The recorder for this pod, fed by the log records that stand for an Event. */
export function startEvents(
  identity: PodIdentity,
  onError: (message: string) => void,
): { onRecord: (fields: Readonly<Record<string, unknown>>) => void; recorder: EventRecorder } {
  const recorder = new EventRecorder({
    api: inClusterApi(identity),
    pod: identity,
    container: 'vault-bootstrap',
    onError,
  });
  return {
    recorder,
    onRecord: (fields) => {
      const spec = eventForLog(fields);
      if (spec) recorder.record(spec);
    },
  };
}
