import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeApiServer } from './kube-apiserver.js';

/** The sidecar's policy (the management token's), as the package ships it and the self-init overlay mounts it. */
export const SIDECAR_POLICY_FILE = new URL('../policies/vault-bootstrap.hcl', import.meta.url).pathname;

/** The sidecar's policy, declared first by every variant of the stanzas. */
function policyRequest(policyFile: string): string {
  return `
  request "sidecar-policy" {
    operation = "update"
    path = "sys/policies/acl/vault-bootstrap"
    data = {
      policy = { eval_type = "string", eval_source = "file", path = "${policyFile}" }
    }
  }`;
}

/**
 * AppRole for the sidecar as the self-init overlay declares it: role ID `vault-bootstrap`, the
 * secret ID read from a file both containers mount, usable and its tokens valid from loopback
 * only (the sidecar shares the pod's network namespace with the server).
 */
export function appRoleStanzas(policyFile: string, secretIdFile: string): string {
  return `
initialize "vault-bootstrap" {${policyRequest(policyFile)}
  request "enable-approle" {
    operation = "update"
    path = "sys/auth/approle"
    data = { type = "approle" }
  }
  request "sidecar-role" {
    operation = "update"
    path = "auth/approle/role/vault-bootstrap"
    data = {
      token_policies = ["vault-bootstrap"]
      token_ttl = "1h"
      token_max_ttl = "1h"
      secret_id_bound_cidrs = ["127.0.0.1/32"]
      token_bound_cidrs = ["127.0.0.1/32"]
    }
  }
  request "sidecar-role-id" {
    operation = "update"
    path = "auth/approle/role/vault-bootstrap/role-id"
    data = { role_id = "vault-bootstrap" }
  }
  request "sidecar-secret-id" {
    operation = "update"
    path = "auth/approle/role/vault-bootstrap/custom-secret-id"
    data = {
      secret_id = { eval_type = "string", eval_source = "file", path = "${secretIdFile}" }
    }
  }
}
`;
}

/**
 * OpenBao `initialize` stanzas as the self-init overlay declares them (k8s/overlays/self-init/
 * self-init.hcl), but for a server outside the cluster: the API server's address, CA and the
 * reviewer token come from the environment (in a pod, Kubernetes auth reads the local service
 * account's).
 */
export function kubernetesStanzas(policyFile: string): string {
  const env = (name: string) =>
    `{ eval_type = "string", eval_source = "env", env_var = "${name}", require_present = true }`;
  return `
initialize "vault-bootstrap" {${policyRequest(policyFile)}
  request "enable-kubernetes-auth" {
    operation = "update"
    path = "sys/auth/vault-bootstrap"
    data = { type = "kubernetes" }
  }
  request "kubernetes-auth-config" {
    operation = "update"
    path = "auth/vault-bootstrap/config"
    data = {
      kubernetes_host = ${env('TEST_KUBERNETES_HOST')}
      kubernetes_ca_cert = ${env('TEST_KUBERNETES_CA')}
      token_reviewer_jwt = ${env('TEST_TOKEN_REVIEWER_JWT')}
    }
  }
  request "sidecar-role" {
    operation = "update"
    path = "auth/vault-bootstrap/role/vault-bootstrap"
    data = {
      bound_service_account_names = ["openbao"]
      bound_service_account_namespaces = ["vault"]
      audience = "vault-bootstrap"
      token_policies = ["vault-bootstrap"]
      token_ttl = "1h"
      token_bound_cidrs = ["127.0.0.1/32"]
    }
  }
}
`;
}

/**
 * As the self-init overlay sets it up: namespace `vault`, the pod's service account `openbao`
 * bound to system:auth-delegator (OpenBao calls TokenReview with it). Returns two TokenRequest
 * tokens of it, as the kubelet projects them: the sidecar's, for the audience `vault-bootstrap`
 * (the role accepts no other), and the server's own, for the API server (the reviewer).
 */
export async function serviceAccounts(kube: KubeApiServer): Promise<{ sidecarToken: string; reviewerToken: string }> {
  const ok = (answer: { status: number; body: unknown }, what: string) => {
    if (answer.status >= 300 && answer.status !== 409)
      throw new Error(`${what}: HTTP ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body as any;
  };
  ok(
    await kube.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'vault' },
    }),
    'namespace',
  );
  ok(
    await kube.request('POST', '/api/v1/namespaces/vault/serviceaccounts', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'openbao' },
    }),
    'service account openbao',
  );
  ok(
    await kube.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'openbao-token-review' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: 'openbao', namespace: 'vault' }],
    }),
    'cluster role binding',
  );
  const token = async (audiences: string[] | undefined) =>
    ok(
      await kube.request('POST', '/api/v1/namespaces/vault/serviceaccounts/openbao/token', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600, ...(audiences ? { audiences } : {}) },
      }),
      'token request',
    ).status.token as string;
  return { sidecarToken: await token(['vault-bootstrap']), reviewerToken: await token(undefined) };
}

/** Writes a login secret where the sidecar reads it (as the kubelet projects a token or mounts a Secret). */
export async function writeSecretFile(directory: string, name: string, value: string): Promise<string> {
  const path = join(directory, name);
  await writeFile(path, value, { mode: 0o600 });
  return path;
}
