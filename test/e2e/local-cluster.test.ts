// End to end on a real single-node Kubernetes (scripts/local-cluster.sh: kubelet, containerd, the
// control plane, kube-proxy, CoreDNS and moto inside a network namespace of its own): the
// manifests of k8s/overlays/local applied with `kubectl apply -k`, run by a kubelet, with the
// project's image and an OpenBao image. What the dry-runs of k8s-manifests.test.ts cannot see:
// start order, probes as the kubelet runs them, the memory-backed spool across a container
// restart, pod deletion, the seal intent across a pod deletion, the DR and one-shot Job layouts
// over surviving volumes, Kubernetes Events (Initialized, Unsealed, Blocked, SealIntent,
// KeysRotated).
//
// The steps share one cluster and run in order (each starts from the state the previous left).
// Durations are printed (docs/benchmarks.md), never asserted.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingImageTools } from '../../harness/image.js';
import { LOCAL_MOTO_ENDPOINT, LocalCluster, missingLocalCluster } from '../../harness/local-cluster.js';
import { until as poll } from '../../harness/poll.js';
import { secretNames } from '../../src/store/types.js';
import { expectNoSecretIn } from '../helpers/secrets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// A cluster of this run's own: two runs of this file at once (a CI rehearsal and an engineer's
// run on the same machine) would otherwise share one, and the first to finish would stop it
// under the other. NAME: at most 10 characters (scripts/local-cluster.sh).
const NAME = `e2e${process.pid % 10_000_000}`;
const NAMESPACE = 'vault';
const SERVER_PODS = ['openbao-0', 'openbao-1', 'openbao-2'];
const SELECTOR = 'app.kubernetes.io/name=openbao,app.kubernetes.io/component=server';

const skipReason =
  missingLocalCluster() ??
  missingImageTools() ??
  (process.env.VB_SKIP_E2E ? `VB_SKIP_E2E=${process.env.VB_SKIP_E2E}` : undefined);
if (skipReason) console.warn(`local-cluster e2e: skipped: ${skipReason}`);

let cluster: LocalCluster;
let scratch: string;
const figures: Record<string, string> = {};

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Polls once a second by default; a timeout's message carries the cluster's pods and Events. */
function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, everyMs = 1_000): Promise<T> {
  return poll(what, check, timeoutMs, everyMs, diagnostics);
}

/** What a failing step prints: pods, recent events, the sidecars' last log lines. */
async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['get', 'pods', '-A', '-o', 'wide'],
    ['get', 'events', '-n', NAMESPACE, '--sort-by=.lastTimestamp'],
  ]) {
    parts.push((await cluster.kubectl(args, { allowFailure: true })).stdout.split('\n').slice(-40).join('\n'));
  }
  for (const pod of SERVER_PODS) {
    const logs = await cluster.kubectl(['logs', '-n', NAMESPACE, pod, '-c', 'vault-bootstrap', '--tail=8'], {
      allowFailure: true,
    });
    parts.push(`${pod}: ${logs.stdout}${logs.stderr}`);
  }
  return parts.join('\n');
}

interface PodState {
  name: string;
  uid: string;
  ready: boolean;
  restarts: Record<string, number>;
}

async function serverPods(namespace = NAMESPACE): Promise<PodState[]> {
  const list = await cluster.get(['pods', '-n', namespace, '-l', SELECTOR]);
  return list.items.map((pod: any) => ({
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    ready:
      pod.metadata.deletionTimestamp === undefined &&
      (pod.status.conditions ?? []).some((condition: any) => condition.type === 'Ready' && condition.status === 'True'),
    restarts: Object.fromEntries(
      (pod.status.containerStatuses ?? []).map((status: any) => [status.name, status.restartCount]),
    ),
  }));
}

/** All three server pods Ready; when `not` is given, none of them is one of those uids. */
function allReady(not: string[] = [], namespace = NAMESPACE, count = 3): Promise<PodState[]> {
  return until(
    `${count} Ready pods in ${namespace}`,
    async () => {
      const pods = await serverPods(namespace);
      return pods.length === count && pods.every((pod) => pod.ready && !not.includes(pod.uid)) ? pods : undefined;
    },
    10 * 60_000,
  );
}

/** The sidecars' log records (JSON lines) of the given pods, current containers and, with previous, the last terminated one. */
async function sidecarRecords(pods: string[], namespace = NAMESPACE, previous = false): Promise<any[]> {
  const records: any[] = [];
  for (const pod of pods) {
    const logs = await cluster.kubectl(
      ['logs', '-n', namespace, pod, '-c', 'vault-bootstrap', ...(previous ? ['--previous'] : [])],
      { allowFailure: true },
    );
    for (const line of logs.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        records.push({ pod, ...JSON.parse(line) });
      } catch {
        // a partial line
      }
    }
  }
  return records;
}

interface KubeEvent {
  reason: string;
  type: string;
  message: string;
  count: number;
  involvedObject: { name: string; uid?: string };
  source?: { component?: string };
}

async function ourEvents(namespace = NAMESPACE): Promise<KubeEvent[]> {
  const list = await cluster.get(['events', '-n', namespace]);
  return list.items.filter((event: KubeEvent) => event.source?.component === 'vault-bootstrap');
}

/** Every version of every secret moto holds (read from inside the cluster's network): {name: [SecretString, ...]}. */
async function storeContents(): Promise<Record<string, string[]>> {
  const { stdout } = await cluster.exec(
    [process.execPath, join(ROOT, 'test/fixtures/e2e/read-store.mjs'), LOCAL_MOTO_ENDPOINT],
    { timeoutMs: 60_000 },
  );
  return JSON.parse(stdout) as Record<string, string[]>;
}

/** Every secret value moto holds under a prefix, as test/helpers/secrets.ts collects them. */
async function storedSecrets(prefix = 'vault'): Promise<string[]> {
  const stored = await storeContents();
  const names = secretNames(prefix);
  const values: string[] = [];
  for (const text of stored[names.unsealKeys] ?? []) {
    for (const key of (JSON.parse(text) as { keysBase64: string[] }).keysBase64)
      values.push(key, Buffer.from(key, 'base64').toString('hex'));
  }
  for (const name of [names.rootToken, names.provisionerToken, names.managementToken]) {
    for (const text of stored[name] ?? []) {
      const token = (JSON.parse(text) as { token: string | null }).token;
      if (token) values.push(token);
    }
  }
  return values;
}

/**
 * A kustomization of its own over k8s/overlays/local (kustomize takes no absolute path, so the
 * base is named relative to it): the variants the later steps apply (a second namespace, the DR
 * settings, the Job layout). `files` are written beside it (a configMapGenerator's inputs).
 */
function variant(name: string, body: string, files: Record<string, string> = {}): string {
  const directory = join(scratch, name);
  mkdirSync(directory, { recursive: true });
  const base = (path: string) => relative(directory, join(ROOT, path));
  writeFileSync(
    join(directory, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${base('k8s/overlays/local')}\n` +
      body.replaceAll('$COMPONENTS', base('k8s/components')),
  );
  for (const [file, text] of Object.entries(files)) writeFileSync(join(directory, file), text);
  return directory;
}

/** `vault-bootstrap COMMAND` in a sidecar, as an operator runs it (README, "Emergency seal"). */
function sidecarCommand(pod: string, args: string[], namespace = NAMESPACE) {
  return cluster.kubectl(
    ['exec', '-n', namespace, pod, '-c', 'vault-bootstrap', '--', '/nodejs/bin/node', '/app/dist/cli.js', ...args],
    { timeoutMs: 120_000 },
  );
}

describe.skipIf(skipReason !== undefined)('the manifests on a real kubelet (k8s/overlays/local)', () => {
  beforeAll(async () => {
    const started = Date.now();
    scratch = mkdtempSync(join(tmpdir(), 'vb-e2e-'));
    cluster = await LocalCluster.start(NAME);
    figures['cluster up (images included)'] = seconds(started);
    await cluster.tls(NAMESPACE);
  }, 20 * 60_000);

  afterAll(async () => {
    console.info(`local-cluster e2e figures: ${JSON.stringify(figures)}`);
    if (cluster) await cluster.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }, 5 * 60_000);

  it(
    'kubectl apply -k: three pods Ready, exactly one sys/init, Events on the pods',
    async () => {
      const started = Date.now();
      // As k8s/README.md ("Try it locally") says, word for word.
      await cluster.exec(['kubectl', 'apply', '-k', 'k8s/overlays/local'], { timeoutMs: 120_000 });
      const pods = await allReady();
      figures['apply -> 3 Ready'] = seconds(started);
      expect(pods.map((pod) => pod.name).sort()).toEqual(SERVER_PODS);

      const records = await sidecarRecords(SERVER_PODS);
      const initializers = records
        .filter((record) => record.event === 'init-secrets-stored')
        .map((record) => record.pod);
      expect(initializers, 'exactly one sidecar initialized').toHaveLength(1);
      expect(records.filter((record) => record.event === 'claim-won')).toHaveLength(1);

      const events = await until(
        'the Initialized and Unsealed Events',
        async () => {
          const all = await ourEvents();
          // The nodes that join raft are unsealed by the join itself (their sidecars log unseal-interfered): only the initializer says Unsealed now.
          return all.some((event) => event.reason === 'Initialized') && all.some((event) => event.reason === 'Unsealed')
            ? all
            : undefined;
        },
        60_000,
      );
      const listed = await cluster.exec(['kubectl', '-n', 'vault', 'get', 'events']);
      expect(listed.stdout).toMatch(/Normal\s+Initialized\s+pod\/openbao-\d/);
      expect((await cluster.exec(['kubectl', '-n', 'vault', 'get', 'pods'])).stdout).toMatch(
        /openbao-0\s+2\/2\s+Running/,
      );
      const initialized = events.filter((event) => event.reason === 'Initialized');
      expect(initialized.map((event) => event.involvedObject.name)).toEqual(initializers);
      expect(initialized[0]!.involvedObject.uid).toBe(pods.find((pod) => pod.name === initializers[0])!.uid);
      // What a person sees first: `kubectl describe pod` lists them.
      const described = await cluster.kubectl(['describe', 'pod', '-n', NAMESPACE, initializers[0]!]);
      expect(described.stdout).toMatch(/Normal\s+Initialized\s+.*vault-bootstrap/);

      const secrets = await storedSecrets();
      const printed = [
        JSON.stringify(await cluster.get(['events', '-n', NAMESPACE])),
        ...records.map((record) => JSON.stringify(record)),
      ];
      expectNoSecretIn(printed, secrets);
    },
    15 * 60_000,
  );

  it(
    'a deleted pod comes back Ready (its sidecar unseals it; no second init)',
    async () => {
      const before = await serverPods();
      const victim = before.find((pod) => pod.name === 'openbao-1')!;
      const started = Date.now();
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, 'openbao-1', '--wait=false']);
      await allReady([victim.uid]);
      figures['pod deleted -> Ready'] = seconds(started);
      const records = await sidecarRecords(SERVER_PODS);
      expect(
        records.filter(
          (record) =>
            record.pod === 'openbao-1' && (record.event === 'claim-won' || record.event === 'init-secrets-stored'),
        ),
      ).toEqual([]);
      expect(records.some((record) => record.pod === 'openbao-1' && record.event === 'unsealed')).toBe(true);
      const fresh = (await serverPods()).find((pod) => pod.name === 'openbao-1')!;
      await until(
        'an Unsealed Event on the new pod',
        async () =>
          (await ourEvents()).some((event) => event.reason === 'Unsealed' && event.involvedObject.uid === fresh.uid)
            ? true
            : undefined,
        60_000,
      );
    },
    15 * 60_000,
  );

  it(
    'all pods deleted: all come back Ready, unsealed from the store, no init',
    async () => {
      const before = await serverPods();
      const started = Date.now();
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, '-l', SELECTOR, '--wait=false']);
      const after = await allReady(before.map((pod) => pod.uid));
      figures['all pods deleted -> all Ready'] = seconds(started);
      const records = await sidecarRecords(SERVER_PODS);
      expect(
        records.filter((record) => record.event === 'claim-won' || record.event === 'init-secrets-stored'),
      ).toEqual([]);
      expect(new Set(records.filter((record) => record.event === 'unsealed').map((record) => record.pod))).toEqual(
        new Set(SERVER_PODS),
      );
      expect(after).toHaveLength(3);
    },
    15 * 60_000,
  );

  it(
    'a rolling update of the sidecar image: one pod at a time, each Ready again, no init',
    async () => {
      // The same image under a second name: the template changes, so the StatefulSet rolls.
      await cluster.ctr([
        'images',
        'tag',
        '--force',
        'localhost/vault-bootstrap:dev',
        'localhost/vault-bootstrap:dev-rollout',
      ]);
      const before = await serverPods();
      const started = Date.now();
      await cluster.kubectl([
        '-n',
        NAMESPACE,
        'set',
        'image',
        'statefulset/openbao',
        'vault-bootstrap=localhost/vault-bootstrap:dev-rollout',
      ]);
      await cluster.kubectl(['-n', NAMESPACE, 'rollout', 'status', 'statefulset/openbao', '--timeout=15m'], {
        timeoutMs: 16 * 60_000,
      });
      await allReady(before.map((pod) => pod.uid));
      figures['rolling update of the sidecar -> all Ready'] = seconds(started);
      const records = await sidecarRecords(SERVER_PODS);
      expect(
        records.filter((record) => record.event === 'claim-won' || record.event === 'init-secrets-stored'),
      ).toEqual([]);
    },
    20 * 60_000,
  );

  it(
    'a drain under the PodDisruptionBudget: one pod evicted, a second eviction refused while it is down',
    async () => {
      const node = 'local-node';
      await cluster.kubectl(
        [
          'drain',
          node,
          '--pod-selector=statefulset.kubernetes.io/pod-name=openbao-2',
          '--delete-emptydir-data',
          '--ignore-daemonsets',
          '--timeout=5m',
        ],
        { timeoutMs: 6 * 60_000 },
      );
      try {
        // openbao-2 is gone and cannot come back on the cordoned node: the budget (maxUnavailable 1) is spent.
        const refused = await cluster.kubectl(
          [
            'drain',
            node,
            '--pod-selector=statefulset.kubernetes.io/pod-name=openbao-1',
            '--delete-emptydir-data',
            '--ignore-daemonsets',
            '--timeout=20s',
          ],
          {
            allowFailure: true,
            timeoutMs: 120_000,
          },
        );
        expect(refused.code).not.toBe(0);
        expect(refused.stdout + refused.stderr).toMatch(/disruption budget/);
        expect((await serverPods()).find((pod) => pod.name === 'openbao-1')?.ready).toBe(true);
      } finally {
        await cluster.kubectl(['uncordon', node]);
      }
      await allReady();
    },
    15 * 60_000,
  );

  // The hard case: `seal` run in a pod just restarted, whose standby has not yet found the
  // active node and so cannot list its peers (the clean-clone rehearsal of 2026-12-07 sealed only
  // that pod's own node and left one pod Ready for 300 s; src/commands/seal.ts, discoverPeers).
  it(
    'vault-bootstrap seal through kubectl exec: stays sealed across a pod deletion until resume',
    async () => {
      const restarted = (await serverPods()).find((pod) => pod.name === 'openbao-0')!;
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, 'openbao-0', '--wait=false']);
      await allReady([restarted.uid]);
      const started = Date.now();
      const sealed = await sidecarCommand('openbao-0', ['seal', '--json', '--reason', 'e2e']);
      const report = JSON.parse(
        sealed.stdout
          .split('\n')
          .filter((line) => !line.startsWith('{"level"'))
          .join('\n'),
      ) as { nodes: Array<{ address: string; outcome: string }> };
      // Every pod's node sealed by the command itself, not left to a sidecar's next reconcile.
      for (const pod of ['openbao-1', 'openbao-2'])
        expect(
          report.nodes.find((node) => node.address === `https://${pod}.openbao-internal:8200`)?.outcome,
          JSON.stringify(report.nodes),
        ).toMatch(/^(sealed|was-sealed)$/);
      expect(report.nodes.find((node) => node.address === 'https://127.0.0.1:8200')?.outcome).toMatch(
        /^(sealed|was-sealed)$/,
      );
      await until(
        'every pod not Ready (sealed)',
        async () => ((await serverPods()).every((pod) => !pod.ready) ? true : undefined),
        2 * 60_000,
      );
      figures['seal -> no pod Ready'] = seconds(started);
      const before = (await serverPods()).find((pod) => pod.name === 'openbao-2')!;
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, 'openbao-2', '--wait=false']);
      // The new pod runs, and its sidecar holds the node sealed: blocked on the seal intent.
      await until(
        'the new openbao-2 held sealed by the intent',
        async () => {
          const pod = (await serverPods()).find((candidate) => candidate.name === 'openbao-2');
          if (!pod || pod.uid === before.uid) return undefined;
          const records = await sidecarRecords(['openbao-2']);
          return records.some((record) => record.event === 'blocked' && record.blocker === 'seal-intent')
            ? pod
            : undefined;
        },
        5 * 60_000,
      );
      expect((await serverPods()).every((pod) => !pod.ready)).toBe(true);
      const events = await ourEvents();
      expect(events.some((event) => event.reason === 'SealIntent' || event.reason === 'SealedForIntent')).toBe(true);
      expect(events.some((event) => event.reason === 'Blocked' && event.message.includes('seal-intent'))).toBe(true);

      const resumed = Date.now();
      await sidecarCommand('openbao-0', ['resume']);
      await allReady();
      figures['resume -> all Ready'] = seconds(resumed);
    },
    15 * 60_000,
  );

  it(
    'a sidecar killed between sys/init and the store: the restarted container stores the keys from the memory-backed spool, no key lost, no second init',
    async () => {
      // A namespace of its own (one replica, the store prefix "spool"): a fresh init, with the
      // fault-injection fixture preloaded into the sidecar. It SIGKILLs the process at the
      // checkpoint init-spooled once (its marker is in the spool), so the kubelet restarts the
      // container in the same pod, over the same emptyDir.
      const spool = 'spool';
      await cluster.tls(spool);
      const directory = variant(
        'spool',
        `namespace: ${spool}
configMapGenerator:
  - name: vault-bootstrap
    behavior: merge
    literals:
      - VB_STORE_PREFIX=spool
      - VB_TEST_CRASH_AT=init-spooled
      - NODE_OPTIONS=--import=/e2e-fixture/crash-once.mjs
  - name: e2e-fixture
    files:
      - crash-once.mjs
patches:
  - target:
      kind: StatefulSet
      name: openbao
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 1
      - op: add
        path: /spec/template/spec/volumes/-
        value: {name: e2e-fixture, configMap: {name: e2e-fixture}}
      - op: add
        path: /spec/template/spec/containers/1/volumeMounts/-
        value: {name: e2e-fixture, mountPath: /e2e-fixture, readOnly: true}
`,
        { 'crash-once.mjs': readFileSync(join(ROOT, 'test/fixtures/e2e/crash-once.mjs'), 'utf8') },
      );
      const started = Date.now();
      await cluster.kubectl(['apply', '-k', directory]);
      const [pod] = await allReady([], spool, 1);
      figures['spool: apply -> Ready through a killed sidecar'] = seconds(started);
      expect(pod!.restarts['vault-bootstrap'], 'the sidecar restarted once, in the same pod').toBe(1);
      expect(pod!.restarts.openbao).toBe(0);

      const killed = await sidecarRecords(['openbao-0'], spool, true);
      expect(killed.filter((record) => record.event === 'claim-won')).toHaveLength(1);
      expect(killed.filter((record) => record.event === 'init-secrets-stored')).toEqual([]);
      const restarted = await sidecarRecords(['openbao-0'], spool);
      expect(restarted.some((record) => record.event === 'act' && record.action === 'store-spooled')).toBe(true);
      expect(restarted.filter((record) => record.event === 'init-secrets-stored')).toHaveLength(1);
      expect(restarted.filter((record) => record.event === 'claim-won')).toEqual([]);
      expect(restarted.some((record) => record.event === 'unsealed')).toBe(true);
      // One set of keys, and the spool empty again.
      const stored = await storeContents();
      // (The AWS store writes a new secret's first value as two versions of the same text.)
      const keySets = new Set(
        (stored[secretNames('spool').unsealKeys] ?? []).map((text) =>
          (JSON.parse(text) as { keysBase64: string[] }).keysBase64.join(','),
        ),
      );
      expect(keySets.size).toBe(1);
      const files = await cluster.kubectl([
        'exec',
        '-n',
        spool,
        'openbao-0',
        '-c',
        'vault-bootstrap',
        '--',
        '/nodejs/bin/node',
        '-e',
        'console.log(JSON.stringify(require("fs").readdirSync("/spool")))',
      ]);
      expect((JSON.parse(files.stdout) as string[]).filter((file) => file !== '.crashed-once')).toEqual([]);
      const events = await until(
        'the Initialized Event from the restarted container',
        async () => {
          const all = await ourEvents(spool);
          return all.some((event) => event.reason === 'Initialized') ? all : undefined;
        },
        60_000,
      );
      expectNoSecretIn(
        [JSON.stringify(events), ...[...killed, ...restarted].map((record) => JSON.stringify(record))],
        await storedSecrets('spool'),
      );
      await cluster.kubectl(['delete', 'namespace', spool, '--wait=false']);
    },
    15 * 60_000,
  );

  it(
    'the DR overlay over the surviving volumes: a wrong store prefix is a Blocked Event, the right one unseals from the store, no init',
    async () => {
      const dr = (prefix: string) =>
        variant(
          `dr-${prefix}`,
          `configMapGenerator:
  - name: vault-bootstrap
    behavior: merge
    literals:
      - VB_STORE_PREFIX=${prefix}
      - VB_ALLOW_REINIT=false
`,
        );
      const claims = (await cluster.get(['pvc', '-n', NAMESPACE])).items.map((claim: any) => claim.metadata.uid);
      const lost = async () => {
        const before = (await serverPods()).map((pod) => pod.uid);
        await cluster.kubectl(['delete', 'statefulset', '-n', NAMESPACE, 'openbao', '--cascade=foreground'], {
          timeoutMs: 5 * 60_000,
        });
        return before;
      };

      // The lost cluster's keys are under "vault"; "vault-lost" holds none: every sidecar refuses to act.
      let gone = await lost();
      await cluster.kubectl(['apply', '-k', dr('vault-lost')]);
      await until(
        'a Blocked Event (initialized-elsewhere) on each new pod',
        async () => {
          const pods = await serverPods();
          const blocked = (await ourEvents()).filter(
            (event) =>
              event.reason === 'Blocked' &&
              event.message.includes('initialized-elsewhere') &&
              pods.some((pod) => pod.uid === event.involvedObject.uid && !gone.includes(pod.uid)),
          );
          return new Set(blocked.map((event) => event.involvedObject.uid)).size === 3 ? true : undefined;
        },
        5 * 60_000,
      );
      expect((await serverPods()).every((pod) => !pod.ready)).toBe(true);

      gone = await lost();
      const started = Date.now();
      await cluster.kubectl(['apply', '-k', dr('vault')]);
      await allReady(gone);
      figures['DR overlay over the volumes -> all Ready'] = seconds(started);
      // The same claims (volumes), adopted; every node unsealed from the store, none initialized.
      expect((await cluster.get(['pvc', '-n', NAMESPACE])).items.map((claim: any) => claim.metadata.uid)).toEqual(
        claims,
      );
      const records = await sidecarRecords(SERVER_PODS);
      expect(
        records.filter((record) => record.event === 'claim-won' || record.event === 'init-secrets-stored'),
      ).toEqual([]);
      expect(new Set(records.filter((record) => record.event === 'unsealed').map((record) => record.pod))).toEqual(
        new Set(SERVER_PODS),
      );
      expect((await storeContents())[secretNames('vault-lost').unsealKeys]).toBeUndefined();
    },
    15 * 60_000,
  );

  it(
    'rotate-keys through kubectl exec: a KeysRotated Event, and a restarted pod unseals with the new keys',
    async () => {
      // On the active node, as k8s/README.md's recipe says (a standby's sys/rotate is refused).
      const active = await until(
        'one pod labelled openbao-active=true',
        async () => {
          const labelled = (await cluster.get(['pods', '-n', NAMESPACE, '-l', 'openbao-active=true'])).items;
          return labelled.length === 1 ? (labelled[0].metadata.name as string) : undefined;
        },
        60_000,
      );
      const keyVersions = async () => (await storeContents())[secretNames('vault').unsealKeys]?.length ?? 0;
      const versionsBefore = await keyVersions();
      const usedBefore = Math.max(
        ...(await sidecarRecords(SERVER_PODS))
          .filter((record) => record.event === 'unsealed')
          .map((record) => Number(record.version)),
      );
      const rotated = await sidecarCommand(active, ['rotate-keys']);
      expect(await keyVersions(), rotated.stdout.slice(-400)).toBeGreaterThan(versionsBefore);
      await until(
        'a KeysRotated Event',
        async () => ((await ourEvents()).some((event) => event.reason === 'KeysRotated') ? true : undefined),
        60_000,
      );
      const victim = (await serverPods()).find((pod) => pod.name === 'openbao-1')!;
      await cluster.kubectl(['delete', 'pod', '-n', NAMESPACE, 'openbao-1', '--wait=false']);
      await allReady([victim.uid]);
      const unsealed = (await sidecarRecords(['openbao-1'])).filter((record) => record.event === 'unsealed');
      expect(Number(unsealed.at(-1)?.version)).toBeGreaterThan(usedBefore);
      expectNoSecretIn(
        [rotated.stdout, rotated.stderr, JSON.stringify(await cluster.get(['events', '-n', NAMESPACE]))],
        await storedSecrets(),
      );
    },
    10 * 60_000,
  );

  it(
    'the one-shot Job layout over the same volumes: the Job completes, every pod Ready, no init',
    async () => {
      const before = (await serverPods()).map((pod) => pod.uid);
      await cluster.kubectl(['delete', 'statefulset', '-n', NAMESPACE, 'openbao', '--cascade=foreground'], {
        timeoutMs: 5 * 60_000,
      });
      const directory = variant(
        'job',
        `components:
  - $COMPONENTS/job
patches:
  - target:
      kind: Job
      name: vault-bootstrap
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: localhost/vault-bootstrap:dev
      - op: add
        path: /spec/template/spec/containers/0/imagePullPolicy
        value: Never
`,
      );
      const started = Date.now();
      await cluster.kubectl(['apply', '-k', directory]);
      const job = await until(
        'the Job complete',
        async () => {
          const status = (await cluster.get(['job', '-n', NAMESPACE, 'vault-bootstrap'])).status;
          if ((status.failed ?? 0) > 0) throw new Error(`the Job has failed pods: ${JSON.stringify(status)}`);
          return status.succeeded === 3 ? status : undefined;
        },
        10 * 60_000,
      );
      figures['Job over the volumes -> complete'] = seconds(started);
      expect(job.succeeded).toBe(3);
      await allReady(before);
      const logs = await cluster.kubectl(
        ['logs', '-n', NAMESPACE, '-l', 'job-name=vault-bootstrap', '--tail=-1', '--prefix'],
        { allowFailure: true },
      );
      expect(logs.stdout).not.toMatch(/"event":"(claim-won|init-secrets-stored)"/);
      expect(logs.stdout.match(/"event":"unsealed"/g) ?? []).toHaveLength(3);
    },
    15 * 60_000,
  );
});
