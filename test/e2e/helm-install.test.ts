// The Helm path on a real single-node Kubernetes (scripts/local-cluster.sh): the official charts
// (openbao-helm 0.29.2 and vault-helm 0.34.1, verbatim in ../shared/charts beside the repository)
// installed by a real helm with k8s/helm's values, as k8s/README.md ("The official Helm charts
// instead of these manifests") tells an operator, plus what one local node changes (below,
// localValues). What helm.test.ts's renders and dry-runs cannot see: the chart's start command
// in a running container, the sidecar's TLS check against the served certificate, probes as the
// kubelet runs them, Events, `helm upgrade` rolling the pods, and `helm uninstall` +
// `helm install` over the volumes that survive it (the DR redeploy).
//
// The steps share one cluster and run in order (each starts from the state the previous left):
// the OpenBao chart first, then, its release uninstalled, the Vault chart (Vault 1.19.0, the
// built binary, on the same stand-in base). Durations are printed (docs/benchmarks.md), never
// asserted.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartImageValues, importChartImage } from '../../harness/chart-images.js';
import { missingImageTools } from '../../harness/image.js';
import { LOCAL_MOTO_ENDPOINT, LocalCluster, missingLocalCluster } from '../../harness/local-cluster.js';
import { until as poll } from '../../harness/poll.js';
import { secretNames } from '../../src/store/types.js';
import { expectNoSecretIn } from '../helpers/secrets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const HELM = join(TOOLS, 'helm');
/** CI lays a copy of shared/ beside the clone. */
const CHARTS = resolve(ROOT, '../shared/charts');
const NAME = 'helm-e2e';
const NAMESPACE = 'vault';
const SIDECAR_IMAGE = 'localhost/vault-bootstrap:dev';
const PYTHON = join(TOOLS, 'venv', 'bin', 'python');

interface Chart {
  chart: 'openbao' | 'vault';
  /** The release name the values assume (pod names, retry_join, the Role). */
  release: string;
  /** The values file of k8s/helm. */
  values: string;
  /** The files of k8s/helm that k8s/README.md says to `kubectl apply` beside the chart. */
  beside: string[];
  /** The server's CLI in its container, and the environment variable it reads a token from. */
  cli: string;
  tokenVariable: string;
  /** Where the chart mounts the Secret vault-tls in the server container. */
  tls: string;
  /** The store prefix: the values' own (`vault`) for OpenBao; Vault's install sets another (step 3 of Install) so the two never share records in the one moto. */
  prefix: string;
}

const OPENBAO: Chart = {
  chart: 'openbao',
  release: 'openbao',
  values: 'openbao-values.yaml',
  beside: ['openbao-networkpolicy.yaml'],
  cli: 'bao',
  tokenVariable: 'BAO_TOKEN',
  tls: '/openbao/userconfig/vault-tls',
  prefix: 'vault',
};
const VAULT: Chart = {
  chart: 'vault',
  release: 'vault',
  values: 'vault-values.yaml',
  beside: ['vault-networkpolicy.yaml', 'vault-rbac.yaml'],
  cli: 'vault',
  tokenVariable: 'VAULT_TOKEN',
  tls: '/vault/userconfig/vault-tls',
  prefix: 'hcvault',
};

const podsOf = (chart: Chart) => [0, 1, 2].map((index) => `${chart.release}-${index}`);
/** The charts' labels on the server pods. */
const selectorOf = (chart: Chart) => `app.kubernetes.io/name=${chart.chart},component=server`;

function missingCharts(): string | undefined {
  const absent = [OPENBAO, VAULT].filter((chart) => !existsSync(join(CHARTS, chart.chart, 'Chart.yaml')));
  if (absent.length > 0)
    return `the official charts are not at ${CHARTS} (shared/charts beside the repository): ${absent.map((chart) => chart.chart).join(', ')}`;
  if (!existsSync(HELM)) {
    const errorFile = join(TOOLS, 'helm-error');
    return `missing .tools/helm: ${existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools'}`;
  }
  if (!existsSync(join(TOOLS, 'vault'))) return 'missing .tools/vault: run npm run tools';
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
/** Everything helm, kubectl and the containers printed, searched for every key and token at the end of each step. */
const printed: string[] = [];

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * What one local node changes against the chart's values file, as a second `-f` file (the Helm
 * counterpart of k8s/overlays/local): the images scripts/local-cluster.sh and
 * harness/chart-images.ts import (never pulled), no required pod anti-affinity (three pods on one
 * node), and the AWS store on the cluster's moto with its test credentials. Helm replaces lists
 * whole, so the sidecar container is the values file's own with those fields changed.
 */
function localValues(chart: Chart, sidecarImage = SIDECAR_IMAGE): string {
  const values = JSON.parse(
    execFileSync(PYTHON, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
      input: readFileSync(join(ROOT, 'k8s', 'helm', chart.values), 'utf8'),
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
            ...container.env
              .filter((variable: any) => !['VB_STORE', 'VB_GCP_PROJECT'].includes(variable.name))
              .map((variable: any) =>
                variable.name === 'VB_STORE_PREFIX' ? { ...variable, value: chart.prefix } : variable,
              ),
          ],
        }
      : container,
  );
  expect(containers.filter((container: any) => container.image === sidecarImage)).toHaveLength(1);
  const file = join(work, `${chart.chart}-local-values-${sidecarImage.replace(/\W+/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { image: chartImageValues(chart.chart), affinity: '', extraContainers: containers },
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

/** `helm install` as k8s/README.md's step 4, with the local values layered on. */
function install(chart: Chart): Promise<string> {
  return helm([
    'install',
    chart.release,
    join(CHARTS, chart.chart),
    '-n',
    NAMESPACE,
    '-f',
    join('k8s', 'helm', chart.values),
    '-f',
    localValues(chart),
  ]);
}

/** kubectl as k8s/README.md writes it (local-cluster.sh exec runs it with the admin kubeconfig). */
async function kubectl(args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout, stderr } = await cluster.exec(['kubectl', ...args], { timeoutMs });
  printed.push(stdout, stderr);
  return stdout;
}

/** Polls once a second; a timeout's message carries the chart's pods and Events. */
function until<T>(chart: Chart, what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return poll(what, check, timeoutMs, 1_000, () => diagnostics(chart));
}

/** What a failing step prints: pods, recent events, each container's last log lines. */
async function diagnostics(chart: Chart): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['get', 'pods', '-A', '-o', 'wide'],
    ['get', 'events', '-n', NAMESPACE, '--sort-by=.lastTimestamp'],
  ])
    parts.push((await cluster.kubectl(args, { allowFailure: true })).stdout.split('\n').slice(-40).join('\n'));
  for (const pod of podsOf(chart))
    for (const container of [chart.chart, 'vault-bootstrap']) {
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

async function serverPods(chart: Chart): Promise<PodState[]> {
  const list = await cluster.get(['pods', '-n', NAMESPACE, '-l', selectorOf(chart)]);
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
function allReady(chart: Chart, not: string[] = []): Promise<PodState[]> {
  return until(
    chart,
    `3 Ready ${chart.chart} pods`,
    async () => {
      const pods = await serverPods(chart);
      return pods.length === 3 && pods.every((pod) => pod.ready && !not.includes(pod.uid)) ? pods : undefined;
    },
    10 * 60_000,
  );
}

/** `kubectl rollout status` as k8s/README.md shows it, then all three pods Ready (none of `not`). */
async function rolledOut(chart: Chart, not: string[] = []): Promise<PodState[]> {
  await kubectl(['-n', 'vault', 'rollout', 'status', `statefulset/${chart.release}`, '--timeout=10m'], 11 * 60_000);
  return allReady(chart, not);
}

/** The sidecars' JSON log records: the current containers and, where one restarted, the previous. */
async function sidecarRecords(chart: Chart): Promise<any[]> {
  const records: any[] = [];
  for (const pod of podsOf(chart))
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

/** The sidecars' Events on this chart's pods. */
async function ourEvents(chart: Chart): Promise<any[]> {
  const list = await cluster.get(['events', '-n', NAMESPACE]);
  printed.push(JSON.stringify(list));
  return list.items.filter(
    (event: any) => event.source?.component === 'vault-bootstrap' && podsOf(chart).includes(event.involvedObject.name),
  );
}

/** Every version of every secret moto holds, read from inside the cluster's network. */
async function store(): Promise<Record<string, string[]>> {
  const { stdout } = await cluster.exec(
    [process.execPath, join(ROOT, 'test/fixtures/e2e/read-store.mjs'), LOCAL_MOTO_ENDPOINT],
    { timeoutMs: 60_000 },
  );
  return JSON.parse(stdout);
}

/** The keys and tokens under a prefix, as test/helpers/secrets.ts collects them. */
function secretsIn(stored: Record<string, string[]>, prefix: string): string[] {
  const names = secretNames(prefix);
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

/**
 * The distinct key sets in the store's versions of the unseal keys, each as a SHA-256 digest (a
 * failing assertion prints digests, never a key). A later version of the same keys (the record
 * gains the cluster id) is the same set; a second init would add another.
 */
function keySets(stored: Record<string, string[]>, prefix: string): string[] {
  const digests = (stored[secretNames(prefix).unsealKeys] ?? []).map((text) =>
    createHash('sha256')
      .update(JSON.stringify((JSON.parse(text) as { keysBase64: string[] }).keysBase64))
      .digest('hex'),
  );
  return [...new Set(digests)];
}

/** The key set each install stored: every later step must find exactly this one, never a second init. */
const installedKeys = new Map<string, string[]>();

/** The server's CLI in its container, as k8s/README.md shows `bao status` (the CA and the pod's name). */
function serverCli(chart: Chart, pod: string, args: string[], input?: string) {
  const tlsFlags = `-ca-cert=${chart.tls}/ca.crt -tls-server-name=${pod}.${chart.release}-internal`;
  // A token arrives on stdin, never in argv.
  const script =
    input === undefined
      ? `${chart.cli} ${args.join(' ')} ${tlsFlags}`
      : `read -r ${chart.tokenVariable} && export ${chart.tokenVariable} && ${chart.cli} ${args.join(' ')} ${tlsFlags}`;
  return cluster.kubectl(['exec', '-i', '-n', NAMESPACE, pod, '-c', chart.chart, '--', '/bin/sh', '-c', script], {
    input: input === undefined ? '' : `${input}\n`,
  });
}

/**
 * helm install on an empty store: three pods Ready, exactly one init (one claim, one key set),
 * the CI token valid on the server, an audit device writing to the active node's log, one
 * leader, the Initialized and Unsealed Events.
 */
async function installFresh(chart: Chart): Promise<void> {
  const started = Date.now();
  await install(chart);
  const pods = await rolledOut(chart);
  figures[`${chart.chart}: helm install -> 3 Ready`] = seconds(started);
  expect(pods.map((pod) => pod.name).sort()).toEqual(podsOf(chart));
  expect(
    (await kubectl(['-n', 'vault', 'get', 'pods', '-l', `app.kubernetes.io/name=${chart.chart}`])).match(
      /2\/2\s+Running/g,
    ),
  ).toHaveLength(3);

  const records = await sidecarRecords(chart);
  const initializers = records.filter((record) => record.event === 'init-secrets-stored').map((record) => record.pod);
  expect(initializers, 'exactly one sidecar initialized').toHaveLength(1);
  expect(
    records.filter((record) => record.event === 'blocked').map((record) => `${record.pod}: ${record.reason}`),
  ).toEqual([]);
  expect(records.filter((record) => record.event === 'claim-won')).toHaveLength(1);

  const stored = await store();
  const keys = keySets(stored, chart.prefix);
  expect(keys, 'one key set: one init').toHaveLength(1);
  installedKeys.set(chart.chart, keys);
  const names = secretNames(chart.prefix);
  const provisioner = JSON.parse(stored[names.provisionerToken]!.at(-1)!) as { token: string | null };
  expect(provisioner.token?.length ?? 0).toBeGreaterThan(20);
  // The CI token works against the server, looked up as CI would. Its output holds the token
  // itself (data.id): read here, never added to what is searched.
  const lookup = await serverCli(chart, podsOf(chart)[1]!, ['token', 'lookup', '-format=json'], provisioner.token!);
  const looked = JSON.parse(lookup.stdout) as { data: { policies: string[]; ttl: number } };
  expect(looked.data.policies).toContain('provisioner');
  expect(looked.data.ttl).toBeGreaterThan(0);

  // `status` on each pod (k8s/README.md, "How to tell it worked"): initialized, unsealed, one leader.
  const leaders = new Set<string>();
  let active: string | undefined;
  for (const pod of podsOf(chart)) {
    const { stdout } = await serverCli(chart, pod, ['status', '-format=json']);
    printed.push(stdout);
    const status = JSON.parse(stdout) as {
      initialized: boolean;
      sealed: boolean;
      is_self?: boolean;
      leader_address?: string;
    };
    expect([status.initialized, status.sealed], pod).toEqual([true, false]);
    leaders.add(status.leader_address ?? '');
    if (status.is_self) active = pod;
  }
  expect(leaders.size, 'one leader seen by all three').toBe(1);
  expect(active).toBeDefined();
  // The audit device (OpenBao: in the server config; Vault: enabled by the sidecar, --audit-file)
  // writes the active node's requests to its container log.
  const serverLog = await until(
    chart,
    'audit records in the active node log',
    async () => {
      const { stdout } = await cluster.kubectl(['logs', '-n', NAMESPACE, active!, '-c', chart.chart]);
      return /"type":"response"/.test(stdout) ? stdout : undefined;
    },
    60_000,
  );
  printed.push(serverLog);

  const events = await until(
    chart,
    'the Initialized and Unsealed Events',
    async () => {
      const all = await ourEvents(chart);
      return all.some((event) => event.reason === 'Initialized') && all.some((event) => event.reason === 'Unsealed')
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
  expectNoSecretIn(printed, secretsIn(stored, chart.prefix));
}

/** helm uninstall, then helm install over the claims left behind: every node unsealed from the store, no init. */
async function redeploy(chart: Chart): Promise<void> {
  const before = await serverPods(chart);
  const started = Date.now();
  await helm(['uninstall', chart.release, '-n', NAMESPACE, '--wait', '--timeout=5m']);
  await until(
    chart,
    'no server pod left',
    async () => ((await serverPods(chart)).length === 0 ? true : undefined),
    5 * 60_000,
  );
  // The chart's StatefulSet keeps its claims (no retention policy: Retain), so the raft data survives.
  const claims = (await cluster.get(['pvc', '-n', NAMESPACE])).items.filter((claim: any) =>
    claim.metadata.name.startsWith(`data-${chart.release}-`),
  );
  expect(claims.map((claim: any) => [claim.metadata.name, claim.status.phase]).sort()).toEqual(
    podsOf(chart).map((pod) => [`data-${pod}`, 'Bound']),
  );
  await install(chart);
  const after = await rolledOut(
    chart,
    before.map((pod) => pod.uid),
  );
  figures[`${chart.chart}: helm uninstall + install -> all Ready`] = seconds(started);
  const records = await sidecarRecords(chart);
  expect(initRecords(records)).toEqual([]);
  // Nothing for a person on the way (the Vault chart's standbys answered 307 for ~30 s here: a
  // Blocked Warning on two pods until a 307 became transient).
  expect(
    records.filter((record) => record.event === 'blocked').map((record) => `${record.pod}: ${record.reason}`),
  ).toEqual([]);
  expect(new Set(records.filter((record) => record.event === 'unsealed').map((record) => record.pod))).toEqual(
    new Set(podsOf(chart)),
  );
  const stored = await store();
  expect(keySets(stored, chart.prefix)).toEqual(installedKeys.get(chart.chart));
  await until(
    chart,
    'an Unsealed Event on each new pod',
    async () => {
      const unsealed = new Set(
        (await ourEvents(chart))
          .filter((event) => event.reason === 'Unsealed')
          .map((event) => event.involvedObject.uid),
      );
      return after.every((pod) => unsealed.has(pod.uid)) ? true : undefined;
    },
    60_000,
  );
  expectNoSecretIn(printed, secretsIn(stored, chart.prefix));
}

describe.skipIf(skipReason !== undefined)('helm install of the official charts with k8s/helm (local cluster)', () => {
  beforeAll(async () => {
    const started = Date.now();
    cluster = await LocalCluster.start(NAME);
    await importChartImage(cluster, 'openbao');
    await importChartImage(cluster, 'vault');
    figures['cluster up, both chart images imported'] = seconds(started);
    // k8s/README.md, "Install": step 1 (the namespace, then the TLS Secret), the admission policy of step 2.
    await kubectl(['apply', '-f', 'k8s/base/namespace.yaml']);
    await cluster.tls(NAMESPACE);
    await kubectl(['apply', '-k', 'k8s/admission']);
  }, 20 * 60_000);

  afterAll(async () => {
    console.info(`helm e2e figures: ${JSON.stringify(figures)}`);
    if (cluster) await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }, 5 * 60_000);

  describe('the OpenBao chart (openbao-helm 0.29.2, k8s/helm/openbao-values.yaml)', () => {
    beforeAll(async () => {
      await kubectl(['apply', '-n', 'vault', ...OPENBAO.beside.flatMap((file) => ['-f', `k8s/helm/${file}`])]);
    });

    it(
      'helm install: three pods Ready, exactly one init, keys in the store, the CI token valid, audit on, Events on the pods',
      () => installFresh(OPENBAO),
      15 * 60_000,
    );

    it(
      'helm upgrade of the sidecar image: every pod replaced, one at a time, and Ready again; no init',
      async () => {
        // The same image under a second name: the template changes, so the StatefulSet rolls.
        const next = `${SIDECAR_IMAGE}-helm-upgrade`;
        await cluster.ctr(['images', 'tag', '--force', SIDECAR_IMAGE, next]);
        const before = await serverPods(OPENBAO);
        const started = Date.now();
        // k8s/README.md, "Upgrading on the Helm path": the new image in the values file, the same chart.
        await helm([
          'upgrade',
          OPENBAO.release,
          join(CHARTS, 'openbao'),
          '-n',
          NAMESPACE,
          '-f',
          join('k8s', 'helm', OPENBAO.values),
          '-f',
          localValues(OPENBAO, next),
        ]);
        // Sampled while it rolls: one pod at a time, so never fewer than two Ready.
        let rolling = true;
        let fewestReady = 3;
        const sampler = (async () => {
          while (rolling) {
            const pods = await serverPods(OPENBAO).catch(() => undefined);
            if (pods) fewestReady = Math.min(fewestReady, pods.filter((pod) => pod.ready).length);
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        })();
        let after: PodState[];
        try {
          after = await rolledOut(
            OPENBAO,
            before.map((pod) => pod.uid),
          );
        } finally {
          rolling = false;
          await sampler;
        }
        figures['openbao: helm upgrade (sidecar image) -> all Ready'] = seconds(started);
        expect(fewestReady, 'the pods rolled one at a time').toBeGreaterThanOrEqual(2);
        expect(after.map((pod) => pod.images['vault-bootstrap'])).toEqual([next, next, next]);
        expect(initRecords(await sidecarRecords(OPENBAO))).toEqual([]);
        expect(keySets(await store(), OPENBAO.prefix)).toEqual(installedKeys.get('openbao'));
      },
      20 * 60_000,
    );

    it(
      'helm uninstall, then helm install over the volumes left behind: unsealed from the store, no init',
      () => redeploy(OPENBAO),
      20 * 60_000,
    );

    afterAll(async () => {
      // Its pods give the node back to the Vault chart; its claims stay (three of the six volumes).
      await helm(['uninstall', OPENBAO.release, '-n', NAMESPACE, '--wait', '--timeout=5m']).catch(() => undefined);
    }, 6 * 60_000);
  });

  describe('the Vault chart (vault-helm 0.34.1, k8s/helm/vault-values.yaml, Vault 1.19.0)', () => {
    beforeAll(async () => {
      await kubectl(['apply', '-n', 'vault', ...VAULT.beside.flatMap((file) => ['-f', `k8s/helm/${file}`])]);
    });

    it(
      'helm install: three pods Ready, exactly one init, keys in the store, the CI token valid, the audit device the sidecar enables, Events on the pods',
      () => installFresh(VAULT),
      15 * 60_000,
    );

    it(
      'helm uninstall, then helm install over the volumes left behind: unsealed from the store, no init',
      () => redeploy(VAULT),
      20 * 60_000,
    );
  });
});
