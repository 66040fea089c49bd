// The Helm path on a real single-node Kubernetes (scripts/local-cluster.sh): the official OpenBao
// chart (openbao-helm 0.29.2, verbatim in ../shared/charts beside the repository) installed by a
// real helm with k8s/helm/openbao-values.yaml, as k8s/README.md ("The official Helm charts
// instead of these manifests") tells an operator, plus what one local node changes (below,
// localValues). What helm.test.ts's renders and dry-runs cannot see: the chart's start command
// in a running container, the sidecar's TLS check against the served certificate, probes as the
// kubelet runs them, `helm upgrade` rolling the pods, and `helm uninstall` + `helm install` over
// the volumes that survive it (the DR redeploy).
//
// The steps share one cluster and run in order (each starts from the state the previous left).
// Durations are printed (docs/benchmarks.md), never asserted.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartImage, importChartImage } from '../../harness/chart-images.js';
import { missingImageTools } from '../../harness/image.js';
import { LOCAL_MOTO_ENDPOINT, LocalCluster, missingLocalCluster } from '../../harness/local-cluster.js';
import { secretNames } from '../../src/store/types.js';
import { expectNoSecretIn } from '../helpers/secrets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const HELM = join(TOOLS, 'helm');
/** CI lays a copy of shared/ beside the clone. */
const CHART = resolve(ROOT, '../shared/charts/openbao');
const VALUES = join(ROOT, 'k8s', 'helm', 'openbao-values.yaml');
const NAME = 'helm-e2e';
const NAMESPACE = 'vault';
const RELEASE = 'openbao';
const SERVER_PODS = ['openbao-0', 'openbao-1', 'openbao-2'];
/** The chart's labels on the server pods. */
const SELECTOR = 'app.kubernetes.io/name=openbao,component=server';
const SIDECAR_IMAGE = 'localhost/vault-bootstrap:dev';
const PYTHON = join(TOOLS, 'venv', 'bin', 'python');

function missingCharts(): string | undefined {
  if (!existsSync(join(CHART, 'Chart.yaml')))
    return `the official OpenBao chart is not at ${CHART} (shared/charts beside the repository)`;
  if (!existsSync(HELM)) {
    const errorFile = join(TOOLS, 'helm-error');
    return `missing .tools/helm: ${existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools'}`;
  }
  return undefined;
}

const skipReason =
  missingCharts() ??
  missingLocalCluster() ??
  missingImageTools() ??
  (process.env.VB_SKIP_E2E ? `VB_SKIP_E2E=${process.env.VB_SKIP_E2E}` : undefined);
if (skipReason) console.warn(`helm e2e: skipped: ${skipReason}`);

let cluster: LocalCluster;
const work = mkdtempSync(join(tmpdir(), 'vb-helm-e2e-'));
const figures: Record<string, string> = {};
/** Everything helm and kubectl printed, searched for every key and token at the end of each step. */
const printed: string[] = [];

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * What one local node changes against k8s/helm/openbao-values.yaml, as a second `-f` file (the
 * Helm counterpart of k8s/overlays/local): the images scripts/local-cluster.sh and
 * harness/chart-images.ts import (never pulled), no required pod anti-affinity (three pods on one
 * node), and the AWS store on the cluster's moto with its test credentials. Helm replaces lists
 * whole, so the sidecar container is the values file's own with those fields changed.
 */
function localValues(sidecarImage = SIDECAR_IMAGE): string {
  const values = JSON.parse(
    execFileSync(PYTHON, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
      input: readFileSync(VALUES, 'utf8'),
      encoding: 'utf8',
    }),
  );
  const store = [
    { name: 'VB_STORE', value: 'aws' },
    { name: 'VB_AWS_REGION', value: 'us-east-1' },
    // Every AWS call goes to the local moto server; nothing asks a metadata server for credentials.
    { name: 'AWS_ENDPOINT_URL_SECRETS_MANAGER', value: LOCAL_MOTO_ENDPOINT },
    { name: 'AWS_EC2_METADATA_DISABLED', value: 'true' },
    // moto accepts any credentials: its documented test values, not a secret.
    { name: 'AWS_ACCESS_KEY_ID', value: 'testing' },
    { name: 'AWS_SECRET_ACCESS_KEY', value: 'testing' },
  ];
  const containers = values.server.extraContainers.map((container: any) =>
    container.name === 'vault-bootstrap'
      ? {
          ...container,
          image: sidecarImage,
          imagePullPolicy: 'Never',
          env: [
            ...store,
            ...container.env.filter((variable: any) => !['VB_STORE', 'VB_GCP_PROJECT'].includes(variable.name)),
          ],
        }
      : container,
  );
  expect(containers.filter((container: any) => container.image === sidecarImage)).toHaveLength(1);
  const file = join(work, `local-values-${sidecarImage.replace(/\W+/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: {
        image: { ...chartImage('openbao'), pullPolicy: 'Never' },
        affinity: '',
        extraContainers: containers,
      },
    }),
  );
  return file;
}

/** helm inside the cluster's network, its own state (repositories, cache) in the test's directory. */
async function helm(args: string[]): Promise<string> {
  const { stdout, stderr } = await cluster.exec([HELM, ...args], {
    timeoutMs: 5 * 60_000,
    env: {
      HELM_CACHE_HOME: join(work, 'helm-cache'),
      HELM_CONFIG_HOME: join(work, 'helm-config'),
      HELM_DATA_HOME: join(work, 'helm-data'),
    },
  });
  printed.push(stdout, stderr);
  return stdout;
}

/** kubectl as k8s/README.md writes it (local-cluster.sh exec runs it with the admin kubeconfig). */
async function kubectl(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout, stderr } = await cluster.exec(['kubectl', ...args], { timeoutMs });
  printed.push(stdout, stderr);
  return stdout;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${String(last)})` : ''}\n${await diagnostics()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** What a failing step prints: pods, recent events, each container's last log lines. */
async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['get', 'pods', '-A', '-o', 'wide'],
    ['get', 'events', '-n', NAMESPACE, '--sort-by=.lastTimestamp'],
  ])
    parts.push((await cluster.kubectl(args, { allowFailure: true })).stdout.split('\n').slice(-40).join('\n'));
  for (const pod of SERVER_PODS)
    for (const container of ['openbao', 'vault-bootstrap']) {
      const logs = await cluster.kubectl(['logs', '-n', NAMESPACE, pod, '-c', container, '--tail=6'], {
        allowFailure: true,
      });
      parts.push(`${pod}/${container}: ${logs.stdout}${logs.stderr}`);
    }
  return parts.join('\n');
}

interface PodState {
  name: string;
  uid: string;
  ready: boolean;
  images: Record<string, string>;
}

async function serverPods(): Promise<PodState[]> {
  const list = await cluster.get(['pods', '-n', NAMESPACE, '-l', SELECTOR]);
  return list.items.map((pod: any) => ({
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    ready:
      pod.metadata.deletionTimestamp === undefined &&
      (pod.status.conditions ?? []).some((condition: any) => condition.type === 'Ready' && condition.status === 'True'),
    images: Object.fromEntries(pod.spec.containers.map((container: any) => [container.name, container.image])),
  }));
}

/** All three server pods Ready; none of them one of the uids in `not`. */
function allReady(not: string[] = []): Promise<PodState[]> {
  return until(
    '3 Ready server pods',
    async () => {
      const pods = await serverPods();
      return pods.length === 3 && pods.every((pod) => pod.ready && !not.includes(pod.uid)) ? pods : undefined;
    },
    10 * 60_000,
  );
}

/** The sidecars' JSON log records: the current containers and, where one restarted, the previous. */
async function sidecarRecords(): Promise<any[]> {
  const records: any[] = [];
  for (const pod of SERVER_PODS)
    for (const previous of [false, true]) {
      const logs = await cluster.kubectl(
        ['logs', '-n', NAMESPACE, pod, '-c', 'vault-bootstrap', ...(previous ? ['--previous'] : [])],
        { allowFailure: true },
      );
      for (const line of logs.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          records.push({ pod, previous, ...JSON.parse(line) });
        } catch {
          // a partial line
        }
      }
    }
  printed.push(...records.map((record) => JSON.stringify(record)));
  return records;
}

const initRecords = (records: any[]) =>
  records.filter((record) => record.event === 'claim-won' || record.event === 'init-secrets-stored');

async function ourEvents(): Promise<any[]> {
  const list = await cluster.get(['events', '-n', NAMESPACE]);
  printed.push(JSON.stringify(list));
  return list.items.filter((event: any) => event.source?.component === 'vault-bootstrap');
}

/** Every version of every secret moto holds, read from inside the cluster's network. */
async function store(): Promise<Record<string, string[]>> {
  const { stdout } = await cluster.exec(
    [process.execPath, join(ROOT, 'test/fixtures/e2e/read-store.mjs'), LOCAL_MOTO_ENDPOINT],
    { timeoutMs: 60_000 },
  );
  return JSON.parse(stdout);
}

/** The keys and tokens in the store, as test/helpers/secrets.ts collects them. */
function secretsIn(stored: Record<string, string[]>): string[] {
  const names = secretNames('vault');
  const values: string[] = [];
  for (const text of stored[names.unsealKeys] ?? [])
    for (const key of (JSON.parse(text) as { keysBase64: string[] }).keysBase64)
      values.push(key, Buffer.from(key, 'base64').toString('hex'));
  for (const name of [names.rootToken, names.provisionerToken, names.managementToken])
    for (const text of stored[name] ?? []) {
      const token = (JSON.parse(text) as { token: string | null }).token;
      if (token) values.push(token);
    }
  return values;
}

const NAMES = secretNames('vault');

/**
 * The distinct key sets in the store's versions of the unseal keys, each as a SHA-256 digest (a
 * failing assertion prints digests, never a key). A later version of the same keys (the record
 * gains the cluster id) is the same set; a second init would add another.
 */
function keySets(stored: Record<string, string[]>): string[] {
  const digests = (stored[NAMES.unsealKeys] ?? []).map((text) =>
    createHash('sha256')
      .update(JSON.stringify((JSON.parse(text) as { keysBase64: string[] }).keysBase64))
      .digest('hex'),
  );
  return [...new Set(digests)];
}

/** The key set the install stored: every later step must find exactly this one, never a second init. */
let installedKeys: string[] = [];

describe.skipIf(skipReason !== undefined)(
  'helm install of the official OpenBao chart with k8s/helm (local cluster)',
  () => {
    beforeAll(async () => {
      const started = Date.now();
      cluster = await LocalCluster.start(NAME);
      await importChartImage(cluster, 'openbao');
      figures['cluster up, chart image imported'] = seconds(started);
      // k8s/README.md, "Install": step 1 (the namespace, then the TLS Secret), step 2 (beside the chart).
      await kubectl(['apply', '-f', 'k8s/base/namespace.yaml']);
      await cluster.tls(NAMESPACE);
      await kubectl(['apply', '-n', 'vault', '-f', 'k8s/helm/openbao-networkpolicy.yaml']);
      await kubectl(['apply', '-k', 'k8s/admission']);
    }, 20 * 60_000);

    afterAll(async () => {
      console.info(`helm e2e figures: ${JSON.stringify(figures)}`);
      if (cluster) await cluster.stop();
      rmSync(work, { recursive: true, force: true });
    }, 5 * 60_000);

    it(
      'helm install: three pods Ready, exactly one init, keys in the store, the CI token valid, Events on the pods',
      async () => {
        const started = Date.now();
        await helm(['install', RELEASE, CHART, '-n', NAMESPACE, '-f', VALUES, '-f', localValues()]);
        // k8s/README.md, "How to tell it worked".
        await kubectl(['-n', 'vault', 'rollout', 'status', 'statefulset/openbao', '--timeout=10m'], 11 * 60_000);
        const pods = await allReady();
        figures['helm install -> 3 Ready'] = seconds(started);
        expect(pods.map((pod) => pod.name).sort()).toEqual(SERVER_PODS);
        expect(
          (await kubectl(['-n', 'vault', 'get', 'pods', '-l', 'app.kubernetes.io/name=openbao'])).match(
            /2\/2\s+Running/g,
          ),
        ).toHaveLength(3);

        const records = await sidecarRecords();
        const initializers = records
          .filter((record) => record.event === 'init-secrets-stored')
          .map((record) => record.pod);
        expect(initializers, 'exactly one sidecar initialized').toHaveLength(1);
        expect(records.filter((record) => record.event === 'claim-won')).toHaveLength(1);

        const stored = await store();
        installedKeys = keySets(stored);
        expect(installedKeys, 'one key set: one init').toHaveLength(1);
        const provisioner = JSON.parse(stored[NAMES.provisionerToken]!.at(-1)!) as { token: string | null };
        expect(provisioner.token?.length ?? 0).toBeGreaterThan(20);
        // The CI token works against the server, looked up as CI would (the token on stdin, never in argv).
        const lookup = await cluster.kubectl(
          [
            'exec',
            '-i',
            '-n',
            NAMESPACE,
            'openbao-1',
            '-c',
            'openbao',
            '--',
            '/bin/sh',
            '-c',
            'read -r BAO_TOKEN && export BAO_TOKEN && bao token lookup -format=json -ca-cert=/openbao/userconfig/vault-tls/ca.crt -tls-server-name=openbao-1.openbao-internal',
          ],
          { input: `${provisioner.token}\n` },
        );
        // (Its output holds the token itself, data.id: read here, never added to what is searched.)
        const looked = JSON.parse(lookup.stdout) as { data: { policies: string[]; ttl: number } };
        expect(looked.data.policies).toContain('provisioner');
        expect(looked.data.ttl).toBeGreaterThan(0);
        // `bao status` as k8s/README.md shows it: initialized, unsealed, one active node.
        const modes: string[] = [];
        for (const pod of SERVER_PODS) {
          const status = JSON.parse(
            await kubectl([
              '-n',
              'vault',
              'exec',
              pod,
              '-c',
              'openbao',
              '--',
              'bao',
              'status',
              '-format=json',
              '-ca-cert=/openbao/userconfig/vault-tls/ca.crt',
              `-tls-server-name=${pod}.openbao-internal`,
            ]),
          ) as { initialized: boolean; sealed: boolean; is_self?: boolean; leader_address?: string };
          expect([status.initialized, status.sealed], pod).toEqual([true, false]);
          modes.push(status.leader_address ?? '');
        }
        expect(new Set(modes).size, 'one leader seen by all three').toBe(1);

        const events = await until(
          'the Initialized and Unsealed Events',
          async () => {
            const all = await ourEvents();
            return all.some((event) => event.reason === 'Initialized') &&
              all.some((event) => event.reason === 'Unsealed')
              ? all
              : undefined;
          },
          60_000,
        );
        const initialized = events.filter((event) => event.reason === 'Initialized');
        expect(initialized.map((event) => event.involvedObject.name)).toEqual(initializers);
        expect(initialized[0].involvedObject.uid).toBe(pods.find((pod) => pod.name === initializers[0])!.uid);
        expect(await kubectl(['-n', 'vault', 'describe', 'pod', initializers[0]!])).toMatch(
          /Normal\s+Initialized\s+.*vault-bootstrap/,
        );
        expectNoSecretIn(printed, secretsIn(stored));
      },
      15 * 60_000,
    );

    it(
      'helm upgrade of the sidecar image: every pod replaced and Ready again, no init',
      async () => {
        // The same image under a second name: the template changes, so the StatefulSet rolls.
        const next = `${SIDECAR_IMAGE}-helm-upgrade`;
        await cluster.ctr(['images', 'tag', '--force', SIDECAR_IMAGE, next]);
        const before = await serverPods();
        const started = Date.now();
        // k8s/README.md, "Upgrading on the Helm path": the new image in the values file, the same chart.
        await helm(['upgrade', RELEASE, CHART, '-n', NAMESPACE, '-f', VALUES, '-f', localValues(next)]);
        // Sampled while it rolls: one pod at a time, so never fewer than two Ready.
        let rolling = true;
        let fewestReady = 3;
        const sampler = (async () => {
          while (rolling) {
            const pods = await serverPods().catch(() => undefined);
            if (pods) fewestReady = Math.min(fewestReady, pods.filter((pod) => pod.ready).length);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        })();
        try {
          await kubectl(['-n', 'vault', 'rollout', 'status', 'statefulset/openbao', '--timeout=15m'], 16 * 60_000);
        } finally {
          rolling = false;
          await sampler;
        }
        const after = await allReady(before.map((pod) => pod.uid));
        expect(fewestReady, 'the pods rolled one at a time').toBeGreaterThanOrEqual(2);
        figures['helm upgrade (sidecar image) -> all Ready'] = seconds(started);
        expect(after.map((pod) => pod.images['vault-bootstrap'])).toEqual([next, next, next]);
        expect(initRecords(await sidecarRecords())).toEqual([]);
        expect(keySets(await store())).toEqual(installedKeys);
      },
      20 * 60_000,
    );

    it(
      'helm uninstall, then helm install over the volumes left behind: unsealed from the store, no init',
      async () => {
        const before = await serverPods();
        const started = Date.now();
        await helm(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout=5m']);
        await until(
          'no server pod left',
          async () => ((await serverPods()).length === 0 ? true : undefined),
          5 * 60_000,
        );
        // The chart's StatefulSet keeps its claims (no retention policy: Retain), so the raft data survives.
        const claims = await cluster.get(['pvc', '-n', NAMESPACE]);
        expect(claims.items.map((claim: any) => [claim.metadata.name, claim.status.phase]).sort()).toEqual(
          SERVER_PODS.map((pod) => [`data-${pod}`, 'Bound']),
        );
        await helm(['install', RELEASE, CHART, '-n', NAMESPACE, '-f', VALUES, '-f', localValues()]);
        await kubectl(['-n', 'vault', 'rollout', 'status', 'statefulset/openbao', '--timeout=10m'], 11 * 60_000);
        const after = await allReady(before.map((pod) => pod.uid));
        figures['helm uninstall + install -> all Ready'] = seconds(started);
        const records = await sidecarRecords();
        expect(initRecords(records)).toEqual([]);
        expect(new Set(records.filter((record) => record.event === 'unsealed').map((record) => record.pod))).toEqual(
          new Set(SERVER_PODS),
        );
        const stored = await store();
        expect(keySets(stored)).toEqual(installedKeys);
        await until(
          'an Unsealed Event on each new pod',
          async () => {
            const unsealed = new Set(
              (await ourEvents())
                .filter((event) => event.reason === 'Unsealed')
                .map((event) => event.involvedObject.uid),
            );
            return after.every((pod) => unsealed.has(pod.uid)) ? true : undefined;
          },
          60_000,
        );
        expectNoSecretIn(printed, secretsIn(stored));
      },
      20 * 60_000,
    );
  },
);
