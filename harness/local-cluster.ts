// A real single-node Kubernetes cluster (scripts/local-cluster.sh) for end-to-end tests: kubelet,
// containerd, the control plane, kube-proxy, CoreDNS and moto, all inside a network namespace
// the script creates. The API server is reachable only from inside it: every kubectl (or helm)
// call goes through `exec`, which runs the command there.
//
//   const cluster = await LocalCluster.start('mytest');   // a name of its own per test file
//   await cluster.kubectl(['apply', '-k', 'k8s/overlays/local']);
//   await cluster.exec(['helm', 'install', ...], { env: { KUBECONFIG: cluster.kubeconfig } });
//   await cluster.stop();                                  // leaves nothing behind
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOOLS = join(ROOT, '.tools');
const SCRIPT = join(ROOT, 'scripts', 'local-cluster.sh');

/** The moto server every pod reaches (inside the cluster's network only). */
export const LOCAL_MOTO_ENDPOINT = 'http://10.250.0.1:5000';

/** Why the local cluster cannot run here (install-tools wrote the build error), or undefined. */
export function missingLocalCluster(): string | undefined {
  if (process.platform !== 'linux') return 'the local cluster runs on Linux only';
  if (process.getuid?.() !== 0) return 'the local cluster needs root (network namespace, containerd, kubelet)';
  const binaries = [
    'kube-apiserver',
    'etcd',
    'kubelet',
    'kube-controller-manager',
    'kube-scheduler',
    'kube-proxy',
    'kubectl',
    'coredns',
    'moto_server',
    'bao',
  ];
  const missing = binaries.map((name) => join(TOOLS, name)).filter((path) => !existsSync(path));
  const path = (process.env.PATH ?? '').split(':').concat('/usr/sbin', '/sbin');
  for (const tool of ['containerd', 'ctr', 'runc', 'iptables', 'podman', 'busybox', 'nsenter', 'unshare']) {
    if (!path.some((directory) => existsSync(join(directory, tool)))) missing.push(tool);
  }
  if (!existsSync('/usr/lib/cni/bridge')) missing.push('/usr/lib/cni/bridge');
  if (missing.length === 0) return undefined;
  const errors = ['kube-error', 'kube-cluster-error', 'image-tools-error']
    .map((name) => join(TOOLS, name))
    .filter(existsSync)
    .map((file) => readFileSync(file, 'utf8').trim());
  return `missing ${missing.map((item) => item.replace(ROOT, '')).join(', ')}: ${errors.join('; ') || 'run npm run tools'}`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Resolve with a non-zero code instead of rejecting. */
  allowFailure?: boolean;
}

function run(command: string, args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(
          new Error(
            `${[command, ...args].join(' ')} exited ${code ?? signal}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        );
      } else resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}

export class LocalCluster {
  readonly name: string;
  /** The admin kubeconfig (API server at https://127.0.0.1:6443 inside the cluster's network). */
  readonly kubeconfig: string;

  private constructor(name: string, kubeconfig: string) {
    this.name = name;
    this.kubeconfig = kubeconfig;
  }

  /** `scripts/local-cluster.sh up NAME` (a few minutes the first time, mostly the images). */
  static async start(name: string, timeoutMs = 15 * 60_000): Promise<LocalCluster> {
    const missing = missingLocalCluster();
    if (missing) throw new Error(missing);
    const { stdout } = await run('bash', [SCRIPT, 'up', name], { timeoutMs });
    return new LocalCluster(name, stdout.trim().split('\n').at(-1)!);
  }

  /** Runs a command inside the cluster's network namespace (KUBECONFIG set to the admin's). */
  exec(command: string[], options: RunOptions = {}): Promise<Run> {
    return run('bash', [SCRIPT, 'exec', this.name, '--', ...command], {
      ...options,
      env: { KUBECONFIG: this.kubeconfig, ...options.env },
    });
  }

  /** kubectl with the admin kubeconfig, inside the cluster's network. */
  kubectl(args: string[], options: RunOptions = {}): Promise<Run> {
    return this.exec([join(TOOLS, 'kubectl'), '--kubeconfig', this.kubeconfig, ...args], options);
  }

  /** `scripts/local-cluster.sh tls NAME NAMESPACE`: the namespace and its Secret vault-tls. */
  async tls(namespace = 'vault'): Promise<void> {
    await run('bash', [SCRIPT, 'tls', this.name, namespace], { timeoutMs: 120_000 });
  }

  /** ctr against the node's containerd (namespace k8s.io, the kubelet's): e.g. tag an imported image. */
  ctr(args: string[]): Promise<Run> {
    const socket = join(process.env.VB_CLUSTER_DIR ?? `/tmp/vb-cluster-${this.name}`, 'containerd.sock');
    return run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { timeoutMs: 120_000 });
  }

  /** `kubectl get -o json`, parsed. */
  async get(args: string[]): Promise<any> {
    return JSON.parse((await this.kubectl(['get', ...args, '-o', 'json'])).stdout);
  }

  /** `scripts/local-cluster.sh down NAME`: no process, namespace, mount or file left. */
  async stop(): Promise<void> {
    await run('bash', [SCRIPT, 'down', this.name], { timeoutMs: 120_000 });
  }

  /** The script's directory of logs (each component's), for a failing test's message. */
  static logDirectory(name: string): string {
    return join(process.env.VB_CLUSTER_DIR ?? `/tmp/vb-cluster-${name}`, 'logs');
  }
}
