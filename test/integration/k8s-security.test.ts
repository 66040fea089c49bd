import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_SKIPS, CHECKOV, NEVER_SKIPPED, scan, type Scan } from '../helpers/checkov.js';

/**
 * The security gate over what ships to Kubernetes: checkov (pinned, scripts/install-tools.sh)
 * over the render of every overlay, failing on any
 * finding that is not skipped in the manifest itself with its reason. The skips allowed are
 * listed here, so a new one is a deliberate change; the NetworkPolicy, service-account token
 * and digest checks are never among them. Every image reference, in the renders and in the
 * Helm values, is pinned by digest.
 *
 * The official Helm charts' renders with the values of k8s/helm go through the same gate in
 * helm.test.ts (test/helpers/checkov.ts holds the scan and the allowed skips for both); the
 * values themselves are also checked here by reading them.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const KUSTOMIZE = join(TOOLS, 'bin', 'kustomize');
const PYTHON = join(TOOLS, 'checkov-venv', 'bin', 'python');
const OVERLAYS = readdirSync(join(ROOT, 'k8s', 'overlays')).sort();
const HELM = join(ROOT, 'k8s', 'helm');

const DIGEST = /@sha256:[0-9a-f]{64}$/;
/**
 * overlays/local runs the images scripts/local-cluster.sh builds and imports into the node's
 * containerd: tagged localhost/…, never pulled (imagePullPolicy: Never), their digest known only
 * after each build. Only there, and only these two image checks, are expected to fail.
 */
const LOCAL_OVERLAY = 'local';
const LOCAL_IMAGE_CHECKS = ['CKV_K8S_43', 'CKV_K8S_15'];
const expectedLocalFinding = (finding: Scan['failed'][number]) =>
  finding.file_path.replace(/^\//, '') === `${LOCAL_OVERLAY}.yaml` && LOCAL_IMAGE_CHECKS.includes(finding.check_id);

function missingTools(): string | undefined {
  const missing = [KUSTOMIZE, CHECKOV].filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  const errors = ['k8s-tools-error', 'checkov-error']
    .map((name) => join(TOOLS, name))
    .filter(existsSync)
    .map((file) => readFileSync(file, 'utf8').trim());
  return `missing ${missing.map((path) => path.slice(ROOT.length)).join(', ')}: ${errors.join('; ') || 'run npm run tools'}`;
}
const skipReason = missingTools();
if (skipReason) console.warn(`k8s-security: skipped: ${skipReason}`);

function yamlDocuments(text: string): any[] {
  return JSON.parse(
    execFileSync(
      PYTHON,
      ['-c', 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'],
      { input: text, encoding: 'utf8' },
    ),
  );
}

const workDirectory = mkdtempSync(join(tmpdir(), 'vb-k8s-security-'));
const renders = join(workDirectory, 'renders');
let report: Scan;

beforeAll(async () => {
  if (skipReason) return;
  mkdirSync(renders);
  for (const overlay of OVERLAYS)
    writeFileSync(
      join(renders, `${overlay}.yaml`),
      execFileSync(KUSTOMIZE, ['build', join(ROOT, 'k8s', 'overlays', overlay)], { encoding: 'utf8' }),
    );
  report = await scan(renders);
}, 300_000);

afterAll(() => rmSync(workDirectory, { recursive: true, force: true }));

describe.skipIf(skipReason !== undefined)('the security scan (checkov) of every render', () => {
  it('scans every overlay', () => {
    const scanned = new Set(
      [...report.passed, ...report.skipped, ...report.failed].map((finding) => finding.file_path.replace(/^\//, '')),
    );
    expect([...scanned].sort()).toEqual(readdirSync(renders).sort());
    expect(report.passed.length).toBeGreaterThan(100);
  });

  it('finds nothing that is not skipped in the manifest with its reason', () => {
    const findings = report.failed
      .filter((finding) => !expectedLocalFinding(finding))
      .map((finding) => `${finding.check_id} ${finding.resource} (${finding.file_path})`);
    expect(findings).toEqual([]);
  });

  it('skips only the checks that do not apply to a Vault server, each with a reason, never the NetworkPolicy, token or digest checks', () => {
    for (const finding of report.skipped) {
      const where = `${finding.check_id} ${finding.resource} (${finding.file_path})`;
      expect(NEVER_SKIPPED, where).not.toContain(finding.check_id);
      expect(Object.keys(ALLOWED_SKIPS), where).toContain(finding.check_id);
      expect(finding.check_result.suppress_comment?.length ?? 0, `${where}: a reason`).toBeGreaterThan(40);
    }
    for (const id of NEVER_SKIPPED) {
      expect(
        report.passed.some((finding) => finding.check_id === id),
        `${id} ran and passed`,
      ).toBe(true);
    }
  });

  it('fails a manifest without NetworkPolicy, with a mounted token and an image by tag (the gate can fail)', async () => {
    const bad = join(workDirectory, 'bad');
    mkdirSync(bad);
    writeFileSync(
      join(bad, 'pod.yaml'),
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: unpinned, namespace: vault}',
        'spec:',
        '  containers:',
        '    - name: server',
        '      image: quay.io/openbao/openbao:2.7.2',
        '',
      ].join('\n'),
    );
    const failed = new Set((await scan(bad)).failed.map((finding) => finding.check_id));
    for (const id of ['CKV2_K8S_6', 'CKV_K8S_38', 'CKV_K8S_43']) expect(failed, id).toContain(id);
  });
});

describe.skipIf(skipReason !== undefined)('images by digest', () => {
  it('every container image of every overlay is pinned by digest', () => {
    for (const overlay of OVERLAYS) {
      const objects = yamlDocuments(readFileSync(join(renders, `${overlay}.yaml`), 'utf8'));
      const images = objects
        .filter((object) => object.kind === 'StatefulSet' || object.kind === 'Job')
        .flatMap((object) =>
          [...object.spec.template.spec.containers, ...(object.spec.template.spec.initContainers ?? [])].map(
            (container: { image: string }) => container.image,
          ),
        );
      expect(images.length, overlay).toBeGreaterThan(0);
      if (overlay === LOCAL_OVERLAY) {
        const containers = objects
          .filter((object) => object.kind === 'StatefulSet')
          .flatMap((object) => object.spec.template.spec.containers);
        for (const container of containers)
          expect([container.image, container.imagePullPolicy], overlay).toEqual([
            expect.stringMatching(/^localhost\//),
            'Never',
          ]);
        continue;
      }
      for (const image of images) expect(image, `${overlay}: ${image}`).toMatch(DIGEST);
    }
  });

  it('every image of every Helm values file (server and sidecar) is pinned by digest', () => {
    const files = readdirSync(HELM).filter((name) => name.endsWith('-values.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const [values] = yamlDocuments(readFileSync(join(HELM, file), 'utf8'));
      if (values.server.image?.tag !== undefined)
        expect(values.server.image.tag, `${file}: server.image.tag`).toMatch(DIGEST);
      for (const container of values.server.extraContainers ?? [])
        expect(container.image, `${file}: ${container.name}`).toMatch(DIGEST);
    }
  });
});

describe.skipIf(skipReason !== undefined)('identity, network and audit in every overlay', () => {
  const objectsOf = (overlay: string) => yamlDocuments(readFileSync(join(renders, `${overlay}.yaml`), 'utf8'));
  const pods = (objects: any[]) =>
    objects
      .filter((object) => object.kind === 'StatefulSet' || object.kind === 'Job')
      .map((object) => ({
        owner: `${object.kind}/${object.metadata.name}`,
        spec: object.spec.template.spec,
        labels: object.spec.template.metadata.labels,
      }));

  it.each(OVERLAYS)(
    '%s: no API token unless the container needs one; the Role names its pods; a NetworkPolicy selects every pod',
    (overlay) => {
      const objects = objectsOf(overlay);
      for (const account of objects.filter((object) => object.kind === 'ServiceAccount'))
        expect(account.automountServiceAccountToken, account.metadata.name).toBe(false);
      for (const { owner, spec, labels } of pods(objects)) {
        expect(spec.automountServiceAccountToken, owner).toBe(false);
        for (const container of spec.containers) {
          const tokenMount = (container.volumeMounts ?? []).find(
            (mount: any) => mount.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
          );
          // The OpenBao server registers itself with the API (service_registration "kubernetes"); the
          // sidecar posts Events on its pod. The Job's container never calls the API.
          expect(tokenMount !== undefined, `${owner} ${container.name}`).toBe(
            container.name === 'openbao' || (owner.startsWith('StatefulSet/') && container.name === 'vault-bootstrap'),
          );
        }
        const policies = objects.filter(
          (object) =>
            object.kind === 'NetworkPolicy' &&
            Object.entries(object.spec.podSelector.matchLabels ?? {}).every(([key, value]) => labels[key] === value),
        );
        expect(
          policies.some(
            (policy) =>
              Object.keys(policy.spec.podSelector).length > 0 &&
              policy.spec.policyTypes.includes('Ingress') &&
              policy.spec.policyTypes.includes('Egress'),
          ),
          owner,
        ).toBe(true);
      }
      for (const role of objects.filter((object) => object.kind === 'Role')) {
        for (const rule of role.rules) {
          // Events (the sidecar's): generated names, so no resourceNames, and only create and patch.
          if (rule.resources.includes('events'))
            expect({ ...rule, verbs: [...rule.verbs].sort() }, role.metadata.name).toEqual({
              apiGroups: [''],
              resources: ['events'],
              verbs: ['create', 'patch'],
            });
          else expect(rule.resourceNames?.length ?? 0, `${role.metadata.name}: resourceNames`).toBeGreaterThan(0);
        }
      }
      const server = objects.find((object) => object.kind === 'NetworkPolicy' && object.metadata.name === 'openbao');
      const ingressPorts = (port: number) =>
        server.spec.ingress.filter((rule: any) => rule.ports.some((entry: any) => entry.port === port));
      expect(
        ingressPorts(8201).every((rule: any) =>
          rule.from.every((peer: any) => peer.podSelector && !peer.namespaceSelector),
        ),
        '8201 from the servers only',
      ).toBe(true);
      expect(
        ingressPorts(8099).every((rule: any) => rule.from.every((peer: any) => peer.namespaceSelector?.matchLabels)),
        '8099 from monitoring only',
      ).toBe(true);
    },
  );

  it.each(OVERLAYS)(
    '%s: the OpenBao config has an audit device to stdout; the root token is revoked once configured',
    (overlay) => {
      const objects = objectsOf(overlay);
      const serverConfig = objects.find(
        (object) => object.kind === 'ConfigMap' && object.metadata.name.startsWith('openbao-config'),
      );
      expect(Object.values(serverConfig.data)[0]).toMatch(
        /audit "file" "[^"]+" \{[^}]*options \{\s*file_path\s*=\s*"stdout"/,
      );
      const settings = objects.find(
        (object) =>
          object.kind === 'ConfigMap' && object.metadata.name.startsWith('vault-bootstrap-') && object.data?.VB_STORE,
      );
      expect(settings.data.VB_ROOT_TOKEN).toBe('revoke');
    },
  );

  it.each(OVERLAYS)(
    "%s: the admission policy keeps the server's account to pod metadata; metadata egress only on GCP, as two exact rules, and only to the pods that ask it (not the Job layout's server pods); on EKS the server container gets no IAM role",
    (overlay) => {
      const objects = objectsOf(overlay);
      const policy = objects.find(
        (object) => object.kind === 'ValidatingAdmissionPolicy' && object.metadata.name === 'openbao-pod-metadata-only',
      );
      expect(policy?.metadata.namespace, 'cluster-scoped').toBeUndefined();
      expect(policy.spec.failurePolicy).toBe('Fail');
      expect(policy.spec.matchConstraints.resourceRules).toEqual([
        { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods', 'pods/*'] },
      ]);
      expect(policy.spec.matchConditions[0].expression).toContain("':openbao'");
      expect(policy.spec.validations.map((validation: any) => validation.expression)).toEqual([
        'object.spec == oldObject.spec',
      ]);
      const binding = objects.find((object) => object.kind === 'ValidatingAdmissionPolicyBinding');
      expect(binding.spec).toEqual({ policyName: 'openbao-pod-metadata-only', validationActions: ['Deny'] });

      const gcp = objects.some((object) => object.kind === 'ConfigMap' && object.data?.VB_STORE === 'gcp');
      const gcpckmsSeal = objects.some(
        (object) =>
          object.kind === 'ConfigMap' &&
          Object.values(object.data ?? {}).some((file) => /seal "gcpckms"/.test(String(file))),
      );
      const sidecar = objects
        .find((object) => object.kind === 'StatefulSet')
        .spec.template.spec.containers.some((container: any) => container.name === 'vault-bootstrap');
      // Who in the server pods asks the metadata server: the sidecar (Workload Identity for the
      // store), the gcpckms seal. In the Job layout without that seal, nothing: no rule.
      const serverNeedsMetadata = gcp && (sidecar || gcpckmsSeal);
      for (const networkPolicy of objects.filter(
        (object) => object.kind === 'NetworkPolicy' && object.metadata.name !== 'default-deny',
      )) {
        const metadataRules = (networkPolicy.spec.egress ?? []).filter((rule: any) =>
          (rule.to ?? []).some((peer: any) => String(peer.ipBlock?.cidr ?? '').startsWith('169.254.')),
        );
        const what = `${overlay}: NetworkPolicy ${networkPolicy.metadata.name}`;
        // Every other egress rule names no metadata address and never opens port 80 or 988.
        for (const rule of (networkPolicy.spec.egress ?? []).filter(
          (candidate: any) => !metadataRules.includes(candidate),
        )) {
          expect(
            (rule.ports ?? []).map((port: any) => port.port),
            what,
          ).not.toEqual(expect.arrayContaining([80]));
        }
        const needsMetadata = networkPolicy.metadata.name === 'openbao' ? serverNeedsMetadata : gcp;
        if (!needsMetadata) {
          expect(metadataRules, what).toEqual([]);
          continue;
        }
        expect(
          metadataRules.map((rule: any) => ({ to: rule.to.map((peer: any) => peer.ipBlock), ports: rule.ports })),
          what,
        ).toEqual([
          { to: [{ cidr: '169.254.169.254/32' }], ports: [{ protocol: 'TCP', port: 80 }] },
          { to: [{ cidr: '169.254.169.252/32' }], ports: [{ protocol: 'TCP', port: 988 }] },
        ]);
      }

      const statefulSet = objects.find((object) => object.kind === 'StatefulSet');
      const skipped = statefulSet.spec.template.metadata.annotations?.['eks.amazonaws.com/skip-containers'];
      const irsa = objects.some(
        (object) =>
          object.kind === 'ServiceAccount' &&
          object.metadata.name === statefulSet.spec.template.spec.serviceAccountName &&
          object.metadata.annotations?.['eks.amazonaws.com/role-arn'],
      );
      const awskmsSeal = objects.some(
        (object) =>
          object.kind === 'ConfigMap' &&
          Object.values(object.data ?? {}).some((file) => /seal "awskms"/.test(String(file))),
      );
      // The server container gets the role only where its own seal needs it (aws-kms); where the
      // pods' account has no role (aws-job) the annotation changes nothing.
      if (awskmsSeal) expect(skipped, overlay).toBeUndefined();
      else if (irsa) expect(skipped, overlay).toBe('openbao');
    },
  );

  it('the Job layout: the Job has its own service account with the cloud identity; the OpenBao pods have none', () => {
    for (const overlay of OVERLAYS) {
      const objects = objectsOf(overlay);
      const job = objects.find((object) => object.kind === 'Job');
      if (job === undefined) continue;
      const accounts = new Map(
        objects
          .filter((object) => object.kind === 'ServiceAccount')
          .map((object) => [object.metadata.name, object.metadata.annotations ?? {}]),
      );
      const statefulSet = objects.find((object) => object.kind === 'StatefulSet');
      expect(job.spec.template.spec.serviceAccountName, overlay).not.toBe(
        statefulSet.spec.template.spec.serviceAccountName,
      );
      const cloudIdentity = (annotations: Record<string, string>) =>
        Object.keys(annotations).filter(
          (key) => key === 'iam.gke.io/gcp-service-account' || key === 'eks.amazonaws.com/role-arn',
        );
      expect(cloudIdentity(accounts.get(job.spec.template.spec.serviceAccountName)!), overlay).toHaveLength(1);
      expect(cloudIdentity(accounts.get(statefulSet.spec.template.spec.serviceAccountName)!), overlay).toEqual([]);
    }
  });
});

describe.skipIf(skipReason !== undefined)(
  'components/egress-cidrs: HTTPS to named ranges instead of any address',
  () => {
    // Every overlay with the component: the HTTPS rules name address ranges (the example ones of
    // the component), and nothing else of the NetworkPolicies changes.
    it.each(OVERLAYS)('%s', (overlay) => {
      const directory = join(workDirectory, 'egress-cidrs', overlay);
      mkdirSync(directory, { recursive: true });
      const k8s = relative(directory, join(ROOT, 'k8s'));
      writeFileSync(
        join(directory, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          `resources: [${k8s}/overlays/${overlay}]`,
          `components: [${k8s}/components/egress-cidrs]`,
          '',
        ].join('\n'),
      );
      const networkPolicies = (objects: any[]) =>
        objects.filter((object) => object.kind === 'NetworkPolicy' && object.metadata.name !== 'default-deny');
      const narrowed = networkPolicies(
        yamlDocuments(execFileSync(KUSTOMIZE, ['build', directory], { encoding: 'utf8' })),
      );
      const before = networkPolicies(yamlDocuments(readFileSync(join(renders, `${overlay}.yaml`), 'utf8')));
      expect(narrowed.map((policy) => policy.metadata.name)).toEqual(before.map((policy) => policy.metadata.name));
      for (const [index, policy] of narrowed.entries()) {
        const https = policy.spec.egress.filter((rule: any) =>
          (rule.ports ?? []).some((port: any) => port.port === 443 || port.port === 6443),
        );
        expect(https, policy.metadata.name).toHaveLength(1);
        expect(https[0].to?.length, policy.metadata.name).toBeGreaterThan(0);
        for (const peer of https[0].to) expect(Object.keys(peer), policy.metadata.name).toEqual(['ipBlock']);
        // Only the HTTPS rule gained a `to`; every other rule, and ingress, are the overlay's own.
        const { to: _ranges, ...rest } = https[0];
        const withoutRanges = policy.spec.egress.map((rule: any) => (rule === https[0] ? rest : rule));
        expect({ ...policy.spec, egress: withoutRanges }, policy.metadata.name).toEqual(before[index].spec);
      }
    });
  },
);

describe.skipIf(skipReason !== undefined)('the Helm values (k8s/helm)', () => {
  it.each(['vault', 'openbao'])(
    '%s: no auth-delegator binding, server resources, read-only root filesystem, root token revoked, audit on',
    (chart) => {
      const [values] = yamlDocuments(readFileSync(join(HELM, `${chart}-values.yaml`), 'utf8'));
      const { server } = values;
      expect(server.authDelegator.enabled).toBe(false);
      expect(server.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(server.resources.limits.memory).toEqual(expect.any(String));
      expect(server.statefulSet.securityContext.container.readOnlyRootFilesystem).toBe(true);
      expect(server.volumeMounts.map((mount: any) => mount.mountPath)).toContain('/tmp');
      const sidecar = server.extraContainers.find((container: any) => container.name === 'vault-bootstrap');
      expect(sidecar.env.find((variable: any) => variable.name === 'VB_ROOT_TOKEN')?.value).toBe('revoke');
      // OpenBao: the audit stanza in its config; Vault: the sidecar's --audit-file default (stdout), not turned off.
      if (chart === 'openbao')
        expect(server.ha.raft.config).toMatch(/audit "file" "[^"]+" \{[^}]*options \{\s*file_path\s*=\s*"stdout"/);
      else expect(sidecar.env.find((variable: any) => variable.name === 'VB_AUDIT_FILE')).toBeUndefined();
      const policies = yamlDocuments(readFileSync(join(HELM, `${chart}-networkpolicy.yaml`), 'utf8'));
      expect(policies.map((policy) => policy.metadata.name)).toEqual(['default-deny', `${chart}-server`]);
    },
  );
});
