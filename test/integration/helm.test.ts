import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KubeApiServer,
  missingKubeApiServer,
  podsOf,
  type KubeAnswer,
  type KubeObject,
} from '../../harness/kube-apiserver.js';
import { until } from '../../harness/poll.js';
import { loadConfig } from '../../src/config/index.js';
import { ALLOWED_SKIPS, missingCheckov, NEVER_SKIPPED, scan, type Finding, type Scan } from '../helpers/checkov.js';

/**
 * The path most users take: the official charts (openbao-helm 0.29.2, vault-helm 0.34.1, verbatim
 * in ../shared/charts beside the repository) rendered by a real helm (scripts/install-tools.sh
 * helm) with each layout of k8s/helm's values files, as `helm install` creates them. Each render,
 * with the files k8s/README.md says to apply beside the chart, is
 *   - checked for what the program and the kustomize path rely on (the same invariants),
 *   - applied with server-side dry-run to a real kube-apiserver in a namespace enforcing the
 *     restricted Pod Security Standard (the harness's dry-run, as in k8s-manifests.test.ts),
 *   - scanned by the same checkov gate as the kustomize renders (k8s-security.test.ts).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const HELM = join(TOOLS, 'helm');
const PYTHON = join(TOOLS, 'checkov-venv', 'bin', 'python');
/** CI lays a copy of shared/ beside the clone. */
const CHARTS = resolve(ROOT, '../shared/charts');
const VALUES = join(ROOT, 'k8s', 'helm');
const ADMISSION = join(ROOT, 'k8s', 'admission');
const NAMESPACE = 'vault';
/** The API server the dry-run runs (scripts/kube/go.mod): the charts render for that version. */
const KUBE_VERSION = /^\s*k8s\.io\/kubernetes v(\S+)$/m.exec(
  readFileSync(join(ROOT, 'scripts/kube/go.mod'), 'utf8'),
)![1]!;

interface Layout {
  /** The render's name (its file in the scan). */
  name: string;
  chart: 'openbao' | 'vault';
  /** The release name the values assume (pod names, retry_join, the certificate). */
  release: string;
  /** `-f` files of k8s/helm, in order. */
  values: string[];
  /** Files of k8s/helm that k8s/README.md says to `kubectl apply` beside the chart. */
  beside: string[];
}

/** Every layout k8s/README.md documents: each values file of k8s/helm is in at least one. */
const LAYOUTS: Layout[] = [
  {
    name: 'openbao',
    chart: 'openbao',
    release: 'openbao',
    values: ['openbao-values.yaml'],
    beside: ['openbao-networkpolicy.yaml'],
  },
  {
    name: 'openbao-gcpckms',
    chart: 'openbao',
    release: 'openbao',
    values: ['openbao-values.yaml', 'openbao-gcpckms-values.yaml'],
    beside: ['openbao-networkpolicy.yaml'],
  },
  {
    name: 'openbao-static-seal',
    chart: 'openbao',
    release: 'openbao',
    values: ['openbao-values.yaml', 'openbao-static-seal-values.yaml'],
    beside: ['openbao-networkpolicy.yaml'],
  },
  {
    name: 'vault',
    chart: 'vault',
    release: 'vault',
    values: ['vault-values.yaml'],
    beside: ['vault-networkpolicy.yaml', 'vault-rbac.yaml'],
  },
];

function missingTools(): string | undefined {
  if (!existsSync(join(CHARTS, 'openbao', 'Chart.yaml')) || !existsSync(join(CHARTS, 'vault', 'Chart.yaml')))
    return `the official charts are not at ${CHARTS} (shared/charts beside the repository)`;
  if (!existsSync(HELM)) {
    const errorFile = join(TOOLS, 'helm-error');
    return `missing .tools/helm: ${existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools'}`;
  }
  return missingCheckov();
}
const skipReason = missingTools();
if (skipReason) console.warn(`helm: skipped: ${skipReason}`);

const workDirectory = mkdtempSync(join(tmpdir(), 'vb-helm-'));
const renders = new Map<string, { objects: KubeObject[]; beside: KubeObject[]; directory: string }>();

function yamlDocuments(text: string): KubeObject[] {
  return JSON.parse(
    execFileSync(
      PYTHON,
      ['-c', 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'],
      { input: text, encoding: 'utf8' },
    ),
  );
}

/** `helm template`, as `helm install RELEASE CHART -n vault -f …` would create it (no test hooks: install does not run them). */
function helmTemplate(layout: Layout, extraArgs: string[] = ['--skip-tests']): string {
  const args = [
    'template',
    layout.release,
    join(CHARTS, layout.chart),
    '--namespace',
    NAMESPACE,
    '--kube-version',
    KUBE_VERSION,
    ...layout.values.flatMap((file) => ['-f', join(VALUES, file)]),
    ...extraArgs,
  ];
  // Helm's own state (repositories, cache) in the test's directory, never the user's.
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(workDirectory, 'helm-cache'),
    HELM_CONFIG_HOME: join(workDirectory, 'helm-config'),
    HELM_DATA_HOME: join(workDirectory, 'helm-data'),
  };
  return execFileSync(HELM, args, { encoding: 'utf8', env, maxBuffer: 16 * 1024 * 1024 });
}

beforeAll(() => {
  if (skipReason) return;
  for (const layout of LAYOUTS) {
    const rendered = helmTemplate(layout);
    const directory = join(workDirectory, 'renders', layout.name);
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, `${layout.chart}-chart.yaml`), rendered);
    // The files of k8s/helm beside the chart, and the cluster-wide admission policy (k8s/admission).
    const admission = (
      yamlDocuments(readFileSync(join(ADMISSION, 'kustomization.yaml'), 'utf8'))[0] as any
    ).resources.map((file: string) => join(ADMISSION, file));
    const beside = [...layout.beside.map((file) => join(VALUES, file)), ...admission].flatMap((file: string) => {
      const text = readFileSync(file, 'utf8');
      writeFileSync(join(directory, file.split('/').pop()!), text);
      return yamlDocuments(text);
    });
    renders.set(layout.name, { objects: yamlDocuments(rendered), beside, directory });
  }
}, 120_000);

afterAll(() => rmSync(workDirectory, { recursive: true, force: true }));

type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: any[];
  volumeMounts?: any[];
  securityContext?: any;
  readinessProbe?: any;
  livenessProbe?: any;
  startupProbe?: any;
  ports?: any[];
};
const all = (layout: Layout) => [...renders.get(layout.name)!.objects, ...renders.get(layout.name)!.beside];
const ofKind = (layout: Layout, kind: string) => all(layout).filter((object) => object.kind === kind);
const statefulSet = (layout: Layout) => {
  const found = ofKind(layout, 'StatefulSet');
  expect(found.map((object) => object.metadata.name)).toEqual([layout.release]);
  return found[0]!;
};
const podSpec = (layout: Layout) => statefulSet(layout).spec.template.spec;
const containers = (layout: Layout): Container[] => podSpec(layout).containers;
const isBootstrap = (container: Container) => /(^|\/)vault-bootstrap(:|@)/.test(container.image);
const sidecar = (layout: Layout) => containers(layout).find(isBootstrap)!;
const server = (layout: Layout) => containers(layout).find((container) => container.name === layout.chart)!;
const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The server configuration the chart's start command reads (its config ConfigMap). */
function serverConfig(layout: Layout): string {
  const configMap = ofKind(layout, 'ConfigMap').find(
    (object) => object.metadata.name === `${layout.release}-config`,
  ) as any;
  expect(configMap, `ConfigMap ${layout.release}-config`).toBeDefined();
  return Object.values(configMap.data as Record<string, string>).join('\n');
}

describe.skipIf(skipReason !== undefined)('the official charts rendered with k8s/helm (helm template)', () => {
  it('every values file of k8s/helm is rendered in a layout', () => {
    const files = readdirSync(VALUES).filter((file) => file.endsWith('-values.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files)
      expect(
        LAYOUTS.some((layout) => layout.values.includes(file)),
        file,
      ).toBe(true);
    for (const file of readdirSync(VALUES).filter((name) => !name.endsWith('-values.yaml')))
      expect(
        LAYOUTS.some((layout) => layout.beside.includes(file)),
        `${file} is applied beside a chart`,
      ).toBe(true);
  });

  describe.each(LAYOUTS)('$name', (layout) => {
    it('one 3-node raft StatefulSet, all pods started together, rolled one at a time on upgrade; retry_join names every pod the chart creates', () => {
      const set = statefulSet(layout);
      expect(set.spec.replicas).toBe(3);
      expect(set.spec.podManagementPolicy, 'OrderedReady deadlocks a redeploy over existing volumes').toBe('Parallel');
      expect(set.spec.updateStrategy.type).toBe('RollingUpdate');
      const config = serverConfig(layout);
      const leaders = [...config.matchAll(/leader_api_addr\s*=\s*"([^"]+)"/g)].map((match) => match[1]);
      expect(leaders).toEqual(
        [0, 1, 2].map((index) => `https://${set.metadata.name}-${index}.${set.spec.serviceName}:8200`),
      );
      const headless = ofKind(layout, 'Service').find((service) => service.metadata.name === set.spec.serviceName)!;
      expect(headless.spec.clusterIP).toBe('None');
      expect(headless.spec.publishNotReadyAddresses).toBe(true);
      expect(config).toMatch(/performance_multiplier\s*=\s*1\b/);
      expect(config).not.toMatch(/tls_disable\s*=\s*(true|1|"true")/);
    });

    it('the server advertises its pod DNS name (which the certificate covers), not its IP; TLS files where the config reads them', () => {
      const prefix = layout.chart === 'openbao' ? 'BAO' : 'VAULT';
      const environment = Object.fromEntries(
        (server(layout).env ?? []).map((variable: any) => [variable.name, variable]),
      );
      expect(environment[`${prefix}_API_ADDR`].value).toBe(
        `https://$(${prefix}_K8S_POD_NAME).${statefulSet(layout).spec.serviceName}:8200`,
      );
      const names = (server(layout).env ?? []).map((variable: any) => variable.name);
      expect(names.indexOf(`${prefix}_K8S_POD_NAME`), 'defined before the address that refers to it').toBeLessThan(
        names.indexOf(`${prefix}_API_ADDR`),
      );
      const config = serverConfig(layout);
      for (const match of config.matchAll(/(?:tls_cert_file|tls_key_file|leader_ca_cert_file)\s*=\s*"([^"]+)"/g)) {
        const mount = (server(layout).volumeMounts ?? []).find((candidate: any) =>
          match[1]!.startsWith(`${candidate.mountPath}/`),
        );
        expect(mount, `${match[1]} is on a mounted volume`).toBeDefined();
        const volume = podSpec(layout).volumes.find((candidate: any) => candidate.name === mount.name);
        expect(volume.secret.secretName).toBe('vault-tls');
      }
    });

    it("the sidecar: the program's own config loads; TLS verified under the pod's name in the chart's headless Service; probes on its port; grace above --shutdown-timeout", () => {
      const container = sidecar(layout);
      expect(container.image).toMatch(/@sha256:[0-9a-f]{64}$/);
      const environment: Record<string, string> = {};
      for (const variable of container.env ?? []) {
        const downward: Record<string, string> = {
          'metadata.name': `${layout.release}-0`,
          'metadata.namespace': NAMESPACE,
          'metadata.uid': '00000000-0000-4000-8000-000000000000',
        };
        const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
        const raw = fieldPath === undefined ? variable.value : downward[fieldPath];
        expect(raw, `${variable.name} resolvable (no Secret)`).toBeDefined();
        environment[variable.name] = String(raw).replace(
          /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
          (whole, name: string) => environment[name] ?? whole,
        );
      }
      // Under the namespace: Node's TLS check refuses a wildcard over one label (*.openbao-internal),
      // which the first `helm install` on a real kubelet showed (test/e2e/helm-install.test.ts).
      expect(environment.VAULT_TLS_SERVER_NAME).toBe(
        `${layout.release}-0.${statefulSet(layout).spec.serviceName}.${NAMESPACE}.svc`,
      );
      // The pod its Events are about (src/kube/detect.ts reads these).
      expect([environment.POD_NAME, environment.POD_NAMESPACE]).toEqual([`${layout.release}-0`, NAMESPACE]);
      expect(environment.POD_UID).toBeDefined();
      const { VAULT_CACERT, ...rest } = environment;
      const args = (container.args ?? []).filter((arg) => !arg.startsWith('--spool-dir='));
      const config = loadConfig(args, { ...rest, KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc' });
      expect(config.tls.skipVerify).toBe(false);
      expect(config.rootToken).toBe('revoke');
      expect(config.allowReinit).toBe(false);
      expect(config.storePrefix, 'the default, stated in the values where the operator sets it').toBe('vault');
      expect(config.vaultAddress.hostname).toBe('127.0.0.1');
      expect(Number(config.vaultAddress.port)).toBe(8200);
      const metrics = container.ports!.find((port: any) => port.name === 'metrics').containerPort;
      expect(config.listen?.port).toBe(metrics);
      expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });
      expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'metrics' });
      expect(podSpec(layout).terminationGracePeriodSeconds * 1000 - config.shutdownTimeoutMs).toBeGreaterThanOrEqual(
        10_000,
      );
      const annotations = statefulSet(layout).spec.template.metadata.annotations ?? {};
      expect(Number(annotations['prometheus.io/port'])).toBe(metrics);
      // The CA only, never the server's key; the spool in memory.
      const mountOf = (path: string) =>
        podSpec(layout).volumes.find(
          (volume: any) =>
            volume.name === container.volumeMounts!.find((mount: any) => path.startsWith(mount.mountPath)).name,
        );
      expect(mountOf(VAULT_CACERT!).secret.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }]);
      expect(mountOf('/spool').emptyDir.medium).toBe('Memory');
    });

    it('every container non-root, read-only, unprivileged, all capabilities dropped, its image by digest; every pod volume is mounted by a container', () => {
      const spec = podSpec(layout);
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(spec.hostNetwork ?? false).toBe(false);
      for (const container of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
        expect(container.image, container.name).toMatch(/^[^:@\s]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$/);
        const context = container.securityContext;
        expect(context.readOnlyRootFilesystem, container.name).toBe(true);
        expect(context.allowPrivilegeEscalation, container.name).toBe(false);
        expect(context.capabilities.drop, container.name).toContain('ALL');
        expect(context.capabilities.add ?? [], container.name).toEqual([]);
      }
      const mounted = new Set(
        ([...(spec.initContainers ?? []), ...spec.containers] as Container[]).flatMap((container) =>
          (container.volumeMounts ?? []).map((mount: any) => mount.name),
        ),
      );
      const claims = (statefulSet(layout).spec.volumeClaimTemplates ?? []).map((claim: any) => claim.metadata.name);
      for (const volume of [...spec.volumes.map((each: any) => each.name), ...claims])
        expect(mounted.has(volume), `volume ${volume} is mounted`).toBe(true);
    });

    it('no API token unless the container needs one: the ServiceAccount mounts none; the server (service registration) and the sidecar (Events) mount a projected one, no init container does', () => {
      const spec = podSpec(layout);
      const account = ofKind(layout, 'ServiceAccount').filter(
        (object) => object.metadata.name === spec.serviceAccountName,
      );
      expect(account, `exactly one ServiceAccount ${spec.serviceAccountName}`).toHaveLength(1);
      expect(account[0]!.automountServiceAccountToken).toBe(false);
      // The chart renders no pod-level automountServiceAccountToken; the ServiceAccount's false applies.
      expect(spec.automountServiceAccountToken ?? false).toBe(false);
      for (const container of [...(spec.initContainers ?? []), ...spec.containers] as Container[]) {
        const tokenMount = (container.volumeMounts ?? []).find((mount: any) => mount.mountPath === TOKEN_PATH);
        const needsOne = container.name === layout.chart || container === sidecar(layout);
        expect(tokenMount !== undefined, container.name).toBe(needsOne);
      }
      const volume = spec.volumes.find(
        (candidate: any) =>
          candidate.name === server(layout).volumeMounts!.find((mount: any) => mount.mountPath === TOKEN_PATH).name,
      );
      const token = volume.projected.sources.find((source: any) => source.serviceAccountToken).serviceAccountToken;
      expect(token.expirationSeconds).toBeLessThanOrEqual(3607);
      expect(token.audience, "the API server's audience").toBeUndefined();
    });

    it("the cloud identity: the pods' ServiceAccount carries the Workload Identity of the project the sidecar's store names", () => {
      const account = ofKind(layout, 'ServiceAccount').find(
        (object) => object.metadata.name === podSpec(layout).serviceAccountName,
      )!;
      const project = (sidecar(layout).env ?? []).find((variable: any) => variable.name === 'VB_GCP_PROJECT')?.value;
      expect(project).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
      expect(account.metadata.annotations?.['iam.gke.io/gcp-service-account']).toMatch(
        new RegExp(`^[a-z][-a-z0-9]{4,28}[a-z0-9]@${project}\\.iam\\.gserviceaccount\\.com$`),
      );
    });

    it("RBAC: the Role of k8s/base/rbac.yaml with the chart's pod names (its pods by name; create and patch events); no ClusterRoleBinding (no auth-delegator); the Role binds the pods' account", () => {
      const roles = ofKind(layout, 'Role');
      expect(roles.length).toBe(1);
      const [base] = yamlDocuments(readFileSync(join(ROOT, 'k8s', 'base', 'rbac.yaml'), 'utf8')).filter(
        (object) => object.kind === 'Role',
      );
      const expected = (base as any).rules.map((rule: any) =>
        rule.resourceNames ? { ...rule, resourceNames: [0, 1, 2].map((index) => `${layout.release}-${index}`) } : rule,
      );
      expect((roles[0] as any).rules).toEqual(expected);
      expect(ofKind(layout, 'ClusterRoleBinding')).toEqual([]);
      expect(ofKind(layout, 'ClusterRole')).toEqual([]);
      const binding = ofKind(layout, 'RoleBinding') as any[];
      expect(binding.flatMap((each) => each.subjects)).toEqual([
        { kind: 'ServiceAccount', name: podSpec(layout).serviceAccountName, namespace: NAMESPACE },
      ]);
    });

    it("the PodMonitor of k8s/monitoring selects the chart's pods (its app.kubernetes.io/name read as the chart's) and scrapes the sidecar's port", () => {
      const [monitor] = yamlDocuments(
        readFileSync(join(ROOT, 'k8s', 'monitoring', 'podmonitor.yaml'), 'utf8'),
      ) as any[];
      const wanted = { ...monitor.spec.selector.matchLabels, 'app.kubernetes.io/name': layout.chart };
      expect(statefulSet(layout).spec.template.metadata.labels).toMatchObject(wanted);
      expect(monitor.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
      const ports = monitor.spec.podMetricsEndpoints.map((endpoint: any) => endpoint.port);
      expect(ports.map((port: string) => sidecar(layout).ports!.some((entry: any) => entry.name === port))).toEqual(
        ports.map(() => true),
      );
    });

    it('a NetworkPolicy beside the chart selects every pod, in and out; 8201 from the servers only, 8099 from monitoring only', () => {
      const labels = statefulSet(layout).spec.template.metadata.labels;
      const policies = ofKind(layout, 'NetworkPolicy').filter((policy) =>
        Object.entries(policy.spec.podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value),
      );
      const selecting = policies.filter((policy) => Object.keys(policy.spec.podSelector).length > 0);
      expect(selecting).toHaveLength(1);
      expect([...selecting[0]!.spec.policyTypes].sort()).toEqual(['Egress', 'Ingress']);
      const ingressFor = (port: number) =>
        selecting[0]!.spec.ingress.filter((rule: any) => rule.ports.some((entry: any) => entry.port === port));
      expect(
        ingressFor(8201).every((rule: any) =>
          rule.from.every((peer: any) => peer.podSelector && !peer.namespaceSelector),
        ),
      ).toBe(true);
      expect(
        ingressFor(8099).every((rule: any) => rule.from.every((peer: any) => peer.namespaceSelector?.matchLabels)),
      ).toBe(true);
      // The chart's own NetworkPolicy (8200/8201 from anywhere, no egress rule) stays off.
      expect(renders.get(layout.name)!.objects.filter((object) => object.kind === 'NetworkPolicy')).toEqual([]);
    });

    it("the admission policy applied beside the chart binds the account the chart's pods run as", () => {
      const policies = ofKind(layout, 'ValidatingAdmissionPolicy') as any[];
      expect(policies.map((policy) => policy.metadata.name)).toEqual(['openbao-pod-metadata-only']);
      const condition: string = policies[0].spec.matchConditions.map((each: any) => each.expression).join(' ');
      expect(condition).toContain(`':${podSpec(layout).serviceAccountName}'`);
      expect(policies[0].spec.validations.map((each: any) => each.expression)).toEqual([
        'object.spec == oldObject.spec',
      ]);
      expect(
        (ofKind(layout, 'ValidatingAdmissionPolicyBinding') as any[]).map((binding) => [
          binding.spec.policyName,
          binding.spec.validationActions,
        ]),
      ).toEqual([['openbao-pod-metadata-only', ['Deny']]]);
    });

    it('every namespaced object in the release namespace; no Secret', () => {
      const clusterScoped = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
      for (const object of all(layout).filter((candidate) => !clusterScoped.includes(candidate.kind)))
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe(NAMESPACE);
      expect(ofKind(layout, 'Secret')).toEqual([]);
    });
  });

  it('upgrading the sidecar alone (a new image in the values, the same chart) changes the pod template in that image only', () => {
    const layout = LAYOUTS[0]!;
    const [values] = yamlDocuments(readFileSync(join(VALUES, layout.values[0]!), 'utf8')) as any[];
    const newImage = `registry.example.com/platform/vault-bootstrap:0.2.0@sha256:${'1'.repeat(64)}`;
    const upgrade = join(workDirectory, 'sidecar-upgrade.yaml');
    // Helm replaces a list whole: the new values carry the whole container, with its new image.
    writeFileSync(
      upgrade,
      JSON.stringify({
        server: {
          extraContainers: values.server.extraContainers.map((container: Container) =>
            isBootstrap(container) ? { ...container, image: newImage } : container,
          ),
        },
      }),
    );
    const upgraded = yamlDocuments(helmTemplate(layout, ['--skip-tests', '-f', upgrade]));
    const before = renders.get(layout.name)!.objects;
    expect(upgraded.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(
      before.map((object) => `${object.kind}/${object.metadata.name}`),
    );
    for (const [index, object] of upgraded.entries()) {
      if (object.kind !== 'StatefulSet')
        expect(object, `${object.kind}/${object.metadata.name}`).toEqual(before[index]);
    }
    const upgradedSet = upgraded.find((object) => object.kind === 'StatefulSet')!;
    expect(upgradedSet.spec.template.spec.containers.find(isBootstrap).image).toBe(newImage);
    upgradedSet.spec.template.spec.containers.find(isBootstrap).image = sidecar(layout).image;
    expect(upgradedSet).toEqual(statefulSet(layout));
  });

  it("the static seal layout: an init container writes the key into a memory-backed volume the server reads its second -config from; the store settings equal the sidecar's", () => {
    const layout = LAYOUTS.find((each) => each.name === 'openbao-static-seal')!;
    const spec = podSpec(layout);
    const init = (spec.initContainers as Container[]).find((container) => container.name === 'seal-key')!;
    expect(isBootstrap(init)).toBe(true);
    expect(init.image).toBe(sidecar(layout).image);
    expect(init.args!.slice(0, 1)).toEqual(['seal-key']);
    const directory = init.args!.find((arg) => arg.startsWith('--seal-key-dir='))!.slice('--seal-key-dir='.length);
    const writes = init.volumeMounts!.find((mount: any) => mount.mountPath === directory);
    expect(writes.readOnly ?? false).toBe(false);
    expect(spec.volumes.find((volume: any) => volume.name === writes.name).emptyDir).toMatchObject({
      medium: 'Memory',
    });
    const reads = server(layout).volumeMounts!.find((mount: any) => mount.name === writes.name);
    expect(reads).toMatchObject({ mountPath: directory, readOnly: true });
    expect(
      sidecar(layout).volumeMounts!.some((mount: any) => mount.name === writes.name),
      'the sidecar does not see the key',
    ).toBe(false);
    // The chart's start command, then the stanza the init container wrote.
    const command = (server(layout) as any).args.join('\n');
    expect(command).toMatch(
      new RegExp(`bao server -config=/tmp/storageconfig\\.hcl -exit-on-core-shutdown -config=${directory}/seal\\.hcl`),
    );
    // The server's uid and gid, so the 0400 files are its own.
    expect([init.securityContext.runAsUser, init.securityContext.runAsGroup]).toEqual([
      spec.securityContext.runAsUser,
      spec.securityContext.runAsGroup,
    ]);
    const storeSettings = (container: Container) =>
      Object.fromEntries(
        (container.env ?? [])
          .filter((variable: any) => /^VB_(STORE|GCP_PROJECT|AWS_REGION|STORE_PREFIX)$/.test(variable.name))
          .map((variable: any) => [variable.name, variable.value]),
      );
    expect(storeSettings(init)).toEqual(storeSettings(sidecar(layout)));
    expect(Object.keys(storeSettings(init)).sort()).toEqual(['VB_GCP_PROJECT', 'VB_STORE', 'VB_STORE_PREFIX']);
    // The rest of the pod is the base layout's: the same volumes plus the key's.
    const base = podSpec(LAYOUTS[0]!);
    expect(spec.volumes.filter((volume: any) => volume.name !== writes.name)).toEqual(base.volumes);
    expect(serverConfig(layout)).toBe(serverConfig(LAYOUTS[0]!));
  });

  it('the OpenBao config: an audit device to stdout; a cloud KMS layout declares its seal on the OpenBao line that has it', () => {
    const [plain, kms] = [LAYOUTS[0]!, LAYOUTS[1]!];
    for (const layout of [plain, kms])
      expect(serverConfig(layout)).toMatch(/audit "file" "[^"]+" \{[^}]*options \{\s*file_path\s*=\s*"stdout"/);
    expect(serverConfig(plain)).not.toMatch(/seal\s+"/);
    expect(server(plain).image).toMatch(/^quay\.io\/openbao\/openbao:2\.7\.2@sha256:[0-9a-f]{64}$/);
    expect(serverConfig(kms)).toMatch(/seal\s+"gcpckms"/);
    expect(server(kms).image).toMatch(/^quay\.io\/openbao\/openbao:2\.6\.2@sha256:[0-9a-f]{64}$/);
  });
});

const apiServerMissing = skipReason ?? missingKubeApiServer();
if (apiServerMissing && !skipReason) console.warn(`helm on a real API server: skipped: ${apiServerMissing}`);

describe.skipIf(apiServerMissing !== undefined)(
  'the renders on a real API server (server-side dry-run, Pod Security restricted)',
  () => {
    let api: KubeApiServer;

    beforeAll(async () => {
      api = await KubeApiServer.start();
    }, 180_000);

    afterAll(async () => {
      await api?.stop();
    });

    it.each(LAYOUTS)(
      '$name: every object, the files beside it and the pod it makes are admitted in a namespace enforcing restricted',
      async (layout) => {
        // The namespace as k8s/README.md's first step makes it (enforcing restricted).
        const [namespace] = yamlDocuments(readFileSync(join(ROOT, 'k8s', 'base', 'namespace.yaml'), 'utf8'));
        expect(namespace!.metadata).toMatchObject({
          name: NAMESPACE,
          labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
        });
        const answers = await api.dryRunAll([namespace!, ...all(layout)]);
        for (const answer of answers) {
          expect([200, 201], `${answer.what}: ${answer.message}`).toContain(answer.status);
          expect(answer.warnings, answer.what).toEqual([]);
        }
        expect(answers.filter((answer) => answer.what.startsWith('Pod/')).map((answer) => answer.what)).toEqual([
          `Pod/${layout.release}-0`,
        ]);
      },
    );

    it.each(LAYOUTS.filter((layout, index) => LAYOUTS.findIndex((other) => other.chart === layout.chart) === index))(
      "$chart chart: the pods' account may label its own pod, not another pod of the namespace (no discovery Role), and change no spec (the admission policy)",
      async (layout) => {
        const ok = (answer: KubeAnswer, what: string) =>
          expect([200, 201], `${what}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
        const [namespace] = yamlDocuments(readFileSync(join(ROOT, 'k8s', 'base', 'namespace.yaml'), 'utf8'));
        // For real this time: the namespace, the chart's account and Role, the admission policy, its pod and a stranger's.
        const stored = [
          namespace!,
          ...all(layout).filter((object) =>
            [
              'ServiceAccount',
              'Role',
              'RoleBinding',
              'ValidatingAdmissionPolicy',
              'ValidatingAdmissionPolicyBinding',
            ].includes(object.kind),
          ),
        ];
        for (const object of stored) ok(await api.apply(object, false), `${object.kind}/${object.metadata.name}`);
        const [pod] = podsOf([statefulSet(layout)]);
        const stranger = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${layout.release}-stranger`, namespace: NAMESPACE },
          spec: { ...pod!.spec },
        } as KubeObject;
        for (const object of [pod!, stranger])
          ok(await api.apply(object, false), `${object.kind}/${object.metadata.name}`);
        const account = `system:serviceaccount:${NAMESPACE}:${podSpec(layout).serviceAccountName}`;
        const asServer = {
          'Impersonate-User': account,
          'Impersonate-Group': [
            'system:serviceaccounts',
            `system:serviceaccounts:${NAMESPACE}`,
            'system:authenticated',
          ],
        };
        const path = (name: string) => `/api/v1/namespaces/${NAMESPACE}/pods/${name}`;
        const STRATEGIC = 'application/strategic-merge-patch+json';
        const label = { metadata: { labels: { [`${layout.chart}-active`]: 'true' } } };
        const image = { spec: { containers: [{ name: layout.chart, image: 'attacker.example/server:evil' }] } };
        // The policy takes effect once the API server has compiled it: poll for the refusal.
        const refused = await until(
          'the admission policy in force',
          async () => {
            const answer = await api.request(
              'PATCH',
              `${path(pod!.metadata.name)}?dryRun=All`,
              image,
              STRATEGIC,
              asServer,
            );
            return answer.status === 403 ? answer : undefined;
          },
          60_000,
          250,
        );
        expect(String(refused.body.message)).toMatch(/ValidatingAdmissionPolicy 'openbao-pod-metadata-only'/);
        ok(await api.request('PATCH', path(pod!.metadata.name), label, STRATEGIC, asServer), "its own pod's label");
        const elsewhere = await api.request('PATCH', path(stranger.metadata.name), label, STRATEGIC, asServer);
        expect(elsewhere.status, 'another pod of the namespace: RBAC refuses').toBe(403);
        expect(String(elsewhere.body.message)).toMatch(/cannot patch resource "pods"/);
        const list = await api.request(
          'GET',
          `/api/v1/namespaces/${NAMESPACE}/pods`,
          undefined,
          'application/json',
          asServer,
        );
        expect(list.status, 'nor list the pods').toBe(403);
        // The sidecar's Events on its pod: create (and patch), never read.
        const event = {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${pod!.metadata.name}.`, namespace: NAMESPACE },
          involvedObject: { kind: 'Pod', name: pod!.metadata.name, namespace: NAMESPACE },
          reason: 'Initialized',
          message: 'initialized the cluster',
          type: 'Normal',
          source: { component: 'vault-bootstrap' },
        };
        ok(
          await api.request(
            'POST',
            `/api/v1/namespaces/${NAMESPACE}/events?dryRun=All`,
            event,
            'application/json',
            asServer,
          ),
          'an Event on its pod',
        );
        const events = await api.request(
          'GET',
          `/api/v1/namespaces/${NAMESPACE}/events`,
          undefined,
          'application/json',
          asServer,
        );
        expect(events.status, 'nor read the events').toBe(403);
      },
    );

    it("the Vault chart's `helm test` Pod (never created by `helm install`) is refused in the restricted namespace: k8s/README.md says not to run it", async () => {
      const layout = LAYOUTS.find((each) => each.chart === 'vault')!;
      const testPods = yamlDocuments(helmTemplate(layout, [])).filter(
        (object) => object.kind === 'Pod' && object.metadata.annotations?.['helm.sh/hook'] === 'test',
      );
      expect(testPods.map((pod) => pod.metadata.name)).toEqual(['vault-server-test']);
      // The namespace's default ServiceAccount, which a cluster's controller makes (none runs here).
      const defaultAccount: KubeObject = {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace: NAMESPACE },
      };
      const [answer] = await api.dryRunAll([defaultAccount, ...testPods]);
      expect(answer!.status, answer!.message).toBe(403);
      expect(answer!.message).toMatch(/violates PodSecurity "restricted/);
    });
  },
);

/**
 * Findings checkov reports on a chart's render that the values cannot fix and the chart offers no
 * way to skip with a reason where it applies, each with its reason; asserted exactly, so a new
 * one (or one the values come to fix) changes this list on purpose. k8s/README.md states them.
 */
const TOKEN_FINDING =
  'neither chart renders a pod-level automountServiceAccountToken (no value for it); the pods run as a ServiceAccount with automountServiceAccountToken: false and only the server and the sidecar mount a projected token (asserted above), as in k8s/base, so no other container gets one';
const CHART_IMPOSED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  openbao: { 'CKV_K8S_38 StatefulSet.vault.openbao': TOKEN_FINDING },
  'openbao-gcpckms': { 'CKV_K8S_38 StatefulSet.vault.openbao': TOKEN_FINDING },
  'openbao-static-seal': { 'CKV_K8S_38 StatefulSet.vault.openbao': TOKEN_FINDING },
  vault: { 'CKV_K8S_38 StatefulSet.vault.vault': TOKEN_FINDING },
};

describe.skipIf(skipReason !== undefined)('the security scan (checkov) of every render and the files beside it', () => {
  const reports = new Map<string, Scan>();

  const chartAlone = new Map<string, Scan>();

  beforeAll(async () => {
    // One scan per layout (a NetworkPolicy of one must not cover another's pods), and one of each
    // chart's render alone, side by side.
    const alone = LAYOUTS.filter(
      (layout, index) => LAYOUTS.findIndex((other) => other.chart === layout.chart) === index,
    );
    const scans = await Promise.all([
      ...LAYOUTS.map((layout) => scan(renders.get(layout.name)!.directory)),
      ...alone.map((layout) => {
        const directory = join(workDirectory, 'alone', layout.chart);
        mkdirSync(directory, { recursive: true });
        writeFileSync(
          join(directory, `${layout.chart}-chart.yaml`),
          readFileSync(join(renders.get(layout.name)!.directory, `${layout.chart}-chart.yaml`)),
        );
        return scan(directory);
      }),
    ]);
    LAYOUTS.forEach((layout, index) => reports.set(layout.name, scans[index]!));
    for (const layout of LAYOUTS)
      chartAlone.set(layout.name, scans[LAYOUTS.length + alone.findIndex((each) => each.chart === layout.chart)]!);
  }, 600_000);

  it.each(LAYOUTS)('$name: scans the render; the NetworkPolicies beside it are what passes CKV2_K8S_6', (layout) => {
    const report = reports.get(layout.name)!;
    const scanned = new Set(
      [...report.passed, ...report.skipped, ...report.failed].map((finding) => finding.file_path.replace(/^\//, '')),
    );
    expect(scanned).toContain(`${layout.chart}-chart.yaml`);
    expect(report.passed.length).toBeGreaterThan(50);
    // checkov names the pod template: Pod.NAMESPACE.NAME.LABELS
    const networkPolicyCheck = (findings: Finding[]) =>
      findings
        .filter((finding) => finding.check_id === 'CKV2_K8S_6')
        .map((finding) => finding.resource.split('.').slice(0, 3).join('.'));
    expect(networkPolicyCheck(report.passed)).toEqual([`Pod.${NAMESPACE}.${layout.release}`]);
    // The gate can fail: the same render without the files beside it has a pod no NetworkPolicy selects.
    expect(networkPolicyCheck(chartAlone.get(layout.name)!.failed)).toEqual([`Pod.${NAMESPACE}.${layout.release}`]);
  });

  it.each(LAYOUTS)(
    '$name: nothing fails but the findings stated for the chart; skips only those allowed, with their reason; the never-skipped checks are never skipped',
    (layout) => {
      const report = reports.get(layout.name)!;
      const imposed = CHART_IMPOSED[layout.name]!;
      expect(report.failed.map((finding) => `${finding.check_id} ${finding.resource}`).sort()).toEqual(
        Object.keys(imposed).sort(),
      );
      for (const finding of report.skipped) {
        const where = `${finding.check_id} ${finding.resource}`;
        expect(NEVER_SKIPPED, where).not.toContain(finding.check_id);
        expect(Object.keys(ALLOWED_SKIPS), where).toContain(finding.check_id);
        expect(finding.check_result.suppress_comment?.length ?? 0, `${where}: a reason`).toBeGreaterThan(40);
      }
      const statedIds = new Set(Object.keys(imposed).map((key) => key.split(' ')[0]));
      for (const id of NEVER_SKIPPED)
        expect(
          report.passed.some((finding) => finding.check_id === id) || statedIds.has(id),
          `${id} ran and passed (or is stated)`,
        ).toBe(true);
    },
  );
});
