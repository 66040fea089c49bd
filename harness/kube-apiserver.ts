import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startChildServer, type ChildServer } from './child-server.js';

const TOOLS = fileURLToPath(new URL('../.tools', import.meta.url));
const KUBE_APISERVER = join(TOOLS, 'kube-apiserver');
const ETCD = join(TOOLS, 'etcd');

/** Why the API server cannot run here (install-tools wrote the build error), or undefined. */
export function missingKubeApiServer(): string | undefined {
  const missing = [KUBE_APISERVER, ETCD].filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  const errorFile = join(TOOLS, 'kube-error');
  const error = existsSync(errorFile) ? readFileSync(errorFile, 'utf8').trim() : 'run npm run tools';
  return `missing ${missing.join(', ')}: ${error}`;
}

/** A Kubernetes object as the manifest tests handle it (rendered, parsed). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  [field: string]: unknown;
}

/** What the API server answered to one object of a dry-run. */
export interface DryRunAnswer {
  what: string;
  status: number;
  message: string;
  warnings: string[];
}

/**
 * The Pod a workload would create, as its controller makes it (a StatefulSet's claims become
 * PVC volumes). Pod Security admission enforces on Pods only; on workloads it only warns.
 */
export function podsOf(objects: KubeObject[]): KubeObject[] {
  return objects
    .filter((object) => object.kind === 'StatefulSet' || object.kind === 'Job')
    .map((object) => {
      const template = object.spec.template;
      const claims = (object.spec.volumeClaimTemplates ?? []).map((claim: any) => ({
        name: claim.metadata.name,
        persistentVolumeClaim: { claimName: `${claim.metadata.name}-${object.metadata.name}-0` },
      }));
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${object.metadata.name}-0`,
          namespace: object.metadata.namespace!,
          labels: template.metadata?.labels,
          annotations: template.metadata?.annotations,
        },
        spec: { ...template.spec, volumes: [...(template.spec.volumes ?? []), ...claims] },
      };
    });
}

export interface KubeAnswer {
  status: number;
  body: any;
  /** The API server's `Warning` headers (Pod Security warnings on workloads come this way). */
  warnings: string[];
}

/**
 * A real kube-apiserver on a loopback port, backed by its own etcd, authenticating one static
 * token (in group system:masters) and serving a certificate made for this run. No controllers,
 * no nodes: objects are stored and admitted (validation, Pod Security admission), never run.
 */
export class KubeApiServer {
  readonly url: string;
  readonly #token: string;
  readonly #ca: Buffer;
  readonly #processes: ChildServer[];
  readonly #directory: string;

  private constructor(url: string, token: string, ca: Buffer, processes: ChildServer[], directory: string) {
    this.url = url;
    this.#token = token;
    this.#ca = ca;
    this.#processes = processes;
    this.#directory = directory;
  }

  static async start(): Promise<KubeApiServer> {
    const missing = missingKubeApiServer();
    if (missing) throw new Error(missing);
    const directory = await mkdtemp(join(tmpdir(), 'vb-kube-'));
    const processes: ChildServer[] = [];
    try {
      const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
      await mkdir(join(directory, 'etcd'), { mode: 0o700 });
      const etcdUrl = `http://127.0.0.1:${clientPort}`;
      processes.push(
        await startChildServer(
          ETCD,
          [
            '--name=test',
            `--data-dir=${join(directory, 'etcd')}`,
            `--listen-client-urls=${etcdUrl}`,
            `--advertise-client-urls=${etcdUrl}`,
            `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
            `--initial-cluster=test=http://127.0.0.1:${peerPort}`,
            '--log-level=warn',
          ],
          `${etcdUrl}/health`,
          { PATH: process.env.PATH ?? '', HOME: directory },
        ),
      );

      const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: directory, stdio: 'ignore' });
      openssl(
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'serving.key',
        '-out',
        'serving.pem',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      );
      openssl('genrsa', '-out', 'service-account.key', '2048');
      const token = randomUUID();
      await writeFile(
        join(directory, 'tokens.csv'),
        `${token},vault-bootstrap-test,vault-bootstrap-test,system:masters\n`,
        { mode: 0o600 },
      );

      const url = `https://127.0.0.1:${securePort}`;
      processes.push(
        await startChildServer(
          KUBE_APISERVER,
          [
            `--etcd-servers=${etcdUrl}`,
            '--bind-address=127.0.0.1',
            '--advertise-address=127.0.0.1',
            `--secure-port=${securePort}`,
            `--tls-cert-file=${join(directory, 'serving.pem')}`,
            `--tls-private-key-file=${join(directory, 'serving.key')}`,
            `--cert-dir=${directory}`,
            `--token-auth-file=${join(directory, 'tokens.csv')}`,
            '--authorization-mode=RBAC',
            '--anonymous-auth=false',
            `--service-account-issuer=${url}`,
            `--service-account-key-file=${join(directory, 'service-account.key')}`,
            `--service-account-signing-key-file=${join(directory, 'service-account.key')}`,
            '--service-cluster-ip-range=10.96.0.0/24',
            // Nothing here runs pods or reaches other hosts: no endpoints for the kubernetes
            // Service, no flow control bookkeeping.
            '--endpoint-reconciler-type=none',
            '--enable-priority-and-fairness=false',
            '--profiling=false',
          ],
          // Any HTTP answer means it listens; readiness is polled below.
          `${url}/readyz`.replace('https:', 'http:'),
          { PATH: process.env.PATH ?? '', HOME: directory },
        ),
      );
      const server = new KubeApiServer(url, token, readFileSync(join(directory, 'serving.pem')), processes, directory);
      await server.#waitReady();
      return server;
    } catch (error) {
      await Promise.all(processes.map((child) => child.stop()));
      await rm(directory, { recursive: true, force: true });
      throw error;
    }
  }

  /** The CA (PEM) that signed the serving certificate: what a client of this API server trusts. */
  get caCertificate(): string {
    return this.#ca.toString('utf8');
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + 120_000;
    let last: KubeAnswer | undefined;
    while (Date.now() < deadline) {
      last = await this.request('GET', '/readyz').catch(() => undefined);
      if (last?.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`kube-apiserver not ready within 120 s: ${JSON.stringify(last?.body)}`);
  }

  /**
   * One HTTPS call with the test's token; a JSON body unless `contentType` says otherwise (a
   * string body is sent as it is, e.g. YAML). `headers` adds to them, e.g. Impersonate-User to
   * act as a service account (the test's token is in system:masters).
   */
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    headers: Record<string, string | string[]> = {},
  ): Promise<KubeAnswer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const call = request(
        `${this.url}${path}`,
        {
          method,
          ca: this.#ca,
          headers: {
            ...headers,
            authorization: `Bearer ${this.#token}`,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': contentType }),
          },
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // plain text (e.g. /readyz)
            }
            const warning = answer.headers.warning;
            resolve({
              status: answer.statusCode ?? 0,
              body: parsed,
              warnings: warning === undefined ? [] : ([] as string[]).concat(warning),
            });
          });
        },
      );
      call.on('error', reject);
      call.end(payload);
    });
  }

  readonly #discovery = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }>>();

  /** The object's URL, from the server's own discovery (kind → resource name, namespaced or not). */
  async objectPath(object: KubeObject): Promise<string> {
    const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    if (!this.#discovery.has(base)) {
      const answer = await this.request('GET', base);
      if (answer.status !== 200) throw new Error(`discovery ${base}: ${answer.status} ${JSON.stringify(answer.body)}`);
      this.#discovery.set(base, answer.body.resources);
    }
    const resource = this.#discovery
      .get(base)!
      .find((candidate) => candidate.kind === object.kind && !candidate.name.includes('/'));
    if (resource === undefined) throw new Error(`the server does not serve ${object.apiVersion} ${object.kind}`);
    const namespace = resource.namespaced ? `/namespaces/${object.metadata.namespace ?? 'default'}` : '';
    return `${base}${namespace}/${resource.name}/${object.metadata.name}`;
  }

  /** Server-side apply with strict field validation; `dryRun` admits and validates everything and stores nothing. */
  async apply(object: KubeObject, dryRun: boolean): Promise<KubeAnswer> {
    const query = `fieldManager=vault-bootstrap-test&force=true&fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
    return this.request('PATCH', `${await this.objectPath(object)}?${query}`, object, 'application/apply-patch+yaml');
  }

  /**
   * Creates the Namespaces (pods are judged by their labels) and the ServiceAccounts (pod
   * admission looks them up; no controller makes them here) for real, then dry-runs the rest
   * and the Pod each workload would create. Throws if a prerequisite is refused.
   */
  async dryRunAll(objects: KubeObject[]): Promise<DryRunAnswer[]> {
    const prerequisite = (object: KubeObject) => object.kind === 'Namespace' || object.kind === 'ServiceAccount';
    for (const object of [
      ...objects.filter((candidate) => candidate.kind === 'Namespace'),
      ...objects.filter((candidate) => candidate.kind === 'ServiceAccount'),
    ]) {
      const created = await this.apply(object, false);
      if (created.status !== 200 && created.status !== 201)
        throw new Error(`${object.kind}/${object.metadata.name}: ${created.status} ${JSON.stringify(created.body)}`);
    }
    const answers: DryRunAnswer[] = [];
    for (const object of [...objects.filter((candidate) => !prerequisite(candidate)), ...podsOf(objects)]) {
      const answer = await this.apply(object, true);
      answers.push({
        what: `${object.kind}/${object.metadata.name}`,
        status: answer.status,
        message: String(answer.body?.message ?? ''),
        warnings: answer.warnings,
      });
    }
    return answers;
  }

  async stop(): Promise<void> {
    for (const child of [...this.#processes].reverse()) await child.stop();
    await rm(this.#directory, { recursive: true, force: true });
  }
}
