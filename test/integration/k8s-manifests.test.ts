import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { KubeApiServer, missingKubeApiServer } from '../../harness/kube-apiserver.js';
import { filesUnder } from '../helpers/secrets.js';

/**
 * Renders every kustomization under k8s/ with a real kustomize, validates every object offline
 * against the Kubernetes JSON schemas (kubernetes-validate, strict), applies it with server-side
 * dry-run to a real kube-apiserver whose namespace enforces the restricted Pod Security Standard,
 * and checks the invariants the program relies on against the rendered objects, reading settings
 * through the program's own config loader where it can.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const KUSTOMIZE = join(TOOLS, 'bin', 'kustomize');
const VALIDATE = join(TOOLS, 'k8s-venv', 'bin', 'kubernetes-validate');
const PYTHON = join(TOOLS, 'k8s-venv', 'bin', 'python');
/** The oldest Kubernetes minor still in the clouds' extended support here, and the newest schema shipped. */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];

const KUSTOMIZATIONS = [
  'base',
  'overlays/gcp',
  'overlays/aws',
  'overlays/gcp-job',
  'overlays/aws-job',
  'overlays/dr',
  'overlays/aws-kms',
  'overlays/gcp-kms',
  'overlays/self-init',
  'overlays/static-seal',
  'overlays/static-seal-aws',
  'overlays/gcp-snapshots',
] as const;
const OVERLAYS = KUSTOMIZATIONS.filter((name) => name !== 'base');
const EXPECTED_STORE: Record<string, 'gcp' | 'aws'> = {
  'overlays/gcp': 'gcp',
  'overlays/aws': 'aws',
  'overlays/gcp-job': 'gcp',
  'overlays/aws-job': 'aws',
  'overlays/dr': 'gcp',
  'overlays/aws-kms': 'aws',
  'overlays/gcp-kms': 'gcp',
  'overlays/self-init': 'gcp',
  'overlays/static-seal': 'gcp',
  'overlays/static-seal-aws': 'aws',
  'overlays/gcp-snapshots': 'gcp',
};
/** The static-seal layouts: the seal stanza is written at each start by the seal-key init container, not read from a ConfigMap. */
const STATIC_SEAL_OVERLAYS: readonly string[] = ['overlays/static-seal', 'overlays/static-seal-aws'];
/** The one-shot Job layouts (no sidecar). */
const JOB_OVERLAYS: readonly string[] = ['overlays/gcp-job', 'overlays/aws-job'];
/** The cloud KMS seal each KMS overlay declares: the cloud of its store. */
const EXPECTED_KMS_SEAL: Record<string, 'awskms' | 'gcpckms'> = {
  'overlays/aws-kms': 'awskms',
  'overlays/gcp-kms': 'gcpckms',
  'overlays/self-init': 'gcpckms',
};

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
};
type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: any[];
  envFrom?: any[];
  ports?: any[];
  volumeMounts?: any[];
  securityContext?: any;
  readinessProbe?: any;
  livenessProbe?: any;
  startupProbe?: any;
};

function missingTools(): string | undefined {
  const missing = [KUSTOMIZE, VALIDATE, PYTHON].filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  const errorFile = join(TOOLS, 'k8s-tools-error');
  const error = existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools';
  return `missing ${missing.map((path) => path.slice(ROOT.length)).join(', ')}: ${error}`;
}

const skipReason = missingTools();
if (skipReason) console.warn(`k8s-manifests: skipped: ${skipReason}`);

const workDirectory = mkdtempSync(join(tmpdir(), 'vb-k8s-'));
const rendered = new Map<string, { yaml: string; file: string; objects: K8sObject[] }>();

/** `kustomize build` of a directory, as YAML and as parsed objects. */
function render(directory: string): { yaml: string; objects: K8sObject[] } {
  const yaml = execFileSync(KUSTOMIZE, ['build', directory], { encoding: 'utf8' });
  const json = execFileSync(
    PYTHON,
    ['-c', 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'],
    { input: yaml, encoding: 'utf8' },
  );
  return { yaml, objects: JSON.parse(json) as K8sObject[] };
}

/** A YAML file, parsed (PyYAML from the manifest tools' venv). */
function readYaml(file: string): any {
  return JSON.parse(
    execFileSync(PYTHON, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
      input: readFileSync(file, 'utf8'),
      encoding: 'utf8',
    }),
  );
}

/** The official charts' values files (k8s/helm), with the names each chart gives its pods. */
const HELM_VALUES = [
  { file: 'vault-values.yaml', release: 'vault', testedVersion: 'VAULT_VERSION' },
  { file: 'openbao-values.yaml', release: 'openbao', testedVersion: 'OPENBAO_CLI_VERSION' },
] as const;
/** A version pinned in scripts/install-tools.sh: the one the integration tests run. */
const testedVersion = (variable: string) =>
  new RegExp(`^${variable}=(\\S+)$`, 'm').exec(readFileSync(join(ROOT, 'scripts/install-tools.sh'), 'utf8'))![1]!;
const helmSidecar = (server: any): Container => server.extraContainers.find(isBootstrap);

beforeAll(() => {
  if (skipReason) return;
  for (const name of KUSTOMIZATIONS) {
    const { yaml, objects } = render(join(ROOT, 'k8s', name));
    const file = join(workDirectory, `${name.replace('/', '-')}.yaml`);
    writeFileSync(file, yaml);
    rendered.set(name, { yaml, file, objects });
  }
});

afterAll(() => rmSync(workDirectory, { recursive: true, force: true }));

const objectsOf = (name: string) => rendered.get(name)!.objects;
const one = (name: string, kind: string, objectName?: string): K8sObject => {
  const found = objectsOf(name).filter(
    (object) => object.kind === kind && (objectName === undefined || object.metadata.name === objectName),
  );
  expect(found, `${name}: exactly one ${kind} ${objectName ?? ''}`).toHaveLength(1);
  return found[0]!;
};
/** The OpenBao server container of an overlay's StatefulSet. */
const openbaoContainer = (name: string): Container =>
  (one(name, 'StatefulSet', 'openbao').spec.template.spec.containers as Container[]).find(
    (container) => container.name === 'openbao',
  )!;
const podTemplates = (name: string) =>
  objectsOf(name)
    .filter((object) => object.kind === 'StatefulSet' || object.kind === 'Job')
    .map((object) => ({ owner: `${object.kind}/${object.metadata.name}`, object, pod: object.spec.template }));
const isBootstrap = (container: Container) => /(^|\/)vault-bootstrap(:|@)/.test(container.image);

/**
 * The server's configuration files, as its -config flags name them, from the ConfigMap mounted at
 * their directory. A file on the seal-key emptyDir (the static-seal layouts) is written by the
 * init container at each start: checked by the static-seal tests, not here.
 */
function serverConfigFiles(name: string): string[] {
  const statefulSet = one(name, 'StatefulSet', 'openbao');
  const server = openbaoContainer(name);
  const paths = [...(server.command ?? []), ...(server.args ?? [])]
    .filter((arg) => arg.startsWith('-config='))
    .map((arg) => arg.slice('-config='.length));
  expect(paths.length).toBeGreaterThan(0);
  const written = (path: string) =>
    STATIC_SEAL_OVERLAYS.includes(name) && mountOf(statefulSet.spec.template, server, path).mount.name === 'seal-key';
  return paths
    .filter((path) => !written(path))
    .map((path) => {
      const { mount, volume } = mountOf(statefulSet.spec.template, server, path);
      const data = one(name, 'ConfigMap', volume.configMap.name).data ?? {};
      const file = data[path.slice(mount.mountPath.length + 1)];
      expect(file, `${name}: ${path} is a key of ConfigMap ${volume.configMap.name}`).toBeDefined();
      return file!;
    });
}

/** Sample values for the downward API, to expand $(VAR) references as the kubelet does. */
const DOWNWARD: Record<string, string> = {
  'metadata.name': 'openbao-0',
  'metadata.namespace': 'vault',
  'metadata.uid': '0b0b0b0b-0000-4000-8000-000000000000',
  "metadata.annotations['batch.kubernetes.io/job-completion-index']": '0',
};

/** The environment the container gets: envFrom ConfigMaps first, then env (which wins), $(VAR) expanded. */
function environmentOf(name: string, container: Container): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    expect(source.configMapRef, `${container.name}: envFrom only from ConfigMaps (no Secrets)`).toBeDefined();
    Object.assign(environment, one(name, 'ConfigMap', source.configMapRef.name).data ?? {});
  }
  for (const variable of container.env ?? []) {
    expect(variable.valueFrom?.secretKeyRef, `${container.name}: ${variable.name} from a Secret`).toBeUndefined();
    const raw: string = variable.valueFrom?.fieldRef
      ? DOWNWARD[variable.valueFrom.fieldRef.fieldPath]!
      : variable.value;
    expect(raw, `${container.name}: ${variable.name} resolvable`).toBeDefined();
    environment[variable.name] = raw.replace(
      /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
      (whole, reference: string) => environment[reference] ?? whole,
    );
  }
  return environment;
}

/** A flag's value from args (--flag=value or --flag value), else the env var, as the program reads it. */
function setting(
  container: Container,
  environment: Record<string, string>,
  flag: string,
  envName: string,
): string | undefined {
  const args = container.args ?? [];
  for (let index = 0; index < args.length; index += 1) {
    if (args[index]!.startsWith(`--${flag}=`)) return args[index]!.slice(flag.length + 3);
    if (args[index] === `--${flag}`) return args[index + 1];
  }
  return environment[envName];
}

/**
 * The program's own Config for this container, in a simulated pod (KUBERNETES_SERVICE_HOST set,
 * so the file store is refused). Settings that read the pod's filesystem (spool, policies dir,
 * CA file) are left out here and checked against the volumes instead.
 */
function programConfig(name: string, container: Container) {
  const environment = environmentOf(name, container);
  const args = (container.args ?? []).filter((arg) => !/^--(spool-dir|policies-dir)=/.test(arg));
  const { VAULT_CACERT, VAULT_CAPATH, VB_SPOOL_DIR, VB_POLICIES_DIR, VB_LOGIN_SECRET_FILE, ...rest } = environment;
  // The login's token exists only in the pod; any readable file stands in for it here.
  const login = VB_LOGIN_SECRET_FILE === undefined ? {} : { VB_LOGIN_SECRET_FILE: fileURLToPath(import.meta.url) };
  return loadConfig(args, { ...rest, ...login, KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc' });
}

function mountOf(pod: any, container: Container, path: string): { mount: any; volume: any } {
  const mount = (container.volumeMounts ?? []).find(
    (candidate: any) => path === candidate.mountPath || path.startsWith(`${candidate.mountPath}/`),
  );
  expect(mount, `${container.name}: ${path} is on a mounted volume`).toBeDefined();
  const volume = pod.spec.volumes.find((candidate: any) => candidate.name === mount.name);
  expect(volume, `volume ${mount.name}`).toBeDefined();
  return { mount, volume };
}

function portNumber(container: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = (container.ports ?? []).find((candidate: any) => candidate.name === port);
  expect(named, `${container.name}: a container port named ${port}`).toBeDefined();
  return named.containerPort;
}

/** Strings of every object, recursively (keys and values). */
function allStrings(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) value.forEach((item) => allStrings(item, into));
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      into.push(key);
      allStrings(item, into);
    }
  }
  return into;
}

/** What a Vault/OpenBao token, an unseal key, a cloud credential or a private key looks like. */
const SECRET_PATTERNS: Array<[string, RegExp]> = [
  ['Vault/OpenBao token', /\b(s|sb|hvs|hvb|hvr)\.[A-Za-z0-9_-]{20,}/],
  ['base64 32-byte blob (unseal key)', /(^|[^A-Za-z0-9+/])[A-Za-z0-9+/]{43}=($|[^A-Za-z0-9+/=])/],
  ['hex 32-byte blob', /(?<!sha256:)\b[0-9a-f]{64}\b/],
  ['AWS access key id', /\b(AKIA|ASIA)[0-9A-Z]{16}\b/],
  ['private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['GCP service account key', /"private_key_id"/],
];

describe.skipIf(skipReason !== undefined)('k8s manifests', () => {
  describe.each(KUSTOMIZATIONS)('%s', (name) => {
    it.each(KUBERNETES_VERSIONS)('every object validates (strict) against the Kubernetes %s schemas', (version) => {
      const result = spawnSync(
        VALIDATE,
        ['--strict', '--quiet', '--kubernetes-version', version, rendered.get(name)!.file],
        { encoding: 'utf8' },
      );
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      expect(objectsOf(name).length).toBeGreaterThan(5);
    });

    it('holds no Secret object and no secret-looking value', () => {
      expect(objectsOf(name).filter((object) => object.kind === 'Secret')).toEqual([]);
      const strings = allStrings(objectsOf(name));
      for (const [label, pattern] of SECRET_PATTERNS) {
        const hits = strings.filter((text) => pattern.test(text)).length;
        expect(hits, `${hits} value(s) look like a ${label}`).toBe(0);
      }
    });

    it('puts every object in one namespace, where the ConfigMaps and ServiceAccount it names exist', () => {
      const namespace = one(name, 'Namespace').metadata.name;
      // Cluster-scoped objects (the self-init overlay's ClusterRoleBinding) have no namespace: their subjects are in it.
      const clusterScoped = [
        'Namespace',
        'ClusterRoleBinding',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ];
      for (const object of objectsOf(name).filter((candidate) => !clusterScoped.includes(candidate.kind))) {
        expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe(namespace);
      }
      for (const binding of objectsOf(name).filter((candidate) => candidate.kind === 'ClusterRoleBinding')) {
        for (const subject of (binding as any).subjects)
          expect(subject.namespace, `ClusterRoleBinding/${binding.metadata.name}`).toBe(namespace);
      }
      for (const { owner, pod } of podTemplates(name)) {
        one(name, 'ServiceAccount', pod.spec.serviceAccountName);
        const configMaps = [
          ...pod.spec.volumes.filter((volume: any) => volume.configMap).map((volume: any) => volume.configMap.name),
          ...(pod.spec.containers as Container[]).flatMap((container) =>
            (container.envFrom ?? []).map((source: any) => source.configMapRef.name),
          ),
        ];
        for (const configMap of configMaps)
          expect(
            objectsOf(name).some((object) => object.kind === 'ConfigMap' && object.metadata.name === configMap),
            `${owner}: ConfigMap ${configMap}`,
          ).toBe(true);
      }
    });

    it('pins every image by tag (never latest)', () => {
      for (const { pod } of podTemplates(name)) {
        for (const container of pod.spec.containers as Container[]) {
          expect(container.image, container.name).toMatch(/^[^:@\s]+(:[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?$/);
          expect(container.image).not.toMatch(/:latest$/);
        }
      }
    });

    it('runs every container non-root, read-only, unprivileged, with all capabilities dropped', () => {
      for (const { owner, pod } of podTemplates(name)) {
        expect(pod.spec.securityContext.runAsNonRoot, owner).toBe(true);
        expect(pod.spec.securityContext.seccompProfile?.type, owner).toBe('RuntimeDefault');
        expect(pod.spec.hostNetwork ?? false).toBe(false);
        for (const container of pod.spec.containers as Container[]) {
          const context = container.securityContext;
          const where = `${owner} ${container.name}`;
          expect(context.runAsNonRoot, where).toBe(true);
          expect(
            Number.isInteger(context.runAsUser) && context.runAsUser > 0,
            `${where}: numeric non-root runAsUser`,
          ).toBe(true);
          expect(context.readOnlyRootFilesystem, where).toBe(true);
          expect(context.allowPrivilegeEscalation, where).toBe(false);
          expect(context.privileged ?? false, where).toBe(false);
          expect(context.capabilities?.drop, where).toContain('ALL');
          expect(context.capabilities?.add ?? [], where).toEqual([]);
          expect(context.seccompProfile?.type ?? pod.spec.securityContext.seccompProfile?.type, where).toBe(
            'RuntimeDefault',
          );
        }
      }
    });

    it('describes one 3-node raft cluster: headless DNS, retry_join to every pod, anti-affinity, PDB', () => {
      const statefulSet = one(name, 'StatefulSet', 'openbao');
      const replicas: number = statefulSet.spec.replicas;
      expect(replicas).toBe(3);
      expect(statefulSet.spec.podManagementPolicy).toBe('Parallel');
      const podLabels = statefulSet.spec.template.metadata.labels;

      const headless = one(name, 'Service', statefulSet.spec.serviceName);
      expect(headless.spec.clusterIP).toBe('None');
      expect(headless.spec.publishNotReadyAddresses).toBe(true);
      for (const service of objectsOf(name).filter((object) => object.kind === 'Service')) {
        for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>)) {
          if (key !== 'openbao-active') expect(podLabels[key], `${service.metadata.name} selects the pods`).toBe(value);
        }
      }
      expect(one(name, 'Service', 'openbao-active').spec.selector['openbao-active']).toBe('true');

      const serverConfig = Object.values(
        one(
          name,
          'ConfigMap',
          statefulSet.spec.template.spec.volumes.find((volume: any) => volume.name === 'openbao-config').configMap.name,
        ).data!,
      )[0]!;
      const leaders = [...serverConfig.matchAll(/leader_api_addr\s*=\s*"([^"]+)"/g)].map((match) => match[1]);
      expect(leaders).toEqual(
        Array.from(
          { length: replicas },
          (_, index) => `https://${statefulSet.metadata.name}-${index}.${statefulSet.spec.serviceName}:8200`,
        ),
      );
      expect(serverConfig).toMatch(/storage "raft"/);
      expect(serverConfig, 'raft production timing').toMatch(/performance_multiplier\s*=\s*1\b/);
      expect(serverConfig).toMatch(/tls_cert_file/);
      expect(serverConfig).not.toMatch(/tls_disable\s*=\s*(true|1|"true")/);

      const tls = statefulSet.spec.template.spec.volumes.find((volume: any) => volume.name === 'tls');
      expect(tls.secret.secretName).toBe('vault-tls');

      const antiAffinity =
        statefulSet.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution;
      expect(antiAffinity.map((term: any) => term.topologyKey)).toContain('kubernetes.io/hostname');
      const budget = one(name, 'PodDisruptionBudget');
      expect(budget.spec.maxUnavailable).toBe(1);
      for (const [key, value] of Object.entries(budget.spec.selector.matchLabels as Record<string, string>))
        expect(podLabels[key]).toBe(value);
    });

    it('runs the OpenBao version the integration tests run (with a cloud KMS seal: the 2.6.x line that has it built in)', () => {
      const kmsSeal = /seal\s+"(awskms|gcpckms|azurekeyvault|ocikms|alicloudkms)"/.test(
        serverConfigFiles(name).join('\n'),
      );
      const tested = testedVersion(kmsSeal ? 'OPENBAO_KMS_CLI_VERSION' : 'OPENBAO_CLI_VERSION');
      const server = openbaoContainer(name);
      expect(server.image).toMatch(
        new RegExp(`^(quay\\.io/|docker\\.io/)?openbao/openbao:${tested.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`),
      );
    });

    it("the server reads every -config file from its config ConfigMap; a KMS overlay declares its cloud's seal with no credential in it", () => {
      const files = serverConfigFiles(name);
      const seals = [...files.join('\n').matchAll(/seal\s+"([a-z0-9]+)"/g)].map((match) => match[1]);
      const expected = EXPECTED_KMS_SEAL[name];
      expect(seals).toEqual(expected === undefined ? [] : [expected]);
      // Credentials come from the pod's cloud identity (IRSA, Workload Identity), never the file.
      for (const file of files) expect(file).not.toMatch(/^\s*(access_key|secret_key|session_token|credentials)\s*=/m);
    });

    it('the server exits when its core shuts itself down (a seal in place would read as an operator seal)', () => {
      const server = openbaoContainer(name);
      expect([...(server.command ?? []), ...(server.args ?? [])]).toContain('-exit-on-core-shutdown');
    });
  });

  describe.each(OVERLAYS)('%s: the vault-bootstrap containers', (name) => {
    const bootstrapContainers = () =>
      podTemplates(name).flatMap(({ owner, object, pod }) =>
        (pod.spec.containers as Container[])
          .filter(isBootstrap)
          .map((container) => ({ owner, object, pod, container })),
      );

    it('configure the store kind and the cloud identity on the pod service account', () => {
      expect(bootstrapContainers().length).toBeGreaterThan(0);
      for (const { owner, pod, container } of bootstrapContainers()) {
        const config = programConfig(name, container);
        expect(config.store.kind, owner).toBe(EXPECTED_STORE[name]);
        const serviceAccount = one(name, 'ServiceAccount', pod.spec.serviceAccountName);
        const annotations = serviceAccount.metadata.annotations ?? {};
        if (config.store.kind === 'gcp') {
          expect(config.store.project, `${owner}: VB_GCP_PROJECT`).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
          expect(annotations['iam.gke.io/gcp-service-account']).toMatch(
            /^[a-z][-a-z0-9]{4,28}[a-z0-9]@[a-z][-a-z0-9]{4,28}[a-z0-9]\.iam\.gserviceaccount\.com$/,
          );
        } else {
          expect(config.store.kind === 'aws' && config.store.region, `${owner}: VB_AWS_REGION`).toMatch(
            /^[a-z]{2}(-[a-z]+)+-\d+$/,
          );
          expect(annotations['eks.amazonaws.com/role-arn']).toMatch(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/);
        }
        expect(config.allowReinit, `${owner}: never --allow-reinit`).toBe(false);
        expect(config.tls.skipVerify, `${owner}: TLS verified`).toBe(false);
        expect(config.rootToken, `${owner}: the root token is revoked once configured`).toBe('revoke');
        expect(container.args).not.toContain('--allow-file-store');
      }
    });

    it('spool on a memory-backed emptyDir; policies from a ConfigMap; CA only from vault-tls', () => {
      for (const { owner, pod, container } of bootstrapContainers()) {
        const environment = environmentOf(name, container);
        const spool = setting(container, environment, 'spool-dir', 'VB_SPOOL_DIR');
        expect(spool, `${owner}: --spool-dir/VB_SPOOL_DIR`).toBeDefined();
        const { mount, volume } = mountOf(pod, container, spool!);
        expect(mount.mountPath, `${owner}: the spool is the mount itself`).toBe(spool);
        expect(mount.readOnly ?? false).toBe(false);
        expect(volume.emptyDir?.medium, `${owner}: spool volume ${volume.name}`).toBe('Memory');

        const policies = setting(container, environment, 'policies-dir', 'VB_POLICIES_DIR');
        expect(policies, `${owner}: --policies-dir`).toBeDefined();
        const policyVolume = mountOf(pod, container, policies!).volume;
        expect(policyVolume.configMap?.name, `${owner}: policies from a ConfigMap`).toBeDefined();
        one(name, 'ConfigMap', policyVolume.configMap.name);

        const caFile = environment.VAULT_CACERT!;
        expect(caFile, `${owner}: VAULT_CACERT`).toBeDefined();
        const { mount: caMount, volume: caVolume } = mountOf(pod, container, caFile);
        expect(caVolume.secret.secretName).toBe('vault-tls');
        expect(caVolume.secret.items, `${owner}: only ca.crt, never the server key`).toEqual([
          { key: 'ca.crt', path: caFile.slice(caMount.mountPath.length + 1) },
        ]);
      }
    });

    it('reach their OpenBao over TLS under a name the certificate covers', () => {
      const statefulSet = one(name, 'StatefulSet', 'openbao');
      const server = openbaoContainer(name);
      const apiPort = portNumber(server, 'api');
      for (const { owner, object, container } of bootstrapContainers()) {
        const config = programConfig(name, container);
        expect(config.vaultAddress.protocol).toBe('https:');
        expect(Number(config.vaultAddress.port)).toBe(apiPort);
        const podDnsName = `${statefulSet.metadata.name}-0.${statefulSet.spec.serviceName}`;
        // The name in the namespace: Node's TLS check refuses the one-label wildcard *.openbao-internal
        // (the first kubelet run found it, test/e2e/local-cluster.test.ts).
        expect(config.tls.serverName, owner).toBe(`${podDnsName}.vault.svc`);
        if (object.kind === 'StatefulSet') {
          expect(config.vaultAddress.hostname, `${owner}: the colocated server`).toBe('127.0.0.1');
        } else {
          expect(config.vaultAddress.hostname, `${owner}: pod N reaches openbao-N`).toBe(podDnsName);
        }
      }
    });

    it('sidecar: probes on /healthz and /readyz at the port the program listens on; metrics scraped there', () => {
      const sidecars = bootstrapContainers().filter(({ container }) => !(container.args ?? []).includes('--once'));
      if (JOB_OVERLAYS.includes(name)) expect(sidecars).toEqual([]);
      else expect(sidecars).toHaveLength(1);
      for (const { owner, pod, container } of sidecars) {
        const port = programConfig(name, container).listen?.port;
        expect(port, `${owner}: the sidecar serves its endpoints`).toBeDefined();
        expect(container.readinessProbe.httpGet.path).toBe('/readyz');
        expect(container.livenessProbe.httpGet.path).toBe('/healthz');
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(
          Boolean,
        )) {
          expect(portNumber(container, probe.httpGet.port), `${owner}: probe port`).toBe(port);
          expect(probe.httpGet.scheme ?? 'HTTP').toBe('HTTP');
        }
        expect(container.ports!.find((candidate: any) => candidate.name === 'metrics')?.containerPort).toBe(port);
        const annotations = pod.metadata.annotations ?? {};
        expect(annotations['prometheus.io/scrape']).toBe('true');
        expect(Number(annotations['prometheus.io/port'])).toBe(port);
        expect(annotations['prometheus.io/path']).toBe('/metrics');
      }
    });

    it('one-shot Job: run --once for every OpenBao pod, retried in the same pod', () => {
      const jobs = bootstrapContainers().filter(({ object }) => object.kind === 'Job');
      if (!JOB_OVERLAYS.includes(name)) return expect(jobs).toEqual([]);
      expect(jobs).toHaveLength(1);
      const { object: job, pod, container } = jobs[0]!;
      expect(container.args!.slice(0, 2)).toEqual(['run', '--once']);
      expect(programConfig(name, container).listen).toBeUndefined();
      expect(job.spec.completionMode).toBe('Indexed');
      expect(job.spec.completions).toBe(one(name, 'StatefulSet', 'openbao').spec.replicas);
      expect(job.spec.parallelism).toBe(job.spec.completions);
      expect(pod.spec.restartPolicy, 'the spool survives a container restart only inside the same pod').toBe(
        'OnFailure',
      );
      expect(job.spec.activeDeadlineSeconds * 1000).toBeGreaterThan(programConfig(name, container).timeoutMs);
      const statefulSetPod = one(name, 'StatefulSet', 'openbao').spec.template;
      expect((statefulSetPod.spec.containers as Container[]).filter(isBootstrap), 'no sidecar beside the Job').toEqual(
        [],
      );
      expect(statefulSetPod.metadata.annotations?.['prometheus.io/scrape']).toBeUndefined();
    });

    it('terminationGracePeriodSeconds leaves room above --shutdown-timeout', () => {
      for (const { owner, pod, container } of bootstrapContainers()) {
        const shutdownTimeoutMs = programConfig(name, container).shutdownTimeoutMs;
        const graceMs = (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
        expect(
          graceMs - shutdownTimeoutMs,
          `${owner}: grace ${graceMs}ms vs --shutdown-timeout ${shutdownTimeoutMs}ms`,
        ).toBeGreaterThanOrEqual(10_000);
      }
    });
  });

  it('disaster recovery: same store and prefix as the overlay it builds on, never re-initializing', () => {
    const recovery = one('overlays/dr', 'StatefulSet', 'openbao').spec.template.spec.containers.find(isBootstrap);
    const original = one('overlays/gcp', 'StatefulSet', 'openbao').spec.template.spec.containers.find(isBootstrap);
    const recoveryConfig = programConfig('overlays/dr', recovery);
    const originalConfig = programConfig('overlays/gcp', original);
    expect(recoveryConfig.store).toEqual(originalConfig.store);
    expect(recoveryConfig.storePrefix).toBe(originalConfig.storePrefix);
    expect(recoveryConfig.allowReinit).toBe(false);
    expect(environmentOf('overlays/dr', recovery).VB_ALLOW_REINIT).toBe('false');
  });

  it('the base names no store: an overlay must choose one', () => {
    const sidecar = one('base', 'StatefulSet', 'openbao').spec.template.spec.containers.find(isBootstrap);
    expect(environmentOf('base', sidecar).VB_STORE).toBeUndefined();
  });

  it('no file under k8s/ holds a secret-looking value', async () => {
    const files = await filesUnder(join(ROOT, 'k8s'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const [label, pattern] of SECRET_PATTERNS)
        expect(pattern.test(text), `${file.slice(ROOT.length)}: looks like a ${label}`).toBe(false);
    }
  });
});

/** The k8s/README.md code block that holds a marker (the walkthroughs' snippets), whole. */
function documentedBlock(marker: string): string {
  const readme = readFileSync(join(ROOT, 'k8s', 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  expect(at, marker).toBeGreaterThan(-1);
  const opening = readme.lastIndexOf('```', at);
  return readme.slice(readme.indexOf('\n', opening) + 1, readme.indexOf('```', at));
}

describe.skipIf(skipReason !== undefined)('the walkthroughs (k8s/README.md, "Before you start")', () => {
  const DIGEST_BOOTSTRAP = `sha256:${'1'.repeat(64)}`;
  const DIGEST_OPENBAO = `sha256:${'2'.repeat(64)}`;

  /** The documented images: snippet, filled in as step 2 says, over an overlay. */
  function withDocumentedImages(overlay: string, keepOpenBaoEntry: boolean): K8sObject[] {
    const snippet = documentedBlock("# in your overlay's kustomization.yaml\nimages:")
      .replace('REGISTRY/', 'registry.test/team/')
      .replace('sha256:DIGEST_PRINTED_BY_DOCKER_PUSH', DIGEST_BOOTSTRAP)
      .replace('sha256:DIGEST_READ_FROM_THE_REGISTRY', DIGEST_OPENBAO);
    const parsed = JSON.parse(
      execFileSync(PYTHON, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
        input: snippet,
        encoding: 'utf8',
      }),
    );
    const images = parsed.images.filter((entry: any) => keepOpenBaoEntry || entry.name !== 'quay.io/openbao/openbao');
    const directory = mkdtempSync(join(workDirectory, 'images-'));
    writeFileSync(
      join(directory, 'kustomization.yaml'),
      JSON.stringify({ resources: [relative(directory, join(ROOT, 'k8s', overlay))], images }),
    );
    return render(directory).objects;
  }

  const imagesOf = (objects: K8sObject[]) =>
    objects
      .filter((object) => object.kind === 'StatefulSet' || object.kind === 'Job')
      .flatMap((object) => (object.spec.template.spec.containers as Container[]).map((container) => container.image));

  it.each(['overlays/gcp', 'overlays/aws', 'overlays/gcp-job', 'overlays/aws-job'])(
    'the images: snippet renders tag AND digest over %s',
    (overlay) => {
      const images = new Set(imagesOf(withDocumentedImages(overlay, true)));
      expect(images).toEqual(
        new Set([
          `registry.test/team/vault-bootstrap:0.1.0@${DIGEST_BOOTSTRAP}`,
          `quay.io/openbao/openbao:2.7.2@${DIGEST_OPENBAO}`,
        ]),
      );
    },
  );

  it('on a KMS overlay, without the OpenBao entry (as documented), OpenBao stays 2.6.2 by digest', () => {
    const images = imagesOf(withDocumentedImages('overlays/aws-kms', false));
    expect(images.filter((image) => image.startsWith('quay.io/openbao/openbao:'))).toEqual([
      expect.stringMatching(/^quay\.io\/openbao\/openbao:2\.6\.2@sha256:[0-9a-f]{64}$/),
    ]);
  });

  it('the store prefix step: the documented literal is a valid --store-prefix', () => {
    const literal = /VB_STORE_PREFIX=(\S+)/.exec(
      documentedBlock("under configMapGenerator's vault-bootstrap entry"),
    )![1]!;
    expect(loadConfig(['run', '--store', 'file', '--store-prefix', literal]).storePrefix).toBe(literal);
  });

  it.each(KUBERNETES_VERSIONS)(
    'the EKS StorageClass (overlays/aws/storageclass.yaml) validates against the Kubernetes %s schemas, a gp3 default on the EBS CSI driver',
    (version) => {
      const file = join(ROOT, 'k8s', 'overlays', 'aws', 'storageclass.yaml');
      const result = spawnSync(VALIDATE, ['--strict', '--quiet', '--kubernetes-version', version, file], {
        encoding: 'utf8',
      });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      const storageClass = readYaml(file);
      expect(storageClass.provisioner).toBe('ebs.csi.aws.com');
      expect(storageClass.metadata.annotations['storageclass.kubernetes.io/is-default-class']).toBe('true');
      expect(storageClass.volumeBindingMode).toBe('WaitForFirstConsumer');
    },
  );
});

/** Helm's merge of two values files: maps merge key by key, anything else (lists, strings) is replaced. */
function helmMerge(base: any, layer: any): any {
  if (
    typeof base !== 'object' ||
    base === null ||
    Array.isArray(base) ||
    typeof layer !== 'object' ||
    layer === null ||
    Array.isArray(layer)
  )
    return layer;
  const merged = { ...base };
  for (const [key, value] of Object.entries(layer)) merged[key] = key in base ? helmMerge(base[key], value) : value;
  return merged;
}

/** The attributes of a `seal "TYPE" { … }` stanza. */
function sealStanza(config: string, type: string): Record<string, string> | undefined {
  const body = new RegExp(`seal\\s+"${type}"\\s*\\{([^}]*)\\}`).exec(config)?.[1];
  return body === undefined
    ? undefined
    : Object.fromEntries([...body.matchAll(/^\s*(\w+)\s*=\s*"([^"]*)"/gm)].map((match) => [match[1]!, match[2]!]));
}

describe.skipIf(skipReason !== undefined)(
  'the self-init overlay (OpenBao initializes itself; the sidecar logs in)',
  () => {
    const name = 'overlays/self-init';
    const sidecar = () =>
      podTemplates(name).flatMap(({ pod }) =>
        (pod.spec.containers as Container[]).filter(isBootstrap).map((container) => ({ pod, container })),
      )[0]!;

    it("the server reads initialize stanzas that declare the sidecar's Kubernetes login and policy, from its config ConfigMap", () => {
      const stanzas = serverConfigFiles(name).join('\n');
      expect(stanzas).toMatch(/^initialize "vault-bootstrap" \{/m);
      expect(stanzas).toMatch(/path\s*=\s*"sys\/auth\/vault-bootstrap"/);
      expect(stanzas).toMatch(/path\s*=\s*"auth\/vault-bootstrap\/role\/vault-bootstrap"/);
      expect(stanzas).toMatch(/token_bound_cidrs\s*=\s*\["127\.0\.0\.1\/32"\]/);
      expect(stanzas).toMatch(/audience\s*=\s*"vault-bootstrap"/);
      const [config] = objectsOf(name).filter(
        (object) => object.kind === 'ConfigMap' && object.metadata.name.startsWith('openbao-config'),
      );
      expect(config!.data!['vault-bootstrap.hcl'], 'the policy the stanzas read is the one the package ships').toBe(
        readFileSync(join(ROOT, 'policies', 'vault-bootstrap.hcl'), 'utf8'),
      );
    });

    it('the sidecar runs --self-init with a projected token for the audience vault-bootstrap; OpenBao may review it', () => {
      const { pod, container } = sidecar();
      const config = programConfig(name, container);
      expect(config.selfInit).toMatchObject({
        method: 'kubernetes',
        mount: 'vault-bootstrap',
        role: 'vault-bootstrap',
      });
      const path = environmentOf(name, container).VB_LOGIN_SECRET_FILE!;
      const { volume } = mountOf(pod, container, path);
      const source = volume.projected.sources.find(
        (each: any) => each.serviceAccountToken !== undefined,
      ).serviceAccountToken;
      expect(source.audience).toBe('vault-bootstrap');
      const binding = one(name, 'ClusterRoleBinding', 'openbao-token-review');
      expect((binding as any).roleRef.name).toBe('system:auth-delegator');
      expect((binding as any).subjects).toEqual([
        { kind: 'ServiceAccount', name: pod.spec.serviceAccountName, namespace: 'vault' },
      ]);
    });
  },
);

describe.skipIf(skipReason !== undefined).each(STATIC_SEAL_OVERLAYS)(
  'the %s overlay (OpenBao static seal, its key in the secret manager)',
  (name) => {
    const statefulSet = () => one(name, 'StatefulSet', 'openbao');
    const initContainer = (): Container => {
      const containers = (statefulSet().spec.template.spec.initContainers ?? []) as Container[];
      expect(containers.map((container) => container.name)).toEqual(['seal-key']);
      return containers[0]!;
    };

    it("an init container runs seal-key into a memory-backed emptyDir, as the server's uid and gid, with the sidecar's store settings", () => {
      const init = initContainer();
      expect(isBootstrap(init), 'the vault-bootstrap image').toBe(true);
      expect(init.args![0]).toBe('seal-key');
      const pod = statefulSet().spec.template;
      const directory = setting(init, environmentOf(name, init), 'seal-key-dir', 'VB_SEAL_KEY_DIR')!;
      const { mount, volume } = mountOf(pod, init, directory);
      expect(mount.mountPath).toBe(directory);
      expect(volume.emptyDir).toMatchObject({ medium: 'Memory' });
      // The program's own config; /dev/shm (tmpfs here) stands in for the emptyDir, checked above.
      const args = [...(init.args ?? []).filter((arg) => !arg.startsWith('--seal-key-dir')), '--seal-key-dir=/dev/shm'];
      const config = loadConfig(args, {
        ...environmentOf(name, init),
        KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc',
      });
      expect(config.command).toBe('seal-key');
      expect(config.store.kind).toBe(EXPECTED_STORE[name]);
      const sidecar = (pod.spec.containers as Container[]).find(isBootstrap)!;
      expect(programConfig(name, sidecar).storePrefix, 'the same prefix as the sidecar').toBe(config.storePrefix);
      expect(environmentOf(name, init).POD_NAME).toBe(environmentOf(name, openbaoContainer(name)).BAO_RAFT_NODE_ID);
      const server = openbaoContainer(name);
      expect(
        [init.securityContext.runAsUser, init.securityContext.runAsGroup],
        "the key files (0400) are the server's own",
      ).toEqual([server.securityContext.runAsUser, server.securityContext.runAsGroup]);
      expect(init.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    });

    it('the server reads the stanza seal-key writes from that emptyDir, read-only, and names no seal in its ConfigMap', () => {
      const server = openbaoContainer(name);
      const pod = statefulSet().spec.template;
      const directory = setting(
        initContainer(),
        environmentOf(name, initContainer()),
        'seal-key-dir',
        'VB_SEAL_KEY_DIR',
      )!;
      expect(server.command).toContain(`-config=${directory}/seal.hcl`);
      const { mount } = mountOf(pod, server, `${directory}/seal.hcl`);
      expect(mount).toMatchObject({ name: 'seal-key', readOnly: true });
      expect(serverConfigFiles(name).join('\n')).not.toMatch(/seal\s+"/);
      // Only these two containers mount the key's volume.
      const mounting = [...(pod.spec.containers as Container[]), ...(pod.spec.initContainers as Container[])]
        .filter((container) => (container.volumeMounts ?? []).some((each: any) => each.name === 'seal-key'))
        .map((container) => container.name);
      expect(mounting.sort()).toEqual(['openbao', 'seal-key']);
      expect(server.image).toMatch(/openbao:2\.7\./);
    });

    if (name === 'overlays/static-seal-aws') {
      it("the IRSA webhook is told to skip the OpenBao container: only seal-key and the sidecar get the pod's AWS identity", () => {
        expect(statefulSet().spec.template.metadata.annotations['eks.amazonaws.com/skip-containers']).toBe('openbao');
      });
    }
  },
);

describe.skipIf(skipReason !== undefined)(
  'Helm values layered for cloud KMS auto-unseal (k8s/helm/openbao-gcpckms-values.yaml)',
  () => {
    const base = () => readYaml(join(ROOT, 'k8s', 'helm', 'openbao-values.yaml'));
    const merged = () => helmMerge(base(), readYaml(join(ROOT, 'k8s', 'helm', 'openbao-gcpckms-values.yaml')));

    it('pins the OpenBao line with the seal built in and adds only the seal stanza to the base configuration', () => {
      const { server } = merged();
      expect(server.image.tag.split('@')[0]).toBe(testedVersion('OPENBAO_KMS_CLI_VERSION'));
      expect(server.extraArgs.split(/\s+/)).toContain('-exit-on-core-shutdown');
      const config: string = server.ha.raft.config;
      expect(config.replace(/\n\s*seal "gcpckms" \{[^}]*\}\n?/, '\n').trim()).toBe(base().server.ha.raft.config.trim());
      expect(config).not.toMatch(/^\s*(credentials|access_key|secret_key)\s*=/m);
    });

    it('declares the same seal as the gcp-kms overlay (manifests and Helm values agree)', () => {
      const overlaySeal = readFileSync(join(ROOT, 'k8s', 'overlays', 'gcp-kms', 'seal.hcl'), 'utf8');
      const helmSeal = sealStanza(merged().server.ha.raft.config, 'gcpckms');
      expect(helmSeal).toBeDefined();
      expect(helmSeal).toEqual(sealStanza(overlaySeal, 'gcpckms'));
      expect(Object.keys(helmSeal!).sort()).toEqual(['crypto_key', 'key_ring', 'project', 'region']);
    });
  },
);

describe.skipIf(skipReason !== undefined)('Helm values for the official charts (k8s/helm)', () => {
  describe.each(HELM_VALUES)('$file', ({ file, release, testedVersion: versionVariable }) => {
    const values = () => readYaml(join(ROOT, 'k8s', 'helm', file));

    it('a 3-node raft cluster over TLS whose retry_join names every pod the chart creates', () => {
      const { server, global } = values();
      expect(global.tlsDisable).toBe(false);
      expect(server.image.tag.split('@')[0], 'the version the integration tests run').toBe(
        testedVersion(versionVariable),
      );
      expect(server.ha).toMatchObject({ enabled: true, replicas: 3, raft: { enabled: true, setNodeId: true } });
      const config: string = server.ha.raft.config;
      const leaders = [...config.matchAll(/leader_api_addr\s*=\s*"([^"]+)"/g)].map((match) => match[1]);
      expect(leaders).toEqual([0, 1, 2].map((index) => `https://${release}-${index}.${release}-internal:8200`));
      expect(config).toMatch(/performance_multiplier\s*=\s*1\b/);
      expect(config).toMatch(/tls_cert_file/);
      expect(config).not.toMatch(/tls_disable/);
    });

    it('the server exits when its core shuts itself down (a seal in place would read as an operator seal)', () => {
      expect(values().server.extraArgs.split(/\s+/)).toContain('-exit-on-core-shutdown');
    });

    it('the sidecar: store and identity set, TLS verified under the pod name, spool in memory, grace above --shutdown-timeout', () => {
      const { server } = values();
      const sidecar = helmSidecar(server);
      const environment = Object.fromEntries(
        (sidecar.env ?? [])
          .filter((variable: any) => variable.value !== undefined)
          .map((variable: any) => [variable.name, variable.value]),
      );
      // Under the namespace, as the base's: Node refuses a wildcard over one label (*.openbao-internal).
      expect(environment.VAULT_TLS_SERVER_NAME).toBe(`$(POD_NAME).${release}-internal.$(POD_NAMESPACE).svc`);
      const { VAULT_CACERT, ...rest } = environment;
      // --spool-dir reads the pod's filesystem; the volume is checked below instead.
      const args = (sidecar.args ?? []).filter((arg) => !arg.startsWith('--spool-dir='));
      const config = loadConfig(args, {
        ...rest,
        POD_NAME: `${release}-0`,
        KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc',
      });
      expect(config.store.kind).toBe('gcp');
      // The pods' ServiceAccount and its cloud identity: test/integration/helm.test.ts, on the charts' render.
      expect(config.tls.skipVerify).toBe(false);
      expect(config.vaultAddress.hostname).toBe('127.0.0.1');
      expect(server.terminationGracePeriodSeconds * 1000 - config.shutdownTimeoutMs).toBeGreaterThanOrEqual(10_000);
      const spool = server.volumes.find(
        (volume: any) => volume.name === sidecar.volumeMounts!.find((mount: any) => mount.mountPath === '/spool').name,
      );
      expect(spool.emptyDir.medium).toBe('Memory');
      expect(sidecar.readinessProbe.httpGet.path).toBe('/readyz');
      expect(sidecar.livenessProbe.httpGet.path).toBe('/healthz');
    });
  });
});

const apiServerMissing = skipReason ?? missingKubeApiServer();
if (apiServerMissing && !skipReason) console.warn(`k8s-manifests on a real API server: skipped: ${apiServerMissing}`);

/** Overlays made to be refused (test/fixtures/k8s): each breaks one rule the API server enforces. */
const INVALID_OVERLAYS = {
  // What running Vault with mlock needs, and what the restricted profile forbids.
  'ipc-lock': /violates PodSecurity "restricted:latest".*IPC_LOCK/s,
  // A container port out of range: object validation, not Pod Security.
  'bad-port': /containerPort.*must be between 1 and 65535/s,
} as const;

describe.skipIf(apiServerMissing !== undefined)(
  'k8s manifests on a real API server (server-side dry-run, Pod Security restricted)',
  () => {
    let api: KubeApiServer;

    beforeAll(async () => {
      api = await KubeApiServer.start();
    }, 180_000);

    afterAll(async () => {
      await api?.stop();
    });

    /** The harness's dry-run: Namespaces and ServiceAccounts for real, the rest and each workload's Pod with dryRun=All. */
    const dryRunAll = (objects: K8sObject[]) => api.dryRunAll(objects);

    it.each(KUSTOMIZATIONS)(
      '%s: every object and every pod it makes is admitted (dry-run) in a namespace enforcing restricted',
      async (name) => {
        const namespace = one(name, 'Namespace');
        expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
        const answers = await dryRunAll(objectsOf(name));
        const live = await api.request('GET', `/api/v1/namespaces/${namespace.metadata.name}`);
        expect(live.body.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
        for (const answer of answers) {
          expect([200, 201], `${answer.what}: ${answer.message}`).toContain(answer.status);
          expect(answer.warnings, answer.what).toEqual([]);
        }
        expect(answers.filter((answer) => answer.what.startsWith('Pod/')).length).toBe(podTemplates(name).length);
        // Dry-run stored nothing.
        expect(
          (await api.request('GET', `/apis/apps/v1/namespaces/${namespace.metadata.name}/statefulsets`)).body.items,
        ).toEqual([]);
      },
    );

    it('the shared steps in their order: k8s/base/namespace.yaml, then the TLS Secret in it, and the EKS StorageClass, are admitted', async () => {
      const namespace = readYaml(join(ROOT, 'k8s', 'base', 'namespace.yaml')) as K8sObject;
      const tlsSecret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'vault-tls', namespace: namespace.metadata.name },
        type: 'Opaque',
        stringData: { 'tls.crt': 'x', 'tls.key': 'x', 'ca.crt': 'x' },
      } as unknown as K8sObject;
      const storageClass = readYaml(join(ROOT, 'k8s', 'overlays', 'aws', 'storageclass.yaml')) as K8sObject;
      const answers = await dryRunAll([namespace, tlsSecret, storageClass]);
      expect(answers.map((answer) => answer.what)).toEqual(['Secret/vault-tls', 'StorageClass/gp3']);
      for (const answer of answers) expect([200, 201], `${answer.what}: ${answer.message}`).toContain(answer.status);
    });

    it('the day-2 operator Role and RoleBinding of k8s/README.md are admitted in the namespace', async () => {
      const block = documentedBlock("# Operators of the vault namespace: exec into the OpenBao pods' sidecars.");
      const objects = JSON.parse(
        execFileSync(
          PYTHON,
          ['-c', 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'],
          { input: block, encoding: 'utf8' },
        ),
      ) as K8sObject[];
      expect(objects.map((object) => object.kind)).toEqual(['Role', 'RoleBinding']);
      const namespace = readYaml(join(ROOT, 'k8s', 'base', 'namespace.yaml')) as K8sObject;
      const answers = await dryRunAll([namespace, ...objects]);
      for (const answer of answers) expect([200, 201], `${answer.what}: ${answer.message}`).toContain(answer.status);
      expect(answers).toHaveLength(2);
    });

    it.each(Object.keys(INVALID_OVERLAYS) as Array<keyof typeof INVALID_OVERLAYS>)(
      'the invalid overlay test/fixtures/k8s/%s is rejected',
      async (fixture) => {
        const { objects } = render(join(ROOT, 'test', 'fixtures', 'k8s', fixture));
        const refused = (await dryRunAll(objects)).filter((answer) => answer.status >= 400);
        expect(refused.length, 'at least one object refused').toBeGreaterThan(0);
        expect(refused.map((answer) => `${answer.what}: ${answer.message}`).join('\n')).toMatch(
          INVALID_OVERLAYS[fixture],
        );
      },
    );
  },
);
