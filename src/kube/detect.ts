// Whether this process runs in a Kubernetes pod that may post Events, decided from the
// environment and the mounted service-account files alone. Tiny on purpose: cli.ts imports it
// always, and the Events client (./events.js) only when this says yes, so a process outside
// Kubernetes loads and pays nothing for it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SERVICE_ACCOUNT_DIRECTORY = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface PodIdentity {
  /** https://host:port of the API server (KUBERNETES_SERVICE_HOST/PORT, which the kubelet sets). */
  apiServer: string;
  namespace: string;
  podName: string;
  /** metadata.uid (POD_UID, from the downward API): `kubectl describe pod` matches Events on it. */
  podUid?: string;
  /** Holds token (re-read before each request: the kubelet rotates it), ca.crt and namespace. */
  serviceAccountDirectory: string;
}

/**
 * The pod's identity for Events, or undefined: off the cluster, without a mounted token, or with
 * VB_KUBE_EVENTS=false. POD_NAME names the pod; the namespace is POD_NAMESPACE or the mounted one.
 */
export function podIdentity(
  env: NodeJS.ProcessEnv = process.env,
  directory = SERVICE_ACCOUNT_DIRECTORY,
  exists: (path: string) => boolean = existsSync,
  read: (path: string) => string = readText,
): PodIdentity | undefined {
  if (env.VB_KUBE_EVENTS === 'false') return undefined;
  const host = env.KUBERNETES_SERVICE_HOST;
  const podName = env.POD_NAME;
  if (!host || !podName || !exists(join(directory, 'token')) || !exists(join(directory, 'ca.crt'))) return undefined;
  let namespace = env.POD_NAMESPACE;
  if (!namespace) {
    try {
      namespace = read(join(directory, 'namespace')).trim();
    } catch {
      return undefined;
    }
  }
  if (!namespace) return undefined;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const apiServer = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { apiServer, namespace, podName, podUid: env.POD_UID || undefined, serviceAccountDirectory: directory };
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
