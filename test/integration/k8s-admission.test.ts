// k8s/admission on a real kube-apiserver: the server's service account, with the Role the base
// gives it (k8s/base/rbac.yaml), may label its pod but not change its spec (issue 25, finding 1).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiServer, missingKubeApiServer, type KubeAnswer } from '../../harness/kube-apiserver.js';
import { until } from '../../harness/poll.js';

const ADMISSION = fileURLToPath(new URL('../../k8s/admission/openbao-pod-metadata-only.yaml', import.meta.url));
const RBAC = fileURLToPath(new URL('../../k8s/base/rbac.yaml', import.meta.url));
const NAMESPACE = 'vault';
const POD = `/api/v1/namespaces/${NAMESPACE}/pods/openbao-0`;
const STRATEGIC = 'application/strategic-merge-patch+json';

/** The YAML documents of a manifest file, each with the kind and name read from its text. */
function documents(file: string): Array<{ kind: string; name: string; yaml: string }> {
  return readFileSync(file, 'utf8')
    .split(/^---$/m)
    .map((yaml) => ({
      yaml,
      kind: /^kind: (\S+)$/m.exec(yaml)?.[1] ?? '',
      name: /^ {2}name: (\S+)$/m.exec(yaml)?.[1] ?? '',
    }))
    .filter((document) => document.kind !== '');
}

const COLLECTIONS: Record<string, string> = {
  ValidatingAdmissionPolicy: '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
  ValidatingAdmissionPolicyBinding: '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings',
  Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles`,
  RoleBinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`,
};

/** Who the request is made as: the OpenBao pods' service account, as the API server authenticates its token. */
const AS_SERVER = {
  'Impersonate-User': `system:serviceaccount:${NAMESPACE}:openbao`,
  'Impersonate-Group': ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
};

const missing = missingKubeApiServer();
if (missing) console.warn(`k8s-admission: skipped: ${missing}`);

describe.skipIf(missing !== undefined)(
  "k8s/admission: the server's service account changes its pods' metadata only (real kube-apiserver)",
  () => {
    let api: KubeApiServer;

    const ok = (answer: KubeAnswer, what: string) =>
      expect([200, 201], `${what}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
    const apply = async (file: string) => {
      for (const { kind, name, yaml } of documents(file)) {
        const collection = COLLECTIONS[kind];
        expect(collection, `${file}: ${kind} known to the test`).toBeDefined();
        ok(
          await api.request(
            'PATCH',
            `${collection}/${name}?fieldManager=vault-bootstrap-test&fieldValidation=Strict`,
            yaml,
            'application/apply-patch+yaml',
          ),
          `${kind}/${name}`,
        );
      }
    };
    const imagePatch = (image: string) => ({ spec: { containers: [{ name: 'openbao', image }] } });
    const asAccount = (name: string) => ({
      ...AS_SERVER,
      'Impersonate-User': `system:serviceaccount:${NAMESPACE}:${name}`,
    });
    const create = async (collection: string, object: object, what: string) =>
      ok(await api.request('POST', `/api/v1/namespaces/${NAMESPACE}/${collection}`, object), what);
    /** A pod running as `account`, and a Role letting `editor` update and patch it (what base/rbac.yaml gives the server). */
    const podEditableBy = async (pod: string, account: string, editor: string) => {
      for (const name of new Set([account, editor]))
        if ((await api.request('GET', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${name}`)).status === 404)
          await create('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } }, name);
      await create(
        'pods',
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: pod },
          spec: {
            serviceAccountName: account,
            automountServiceAccountToken: false,
            containers: [{ name: 'openbao', image: 'quay.io/openbao/openbao:2.7.2' }],
          },
        },
        `pod ${pod}`,
      );
      ok(
        await api.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles`, {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: `edit-${pod}` },
          rules: [{ apiGroups: [''], resources: ['pods'], resourceNames: [pod], verbs: ['get', 'update', 'patch'] }],
        }),
        `role for ${pod}`,
      );
      ok(
        await api.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`, {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: `edit-${pod}` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `edit-${pod}` },
          subjects: [{ kind: 'ServiceAccount', name: editor, namespace: NAMESPACE }],
        }),
        `role binding for ${pod}`,
      );
    };
    const patchImageAs = async (pod: string, account: string) =>
      (
        await api.request(
          'PATCH',
          `/api/v1/namespaces/${NAMESPACE}/pods/${pod}?dryRun=All`,
          imagePatch('attacker.example/openbao:evil'),
          STRATEGIC,
          asAccount(account),
        )
      ).status;

    beforeAll(async () => {
      api = await KubeApiServer.start();
      ok(
        await api.request('POST', '/api/v1/namespaces', {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: NAMESPACE },
        }),
        'namespace',
      );
      ok(
        await api.request('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: 'openbao' },
        }),
        'service account',
      );
      await apply(RBAC);
      ok(
        await api.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'openbao-0', labels: { 'app.kubernetes.io/name': 'openbao' } },
          spec: {
            serviceAccountName: 'openbao',
            automountServiceAccountToken: false,
            containers: [{ name: 'openbao', image: 'quay.io/openbao/openbao:2.7.2' }],
          },
        }),
        'pod openbao-0',
      );
    }, 180_000);

    afterAll(async () => {
      await api?.stop();
    });

    it("without the policy the Role lets the server's token swap the image (the hole); with it, the image patch is refused, a label patch is admitted, and others are unaffected", async () => {
      // RBAC alone: update/patch on its own pod, so a new image is admitted (dry run: nothing stored).
      ok(
        await api.request(
          'PATCH',
          `${POD}?dryRun=All`,
          imagePatch('attacker.example/openbao:evil'),
          STRATEGIC,
          AS_SERVER,
        ),
        'image patch before the policy',
      );

      await apply(ADMISSION);
      // The policy takes effect once the API server has compiled it: poll for the refusal.
      const refused = await until(
        'the admission policy in force',
        async () => {
          const answer = await api.request(
            'PATCH',
            `${POD}?dryRun=All`,
            imagePatch('attacker.example/openbao:evil'),
            STRATEGIC,
            AS_SERVER,
          );
          return answer.status === 403 ? answer : undefined;
        },
        60_000,
        250,
      );
      expect(String(refused.body.message)).toMatch(
        /ValidatingAdmissionPolicy 'openbao-pod-metadata-only'.*only its pods' metadata/,
      );

      // For real now: the label that service registration sets is admitted and stored.
      ok(
        await api.request('PATCH', POD, { metadata: { labels: { 'openbao-active': 'true' } } }, STRATEGIC, AS_SERVER),
        'label patch',
      );
      // A spec change of any kind is refused: the image, a toleration, a JSON patch, a full update.
      expect(
        (await api.request('PATCH', POD, imagePatch('attacker.example/openbao:evil'), STRATEGIC, AS_SERVER)).status,
      ).toBe(403);
      expect(
        (
          await api.request(
            'PATCH',
            POD,
            { spec: { tolerations: [{ key: 'x', operator: 'Exists', effect: 'NoSchedule' }] } },
            STRATEGIC,
            AS_SERVER,
          )
        ).status,
      ).toBe(403);
      expect(
        (
          await api.request(
            'PATCH',
            POD,
            [{ op: 'replace', path: '/spec/containers/0/image', value: 'attacker.example/openbao:evil' }],
            'application/json-patch+json',
            AS_SERVER,
          )
        ).status,
      ).toBe(403);
      const current = (await api.request('GET', POD)).body;
      const replaced = {
        ...current,
        spec: {
          ...current.spec,
          containers: [{ ...current.spec.containers[0], image: 'attacker.example/openbao:evil' }],
        },
      };
      expect((await api.request('PUT', POD, replaced, 'application/json', AS_SERVER)).status).toBe(403);
      const stored = (await api.request('GET', POD)).body;
      expect(stored.spec.containers[0].image).toBe('quay.io/openbao/openbao:2.7.2');
      expect(stored.metadata.labels['openbao-active']).toBe('true');

      // The policy binds the server's account only: an administrator still changes the spec.
      ok(
        await api.request('PATCH', `${POD}?dryRun=All`, imagePatch('quay.io/openbao/openbao:2.7.3'), STRATEGIC),
        'image patch by an administrator',
      );
    });

    it("follows the names in use: a renamed server account (a namePrefix, a chart's serviceAccount.name) is held to its pod's metadata too; the Vault chart's account to any pod; an account changing a pod it does not run as is unaffected", async () => {
      await apply(ADMISSION);
      // As kustomize's namePrefix renames the base (ServiceAccount, serviceAccountName, Role): no edit of the policy.
      await podEditableBy('prod-openbao-0', 'prod-openbao', 'prod-openbao');
      // The Vault chart's account, on a pod it does not run as (a chart discovery Role left on).
      await podEditableBy('vault-1', 'default', 'vault');
      // A controller of some other workload, changing a pod that runs as another account.
      await podEditableBy('worker-0', 'default', 'controller');
      await until(
        'the admission policy in force',
        async () => ((await patchImageAs('prod-openbao-0', 'prod-openbao')) === 403 ? true : undefined),
        60_000,
        250,
      );
      expect(await patchImageAs('vault-1', 'vault')).toBe(403);
      expect(await patchImageAs('worker-0', 'controller')).toBe(200);
      // The renamed account still labels its own pod (service registration).
      ok(
        await api.request(
          'PATCH',
          `/api/v1/namespaces/${NAMESPACE}/pods/prod-openbao-0`,
          { metadata: { labels: { 'openbao-active': 'true' } } },
          STRATEGIC,
          asAccount('prod-openbao'),
        ),
        'label patch by the renamed account',
      );
    });
  },
);
