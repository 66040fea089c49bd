import { describe, expect, it } from 'vitest';
import { podIdentity } from '../../src/kube/detect.js';
import { EventRecorder, eventForLog, KubeApiError, type EventsApi, type KubeEvent } from '../../src/kube/events.js';

interface Call {
  method: 'create' | 'patch';
  name: string;
  body: Partial<KubeEvent>;
}

/** An API that records calls; `answer` decides each one's fate. */
function fakeApi(answer: (call: Call, signal: AbortSignal) => Promise<void> = () => Promise.resolve()): {
  api: EventsApi;
  calls: Call[];
} {
  const calls: Call[] = [];
  return {
    calls,
    api: {
      create: (_namespace, event, signal) => {
        const call: Call = { method: 'create', name: event.metadata.name, body: event };
        calls.push(call);
        return answer(call, signal);
      },
      patch: (_namespace, name, patch, signal) => {
        const call: Call = { method: 'patch', name, body: patch };
        calls.push(call);
        return answer(call, signal);
      },
    },
  };
}

const POD = { namespace: 'vault', podName: 'openbao-0', podUid: 'uid-0' };
const UNSEALED = {
  type: 'Normal',
  reason: 'Unsealed',
  message: 'unsealed this node with version 1 of the stored keys',
} as const;

function clock(start = Date.parse('2026-01-01T00:00:00Z')): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('EventRecorder', () => {
  it('creates an Event on the pod (involvedObject with uid and container), then bumps the count of an identical one by PATCH', async () => {
    const { api, calls } = fakeApi();
    const time = clock();
    const recorder = new EventRecorder({ api, pod: POD, container: 'vault-bootstrap', now: time.now });
    recorder.record(UNSEALED);
    await recorder.flush(1_000);
    time.advance(60_000);
    recorder.record(UNSEALED);
    recorder.record(UNSEALED);
    await recorder.flush(1_000);
    expect(calls.map((call) => call.method)).toEqual(['create', 'patch', 'patch']);
    const created = calls[0]!.body as KubeEvent;
    expect(created.involvedObject).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'vault',
      name: 'openbao-0',
      uid: 'uid-0',
      fieldPath: 'spec.containers{vault-bootstrap}',
    });
    expect(created).toMatchObject({
      reason: 'Unsealed',
      type: 'Normal',
      count: 1,
      source: { component: 'vault-bootstrap' },
      reportingInstance: 'openbao-0',
    });
    expect(created.metadata.name).toMatch(/^openbao-0\.[0-9a-f]+$/);
    expect(calls.slice(1).map((call) => [call.name, call.body.count])).toEqual([
      [created.metadata.name, 2],
      [created.metadata.name, 3],
    ]);
    expect(calls[1]!.body.lastTimestamp).toBe('2026-01-01T00:01:00Z');
    expect(recorder.counts).toMatchObject({ created: 1, patched: 2, failed: 0 });
  });

  it('a different message is a different Event', async () => {
    const { api, calls } = fakeApi();
    const recorder = new EventRecorder({ api, pod: POD });
    recorder.record(UNSEALED);
    recorder.record({ ...UNSEALED, message: 'unsealed this node with version 2 of the stored keys' });
    await recorder.flush(1_000);
    expect(calls.map((call) => call.method)).toEqual(['create', 'create']);
    expect(new Set(calls.map((call) => call.name)).size).toBe(2);
  });

  it('creates a new Event when the one to bump is gone (404), as the kubelet does', async () => {
    const { api, calls } = fakeApi((call) =>
      call.method === 'patch' ? Promise.reject(new KubeApiError(404, 'HTTP 404 NotFound')) : Promise.resolve(),
    );
    const recorder = new EventRecorder({ api, pod: POD });
    recorder.record(UNSEALED);
    await recorder.flush(1_000);
    recorder.record(UNSEALED);
    await recorder.flush(1_000);
    expect(calls.map((call) => call.method)).toEqual(['create', 'patch', 'create']);
    expect(recorder.counts).toMatchObject({ created: 2, failed: 0 });
  });

  it('rate-limits like the kubelet: a burst, then one per refill interval; what exceeds it is dropped', async () => {
    const { api, calls } = fakeApi();
    const time = clock();
    const recorder = new EventRecorder({ api, pod: POD, now: time.now, burst: 3, refillMs: 300_000 });
    for (let index = 0; index < 10; index += 1) recorder.record({ ...UNSEALED, message: `m${index}` });
    await recorder.flush(1_000);
    expect(calls).toHaveLength(3);
    expect(recorder.counts.rateLimited).toBe(7);
    time.advance(299_999);
    recorder.record({ ...UNSEALED, message: 'still limited' });
    time.advance(1);
    recorder.record({ ...UNSEALED, message: 'one token back' });
    recorder.record({ ...UNSEALED, message: 'limited again' });
    await recorder.flush(1_000);
    expect(calls.map((call) => call.body.message)).toEqual(['m0', 'm1', 'm2', 'one token back']);
    time.advance(10 * 300_000);
    for (let index = 0; index < 5; index += 1) recorder.record({ ...UNSEALED, message: `later ${index}` });
    await recorder.flush(1_000);
    expect(calls).toHaveLength(4 + 3);
  });

  it('never blocks the caller: a hung API server meets the deadline, and the queue is bounded', async () => {
    const errors: string[] = [];
    const { api, calls } = fakeApi(
      (_call, signal) =>
        new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('deadline')))),
    );
    const recorder = new EventRecorder({
      api,
      pod: POD,
      deadlineMs: 50,
      queueLimit: 2,
      onError: (message) => errors.push(message),
    });
    // record() returns undefined at once (no promise to wait on), whatever the API server does.
    for (let index = 0; index < 6; index += 1)
      expect(recorder.record({ ...UNSEALED, message: `m${index}` })).toBeUndefined();
    await recorder.flush(5_000);
    // The first is in flight at once; two wait; the rest do not fit.
    expect(calls.map((call) => call.body.message)).toEqual(['m0', 'm1', 'm2']);
    expect(recorder.counts).toMatchObject({ failed: 3, dropped: 3, created: 0 });
    // Each distinct failure once, not every attempt.
    expect(errors).toEqual(['Unsealed: deadline']);
  });

  it('a refusal (403: no RBAC for events) is counted, never thrown', async () => {
    const { api } = fakeApi(() => Promise.reject(new KubeApiError(403, 'HTTP 403 Forbidden')));
    const recorder = new EventRecorder({ api, pod: POD });
    expect(() => recorder.record(UNSEALED)).not.toThrow();
    await recorder.flush(1_000);
    expect(recorder.counts.failed).toBe(1);
  });

  it('flush returns at its timeout while a request still hangs', async () => {
    const { api } = fakeApi(() => new Promise(() => undefined));
    const recorder = new EventRecorder({ api, pod: POD, deadlineMs: 60_000 });
    recorder.record(UNSEALED);
    await recorder.flush(100);
    expect(recorder.counts).toMatchObject({ created: 0, failed: 0 });
  });
});

describe('eventForLog', () => {
  it('turns the state changes a person cares about into Events, and nothing else', () => {
    expect(eventForLog({ event: 'init-secrets-stored', store: 'aws', secrets: ['vault-unseal-keys'] })).toMatchObject({
      type: 'Normal',
      reason: 'Initialized',
    });
    expect(eventForLog({ event: 'unsealed', version: 2 })).toEqual({
      type: 'Normal',
      reason: 'Unsealed',
      message: 'unsealed this node with version 2 of the stored keys',
    });
    expect(eventForLog({ event: 'seal-intent-recorded' })).toMatchObject({ type: 'Warning', reason: 'SealIntent' });
    expect(eventForLog({ event: 'sealed-for-intent' })).toMatchObject({ type: 'Warning', reason: 'SealedForIntent' });
    expect(eventForLog({ event: 'rotation-complete', version: 3 })).toMatchObject({
      type: 'Normal',
      reason: 'KeysRotated',
    });
    for (const event of ['state', 'act', 'pass', 'unseal-share-submitted', 'claim-won', undefined])
      expect(eventForLog({ event })).toBeUndefined();
  });

  it('a blocked Event names the blocker, its reason and where the README says what to do', () => {
    const spec = eventForLog({
      event: 'blocked',
      blocker: 'keys-rejected',
      reason: 'the server refused every stored key version',
    });
    expect(spec).toMatchObject({ type: 'Warning', reason: 'Blocked' });
    expect(spec!.message).toContain('keys-rejected: the server refused every stored key version');
    expect(spec!.message).toContain('the row "blocked, keys-rejected" (README: Recovery)');
  });

  it('reads only its own fields: a token or key beside them never reaches the message', () => {
    const secret = 'hvs.SECRETSECRETSECRET';
    for (const event of [
      'init-secrets-stored',
      'unsealed',
      'blocked',
      'seal-intent-recorded',
      'rotation-complete',
      'pending-keys-activated',
    ]) {
      const spec = eventForLog({
        event,
        token: secret,
        keys: [secret],
        key: secret,
        root_token: secret,
        value: secret,
        blocker: 'store-denied',
        reason: 'denied',
      });
      expect(JSON.stringify(spec)).not.toContain(secret);
    }
  });
});

describe('podIdentity', () => {
  const files = (present: string[]) => (path: string) => present.some((name) => path.endsWith(name));
  const env = {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    POD_NAME: 'openbao-1',
    POD_NAMESPACE: 'vault',
    POD_UID: 'u',
  };

  it('is the pod, the API server and the namespace when a token is mounted', () => {
    expect(podIdentity(env, '/sa', files(['/sa/token', '/sa/ca.crt']))).toEqual({
      apiServer: 'https://10.96.0.1:443',
      namespace: 'vault',
      podName: 'openbao-1',
      podUid: 'u',
      serviceAccountDirectory: '/sa',
    });
  });

  it('reads the namespace from the mounted file when POD_NAMESPACE is not set', () => {
    expect(
      podIdentity({ ...env, POD_NAMESPACE: undefined }, '/sa', files(['token', 'ca.crt']), () => 'other\n')?.namespace,
    ).toBe('other');
  });

  it('is undefined off Kubernetes, without a token, without POD_NAME, or with VB_KUBE_EVENTS=false', () => {
    expect(podIdentity({}, '/sa', files(['token', 'ca.crt']))).toBeUndefined();
    expect(podIdentity(env, '/sa', files(['ca.crt']))).toBeUndefined();
    expect(podIdentity({ ...env, POD_NAME: undefined }, '/sa', files(['token', 'ca.crt']))).toBeUndefined();
    expect(podIdentity({ ...env, VB_KUBE_EVENTS: 'false' }, '/sa', files(['token', 'ca.crt']))).toBeUndefined();
  });
});

describe('createLogger onRecord (what feeds the Events)', () => {
  it("sees every written record's fields, a child logger's too, and none below the level", async () => {
    const { createLogger } = await import('../../src/log.js');
    const seen: unknown[] = [];
    const sink = { write: () => true };
    const log = createLogger('info', sink as never, (fields) => seen.push(fields.event));
    log.info({ event: 'unsealed', version: 1 }, 'unsealed');
    log.child({ component: 'x' }).error({ event: 'blocked', blocker: 'store-denied' }, 'needs a person');
    log.debug({ event: 'pass' }, 'pass');
    log.info('a message alone');
    expect(seen).toEqual(['unsealed', 'blocked']);
  });
});
